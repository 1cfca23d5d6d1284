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
// kept to the end), as Run does. Values of unknown shape or type count
// zero, and neither the initializers nor the kernels' scratch nor the
// arena's spare buffers are counted, so the estimate is a lower bound: a
// run needs at least this much. at is the node where the peak is reached
// (nil for a graph without nodes). Sums saturate at math.MaxInt64.
func (s *Session) PeakBytes() (peak int64, at *graph.Node) {
	bySlot := make([]*graph.Value, len(s.slot))
	for v, i := range s.slot {
		bySlot[i] = v
	}
	var live int64
	for _, v := range s.g.Inputs {
		if v.Const == nil {
			live = addSat(live, valueBytes(v))
		}
	}
	peak = live
	for i, n := range s.g.Nodes {
		var out int64
		for _, v := range n.Outputs {
			out = addSat(out, valueBytes(v))
		}
		if during := addSat(live, out); during > peak || at == nil {
			peak, at = during, n
		}
		live = addSat(live, out)
		for _, sl := range s.lastUse[i] {
			if live != math.MaxInt64 {
				live -= valueBytes(bySlot[sl])
			}
		}
	}
	return peak, at
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
