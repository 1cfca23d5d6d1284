package quant

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/tensor"
)

// LayerParams are the quantization parameters given to one layer of a QDQ
// model.
type LayerParams struct {
	Name string
	Op   string
	// Act are the activation input's parameters (shared by every layer
	// reading the same point).
	Act *Params
	// Weight are the weight's parameters (per channel along WeightAxis, or
	// per tensor).
	Weight     *Params
	WeightAxis int
	// BiasScale is the int32 bias's scale, s_act * s_weight per channel
	// (nil without a bias).
	BiasScale []float32
	// BiasSaturated counts bias values beyond the int32 range (clamped).
	BiasSaturated int
}

// InsertQDQ returns a QDQ copy of the prepared model (see Prepare) in which
// the given layers are quantized (ONNX Runtime's QDQ format, opset >= 13):
//
//   - each layer's activation point P (see Layer.Point) gets
//     QuantizeLinear -> DequantizeLinear with the per-tensor parameters
//     act[P.Name]; pass-through nodes between P and the layer read the
//     dequantized value and get their own Q/DQ pair with the same
//     parameters (exact: they only move values), so every quantized node
//     reads a DequantizeLinear output. The point's other (float) readers
//     keep reading it unchanged.
//   - the weight becomes an int8 initializer, symmetric (zero point 0,
//     range [-127, 127], or [-64, 64] with wf.ReduceRange), per output
//     channel along Layer.WeightAxis when wf.PerChannel (else per
//     tensor), read through DequantizeLinear;
//   - the bias becomes int32 with scale s_act * s_weight[c] and zero point
//     0, round half to even, saturated to the int32 range, read through
//     DequantizeLinear;
//   - each residual add reads both inputs through Q/DQ pairs made as for
//     a layer's activation, and its output point (see ResidualAdd.Out)
//     gets a Q/DQ pair that every reader of that point reads, so the add
//     runs as an INT8 add with INT8 inputs and output.
//
// The prepared model is not modified. Layers are matched to the copy by
// node position, so they must come from MakePlan on this prepared model.
func InsertQDQ(prepared *graph.Model, layers []*Layer, adds []*ResidualAdd, act map[string]*Params, wf WeightFormat) (*graph.Model, []LayerParams, error) {
	index := map[*graph.Node]int{}
	for i, n := range prepared.Graph.Nodes {
		index[n] = i
	}
	c := passes.Clone(prepared)
	g := c.Graph
	nodes := append([]*graph.Node(nil), g.Nodes...)
	mapNode := func(n *graph.Node) (*graph.Node, error) {
		i, ok := index[n]
		if !ok {
			return nil, fmt.Errorf("quantize: node %v is not in the prepared model", n)
		}
		return nodes[i], nil
	}
	ins := &inserter{g: g, dq: map[*graph.Value]*graph.Value{}, names: map[string]bool{}}
	for _, n := range g.Nodes {
		if n.Name != "" {
			ins.names[n.Name] = true
		}
	}
	var out []LayerParams
	for _, l := range layers {
		n, err := mapNode(l.Node)
		if err != nil {
			return nil, nil, err
		}
		p := act[l.Point.Name]
		if p == nil {
			return nil, nil, fmt.Errorf("quantize: no activation parameters for %q (layer %s)", l.Point.Name, l.Name)
		}
		cur, err := ins.quantizedInput(l.Point, l.Chain, p, mapNode)
		if err != nil {
			return nil, nil, err
		}
		g.SetInput(n, 0, cur)
		lp, err := ins.weights(n, l, p, wf)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %w", l.Name, err)
		}
		out = append(out, lp)
	}
	for _, a := range adds {
		n, err := mapNode(a.Node)
		if err != nil {
			return nil, nil, err
		}
		for i, pt := range a.Points {
			p := act[pt.Name]
			if p == nil {
				return nil, nil, fmt.Errorf("quantize: no activation parameters for %q (add %s)", pt.Name, a.Name)
			}
			cur, err := ins.quantizedInput(pt, a.Chains[i], p, mapNode)
			if err != nil {
				return nil, nil, err
			}
			g.SetInput(n, i, cur)
		}
		p := act[a.Out.Name]
		if p == nil {
			return nil, nil, fmt.Errorf("quantize: no activation parameters for %q (add %s)", a.Out.Name, a.Name)
		}
		y := g.Value(a.Out.Name)
		dv := ins.qdq(y, p)
		q := dv.Producer.Inputs[0].Producer
		for _, c := range append([]*graph.Node(nil), y.Consumers...) {
			for i, in := range c.Inputs {
				if in == y && c != q {
					g.SetInput(c, i, dv)
				}
			}
		}
	}
	g.RemoveDeadNodes()
	if err := g.TopoSort(); err != nil {
		return nil, nil, fmt.Errorf("quantize: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, nil, fmt.Errorf("quantize: %w", err)
	}
	if err := graph.InferShapes(g); err != nil {
		return nil, nil, fmt.Errorf("quantize: %w", err)
	}
	if c.Opset() < 13 {
		c.Opsets[""] = 13
	}
	return c, out, nil
}

// inserter adds Q/DQ nodes and quantized initializers to a graph.
type inserter struct {
	g *graph.Graph
	// dq maps a float value to its dequantized copy.
	dq    map[*graph.Value]*graph.Value
	names map[string]bool
}

// nodeName returns a node name based on base, unique in the graph.
func (ins *inserter) nodeName(base string) string {
	name := base
	for i := 1; ins.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	ins.names[name] = true
	return name
}

// init adds an initializer named after base.
func (ins *inserter) init(base string, t *tensor.Tensor) *graph.Value {
	return ins.g.AddInitializer(ins.g.UniqueName(base), t)
}

// quantizedInput returns the dequantized value a quantized node reads for
// the activation point pt (of the prepared model) and the pass-through
// chain between them: pt gets a Q/DQ pair with p, and so does each chain
// node's output, the node reading the previous pair's DQ. mapNode maps a
// prepared model's node to the copy's.
func (ins *inserter) quantizedInput(pt *graph.Value, chain []*graph.Node, p *Params, mapNode func(*graph.Node) (*graph.Node, error)) (*graph.Value, error) {
	cur := ins.qdq(ins.g.Value(pt.Name), p)
	for _, cn := range chain {
		ch, err := mapNode(cn)
		if err != nil {
			return nil, err
		}
		ins.g.SetInput(ch, 0, cur)
		cur = ins.qdq(ch.Outputs[0], p)
	}
	return cur, nil
}

// qdq returns v quantized and dequantized with p (added once per value).
func (ins *inserter) qdq(v *graph.Value, p *Params) *graph.Value {
	if d, ok := ins.dq[v]; ok {
		return d
	}
	s, z, _ := p.Tensors()
	sv := ins.init(v.Name+"_scale", s)
	zv := ins.init(v.Name+"_zero_point", z)
	qv := ins.g.NewValue(v.Name + "_quantized")
	q := ins.g.AddNode("QuantizeLinear", []*graph.Value{v, sv, zv}, []*graph.Value{qv}, nil)
	q.Name = ins.nodeName(v.Name + "_QuantizeLinear")
	dv := ins.g.NewValue(v.Name + "_dequantized")
	d := ins.g.AddNode("DequantizeLinear", []*graph.Value{qv, sv, zv}, []*graph.Value{dv}, nil)
	d.Name = ins.nodeName(v.Name + "_DequantizeLinear")
	ins.dq[v] = dv
	return dv
}

// WeightFormat says how weights are quantized.
type WeightFormat struct {
	// PerChannel gives each output channel its own scale (else one per
	// tensor).
	PerChannel bool
	// ReduceRange quantizes to 7 bits, [-64, 64] (ONNX Runtime's
	// reduce_range): x86-64 CPUs without VNNI multiply uint8 activations
	// by int8 weights with vpmaddubsw, which adds pairs of products in 16
	// bits with saturation; with |w| <= 64 a pair is at most 2*255*64 =
	// 32640 and never saturates, so ONNX Runtime computes there the exact
	// result that gcompress computes everywhere.
	ReduceRange bool
}

// QuantizeWeight quantizes a float32 weight to int8, symmetric (zero point
// 0, range [-127, 127], or [-64, 64] with f.ReduceRange), per channel along
// axis or per tensor: scale = max|w| / 127 (or / 64) over the channel (1
// for an all-zero channel).
func QuantizeWeight(w *tensor.Tensor, axis int, f WeightFormat) (*Params, *tensor.Tensor, error) {
	a := -1
	if f.PerChannel {
		a = axis
	}
	lo, hi, err := MinMax(w.F32(), w.Shape(), a)
	if err != nil {
		return nil, nil, err
	}
	p, err := Choose(lo, hi, Config{DType: tensor.Int8, Symmetric: true, PerChannel: f.PerChannel, Axis: axis, ReduceRange: f.ReduceRange})
	if err != nil {
		return nil, nil, err
	}
	q, err := QuantizeRef(w.F32(), w.Shape(), p)
	if err != nil {
		return nil, nil, err
	}
	q8 := make([]int8, len(q))
	for i, v := range q {
		q8[i] = int8(v)
	}
	return p, tensor.FromSlice(w.Shape(), q8), nil
}

// weights quantizes layer n's weight and bias in place of the float ones.
func (ins *inserter) weights(n *graph.Node, l *Layer, act *Params, wf WeightFormat) (LayerParams, error) {
	g := ins.g
	lp := LayerParams{Name: l.Name, Op: n.OpType, Act: act, WeightAxis: l.WeightAxis}
	w := n.Inputs[1]
	wp, wq, err := QuantizeWeight(w.Const, l.WeightAxis, wf)
	if err != nil {
		return lp, fmt.Errorf("weight %q: %w", w.Name, err)
	}
	lp.Weight = wp
	s, z, err := wp.Tensors()
	if err != nil {
		return lp, err
	}
	qv := ins.init(w.Name+"_quantized", wq)
	sv := ins.init(w.Name+"_scale", s)
	zv := ins.init(w.Name+"_zero_point", z)
	attrs := map[string]*graph.Attr{}
	if wf.PerChannel {
		attrs["axis"] = graph.IntAttr(int64(l.WeightAxis))
	}
	dv := g.NewValue(w.Name + "_dequantized")
	d := g.AddNode("DequantizeLinear", []*graph.Value{qv, sv, zv}, []*graph.Value{dv}, attrs)
	d.Name = ins.nodeName(w.Name + "_DequantizeLinear")
	g.SetInput(n, 1, dv)
	if l.Bias == nil {
		return lp, nil
	}
	b := n.Inputs[2]
	bt := b.Const
	bf := bt.F32()
	sx := act.Scale[0]
	bs := make([]float32, len(bf))
	bq := make([]int32, len(bf))
	for i, v := range bf {
		sw := wp.Scale[0]
		if wf.PerChannel {
			sw = wp.Scale[i]
		}
		bs[i] = sx * sw
		r := math.RoundToEven(float64(v) / float64(bs[i]))
		if r > math.MaxInt32 || r < math.MinInt32 {
			lp.BiasSaturated++
			r = math.Max(math.MinInt32, math.Min(math.MaxInt32, r))
		}
		bq[i] = int32(r)
	}
	lp.BiasScale = bs
	bqv := ins.init(l.Name+"_bias_quantized", tensor.FromSlice(bt.Shape(), bq))
	battrs := map[string]*graph.Attr{}
	var bsv *graph.Value
	if wf.PerChannel {
		bsv = ins.init(l.Name+"_bias_scale", tensor.FromSlice([]int{len(bs)}, bs))
		battrs["axis"] = graph.IntAttr(int64(bt.Rank() - 1))
	} else {
		bsv = ins.init(l.Name+"_bias_scale", tensor.Scalar(bs[0]))
	}
	bdv := g.NewValue(l.Name + "_bias_dequantized")
	bd := g.AddNode("DequantizeLinear", []*graph.Value{bqv, bsv}, []*graph.Value{bdv}, battrs)
	bd.Name = ins.nodeName(l.Name + "_bias_DequantizeLinear")
	g.SetInput(n, 2, bdv)
	return lp, nil
}
