package cpu

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func nntSeq(shape ...int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(i + 1)
	}
	return t
}

func TestMaxPoolIndices(t *testing.T) {
	x := nntSeq(1, 1, 4, 4)
	for _, c := range []struct {
		order int64
		want  []int64
	}{{0, []int64{5, 7, 13, 15}}, {1, []int64{5, 13, 7, 15}}} {
		attrs := map[string]*graph.Attr{"kernel_shape": nntInts(2, 2), "strides": nntInts(2, 2), "storage_order": graph.IntAttr(c.order)}
		op, err := nntOp(t, "MaxPool", attrs, 13, 2)
		if err != nil {
			t.Fatal(err)
		}
		out, err := op.Run(runtime.NewContext(2), []*tensor.Tensor{x})
		if err != nil {
			t.Fatal(err)
		}
		nntClose(t, out[0], []int{1, 1, 2, 2}, []float64{6, 8, 14, 16}, 0)
		for i, w := range c.want {
			if out[1].I64()[i] != w {
				t.Fatalf("storage_order %d: indices %v, want %v", c.order, out[1].I64(), c.want)
			}
		}
	}
	// A second plane offsets the indices by its size.
	x2 := nntSeq(1, 2, 2, 2)
	op, _ := nntOp(t, "MaxPool", map[string]*graph.Attr{"kernel_shape": nntInts(2, 2)}, 13, 2)
	out, err := op.Run(runtime.NewContext(1), []*tensor.Tensor{x2})
	if err != nil || out[1].I64()[0] != 3 || out[1].I64()[1] != 7 {
		t.Fatalf("indices over planes: %v %v", out, err)
	}
}

func TestMaxPoolPaddingNeverWins(t *testing.T) {
	x := nntF32([]int{1, 1, 3, 3}, -1, -2, -3, -4, -5, -6, -7, -8, -9)
	got := nntMust(t, "MaxPool", map[string]*graph.Attr{"kernel_shape": nntInts(3, 3), "strides": nntInts(2, 2), "pads": nntInts(1, 1, 1, 1)}, x)
	nntClose(t, got, []int{1, 1, 2, 2}, []float64{-1, -2, -4, -5}, 0)
}

func TestPoolCeilModeAndDilations(t *testing.T) {
	x := nntSeq(1, 1, 5)
	ceil := map[string]*graph.Attr{"kernel_shape": nntInts(2), "strides": nntInts(2), "ceil_mode": graph.IntAttr(1)}
	nntClose(t, nntMust(t, "MaxPool", ceil, x), []int{1, 1, 3}, []float64{2, 4, 5}, 0)
	// The last window would start in the end padding: dropped.
	ceil["pads"] = nntInts(0, 1)
	nntClose(t, nntMust(t, "MaxPool", ceil, nntSeq(1, 1, 4)), []int{1, 1, 2}, []float64{2, 4}, 0)
	dil := map[string]*graph.Attr{"kernel_shape": nntInts(2), "dilations": nntInts(2)}
	nntClose(t, nntMust(t, "MaxPool", dil, nntF32([]int{1, 1, 5}, 1, 5, 2, 4, 3)), []int{1, 1, 3}, []float64{2, 5, 3}, 0)
	nntClose(t, nntMust(t, "AveragePool", dil, nntF32([]int{1, 1, 5}, 1, 5, 2, 4, 3)), []int{1, 1, 3}, []float64{1.5, 4.5, 2.5}, 0)
}

func TestAveragePoolCountIncludePad(t *testing.T) {
	x := nntSeq(1, 1, 3, 3)
	attrs := map[string]*graph.Attr{"kernel_shape": nntInts(3, 3), "pads": nntInts(1, 1, 1, 1)}
	nntClose(t, nntMust(t, "AveragePool", attrs, x), []int{1, 1, 3, 3},
		[]float64{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}, 1e-6)
	attrs["count_include_pad"] = graph.IntAttr(1)
	nntClose(t, nntMust(t, "AveragePool", attrs, x), []int{1, 1, 3, 3},
		[]float64{12.0 / 9, 21.0 / 9, 16.0 / 9, 27.0 / 9, 5, 33.0 / 9, 24.0 / 9, 39.0 / 9, 28.0 / 9}, 1e-6)
	// Cells that only ceil_mode adds are not counted.
	ceil := map[string]*graph.Attr{"kernel_shape": nntInts(2), "strides": nntInts(2), "ceil_mode": graph.IntAttr(1), "count_include_pad": graph.IntAttr(1)}
	nntClose(t, nntMust(t, "AveragePool", ceil, nntSeq(1, 1, 5)), []int{1, 1, 3}, []float64{1.5, 3.5, 5}, 0)
	// SAME_UPPER: out = ceil(5/2) = 3, total padding 2+2-5... = 0 beyond the last cell: [1,2] [3,4] [5,pad]
	same := map[string]*graph.Attr{"kernel_shape": nntInts(2), "strides": nntInts(2), "auto_pad": graph.StringAttr("SAME_UPPER")}
	nntClose(t, nntMust(t, "AveragePool", same, nntSeq(1, 1, 5)), []int{1, 1, 3}, []float64{1.5, 3.5, 5}, 0)
	same["auto_pad"] = graph.StringAttr("SAME_LOWER") // [pad,1] [2,3] [4,5]
	nntClose(t, nntMust(t, "AveragePool", same, nntSeq(1, 1, 5)), []int{1, 1, 3}, []float64{1, 2.5, 4.5}, 0)
}

func TestLpPool(t *testing.T) {
	x := nntF32([]int{1, 1, 2, 2}, 3, -4, 0, 12)
	nntClose(t, nntMust(t, "LpPool", map[string]*graph.Attr{"kernel_shape": nntInts(1, 2)}, x), []int{1, 1, 2, 1}, []float64{5, 12}, 1e-6)
	nntClose(t, nntMust(t, "LpPool", map[string]*graph.Attr{"kernel_shape": nntInts(2, 1), "p": graph.IntAttr(1)}, x), []int{1, 1, 1, 2}, []float64{3, 16}, 1e-6)
	nntClose(t, nntMust(t, "GlobalLpPool", nil, x), []int{1, 1, 1, 1}, []float64{13}, 1e-6)
	nntClose(t, nntMust(t, "GlobalLpPool", map[string]*graph.Attr{"p": graph.IntAttr(1)}, x), []int{1, 1, 1, 1}, []float64{19}, 1e-6)
}

func TestGlobalPools(t *testing.T) {
	x := nntSeq(2, 2, 1, 3)
	nntClose(t, nntMust(t, "GlobalAveragePool", nil, x), []int{2, 2, 1, 1}, []float64{2, 5, 8, 11}, 0)
	nntClose(t, nntMust(t, "GlobalMaxPool", nil, x), []int{2, 2, 1, 1}, []float64{3, 6, 9, 12}, 0)
	x64 := tensor.FromSlice([]int{1, 1, 2}, []float64{-1, -3})
	nntClose(t, nntMust(t, "GlobalMaxPool", nil, x64), []int{1, 1, 1}, []float64{-1}, 0)
	nntClose(t, nntMust(t, "GlobalAveragePool", nil, nntSeq(1, 3)), []int{1, 3}, []float64{1, 2, 3}, 0)
}

func TestPoolDTypes(t *testing.T) {
	k := map[string]*graph.Attr{"kernel_shape": nntInts(2)}
	i8 := nntMust(t, "MaxPool", k, tensor.FromSlice([]int{1, 1, 3}, []int8{-128, -100, 5}))
	if d := tensor.Data[int8](i8); d[0] != -100 || d[1] != 5 {
		t.Fatalf("int8 MaxPool = %v", d)
	}
	u8 := nntMust(t, "MaxPool", k, tensor.FromSlice([]int{1, 1, 3}, []uint8{0, 255, 7}))
	if d := tensor.Data[uint8](u8); d[0] != 255 || d[1] != 255 {
		t.Fatalf("uint8 MaxPool = %v", d)
	}
	h := tensor.FromSlice([]int{1, 1, 2}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(2)})
	got := nntMust(t, "AveragePool", k, h)
	if got.DType() != tensor.Float16 || got.Float64At(0) != 1.5 {
		t.Fatalf("float16 AveragePool = %v %v", got, got.Float64At(0))
	}
	d := nntMust(t, "MaxPool", k, tensor.FromSlice([]int{1, 1, 2}, []float64{math.Inf(-1), math.Inf(-1)}))
	if !math.IsInf(d.Float64At(0), -1) {
		t.Fatalf("max of -Inf = %v", d.Float64At(0))
	}
}

func TestPoolErrors(t *testing.T) {
	x := nntSeq(1, 1, 4, 4)
	k := map[string]*graph.Attr{"kernel_shape": nntInts(2, 2)}
	nntFails(t, "MaxPool", nil, x)                                                   // no kernel_shape
	nntFails(t, "MaxPool", map[string]*graph.Attr{"kernel_shape": nntInts(2)}, x)    // rank
	nntFails(t, "MaxPool", map[string]*graph.Attr{"kernel_shape": nntInts(5, 5)}, x) // too big
	nntFails(t, "AveragePool", map[string]*graph.Attr{"kernel_shape": nntInts(2, 2), "strides": nntInts(1, 0)}, x)
	nntFails(t, "MaxPool", k, nntSeq(4, 4))                                                        // no spatial dims
	nntFails(t, "AveragePool", k, tensor.FromSlice([]int{1, 1, 2, 2}, []int8{1, 2, 3, 4}))         // int8 average
	nntFails(t, "MaxPool", k, tensor.FromSlice([]int{1, 1, 2, 2}, []bool{true, true, true, true})) // bool
	nntFails(t, "LpPool", map[string]*graph.Attr{"kernel_shape": nntInts(2, 2), "p": graph.IntAttr(0)}, x)
	nntFails(t, "GlobalLpPool", map[string]*graph.Attr{"p": graph.IntAttr(-1)}, x)
	nntFails(t, "GlobalAveragePool", nil, nntSeq(3))
	nntFails(t, "GlobalMaxPool", nil, tensor.FromSlice([]int{1, 1}, []int32{1}))
	nntFails(t, "MaxPool", k)
}

// TestMaxPoolIntSeparable compares the separable int8/uint8 MaxPool (one
// output; the C kernel from the avx2 level, Go below) with the general
// path (taken when the Indices output is asked for) at every level, on
// 1-D and 2-D pools with pads, strides, dilations and ceil_mode, including
// windows that hold only padding.
func TestMaxPoolIntSeparable(t *testing.T) {
	withParallelism(t)
	forEachLevel(t, testMaxPoolIntSeparable)
}

func testMaxPoolIntSeparable(t *testing.T, _ CPULevel) {
	rng := rand.New(rand.NewPCG(41, 42))
	type pc struct {
		x             []int
		k, s, d, pads []int64
		ceil          int64
	}
	cases := []pc{
		{x: []int{2, 6, 24, 24}, k: []int64{2, 2}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
		{x: []int{1, 3, 13, 17}, k: []int64{3, 2}, s: []int64{2, 3}, d: []int64{2, 1}, pads: []int64{1, 0, 2, 1}, ceil: 1},
		{x: []int{1, 2, 5, 5}, k: []int64{3, 3}, s: []int64{1, 1}, d: []int64{1, 1}, pads: []int64{2, 2, 2, 2}},
		{x: []int{3, 4, 11}, k: []int64{4}, s: []int64{3}, d: []int64{1}, pads: []int64{1, 3}, ceil: 1},
		{x: []int{1, 1, 1, 9}, k: []int64{1, 3}, s: []int64{1, 1}, d: []int64{1, 2}, pads: []int64{0, 0, 0, 0}},
		// 2x2 stride 2 (the AVX-512 pairs kernel): rows wider than one
		// 64-byte load, odd sizes (last row and column dropped), and with
		// ceil_mode a partial last window, which the pairs kernel must refuse
		{x: []int{2, 3, 6, 150}, k: []int64{2, 2}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
		{x: []int{1, 5, 9, 11}, k: []int64{2, 2}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
		{x: []int{1, 5, 9, 11}, k: []int64{2, 2}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}, ceil: 1},
		// sliding maxima for the windows inside a row: ResNet's 3x3 stride 2
		// pad 1 stem pool, a kernel wider than the row, and one as wide
		{x: []int{1, 3, 112, 112}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 1}},
		// 3x3 stride 2 (the AVX-512 three-by-two kernel): SqueezeNet's
		// (no padding, ceil_mode: the last window partial), odd and even
		// widths across one and two 64-byte loads and 32-output stores,
		// padding on one side only, and padding of 2, which it refuses
		{x: []int{1, 4, 111, 111}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}, ceil: 1},
		{x: []int{2, 3, 13, 130}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 1, 0, 1}},
		{x: []int{1, 2, 9, 65}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 0, 1, 1}, ceil: 1},
		{x: []int{1, 2, 4, 3}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 1, 0, 0}},
		{x: []int{1, 2, 9, 9}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{2, 2, 2, 2}},
		// wider kernels at stride 2, whose fourth and fifth taps the
		// three-by-two kernel would miss: it must refuse them
		{x: []int{1, 2, 9, 9}, k: []int64{4, 4}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
		{x: []int{1, 2, 11, 12}, k: []int64{5, 5}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 2, 10, 10}, k: []int64{3, 4}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 2, 7, 4}, k: []int64{3, 5}, s: []int64{1, 2}, d: []int64{1, 1}, pads: []int64{1, 2, 1, 2}},
		{x: []int{2, 2, 6, 5}, k: []int64{2, 5}, s: []int64{1, 1}, d: []int64{1, 1}, pads: []int64{0, 1, 1, 1}, ceil: 1},
	}
	for i, c := range cases {
		attrs := map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(c.k...), "strides": graph.IntsAttr(c.s...),
			"dilations": graph.IntsAttr(c.d...), "pads": graph.IntsAttr(c.pads...), "ceil_mode": graph.IntAttr(c.ceil)}
		n := tensor.Product(c.x)
		u8 := make([]uint8, n)
		i8 := make([]int8, n)
		for j := range u8 {
			u8[j] = uint8(rng.IntN(256))
			i8[j] = int8(rng.IntN(256) - 128)
		}
		for _, x := range []*tensor.Tensor{tensor.FromSlice(c.x, u8), tensor.FromSlice(c.x, i8)} {
			for _, threads := range []int{1, 2} {
				fast, err := nntOp(t, "MaxPool", attrs, 21, 1)
				if err != nil {
					t.Fatal(err)
				}
				general, err := nntOp(t, "MaxPool", attrs, 21, 2)
				if err != nil {
					t.Fatal(err)
				}
				got, err := fast.Run(runtime.NewContext(threads), []*tensor.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				want, err := general.Run(runtime.NewContext(threads), []*tensor.Tensor{x})
				if err != nil {
					t.Fatal(err)
				}
				if !tensor.SameShape(got[0].Shape(), want[0].Shape()) || !bytes.Equal(got[0].RawBytes(), want[0].RawBytes()) {
					t.Fatalf("case %d %v, %d threads: separable %v differs from the general path %v", i, x.DType(), threads,
						got[0], want[0])
				}
			}
		}
	}
}

// TestAveragePoolDepthOne: a 3-D AveragePool over a depth-1 input
// ([N, C, 1, H, W], kernel [1, kh, kw]) takes the 2-D kernels and divides
// by the window's cells, with 1 and 16 planes (the latter through the
// blocked kernel at AVX2 and AVX-512); with count_include_pad and a padded depth
// tap the divisor counts that tap too (the generic path).
func TestAveragePoolDepthOne(t *testing.T) {
	for _, l := range SupportedCPULevels() {
		prev, _ := SetCPULevel(l)
		for _, planes := range []int{1, 16} {
			x := tensor.MustNew(tensor.Float32, 1, planes, 1, 4, 4)
			for i := range x.F32() {
				x.F32()[i] = 1
			}
			for _, c := range []struct {
				attrs map[string]*graph.Attr
				want  float32
			}{
				{map[string]*graph.Attr{"kernel_shape": nntInts(1, 2, 2), "strides": nntInts(1, 2, 2)}, 1},
				{map[string]*graph.Attr{"kernel_shape": nntInts(2, 2, 2), "strides": nntInts(1, 2, 2),
					"pads": nntInts(0, 0, 0, 1, 0, 0), "count_include_pad": graph.IntAttr(1)}, 0.5},
			} {
				got := nntMust(t, "AveragePool", c.attrs, x)
				for i, v := range got.F32() {
					if v != c.want {
						t.Fatalf("%v, %d planes, %v: output %d = %v, want %v", l, planes, c.attrs["kernel_shape"], i, v, c.want)
					}
				}
			}
		}
		SetCPULevel(prev)
	}
}
