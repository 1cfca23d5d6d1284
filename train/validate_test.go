package train

import (
	"math"
	"testing"
)

// TestNaNAndInfRefused: every training setting checked by a comparison is
// refused as NaN (which fails every comparison) and as an infinity.
func TestNaNAndInfRefused(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	d := smallData(t, 40)
	for _, f := range []float64{nan, inf, -inf, 1} {
		if _, _, err := SplitValidation(d.Train, f, 1); err == nil {
			t.Errorf("SplitValidation(%v) accepted", f)
		}
	}
	for _, c := range []SolverConfig{
		{Kind: "sgd", Momentum: nan}, {Kind: "sgd", WeightDecay: nan}, {Kind: "sgd", WeightDecay: inf},
		{Kind: "adam", Beta1: nan}, {Kind: "adam", Beta2: nan}, {Kind: "adam", Eps: nan}, {Kind: "adam", WeightDecay: nan},
	} {
		if _, err := NewSolver(c); err == nil {
			t.Errorf("NewSolver(%+v) accepted", c)
		}
	}
	for _, s := range []Schedule{
		{Kind: "step", Base: 0.1, StepEpochs: 1, Gamma: nan}, {Kind: "step", Base: 0.1, StepEpochs: 1, Gamma: inf},
		{Kind: "constant", Base: 0.1, WarmupEpochs: nan}, {Kind: "constant", Base: 0.1, WarmupEpochs: inf},
		{Kind: "cosine", Base: 0.1, Min: nan}, {Kind: "constant", Base: nan},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", s)
		}
	}
	if _, err := NewSolver(SolverConfig{Kind: "sgd", Momentum: 0.9, WeightDecay: 5e-4}); err != nil {
		t.Errorf("a valid solver: %v", err)
	}
	if err := (Schedule{Kind: "step", Base: 0.1, StepEpochs: 2, Gamma: 0.5, WarmupEpochs: 1}).Validate(); err != nil {
		t.Errorf("a valid schedule: %v", err)
	}
}
