//go:build gcompress_emu

package emu

import (
	"os"
	"testing"

	"github.com/gcompress/gcompress/kernels/kerneltest"
)

// The shared kernel suites against the emulated kernels (Tiny sizes: every
// GPU thread is a fiber here), and the launch-path diagnostics.

func report(t *testing.T, rs []kerneltest.Result) {
	t.Helper()
	if testing.Verbose() {
		kerneltest.WriteSummary(os.Stdout, rs)
	}
}

func TestEmulatedDiagnostics(t *testing.T) {
	rs := NewRunner().Harness().Diagnostics()
	for _, r := range rs {
		if !r.Pass {
			t.Errorf("%s %s: %s", r.Suite, r.Case, r.Detail)
		}
	}
	report(t, rs)
}

// TestEmulatedGemm: every dense and 2:4 suite in every tile shape.
func TestEmulatedGemm(t *testing.T) {
	report(t, NewRunner().Harness().GemmSuites(t, kerneltest.Tiny))
}

func TestEmulatedElementwise(t *testing.T) {
	report(t, kerneltest.Elementwise(t, NewRunner().Harness().ElemImpl, kerneltest.Tiny))
}
