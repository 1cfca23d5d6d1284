// Package eval measures a model on a labelled dataset: top-1 accuracy and
// the loss-free numbers the compression reports need.
package eval

import (
	"fmt"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// Result of an evaluation.
type Result struct {
	Accuracy float64 `json:"accuracy"`
	Samples  int     `json:"samples"`
	Correct  int     `json:"correct"`
}

// InputShape returns the per-batch input shape a model wants for images of
// rows x cols: its single non-constant input must be [batch, rows*cols],
// [batch, 1, rows, cols] or [batch, rows, cols]; the batch dimension may be
// symbolic (it is set to batch) or fixed (then batch must match it).
func InputShape(g *graph.Graph, batch, rows, cols int) (string, []int, error) {
	var in *graph.Value
	for _, v := range g.Inputs {
		if v.Const == nil {
			if in != nil {
				return "", nil, fmt.Errorf("model has several inputs (%q, %q); want one image input", in.Name, v.Name)
			}
			in = v
		}
	}
	if in == nil || !in.HasShape || len(in.Shape) < 2 {
		return "", nil, fmt.Errorf("model input must declare a shape like [batch, %d] or [batch, 1, %d, %d]", rows*cols, rows, cols)
	}
	shape := make([]int, len(in.Shape))
	shape[0] = batch
	if in.Shape[0].Known() {
		shape[0] = int(in.Shape[0].Size)
	}
	for i, d := range in.Shape[1:] {
		if !d.Known() {
			return "", nil, fmt.Errorf("input %q: dimension %d must be fixed", in.Name, i+1)
		}
		shape[i+1] = int(d.Size)
	}
	if tensor.Product(shape[1:]) != rows*cols {
		return "", nil, fmt.Errorf("input %q %s does not take %dx%d images", in.Name, graph.FormatShape(in.Shape), rows, cols)
	}
	return in.Name, shape, nil
}

// Accuracy runs the session over the whole dataset in batches of batch
// samples (the last batch may be smaller when the batch dimension is
// symbolic) and counts argmax(output 0) == label.
func Accuracy(sess *runtime.Session, ds *data.Dataset, batch int) (Result, error) {
	g := sess.Model().Graph
	name, shape, err := InputShape(g, batch, ds.Rows, ds.Cols)
	if err != nil {
		return Result{}, err
	}
	fixed := g.Inputs[0].Shape[0].Known()
	res := Result{}
	for start := 0; start < ds.Len(); start += shape[0] {
		n := min(shape[0], ds.Len()-start)
		if fixed && n < shape[0] {
			break // a fixed batch size cannot take the remainder
		}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = start + i
		}
		bs := append([]int{n}, shape[1:]...)
		x, err := ds.Batch(idx, bs)
		if err != nil {
			return res, err
		}
		out, err := sess.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return res, err
		}
		pred, err := Argmax(out[0])
		if err != nil {
			return res, err
		}
		if start == 0 {
			if err := ds.CheckLabels(out[0].Shape()[out[0].Rank()-1]); err != nil {
				return res, err
			}
		}
		for i, p := range pred {
			if p == ds.Labels[start+i] {
				res.Correct++
			}
		}
		res.Samples += n
	}
	if res.Samples > 0 {
		res.Accuracy = float64(res.Correct) / float64(res.Samples)
	}
	return res, nil
}

// Argmax returns, for each row of a [n, classes] float tensor, the index of
// its largest value (the first one on ties).
func Argmax(t *tensor.Tensor) ([]int, error) {
	if t.Rank() != 2 {
		return nil, fmt.Errorf("want [batch, classes] scores, got %v", t)
	}
	n, c := t.Shape()[0], t.Shape()[1]
	out := make([]int, n)
	for i := 0; i < n; i++ {
		best := 0
		for j := 1; j < c; j++ {
			if t.Float64At(i*c+j) > t.Float64At(i*c+best) {
				best = j
			}
		}
		out[i] = best
	}
	return out, nil
}
