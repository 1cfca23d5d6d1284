package models

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// MaterializeWeights replaces every ConstantOfShape node whose shape input is
// constant by a float32 initializer of that shape holding seeded random
// values, and returns how many it replaced. ONNX's "light" zoo models store
// their weights that way (tiny files, constant weights); filled in, they are
// full-size models with non-trivial outputs for correctness and speed tests.
//
// Values follow the role of the tensor so activations stay in range through
// deep networks: weights of rank >= 2 are He-normal, N(0, 2/fan_in) with
// fan_in the product of all but the output dimension (for Gemm with
// transB=0, the first dimension); BatchNormalization variances (input 4) are
// U(0.5, 1.5) and scales (input 1) U(0.8, 1.2); every other rank-0/1 tensor
// (biases, means, per-channel shifts) is U(-0.1, 0.1).
func MaterializeWeights(m *graph.Model, seed uint64) (int, error) {
	g := m.Graph
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	var replaced int
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if n.OpType != "ConstantOfShape" || n.Domain != "" {
			continue
		}
		dims, ok := graph.ConstInt64s(n.Input(0))
		if !ok || len(n.Outputs) != 1 {
			continue
		}
		if v := n.AttrTensor("value"); v != nil && v.DType() != tensor.Float32 {
			continue
		}
		shape := make([]int, len(dims))
		for i, d := range dims {
			shape[i] = int(d)
		}
		count, err := tensor.NumElements(shape)
		if err != nil {
			return replaced, fmt.Errorf("node %v: %w", n, err)
		}
		out := n.Outputs[0]
		vals := make([]float32, count)
		fill(vals, shape, role(out), rng)
		g.RemoveNode(n)
		g.AddInitializer(out.Name, tensor.FromSlice(shape, vals))
		replaced++
	}
	g.RemoveDeadNodes()
	return replaced, nil
}

type weightRole int

const (
	roleWeight weightRole = iota
	roleWeightInFirst
	roleVariance
	roleScale
	roleShift
)

// role looks at the consumers of v, and through Unsqueeze/Reshape at
// theirs, to decide how to fill it: a tensor something is multiplied by
// (BatchNormalization scale, a Mul after a Caffe2-style affine layer) is a
// scale; BatchNormalization input 4 is a variance.
func role(v *graph.Value) weightRole {
	for _, c := range v.Consumers {
		for i, in := range c.Inputs {
			if in != v {
				continue
			}
			switch {
			case c.OpType == "BatchNormalization" && i == 4:
				return roleVariance
			case c.OpType == "BatchNormalization" && i == 1, c.OpType == "Mul":
				return roleScale
			case c.OpType == "Gemm" && i == 1 && c.AttrInt("transB", 0) == 0:
				return roleWeightInFirst
			case (c.OpType == "Unsqueeze" || c.OpType == "Reshape") && i == 0 && c.Outputs[0] != nil:
				if r := role(c.Outputs[0]); r != roleWeight {
					return r
				}
			}
		}
	}
	return roleWeight
}

func fill(vals []float32, shape []int, r weightRole, rng *rand.Rand) {
	uniform := func(lo, hi float64) {
		for i := range vals {
			vals[i] = float32(lo + (hi-lo)*rng.Float64())
		}
	}
	switch {
	case r == roleVariance:
		uniform(0.5, 1.5)
	case r == roleScale:
		uniform(0.8, 1.2)
	case len(shape) < 2:
		uniform(-0.1, 0.1)
	default:
		fanIn := tensor.Product(shape[1:])
		if r == roleWeightInFirst {
			fanIn = shape[0]
		}
		std := math.Sqrt(2 / float64(max(fanIn, 1)))
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * std)
		}
	}
}
