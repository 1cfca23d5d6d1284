package quant

import (
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"sync"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// gcBatches is how many calibration batches run between garbage
// collections, and gcBytes how many bytes of batches and activations at
// most (see Observe).
const (
	gcBatches = 8
	gcBytes   = 256 << 20
)

// gcPause counts the Observe calls running with the pacer's collections
// off: the first turns them off, the last restores the setting it found
// (debug.SetGCPercent is process-wide).
var gcPause struct {
	sync.Mutex
	n, prev int
}

// pauseGC turns the pacer's collections off until the returned function
// is called.
func pauseGC() (resume func()) {
	gcPause.Lock()
	if gcPause.n == 0 {
		gcPause.prev = debug.SetGCPercent(-1)
	}
	gcPause.n++
	gcPause.Unlock()
	return func() {
		gcPause.Lock()
		if gcPause.n--; gcPause.n == 0 {
			debug.SetGCPercent(gcPause.prev)
		}
		gcPause.Unlock()
	}
}

// DefaultBatch is the number of samples per calibration or evaluation run.
const DefaultBatch = 64

// RunOptions control how calibration and evaluation run the model.
type RunOptions struct {
	// Samples to use from the dataset, from its start (0: all).
	Samples int
	// Batch size (DefaultBatch when 0; a model with a fixed batch
	// dimension uses its own).
	Batch   int
	Threads int
	// Bins of each histogram (DefaultBins when 0).
	Bins int
	// Progress, when set, is called after every batch with the samples
	// done and the total.
	Progress func(done, total int)
}

// batches plans the runs over the first n samples of ds for model g: the
// input name and per-batch shapes. It fails, naming the input, when the
// samples do not fit the model's input.
func batches(g *graph.Graph, ds *data.Dataset, o RunOptions) (name string, shape []int, n int, err error) {
	if ds == nil || ds.Len() == 0 {
		return "", nil, 0, fmt.Errorf("the dataset has no samples")
	}
	batch := o.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	name, shape, err = eval.InputShape(g, batch, ds.Sample())
	if err != nil {
		return "", nil, 0, fmt.Errorf("%s do not fit the model: %w", ds.Describe(), err)
	}
	n = ds.Len()
	if o.Samples > 0 && o.Samples < n {
		n = o.Samples
	}
	return name, shape, n, nil
}

// forEachBatch feeds the first n samples of ds in batches to fn with the
// batch tensor and the sample indices.
func forEachBatch(ds *data.Dataset, shape []int, n int, fixed bool, fn func(x *tensor.Tensor, idx []int) error) error {
	for start := 0; start < n; start += shape[0] {
		k := min(shape[0], n-start)
		if fixed && k < shape[0] {
			break // a fixed batch dimension cannot take the remainder
		}
		idx := make([]int, k)
		for i := range idx {
			idx[i] = start + i
		}
		x, err := ds.Batch(idx, append([]int{k}, shape[1:]...))
		if err != nil {
			return err
		}
		if err := fn(x, idx); err != nil {
			return err
		}
	}
	return nil
}

// Observe runs the prepared float model over the first samples of ds and
// returns one observer per point (by name) and the number of samples seen.
// Each point is made a graph output of a private copy of the model, so the
// runtime returns it per batch; its statistics are folded into the
// observer and the batch is dropped. Batches run in dataset order and
// every observer is deterministic, so the same data gives the same
// observers bit for bit, whatever the thread count.
//
// Memory: the observers hold histograms (a few thousand counts per point),
// and each batch's activations become garbage once observed. So that the
// peak does not depend on how long the run is (with Go's default GC
// pacing, a short run ends before the heap reaches the collector's goal
// and a long one peaks at it), the loop collects garbage every gcBatches
// batches, or sooner once gcBytes of batches and activations have become
// garbage, and only then (the pacer's collections are off meanwhile, a
// process-wide setting restored when the last Observe returns); the peak
// is then the live data plus at most gcBatches batches of activations or
// about gcBytes, for 500 samples as for 5,000.
func Observe(prepared *graph.Model, points []*graph.Value, ds *data.Dataset, o RunOptions) (map[string]*Observer, int, error) {
	c := passes.Clone(prepared)
	g := c.Graph
	name, shape, n, err := batches(g, ds, o)
	if err != nil {
		return nil, 0, err
	}
	fixed := eval.FixedBatch(g, name)
	obs := map[string]*Observer{}
	var outs []*Observer
	var inputObs []*Observer
	g.Outputs = nil
	for _, p := range points {
		if obs[p.Name] != nil {
			continue
		}
		ob := NewObserver(p.Name, o.Bins)
		obs[p.Name] = ob
		v := g.Value(p.Name)
		if v == nil {
			return nil, 0, fmt.Errorf("calibration: tensor %q is not in the model", p.Name)
		}
		if v.Producer == nil {
			if v.Name != name {
				return nil, 0, fmt.Errorf("calibration: tensor %q is neither computed nor the image input", p.Name)
			}
			inputObs = append(inputObs, ob)
			continue
		}
		g.Outputs = append(g.Outputs, v)
		outs = append(outs, ob)
	}
	var sess *runtime.Session
	if len(g.Outputs) > 0 {
		g.RemoveDeadNodes()
		if sess, err = runtime.NewSession(c, cpu.Backend(), runtime.Options{Threads: o.Threads}); err != nil {
			return nil, 0, fmt.Errorf("calibration: %w", err)
		}
	}
	threads := max(o.Threads, 1)
	seen, batch := 0, 0
	goruntime.GC()
	// Only the collections below: with the pacer's own, when they fall
	// depends on the live heap, and a short run may end before one.
	defer pauseGC()()
	var garbage int64 // bytes of batches and results since the last collection
	err = forEachBatch(ds, shape, n, fixed, func(x *tensor.Tensor, idx []int) error {
		if batch++; batch%gcBatches == 0 || garbage >= gcBytes {
			goruntime.GC()
			garbage = 0
		}
		garbage += x.Bytes()
		for _, ob := range inputObs {
			if err := ob.Observe(x.F32(), threads); err != nil {
				return err
			}
		}
		if sess != nil {
			res, err := sess.Run(map[string]*tensor.Tensor{name: x})
			if err != nil {
				return fmt.Errorf("samples %d..%d: %w", idx[0], idx[len(idx)-1], err)
			}
			for i, t := range res {
				garbage += t.Bytes()
				if t.DType() != tensor.Float32 {
					return fmt.Errorf("tensor %q is %v, not float32", outs[i].Name, t.DType())
				}
				if err := outs[i].Observe(t.F32(), threads); err != nil {
					return err
				}
			}
		}
		seen += len(idx)
		if o.Progress != nil {
			o.Progress(seen, n)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("calibration: %w", err)
	}
	if seen == 0 {
		return nil, 0, fmt.Errorf("calibration: no batch ran (%d samples for a fixed batch of %d)", n, shape[0])
	}
	return obs, seen, nil
}

// runModel runs m over the first samples of ds in batches and hands each
// batch's outputs to fn.
func runModel(m *graph.Model, ds *data.Dataset, o RunOptions, fn func(res []*tensor.Tensor, idx []int) error) error {
	name, shape, n, err := batches(m.Graph, ds, o)
	if err != nil {
		return err
	}
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: o.Threads})
	if err != nil {
		return err
	}
	done := 0
	return forEachBatch(ds, shape, n, eval.FixedBatch(m.Graph, name), func(x *tensor.Tensor, idx []int) error {
		res, err := sess.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return err
		}
		if err := fn(res, idx); err != nil {
			return err
		}
		done += len(idx)
		if o.Progress != nil {
			o.Progress(done, n)
		}
		return nil
	})
}

// Logits runs a model over the first samples of ds and returns output 0 as
// rows of scores ([samples, classes], flattened) and the class count.
func Logits(m *graph.Model, ds *data.Dataset, o RunOptions) ([]float32, int, error) {
	var out []float32
	classes := 0
	err := runModel(m, ds, o, func(res []*tensor.Tensor, idx []int) error {
		y := res[0]
		n, c, ok := eval.ScoreShape(y)
		if y.DType() != tensor.Float32 || !ok || n != len(idx) {
			return fmt.Errorf("output 0 is %v; want float32 [%d, classes]", y, len(idx))
		}
		classes = c
		out = append(out, y.F32()...)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, classes, nil
}
