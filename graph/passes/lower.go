package passes

import (
	"fmt"
	"math"
	"sort"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// LowerReport says what LowerQDQ rewrote.
type LowerReport struct {
	// Ops counts the integer ops of the lowered model by type
	// (QLinearConv, ConvInteger, MatMulInteger, MaxPool on int8, ...).
	Ops map[string]int `json:"ops"`
	// Float lists the Conv/Gemm/MatMul nodes left in float, with the reason.
	Float []string `json:"float,omitempty"`
}

// MSDomain is ONNX Runtime's contrib operator domain (QGemm, MatMulNBits).
const MSDomain = "com.microsoft"

// LowerQDQ rewrites a QDQ model (as compress/quant writes it, or ONNX
// Runtime's quantizer) into one that gcompress's runtime executes with
// integer kernels; m is not modified. Only standard ONNX ops and ONNX
// Runtime's contrib ops are used, so ONNX Runtime runs the result too.
// The patterns:
//
//   - DQ(x) , DQ(w) [, DQ(b int32)] -> Conv [-> Relu] -> Q  becomes
//     QLinearConv(x_q, ..., b_q) [-> Max(., y_zero_point)]: the int32
//     accumulator plus bias is requantized once. When Relu sits between
//     Conv and Q, Q(Relu(y)) = max(Q(y), y_zero_point) exactly, and the
//     Max is omitted when the zero point is the type's minimum (u8 with
//     zero point 0: saturation already is the Relu).
//   - DQ(x), DQ(w) [, DQ(b int32)] -> Gemm or 2-D MatMul [-> Relu -> Q]
//     becomes ONNX Runtime's com.microsoft QGemm: the int32 product plus
//     bias, then either requantized to the Q's parameters (the Relu as
//     for QLinearConv) or scaled to float32 when no Q follows.
//   - any other DQ(x), DQ(w) [, DQ(b)] -> Conv/MatMul becomes
//     ConvInteger/MatMulInteger(x_q, w_q) -> Add(b_q) (int32) -> Cast ->
//     Mul(s_x * s_w[c]): integer products, float epilogue, exactly the
//     QDQ maths up to float rounding. A bias whose scale is not s_x*s_w is
//     added in float.
//   - DQ(int8 weight) -> Gemm/MatMul with a float activation becomes
//     MatMulNBits (8 bits, one block per output channel).
//   - DQ(a), DQ(b) -> Add [-> Relu] -> Q, all per tensor and of one 8-bit
//     type, becomes com.microsoft QLinearAdd [-> Max(., y_zero_point)]
//     (the Relu as for QLinearConv).
//   - DQ(q) -> MaxPool/Flatten/Reshape/Transpose/Squeeze/Unsqueeze ->
//     Q with the same parameters becomes the op on q itself.
//
// Everything else (DQ feeding float ops, Q on float values) is left as
// it is. The integer results differ from the float QDQ evaluation by at
// most one quantization step (the accumulator is exact; the float path
// rounds).
func LowerQDQ(m *graph.Model) (*graph.Model, LowerReport, error) {
	c := Clone(m)
	r, _ := lowerQDQ(c)
	g := c.Graph
	g.RemoveDeadNodes()
	if err := g.TopoSort(); err != nil {
		return nil, r, fmt.Errorf("lower: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, r, fmt.Errorf("lower: %w", err)
	}
	if err := graph.InferShapes(g); err != nil {
		return nil, r, fmt.Errorf("lower: %w", err)
	}
	return c, r, nil
}

// lowerQDQ is LowerQDQ on c itself, without the final clean-up and checks.
// rewritten counts the nodes it rewrote (r.Ops also counts the MatMulNBits
// the model already had).
func lowerQDQ(c *graph.Model) (r LowerReport, rewritten int) {
	r = LowerReport{Ops: map[string]int{}}
	g := c.Graph
	lw := &lowerer{g: g}
	before := 0
	for _, n := range g.Nodes {
		if n.Domain == MSDomain && n.OpType == "MatMulNBits" {
			r.Ops[fmt.Sprintf("MatMulNBits (%d-bit, dequant-in-GEMM)", n.AttrInt("bits", 4))]++
			before++
		}
	}
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		switch {
		case n.IsONNX("Conv"), n.IsONNX("Gemm"), n.IsONNX("MatMul"):
			op, why := lw.compute(n)
			if op == "" {
				if why != "" {
					r.Float = append(r.Float, fmt.Sprintf("%s: %s", LayerName(n), why))
				}
				continue
			}
			r.Ops[op]++
		}
	}
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if n.IsONNX("Add") && lw.qlinearAdd(n) {
			r.Ops["QLinearAdd"]++
		}
	}
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if PassThrough(g, n) && lw.passThrough(n) {
			r.Ops[n.OpType+" (integer)"]++
		}
	}
	for _, n := range g.Nodes {
		if n.Domain == MSDomain {
			c.Opsets[MSDomain] = 1
		}
	}
	sort.Strings(r.Float)
	for _, k := range r.Ops {
		rewritten += k
	}
	return r, rewritten - before
}

type lowerer struct {
	g *graph.Graph
}

// dqInfo describes a DequantizeLinear node: its quantized input and
// constant scale/zero point.
type dqInfo struct {
	node  *graph.Node
	q     *graph.Value
	scale []float32
	zp    *graph.Value // nil when absent
	zps   []int32
	axis  int // -1 per tensor
	sv    *graph.Value
}

// dequant returns the DequantizeLinear producing v, when its scale and
// zero point are constants (and the node has no block size).
func (lw *lowerer) dequant(v *graph.Value) *dqInfo {
	if v == nil || v.Producer == nil || !v.Producer.IsONNX("DequantizeLinear") {
		return nil
	}
	n := v.Producer
	if n.AttrInt("block_size", 0) != 0 || n.Input(0) == nil {
		return nil
	}
	st := lw.g.Constant(n.Input(1))
	if st == nil || st.DType() != tensor.Float32 {
		return nil
	}
	d := &dqInfo{node: n, q: n.Inputs[0], scale: st.F32(), axis: -1, sv: n.Inputs[1]}
	if st.Len() > 1 || st.Rank() == 1 && n.HasAttr("axis") {
		ax := int(n.AttrInt("axis", 1))
		if d.q.HasShape && ax < 0 {
			ax += len(d.q.Shape)
		}
		d.axis = ax
	}
	d.zps = make([]int32, len(d.scale))
	if z := n.Input(2); z != nil {
		zt := lw.g.Constant(z)
		if zt == nil || zt.Len() != len(d.scale) {
			return nil
		}
		for i := range d.zps {
			d.zps[i] = int32(zt.Float64At(i))
		}
		d.zp = z
	}
	return d
}

// quantizeOf returns the QuantizeLinear that is the only reader of v, with
// constant per-tensor scale and zero point.
func (lw *lowerer) quantizeOf(v *graph.Value) *graph.Node {
	if v == nil || len(v.Consumers) != 1 || lw.g.IsOutput(v) {
		return nil
	}
	q := v.Consumers[0]
	if !q.IsONNX("QuantizeLinear") || q.Input(0) != v || q.Input(2) == nil {
		return nil
	}
	s, z := lw.g.Constant(q.Input(1)), lw.g.Constant(q.Input(2))
	if s == nil || z == nil || s.Len() != 1 || z.Len() != 1 || s.DType() != tensor.Float32 {
		return nil
	}
	return q
}

// activation returns the DQ of a per-tensor quantized activation (a
// computed uint8/int8 value).
func (lw *lowerer) activation(v *graph.Value) *dqInfo {
	d := lw.dequant(v)
	if d == nil || d.q.Const != nil || len(d.scale) != 1 || d.zp == nil {
		return nil
	}
	if dt := d.zp.DType; dt != tensor.Uint8 && dt != tensor.Int8 {
		return nil
	}
	return d
}

// weight returns the DQ of a constant int8/uint8 weight quantized per
// tensor or along axis.
func (lw *lowerer) weight(v *graph.Value, axis int) (*dqInfo, *tensor.Tensor) {
	d := lw.dequant(v)
	if d == nil {
		return nil, nil
	}
	wt := lw.g.Constant(d.q)
	if wt == nil || (wt.DType() != tensor.Int8 && wt.DType() != tensor.Uint8) {
		return nil, nil
	}
	if d.axis >= 0 && (d.axis != axis || len(d.scale) != wt.Shape()[axis]) {
		return nil, nil
	}
	return d, wt
}

// init adds a constant.
func (lw *lowerer) init(base string, t *tensor.Tensor) *graph.Value {
	return lw.g.AddInitializer(lw.g.UniqueName(base), t)
}

// node adds a node with one fresh output (or the given one).
func (lw *lowerer) node(op, name string, in []*graph.Value, out *graph.Value, attrs map[string]*graph.Attr) *graph.Value {
	if out == nil {
		out = lw.g.NewValue(name + "_" + op)
	}
	n := lw.g.AddNode(op, in, []*graph.Value{out}, attrs)
	n.Name = lw.g.UniqueName(name+"_"+op) + "_node"
	return out
}

// compute lowers one Conv/Gemm/MatMul; it returns the integer op used, or
// "" and why not ("" when the node is not quantized at all).
func (lw *lowerer) compute(n *graph.Node) (string, string) {
	g := lw.g
	x := lw.activation(n.Input(0))
	if x == nil {
		if n.OpType != "Conv" {
			return lw.weightOnly(n)
		}
		return "", ""
	}
	if len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return "", "unexpected outputs"
	}
	axis := 0
	switch n.OpType {
	case "Gemm":
		if n.AttrInt("transA", 0) != 0 || n.AttrFloat("alpha", 1) != 1 || (n.Input(2) != nil && n.AttrFloat("beta", 1) != 1) {
			return "", "Gemm with transA, alpha or beta"
		}
		if n.AttrInt("transB", 0) == 0 {
			axis = 1
		}
	case "MatMul":
		axis = 1
	}
	w, wt := lw.weight(n.Input(1), axis)
	if w == nil {
		return "", "weight is not a constant int8 DequantizeLinear along the output channels"
	}
	if n.OpType != "Conv" && wt.Rank() != 2 {
		return "", "weight is not 2-D"
	}
	channels := wt.Shape()[axis]
	// per-channel effective scale s_x * s_w[c]
	scale := make([]float32, channels)
	for c := range scale {
		scale[c] = x.scale[0] * w.scale[min(c, len(w.scale)-1)]
	}
	// bias: int32 with scale s_x*s_w, else float
	var biasQ *tensor.Tensor
	var biasF *graph.Value
	if b := n.Input(2); b != nil {
		d := lw.dequant(b)
		bt := (*tensor.Tensor)(nil)
		if d != nil {
			bt = g.Constant(d.q)
		}
		if bt != nil && bt.DType() == tensor.Int32 && bt.Len() == channels && sameScale(d.scale, scale) && allZeroPoints(d.zps) {
			biasQ = bt
		} else {
			biasF = b
		}
	}
	name := LayerName(n)
	if n.OpType == "Conv" && biasF == nil {
		if op := lw.qlinearConv(n, x, w, biasQ, name); op != "" {
			return op, ""
		}
	}
	if n.OpType != "Conv" && x.q.HasShape && len(x.q.Shape) == 2 {
		return lw.qgemm(n, x, w, axis == 0, biasF, name), ""
	}
	// integer product, float epilogue
	y := n.Outputs[0]
	zx := x.zp
	zw := lw.weightZeroPoint(w, wt, name)
	var acc *graph.Value
	op := "MatMulInteger"
	rank := 2
	if n.OpType == "Conv" {
		op = "ConvInteger"
		attrs := convAttrs(n)
		acc = lw.node("ConvInteger", name, []*graph.Value{x.q, w.q, zx, zw}, nil, attrs)
		rank = wt.Rank()
	} else {
		bq := w.q
		if n.OpType == "Gemm" && axis == 0 {
			bq = lw.init(w.q.Name+"_t", tensor.TransposeInt8Matrix(wt))
		}
		acc = lw.node("MatMulInteger", name, []*graph.Value{x.q, bq, zx, zw}, nil, nil)
		if n.OpType == "MatMul" && x.q.HasShape {
			rank = len(x.q.Shape)
		}
	}
	bshape := channelShape(rank, channels, n.OpType == "Conv")
	if biasQ != nil {
		bv := lw.init(name+"_bias_int32", tensor.FromSlice(bshape, append([]int32(nil), tensor.Data[int32](biasQ)...)))
		acc = lw.node("Add", name+"_bias", []*graph.Value{acc, bv}, nil, nil)
	}
	f := lw.node("Cast", name, []*graph.Value{acc}, nil, map[string]*graph.Attr{"to": graph.IntAttr(int64(tensor.Float32))})
	sv := lw.init(name+"_requant_scale", tensor.FromSlice(bshape, scale))
	out := y
	if biasF != nil {
		out = nil
	}
	g.RemoveNode(n)
	y.Producer = nil
	res := lw.node("Mul", name+"_rescale", []*graph.Value{f, sv}, out, nil)
	if biasF != nil {
		if n.OpType == "Conv" {
			bf := lw.node("Reshape", name+"_bias", []*graph.Value{biasF, lw.init(name+"_bias_shape", tensor.FromSlice([]int{len(bshape)}, int64s(bshape)))}, nil, nil)
			biasF = bf
		}
		lw.node("Add", name+"_bias", []*graph.Value{res, biasF}, y, nil)
	}
	return op, ""
}

// weightOnly turns DQ(int8 weight) -> MatMul/Gemm with a float activation
// into MatMulNBits with 8 bits and one block per output channel (block
// size K), executed by the dequant-in-GEMM kernel.
func (lw *lowerer) weightOnly(n *graph.Node) (string, string) {
	g := lw.g
	axis := 1
	if n.OpType == "Gemm" {
		if n.AttrInt("transA", 0) != 0 || n.AttrFloat("alpha", 1) != 1 || (n.Input(2) != nil && n.AttrFloat("beta", 1) != 1) {
			return "", ""
		}
		if n.AttrInt("transB", 0) != 0 {
			axis = 0
		}
	}
	w, wt := lw.weight(n.Input(1), axis)
	if w == nil || wt.Rank() != 2 || wt.DType() != tensor.Int8 || !allZeroPoints(w.zps) {
		return "", ""
	}
	var bias *graph.Value
	nOut, k := wt.Shape()[axis], wt.Shape()[1-axis]
	if n.OpType == "Gemm" && n.Input(2) != nil {
		ct := g.Constant(n.Input(2))
		if ct == nil || ct.DType() != tensor.Float32 || ct.Len() != nOut || !(ct.Rank() == 1 || ct.Rank() == 2 && ct.Shape()[0] == 1) {
			return "", "weight-only Gemm whose C is not a bias of N values"
		}
		bias = lw.init(n.Inputs[2].Name+"_bias", tensor.FromSlice([]int{nOut}, append([]float32(nil), ct.F32()...)))
	}
	src := tensor.Data[int8](wt)
	packed := make([]uint8, nOut*k)
	for r := 0; r < nOut; r++ {
		for c := 0; c < k; c++ {
			v := src[r*k+c] // transB: [N, K]
			if axis == 1 {
				v = src[c*nOut+r] // [K, N]
			}
			packed[r*k+c] = uint8(int32(v) + 128)
		}
	}
	scales := make([]float32, nOut)
	for r := range scales {
		scales[r] = w.scale[min(r, len(w.scale)-1)]
	}
	name := LayerName(n)
	in := []*graph.Value{n.Inputs[0], lw.init(name+"_packed", tensor.FromSlice([]int{nOut, 1, k}, packed)),
		lw.init(name+"_scales", tensor.FromSlice([]int{nOut}, scales))}
	if bias != nil {
		in = append(in, nil, nil, bias)
	}
	y := n.Outputs[0]
	g.RemoveNode(n)
	y.Producer = nil
	mn := g.AddNode("MatMulNBits", in, []*graph.Value{y}, map[string]*graph.Attr{"K": graph.IntAttr(int64(k)),
		"N": graph.IntAttr(int64(nOut)), "bits": graph.IntAttr(8), "block_size": graph.IntAttr(int64(k))})
	mn.Domain, mn.Name = MSDomain, g.UniqueName(name+"_MatMulNBits")+"_node"
	return "MatMulNBits (8-bit, dequant-in-GEMM)", ""
}

// requantTail returns the QuantizeLinear that quantizes n's output,
// directly or after a Relu (relu, else nil), with an 8-bit zero point; q
// is nil when there is none.
func (lw *lowerer) requantTail(n *graph.Node) (relu, q *graph.Node) {
	y := n.Outputs[0]
	qv := y
	if r := y.Consumers; len(r) == 1 && r[0].IsONNX("Relu") && len(r[0].Outputs) == 1 && r[0].Outputs[0] != nil && !lw.g.IsOutput(y) {
		relu = r[0]
		qv = relu.Outputs[0]
	}
	q = lw.quantizeOf(qv)
	if q == nil || q.Inputs[2].DType != tensor.Uint8 && q.Inputs[2].DType != tensor.Int8 {
		return nil, nil
	}
	return relu, q
}

// detachTail removes n, relu (when set) and q from the graph and returns
// q's output, now without a producer, and whether the Relu has to stay as
// Max(., y_zero_point): Q(Relu(v)) = max(Q(v), y_zero_point) exactly, and
// saturation alone is the Relu when the zero point is the type's minimum.
func (lw *lowerer) detachTail(n, relu, q *graph.Node) (*graph.Value, bool) {
	g, zy := lw.g, q.Inputs[2]
	out := q.Outputs[0]
	g.RemoveNode(q)
	if relu != nil {
		g.RemoveNode(relu)
	}
	g.RemoveNode(n)
	out.Producer = nil
	lo := int32(0)
	if zy.DType == tensor.Int8 {
		lo = -128
	}
	return out, relu != nil && int32(g.Constant(zy).Float64At(0)) > lo
}

// qlinearConv fuses DQ -> Conv [-> Relu] -> Q into QLinearConv; "" when the
// pattern is not there.
func (lw *lowerer) qlinearConv(n *graph.Node, x, w *dqInfo, biasQ *tensor.Tensor, name string) string {
	relu, q := lw.requantTail(n)
	if q == nil {
		return ""
	}
	sy, zy := q.Inputs[1], q.Inputs[2]
	in := []*graph.Value{x.q, x.sv, x.zp, w.q, w.sv, lw.weightZeroPointVec(w), sy, zy}
	if biasQ != nil {
		in = append(in, n.Inputs[2].Producer.Inputs[0])
	}
	out, keepRelu := lw.detachTail(n, relu, q)
	if keepRelu {
		t := lw.node("QLinearConv", name, in, nil, convAttrs(n))
		lw.node("Max", name+"_relu", []*graph.Value{t, zy}, out, nil)
	} else {
		lw.node("QLinearConv", name, in, out, convAttrs(n))
	}
	return "QLinearConv"
}

// qlinearAdd fuses DQ(a), DQ(b) -> Add [-> Relu] -> Q into QLinearAdd;
// false when the pattern is not there.
func (lw *lowerer) qlinearAdd(n *graph.Node) bool {
	if len(n.Inputs) != 2 || len(n.Outputs) != 1 || n.Outputs[0] == nil {
		return false
	}
	a, b := lw.activation(n.Inputs[0]), lw.activation(n.Inputs[1])
	if a == nil || b == nil {
		return false
	}
	relu, q := lw.requantTail(n)
	if q == nil {
		return false
	}
	sy, zy := q.Inputs[1], q.Inputs[2]
	if a.zp.DType != zy.DType || b.zp.DType != zy.DType {
		return false
	}
	name := LayerName(n)
	in := []*graph.Value{a.q, a.sv, a.zp, b.q, b.sv, b.zp, sy, zy}
	out, keepRelu := lw.detachTail(n, relu, q)
	if keepRelu {
		lw.node("Max", name+"_relu", []*graph.Value{lw.msNode("QLinearAdd", name, in, nil, nil), zy}, out, nil)
	} else {
		lw.msNode("QLinearAdd", name, in, out, nil)
	}
	return true
}

// msNode is node for a com.microsoft op; trailing absent inputs are
// dropped.
func (lw *lowerer) msNode(op, name string, in []*graph.Value, out *graph.Value, attrs map[string]*graph.Attr) *graph.Value {
	for len(in) > 0 && in[len(in)-1] == nil {
		in = in[:len(in)-1]
	}
	out = lw.node(op, name, in, out, attrs)
	out.Producer.Domain = MSDomain
	return out
}

// qgemm lowers a Gemm or 2-D MatMul to com.microsoft QGemm: with the
// requantization fused when the output (after an optional Relu) is
// quantized, else with a float output (plus a float bias when the bias's
// scale is not s_x * s_w).
func (lw *lowerer) qgemm(n *graph.Node, x, w *dqInfo, transB bool, biasF *graph.Value, name string) string {
	g := lw.g
	y := n.Outputs[0]
	wzp := w.zp
	if wzp == nil {
		wzp = lw.zeroPointScalar(w.q.DType, 0, w.q.Name)
	}
	var c *graph.Value
	if b := n.Input(2); b != nil && biasF == nil {
		c = b.Producer.Inputs[0]
	}
	in := []*graph.Value{x.q, x.sv, x.zp, w.q, w.sv, wzp, c}
	attrs := map[string]*graph.Attr{}
	if transB {
		attrs["transB"] = graph.IntAttr(1)
	}
	add := func(in []*graph.Value, out *graph.Value) *graph.Value {
		return lw.msNode("QGemm", name, in, out, attrs)
	}
	// quantized output: y [-> Relu] -> Q
	if relu, q := lw.requantTail(n); q != nil && biasF == nil {
		sy, zy := q.Inputs[1], q.Inputs[2]
		out, keepRelu := lw.detachTail(n, relu, q)
		if keepRelu {
			lw.node("Max", name+"_relu", []*graph.Value{add(append(in, sy, zy), nil), zy}, out, nil)
		} else {
			add(append(in, sy, zy), out)
		}
		return "QGemm"
	}
	g.RemoveNode(n)
	y.Producer = nil
	if biasF == nil {
		add(in, y)
	} else {
		lw.node("Add", name+"_bias", []*graph.Value{add(in[:6], nil), biasF}, y, nil)
	}
	return "QGemm"
}

// weightZeroPoint returns a scalar zero point when every channel's is the
// same (ConvInteger and MatMulInteger take it per tensor or per channel).
func (lw *lowerer) weightZeroPoint(w *dqInfo, wt *tensor.Tensor, name string) *graph.Value {
	if w.zp == nil {
		return nil
	}
	if allSame(w.zps) {
		return lw.zeroPointScalar(wt.DType(), w.zps[0], name)
	}
	return w.zp
}

// weightZeroPointVec returns the weight zero point for QLinearConv
// (required there; zeros when the DQ omitted it).
func (lw *lowerer) weightZeroPointVec(w *dqInfo) *graph.Value {
	if w.zp != nil {
		return w.zp
	}
	return lw.zeroPointScalar(w.q.DType, 0, w.q.Name)
}

func (lw *lowerer) zeroPointScalar(dt tensor.DType, z int32, name string) *graph.Value {
	var t *tensor.Tensor
	if dt == tensor.Uint8 {
		t = tensor.Scalar(uint8(z))
	} else {
		t = tensor.Scalar(int8(z))
	}
	return lw.init(name+"_zp", t)
}

// passThrough rewrites DQ(q) -> n -> Q(same parameters) into n(q).
func (lw *lowerer) passThrough(n *graph.Node) bool {
	d := lw.activation(n.Inputs[0])
	if d == nil {
		return false
	}
	q := lw.quantizeOf(n.Outputs[0])
	if q == nil {
		return false
	}
	s, z := lw.g.Constant(q.Inputs[1]), lw.g.Constant(q.Inputs[2])
	if s.F32()[0] != d.scale[0] || z.DType() != d.zp.DType || int32(z.Float64At(0)) != d.zps[0] {
		return false
	}
	out := q.Outputs[0]
	lw.g.RemoveNode(q)
	lw.g.SetInput(n, 0, d.q)
	old := n.Outputs[0]
	old.Producer = nil
	n.Outputs[0] = out
	out.Producer = n
	return true
}

// convAttrs copies the attributes QLinearConv/ConvInteger share with Conv.
func convAttrs(n *graph.Node) map[string]*graph.Attr {
	out := map[string]*graph.Attr{}
	for _, k := range []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"} {
		if a, ok := n.Attrs[k]; ok {
			out[k] = a
		}
	}
	return out
}

// channelShape is the shape of a per-channel constant broadcasting against
// a [N, C, ...] (conv) or [..., C] (matmul) result of the given rank.
func channelShape(rank, channels int, conv bool) []int {
	if !conv {
		return []int{channels}
	}
	s := make([]int, rank)
	for i := range s {
		s[i] = 1
	}
	s[1] = channels
	return s
}

func sameScale(a, b []float32) bool {
	if len(a) != 1 && len(a) != len(b) {
		return false
	}
	for i := range b {
		x, y := float64(a[min(i, len(a)-1)]), float64(b[i])
		if math.Abs(x-y) > 1e-6*math.Abs(y) {
			return false
		}
	}
	return true
}

func allZeroPoints(z []int32) bool {
	for _, v := range z {
		if v != 0 {
			return false
		}
	}
	return true
}

func allSame(z []int32) bool {
	for _, v := range z {
		if v != z[0] {
			return false
		}
	}
	return true
}

func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// LayerName is the node's name, or its first output's.
func LayerName(n *graph.Node) string {
	if n.Name != "" {
		return n.Name
	}
	for _, o := range n.Outputs {
		if o != nil {
			return o.Name
		}
	}
	return n.OpType
}

// PassThrough reports whether n only moves or selects values without
// changing them (so quantizing its input or its output with the same
// parameters is the same): MaxPool without indices, Flatten, Reshape,
// Transpose, Squeeze, Unsqueeze and Identity with constant shape inputs.
func PassThrough(g *graph.Graph, n *graph.Node) bool {
	if n == nil || (n.Domain != "" && n.Domain != "ai.onnx") || len(n.Inputs) == 0 || n.Inputs[0] == nil {
		return false
	}
	switch n.OpType {
	case "MaxPool":
		if len(n.Outputs) > 1 && n.Outputs[1] != nil && (len(n.Outputs[1].Consumers) > 0 || g.IsOutput(n.Outputs[1])) {
			return false
		}
	case "Flatten", "Transpose", "Identity":
	case "Reshape", "Squeeze", "Unsqueeze":
	default:
		return false
	}
	for _, in := range n.Inputs[1:] {
		if in != nil && g.Constant(in) == nil {
			return false
		}
	}
	return true
}
