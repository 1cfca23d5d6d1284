package train

import (
	"fmt"
	"math"
)

// Schedule is a learning-rate schedule evaluated once per optimisation
// step. With s the step index (from 0), S the steps per epoch, N the total
// number of steps, W = WarmupEpochs * S and base the base rate:
//
//	warm-up (s < W):  lr = base * (s + 1) / W
//	constant:         lr = base
//	step:             lr = base * Gamma^floor(s / (StepEpochs * S))
//	cosine:           lr = Min + (base - Min) (1 + cos(pi (s - W) / (N - W))) / 2
type Schedule struct {
	Kind         string  `json:"kind"` // "constant", "step" or "cosine"
	Base         float64 `json:"base"`
	WarmupEpochs float64 `json:"warmup_epochs,omitempty"`
	StepEpochs   int     `json:"step_epochs,omitempty"`
	Gamma        float64 `json:"gamma,omitempty"`
	Min          float64 `json:"min,omitempty"`
}

// Validate checks the schedule's parameters.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "", "constant", "cosine":
	case "step":
		if s.StepEpochs <= 0 || !(s.Gamma > 0 && s.Gamma <= math.MaxFloat64) {
			return fmt.Errorf("step schedule needs step epochs > 0 and a finite gamma > 0, got %d and %v", s.StepEpochs, s.Gamma)
		}
	default:
		return fmt.Errorf("unknown learning-rate schedule %q (constant, step, cosine)", s.Kind)
	}
	if s.Base <= 0 || math.IsNaN(s.Base) || math.IsInf(s.Base, 0) {
		return fmt.Errorf("learning rate %v must be positive and finite", s.Base)
	}
	if !(s.WarmupEpochs >= 0 && s.WarmupEpochs <= math.MaxInt32) {
		return fmt.Errorf("warm-up epochs %v: want 0 to 2^31-1", s.WarmupEpochs)
	}
	if !(s.Min >= 0 && s.Min <= math.MaxFloat64) {
		return fmt.Errorf("minimum learning rate %v must be finite and >= 0", s.Min)
	}
	return nil
}

// LR returns the learning rate of step s of n, with perEpoch steps per
// epoch.
func (s Schedule) LR(step, perEpoch, n int) float64 {
	warm := int(math.Round(s.WarmupEpochs * float64(perEpoch)))
	if step < warm {
		return s.Base * float64(step+1) / float64(warm)
	}
	switch s.Kind {
	case "step":
		return s.Base * math.Pow(s.Gamma, math.Floor(float64(step)/float64(s.StepEpochs*perEpoch)))
	case "cosine":
		span := n - warm
		if span <= 0 {
			return s.Base
		}
		return s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*float64(step-warm)/float64(span)))/2
	}
	return s.Base
}
