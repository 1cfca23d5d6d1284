package prune

import (
	"bytes"
	"math"
	"testing"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/train"
)

func mustModel(t *testing.T, arch string, seed uint64) *graph.Model {
	t.Helper()
	m, err := models.Build(arch, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// smallData returns the first n training digits and the first 200 test
// digits of the embedded MNIST.
func smallData(t *testing.T, n int) train.Data {
	t.Helper()
	tr, err := mnist.Load("train")
	if err != nil {
		t.Fatal(err)
	}
	te, err := mnist.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	idx := func(k int) []int {
		out := make([]int, k)
		for i := range out {
			out[i] = i
		}
		return out
	}
	sub := func(ds *data.Dataset, k int) *data.Dataset {
		s, err := train.Subset(ds, idx(k))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return train.Data{Train: sub(tr, n), Test: sub(te, 200)}
}

func quickConfig(epochs int) train.Config {
	return train.Config{Epochs: epochs, Batch: 50, Seed: 3, Solver: train.SolverConfig{Kind: "sgd", Momentum: 0.9},
		Schedule: train.Schedule{Kind: "constant", Base: 0.02}}
}

func TestLayers(t *testing.T) {
	m := mustModel(t, "lenet5", 1)
	ls := Layers(m)
	want := []struct {
		name       string
		rows, cols int
	}{{"conv1.weight", 6, 25}, {"conv2.weight", 16, 150}, {"fc1.weight", 120, 400}, {"fc2.weight", 84, 120}, {"fc3.weight", 10, 84}}
	if len(ls) != len(want) {
		t.Fatalf("%d layers, want %d", len(ls), len(want))
	}
	for i, w := range want {
		if ls[i].Name() != w.name || ls[i].Rows != w.rows || ls[i].Cols != w.cols {
			t.Errorf("layer %d: %s %dx%d, want %s %dx%d", i, ls[i].Name(), ls[i].Rows, ls[i].Cols, w.name, w.rows, w.cols)
		}
	}
}

// TestMagnitude checks per-layer ratios prune exactly the smallest
// weights, a global threshold prunes the smallest overall, and earlier
// masks stay pruned.
func TestMagnitude(t *testing.T) {
	m := mustModel(t, "lenet-300-100", 1)
	ls := Layers(m)
	ms, err := Magnitude(ls, Ratios{Default: 0.9, PerLayer: map[string]float64{"fc3": 0.5}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		mk := ms[l.Name()]
		want := 0.9
		if l.Node.Name == "fc3" {
			want = 0.5
		}
		if math.Abs(mk.Sparsity()-want) > 1.0/float64(l.Params()) {
			t.Errorf("%s: sparsity %v, want %v", l.Name(), mk.Sparsity(), want)
		}
		// Every kept weight is at least as large as every pruned one.
		minKept, maxPruned := math.Inf(1), 0.0
		for i, v := range l.Weight.Const.F32() {
			a := math.Abs(float64(v))
			if mk.Keep[i] {
				minKept = math.Min(minKept, a)
			} else {
				maxPruned = math.Max(maxPruned, a)
			}
		}
		if maxPruned > minKept {
			t.Errorf("%s: pruned |w| %v > kept |w| %v", l.Name(), maxPruned, minKept)
		}
	}
	g, err := GlobalMagnitude(ls, 0.8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(g.Sparsity()-0.8) > 1e-5 {
		t.Errorf("global sparsity %v", g.Sparsity())
	}
	// A later, lower target keeps the earlier pruned weights pruned.
	again, err := Magnitude(ls, Ratios{Default: 0.95}, ms)
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range ms {
		for i, k := range mk.Keep {
			if !k && again[name].Keep[i] {
				t.Fatalf("%s[%d] was revived", name, i)
			}
		}
	}
	if _, err := Magnitude(ls, Ratios{Default: 0.5, PerLayer: map[string]float64{"nope": 0.3}}, nil); err == nil {
		t.Error("an unknown layer name was accepted")
	}
	if _, err := Magnitude(ls, Ratios{Default: 1}, nil); err == nil {
		t.Error("sparsity 1 was accepted")
	}
}

func TestMasksApplySaveLoad(t *testing.T) {
	m := mustModel(t, "lenet5", 2)
	ls := Layers(m)
	ms, err := Magnitude(ls, Ratios{Default: 0.7}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Apply(m); err != nil {
		t.Fatal(err)
	}
	back := FromZeros(Layers(m))
	for name, mk := range ms {
		for i := range mk.Keep {
			if mk.Keep[i] != back[name].Keep[i] {
				t.Fatalf("%s[%d]: mask and zeros disagree", name, i)
			}
		}
	}
	var buf bytes.Buffer
	if err := ms.Write(&buf); err != nil {
		t.Fatal(err)
	}
	read, err := ReadMasks(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != len(ms) || read.Sparsity() != ms.Sparsity() {
		t.Fatalf("read back %d masks at %v, wrote %d at %v", len(read), read.Sparsity(), len(ms), ms.Sparsity())
	}
	if err := read.Check(m); err != nil {
		t.Fatal(err)
	}
	bad := Masks{"conv1.weight": NewMask("conv1.weight", []int{3, 3})}
	if err := bad.Apply(m); err == nil {
		t.Error("a mask of the wrong shape was applied")
	}
	if _, err := ReadMasks([]byte("garbage")); err == nil {
		t.Error("garbage read as masks")
	}
}

func TestNM(t *testing.T) {
	m := mustModel(t, "lenet5", 3)
	ls := Layers(m)
	ms, err := NM(ls, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		mk := ms[l.Name()]
		w := l.Weight.Const.F32()
		for i := 0; i < l.Rows; i++ {
			for g := 0; g < l.Cols; g += 4 {
				kept, minKept, maxPruned := 0, math.Inf(1), 0.0
				for p := g; p < min(g+4, l.Cols); p++ {
					at := l.Index(i, p)
					a := math.Abs(float64(w[at]))
					if mk.Keep[at] {
						kept++
						minKept = math.Min(minKept, a)
					} else {
						maxPruned = math.Max(maxPruned, a)
					}
				}
				if kept != min(2, l.Cols-g) || maxPruned > minKept {
					t.Fatalf("%s row %d group %d: %d kept, pruned %v > kept %v", l.Name(), i, g, kept, maxPruned, minKept)
				}
			}
		}
	}
	warn := NMWarnings(ls, 64)
	if len(warn) == 0 {
		t.Error("no 2:4 warning for LeNet-5's 25-column conv1")
	}
	if _, err := NM(ls, 4, 4); err == nil {
		t.Error("4:4 accepted")
	}
}

func TestSchedules(t *testing.T) {
	if r := (Ratios{Default: 0.9}).Scale(1, 2); math.Abs(r.Default-(1-math.Sqrt(0.1))) > 1e-12 {
		t.Errorf("iterative round 1 of 2 of 90%%: %v", r.Default)
	}
	g := GradualSchedule{Start: 0.1, End: 0.5, Every: 10}
	prev := -1.0
	for step := 0; step <= 100; step++ {
		f, ok := g.At(step, 100)
		if !ok {
			continue
		}
		if f < prev || f < 0 || f > 1 {
			t.Fatalf("step %d: fraction %v after %v", step, f, prev)
		}
		prev = f
		if step == 30 {
			// (30 - 10) / 40 = 0.5 of the way: 1 - 0.5^3.
			if math.Abs(f-0.875) > 1e-12 {
				t.Errorf("step 30: %v, want 0.875", f)
			}
		}
	}
	if prev != 1 {
		t.Errorf("the schedule ends at %v, want 1", prev)
	}
	if _, ok := g.At(5, 100); ok {
		t.Error("pruned before the start")
	}
}

// TestGradualAndIterative trains LeNet-300-100 briefly with each schedule
// and checks the final sparsity, that pruned weights are zero, and that
// the retrained model is far better than chance.
func TestGradualAndIterative(t *testing.T) {
	d := smallData(t, 1000)
	target := Ratios{Default: 0.8}
	m := mustModel(t, "lenet-300-100", 1)
	ls := Layers(m)
	ms, events, _, err := Gradual(m, ls, target, GradualSchedule{End: 0.6, Every: 5}, Retrain{Data: d, Config: quickConfig(3)})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 3 || math.Abs(ms.Sparsity()-0.8) > 1e-3 {
		t.Fatalf("gradual: %d events, sparsity %v", len(events), ms.Sparsity())
	}
	for i := 1; i < len(events); i++ {
		if events[i].Sparsity < events[i-1].Sparsity {
			t.Fatalf("sparsity went down: %v", events)
		}
	}
	checkZeros(t, m, ms)
	acc, err := train.Evaluate(m, d.Test, 2)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Accuracy < 0.7 {
		t.Errorf("gradual: accuracy %v", acc.Accuracy)
	}

	m2 := mustModel(t, "lenet-300-100", 1)
	ms2, rounds, err := Iterative(m2, Layers(m2), target, 2, LayerwiseMagnitude, Retrain{Data: d, Config: quickConfig(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 2 || rounds[0].Sparsity >= rounds[1].Sparsity || math.Abs(ms2.Sparsity()-0.8) > 1e-3 {
		t.Fatalf("iterative rounds %+v, final %v", rounds, ms2.Sparsity())
	}
	checkZeros(t, m2, ms2)
}

func checkZeros(t *testing.T, m *graph.Model, ms Masks) {
	t.Helper()
	for name, mk := range ms {
		w := m.Graph.Value(name).Const.F32()
		for i, k := range mk.Keep {
			if !k && w[i] != 0 {
				t.Fatalf("%s[%d] = %v is pruned but not zero", name, i, w[i])
			}
		}
	}
}

func TestSensitivity(t *testing.T) {
	d := smallData(t, 1000)
	m := mustModel(t, "lenet-300-100", 1)
	if _, err := train.Train(m, d, quickConfig(2), train.Hooks{}); err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), m.Graph.Value("fc1.weight").Const.F32()...)
	base, curves, ratios, err := Sensitivity(m, Layers(m), d.Test, []float64{0.5, 0.9, 0.99}, 0.02, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(curves) != 3 || base < 0.7 {
		t.Fatalf("%d curves, base accuracy %v", len(curves), base)
	}
	for _, c := range curves {
		if len(c.Points) != 3 || ratios.PerLayer[c.Node] != c.Chosen {
			t.Fatalf("%s: %+v", c.Node, c)
		}
		for _, p := range c.Points {
			if p.Sparsity <= c.Chosen && p.Accuracy < base-0.02 {
				t.Errorf("%s: chose %v but %v drops to %v", c.Node, c.Chosen, p.Sparsity, p.Accuracy)
			}
		}
	}
	// fc1 (235k weights, most redundant) tolerates at least 50%.
	if ratios.PerLayer["fc1"] < 0.5 {
		t.Errorf("fc1 chosen %v", ratios.PerLayer["fc1"])
	}
	for i, v := range m.Graph.Value("fc1.weight").Const.F32() {
		if v != before[i] {
			t.Fatal("the scan left the model modified")
		}
	}
}
