package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// mvtResizeRef is an independent Resize oracle written after the ONNX
// reference implementation: it interpolates the N-D input recursively (inner
// axes first) and picks, for every 1-D interpolation, the n input positions
// nearest to x (ties to the lower index) in the edge-padded input, where n is
// the number of kernel coefficients.
type mvtResizeRef struct {
	mode, coord, nearest string
	a, extrap            float64
	exclude, antialias   bool
}

func (r mvtResizeRef) coeffs(ratio, scale float64) []float64 {
	switch r.mode {
	case "nearest":
		if ratio == 1 {
			return []float64{0, 1}
		}
		b := map[string]bool{"round_prefer_floor": ratio > 0.5, "round_prefer_ceil": ratio >= 0.5, "floor": false, "ceil": true}[r.nearest]
		if b {
			return []float64{0, 1}
		}
		return []float64{1, 0}
	case "linear":
		if !r.antialias {
			return []float64{1 - ratio, ratio}
		}
		s := math.Min(scale, 1)
		start := int(math.Floor(-1/s)) + 1
		var c []float64
		for i := start; i < 2-start; i++ {
			c = append(c, math.Max(0, math.Min(1, 1-math.Abs((float64(i)-ratio)*s))))
		}
		return mvtNormalised(c)
	}
	A := r.a
	w := func(x float64) float64 {
		x = math.Abs(x)
		switch {
		case x <= 1:
			return (A+2)*x*x*x - (A+3)*x*x + 1
		case x < 2:
			return A*x*x*x - 5*A*x*x + 8*A*x - 4*A
		}
		return 0
	}
	s := 1.0
	if r.antialias {
		s = math.Min(scale, 1)
	}
	start := int(math.Floor(-2/s)) + 1
	var c []float64
	for i := start; i < 2-start; i++ {
		c = append(c, w(s*(float64(i)-ratio)))
	}
	if r.antialias {
		return mvtNormalised(c)
	}
	return c
}

func mvtNormalised(c []float64) []float64 {
	sum := 0.0
	for _, v := range c {
		sum += v
	}
	for i := range c {
		c[i] /= sum
	}
	return c
}

func (r mvtResizeRef) interp1(data []float64, scale float64, outLen, x int, roi [2]float64) float64 {
	in := float64(len(data))
	length := scale * in
	var xo float64
	xf := float64(x)
	switch r.coord {
	case "half_pixel":
		xo = (xf+0.5)/scale - 0.5
	case "pytorch_half_pixel":
		if outLen > 1 {
			xo = (xf+0.5)/scale - 0.5
		}
	case "align_corners":
		if length != 1 {
			xo = xf * (in - 1) / (length - 1)
		}
	case "asymmetric":
		xo = xf / scale
	case "tf_half_pixel_for_nn":
		xo = (xf + 0.5) / scale
	case "half_pixel_symmetric":
		xo = in/2*(1-float64(outLen)/length) + (xf+0.5)/scale - 0.5
	case "tf_crop_and_resize":
		if length == 1 {
			xo = (roi[1] - roi[0]) * (in - 1) / 2
		} else {
			xo = xf * (roi[1] - roi[0]) * (in - 1) / (length - 1)
		}
		xo += roi[0] * (in - 1)
		if xo < 0 || xo > in-1 {
			return r.extrap
		}
	}
	ratio := xo - math.Floor(xo)
	if ratio == 0 {
		ratio = 1
	}
	c := r.coeffs(ratio, scale)
	n := len(c)
	pad := (n + 1) / 2
	padded := make([]float64, len(data)+2*pad)
	for i := range padded {
		padded[i] = data[min(max(i-pad, 0), len(data)-1)]
	}
	// Distances are measured from xo itself: the reference's x + pad can
	// round an x just above an integer down onto it and flip the choice.
	idx := make([]int, len(padded))
	for i := range idx {
		idx[i] = i
	}
	dist := func(i int) float64 { return math.Abs(xo - float64(i-pad)) }
	sort.SliceStable(idx, func(a, b int) bool { return dist(idx[a]) < dist(idx[b]) })
	idx = idx[:n]
	sort.Ints(idx)
	if r.exclude {
		for t, i := range idx {
			if i-pad < 0 || i-pad >= len(data) {
				c[t] = 0
			}
		}
		c = mvtNormalised(c)
	}
	sum := 0.0
	for t, i := range idx {
		sum += c[t] * padded[i]
	}
	return sum
}

func (r mvtResizeRef) interpND(data []float64, shape []int, scales []float64, out, x []int, roi [][2]float64) float64 {
	if len(shape) == 1 {
		return r.interp1(data, scales[0], out[0], x[0], roi[0])
	}
	inner := tensor.Product(shape[1:])
	res := make([]float64, shape[0])
	for i := range res {
		res[i] = r.interpND(data[i*inner:(i+1)*inner], shape[1:], scales[1:], out[1:], x[1:], roi[1:])
	}
	return r.interp1(res, scales[0], out[0], x[0], roi[0])
}

// run resizes data to out with per-axis scales.
func (r mvtResizeRef) run(data []float64, shape, out []int, scales []float64, roi [][2]float64) []float64 {
	res := make([]float64, tensor.Product(out))
	x := make([]int, len(out))
	for o := range res {
		rem := o
		for d := len(out) - 1; d >= 0; d-- {
			x[d] = rem % out[d]
			rem /= out[d]
		}
		res[o] = r.interpND(data, shape, scales, out, x, roi)
	}
	return res
}

func TestResizeAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	shape := []int{2, 5, 7}
	data := make([]float64, tensor.Product(shape))
	for i := range data {
		data[i] = rng.Float64()*10 - 5
	}
	x := tensor.FromSlice(shape, data)
	type cfg struct {
		mvtResizeRef
		scales []float32
		sizes  []int64
	}
	var cases []cfg
	for _, coord := range []string{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "half_pixel_symmetric", "tf_crop_and_resize"} {
		for _, mode := range []string{"nearest", "linear", "cubic"} {
			base := mvtResizeRef{mode: mode, coord: coord, nearest: "round_prefer_floor", a: -0.75, extrap: -9}
			cases = append(cases,
				cfg{base, []float32{1, 1.6, 0.6}, nil},
				cfg{base, nil, []int64{2, 3, 13}},
				cfg{base, []float32{1, 0.2, 2}, nil})
			ex := base
			ex.exclude, ex.a = true, -0.5
			cases = append(cases, cfg{ex, []float32{1, 2.5, 0.45}, nil})
		}
	}
	for _, nm := range []string{"round_prefer_ceil", "floor", "ceil"} {
		cases = append(cases, cfg{mvtResizeRef{mode: "nearest", coord: "half_pixel", nearest: nm}, []float32{1, 1.6, 0.6}, nil})
	}
	for _, mode := range []string{"linear", "cubic"} {
		aa := mvtResizeRef{mode: mode, coord: "half_pixel", a: -0.5, antialias: true}
		cases = append(cases, cfg{aa, []float32{1, 0.4, 0.7}, nil}, cfg{aa, nil, []int64{2, 2, 17}})
	}
	roiT := tensor.FromSlice([]int{6}, []float64{0, 0.2, -0.1, 1, 0.9, 1.3})
	for _, c := range cases {
		name := fmt.Sprintf("%s/%s/%s/exclude=%v/aa=%v/scales=%v/sizes=%v", c.mode, c.coord, c.nearest, c.exclude, c.antialias, c.scales, c.sizes)
		attrs := mvtAttrs{
			"mode": graph.StringAttr(c.mode), "coordinate_transformation_mode": graph.StringAttr(c.coord),
			"cubic_coeff_a": graph.FloatAttr(float32(c.a)), "extrapolation_value": graph.FloatAttr(float32(c.extrap)),
		}
		if c.nearest != "" {
			attrs["nearest_mode"] = graph.StringAttr(c.nearest)
		}
		if c.exclude {
			attrs["exclude_outside"] = graph.IntAttr(1)
		}
		if c.antialias {
			attrs["antialias"] = graph.IntAttr(1)
		}
		in := []*tensor.Tensor{x, roiT, nil, nil}
		out := make([]int, 3)
		scales := make([]float64, 3)
		if c.scales != nil {
			in[2] = tensor.FromSlice([]int{3}, c.scales)
			for d := range out {
				scales[d] = float64(c.scales[d])
				out[d] = int(math.Floor(float64(shape[d]) * scales[d]))
			}
		} else {
			in[3] = mvtI64(c.sizes...)
			for d := range out {
				out[d] = int(c.sizes[d])
				scales[d] = float64(out[d]) / float64(shape[d])
			}
		}
		roi := [][2]float64{{0, 1}, {0, 1}, {0, 1}}
		if c.coord == "tf_crop_and_resize" {
			roi = [][2]float64{{0, 1}, {0.2, 0.9}, {-0.1, 1.3}}
		}
		got, err := mvtRun("Resize", attrs, 1, in...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := c.run(data, shape, out, scales, roi)
		if !tensor.SameShape(got[0].Shape(), out) {
			t.Fatalf("%s: shape %v, want %v", name, got[0].Shape(), out)
		}
		for i, w := range want {
			if g := got[0].Float64At(i); math.Abs(g-w) > 1e-9*(1+math.Abs(w)) {
				t.Fatalf("%s: element %d = %v, want %v", name, i, g, w)
			}
		}
	}
}

func TestResizeExamples(t *testing.T) {
	x := mvtF32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	// Upsample semantics: asymmetric coordinates, floor.
	up, err := mvtRun("Upsample", mvtAttrs{"scales": graph.FloatsAttr(1, 1, 2, 3)}, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, up[0], []int{1, 1, 4, 6}, []float32{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4})
	up, err = mvtRun("Upsample", mvtAttrs{"mode": graph.StringAttr("linear")}, 1, x, mvtF32([]int{4}, 1, 1, 2, 2))
	if err != nil {
		t.Fatal(err)
	}
	mvtClose(t, up[0], []int{1, 1, 4, 4}, []float32{1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4}, 1e-6)
	// ONNX's test_resize_upsample_scales_linear.
	lin := mvtOne(t, "Resize", mvtAttrs{"mode": graph.StringAttr("linear")}, x, nil, mvtF32([]int{4}, 1, 1, 2, 2))
	mvtClose(t, lin, []int{1, 1, 4, 4}, []float32{1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}, 1e-6)
	// Integers round to nearest: 0 and 255 with align_corners.
	u8 := tensor.FromSlice([]int{2}, []uint8{0, 255})
	ac := mvtAttrs{"mode": graph.StringAttr("linear"), "coordinate_transformation_mode": graph.StringAttr("align_corners")}
	mvtCheck(t, mvtOne(t, "Resize", ac, u8, nil, nil, mvtI64(4)), []int{4}, []uint8{0, 85, 170, 255})
	// float16 data goes through float32.
	h := tensor.FromSlice([]int{2}, []tensor.F16{tensor.NewF16(0), tensor.NewF16(1)})
	mvtCheck(t, mvtOne(t, "Resize", ac, h, nil, nil, mvtI64(3)), []int{3}, []tensor.F16{tensor.NewF16(0), tensor.NewF16(0.5), tensor.NewF16(1)})
	// Nearest with string-free dtypes: int64 and bool are moved bit-exactly.
	i := tensor.FromSlice([]int{2}, []int64{math.MaxInt64, -3})
	mvtCheck(t, mvtOne(t, "Resize", nil, i, nil, mvtF32([]int{1}, 2)), []int{4}, []int64{math.MaxInt64, math.MaxInt64, -3, -3})
}

func TestResizeAxesAndAspect(t *testing.T) {
	x := mvtIota(1, 1, 4, 4)
	axes := mvtAttrs{"axes": graph.IntsAttr(3, -2), "keep_aspect_ratio_policy": graph.StringAttr("not_larger")}
	got := mvtOne(t, "Resize", axes, x, nil, nil, mvtI64(2, 3))
	mvtCheck(t, got, []int{1, 1, 2, 2}, []float32{0, 2, 8, 10})
	axes["keep_aspect_ratio_policy"] = graph.StringAttr("not_smaller")
	got = mvtOne(t, "Resize", axes, x, nil, nil, mvtI64(2, 3))
	if !tensor.SameShape(got.Shape(), []int{1, 1, 3, 3}) {
		t.Fatalf("not_smaller: %v", got.Shape())
	}
	got = mvtOne(t, "Resize", mvtAttrs{"axes": graph.IntsAttr(2)}, x, nil, mvtF32([]int{1}, 0.5))
	mvtCheck(t, got, []int{1, 1, 2, 4}, []float32{0, 1, 2, 3, 8, 9, 10, 11})
}

func TestResizeErrors(t *testing.T) {
	x := mvtIota(2, 2)
	sc := mvtF32([]int{2}, 2, 2)
	mvtErr(t, "both scales and sizes", "Resize", nil, 1, x, nil, sc, mvtI64(4, 4))
	mvtErr(t, "needs scales or sizes", "Resize", nil, 1, x)
	mvtErr(t, "invalid scale", "Resize", nil, 1, x, nil, mvtF32([]int{2}, 0, 1))
	mvtErr(t, "scales", "Resize", nil, 1, x, nil, mvtF32([]int{1}, 2))
	mvtErr(t, "3 sizes", "Resize", nil, 1, x, nil, nil, mvtI64(1, 2, 3))
	mvtErr(t, "roi", "Resize", mvtAttrs{"coordinate_transformation_mode": graph.StringAttr("tf_crop_and_resize")}, 1,
		x, mvtF32([]int{1}, 0), sc)
	mvtErr(t, "unknown mode", "Resize", mvtAttrs{"mode": graph.StringAttr("area")}, 1, x, nil, sc)
	mvtErr(t, "unknown nearest_mode", "Resize", mvtAttrs{"nearest_mode": graph.StringAttr("up")}, 1, x, nil, sc)
	mvtErr(t, "unsupported dtype", "Resize", nil, 1, tensor.FromSlice([]int{1}, []string{"a"}), nil, mvtF32([]int{1}, 2))
	mvtErr(t, "unknown mode", "Upsample", mvtAttrs{"mode": graph.StringAttr("cubic")}, 1, x, sc)
}

func TestInferResize(t *testing.T) {
	x := mvtVal(tensor.Float32, 1, 3, 5, -1)
	scales := &graph.Value{Const: mvtF32([]int{4}, 1, 1, 2.5, 2)}
	n, err := mvtInfer(t, "Resize", nil, 1, x, nil, scales)
	mvtWantShape(t, n, err, 0, tensor.Float32, "[1 3 12 ?]")
	n, err = mvtInfer(t, "Resize", mvtAttrs{"axes": graph.IntsAttr(2, 3)}, 1, x, nil, nil, mvtConst(7, 8))
	mvtWantShape(t, n, err, 0, tensor.Float32, "[1 3 7 8]")
	n, err = mvtInfer(t, "Upsample", mvtAttrs{"scales": graph.FloatsAttr(1, 2, 2, 1)}, 1, mvtVal(tensor.Float32, 1, 3, 5, 4))
	mvtWantShape(t, n, err, 0, tensor.Float32, "[1 6 10 4]")
	n, err = mvtInfer(t, "Resize", mvtAttrs{"axes": graph.IntsAttr(2, 3), "keep_aspect_ratio_policy": graph.StringAttr("not_larger")},
		1, mvtVal(tensor.Float32, 1, 1, 4, 4), nil, nil, mvtConst(2, 3))
	mvtWantShape(t, n, err, 0, tensor.Float32, "[1 1 2 2]")
}
