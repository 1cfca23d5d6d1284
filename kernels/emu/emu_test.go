//go:build gcompress_emu

package emu

import (
	"os"
	"testing"

	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
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

func TestEmulatedInt8Gemm(t *testing.T) {
	report(t, kerneltest.Int8GEMM(t, NewRunner().Harness().GemmImpl, kerneltest.Tiny))
}

func TestEmulatedHalfGemm(t *testing.T) {
	h := NewRunner().Harness()
	for _, in := range []ref.Elem{ref.F16, ref.BF16} {
		report(t, kerneltest.HalfGEMM(t, in, h.GemmImpl, kerneltest.Tiny))
	}
}

func TestEmulatedSparseGemm(t *testing.T) {
	h := NewRunner().Harness()
	for _, in := range []ref.Elem{ref.S8, ref.F16, ref.BF16} {
		report(t, kerneltest.SparseGEMM(t, in, h.SparseImpl, kerneltest.Tiny))
	}
}

func TestEmulatedElementwise(t *testing.T) {
	report(t, kerneltest.Elementwise(t, NewRunner().Harness().ElemImpl, kerneltest.Tiny))
}
