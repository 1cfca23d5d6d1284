package graph

import (
	"strings"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

// chain builds x -> A -> B -> C -> y with nodes stored in the given order.
func chain(order ...int) (*Graph, []*Node) {
	g := NewGraph("chain")
	x := g.GetOrAddValue("x")
	g.Inputs = []*Value{x}
	vals := []*Value{x, g.GetOrAddValue("a"), g.GetOrAddValue("b"), g.GetOrAddValue("y")}
	nodes := make([]*Node, 3)
	for i, op := range []string{"A", "B", "C"} {
		nodes[i] = &Node{Name: strings.ToLower(op), OpType: op, Inputs: []*Value{vals[i]}, Outputs: []*Value{vals[i+1]}, Attrs: map[string]*Attr{}}
	}
	for _, i := range order {
		g.link(nodes[i])
		g.Nodes = append(g.Nodes, nodes[i])
	}
	g.Outputs = []*Value{vals[3]}
	return g, nodes
}

func opOrder(g *Graph) string {
	var s []string
	for _, n := range g.Nodes {
		s = append(s, n.OpType)
	}
	return strings.Join(s, "")
}

func TestTopoSort(t *testing.T) {
	g, _ := chain(2, 0, 1)
	if err := g.TopoSort(); err != nil {
		t.Fatal(err)
	}
	if got := opOrder(g); got != "ABC" {
		t.Errorf("order %s, want ABC", got)
	}
	if err := g.Validate(); err != nil {
		t.Error(err)
	}
}

func TestTopoSortCycle(t *testing.T) {
	g, nodes := chain(0, 1, 2)
	// Make A read C's output: A -> B -> C -> A.
	g.SetInput(nodes[0], 0, g.Value("y"))
	err := g.TopoSort()
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle not reported: %v", err)
	}
}

func TestInsertAfterAndReplaceAllUses(t *testing.T) {
	g, nodes := chain(0, 1, 2)
	a := g.Value("a")
	q := g.InsertAfter(a, "Q", nil, nil)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := opOrder(g); got != "AQBC" {
		t.Errorf("order %s, want AQBC", got)
	}
	if nodes[1].Inputs[0] != q.Outputs[0] || len(a.Consumers) != 1 || a.Consumers[0] != q {
		t.Error("B should read Q's output and a should feed only Q")
	}
	// Bypass Q again: B reads a, Q becomes dead.
	g.ReplaceAllUses(q.Outputs[0], a)
	if removed := g.RemoveDeadNodes(); removed != 1 {
		t.Errorf("removed %d dead nodes, want 1", removed)
	}
	if got := opOrder(g); got != "ABC" {
		t.Errorf("order %s after removing Q, want ABC", got)
	}
	if g.Value(q.Outputs[0].Name) != nil {
		t.Error("dead value still in the graph")
	}
}

func TestInsertAfterGraphOutput(t *testing.T) {
	g, _ := chain(0, 1, 2)
	y := g.Value("y")
	n := g.InsertAfter(y, "Post", nil, nil)
	if g.Outputs[0] != n.Outputs[0] {
		t.Error("graph output should move to the inserted node's output")
	}
}

func TestReplaceNode(t *testing.T) {
	g, nodes := chain(0, 1, 2)
	b := nodes[1]
	mid := g.NewValue("mid")
	out := g.NewValue("b2")
	repl := []*Node{
		{OpType: "B1", Inputs: []*Value{g.Value("a")}, Outputs: []*Value{mid}},
		{OpType: "B2", Inputs: []*Value{mid}, Outputs: []*Value{out}},
	}
	if err := g.ReplaceNode(b, repl, []*Value{out}); err != nil {
		t.Fatal(err)
	}
	if got := opOrder(g); got != "AB1B2C" {
		t.Errorf("order %s", got)
	}
	if nodes[2].Inputs[0] != out {
		t.Error("C should read the replacement's output")
	}
	g.RemoveDeadNodes()
	if err := g.Validate(); err != nil {
		t.Error(err)
	}
	if err := g.ReplaceNode(b, nil, nil); err == nil {
		t.Error("replacing a node that is gone should fail")
	}
}

func TestValidateErrors(t *testing.T) {
	g, nodes := chain(0, 1, 2)
	g.SetInput(nodes[1], 0, g.GetOrAddValue("ghost"))
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), `"ghost"`) {
		t.Errorf("undefined input not reported: %v", err)
	}
}

func TestBroadcastDims(t *testing.T) {
	got, err := broadcastDims([]Dim{{Size: -1, Param: "N"}, {Size: 1}}, []Dim{{Size: 5}})
	if err != nil || FormatShape(got) != "[N 5]" {
		t.Errorf("broadcast = %v, %v", FormatShape(got), err)
	}
	if _, err := broadcastDims(KnownDims(2), KnownDims(3)); err == nil {
		t.Error("2 vs 3 accepted")
	}
}

func TestConstTensorFromConstantNode(t *testing.T) {
	g := NewGraph("c")
	out := g.GetOrAddValue("k")
	g.AddNode("Constant", nil, []*Value{out}, map[string]*Attr{"value": TensorAttr(tensor.FromSlice([]int{2}, []int64{3, 4}))})
	vals, ok := ConstInt64s(out)
	if !ok || len(vals) != 2 || vals[1] != 4 {
		t.Errorf("ConstInt64s = %v, %v", vals, ok)
	}
}
