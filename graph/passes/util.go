package passes

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// fusedOp reports whether n is op type op of gcompress's domain.
func fusedOp(n *graph.Node, op string) bool {
	return n != nil && n.OpType == op && n.Domain == Domain
}

// Domain is the operator domain of the fused ops the passes create.
const Domain = "gcompress"

// soleUse reports whether n is the only reader of v and v is not a graph
// output, so that v may disappear into a fused node.
func soleUse(g *graph.Graph, v *graph.Value, n *graph.Node) bool {
	return v != nil && len(v.Consumers) == 1 && v.Consumers[0] == n && !g.IsOutput(v)
}

// usedOutputs counts the outputs of n that something reads or the graph
// returns.
func usedOutputs(g *graph.Graph, n *graph.Node) int {
	c := 0
	for _, o := range n.Outputs {
		if o != nil && (len(o.Consumers) > 0 || g.IsOutput(o)) {
			c++
		}
	}
	return c
}

// floats returns a float tensor's values as float64 (nil for other dtypes).
func floats(t *tensor.Tensor) []float64 {
	if t == nil {
		return nil
	}
	switch t.DType() {
	case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
	default:
		return nil
	}
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out
}

// perChannel expands a constant that broadcasts along axis 1 only (shape
// right-aligned to rank: every dimension 1 except, optionally, dimension 1
// of size channels) to one value per channel; ok is false otherwise.
func perChannel(t *tensor.Tensor, rank, channels int) ([]float64, bool) {
	vals := floats(t)
	if vals == nil || !channelShaped(t.Shape(), rank, channels) {
		return nil, false
	}
	out := make([]float64, channels)
	for c := range out {
		if len(vals) == 1 {
			out[c] = vals[0]
		} else {
			out[c] = vals[c]
		}
	}
	return out, true
}

// channelShaped reports whether shape (right-aligned to rank) is all ones
// except, optionally, dimension 1 of size m.
func channelShaped(shape []int, rank, m int) bool {
	if len(shape) > rank || tensor.Product(shape) == 0 {
		return false
	}
	off := rank - len(shape)
	for i, d := range shape {
		if d != 1 && !(i+off == 1 && d == m) {
			return false
		}
	}
	return true
}

// newConst adds an initializer with a fresh name derived from base, of
// dtype dt (float32 or float64) and the given shape and values.
func newConst(g *graph.Graph, base string, dt tensor.DType, shape []int, vals []float64) *graph.Value {
	var t *tensor.Tensor
	if dt == tensor.Float64 {
		t = tensor.FromSlice(shape, append([]float64(nil), vals...))
	} else {
		f := make([]float32, len(vals))
		for i, v := range vals {
			f[i] = float32(v)
		}
		t = tensor.FromSlice(shape, f)
	}
	return g.AddInitializer(g.UniqueName(base), t)
}

// replaceOutput makes n produce v (the output of a node being folded into
// n) instead of its own output 0, which is left without a producer.
func replaceOutput(n *graph.Node, v *graph.Value) {
	if old := n.Outputs[0]; old != nil && old.Producer == n {
		old.Producer = nil
	}
	n.Outputs[0] = v
	v.Producer = n
}

// attrsCopy copies an attribute map (values shared).
func attrsCopy(a map[string]*graph.Attr) map[string]*graph.Attr {
	out := make(map[string]*graph.Attr, len(a)+2)
	for k, v := range a {
		out[k] = v
	}
	return out
}
