package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gcompress/gcompress/graph"
)

// GradCheck is the gradient check of one parameter: the derivative of the
// loss along a random unit direction d, from backpropagation (Analytic) and
// from the central difference (L(w + eps d) - L(w - eps d)) / (2 eps)
// (Numeric), and their relative difference
// |a - n| / max(|a|, |n|, floor).
type GradCheck struct {
	Param    string
	Analytic float64
	Numeric  float64
	RelErr   float64
}

// CheckGradients verifies backpropagation through m with loss on one batch
// of the given size (images x, in the model's input layout, and b's
// labels, one per row of the logits): it builds m in training mode, draws the dropout masks
// once from seed and keeps them, and checks every trainable parameter
// along a random direction. Use it for new ops and losses. The loss is
// computed in float32, so eps around 1e-2 balances rounding (~1e-7 |L| /
// eps) against truncation (O(eps^2)); floor keeps gradients that are
// truly ~0 from producing large relative errors.
func CheckGradients(m *graph.Model, loss Loss, batch int, b *Batch, x []float32, eps, floor float64, seed uint64) ([]GradCheck, error) {
	net, err := Build(m, BuildOptions{Batch: batch, Mode: Training})
	if err != nil {
		return nil, err
	}
	st, err := newStepper(net, loss)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x67726164))
	net.fillDropout(rng)
	eval := func() (float64, error) {
		if err := net.SetInput(x); err != nil {
			return 0, err
		}
		if err := loss.Feed(b); err != nil {
			return 0, err
		}
		return st.run()
	}
	if _, err := eval(); err != nil {
		return nil, err
	}
	grads, err := st.gradients()
	if err != nil {
		return nil, err
	}
	analytic := make([][]float32, len(grads))
	for i, g := range grads {
		analytic[i] = append([]float32(nil), g...)
	}
	var out []GradCheck
	for i, p := range st.trainable {
		d := make([]float32, len(p.Data))
		var norm float64
		for j := range d {
			d[j] = float32(rng.NormFloat64())
			norm += float64(d[j]) * float64(d[j])
		}
		norm = math.Sqrt(norm)
		var dir float64
		for j := range d {
			d[j] /= float32(norm)
			dir += float64(analytic[i][j]) * float64(d[j])
		}
		orig := append([]float32(nil), p.Data...)
		at := func(sign float64) (float64, error) {
			for j := range p.Data {
				p.Data[j] = orig[j] + float32(sign*eps)*d[j]
			}
			return eval()
		}
		lp, err := at(1)
		if err != nil {
			return nil, err
		}
		lm, err := at(-1)
		if err != nil {
			return nil, err
		}
		copy(p.Data, orig)
		num := (lp - lm) / (2 * eps)
		rel := math.Abs(dir-num) / math.Max(math.Max(math.Abs(dir), math.Abs(num)), floor)
		if math.IsNaN(rel) {
			return nil, fmt.Errorf("gradient check of %q: NaN", p.Name)
		}
		out = append(out, GradCheck{Param: p.Name, Analytic: dir, Numeric: num, RelErr: rel})
	}
	return out, nil
}
