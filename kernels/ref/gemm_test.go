package ref

import (
	"math"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

func TestInt8GemmRefHandComputed(t *testing.T) {
	// A = [[1 2 3], [-4 5 -6]], B (N×K) = [[1 0 -1], [2 2 2]]
	// A·Bᵀ = [[1-3, 2+4+6], [-4+6, -8+10-12]] = [[-2, 12], [2, -10]]
	a := []int8{1, 2, 3, -4, 5, -6}
	b := []int8{1, 0, -1, 2, 2, 2}
	c := make([]int32, 4)
	if err := Int8GemmRef(2, 2, 3, a, 3, b, 3, OutS32, c, 2, 1, nil); err != nil {
		t.Fatal(err)
	}
	want := []int32{-2, 12, 2, -10}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("c = %v, want %v", c, want)
		}
	}
	// Transposed output (ldcM, ldcN) = (1, 2) stores D[i][j] at i + 2j.
	if err := Int8GemmRef(2, 2, 3, a, 3, b, 3, OutS32, c, 1, 2, nil); err != nil {
		t.Fatal(err)
	}
	wantT := []int32{-2, 2, 12, -10}
	for i := range wantT {
		if c[i] != wantT[i] {
			t.Fatalf("transposed c = %v, want %v", c, wantT)
		}
	}
}

func TestInt8GemmRefWrapsAndLeavesGuardBand(t *testing.T) {
	// K = 140000 products of (-128)·(-128) = 16384 each: 2,293,760,000 wraps
	// past 2^31 to 2,293,760,000 - 2^32.
	const k = 140000
	a := make([]int8, k)
	b := make([]int8, k)
	for i := range a {
		a[i], b[i] = -128, -128
	}
	c := []int32{7, 7, 7}
	if err := Int8GemmRef(1, 1, k, a, k, b, k, OutS32, c[1:], 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	want := int32(int64(k*16384) - (1 << 32))
	if c[1] != want || c[0] != 7 || c[2] != 7 {
		t.Fatalf("c = %v, want [7 %d 7]", c, want)
	}
}

func TestEpilogues(t *testing.T) {
	e := &Epilogue{Scale: []float32{0.5, 0.5}, BiasS32: []int32{0, 1}, ZeroPoint: -3}
	cases := []struct {
		acc  int32
		c    int
		want int8
	}{
		{5, 0, 2 - 3},   // 2.5 rounds to even 2
		{7, 0, 4 - 3},   // 3.5 rounds to even 4
		{-5, 0, -2 - 3}, // -2.5 -> -2
		{6, 1, 4 - 3},   // (6+1)*0.5 = 3.5 -> 4
		{1000, 0, 127},  // saturates high
		{-1000, 0, -128},
	}
	for _, tc := range cases {
		if got := RequantS8(tc.acc, e, tc.c); got != tc.want {
			t.Errorf("RequantS8(%d, ch %d) = %d, want %d", tc.acc, tc.c, got, tc.want)
		}
	}
	if got := RequantS8(3, &Epilogue{Scale: []float32{float32(math.NaN())}}, 0); got != -128 {
		t.Errorf("NaN scale gives %d, want -128 (fmaxf semantics)", got)
	}
	if got := RequantS8(-7, nil, 0); got != -7 {
		t.Errorf("no epilogue: %d, want -7", got)
	}
	f := &Epilogue{Scale: []float32{0.25}, Bias: []float32{1}}
	if got := EpilogueF32(float32(10), f, 0); got != 3.5 {
		t.Errorf("EpilogueF32 = %v, want 3.5", got)
	}
}

func TestEpilogueF32NoFusedMultiplyAdd(t *testing.T) {
	// x*s+b where the fused and the two-step results differ: with
	// x = s = 1+2^-12 and b = -1 the exact product 1+2^-11+2^-24 is a tie
	// halfway between two float32 values (ulp 2^-23 at 1) and rounds to even,
	// 1+2^-11, so the two-step result is 2^-11 while an FMA would give
	// 2^-11+2^-24.
	x := float32(1 + 1.0/4096)
	e := &Epilogue{Scale: []float32{x}, Bias: []float32{-1}}
	got := EpilogueF32(x, e, 0)
	if want := float32(1.0 / 2048); got != want {
		t.Fatalf("EpilogueF32 = %g, want %g (two roundings, no FMA)", got, want)
	}
}

func TestInt8GemmRefEpiloguePerRowAndErrors(t *testing.T) {
	a := []int8{1, 1, 2, 2}
	b := []int8{3, 3}
	out := make([]float32, 2)
	e := &Epilogue{Scale: []float32{1, 0.5}, Bias: []float32{0.25, -1}, Axis: PerRow}
	if err := Int8GemmRef(2, 1, 2, a, 2, b, 2, OutF32, out, 1, 1, e); err != nil {
		t.Fatal(err)
	}
	if out[0] != 6.25 || out[1] != 5 {
		t.Fatalf("per-row epilogue: %v, want [6.25 5]", out)
	}
	errs := []struct {
		name string
		err  error
	}{
		{"short A", Int8GemmRef(2, 1, 2, a[:3], 2, b, 2, OutS32, make([]int32, 2), 1, 1, nil)},
		{"lda < K", Int8GemmRef(2, 1, 2, a, 1, b, 2, OutS32, make([]int32, 2), 1, 1, nil)},
		{"short C", Int8GemmRef(2, 1, 2, a, 2, b, 2, OutS32, make([]int32, 1), 1, 1, nil)},
		{"wrong C type", Int8GemmRef(2, 1, 2, a, 2, b, 2, OutS32, make([]float32, 2), 1, 1, nil)},
		{"f16 out", Int8GemmRef(2, 1, 2, a, 2, b, 2, OutF16, make([]tensor.F16, 2), 1, 1, nil)},
		{"short scale", Int8GemmRef(2, 1, 2, a, 2, b, 2, OutF32, make([]float32, 2), 1, 1, &Epilogue{Scale: []float32{1}, Axis: PerRow})},
	}
	for _, c := range errs {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestHalfGemmRef(t *testing.T) {
	h := func(v ...float32) []tensor.F16 {
		out := make([]tensor.F16, len(v))
		for i, x := range v {
			out[i] = tensor.NewF16(x)
		}
		return out
	}
	a := h(1, 2, 0.5, -1)
	b := h(3, 4)
	c := make([]float32, 2)
	if err := HalfGemmRef(2, 1, 2, a, 2, b, 2, OutF32, c, 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if c[0] != 11 || c[1] != -2.5 {
		t.Fatalf("c = %v, want [11 -2.5]", c)
	}
	// f16 output rounds: 2049 is not representable in binary16 (ulp 2 above
	// 2048) and ties to even 2048.
	a2 := h(2048, 1)
	b2 := h(1, 1)
	c16 := make([]tensor.F16, 1)
	if err := HalfGemmRef(1, 1, 2, a2, 2, b2, 2, OutF16, c16, 1, 1, nil); err != nil {
		t.Fatal(err)
	}
	if c16[0].Float32() != 2048 {
		t.Fatalf("f16 output %v, want 2048", c16[0].Float32())
	}
	bf := []tensor.BF16{tensor.NewBF16(1.5), tensor.NewBF16(2)}
	cb := make([]tensor.BF16, 1)
	if err := HalfGemmRef(1, 1, 2, bf, 2, bf, 2, OutBF16, cb, 1, 1, &Epilogue{Bias: []float32{-0.25}}); err != nil {
		t.Fatal(err)
	}
	if cb[0].Float32() != 6 { // 2.25 + 4 - 0.25
		t.Fatalf("bf16 output %v, want 6", cb[0].Float32())
	}
	if err := HalfGemmRef(1, 1, 2, a2, 2, b2, 2, OutS8, make([]int8, 1), 1, 1, nil); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("s8 output of a half gemm: err %v", err)
	}
}
