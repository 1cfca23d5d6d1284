package passes

import (
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// Evaluator runs one node on constant inputs (nil for omitted optional
// inputs) and returns its outputs; the runtime supplies one backed by its
// backend.
type Evaluator func(n *graph.Node, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)

// maxFoldElements bounds the size of a folded constant: bigger results
// (a ConstantOfShape filling a large tensor, say) are computed at run time
// instead of being stored in the session.
const maxFoldElements = 1 << 24

// FoldConstants replaces every node whose inputs are all constants (and
// that is deterministic and has no subgraph) by initializers holding its
// outputs, computed with eval. Nodes eval fails on are left alone. It
// returns the number of nodes folded.
func FoldConstants(g *graph.Graph, eval Evaluator) int {
	if eval == nil {
		return 0
	}
	folded := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if !foldable(g, n) {
			continue
		}
		in := make([]*tensor.Tensor, len(n.Inputs))
		for i, v := range n.Inputs {
			if v != nil {
				in[i] = g.Constant(v)
			}
		}
		out, err := eval(n, in)
		if err != nil || len(out) < len(n.Outputs) {
			continue
		}
		ok := true
		for i, o := range n.Outputs {
			if o != nil && (out[i] == nil || out[i].Len() > maxFoldElements || g.IsOutput(o)) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		outs := n.Outputs
		g.RemoveNode(n)
		for i, o := range outs {
			if o == nil {
				continue
			}
			o.Producer = nil
			g.AddInitializer(o.Name, out[i])
		}
		folded++
	}
	return folded
}

// foldable reports whether n can be evaluated at load time: every input
// constant (at least one input, or a Constant node), deterministic, no
// subgraph attributes.
func foldable(g *graph.Graph, n *graph.Node) bool {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return false
	}
	if strings.HasPrefix(n.OpType, "Random") || n.OpType == "Multinomial" || n.OpType == "Bernoulli" ||
		n.OpType == "If" || n.OpType == "Loop" || n.OpType == "Scan" || n.OpType == "Dropout" {
		return false
	}
	for _, a := range n.Attrs {
		if a.Type == graph.AttrGraph || a.Type == graph.AttrGraphs {
			return false
		}
	}
	if n.OpType == "Constant" {
		return true
	}
	if len(n.Inputs) == 0 {
		return false
	}
	for _, v := range n.Inputs {
		if v != nil && g.Constant(v) == nil {
			return false
		}
	}
	return true
}
