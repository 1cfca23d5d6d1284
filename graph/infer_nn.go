// Shape inference for the neural-network and quantization ops: convolutions
// and pools (sliding windows, see Window), Gemm/MatMul and their integer
// forms, the normalisations and QuantizeLinear/DequantizeLinear.

package graph

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

// Window is the sliding-window geometry of Conv, ConvTranspose, ConvInteger,
// QLinearConv and the pooling ops: the attributes kernel_shape, strides,
// dilations, pads (all begins, then all ends), auto_pad and ceil_mode. A nil
// slice means the attribute is absent; Spatial fills the defaults. The CPU
// backend uses the same type, so that inferred and computed shapes agree.
type Window struct {
	Kernel    []int
	Strides   []int
	Dilations []int
	Pads      []int
	AutoPad   string
	CeilMode  bool
}

// maxWindowAttr bounds window attribute values so that the size arithmetic
// cannot overflow.
const maxWindowAttr = math.MaxInt32

// NodeWindow reads the window attributes of n and checks their values:
// kernel sizes, strides and dilations >= 1, pads >= 0, auto_pad one of
// NOTSET, VALID, SAME_UPPER, SAME_LOWER. Lengths are checked by Spatial.
func NodeWindow(n *Node) (Window, error) {
	w := Window{
		Kernel:    n.AttrIntsAsInts("kernel_shape", nil),
		Strides:   n.AttrIntsAsInts("strides", nil),
		Dilations: n.AttrIntsAsInts("dilations", nil),
		Pads:      n.AttrIntsAsInts("pads", nil),
		AutoPad:   n.AttrString("auto_pad", "NOTSET"),
		CeilMode:  n.AttrInt("ceil_mode", 0) != 0,
	}
	switch w.AutoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return w, fmt.Errorf("auto_pad %q is not NOTSET, VALID, SAME_UPPER or SAME_LOWER", w.AutoPad)
	}
	for _, a := range []struct {
		name string
		vals []int
		min  int
	}{{"kernel_shape", w.Kernel, 1}, {"strides", w.Strides, 1}, {"dilations", w.Dilations, 1}, {"pads", w.Pads, 0}} {
		for _, v := range a.vals {
			if v < a.min || v > maxWindowAttr {
				return w, fmt.Errorf("%s %v: values must be in [%d, %d]", a.name, a.vals, a.min, maxWindowAttr)
			}
		}
	}
	return w, nil
}

// Spatial returns w completed for rank spatial dimensions: absent strides
// and dilations become 1, absent pads 0, an empty AutoPad NOTSET, and an
// absent kernel_shape is taken
// from kernel (the spatial dimensions of a convolution weight; nil for the
// pools, which require kernel_shape). It fails when a length differs from
// rank or kernel_shape contradicts kernel.
func (w Window) Spatial(rank int, kernel []int) (Window, error) {
	fill := func(name string, v []int, n, def int) ([]int, error) {
		if v == nil {
			out := make([]int, n)
			for i := range out {
				out[i] = def
			}
			return out, nil
		}
		if len(v) != n {
			return nil, fmt.Errorf("%s %v has %d values, want %d", name, v, len(v), n)
		}
		return v, nil
	}
	switch {
	case w.Kernel == nil && kernel == nil:
		return w, fmt.Errorf("kernel_shape is required")
	case w.Kernel == nil:
		w.Kernel = kernel
	case kernel != nil && !tensor.SameShape(w.Kernel, kernel):
		return w, fmt.Errorf("kernel_shape %v does not match the weight's spatial shape %v", w.Kernel, kernel)
	}
	if w.AutoPad == "" {
		w.AutoPad = "NOTSET"
	}
	var err error
	if w.Kernel, err = fill("kernel_shape", w.Kernel, rank, 1); err != nil {
		return w, err
	}
	for _, k := range w.Kernel {
		if k < 1 {
			return w, fmt.Errorf("kernel shape %v has an empty dimension", w.Kernel)
		}
	}
	if w.Strides, err = fill("strides", w.Strides, rank, 1); err != nil {
		return w, err
	}
	if w.Dilations, err = fill("dilations", w.Dilations, rank, 1); err != nil {
		return w, err
	}
	w.Pads, err = fill("pads", w.Pads, 2*rank, 0)
	return w, err
}

// Axis returns the output size of spatial axis i (of a window completed by
// Spatial) for an input of size in, and the padding applied before and after
// the input. With the effective kernel ek = (kernel-1)*dilation + 1:
//
//	NOTSET: out = floor((in + pb + pe - ek) / stride) + 1 with the given pads;
//	        ceil_mode rounds up instead, but drops a last window that would
//	        start in the end padding;
//	VALID:  as NOTSET with no padding;
//	SAME_UPPER, SAME_LOWER: out = ceil(in / stride), total padding
//	        max(0, (out-1)*stride + ek - in), the odd cell at the end (UPPER)
//	        or at the beginning (LOWER).
func (w Window) Axis(i, in int) (out, padBegin, padEnd int, err error) {
	s := w.Strides[i]
	ek := (w.Kernel[i]-1)*w.Dilations[i] + 1
	switch w.AutoPad {
	case "SAME_UPPER", "SAME_LOWER":
		out = (in + s - 1) / s
		total := max(0, (out-1)*s+ek-in)
		padBegin = total / 2
		if w.AutoPad == "SAME_LOWER" {
			padBegin = total - total/2
		}
		return out, padBegin, total - padBegin, nil
	case "NOTSET":
		padBegin, padEnd = w.Pads[i], w.Pads[i+len(w.Kernel)]
	}
	span := in + padBegin + padEnd - ek
	if span < 0 {
		return 0, 0, 0, fmt.Errorf("spatial axis %d: window extent %d exceeds the padded input size %d", i, ek, in+padBegin+padEnd)
	}
	out = span/s + 1
	if w.CeilMode && span%s != 0 && out*s < in+padBegin {
		out++
	}
	return out, padBegin, padEnd, nil
}

// TransposeAxis returns the output size of spatial axis i of a ConvTranspose
// with input size in, output_padding outPad and requested output size want
// (the output_shape attribute; < 0 when absent), and the padding removed at
// the beginning of the axis. The full (unpadded) output has
// full = stride*(in-1) + outPad + ek cells. With output_shape, or with
// auto_pad SAME_* (output_shape defaults to in*stride), the total padding is
// full - out, split as total/2 at the beginning for SAME_UPPER and as
// total - total/2 otherwise (the ONNX formula); a negative total (an output
// larger than full) pads nothing at the beginning. Otherwise the pads
// attribute applies (none for VALID) and out = full - padBegin - padEnd.
func (w Window) TransposeAxis(i, in, outPad, want int) (out, padBegin int, err error) {
	full := w.Strides[i]*(in-1) + outPad + (w.Kernel[i]-1)*w.Dilations[i] + 1
	same := w.AutoPad == "SAME_UPPER" || w.AutoPad == "SAME_LOWER"
	if want < 0 && same {
		want = in * w.Strides[i]
	}
	if want >= 0 {
		total := full - want
		switch {
		case total <= 0:
			return want, 0, nil
		case w.AutoPad == "SAME_UPPER":
			return want, total / 2, nil
		}
		return want, total - total/2, nil
	}
	pe := 0
	if w.AutoPad == "NOTSET" {
		padBegin, pe = w.Pads[i], w.Pads[i+len(w.Kernel)]
	}
	out = full - padBegin - pe
	if out < 0 {
		return 0, 0, fmt.Errorf("spatial axis %d: pads %d+%d exceed the full output size %d", i, padBegin, pe, full)
	}
	return out, padBegin, nil
}

func init() {
	for _, op := range []string{"Conv", "ConvInteger", "QLinearConv"} {
		RegisterShapeFunc(op, convShape)
	}
	RegisterShapeFunc("ConvTranspose", convTransposeShape)
	for _, op := range []string{"MaxPool", "AveragePool", "LpPool"} {
		RegisterShapeFunc(op, poolShape)
	}
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"} {
		RegisterShapeFunc(op, globalPoolShape)
	}
	RegisterShapeFunc("Gemm", gemmShape)
	for _, op := range []string{"MatMul", "MatMulInteger", "QLinearMatMul"} {
		RegisterShapeFunc(op, matMulShape)
	}
	for _, op := range []string{"InstanceNormalization", "LRN", "MeanVarianceNormalization", "LpNormalization"} {
		RegisterShapeFunc(op, sameAsInput)
	}
	RegisterShapeFunc("BatchNormalization", batchNormShape)
	RegisterShapeFunc("LayerNormalization", layerNormShape)
	RegisterShapeFunc("QuantizeLinear", quantizeShape)
	RegisterShapeFunc("DequantizeLinear", dequantizeShape)
	RegisterShapeFunc("DynamicQuantizeLinear", dynamicQuantizeShape)
}

// quantOutDType is the output dtype of the quantized ops: that of the output
// zero point when present, else of the first input (QLinear*), or int32
// (ConvInteger, MatMulInteger), or the input's (the float ops).
func quantOutDType(n *Node, x *Value) tensor.DType {
	switch n.OpType {
	case "ConvInteger", "MatMulInteger":
		return tensor.Int32
	case "QLinearConv", "QLinearMatMul":
		if zp := n.Input(7); zp != nil && zp.DType != tensor.Undefined {
			return zp.DType
		}
	}
	return x.DType
}

// convShape: Y[N, M, out...] with out from Window.Axis; the weight is input
// 1 (input 3 for QLinearConv).
func convShape(n *Node) error {
	wIdx := 1
	if n.OpType == "QLinearConv" {
		wIdx = 3
	}
	x, wv := n.Input(0), n.Input(wIdx)
	if x == nil {
		return nil
	}
	dt := quantOutDType(n, x)
	if !x.HasShape || len(x.Shape) < 3 || wv == nil || !wv.HasShape {
		setOutput(n, 0, dt, nil, false)
		return nil
	}
	if len(wv.Shape) != len(x.Shape) {
		return fmt.Errorf("weight rank %d differs from input rank %d", len(wv.Shape), len(x.Shape))
	}
	g := n.AttrInt("group", 1)
	if g < 1 {
		return fmt.Errorf("group %d must be >= 1", g)
	}
	if c, wc := x.Shape[1], wv.Shape[1]; c.Known() && wc.Known() && c.Size != wc.Size*g {
		return fmt.Errorf("input has %d channels, weight expects %d x group %d", c.Size, wc.Size, g)
	}
	dims := []Dim{x.Shape[0], wv.Shape[0]}
	spatial, err := windowDims(n, x.Shape[2:], wv.Shape[2:])
	if err != nil {
		return err
	}
	setOutput(n, 0, dt, append(dims, spatial...), true)
	return nil
}

// knownInts returns dims as ints, or nil when one is not known.
func knownInts(dims []Dim) []int {
	out := make([]int, len(dims))
	for i, d := range dims {
		if !d.Known() {
			return nil
		}
		out[i] = int(d.Size)
	}
	return out
}

// unknownDims returns n unknown dimensions.
func unknownDims(n int) []Dim {
	out := make([]Dim, n)
	for i := range out {
		out[i] = Dim{Size: -1}
	}
	return out
}

// windowDims applies Window.Axis to the known input dimensions; kernel are
// the weight's spatial dims (nil for pools).
func windowDims(n *Node, in, kernel []Dim) ([]Dim, error) {
	w, err := NodeWindow(n)
	if err != nil {
		return nil, err
	}
	out := unknownDims(len(in))
	var k []int
	if kernel != nil {
		if k = knownInts(kernel); k == nil && w.Kernel == nil {
			return out, nil // kernel size not known yet
		}
	}
	if w, err = w.Spatial(len(in), k); err != nil {
		return nil, err
	}
	for i, d := range in {
		if d.Known() {
			o, _, _, err := w.Axis(i, int(d.Size))
			if err != nil {
				return nil, err
			}
			out[i] = Dim{Size: int64(o)}
		}
	}
	return out, nil
}

// convTransposeShape: Y[N, W[1]*group, out...] with out from
// Window.TransposeAxis (or the output_shape attribute).
func convTransposeShape(n *Node) error {
	x, wv := n.Input(0), n.Input(1)
	if x == nil {
		return nil
	}
	if !x.HasShape || len(x.Shape) < 3 || wv == nil || !wv.HasShape || len(wv.Shape) != len(x.Shape) {
		setOutput(n, 0, x.DType, nil, false)
		return nil
	}
	rank := len(x.Shape) - 2
	group := n.AttrInt("group", 1)
	if group < 1 {
		return fmt.Errorf("group %d must be >= 1", group)
	}
	m := Dim{Size: -1}
	if wv.Shape[1].Known() {
		m = Dim{Size: wv.Shape[1].Size * group}
	}
	out := append([]Dim{x.Shape[0], m}, unknownDims(rank)...)
	w, err := NodeWindow(n)
	if err != nil {
		return err
	}
	k := knownInts(wv.Shape[2:])
	if k == nil && w.Kernel == nil {
		setOutput(n, 0, x.DType, out, true)
		return nil
	}
	if w, err = w.Spatial(rank, k); err != nil {
		return err
	}
	outPad := n.AttrIntsAsInts("output_padding", make([]int, rank))
	want := n.AttrIntsAsInts("output_shape", nil)
	if len(outPad) != rank || (want != nil && len(want) != rank && len(want) != rank+2) {
		return fmt.Errorf("output_padding %v / output_shape %v do not have %d spatial values", outPad, want, rank)
	}
	for i, d := range x.Shape[2:] {
		wi := -1
		if want != nil {
			wi = want[len(want)-rank+i]
			out[2+i] = Dim{Size: int64(wi)}
		}
		if d.Known() {
			o, _, err := w.TransposeAxis(i, int(d.Size), outPad[i], wi)
			if err != nil {
				return err
			}
			out[2+i] = Dim{Size: int64(o)}
		}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

// poolShape: Y[N, C, out...]; MaxPool's optional Indices output has the
// same shape and dtype int64.
func poolShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	if !x.HasShape || len(x.Shape) < 3 {
		setOutput(n, 0, x.DType, nil, false)
		setOutput(n, 1, tensor.Int64, nil, false)
		return nil
	}
	spatial, err := windowDims(n, x.Shape[2:], nil)
	if err != nil {
		return err
	}
	dims := append([]Dim{x.Shape[0], x.Shape[1]}, spatial...)
	setOutput(n, 0, x.DType, dims, true)
	setOutput(n, 1, tensor.Int64, dims, true)
	return nil
}

// globalPoolShape: Y[N, C, 1, ..., 1].
func globalPoolShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	if !x.HasShape || len(x.Shape) < 2 {
		setOutput(n, 0, x.DType, nil, false)
		return nil
	}
	dims := []Dim{x.Shape[0], x.Shape[1]}
	for range x.Shape[2:] {
		dims = append(dims, Dim{Size: 1})
	}
	setOutput(n, 0, x.DType, dims, true)
	return nil
}

// gemmShape: Y[M, N] from A (M x K, or K x M with transA) and B.
func gemmShape(n *Node) error {
	a, b := n.Input(0), n.Input(1)
	if a == nil {
		return nil
	}
	if !a.HasShape || b == nil || !b.HasShape {
		setOutput(n, 0, a.DType, nil, false)
		return nil
	}
	if len(a.Shape) != 2 || len(b.Shape) != 2 {
		return fmt.Errorf("A %s and B %s must be matrices", FormatShape(a.Shape), FormatShape(b.Shape))
	}
	m, ka := a.Shape[0], a.Shape[1]
	if n.AttrInt("transA", 0) != 0 {
		m, ka = ka, m
	}
	kb, nn := b.Shape[0], b.Shape[1]
	if n.AttrInt("transB", 0) != 0 {
		kb, nn = nn, kb
	}
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return fmt.Errorf("inner dimensions %d and %d differ", ka.Size, kb.Size)
	}
	setOutput(n, 0, a.DType, []Dim{m, nn}, true)
	return nil
}

// matMulShape follows numpy.matmul: a 1-D A is [1, K] and a 1-D B is [K, 1]
// (the added dimension is dropped from the result), leading batch dimensions
// broadcast. B is input 1 (input 3 for QLinearMatMul).
func matMulShape(n *Node) error {
	bIdx := 1
	if n.OpType == "QLinearMatMul" {
		bIdx = 3
	}
	a, b := n.Input(0), n.Input(bIdx)
	if a == nil {
		return nil
	}
	dt := quantOutDType(n, a)
	if n.OpType == "MatMulInteger" {
		dt = tensor.Int32
	}
	if !a.HasShape || b == nil || !b.HasShape {
		setOutput(n, 0, dt, nil, false)
		return nil
	}
	dims, err := matMulDims(a.Shape, b.Shape)
	if err != nil {
		return err
	}
	setOutput(n, 0, dt, dims, true)
	return nil
}

// matMulDims returns the numpy.matmul result shape of a and b (see
// matMulShape), or an error for rank-0 operands, mismatched inner dimensions
// or batch dimensions that do not broadcast.
func matMulDims(a, b []Dim) ([]Dim, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("matmul operands must have rank >= 1, got %s and %s", FormatShape(a), FormatShape(b))
	}
	one := []Dim{{Size: 1}}
	aa, bb := a, b
	if len(a) == 1 {
		aa = append(one, a...)
	}
	if len(b) == 1 {
		bb = append(append([]Dim(nil), b...), one...)
	}
	ka, kb := aa[len(aa)-1], bb[len(bb)-2]
	if ka.Known() && kb.Known() && ka.Size != kb.Size {
		return nil, fmt.Errorf("matmul inner dimensions differ: %s x %s", FormatShape(a), FormatShape(b))
	}
	batch, err := broadcastDims(aa[:len(aa)-2], bb[:len(bb)-2])
	if err != nil {
		return nil, fmt.Errorf("matmul batch dimensions: %w", err)
	}
	out := batch
	if len(a) > 1 {
		out = append(out, aa[len(aa)-2])
	}
	if len(b) > 1 {
		out = append(out, bb[len(bb)-1])
	}
	return out, nil
}

// batchNormShape: Y like X; the training-mode outputs running_mean and
// running_var have the shape and dtype of input_mean.
func batchNormShape(n *Node) error {
	if err := sameAsInput(n); err != nil {
		return err
	}
	if mean := n.Input(3); mean != nil {
		for i := 1; i <= 2; i++ {
			setOutput(n, i, mean.DType, mean.Shape, mean.HasShape)
		}
	}
	return nil
}

// layerNormShape: Y like X; Mean and InvStdDev have X's shape with the
// normalised axes (axis..rank-1) set to 1, in the stash_type dtype.
func layerNormShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	setOutput(n, 0, x.DType, x.Shape, x.HasShape)
	stash := tensor.DType(n.AttrInt("stash_type", int64(tensor.Float32)))
	if !x.HasShape {
		setOutput(n, 1, stash, nil, false)
		setOutput(n, 2, stash, nil, false)
		return nil
	}
	axis, err := tensor.NormAxis(int(n.AttrInt("axis", -1)), len(x.Shape))
	if err != nil {
		return err
	}
	dims := append([]Dim(nil), x.Shape...)
	for i := axis; i < len(dims); i++ {
		dims[i] = Dim{Size: 1}
	}
	setOutput(n, 1, stash, dims, true)
	setOutput(n, 2, stash, dims, true)
	return nil
}

// quantizeShape: y like x, with the dtype of y_zero_point, else the
// output_dtype attribute, else uint8.
func quantizeShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	dt := tensor.DType(n.AttrInt("output_dtype", int64(tensor.Uint8)))
	if dt == tensor.Undefined {
		dt = tensor.Uint8
	}
	if zp := n.Input(2); zp != nil && zp.DType != tensor.Undefined {
		dt = zp.DType
	}
	setOutput(n, 0, dt, x.Shape, x.HasShape)
	return nil
}

// dequantizeShape: y like x, with the dtype of x_scale (or output_dtype).
func dequantizeShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	dt := tensor.DType(n.AttrInt("output_dtype", 0))
	if s := n.Input(1); dt == tensor.Undefined && s != nil {
		dt = s.DType
	}
	setOutput(n, 0, dt, x.Shape, x.HasShape)
	return nil
}

// dynamicQuantizeShape: y (uint8) like x; y_scale (float32) and
// y_zero_point (uint8) are scalars.
func dynamicQuantizeShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	setOutput(n, 0, tensor.Uint8, x.Shape, x.HasShape)
	setOutput(n, 1, tensor.Float32, []Dim{}, true)
	setOutput(n, 2, tensor.Uint8, []Dim{}, true)
	return nil
}
