package distill

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

// linearModel is logits = x W + b for x [batch, in].
func linearModel(seed uint64, batch, in, out int) *graph.Model {
	rng := rand.New(rand.NewPCG(seed, 1))
	g := graph.NewGraph("linear")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.SetShape([]int{batch, in})
	g.Inputs = []*graph.Value{x}
	w := tensor.MustNew(tensor.Float32, in, out)
	for i := range w.F32() {
		w.F32()[i] = float32(rng.NormFloat64() * 0.5)
	}
	b := tensor.MustNew(tensor.Float32, out)
	h := g.GetOrAddValue("h")
	h.DType = tensor.Float32
	g.AddNode("Gemm", []*graph.Value{x, g.AddInitializer("w", w), g.AddInitializer("b", b)}, []*graph.Value{h}, nil)
	y := g.GetOrAddValue("y")
	y.DType = tensor.Float32
	g.AddNode("Relu", []*graph.Value{h}, []*graph.Value{y}, nil)
	w2 := tensor.MustNew(tensor.Float32, out, 4)
	for i := range w2.F32() {
		w2.F32()[i] = float32(rng.NormFloat64() * 0.5)
	}
	z := g.GetOrAddValue("z")
	z.DType = tensor.Float32
	g.AddNode("Gemm", []*graph.Value{y, g.AddInitializer("w2", w2)}, []*graph.Value{z}, nil)
	g.Outputs = []*graph.Value{z}
	return graph.NewModel(g, 13)
}

func randSlice(seed uint64, n int, scale float64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * scale)
	}
	return out
}

// TestLossValue checks the KD loss value against a float64 evaluation of
// its formula, with the student logits equal to the input (W = I).
func TestLossValue(t *testing.T) {
	g := graph.NewGraph("id")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.SetShape([]int{3, 4})
	g.Inputs = []*graph.Value{x}
	eye := tensor.FromSlice([]int{4, 4}, []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1})
	z := g.GetOrAddValue("z")
	z.DType = tensor.Float32
	g.AddNode("Gemm", []*graph.Value{x, g.AddInitializer("w", eye)}, []*graph.Value{z}, nil)
	g.Outputs = []*graph.Value{z}
	net, err := train.Build(graph.NewModel(g, 13), train.BuildOptions{Batch: 3, Mode: train.Training})
	if err != nil {
		t.Fatal(err)
	}
	s := []float32{1, 2, -1, 0.5, 0, 0, 3, -2, 4, 1, 1, 1}
	tl := []float32{2, 1, 0, -1, 1, 1, 2, 0, -3, 0, 5, 1}
	labels := []int{1, 2, 0}
	const T, alpha = 3, 0.6
	loss := &Loss{T: T, Alpha: alpha, Teacher: func(*train.Batch) ([]float32, error) { return tl, nil }}
	ln, err := loss.Build(net, net.Logits)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(net.G)
	if err := net.SetInput(s); err != nil {
		t.Fatal(err)
	}
	if err := loss.Feed(&train.Batch{Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := float64(ln.Value().Data().(float32))
	logSoftmax := func(z []float32, temp float64) []float64 {
		m := math.Inf(-1)
		for _, v := range z {
			m = math.Max(m, float64(v)/temp)
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v)/temp - m)
		}
		out := make([]float64, len(z))
		for i, v := range z {
			out[i] = float64(v)/temp - m - math.Log(sum)
		}
		return out
	}
	var kl, ce float64
	for r := 0; r < 3; r++ {
		lp, lq := logSoftmax(tl[r*4:r*4+4], T), logSoftmax(s[r*4:r*4+4], T)
		for c := range lp {
			kl += math.Exp(lp[c]) * (lp[c] - lq[c])
		}
		ce -= logSoftmax(s[r*4:r*4+4], 1)[labels[r]]
	}
	want := alpha*T*T*kl/3 + (1-alpha)*ce/3
	if math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Fatalf("KD loss %v, want %v", got, want)
	}
}

// TestGradients checks the KD loss's gradients numerically (soft and hard
// terms, and alpha = 1, soft only).
func TestGradients(t *testing.T) {
	for _, alpha := range []float32{0.7, 1} {
		m := linearModel(3, 6, 7, 9)
		teacher := randSlice(9, 6*4, 3)
		loss := &Loss{T: 4, Alpha: alpha, Teacher: func(*train.Batch) ([]float32, error) { return teacher, nil }}
		checks, err := train.CheckGradients(m, loss, 6, &train.Batch{Labels: []int{0, 1, 2, 3, 1, 0}}, randSlice(10, 6*7, 1), 1e-2, 1e-2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(checks) != 3 {
			t.Fatalf("%d parameters checked", len(checks))
		}
		for _, c := range checks {
			if c.RelErr > 1e-2 {
				t.Errorf("alpha %v, %s: analytic %.6g numeric %.6g", alpha, c.Param, c.Analytic, c.Numeric)
			}
		}
	}
}

func TestSoftTargets(t *testing.T) {
	logits := []float32{10, 0, -10, 1, 1, 1}
	p := make([]float32, 6)
	for _, T := range []float64{1, 4, 1000} {
		SoftTargets(p, logits, 3, T)
		for r := 0; r < 2; r++ {
			var s float64
			for _, v := range p[r*3 : r*3+3] {
				s += float64(v)
			}
			if math.Abs(s-1) > 1e-6 {
				t.Fatalf("T=%v row %d sums to %v", T, r, s)
			}
		}
		if math.Abs(float64(p[3])-1.0/3) > 1e-6 {
			t.Fatalf("equal logits give %v", p[3:])
		}
	}
	// A high temperature flattens, a low one sharpens.
	SoftTargets(p, logits, 3, 1000)
	if p[0]-p[2] > 0.01 {
		t.Errorf("T=1000 is not nearly uniform: %v", p[:3])
	}
	SoftTargets(p, logits, 3, 1)
	if p[0] < 0.99 {
		t.Errorf("T=1 is not peaked: %v", p[:3])
	}
}

// TestRunCachedEqualsPerBatch distils a LeNet-5 teacher (a [N,1,28,28]
// input) into an MLP student ([N,784]) twice: with the teacher's logits
// precomputed for the training set (Run with no augmentation) and computed
// per batch. The student's final weights must be identical, which checks
// the cache's sample indexing.
func TestRunCachedEqualsPerBatch(t *testing.T) {
	full, err := mnist.Load("train")
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, 400)
	for i := range idx {
		idx[i] = i
	}
	ds, err := train.Subset(full, idx)
	if err != nil {
		t.Fatal(err)
	}
	teacher, err := models.Build("lenet5", 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Config{Epochs: 2, Batch: 50, Seed: 3, Solver: train.SolverConfig{Kind: "sgd", Momentum: 0.9},
		Schedule: train.Schedule{Base: 0.05}}
	a, _ := models.Build("mlp-30-30", 2)
	res, err := Run(teacher, a, train.Data{Train: ds}, cfg, Options{T: 4, Alpha: 0.9, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.TeacherSamples != 400 || res.TeacherLogits == "" {
		t.Errorf("cached teacher ran on %d samples (%q), want 400 once", res.TeacherSamples, res.TeacherLogits)
	}
	b, _ := models.Build("mlp-30-30", 2)
	tt, err := NewTeacher(teacher, 1, []int{28, 28})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := train.Train(b, train.Data{Train: ds}, cfg, train.Hooks{Loss: &Loss{T: 4, Alpha: 0.9, Teacher: tt.Logits}}); err != nil {
		t.Fatal(err)
	}
	if tt.Samples != 2*400 {
		t.Errorf("per-batch teacher ran on %d samples, want 800", tt.Samples)
	}
	for i, v := range a.Graph.Initializers {
		if !bytes.Equal(v.Const.RawBytes(), b.Graph.Initializers[i].Const.RawBytes()) {
			t.Fatalf("%s differs between cached and per-batch teacher logits", v.Name)
		}
	}
	// With augmentation the teacher runs per batch.
	c, _ := models.Build("mlp-30-30", 2)
	cfg.Shift = 1
	res, err = Run(teacher, c, train.Data{Train: ds}, cfg, Options{T: 4, Alpha: 0.9, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.TeacherSamples != 800 {
		t.Errorf("augmented run: teacher ran on %d samples, want 800", res.TeacherSamples)
	}
}

func TestLossRejects(t *testing.T) {
	m := linearModel(1, 2, 3, 4)
	net, err := train.Build(m, train.BuildOptions{Batch: 2, Mode: train.Training})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Loss{{T: 0, Alpha: 0.5, Teacher: func(*train.Batch) ([]float32, error) { return nil, nil }},
		{T: 1, Alpha: 2, Teacher: func(*train.Batch) ([]float32, error) { return nil, nil }}, {T: 1, Alpha: 0.5}} {
		if _, err := l.Build(net, net.Logits); err == nil {
			t.Errorf("%+v accepted", l)
		}
	}
	l := &Loss{T: 2, Alpha: 0.5, Teacher: func(*train.Batch) ([]float32, error) { return []float32{1}, nil }}
	if _, err := l.Build(net, net.Logits); err != nil {
		t.Fatal(err)
	}
	if err := l.Feed(&train.Batch{Labels: []int{0, 1}}); err == nil {
		t.Error("a teacher output of the wrong size was accepted")
	}
}
