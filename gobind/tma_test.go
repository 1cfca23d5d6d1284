package gobind

import (
	"errors"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda"
)

// TestTmaSpecs: a launch of a TMA shape carries the tensor maps of A and B
// (the geometry its kernel assumes) ahead of the usual parameters; one with
// nothing to copy goes to the shape's cp.async twin, since no tensor map
// describes an empty array.
func TestTmaSpecs(t *testing.T) {
	g := goodGemm()
	g.Tile = "w128x256t"
	s, err := g.Spec()
	if err != nil {
		t.Fatal(err)
	}
	wantA := TensorMap{Base: g.A, RowBytes: 70, Rows: 100, Pitch: 80, BoxBytes: 128, BoxRows: 128, Swizzle: 128}
	wantB := TensorMap{Base: g.B, RowBytes: 70, Rows: 50, Pitch: 80, BoxBytes: 128, BoxRows: 256, Swizzle: 128}
	if s.Kernel != "gc_gemm_s8_s32_w128x256t" || len(s.Maps) != 2 || s.Maps[0] != wantA || s.Maps[1] != wantB || len(s.Params) != denseParams {
		t.Fatalf("dense TMA spec %s maps %v params %d", s.Kernel, s.Maps, len(s.Params))
	}
	g.K, g.A, g.B = 0, cuda.Mem{}, cuda.Mem{}
	if s, err = g.Spec(); err != nil || s.Kernel != "gc_gemm_s8_s32_w128x256" || len(s.Maps) != 0 {
		t.Fatalf("K = 0: %v %s maps %d", err, s.Kernel, len(s.Maps))
	}

	sp := goodSparse()
	sp.Tile = "w256x192ft"
	if s, err = sp.Spec(); err != nil {
		t.Fatal(err)
	}
	wantA = TensorMap{Base: sp.AValues, RowBytes: 128, Rows: 64, Pitch: 128, BoxBytes: 64, BoxRows: 256, Swizzle: 64}
	wantB = TensorMap{Base: sp.B, RowBytes: 256, Rows: 10, Pitch: 256, BoxBytes: 128, BoxRows: 192, Swizzle: 128}
	if s.Kernel != "gc_spgemm_s8_f32_w256x192ft" || len(s.Maps) != 2 || s.Maps[0] != wantA || s.Maps[1] != wantB {
		t.Fatalf("2:4 TMA spec %s maps %v", s.Kernel, s.Maps)
	}
	// The values k tile by k tile (64 rows padded to 67): a map of
	// 64-byte rows, two k tiles of them, the strides after K.
	kt := sp
	kt.LdV, kt.LdVK, kt.AValues.Bytes = 64, 67*64, 67*64*2
	if s, err = kt.Spec(); err != nil {
		t.Fatal(err)
	}
	wantA = TensorMap{Base: kt.AValues, RowBytes: 64, Rows: 67 + 64, Pitch: 64, BoxBytes: 64, BoxRows: 256, Swizzle: 64}
	if s.Maps[0] != wantA || s.Params[9] != 64 || s.Params[10] != 67*64 || s.Params[11] != 32 || s.Params[12] != 16 {
		t.Fatalf("values by k tile: map %+v, strides %v", s.Maps[0], s.Params[9:13])
	}
	// One row: the row-major map, whatever the row stride (never used).
	one := kt
	one.M, one.LdVK = 1, 0
	if s, err = one.Spec(); err != nil || s.Maps[0].RowBytes != 128 || s.Maps[0].Pitch != 128 || s.Maps[0].Rows != 1 {
		t.Fatalf("one row: %v, map %+v", err, s.Maps)
	}
	sp.M = 0
	if s, err = sp.Spec(); err != nil || s.Kernel != "gc_spgemm_s8_f32_w256x192" || s.Grid != 0 {
		t.Fatalf("M = 0: %v %s grid %d", err, s.Kernel, s.Grid)
	}
}

// TestTensorMapValidate: the driver's rules for a tiled byte map, refused
// with ErrArgs before any launch.
func TestTensorMapValidate(t *testing.T) {
	good := TensorMap{Base: mem(1, 300*208), RowBytes: 200, Rows: 300, Pitch: 208, BoxBytes: 128, BoxRows: 128, Swizzle: 128}
	if err := good.Validate("k"); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*TensorMap){
		"null base":         func(m *TensorMap) { m.Base = cuda.Mem{} },
		"misaligned base":   func(m *TensorMap) { m.Base.Ptr += 8 },
		"pitch not 16n":     func(m *TensorMap) { m.Pitch = 200 },
		"pitch under row":   func(m *TensorMap) { m.Pitch = 192 },
		"no rows":           func(m *TensorMap) { m.Rows = 0 },
		"rows past int32":   func(m *TensorMap) { m.Rows = 1 << 31 },
		"box not 16n":       func(m *TensorMap) { m.BoxBytes = 72 },
		"box too tall":      func(m *TensorMap) { m.BoxRows = 257 },
		"box over swizzle":  func(m *TensorMap) { m.Swizzle = 64 },
		"swizzle 48":        func(m *TensorMap) { m.Swizzle = 48 },
		"array past buffer": func(m *TensorMap) { m.Base.Bytes = 299*208 + 199 },
	} {
		m := good
		edit(&m)
		if err := m.Validate("k"); !errors.Is(err, ErrArgs) {
			t.Errorf("%s: %v", name, err)
		} else if !strings.Contains(err.Error(), "tensor map") {
			t.Errorf("%s: %q does not say what is wrong", name, err)
		}
	}
}
