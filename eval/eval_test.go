package eval

import (
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// inputModel is y = x + c with x [batch..., 4] and an overridable
// constant c listed first among the inputs.
func inputModel(batch graph.Dim) *graph.Model {
	g := graph.NewGraph("m")
	c := g.AddInitializer("c", tensor.FromSlice([]int{}, []float32{1}))
	x := g.GetOrAddValue("x")
	x.DType, x.HasShape = tensor.Float32, true
	x.Shape = []graph.Dim{batch, {Size: 4}}
	y := g.GetOrAddValue("y")
	g.AddNode("Add", []*graph.Value{x, c}, []*graph.Value{y}, nil)
	g.Inputs = []*graph.Value{c, x}
	g.Outputs = []*graph.Value{y}
	return graph.NewModel(g, 13)
}

// TestInputShape: the sample shape fills the model's input; a constant
// listed first is not the data input; a fixed batch of 0, an unlabelled
// dataset and a sample of the wrong size are errors.
func TestInputShape(t *testing.T) {
	m := inputModel(graph.Dim{Size: -1, Param: "batch"})
	name, shape, err := InputShape(m.Graph, 8, []int{2, 2})
	if err != nil || name != "x" || len(shape) != 2 || shape[0] != 8 || shape[1] != 4 {
		t.Fatalf("InputShape: %q %v %v", name, shape, err)
	}
	if _, _, err := InputShape(m.Graph, 8, []int{5}); err == nil {
		t.Error("a sample of 5 values for an input of 4: want an error")
	}
	if _, _, err := InputShape(inputModel(graph.Dim{Size: 0}).Graph, 8, []int{4}); err == nil {
		t.Error("a fixed batch of 0: want an error (callers would loop forever)")
	}
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ds := &data.Dataset{Images: tensor.FromSlice([]int{3, 4}, []float32{9, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 9}), Labels: []int{0, 1, 2}, Rows: 1, Cols: 4}
	res, err := Accuracy(sess, ds, 2)
	if err != nil || res.Samples != 3 || res.Correct != 2 {
		t.Errorf("Accuracy with a constant listed first: %+v, %v", res, err)
	}
	ds.Labels = nil
	if _, err := Accuracy(sess, ds, 2); err == nil {
		t.Error("Accuracy on unlabelled samples: want an error")
	}
}

// TestScoreShape: [n, classes] and [n, classes, 1, 1] are scores; others
// are not.
func TestScoreShape(t *testing.T) {
	for _, c := range []struct {
		shape    []int
		n, c     int
		accepted bool
	}{{[]int{2, 10}, 2, 10, true}, {[]int{3, 1000, 1, 1}, 3, 1000, true}, {[]int{3, 10, 2}, 0, 0, false}, {[]int{10}, 0, 0, false}} {
		n, k, ok := ScoreShape(tensor.MustNew(tensor.Float32, c.shape...))
		if n != c.n || k != c.c || ok != c.accepted {
			t.Errorf("%v: %d, %d, %v", c.shape, n, k, ok)
		}
	}
	p, err := Argmax(tensor.FromSlice([]int{2, 3, 1, 1}, []float32{0, 5, 1, 7, 0, 0}))
	if err != nil || p[0] != 1 || p[1] != 0 {
		t.Errorf("Argmax of [2 3 1 1]: %v, %v", p, err)
	}
}
