package passes

import (
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// FuseQDQ rewrites the QDQ form of quantized convolutions and matrix
// products into integer ops that run entirely in integers:
//
//	Q(Conv(DQ(x), DQ(w), DQ(b)), ys, yz)  ->  QLinearConv(x, xs, xz, w, ws, wz, ys, yz, b)
//	Q(MatMul(DQ(a), DQ(b)), ys, yz)       ->  QLinearMatMul(a, as, az, b, bs, bz, ys, yz)
//
// (a Relu between the product and Q is dropped when yz is the lowest
// value of its type, where Q already saturates negatives to yz). It
// applies when x/a, y scales and zero points are per tensor, the weights
// w/b are constants quantized per tensor or per output channel (axis 0
// for Conv, the last axis for MatMul), and the bias is absent or the
// int32 constant DequantizeLinear(b, xs*ws[m]) that quantizers emit. The
// rewrite computes exactly what QLinearConv/QLinearMatMul define, which
// differs from the float QDQ evaluation by at most one quantization step
// (the integer accumulator is exact; the float path rounds). Dequantize
// nodes that other nodes still read stay. It returns the number of
// rewrites.
func FuseQDQ(g *graph.Graph) int {
	fused := 0
	for _, q := range append([]*graph.Node(nil), g.Nodes...) {
		if !onnxOp(q, "QuantizeLinear") || len(q.Inputs) < 2 || q.Inputs[0] == nil || len(q.Outputs) != 1 {
			continue
		}
		ys, yz, ok := qdqScalarParams(g, q, true)
		if !ok {
			continue
		}
		prod := q.Inputs[0].Producer
		var relu *graph.Node
		if onnxOp(prod, "Relu") && soleUse(g, q.Inputs[0], q) && reluImplied(yz) {
			relu = prod
			prod = prod.Inputs[0].Producer
		}
		if prod == nil || !soleUse(g, prod.Outputs[0], firstNonNil(relu, q)) {
			continue
		}
		var n *graph.Node
		switch {
		case onnxOp(prod, "Conv"):
			n = qlinearConv(g, prod, ys, yz)
		case onnxOp(prod, "MatMul"):
			n = qlinearMatMul(g, prod, ys, yz)
		}
		if n == nil {
			continue
		}
		out := q.Outputs[0]
		g.RemoveNode(q)
		if relu != nil {
			g.RemoveNode(relu)
		}
		n.Outputs = []*graph.Value{out}
		if err := g.ReplaceNode(prod, []*graph.Node{n}, []*graph.Value{nil}); err != nil {
			continue
		}
		out.Producer = n
		fused++
	}
	if fused > 0 {
		g.RemoveDeadNodes()
	}
	return fused
}

func firstNonNil(a, b *graph.Node) *graph.Node {
	if a != nil {
		return a
	}
	return b
}

// reluImplied reports whether a Relu before QuantizeLinear with zero
// point yz changes nothing: yz is the lowest value of its type.
func reluImplied(yz *graph.Value) bool {
	t := yz.Const
	if t == nil || t.Len() != 1 {
		return false
	}
	switch t.DType() {
	case tensor.Uint8:
		return t.Float64At(0) == 0
	case tensor.Int8:
		return t.Float64At(0) == math.MinInt8
	}
	return false
}

// qdqScalarParams returns the scale and zero point values of a
// QuantizeLinear/DequantizeLinear n when both are per-tensor constants
// (a missing zero point becomes an explicit 0 of the right type; for
// QuantizeLinear uint8 unless output_dtype says otherwise).
func qdqScalarParams(g *graph.Graph, n *graph.Node, quantize bool) (scale, zp *graph.Value, ok bool) {
	s := constOf(g, n.Input(1))
	if s == nil || s.Len() != 1 || s.DType() != tensor.Float32 || n.AttrInt("block_size", 0) != 0 {
		return nil, nil, false
	}
	scale = n.Input(1)
	if z := n.Input(2); z != nil {
		zt := constOf(g, z)
		if zt == nil || zt.Len() != 1 || (zt.DType() != tensor.Uint8 && zt.DType() != tensor.Int8) {
			return nil, nil, false
		}
		return scale, z, true
	}
	dt := tensor.Uint8
	if quantize {
		if od := tensor.DType(n.AttrInt("output_dtype", 0)); od != tensor.Undefined {
			dt = od
		}
	} else if in := n.Input(0); in != nil {
		dt = in.DType
	}
	switch dt {
	case tensor.Uint8:
		return scale, g.AddInitializer(g.UniqueName(scale.Name+"_zp"), tensor.FromSlice([]int{}, []uint8{0})), true
	case tensor.Int8:
		return scale, g.AddInitializer(g.UniqueName(scale.Name+"_zp"), tensor.FromSlice([]int{}, []int8{0})), true
	}
	return nil, nil, false
}

// dqInput returns the DequantizeLinear producing v (nil if another op).
func dqInput(v *graph.Value) *graph.Node {
	if v == nil || !onnxOp(v.Producer, "DequantizeLinear") || len(v.Producer.Inputs) < 2 {
		return nil
	}
	return v.Producer
}

// dqWeights checks a DequantizeLinear of constant 8-bit weights quantized
// per tensor or per channel along axis (of rank); it returns the quantized
// weights, scale and zero point values (the zero point made explicit).
func dqWeights(g *graph.Graph, dq *graph.Node, axis, channels int) (w, scale, zp *graph.Value, ok bool) {
	if dq == nil || dq.AttrInt("block_size", 0) != 0 {
		return nil, nil, nil, false
	}
	wt := constOf(g, dq.Inputs[0])
	if wt == nil || (wt.DType() != tensor.Uint8 && wt.DType() != tensor.Int8) {
		return nil, nil, nil, false
	}
	st := constOf(g, dq.Inputs[1])
	if st == nil || st.DType() != tensor.Float32 {
		return nil, nil, nil, false
	}
	perChannel := st.Len() != 1
	if perChannel {
		a := int(dq.AttrInt("axis", 1))
		if a < 0 {
			a += wt.Rank()
		}
		if a != axis || st.Rank() != 1 || st.Len() != channels {
			return nil, nil, nil, false
		}
	}
	if z := dq.Input(2); z != nil {
		zt := constOf(g, z)
		if zt == nil || zt.DType() != wt.DType() || zt.Len() != st.Len() {
			return nil, nil, nil, false
		}
		return dq.Inputs[0], dq.Inputs[1], z, true
	}
	zeros := tensor.MustNew(wt.DType(), st.Shape()...)
	return dq.Inputs[0], dq.Inputs[1], g.AddInitializer(g.UniqueName(dq.Inputs[1].Name+"_zp"), zeros), true
}

// qlinearConv builds QLinearConv for Conv c (not yet in the graph), or
// returns nil when c is not in QDQ form.
func qlinearConv(g *graph.Graph, c *graph.Node, ys, yz *graph.Value) *graph.Node {
	dqx, dqw := dqInput(c.Input(0)), dqInput(c.Input(1))
	if dqx == nil || dqw == nil {
		return nil
	}
	xs, xz, ok := qdqScalarParams(g, dqx, false)
	if !ok {
		return nil
	}
	wt := constOf(g, dqw.Inputs[0])
	if wt == nil || wt.Rank() < 3 {
		return nil
	}
	w, ws, wz, ok := dqWeights(g, dqw, 0, wt.Shape()[0])
	if !ok {
		return nil
	}
	ins := []*graph.Value{dqx.Inputs[0], xs, xz, w, ws, wz, ys, yz}
	if b := c.Input(2); b != nil {
		dqb := dqInput(b)
		if dqb == nil || !biasScaleMatches(g, dqb, xs, ws) {
			return nil
		}
		ins = append(ins, dqb.Inputs[0])
	}
	return &graph.Node{Name: c.Name, OpType: "QLinearConv", Inputs: ins, Attrs: attrsCopy(c.Attrs)}
}

// biasScaleMatches checks that dqb dequantizes a constant int32 bias with
// zero point 0 and scale xs*ws[m] (computed in float32).
func biasScaleMatches(g *graph.Graph, dqb *graph.Node, xs, ws *graph.Value) bool {
	bt, bs := constOf(g, dqb.Inputs[0]), constOf(g, dqb.Inputs[1])
	if bt == nil || bs == nil || bt.DType() != tensor.Int32 || bt.Rank() != 1 {
		return false
	}
	if z := constOf(g, dqb.Input(2)); dqb.Input(2) != nil && (z == nil || z.DType() != tensor.Int32 || !allZero(z)) {
		return false
	}
	x := float32(constOf(g, xs).Float64At(0))
	w := constOf(g, ws)
	if bs.Len() != 1 && bs.Len() != bt.Len() || w.Len() != 1 && w.Len() != bt.Len() {
		return false
	}
	for m := 0; m < bt.Len(); m++ {
		want := x * float32(w.Float64At(min(m, w.Len()-1)))
		if got := float32(bs.Float64At(min(m, bs.Len()-1))); got != want {
			return false
		}
	}
	return true
}

func allZero(t *tensor.Tensor) bool {
	for i := 0; i < t.Len(); i++ {
		if t.Float64At(i) != 0 {
			return false
		}
	}
	return true
}

// qlinearMatMul builds QLinearMatMul for MatMul mm with a constant 2-D
// right operand, or returns nil.
func qlinearMatMul(g *graph.Graph, mm *graph.Node, ys, yz *graph.Value) *graph.Node {
	dqa, dqb := dqInput(mm.Input(0)), dqInput(mm.Input(1))
	if dqa == nil || dqb == nil {
		return nil
	}
	as, az, ok := qdqScalarParams(g, dqa, false)
	if !ok {
		return nil
	}
	bt := constOf(g, dqb.Inputs[0])
	if bt == nil || bt.Rank() != 2 {
		return nil
	}
	b, bs, bz, ok := dqWeights(g, dqb, 1, bt.Shape()[1])
	if !ok {
		return nil
	}
	return &graph.Node{Name: mm.Name, OpType: "QLinearMatMul",
		Inputs: []*graph.Value{dqa.Inputs[0], as, az, b, bs, bz, ys, yz}, Attrs: map[string]*graph.Attr{}}
}
