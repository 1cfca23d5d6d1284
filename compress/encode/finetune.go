package encode

import (
	"fmt"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

// Finetune configures FinetuneCentroids.
type Finetune struct {
	Data     train.Data
	Config   train.Config
	Progress train.Progress
	// Mean moves each centroid by the mean of its weights' updates instead
	// of their sum.
	Mean bool
}

// FinetuneCentroids fine-tunes the shared values of plan with the training
// engine (Deep Compression's centroid fine-tuning): m is set to the plan's
// values, then trained with SGD; after every solver step, each centroid c
// of a trained weight moves by the sum (or, with Mean, the mean) of the
// updates the solver made to the weights of its cluster,
//
//	c <- c + Σ_{i in cluster} (w_i - c),
//
// which for SGD (with momentum and weight decay, both linear in the
// gradient) is the step with gradient Σ_i ∂L/∂w_i, the paper's
// dL/dC_k = Σ_{i: I_i = k} ∂L/∂W_i; then every weight is reset to its
// centroid. Pruned positions stay zero (train.Hooks.Masks), and the other
// parameters (biases) train normally. On return the plan's codebooks hold
// the fine-tuned centroids and m the quantized weights; shared tensors that
// are not trained parameters (running statistics) are re-clustered.
func FinetuneCentroids(m *graph.Model, plan Plan, ft Finetune) (*train.Result, error) {
	if k := strings.ToLower(ft.Config.Solver.Kind); k != "" && k != "sgd" {
		return nil, fmt.Errorf("centroid fine-tuning needs SGD (the cluster update is linear in the gradient), not %s", ft.Config.Solver.Kind)
	}
	if err := plan.Apply(m); err != nil {
		return nil, err
	}
	masks := map[string][]float32{}
	for _, name := range plan.Names() {
		tp := plan[name]
		if tp.Encoding != encSparse {
			continue
		}
		mk := make([]float32, tensor.Product(tp.Shape))
		for _, at := range tp.Pos {
			mk[at] = 1
		}
		masks[name] = mk
	}
	var params map[string]*train.Param
	hook := func(net *train.Net, s train.BatchStats) error {
		if params == nil {
			params = map[string]*train.Param{}
			for _, p := range net.Params {
				if !p.Frozen {
					params[p.Name] = p
				}
			}
		}
		for _, name := range plan.Names() {
			tp := plan[name]
			p, ok := params[name]
			if !ok || tp.Shared == nil {
				continue
			}
			updateCentroids(tp, p.Data, ft.Mean)
		}
		return nil
	}
	// Only masks of trained parameters can be handed to the trainer.
	net, err := train.Build(m, train.BuildOptions{Batch: 1, Mode: train.Inference})
	if err != nil {
		return nil, err
	}
	trained := map[string]bool{}
	for _, p := range net.Params {
		trained[p.Name] = true
	}
	for name := range masks {
		if !trained[name] {
			delete(masks, name)
		}
	}
	res, err := train.Train(m, ft.Data, ft.Config, train.Hooks{Masks: masks, AfterStep: hook, Progress: ft.Progress})
	if err != nil {
		return nil, fmt.Errorf("centroid fine-tuning: %w", err)
	}
	for _, name := range plan.Names() {
		tp := plan[name]
		if tp.Shared == nil || trained[name] || len(tp.Shared.Index) == 0 {
			continue // (nothing stored: an all-zero sparse tensor)
		}
		d := m.Graph.Value(name).Const.F32()
		vals := d
		if tp.Encoding == encSparse {
			vals = make([]float32, len(tp.Pos))
			for j, at := range tp.Pos {
				vals[j] = d[at]
			}
		}
		s, err := KMeans(vals, len(tp.Shared.Codebook), 100, tp.Half)
		if err != nil {
			return nil, err
		}
		tp.Shared = s
	}
	if err := plan.Apply(m); err != nil {
		return nil, err
	}
	return res, nil
}

// updateCentroids applies the cluster update to the codebook of tp from
// the weights w the solver just updated, and resets w to the centroids.
func updateCentroids(tp *TensorPlan, w []float32, mean bool) {
	s := tp.Shared
	k := len(s.Codebook)
	sum := make([]float64, k)
	cnt := make([]int, k)
	at := func(j int) int {
		if tp.Encoding == encSparse {
			return int(tp.Pos[j])
		}
		return j
	}
	for j, c := range s.Index {
		sum[c] += float64(w[at(j)]) - float64(s.Codebook[c])
		cnt[c]++
	}
	for c := range s.Codebook {
		if cnt[c] == 0 {
			continue
		}
		d := sum[c]
		if mean {
			d /= float64(cnt[c])
		}
		v := float32(float64(s.Codebook[c]) + d)
		if tp.Half {
			v = tensor.NewF16(v).Float32()
		}
		s.Codebook[c] = v
	}
	for j, c := range s.Index {
		w[at(j)] = s.Codebook[c]
	}
}
