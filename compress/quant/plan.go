package quant

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/tensor"
)

// Layer is one quantizable node of a prepared model: a Conv, Gemm or
// MatMul whose weight is a float32 constant.
type Layer struct {
	// Node is the node in the prepared graph.
	Node *graph.Node
	// Name identifies the layer in reports and ignore lists: the node's
	// name, or its first output's name when it has none.
	Name string
	// Act is the activation input the layer reads; Weight and Bias (nil
	// when absent or not a per-channel constant) its constants.
	Act, Weight, Bias *graph.Value
	// WeightAxis is the output-channel axis of the weight: 0 for Conv
	// [M, C/group, k...] and Gemm with transB (B is [N, K]), 1 for Gemm
	// without transB and MatMul (B is [K, N]).
	WeightAxis int
	// Point is the tensor whose quantization parameters the activation
	// uses: Act itself, or the tensor before a chain of pass-through ops
	// (MaxPool, Flatten, Reshape, ...) that commute with quantization.
	// Following Conv/Gemm + Relu, that is the Relu's output.
	Point *graph.Value
	// Chain lists those pass-through nodes, from Point towards the layer.
	Chain []*graph.Node
}

// ResidualAdd is an Add of two computed float32 tensors of the same shape
// (a residual connection) that is quantized as a whole: both inputs and
// the output are read through QuantizeLinear -> DequantizeLinear, which
// ONNX Runtime and TensorRT run as an INT8 add (QLinearAdd) and gcompress
// lowers to one (see passes.LowerQDQ). The convolutions feeding it then
// have quantized outputs and run with INT8 output too.
type ResidualAdd struct {
	Node *graph.Node
	// Name identifies the add as Layer.Name does.
	Name string
	// Points are the tensors whose parameters the two inputs use, Chains
	// the pass-through nodes from each point to the add (see Layer.Point).
	Points [2]*graph.Value
	Chains [2][]*graph.Node
	// Out is the output point: the Relu's output when a Relu is the add's
	// only reader, else the add's own output. Every reader of Out reads
	// its dequantized copy.
	Out *graph.Value
}

// Plan is the set of quantizable layers of a prepared model.
type Plan struct {
	Layers []*Layer
	// Adds are the residual adds to quantize (MakePlan with adds set).
	Adds []*ResidualAdd
	// Ignored names the layers left in float by the ignore list.
	Ignored []string
	// Skipped explains Conv/Gemm/MatMul nodes that cannot be quantized.
	Skipped []string
}

// Points returns the distinct activation points of the given layers and
// adds, in layer order, then each add's inputs and output.
func Points(layers []*Layer, adds []*ResidualAdd) []*graph.Value {
	seen := map[*graph.Value]bool{}
	var out []*graph.Value
	add := func(v *graph.Value) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, l := range layers {
		add(l.Point)
	}
	for _, a := range adds {
		add(a.Points[0])
		add(a.Points[1])
		add(a.Out)
	}
	return out
}

// ignored reports whether an ignore entry names the node or its op type.
func ignored(n *graph.Node, name string, ignore []string) bool {
	for _, s := range ignore {
		if s == name || s == n.OpType || (n.Name != "" && s == n.Name) {
			return true
		}
	}
	return false
}

// MakePlan finds the quantizable layers of a prepared model (see Prepare):
//
//   - Conv with a constant float32 weight (any group, 1-D/2-D/3-D) and an
//     optional constant bias [M];
//   - Gemm with transA = 0, constant 2-D B, and C absent or a constant of
//     N values ([N] or [1, N]; another C stays a float input);
//   - MatMul whose second input is a constant 2-D weight [K, N] and whose
//     first is computed.
//
// With adds set, it also lists the residual adds (see ResidualAdd): Adds
// whose two inputs are computed float32 tensors of one known shape.
//
// Layers and adds named (or whose op type is named) in ignore stay float.
// It fails when an ignore entry matches nothing.
func MakePlan(m *graph.Model, ignore []string, adds bool) (*Plan, error) {
	g := m.Graph
	p := &Plan{}
	used := map[string]bool{}
	skip := func(n *graph.Node, name string) bool {
		if !ignored(n, name, ignore) {
			return false
		}
		for _, s := range ignore {
			if s == name || s == n.OpType || s == n.Name {
				used[s] = true
			}
		}
		p.Ignored = append(p.Ignored, name)
		return true
	}
	for _, n := range g.Nodes {
		if adds && n.IsONNX("Add") {
			if a := residualOf(g, n); a != nil && !skip(n, a.Name) {
				p.Adds = append(p.Adds, a)
			}
			continue
		}
		if !n.IsONNX("Conv") && !n.IsONNX("Gemm") && !n.IsONNX("MatMul") {
			continue
		}
		name := passes.LayerName(n)
		l, why := layerOf(g, n, name)
		if l == nil {
			p.Skipped = append(p.Skipped, fmt.Sprintf("%v: %s", n, why))
			continue
		}
		if skip(n, name) {
			continue
		}
		l.Point, l.Chain = tracePoint(g, l.Act)
		p.Layers = append(p.Layers, l)
	}
	for _, s := range ignore {
		if !used[s] {
			return nil, fmt.Errorf("--ignore %q matches no quantizable node name or op type", s)
		}
	}
	return p, nil
}

// ErrNothingToQuantize is wrapped by the error for a model without any
// quantizable node.
var ErrNothingToQuantize = fmt.Errorf("no quantizable op")

// noLayersError explains why a plan is empty.
func noLayersError(p *Plan) error {
	msg := "the model has no Conv, Gemm or MatMul with a constant float32 weight"
	if len(p.Ignored) > 0 {
		msg = fmt.Sprintf("every quantizable node is ignored (%s)", strings.Join(p.Ignored, ", "))
	} else if len(p.Skipped) > 0 {
		msg = "none can be quantized: " + strings.Join(p.Skipped, "; ")
	}
	return fmt.Errorf("%w: %s", ErrNothingToQuantize, msg)
}

// layerOf checks whether n is quantizable, returning the layer or a reason.
func layerOf(g *graph.Graph, n *graph.Node, name string) (*Layer, string) {
	x := n.Input(0)
	if x == nil || x.Const != nil {
		return nil, "its first input is a constant"
	}
	if x.DType != tensor.Float32 {
		return nil, fmt.Sprintf("input %q is %v, not float32", x.Name, x.DType)
	}
	w := n.Input(1)
	wt := g.Constant(w)
	if wt == nil || wt.DType() != tensor.Float32 {
		return nil, "its weight is not a float32 constant"
	}
	l := &Layer{Node: n, Name: name, Act: x, Weight: w}
	switch n.OpType {
	case "Conv":
		if wt.Rank() < 3 {
			return nil, fmt.Sprintf("weight of rank %d", wt.Rank())
		}
		if b := n.Input(2); b != nil {
			bt := g.Constant(b)
			if bt == nil || bt.DType() != tensor.Float32 || bt.Len() != wt.Shape()[0] {
				return nil, "its bias is not a constant float32 [M]"
			}
			l.Bias = b
		}
	case "Gemm":
		if n.AttrInt("transA", 0) != 0 {
			return nil, "transA = 1"
		}
		if wt.Rank() != 2 {
			return nil, fmt.Sprintf("B of rank %d", wt.Rank())
		}
		if n.AttrFloat("alpha", 1) != 1 || (n.Input(2) != nil && n.AttrFloat("beta", 1) != 1) {
			return nil, "alpha/beta could not be folded (B or C is not a constant)"
		}
		cols := wt.Shape()[1]
		if n.AttrInt("transB", 0) != 0 {
			l.WeightAxis, cols = 0, wt.Shape()[0]
		} else {
			l.WeightAxis = 1
		}
		if c := n.Input(2); c != nil {
			if ct := g.Constant(c); ct != nil && ct.DType() == tensor.Float32 && ct.Len() == cols &&
				(ct.Rank() == 1 || (ct.Rank() == 2 && ct.Shape()[0] == 1)) {
				l.Bias = c
			}
		}
	case "MatMul":
		if wt.Rank() != 2 {
			return nil, fmt.Sprintf("weight of rank %d", wt.Rank())
		}
		l.WeightAxis = 1
	}
	return l, ""
}

// residualOf returns n as a ResidualAdd when both its inputs are computed
// float32 tensors of the same known shape, else nil.
func residualOf(g *graph.Graph, n *graph.Node) *ResidualAdd {
	if len(n.Inputs) != 2 || len(n.Outputs) != 1 {
		return nil
	}
	a, b := n.Inputs[0], n.Inputs[1]
	for _, v := range []*graph.Value{a, b} {
		if v == nil || g.Constant(v) != nil || v.DType != tensor.Float32 || !v.HasShape {
			return nil
		}
	}
	if !slices.Equal(a.Shape, b.Shape) {
		return nil
	}
	r := &ResidualAdd{Node: n, Name: passes.LayerName(n), Out: n.Outputs[0]}
	for i, v := range []*graph.Value{a, b} {
		r.Points[i], r.Chains[i] = tracePoint(g, v)
	}
	if y := r.Out; len(y.Consumers) == 1 && y.Consumers[0].IsONNX("Relu") && !g.IsOutput(y) {
		r.Out = y.Consumers[0].Outputs[0]
	}
	return r
}

// tracePoint walks from a layer's activation input back through
// pass-through nodes to the tensor to quantize.
func tracePoint(g *graph.Graph, x *graph.Value) (*graph.Value, []*graph.Node) {
	var chain []*graph.Node
	for x.Producer != nil && passes.PassThrough(g, x.Producer) && x.Producer.Inputs[0].DType == tensor.Float32 {
		chain = append([]*graph.Node{x.Producer}, chain...)
		x = x.Producer.Inputs[0]
	}
	return x, chain
}
