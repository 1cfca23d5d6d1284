package train

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	G "gorgonia.org/gorgonia"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// initByShape names the initializer of the given shape.
func initByShape(m *graph.Model, shape ...int) string {
	for _, v := range m.Graph.Initializers {
		if tensor.SameShape(v.Const.Shape(), shape) {
			return v.Name
		}
	}
	return ""
}

func quickConfig() Config {
	return Config{Epochs: 1, Batch: 50, Seed: 5, Solver: SolverConfig{Kind: "sgd", Momentum: 0.9},
		Schedule: Schedule{Base: 0.05}}
}

// TestMasksKeepPrunedWeightsZero prunes half of a layer and checks that
// the pruned weights are zero after training while the others moved.
func TestMasksKeepPrunedWeightsZero(t *testing.T) {
	d := smallData(t, 300)
	m := tinyConvNet(1)
	name := initByShape(m, 10, 144) // the Gemm weight
	w := m.Graph.Value(name)
	if w == nil || w.Const.Len() != 1440 {
		t.Fatalf("unexpected test model: %v", w)
	}
	before := append([]float32(nil), w.Const.F32()...)
	mask := make([]float32, 1440)
	for i := range mask {
		if i%2 == 0 {
			mask[i] = 1
		}
	}
	if _, err := Train(m, d, quickConfig(), Hooks{Masks: map[string][]float32{name: mask}}); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for i, v := range m.Graph.Value(name).Const.F32() {
		if mask[i] == 0 && v != 0 {
			t.Fatalf("pruned weight %d is %v after training", i, v)
		}
		if mask[i] == 1 && v != before[i] {
			moved++
		}
	}
	if moved < 700 {
		t.Errorf("only %d of 720 kept weights changed", moved)
	}
	if _, err := Train(tinyConvNet(1), d, quickConfig(), Hooks{Masks: map[string][]float32{"nope": mask}}); err == nil {
		t.Error("a mask for an unknown parameter was accepted")
	}
	if _, err := Train(tinyConvNet(1), d, quickConfig(), Hooks{Masks: map[string][]float32{name: mask[:3]}}); err == nil {
		t.Error("a mask of the wrong size was accepted")
	}
}

// TestFrozen freezes the convolution and checks it is bit-identical after
// training while the classifier changed.
func TestFrozen(t *testing.T) {
	d := smallData(t, 300)
	m := tinyConvNet(1)
	convName, fcName := initByShape(m, 4, 1, 5, 5), initByShape(m, 10, 144)
	conv := append([]byte(nil), m.Graph.Value(convName).Const.RawBytes()...)
	fc := append([]byte(nil), m.Graph.Value(fcName).Const.RawBytes()...)
	frozen := func(name string) bool { return name == convName }
	if _, err := Train(m, d, quickConfig(), Hooks{Frozen: frozen}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(conv, m.Graph.Value(convName).Const.RawBytes()) {
		t.Error("a frozen parameter changed")
	}
	if bytes.Equal(fc, m.Graph.Value(fcName).Const.RawBytes()) {
		t.Error("a trainable parameter did not change")
	}
}

// sqLoss is a custom loss: the mean squared distance of the logits to the
// one-hot labels.
type sqLoss struct {
	target []float32
	calls  int
}

func (l *sqLoss) Build(net *Net, logits *G.Node) (*G.Node, error) {
	var y *G.Node
	y, l.target = NewInput(net.G, "sq/target", logits.Shape()...)
	d, err := G.Sub(logits, y)
	if err != nil {
		return nil, err
	}
	s, err := G.Square(d)
	if err != nil {
		return nil, err
	}
	return G.Mean(s)
}

func (l *sqLoss) Feed(b *Batch) error {
	l.calls++
	return FillOneHot(l.target, b.Labels, 10)
}

func TestCustomLossAndHooks(t *testing.T) {
	d := smallData(t, 500)
	d.Test = nil
	loss := &sqLoss{}
	var hooked []string
	var acts []string
	steps := 0
	res, err := Train(tinyConvNet(1), d, Config{Epochs: 2, Batch: 50, Seed: 1, Solver: SolverConfig{Kind: "adam"},
		Schedule: Schedule{Base: 1e-3}}, Hooks{
		Loss: loss,
		ParamHook: func(name string, w *G.Node) (*G.Node, error) {
			hooked = append(hooked, name)
			return w, nil
		},
		ActivationHook: func(v string, x *G.Node) (*G.Node, error) {
			acts = append(acts, v)
			return x, nil
		},
		AfterStep: func(*Net, BatchStats) error { steps++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if loss.calls != 20 || steps != 20 || res.Steps != 20 {
		t.Errorf("feeds %d, AfterStep %d, steps %d; want 20 each", loss.calls, steps, res.Steps)
	}
	if len(hooked) != 6 || len(acts) != 7 {
		t.Errorf("parameter hook saw %v, activation hook %v", hooked, acts)
	}
	if res.Epochs[1].Loss >= res.Epochs[0].Loss {
		t.Errorf("custom loss did not decrease: %v then %v", res.Epochs[0].Loss, res.Epochs[1].Loss)
	}
}

// TestParamHookTransforms checks that a parameter hook changes what the
// graph computes (a hook doubling the classifier weights doubles the
// logits of a bias-free linear model).
func TestParamHookTransforms(t *testing.T) {
	b, x := newIR(70, 2, 3)
	y := b.op("Gemm", []*graph.Value{x, b.init(b.rand(1, 3, 4))}, nil)
	m := b.model(y, 13)
	in := []float32{1, 2, 3, -1, 0.5, 2}
	plain, err := Build(m, BuildOptions{Batch: 2, Mode: Inference})
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := plain.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	doubled, err := Build(m, BuildOptions{Batch: 2, Mode: Inference, ParamHook: func(_ string, w *G.Node) (*G.Node, error) {
		return G.HadamardProd(w, G.NewConstant(float32(2)))
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := doubled.Forward(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(float64(got[i]-2*want[i])) > 1e-5 {
			t.Fatalf("hooked output %v, want 2 x %v", got, want)
		}
	}
}

func TestEarlyStopping(t *testing.T) {
	d := smallData(t, 400)
	tr, val, err := SplitValidation(d.Train, 0.25, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 300 || val.Len() != 100 {
		t.Fatalf("split %d/%d", tr.Len(), val.Len())
	}
	// A learning rate of zero never improves on the first epoch, so the
	// run stops after 1 + patience epochs and keeps the epoch-1 weights.
	cfg := quickConfig()
	cfg.Epochs, cfg.Patience = 10, 2
	cfg.Solver = SolverConfig{Kind: "sgd"}
	cfg.Schedule = Schedule{Kind: "step", Base: 0.05, StepEpochs: 1, Gamma: 1e-30}
	res, err := Train(tinyConvNet(1), Data{Train: tr, Val: val}, cfg, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || len(res.Epochs) != 3 || res.BestEpoch != 1 {
		t.Fatalf("stopped %v after %d epochs, best %d; want early stop after 3 with best 1", res.StoppedEarly, len(res.Epochs), res.BestEpoch)
	}
	if _, err := Train(tinyConvNet(1), d, cfg, Hooks{}); err == nil {
		t.Error("patience without a validation set was accepted")
	}
}

func TestTrainRejects(t *testing.T) {
	d := smallData(t, 100)
	bad := []Config{
		{Epochs: 0, Batch: 10, Schedule: Schedule{Base: 0.1}},
		{Epochs: 1, Batch: 0, Schedule: Schedule{Base: 0.1}},
		{Epochs: 1, Batch: 1000, Schedule: Schedule{Base: 0.1}},
		{Epochs: 1, Batch: 10, Schedule: Schedule{Base: -1}},
		{Epochs: 1, Batch: 10, Schedule: Schedule{Kind: "zigzag", Base: 0.1}},
		{Epochs: 1, Batch: 10, Schedule: Schedule{Base: 0.1}, Solver: SolverConfig{Kind: "rmsprop"}},
		{Epochs: 1, Batch: 10, Schedule: Schedule{Base: 0.1}, Shift: 40},
	}
	for i, cfg := range bad {
		if _, err := Train(tinyConvNet(1), d, cfg, Hooks{}); err == nil {
			t.Errorf("config %d accepted: %+v", i, cfg)
		}
	}
	// A model with an op train does not support lists it.
	b, x := newIR(1, 2, 3)
	m := b.model(b.op("Sin", []*graph.Value{b.op("Cos", []*graph.Value{x}, nil)}, nil), 13)
	if _, err := Build(m, BuildOptions{Batch: 2}); err == nil || !strings.Contains(err.Error(), "Cos, Sin") {
		t.Errorf("unsupported ops: %v", err)
	}
	// A diverging run reports the NaN instead of writing garbage.
	cfg := quickConfig()
	cfg.Schedule.Base = 1e30
	if _, err := Train(tinyConvNet(1), d, cfg, Hooks{}); err == nil {
		t.Error("a diverging run succeeded")
	}
}

func TestShift(t *testing.T) {
	src := []float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}
	dst := make([]float32, 9)
	Shift(dst, src, 3, 3, 1, -1)
	want := []float32{0, 0, 0, 2, 3, 0, 5, 6, 0}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("Shift(+1 row, -1 col) = %v, want %v", dst, want)
		}
	}
	Shift(dst, src, 3, 3, 0, 0)
	for i := range src {
		if dst[i] != src[i] {
			t.Fatal("zero shift is not a copy")
		}
	}
}

func TestFillBatchAndDropout(t *testing.T) {
	d := smallData(t, 100)
	order := epochOrder(100, 1, 0)
	seen := map[int]bool{}
	for _, o := range order {
		seen[o] = true
	}
	if len(seen) != 100 {
		t.Fatal("the epoch order is not a permutation")
	}
	if a, b := epochOrder(100, 1, 0), epochOrder(100, 1, 1); a[0] == b[0] && a[1] == b[1] && a[2] == b[2] {
		t.Error("two epochs share an order")
	}
	b := &Batch{}
	rng := rand.New(rand.NewPCG(1, 1))
	fillBatch(b, d.Train, order, 1, 10, 2, rng)
	if len(b.Labels) != 10 || b.Samples[0] != order[10] || b.Labels[3] != d.Train.Labels[order[13]] {
		t.Fatalf("batch 1: samples %v", b.Samples)
	}
	// Shifting moves ink but keeps (almost) all of it on a centred digit.
	var sum, ref float64
	for i, v := range b.X[:784] {
		sum += float64(v)
		ref += float64(d.Train.Images.F32()[order[10]*784+i])
	}
	if math.Abs(sum-ref) > 0.05*ref {
		t.Errorf("shifted digit has %v ink, the original %v", sum, ref)
	}
	// Dropout masks: ratio of zeros ~ ratio, kept units scaled by 1/(1-p).
	net, err := Build(tinyConvNet(1), BuildOptions{Batch: 50, Mode: Training})
	if err != nil {
		t.Fatal(err)
	}
	net.fillDropout(rng)
	mk := net.dropouts[0]
	zeros := 0
	for _, v := range mk.data {
		switch v {
		case 0:
			zeros++
		case float32(1 / (1 - 0.3)):
		default:
			t.Fatalf("mask value %v", v)
		}
	}
	if frac := float64(zeros) / float64(len(mk.data)); math.Abs(frac-0.3) > 0.03 {
		t.Errorf("dropped fraction %v, want 0.3", frac)
	}
}

func TestSolvers(t *testing.T) {
	p := &Param{Name: "w", Data: []float32{1, -2}, Shape: []int{1, 2}}
	b := &Param{Name: "b", Data: []float32{0.5}, Shape: []int{1}}
	g := [][]float32{{0.5, 1}, {1}}
	s, _ := NewSolver(SolverConfig{Kind: "sgd", Momentum: 0.5, WeightDecay: 0.1})
	// step 1: g' = g + 0.1 w = (0.6, 0.8); v = g'; w -= 0.1 v; the bias has no decay
	if err := s.Step(0.1, []*Param{p, b}, g); err != nil {
		t.Fatal(err)
	}
	want := []float32{1 - 0.06, -2 - 0.08}
	for i := range want {
		if math.Abs(float64(p.Data[i]-want[i])) > 1e-6 {
			t.Fatalf("sgd step 1: %v, want %v", p.Data, want)
		}
	}
	if math.Abs(float64(b.Data[0]-0.4)) > 1e-6 {
		t.Fatalf("bias %v, want 0.4 (no decay)", b.Data[0])
	}
	// step 2: v = 0.5 v + g'
	w0 := p.Data[0]
	s.Step(0.1, []*Param{p, b}, g)
	v := 0.5*0.6 + (0.5 + 0.1*float64(w0))
	if math.Abs(float64(p.Data[0])-(float64(w0)-0.1*v)) > 1e-6 {
		t.Fatalf("sgd momentum step: %v", p.Data[0])
	}
	// Adam's first step moves each weight by lr (bias-corrected m/sqrt(v) = sign(g)).
	a, _ := NewSolver(SolverConfig{Kind: "adam"})
	q := &Param{Name: "q", Data: []float32{1, 1}, Shape: []int{2}}
	a.Step(0.01, []*Param{q}, [][]float32{{3, -0.2}})
	if math.Abs(float64(q.Data[0])-0.99) > 1e-6 || math.Abs(float64(q.Data[1])-1.01) > 1e-6 {
		t.Fatalf("adam step 1: %v", q.Data)
	}
	// State round trip.
	st := a.State()
	a2, _ := NewSolver(SolverConfig{Kind: "adam"})
	if err := a2.SetState(st); err != nil {
		t.Fatal(err)
	}
	q2 := &Param{Name: "q", Data: append([]float32(nil), q.Data...), Shape: []int{2}}
	a.Step(0.01, []*Param{q}, [][]float32{{1, 1}})
	a2.Step(0.01, []*Param{q2}, [][]float32{{1, 1}})
	if q.Data[0] != q2.Data[0] || q.Data[1] != q2.Data[1] {
		t.Fatal("a restored Adam state steps differently")
	}
	if err := a2.SetState([]tensor.NamedTensor{{Name: "adam/t", Tensor: tensor.Scalar[float32](1)}}); err == nil {
		t.Error("a float step count was accepted")
	}
}

func TestSchedules(t *testing.T) {
	const per, n = 10, 100
	cases := []struct {
		s    Schedule
		step int
		want float64
	}{
		{Schedule{Kind: "constant", Base: 0.1}, 55, 0.1},
		{Schedule{Kind: "constant", Base: 0.1, WarmupEpochs: 1}, 0, 0.01},
		{Schedule{Kind: "constant", Base: 0.1, WarmupEpochs: 1}, 9, 0.1},
		{Schedule{Kind: "step", Base: 0.1, StepEpochs: 3, Gamma: 0.5}, 29, 0.1},
		{Schedule{Kind: "step", Base: 0.1, StepEpochs: 3, Gamma: 0.5}, 30, 0.05},
		{Schedule{Kind: "step", Base: 0.1, StepEpochs: 3, Gamma: 0.5}, 60, 0.025},
		{Schedule{Kind: "cosine", Base: 0.1}, 0, 0.1},
		{Schedule{Kind: "cosine", Base: 0.1}, 50, 0.05},
		{Schedule{Kind: "cosine", Base: 0.1, Min: 0.01}, 100, 0.01},
		{Schedule{Kind: "cosine", Base: 0.1, WarmupEpochs: 2}, 20, 0.1},
		{Schedule{Kind: "cosine", Base: 0.1, WarmupEpochs: 2}, 60, 0.05},
	}
	for _, c := range cases {
		if got := c.s.LR(c.step, per, n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v step %d: %v, want %v", c.s, c.step, got, c.want)
		}
	}
}

// TestTrainNeedsLabelsAndPlanarShift: unlabelled samples (a .npy without
// its labels file) are refused before any work, and the shift
// augmentation is refused for samples that are not one 2-D image (it
// would move pixels across channel planes), while a [1, 28, 28] sample
// shifts as a 28x28 image.
func TestTrainNeedsLabelsAndPlanarShift(t *testing.T) {
	d := smallData(t, 100)
	un := *d.Train
	un.Labels = nil
	if _, err := Train(tinyConvNet(1), Data{Train: &un}, quickConfig(), Hooks{}); err == nil || !strings.Contains(err.Error(), "labelled") {
		t.Errorf("unlabelled training data: %v", err)
	}
	withSample := func(sample ...int) Data {
		tr := *d.Train
		tr.Images = tensor.FromSlice(append([]int{tr.Len()}, sample...), tr.Images.F32())
		return Data{Train: &tr}
	}
	cfg := quickConfig()
	cfg.Shift = 2
	if _, err := Train(tinyConvNet(1), withSample(4, 14, 14), cfg, Hooks{}); err == nil || !strings.Contains(err.Error(), "shift") {
		t.Errorf("shift of [4 14 14] samples: %v", err)
	}
	if _, err := Train(tinyConvNet(1), withSample(1, 28, 28), cfg, Hooks{}); err != nil {
		t.Errorf("shift of [1 28 28] samples: %v", err)
	}
}
