package tensor

import (
	"math"
	"testing"
)

// TestF16RoundTripAllPatterns widens every binary16 pattern and narrows it
// back: each value must come back bit-identical (NaNs stay NaN).
func TestF16RoundTripAllPatterns(t *testing.T) {
	for b := 0; b < 1<<16; b++ {
		h := F16(b)
		f := h.Float32()
		back := NewF16(f)
		if f != f {
			if back.Float32() == back.Float32() {
				t.Fatalf("NaN pattern %#04x came back as %#04x", b, uint16(back))
			}
			continue
		}
		if back != h {
			t.Fatalf("pattern %#04x -> %v -> %#04x", b, f, uint16(back))
		}
	}
}

// f16Nearest is the oracle: the binary16 value nearest to x (ties to the
// even pattern), found by comparing distances in float64.
func f16Nearest(x float32) F16 {
	best, bestD := F16(0), math.Inf(1)
	lo, hi := 0, 0x8000 // search patterns of x's sign, so zero keeps its sign
	if math.Signbit(float64(x)) {
		lo, hi = 0x8000, 0x10000
	}
	for b := lo; b < hi; b++ {
		h := F16(b)
		v := float64(h.Float32())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		d := math.Abs(v - float64(x))
		if d < bestD || (d == bestD && b&1 == 0) {
			best, bestD = h, d
		}
	}
	return best
}

func TestNewF16Rounding(t *testing.T) {
	cases := []float32{0.1, -0.3333, 1.0009766, 1.00048828125, 1.0014648, 65504, 6.1e-5, 5.96e-8,
		3e-8, 2.98e-8, -7.5e-6, 1234.567, 0.000123}
	for _, x := range cases {
		if got, want := NewF16(x), f16Nearest(x); got != want {
			t.Errorf("NewF16(%v) = %#04x (%v), want %#04x (%v)", x, uint16(got), got.Float32(), uint16(want), want.Float32())
		}
	}
	if !math.IsInf(float64(NewF16(70000).Float32()), 1) {
		t.Error("70000 should overflow to +Inf")
	}
	if h := NewF16(float32(math.NaN())); h.Float32() == h.Float32() {
		t.Error("NaN not preserved")
	}
}

func TestBF16(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {1.00390625, 0x3f80}, // tie: rounds to even
		{1.01171875, 0x3f82}, {3.4e38, 0x7f80}, // rounds up to +Inf
	} {
		if got := NewBF16(tc.in); uint16(got) != tc.want {
			t.Errorf("NewBF16(%v) = %#04x, want %#04x", tc.in, uint16(got), tc.want)
		}
	}
	if b := NewBF16(float32(math.NaN())); b.Float32() == b.Float32() {
		t.Error("NaN not preserved")
	}
	for b := 0; b < 1<<16; b++ {
		if f := BF16(b).Float32(); f == f && NewBF16(f) != BF16(b) {
			t.Fatalf("bf16 %#04x does not round trip", b)
		}
	}
}
