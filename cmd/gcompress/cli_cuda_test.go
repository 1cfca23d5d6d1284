//go:build gcompress_cuda

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/gobind/gemmbench"
)

// buildTags are the tags TestMain builds gcBinary with: the cuda build, so
// every end-to-end test of this package also runs the cuda binary.
const buildTags = "gcompress_cuda"

// TestDeviceCudaWithoutGPU: on a machine whose driver finds no GPU (CI, or
// a container with the driver's libraries and no device) the cuda build
// starts, works on the CPU, and answers --device cuda:0 with one clean
// error line, not by exiting at start.
func TestDeviceCudaWithoutGPU(t *testing.T) {
	if n, err := cuda.Count(); err == nil && n > 0 {
		t.Skipf("this machine has %d CUDA devices", n)
	}
	stdout, stderr, code := gc(t, "version")
	if code != 0 || !strings.Contains(stdout, "cuda build") {
		t.Fatalf("version: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// It names the wgmma code the binary carries: the cubins where the
	// build made them (check-cuda's does, with CUDA 12's ptxas).
	want := "H100/H200 GEMMs: wgmma PTX"
	if _, err := os.Stat("../../gobind/fatbin/" + gobind.WgmmaPTXFile); err != nil {
		want = "H100/H200 GEMMs: not built"
	} else if _, err := os.Stat("../../gobind/fatbin/" + gobind.WgmmaCubinFile); err == nil {
		want = "sm_90a cubins by Cuda compilation tools, release"
	}
	if !strings.Contains(stdout, want) {
		t.Errorf("version: %q, want it to say %q", stdout, want)
	}
	for _, args := range [][]string{{"run", writeModel(t, identityModel()), "--random-inputs"}, {"bench", "gemm", "--sparse"}} {
		_, stderr, code = gc(t, append([]string{"--device", "cuda:0"}, args...)...)
		wantCleanError(t, stderr, code, "--device cuda:0", "no such NVIDIA GPU", "cuInit")
		if code != 1 {
			t.Errorf("%v: exit %d, want 1 (a failure of the machine, not of the command line)", args, code)
		}
	}
	if _, stderr, code = gc(t, "run", writeModel(t, identityModel()), "--random-inputs"); code != 0 {
		t.Errorf("run on the CPU: exit %d, stderr %q", code, stderr)
	}
}

// TestDeviceCudaGemmChecks: bench gemm on a GPU refuses, before making any
// operand, what the kernels cannot take or the device cannot hold.
func TestDeviceCudaGemmChecks(t *testing.T) {
	const mem = 80 << 30
	for _, c := range []struct {
		dtype  string
		sparse bool
		f      gemmFlags
		want   string // "" for none
	}{
		{"int8", false, gemmFlags{m: 8192, n: 8192, k: 8192}, ""},
		{"int8", true, gemmFlags{m: 8192, n: 8192, k: 8192, tile: "w256x192ft"}, ""},
		{"f16", false, gemmFlags{m: 100, n: 7, k: 40, tile: "w128x256t"}, ""},
		{"int8", false, gemmFlags{m: 0, n: 8, k: 16}, "must be positive"},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 40}, "multiple of 16"},
		{"f16", true, gemmFlags{m: 8, n: 8, k: 96}, "multiple of 64"},
		{"int8", false, gemmFlags{m: 1 << 20, n: 1 << 20, k: 16}, "GB"},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 16, tile: "w999"}, "--tile w999"},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 128, tile: "w256x192ft"}, "not a tile shape of the int8_dense"},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 128, vsDense: true}, "give --sparse too"},
		{"f16", true, gemmFlags{m: 8, n: 8, k: 128, vsDense: true}, ""},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 128, tile: "w128x256p", persistent: true}, ""},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 128, persistent: true}, "--persistent"},
		{"int8", false, gemmFlags{m: 8, n: 8, k: 128, tile: "w128x256t", persistent: true}, "--persistent"},
	} {
		fam, err := gemmbench.FamilyOf(c.dtype, c.sparse)
		if err != nil {
			t.Fatal(err)
		}
		err = checkDeviceGemm(fam, &c.f, mem)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %+v: %v", fam.Name, c.f, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %+v: %v, want an error with %q", fam.Name, c.f, err, c.want)
		}
	}
}
