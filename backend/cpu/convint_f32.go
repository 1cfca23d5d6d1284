package cpu

// FusedConvInteger (gcompress domain) is an integer convolution with its
// float epilogue, what graph/passes.FuseIntegerEpilogue makes of the
// ConvInteger -> Add(int32 bias) -> Cast -> Mul(scale) [-> Add(bias)]
// chain LowerQDQ writes for a quantized convolution whose output stays
// float (a residual sum follows it rather than a QuantizeLinear):
//
//	Y = act(float32(ConvInteger(X, W, x_zero_point, w_zero_point) + B_q[m]) * scale[m] + B[m] + Z)
//
// each operation rounded to float32 in that order, as the chain does.
// Inputs X, W, x_zero_point, w_zero_point (as ConvInteger), scale (float32
// [M]), B_q (int32 [M], optional), B (float32 [M], optional), Z (float32,
// Y's shape, optional: a residual summand, as FusedConv's); attributes:
// Conv's and FusedConv's activation.

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	registry.Register(FusedDomain, "FusedConvInteger", newFusedConvInteger)
}

type convIntF32Op struct {
	conv *convIntOp
	act  fusedAct
}

func newFusedConvInteger(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	if len(n.Inputs) > 8 {
		return nil, fmt.Errorf("FusedConvInteger: takes X, W, x_zero_point, w_zero_point, scale, B_q, B and Z, got %d inputs", len(n.Inputs))
	}
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil, fmt.Errorf("FusedConvInteger: %w", err)
	}
	act, err := parseFusedAct(n)
	if err != nil {
		return nil, fmt.Errorf("FusedConvInteger: %w", err)
	}
	op := &convIntF32Op{conv: &convIntOp{conv: convOp{win: win, group: int(n.AttrInt("group", 1))}}, act: act}
	if op.conv.conv.group < 1 {
		return nil, fmt.Errorf("FusedConvInteger: group %d must be >= 1", op.conv.conv.group)
	}
	if w := n.Input(1); w != nil {
		op.conv.constW = w.Const
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := op.run(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("FusedConvInteger: %w", err)
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

func (op *convIntF32Op) run(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	if nnOptional(in, 4) == nil {
		return nil, fmt.Errorf("input 4 (scale) is required")
	}
	x := in[0]
	g, accumulate, err := op.conv.accumulator(ctx, x, in[1], nnOptional(in, 2), nnOptional(in, 3))
	if err != nil {
		return nil, err
	}
	vec := func(i int, dt tensor.DType, name string) (*tensor.Tensor, error) {
		t := nnOptional(in, i)
		if t != nil && (t.DType() != dt || t.Rank() != 1 || t.Len() != g.m) {
			return nil, fmt.Errorf("%s %v must be %v [%d]", name, t, dt, g.m)
		}
		return t, nil
	}
	scale, err := vec(4, tensor.Float32, "scale")
	if err != nil {
		return nil, err
	}
	bq, err := vec(5, tensor.Int32, "B_q")
	if err != nil {
		return nil, err
	}
	bf, err := vec(6, tensor.Float32, "B")
	if err != nil {
		return nil, err
	}
	shape := g.outShape(x.Rank() - 2)
	z := nnOptional(in, 7)
	if z != nil && (z.DType() != tensor.Float32 || !tensor.SameShape(z.Shape(), shape)) {
		return nil, fmt.Errorf("Z %v must be float32 %v", z, shape)
	}
	y, err := ctx.AllocUninit(tensor.Float32, shape...)
	if err != nil || y.Len() == 0 {
		return y, err
	}
	buf := getI32(y.Len())
	defer putI32(buf)
	acc := *buf
	var bias []int32
	if bq != nil {
		bias = tensor.Data[int32](bq)
	}
	if err := accumulate(acc, bias); err != nil {
		return nil, err
	}
	var bd, zd []float32
	if bf != nil {
		bd = bf.F32()
	}
	if z != nil {
		zd = z.F32()
	}
	dequantize(ctx, acc, y.F32(), g.batch, g.m, g.outSize, scale.F32(), bd, zd, op.act)
	return y, nil
}

// dequantize writes y = act(float32(acc) * scale[m] + bias[m] + z) for
// batch images of m channels of n values each, every operation rounded to
// float32 in that order (bias and z nil: none), split over the threads by
// channels.
func dequantize(ctx *runtime.Context, acc []int32, y []float32, batch, m, n int, scale, bias, z []float32, act fusedAct) {
	fast := CPULevel(level.Load()) >= LevelAVX2
	rows := batch * m
	parts := min(ctx.Threads, max(1, rows*n/dequantMinWork))
	parallelChunks(rows, parts, func(lo, hi int) {
		for r := lo; r < hi; {
			// a run of rows within one image: channels c0.. of image r/m
			c0 := r % m
			end := min(hi, r-c0+m)
			at, cnt := r*n, (end-r)*n
			var zr, br []float32
			if z != nil {
				zr = z[at : at+cnt]
			}
			if bias != nil {
				br = bias[c0 : c0+end-r]
			}
			if fast {
				dequantC(acc[at:at+cnt], y[at:at+cnt], end-r, n, scale[c0:c0+end-r], br, zr, act)
			} else {
				dequantGo(acc[at:at+cnt], y[at:at+cnt], n, scale[c0:], br, zr, act)
			}
			r = end
		}
	})
}

// dequantMinWork is the least number of values per thread of dequantize.
var dequantMinWork = 1 << 16

// dequantGo is gc_dequant_f32 in Go: rows of n values, row i scaled by
// scale[i] and offset by bias[i], then z and act (epilogueGo). The
// explicit conversions keep the product rounded before the sums (no fused
// multiply-add).
func dequantGo(acc []int32, y []float32, n int, scale, bias, z []float32, act fusedAct) {
	for i, a := range acc {
		r := i / n
		v := float32(float32(a) * scale[r])
		if bias != nil {
			v = float32(v + bias[r])
		}
		y[i] = v
	}
	epilogueGo(y[:len(acc)], z, act)
}
