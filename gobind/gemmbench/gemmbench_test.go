package gemmbench

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda/nvml"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

func TestFamilies(t *testing.T) {
	f, err := FamilyNamed(Int8Sparse)
	if err != nil || f.In != ref.S8 || !f.Sparse || f.Out() != ref.OutS32 || f.KAlign() != 128 {
		t.Errorf("%s: %+v %v", Int8Sparse, f, err)
	}
	if _, err := FamilyNamed("int4_dense"); err == nil || !strings.Contains(err.Error(), F16Dense) {
		t.Errorf("unknown family: %v, want an error naming the families", err)
	}
	for _, c := range []struct {
		dtype  string
		sparse bool
		want   string
		kalign int
		out    ref.Out
	}{
		{"int8", false, Int8Dense, 1, ref.OutS32}, {"f16", true, F16Sparse, 64, ref.OutF16}, {"bf16", true, BF16Sparse, 64, ref.OutBF16},
		{"bf16", false, BF16Dense, 1, ref.OutBF16},
	} {
		f, err := FamilyOf(c.dtype, c.sparse)
		if err != nil || f.Name != c.want || f.KAlign() != c.kalign || f.Out() != c.out {
			t.Errorf("FamilyOf(%s, %v) = %+v, %v; want %s, K multiple of %d, output %v", c.dtype, c.sparse, f, err, c.want, c.kalign, c.out)
		}
	}
	if _, err := FamilyOf("f32", false); err == nil {
		t.Error("FamilyOf(f32): no error")
	}
	i8, _ := FamilyOf("int8", false)
	sp, _ := FamilyOf("int8", true)
	for _, c := range []struct {
		f    Family
		tile string
		want bool
	}{{i8, "w128x256p", true}, {i8, "w128x128pm", true}, {i8, "w128x256t", false}, {sp, "w256x192fpm", true}, {i8, "w256x192fpm", false}, {i8, "", false}} {
		if got := Persistable(c.f, c.tile); got != c.want {
			t.Errorf("Persistable(%s, %q) = %v", c.f.Name, c.tile, got)
		}
	}
}

// halves encodes vs as little-endian f16 (or bf16) bytes.
func halves(in ref.Elem, vs []float32) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		h := uint16(tensor.NewF16(v))
		if in == ref.BF16 {
			h = uint16(tensor.NewBF16(v))
		}
		binary.LittleEndian.PutUint16(b[2*i:], h)
	}
	return b
}

// TestCompareRow: the pre-timing check passes equal rows and fails a
// differing int32, an error above each half type's NMSE tolerance, and an
// f16 overflow.
func TestCompareRow(t *testing.T) {
	s8, _ := FamilyOf("int8", false)
	want := make([]byte, 4*64)
	for i := range 64 {
		binary.LittleEndian.PutUint32(want[4*i:], uint32(i*1000-7))
	}
	got := append([]byte(nil), want...)
	if err := compareRow(s8, 3, got, want); err != nil {
		t.Errorf("equal int32 rows: %v", err)
	}
	got[4*17+1] ^= 1
	if err := compareRow(s8, 3, got, want); err == nil || !strings.Contains(err.Error(), "row 3: ") || !strings.Contains(err.Error(), "(0, 17)") {
		t.Errorf("an int32 that differs: %v", err)
	}

	vs := make([]float32, 256)
	for i := range vs {
		vs[i] = float32(math.Sin(float64(i)))
	}
	for _, in := range []ref.Elem{ref.F16, ref.BF16} {
		f := Family{Name: in.String(), In: in}
		tol := kerneltest.NMSEHalfGemmF16
		if in == ref.BF16 {
			tol = kerneltest.NMSEHalfGemmBF16
		}
		w := halves(in, vs)
		if err := compareRow(f, 0, w, w); err != nil {
			t.Errorf("%v: equal rows: %v", in, err)
		}
		// Every element off by a relative 3·sqrt(tol): NMSE about 9·tol.
		off := make([]float32, len(vs))
		for i, v := range vs {
			off[i] = v * float32(1+3*math.Sqrt(tol))
		}
		if err := compareRow(f, 0, halves(in, off), w); err == nil || !strings.Contains(err.Error(), "NMSE") {
			t.Errorf("%v: rows off by 3 sqrt(tol): %v", in, err)
		}
	}
	f16, _ := FamilyOf("f16", false)
	inf := append([]float32(nil), vs...)
	inf[5] = float32(math.Inf(1))
	if err := compareRow(f16, 0, halves(ref.F16, inf), halves(ref.F16, vs)); err == nil {
		t.Error("an f16 infinity passed")
	}
}

// TestSparseLayouts: each layout name parses to the layout whose Suffix
// names it, the default has none, and an unknown name fails.
func TestSparseLayouts(t *testing.T) {
	ls, err := ParseSparseLayouts("rows, values-rows,,meta-rows")
	if err != nil {
		t.Fatal(err)
	}
	want := []SparseLayout{{ValuesRows: true, MetaRows: true}, {ValuesRows: true}, {MetaRows: true}}
	if !slices.Equal(ls, want) {
		t.Fatalf("parsed %+v, want %+v", ls, want)
	}
	for i, name := range []string{"/rows", "/values-rows", "/meta-rows"} {
		if got := ls[i].Suffix(); got != name {
			t.Errorf("%+v: suffix %q, want %q", ls[i], got, name)
		}
	}
	if s := (SparseLayout{}).Suffix(); s != "" {
		t.Errorf("default layout: suffix %q", s)
	}
	if _, err := ParseSparseLayouts("rows,columns"); err == nil {
		t.Error("an unknown layout parsed")
	}
}

// TestDuringText: the clock, power and clocks-event reasons sampled while
// a GEMM ran, in one phrase; nothing without samples.
func TestDuringText(t *testing.T) {
	if s := DuringText(nil); s != "" {
		t.Errorf("no samples: %q", s)
	}
	d := &nvml.DeviceReport{
		Samples:     5, // one without a clock reading
		SMClockMHz:  nvml.Summarize([]float64{1980, 1755, 1905, math.NaN(), 1980}),
		PowerW:      nvml.Summarize([]float64{512, 700, math.NaN(), 690, 600}),
		ClockLimits: map[string]int{"sw_power_cap": 2, "hw_slowdown": 1},
	}
	want := "5 samples: SM 1755-1980 MHz (median 1942), 700 W max (1 s avg), hw_slowdown 1/5, sw_power_cap 2/5"
	if s := DuringText(d); s != want {
		t.Errorf("DuringText() = %q, want %q", s, want)
	}
	noClock := &nvml.DeviceReport{Samples: 3, SMClockMHz: nvml.Summarize([]float64{math.NaN(), math.NaN(), math.NaN()}),
		ClockLimits: map[string]int{"sw_power_cap": 3}}
	if s, want := DuringText(noClock), "3 samples, sw_power_cap 3/3"; s != want {
		t.Errorf("without clock readings: DuringText() = %q, want %q", s, want)
	}
}
