package quant

import (
	"github.com/gcompress/gcompress/backend/cpu"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/runtime"
)

// matMulNBitsTol bounds the relative difference between the dequant-in-GEMM
// kernel and the reference: both sum float32 products, in a different
// order (4 partial sums), so they differ by a few ulps of the row sums.
const matMulNBitsTol = 1e-5

func TestMatMulNBitsKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ rows, k, n, bits, block int }{
		{1, 16, 1, 4, 16}, {3, 37, 5, 4, 16}, {7, 100, 13, 4, 32}, {64, 784, 31, 4, 128},
		{2, 50, 3, 8, 16}, {5, 129, 17, 8, 64}, {1, 784, 10, 8, 784}, // one block per row (Lower's int8 form)
	} {
		w := make([]float32, tc.n*tc.k)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		a := make([]float32, tc.rows*tc.k)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		bias := make([]float32, tc.n)
		for i := range bias {
			bias[i] = float32(r.NormFloat64())
		}
		l, b, scales, err := cpu.PackNBits(w, tc.n, tc.k, tc.bits, tc.block)
		if err != nil {
			t.Fatal(err)
		}
		zp := make([]int32, len(scales))
		for i := range zp {
			zp[i] = 1 << (tc.bits - 1)
		}
		// dequantized weights are within half a step of the originals
		qmax := float64(int(1)<<(tc.bits-1) - 1)
		for nn := 0; nn < tc.n; nn++ {
			for k := 0; k < tc.k; k++ {
				blk := nn*l.KBlocks() + k/tc.block
				got := float64(l.At(b, nn, k)-zp[blk]) * float64(scales[blk])
				if d := math.Abs(got - float64(w[nn*tc.k+k])); d > float64(scales[blk])/2*(1+1e-6) {
					t.Fatalf("%+v: w[%d,%d] = %v dequantizes to %v", tc, nn, k, w[nn*tc.k+k], got)
				}
				if q := l.At(b, nn, k) - zp[blk]; math.Abs(float64(q)) > qmax {
					t.Fatalf("%+v: q %d outside +-%v", tc, q, qmax)
				}
			}
		}
		// guard band: the kernel writes exactly rows*n values
		want := make([]float32, tc.rows*tc.n)
		cpu.MatMulNBitsRef(l, a, tc.rows, b, scales, zp, bias, want)
		got := make([]float32, tc.rows*tc.n+8)
		for i := range got {
			got[i] = float32(math.NaN())
		}
		for _, threads := range []int{1, 3} {
			cpu.MatMulNBits(runtime.NewContext(threads), l, a, tc.rows, b, scales, zp, bias, got[:tc.rows*tc.n])
			for i, v := range want {
				if math.Abs(float64(got[i]-v)) > matMulNBitsTol*(1+math.Abs(float64(v)))*math.Sqrt(float64(tc.k)) {
					t.Fatalf("%+v threads %d: y[%d] = %v, reference %v", tc, threads, i, got[i], v)
				}
			}
			for _, v := range got[tc.rows*tc.n:] {
				if v == v {
					t.Fatalf("%+v: wrote past the output", tc)
				}
			}
		}
	}
	if _, _, _, err := cpu.PackNBits(make([]float32, 4), 1, 4, 3, 16); err == nil {
		t.Error("3 bits accepted")
	}
}

// TestWeightOnly quantizes LeNet-300-100's weights to int8 (per channel)
// and int4 (groups of 32 and 128): the logits stay close to the float
// model's, our dequant-in-GEMM execution is what the report measures, and
// ONNX Runtime runs the written models with the same results.
func TestWeightOnly(t *testing.T) {
	m := trainedModel(t, "lenet-300-100")
	test := mnistSplit(t, "test")
	for _, tc := range []struct {
		kind  string
		group int
		op    string
	}{{"int8", 0, "MatMulNBits (8-bit, dequant-in-GEMM)"}, {"int4", 32, "MatMulNBits (4-bit, dequant-in-GEMM)"}, {"int4", 128, "MatMulNBits (4-bit, dequant-in-GEMM)"}} {
		q, rep, err := QuantizeModel(m, nil, Options{WeightOnly: tc.kind, GroupSize: tc.group, PerChannel: true,
			Eval: test, Calib: RunOptions{Threads: 2}})
		if err != nil {
			t.Fatal(err)
		}
		e := rep.Eval
		t.Logf("%s/%d: FP32 %.4f quantized %.4f agreement %.4f NMSE %.3g, %d -> %d bytes", tc.kind, tc.group,
			*e.AccuracyFloat, *e.AccuracyQuant, e.Agreement, e.LogitsNMSE, rep.BytesFloat, rep.BytesQuant)
		if rep.Lowering.Ops[tc.op] != 3 {
			t.Errorf("%s: lowering %v", tc.kind, rep.Lowering.Ops)
		}
		if e.Agreement < minQuantAgreement || *e.AccuracyFloat-*e.AccuracyQuant > maxQuantDrop {
			t.Errorf("%s/%d: agreement %.4f, accuracy %.4f -> %.4f", tc.kind, tc.group, e.Agreement, *e.AccuracyFloat, *e.AccuracyQuant)
		}
		if want := rep.BytesFloat / 3; rep.BytesQuant > want {
			t.Errorf("%s: %d bytes, want at most %d", tc.kind, rep.BytesQuant, want)
		}
		if err := ortpeer.Init(); err != nil {
			if os.Getenv(ortpeer.RequireEnv) == "1" {
				t.Fatalf("ONNX Runtime peer required: %v", err)
			}
			continue
		}
		low, _, _ := Lower(q)
		ours, classes, err := Logits(low, test, RunOptions{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		theirs := ortLogits(t, q, test)
		if a, n := Agreement(ours, theirs, classes), NMSE(ours, theirs); a < minImplAgreement || n > maxImplNMSE {
			t.Errorf("%s: ORT vs gcompress agreement %.4f, NMSE %.3g", tc.kind, a, n)
		}
	}
	if _, _, err := QuantizeModel(m, nil, Options{WeightOnly: "int4", GroupSize: 48}); err == nil {
		t.Error("group size 48 accepted")
	}
	if _, _, err := QuantizeModel(m, nil, Options{WeightOnly: "int4", Sensitivity: true}); err == nil {
		t.Error("weight-only sensitivity accepted")
	}
}
