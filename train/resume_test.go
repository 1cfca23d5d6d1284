package train

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// smallData returns the first n training digits and the first 200 test
// digits of the embedded MNIST.
func smallData(t testing.TB, n int) Data {
	t.Helper()
	tr, err := mnist.Load("train")
	if err != nil {
		t.Fatal(err)
	}
	te, err := mnist.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sub, err := Subset(tr, idx)
	if err != nil {
		t.Fatal(err)
	}
	tidx := make([]int, 200)
	for i := range tidx {
		tidx[i] = i
	}
	tsub, err := Subset(te, tidx)
	if err != nil {
		t.Fatal(err)
	}
	return Data{Train: sub, Test: tsub}
}

// tinyConvNet has every kind of training state: conv and dense weights,
// BatchNormalization running statistics and a Dropout mask.
func tinyConvNet(seed uint64) *graph.Model {
	b, x := newIR(seed, 1, 1, 28, 28)
	x.Shape[0] = graph.Dim{Size: -1, Param: "batch"}
	h := b.op("Conv", []*graph.Value{x, b.init(b.rand(0.3, 4, 1, 5, 5)), b.init(b.rand(0.01, 4))},
		map[string]*graph.Attr{"strides": ints(2, 2)})
	one := tensor.FromSlice([]int{4}, []float32{1, 1, 1, 1})
	h = b.op("BatchNormalization", []*graph.Value{h, b.init(one), b.init(tensor.MustNew(tensor.Float32, 4)),
		b.init(tensor.MustNew(tensor.Float32, 4)), b.init(one.Clone())}, nil)
	h = b.op("Relu", []*graph.Value{h}, nil)
	h = b.op("MaxPool", []*graph.Value{h}, map[string]*graph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2)})
	h = b.op("Flatten", []*graph.Value{h}, nil)
	h = b.op("Dropout", []*graph.Value{h, b.init(tensor.Scalar[float32](0.3))}, nil)
	y := b.op("Gemm", []*graph.Value{h, b.init(b.rand(0.1, 10, 144)), b.init(tensor.MustNew(tensor.Float32, 10))},
		map[string]*graph.Attr{"transB": graph.IntAttr(1)})
	return b.model(y, 13)
}

func weightBytes(m *graph.Model) []byte {
	var buf bytes.Buffer
	for _, v := range m.Graph.Initializers {
		buf.WriteString(v.Name)
		buf.Write(v.Const.RawBytes())
	}
	return buf.Bytes()
}

// TestResumeBitExact stops runs mid-epoch (as a kill would: the hook
// returns right after a mid-epoch checkpoint, later than it, or before the
// first one), resumes them with the same configuration, and requires the
// final weights to be byte-identical to an uninterrupted run.
func TestResumeBitExact(t *testing.T) {
	d := smallData(t, 600)
	for _, solver := range []SolverConfig{
		{Kind: "sgd", Momentum: 0.9, WeightDecay: 1e-3, Nesterov: true},
		{Kind: "adam", WeightDecay: 1e-4},
	} {
		cfg := Config{Epochs: 3, Batch: 50, Seed: 7, Solver: solver, Shift: 2,
			Schedule: Schedule{Kind: "cosine", Base: 0.01, WarmupEpochs: 0.5}}
		if solver.Kind == "sgd" {
			cfg.Schedule.Base = 0.05
		}
		ref := tinyConvNet(1)
		refRes, err := Train(ref, d, cfg, Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		want := weightBytes(ref)
		for _, stopAt := range []int{2, 19, 29} { // global steps; 12 batches per epoch, checkpoints after batches 5 and 10
			dir := t.TempDir()
			c := cfg
			c.CheckpointDir, c.CheckpointEvery = dir, 5
			m := tinyConvNet(1)
			_, err := Train(m, d, c, Hooks{AfterBatch: func(s BatchStats) error {
				if s.Step == stopAt {
					return ErrStopped
				}
				return nil
			}})
			if !errors.Is(err, ErrStopped) {
				t.Fatalf("%s stop at %d: %v", solver.Kind, stopAt, err)
			}
			m2 := tinyConvNet(1) // a fresh process starts from the initial model
			res, err := Train(m2, d, c, Hooks{})
			if err != nil {
				t.Fatalf("%s resume after %d: %v", solver.Kind, stopAt, err)
			}
			if stopAt >= 5 && !strings.HasSuffix(res.ResumedAt, ", batch 5") {
				t.Errorf("%s stop at %d: resumed at %q, want mid-epoch at batch 5", solver.Kind, stopAt, res.ResumedAt)
			}
			if !bytes.Equal(weightBytes(m2), want) {
				t.Errorf("%s: stopped at step %d and resumed (%s): final weights differ from the uninterrupted run", solver.Kind, stopAt, res.ResumedAt)
			}
			if len(res.Epochs) != len(refRes.Epochs) || res.Epochs[2].Loss != refRes.Epochs[2].Loss {
				t.Errorf("%s: resumed history %+v differs from %+v", solver.Kind, res.Epochs, refRes.Epochs)
			}
			t.Logf("%s: stopped at step %d, resumed at %s: identical weights", solver.Kind, stopAt, res.ResumedAt)
		}
	}
}

func TestResumeRejectsOtherRun(t *testing.T) {
	d := smallData(t, 200)
	dir := t.TempDir()
	cfg := Config{Epochs: 1, Batch: 50, Seed: 1, Solver: SolverConfig{Kind: "sgd"},
		Schedule: Schedule{Base: 0.01}, CheckpointDir: dir}
	if _, err := Train(tinyConvNet(1), d, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 2
	if _, err := Train(tinyConvNet(1), d, cfg, Hooks{}); err == nil {
		t.Fatal("a checkpoint of another seed was resumed")
	}
	// A finished run resumes to its end and returns the same weights.
	cfg.Seed = 1
	a := tinyConvNet(1)
	if _, err := Train(a, d, cfg, Hooks{}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "ckpt-*.safetensors"))
	if len(files) != 1 {
		t.Fatalf("checkpoint files %v, want exactly one", files)
	}
	// A corrupt state file is an error, not a panic or a silent restart.
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(tinyConvNet(1), d, cfg, Hooks{}); err == nil {
		t.Fatal("a corrupt checkpoint was accepted")
	}
}

// TestDeterministic trains twice with the same seed (the same bytes) and
// once with another (different bytes).
func TestDeterministic(t *testing.T) {
	d := smallData(t, 300)
	cfg := Config{Epochs: 1, Batch: 30, Seed: 3, Solver: SolverConfig{Kind: "sgd", Momentum: 0.9},
		Schedule: Schedule{Base: 0.05}, Shift: 1}
	var got [3][]byte
	for i := range got {
		c := cfg
		if i == 2 {
			c.Seed = 4
		}
		m := tinyConvNet(1)
		if _, err := Train(m, d, c, Hooks{}); err != nil {
			t.Fatal(err)
		}
		got[i] = weightBytes(m)
	}
	if !bytes.Equal(got[0], got[1]) {
		t.Error("two runs with the same seed differ")
	}
	if bytes.Equal(got[0], got[2]) {
		t.Error("runs with different seeds are identical")
	}
}
