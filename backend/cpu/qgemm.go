package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// qgemmOp executes ONNX Runtime's com.microsoft QGemm, the quantized Gemm
// Lower emits for Gemm and 2-D MatMul layers:
//
//	inputs  A (u8/s8 [M, K]), a_scale, a_zero_point (per tensor),
//	        B (u8/s8, [K, N], or [N, K] with transB), b_scale, b_zero_point
//	        (per tensor or per column), C (int32, optional, [N] or [M, N];
//	        same scale as A*B), y_scale, y_zero_point (optional)
//	acc     = (A - a_zp) x (B - b_zp) + C                 (exact int32)
//	Y       = float32(acc) * (alpha * a_scale * b_scale[n])      without y_scale
//	Y       = saturate(round_half_even(acc * m[n]) + y_zp),
//	          m[n] = alpha * a_scale * b_scale[n] / y_scale (in float32)
//
// The integer product runs on the CPU backend's MatMulInteger (its fast
// INT8 GEMM when there is one, with B packed once when it is a
// constant); the bias, scaling and requantization are one pass over the
// accumulator. transA is not supported.
type qgemmOp struct {
	alpha  float32
	transB bool
	// mm is the CPU MatMulInteger prepared with B as [K, N]: constB is the
	// node's constant B and constBKN the tensor mm was prepared with (the
	// same, or its transpose once).
	mm        runtime.Op
	constB    *tensor.Tensor
	constBKN  *tensor.Tensor
	mmFactory runtime.OpFactory
}

func newQGemm(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	if n.AttrInt("transA", 0) != 0 {
		return nil, fmt.Errorf("QGemm: transA is not supported")
	}
	op := &qgemmOp{alpha: n.AttrFloat("alpha", 1), transB: n.AttrInt("transB", 0) != 0}
	op.mmFactory = registry.Factory("", "MatMulInteger")
	if op.mmFactory == nil {
		return nil, fmt.Errorf("QGemm: the CPU backend has no MatMulInteger")
	}
	if bv := n.Input(3); bv != nil && bv.Const != nil && bv.Const.Rank() == 2 {
		op.constB, op.constBKN = bv.Const, bv.Const
		if op.transB {
			op.constBKN = TransposeInt8Matrix(bv.Const)
		}
	}
	mm, err := op.matMul(op.constBKN)
	if err != nil {
		return nil, fmt.Errorf("QGemm: %w", err)
	}
	op.mm = mm
	return runtime.OpFunc(op.run), nil
}

// matMul prepares a MatMulInteger whose B is the constant bkn (nil: B is
// computed).
func (op *qgemmOp) matMul(bkn *tensor.Tensor) (runtime.Op, error) {
	g := graph.NewGraph("qgemm")
	b := g.GetOrAddValue("b")
	if bkn != nil {
		b = g.AddInitializer("b", bkn)
	}
	n := g.AddNode("MatMulInteger", []*graph.Value{g.GetOrAddValue("a"), b, g.GetOrAddValue("azp"), g.GetOrAddValue("bzp")},
		[]*graph.Value{g.GetOrAddValue("y")}, nil)
	return op.mmFactory(n, runtime.NodeInfo{Opset: 13})
}

func (op *qgemmOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := op.compute(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("QGemm: %w", err)
	}
	return []*tensor.Tensor{y}, nil
}

func optional(in []*tensor.Tensor, i int) *tensor.Tensor {
	if i < len(in) {
		return in[i]
	}
	return nil
}

func (op *qgemmOp) compute(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if len(in) < 5 || in[0] == nil || in[1] == nil || in[3] == nil || in[4] == nil {
		return nil, fmt.Errorf("needs A, a_scale, B and b_scale")
	}
	a, b := in[0], in[3]
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, fmt.Errorf("A %v and B %v must be 2-D", a.Shape(), b.Shape())
	}
	bkn := b
	switch {
	case b == op.constB:
		bkn = op.constBKN
	case op.transB:
		bkn = TransposeInt8Matrix(b)
	}
	rows, cols := a.Shape()[0], bkn.Shape()[1]
	bzp := optional(in, 5)
	if bzp != nil && bzp.Len() != 1 && (bzp.Rank() != 1 || bzp.Len() != cols) {
		return nil, fmt.Errorf("b_zero_point %v must be one value or %d", bzp.Shape(), cols)
	}
	if bzp != nil && bzp.Rank() == 0 {
		bzp, _ = bzp.Reshape(1)
	}
	res, err := op.mm.Run(ctx, []*tensor.Tensor{a, bkn, optional(in, 2), bzp})
	if err != nil {
		return nil, err
	}
	acc := tensor.Data[int32](res[0])
	sa, err := quantVals(in[1], 1, "a_scale")
	if err != nil {
		return nil, err
	}
	sb, err := quantVals(in[4], cols, "b_scale")
	if err != nil {
		return nil, err
	}
	var bias []int32
	biasRows := false
	if c := optional(in, 6); c != nil {
		if c.DType() != tensor.Int32 {
			return nil, fmt.Errorf("C is %v, want int32", c.DType())
		}
		switch {
		case c.Len() == cols && (c.Rank() == 1 || c.Shape()[0] == 1):
		case c.Rank() == 2 && c.Shape()[0] == rows && c.Shape()[1] == cols:
			biasRows = true
		default:
			return nil, fmt.Errorf("C %v does not broadcast to [%d, %d]", c.Shape(), rows, cols)
		}
		bias = tensor.Data[int32](c)
	}
	// The bias goes into the accumulators (this op's own buffer) once, for
	// every output form below.
	if bias != nil {
		ctx.ParallelFor(rows, func(r0, r1 int) {
			for i := r0; i < r1; i++ {
				row, b := acc[i*cols:(i+1)*cols], bias
				if biasRows {
					b = bias[i*cols : (i+1)*cols]
				}
				for j := range row {
					row[j] += b[j]
				}
			}
		})
	}
	// per-column scale of the accumulator, alpha * a_scale * b_scale[n]
	scale := make([]float32, cols)
	for j := range scale {
		scale[j] = op.alpha * sa[0] * sb[min(j, len(sb)-1)]
	}
	ys := optional(in, 7)
	if ys == nil {
		y, err := ctx.Alloc(tensor.Float32, rows, cols)
		if err != nil {
			return nil, err
		}
		yd := y.F32()
		ctx.ParallelFor(rows, func(r0, r1 int) {
			for i := r0; i < r1; i++ {
				for j := 0; j < cols; j++ {
					yd[i*cols+j] = float32(acc[i*cols+j]) * scale[j]
				}
			}
		})
		return y, nil
	}
	syv, err := quantVals(ys, 1, "y_scale")
	if err != nil {
		return nil, err
	}
	yzp := optional(in, 8)
	dt, zy := tensor.Uint8, 0.0
	if yzp != nil {
		dt, zy = yzp.DType(), yzp.Float64At(0)
	}
	lo, hi := 0.0, 255.0
	switch dt {
	case tensor.Int8:
		lo, hi = -128, 127
	case tensor.Uint8:
	default:
		return nil, fmt.Errorf("y_zero_point is %v, want uint8 or int8", dt)
	}
	mult := make([]float64, cols)
	for j := range mult {
		mult[j] = float64(scale[j] / syv[0])
	}
	y, err := ctx.Alloc(dt, rows, cols)
	if err != nil {
		return nil, err
	}
	if CPULevel(level.Load()) >= LevelAVX2 {
		// The C requantization (the same arithmetic), rows split over the
		// threads.
		yb, u8, _ := int8Bytes(y)
		ctx.ParallelFor(rows, func(r0, r1 int) {
			requantC(acc[r0*cols:r1*cols], yb[r0*cols:r1*cols], r1-r0, cols, mult, true, nil, zy, lo, hi, u8)
		})
		return y, nil
	}
	if dt == tensor.Uint8 {
		requantRows(ctx, tensor.Data[uint8](y), acc, mult, zy, lo, hi, rows, cols)
	} else {
		requantRows(ctx, tensor.Data[int8](y), acc, mult, zy, lo, hi, rows, cols)
	}
	return y, nil
}

// requantRows writes y[i, j] = saturate(round_half_even(acc[i, j] *
// mult[j]) + zy), rows split across ctx's threads.
func requantRows[Q uint8 | int8](ctx *runtime.Context, y []Q, acc []int32, mult []float64, zy, lo, hi float64, rows, cols int) {
	ctx.ParallelFor(rows, func(r0, r1 int) {
		for i := r0; i < r1; i++ {
			row, out := acc[i*cols:(i+1)*cols], y[i*cols:(i+1)*cols]
			for j, v := range row {
				q := math.RoundToEven(float64(v)*mult[j]) + zy
				if q < lo {
					q = lo
				} else if q > hi {
					q = hi
				}
				out[j] = Q(q)
			}
		}
	})
}

// quantVals reads a float scale of one or n values.
func quantVals(t *tensor.Tensor, n int, name string) ([]float32, error) {
	if t.DType() != tensor.Float32 || (t.Len() != 1 && t.Len() != n) {
		return nil, fmt.Errorf("%s %v must be float32 with 1 or %d values", name, t, n)
	}
	return t.F32(), nil
}

// TransposeInt8Matrix returns the transpose of a 2-D uint8 or int8 tensor
// (a copy).
func TransposeInt8Matrix(t *tensor.Tensor) *tensor.Tensor {
	r, c := t.Shape()[0], t.Shape()[1]
	switch t.DType() {
	case tensor.Uint8:
		return tensor.FromSlice([]int{c, r}, transposeSlice(tensor.Data[uint8](t), r, c))
	default:
		return tensor.FromSlice([]int{c, r}, transposeSlice(tensor.Data[int8](t), r, c))
	}
}

func transposeSlice[T int8 | uint8](src []T, r, c int) []T {
	out := make([]T, len(src))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = src[i*c+j]
		}
	}
	return out
}
