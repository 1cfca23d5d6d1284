package cpu_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/conformance"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// fastVsRefTol is the agreement required between the fast path (SIMD
// kernels at the best CPU level, graph passes on) and the reference
// executor (pure Go kernels, no passes) on ONNX's conformance models:
// 1e-4 relative per element plus 1e-4 of the output's largest magnitude
// (the kernels sum in another order and fold BatchNorm into weights).
const fastVsRefTol = 1e-4

// TestConformanceModelsFastVsReference runs every conformance model the
// CPU backend supports twice: as the reference executor (generic level,
// runtime.Options.NoOptimize) and as shipped (best level, passes on), and
// requires the same outputs within fastVsRefTol (integers exactly).
// Models whose reference outputs differ between two runs (random ops) are
// skipped.
func TestConformanceModelsFastVsReference(t *testing.T) {
	root := testdata.RequireONNX(t)
	var roots []string
	for _, sub := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		roots = append(roots, filepath.Join(root, sub))
	}
	dirs, err := conformance.Discover(roots...)
	if err != nil {
		t.Fatal(err)
	}
	levels := cpu.SupportedCPULevels()
	best := levels[len(levels)-1]
	prev, _ := cpu.ActiveCPULevel()
	defer cpu.SetCPULevel(prev)
	compared := 0
	for _, dir := range dirs {
		m, err := onnx.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			continue
		}
		sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
		if len(sets) == 0 {
			continue
		}
		in, err := conformance.SetInputs(m.Graph, sets[0])
		if err != nil {
			continue
		}
		run := func(l cpu.CPULevel, noOpt bool) []*tensor.Tensor {
			cpu.SetCPULevel(l)
			s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 2, NoOptimize: noOpt})
			if err != nil {
				return nil
			}
			out, err := s.Run(in)
			if err != nil {
				return nil
			}
			return out
		}
		want := run(cpu.LevelGeneric, true)
		if want == nil {
			continue // unsupported or failing in the reference too: the conformance suite reports it
		}
		if again := run(cpu.LevelGeneric, true); !sameOutputs(want, again, 0) {
			continue
		}
		got := run(best, false)
		if got == nil {
			t.Errorf("%s: fails on the fast path but not in the reference", filepath.Base(dir))
			continue
		}
		if !sameOutputs(got, want, fastVsRefTol) {
			t.Errorf("%s: fast path differs from the reference by more than %g", filepath.Base(dir), fastVsRefTol)
		}
		compared++
	}
	t.Logf("%d conformance models compared at level %v against the reference executor", compared, best)
	if compared < 500 {
		t.Errorf("only %d models compared", compared)
	}
}

func sameOutputs(got, want []*tensor.Tensor, tol float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i] == nil || want[i] == nil {
			if got[i] != want[i] {
				return false
			}
			continue
		}
		scale, rtol := 0.0, 0.0 // integers and booleans: exact
		switch want[i].DType() {
		case tensor.Float32, tensor.Float64, tensor.Float16, tensor.BFloat16:
			rtol = tol
			for j := 0; j < want[i].Len(); j++ {
				if v := math.Abs(want[i].Float64At(j)); !math.IsInf(v, 0) && !math.IsNaN(v) {
					scale = math.Max(scale, v)
				}
			}
		}
		if err := conformance.Compare(got[i], want[i], rtol, rtol*scale); err != nil {
			return false
		}
	}
	return true
}
