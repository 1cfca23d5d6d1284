package runtime_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// symbolicConvModel is x [batch 16 8 8] -> Conv 3x3 (16 -> 16, pads 1) ->
// Relu -> y, the batch symbolic as in a model exported with a dynamic
// batch.
func symbolicConvModel() *graph.Model {
	rng := rand.New(rand.NewPCG(5, 6))
	g := graph.NewGraph("sym-conv")
	x := g.GetOrAddValue("x")
	x.DType, x.HasShape = tensor.Float32, true
	x.Shape = []graph.Dim{{Size: -1, Param: "batch"}, {Size: 16}, {Size: 8}, {Size: 8}}
	w := g.GetOrAddValue("w")
	wt := tensor.MustNew(tensor.Float32, 16, 16, 3, 3)
	for i := range wt.F32() {
		wt.F32()[i] = float32(rng.NormFloat64() * 0.1)
	}
	w.Const, w.DType = wt, tensor.Float32
	w.SetShape(wt.Shape())
	g.Initializers = []*graph.Value{w}
	c, y := g.GetOrAddValue("c"), g.GetOrAddValue("y")
	g.AddNode("Conv", []*graph.Value{x, w}, []*graph.Value{c}, map[string]*graph.Attr{"pads": graph.IntsAttr(1, 1, 1, 1)}).Name = "conv"
	g.AddNode("Relu", []*graph.Value{c}, []*graph.Value{y}, nil).Name = "relu"
	g.Inputs, g.Outputs = []*graph.Value{x}, []*graph.Value{y}
	if err := graph.InferShapes(g); err != nil {
		panic(err)
	}
	return graph.NewModel(g, 13)
}

// TestSessionSpecialisesSymbolicSizes: a session of a model with a
// symbolic batch runs each batch size through a child with the size
// fixed, so the load-time passes that need concrete shapes apply (at the
// AVX2 level and up the convolution runs blocked: NCHWcConv in the
// profile, each node once however many sizes ran), and gives what the
// unoptimised session gives at every batch size; past maxSpecial sizes
// the symbolic graph runs, with the same results.
func TestSessionSpecialisesSymbolicSizes(t *testing.T) {
	m := symbolicConvModel()
	s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 2, Profile: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, batch := range []int{1, 2, 3, 2, 4, 5, 6} {
		x := tensor.MustNew(tensor.Float32, batch, 16, 8, 8)
		for i := range x.F32() {
			x.F32()[i] = rng.Float32()*2 - 1
		}
		in := map[string]*tensor.Tensor{"x": x}
		got, err := s.Run(in)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		want, err := ref.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.SameShape(got[0].Shape(), want[0].Shape()) {
			t.Fatalf("batch %d: shape %v, want %v", batch, got[0].Shape(), want[0].Shape())
		}
		for i, v := range want[0].F32() {
			if d := math.Abs(float64(got[0].F32()[i] - v)); d > 1e-5 {
				t.Fatalf("batch %d: element %d = %g, want %g", batch, i, got[0].F32()[i], v)
			}
		}
	}
	blocked := false
	for _, op := range s.Profile().ByOp() {
		blocked = blocked || op.Op == "NCHWcConv"
	}
	seen := map[runtime.NodeTime]bool{}
	for _, n := range s.Profile().Nodes {
		k := runtime.NodeTime{Name: n.Name, Op: n.Op}
		if seen[k] {
			t.Errorf("the profile lists node %q (%s) twice: once per specialised size", n.Name, n.Op)
		}
		seen[k] = true
	}
	if lvl, _ := cpu.ActiveCPULevel(); lvl >= cpu.LevelAVX2 && !blocked {
		t.Errorf("at level %v no run took the blocked convolution: the symbolic batch was not specialised", lvl)
	}
}

// TestSpecialiseFailureReported: when a run's sizes get no specialised
// child (here batch 3 contradicts a Reshape to a constant [2, 16*8*8]), the
// session's OptimizeError says so, naming the sizes, once that run has
// happened (a CLI warns after the first run); a batch that specialises
// leaves it nil.
func TestSpecialiseFailureReported(t *testing.T) {
	m := symbolicConvModel()
	g := m.Graph
	shape := g.GetOrAddValue("shape")
	shape.Const, shape.DType = tensor.FromSlice([]int{2}, []int64{2, 16 * 8 * 8}), tensor.Int64
	shape.SetShape([]int{2})
	g.Initializers = append(g.Initializers, shape)
	flat := g.GetOrAddValue("flat")
	g.AddNode("Reshape", []*graph.Value{g.Outputs[0], shape}, []*graph.Value{flat}, nil).Name = "reshape"
	g.Outputs = []*graph.Value{flat}
	if err := graph.InferShapes(g); err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	run := func(batch int) error {
		_, err := s.Run(map[string]*tensor.Tensor{"x": tensor.MustNew(tensor.Float32, batch, 16, 8, 8)})
		return err
	}
	if err := run(2); err != nil || s.OptimizeError() != nil {
		t.Fatalf("batch 2: run error %v, OptimizeError %v", err, s.OptimizeError())
	}
	if err := run(3); err == nil {
		t.Fatal("batch 3 ran: the Reshape to [2, 1024] should refuse 3 images")
	}
	if err := s.OptimizeError(); err == nil || !strings.Contains(err.Error(), `"batch"=3`) {
		t.Fatalf("OptimizeError after batch 3: %v, want the sizes named", err)
	}
}
