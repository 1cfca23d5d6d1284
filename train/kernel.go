package train

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"
)

// Kernel is the float32 maths of a custom differentiable op, written as
// plain Go over contiguous row-major slices. ApplyKernel turns it into a
// gorgonia node whose gradient is Backward; train/ uses kernels for the ops
// whose gorgonia versions differ from ONNX semantics (pooling, softmax) and
// other packages use them for their own ops (fake quantization with a
// straight-through gradient, for example).
type Kernel interface {
	// Name identifies the op and every parameter that changes its result;
	// it is part of the node's hash, so two kernels with equal names on the
	// same inputs are the same node.
	Name() string
	// OutShape returns the output shape for the given input shapes.
	OutShape(in [][]int) ([]int, error)
	// Forward writes the output (zero-filled on entry, of OutShape).
	Forward(out []float32, in [][]float32, shapes [][]int) error
	// Differentiable reports whether the output depends differentiably on
	// input i (a mask or a label input does not).
	Differentiable(i int) bool
	// Backward adds dL/d(input i) to gin (zero-filled on entry, shaped like
	// input i) given gout = dL/d(output) and the forward values.
	Backward(i int, gin, gout, out []float32, in [][]float32, shapes [][]int) error
}

// ApplyKernel adds a node computing k on the inputs (float32 tensors of
// rank >= 1) to their graph.
func ApplyKernel(k Kernel, inputs ...*G.Node) (*G.Node, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%s: no inputs", k.Name())
	}
	shapes := make([][]int, len(inputs))
	for i, in := range inputs {
		if in.Dims() == 0 {
			return nil, fmt.Errorf("%s: input %d is a scalar; kernels take tensors", k.Name(), i)
		}
		shapes[i] = []int(in.Shape())
	}
	out, err := k.OutShape(shapes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	op := &kernelOp{k: k, inRanks: ranks(shapes), outRank: len(out)}
	n, err := G.ApplyOp(op, inputs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name(), err)
	}
	return n, nil
}

func ranks(shapes [][]int) []int {
	r := make([]int, len(shapes))
	for i, s := range shapes {
		r[i] = len(s)
	}
	return r
}

// fnType is a -> ... -> a over float tensors of the given ranks.
func fnType(inRanks []int, outRank int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, 0, len(inRanks)+1)
	for _, r := range inRanks {
		ts = append(ts, &G.TensorType{Dims: r, Of: a})
	}
	ts = append(ts, &G.TensorType{Dims: outRank, Of: a})
	return hm.NewFnType(ts...)
}

// denseF32 returns the contiguous float32 data and shape of a value.
func denseF32(v G.Value) ([]float32, []int, error) {
	d, ok := v.(*gt.Dense)
	if !ok {
		return nil, nil, fmt.Errorf("want a dense tensor, got %T", v)
	}
	if d.RequiresIterator() {
		d = d.Materialize().(*gt.Dense)
	}
	f, ok := d.Data().([]float32)
	if !ok {
		return nil, nil, fmt.Errorf("want float32 data, got %v", d.Dtype())
	}
	return f, []int(d.Shape()), nil
}

func unpack(vals []G.Value) ([][]float32, [][]int, error) {
	data := make([][]float32, len(vals))
	shapes := make([][]int, len(vals))
	for i, v := range vals {
		var err error
		if data[i], shapes[i], err = denseF32(v); err != nil {
			return nil, nil, fmt.Errorf("input %d: %w", i, err)
		}
	}
	return data, shapes, nil
}

func newDense(shape []int) (*gt.Dense, []float32) {
	n := 1
	for _, s := range shape {
		n *= s
	}
	buf := make([]float32, n)
	return gt.New(gt.WithShape(shape...), gt.WithBacking(buf)), buf
}

// kernelOp is the gorgonia Op (and SDOp) wrapping a Kernel.
type kernelOp struct {
	k       Kernel
	inRanks []int
	outRank int
}

func (op *kernelOp) Arity() int       { return len(op.inRanks) }
func (op *kernelOp) Type() hm.Type    { return fnType(op.inRanks, op.outRank) }
func (op *kernelOp) ReturnsPtr() bool { return false }

func (op *kernelOp) CallsExtern() bool         { return false }
func (op *kernelOp) OverwritesInput() int      { return -1 }
func (op *kernelOp) WriteHash(h hash.Hash)     { fmt.Fprintf(h, "kernel:%s", op.k.Name()) }
func (op *kernelOp) Hashcode() uint32          { return fnvHash(op) }
func (op *kernelOp) String() string            { return op.k.Name() }
func (op *kernelOp) DiffWRT(inputs int) []bool { return diffWRT(op.k, inputs) }

func (op *kernelOp) InferShape(in ...G.DimSizer) (gt.Shape, error) {
	shapes := make([][]int, len(in))
	for i, d := range in {
		s, ok := d.(gt.Shape)
		if !ok {
			return nil, fmt.Errorf("%s: input %d has no shape", op.k.Name(), i)
		}
		shapes[i] = []int(s)
	}
	out, err := op.k.OutShape(shapes)
	return gt.Shape(out), err
}

func (op *kernelOp) Do(vals ...G.Value) (G.Value, error) {
	in, shapes, err := unpack(vals)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.k.Name(), err)
	}
	outShape, err := op.k.OutShape(shapes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.k.Name(), err)
	}
	d, buf := newDense(outShape)
	if err := op.k.Forward(buf, in, shapes); err != nil {
		return nil, fmt.Errorf("%s: %w", op.k.Name(), err)
	}
	return d, nil
}

func (op *kernelOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	out := make(G.Nodes, len(inputs))
	args := append(append(G.Nodes{}, inputs...), output, grad)
	for i := range inputs {
		if !op.k.Differentiable(i) {
			continue
		}
		gop := &kernelGradOp{parent: op, wrt: i}
		n, err := G.ApplyOp(gop, args...)
		if err != nil {
			return nil, fmt.Errorf("%s gradient: %w", op.k.Name(), err)
		}
		out[i] = n
	}
	return out, nil
}

func diffWRT(k Kernel, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = k.Differentiable(i)
	}
	return out
}

// kernelGradOp computes dL/d(input wrt) of its parent from (inputs...,
// output, dL/d(output)).
type kernelGradOp struct {
	parent *kernelOp
	wrt    int
}

func (op *kernelGradOp) Arity() int { return len(op.parent.inRanks) + 2 }
func (op *kernelGradOp) Type() hm.Type {
	r := append(append([]int{}, op.parent.inRanks...), op.parent.outRank, op.parent.outRank)
	return fnType(r, op.parent.inRanks[op.wrt])
}
func (op *kernelGradOp) ReturnsPtr() bool     { return false }
func (op *kernelGradOp) CallsExtern() bool    { return false }
func (op *kernelGradOp) OverwritesInput() int { return -1 }
func (op *kernelGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "kernelgrad%d:%s", op.wrt, op.parent.k.Name())
}
func (op *kernelGradOp) Hashcode() uint32 { return fnvHash(op) }
func (op *kernelGradOp) String() string {
	return fmt.Sprintf("d%s/dx%d", op.parent.k.Name(), op.wrt)
}

func (op *kernelGradOp) InferShape(in ...G.DimSizer) (gt.Shape, error) {
	s, ok := in[op.wrt].(gt.Shape)
	if !ok {
		return nil, fmt.Errorf("%s: input %d has no shape", op, op.wrt)
	}
	return s.Clone(), nil
}

func (op *kernelGradOp) Do(vals ...G.Value) (G.Value, error) {
	all, shapes, err := unpack(vals)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	n := len(op.parent.inRanks)
	d, gin := newDense(shapes[op.wrt])
	if err := op.parent.k.Backward(op.wrt, gin, all[n+1], all[n], all[:n], shapes[:n]); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return d, nil
}

type hashWriter interface{ WriteHash(hash.Hash) }

func fnvHash(op hashWriter) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}
