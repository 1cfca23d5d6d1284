package passes

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// FuseIntegerEpilogue turns the float epilogue LowerQDQ writes after an
// integer convolution whose output stays float,
//
//	ConvInteger(X, W, zx, zw) [-> Add(B_q)] -> Cast(float) -> Mul(scale) [-> Add(B)]
//
// with B_q (int32), scale and B (float32) constants along the channels,
// into one FusedConvInteger(X, W, zx, zw, scale, B_q, B): the backend then
// computes the float output in the convolution's epilogue instead of four
// passes over the tensor (and FuseConvAdd / FuseActivation can add a
// residual summand and a Relu to it, as to FusedConv). Every intermediate
// value must be read only by the next node of the chain.
func FuseIntegerEpilogue(g *graph.Graph) int {
	fused := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if !n.IsONNX("ConvInteger") || len(n.Outputs) != 1 || n.Outputs[0] == nil || len(n.Inputs) < 2 {
			continue
		}
		if f := fuseIntegerEpilogue(g, n); f != nil {
			fused++
		}
	}
	return fused
}

// fuseIntegerEpilogue matches the chain after conv and replaces it, or
// returns nil and leaves the graph alone.
func fuseIntegerEpilogue(g *graph.Graph, conv *graph.Node) *graph.Node {
	acc := conv.Outputs[0]
	rank := len(acc.Shape)
	w := g.Constant(conv.Input(1))
	if !acc.HasShape || rank < 3 || w == nil || w.Rank() != rank {
		return nil
	}
	m := w.Shape()[0]
	next := func(v *graph.Value, op string) (*graph.Node, int) {
		if len(v.Consumers) != 1 || !soleUse(g, v, v.Consumers[0]) {
			return nil, -1
		}
		c := v.Consumers[0]
		if !c.IsONNX(op) || len(c.Outputs) != 1 || c.Outputs[0] == nil {
			return nil, -1
		}
		for i, in := range c.Inputs {
			if in == v {
				return c, i
			}
		}
		return nil, -1
	}
	chain := []*graph.Node{conv}
	v := acc
	var bq *tensor.Tensor
	if add, i := next(v, "Add"); add != nil && len(add.Inputs) == 2 {
		if bq = channelInt32(g.Constant(add.Inputs[1-i]), rank, m); bq == nil {
			return nil
		}
		chain, v = append(chain, add), add.Outputs[0]
	}
	cast, _ := next(v, "Cast")
	if cast == nil || cast.AttrInt("to", 0) != int64(tensor.Float32) {
		return nil
	}
	chain, v = append(chain, cast), cast.Outputs[0]
	mul, i := next(v, "Mul")
	if mul == nil || len(mul.Inputs) != 2 {
		return nil
	}
	scale := channelFloat32(g.Constant(mul.Inputs[1-i]), rank, m)
	if scale == nil {
		return nil
	}
	chain, v = append(chain, mul), mul.Outputs[0]
	var bias *tensor.Tensor
	if add, i := next(v, "Add"); add != nil && len(add.Inputs) == 2 {
		if bias = channelFloat32(g.Constant(add.Inputs[1-i]), rank, m); bias != nil {
			chain, v = append(chain, add), add.Outputs[0]
		}
	}
	if !sameKnownShape(acc, v) || v.DType != tensor.Float32 {
		return nil
	}
	in := []*graph.Value{conv.Input(0), conv.Input(1), conv.Input(2), conv.Input(3),
		g.AddInitializer(g.UniqueName(conv.Name+"_scale"), scale), nil, nil}
	if bq != nil {
		in[5] = g.AddInitializer(g.UniqueName(conv.Name+"_bias_int32"), bq)
	}
	if bias != nil {
		in[6] = g.AddInitializer(g.UniqueName(conv.Name+"_bias"), bias)
	}
	for len(in) > 4 && in[len(in)-1] == nil {
		in = in[:len(in)-1]
	}
	f := &graph.Node{Name: conv.Name, OpType: "FusedConvInteger", Domain: Domain, Inputs: in,
		Outputs: []*graph.Value{v}, Attrs: attrsCopy(conv.Attrs)}
	for _, c := range chain[1:] {
		g.RemoveNode(c)
	}
	if err := g.ReplaceNode(conv, []*graph.Node{f}, []*graph.Value{v}); err != nil {
		return nil
	}
	return f
}

// channelInt32 returns an int32 constant that broadcasts along axis 1 of a
// rank-dimensional result of m channels as m values, or nil.
func channelInt32(t *tensor.Tensor, rank, m int) *tensor.Tensor {
	if t == nil || t.DType() != tensor.Int32 || !channelShaped(t.Shape(), rank, m) {
		return nil
	}
	d := tensor.Data[int32](t)
	out := make([]int32, m)
	for c := range out {
		out[c] = d[min(c, len(d)-1)]
	}
	return tensor.FromSlice([]int{m}, out)
}

// channelFloat32 is channelInt32 for a float32 constant.
func channelFloat32(t *tensor.Tensor, rank, m int) *tensor.Tensor {
	if t == nil || t.DType() != tensor.Float32 {
		return nil
	}
	vals, ok := perChannel(t, rank, m)
	if !ok {
		return nil
	}
	out := make([]float32, m)
	for c, v := range vals {
		out[c] = float32(v)
	}
	return tensor.FromSlice([]int{m}, out)
}
