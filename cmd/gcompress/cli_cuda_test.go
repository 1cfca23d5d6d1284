//go:build gcompress_cuda

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
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
