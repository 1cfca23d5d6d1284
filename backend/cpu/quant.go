// Quantization ops (ONNX opset 13+, with the blocked layout and 16-bit types
// of opset 21). Rounding is half to even everywhere; conversions to integer
// types saturate.
//
//	QuantizeLinear:   y = saturate(round(x / y_scale) + y_zero_point), y's
//	    dtype that of y_zero_point, else output_dtype, else uint8 (uint8,
//	    int8, uint16, int16); for float x the quotient is rounded to float32
//	    (as ONNX's reference computes it), for int32 x it is exact.
//	DequantizeLinear: y = (x - x_zero_point) * x_scale in float32, y's dtype
//	    that of x_scale (or output_dtype).
//	    For both, scale and zero point are per tensor (one value), per axis
//	    (a 1-D tensor of x.shape[axis] values) or blocked (x's shape with
//	    dimension axis cut into ceil(d / block_size) blocks).
//	DynamicQuantizeLinear: uint8 with y_scale = (max(0, max x) - min(0, min x)) / 255
//	    (1 when x is all zero), y_zero_point = round(saturate(-min(0, min x) / y_scale)).
//	MatMulInteger:    Y (int32) = (A - a_zero_point) x (B - b_zero_point) with
//	    MatMul's shape rules; zero points per tensor, per row of A / per
//	    column of B (1-D), or of the operand's rank broadcasting to it
//	    ([D1, D2, M, 1] for A, [D1, D2, 1, N] for B).
//	ConvInteger:      Y (int32) = Conv(x - x_zero_point, w - w_zero_point), w's
//	    zero point per tensor or per output channel; padding reads as x_zero_point.
//	QLinearMatMul:    Y = saturate(round(acc * a_scale*b_scale/y_scale) + y_zero_point),
//	    acc the MatMulInteger product; a_scale, y_scale and y_zero_point per
//	    tensor or per row, b_scale per tensor or per column.
//	QLinearConv:      Y = saturate(round((acc + B[m]) * x_scale*w_scale[m]/y_scale) + y_zero_point),
//	    acc the ConvInteger result; w_scale per tensor or per output channel.
//
// Integer products accumulate exactly in int32 (wrapping only beyond 2^31,
// as every int32 accumulator does). The requantization multiplier is
// computed in float32 and applied to the accumulator in float64.

package cpu

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("QuantizeLinear", newQuantize)
	register("DequantizeLinear", newDequantize)
	registerFunc("DynamicQuantizeLinear", runDynamicQuantize)
	register("MatMulInteger", newMatMulInteger)
	register("QLinearMatMul", newQLinearMatMul)
	register("ConvInteger", newConvInteger)
	register("QLinearConv", newQLinearConv)
}

// quantInt lists the quantized storage types.
type quantInt interface{ uint8 | int8 | uint16 | int16 }

// quantRange returns the representable range of Q.
func quantRange[Q quantInt]() (lo, hi float64) {
	switch any(Q(0)).(type) {
	case uint8:
		return 0, math.MaxUint8
	case int8:
		return math.MinInt8, math.MaxInt8
	case uint16:
		return 0, math.MaxUint16
	}
	return math.MinInt16, math.MaxInt16
}

// quantSaturate clamps an integral value v into [lo, hi], Q's range (NaN
// gives 0).
func quantSaturate[Q quantInt](v float64, lo, hi float64) Q {
	switch {
	case v != v:
		return 0
	case v < lo:
		return Q(lo)
	case v > hi:
		return Q(hi)
	}
	return Q(v)
}

// quantInt32s returns the elements of an integer tensor of at most 32 bits
// as int32 (a copy).
func quantInt32s(t *tensor.Tensor) ([]int32, error) {
	out := make([]int32, t.Len())
	switch t.DType() {
	case tensor.Uint8:
		quantWiden(out, tensor.Data[uint8](t))
	case tensor.Int8:
		quantWiden(out, tensor.Data[int8](t))
	case tensor.Uint16:
		quantWiden(out, tensor.Data[uint16](t))
	case tensor.Int16:
		quantWiden(out, tensor.Data[int16](t))
	case tensor.Int32:
		copy(out, tensor.Data[int32](t))
	default:
		return nil, fmt.Errorf("dtype %v is not a quantized integer type", t.DType())
	}
	return out, nil
}

func quantWiden[T quantInt](dst []int32, src []T) {
	for i, v := range src {
		dst[i] = int32(v)
	}
}

// quantFloats returns the elements of a float tensor as float32.
func quantFloats(t *tensor.Tensor, name string) ([]float32, error) {
	switch t.DType() {
	case tensor.Float32:
		return t.F32(), nil
	case tensor.Float16, tensor.BFloat16:
		return nnWiden(t).F32(), nil
	}
	return nil, fmt.Errorf("%s has dtype %v, want float32, float16 or bfloat16", name, t.DType())
}

// ---- QuantizeLinear / DequantizeLinear ----

// quantParams maps the elements of x, viewed as [outer, axisLen, inner]
// around the quantization axis, to entries of a scale/zero-point tensor.
type quantParams struct {
	outer, axisLen, inner int
	perAxis               bool
	blocks, blockSize     int // blocked layout when blockSize > 0
}

// newQuantParams classifies the scale shape s against x's shape.
func newQuantParams(x, s []int, axis, blockSize int) (quantParams, error) {
	n := tensor.Product(x)
	if blockSize <= 0 && tensor.Product(s) == 1 && len(s) <= 1 {
		return quantParams{outer: 1, axisLen: 1, inner: n}, nil
	}
	ax, err := tensor.NormAxis(axis, len(x))
	if err != nil {
		return quantParams{}, fmt.Errorf("axis: %w", err)
	}
	q := quantParams{outer: tensor.Product(x[:ax]), axisLen: x[ax], inner: tensor.Product(x[ax+1:])}
	if blockSize <= 0 {
		if len(s) != 1 || s[0] != x[ax] {
			return q, fmt.Errorf("scale %v must be one value or %d values along axis %d of %v", s, x[ax], ax, x)
		}
		q.perAxis = true
		return q, nil
	}
	q.blockSize, q.blocks = blockSize, (x[ax]+blockSize-1)/blockSize
	want := append([]int(nil), x...)
	want[ax] = q.blocks
	if !tensor.SameShape(s, want) {
		return q, fmt.Errorf("blocked scale %v must have shape %v (block_size %d on axis %d)", s, want, blockSize, ax)
	}
	return q, nil
}

// perTensor reports whether one scale and zero point serve every element
// (a blocked layout over an axis of length 1 has one per element).
func (q *quantParams) perTensor() bool { return q.outer == 1 && q.axisLen == 1 && q.blockSize == 0 }

// at returns, for row (o, a), the parameter index of its first element and
// the index step along the row.
func (q *quantParams) at(o, a int) (base, step int) {
	switch {
	case q.blockSize > 0:
		return (o*q.blocks + a/q.blockSize) * q.inner, 1
	case q.perAxis:
		return a, 0
	}
	return 0, 0
}

// quantScaleZP reads a scale and optional zero point of matching shapes.
func quantScaleZP(in []*tensor.Tensor, x *tensor.Tensor, axis, blockSize int) (quantParams, []float32, []int32, error) {
	scale := in[1]
	var zp *tensor.Tensor
	if len(in) > 2 {
		zp = in[2]
	}
	q, err := newQuantParams(x.Shape(), scale.Shape(), axis, blockSize)
	if err != nil {
		return q, nil, nil, err
	}
	s, err := quantFloats(scale, "scale")
	if err != nil {
		return q, nil, nil, err
	}
	z := make([]int32, len(s))
	if zp != nil {
		if !tensor.SameShape(zp.Shape(), scale.Shape()) && !(zp.Len() == 1 && len(s) == 1) {
			return q, nil, nil, fmt.Errorf("zero point %v and scale %v differ in shape", zp.Shape(), scale.Shape())
		}
		if z, err = quantInt32s(zp); err != nil {
			return q, nil, nil, fmt.Errorf("zero point: %w", err)
		}
	}
	return q, s, z, nil
}

type quantizeOp struct {
	axis, blockSize int
	outDType        tensor.DType
}

func newQuantize(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op := &quantizeOp{axis: int(n.AttrInt("axis", 1)), blockSize: int(n.AttrInt("block_size", 0)),
		outDType: tensor.DType(n.AttrInt("output_dtype", 0))}
	switch op.outDType {
	case tensor.Undefined, tensor.Uint8, tensor.Int8, tensor.Uint16, tensor.Int16:
	default:
		return nil, fmt.Errorf("QuantizeLinear: output_dtype %v is not supported (uint8, int8, uint16, int16)", op.outDType)
	}
	if op.blockSize < 0 {
		return nil, fmt.Errorf("QuantizeLinear: block_size %d must be >= 0", op.blockSize)
	}
	return runtime.OpFunc(op.run), nil
}

func (op *quantizeOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := op.quantize(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("QuantizeLinear: %w", err)
	}
	return []*tensor.Tensor{y}, nil
}

func (op *quantizeOp) quantize(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	q, scale, zp, err := quantScaleZP(in, x, op.axis, op.blockSize)
	if err != nil {
		return nil, err
	}
	dt := op.outDType
	if len(in) > 2 && in[2] != nil {
		if dt != tensor.Undefined && dt != in[2].DType() {
			return nil, fmt.Errorf("output_dtype %v differs from the zero point's %v", dt, in[2].DType())
		}
		dt = in[2].DType()
	}
	if dt == tensor.Undefined {
		dt = tensor.Uint8
	}
	if x.DType() == tensor.Float32 && q.perTensor() && (dt == tensor.Uint8 || dt == tensor.Int8) {
		y, err := ctx.AllocUninit(dt, x.Shape()...)
		if err != nil {
			return nil, err
		}
		if dt == tensor.Uint8 {
			quantizeF32PerTensor(ctx, x.F32(), scale[0], zp[0], tensor.Data[uint8](y))
		} else {
			quantizeF32PerTensor(ctx, x.F32(), scale[0], zp[0], tensor.Data[int8](y))
		}
		return y, nil
	}
	var xs []float64
	switch x.DType() {
	case tensor.Int32:
		xs = quantAsFloat64(tensor.Data[int32](x))
	case tensor.Float32, tensor.Float16, tensor.BFloat16:
		f, _ := quantFloats(x, "x")
		xs = quantAsFloat64(f)
	default:
		return nil, fmt.Errorf("x has unsupported dtype %v", x.DType())
	}
	if dt != tensor.Uint8 && dt != tensor.Int8 && dt != tensor.Uint16 && dt != tensor.Int16 {
		return nil, fmt.Errorf("zero point dtype %v is not supported (uint8, int8, uint16, int16)", dt)
	}
	y, err := ctx.Alloc(dt, x.Shape()...)
	if err != nil {
		return nil, err
	}
	// For float x, x / scale is rounded to float32 as a float32 division would be.
	f32 := x.DType() != tensor.Int32
	switch dt {
	case tensor.Uint8:
		quantizeTo(xs, scale, zp, &q, tensor.Data[uint8](y), f32)
	case tensor.Int8:
		quantizeTo(xs, scale, zp, &q, tensor.Data[int8](y), f32)
	case tensor.Uint16:
		quantizeTo(xs, scale, zp, &q, tensor.Data[uint16](y), f32)
	case tensor.Int16:
		quantizeTo(xs, scale, zp, &q, tensor.Data[int16](y), f32)
	}
	return y, nil
}

// quantizeMinWork is the number of elements per thread from which
// quantizeF32PerTensor splits its work.
const quantizeMinWork = 1 << 14

// quantizeF32PerTensor is quantizeTo for float32 x with one scale and zero
// point, in float32 arithmetic and without the float64 copy: d = x / scale
// is the float32 quotient (what the reference gets by rounding the float64
// quotient to float32: a quotient rounded to 53 bits and then to 24 is the
// correctly rounded 24-bit one), clamped to [lo - zp, hi - zp] (clamping
// commutes with rounding, the bounds being integers), rounded half to even
// by adding and subtracting 1.5 * 2^23, plus zp. NaN gives 0, as in the
// reference.
func quantizeF32PerTensor[Q int8 | uint8](ctx *runtime.Context, x []float32, scale float32, zp int32, y []Q) {
	const magic = 1.5 * (1 << 23)
	lo, hi := quantRange[Q]()
	dlo, dhi := float32(lo)-float32(zp), float32(hi)-float32(zp)
	if simdBuilt && CPULevel(level.Load()) >= LevelAVX2 {
		yb := bytesOf(y)
		parallelChunks(len(x), min(ctx.Threads, max(1, len(x)/quantizeMinWork)), func(a, b int) {
			quantizeF32To8(x[a:b], yb[a:b], scale, zp, int32(lo), int32(hi))
		})
		return
	}
	parallelChunks(len(x), min(ctx.Threads, max(1, len(x)/quantizeMinWork)), func(a, b int) {
		for i, v := range x[a:b] {
			d := v / scale
			switch {
			case d != d:
				y[a+i] = 0
				continue
			case d < dlo:
				d = dlo
			case d > dhi:
				d = dhi
			}
			r := float32(d+magic) - magic
			y[a+i] = Q(int32(r) + zp)
		}
	})
}

func quantAsFloat64[T float32 | int32](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// quantizeTo writes y = saturate(round(x / scale) + zp) with the parameters
// laid out by q; f32 rounds the quotient to float32 first.
func quantizeTo[Q quantInt](x []float64, scale []float32, zp []int32, q *quantParams, y []Q, f32 bool) {
	lo, hi := quantRange[Q]()
	for o := 0; o < q.outer; o++ {
		for a := 0; a < q.axisLen; a++ {
			base, step := q.at(o, a)
			off := (o*q.axisLen + a) * q.inner
			for j, v := range x[off : off+q.inner] {
				p := base + j*step
				d := v / float64(scale[p])
				if f32 {
					d = float64(float32(d))
				}
				y[off+j] = quantSaturate[Q](math.RoundToEven(d)+float64(zp[p]), lo, hi)
			}
		}
	}
}

type dequantizeOp struct {
	axis, blockSize int
	outDType        tensor.DType
}

func newDequantize(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op := &dequantizeOp{axis: int(n.AttrInt("axis", 1)), blockSize: int(n.AttrInt("block_size", 0)),
		outDType: tensor.DType(n.AttrInt("output_dtype", 0))}
	switch op.outDType {
	case tensor.Undefined, tensor.Float32, tensor.Float16, tensor.BFloat16:
	default:
		return nil, fmt.Errorf("DequantizeLinear: output_dtype %v is not supported (float32, float16, bfloat16)", op.outDType)
	}
	if op.blockSize < 0 {
		return nil, fmt.Errorf("DequantizeLinear: block_size %d must be >= 0", op.blockSize)
	}
	return runtime.OpFunc(op.run), nil
}

func (op *dequantizeOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := op.dequantize(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("DequantizeLinear: %w", err)
	}
	return []*tensor.Tensor{y}, nil
}

func (op *dequantizeOp) dequantize(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	if len(in) > 2 && in[2] != nil && in[2].DType() != x.DType() {
		return nil, fmt.Errorf("zero point is %v, x is %v", in[2].DType(), x.DType())
	}
	q, scale, zp, err := quantScaleZP(in, x, op.axis, op.blockSize)
	if err != nil {
		return nil, err
	}
	dt := op.outDType
	if dt == tensor.Undefined {
		dt = in[1].DType()
	}
	if xb, u8, ok := int8Bytes(x); ok && q.perTensor() && dt == tensor.Float32 {
		// one scale and zero point on 8-bit values: no int32 copy
		y, err := ctx.AllocUninit(tensor.Float32, x.Shape()...)
		if err != nil {
			return nil, err
		}
		yd, s, z := y.F32(), scale[0], float32(zp[0])
		simd := simdBuilt && CPULevel(level.Load()) >= LevelAVX2
		parallelChunks(len(xb), min(ctx.Threads, max(1, len(xb)/quantizeMinWork)), func(a, b int) {
			if simd {
				dequant8C(xb[a:b], yd[a:b], !u8, z, s)
			} else {
				dequantize8(xb[a:b], yd[a:b], u8, s, z)
			}
		})
		return y, nil
	}
	xs, err := quantInt32s(x)
	if err != nil {
		return nil, fmt.Errorf("x: %w", err)
	}
	out := ctx
	if dt != tensor.Float32 {
		out = runtime.NewContext(ctx.Threads) // float32 scratch, narrowed below
	}
	y, err := out.Alloc(tensor.Float32, x.Shape()...)
	if err != nil {
		return nil, err
	}
	yd := y.F32()
	for o := 0; o < q.outer; o++ {
		for a := 0; a < q.axisLen; a++ {
			base, step := q.at(o, a)
			off := (o*q.axisLen + a) * q.inner
			for j, v := range xs[off : off+q.inner] {
				p := base + j*step
				yd[off+j] = (float32(v) - float32(zp[p])) * scale[p]
			}
		}
	}
	if dt == tensor.Float32 {
		return y, nil
	}
	return nnNarrow(ctx, y, dt)
}

// dequantize8 writes y = (x - zp) * scale for 8-bit x (uint8 when u8, else
// int8), in float32 as the general path computes it (gc_dequant_8 in Go,
// for the generic level).
func dequantize8(x []byte, y []float32, u8 bool, scale, zp float32) {
	y = y[:len(x)]
	if u8 {
		for i, v := range x {
			y[i] = (float32(v) - zp) * scale
		}
		return
	}
	for i, v := range x {
		y[i] = (float32(int8(v)) - zp) * scale
	}
}

// ---- DynamicQuantizeLinear ----

func runDynamicQuantize(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("DynamicQuantizeLinear: %w", err)
	}
	x := in[0]
	if x.DType() != tensor.Float32 {
		return nil, fmt.Errorf("DynamicQuantizeLinear: x is %v, want float32", x.DType())
	}
	xd := x.F32()
	var lo, hi float32
	for _, v := range xd {
		lo, hi = min(lo, v), max(hi, v)
	}
	scale := float32(1)
	if lo != hi {
		scale = (hi - lo) / 255
	}
	zpf := math.RoundToEven(float64(min(255, max(0, 0-lo/scale))))
	y, err := ctx.Alloc(tensor.Uint8, x.Shape()...)
	if err != nil {
		return nil, fmt.Errorf("DynamicQuantizeLinear: %w", err)
	}
	yd := tensor.Data[uint8](y)
	for i, v := range xd {
		yd[i] = quantSaturate[uint8](math.RoundToEven(float64(v/scale))+zpf, 0, 255)
	}
	ys, err := ctx.Alloc(tensor.Float32)
	if err != nil {
		return nil, err
	}
	ys.F32()[0] = scale
	yz, err := ctx.Alloc(tensor.Uint8)
	if err != nil {
		return nil, err
	}
	tensor.Data[uint8](yz)[0] = uint8(zpf)
	return []*tensor.Tensor{y, ys, yz}, nil
}

// ---- integer products ----

// quantSubZP returns x - zp as int32. zp (nil: 0) is one value, a 1-D vector
// of x.shape[axis] values (per row/column/channel; axis < 0: none), or a
// tensor of x's rank broadcasting to x (e.g. [D1, D2, M, 1] per row of a
// batched matrix). Its dtype must be x's.
func quantSubZP(x, zp *tensor.Tensor, axis int, name string) ([]int32, error) {
	switch x.DType() {
	case tensor.Uint8, tensor.Int8:
	default:
		return nil, fmt.Errorf("%s has dtype %v, want uint8 or int8", name, x.DType())
	}
	v, err := quantInt32s(x)
	if err != nil || zp == nil {
		return v, err
	}
	if zp.DType() != x.DType() {
		return nil, fmt.Errorf("%s zero point is %v, %s is %v", name, zp.DType(), name, x.DType())
	}
	z, _ := quantInt32s(zp)
	xs, zs := x.Shape(), zp.Shape()
	if len(z) == 1 {
		for i := range v {
			v[i] -= z[0]
		}
		return v, nil
	}
	if axis >= 0 && len(zs) == 1 && zs[0] == xs[axis] {
		zs = make([]int, len(xs))
		for i := range zs {
			zs[i] = 1
		}
		zs[axis] = len(z)
	}
	if bs, err := tensor.BroadcastShapes(xs, zs); err != nil || !tensor.SameShape(bs, xs) || len(zs) != len(xs) {
		return nil, fmt.Errorf("%s zero point %v does not fit %s %v", name, zp.Shape(), name, xs)
	}
	bc := tensor.NewBroadcaster(xs, zs)
	for i := range v {
		v[i] -= z[bc.Off[0]]
		bc.Next()
	}
	return v, nil
}

// quantOperands returns A - a_zp and B - b_zp as int32 and the product plan;
// a's zero point may be per row, b's per column.
func quantOperands(a, azp, b, bzp *tensor.Tensor) (*matMulPlan, []int32, []int32, error) {
	p, err := newMatMulPlan(a.Shape(), b.Shape())
	if err != nil {
		return nil, nil, nil, err
	}
	a32, err := quantSubZP(a, azp, a.Rank()-2, "A")
	if err != nil {
		return nil, nil, nil, err
	}
	bAxis := b.Rank() - 1
	if b.Rank() == 1 {
		bAxis = -1
	}
	b32, err := quantSubZP(b, bzp, bAxis, "B")
	return p, a32, b32, err
}

func newMatMulInteger(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op := &quantMatMulOp{}
	if b := n.Input(1); b != nil {
		op.constB = b.Const
	}
	return runtime.OpFunc(op.runMatMulInteger), nil
}

func (op *quantMatMulOp) runMatMulInteger(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("MatMulInteger: %w", err)
	}
	p, err := newMatMulPlan(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, fmt.Errorf("MatMulInteger: %w", err)
	}
	y, err := ctx.Alloc(tensor.Int32, p.out...)
	if err != nil {
		return nil, fmt.Errorf("MatMulInteger: %w", err)
	}
	if y.Len() > 0 && !op.matMulIntFast(ctx, p, in[0], nnOptional(in, 2), in[1], nnOptional(in, 3), tensor.Data[int32](y)) {
		p, a32, b32, err := quantOperands(in[0], nnOptional(in, 2), in[1], nnOptional(in, 3))
		if err != nil {
			return nil, fmt.Errorf("MatMulInteger: %w", err)
		}
		matMulRun(ctx, p, a32, b32, tensor.Data[int32](y), igemm)
	}
	return []*tensor.Tensor{y}, nil
}

// nnOptional returns in[i], or nil when the input is absent.
func nnOptional(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// quantVector reads a scale (float) or zero point (integer) that is one
// value or n values, as float64.
func quantVector(t *tensor.Tensor, name string, n int) ([]float64, error) {
	if t == nil {
		return []float64{0}, nil
	}
	if t.Len() != 1 && (t.Len() != n || t.Rank() != 1) {
		return nil, fmt.Errorf("%s %v must be one value or %d values", name, t.Shape(), n)
	}
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out, nil
}

// quantOutput allocates the requantized output: dtype of y_zero_point (or
// of the quantized input x when it is absent); uninitialised, as every
// caller writes each element.
func quantOutput(ctx *runtime.Context, yzp, x *tensor.Tensor, shape []int) (*tensor.Tensor, error) {
	dt := x.DType()
	if yzp != nil {
		dt = yzp.DType()
	}
	if dt != tensor.Uint8 && dt != tensor.Int8 {
		return nil, fmt.Errorf("output zero point dtype %v is not uint8 or int8", dt)
	}
	return ctx.AllocUninit(dt, shape...)
}

// requantize writes y[i] = saturate(round(acc[i] * m) + zp), where
// m, zp = mult(i) are the multiplier and output zero point of element i.
func requantize(y *tensor.Tensor, acc []int32, mult func(i int) (float64, float64)) {
	switch y.DType() {
	case tensor.Uint8:
		requantizeTo(tensor.Data[uint8](y), acc, mult)
	case tensor.Int8:
		requantizeTo(tensor.Data[int8](y), acc, mult)
	}
}

func requantizeTo[Q uint8 | int8](y []Q, acc []int32, mult func(i int) (float64, float64)) {
	lo, hi := quantRange[Q]()
	for i, v := range acc {
		m, zp := mult(i)
		y[i] = quantSaturate[Q](math.RoundToEven(float64(v)*m)+zp, lo, hi)
	}
}

// quantMultiplier is s1*s2/s3 computed in float32.
func quantMultiplier(s1, s2, s3 float64) float64 {
	return float64(float32(s1) * float32(s2) / float32(s3))
}

func newQLinearMatMul(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op := &quantMatMulOp{}
	if b := n.Input(3); b != nil {
		op.constB = b.Const
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := op.qlinearMatMul(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("QLinearMatMul: %w", err)
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

func (op *quantMatMulOp) qlinearMatMul(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 7); err != nil {
		return nil, err
	}
	a, b := in[0], in[3]
	p, err := newMatMulPlan(a.Shape(), b.Shape())
	if err != nil {
		return nil, err
	}
	rows, cols := 1, 1
	if a.Rank() > 1 {
		rows = a.Shape()[a.Rank()-2]
	}
	if b.Rank() > 1 {
		cols = b.Shape()[b.Rank()-1]
	}
	var sa, sb, sy, zy []float64
	for _, v := range []struct {
		dst  *[]float64
		t    *tensor.Tensor
		name string
		n    int
	}{{&sa, in[1], "a_scale", rows}, {&sb, in[4], "b_scale", cols}, {&sy, in[6], "y_scale", rows}, {&zy, nnOptional(in, 7), "y_zero_point", rows}} {
		if *v.dst, err = quantVector(v.t, v.name, v.n); err != nil {
			return nil, err
		}
	}
	y, err := quantOutput(ctx, nnOptional(in, 7), a, p.out)
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	buf := getI32(y.Len())
	defer putI32(buf)
	acc := *buf
	if !op.matMulIntFast(ctx, p, a, in[2], b, in[5], acc) {
		_, a32, b32, err := quantOperands(a, in[2], b, in[5])
		if err != nil {
			return nil, err
		}
		matMulRun(ctx, p, a32, b32, acc, igemm)
	}
	if qlinearMatMulRequant(y, acc, p, rows, cols, sa, sb, sy, zy) {
		return y, nil
	}
	pick := func(v []float64, i int) float64 { return v[min(i, len(v)-1)] }
	requantize(y, acc, func(i int) (float64, float64) {
		r, c := i/cols%rows, i%cols
		return quantMultiplier(pick(sa, r), pick(sb, c), pick(sy, r)), pick(zy, r)
	})
	return y, nil
}

// ---- ConvInteger / QLinearConv ----

type convIntOp struct {
	conv   convOp
	linear bool // QLinearConv
	// constW is the weight initializer seen at preparation; packed caches
	// it packed for the INT8 kernel.
	constW *tensor.Tensor
	packed ipackCache
	wFit   bytesFit
	direct qconvCache
	// paramConsts holds QLinearConv's scale, zero point and bias inputs
	// (1, 4, 6, 7, 8) when all are initializers (or absent); prm keeps
	// what params derived from them.
	paramConsts []*tensor.Tensor
	prm         atomic.Pointer[qlinearParams]
}

// qlinearParams are QLinearConv's bias, per-channel multipliers
// x_scale*w_scale[m]/y_scale and output zero point, for m channels.
type qlinearParams struct {
	m    int
	bias []int32
	mult []float64
	zy   []float64
}

// qlinearParamInputs are the QLinearConv inputs params reads.
var qlinearParamInputs = [...]int{1, 4, 6, 7, 8}

// params reads QLinearConv's bias, multipliers and output zero point for
// m output channels; when they come from the node's initializers they are
// read once and kept.
func (op *convIntOp) params(in []*tensor.Tensor, m int) (*qlinearParams, error) {
	cached := op.paramConsts != nil
	for k, i := range qlinearParamInputs {
		cached = cached && nnOptional(in, i) == op.paramConsts[k]
	}
	if p := op.prm.Load(); cached && p != nil && p.m == m {
		return p, nil
	}
	p := &qlinearParams{m: m}
	if b := nnOptional(in, 8); b != nil {
		if b.DType() != tensor.Int32 {
			return nil, fmt.Errorf("bias is %v, want int32", b.DType())
		}
		var err error
		if p.bias, err = nnBias[int32](b, m); err != nil {
			return nil, err
		}
	}
	var sx, sw, sy []float64
	var err error
	for _, v := range []struct {
		dst  *[]float64
		t    *tensor.Tensor
		name string
		n    int
	}{{&sx, in[1], "x_scale", 1}, {&sw, in[4], "w_scale", m}, {&sy, in[6], "y_scale", 1}, {&p.zy, nnOptional(in, 7), "y_zero_point", 1}} {
		if *v.dst, err = quantVector(v.t, v.name, v.n); err != nil {
			return nil, err
		}
	}
	p.mult = make([]float64, m)
	for c := range p.mult {
		p.mult[c] = quantMultiplier(sx[0], sw[min(c, len(sw)-1)], sy[0])
	}
	if cached {
		op.prm.Store(p)
	}
	return p, nil
}

func newConvInteger(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	return newConvInt(n, false)
}

func newQLinearConv(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	return newConvInt(n, true)
}

func newConvInt(n *graph.Node, linear bool) (runtime.Op, error) {
	name := "ConvInteger"
	if linear {
		name = "QLinearConv"
	}
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	op := &convIntOp{conv: convOp{win: win, group: int(n.AttrInt("group", 1))}, linear: linear}
	wi := 1
	if linear {
		wi = 3
	}
	if w := n.Input(wi); w != nil {
		op.constW = w.Const
	}
	if linear {
		op.paramConsts = make([]*tensor.Tensor, len(qlinearParamInputs))
		for k, i := range qlinearParamInputs {
			if v := n.Input(i); v != nil {
				if v.Const == nil {
					op.paramConsts = nil
					break
				}
				op.paramConsts[k] = v.Const
			}
		}
	}
	if op.conv.group < 1 {
		return nil, fmt.Errorf("%s: group %d must be >= 1", name, op.conv.group)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := op.run(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

// run computes the int32 convolution and, for QLinearConv, requantizes it.
func (op *convIntOp) run(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	xi, wi, xzpi, wzpi := 0, 1, 2, 3
	if op.linear {
		xi, wi, xzpi, wzpi = 0, 3, 2, 5
		if err := needInputs(in, 7); err != nil {
			return nil, err
		}
	} else if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x, w := in[xi], in[wi]
	g, acc, err := op.accumulator(ctx, x, w, nnOptional(in, xzpi), nnOptional(in, wzpi))
	if err != nil {
		return nil, err
	}
	if !op.linear {
		y, err := ctx.Alloc(tensor.Int32, g.outShape(x.Rank()-2)...)
		if err == nil && y.Len() > 0 {
			err = acc(tensor.Data[int32](y), nil)
		}
		return y, err
	}
	return op.requantized(ctx, in, g, acc)
}

// accumulator resolves the geometry of the integer convolution of x and w
// (zero points xzp and wzp, nil: 0) and returns a function computing it,
// plus a per-channel bias (nil: none), into an int32 dst of the output's
// size: the INT8 kernel when it applies, else the reference on widened
// values.
func (op *convIntOp) accumulator(ctx *runtime.Context, x, w, xzp, wzp *tensor.Tensor) (*convGeom, func(dst, bias []int32) error, error) {
	g, err := newConvGeom(op.conv.win, op.conv.group, x.Shape(), w.Shape(), false, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if xzp != nil && xzp.Len() != 1 {
		return nil, nil, fmt.Errorf("x zero point %v must be one value", xzp.Shape())
	}
	acc := func(dst, bias []int32) error {
		if xzp == nil || xzp.DType() == x.DType() {
			if wzp == nil || wzp.DType() == w.DType() && (wzp.Len() == 1 || wzp.Rank() == 1 && wzp.Len() == g.m) {
				if op.convIntFast(ctx, g, x, w, xzp, wzp, bias, dst) {
					return nil
				}
			}
		}
		x32, err := quantSubZP(x, xzp, -1, "x")
		if err != nil {
			return err
		}
		w32, err := quantSubZP(w, wzp, 0, "w")
		if err != nil {
			return err
		}
		convForward(ctx, g, x32, w32, bias, dst)
		return nil
	}
	return g, acc, nil
}

// requantized finishes QLinearConv: bias, int32 convolution, requantization.
func (op *convIntOp) requantized(ctx *runtime.Context, in []*tensor.Tensor, g *convGeom, accumulate func(dst, bias []int32) error) (*tensor.Tensor, error) {
	x := in[0]
	prm, err := op.params(in, g.m)
	if err != nil {
		return nil, err
	}
	bias, mult, zy := prm.bias, prm.mult, prm.zy
	y, err := quantOutput(ctx, nnOptional(in, 7), x, g.outShape(x.Rank()-2))
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	if op.requantInKernel(ctx, in, g, bias, y, mult, zy[0]) {
		return y, nil
	}
	buf := getI32(y.Len())
	defer putI32(buf)
	acc := *buf
	if err := accumulate(acc, bias); err != nil {
		return nil, err
	}
	if requantFast(y, acc, g.batch*g.m, g.outSize, tile(mult, g.batch), false, zy) {
		return y, nil
	}
	requantize(y, acc, func(i int) (float64, float64) { return mult[i/g.outSize%g.m], zy[0] })
	return y, nil
}
