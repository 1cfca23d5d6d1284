package quant

import (
	"sync"
	"testing"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/train"
)

// mnistSplit loads a split of the embedded MNIST digits.
func mnistSplit(t testing.TB, split string) *data.Dataset {
	t.Helper()
	d, err := mnist.Load(split)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	trainedMu     sync.Mutex
	trainedModels = map[string]*graph.Model{}
)

// trainedModel returns zoo architecture arch briefly trained on the first
// 3,000 training digits (two epochs, seed 1): enough for accuracy
// well above chance, so that agreement and accuracy drops mean something,
// and quick enough for unit tests. The model is shared: callers must not
// modify it.
func trainedModel(t testing.TB, arch string) *graph.Model {
	t.Helper()
	trainedMu.Lock()
	defer trainedMu.Unlock()
	if m, ok := trainedModels[arch]; ok {
		return m
	}
	m, err := models.Build(arch, 1)
	if err != nil {
		t.Fatal(err)
	}
	full := mnistSplit(t, "train")
	idx := make([]int, 3000)
	for i := range idx {
		idx[i] = i
	}
	sub, err := train.Subset(full, idx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.Config{Epochs: 2, Batch: 32, Seed: 1,
		Solver:   train.SolverConfig{Kind: "sgd", Momentum: 0.9},
		Schedule: train.Schedule{Kind: "cosine", Base: 0.03}}
	if arch == "resnet-mini" {
		cfg.Schedule.Base = 0.1 // BatchNorm: at 0.03 two epochs leave it below 80%
	}
	if _, err := train.Train(m, train.Data{Train: sub}, cfg, train.Hooks{}); err != nil {
		t.Fatal(err)
	}
	trainedModels[arch] = m
	return m
}

func ptr[T any](v T) *T { return &v }
