// This file and fakequant.go hold the shared foundation of package quant
// (see doc.go): affine quantization parameters (scale and zero point, per
// tensor or per channel, symmetric or asymmetric, int8 or uint8), the
// quantize/dequantize reference functions with ONNX
// QuantizeLinear/DequantizeLinear semantics, and the fake-quant op with a
// straight-through gradient that QAT trains with. Post-training
// quantization (observers, calibration, QDQ insertion) builds on these.

package quant

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

// Params are affine quantization parameters: a real value x is stored as
//
//	q = saturate(round_half_even(x / scale) + zero_point)
//
// and read back as x' = (q - zero_point) * scale, with saturation to the
// integer type's range [QMin, QMax] (ONNX QuantizeLinear and
// DequantizeLinear, opset 13). Per-tensor parameters have one scale and
// zero point and Axis = -1; per-channel parameters have one per index of
// dimension Axis of the quantized tensor.
type Params struct {
	Scale     []float32
	ZeroPoint []int32
	// Axis is the channel axis of per-channel parameters, -1 per tensor.
	Axis int
	// DType is tensor.Int8 or tensor.Uint8.
	DType tensor.DType
	// Narrow restricts int8 to [-127, 127] (symmetric weights, as ONNX
	// Runtime and TensorRT expect); QMin/QMax report the effective range.
	Narrow bool
	// Reduced is the 7-bit range of ONNX Runtime's reduce_range: int8
	// [-64, 64], uint8 [0, 127] (it overrides Narrow).
	Reduced bool
}

// Config says how to choose Params from observed ranges.
type Config struct {
	DType tensor.DType // tensor.Int8 or tensor.Uint8
	// Symmetric makes the range symmetric around zero: for int8 the zero
	// point is 0 and the range [-127, 127] (narrow); for uint8 the zero
	// point is 128.
	Symmetric bool
	// PerChannel chooses one scale per index of Axis.
	PerChannel bool
	Axis       int
	// ReduceRange quantizes to 7 bits (Params.Reduced).
	ReduceRange bool
}

// Range returns the integer range of dt: [-128, 127] for int8 (or
// [-127, 127] when narrow) and [0, 255] for uint8; reduced, the 7-bit
// ranges [-64, 64] and [0, 127].
func Range(dt tensor.DType, narrow, reduced bool) (qmin, qmax int32, err error) {
	switch dt {
	case tensor.Int8:
		if reduced {
			return -64, 64, nil
		}
		if narrow {
			return -127, 127, nil
		}
		return -128, 127, nil
	case tensor.Uint8:
		if reduced {
			return 0, 127, nil
		}
		return 0, 255, nil
	}
	return 0, 0, fmt.Errorf("quantization type %v: want int8 or uint8", dt)
}

// QMin and QMax are the saturation bounds of p.
func (p *Params) QMin() int32 { lo, _, _ := Range(p.DType, p.Narrow, p.Reduced); return lo }
func (p *Params) QMax() int32 { _, hi, _ := Range(p.DType, p.Narrow, p.Reduced); return hi }

// Validate checks that p is usable: a known type, matching lengths,
// positive finite scales and zero points inside the range.
func (p *Params) Validate() error {
	qmin, qmax, err := Range(p.DType, p.Narrow, p.Reduced)
	if err != nil {
		return err
	}
	if len(p.Scale) == 0 || len(p.Scale) != len(p.ZeroPoint) {
		return fmt.Errorf("quantization: %d scales and %d zero points", len(p.Scale), len(p.ZeroPoint))
	}
	if p.Axis < 0 && len(p.Scale) != 1 {
		return fmt.Errorf("quantization: per-tensor parameters with %d scales", len(p.Scale))
	}
	for i, s := range p.Scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("quantization: scale %d is %v; want a positive finite value", i, s)
		}
		if z := p.ZeroPoint[i]; z < qmin || z > qmax {
			return fmt.Errorf("quantization: zero point %d is %d, outside [%d, %d]", i, z, qmin, qmax)
		}
	}
	return nil
}

// Choose computes parameters covering the observed ranges [lo[i], hi[i]]
// (one pair per tensor, or per channel with cfg.PerChannel), following
// ONNX Runtime's quantizer:
//
//	the range is first widened to include 0 (so that 0 is exact);
//	symmetric: a = max(|lo|, |hi|), the range becomes [-a, a];
//	scale = (hi - lo) / (qmax - qmin);
//	zero_point = saturate(round_half_even(qmin - lo / scale)).
//
// A range of zero width gives scale 1 (and zero point qmin, or the
// symmetric midpoint), so that every value round-trips exactly.
func Choose(lo, hi []float32, cfg Config) (*Params, error) {
	if len(lo) == 0 || len(lo) != len(hi) {
		return nil, fmt.Errorf("quantization: %d minima and %d maxima", len(lo), len(hi))
	}
	if !cfg.PerChannel && len(lo) != 1 {
		return nil, fmt.Errorf("quantization: per-tensor parameters from %d ranges", len(lo))
	}
	narrow := cfg.Symmetric && cfg.DType == tensor.Int8
	qmin, qmax, err := Range(cfg.DType, narrow, cfg.ReduceRange)
	if err != nil {
		return nil, err
	}
	p := &Params{DType: cfg.DType, Narrow: narrow, Reduced: cfg.ReduceRange, Axis: -1,
		Scale: make([]float32, len(lo)), ZeroPoint: make([]int32, len(lo))}
	if cfg.PerChannel {
		p.Axis = cfg.Axis
	}
	for i := range lo {
		a, b := float64(lo[i]), float64(hi[i])
		if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) || a > b {
			return nil, fmt.Errorf("quantization: invalid range [%v, %v] at %d", lo[i], hi[i], i)
		}
		a, b = math.Min(a, 0), math.Max(b, 0)
		if cfg.Symmetric {
			m := math.Max(-a, b)
			a, b = -m, m
		}
		scale := (b - a) / float64(qmax-qmin)
		if scale == 0 || float32(scale) == 0 {
			scale = 1
		}
		// symmetric: the midpoint, which the formula gives for any range
		// of nonzero width; for a zero-width one (an all-zero weight
		// channel) it would give qmin
		zp := math.RoundToEven(float64(qmin+qmax) / 2)
		if !cfg.Symmetric {
			zp = math.RoundToEven(float64(qmin) - a/scale)
		}
		p.Scale[i] = float32(scale)
		p.ZeroPoint[i] = int32(math.Max(float64(qmin), math.Min(float64(qmax), zp)))
	}
	return p, nil
}

// MinMax returns the minimum and maximum of x (shape shape): one pair for
// axis < 0, else one per index of dimension axis. NaNs are ignored; an
// empty slice (or channel) gives [0, 0].
func MinMax(x []float32, shape []int, axis int) (lo, hi []float32, err error) {
	ch, inner, err := channelLayout(shape, axis, len(x))
	if err != nil {
		return nil, nil, err
	}
	lo, hi = make([]float32, ch), make([]float32, ch)
	seen := make([]bool, ch)
	for i, v := range x {
		if v != v {
			continue
		}
		c := (i / inner) % ch
		if !seen[c] || v < lo[c] {
			lo[c] = v
		}
		if !seen[c] || v > hi[c] {
			hi[c] = v
		}
		seen[c] = true
	}
	return lo, hi, nil
}

// channelLayout returns the number of channels and the element stride of
// one channel step for a tensor of shape with n elements (1 and n for
// per-tensor).
func channelLayout(shape []int, axis, n int) (ch, inner int, err error) {
	if tensor.Product(shape) != n {
		return 0, 0, fmt.Errorf("quantization: %d values for shape %v", n, shape)
	}
	if axis < 0 {
		return 1, max(n, 1), nil
	}
	if axis >= len(shape) {
		return 0, 0, fmt.Errorf("quantization: axis %d out of range for shape %v", axis, shape)
	}
	inner = 1
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	return shape[axis], max(inner, 1), nil
}

// paramsFor returns a function mapping an element index to its channel's
// (scale, zero point), after checking p against the tensor's shape.
func (p *Params) paramsFor(shape []int, n int) (func(i int) (float64, float64), error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ch, inner, err := channelLayout(shape, p.Axis, n)
	if err != nil {
		return nil, err
	}
	if p.Axis >= 0 && ch != len(p.Scale) {
		return nil, fmt.Errorf("quantization: %d per-channel scales for %d channels (axis %d of %v)", len(p.Scale), ch, p.Axis, shape)
	}
	return func(i int) (float64, float64) {
		c := 0
		if p.Axis >= 0 {
			c = (i / inner) % ch
		}
		return float64(p.Scale[c]), float64(p.ZeroPoint[c])
	}, nil
}

// quantizeOne is saturate(round_half_even(x / scale) + zp) as a float64
// holding an integer (NaN maps to the zero point, as a float->int cast of
// ONNX Runtime does not define it).
func quantizeOne(x, scale, zp float64, qmin, qmax int32) float64 {
	if x != x {
		return zp
	}
	q := math.RoundToEven(x/scale) + zp
	return math.Max(float64(qmin), math.Min(float64(qmax), q))
}

// QuantizeRef quantizes x (shape shape) with p into int8 or uint8 values
// stored as int32 (the reference; callers narrow as p.DType says).
func QuantizeRef(x []float32, shape []int, p *Params) ([]int32, error) {
	at, err := p.paramsFor(shape, len(x))
	if err != nil {
		return nil, err
	}
	qmin, qmax := p.QMin(), p.QMax()
	out := make([]int32, len(x))
	for i, v := range x {
		s, z := at(i)
		out[i] = int32(quantizeOne(float64(v), s, z, qmin, qmax))
	}
	return out, nil
}

// DequantizeRef maps integers back to reals: x' = (q - zero_point) * scale.
func DequantizeRef(q []int32, shape []int, p *Params) ([]float32, error) {
	at, err := p.paramsFor(shape, len(q))
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(q))
	for i, v := range q {
		s, z := at(i)
		out[i] = float32((float64(v) - z) * s)
	}
	return out, nil
}

// Tensors returns the scale (float32) and zero point (p.DType) as tensors
// in the layout QuantizeLinear/DequantizeLinear take: scalars per tensor,
// vectors per channel.
func (p *Params) Tensors() (scale, zeroPoint *tensor.Tensor, err error) {
	if err := p.Validate(); err != nil {
		return nil, nil, err
	}
	shape := []int{}
	if p.Axis >= 0 {
		shape = []int{len(p.Scale)}
	}
	scale = tensor.FromSlice(shape, append([]float32(nil), p.Scale...))
	switch p.DType {
	case tensor.Int8:
		z := make([]int8, len(p.ZeroPoint))
		for i, v := range p.ZeroPoint {
			z[i] = int8(v)
		}
		zeroPoint = tensor.FromSlice(shape, z)
	default:
		z := make([]uint8, len(p.ZeroPoint))
		for i, v := range p.ZeroPoint {
			z[i] = uint8(v)
		}
		zeroPoint = tensor.FromSlice(shape, z)
	}
	return scale, zeroPoint, nil
}

func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }
