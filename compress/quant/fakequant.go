package quant

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/gcompress/gcompress/train"
)

// FakeQuantRef simulates quantization in float32: each value goes through
// QuantizeLinear and DequantizeLinear with p,
//
//	y = (saturate(round_half_even(x / s) + z) - z) * s
//
// which is what an INT8 model computes with that tensor.
func FakeQuantRef(x []float32, shape []int, p *Params) ([]float32, error) {
	at, err := p.paramsFor(shape, len(x))
	if err != nil {
		return nil, err
	}
	qmin, qmax := p.QMin(), p.QMax()
	out := make([]float32, len(x))
	for i, v := range x {
		s, z := at(i)
		out[i] = float32((quantizeOne(float64(v), s, z, qmin, qmax) - z) * s)
	}
	return out, nil
}

// FakeQuantKernel is the fake-quant op for training (a train.Kernel): the
// forward pass is FakeQuantRef; the backward pass is the clipped
// straight-through estimator (Bengio et al., 2013; Jacob et al., 2018):
//
//	dL/dx = dL/dy   where qmin <= round_half_even(x / s) + z <= qmax
//	dL/dx = 0       where the value saturates
//
// The parameters are read at every call, so QAT may update P (observers,
// moving averages) between steps; P itself is not learned.
type FakeQuantKernel struct {
	P *Params
}

// Name implements train.Kernel; it names the parameter set (by address,
// since it may change between steps).
func (k *FakeQuantKernel) Name() string {
	return fmt.Sprintf("FakeQuant{%p %v axis=%d}", k.P, k.P.DType, k.P.Axis)
}

// Differentiable implements train.Kernel.
func (k *FakeQuantKernel) Differentiable(int) bool { return true }

// OutShape implements train.Kernel.
func (k *FakeQuantKernel) OutShape(in [][]int) ([]int, error) {
	if k.P.Axis >= len(in[0]) {
		return nil, fmt.Errorf("per-channel axis %d out of range for %v", k.P.Axis, in[0])
	}
	return append([]int(nil), in[0]...), nil
}

// Forward implements train.Kernel.
func (k *FakeQuantKernel) Forward(out []float32, in [][]float32, shapes [][]int) error {
	y, err := FakeQuantRef(in[0], shapes[0], k.P)
	if err != nil {
		return err
	}
	copy(out, y)
	return nil
}

// Backward implements train.Kernel.
func (k *FakeQuantKernel) Backward(_ int, gin, gout, _ []float32, in [][]float32, shapes [][]int) error {
	at, err := k.P.paramsFor(shapes[0], len(in[0]))
	if err != nil {
		return err
	}
	qmin, qmax := float64(k.P.QMin()), float64(k.P.QMax())
	for i, v := range in[0] {
		s, z := at(i)
		q := roundHalfEven(float64(v)/s) + z
		if q >= qmin && q <= qmax {
			gin[i] += gout[i]
		}
	}
	return nil
}

// FakeQuant adds a fake-quant node on x (float32) to x's graph. Use it as a
// train.Hooks ParamHook (weights) or ActivationHook (activations).
func FakeQuant(x *G.Node, p *Params) (*G.Node, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return train.ApplyKernel(&FakeQuantKernel{P: p}, x)
}
