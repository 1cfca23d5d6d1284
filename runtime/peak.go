package runtime

import (
	"math"

	"github.com/gcompress/gcompress/graph"
)

// PeakBytes estimates the most memory a run of the session holds in values
// at once, from the shapes the graph declares or inference found:
//
//	peak = max over nodes i of ( sum of graph inputs
//	                           + values computed before i and read at or after i
//	                           + the outputs of i )
//
// where a computed value is freed after its last reader (graph outputs are
// kept to the end), as Run does. Values that share another's buffer count
// zero: the outputs of the ops that return a view of their input
// (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout) and of a
// Concat computed in place (its inputs were written into its buffer). So
// do values of unknown shape or type, and neither the initializers nor
// the kernels' scratch nor the arena's spare buffers are counted, so the
// estimate is a lower bound: a run needs at least this much. at is the
// node where the peak is reached (nil for a graph without nodes). Sums
// saturate at math.MaxInt64.
func (s *Session) PeakBytes() (peak int64, at *graph.Node) {
	counted := make([]int64, len(s.slot)) // the bytes each live value adds
	var live int64
	for _, v := range s.g.Inputs {
		if v.Const == nil {
			counted[s.slot[v]] = valueBytes(v)
			live = addSat(live, counted[s.slot[v]])
		}
	}
	peak = live
	for i, n := range s.g.Nodes {
		var out int64
		if !viewOp(n) && s.concatOf[i] < 0 {
			for j, v := range n.Outputs {
				if sl := s.nodeOut[i][j]; sl >= 0 {
					counted[sl] = valueBytes(v)
					out = addSat(out, counted[sl])
				}
			}
		}
		if during := addSat(live, out); during > peak || at == nil {
			peak, at = during, n
		}
		live = addSat(live, out)
		for _, sl := range s.lastUse[i] {
			if live != math.MaxInt64 {
				live -= counted[sl]
			}
		}
	}
	return peak, at
}

// viewOp reports whether n's op returns a view of its input (see
// PeakBytes).
func viewOp(n *graph.Node) bool {
	switch {
	case n.IsONNX("Reshape"), n.IsONNX("Flatten"), n.IsONNX("Squeeze"), n.IsONNX("Unsqueeze"),
		n.IsONNX("Identity"), n.IsONNX("Dropout"):
		return true
	}
	return false
}

// valueBytes is the size of v's data when its type and shape are known,
// else 0; it saturates at math.MaxInt64.
func valueBytes(v *graph.Value) int64 {
	if v == nil || !v.HasShape || v.DType.Size() <= 0 {
		return 0
	}
	n := int64(v.DType.Size())
	for _, d := range v.Shape {
		if !d.Known() {
			return 0
		}
		if d.Size == 0 {
			return 0
		}
		if n > math.MaxInt64/d.Size {
			return math.MaxInt64
		}
		n *= d.Size
	}
	return n
}

func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
