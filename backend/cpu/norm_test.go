package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func TestBatchNormInference(t *testing.T) {
	x := nntF32([]int{1, 2, 2}, 1, 2, 3, 4)
	scale, b := nntF32([]int{2}, 1, 2), nntF32([]int{2}, 0, 1)
	mean := tensor.FromSlice([]int{2}, []float64{1, 3}) // parameters may be another float type
	variance := nntF32([]int{2}, 4, 0.25)
	eps0 := map[string]*graph.Attr{"epsilon": graph.FloatAttr(0)}
	nntClose(t, nntMust(t, "BatchNormalization", eps0, x, scale, b, mean, variance), []int{1, 2, 2}, []float64{0, 0.5, 1, 5}, 1e-6)
	x64 := tensor.FromSlice([]int{1, 2, 1, 1}, []float64{3, 3})
	nntClose(t, nntMust(t, "BatchNormalization", eps0, x64, scale, b, mean, variance), []int{1, 2, 1, 1}, []float64{1, 1}, 1e-12)
}

func TestBatchNormTraining(t *testing.T) {
	x := nntF32([]int{2, 1, 2}, 1, 2, 3, 4) // channel 0 holds 1..4: mean 2.5, variance 1.25
	one, zero := nntF32([]int{1}, 1), nntF32([]int{1}, 0)
	attrs := map[string]*graph.Attr{"training_mode": graph.IntAttr(1), "epsilon": graph.FloatAttr(0)}
	op, err := nntOp(t, "BatchNormalization", attrs, 15, 3)
	if err != nil {
		t.Fatal(err)
	}
	out, err := op.Run(runtime.NewContext(1), []*tensor.Tensor{x, one, zero, zero, one})
	if err != nil {
		t.Fatal(err)
	}
	s := math.Sqrt(1.25)
	nntClose(t, out[0], []int{2, 1, 2}, []float64{-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s}, 1e-6)
	nntClose(t, out[1], []int{1}, []float64{0.25}, 1e-6)
	nntClose(t, out[2], []int{1}, []float64{0.9 + 0.125}, 1e-6)
	if outs, err := nntRun(t, "BatchNormalization", attrs, 1, x, one, zero, zero, one); err != nil || len(outs) != 1 {
		t.Fatalf("one-output node: %d outputs, err %v", len(outs), err)
	}
	// float16 data: the statistics keep the parameters' dtype.
	h := func(v ...float32) *tensor.Tensor {
		d := make([]tensor.F16, len(v))
		for i, x := range v {
			d[i] = tensor.NewF16(x)
		}
		return tensor.FromSlice([]int{len(v)}, d)
	}
	xh, _ := h(1, 2, 3, 4).Reshape(2, 1, 2)
	out, err = op.Run(runtime.NewContext(1), []*tensor.Tensor{xh, h(1), h(0), h(0), one})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].DType() != tensor.Float16 || out[1].DType() != tensor.Float16 || out[2].DType() != tensor.Float32 {
		t.Fatalf("dtypes %v %v %v, want float16 float16 float32", out[0].DType(), out[1].DType(), out[2].DType())
	}
	nntClose(t, out[1], []int{1}, []float64{0.25}, 1e-3)
	if _, err := nntOp(t, "BatchNormalization", attrs, 13, 1); err == nil {
		t.Fatal("training_mode at opset 13 must be rejected")
	}
}

func TestBatchNormErrors(t *testing.T) {
	x := nntF32([]int{1, 2, 1}, 1, 2)
	p2, p3 := nntF32([]int{2}, 1, 1), nntF32([]int{3}, 1, 1, 1)
	nntFails(t, "BatchNormalization", nil, x, p2, p2, p2)                          // 4 inputs
	nntFails(t, "BatchNormalization", nil, x, p2, p3, p2, p2)                      // B length
	nntFails(t, "BatchNormalization", nil, nntF32([]int{2}, 1, 2), p2, p2, p2, p2) // rank 1
	nntFails(t, "BatchNormalization", nil, x, p2, p2, p2, tensor.FromSlice([]int{2}, []int32{1, 1}))
	nntFails(t, "BatchNormalization", nil, tensor.FromSlice([]int{1, 2}, []int32{1, 1}), p2, p2, p2, p2)
}

func TestLayerNormalization(t *testing.T) {
	x := nntF32([]int{2, 3}, 1, 2, 3, 4, 4, 4)
	op, err := nntOp(t, "LayerNormalization", map[string]*graph.Attr{"epsilon": graph.FloatAttr(0)}, 17, 3)
	if err != nil {
		t.Fatal(err)
	}
	out, err := op.Run(runtime.NewContext(2), []*tensor.Tensor{x, nntF32([]int{1}, 2), nntF32([]int{3}, 0, 1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	r := math.Sqrt(1.5) // 1/std of [1 2 3]
	nntClose(t, out[0], []int{2, 3}, []float64{-2 * r, 1, 2 + 2*r, math.NaN(), math.NaN(), math.NaN()}, 1e-6)
	nntClose(t, out[1], []int{2, 1}, []float64{2, 4}, 1e-6)
	if out[2].DType() != tensor.Float32 || math.Abs(out[2].Float64At(0)-r) > 1e-6 || !math.IsInf(out[2].Float64At(1), 1) {
		t.Fatalf("InvStdDev = %v %v", out[2], nntFloats(out[2]))
	}
	// A node without the optional outputs gets only Y.
	if outs, err := nntRun(t, "LayerNormalization", nil, 1, x, nntF32([]int{3}, 1, 1, 1)); err != nil || len(outs) != 1 {
		t.Fatalf("one-output node: %d outputs, err %v", len(outs), err)
	}
	// axis 0 normalises everything; Mean keeps rank with size-1 dims.
	op, _ = nntOp(t, "LayerNormalization", map[string]*graph.Attr{"axis": graph.IntAttr(-2)}, 17, 2)
	out, err = op.Run(runtime.NewContext(1), []*tensor.Tensor{nntF32([]int{2, 1}, 1, 3), nntF32([]int{2, 1}, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	nntClose(t, out[0], []int{2, 1}, []float64{-1, 1}, 1e-4)
	nntClose(t, out[1], []int{1, 1}, []float64{2}, 0)
}

func TestLayerNormalizationHalf(t *testing.T) {
	x := tensor.FromSlice([]int{1, 2}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(3)})
	s := tensor.FromSlice([]int{2}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(1)})
	op, _ := nntOp(t, "LayerNormalization", nil, 17, 2)
	out, err := op.Run(runtime.NewContext(1), []*tensor.Tensor{x, s})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].DType() != tensor.Float16 || out[1].DType() != tensor.Float32 {
		t.Fatalf("dtypes %v %v, want float16 and float32", out[0].DType(), out[1].DType())
	}
	nntClose(t, out[0], []int{1, 2}, []float64{-1, 1}, 1e-3)
}

func TestLayerNormalizationErrors(t *testing.T) {
	x := nntF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	nntFails(t, "LayerNormalization", map[string]*graph.Attr{"axis": graph.IntAttr(2)}, x, nntF32([]int{1}, 1))
	nntFails(t, "LayerNormalization", nil, x, nntF32([]int{2}, 1, 1)) // scale [2] vs [3]
	nntFails(t, "LayerNormalization", nil, x, nntF32([]int{3}, 1, 1, 1), nntF32([]int{4}, 1, 1, 1, 1))
	nntFails(t, "LayerNormalization", nil, x) // no scale
	nntFails(t, "LayerNormalization", map[string]*graph.Attr{"stash_type": graph.IntAttr(7)}, x, x)
}

func TestInstanceNormalization(t *testing.T) {
	x := nntF32([]int{1, 2, 3}, 1, 2, 3, 2, 2, 2)
	got := nntMust(t, "InstanceNormalization", nil, x, nntF32([]int{2}, 1, 2), nntF32([]int{2}, 0, 1))
	r := 1 / math.Sqrt(2.0/3+1e-5)
	nntClose(t, got, []int{1, 2, 3}, []float64{-r, 0, r, 1, 1, 1}, 1e-5)
	nntFails(t, "InstanceNormalization", nil, x, nntF32([]int{1}, 1), nntF32([]int{2}, 0, 1))
	nntFails(t, "InstanceNormalization", nil, x, nntF32([]int{2}, 1, 1))
}

func TestLRN(t *testing.T) {
	x := nntF32([]int{1, 3, 1, 1}, 1, 2, 3)
	attrs := map[string]*graph.Attr{"size": graph.IntAttr(3), "alpha": graph.FloatAttr(3), "beta": graph.FloatAttr(1)}
	nntClose(t, nntMust(t, "LRN", attrs, x), []int{1, 3, 1, 1}, []float64{1.0 / 6, 2.0 / 15, 3.0 / 14}, 1e-6)
	// Even size: the window reaches one channel further up than down.
	attrs = map[string]*graph.Attr{"size": graph.IntAttr(2), "alpha": graph.FloatAttr(2), "beta": graph.FloatAttr(1)}
	nntClose(t, nntMust(t, "LRN", attrs, x), []int{1, 3, 1, 1}, []float64{1.0 / 6, 2.0 / 14, 3.0 / 10}, 1e-6)
	nntFails(t, "LRN", nil, x) // size is required
	nntFails(t, "LRN", map[string]*graph.Attr{"size": graph.IntAttr(3)}, nntF32([]int{3}, 1, 2, 3))
}

// TestLRNEveryLevel: the AVX-512 LRN kernel performs the Go reference's
// float64 operations in the same order, so at every level the outputs
// equal the reference's bit for bit (two images of 13 channels of 7x9
// cells, odd and even windows, the betas the kernel takes and one it
// leaves to Go, one and two threads; and a cell that an FMA would round
// differently).
func TestLRNEveryLevel(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	x := nntRandom(rng, 2, 13, 7, 9)
	for i := range x.F32() {
		x.F32()[i] *= 4 // squares well above the bias
	}
	type lrnCase struct {
		size              int64
		alpha, beta, bias float32
	}
	cases := []lrnCase{{5, 1e-4, 0.75, 1}, {5, 0.5, 0.75, 2}, {2, 0.3, 0.5, 1}, {3, 0.1, 1, 0.5}, {5, 0.2, 0.6, 1}}
	attrs := func(c lrnCase) map[string]*graph.Attr {
		return map[string]*graph.Attr{"size": graph.IntAttr(c.size), "alpha": graph.FloatAttr(c.alpha),
			"beta": graph.FloatAttr(c.beta), "bias": graph.FloatAttr(c.bias)}
	}
	// one cell where bias + k*s fused into an FMA rounds differently
	// (size 1, beta 1, bias 1: y = x / (1 + alpha*x*x))
	fused := tensor.FromSlice([]int{1, 1, 1, 1}, []float32{math.Float32frombits(0x4199561a)})
	cases = append(cases, lrnCase{1, math.Float32frombits(0x3a8949ac), 1, 1})
	input := func(i int) *tensor.Tensor {
		if i == len(cases)-1 {
			return fused
		}
		return x
	}
	prev, err := SetCPULevel(LevelGeneric)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]float64, len(cases))
	for i, c := range cases {
		want[i] = nntFloats(nntMust(t, "LRN", attrs(c), input(i)))
	}
	SetCPULevel(prev)
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, c := range cases {
			for _, threads := range []int{1, 2} {
				out, err := nntRun(t, "LRN", attrs(c), threads, input(i))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("case %d, %d threads", i, threads)
				nntClose(t, out[0], input(i).Shape(), want[i], 0)
			}
		}
	})
}

func TestMeanVarianceNormalization(t *testing.T) {
	x := nntF32([]int{1, 1, 1, 4}, 1, 2, 3, 4)
	sd := math.Sqrt(1.25) + 1e-9
	nntClose(t, nntMust(t, "MeanVarianceNormalization", nil, x), []int{1, 1, 1, 4},
		[]float64{-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd}, 1e-6)
	rows := map[string]*graph.Attr{"axes": nntInts(-1)}
	nntClose(t, nntMust(t, "MeanVarianceNormalization", rows, nntF32([]int{2, 2}, 1, 3, 5, 5)), []int{2, 2}, []float64{-1, 1, 0, 0}, 1e-6)
	nntFails(t, "MeanVarianceNormalization", nil, nntF32([]int{2, 2}, 1, 3, 5, 5)) // default axes need rank 4
}

func TestLpNormalization(t *testing.T) {
	nntClose(t, nntMust(t, "LpNormalization", nil, nntF32([]int{2, 2}, 3, 4, 0, 0)), []int{2, 2}, []float64{0.6, 0.8, 0, 0}, 1e-6)
	p1 := map[string]*graph.Attr{"p": graph.IntAttr(1), "axis": graph.IntAttr(0)}
	nntClose(t, nntMust(t, "LpNormalization", p1, nntF32([]int{2, 2}, 1, 2, 3, -2)), []int{2, 2}, []float64{0.25, 0.5, 0.75, -0.5}, 1e-6)
	nntFails(t, "LpNormalization", map[string]*graph.Attr{"p": graph.IntAttr(3)}, nntF32([]int{1}, 1))
	nntFails(t, "LpNormalization", map[string]*graph.Attr{"axis": graph.IntAttr(2)}, nntF32([]int{1}, 1))
	got := nntMust(t, "LpNormalization", nil, tensor.MustNew(tensor.Float64, 0, 3))
	if got.Len() != 0 || got.DType() != tensor.Float64 {
		t.Fatalf("empty LpNormalization = %v", got)
	}
}
