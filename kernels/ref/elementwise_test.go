package ref

import (
	"math"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

func TestQuantizeRef(t *testing.T) {
	x := []float32{2.5, 3.5, -2.5, 1000, -1000, float32(math.NaN()), 0.26, 1}
	q := make([]int8, len(x))
	if err := QuantizeRef(x, []float32{1}, nil, Channels{Count: 1, Inner: 1}, q); err != nil {
		t.Fatal(err)
	}
	want := []int8{2, 4, -2, 127, -128, -128, 0, 1}
	for i := range want {
		if q[i] != want[i] {
			t.Fatalf("q = %v, want %v", q, want)
		}
	}
	// Per-channel over a [2,3] tensor along axis 0 (inner 3): rows use
	// scale 0.5 / zp 1 and scale 2 / zp -1.
	x2 := []float32{1, 2, 3, 4, 5, 6}
	if err := QuantizeRef(x2, []float32{0.5, 2}, []int32{1, -1}, Channels{Count: 2, Inner: 3}, q); err != nil {
		t.Fatal(err)
	}
	want2 := []int8{3, 5, 7, 1, 1, 2} // 2+1,4+1,6+1, 2-1, 2.5->2 -1, 3-1
	for i := range want2 {
		if q[i] != want2[i] {
			t.Fatalf("per-channel q = %v, want %v", q[:6], want2)
		}
	}
	if err := QuantizeRef(x2, []float32{1}, nil, Channels{Count: 2, Inner: 3}, q); err == nil {
		t.Fatal("too few scales accepted")
	}
	if err := QuantizeRef(x2, []float32{1}, nil, Channels{Count: 1, Inner: 1}, q[:2]); err == nil {
		t.Fatal("short output accepted")
	}
}

func TestDequantizeRef(t *testing.T) {
	q := []int8{-128, 0, 127, 5}
	y := make([]float32, 4)
	if err := DequantizeRef(q, []float32{0.5, 0.25}, []int32{0, 1}, Channels{Count: 2, Inner: 2}, y); err != nil {
		t.Fatal(err)
	}
	want := []float32{-64, 0, 31.5, 1}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("y = %v, want %v", y, want)
		}
	}
}

func TestSoftmaxRef(t *testing.T) {
	x := []float32{1, 2, 3, 1000, 1000, 1000}
	y := make([]float32, 6)
	if err := SoftmaxRef(2, 3, x, y); err != nil {
		t.Fatal(err)
	}
	e1, e2 := math.Exp(-2), math.Exp(-1)
	s := e1 + e2 + 1
	want := []float32{float32(e1 / s), float32(e2 / s), float32(1 / s), 1.0 / 3, 1.0 / 3, 1.0 / 3}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("y = %v, want %v", y, want)
		}
	}
	if err := SoftmaxRef(3, 3, x, y); err == nil {
		t.Fatal("short input accepted")
	}
}

func TestElementwiseRefs(t *testing.T) {
	c := make([]float32, 2)
	AddRef([]float32{1, 2}, []float32{0.5, -3}, c)
	if c[0] != 1.5 || c[1] != -1 {
		t.Fatalf("add %v", c)
	}
	ReluRef([]float32{-1, float32(math.NaN())}, c)
	if c[0] != 0 || c[1] != 0 {
		t.Fatalf("relu %v", c)
	}
	h := make([]tensor.F16, 2)
	CastF32ToF16Ref([]float32{1, 65520}, h) // 65520 rounds to +Inf in binary16
	if h[0] != 0x3c00 || h[1] != 0x7c00 {
		t.Fatalf("f16 cast %x", h)
	}
	CastF16ToF32Ref(h, c)
	if c[0] != 1 || !math.IsInf(float64(c[1]), 1) {
		t.Fatalf("f16 widen %v", c)
	}
	b := make([]tensor.BF16, 1)
	CastF32ToBF16Ref([]float32{1.00390625}, b) // 1 + 2^-8: a tie, rounds to even 1
	CastBF16ToF32Ref(b, c)
	if c[0] != 1 {
		t.Fatalf("bf16 round trip %v", c[0])
	}
}
