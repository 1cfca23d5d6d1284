package quant

import (
	"fmt"
	"math"
)

// Observer streams statistics of one tensor over calibration batches: the
// running signed minimum and maximum, the number of values, and a
// histogram of |x| (see Histogram). Raw values are never kept, so its size
// does not depend on how many batches it sees.
type Observer struct {
	// Name of the observed tensor.
	Name     string
	Min, Max float64
	Count    uint64
	Hist     *Histogram
}

// NewObserver returns an observer for the named tensor whose histogram
// starts with bins bins (DefaultBins when bins <= 0).
func NewObserver(name string, bins int) *Observer {
	return &Observer{Name: name, Hist: NewHistogram(bins)}
}

// Observe adds a batch of values. NaN or infinite values are an error (the
// calibration range would be meaningless), reported with the tensor's name.
func (o *Observer) Observe(x []float32, threads int) error {
	if len(x) == 0 {
		return nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("tensor %q: value %d of the batch is %v; calibration needs finite activations", o.Name, i, v)
		}
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	if o.Count == 0 {
		o.Min, o.Max = lo, hi
	} else {
		o.Min, o.Max = math.Min(o.Min, lo), math.Max(o.Max, hi)
	}
	o.Count += uint64(len(x))
	o.Hist.Add(x, threads)
	return nil
}

// Merge folds another observer of the same tensor (e.g. filled by another
// thread) into o.
func (o *Observer) Merge(p *Observer) error {
	if p.Count == 0 {
		return nil
	}
	if o.Count == 0 {
		o.Min, o.Max = p.Min, p.Max
	} else {
		o.Min, o.Max = math.Min(o.Min, p.Min), math.Max(o.Max, p.Max)
	}
	o.Count += p.Count
	return o.Hist.Merge(p.Hist)
}

// AbsMax is max(|Min|, |Max|).
func (o *Observer) AbsMax() float64 { return math.Max(math.Abs(o.Min), math.Abs(o.Max)) }
