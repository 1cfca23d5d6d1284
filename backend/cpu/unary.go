// Unary elementwise ops and activations: Y has X's shape and dtype (IsNaN,
// IsInf: bool). Float math runs in float64 and rounds to the input dtype.
//
//	Sqrt, Exp, Log, Erf, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh,
//	Acosh, Atanh, Tanh   the math functions
//	Neg -x, Abs |x|, Reciprocal 1/x, Floor, Ceil, Round (half to even),
//	Sign (-1, 0, 1; NaN stays NaN)
//	Relu             max(x, 0)
//	LeakyRelu        x < 0 ? alpha*x : x                      (alpha 0.01)
//	Elu              x < 0 ? alpha*(e^x - 1) : x               (alpha 1)
//	Selu             x <= 0 ? gamma*(alpha*e^x - alpha) : gamma*x
//	Celu             max(0, x) + min(0, alpha*(e^(x/alpha) - 1)) (alpha 1, non-zero)
//	Sigmoid          1 / (1 + e^-x)
//	HardSigmoid      max(0, min(1, alpha*x + beta))          (alpha 0.2, beta 0.5)
//	HardSwish        x * max(0, min(1, x/6 + 1/2))
//	Softplus         log(1 + e^x), as max(x, 0) + log1p(e^-|x|)
//	Softsign         x / (1 + |x|)
//	Gelu             approximate=none: x/2 * (1 + erf(x/sqrt 2));
//	                 approximate=tanh: x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
//	Mish             x * tanh(softplus(x))
//	ThresholdedRelu  x > alpha ? x : 0                         (alpha 1)
//	Shrink           x < -lambd ? x + bias : x > lambd ? x - bias : 0 (bias 0, lambd 0.5)
//	Clip             min(max(x, min), max) with optional scalar inputs min and max;
//	                 min > max gives max everywhere; NaN stays NaN
//	IsNaN, IsInf     bool; IsInf honours detect_negative and detect_positive (default 1)
//	Not              logical not of a bool tensor
//
// Abs, Sign, Clip and Shrink take every numeric dtype; Neg and Relu also
// signed integers; the rest floats only.
package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// unaryDef is one elementwise function, given per dtype family.
type unaryDef struct {
	f   func(float64) float64 // float dtypes
	f32 func(d, x []float32)  // optional fast float32 loop, same result as f
	i   func(int64) int64     // signed integers (nil: unsupported)
	u   func(uint64) uint64   // unsigned integers (nil: unsupported)
}

// unaryFixed is the builder of an op without attributes.
func unaryFixed(u unaryDef) func(*graph.Node) (unaryDef, error) {
	return func(*graph.Node) (unaryDef, error) { return u, nil }
}

// floatOnly builds a unaryDef for a float-only math function.
func floatOnly(f func(float64) float64) func(*graph.Node) (unaryDef, error) {
	return unaryFixed(unaryDef{f: f})
}

func init() {
	ops := map[string]func(*graph.Node) (unaryDef, error){
		"Sqrt": floatOnly(math.Sqrt), "Exp": floatOnly(math.Exp), "Log": floatOnly(math.Log),
		"Erf": floatOnly(math.Erf), "Sin": floatOnly(math.Sin), "Cos": floatOnly(math.Cos),
		"Tan": floatOnly(math.Tan), "Asin": floatOnly(math.Asin), "Acos": floatOnly(math.Acos),
		"Atan": floatOnly(math.Atan), "Sinh": floatOnly(math.Sinh), "Cosh": floatOnly(math.Cosh),
		"Asinh": floatOnly(math.Asinh), "Acosh": floatOnly(math.Acosh), "Atanh": floatOnly(math.Atanh),
		"Tanh": floatOnly(math.Tanh), "Floor": floatOnly(math.Floor), "Ceil": floatOnly(math.Ceil),
		"Round":      floatOnly(math.RoundToEven),
		"Reciprocal": floatOnly(func(x float64) float64 { return 1 / x }),
		"Sigmoid":    unaryFixed(unaryDef{f: sigmoid, f32: sigmoidF32}),
		"Softplus":   floatOnly(softplus),
		"Softsign":   floatOnly(func(x float64) float64 { return x / (1 + math.Abs(x)) }),
		"Mish":       floatOnly(func(x float64) float64 { return x * math.Tanh(softplus(x)) }),
		"Neg": unaryFixed(unaryDef{
			f: func(x float64) float64 { return -x },
			f32: func(d, x []float32) {
				for i, v := range x[:len(d)] {
					d[i] = -v
				}
			},
			i: func(x int64) int64 { return -x },
		}),
		"Abs": unaryFixed(unaryDef{f: math.Abs, i: func(x int64) int64 { return max(x, -x) },
			u: func(x uint64) uint64 { return x }}),
		"Sign": unaryFixed(unaryDef{f: signF, i: func(x int64) int64 { return int64(signF(float64(x))) },
			u: func(x uint64) uint64 { return min(x, 1) }}),
		"Relu": unaryFixed(unaryDef{f: reluF, f32: reluF32,
			i: func(x int64) int64 { return max(x, 0) }}),
		"LeakyRelu":       newLeakyRelu,
		"Elu":             newElu,
		"Selu":            newSelu,
		"Celu":            newCelu,
		"HardSigmoid":     newHardSigmoid,
		"HardSwish":       unaryFixed(hardSigmoidDef(1.0/6, 0.5, true)),
		"ThresholdedRelu": newThresholdedRelu,
		"Gelu":            newGelu,
		"Shrink":          newShrink,
	}
	for op, build := range ops {
		register(op, unaryFactory(op, build))
	}
	register("Clip", newClip)
	registerFunc("IsNaN", func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return one(floatPredicate(ctx, "IsNaN", in, math.IsNaN))
	})
	register("IsInf", newIsInf)
	registerFunc("Not", runNot)
}

// unaryFactory validates attributes with build and runs the resulting function.
func unaryFactory(name string, build func(*graph.Node) (unaryDef, error)) runtime.OpFactory {
	return func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		u, err := build(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := needInputs(in, 1); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out, err := ctx.AllocUninit(in[0].DType(), in[0].Shape()...)
			if err == nil {
				err = u.into(ctx, in[0], out)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	}
}

// into writes u(x) into out (same dtype and shape).
func (u unaryDef) into(ctx *runtime.Context, x, out *tensor.Tensor) error {
	dt := x.DType()
	if (dtypeSigned(dt) && u.i == nil) || (dt.IsInteger() && !dtypeSigned(dt) && u.u == nil) ||
		dt == tensor.Bool || dt == tensor.String {
		return fmt.Errorf("unsupported dtype %v", dt)
	}
	switch xd := x.Data().(type) {
	case []float32:
		d := out.F32()
		if u.f32 != nil {
			ewParallel(ctx, len(xd), ewGrain, func(lo, hi int) { u.f32(d[lo:hi], xd[lo:hi]) })
			return nil
		}
		mapVia(ctx, d, xd, u.f)
	case []float64:
		mapVia(ctx, tensor.Data[float64](out), xd, u.f)
	case []int8:
		mapVia(ctx, tensor.Data[int8](out), xd, u.i)
	case []int16:
		mapVia(ctx, tensor.Data[int16](out), xd, u.i)
	case []int32:
		mapVia(ctx, tensor.Data[int32](out), xd, u.i)
	case []int64:
		mapVia(ctx, tensor.Data[int64](out), xd, u.i)
	case []uint8:
		mapVia(ctx, tensor.Data[uint8](out), xd, u.u)
	case []uint16:
		mapVia(ctx, tensor.Data[uint16](out), xd, u.u)
	case []uint32:
		mapVia(ctx, tensor.Data[uint32](out), xd, u.u)
	case []uint64:
		mapVia(ctx, tensor.Data[uint64](out), xd, u.u)
	default: // float16, bfloat16
		return viaF32(out, func(o32 *tensor.Tensor) error { return u.into(ctx, halfToF32(x), o32) })
	}
	return nil
}

// mapVia sets d[i] = T(f(D(x[i]))) in parallel.
func mapVia[T, D tensor.Numeric](ctx *runtime.Context, d, x []T, f func(D) D) {
	ewParallel(ctx, len(x), ewGrain/4, func(lo, hi int) {
		for i, v := range x[lo:hi] {
			d[lo+i] = T(f(D(v)))
		}
	})
}

// sigmoid never overflows: e^x is only taken for x < 0.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// sigmoidF32 is branch-free: for very negative x, e^-x overflows to +Inf
// and the result is 0 as it should be.
func sigmoidF32(d, x []float32) {
	for i, v := range x[:len(d)] {
		d[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

// softplus is log(1 + e^x) without overflow for large x.
func softplus(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// signF is -1, 0 or 1, and NaN for NaN.
func signF(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // 0 or NaN
}

// reluF keeps NaN (NaN < 0 is false).
func reluF(x float64) float64 {
	if x < 0 {
		return 0
	}
	return x
}

// reluF32 runs the C clamp at the SIMD levels (as reluF: NaN and -0 stay),
// else the builtin max (NaN stays NaN, -0 becomes +0).
func reluF32(d, x []float32) {
	if simdBuilt && CPULevel(level.Load()) >= LevelAVX2 {
		clampF32(x, d, 0, float32(math.Inf(1)))
		return
	}
	for i, v := range x[:len(d)] {
		d[i] = max(v, 0)
	}
}

// unaryAttrF64 reads a float attribute as float64.
func unaryAttrF64(n *graph.Node, name string, def float32) float64 {
	return float64(n.AttrFloat(name, def))
}

func newLeakyRelu(n *graph.Node) (unaryDef, error) {
	alpha := unaryAttrF64(n, "alpha", 0.01)
	a32 := float32(alpha)
	return unaryDef{
		f: func(x float64) float64 {
			if x < 0 {
				return alpha * x
			}
			return x
		},
		f32: func(d, x []float32) { // branch-free: the sign of x is unpredictable
			for i, v := range x[:len(d)] {
				d[i] = max(v, 0) + a32*min(v, 0)
			}
		},
	}, nil
}

func newElu(n *graph.Node) (unaryDef, error) {
	alpha := unaryAttrF64(n, "alpha", 1)
	return unaryDef{f: func(x float64) float64 {
		if x < 0 {
			return alpha * math.Expm1(x)
		}
		return x
	}}, nil
}

func newSelu(n *graph.Node) (unaryDef, error) {
	alpha := unaryAttrF64(n, "alpha", 1.67326319217681884765625)
	gamma := unaryAttrF64(n, "gamma", 1.05070102214813232421875)
	return unaryDef{f: func(x float64) float64 {
		if x <= 0 {
			return gamma * (alpha*math.Exp(x) - alpha)
		}
		return gamma * x
	}}, nil
}

func newCelu(n *graph.Node) (unaryDef, error) {
	alpha := unaryAttrF64(n, "alpha", 1)
	if alpha == 0 {
		return unaryDef{}, fmt.Errorf("alpha must be non-zero")
	}
	return unaryDef{f: func(x float64) float64 {
		return max(0, x) + min(0, alpha*math.Expm1(x/alpha))
	}}, nil
}

func newHardSigmoid(n *graph.Node) (unaryDef, error) {
	return hardSigmoidDef(unaryAttrF64(n, "alpha", 0.2), unaryAttrF64(n, "beta", 0.5), false), nil
}

// hardSigmoidDef is max(0, min(1, alpha*x + beta)), times x when swish
// (HardSwish).
func hardSigmoidDef(alpha, beta float64, swish bool) unaryDef {
	a32, b32 := float32(alpha), float32(beta)
	return unaryDef{
		f: func(x float64) float64 {
			h := max(0, min(1, alpha*x+beta))
			if swish {
				return x * h
			}
			return h
		},
		f32: func(d, x []float32) {
			for i, v := range x[:len(d)] {
				h := max(0, min(1, a32*v+b32))
				if swish {
					h *= v
				}
				d[i] = h
			}
		},
	}
}

func newThresholdedRelu(n *graph.Node) (unaryDef, error) {
	alpha := unaryAttrF64(n, "alpha", 1)
	return unaryDef{f: func(x float64) float64 {
		if x > alpha {
			return x
		}
		return 0
	}}, nil
}

func newGelu(n *graph.Node) (unaryDef, error) {
	switch a := n.AttrString("approximate", "none"); a {
	case "none":
		return unaryDef{f: func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }}, nil
	case "tanh":
		c := math.Sqrt(2 / math.Pi)
		return unaryDef{f: func(x float64) float64 {
			return 0.5 * x * (1 + math.Tanh(c*(x+0.044715*x*x*x)))
		}}, nil
	default:
		return unaryDef{}, fmt.Errorf("approximate must be none or tanh, got %q", a)
	}
}

func newShrink(n *graph.Node) (unaryDef, error) {
	bias, lambd := unaryAttrF64(n, "bias", 0), unaryAttrF64(n, "lambd", 0.5)
	f := func(x float64) float64 {
		switch {
		case x < -lambd:
			return x + bias
		case x > lambd:
			return x - bias
		}
		return 0
	}
	return unaryDef{
		f: f,
		i: func(x int64) int64 { return int64(f(float64(x))) },
		u: func(x uint64) uint64 { return f64ToU64(f(float64(x))) },
	}, nil
}

// newClip reads the optional scalar bounds at run time (inputs 1 and 2).
func newClip(*graph.Node, runtime.NodeInfo) (runtime.Op, error) {
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := clipRun(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("Clip: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

func clipRun(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	for i := 1; i < min(len(in), 3); i++ {
		if in[i] == nil {
			continue
		}
		if in[i].DType() != x.DType() || in[i].Len() != 1 {
			return nil, fmt.Errorf("bound %d must be a single %v value, got %v", i, x.DType(), in[i])
		}
	}
	out, err := ctx.AllocUninit(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	lo, hi := ewOptional(in, 1), ewOptional(in, 2)
	return out, clipInto(ctx, x, lo, hi, out)
}

// ewOptional returns in[i], or nil when it is absent.
func ewOptional(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func clipInto(ctx *runtime.Context, x, lo, hi, out *tensor.Tensor) error {
	switch x.DType() {
	case tensor.Float32:
		l, h := float32(math.Inf(-1)), float32(math.Inf(1))
		if lo != nil {
			l = lo.F32()[0]
		}
		if hi != nil {
			h = hi.F32()[0]
		}
		if simdBuilt && CPULevel(level.Load()) >= LevelAVX2 && l == l && h == h {
			xd, d := x.F32(), out.F32()
			ewParallel(ctx, len(xd), ewGrain, func(a, b int) { clampF32(xd[a:b], d[a:b], l, h) })
			return nil
		}
		clipT[float32](ctx, x, lo, hi, out)
	case tensor.Float64:
		clipT[float64](ctx, x, lo, hi, out)
	case tensor.Int8:
		clipT[int8](ctx, x, lo, hi, out)
	case tensor.Uint8:
		clipT[uint8](ctx, x, lo, hi, out)
	case tensor.Int16:
		clipT[int16](ctx, x, lo, hi, out)
	case tensor.Uint16:
		clipT[uint16](ctx, x, lo, hi, out)
	case tensor.Int32:
		clipT[int32](ctx, x, lo, hi, out)
	case tensor.Uint32:
		clipT[uint32](ctx, x, lo, hi, out)
	case tensor.Int64:
		clipT[int64](ctx, x, lo, hi, out)
	case tensor.Uint64:
		clipT[uint64](ctx, x, lo, hi, out)
	case tensor.Float16, tensor.BFloat16:
		return viaF32(out, func(o32 *tensor.Tensor) error {
			return clipInto(ctx, halfToF32(x), halfToF32(lo), halfToF32(hi), o32)
		})
	default:
		return fmt.Errorf("unsupported dtype %v", x.DType())
	}
	return nil
}

// clipT clamps with bounds lo and hi (nil: unbounded on that side).
func clipT[T tensor.Numeric](ctx *runtime.Context, x, lo, hi, out *tensor.Tensor) {
	xd, d := tensor.Data[T](x), tensor.Data[T](out)
	hasLo, hasHi := lo != nil, hi != nil
	var l, h T
	if hasLo {
		l = tensor.Data[T](lo)[0]
	}
	if hasHi {
		h = tensor.Data[T](hi)[0]
	}
	ewParallel(ctx, len(xd), ewGrain, func(a, b int) {
		for i, v := range xd[a:b] {
			if hasLo {
				v = max(v, l)
			}
			if hasHi {
				v = min(v, h)
			}
			d[a+i] = v
		}
	})
}

func newIsInf(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	neg, pos := n.AttrInt("detect_negative", 1) != 0, n.AttrInt("detect_positive", 1) != 0
	pred := func(x float64) bool { return (neg && math.IsInf(x, -1)) || (pos && math.IsInf(x, 1)) }
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return one(floatPredicate(ctx, "IsInf", in, pred))
	}), nil
}

// floatPredicate returns the bool tensor pred(x) of a float tensor x.
func floatPredicate(ctx *runtime.Context, name string, in []*tensor.Tensor, pred func(float64) bool) (*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	x := in[0]
	if !x.DType().IsFloat() {
		return nil, fmt.Errorf("%s: unsupported dtype %v (float types only)", name, x.DType())
	}
	out, err := ctx.Alloc(tensor.Bool, x.Shape()...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := tensor.Data[bool](out)
	ewParallel(ctx, len(d), ewGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = pred(x.Float64At(i))
		}
	})
	return out, nil
}

func runNot(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("Not: %w", err)
	}
	if in[0].DType() != tensor.Bool {
		return nil, fmt.Errorf("Not: unsupported dtype %v (bool only)", in[0].DType())
	}
	out, err := ctx.Alloc(tensor.Bool, in[0].Shape()...)
	if err != nil {
		return nil, fmt.Errorf("Not: %w", err)
	}
	d := tensor.Data[bool](out)
	for i, v := range tensor.Data[bool](in[0]) {
		d[i] = !v
	}
	return []*tensor.Tensor{out}, nil
}
