// Package eval measures a model on a labelled dataset: top-1 accuracy and
// the loss-free numbers the compression reports need.
package eval

import (
	"fmt"
	"strconv"
	"strings"

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

// InputShape returns the per-batch input shape a model wants for samples
// of shape sample ([rows, cols] for images): its single non-constant input
// must be [batch, ...] holding as many elements per sample, such as
// [batch, rows*cols], [batch, 1, rows, cols] or [batch, rows, cols]. The
// batch dimension may be symbolic (it is set to batch) or fixed (then
// batch must match it); other symbolic dimensions are taken from sample
// when the input has one more dimension than sample.
func InputShape(g *graph.Graph, batch int, sample []int) (string, []int, error) {
	var in *graph.Value
	for _, v := range g.Inputs {
		if v.Const == nil {
			if in != nil {
				return "", nil, fmt.Errorf("model has several inputs (%q, %q); want one input", in.Name, v.Name)
			}
			in = v
		}
	}
	per := tensor.Product(sample)
	if in == nil || !in.HasShape || len(in.Shape) < 2 {
		return "", nil, fmt.Errorf("model input must declare a shape like [batch, %d] or [batch, %s]", per, shapeList(sample))
	}
	shape := make([]int, len(in.Shape))
	shape[0] = batch
	if in.Shape[0].Known() {
		shape[0] = int(in.Shape[0].Size)
	}
	if shape[0] < 1 {
		return "", nil, fmt.Errorf("input %q %s: batch size %d must be at least 1", in.Name, graph.FormatShape(in.Shape), shape[0])
	}
	for i, d := range in.Shape[1:] {
		switch {
		case d.Known():
			shape[i+1] = int(d.Size)
		case len(in.Shape) == len(sample)+1:
			shape[i+1] = sample[i]
		default:
			return "", nil, fmt.Errorf("input %q: dimension %d must be fixed", in.Name, i+1)
		}
	}
	if tensor.Product(shape[1:]) != per {
		return "", nil, fmt.Errorf("input %q %s does not take samples of shape %v", in.Name, graph.FormatShape(in.Shape), sample)
	}
	return in.Name, shape, nil
}

// FixedBatch reports whether the model's input name has a fixed batch
// size (its first dimension known).
func FixedBatch(g *graph.Graph, name string) bool {
	for _, v := range g.Inputs {
		if v.Name == name {
			return len(v.Shape) > 0 && v.Shape[0].Known()
		}
	}
	return false
}

// shapeList writes a shape as "3, 224, 224".
func shapeList(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, ", ")
}

// Accuracy runs the session over the whole dataset in batches of batch
// samples (the last batch may be smaller when the batch dimension is
// symbolic) and counts argmax(output 0) == label.
func Accuracy(sess *runtime.Session, ds *data.Dataset, batch int) (Result, error) {
	g := sess.Model().Graph
	if ds.Labels == nil {
		return Result{}, fmt.Errorf("the dataset has no labels to measure accuracy against")
	}
	name, shape, err := InputShape(g, batch, ds.Sample())
	if err != nil {
		return Result{}, err
	}
	fixed := FixedBatch(g, name)
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

// ScoreShape returns the batch size and class count of a classifier's
// output: [n, classes], or [n, classes, 1, ...] (a convolutional head
// without a Flatten, as SqueezeNet's and DenseNet's); ok is false for any
// other shape.
func ScoreShape(t *tensor.Tensor) (n, classes int, ok bool) {
	s := t.Shape()
	if len(s) < 2 || tensor.Product(s[2:]) != 1 {
		return 0, 0, false
	}
	return s[0], s[1], true
}

// Argmax returns, for each row of a [n, classes] float tensor (or [n,
// classes, 1, ...], see ScoreShape), the index of
// its largest value (the first one on ties).
func Argmax(t *tensor.Tensor) ([]int, error) {
	n, c, ok := ScoreShape(t)
	if !ok {
		return nil, fmt.Errorf("want [batch, classes] scores, got %v", t)
	}
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
