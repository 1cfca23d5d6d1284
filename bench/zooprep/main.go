// Command zooprep writes what quantizing one of ONNX's "light" zoo models
// needs (their weights are ConstantOfShape nodes): the model with seeded
// random weights (models.MaterializeWeights, as `bench model --materialize`
// fills them) and a final Softmax dropped, so that comparisons see the
// logits rather than saturated probabilities; and calibration samples,
// N(0, 1) values of the model's input shape, as a .npy file.
//
//	go run ./bench/zooprep -model testdata/onnx-light/light_resnet50.onnx -out /tmp/r50
//	gcompress quantize /tmp/r50/model.onnx --calib /tmp/r50/calib.npy --calib-samples 16 -o /tmp/r50/int8.onnx --ort
//	gcompress bench model /tmp/r50/int8.onnx --vs-ort --threads 1 --runs 30
//
// The weights are random, so accuracy means nothing here: the numbers are
// latency and agreement with ONNX Runtime on the same file.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
)

func main() {
	model := flag.String("model", "", "a light zoo .onnx file")
	out := flag.String("out", "", "directory for model.onnx and calib.npy")
	seed := flag.Uint64("seed", 1, "seed of the weights and samples")
	samples := flag.Int("samples", 16, "calibration samples")
	flag.Parse()
	if err := run(*model, *out, *seed, *samples); err != nil {
		fmt.Fprintln(os.Stderr, "zooprep:", err)
		os.Exit(1)
	}
}

func run(model, out string, seed uint64, samples int) error {
	if model == "" || out == "" || samples < 1 {
		return fmt.Errorf("need -model, -out and -samples >= 1")
	}
	m, err := onnx.Load(model)
	if err != nil {
		return err
	}
	if n, err := models.MaterializeWeights(m, seed); err != nil || n == 0 {
		return fmt.Errorf("%s: %d weights materialized (%v): not a light zoo model?", model, n, err)
	}
	g := m.Graph
	if o := g.Outputs[0]; o.Producer != nil && o.Producer.OpType == "Softmax" && len(g.Outputs) == 1 {
		g.Outputs[0] = o.Producer.Inputs[0]
		g.RemoveNode(o.Producer)
		g.RemoveDeadNodes()
	}
	in := g.Inputs[0]
	shape, ok := in.ConcreteShape()
	if !ok || len(shape) < 2 {
		return fmt.Errorf("input %q %s: want a fixed shape", in.Name, graph.FormatShape(in.Shape))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := onnx.Save(m, filepath.Join(out, "model.onnx"), onnx.SaveOptions{}); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	x := make([]float32, samples*tensor.Product(shape[1:]))
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return tensor.SaveNpy(filepath.Join(out, "calib.npy"), tensor.FromSlice(append([]int{samples}, shape[1:]...), x))
}
