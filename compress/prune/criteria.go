package prune

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Ratios gives the pruned fraction of each layer: PerLayer[name] (a node
// name or a weight name) where present, else Default.
type Ratios struct {
	Default  float64
	PerLayer map[string]float64
}

// For returns the ratio of layer l.
func (r Ratios) For(l *Layer) float64 {
	if v, ok := r.PerLayer[l.Node.Name]; ok {
		return v
	}
	if v, ok := r.PerLayer[l.Name()]; ok {
		return v
	}
	return r.Default
}

// Check verifies that every ratio is in [0, 1) and every per-layer name
// matches a layer.
func (r Ratios) Check(layers []*Layer) error {
	if !(r.Default >= 0 && r.Default < 1) {
		return fmt.Errorf("sparsity %v outside [0, 1)", r.Default)
	}
	known := map[string]bool{}
	var names []string
	for _, l := range layers {
		known[l.Node.Name], known[l.Name()] = true, true
		names = append(names, l.Node.Name)
	}
	for name, v := range r.PerLayer {
		if !known[name] {
			return fmt.Errorf("no prunable layer %q (layers: %s)", name, strings.Join(names, ", "))
		}
		if !(v >= 0 && v < 1) {
			return fmt.Errorf("layer %q: sparsity %v outside [0, 1)", name, v)
		}
	}
	return nil
}

// rankLayer returns the indices of l's weights from the first to prune to
// the last: weights pruned in prev first, then by increasing |w|, ties by
// index (deterministic).
func rankLayer(l *Layer, prev Masks) []int {
	w := l.Weight.Const.F32()
	score := make([]float64, len(w))
	pm := prev[l.Name()]
	for i, v := range w {
		score[i] = scoreMagnitude(v)
		if pm != nil && !pm.Keep[i] {
			score[i] = -2
		}
	}
	idx := make([]int, len(w))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return score[idx[a]] < score[idx[b]] })
	return idx
}

// Magnitude returns masks that prune, in each layer, the fraction
// ratios.For(layer) of its weights with the smallest magnitude |w| (the
// L1 criterion; round(ratio * params) weights). Weights pruned in prev
// (may be nil) are pruned first, so iterative pruning never revives one.
func Magnitude(layers []*Layer, ratios Ratios, prev Masks) (Masks, error) {
	if err := ratios.Check(layers); err != nil {
		return nil, err
	}
	ms := Masks{}
	for _, l := range layers {
		mk := NewMask(l.Name(), l.Weight.Const.Shape())
		k := int(math.Round(ratios.For(l) * float64(l.Params())))
		for _, i := range rankLayer(l, prev)[:k] {
			mk.Keep[i] = false
		}
		ms[l.Name()] = mk
	}
	return ms, nil
}

// GlobalMagnitude returns masks that prune the fraction sparsity of all
// the layers' weights together with one threshold on |w| (the smallest
// magnitudes anywhere go first; weights pruned in prev first of all).
func GlobalMagnitude(layers []*Layer, sparsity float64, prev Masks) (Masks, error) {
	if !(sparsity >= 0 && sparsity < 1) {
		return nil, fmt.Errorf("sparsity %v outside [0, 1)", sparsity)
	}
	type ref struct {
		layer, i int
		score    float64
	}
	var all []ref
	ms := Masks{}
	for li, l := range layers {
		ms[l.Name()] = NewMask(l.Name(), l.Weight.Const.Shape())
		pm := prev[l.Name()]
		for i, v := range l.Weight.Const.F32() {
			s := scoreMagnitude(v)
			if pm != nil && !pm.Keep[i] {
				s = -2
			}
			all = append(all, ref{li, i, s})
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].score < all[b].score })
	k := int(math.Round(sparsity * float64(len(all))))
	for _, r := range all[:k] {
		ms[layers[r.layer].Name()].Keep[r.i] = false
	}
	return ms, nil
}

// NM returns N:M semi-structured masks: in each row of each layer (an
// output channel), every group of m consecutive weights along the
// reduction axis (columns mg .. mg+m-1; the last group may be shorter)
// keeps its n largest magnitudes (ties to the lower column). With n = 2,
// m = 4 this is the 2:4 pattern of sparse tensor cores, grouped as
// kernels/ref.Sparse24 stores it.
func NM(layers []*Layer, n, m int) (Masks, error) {
	if n < 1 || m < 2 || n >= m {
		return nil, fmt.Errorf("N:M sparsity needs 1 <= N < M, got %d:%d", n, m)
	}
	ms := Masks{}
	for _, l := range layers {
		w := l.Weight.Const.F32()
		mk := NewMask(l.Name(), l.Weight.Const.Shape())
		idx := make([]int, 0, m)
		for i := 0; i < l.Rows; i++ {
			for g := 0; g < l.Cols; g += m {
				idx = idx[:0]
				for p := g; p < min(g+m, l.Cols); p++ {
					idx = append(idx, l.Index(i, p))
				}
				sort.SliceStable(idx, func(a, b int) bool { return scoreMagnitude(w[idx[a]]) > scoreMagnitude(w[idx[b]]) })
				for _, at := range idx[min(n, len(idx)):] {
					mk.Keep[at] = false
				}
			}
		}
		ms[l.Name()] = mk
	}
	return ms, nil
}

// NMWarnings lists the layers where 2:4 (N:M) sparsity cannot pay off on
// the sparse tensor-core kernel: the reduction length is padded to the
// kernel's K alignment (64 for fp16/bf16, 128 for int8: kernels/ref
// FormatSparse24*), so a layer with fewer reduction columns than twice the
// alignment computes mostly padding, and one with fewer than 128 output
// channels fills less than one 128-row tile (BM of gobind.SparseTiles).
func NMWarnings(layers []*Layer, kAlign int) []string {
	var out []string
	for _, l := range layers {
		padded := (l.Cols + kAlign - 1) / kAlign * kAlign
		switch {
		case l.Cols < 2*kAlign:
			out = append(out, fmt.Sprintf("%s (%s): %d reduction columns pad to %d for the 2:4 kernel (K alignment %d): too few for 2:4 to pay off",
				l.Node.Name, l.Name(), l.Cols, padded, kAlign))
		case l.Rows < 128:
			out = append(out, fmt.Sprintf("%s (%s): %d output channels fill less than one 128-row tile of the kernel: 2:4 will not pay off",
				l.Node.Name, l.Name(), l.Rows))
		}
	}
	return out
}

// sortByMagnitude sorts the indices idx by increasing |w[i]|, ties by
// index.
func sortByMagnitude(idx []int, w []float32) {
	sort.SliceStable(idx, func(a, b int) bool {
		sa, sb := scoreMagnitude(w[idx[a]]), scoreMagnitude(w[idx[b]])
		if sa != sb {
			return sa < sb
		}
		return idx[a] < idx[b]
	})
}
