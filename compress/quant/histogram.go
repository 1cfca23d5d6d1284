package quant

import (
	"fmt"
	"math"
	"sync"
)

// DefaultBins is the number of histogram bins a fresh observer spreads over
// the range of the first batch it sees (TensorRT's and
// pytorch-quantization's choice).
const DefaultBins = 2048

// maxBinsFactor bounds a histogram's growth: once it holds more than
// maxBinsFactor*Bins bins, adjacent pairs are merged (the width doubles).
// Growth by whole bins keeps counts exact; the cap keeps memory and the
// O(bins) calibrators bounded when a late batch is far wider than the first.
const maxBinsFactor = 8

// Histogram counts absolute values |x| in bins of equal width: bin j holds
// the values with j*Width <= |x| < (j+1)*Width, and the last bin also holds
// its upper edge. It streams: Add takes one batch at a time and never keeps
// the values.
//
// The width is set by the first batch with a non-zero maximum,
// Width = max|x| / Bins. A later batch whose maximum lies beyond the last
// bin widens the histogram by whole bins of the same width (so earlier
// counts stay exact, as pytorch-quantization's HistogramCalibrator does).
// Past maxBinsFactor*Bins bins, pairs of adjacent bins are merged and the
// width doubles. Zeros seen before the width is known are counted in bin 0
// once it is. NaN and infinite values are rejected by the observer before
// they reach the histogram.
type Histogram struct {
	// Bins is the number of bins the first batch is spread over.
	Bins int
	// Width of one bin; 0 until a non-zero value has been seen.
	Width float64
	// Counts per bin; its length grows with the observed range.
	Counts []uint64
	// pendingZeros counts values seen while Width was still 0 (all zero).
	pendingZeros uint64
}

// NewHistogram returns an empty histogram that will spread the first batch
// over bins bins (DefaultBins when bins <= 0).
func NewHistogram(bins int) *Histogram {
	if bins <= 0 {
		bins = DefaultBins
	}
	return &Histogram{Bins: bins}
}

// Total is the number of values counted.
func (h *Histogram) Total() uint64 {
	t := h.pendingZeros
	for _, c := range h.Counts {
		t += c
	}
	return t
}

// Range is the upper edge of the last bin, len(Counts)*Width.
func (h *Histogram) Range() float64 { return float64(len(h.Counts)) * h.Width }

// cover makes the bins reach amax (the largest |x| of the next batch): it
// sets the width on the first non-zero batch, then grows by whole bins and
// coarsens past the cap.
func (h *Histogram) cover(amax float64) {
	if amax <= 0 {
		return
	}
	if h.Width == 0 {
		h.Width = amax / float64(h.Bins)
		if h.Width == 0 || math.IsInf(h.Width, 0) {
			h.Width = math.SmallestNonzeroFloat64
		}
		h.Counts = make([]uint64, h.Bins)
		h.Counts[0] += h.pendingZeros
		h.pendingZeros = 0
		return
	}
	if amax <= h.Range() {
		return
	}
	// compared as floats: amax/Width may be far past any int
	for math.Ceil(amax/h.Width) > float64(maxBinsFactor*h.Bins) {
		h.coarsen()
	}
	need := int(math.Ceil(amax / h.Width))
	if need > len(h.Counts) {
		h.Counts = append(h.Counts, make([]uint64, need-len(h.Counts))...)
	}
}

// coarsen merges bins 2k and 2k+1 into bin k and doubles the width.
func (h *Histogram) coarsen() {
	n := (len(h.Counts) + 1) / 2
	for k := 0; k < n; k++ {
		c := h.Counts[2*k]
		if 2*k+1 < len(h.Counts) {
			c += h.Counts[2*k+1]
		}
		h.Counts[k] = c
	}
	h.Counts = h.Counts[:n]
	h.Width *= 2
}

// bin returns the bin of |x| = a (clamped into the last bin).
func (h *Histogram) bin(a float64) int {
	f := a / h.Width
	if !(f < float64(len(h.Counts))) { // also +Inf and NaN
		return len(h.Counts) - 1
	}
	return int(f)
}

// parallelMin is the batch size below which Add counts on one goroutine.
const parallelMin = 1 << 16

// Add counts the values of x (all finite), using up to threads goroutines:
// each counts a contiguous chunk into its own bins, and the per-chunk
// counts are summed, so the result does not depend on threads.
func (h *Histogram) Add(x []float32, threads int) {
	if len(x) == 0 {
		return
	}
	amax := 0.0
	for _, v := range x {
		a := math.Abs(float64(v))
		if a > amax {
			amax = a
		}
	}
	h.cover(amax)
	if h.Width == 0 {
		h.pendingZeros += uint64(len(x))
		return
	}
	t := max(1, min(threads, len(x)/parallelMin))
	if t == 1 {
		for _, v := range x {
			h.Counts[h.bin(math.Abs(float64(v)))]++
		}
		return
	}
	parts := make([][]uint64, t)
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*len(x)/t, (i+1)*len(x)/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]uint64, len(h.Counts))
			for _, v := range x[lo:hi] {
				c[h.bin(math.Abs(float64(v)))]++
			}
			parts[i] = c
		}()
	}
	wg.Wait()
	for _, c := range parts {
		for j, v := range c {
			h.Counts[j] += v
		}
	}
}

// Merge adds o's counts to h (o is unchanged). Histograms of the same width
// (those filled from the same first batch, e.g. by several threads) merge
// exactly; otherwise each of o's bins is counted in the bin of h holding
// its centre, which is deterministic, and exact when h's bins are unions of
// o's (h coarsened from the same first batch: widths w*2^k), approximate
// otherwise.
func (h *Histogram) Merge(o *Histogram) error {
	if o.Bins != h.Bins {
		return fmt.Errorf("histogram merge: %d and %d base bins", h.Bins, o.Bins)
	}
	if o.Width == 0 {
		if h.Width == 0 {
			h.pendingZeros += o.pendingZeros
		} else {
			h.Counts[0] += o.pendingZeros
		}
		return nil
	}
	if h.Width == 0 {
		z := h.pendingZeros
		*h = Histogram{Bins: o.Bins, Width: o.Width, Counts: append([]uint64(nil), o.Counts...)}
		h.Counts[0] += z
		return nil
	}
	h.cover(o.Range())
	if o.Width == h.Width {
		for j, c := range o.Counts {
			h.Counts[j] += c
		}
		return nil
	}
	for j, c := range o.Counts {
		h.Counts[h.bin((float64(j)+0.5)*o.Width)] += c
	}
	return nil
}

// Clone returns a deep copy.
func (h *Histogram) Clone() *Histogram {
	c := *h
	c.Counts = append([]uint64(nil), h.Counts...)
	return &c
}
