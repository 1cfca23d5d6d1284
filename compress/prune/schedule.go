package prune

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/train"
)

// Retrain is how pruned weights are retrained: the training engine's data,
// configuration and progress sink. Epochs 0 means no retraining.
type Retrain struct {
	Data     train.Data
	Config   train.Config
	Progress train.Progress
}

// Finetune trains m in place with the masks held: pruned weights are zero
// before the first step and stay zero (train.Hooks.Masks zeroes their
// gradients and re-applies the masks after every solver step).
func Finetune(m *graph.Model, ms Masks, rt Retrain) (*train.Result, error) {
	if err := ms.Apply(m); err != nil {
		return nil, err
	}
	if rt.Config.Epochs <= 0 {
		return nil, nil
	}
	res, err := train.Train(m, rt.Data, rt.Config, train.Hooks{Masks: ms.TrainMasks(), Progress: rt.Progress})
	if err != nil {
		return nil, fmt.Errorf("prune: retraining: %w", err)
	}
	return res, nil
}

// Criterion computes masks for a target: the per-layer or global
// magnitude criterion (prev: masks of an earlier round, whose pruned
// weights stay pruned).
type Criterion func(layers []*Layer, target Ratios, prev Masks) (Masks, error)

// LayerwiseMagnitude is Magnitude as a Criterion.
func LayerwiseMagnitude(layers []*Layer, target Ratios, prev Masks) (Masks, error) {
	return Magnitude(layers, target, prev)
}

// GlobalCriterion is GlobalMagnitude as a Criterion (target.Default is the
// overall sparsity; per-layer entries are not allowed).
func GlobalCriterion(layers []*Layer, target Ratios, prev Masks) (Masks, error) {
	if len(target.PerLayer) > 0 {
		return nil, fmt.Errorf("a global threshold takes one sparsity, not per-layer ratios")
	}
	return GlobalMagnitude(layers, target.Default, prev)
}

// Scale returns the ratios of round r of R of an iterative schedule: each
// layer keeps (1 - s)^(r/R) of its weights, s its final ratio (the kept
// fraction shrinks geometrically, the same factor every round).
func (r Ratios) Scale(round, rounds int) Ratios {
	f := func(s float64) float64 { return 1 - math.Pow(1-s, float64(round)/float64(rounds)) }
	out := Ratios{Default: f(r.Default)}
	if r.PerLayer != nil {
		out.PerLayer = map[string]float64{}
		for k, v := range r.PerLayer {
			out.PerLayer[k] = f(v)
		}
	}
	return out
}

// RoundResult is one round of an iterative schedule.
type RoundResult struct {
	Round    int           `json:"round"`
	Sparsity float64       `json:"sparsity"`
	Result   *train.Result `json:"retrain,omitempty"`
}

// Iterative prunes m in rounds (rounds = 1 is one-shot pruning followed by
// retraining): round r prunes to target.Scale(r, rounds) with crit, on top
// of the previous round's masks, and retrains with rt. It returns the
// final masks (applied to m) and the rounds.
func Iterative(m *graph.Model, layers []*Layer, target Ratios, rounds int, crit Criterion, rt Retrain) (Masks, []RoundResult, error) {
	if rounds < 1 {
		return nil, nil, fmt.Errorf("prune: %d rounds", rounds)
	}
	var ms Masks
	var out []RoundResult
	for r := 1; r <= rounds; r++ {
		next, err := crit(layers, target.Scale(r, rounds), ms)
		if err != nil {
			return nil, nil, fmt.Errorf("prune: round %d: %w", r, err)
		}
		ms = next
		res, err := Finetune(m, ms, rt)
		if err != nil {
			return nil, nil, fmt.Errorf("prune: round %d: %w", r, err)
		}
		out = append(out, RoundResult{Round: r, Sparsity: ms.Sparsity(), Result: res})
	}
	return ms, out, nil
}

// GradualSchedule is Zhu & Gupta's (2017) gradual pruning schedule: at
// steps t = t0, t0 + Δt, ..., t0 + nΔt the sparsity of each layer is set
// to
//
//	s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n Δt))^3
//
// (s_i the initial, s_f the final sparsity of the layer), pruning the
// smallest-magnitude weights still kept; training continues with the
// final masks after t0 + nΔt. The cubic prunes fast while the network is
// redundant and slowly near the target.
type GradualSchedule struct {
	// Start (t0) and End (t0 + nΔt) as fractions of the training steps,
	// Every (Δt) in steps.
	Start, End float64
	Every      int
	// Initial is s_i (usually 0).
	Initial float64
}

// At returns the fraction of the way from s_i to s_f at step t of total:
// 1 - (1 - (t - t0)/(nΔt))^3 clamped to [0, 1], evaluated only at pruning
// steps (t0 + kΔt, and the last one forced to 1).
func (g GradualSchedule) At(step, total int) (frac float64, prune bool) {
	t0 := int(math.Round(g.Start * float64(total)))
	t1 := int(math.Round(g.End * float64(total)))
	if step < t0 || (step-t0)%max(g.Every, 1) != 0 && step != t1 || step > t1 {
		return 0, false
	}
	if t1 <= t0 {
		return 1, true
	}
	x := min(1, float64(step-t0)/float64(t1-t0))
	return 1 - math.Pow(1-x, 3), true
}

// Validate checks the schedule.
func (g GradualSchedule) Validate() error {
	if !(g.Start >= 0 && g.Start <= g.End && g.End <= 1) {
		return fmt.Errorf("gradual pruning: need 0 <= start <= end <= 1, got %v, %v", g.Start, g.End)
	}
	if g.Every < 1 {
		return fmt.Errorf("gradual pruning: prune every %d steps", g.Every)
	}
	if !(g.Initial >= 0 && g.Initial < 1) {
		return fmt.Errorf("gradual pruning: initial sparsity %v outside [0, 1)", g.Initial)
	}
	return nil
}

// GradualEvent records one pruning step.
type GradualEvent struct {
	Step     int     `json:"step"`
	Sparsity float64 `json:"sparsity"`
}

// Gradual trains m for rt.Config.Epochs epochs while pruning it with the
// schedule towards target (per layer, magnitude criterion). The masks are
// updated in place between solver steps (a train.Hooks.AfterStep hook) and
// re-applied to the weights after every step, so a pruned weight is zero
// in every forward pass after its pruning step. It returns the final
// masks (applied to m), the pruning events and the training result.
func Gradual(m *graph.Model, layers []*Layer, target Ratios, sched GradualSchedule, rt Retrain) (Masks, []GradualEvent, *train.Result, error) {
	if err := sched.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if err := target.Check(layers); err != nil {
		return nil, nil, nil, err
	}
	if rt.Config.Epochs <= 0 || rt.Data.Train == nil {
		return nil, nil, nil, fmt.Errorf("gradual pruning needs training (epochs and data)")
	}
	ms := Masks{}
	for _, l := range layers {
		ms[l.Name()] = NewMask(l.Name(), l.Weight.Const.Shape())
	}
	floats := ms.TrainMasks() // shared with the trainer: updated in place
	total := rt.Config.Epochs * (rt.Data.Train.Len() / rt.Config.Batch)
	var events []GradualEvent
	byName := map[string]*train.Param{}
	hook := func(net *train.Net, s train.BatchStats) error {
		if len(byName) == 0 {
			for _, p := range net.Params {
				byName[p.Name] = p
			}
		}
		// s.Step counts finished steps; the schedule is evaluated at the
		// step about to run.
		if frac, ok := sched.At(s.Step, total); ok {
			for _, l := range layers {
				p := byName[l.Name()]
				if p == nil {
					return fmt.Errorf("gradual pruning: %q is not a trained parameter", l.Name())
				}
				fin := target.For(l)
				goal := sched.Initial + (fin-sched.Initial)*frac
				if goal > fin {
					goal = fin
				}
				pruneTo(p.Data, ms[l.Name()], goal)
			}
			events = append(events, GradualEvent{Step: s.Step, Sparsity: ms.Sparsity()})
		}
		for _, l := range layers {
			mk, f := ms[l.Name()], floats[l.Name()]
			p := byName[l.Name()]
			for i, k := range mk.Keep {
				if !k {
					f[i] = 0
					p.Data[i] = 0
				}
			}
		}
		return nil
	}
	res, err := train.Train(m, rt.Data, rt.Config, train.Hooks{Masks: floats, AfterStep: hook, Progress: rt.Progress})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("prune: gradual: %w", err)
	}
	if err := ms.Apply(m); err != nil {
		return nil, nil, nil, err
	}
	return ms, events, res, nil
}

// pruneTo prunes the smallest-magnitude kept weights of w until the mask's
// sparsity reaches goal (never unpruning).
func pruneTo(w []float32, mk *Mask, goal float64) {
	want := int(math.Round(goal * float64(len(w))))
	pruned := len(w) - mk.Kept()
	if want <= pruned {
		return
	}
	idx := make([]int, 0, len(w)-pruned)
	for i, k := range mk.Keep {
		if k {
			idx = append(idx, i)
		}
	}
	sortByMagnitude(idx, w)
	for _, i := range idx[:want-pruned] {
		mk.Keep[i] = false
	}
}
