package cpu

// Shape and constant operators: Shape, Size, Reshape, Flatten, Squeeze,
// Unsqueeze, Identity, Dropout (inference), Constant, ConstantOfShape,
// Range and EyeLike (ONNX opsets 13..21).
//
// Reshape, Flatten, Squeeze, Unsqueeze, Identity and Dropout never copy:
// they return views sharing the input's buffer (the runtime counts the
// reference). Shape and Size read only the input's shape.

import (
	"fmt"
	"math"
	"slices"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("Shape", newShape)
	registerFunc("Size", runSize)
	register("Reshape", newReshape)
	register("Flatten", newFlatten)
	register("Squeeze", newSqueeze)
	register("Unsqueeze", newUnsqueeze)
	registerFunc("Identity", runIdentity)
	register("Dropout", newDropout)
	register("Constant", newConstant)
	register("ConstantOfShape", newConstantOfShape)
	registerFunc("Range", runRange)
	register("EyeLike", newEyeLike)
}

// newShape returns the input's dimensions as int64[end-start]; start and end
// (opset 15) select axes [start, end), negative values counting from the
// end, both clamped to [0, rank].
func newShape(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	start := n.AttrInt("start", 0)
	end, hasEnd := n.AttrInt("end", 0), n.HasAttr("end")
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("shape: %w", err)
		}
		dims := in[0].Shape()
		e := int64(len(dims))
		if hasEnd {
			e = end
		}
		lo, hi := shpShapeRange(start, e, len(dims))
		out, err := ctx.Alloc(tensor.Int64, hi-lo)
		if err != nil {
			return nil, err
		}
		for i, d := range dims[lo:hi] {
			out.I64()[i] = int64(d)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// shpShapeRange clamps the start/end attributes of Shape for a rank-r input
// into the axis range [lo, hi) (empty when hi <= lo).
func shpShapeRange(start, end int64, r int) (lo, hi int) {
	clampAxis := func(a int64) int {
		if a < 0 {
			a += int64(r)
		}
		return int(min(max(a, 0), int64(r)))
	}
	lo, hi = clampAxis(start), clampAxis(end)
	return lo, max(hi, lo)
}

// runSize returns the input's element count as an int64 scalar.
func runSize(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("size: %w", err)
	}
	out, err := ctx.Alloc(tensor.Int64)
	if err != nil {
		return nil, err
	}
	out.I64()[0] = int64(in[0].Len())
	return []*tensor.Tensor{out}, nil
}

// newReshape returns a view of the input with the shape given by input 1:
// a 0 copies the input's dimension at that position (unless allowzero=1,
// when it means a zero-size dimension) and one -1 takes what is left.
func newReshape(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	allowZero := n.AttrInt("allowzero", 0) != 0
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("reshape: %w", err)
		}
		spec, err := mvInts(in[1], "shape")
		if err != nil {
			return nil, fmt.Errorf("reshape: %w", err)
		}
		shape, err := shpReshapeDims(in[0].Shape(), spec, allowZero)
		if err != nil {
			return nil, fmt.Errorf("reshape: %w", err)
		}
		return one(in[0].Reshape(shape...))
	}), nil
}

// shpReshapeDims resolves an ONNX Reshape shape spec against the input shape
// (see newReshape); it fails when the element counts cannot match.
func shpReshapeDims(in []int, spec []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(spec))
	infer := -1
	known := 1 // product of the resolved dimensions
	hasZero := false
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case s < -1 || s > tensor.MaxElements:
			return nil, fmt.Errorf("invalid dimension %d in shape %v", s, spec)
		case s == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of the rank-%d input", spec, i, len(in))
			}
			out[i] = in[i]
		default:
			out[i] = int(s)
		}
		hasZero = hasZero || out[i] == 0
		if out[i] != 0 {
			if known > tensor.MaxElements/out[i] {
				return nil, fmt.Errorf("shape %v is too large", spec)
			}
			known *= out[i]
		}
	}
	total := tensor.Product(in)
	if infer >= 0 {
		if allowZero && hasZero {
			return nil, fmt.Errorf("shape %v combines -1 with a zero dimension (allowzero=1)", spec)
		}
		if hasZero {
			if total != 0 {
				return nil, fmt.Errorf("cannot reshape %v to %v", in, spec)
			}
			out[infer] = 0 // any size fits zero elements; ONNX Runtime picks 0
			return out, nil
		}
		if total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, spec)
		}
		out[infer] = total / known
		return out, nil
	}
	if hasZero {
		known = 0
	}
	if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, spec)
	}
	return out, nil
}

// newFlatten returns a [prod(shape[:axis]), prod(shape[axis:])] view; axis
// is in [-r, r].
func newFlatten(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", 1))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("flatten: %w", err)
		}
		x := in[0]
		r := x.Rank()
		ax := axis
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax > r {
			return nil, fmt.Errorf("flatten: axis %d out of range for rank %d", axis, r)
		}
		return one(x.Reshape(tensor.Product(x.Shape()[:ax]), tensor.Product(x.Shape()[ax:])))
	}), nil
}

// shpAxesInput returns the axes of Squeeze/Unsqueeze: input 1 (opset 13+),
// else the axes attribute given to the factory; nil when neither is set or
// the list is empty (which Squeeze treats as "all size-1 axes", like ONNX
// Runtime).
func shpAxesInput(in []*tensor.Tensor, attr []int64) ([]int64, error) {
	axes := attr
	if len(in) > 1 && in[1] != nil {
		var err error
		if axes, err = mvInts(in[1], "axes"); err != nil {
			return nil, err
		}
	}
	if len(axes) == 0 {
		return nil, nil
	}
	return axes, nil
}

// newSqueeze removes the listed axes (each of size 1), or every size-1 axis
// when no axes are given; the result is a view.
func newSqueeze(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	attr := n.AttrInts("axes", nil)
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("squeeze: %w", err)
		}
		axes, err := shpAxesInput(in, attr)
		if err != nil {
			return nil, fmt.Errorf("squeeze: %w", err)
		}
		shape, err := shpSqueezeDims(in[0].Shape(), axes)
		if err != nil {
			return nil, fmt.Errorf("squeeze: %w", err)
		}
		return one(in[0].Reshape(shape...))
	}), nil
}

// shpSqueezeDims removes the given axes (all size-1 axes when axes is nil) from
// shape; a listed axis whose size is not 1 is an error.
func shpSqueezeDims(shape []int, axes []int64) ([]int, error) {
	drop := make([]bool, len(shape))
	if axes == nil {
		for d, s := range shape {
			drop[d] = s == 1
		}
	} else {
		norm, err := mvAxes(axes, len(shape))
		if err != nil {
			return nil, err
		}
		for _, a := range norm {
			if shape[a] != 1 {
				return nil, fmt.Errorf("axis %d of shape %v has size %d, not 1", a, shape, shape[a])
			}
			drop[a] = true
		}
	}
	out := []int{}
	for d, s := range shape {
		if !drop[d] {
			out = append(out, s)
		}
	}
	return out, nil
}

// newUnsqueeze inserts size-1 axes at the given positions of the output
// (axes in [-r', r') with r' the output rank); the result is a view.
func newUnsqueeze(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	attr := n.AttrInts("axes", nil)
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("unsqueeze: %w", err)
		}
		axes, err := shpAxesInput(in, attr)
		if err != nil {
			return nil, fmt.Errorf("unsqueeze: %w", err)
		}
		if axes == nil {
			return nil, fmt.Errorf("unsqueeze: axes input is required and must not be empty")
		}
		shape, err := shpUnsqueezeDims(in[0].Shape(), axes)
		if err != nil {
			return nil, fmt.Errorf("unsqueeze: %w", err)
		}
		return one(in[0].Reshape(shape...))
	}), nil
}

// shpUnsqueezeDims inserts size-1 axes into shape at the output positions axes.
func shpUnsqueezeDims(shape []int, axes []int64) ([]int, error) {
	r := len(shape) + len(axes)
	norm, err := mvAxes(axes, r)
	if err != nil {
		return nil, err
	}
	ones := make([]bool, r)
	for _, a := range norm {
		ones[a] = true
	}
	out := make([]int, r)
	j := 0
	for d := range out {
		if ones[d] {
			out[d] = 1
			continue
		}
		out[d] = shape[j]
		j++
	}
	return out, nil
}

// runIdentity returns its input.
func runIdentity(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	return []*tensor.Tensor{in[0]}, nil
}

// newDropout is inference-mode Dropout: output = input and the optional mask
// is all true. training_mode=true with a non-zero ratio (input 1, default
// 0.5) would need random dropping, which this backend does not do: error.
func newDropout(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	wantMask := len(n.Outputs) > 1 && n.Outputs[1] != nil
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("dropout: %w", err)
		}
		if len(in) > 2 && in[2] != nil && in[2].Len() > 0 && in[2].Float64At(0) != 0 {
			ratio := 0.5
			if in[1] != nil && in[1].Len() > 0 {
				ratio = in[1].Float64At(0)
			}
			if ratio != 0 {
				return nil, fmt.Errorf("dropout: training_mode with ratio %v is not supported (inference only)", ratio)
			}
		}
		if !wantMask {
			return []*tensor.Tensor{in[0]}, nil
		}
		mask, err := ctx.Alloc(tensor.Bool, in[0].Shape()...)
		if err != nil {
			return nil, err
		}
		m := tensor.Data[bool](mask)
		for i := range m {
			m[i] = true
		}
		return []*tensor.Tensor{in[0], mask}, nil
	}), nil
}

// newConstant returns the tensor given by exactly one of the attributes
// value, value_float(s), value_int(s) or value_string(s). The same tensor is
// returned on every run, like an initializer; consumers never modify inputs.
func newConstant(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	t, err := shpConstantValue(n)
	if err != nil {
		return nil, fmt.Errorf("constant: %w", err)
	}
	return runtime.OpFunc(func(*runtime.Context, []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return []*tensor.Tensor{t}, nil
	}), nil
}

// shpConstantValue returns the value of a Constant node: a tensor attribute, or
// a float32/int64/string scalar (value_float, value_int, value_string) or
// vector (value_floats, value_ints, value_strings). sparse_value is not
// supported.
func shpConstantValue(n *graph.Node) (*tensor.Tensor, error) {
	var found []string
	var t *tensor.Tensor
	for name, a := range n.Attrs {
		var v *tensor.Tensor
		switch {
		case name == "value" && a.Type == graph.AttrTensor && a.T != nil:
			v = a.T
		case name == "value_float" && a.Type == graph.AttrFloat:
			v = tensor.Scalar(a.F)
		case name == "value_floats" && a.Type == graph.AttrFloats:
			v = tensor.FromSlice([]int{len(a.Floats)}, append([]float32{}, a.Floats...))
		case name == "value_int" && a.Type == graph.AttrInt:
			v = tensor.Scalar(a.I)
		case name == "value_ints" && a.Type == graph.AttrInts:
			v = tensor.FromSlice([]int{len(a.Ints)}, append([]int64{}, a.Ints...))
		case name == "value_string" && a.Type == graph.AttrString:
			v = tensor.Scalar(a.S)
		case name == "value_strings" && a.Type == graph.AttrStrings:
			v = tensor.FromSlice([]int{len(a.Strings)}, append([]string{}, a.Strings...))
		case name == "sparse_value":
			return nil, fmt.Errorf("sparse_value is not supported")
		default:
			return nil, fmt.Errorf("unexpected attribute %q (kind %d)", name, a.Type)
		}
		found = append(found, name)
		t = v
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("needs exactly one value attribute, got %v", found)
	}
	return t, nil
}

// newConstantOfShape returns a tensor of the shape in input 0 (int64; empty
// means a scalar) filled with the one element of the value attribute
// (default float32 0).
func newConstantOfShape(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	value := n.AttrTensor("value")
	if value == nil {
		value = tensor.Scalar(float32(0))
	}
	if value.Len() != 1 {
		return nil, fmt.Errorf("constant_of_shape: value must hold one element, got %v", value)
	}
	// ctx.Alloc zero-fills, so an all-zero value needs no filling.
	zero := value.DType() != tensor.String && !slices.ContainsFunc(value.RawBytes(), func(b byte) bool { return b != 0 })
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("constant_of_shape: %w", err)
		}
		dims, err := mvInts(in[0], "shape")
		if err != nil {
			return nil, fmt.Errorf("constant_of_shape: %w", err)
		}
		shape := make([]int, len(dims))
		for i, d := range dims {
			if d < 0 || d > tensor.MaxElements {
				return nil, fmt.Errorf("constant_of_shape: invalid shape %v", dims)
			}
			shape[i] = int(d)
		}
		out, err := ctx.Alloc(value.DType(), shape...)
		if err != nil {
			return nil, fmt.Errorf("constant_of_shape: %w", err)
		}
		if !zero {
			mvSet(out, value, 0, nil)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// runRange returns start, start+delta, ... while below limit (above it for
// negative delta): max(ceil((limit-start)/delta), 0) elements of the inputs'
// dtype, out[i] = start + i*delta.
func runRange(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 3); err != nil {
		return nil, fmt.Errorf("range: %w", err)
	}
	start, limit, delta := in[0], in[1], in[2]
	if err := mvSameDType(start.DType(), limit, delta); err != nil {
		return nil, fmt.Errorf("range: %w", err)
	}
	for _, t := range in[:3] {
		if t.Len() != 1 {
			return nil, fmt.Errorf("range: start, limit and delta must be scalars, got %v", t)
		}
	}
	var out *tensor.Tensor
	var err error
	switch start.DType() {
	case tensor.Float32:
		out, err = shpRange(ctx, start.F32()[0], limit.F32()[0], delta.F32()[0])
	case tensor.Float64:
		out, err = shpRange(ctx, tensor.Data[float64](start)[0], tensor.Data[float64](limit)[0], tensor.Data[float64](delta)[0])
	case tensor.Int16:
		out, err = shpRange(ctx, tensor.Data[int16](start)[0], tensor.Data[int16](limit)[0], tensor.Data[int16](delta)[0])
	case tensor.Int32:
		out, err = shpRange(ctx, tensor.Data[int32](start)[0], tensor.Data[int32](limit)[0], tensor.Data[int32](delta)[0])
	case tensor.Int64:
		out, err = shpRange(ctx, tensor.Data[int64](start)[0], tensor.Data[int64](limit)[0], tensor.Data[int64](delta)[0])
	default:
		return nil, fmt.Errorf("range: unsupported dtype %v", start.DType())
	}
	if err != nil {
		return nil, fmt.Errorf("range: %w", err)
	}
	return []*tensor.Tensor{out}, nil
}

func shpRange[T float32 | float64 | int16 | int32 | int64](ctx *runtime.Context, start, limit, delta T) (*tensor.Tensor, error) {
	if delta == 0 {
		return nil, fmt.Errorf("delta is zero")
	}
	n, ok := shpRangeCount(start, limit, delta)
	if !ok {
		return nil, fmt.Errorf("range(%v, %v, %v) is too long", start, limit, delta)
	}
	out, err := ctx.Alloc(tensor.DTypeOf[T](), n)
	if err != nil {
		return nil, err
	}
	d := tensor.Data[T](out)
	for i := range d {
		d[i] = start + T(i)*delta
	}
	return out, nil
}

// shpRangeCount is max(ceil((limit-start)/delta), 0), exact for integers;
// ok is false when the count is not a sane element count.
func shpRangeCount[T float32 | float64 | int16 | int32 | int64](start, limit, delta T) (int, bool) {
	switch any(delta).(type) {
	case float32, float64:
		n := math.Ceil((float64(limit) - float64(start)) / float64(delta))
		return max(int(n), 0), n <= tensor.MaxElements // false for NaN too
	}
	// Unsigned distances cannot overflow, even from MinInt64 to MaxInt64.
	s, l, d := int64(start), int64(limit), int64(delta)
	var span, step uint64
	switch {
	case d > 0 && l > s:
		span, step = uint64(l)-uint64(s), uint64(d)
	case d < 0 && l < s:
		span, step = uint64(s)-uint64(l), -uint64(d)
	default:
		return 0, true
	}
	n := span / step
	if span%step != 0 {
		n++
	}
	return int(min(n, tensor.MaxElements+1)), n <= tensor.MaxElements
}

// newEyeLike returns a 2-D tensor shaped like the input, with ones on the
// k-th diagonal (out[i][i+k] = 1) and zeros elsewhere, of the dtype
// attribute (default: the input's).
func newEyeLike(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	k := int(n.AttrInt("k", 0))
	dt := tensor.DType(n.AttrInt("dtype", 0))
	if n.HasAttr("dtype") && (!dt.Valid() || dt == tensor.String) {
		return nil, fmt.Errorf("eyelike: unsupported dtype %d", n.AttrInt("dtype", 0))
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("eyelike: %w", err)
		}
		x := in[0]
		if x.Rank() != 2 {
			return nil, fmt.Errorf("eyelike: input %v is not 2-D", x.Shape())
		}
		outDT := dt
		if outDT == tensor.Undefined {
			outDT = x.DType()
		}
		oneT, err := shpOne(outDT)
		if err != nil {
			return nil, fmt.Errorf("eyelike: %w", err)
		}
		rows, cols := x.Shape()[0], x.Shape()[1]
		out, err := ctx.Alloc(outDT, rows, cols)
		if err != nil {
			return nil, err
		}
		var diag []int
		for i := max(0, -k); i < rows && i+k < cols; i++ {
			diag = append(diag, i*cols+i+k)
		}
		if len(diag) > 0 {
			mvSet(out, oneT, 0, diag)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// shpOne returns a one-element tensor holding 1 (true for bool) in dtype dt.
func shpOne(dt tensor.DType) (*tensor.Tensor, error) {
	switch dt {
	case tensor.Float32:
		return tensor.Scalar(float32(1)), nil
	case tensor.Float64:
		return tensor.Scalar(float64(1)), nil
	case tensor.Float16:
		return tensor.Scalar(tensor.NewF16(1)), nil
	case tensor.BFloat16:
		return tensor.Scalar(tensor.NewBF16(1)), nil
	case tensor.Int8:
		return tensor.Scalar(int8(1)), nil
	case tensor.Uint8:
		return tensor.Scalar(uint8(1)), nil
	case tensor.Int16:
		return tensor.Scalar(int16(1)), nil
	case tensor.Uint16:
		return tensor.Scalar(uint16(1)), nil
	case tensor.Int32:
		return tensor.Scalar(int32(1)), nil
	case tensor.Uint32:
		return tensor.Scalar(uint32(1)), nil
	case tensor.Int64:
		return tensor.Scalar(int64(1)), nil
	case tensor.Uint64:
		return tensor.Scalar(uint64(1)), nil
	case tensor.Bool:
		return tensor.Scalar(true), nil
	}
	return nil, fmt.Errorf("no 1 in dtype %v", dt)
}
