package kerneltest

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// Elementwise operations (kernel gc_<op>).
const (
	OpQuantize   = "quantize_f32_s8"
	OpDequantize = "dequantize_s8_f32"
	OpSoftmax    = "softmax_f32"
	OpAdd        = "add_f32"
	OpRelu       = "relu_f32"
	OpCastF32F16 = "cast_f32_f16"
	OpCastF16F32 = "cast_f16_f32"
	OpCastF32BF  = "cast_f32_bf16"
	OpCastBF16F  = "cast_bf16_f32"
	OpIm2col     = "im2col_s8"
)

// ElemProblem is one elementwise kernel call: input X (and X2 for add) as
// bytes, N elements (Rows x Cols for softmax), the per-channel parameters of
// quantize/dequantize, the image geometry, row length and padding byte of
// im2col (N = OH·OW·Ld output bytes), and the output buffer Y whose result
// starts at byte YOff (the bytes around it are guard band).
type ElemProblem struct {
	Op         string
	X, X2      []byte
	N          int
	Rows, Cols int
	Scale      []float32
	ZeroPoint  []int32
	Ch         ref.Channels
	Conv       ref.Im2col
	Ld         int
	Pad        byte
	Flip       bool
	Y          []byte
	YOff       int
}

// ElemImpl runs p, leaving the result in p.Y.
type ElemImpl func(p *ElemProblem) error

// elemSizes returns the input and output element sizes of an op.
func elemSizes(op string) (int, int) {
	switch op {
	case OpQuantize:
		return 4, 1
	case OpDequantize:
		return 1, 4
	case OpIm2col:
		return 1, 1
	case OpCastF32F16, OpCastF32BF:
		return 4, 2
	case OpCastF16F32, OpCastBF16F:
		return 2, 4
	}
	return 4, 4
}

// HostElementwise computes p with the references.
func HostElementwise(p *ElemProblem) error {
	_, ob := elemSizes(p.Op)
	y := p.Y[p.YOff : p.YOff+p.N*ob]
	switch p.Op {
	case OpQuantize:
		return ref.QuantizeRef(view[float32](p.X)[:p.N], p.Scale, p.ZeroPoint, p.Ch, view[int8](y))
	case OpDequantize:
		return ref.DequantizeRef(view[int8](p.X)[:p.N], p.Scale, p.ZeroPoint, p.Ch, view[float32](y))
	case OpSoftmax:
		return ref.SoftmaxRef(p.Rows, p.Cols, view[float32](p.X), view[float32](y))
	case OpAdd:
		ref.AddRef(view[float32](p.X)[:p.N], view[float32](p.X2), view[float32](y))
	case OpRelu:
		ref.ReluRef(view[float32](p.X)[:p.N], view[float32](y))
	case OpCastF32F16:
		ref.CastF32ToF16Ref(view[float32](p.X)[:p.N], view[tensor.F16](y))
	case OpCastF16F32:
		ref.CastF16ToF32Ref(view[tensor.F16](p.X)[:p.N], view[float32](y))
	case OpCastF32BF:
		ref.CastF32ToBF16Ref(view[float32](p.X)[:p.N], view[tensor.BF16](y))
	case OpCastBF16F:
		ref.CastBF16ToF32Ref(view[tensor.BF16](p.X)[:p.N], view[float32](y))
	case OpIm2col:
		return ref.Im2colRef(p.Conv, p.X, p.Pad, p.Flip, y, p.Ld)
	default:
		return fmt.Errorf("unknown op %q", p.Op)
	}
	return nil
}

// randF32 draws n float32 values for quantization tests: multiples of
// scale/2 near the int8 range (exact ties), random values, and extremes.
func randF32(r *rand.Rand, n int, spread float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch i % 5 {
		case 0:
			v[i] = float32(float64(r.IntN(600)-300) / 2) // ties after division by a power-of-two scale
		case 1:
			v[i] = float32(r.NormFloat64() * spread)
		case 2:
			v[i] = float32((r.Float64()*2 - 1) * spread * 4)
		case 3:
			v[i] = float32(r.NormFloat64())
		default:
			v[i] = []float32{0, float32(math.Copysign(0, -1)), 1e30, -1e30, 65504, 70000, 1e-8, -1e-40}[r.IntN(8)]
		}
	}
	return v
}

// Elementwise checks the helpers: quantize/dequantize (exact, per tensor and
// per channel, with and without zero points), softmax (relative
// tolerance), add, relu and the casts (exact).
func Elementwise(t Reporter, impl ElemImpl, size Size) []Result {
	t.Helper()
	s := &suite{t: t, name: "elementwise"}
	for _, n := range []int{1, 7, 1000, 65537, 1 << 20} {
		if n > 1<<16+1 && size != Full {
			continue
		}
		r := rng(fmt.Sprint("elementwise ", n))
		for _, ch := range []ref.Channels{{Count: 1, Inner: 1}, {Count: 3, Inner: 5}, {Count: 64, Inner: 1}} {
			scale := make([]float32, ch.Count)
			zp := make([]int32, ch.Count)
			for c := range scale {
				scale[c] = float32(math.Ldexp(1, r.IntN(6)-3)) // powers of two: exact ties survive the division
				if c%2 == 1 {
					scale[c] = float32(0.05 + r.Float64())
				}
				zp[c] = int32(r.IntN(21) - 10)
			}
			for _, withZP := range []bool{false, true} {
				z := zp
				if !withZP {
					z = nil
				}
				x := f32bytes(randF32(r, n, 100))
				s.runElem(&ElemProblem{Op: OpQuantize, X: x, N: n, Scale: scale, ZeroPoint: z, Ch: ch}, impl,
					caseName("quantize", n, ch, "zp", withZP))
				q := make([]byte, n)
				for i := range q {
					q[i] = byte(r.IntN(256))
				}
				s.runElem(&ElemProblem{Op: OpDequantize, X: q, N: n, Scale: scale, ZeroPoint: z, Ch: ch}, impl,
					caseName("dequantize", n, ch, "zp", withZP))
			}
		}
		a, b := randF32(r, n, 10), randF32(r, n, 10)
		for i := range b {
			if math.Abs(float64(b[i])) > 1e20 {
				b[i] = 1 // keep Inf-Inf out of the add test
			}
		}
		s.runElem(&ElemProblem{Op: OpAdd, X: f32bytes(a), X2: f32bytes(b), N: n}, impl, caseName("add", n))
		s.runElem(&ElemProblem{Op: OpRelu, X: f32bytes(a), N: n}, impl, caseName("relu", n))
		s.runElem(&ElemProblem{Op: OpCastF32F16, X: f32bytes(a), N: n}, impl, caseName("cast f32->f16", n))
		s.runElem(&ElemProblem{Op: OpCastF32BF, X: f32bytes(a), N: n}, impl, caseName("cast f32->bf16", n))
		h := make([]byte, 2*n)
		for i := range h {
			h[i] = byte(r.IntN(256))
		}
		s.runElem(&ElemProblem{Op: OpCastF16F32, X: h, N: n}, impl, caseName("cast f16->f32", n))
		s.runElem(&ElemProblem{Op: OpCastBF16F, X: h, N: n}, impl, caseName("cast bf16->f32", n))
	}
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {17, 1000}, {64, 4096}, {2, 10000}, {1000, 33}} {
		r := rng(fmt.Sprint("softmax ", sh))
		x := make([]float32, sh[0]*sh[1])
		for i := range x {
			x[i] = float32(r.NormFloat64() * 4)
			if i/sh[1] == 1 {
				x[i] += 1000 // a row far from zero: needs the max subtraction
			}
		}
		s.runElem(&ElemProblem{Op: OpSoftmax, X: f32bytes(x), N: len(x), Rows: sh[0], Cols: sh[1]}, impl,
			caseName("softmax", fmt.Sprintf("%dx%d", sh[0], sh[1])))
	}
	for _, c := range im2colCases(size) {
		r := rng(fmt.Sprint("im2col ", c.g))
		x := make([]byte, c.g.C*c.g.H*c.g.W)
		for i := range x {
			x[i] = byte(r.IntN(256))
		}
		s.runElem(&ElemProblem{Op: OpIm2col, X: x, N: c.g.OH * c.g.OW * c.ld, Conv: c.g, Ld: c.ld, Pad: c.pad, Flip: c.flip}, impl,
			caseName("im2col", fmt.Sprintf("%dx%dx%d k%dx%d s%d d%d p%d ld%d", c.g.C, c.g.H, c.g.W, c.g.KH, c.g.KW, c.g.SH, c.g.DH, c.g.PH, c.ld), "flip", c.flip))
	}
	return s.results
}

// im2colCase is one image geometry of the im2col suite, its row length
// and padding byte.
type im2colCase struct {
	g    ref.Im2col
	ld   int
	pad  byte
	flip bool
}

// im2colCases: 1x1 (no padding), 3x3 with padding on every side, strided,
// dilated and asymmetric kernels, a patch longer than the GEMMs' 16-byte
// rows (ld past K), the LeNet-5 shapes, one whose height and width differ
// in every parameter, and the ResNet-50 stem (at full size only).
func im2colCases(size Size) []im2colCase {
	conv := func(c, h, w, kh, kw, s, d, p int) ref.Im2col {
		return ref.Im2col{C: c, H: h, W: w, KH: kh, KW: kw, SH: s, SW: s, DH: d, DW: d, PH: p, PW: p,
			OH: (h+2*p-d*(kh-1)-1)/s + 1, OW: (w+2*p-d*(kw-1)-1)/s + 1}
	}
	ld := func(g ref.Im2col) int { return (g.K() + 15) / 16 * 16 }
	cases := []im2colCase{
		{conv(3, 5, 7, 1, 1, 1, 1, 0), 16, 0, false},
		{conv(4, 6, 6, 3, 3, 1, 1, 1), 48, 7, true},
		{conv(2, 9, 8, 3, 3, 2, 1, 1), 32, 128, false},
		{conv(3, 11, 10, 3, 3, 1, 2, 2), 32, 255, true},
		{conv(5, 7, 9, 2, 3, 1, 1, 0), 48, 3, false},
		{conv(1, 28, 28, 5, 5, 1, 1, 2), 32, 0, true},
		{conv(6, 14, 14, 5, 5, 1, 1, 0), 160, 9, false},
		// Every pair of axis parameters different, so a swap shows.
		{ref.Im2col{C: 2, H: 9, W: 13, KH: 3, KW: 2, SH: 2, SW: 1, DH: 1, DW: 3, PH: 2, PW: 0, OH: 6, OW: 10}, 16, 77, true},
	}
	for i := range cases {
		if cases[i].ld < ld(cases[i].g) {
			cases[i].ld = ld(cases[i].g)
		}
	}
	if size == Full {
		cases = append(cases, im2colCase{conv(3, 224, 224, 7, 7, 2, 1, 3), 160, 128, true})
	}
	return cases
}

// runElem runs one elementwise case twice (two poisons) and compares.
func (s *suite) runElem(p *ElemProblem, impl ElemImpl, name string) {
	s.t.Helper()
	_, ob := elemSizes(p.Op)
	want := make([]byte, guardBytes+p.N*ob+guardBytes)
	exp := *p
	exp.Y, exp.YOff = want, guardBytes
	if err := HostElementwise(&exp); err != nil {
		s.record(name, "", fmt.Errorf("reference: %w", err))
		return
	}
	x, x2 := bytes.Clone(p.X), bytes.Clone(p.X2)
	metric := "exact"
	for _, poison := range poisons {
		p.Y = make([]byte, len(want))
		fill(p.Y, poison)
		p.YOff = guardBytes
		if err := impl(p); err != nil {
			s.record(name, "", err)
			return
		}
		if !bytes.Equal(x, p.X) || !bytes.Equal(x2, p.X2) {
			s.record(name, "", fmt.Errorf("the implementation modified its inputs"))
			return
		}
		w := window{off: guardBytes / ob, rows: 1, cols: p.N, ldm: p.N, ldn: 1, elem: ob}
		if err := checkGuard(p.Y, w, poison); err != nil {
			s.record(name, "", fmt.Errorf("poison %#x: %w", poison, err))
			return
		}
		var err error
		if p.Op == OpSoftmax {
			metric, err = compareSoftmax(p.Y[guardBytes:guardBytes+4*p.N], want[guardBytes:guardBytes+4*p.N])
		} else {
			err = elemEqual(p.Op, p.Y, want, w)
		}
		if err != nil {
			s.record(name, metric, fmt.Errorf("poison %#x: %w", poison, err))
			return
		}
	}
	s.record(name, metric, nil)
}

// elemEqual compares the result windows element by element: bit for bit,
// except that two NaNs are equal whatever their payloads (the GPU's
// conversions return a canonical NaN, the references keep the payload; the
// specification of these ops does not fix it).
func elemEqual(op string, got, want []byte, w window) error {
	for e := w.off; e < w.off+w.cols; e++ {
		g, x := got[e*w.elem:(e+1)*w.elem], want[e*w.elem:(e+1)*w.elem]
		if bytes.Equal(g, x) || isNaN(op, g) && isNaN(op, x) {
			continue
		}
		return fmt.Errorf("%s element %d: got % x, want % x", op, e-w.off, g, x)
	}
	return nil
}

// isNaN reports whether an output element of op is a NaN.
func isNaN(op string, b []byte) bool {
	switch {
	case op == OpQuantize:
		return false
	case len(b) == 4:
		return math.IsNaN(float64(view[float32](b)[0]))
	case op == OpCastF32F16:
		return math.IsNaN(float64(view[tensor.F16](b)[0].Float32()))
	case op == OpCastF32BF:
		return math.IsNaN(float64(view[tensor.BF16](b)[0].Float32()))
	}
	return false
}

// compareSoftmax checks |got - want| <= SoftmaxATol + SoftmaxRTol*|want|.
func compareSoftmax(got, want []byte) (string, error) {
	g, x := bytesF32(got), bytesF32(want)
	worst := 0.0
	for i := range x {
		d := math.Abs(float64(g[i]) - float64(x[i]))
		if !(d <= SoftmaxATol+SoftmaxRTol*math.Abs(float64(x[i]))) {
			return "", fmt.Errorf("element %d: got %v, want %v", i, g[i], x[i])
		}
		if x[i] != 0 {
			worst = math.Max(worst, d/math.Abs(float64(x[i])))
		}
	}
	return fmt.Sprintf("max rel=%.2g", worst), nil
}
