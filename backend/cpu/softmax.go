// Softmax, LogSoftmax and Hardmax along one axis (opset 13 semantics,
// `axis` default -1; the importer rewrites the 2-D coerced forms of older
// opsets). With m the max along the axis:
//
//	Softmax(x)_i    = e^(x_i - m) / Σ_j e^(x_j - m)
//	LogSoftmax(x)_i = x_i - m - log Σ_j e^(x_j - m)
//	Hardmax(x)_i    = 1 if i is the first index of the max, else 0
//
// Float types only; exponentials and sums are computed in float64, float16
// and bfloat16 go through float32. The input is viewed as [outer, n, inner]
// around the axis; lanes of `inner` consecutive columns are processed
// together so memory is read row by row whatever the axis.
package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// softmaxKind selects Softmax, LogSoftmax or Hardmax.
type softmaxKind int

const (
	kindSoftmax softmaxKind = iota
	kindLogSoftmax
	kindHardmax
)

func init() {
	register("Softmax", newSoftmax("Softmax", kindSoftmax))
	register("LogSoftmax", newSoftmax("LogSoftmax", kindLogSoftmax))
	register("Hardmax", newSoftmax("Hardmax", kindHardmax))
}

func newSoftmax(name string, kind softmaxKind) runtime.OpFactory {
	return func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		axis := int(n.AttrInt("axis", -1))
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := needInputs(in, 1); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out, err := softmaxRun(ctx, kind, in[0], axis)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	}
}

func softmaxRun(ctx *runtime.Context, kind softmaxKind, x *tensor.Tensor, axis int) (*tensor.Tensor, error) {
	if !x.DType().IsFloat() {
		return nil, fmt.Errorf("unsupported dtype %v (float types only)", x.DType())
	}
	if x.Rank() == 0 {
		return nil, fmt.Errorf("input must have rank >= 1")
	}
	ax, err := tensor.NormAxis(axis, x.Rank())
	if err != nil {
		return nil, err
	}
	alloc := ctx.AllocUninit // Softmax and LogSoftmax write every element
	if kind == kindHardmax {
		alloc = ctx.Alloc // Hardmax writes only the ones
	}
	out, err := alloc(x.DType(), x.Shape()...)
	if err != nil {
		return nil, err
	}
	outer, n, inner := axisOuterInner(x.Shape(), ax)
	if x.Len() == 0 {
		return out, nil
	}
	switch x.DType() {
	case tensor.Float32:
		softmaxT(ctx, kind, x.F32(), out.F32(), outer, n, inner)
	case tensor.Float64:
		softmaxT(ctx, kind, tensor.Data[float64](x), tensor.Data[float64](out), outer, n, inner)
	default:
		err = viaF32(out, func(o32 *tensor.Tensor) error {
			softmaxT(ctx, kind, halfToF32(x).F32(), o32.F32(), outer, n, inner)
			return nil
		})
	}
	return out, err
}

// softmaxT fills y from x, both [outer, n, inner] and y zero-filled, in
// units of one outer index and a chunk of the inner columns.
func softmaxT[T float32 | float64](ctx *runtime.Context, kind softmaxKind, x, y []T, outer, n, inner int) {
	chunks := 1
	if outer < ctx.Threads {
		chunks = max(1, min(ctx.Threads, inner/64))
	}
	grain := max(1, ewGrain/max(1, n*inner/chunks))
	ewParallel(ctx, outer*chunks, grain, func(lo, hi int) {
		width := (inner + chunks - 1) / chunks
		m, s := make([]float64, width), make([]float64, width)
		for u := lo; u < hi; u++ {
			o, c := u/chunks, u%chunks
			i0, i1 := c*inner/chunks, (c+1)*inner/chunks
			base := o * n * inner
			b := softmaxBlock[T]{x: x[base : base+n*inner], y: y[base : base+n*inner], n: n, inner: inner, i0: i0, i1: i1}
			b.run(kind, m[:i1-i0], s[:i1-i0])
		}
	})
}

// softmaxBlock is the columns [i0, i1) of one [n, inner] slab.
type softmaxBlock[T float32 | float64] struct {
	x, y     []T
	n, inner int
	i0, i1   int
}

// row returns row k of the block's columns in x and y.
func (b *softmaxBlock[T]) row(k int) (xs, ys []T) {
	lo, hi := k*b.inner+b.i0, k*b.inner+b.i1
	return b.x[lo:hi], b.y[lo:hi]
}

// run computes the block; m and s are scratch of the block's width.
func (b *softmaxBlock[T]) run(kind softmaxKind, m, s []float64) {
	if b.inner == 1 {
		softmaxRow(kind, b.x, b.y)
		return
	}
	for i := range m {
		m[i], s[i] = math.Inf(-1), 0
	}
	for k := 0; k < b.n; k++ {
		xs, _ := b.row(k)
		for i, v := range xs {
			if float64(v) > m[i] {
				m[i] = float64(v)
				s[i] = float64(k) // Hardmax: first index of the max
			}
		}
	}
	if kind == kindHardmax {
		for i := range m {
			_, ys := b.row(int(s[i]))
			ys[i] = 1
		}
		return
	}
	for i := range s {
		s[i] = 0
	}
	for k := 0; k < b.n; k++ {
		xs, ys := b.row(k)
		for i, v := range xs {
			e := math.Exp(float64(v) - m[i])
			s[i] += e
			ys[i] = T(e)
		}
	}
	if kind == kindLogSoftmax {
		for i := range s {
			s[i] = math.Log(s[i])
		}
		for k := 0; k < b.n; k++ {
			xs, ys := b.row(k)
			for i, v := range xs {
				ys[i] = T(float64(v) - m[i] - s[i])
			}
		}
		return
	}
	for k := 0; k < b.n; k++ {
		_, ys := b.row(k)
		for i, v := range ys {
			ys[i] = T(float64(v) / s[i])
		}
	}
}

// softmaxRow computes one contiguous row (the axis is the last one):
// the same float64 arithmetic as softmaxBlock.run, without its column
// lanes.
func softmaxRow[T float32 | float64](kind softmaxKind, x, y []T) {
	m, at := math.Inf(-1), 0
	for i, v := range x {
		if float64(v) > m {
			m, at = float64(v), i
		}
	}
	if kind == kindHardmax {
		y[at] = 1
		return
	}
	s := 0.0
	for i, v := range x {
		e := math.Exp(float64(v) - m)
		s += e
		y[i] = T(e)
	}
	if kind == kindLogSoftmax {
		ls := math.Log(s)
		for i, v := range x {
			y[i] = T(float64(v) - m - ls)
		}
		return
	}
	for i, v := range y {
		y[i] = T(float64(v) / s)
	}
}
