package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/gobind"
)

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
		{Kernel: Int8Dense, Tile: "a", Default: true, M: 8192, N: 8192, K: 8192, MedianMS: 1.6, Check: "pass"},
		{Kernel: F16Dense, Tile: "a", Default: true, M: 8192, N: 8192, K: 8192, MedianMS: 2, Check: "pass"},
		{Kernel: Int8Sparse, Tile: "s", Default: true, M: 8192, N: 8192, K: 8192, MedianMS: 1.2, Check: "pass"},
		// A faster shape that is not the default counts for nothing.
		{Kernel: Int8Sparse, Tile: "t", M: 8192, N: 8192, K: 8192, MedianMS: 0.1, Check: "pass"},
	}
	attachVendor(ts, v)
	if ts[0].VsVendor != 1/1.6 || ts[1].Vendor == nil || ts[1].VsVendor != 0 {
		t.Fatalf("pairing: %+v", ts[:2])
	}
	acc := acceptance(ts, 8192)
	if len(acc) != 4 {
		t.Fatalf("%d criteria", len(acc))
	}
	if !acc[0].Available || !acc[0].Pass { // 0.625 >= 0.6
		t.Errorf("int8 vs vendor: %+v", acc[0])
	}
	if acc[1].Available {
		t.Errorf("f16 vs a failed vendor run should be unavailable: %+v", acc[1])
	}
	if !acc[2].Available || !acc[2].Pass || math.Abs(acc[2].Value-4.0/3) > 1e-12 {
		t.Errorf("sparse int8 speed-up: %+v", acc[2])
	}
	if acc[3].Available {
		t.Errorf("sparse f16 without timings: %+v", acc[3])
	}
	// Timed wgmma shapes add the criteria again with the fastest checked
	// wgmma shape of each family, marked as candidates.
	wd, ws := gobind.DenseTiles[len(gobind.DenseTiles)-1].Name, gobind.SparseTiles[len(gobind.SparseTiles)-1].Name
	wts := append(ts[:4:4],
		Timing{Kernel: Int8Dense, Tile: wd, M: 8192, N: 8192, K: 8192, MedianMS: 1.0, Check: "pass", VsVendor: 1},
		Timing{Kernel: Int8Dense, Tile: wd, M: 8192, N: 8192, K: 8192, MedianMS: 0.5, Check: "FAIL", VsVendor: 2},
		Timing{Kernel: Int8Sparse, Tile: ws, M: 8192, N: 8192, K: 8192, MedianMS: 0.8, Check: "pass"})
	wacc := acceptance(wts, 8192)
	if len(wacc) != 8 || !strings.Contains(wacc[4].Note, "wgmma candidate") || !strings.Contains(wacc[6].Note, ws+" / "+wd) {
		t.Fatalf("wgmma candidates: %+v", wacc)
	}
	if !wacc[4].Pass || wacc[4].Value != 1 || wacc[6].Pass || math.Abs(wacc[6].Value-1.25) > 1e-12 {
		t.Errorf("wgmma candidate rows (the failed check must not count): %+v", wacc[4:])
	}
	if wacc[5].Available || wacc[7].Available {
		t.Errorf("families without wgmma timings: %+v", wacc[4:])
	}
	if !gobind.DenseTiles[len(gobind.DenseTiles)-1].Wgmma || !gobind.SparseTiles[len(gobind.SparseTiles)-1].Wgmma {
		t.Fatal("the last tile shapes are no longer the wgmma ones: pick others for this test")
	}
	var b strings.Builder
	writeSummary(&b, &Report{Timings: ts, Acceptance: acc})
	out := b.String()
	for _, want := range []string{"torch._int_mm", "0.625", "error", "PASS", "n/a", "a*", " t "} {
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
