package passes

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// SparseMinSparsity is the fraction of zero weights from which
// SparsifyWeights marks a layer sparse. It is a pre-filter, below every
// measured break-even (and at most 0.5, so 2:4 weights qualify): the
// backend's sparse op decides per call, from its measured break-even
// table, whether the sparse kernel or the dense one runs.
const SparseMinSparsity = 0.45

// SparsifyWeights turns Gemm/FusedGemm nodes (transA 0, alpha 1) with a
// constant float32 weight B and 2-D Conv/FusedConv nodes (group 1, no
// pre-activation) with a constant float32 weight whose fraction of zeros
// is at least minSparsity into the sparse ops of gcompress's domain,
// SparseGemm and SparseConv, with the same inputs and attributes (the
// semantics are those of FusedGemm / FusedConv). It returns how many nodes
// it changed.
func SparsifyWeights(g *graph.Graph, minSparsity float64) int {
	changed := 0
	for _, n := range g.Nodes {
		var op string
		var w *graph.Value
		switch {
		case n.IsONNX("Gemm") || fusedOp(n, "FusedGemm"):
			if n.AttrInt("transA", 0) != 0 || n.AttrFloat("alpha", 1) != 1 {
				continue
			}
			op, w = "SparseGemm", n.Input(1)
		case n.IsONNX("Conv") || fusedOp(n, "FusedConv"):
			if n.AttrInt("group", 1) != 1 || len(n.Inputs) > 4 {
				continue
			}
			op, w = "SparseConv", n.Input(1)
		default:
			continue
		}
		if w == nil || w.Const == nil || w.Const.DType() != tensor.Float32 || w.Const.Len() == 0 {
			continue
		}
		if r := w.Const.Rank(); op == "SparseGemm" && r != 2 || op == "SparseConv" && r != 4 {
			continue
		}
		zeros := 0
		for _, v := range w.Const.F32() {
			if v == 0 {
				zeros++
			}
		}
		if float64(zeros) < minSparsity*float64(w.Const.Len()) {
			continue
		}
		n.OpType, n.Domain = op, Domain
		changed++
	}
	return changed
}
