package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() { registerDomainFunc(MSDomain, "QLinearAdd", runQLinearAdd) }

// runQLinearAdd executes ONNX Runtime's com.microsoft QLinearAdd, the
// INT8 add LowerQDQ emits for a quantized residual add:
//
//	inputs  A, A_scale, A_zero_point (optional), B, B_scale,
//	        B_zero_point (optional), C_scale, C_zero_point (optional);
//	        A, B and C 8-bit of one type, A and B broadcast like Add,
//	        scales and zero points per tensor
//	C       = saturate(round_half_even((A - a_zp) * ra + (B - b_zp) * rb + c_zp))
//	          ra = a_scale / c_scale, rb = b_scale / c_scale,
//
// in float32 with each operation rounded in that order. It differs from
// DequantizeLinear -> Add -> QuantizeLinear, and from ONNX Runtime's
// kernel (which folds the zero points into one constant first), by at
// most one step, where a different rounding makes a tie go the other way.
func runQLinearAdd(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := qlinearAdd(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("QLinearAdd: %w", err)
	}
	return []*tensor.Tensor{y}, nil
}

// qaddParams are QLinearAdd's scalars, in float32.
type qaddParams struct{ za, ra, zb, rb, zy, lo, hi float32 }

func qlinearAdd(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	for _, i := range []int{0, 1, 3, 4, 6} {
		if i >= len(in) || in[i] == nil {
			return nil, fmt.Errorf("needs inputs A, A_scale, B, B_scale and C_scale (input %d is missing)", i)
		}
	}
	a, b := in[0], in[3]
	dt := a.DType()
	if dt != tensor.Uint8 && dt != tensor.Int8 {
		return nil, fmt.Errorf("A is %v: want uint8 or int8", dt)
	}
	if b.DType() != dt {
		return nil, fmt.Errorf("A is %v but B is %v", dt, b.DType())
	}
	scalar := func(i int, name string, zp bool) (float32, error) {
		t := nnOptional(in, i)
		if t == nil {
			return 0, nil
		}
		if t.Len() != 1 {
			return 0, fmt.Errorf("%s %v: want one value (per tensor)", name, t.Shape())
		}
		if zp {
			if t.DType() != dt {
				return 0, fmt.Errorf("%s is %v, A is %v", name, t.DType(), dt)
			}
			return float32(t.Float64At(0)), nil
		}
		if t.DType() != tensor.Float32 {
			return 0, fmt.Errorf("%s is %v: want float32", name, t.DType())
		}
		v := t.F32()[0]
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("%s %v: want a positive finite scale", name, v)
		}
		return v, nil
	}
	var s [3]float32
	var p qaddParams
	var err error
	for _, f := range []struct {
		dst  *float32
		i    int
		name string
		zp   bool
	}{{&s[0], 1, "A_scale", false}, {&p.za, 2, "A_zero_point", true}, {&s[1], 4, "B_scale", false},
		{&p.zb, 5, "B_zero_point", true}, {&s[2], 6, "C_scale", false}, {&p.zy, 7, "C_zero_point", true}} {
		if *f.dst, err = scalar(f.i, f.name, f.zp); err != nil {
			return nil, err
		}
	}
	p.ra, p.rb = s[0]/s[2], s[1]/s[2]
	if math.IsInf(float64(p.ra), 0) || math.IsInf(float64(p.rb), 0) {
		return nil, fmt.Errorf("scales A %v, B %v over C %v overflow float32", s[0], s[1], s[2])
	}
	shape, err := tensor.BroadcastShapes(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	y, err := ctx.AllocUninit(dt, shape...)
	if err != nil {
		return nil, err
	}
	plan := newEwPlan(shape, a.Shape(), b.Shape())
	simd := simdBuilt && CPULevel(level.Load()) >= LevelAVX2
	if dt == tensor.Uint8 {
		p.lo, p.hi = 0, 255
		ewRun2(ctx, plan, tensor.Data[uint8](y), tensor.Data[uint8](a), tensor.Data[uint8](b), qaddKernel[uint8](p, simd))
	} else {
		p.lo, p.hi = -128, 127
		ewRun2(ctx, plan, tensor.Data[int8](y), tensor.Data[int8](a), tensor.Data[int8](b), qaddKernel[int8](p, simd))
	}
	return y, nil
}

// qaddKernel is QLinearAdd on one run of elements: gc_qadd_8 when simd
// and neither input is broadcast along the run, else qaddRef per element.
func qaddKernel[Q uint8 | int8](p qaddParams, simd bool) ewKernel2[Q, Q, Q] {
	ref := ewMap2(func(a, b Q) Q { return qaddRef(p, a, b) })
	return func(d, a []Q, sa int, b []Q, sb int) {
		if simd && sa == 1 && sb == 1 {
			var zero Q
			qadd8C(bytesOf(a[:len(d)]), bytesOf(b[:len(d)]), bytesOf(d), zero-1 < 0, p.za, p.ra, p.zb, p.rb, p.zy, p.lo, p.hi)
			return
		}
		ref(d, a, sa, b, sb)
	}
}

// qaddRef is the reference QLinearAdd of one element (see runQLinearAdd);
// the conversions keep each operation rounded to float32 (no fused
// multiply-add).
func qaddRef[Q uint8 | int8](p qaddParams, a, b Q) Q {
	t := float32((float32(a) - p.za) * p.ra)
	u := float32((float32(b) - p.zb) * p.rb)
	v := float32(t+u) + p.zy
	v = min(max(v, p.lo), p.hi)
	return Q(math.RoundToEven(float64(v)))
}
