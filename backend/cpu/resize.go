package cpu

// Resize (ONNX opsets 13..19; Upsample and Resize-10 arrive here rewritten
// by the importer as Resize-13 with asymmetric coordinates and floor
// rounding).
//
// Each output coordinate x_out along a resized axis maps back to an input
// coordinate x_in by coordinate_transformation_mode, with scale = the scales
// input, or output_size/input_size when sizes is given, and
// length_resized = scale * input_size:
//
//	half_pixel            x_in = (x_out + 0.5)/scale - 0.5
//	half_pixel_symmetric  x_in = c*(1 - out/length_resized) + (x_out + 0.5)/scale - 0.5, c = input_size/2
//	pytorch_half_pixel    x_in = out > 1 ? (x_out + 0.5)/scale - 0.5 : 0
//	align_corners         x_in = length_resized == 1 ? 0 : x_out*(input_size-1)/(length_resized-1)
//	asymmetric            x_in = x_out/scale
//	tf_half_pixel_for_nn  x_in = (x_out + 0.5)/scale
//	tf_crop_and_resize    x_in = length_resized > 1 ? s*(input_size-1) + x_out*(e-s)*(input_size-1)/(length_resized-1)
//	                                                : (s+e)/2*(input_size-1), with roi [s, e]
//
// tf_crop_and_resize gives extrapolation_value where x_in falls outside
// [0, input_size-1]. Then nearest picks one input element (nearest_mode
// decides halves; integral x_in is exact), linear and cubic weight the
// neighbours of x_in (cubic with Keys' kernel, coefficient cubic_coeff_a;
// exclude_outside drops and renormalises taps outside the input; antialias
// stretches the kernel by 1/scale when downscaling). Neighbours beyond the
// edges repeat the edge element. Linear and cubic are separable: the kernel
// resizes one axis at a time. The output size is floor(input_size*scale)
// with scales, or sizes (adjusted by keep_aspect_ratio_policy).

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("Resize", newResize)
	register("Upsample", newUpsample)
}

// rszParams are Resize's attributes.
type rszParams struct {
	mode, coordMode, nearest, policy string
	cubicA, extrap                   float64
	exclude, antialias               bool
	axes                             []int64
}

func newResize(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	p := &rszParams{
		mode:      n.AttrString("mode", "nearest"),
		coordMode: n.AttrString("coordinate_transformation_mode", "half_pixel"),
		nearest:   n.AttrString("nearest_mode", "round_prefer_floor"),
		policy:    n.AttrString("keep_aspect_ratio_policy", "stretch"),
		cubicA:    float64(n.AttrFloat("cubic_coeff_a", -0.75)),
		extrap:    float64(n.AttrFloat("extrapolation_value", 0)),
		exclude:   n.AttrInt("exclude_outside", 0) != 0,
		antialias: n.AttrInt("antialias", 0) != 0,
		axes:      n.AttrInts("axes", nil),
	}
	checks := []struct {
		name, v string
		ok      []string
	}{
		{"mode", p.mode, []string{"nearest", "linear", "cubic"}},
		{"coordinate_transformation_mode", p.coordMode, []string{"half_pixel", "half_pixel_symmetric",
			"pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"}},
		{"nearest_mode", p.nearest, []string{"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}},
		{"keep_aspect_ratio_policy", p.policy, []string{"stretch", "not_larger", "not_smaller"}},
	}
	for _, c := range checks {
		if !slices.Contains(c.ok, c.v) {
			return nil, fmt.Errorf("resize: unknown %s %q", c.name, c.v)
		}
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := p.run(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("resize: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// newUpsample runs the deprecated Upsample (opsets 7-9) as Resize with
// asymmetric coordinates and floor rounding; its scales come from the
// attribute (opset 7) or input 1 (opset 9). The importer normally rewrites
// Upsample into Resize before a backend sees it.
func newUpsample(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	mode := n.AttrString("mode", "nearest")
	if mode == "bilinear" {
		mode = "linear"
	}
	if mode != "nearest" && mode != "linear" {
		return nil, fmt.Errorf("upsample: unknown mode %q", mode)
	}
	p := &rszParams{mode: mode, coordMode: "asymmetric", nearest: "floor", policy: "stretch", cubicA: -0.75}
	var scales *tensor.Tensor
	if f := n.AttrFloats("scales", nil); f != nil {
		scales = tensor.FromSlice([]int{len(f)}, append([]float32(nil), f...))
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("upsample: %w", err)
		}
		sc := scales
		if len(in) > 1 && in[1] != nil {
			sc = in[1]
		}
		out, err := p.run(ctx, []*tensor.Tensor{in[0], nil, sc})
		if err != nil {
			return nil, fmt.Errorf("upsample: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// rszAxis is the plan for one axis: output length, scale and roi.
type rszAxis struct {
	in, out    int
	scale      float64
	start, end float64 // roi, used by tf_crop_and_resize
}

func (p *rszParams) run(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType() == tensor.String || x.DType() == tensor.Bool {
		return nil, fmt.Errorf("unsupported dtype %v", x.DType())
	}
	plan, err := p.plan(x.Shape(), in)
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(plan))
	for d, a := range plan {
		shape[d] = a.out
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return out, err
	}
	if p.mode == "nearest" {
		return out, p.nearestResize(ctx, x, out, plan)
	}
	return out, p.interpolate(ctx, x, out, plan)
}

// plan resolves the per-axis sizes, scales and roi from the inputs
// (roi, scales, sizes) and the axes and keep_aspect_ratio_policy attributes.
func (p *rszParams) plan(shape []int, in []*tensor.Tensor) ([]rszAxis, error) {
	r := len(shape)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if p.axes != nil {
		var err error
		if axes, err = mvAxes(p.axes, r); err != nil {
			return nil, err
		}
	}
	plan := make([]rszAxis, r)
	for d, s := range shape {
		plan[d] = rszAxis{in: s, out: s, scale: 1, start: 0, end: 1}
	}
	input := func(i int) *tensor.Tensor {
		if i < len(in) && in[i] != nil && in[i].Len() > 0 {
			return in[i]
		}
		return nil
	}
	scales, sizes := input(2), input(3)
	switch {
	case scales != nil && sizes != nil:
		return nil, fmt.Errorf("both scales and sizes are given")
	case scales != nil:
		if err := p.planScales(plan, axes, scales); err != nil {
			return nil, err
		}
	case sizes != nil:
		if err := p.planSizes(plan, axes, sizes); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("needs scales or sizes")
	}
	if roi := input(1); roi != nil && p.coordMode == "tf_crop_and_resize" {
		if roi.Len() != 2*len(axes) || !roi.DType().IsFloat() {
			return nil, fmt.Errorf("roi %v does not hold starts and ends for %d axes", roi, len(axes))
		}
		for i, ax := range axes {
			plan[ax].start, plan[ax].end = roi.Float64At(i), roi.Float64At(i+len(axes))
		}
	}
	return plan, nil
}

func (p *rszParams) planScales(plan []rszAxis, axes []int, scales *tensor.Tensor) error {
	if scales.Len() != len(axes) || !scales.DType().IsFloat() {
		return fmt.Errorf("scales %v for %d axes", scales, len(axes))
	}
	for i, ax := range axes {
		s := scales.Float64At(i)
		size := math.Floor(float64(plan[ax].in) * s)
		if !(s > 0) || size > tensor.MaxElements {
			return fmt.Errorf("invalid scale %v for axis %d", s, ax)
		}
		plan[ax].scale, plan[ax].out = s, int(size)
	}
	return nil
}

func (p *rszParams) planSizes(plan []rszAxis, axes []int, sizes *tensor.Tensor) error {
	vals, err := mvInts(sizes, "sizes")
	if err != nil {
		return err
	}
	if len(vals) != len(axes) {
		return fmt.Errorf("%d sizes for %d axes", len(vals), len(axes))
	}
	for i, ax := range axes {
		if vals[i] < 0 || vals[i] > tensor.MaxElements || (plan[ax].in == 0 && vals[i] != 0) {
			return fmt.Errorf("invalid size %d for axis %d of length %d", vals[i], ax, plan[ax].in)
		}
		plan[ax].out = int(vals[i])
		if plan[ax].in > 0 {
			plan[ax].scale = float64(vals[i]) / float64(plan[ax].in)
		}
	}
	if p.policy == "stretch" {
		return nil
	}
	// One scale for all axes: the smallest (not_larger) or largest ratio;
	// sizes become round_half_up(scale * input_size).
	scale := plan[axes[0]].scale
	for _, ax := range axes {
		if p.policy == "not_larger" {
			scale = min(scale, plan[ax].scale)
		} else {
			scale = max(scale, plan[ax].scale)
		}
	}
	for _, ax := range axes {
		plan[ax].scale = scale
		plan[ax].out = int(scale*float64(plan[ax].in) + 0.5)
	}
	return nil
}

// coord maps output coordinate j of axis a to the input coordinate; ok is
// false where tf_crop_and_resize extrapolates.
func (p *rszParams) coord(a rszAxis, j int) (x float64, ok bool) {
	xo, in, s := float64(j), float64(a.in), a.scale
	length := s * in
	switch p.coordMode {
	case "half_pixel":
		x = (xo+0.5)/s - 0.5
	case "half_pixel_symmetric":
		adj := float64(a.out) / length
		x = in/2*(1-adj) + (xo+0.5)/s - 0.5
	case "pytorch_half_pixel":
		if a.out > 1 {
			x = (xo+0.5)/s - 0.5
		}
	case "align_corners":
		if length != 1 {
			x = xo * (in - 1) / (length - 1)
		}
	case "asymmetric":
		x = xo / s
	case "tf_half_pixel_for_nn":
		x = (xo + 0.5) / s
	case "tf_crop_and_resize":
		if length > 1 {
			x = a.start*(in-1) + xo*(a.end-a.start)*(in-1)/(length-1)
		} else {
			x = 0.5 * (a.start + a.end) * (in - 1)
		}
		if x < 0 || x > in-1 {
			return 0, false
		}
	}
	return x, true
}

// nearestIndex rounds an input coordinate per nearest_mode and clamps it.
func (p *rszParams) nearestIndex(x float64, in int) int {
	i := math.Floor(x)
	if f := x - i; f != 0 {
		switch p.nearest {
		case "round_prefer_floor":
			if f > 0.5 {
				i++
			}
		case "round_prefer_ceil":
			if f >= 0.5 {
				i++
			}
		case "ceil":
			i++
		}
	}
	return int(min(max(i, 0), float64(in-1)))
}

// nearestResize is a gather with one index table per axis.
func (p *rszParams) nearestResize(ctx *runtime.Context, x, out *tensor.Tensor, plan []rszAxis) error {
	st := tensor.Strides(x.Shape())
	tabs := make([][]int, len(plan))
	for d, a := range plan {
		tabs[d] = mvTable(a.out, st[d], func(j int) int {
			c, ok := p.coord(a, j)
			if !ok {
				return -1
			}
			return p.nearestIndex(c, a.in)
		})
	}
	fill, err := rszScalar(x.DType(), p.extrap)
	if err != nil {
		return err
	}
	mvGather(ctx, out, x, tabs, fill)
	return nil
}

// rszTaps are the interpolation weights of one axis: output j reads
// idx[j*n+t] with weight w[j*n+t] for t < n, or is extrapolated.
type rszTaps struct {
	n      int
	idx    []int
	w      []float64
	extrap []bool
}

// taps computes the linear or cubic weights of axis a.
func (p *rszParams) taps(a rszAxis) rszTaps {
	s := 1.0
	if p.antialias {
		s = min(a.scale, 1)
	}
	// Kernel support in taps: [lo, hi) relative to floor(x).
	lo := int(math.Floor(-1/s)) + 1
	if p.mode == "cubic" {
		lo = int(math.Floor(-2/s)) + 1
	}
	hi := 2 - lo
	tp := rszTaps{n: hi - lo, extrap: make([]bool, a.out)}
	tp.idx = make([]int, a.out*tp.n)
	tp.w = make([]float64, a.out*tp.n)
	for j := 0; j < a.out; j++ {
		x, ok := p.coord(a, j)
		if !ok {
			tp.extrap[j] = true
			continue
		}
		// ratio in (0, 1]: an integral x counts as the right end of
		// [x-1, x], as in the ONNX reference.
		x0 := math.Floor(x)
		ratio := x - x0
		if ratio == 0 {
			x0, ratio = x0-1, 1
		}
		idx, w := tp.idx[j*tp.n:(j+1)*tp.n], tp.w[j*tp.n:(j+1)*tp.n]
		for t := range w {
			off := lo + t
			idx[t] = int(x0) + off
			w[t] = p.kernel(s * (float64(off) - ratio))
		}
		p.normalise(idx, w, a.in)
	}
	return tp
}

// kernel is the linear (triangle) or Keys cubic kernel at distance d.
func (p *rszParams) kernel(d float64) float64 {
	d = math.Abs(d)
	if p.mode == "linear" {
		return max(0, 1-d)
	}
	A := p.cubicA
	switch {
	case d <= 1:
		return ((A+2)*d-(A+3))*d*d + 1
	case d < 2:
		return ((A*d-5*A)*d+8*A)*d - 4*A
	}
	return 0
}

// normalise applies antialias normalisation and exclude_outside to one
// output's taps, then clamps the tap positions into the input.
func (p *rszParams) normalise(idx []int, w []float64, in int) {
	rescale := func() {
		sum := 0.0
		for _, v := range w {
			sum += v
		}
		if sum != 0 {
			for t := range w {
				w[t] /= sum
			}
		}
	}
	if p.antialias {
		rescale()
	}
	if p.exclude {
		for t, i := range idx {
			if i < 0 || i >= in {
				w[t] = 0
			}
		}
		rescale()
	}
	for t, i := range idx {
		idx[t] = min(max(i, 0), in-1)
	}
}

// identity reports whether the taps copy the axis unchanged.
func (tp rszTaps) identity(in int) bool {
	if len(tp.extrap) != in {
		return false
	}
	for j, e := range tp.extrap {
		if e {
			return false
		}
		for t := 0; t < tp.n; t++ {
			w, i := tp.w[j*tp.n+t], tp.idx[j*tp.n+t]
			if w != 0 && (w != 1 || i != j) {
				return false
			}
		}
	}
	return true
}

// interpolate runs linear or cubic resizing as one 1-D pass per changed
// axis (most shrinking axes first, so later passes have less to do), in
// float32 for float32/float16/bfloat16 data and float64 otherwise.
func (p *rszParams) interpolate(ctx *runtime.Context, x, out *tensor.Tensor, plan []rszAxis) error {
	switch x.DType() {
	case tensor.Float32, tensor.Float16, tensor.BFloat16:
		return rszInterpolate[float32](ctx, p, x, out, plan)
	}
	return rszInterpolate[float64](ctx, p, x, out, plan)
}

func rszInterpolate[F float32 | float64](ctx *runtime.Context, p *rszParams, x, out *tensor.Tensor, plan []rszAxis) error {
	buf := rszLoad[F](x)
	shape := append([]int(nil), x.Shape()...)
	order := make([]int, len(plan))
	for d := range order {
		order[d] = d
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra := float64(plan[a].out) / float64(max(plan[a].in, 1))
		rb := float64(plan[b].out) / float64(max(plan[b].in, 1))
		return cmp.Compare(ra, rb)
	})
	for _, d := range order {
		tp := p.taps(plan[d])
		if tp.identity(plan[d].in) {
			continue
		}
		buf = rszPass(ctx, buf, shape, d, tp, F(p.extrap))
		shape[d] = plan[d].out
	}
	return rszStore(out, buf)
}

// rszPass resizes axis d of src (shape) with the given taps and returns the
// new buffer.
func rszPass[F float32 | float64](ctx *runtime.Context, src []F, shape []int, d int, tp rszTaps, extrap F) []F {
	outer, in, inner := tensor.Product(shape[:d]), shape[d], tensor.Product(shape[d+1:])
	outLen := len(tp.extrap)
	dst := make([]F, outer*outLen*inner)
	w := make([]F, len(tp.w))
	for i, v := range tp.w {
		w[i] = F(v)
	}
	mvParallel(ctx, outer*outLen, len(dst)*tp.n, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			o, j := row/outLen, row%outLen
			y := dst[row*inner : (row+1)*inner]
			if tp.extrap[j] {
				for i := range y {
					y[i] = extrap
				}
				continue
			}
			for t := 0; t < tp.n; t++ {
				wt := w[j*tp.n+t]
				if wt == 0 {
					continue
				}
				at := (o*in + tp.idx[j*tp.n+t]) * inner
				xs := src[at : at+inner]
				for i := range y {
					y[i] += wt * xs[i]
				}
			}
		}
	})
	return dst
}

// rszLoad converts x's elements to F.
func rszLoad[F float32 | float64](x *tensor.Tensor) []F {
	out := make([]F, x.Len())
	switch d := x.Data().(type) {
	case []float32:
		for i, v := range d {
			out[i] = F(v)
		}
	case []float64:
		for i, v := range d {
			out[i] = F(v)
		}
	case []tensor.F16, []tensor.BF16:
		for i, v := range mvWiden(x) {
			out[i] = F(v)
		}
	default:
		for i := range out {
			out[i] = F(x.Float64At(i))
		}
	}
	return out
}

// rszStore writes v into out, rounding to nearest and saturating for
// integer dtypes.
func rszStore[F float32 | float64](out *tensor.Tensor, v []F) error {
	switch d := out.Data().(type) {
	case []float32:
		for i, x := range v {
			d[i] = float32(x)
		}
	case []float64:
		for i, x := range v {
			d[i] = float64(x)
		}
	case []tensor.F16, []tensor.BF16:
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		mvNarrow(out, f)
	case []int8:
		rszStoreInt(d, v, math.MinInt8, math.MaxInt8)
	case []uint8:
		rszStoreInt(d, v, 0, math.MaxUint8)
	case []int16:
		rszStoreInt(d, v, math.MinInt16, math.MaxInt16)
	case []uint16:
		rszStoreInt(d, v, 0, math.MaxUint16)
	case []int32:
		rszStoreInt(d, v, math.MinInt32, math.MaxInt32)
	case []uint32:
		rszStoreInt(d, v, 0, math.MaxUint32)
	case []int64:
		rszStoreInt(d, v, math.MinInt64, math.MaxInt64)
	case []uint64:
		rszStoreInt(d, v, 0, uint64(math.MaxUint64))
	default:
		return fmt.Errorf("unsupported dtype %v", out.DType())
	}
	return nil
}

func rszStoreInt[T int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64, F float32 | float64](d []T, v []F, lo, hi T) {
	for i, x := range v {
		r := math.Round(float64(x))
		switch {
		case r <= float64(lo):
			d[i] = lo
		case r >= float64(hi):
			d[i] = hi
		default:
			d[i] = T(r)
		}
	}
}

// rszScalar returns v converted to a one-element tensor of dtype dt.
func rszScalar(dt tensor.DType, v float64) (*tensor.Tensor, error) {
	t, err := tensor.New(dt, 1)
	if err != nil {
		return nil, err
	}
	return t, rszStore(t, []float64{v})
}
