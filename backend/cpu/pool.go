// Pooling ops (ONNX opset 13+): sliding-window reductions over the 1 to 3
// spatial dimensions of X [N, C, spatial...], per channel, with the window
// geometry of graph.Window (kernel_shape, strides, dilations, pads, auto_pad,
// ceil_mode). The window of output cell o covers the input cells
// o*stride - pad_begin + k*dilation, k in [0, kernel); cells outside the
// input are padding.
//
//	MaxPool:     Y = max over the window's input cells (padding never wins);
//	             the optional Indices output holds the flat index of the
//	             chosen cell in X, row-major (storage_order 0) or with the
//	             spatial dimensions column-major (storage_order 1); ties go to
//	             the first cell in row-major window order.
//	AveragePool: Y = sum / count, count = input cells in the window, or with
//	             count_include_pad the cells inside the padded extent
//	             [-pad_begin, in + pad_end) (cells added by ceil_mode excluded).
//	LpPool:      Y = (sum |x|^p)^(1/p) over the window's input cells.
//	GlobalAveragePool, GlobalMaxPool, GlobalLpPool: the same over all
//	             spatial cells; Y is [N, C, 1, ..., 1].
//
// Float16 and bfloat16 are computed in float32; MaxPool also takes int8 and
// uint8.

package cpu

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("MaxPool", newPool(poolMax))
	register("AveragePool", newPool(poolAvg))
	register("LpPool", newPool(poolLp))
	registerFunc("GlobalAveragePool", globalPool(poolAvg, "GlobalAveragePool", 2))
	registerFunc("GlobalMaxPool", globalPool(poolMax, "GlobalMaxPool", 2))
	register("GlobalLpPool", func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		p := n.AttrInt("p", 2)
		if p < 1 {
			return nil, fmt.Errorf("GlobalLpPool: p %d must be >= 1", p)
		}
		return runtime.OpFunc(globalPool(poolLp, "GlobalLpPool", float64(p))), nil
	})
}

type poolKind int

const (
	poolMax poolKind = iota
	poolAvg
	poolLp
)

var poolNames = [...]string{poolMax: "MaxPool", poolAvg: "AveragePool", poolLp: "LpPool"}

// poolFloat lists the element types the pooling kernels run on.
type poolFloat interface{ float32 | float64 }

type poolOp struct {
	kind        poolKind
	win         graph.Window
	includePad  bool
	colMajor    bool // storage_order 1
	p           float64
	wantIndices bool
	// last is the geometry of the last input shape (the usual case: every
	// run has the same shape).
	last atomic.Pointer[poolGeomFor]
}

// poolGeomFor is a pool's geometry for one input shape.
type poolGeomFor struct {
	x, y []int // input and output shapes
	g    *poolGeom
}

func newPool(kind poolKind) runtime.OpFactory {
	return func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		name := poolNames[kind]
		win, err := graph.NodeWindow(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if win.Kernel == nil {
			return nil, fmt.Errorf("%s: kernel_shape is required", name)
		}
		op := &poolOp{kind: kind, win: win,
			includePad:  n.AttrInt("count_include_pad", 0) != 0,
			colMajor:    n.AttrInt("storage_order", 0) != 0,
			p:           float64(n.AttrInt("p", 2)),
			wantIndices: kind == poolMax && len(n.Outputs) > 1 && n.Outputs[1] != nil,
		}
		if kind == poolLp && op.p < 1 {
			return nil, fmt.Errorf("LpPool: p %v must be >= 1", op.p)
		}
		return runtime.OpFunc(op.run), nil
	}
}

// poolAxis tabulates one spatial axis: for output cell o, the kernel taps
// k in [lo[o], hi[o]) read input cells, and count[o] taps lie inside the
// padded extent.
type poolAxis struct {
	lo, hi, count []int
}

// poolGeom is a pool resolved for a concrete input shape, lifted to
// convMaxSpatial spatial dimensions.
type poolGeom struct {
	planes                     int
	in, out, strides, dil, pad [convMaxSpatial]int
	axes                       [convMaxSpatial]poolAxis
	inSize, outSize            int
	spatial                    []int // the input's own spatial dims
	// count is a planar average pool's divisor per output pixel
	// (avgCounts), set by poolOp.geom; nil for other pools.
	count []float32
}

// newPoolGeom resolves win for input shape x and returns the geometry and
// the output shape [N, C, out...].
func newPoolGeom(win graph.Window, x []int) (*poolGeom, []int, error) {
	rank := len(x) - 2
	if rank < 1 || rank > convMaxSpatial {
		return nil, nil, fmt.Errorf("input %v: need 1 to %d spatial dimensions", x, convMaxSpatial)
	}
	win, err := win.Spatial(rank, nil)
	if err != nil {
		return nil, nil, err
	}
	out := make([]int, rank)
	padB := make([]int, rank)
	padE := make([]int, rank)
	for i := range rank {
		if out[i], padB[i], padE[i], err = win.Axis(i, x[2+i]); err != nil {
			return nil, nil, err
		}
	}
	g := &poolGeom{planes: x[0] * x[1], spatial: x[2:],
		in: nnLift(x[2:], 1), out: nnLift(out, 1), strides: nnLift(win.Strides, 1),
		dil: nnLift(win.Dilations, 1), pad: nnLift(padB, 0),
		inSize: tensor.Product(x[2:]), outSize: tensor.Product(out)}
	kernel, padEnd := nnLift(win.Kernel, 1), nnLift(padE, 0)
	for a := range g.axes {
		g.axes[a] = newPoolAxis(g.out[a], g.in[a], kernel[a], g.strides[a], g.dil[a], g.pad[a], padEnd[a])
	}
	return g, append([]int{x[0], x[1]}, out...), nil
}

// newPoolAxis tabulates an axis with out outputs over in inputs, kernel k,
// stride s, dilation d and pads pb, pe.
func newPoolAxis(out, in, k, s, d, pb, pe int) poolAxis {
	ax := poolAxis{lo: make([]int, out), hi: make([]int, out), count: make([]int, out)}
	for o := range out {
		start := o*s - pb
		// taps k with 0 <= start + k*d < in, resp. < in + pe
		ax.lo[o] = min(k, max(0, (-start+d-1)/d))
		ax.hi[o] = max(ax.lo[o], min(k, poolCeilDiv(in-start, d)))
		ax.count[o] = min(k, poolCeilDiv(in+pe-start, d))
	}
	return ax
}

// poolCeilDiv is ceil(a/b) for b > 0, and 0 when a <= 0.
func poolCeilDiv(a, b int) int {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}

// window appends to offs the offsets (within a plane) of the input cells of
// output cell (oz, oy, ox) in row-major order, and returns them with the
// number of taps inside the padded extent.
func (g *poolGeom) window(oz, oy, ox int, offs []int) ([]int, int) {
	az, ay, ax := &g.axes[0], &g.axes[1], &g.axes[2]
	offs = offs[:0]
	for kz := az.lo[oz]; kz < az.hi[oz]; kz++ {
		iz := oz*g.strides[0] - g.pad[0] + kz*g.dil[0]
		for ky := ay.lo[oy]; ky < ay.hi[oy]; ky++ {
			iy := oy*g.strides[1] - g.pad[1] + ky*g.dil[1]
			base := (iz*g.in[1]+iy)*g.in[2] + ox*g.strides[2] - g.pad[2]
			for kx := ax.lo[ox]; kx < ax.hi[ox]; kx++ {
				offs = append(offs, base+kx*g.dil[2])
			}
		}
	}
	return offs, az.count[oz] * ay.count[oy] * ax.count[ox]
}

// flatIndex converts a plane offset to the MaxPool Indices value.
func (g *poolGeom) flatIndex(plane, off int, colMajor bool) int64 {
	if !colMajor {
		return int64(plane*g.inSize + off)
	}
	coords := make([]int, len(g.spatial))
	for a := len(g.spatial) - 1; a >= 0; a-- {
		coords[a] = off % g.spatial[a]
		off /= g.spatial[a]
	}
	idx, mul := 0, 1
	for a, c := range coords {
		idx += c * mul
		mul *= g.spatial[a]
	}
	return int64(plane*g.inSize + idx)
}

func (op *poolOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	name := poolNames[op.kind]
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	x := in[0]
	switch dt := x.DType(); {
	case dt == tensor.Float32:
		return poolTyped[float32](ctx, op, x)
	case dt == tensor.Float64:
		return poolTyped[float64](ctx, op, x)
	case nnIsHalf(dt):
		return nnHalfViaF32(ctx, in, dt, 1, 1, op.run)
	case op.kind == poolMax && dt == tensor.Int8:
		return maxPoolInt[int8](ctx, op, x)
	case op.kind == poolMax && dt == tensor.Uint8:
		return maxPoolInt[uint8](ctx, op, x)
	default:
		return nil, fmt.Errorf("%s: unsupported dtype %v", name, dt)
	}
}

// geom returns the geometry for input shape x and the output shape, kept
// in op.last for the next run of the same shape; an average pool's
// geometry carries its count table.
func (op *poolOp) geom(x []int) (*poolGeom, []int, error) {
	if c := op.last.Load(); c != nil && slices.Equal(c.x, x) {
		return c.g, c.y, nil
	}
	g, shape, err := newPoolGeom(op.win, x)
	if err != nil {
		return nil, nil, err
	}
	if op.kind == poolAvg && g.planar() {
		g.count = g.avgCounts(op.includePad)
	}
	op.last.Store(&poolGeomFor{x: slices.Clone(x), y: shape, g: g})
	return g, shape, nil
}

// outputs resolves the geometry for x and allocates Y and, when wanted, the
// int64 Indices.
func (op *poolOp) outputs(ctx *runtime.Context, x *tensor.Tensor) (*poolGeom, []*tensor.Tensor, error) {
	name := poolNames[op.kind]
	g, shape, err := op.geom(x.Shape())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	y, err := ctx.AllocUninit(x.DType(), shape...) // every cell is written
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	outs := []*tensor.Tensor{y}
	if op.wantIndices {
		idx, err := ctx.Alloc(tensor.Int64, shape...)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		outs = append(outs, idx)
	}
	return g, outs, nil
}

func poolTyped[T poolFloat](ctx *runtime.Context, op *poolOp, x *tensor.Tensor) ([]*tensor.Tensor, error) {
	g, outs, err := op.outputs(ctx, x)
	if err != nil {
		return nil, err
	}
	xd, yd := tensor.Data[T](x), tensor.Data[T](outs[0])
	var idx []int64
	if len(outs) > 1 {
		idx = outs[1].I64()
	}
	if f32, ok := any(xd).([]float32); ok && idx == nil && poolFastF32(ctx, op, g, f32, any(yd).([]float32)) {
		return outs, nil
	}
	g.forEach(ctx, func(plane, o int, offs []int, count int) {
		src := xd[plane*g.inSize : (plane+1)*g.inSize]
		dst := plane*g.outSize + o
		switch op.kind {
		case poolMax:
			best, at := T(math.Inf(-1)), -1
			for _, off := range offs {
				if v := src[off]; v > best || at < 0 && v == best {
					best, at = v, off
				}
			}
			yd[dst] = best
			if idx != nil && at >= 0 {
				idx[dst] = g.flatIndex(plane, at, op.colMajor)
			}
		case poolAvg:
			var s T
			for _, off := range offs {
				s += src[off]
			}
			if !op.includePad {
				count = len(offs)
			}
			yd[dst] = s / T(count)
		case poolLp:
			var s float64
			for _, off := range offs {
				s += math.Pow(math.Abs(float64(src[off])), op.p)
			}
			yd[dst] = T(math.Pow(s, 1/op.p))
		}
	})
	return outs, nil
}

// poolFastF32 runs a 2-D float32 MaxPool or AveragePool with the C kernel
// (separable: the window's rows reduced first, then its columns; an
// average sums in that order rather than row-major, a rounding
// difference). It reports false when the kernel does not apply (generic
// level, LpPool, 3-D pools).
func poolFastF32(ctx *runtime.Context, op *poolOp, g *poolGeom, x, y []float32) bool {
	if CPULevel(level.Load()) < LevelAVX2 || op.kind == poolLp || !g.planar() {
		return false
	}
	isMax, inclPad := int64(0), int64(0)
	if op.kind == poolMax {
		isMax = 1
	}
	if op.includePad {
		inclPad = 1
	}
	ay, ax := &g.axes[1], &g.axes[2]
	kw := 0
	for _, h := range ax.hi {
		kw = max(kw, h)
	}
	ylo, yhi, ycnt := int64s(ay.lo), int64s(ay.hi), int64s(ay.count)
	xlo, xhi, xcnt := int64s(ax.lo), int64s(ax.hi), int64s(ax.count)
	kern := nnLift(op.win.Kernel, 1)
	kh, kwFull := kern[1], kern[2]
	parts := min(ctx.Threads, max(1, g.planes*g.outSize*kh*kwFull/dwMinWork))
	if op.kind == poolAvg && avgPoolBlocked(ctx, op, g, x, y) {
		return true
	}
	if CPULevel(level.Load()) >= LevelAVX512 && kh*kwFull <= nnMaxTaps {
		parallelChunks(g.planes, parts, func(lo, hi int) {
			geom := [15]int64{int64(hi - lo), int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]),
				int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]), int64(g.dil[1]), int64(g.dil[2]),
				isMax, inclPad, int64(kwFull), int64(kh)}
			pool2dF32AVX512(x[lo*g.inSize:hi*g.inSize], y[lo*g.outSize:hi*g.outSize], &geom, ylo, yhi, ycnt, xlo, xhi, xcnt)
		})
		return true
	}
	parallelChunks(g.planes, parts, func(lo, hi int) {
		geom := [14]int64{int64(hi - lo), int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]),
			int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]), int64(g.dil[1]), int64(g.dil[2]),
			isMax, inclPad, int64(kw)}
		tmp := make([]float32, g.in[2])
		pool2dF32(x[lo*g.inSize:hi*g.inSize], y[lo*g.outSize:hi*g.outSize], tmp, &geom, ylo, yhi, ycnt, xlo, xhi, xcnt)
	})
	return true
}

// planar reports whether the pool is 2-D over its last two axes: the
// (lifted) leading spatial axis has one input and one output cell and its
// window the one tap, with nothing of padding in it (an average with
// count_include_pad would count that).
func (g *poolGeom) planar() bool {
	a := &g.axes[0]
	return g.in[0] == 1 && g.out[0] == 1 && a.hi[0] == 1 && a.count[0] == 1
}

// avgCounts returns the divisor of a 2-D average pool's output pixels
// (row-major, out[1] x out[2]): the window's cells inside the image, or
// with includePad those inside the padded extent.
func (g *poolGeom) avgCounts(includePad bool) []float32 {
	ay, ax := &g.axes[1], &g.axes[2]
	count := make([]float32, g.out[1]*g.out[2])
	for oy := range g.out[1] {
		for ox := range g.out[2] {
			c := (ay.hi[oy] - ay.lo[oy]) * (ax.hi[ox] - ax.lo[ox])
			if includePad {
				c = ay.count[oy] * ax.count[ox]
			}
			count[oy*g.out[2]+ox] = float32(c)
		}
	}
	return count
}

// avgPoolBlocked runs a 2-D AveragePool on NCHW planes through the blocked
// depthwise kernel (gc_nchwc_dwconv with unit weights, each output divided
// by its count: the padding's zeros add nothing): 16 planes per vector, so
// small planes fill every lane. It reports false where that kernel does
// not apply or would leave most lanes idle (below AVX2, fewer than 16
// planes, more than nnMaxTaps taps, a scratch over dwMaxScratch), leaving
// the plane-by-plane kernel to run.
func avgPoolBlocked(ctx *runtime.Context, op *poolOp, g *poolGeom, x, y []float32) bool {
	kern := nnLift(op.win.Kernel, 1)
	kh, kw := kern[1], kern[2]
	if !nchwcKernels() || g.count == nil || g.planes < nchwcBlock || kh*kw > nnMaxTaps || !dwScratchFits(g.out, g.strides, g.dil, kh, kw) {
		return false
	}
	groups := (g.planes + nchwcBlock - 1) / nchwcBlock // the planes as the channels of one image
	parts := min(ctx.Threads, groups, max(1, g.planes*g.outSize*kh*kw/dwMinWork))
	parallelChunks(groups, parts, func(lo, hi int) {
		geom := [17]int64{int64(lo), int64(hi), int64(g.planes), int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]),
			int64(kh), int64(kw), int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]),
			int64(g.dil[1]), int64(g.dil[2]), 0, 0}
		nchwcDwconvC(x, nil, nil, nil, y, &geom, 0, 0, g.count)
	})
	return true
}

// maxPoolInt is MaxPool on int8/uint8 data.
func maxPoolInt[T int8 | uint8](ctx *runtime.Context, op *poolOp, x *tensor.Tensor) ([]*tensor.Tensor, error) {
	g, outs, err := op.outputs(ctx, x)
	if err != nil {
		return nil, err
	}
	xd, yd := tensor.Data[T](x), tensor.Data[T](outs[0])
	var idx []int64
	if len(outs) > 1 {
		idx = outs[1].I64()
	} else if g.in[0] == 1 && g.out[0] == 1 && g.axes[0].lo[0] == 0 && g.axes[0].hi[0] == 1 {
		maxPoolInt2D(ctx, g, xd, yd)
		return outs, nil
	}
	g.forEach(ctx, func(plane, o int, offs []int, _ int) {
		src := xd[plane*g.inSize : (plane+1)*g.inSize]
		best, at := T(0), -1
		for _, off := range offs {
			if v := src[off]; at < 0 || v > best {
				best, at = v, off
			}
		}
		yd[plane*g.outSize+o] = best
		if idx != nil && at >= 0 {
			idx[plane*g.outSize+o] = g.flatIndex(plane, at, op.colMajor)
		}
	})
	return outs, nil
}

// pool8MinSplit is the least input (bytes) for which an 8-bit 2x2 max
// pool splits over the threads.
var pool8MinSplit = 1 << 15

// pairs reports whether every output cell of a 2-D pool is the maximum of
// input rows 2*oy, 2*oy+1 and columns 2*ox, 2*ox+1 (the 2x2 pool, stride
// 2, no padding or dilation; a wider kernel whose further taps all fall
// outside the input reads the same cells).
func (g *poolGeom) pairs() bool {
	if g.in[0] != 1 || g.strides[1] != 2 || g.strides[2] != 2 || g.pad[1] != 0 || g.pad[2] != 0 || g.dil[1] != 1 || g.dil[2] != 1 {
		return false
	}
	for _, a := range g.axes[1:] {
		for i := range a.lo {
			if a.lo[i] != 0 || a.hi[i] != 2 {
				return false
			}
		}
	}
	return true
}

// threeByTwo reports whether the pool is a 3x3 window at stride 2 without
// dilation (or a wider one whose further taps all fall outside the input),
// padded by at most one cell at the top and the left, whose windows each
// hold at least one input cell (ResNet's stem pool, SqueezeNet's): every
// one of a window's first three taps is then in it exactly when its cell
// is in the input, and no other tap is, which gc_maxpool3x3s2_8 relies on.
func (g *poolGeom) threeByTwo() bool {
	if g.in[0] != 1 || g.strides[1] != 2 || g.strides[2] != 2 || g.dil[1] != 1 || g.dil[2] != 1 ||
		g.planes == 0 || g.out[1] == 0 || g.out[2] == 0 {
		return false
	}
	for d := 1; d <= 2; d++ {
		a, pad, n := &g.axes[d], g.pad[d], g.in[d]
		if pad < 0 || pad > 1 {
			return false
		}
		for o := range a.lo {
			for k := range 3 {
				i := 2*o - pad + k
				if in := i >= 0 && i < n; in != (k >= a.lo[o] && k < a.hi[o]) {
					return false
				}
			}
			// no tap past the third (a wider kernel's further taps) may
			// be in the input: the kernel reads three
			if a.lo[o] >= a.hi[o] || a.hi[o] > 3 {
				return false
			}
		}
	}
	return true
}

// maxPoolInt2D is maxPoolInt for 1-D and 2-D pools without the Indices
// output, separable: for each output row the window's input rows are
// reduced into a row buffer, then each output cell takes the maximum of
// its window's columns of that buffer. A cell whose window holds no input
// cell (only padding) is 0, as in the general path.
func maxPoolInt2D[T int8 | uint8](ctx *runtime.Context, g *poolGeom, x, y []T) {
	ay, ax := &g.axes[1], &g.axes[2]
	iw, oh, ow := g.in[2], g.out[1], g.out[2]
	if simdBuilt && CPULevel(level.Load()) >= LevelAVX2 {
		_, isInt8 := any(x).([]int8)
		var signed int64
		if isInt8 {
			signed = 1
		}
		xb, yb := bytesOf(x), bytesOf(y)
		// the AVX-512 kernels of two common pools, on planes [lo, hi)
		var special func(lo, hi int)
		switch {
		case CPULevel(level.Load()) < LevelAVX512:
		case g.pairs():
			special = func(lo, hi int) {
				maxPool2x2x8(xb[lo*g.inSize:hi*g.inSize], yb[lo*g.outSize:hi*g.outSize], hi-lo, g.in[1], iw, oh, ow, isInt8)
			}
		case g.threeByTwo():
			special = func(lo, hi int) {
				maxPool3x3s2x8(xb[lo*g.inSize:hi*g.inSize], yb[lo*g.outSize:hi*g.outSize], hi-lo, g.in[1], iw, oh, ow,
					g.pad[1], g.pad[2], isInt8)
			}
		}
		if special != nil {
			// Small inputs run on one thread: a parallel section costs
			// about a microsecond, more than pooling a few KiB.
			parts := ctx.Threads
			if len(x) < pool8MinSplit {
				parts = 1
			}
			parallelChunks(g.planes, parts, special)
			return
		}
		ylo, yhi, xlo, xhi := int64s(ay.lo), int64s(ay.hi), int64s(ax.lo), int64s(ax.hi)
		ctx.ParallelFor(g.planes, func(lo, hi int) {
			geom := [12]int64{int64(hi - lo), int64(g.in[1]), int64(iw), int64(oh), int64(ow),
				int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]), int64(g.dil[1]), int64(g.dil[2]), signed}
			maxPool2D8(xb[lo*g.inSize:hi*g.inSize], yb[lo*g.outSize:hi*g.outSize], make([]byte, 2*iw), &geom, ylo, yhi, xlo, xhi)
		})
		return
	}
	ctx.ParallelFor(g.planes, func(lo, hi int) {
		row := make([]T, iw)
		for p := lo; p < hi; p++ {
			src, dst := x[p*g.inSize:(p+1)*g.inSize], y[p*g.outSize:(p+1)*g.outSize]
			for oy := range oh {
				out := dst[oy*ow : (oy+1)*ow]
				if ay.lo[oy] >= ay.hi[oy] {
					clear(out)
					continue
				}
				iy0 := oy*g.strides[1] - g.pad[1]
				copy(row, src[(iy0+ay.lo[oy]*g.dil[1])*iw:][:iw])
				for ky := ay.lo[oy] + 1; ky < ay.hi[oy]; ky++ {
					for i, v := range src[(iy0+ky*g.dil[1])*iw:][:iw] {
						row[i] = max(row[i], v)
					}
				}
				for ox := range ow {
					if ax.lo[ox] >= ax.hi[ox] {
						out[ox] = 0
						continue
					}
					ix0 := ox*g.strides[2] - g.pad[2]
					best := row[ix0+ax.lo[ox]*g.dil[2]]
					for kx := ax.lo[ox] + 1; kx < ax.hi[ox]; kx++ {
						best = max(best, row[ix0+kx*g.dil[2]])
					}
					out[ox] = best
				}
			}
		}
	})
}

// forEach calls fn for every output cell o of every plane, with the plane
// offsets of its window's input cells and its padded tap count; planes are
// split over ctx's threads.
func (g *poolGeom) forEach(ctx *runtime.Context, fn func(plane, o int, offs []int, count int)) {
	ctx.ParallelFor(g.planes, func(lo, hi int) {
		var offs []int
		for plane := lo; plane < hi; plane++ {
			o := 0
			for oz := 0; oz < g.out[0]; oz++ {
				for oy := 0; oy < g.out[1]; oy++ {
					for ox := 0; ox < g.out[2]; ox++ {
						var count int
						offs, count = g.window(oz, oy, ox, offs)
						fn(plane, o, offs, count)
						o++
					}
				}
			}
		}
	})
}

// globalPool returns the run function of a global pool of the given kind
// (p is LpPool's exponent).
func globalPool(kind poolKind, name string, p float64) runtime.OpFunc {
	var run runtime.OpFunc
	run = func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("%s: input %v needs dimensions [N, C, ...]", name, x.Shape())
		}
		switch dt := x.DType(); {
		case dt == tensor.Float32:
			return one(globalPoolTyped[float32](ctx, kind, p, x))
		case dt == tensor.Float64:
			return one(globalPoolTyped[float64](ctx, kind, p, x))
		case nnIsHalf(dt):
			return nnHalfViaF32(ctx, in, dt, 1, 1, run)
		default:
			return nil, fmt.Errorf("%s: unsupported dtype %v", name, dt)
		}
	}
	return run
}

func globalPoolTyped[T poolFloat](ctx *runtime.Context, kind poolKind, p float64, x *tensor.Tensor) (*tensor.Tensor, error) {
	shape := append([]int(nil), x.Shape()...)
	size := tensor.Product(shape[2:])
	for i := 2; i < len(shape); i++ {
		shape[i] = 1
	}
	y, err := ctx.AllocUninit(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	xd, yd := tensor.Data[T](x), tensor.Data[T](y)
	parts := min(ctx.Threads, max(1, len(xd)/copyMinWork))
	if x32, ok := any(xd).([]float32); ok && kind == poolAvg && size > 0 && CPULevel(level.Load()) >= LevelAVX512 {
		// Sums in 64 lanes (a rounding difference from the sequential
		// reference).
		y32 := any(yd).([]float32)
		parallelChunks(len(yd), parts, func(lo, hi int) { rowMeansF32(x32[lo*size:hi*size], y32[lo:hi], size) })
		return y, nil
	}
	parallelChunks(len(yd), parts, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yd[i] = globalReduce(kind, p, xd[i*size:(i+1)*size])
		}
	})
	return y, nil
}

// globalReduce reduces one plane: mean, max or p-norm (max of an empty
// plane is -Inf, its mean NaN).
func globalReduce[T poolFloat](kind poolKind, p float64, v []T) T {
	switch kind {
	case poolMax:
		best := T(math.Inf(-1))
		for _, x := range v {
			best = max(best, x)
		}
		return best
	case poolAvg:
		var s T
		for _, x := range v {
			s += x
		}
		return s / T(len(v))
	}
	var s float64
	for _, x := range v {
		s += math.Pow(math.Abs(float64(x)), p)
	}
	return T(math.Pow(s, 1/p))
}

// int64s converts a pool axis table for the C kernels.
func int64s(v []int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}
