package train

import (
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/models"
)

// BenchmarkStep times one training step (forward, backward, SGD update) of
// the zoo models at their recipe batch sizes; samples/s = batch / (ns/op).
func BenchmarkStep(b *testing.B) {
	for _, c := range []struct {
		arch  string
		batch int
	}{{"lenet5", 64}, {"lenet-300-100", 64}, {"mlp-1200-1200", 100}, {"mlp-800-800", 100}, {"mlp-30-30", 100}} {
		b.Run(c.arch, func(b *testing.B) {
			m, err := models.Build(c.arch, 1)
			if err != nil {
				b.Fatal(err)
			}
			net, err := Build(m, BuildOptions{Batch: c.batch, Mode: Training})
			if err != nil {
				b.Fatal(err)
			}
			loss := &CrossEntropy{}
			st, err := newStepper(net, loss)
			if err != nil {
				b.Fatal(err)
			}
			solver, _ := NewSolver(SolverConfig{Kind: "sgd", Momentum: 0.9})
			rng := rand.New(rand.NewPCG(1, 1))
			x := make([]float32, len(net.inputData))
			for i := range x {
				x[i] = rng.Float32()
			}
			labels := make([]int, c.batch)
			for i := range labels {
				labels[i] = i % 10
			}
			r := &run{net: net, st: st, solver: solver}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				net.fillDropout(rng)
				net.SetInput(x)
				loss.Feed(&Batch{Labels: labels})
				if _, err := st.run(); err != nil {
					b.Fatal(err)
				}
				if err := r.update(0.01); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(c.batch*b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
