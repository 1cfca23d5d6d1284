package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/gobind/gemmbench"
)

// timing is a Timing of size^3 with the vendor ratio vs.
func timing(kernel, tile string, def bool, size int, ms float64, check string, vs float64) Timing {
	return Timing{Timing: gemmbench.Timing{Kernel: kernel, Tile: tile, Default: def, M: size, N: size, K: size, MedianMS: ms, Check: check}, VsVendor: vs}
}

func TestVendorPairingAndAcceptance(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vendor.json")
	doc := `{"torch": "2.11.0", "cuda": "13.0", "device": "NVIDIA H100", "results": [
	 {"kernel": "int8_dense", "m": 8192, "n": 8192, "k": 8192, "impl": "torch._int_mm", "median_ms": 1.0, "min_ms": 0.9, "tops": 1100},
	 {"kernel": "f16_dense", "m": 8192, "n": 8192, "k": 8192, "impl": "torch.matmul f16", "error": "RuntimeError: boom"}]}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := readVendor(path)
	if err != nil {
		t.Fatal(err)
	}
	ts := []Timing{
		timing(gemmbench.Int8Dense, "a", true, 8192, 1.6, "pass", 0),
		timing(gemmbench.F16Dense, "a", true, 8192, 2, "pass", 0),
		timing(gemmbench.Int8Sparse, "s", true, 8192, 1.2, "pass", 0),
		// Slower than the default, and at another size: no second set.
		timing(gemmbench.Int8Dense, "b", false, 8192, 1.7, "pass", 0),
		timing(gemmbench.Int8Sparse, "t", false, 4096, 0.1, "pass", 0),
	}
	attachVendor(ts, v)
	if ts[0].VsVendor != 1/1.6 || ts[1].Vendor == nil || ts[1].VsVendor != 0 {
		t.Fatalf("pairing: %+v", ts[:2])
	}
	acc := acceptance(ts, 8192)
	if len(acc) != 4 {
		t.Fatalf("%d criteria: %+v", len(acc), acc)
	}
	if !acc[0].Available || !acc[0].Pass { // 0.625 >= 0.6
		t.Errorf("int8 vs vendor: %+v", acc[0])
	}
	if acc[1].Available {
		t.Errorf("f16 vs a failed vendor run should be unavailable: %+v", acc[1])
	}
	if !acc[2].Available || !acc[2].Pass || math.Abs(acc[2].Value-4.0/3) > 1e-12 || acc[2].Note != "" {
		t.Errorf("sparse int8 speed-up: %+v", acc[2])
	}
	if acc[3].Available {
		t.Errorf("sparse f16 without timings: %+v", acc[3])
	}
	// Shapes faster than the defaults add the criteria again with the
	// fastest checked shape of each family, named in the note; a failed
	// check does not count.
	fts := append(ts[:5:5],
		timing(gemmbench.Int8Dense, "w", false, 8192, 1.0, "pass", 1),
		timing(gemmbench.Int8Dense, "x", false, 8192, 0.5, "FAIL", 2),
		timing(gemmbench.Int8Sparse, "v", false, 8192, 0.8, "pass", 0))
	facc := acceptance(fts, 8192)
	if len(facc) != 8 || !strings.Contains(facc[4].Note, "fastest timed shapes, not the defaults (w)") || !strings.Contains(facc[6].Note, "(v / w)") {
		t.Fatalf("fastest shapes: %+v", facc)
	}
	if !facc[4].Pass || facc[4].Value != 1 || facc[6].Pass || math.Abs(facc[6].Value-1.25) > 1e-12 {
		t.Errorf("fastest-shape rows: %+v", facc[4:])
	}
	if facc[5].Available || facc[7].Available {
		t.Errorf("families without timings: %+v", facc[4:])
	}
	var b strings.Builder
	writeSummary(&b, &Report{Timings: ts, Acceptance: acc, BenchErrors: []string{"s8-2:4 (w128x256fpm) at 8192: launch refused"}})
	out := b.String()
	for _, want := range []string{"torch._int_mm", "0.625", "error", "PASS", "n/a", "a*", " t ",
		"not timed: s8-2:4 (w128x256fpm) at 8192: launch refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if _, err := readVendor(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing vendor file accepted")
	}
}

func TestParseTiles(t *testing.T) {
	if names, err := parseTiles("default"); err != nil || names != nil {
		t.Fatalf("default: %v, %v", names, err)
	}
	all, err := parseTiles("all")
	if err != nil || len(all) != len(gobind.DenseTiles)+len(gobind.SparseTiles) {
		t.Fatalf("all: %v, %v", all, err)
	}
	two := gobind.DenseTiles[0].Name + ", " + gobind.SparseTiles[0].Name
	if names, err := parseTiles(two); err != nil || len(names) != 2 || names[1] != gobind.SparseTiles[0].Name {
		t.Fatalf("%q: %v, %v", two, names, err)
	}
	if _, err := parseTiles(gobind.DenseTiles[0].Name + ",t99"); err == nil || !strings.Contains(err.Error(), `"t99"`) {
		t.Fatalf("unknown shape: %v", err)
	}
}
