// Normalisation ops (ONNX opset 13+). Statistics are accumulated in float64.
//
//	BatchNormalization: Y = scale[c] * (X - mean[c]) / sqrt(var[c] + epsilon) + B[c]
//	    over channel axis 1. With training_mode=1 (opset 14+) mean and var are
//	    the batch statistics of X (population variance, over all axes but 1),
//	    and the optional outputs are running_mean = input_mean*momentum +
//	    mean*(1-momentum) and running_var likewise.
//	LayerNormalization: over the axes axis..rank-1,
//	    Y = (X - mean) * InvStdDev * Scale + B, InvStdDev = 1/sqrt(var + epsilon);
//	    Scale and B broadcast to the normalised shape; the optional Mean and
//	    InvStdDev outputs have those axes set to 1 and dtype stash_type.
//	InstanceNormalization: per (n, c) over the spatial axes,
//	    Y = scale[c] * (X - mean) / sqrt(var + epsilon) + B[c].
//	LRN: Y = X / (bias + alpha/size * sum_{c'} X[c']^2)^beta, c' over the
//	    channels [c - floor((size-1)/2), c + ceil((size-1)/2)].
//	MeanVarianceNormalization: Y = (X - mean) / (sqrt(var) + 1e-9) over axes
//	    (default [0, 2, 3]), as the ONNX function body defines it.
//	LpNormalization: Y = X / ||X||_p along axis (p 1 or 2); a zero norm
//	    gives Y = 0.
//
// Float16 and bfloat16 are computed in float32 and rounded back.

package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("BatchNormalization", newBatchNorm)
	register("LayerNormalization", newLayerNorm)
	register("InstanceNormalization", newInstanceNorm)
	register("LRN", newLRN)
	register("MeanVarianceNormalization", newMVN)
	register("LpNormalization", newLpNorm)
}

// normKernel is the float32 or float64 instantiation of a normalisation.
type normKernel = func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)

// normOp returns an op running f32 on float32 data (and on float16/bfloat16
// X widened to float32, output 0 rounded back) and f64 on float64 data. The
// kernels read their parameter inputs in any float dtype, so those are not
// widened (and training-mode statistics keep their dtype).
func normOp(name string, f32, f64 normKernel) runtime.Op {
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var outs []*tensor.Tensor
		var err error
		switch dt := in[0].DType(); {
		case dt == tensor.Float32:
			outs, err = f32(ctx, in)
		case dt == tensor.Float64:
			outs, err = f64(ctx, in)
		case nnIsHalf(dt):
			outs, err = nnHalfViaF32(ctx, in, dt, 1, 1, f32)
		default:
			err = fmt.Errorf("unsupported dtype %v", dt)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return outs, nil
	})
}

// normWanted lists which of n's outputs 1 and 2 (optional statistics) the
// graph uses; only those are computed and returned.
func normWanted(n *graph.Node) [2]bool {
	var w [2]bool
	for i := range w {
		w[i] = len(n.Outputs) > 1+i && n.Outputs[1+i] != nil
	}
	return w
}

// normStats returns [y, stat0, stat1] trimmed to the wanted outputs, storing
// each wanted statistic as dtype dts[i] with the given shape.
func normStats(ctx *runtime.Context, y *tensor.Tensor, want [2]bool, dts [2]tensor.DType, shape []int, stats [2][]float64) ([]*tensor.Tensor, error) {
	outs := []*tensor.Tensor{y}
	for i, w := range want {
		if !w {
			outs = append(outs, nil)
			continue
		}
		t, err := normStore(ctx, dts[i], shape, stats[i])
		if err != nil {
			return nil, err
		}
		outs = append(outs, t)
	}
	for len(outs) > 1 && outs[len(outs)-1] == nil {
		outs = outs[:len(outs)-1]
	}
	return outs, nil
}

// normParam reads a per-channel parameter vector of length c (any float
// dtype) as float64.
func normParam(t *tensor.Tensor, name string, c int) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("%s is required", name)
	}
	if t.Len() != c || t.Rank() != 1 {
		return nil, fmt.Errorf("%s %v must have shape [%d]", name, t.Shape(), c)
	}
	if !t.DType().IsFloat() {
		return nil, fmt.Errorf("%s has dtype %v, want a float type", name, t.DType())
	}
	out := make([]float64, c)
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out, nil
}

// normChannels checks that x is [N, C, ...] and returns N, C and the size
// of one (n, c) plane.
func normChannels(x *tensor.Tensor) (n, c, plane int, err error) {
	if x.Rank() < 2 {
		return 0, 0, 0, fmt.Errorf("input %v needs dimensions [N, C, ...]", x.Shape())
	}
	s := x.Shape()
	return s[0], s[1], tensor.Product(s[2:]), nil
}

// ---- BatchNormalization ----

type batchNormOp struct {
	epsilon, momentum float64
	training          bool
	want              [2]bool // running_mean, running_var
}

func newBatchNorm(n *graph.Node, info runtime.NodeInfo) (runtime.Op, error) {
	op := &batchNormOp{
		epsilon:  float64(n.AttrFloat("epsilon", 1e-5)),
		momentum: float64(n.AttrFloat("momentum", 0.9)),
		training: n.AttrInt("training_mode", 0) != 0,
		want:     normWanted(n),
	}
	if op.training && info.Opset < 14 {
		return nil, fmt.Errorf("BatchNormalization: training_mode needs opset 14, model has %d", info.Opset)
	}
	return normOp("BatchNormalization",
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return batchNorm[float32](ctx, op, in)
		},
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return batchNorm[float64](ctx, op, in)
		}), nil
}

func batchNorm[T poolFloat](ctx *runtime.Context, op *batchNormOp, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 5); err != nil {
		return nil, err
	}
	x := in[0]
	n, c, plane, err := normChannels(x)
	if err != nil {
		return nil, err
	}
	var p [4][]float64 // scale, B, mean, var
	for i, name := range []string{"scale", "B", "input_mean", "input_var"} {
		if p[i], err = normParam(in[1+i], name, c); err != nil {
			return nil, err
		}
	}
	mean, variance := p[2], p[3]
	xd := tensor.Data[T](x)
	if op.training {
		mean, variance = channelStats(xd, n, c, plane)
	}
	y, err := ctx.AllocUninit(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	a, b := make([]T, c), make([]T, c)
	for i := range c {
		k := p[0][i] / math.Sqrt(variance[i]+op.epsilon)
		a[i], b[i] = T(k), T(p[1][i]-mean[i]*k)
	}
	yd := tensor.Data[T](y)
	ctx.ParallelFor(n*c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			k, off := a[pl%c], b[pl%c]
			src, dst := xd[pl*plane:(pl+1)*plane], yd[pl*plane:(pl+1)*plane]
			for i, v := range src {
				dst[i] = v*k + off
			}
		}
	})
	if !op.training {
		return []*tensor.Tensor{y}, nil
	}
	var running [2][]float64
	for i, stat := range [][]float64{mean, variance} {
		running[i] = make([]float64, c)
		for j := range running[i] {
			running[i][j] = p[2+i][j]*op.momentum + stat[j]*(1-op.momentum)
		}
	}
	return normStats(ctx, y, op.want, [2]tensor.DType{in[3].DType(), in[4].DType()}, []int{c}, running)
}

// channelStats returns the mean and population variance of each channel of
// x [n, c, plane].
func channelStats[T poolFloat](x []T, n, c, plane int) (mean, variance []float64) {
	mean, variance = make([]float64, c), make([]float64, c)
	count := float64(n * plane)
	for ch := range c {
		var s float64
		for i := range n {
			for _, v := range x[(i*c+ch)*plane : (i*c+ch+1)*plane] {
				s += float64(v)
			}
		}
		mean[ch] = s / count
		var q float64
		for i := range n {
			for _, v := range x[(i*c+ch)*plane : (i*c+ch+1)*plane] {
				d := float64(v) - mean[ch]
				q += d * d
			}
		}
		variance[ch] = q / count
	}
	return mean, variance
}

// normStore writes float64 values into a new tensor of float dtype dt.
func normStore(ctx *runtime.Context, dt tensor.DType, shape []int, v []float64) (*tensor.Tensor, error) {
	t, err := ctx.Alloc(dt, shape...)
	if err != nil {
		return nil, err
	}
	switch dt {
	case tensor.Float32:
		d := t.F32()
		for i, x := range v {
			d[i] = float32(x)
		}
	case tensor.Float64:
		copy(tensor.Data[float64](t), v)
	case tensor.Float16:
		d := tensor.Data[tensor.F16](t)
		for i, x := range v {
			d[i] = tensor.NewF16(float32(x))
		}
	case tensor.BFloat16:
		d := tensor.Data[tensor.BF16](t)
		for i, x := range v {
			d[i] = tensor.NewBF16(float32(x))
		}
	default:
		return nil, fmt.Errorf("cannot store statistics as %v", dt)
	}
	return t, nil
}

// ---- LayerNormalization ----

type layerNormOp struct {
	axis    int
	epsilon float64
	stash   tensor.DType
	want    [2]bool // Mean, InvStdDev
}

func newLayerNorm(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op := &layerNormOp{
		axis:    int(n.AttrInt("axis", -1)),
		epsilon: float64(n.AttrFloat("epsilon", 1e-5)),
		stash:   tensor.DType(n.AttrInt("stash_type", int64(tensor.Float32))),
		want:    normWanted(n),
	}
	if !op.stash.IsFloat() {
		return nil, fmt.Errorf("LayerNormalization: stash_type %d is not a float type", op.stash)
	}
	return normOp("LayerNormalization",
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return layerNorm[float32](ctx, op, in)
		},
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return layerNorm[float64](ctx, op, in)
		}), nil
}

// normExpand returns t (nil: fill) broadcast to shape as float64 values.
func normExpand(t *tensor.Tensor, shape []int, fill float64) ([]float64, error) {
	out := make([]float64, tensor.Product(shape))
	if t == nil {
		for i := range out {
			out[i] = fill
		}
		return out, nil
	}
	if !nnBroadcastsTo(t.Shape(), shape) {
		return nil, fmt.Errorf("shape %v does not broadcast to the normalised shape %v", t.Shape(), shape)
	}
	bc := tensor.NewBroadcaster(shape, t.Shape())
	for i := range out {
		out[i] = t.Float64At(bc.Off[0])
		bc.Next()
	}
	return out, nil
}

func layerNorm[T poolFloat](ctx *runtime.Context, op *layerNormOp, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	axis, err := tensor.NormAxis(op.axis, x.Rank())
	if err != nil {
		return nil, err
	}
	var bias *tensor.Tensor
	if len(in) > 2 {
		bias = in[2]
	}
	normShape := x.Shape()[axis:]
	scale, err := normExpand(in[1], normShape, 1)
	if err != nil {
		return nil, fmt.Errorf("Scale: %w", err)
	}
	shift, err := normExpand(bias, normShape, 0)
	if err != nil {
		return nil, fmt.Errorf("B: %w", err)
	}
	y, err := ctx.Alloc(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	d := len(scale)
	rows := tensor.Product(x.Shape()[:axis])
	means, invs := make([]float64, rows), make([]float64, rows)
	xd, yd := tensor.Data[T](x), tensor.Data[T](y)
	ctx.ParallelFor(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := xd[r*d:(r+1)*d], yd[r*d:(r+1)*d]
			mean, variance := normMoments(src)
			inv := 1 / math.Sqrt(variance+op.epsilon)
			for i, v := range src {
				dst[i] = T((float64(v)-mean)*inv*scale[i] + shift[i])
			}
			means[r], invs[r] = mean, inv
		}
	})
	statShape := append([]int(nil), x.Shape()...)
	for i := axis; i < len(statShape); i++ {
		statShape[i] = 1
	}
	return normStats(ctx, y, op.want, [2]tensor.DType{op.stash, op.stash}, statShape, [2][]float64{means, invs})
}

// normMoments returns the mean and population variance of v (two passes).
func normMoments[T poolFloat](v []T) (mean, variance float64) {
	if len(v) == 0 {
		return 0, 0
	}
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		d := float64(x) - mean
		variance += d * d
	}
	return mean, variance / float64(len(v))
}

// ---- InstanceNormalization ----

func newInstanceNorm(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	return normOp("InstanceNormalization",
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return instanceNorm[float32](ctx, eps, in)
		},
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return instanceNorm[float64](ctx, eps, in)
		}), nil
}

func instanceNorm[T poolFloat](ctx *runtime.Context, eps float64, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 3); err != nil {
		return nil, err
	}
	x := in[0]
	n, c, plane, err := normChannels(x)
	if err != nil {
		return nil, err
	}
	scale, err := normParam(in[1], "scale", c)
	if err != nil {
		return nil, err
	}
	bias, err := normParam(in[2], "B", c)
	if err != nil {
		return nil, err
	}
	y, err := ctx.Alloc(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	xd, yd := tensor.Data[T](x), tensor.Data[T](y)
	ctx.ParallelFor(n*c, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src, dst := xd[pl*plane:(pl+1)*plane], yd[pl*plane:(pl+1)*plane]
			mean, variance := normMoments(src)
			k := scale[pl%c] / math.Sqrt(variance+eps)
			for i, v := range src {
				dst[i] = T((float64(v)-mean)*k + bias[pl%c])
			}
		}
	})
	return []*tensor.Tensor{y}, nil
}

// ---- LRN ----

type lrnOp struct {
	alpha, beta, bias float64
	size              int
	// betaCode is gc_lrn_f32's code for beta (0.75, 0.5, 1), simd whether
	// beta has one.
	betaCode int64
	simd     bool
}

func newLRN(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op := &lrnOp{alpha: float64(n.AttrFloat("alpha", 1e-4)), beta: float64(n.AttrFloat("beta", 0.75)),
		bias: float64(n.AttrFloat("bias", 1)), size: int(n.AttrInt("size", 0))}
	if op.size < 1 {
		return nil, fmt.Errorf("LRN: attribute size (%d) must be given and >= 1", op.size)
	}
	op.betaCode, op.simd = map[float64]int64{0.75: 0, 0.5: 1, 1: 2}[op.beta]
	return normOp("LRN",
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return lrn[float32](ctx, op, in)
		},
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return lrn[float64](ctx, op, in)
		}), nil
}

func lrn[T poolFloat](ctx *runtime.Context, op *lrnOp, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := in[0]
	n, c, plane, err := normChannels(x)
	if err != nil {
		return nil, err
	}
	y, err := ctx.Alloc(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	xd, yd := tensor.Data[T](x), tensor.Data[T](y)
	before, after := (op.size-1)/2, op.size/2 // floor and ceil of (size-1)/2
	k := op.alpha / float64(op.size)
	if x32, ok := any(xd).([]float32); ok && op.simd && simdBuilt && CPULevel(level.Load()) >= LevelAVX512 {
		// the same operations, eight cells per instruction (gc_lrn_f32)
		y32 := any(yd).([]float32)
		ctx.ParallelFor(n*c, func(lo, hi int) {
			geom := [7]int64{int64(lo), int64(hi), int64(c), int64(plane), int64(before), int64(after), op.betaCode}
			lrnF32(x32, y32, &geom, op.bias, k)
		})
		return []*tensor.Tensor{y}, nil
	}
	ctx.ParallelFor(n*c, func(lo, hi int) {
		// The window sums run plane by plane (contiguous), not element by
		// element across planes; d^beta for the common beta 0.75 is
		// sqrt(d)*sqrt(sqrt(d)), within an ulp of math.Pow in float64.
		s := make([]float64, plane)
		for pl := lo; pl < hi; pl++ {
			b, ch := pl/c, pl%c
			c0, c1 := max(0, ch-before), min(c-1, ch+after)
			clear(s)
			for cc := c0; cc <= c1; cc++ {
				src := xd[(b*c+cc)*plane : (b*c+cc+1)*plane]
				for i, v := range src {
					f := float64(v)
					s[i] += f * f
				}
			}
			src, dst := xd[pl*plane:(pl+1)*plane], yd[pl*plane:(pl+1)*plane]
			for i, v := range src {
				d := op.bias + float64(k*s[i]) // the conversion keeps Go from fusing an FMA (GOAMD64=v3), as gc_lrn_f32 does not
				var p float64
				switch op.beta {
				case 0.75:
					r := math.Sqrt(d)
					p = r * math.Sqrt(r)
				case 0.5:
					p = math.Sqrt(d)
				case 1:
					p = d
				default:
					p = math.Pow(d, op.beta)
				}
				dst[i] = T(float64(v) / p)
			}
		}
	})
	return []*tensor.Tensor{y}, nil
}

// ---- MeanVarianceNormalization ----

func newMVN(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axes := n.AttrIntsAsInts("axes", []int{0, 2, 3})
	return normOp("MeanVarianceNormalization",
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return mvn[float32](ctx, axes, in)
		},
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return mvn[float64](ctx, axes, in)
		}), nil
}

// mvnEpsilon is the constant the ONNX function body adds to the standard
// deviation.
const mvnEpsilon = 1e-9

func mvn[T poolFloat](ctx *runtime.Context, axes []int, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := in[0]
	stat := append([]int(nil), x.Shape()...)
	for _, a := range axes {
		ax, err := tensor.NormAxis(a, x.Rank())
		if err != nil {
			return nil, fmt.Errorf("axes %v: %w", axes, err)
		}
		stat[ax] = 1
	}
	y, err := ctx.Alloc(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	groups := tensor.Product(stat)
	count := float64(x.Len()) / float64(max(groups, 1))
	mean, sq := make([]float64, groups), make([]float64, groups)
	xd, yd := tensor.Data[T](x), tensor.Data[T](y)
	bc := tensor.NewBroadcaster(x.Shape(), stat)
	for _, v := range xd {
		mean[bc.Off[0]] += float64(v)
		bc.Next()
	}
	for i := range mean {
		mean[i] /= count
	}
	bc = tensor.NewBroadcaster(x.Shape(), stat)
	for _, v := range xd {
		d := float64(v) - mean[bc.Off[0]]
		sq[bc.Off[0]] += d * d
		bc.Next()
	}
	for i := range sq {
		sq[i] = math.Sqrt(sq[i]/count) + mvnEpsilon
	}
	bc = tensor.NewBroadcaster(x.Shape(), stat)
	for i, v := range xd {
		yd[i] = T((float64(v) - mean[bc.Off[0]]) / sq[bc.Off[0]])
		bc.Next()
	}
	return []*tensor.Tensor{y}, nil
}

// ---- LpNormalization ----

func newLpNorm(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis, p := int(n.AttrInt("axis", -1)), n.AttrInt("p", 2)
	if p != 1 && p != 2 {
		return nil, fmt.Errorf("LpNormalization: p must be 1 or 2, got %d", p)
	}
	return normOp("LpNormalization",
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return lpNorm[float32](ctx, axis, p == 2, in)
		},
		func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return lpNorm[float64](ctx, axis, p == 2, in)
		}), nil
}

func lpNorm[T poolFloat](ctx *runtime.Context, axis int, l2 bool, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := in[0]
	ax, err := tensor.NormAxis(axis, x.Rank())
	if err != nil {
		return nil, err
	}
	y, err := ctx.Alloc(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	if x.Len() == 0 {
		return []*tensor.Tensor{y}, nil
	}
	s := x.Shape()
	n, inner := s[ax], tensor.Product(s[ax+1:])
	xd, yd := tensor.Data[T](x), tensor.Data[T](y)
	ctx.ParallelFor(x.Len()/n, func(lo, hi int) {
		for lane := lo; lane < hi; lane++ {
			base := lane/inner*n*inner + lane%inner
			var norm float64
			for i := 0; i < n; i++ {
				v := float64(xd[base+i*inner])
				if l2 {
					norm += v * v
				} else {
					norm += math.Abs(v)
				}
			}
			if l2 {
				norm = math.Sqrt(norm)
			}
			if norm == 0 {
				continue // y stays 0
			}
			for i := 0; i < n; i++ {
				yd[base+i*inner] = T(float64(xd[base+i*inner]) / norm)
			}
		}
	})
	return []*tensor.Tensor{y}, nil
}
