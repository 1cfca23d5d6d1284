package encode

import (
	"fmt"
	"math"
	"sort"

	"github.com/gcompress/gcompress/tensor"
)

// Shared is a weight-sharing quantization of a list of values: value i is
// represented by Codebook[Index[i]].
type Shared struct {
	Codebook []float32
	Index    []uint16
}

// KMeans clusters values into at most k shared values (Deep Compression
// stage 2, Han et al. 2016): centroids start evenly spaced between the
// smallest and the largest value (linear initialisation, which the paper
// found best because it keeps the rare large weights representable), then
// Lloyd iterations in one dimension alternate between assigning each
// value to its nearest centroid (ties to the lower one) and moving each
// centroid to the mean of its values, until no assignment changes (or
// maxIter iterations). A cluster that empties keeps its centroid. k is
// reduced to the number of distinct values when there are fewer. With
// half set, centroids are rounded to float16 after every update (the
// codebook is then stored in 16 bits).
func KMeans(values []float32, k, maxIter int, half bool) (*Shared, error) {
	if k < 1 || k > 1<<16 {
		return nil, fmt.Errorf("k-means: %d clusters", k)
	}
	n := len(values)
	if n == 0 {
		return &Shared{}, nil
	}
	for i, v := range values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("k-means: value %d is %v", i, v)
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return values[order[a]] < values[order[b]] })
	distinct := 1
	for i := 1; i < n; i++ {
		if values[order[i]] != values[order[i-1]] {
			distinct++
		}
	}
	k = min(k, distinct)
	lo, hi := float64(values[order[0]]), float64(values[order[n-1]])
	c := make([]float64, k)
	for j := range c {
		if k == 1 {
			c[j] = (lo + hi) / 2
		} else {
			c[j] = lo + (hi-lo)*float64(j)/float64(k-1)
		}
	}
	round := func() {
		if half {
			for j := range c {
				c[j] = float64(tensor.NewF16(float32(c[j])).Float32())
			}
		}
	}
	round()
	assign := make([]uint16, n)
	for it := 0; it < max(maxIter, 1); it++ {
		changed := assignSorted(values, order, c, assign) || it == 0
		sum := make([]float64, k)
		cnt := make([]int, k)
		for i, a := range assign {
			sum[a] += float64(values[i])
			cnt[a]++
		}
		for j := range c {
			if cnt[j] > 0 {
				c[j] = sum[j] / float64(cnt[j])
			}
		}
		round()
		sortCentroids(c, assign)
		if !changed {
			break
		}
	}
	assignSorted(values, order, c, assign)
	s := &Shared{Codebook: make([]float32, k), Index: assign}
	for j, v := range c {
		s.Codebook[j] = float32(v)
	}
	return s, nil
}

// assignSorted assigns every value (visited in increasing order) to its
// nearest centroid (c sorted increasingly; ties to the lower) and reports
// whether any assignment changed.
func assignSorted(values []float32, order []int, c []float64, assign []uint16) bool {
	changed := false
	j := 0
	for _, i := range order {
		v := float64(values[i])
		for j+1 < len(c) && math.Abs(c[j+1]-v) < math.Abs(c[j]-v) {
			j++
		}
		// c is sorted and v increases, so the nearest centroid never moves
		// left; equal distances keep the lower one.
		if assign[i] != uint16(j) {
			assign[i] = uint16(j)
			changed = true
		}
	}
	return changed
}

// sortCentroids keeps the centroids increasing (rounding or empty clusters
// may reorder them), renumbering the assignments.
func sortCentroids(c []float64, assign []uint16) {
	if sort.Float64sAreSorted(c) {
		return
	}
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]] < c[idx[b]] })
	inv := make([]uint16, len(c))
	nc := make([]float64, len(c))
	for newPos, old := range idx {
		inv[old] = uint16(newPos)
		nc[newPos] = c[old]
	}
	copy(c, nc)
	for i, a := range assign {
		assign[i] = inv[a]
	}
}

// Values returns the quantized values.
func (s *Shared) Values() []float32 {
	out := make([]float32, len(s.Index))
	for i, j := range s.Index {
		out[i] = s.Codebook[j]
	}
	return out
}
