package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// nntIntsOf returns the elements of an integer tensor as int64.
func nntIntsOf(t *tensor.Tensor) []int64 {
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = int64(t.Float64At(i))
	}
	return out
}

func nntSameInts(t *testing.T, got *tensor.Tensor, dt tensor.DType, shape []int, want ...int64) {
	t.Helper()
	if got.DType() != dt || !tensor.SameShape(got.Shape(), shape) {
		t.Fatalf("got %v, want %v%v", got, dt, shape)
	}
	g := nntIntsOf(got)
	for i := range want {
		if g[i] != want[i] {
			t.Fatalf("got %v, want %v", g, want)
		}
	}
}

func TestQuantizeLinearRounding(t *testing.T) {
	x := nntF32([]int{7}, -1.5, -0.5, 0.5, 1.5, 2.5, 300, -300)
	one := tensor.Scalar[float32](1)
	got := nntMust(t, "QuantizeLinear", nil, x, one, tensor.Scalar[uint8](128))
	nntSameInts(t, got, tensor.Uint8, []int{7}, 126, 128, 128, 130, 130, 255, 0)
	got = nntMust(t, "QuantizeLinear", nil, x, one, tensor.Scalar[int8](0))
	nntSameInts(t, got, tensor.Int8, []int{7}, -2, 0, 0, 2, 2, 127, -128)
	got = nntMust(t, "QuantizeLinear", nil, x, one) // default uint8, zero point 0
	nntSameInts(t, got, tensor.Uint8, []int{7}, 0, 0, 0, 2, 2, 255, 0)
	got = nntMust(t, "QuantizeLinear", map[string]*graph.Attr{"output_dtype": graph.IntAttr(int64(tensor.Int16))}, x, one)
	nntSameInts(t, got, tensor.Int16, []int{7}, -2, 0, 0, 2, 2, 300, -300)
	// Rounding happens before the zero point is added: round(0.5)+1 = 1.
	got = nntMust(t, "QuantizeLinear", nil, nntF32([]int{1}, 0.5), one, tensor.Scalar[uint8](1))
	nntSameInts(t, got, tensor.Uint8, []int{1}, 1)
	got = nntMust(t, "QuantizeLinear", nil, tensor.FromSlice([]int{2}, []int32{7, -9}), tensor.Scalar[float32](2), tensor.Scalar[int8](0))
	nntSameInts(t, got, tensor.Int8, []int{2}, 4, -4)
}

func TestQuantizeLinearLayouts(t *testing.T) {
	x := nntF32([]int{2, 2}, 1, 2, 3, 4)
	s := nntF32([]int{2}, 1, 2)
	got := nntMust(t, "QuantizeLinear", nil, x, s) // per axis 1
	nntSameInts(t, got, tensor.Uint8, []int{2, 2}, 1, 1, 3, 2)
	got = nntMust(t, "QuantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(-2)}, x, s, tensor.FromSlice([]int{2}, []uint8{10, 20}))
	nntSameInts(t, got, tensor.Uint8, []int{2, 2}, 11, 12, 22, 22)
	xb := nntF32([]int{1, 5}, 1, 2, 3, 4, 10)
	sb := nntF32([]int{1, 3}, 1, 2, 5)
	got = nntMust(t, "QuantizeLinear", map[string]*graph.Attr{"block_size": graph.IntAttr(2)}, xb, sb)
	nntSameInts(t, got, tensor.Uint8, []int{1, 5}, 1, 2, 2, 2, 2)
}

func TestQuantizeLinearErrors(t *testing.T) {
	x := nntF32([]int{2, 2}, 1, 2, 3, 4)
	nntFails(t, "QuantizeLinear", nil, x, nntF32([]int{3}, 1, 1, 1))
	nntFails(t, "QuantizeLinear", nil, x, nntF32([]int{2}, 1, 1), tensor.FromSlice([]int{1}, []uint8{0}))
	nntFails(t, "QuantizeLinear", map[string]*graph.Attr{"output_dtype": graph.IntAttr(int64(tensor.Float32))}, x, tensor.Scalar[float32](1))
	nntFails(t, "QuantizeLinear", map[string]*graph.Attr{"output_dtype": graph.IntAttr(int64(tensor.Int8))}, x, tensor.Scalar[float32](1), tensor.Scalar[uint8](0))
	nntFails(t, "QuantizeLinear", nil, tensor.FromSlice([]int{1}, []int8{1}), tensor.Scalar[float32](1))
	nntFails(t, "QuantizeLinear", nil, x, tensor.Scalar[int32](1))
	nntFails(t, "QuantizeLinear", map[string]*graph.Attr{"block_size": graph.IntAttr(2)}, x, nntF32([]int{2, 2}, 1, 1, 1, 1))
	nntFails(t, "QuantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(2)}, x, nntF32([]int{2}, 1, 1))
	nntFails(t, "QuantizeLinear", nil, x)
}

func TestDequantizeLinear(t *testing.T) {
	x := tensor.FromSlice([]int{3}, []uint8{0, 128, 255})
	got := nntMust(t, "DequantizeLinear", nil, x, tensor.Scalar[float32](0.5), tensor.Scalar[uint8](128))
	nntClose(t, got, []int{3}, []float64{-64, 0, 63.5}, 0)
	xi := tensor.FromSlice([]int{2, 2}, []int8{-1, 2, -3, 4})
	got = nntMust(t, "DequantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(0)}, xi, nntF32([]int{2}, 1, 10), tensor.FromSlice([]int{2}, []int8{0, 1}))
	nntClose(t, got, []int{2, 2}, []float64{-1, 2, -40, 30}, 0)
	x32 := tensor.FromSlice([]int{2}, []int32{-1000, 7})
	nntClose(t, nntMust(t, "DequantizeLinear", nil, x32, tensor.Scalar[float32](0.5)), []int{2}, []float64{-500, 3.5}, 0)
	xb := tensor.FromSlice([]int{3, 1}, []int16{1, 2, 3})
	got = nntMust(t, "DequantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(0), "block_size": graph.IntAttr(2)}, xb, nntF32([]int{2, 1}, 2, 3))
	nntClose(t, got, []int{3, 1}, []float64{2, 4, 9}, 0)
	h := tensor.FromSlice([]int{}, []tensor.F16{tensor.NewF16(0.25)})
	got = nntMust(t, "DequantizeLinear", nil, tensor.Scalar[uint8](6), h)
	if got.DType() != tensor.Float16 || got.Float64At(0) != 1.5 {
		t.Fatalf("float16 scale: %v %v", got, got.Float64At(0))
	}
	// one scale on many int8 values (the per-tensor path, split over
	// threads): (x - zp) * scale in float32, every value
	vals := make([]int8, 70000)
	want := make([]float64, len(vals))
	for i := range vals {
		vals[i] = int8(i*37 + i/256)
		want[i] = float64((float32(vals[i]) - 3) * 0.0123)
	}
	xs := tensor.FromSlice([]int{7, 10000}, vals)
	forEachLevel(t, func(t *testing.T, _ CPULevel) {
		for _, threads := range []int{1, 2} {
			op := qOp(t, "DequantizeLinear", nil, []*tensor.Tensor{xs, tensor.Scalar[float32](0.0123), tensor.Scalar[int8](3)}, -1)
			out, err := op.Run(runtime.NewContext(threads), []*tensor.Tensor{xs, tensor.Scalar[float32](0.0123), tensor.Scalar[int8](3)})
			if err != nil {
				t.Fatal(err)
			}
			nntClose(t, out[0], []int{7, 10000}, want, 0)
		}
	})
	nntFails(t, "DequantizeLinear", nil, x, tensor.Scalar[float32](1), tensor.Scalar[int8](0))
	nntFails(t, "DequantizeLinear", nil, nntF32([]int{1}, 1), tensor.Scalar[float32](1))
	nntFails(t, "DequantizeLinear", nil, x, tensor.Scalar[float64](1))
	nntFails(t, "DequantizeLinear", map[string]*graph.Attr{"output_dtype": graph.IntAttr(int64(tensor.Int8))}, x, tensor.Scalar[float32](1))
}

func TestDynamicQuantizeLinear(t *testing.T) {
	run := func(x *tensor.Tensor) []*tensor.Tensor {
		op, err := nntOp(t, "DynamicQuantizeLinear", nil, 13, 3)
		if err != nil {
			t.Fatal(err)
		}
		out, err := op.Run(runtime.NewContext(1), []*tensor.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := run(nntF32([]int{3}, -51, 204, 0))
	nntSameInts(t, out[0], tensor.Uint8, []int{3}, 0, 255, 51)
	nntClose(t, out[1], []int{}, []float64{1}, 0)
	nntSameInts(t, out[2], tensor.Uint8, []int{}, 51)
	out = run(nntF32([]int{2}, 0, 0)) // empty range: scale 1
	nntSameInts(t, out[0], tensor.Uint8, []int{2}, 0, 0)
	nntClose(t, out[1], []int{}, []float64{1}, 0)
	out = run(nntF32([]int{2}, 1, 10.2)) // range [0, 10.2]: zero point 0, scale 0.04
	nntSameInts(t, out[0], tensor.Uint8, []int{2}, 25, 255)
	nntSameInts(t, out[2], tensor.Uint8, []int{}, 0)
	nntFails(t, "DynamicQuantizeLinear", nil, tensor.FromSlice([]int{1}, []float64{1}))
}

func TestMatMulInteger(t *testing.T) {
	a := tensor.FromSlice([]int{4, 3}, []uint8{11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0})
	b := tensor.FromSlice([]int{3, 2}, []uint8{1, 4, 2, 5, 3, 6})
	got := nntMust(t, "MatMulInteger", nil, a, b, tensor.Scalar[uint8](12), tensor.Scalar[uint8](0))
	nntSameInts(t, got, tensor.Int32, []int{4, 2}, -38, -83, -44, -98, -50, -113, -56, -128)
	perRow := tensor.FromSlice([]int{4}, []uint8{12, 12, 12, 12})
	perCol := tensor.FromSlice([]int{2}, []uint8{1, 4})
	got = nntMust(t, "MatMulInteger", nil, a, b, perRow, perCol)
	nntSameInts(t, got, tensor.Int32, []int{4, 2}, -23, -23, -26, -26, -29, -29, -32, -32)
	// Without zero points, and with int8 batched operands.
	ai := tensor.FromSlice([]int{2, 1, 2}, []int8{-128, 127, 1, 1})
	bi := tensor.FromSlice([]int{2, 1}, []int8{-128, -128})
	got = nntMust(t, "MatMulInteger", nil, ai, bi)
	nntSameInts(t, got, tensor.Int32, []int{2, 1, 1}, 128, -256)
	nntFails(t, "MatMulInteger", nil, a, b, tensor.Scalar[int8](12))
	nntFails(t, "MatMulInteger", nil, a, b, tensor.FromSlice([]int{3}, []uint8{1, 2, 3}))
	nntFails(t, "MatMulInteger", nil, nntF32([]int{1, 1}, 1), nntF32([]int{1, 1}, 1))
	nntFails(t, "MatMulInteger", nil, a, a)
}

func TestQLinearMatMul(t *testing.T) {
	a := tensor.FromSlice([]int{2, 4}, []uint8{208, 236, 0, 238, 3, 214, 255, 29})
	b := tensor.FromSlice([]int{4, 3}, []uint8{152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247})
	in := []*tensor.Tensor{a, tensor.Scalar[float32](0.0066), tensor.Scalar[uint8](113),
		b, tensor.Scalar[float32](0.00705), tensor.Scalar[uint8](114),
		tensor.Scalar[float32](0.0107), tensor.Scalar[uint8](118)}
	for _, threads := range []int{1, 2} {
		out, err := nntRun(t, "QLinearMatMul", nil, threads, in...)
		if err != nil {
			t.Fatal(err)
		}
		nntSameInts(t, out[0], tensor.Uint8, []int{2, 3}, 168, 115, 255, 1, 66, 151)
	}
	// Per-column b_scale: scaling column 0 by 2 doubles its real value.
	in[4] = nntF32([]int{3}, 0.0141, 0.00705, 0.00705)
	got := nntMust(t, "QLinearMatMul", nil, in...)
	if g := nntIntsOf(got); g[1] != 115 || g[0] <= 168 {
		t.Fatalf("per-column scale: %v", g)
	}
	in[4] = nntF32([]int{2}, 1, 1)
	nntFails(t, "QLinearMatMul", nil, in...)
	nntFails(t, "QLinearMatMul", nil, in[:6]...)
}

// TestConvIntegerAndQLinearConv runs ConvInteger and QLinearConv on random
// data and checks them against the direct float reference on the
// zero-point-shifted values.
func TestConvIntegerAndQLinearConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	c := nntConvCase{x: []int{1, 4, 5, 6}, w: []int{6, 2, 3, 3}, strides: []int{1, 2}, dil: []int{1, 1},
		pb: []int{1, 1}, pe: []int{1, 0}, group: 2, wantOut: []int{5, 3}}
	xq := tensor.MustNew(tensor.Uint8, c.x...)
	for i := range tensor.Data[uint8](xq) {
		tensor.Data[uint8](xq)[i] = uint8(rng.IntN(256))
	}
	wq := tensor.MustNew(tensor.Int8, c.w...)
	for i := range tensor.Data[int8](wq) {
		tensor.Data[int8](wq)[i] = int8(rng.IntN(256) - 128)
	}
	xzp, wzp := uint8(100), []int8{0, 1, -2, 3, 0, 5}
	shifted := func(t *tensor.Tensor, zp func(i int) float64) *tensor.Tensor {
		out := make([]float64, t.Len())
		for i := range out {
			out[i] = t.Float64At(i) - zp(i)
		}
		return tensor.FromSlice(t.Shape(), out)
	}
	kSize := 2 * 3 * 3
	xf := shifted(xq, func(int) float64 { return float64(xzp) })
	wf := shifted(wq, func(i int) float64 { return float64(wzp[i/kSize]) })
	// Padding reads as the zero point, i.e. 0 after the shift: the float
	// reference with zero padding is exact.
	acc := nntConvRef(&c, xf, wf, nil)
	wzpT := tensor.FromSlice([]int{6}, wzp)
	got := nntMust(t, "ConvInteger", c.attrs(), xq, wq, tensor.Scalar(xzp), wzpT)
	want := make([]int64, len(acc))
	for i, v := range acc {
		want[i] = int64(v)
	}
	nntSameInts(t, got, tensor.Int32, []int{1, 6, 5, 3}, want...)

	bias := tensor.FromSlice([]int{6}, []int32{100, -200, 0, 5000, -7, 1})
	wScale := nntF32([]int{6}, 0.01, 0.02, 0.03, 0.005, 0.01, 0.02)
	xs, ys, yzp := float32(0.05), float32(0.7), int8(-3)
	op, err := nntOp(t, "QLinearConv", c.attrs(), 13, 1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := op.Run(runtime.NewContext(2), []*tensor.Tensor{xq, tensor.Scalar(xs), tensor.Scalar(xzp), wq, wScale, wzpT,
		tensor.Scalar(ys), tensor.Scalar(yzp), bias})
	if err != nil {
		t.Fatal(err)
	}
	outSize := 5 * 3
	for i, v := range acc {
		m := i / outSize
		mult := float64(xs * wScale.F32()[m] / ys)
		q := math.RoundToEven((v+float64(tensor.Data[int32](bias)[m]))*mult) + float64(yzp)
		want[i] = int64(max(-128, min(127, q)))
	}
	nntSameInts(t, out[0], tensor.Int8, []int{1, 6, 5, 3}, want...)
}

func TestConvIntegerErrors(t *testing.T) {
	x := tensor.FromSlice([]int{1, 1, 2, 2}, []uint8{1, 2, 3, 4})
	w := tensor.FromSlice([]int{1, 1, 1, 1}, []uint8{1})
	nntFails(t, "ConvInteger", nil, x, w, tensor.FromSlice([]int{2}, []uint8{1, 2}))      // x zero point not scalar
	nntFails(t, "ConvInteger", nil, x, w, tensor.Scalar[int8](1))                         // dtype
	nntFails(t, "ConvInteger", nil, x, w, nil, tensor.FromSlice([]int{2}, []uint8{1, 2})) // w zero point length
	nntFails(t, "ConvInteger", nil, nntF32([]int{1, 1, 1}, 1), nntF32([]int{1, 1, 1}, 1))
	nntFails(t, "ConvInteger", map[string]*graph.Attr{"group": graph.IntAttr(0)}, x, w)
	s := tensor.Scalar[float32](1)
	zp := tensor.Scalar[uint8](0)
	nntFails(t, "QLinearConv", nil, x, s, zp, w, s, zp, s, zp, tensor.FromSlice([]int{1}, []float32{1})) // float bias
	nntFails(t, "QLinearConv", nil, x, s, zp, w, nntF32([]int{2}, 1, 1), zp, s, zp)                      // w_scale length
	nntFails(t, "QLinearConv", nil, x, s, zp, w, s, zp, s, tensor.Scalar[int32](0))                      // y zero point dtype
	nntFails(t, "QLinearConv", nil, x, s, zp, w, s, zp)
}

// TestQuantizeF32PerTensorMatchesReference checks the float32 per-tensor
// fast path of QuantizeLinear bit for bit against quantizeTo (float64
// arithmetic) on random values, exact halves, the saturation edges, NaN,
// infinities, signed zeros and subnormals, for uint8 and int8 and several
// scales and zero points, with 1 and 2 threads, at every level (the C
// kernel from avx512).
func TestQuantizeF32PerTensorMatchesReference(t *testing.T) {
	forEachLevel(t, testQuantizeF32PerTensor)
}

func testQuantizeF32PerTensor(t *testing.T, _ CPULevel) {
	rng := rand.New(rand.NewPCG(7, 8))
	scales := []float32{1, 0.5, 0.0123, 3.7e-5, 17.25, 0.1}
	for _, s := range scales {
		var x []float32
		for i := 0; i < 40000; i++ {
			x = append(x, float32(rng.NormFloat64()*100*float64(s)))
		}
		for k := -300; k <= 300; k++ {
			x = append(x, (float32(k)+0.5)*s, float32(k)*s, math.Nextafter32((float32(k)+0.5)*s, 0))
		}
		x = append(x, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
			math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32)
		xs := quantAsFloat64(x)
		q := quantParams{outer: 1, axisLen: 1, inner: len(x)}
		for _, threads := range []int{1, 2} {
			ctx := &runtime.Context{Threads: threads}
			for _, zp := range []int32{0, 3, 128, 255} {
				want, got := make([]uint8, len(x)), make([]uint8, len(x))
				quantizeTo(xs, []float32{s}, []int32{zp}, &q, want, true)
				quantizeF32PerTensor(ctx, x, s, zp, got)
				for i := range x {
					if got[i] != want[i] {
						t.Fatalf("uint8, scale %g, zp %d: x = %g: got %d, want %d", s, zp, x[i], got[i], want[i])
					}
				}
			}
			for _, zp := range []int32{0, -7, 127, -128} {
				want, got := make([]int8, len(x)), make([]int8, len(x))
				quantizeTo(xs, []float32{s}, []int32{zp}, &q, want, true)
				quantizeF32PerTensor(ctx, x, s, zp, got)
				for i := range x {
					if got[i] != want[i] {
						t.Fatalf("int8, scale %g, zp %d: x = %g: got %d, want %d", s, zp, x[i], got[i], want[i])
					}
				}
			}
		}
	}
}
