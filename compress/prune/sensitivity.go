package prune

import (
	"fmt"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

// DefaultSensitivityGrid are the per-layer ratios a sensitivity scan
// tries.
var DefaultSensitivityGrid = []float64{0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98}

// SensitivityPoint is the accuracy with one layer pruned to Sparsity.
type SensitivityPoint struct {
	Sparsity float64 `json:"sparsity"`
	Accuracy float64 `json:"accuracy"`
}

// LayerSensitivity is one layer's curve and the ratio chosen for it.
type LayerSensitivity struct {
	Node   string             `json:"node"`
	Weight string             `json:"weight"`
	Params int                `json:"params"`
	Points []SensitivityPoint `json:"points"`
	// Chosen is the largest ratio of the grid (in grid order) before the
	// first one whose accuracy fell below the budget (0 when the first
	// did).
	Chosen float64 `json:"chosen"`
}

// Sensitivity is Han et al.'s (2015) sensitivity analysis: each layer is
// pruned alone (magnitude criterion, no retraining) at every ratio of
// grid (increasing), the model evaluated on ds, and the layer gets the
// largest ratio before the first whose accuracy falls below the unpruned
// accuracy minus budget (a fraction: 0.005 is half a point). m is left as it was. It returns the
// unpruned accuracy, the curves, and the chosen ratios.
func Sensitivity(m *graph.Model, layers []*Layer, ds *data.Dataset, grid []float64, budget float64, threads int) (float64, []LayerSensitivity, Ratios, error) {
	if ds == nil || ds.Len() == 0 {
		return 0, nil, Ratios{}, fmt.Errorf("sensitivity: no evaluation data")
	}
	if budget < 0 {
		return 0, nil, Ratios{}, fmt.Errorf("sensitivity: budget %v < 0", budget)
	}
	base, err := train.Evaluate(m, ds, threads)
	if err != nil {
		return 0, nil, Ratios{}, fmt.Errorf("sensitivity: %w", err)
	}
	ratios := Ratios{PerLayer: map[string]float64{}}
	var out []LayerSensitivity
	for _, l := range layers {
		orig := l.Weight.Const
		ls := LayerSensitivity{Node: l.Node.Name, Weight: l.Name(), Params: l.Params()}
		order := rankLayer(l, nil)
		failed := false
		for _, s := range grid {
			if !(s >= 0 && s < 1) {
				return 0, nil, Ratios{}, fmt.Errorf("sensitivity: ratio %v outside [0, 1)", s)
			}
			d := append([]float32(nil), orig.F32()...)
			for _, i := range order[:int(s*float64(len(d))+0.5)] {
				d[i] = 0
			}
			l.Weight.Const = tensor.FromSlice(orig.Shape(), d)
			acc, err := train.Evaluate(m, ds, threads)
			l.Weight.Const = orig
			if err != nil {
				return 0, nil, Ratios{}, fmt.Errorf("sensitivity: %s at %v: %w", l.Node.Name, s, err)
			}
			ls.Points = append(ls.Points, SensitivityPoint{Sparsity: s, Accuracy: acc.Accuracy})
			if acc.Accuracy < base.Accuracy-budget-1e-12 {
				failed = true
			} else if !failed && s > ls.Chosen {
				ls.Chosen = s
			}
		}
		ratios.PerLayer[l.Node.Name] = ls.Chosen
		out = append(out, ls)
	}
	return base.Accuracy, out, ratios, nil
}
