package models

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
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

// ExposeLogits adds the input of the Softmax that ends the model (possibly
// followed by Reshape/Flatten, as the importer writes an opset-9 Softmax) as
// a second graph output, so that comparisons see the logits and not only
// probabilities, which saturate to 0 and 1 and hide differences. It reports
// whether it found such a Softmax.
func ExposeLogits(m *graph.Model) bool {
	g := m.Graph
	if len(g.Outputs) != 1 {
		return false
	}
	n := g.Outputs[0].Producer
	for n != nil && (n.OpType == "Reshape" || n.OpType == "Flatten") && n.Input(0) != nil {
		n = n.Input(0).Producer
	}
	if n == nil || n.OpType != "Softmax" || n.Input(0) == nil {
		return false
	}
	g.Outputs = append(g.Outputs, n.Input(0))
	return true
}

// CalibrateBatchNorm sets the running mean and variance of every
// BatchNormalization whose statistics are initializers to the per-channel
// mean and (biased) variance of its input when the model runs on feed (the
// variance floored at a tenth of the layer's mean variance), so
// that a model with random weights keeps unit-scale activations instead of
// letting them grow layer after layer. One pass suffices: it runs the model
// once with every BatchNormalization in training mode (momentum 0), where
// each normalises by its batch statistics and outputs them as running
// statistics, then writes those back and restores inference mode. It returns
// how many nodes it calibrated.
func CalibrateBatchNorm(m *graph.Model, b runtime.Backend, feed map[string]*tensor.Tensor) (int, error) {
	g := m.Graph
	type stat struct {
		node      *graph.Node
		mean, vr  *graph.Value
		outs      []*graph.Value
		prevAttrs map[string]*graph.Attr
	}
	var stats []stat
	origOutputs := append([]*graph.Value(nil), g.Outputs...)
	for _, n := range g.Nodes {
		if n.OpType != "BatchNormalization" || len(n.Inputs) < 5 || n.Inputs[3] == nil || n.Inputs[4] == nil ||
			n.Inputs[3].Const == nil || n.Inputs[4].Const == nil {
			continue
		}
		s := stat{node: n, mean: n.Inputs[3], vr: n.Inputs[4], prevAttrs: map[string]*graph.Attr{}}
		for _, k := range []string{"training_mode", "momentum"} {
			s.prevAttrs[k] = n.Attrs[k]
		}
		n.Attrs["training_mode"] = graph.IntAttr(1)
		n.Attrs["momentum"] = graph.FloatAttr(0)
		s.outs = []*graph.Value{g.NewValue(n.Outputs[0].Name + "_batch_mean"), g.NewValue(n.Outputs[0].Name + "_batch_var")}
		n.Outputs = append(n.Outputs[:1], s.outs...)
		for _, o := range s.outs {
			o.Producer = n
		}
		g.Outputs = append(g.Outputs, s.outs...)
		stats = append(stats, s)
	}
	restore := func() {
		for _, s := range stats {
			s.node.Outputs = s.node.Outputs[:1]
			for k, a := range s.prevAttrs {
				if a == nil {
					delete(s.node.Attrs, k)
				} else {
					s.node.Attrs[k] = a
				}
			}
		}
		g.Outputs = origOutputs
		g.RemoveDeadNodes()
	}
	if len(stats) == 0 {
		return 0, nil
	}
	opset := m.Opsets[""]
	m.Opsets[""] = max(opset, 14) // training_mode needs BatchNormalization-14
	sess, err := runtime.NewSession(m, b, runtime.Options{Threads: 2})
	m.Opsets[""] = opset
	if err != nil {
		restore()
		return 0, err
	}
	out, err := sess.Run(feed)
	restore()
	if err != nil {
		return 0, err
	}
	for i, s := range stats {
		s.mean.Const = out[len(origOutputs)+2*i]
		s.vr.Const = floorVariance(out[len(origOutputs)+2*i+1])
	}
	return len(stats), nil
}

// floorVariance raises each channel's variance to at least a tenth of the
// mean over channels: a channel that is (nearly) constant on the sample,
// such as one a ReLU zeroed, would otherwise be divided by sqrt(epsilon) and
// amplify rounding noise a thousandfold.
func floorVariance(v *tensor.Tensor) *tensor.Tensor {
	if v.DType() != tensor.Float32 || v.Len() == 0 {
		return v
	}
	vals := v.F32()
	var mean float64
	for _, x := range vals {
		mean += float64(x)
	}
	floor := float32(0.1 * mean / float64(len(vals)))
	for i, x := range vals {
		vals[i] = max(x, floor)
	}
	return v
}

// Zoo is a light zoo model made runnable: weights materialised, logits
// exposed, BatchNormalization calibrated, exported and reloaded.
type Zoo struct {
	Model *graph.Model
	// ONNX is the serialized model, the bytes a peer runtime loads.
	ONNX []byte
	// Feed is the input it was calibrated on: a fixed pseudo-random image,
	// x[i] = ((i*7919) mod 1000)/1000, for the model's one image input.
	Feed map[string]*tensor.Tensor
}

// LoadZoo reads an ONNX "light" zoo file and prepares it with
// MaterializeWeights(seed), ExposeLogits and CalibrateBatchNorm on backend b.
func LoadZoo(path string, seed uint64, b runtime.Backend) (*Zoo, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	if n, err := MaterializeWeights(m, seed); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, fmt.Errorf("%s: no ConstantOfShape weights to fill", path)
	}
	ExposeLogits(m)
	var in *graph.Value
	for _, v := range m.Graph.Inputs {
		if v.Const == nil {
			in = v
			break
		}
	}
	if in == nil {
		return nil, fmt.Errorf("%s: no input", path)
	}
	shape, ok := in.ConcreteShape()
	if !ok || in.DType != tensor.Float32 {
		return nil, fmt.Errorf("%s: input %v is not a fixed-shape float32 tensor", path, in)
	}
	x, err := tensor.New(tensor.Float32, shape...)
	if err != nil {
		return nil, err
	}
	for i := range x.F32() {
		x.F32()[i] = float32((i*7919)%1000) / 1000
	}
	z := &Zoo{Feed: map[string]*tensor.Tensor{in.Name: x}}
	if _, err := CalibrateBatchNorm(m, b, z.Feed); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if z.ONNX, err = onnx.Encode(m); err != nil {
		return nil, err
	}
	if z.Model, err = onnx.Decode(z.ONNX, ""); err != nil {
		return nil, err
	}
	return z, nil
}
