package cpu

import (
	"fmt"
	"math"
	"sync"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// qgemmOp executes ONNX Runtime's com.microsoft QGemm, the quantized Gemm
// Lower emits for Gemm and 2-D MatMul layers:
//
//	inputs  A (u8/s8 [M, K]), a_scale, a_zero_point (per tensor),
//	        B (u8/s8, [K, N], or [N, K] with transB), b_scale, b_zero_point
//	        (per tensor or per column), C (int32, optional, [N] or [M, N];
//	        same scale as A*B), y_scale, y_zero_point (optional)
//	acc     = (A - a_zp) x (B - b_zp) + C                 (exact int32)
//	Y       = float32(acc) * (alpha * a_scale * b_scale[n])      without y_scale
//	Y       = saturate(round_half_even(acc * m[n]) + y_zp),
//	          m[n] = alpha * a_scale * b_scale[n] / y_scale (in float32)
//
// The integer product runs on the CPU backend's MatMulInteger (its fast
// INT8 GEMM when there is one, with B packed once when it is a
// constant); the bias, scaling and requantization are one pass over the
// accumulator. transA is not supported.
type qgemmOp struct {
	alpha  float32
	transB bool
	// mm is the CPU MatMulInteger prepared with B as [K, N]: constB is the
	// node's constant B and constBKN the tensor mm was prepared with (the
	// same, or its transpose once).
	mm        runtime.Op
	constB    *tensor.Tensor
	constBKN  *tensor.Tensor
	mmFactory runtime.OpFactory
	bFit      bytesFit
	// consts[i] is input i's initializer (nil: absent or computed);
	// allConst: every input but A is absent or an initializer, so prep
	// can hold all that does not depend on A.
	consts   [9]*tensor.Tensor
	allConst bool
	prepMu   sync.Mutex
	prep     *qgemmPrep
}

// qgemmPrep is what a QGemm whose inputs other than A are initializers
// computes once for the active INT8 kernel and A's signedness: B packed,
// the epilogue's column terms with C folded in,
//
//	acc[i][j] = sum_k A[i][k] B[k][j] + (C[j] - a_zp * sum_k B[k][j]),
//
// (b_zero_point 0, and a kernel form without operand offsets), and the
// output scaling. ok false: the op does not take this path.
type qgemmPrep struct {
	kern       *igemmKernel
	aU8, ok    bool
	k, n       int
	packed     *igemmPacked
	terms      igemmTerms
	scale      []float32 // float output: alpha * a_scale * b_scale[j]
	mult       []float64 // quantized output: scale[j] / y_scale
	yDT        tensor.DType
	zy, lo, hi float64
}

func newQGemm(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op, err := newQGemmOp(n)
	if err != nil {
		return nil, err
	}
	return runtime.OpFunc(op.run), nil
}

func newQGemmOp(n *graph.Node) (*qgemmOp, error) {
	if n.AttrInt("transA", 0) != 0 {
		return nil, fmt.Errorf("QGemm: transA is not supported")
	}
	op := &qgemmOp{alpha: n.AttrFloat("alpha", 1), transB: n.AttrInt("transB", 0) != 0}
	op.mmFactory = registry.Factory("", "MatMulInteger")
	if op.mmFactory == nil {
		return nil, fmt.Errorf("QGemm: the CPU backend has no MatMulInteger")
	}
	if bv := n.Input(3); bv != nil && bv.Const != nil && bv.Const.Rank() == 2 {
		op.constB, op.constBKN = bv.Const, bv.Const
		if op.transB {
			op.constBKN = tensor.TransposeInt8Matrix(bv.Const)
		}
	}
	op.allConst = true
	for i := 1; i < len(op.consts) && i < len(n.Inputs); i++ {
		if v := n.Input(i); v != nil {
			op.consts[i] = v.Const
			op.allConst = op.allConst && v.Const != nil
		}
	}
	mm, err := op.matMul(op.constBKN)
	if err != nil {
		return nil, fmt.Errorf("QGemm: %w", err)
	}
	op.mm = mm
	return op, nil
}

// matMul prepares a MatMulInteger whose B is the constant bkn (nil: B is
// computed).
func (op *qgemmOp) matMul(bkn *tensor.Tensor) (runtime.Op, error) {
	g := graph.NewGraph("qgemm")
	b := g.GetOrAddValue("b")
	if bkn != nil {
		b = g.AddInitializer("b", bkn)
	}
	n := g.AddNode("MatMulInteger", []*graph.Value{g.GetOrAddValue("a"), b, g.GetOrAddValue("azp"), g.GetOrAddValue("bzp")},
		[]*graph.Value{g.GetOrAddValue("y")}, nil)
	return op.mmFactory(n, runtime.NodeInfo{Opset: 13})
}

func (op *qgemmOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := op.compute(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("QGemm: %w", err)
	}
	return []*tensor.Tensor{y}, nil
}

func optional(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func (op *qgemmOp) compute(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(in) < 5 || in[0] == nil || in[1] == nil || in[3] == nil || in[4] == nil {
		return nil, fmt.Errorf("needs A, a_scale, B and b_scale")
	}
	a, b := in[0], in[3]
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, fmt.Errorf("A %v and B %v must be 2-D", a.Shape(), b.Shape())
	}
	if y, ok, err := op.runPrepared(ctx, in); ok || err != nil {
		return y, err
	}
	bkn := b
	switch {
	case b == op.constB:
		bkn = op.constBKN
	case op.transB:
		bkn = tensor.TransposeInt8Matrix(b)
	}
	rows, cols := a.Shape()[0], bkn.Shape()[1]
	bzp := optional(in, 5)
	if bzp != nil && bzp.Len() != 1 && (bzp.Rank() != 1 || bzp.Len() != cols) {
		return nil, fmt.Errorf("b_zero_point %v must be one value or %d", bzp.Shape(), cols)
	}
	if bzp != nil && bzp.Rank() == 0 {
		bzp, _ = bzp.Reshape(1)
	}
	res, err := op.mm.Run(ctx, []*tensor.Tensor{a, bkn, optional(in, 2), bzp})
	if err != nil {
		return nil, err
	}
	acc := tensor.Data[int32](res[0])
	sa, err := quantVals(in[1], 1, "a_scale")
	if err != nil {
		return nil, err
	}
	sb, err := quantVals(in[4], cols, "b_scale")
	if err != nil {
		return nil, err
	}
	var bias []int32
	biasRows := false
	if c := optional(in, 6); c != nil {
		if c.DType() != tensor.Int32 {
			return nil, fmt.Errorf("C is %v, want int32", c.DType())
		}
		switch {
		case c.Len() == cols && (c.Rank() == 1 || c.Shape()[0] == 1):
		case c.Rank() == 2 && c.Shape()[0] == rows && c.Shape()[1] == cols:
			biasRows = true
		default:
			return nil, fmt.Errorf("C %v does not broadcast to [%d, %d]", c.Shape(), rows, cols)
		}
		bias = tensor.Data[int32](c)
	}
	// The bias goes into the accumulators (this op's own buffer) once, for
	// every output form below.
	if bias != nil {
		ctx.ParallelFor(rows, func(r0, r1 int) {
			for i := r0; i < r1; i++ {
				row, b := acc[i*cols:(i+1)*cols], bias
				if biasRows {
					b = bias[i*cols : (i+1)*cols]
				}
				for j := range row {
					row[j] += b[j]
				}
			}
		})
	}
	// per-column scale of the accumulator, alpha * a_scale * b_scale[n]
	scale := make([]float32, cols)
	for j := range scale {
		scale[j] = op.alpha * sa[0] * sb[min(j, len(sb)-1)]
	}
	ys := optional(in, 7)
	if ys == nil {
		y, err := ctx.Alloc(tensor.Float32, rows, cols)
		if err != nil {
			return nil, err
		}
		yd := y.F32()
		ctx.ParallelFor(rows, func(r0, r1 int) {
			for i := r0; i < r1; i++ {
				for j := 0; j < cols; j++ {
					yd[i*cols+j] = float32(acc[i*cols+j]) * scale[j]
				}
			}
		})
		return y, nil
	}
	syv, err := quantVals(ys, 1, "y_scale")
	if err != nil {
		return nil, err
	}
	yzp := optional(in, 8)
	dt, zy := tensor.Uint8, 0.0
	if yzp != nil {
		dt, zy = yzp.DType(), yzp.Float64At(0)
	}
	lo, hi := 0.0, 255.0
	switch dt {
	case tensor.Int8:
		lo, hi = -128, 127
	case tensor.Uint8:
	default:
		return nil, fmt.Errorf("y_zero_point is %v, want uint8 or int8", dt)
	}
	mult := make([]float64, cols)
	for j := range mult {
		mult[j] = float64(scale[j] / syv[0])
	}
	y, err := ctx.Alloc(dt, rows, cols)
	if err != nil {
		return nil, err
	}
	if CPULevel(level.Load()) >= LevelAVX2 {
		// The C requantization (the same arithmetic), rows split over the
		// threads.
		yb, u8, _ := int8Bytes(y)
		ctx.ParallelFor(rows, func(r0, r1 int) {
			requantC(acc[r0*cols:r1*cols], yb[r0*cols:r1*cols], r1-r0, cols, mult, true, nil, zy, lo, hi, u8)
		})
		return y, nil
	}
	if dt == tensor.Uint8 {
		requantRows(ctx, tensor.Data[uint8](y), acc, mult, zy, lo, hi, rows, cols)
	} else {
		requantRows(ctx, tensor.Data[int8](y), acc, mult, zy, lo, hi, rows, cols)
	}
	return y, nil
}

// requantRows writes y[i, j] = saturate(round_half_even(acc[i, j] *
// mult[j]) + zy), rows split across ctx's threads.
func requantRows[Q uint8 | int8](ctx *runtime.Context, y []Q, acc []int32, mult []float64, zy, lo, hi float64, rows, cols int) {
	ctx.ParallelFor(rows, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			row, out := acc[i*cols:(i+1)*cols], y[i*cols:(i+1)*cols]
			for j, v := range row {
				q := math.RoundToEven(float64(v)*mult[j]) + zy
				if q < lo {
					q = lo
				} else if q > hi {
					q = hi
				}
				out[j] = Q(q)
			}
		}
	})
}

// quantVals reads a float scale of one or n values.
func quantVals(t *tensor.Tensor, n int, name string) ([]float32, error) {
	if t.DType() != tensor.Float32 || (t.Len() != 1 && t.Len() != n) {
		return nil, fmt.Errorf("%s %v must be float32 with 1 or %d values", name, t, n)
	}
	return t.F32(), nil
}

// prepared returns the op's qgemmPrep for kernel kern and A's signedness
// aU8 when inputs in are the node's initializers, building it on first
// use; nil when they are not or the op does not take that path.
func (op *qgemmOp) prepared(in []*tensor.Tensor, kern *igemmKernel, aU8 bool) (*qgemmPrep, error) {
	if !op.allConst || op.constBKN == nil {
		return nil, nil
	}
	for i := 1; i < len(op.consts); i++ {
		if optional(in, i) != op.consts[i] {
			return nil, nil
		}
	}
	op.prepMu.Lock()
	defer op.prepMu.Unlock()
	if p := op.prep; p != nil && p.kern == kern && p.aU8 == aU8 {
		if !p.ok {
			return nil, nil
		}
		return p, nil
	}
	p, err := op.prepare(in, kern, aU8)
	if err != nil {
		return nil, err
	}
	op.prep = p
	if !p.ok {
		return nil, nil
	}
	return p, nil
}

// prepare builds the qgemmPrep (see there); p.ok is false when the path
// does not apply: a b_zero_point that is not 0, an a_zero_point that is
// not one value, a 2-D C, or a kernel form with operand offsets.
func (op *qgemmOp) prepare(in []*tensor.Tensor, kern *igemmKernel, aU8 bool) (*qgemmPrep, error) {
	p := &qgemmPrep{kern: kern, aU8: aU8}
	bkn := op.constBKN
	bb, bU8, ok := int8Bytes(bkn)
	if !ok {
		return p, nil
	}
	p.k, p.n = bkn.Shape()[0], bkn.Shape()[1]
	call := igemmCall{aU8: aU8, bU8: bU8}
	if _, _, _, oa, ob := call.form(kern); oa != 0 || ob != 0 {
		return p, nil
	}
	if bzp := optional(in, 5); bzp != nil {
		for i := range bzp.Len() {
			if bzp.Float64At(i) != 0 {
				return p, nil
			}
		}
	}
	var za int32
	if azp := optional(in, 2); azp != nil {
		if azp.Len() != 1 {
			return p, nil
		}
		za = int32(azp.Float64At(0))
	}
	var bias []int32
	if c := optional(in, 6); c != nil {
		if c.DType() != tensor.Int32 || c.Len() != p.n || c.Rank() == 2 && c.Shape()[0] != 1 {
			return p, nil
		}
		bias = tensor.Data[int32](c)
	}
	sa, err := quantVals(in[1], 1, "a_scale")
	if err != nil {
		return nil, err
	}
	sb, err := quantVals(in[4], p.n, "b_scale")
	if err != nil {
		return nil, err
	}
	p.packed = packIgemmB(kern, bb, bU8, false, false, p.k, p.n, p.n, 1)
	col := make([]int32, p.n)
	for j := range col {
		col[j] = at(bias, j) - za*p.packed.sums[j]
	}
	p.terms.ca = col
	p.scale = make([]float32, p.n)
	for j := range p.scale {
		p.scale[j] = op.alpha * sa[0] * sb[min(j, len(sb)-1)]
	}
	p.yDT = tensor.Float32
	if ys := optional(in, 7); ys != nil {
		syv, err := quantVals(ys, 1, "y_scale")
		if err != nil {
			return nil, err
		}
		p.yDT, p.lo, p.hi = tensor.Uint8, 0, 255
		if yzp := optional(in, 8); yzp != nil {
			p.yDT, p.zy = yzp.DType(), yzp.Float64At(0)
		}
		switch p.yDT {
		case tensor.Int8:
			p.lo, p.hi = -128, 127
		case tensor.Uint8:
		default:
			return nil, fmt.Errorf("y_zero_point is %v, want uint8 or int8", p.yDT)
		}
		p.mult = make([]float64, p.n)
		for j := range p.mult {
			p.mult[j] = float64(p.scale[j] / syv[0])
		}
	}
	p.ok = true
	return p, nil
}

// runPrepared computes the op with its qgemmPrep: one INT8 product with
// the precomputed epilogue, then the output scaling. ok is false when the
// prepared path does not apply (the general path runs instead).
func (op *qgemmOp) runPrepared(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, bool, error) {
	a := in[0]
	ab, aU8, isInt8 := int8Bytes(a)
	kern := igemmISA()
	// the byte kernel needs int8 A offset to uint8, which the prepared
	// path does not take: int8 A keeps the int16 kernel here
	if op.constBKN != nil && aU8 {
		if bb, bU8, ok := int8Bytes(op.constBKN); ok && !bU8 {
			kern = op.bFit.kernel(op.constBKN, op.constBKN, bb)
		}
	}
	if kern == nil || !isInt8 || CPULevel(level.Load()) < LevelAVX2 {
		return nil, false, nil
	}
	p, err := op.prepared(in, kern, aU8)
	if p == nil || err != nil {
		return nil, false, err
	}
	rows := a.Shape()[0]
	if a.Shape()[1] != p.k {
		return nil, false, fmt.Errorf("A %v and B [%d, %d] do not multiply", a.Shape(), p.k, p.n)
	}
	buf := getI32(rows * p.n)
	defer putI32(buf)
	acc := *buf
	call := igemmCall{m: rows, n: p.n, k: p.k, a: ab, aU8: aU8, lda: p.k, ldb: p.n, packedB: p.packed, c: acc, ldc: p.n, fixed: &p.terms}
	if rows > 0 && !call.runSIMD(ctx.Threads) {
		return nil, false, nil
	}
	y, err := ctx.Alloc(p.yDT, rows, p.n)
	if err != nil {
		return nil, true, err
	}
	cols := p.n
	if p.mult == nil {
		yd := y.F32()
		for i, v := range acc {
			yd[i] = float32(v) * p.scale[i%cols]
		}
		return y, true, nil
	}
	yb, u8, _ := int8Bytes(y)
	ctx.ParallelFor(rows, func(r0, r1 int) {
		requantC(acc[r0*cols:r1*cols], yb[r0*cols:r1*cols], r1-r0, cols, p.mult, true, nil, p.zy, p.lo, p.hi, u8)
	})
	return y, true, nil
}
