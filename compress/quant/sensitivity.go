package quant

import (
	"fmt"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// reference holds the float model's logits on the evaluation samples.
type reference struct {
	model   *graph.Model
	ds      *data.Dataset
	logits  []float32
	classes int
	samples int
	// labels are the evaluation labels (nil when accuracy is not measured).
	labels []int
	acc    float64
}

// comparison of a model against the reference.
type comparison struct {
	accuracy  float64
	agreement float64
	nmse      float64
}

func newReference(m *graph.Model, ds *data.Dataset, withLabels bool, o RunOptions) (*reference, error) {
	logits, classes, err := Logits(m, ds, o)
	if err != nil {
		return nil, err
	}
	r := &reference{model: m, ds: ds, logits: logits, classes: classes, samples: len(logits) / max(classes, 1)}
	if withLabels {
		if err := ds.CheckLabels(classes); err != nil {
			return nil, err
		}
		r.labels = ds.Labels[:r.samples]
		r.acc = accuracyOf(logits, classes, r.labels)
	}
	return r, nil
}

func (r *reference) accuracy() *float64 {
	if r.labels == nil {
		return nil
	}
	a := r.acc
	return &a
}

// compare runs m on the reference samples.
func (r *reference) compare(m *graph.Model, o RunOptions) (comparison, error) {
	o.Samples = r.samples
	logits, classes, err := Logits(m, r.ds, o)
	if err != nil {
		return comparison{}, err
	}
	if classes != r.classes || len(logits) != len(r.logits) {
		return comparison{}, fmt.Errorf("quantized model gives %d scores per sample for %d samples, the float model %d for %d",
			classes, len(logits)/max(classes, 1), r.classes, r.samples)
	}
	c := comparison{nmse: NMSE(r.logits, logits), agreement: Agreement(r.logits, logits, classes)}
	if r.labels != nil {
		c.accuracy = accuracyOf(logits, classes, r.labels)
	}
	return c, nil
}

// probe names a tensor whose error layerErrors measures, and the layer or
// add it is reported for.
type probe struct{ layer, tensor string }

// probes are the outputs of the given layers and adds (the Conv/Gemm/
// MatMul/Add result, before any Relu).
func probes(layers []*Layer, adds []*ResidualAdd) []probe {
	var out []probe
	for _, l := range layers {
		out = append(out, probe{l.Name, l.Node.Outputs[0].Name})
	}
	for _, a := range adds {
		out = append(out, probe{a.Name, a.Node.Outputs[0].Name})
	}
	return out
}

// layerErrors measures, for each probe, the NMSE of its tensor in q
// against the float model, on up to 1,000 of the reference samples. Both
// models run batch by batch and only the error sums are kept.
func (r *reference) layerErrors(q *graph.Model, at []probe, o RunOptions) (map[string]float64, error) {
	o.Samples = min(r.samples, 1000)
	names := make([]string, 0, len(at))
	for _, p := range at {
		names = append(names, p.tensor)
	}
	fm, err := withOutputs(r.model, names)
	if err != nil {
		return nil, err
	}
	qm, err := withOutputs(q, names)
	if err != nil {
		return nil, err
	}
	name, shape, n, err := batches(fm.Graph, r.ds, o)
	if err != nil {
		return nil, err
	}
	fs, err := runtime.NewSession(fm, cpu.Backend(), runtime.Options{Threads: o.Threads})
	if err != nil {
		return nil, err
	}
	qs, err := runtime.NewSession(qm, cpu.Backend(), runtime.Options{Threads: o.Threads})
	if err != nil {
		return nil, err
	}
	num, den := make([]float64, len(names)), make([]float64, len(names))
	err = forEachBatch(r.ds, shape, n, eval.FixedBatch(fm.Graph, name), func(x *tensor.Tensor, _ []int) error {
		fo, err := fs.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return err
		}
		qo, err := qs.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return err
		}
		for i := range names {
			if fo[i].DType() != tensor.Float32 || qo[i].DType() != tensor.Float32 || fo[i].Len() != qo[i].Len() {
				return fmt.Errorf("tensor %q: %v in the float model, %v quantized", names[i], fo[i], qo[i])
			}
			a, b := fo[i].F32(), qo[i].F32()
			for j := range a {
				d := float64(a[j]) - float64(b[j])
				num[i] += d * d
				den[i] += float64(a[j]) * float64(a[j])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for i, p := range at {
		out[p.layer] = num[i]
		if den[i] > 0 {
			out[p.layer] = num[i] / den[i]
		}
	}
	return out, nil
}

// withOutputs returns a copy of m whose outputs are the named values.
func withOutputs(m *graph.Model, names []string) (*graph.Model, error) {
	c := passes.Clone(m)
	g := c.Graph
	g.Outputs = nil
	for _, n := range names {
		v := g.Value(n)
		if v == nil {
			return nil, fmt.Errorf("tensor %q is not in the model", n)
		}
		g.Outputs = append(g.Outputs, v)
	}
	g.RemoveDeadNodes()
	return c, nil
}

// sensitivity of the model to quantizing one layer.
type sensitivity struct {
	nmse    float64
	accDrop float64 // percentage points
}

// analyse quantizes one layer at a time and measures the logits NMSE and
// the accuracy drop against the float model.
func analyse(prep *graph.Model, layers []*Layer, act map[string]*Params, wf WeightFormat, ref *reference, o RunOptions, stage func(string, int, int)) (map[string]sensitivity, error) {
	out := map[string]sensitivity{}
	for i, l := range layers {
		stage("sensitivity", i, len(layers))
		q, _, err := InsertQDQ(prep, []*Layer{l}, nil, act, wf)
		if err != nil {
			return nil, err
		}
		c, err := ref.compare(q, o)
		if err != nil {
			return nil, fmt.Errorf("sensitivity of %s: %w", l.Name, err)
		}
		s := sensitivity{nmse: c.nmse}
		if ref.labels != nil {
			s.accDrop = 100 * (ref.acc - c.accuracy)
		}
		out[l.Name] = s
	}
	stage("sensitivity", len(layers), len(layers))
	return out, nil
}

// NMSE is the normalised mean squared error sum((a-b)^2) / sum(a^2) of b
// against the reference a (0 when both are zero).
func NMSE(a, b []float32) float64 {
	var num, den float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		num += d * d
		den += float64(a[i]) * float64(a[i])
	}
	if den == 0 {
		return num
	}
	return num / den
}

// argmaxRows returns the index of the largest score of each row (the first
// on ties).
func argmaxRows(x []float32, classes int) []int {
	n := len(x) / max(classes, 1)
	out := make([]int, n)
	for i := 0; i < n; i++ {
		row := x[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// Agreement is the fraction of rows whose top-1 class is the same in a and b.
func Agreement(a, b []float32, classes int) float64 {
	pa, pb := argmaxRows(a, classes), argmaxRows(b, classes)
	if len(pa) == 0 {
		return 0
	}
	same := 0
	for i := range pa {
		if pa[i] == pb[i] {
			same++
		}
	}
	return float64(same) / float64(len(pa))
}

func accuracyOf(logits []float32, classes int, labels []int) float64 {
	p := argmaxRows(logits, classes)
	if len(p) == 0 {
		return 0
	}
	ok := 0
	for i, c := range p {
		if c == labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(p))
}
