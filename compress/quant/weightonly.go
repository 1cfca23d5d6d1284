package quant

import (
	"fmt"
	"github.com/gcompress/gcompress/backend/cpu"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/tensor"
)

// DefaultGroupSize is the int4 weight-only block size along K.
const DefaultGroupSize = 32

// CheckGroupSize fails unless groupSize is 0 (per channel) or a power of
// two >= 16, the blocks ONNX Runtime's MatMulNBits takes.
func CheckGroupSize(groupSize int) error {
	if groupSize < 0 || (groupSize > 0 && (groupSize < 16 || groupSize&(groupSize-1) != 0)) {
		return fmt.Errorf("weight-only: group size %d must be a power of two >= 16 (ONNX Runtime's MatMulNBits)", groupSize)
	}
	return nil
}

// WeightOnly quantizes only the weights of the MatMul and Gemm layers of
// a prepared model (activations stay float32; Conv layers are left alone):
//
//   - bits 8, groupSize 0: int8 symmetric per output channel, stored as
//     DequantizeLinear on the int8 weight (plain ONNX opset 13, as
//     InsertQDQ stores weights); Lower turns it into MatMulNBits with one
//     block per row for gcompress's runtime.
//   - bits 4 (groupSize 32, 64, 128, ...; DefaultGroupSize when 0), or
//     bits 8 with a group size: symmetric per block of groupSize values
//     along K, stored as ONNX Runtime's com.microsoft MatMulNBits (packed
//     uint8, see cpu.NBitsLayout and cpu.PackNBits), which ONNX Runtime runs and
//     gcompress's runtime executes with its dequant-in-GEMM kernel.
//
// A Gemm's C becomes MatMulNBits's bias when it holds N values; Gemms
// with another C keep float weights. The prepared model is not modified.
func WeightOnly(prepared *graph.Model, layers []*Layer, bits, groupSize int, perChannel bool) (*graph.Model, []LayerParams, error) {
	if bits != 4 && bits != 8 {
		return nil, nil, fmt.Errorf("weight-only: %d bits (want int8 or int4)", bits)
	}
	if bits == 4 && groupSize == 0 {
		groupSize = DefaultGroupSize
	}
	if err := CheckGroupSize(groupSize); err != nil {
		return nil, nil, err
	}
	index := map[*graph.Node]int{}
	for i, n := range prepared.Graph.Nodes {
		index[n] = i
	}
	c := passes.Clone(prepared)
	g := c.Graph
	nodes := append([]*graph.Node(nil), g.Nodes...)
	ins := &inserter{g: g, dq: map[*graph.Value]*graph.Value{}, names: map[string]bool{}}
	for _, n := range g.Nodes {
		if n.Name != "" {
			ins.names[n.Name] = true
		}
	}
	var out []LayerParams
	for _, l := range layers {
		n := nodes[index[l.Node]]
		if n.OpType == "Conv" {
			continue
		}
		if groupSize == 0 {
			lp, err := ins.weightOnly(n, l, perChannel)
			if err != nil {
				return nil, nil, fmt.Errorf("layer %s: %w", l.Name, err)
			}
			out = append(out, lp)
			continue
		}
		lp, ok, err := ins.nbits(n, l, bits, groupSize)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %s: %w", l.Name, err)
		}
		if ok {
			out = append(out, lp)
			c.Opsets[cpu.MSDomain] = 1
		}
	}
	g.RemoveDeadNodes()
	if err := g.TopoSort(); err != nil {
		return nil, nil, fmt.Errorf("weight-only: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, nil, fmt.Errorf("weight-only: %w", err)
	}
	if err := graph.InferShapes(g); err != nil {
		return nil, nil, fmt.Errorf("weight-only: %w", err)
	}
	if c.Opset() < 13 {
		c.Opsets[""] = 13
	}
	return c, out, nil
}

// weightOnly replaces n's weight by int8 DequantizeLinear (bias stays float).
func (ins *inserter) weightOnly(n *graph.Node, l *Layer, perChannel bool) (LayerParams, error) {
	lp := LayerParams{Name: l.Name, Op: n.OpType, WeightAxis: l.WeightAxis}
	w := n.Inputs[1]
	wp, wq, err := QuantizeWeight(w.Const, l.WeightAxis, WeightFormat{PerChannel: perChannel})
	if err != nil {
		return lp, err
	}
	lp.Weight = wp
	s, z, err := wp.Tensors()
	if err != nil {
		return lp, err
	}
	attrs := map[string]*graph.Attr{}
	if perChannel {
		attrs["axis"] = graph.IntAttr(int64(l.WeightAxis))
	}
	dv := ins.g.NewValue(w.Name + "_dequantized")
	d := ins.g.AddNode("DequantizeLinear", []*graph.Value{ins.init(w.Name+"_quantized", wq), ins.init(w.Name+"_scale", s),
		ins.init(w.Name+"_zero_point", z)}, []*graph.Value{dv}, attrs)
	d.Name = ins.nodeName(w.Name + "_DequantizeLinear")
	ins.g.SetInput(n, 1, dv)
	return lp, nil
}

// nbits replaces n by MatMulNBits; ok is false for a Gemm whose C is not a
// bias of N values.
func (ins *inserter) nbits(n *graph.Node, l *Layer, bits, group int) (LayerParams, bool, error) {
	lp := LayerParams{Name: l.Name, Op: n.OpType, WeightAxis: l.WeightAxis}
	wt := n.Inputs[1].Const
	rows, cols := wt.Shape()[0], wt.Shape()[1]
	// MatMulNBits wants W^T: [N, K]
	var wnk []float32
	var nOut, k int
	if l.WeightAxis == 0 { // Gemm transB: B is already [N, K]
		wnk, nOut, k = wt.F32(), rows, cols
	} else {
		nOut, k = cols, rows
		wnk = make([]float32, rows*cols)
		src := wt.F32()
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				wnk[j*rows+i] = src[i*cols+j]
			}
		}
	}
	var bias *graph.Value
	if n.OpType == "Gemm" && n.Input(2) != nil {
		if l.Bias == nil {
			return lp, false, nil
		}
		bias = n.Inputs[2]
		if b := bias.Const; b.Rank() != 1 {
			bias = ins.init(bias.Name+"_vector", tensor.FromSlice([]int{nOut}, append([]float32(nil), b.F32()...)))
		}
	}
	lay, packed, scales, err := cpu.PackNBits(wnk, nOut, k, bits, group)
	if err != nil {
		return lp, false, err
	}
	lp.Weight = &Params{Scale: scales, ZeroPoint: make([]int32, len(scales)), Axis: 0, DType: tensor.Int8}
	bv := ins.init(n.Inputs[1].Name+"_packed", tensor.FromSlice([]int{nOut, lay.KBlocks(), lay.BlobSize()}, packed))
	sv := ins.init(n.Inputs[1].Name+"_scales", tensor.FromSlice([]int{len(scales)}, scales))
	in := []*graph.Value{n.Inputs[0], bv, sv}
	if bias != nil {
		in = append(in, nil, nil, bias)
	}
	attrs := map[string]*graph.Attr{"K": graph.IntAttr(int64(k)), "N": graph.IntAttr(int64(nOut)),
		"bits": graph.IntAttr(int64(bits)), "block_size": graph.IntAttr(int64(group))}
	y := n.Outputs[0]
	mn := &graph.Node{Name: ins.nodeName(l.Name + "_MatMulNBits"), OpType: "MatMulNBits", Domain: cpu.MSDomain,
		Inputs: in, Outputs: []*graph.Value{y}, Attrs: attrs}
	if err := ins.g.ReplaceNode(n, []*graph.Node{mn}, []*graph.Value{y}); err != nil {
		return lp, false, err
	}
	return lp, true, nil
}
