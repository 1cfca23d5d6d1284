package passes

import (
	"slices"

	"github.com/gcompress/gcompress/graph"
)

// GlobalPools rewrites an AveragePool whose window is its whole input
// (kernel_shape equal to the input's spatial dimensions, no pads, no
// dilation, so that every output has one cell) as GlobalAveragePool, which
// computes the same means, one per plane read contiguously. Classifiers
// written before the global ops existed end this way (ResNet-50's 7x7
// AveragePool). Only float inputs are taken (the integer pools of a
// lowered QDQ model have no global form), and SAME padding is left alone.
// MaxPool is not rewritten: it skips NaN inputs, and GlobalMaxPool
// propagates them.
func GlobalPools(g *graph.Graph) int {
	rewritten := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if !n.IsONNX("AveragePool") || len(n.Outputs) != 1 {
			continue
		}
		x, y := n.Input(0), n.Outputs[0]
		if x == nil || y == nil || !x.DType.IsFloat() {
			continue
		}
		xs, ok1 := x.ConcreteShape()
		ys, ok2 := y.ConcreteShape()
		if !ok1 || !ok2 || len(xs) < 3 || len(ys) != len(xs) || !wholeWindow(n, xs[2:]) {
			continue
		}
		if slices.ContainsFunc(ys[2:], func(d int) bool { return d != 1 }) {
			continue
		}
		p := &graph.Node{Name: n.Name, OpType: "GlobalAveragePool", Inputs: []*graph.Value{x}, Outputs: []*graph.Value{y}}
		if err := g.ReplaceNode(n, []*graph.Node{p}, p.Outputs); err != nil {
			continue
		}
		rewritten++
	}
	return rewritten
}

// wholeWindow reports whether pool n's window is exactly the spatial
// extent dims: kernel_shape equal to it, zero pads, unit dilations, and
// auto_pad NOTSET or VALID.
func wholeWindow(n *graph.Node, dims []int) bool {
	if a := n.AttrString("auto_pad", "NOTSET"); a != "NOTSET" && a != "VALID" && a != "" {
		return false
	}
	k := n.AttrInts("kernel_shape", nil)
	if len(k) != len(dims) {
		return false
	}
	for i, d := range dims {
		if k[i] != int64(d) {
			return false
		}
	}
	for _, p := range n.AttrInts("pads", nil) {
		if p != 0 {
			return false
		}
	}
	for _, d := range n.AttrInts("dilations", nil) {
		if d != 1 {
			return false
		}
	}
	return true
}
