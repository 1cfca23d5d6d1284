//go:build !gcompress_cuda

package main

import "testing"

// buildTags are the tags TestMain builds gcBinary with: the CPU build.
const buildTags = ""

// TestDeviceCudaInCPUBuild: the CPU build answers --device cuda:N with a
// usage error that points at the cuda build.
func TestDeviceCudaInCPUBuild(t *testing.T) {
	for _, args := range [][]string{{"run", writeModel(t, identityModel()), "--random-inputs"}, {"bench", "gemm", "--sparse"}} {
		_, stderr, code := gc(t, append([]string{"--device", "cuda:0"}, args...)...)
		wantCleanError(t, stderr, code, "cuda build")
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 for a usage error", args, code)
		}
	}
}
