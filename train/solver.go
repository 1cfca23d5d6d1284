package train

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gcompress/gcompress/tensor"
)

// SolverConfig selects and parameterises the optimiser.
type SolverConfig struct {
	// Kind is "sgd" (with momentum) or "adam".
	Kind string `json:"kind"`
	// Momentum is the SGD momentum mu (0 for plain SGD).
	Momentum float64 `json:"momentum,omitempty"`
	// Nesterov selects Nesterov momentum for SGD.
	Nesterov bool `json:"nesterov,omitempty"`
	// WeightDecay is the L2 coefficient lambda, applied to weights of rank
	// >= 2 only (not to biases or normalisation parameters).
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Adam's beta1, beta2 and epsilon (defaults 0.9, 0.999, 1e-8).
	Beta1 float64 `json:"beta1,omitempty"`
	Beta2 float64 `json:"beta2,omitempty"`
	Eps   float64 `json:"eps,omitempty"`
}

// Solver updates parameters from their gradients. State and SetState
// expose everything a checkpoint needs to resume bit-exactly.
type Solver interface {
	// Step applies one update with learning rate lr; grads[i] belongs to
	// params[i].
	Step(lr float64, params []*Param, grads [][]float32) error
	// State returns the solver's tensors, named "<kind>/<param>/<slot>".
	State() []tensor.NamedTensor
	// SetState restores tensors returned by State.
	SetState(ts []tensor.NamedTensor) error
}

// NewSolver returns the solver of cfg.
func NewSolver(cfg SolverConfig) (Solver, error) {
	if !(cfg.WeightDecay >= 0 && cfg.WeightDecay <= math.MaxFloat32) {
		return nil, fmt.Errorf("weight decay %v: want a float32 value >= 0", cfg.WeightDecay)
	}
	switch strings.ToLower(cfg.Kind) {
	case "", "sgd":
		if !(cfg.Momentum >= 0 && cfg.Momentum < 1) {
			return nil, fmt.Errorf("sgd: momentum %v outside [0, 1)", cfg.Momentum)
		}
		return &sgd{cfg: cfg, vel: map[string][]float32{}}, nil
	case "adam":
		c := cfg
		if c.Beta1 == 0 {
			c.Beta1 = 0.9
		}
		if c.Beta2 == 0 {
			c.Beta2 = 0.999
		}
		if c.Eps == 0 {
			c.Eps = 1e-8
		}
		if !(c.Beta1 >= 0 && c.Beta1 < 1 && c.Beta2 >= 0 && c.Beta2 < 1 && c.Eps > 0) {
			return nil, fmt.Errorf("adam: need 0 <= beta1, beta2 < 1 and eps > 0, got %v %v %v", c.Beta1, c.Beta2, c.Eps)
		}
		return &adam{cfg: c, m: map[string][]float32{}, v: map[string][]float32{}}, nil
	}
	return nil, fmt.Errorf("unknown solver %q (sgd, adam)", cfg.Kind)
}

func decays(p *Param) bool { return len(p.Shape) >= 2 }

// sgd is stochastic gradient descent with momentum and L2 weight decay
// (the PyTorch formulation):
//
//	g' = g + lambda w          (weights of rank >= 2)
//	v  = mu v + g'
//	w -= lr v                  (or w -= lr (g' + mu v) with Nesterov)
type sgd struct {
	cfg SolverConfig
	vel map[string][]float32
}

func (s *sgd) Step(lr float64, params []*Param, grads [][]float32) error {
	mu, wd := float32(s.cfg.Momentum), float32(s.cfg.WeightDecay)
	step := float32(lr)
	for i, p := range params {
		g := grads[i]
		if len(g) != len(p.Data) {
			return fmt.Errorf("sgd: %q has %d values but %d gradients", p.Name, len(p.Data), len(g))
		}
		lam := float32(0)
		if decays(p) {
			lam = wd
		}
		if mu == 0 {
			for j, w := range p.Data {
				p.Data[j] = w - step*(g[j]+lam*w)
			}
			continue
		}
		v := s.vel[p.Name]
		if v == nil {
			v = make([]float32, len(p.Data))
			s.vel[p.Name] = v
		}
		for j, w := range p.Data {
			gj := g[j] + lam*w
			v[j] = mu*v[j] + gj
			if s.cfg.Nesterov {
				p.Data[j] = w - step*(gj+mu*v[j])
			} else {
				p.Data[j] = w - step*v[j]
			}
		}
	}
	return nil
}

func (s *sgd) State() []tensor.NamedTensor { return stateTensors("sgd", "velocity", s.vel) }

func (s *sgd) SetState(ts []tensor.NamedTensor) error {
	return setStateTensors(ts, map[string]map[string][]float32{"sgd/velocity": s.vel})
}

// adam is Adam (Kingma and Ba, 2015) with L2 weight decay added to the
// gradient:
//
//	g' = g + lambda w          (weights of rank >= 2)
//	m  = b1 m + (1 - b1) g'
//	v  = b2 v + (1 - b2) g'^2
//	w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
type adam struct {
	cfg  SolverConfig
	t    int64
	m, v map[string][]float32
}

func (a *adam) Step(lr float64, params []*Param, grads [][]float32) error {
	a.t++
	b1, b2 := a.cfg.Beta1, a.cfg.Beta2
	c1 := 1 - math.Pow(b1, float64(a.t))
	c2 := 1 - math.Pow(b2, float64(a.t))
	fb1, fb2, eps, wd := float32(b1), float32(b2), float32(a.cfg.Eps), float32(a.cfg.WeightDecay)
	for i, p := range params {
		g := grads[i]
		if len(g) != len(p.Data) {
			return fmt.Errorf("adam: %q has %d values but %d gradients", p.Name, len(p.Data), len(g))
		}
		m, v := a.m[p.Name], a.v[p.Name]
		if m == nil {
			m, v = make([]float32, len(p.Data)), make([]float32, len(p.Data))
			a.m[p.Name], a.v[p.Name] = m, v
		}
		lam := float32(0)
		if decays(p) {
			lam = wd
		}
		for j, w := range p.Data {
			gj := g[j] + lam*w
			m[j] = fb1*m[j] + (1-fb1)*gj
			v[j] = fb2*v[j] + (1-fb2)*gj*gj
			mh := float64(m[j]) / c1
			vh := float64(v[j]) / c2
			p.Data[j] = w - float32(lr*mh/(math.Sqrt(vh)+float64(eps)))
		}
	}
	return nil
}

func (a *adam) State() []tensor.NamedTensor {
	out := []tensor.NamedTensor{{Name: "adam/t", Tensor: tensor.Scalar(a.t)}}
	out = append(out, stateTensors("adam", "m", a.m)...)
	return append(out, stateTensors("adam", "v", a.v)...)
}

func (a *adam) SetState(ts []tensor.NamedTensor) error {
	for _, t := range ts {
		if t.Name == "adam/t" {
			if t.Tensor.DType() != tensor.Int64 || t.Tensor.Len() != 1 {
				return fmt.Errorf("adam: step count must be an int64 scalar")
			}
			a.t = t.Tensor.I64()[0]
		}
	}
	return setStateTensors(ts, map[string]map[string][]float32{"adam/m": a.m, "adam/v": a.v})
}

// stateTensors names each slot "<kind>/<slot>/<param>", sorted by name.
func stateTensors(kind, slot string, m map[string][]float32) []tensor.NamedTensor {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]tensor.NamedTensor, 0, len(names))
	for _, n := range names {
		out = append(out, tensor.NamedTensor{Name: kind + "/" + slot + "/" + n,
			Tensor: tensor.FromSlice([]int{len(m[n])}, append([]float32(nil), m[n]...))})
	}
	return out
}

func setStateTensors(ts []tensor.NamedTensor, slots map[string]map[string][]float32) error {
	for _, t := range ts {
		for prefix, m := range slots {
			name, ok := strings.CutPrefix(t.Name, prefix+"/")
			if !ok {
				continue
			}
			if t.Tensor.DType() != tensor.Float32 {
				return fmt.Errorf("solver state %q is %v, want float32", t.Name, t.Tensor.DType())
			}
			m[name] = append([]float32(nil), t.Tensor.F32()...)
		}
	}
	return nil
}
