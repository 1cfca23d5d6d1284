package train

import (
	"testing"

	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/models"
)

func TestSmokeLeNet(t *testing.T) {
	tr, _ := mnist.Load("train")
	te, _ := mnist.Load("test")
	m, err := models.Build("lenet5", 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Train(m, Data{Train: tr, Test: te}, Config{Epochs: 2, Batch: 64, Seed: 1,
		Solver: SolverConfig{Kind: "sgd", Momentum: 0.9, WeightDecay: 5e-4}, Schedule: Schedule{Kind: "cosine", Base: 0.05}, Shift: 2}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Epochs {
		t.Logf("%+v test %v", e, *e.TestAcc)
	}
	t.Logf("%.0f samples/s", res.SamplesPerSec)
}
