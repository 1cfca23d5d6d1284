// FusedConvPool(X, W, B?) = MaxPool(act(Conv(X, W, B))), made by
// graph/passes.FuseConvMaxPool from a 2-D convolution whose only reader is
// a max pool: Conv's attributes and activation as in FusedConv, and the
// pool's as pool_kernel_shape, pool_strides and pool_pads (explicit pads,
// no ceil_mode or dilations).
//
// A convolution of few output channels runs on the narrow kernel, which
// pools each image's rows as it stores them (conv_narrow.go). Otherwise
// the pooled output rows are cut into bands. A band of pooled rows
// [p0, p1) reads the convolution rows [r0, r1) = [p0*s - pt, (p1-1)*s -
// pt + k) (clipped to the output), which read the input rows [r0*sh - ph,
// (r1-1)*sh - ph + ekh) (clipped to the image; the clipped part becomes
// the band's padding). Each band is one task: it copies its input rows,
// convolves them into a buffer sized to stay in the core's L2, max-pools
// that buffer (the band's rows outside it are exactly the convolution's
// own borders, so the band's pool padding is the pool's) and copies the
// pooled rows out. Bands share at most k - s convolution rows, which are
// computed twice; in exchange the full-resolution convolution output
// never goes to memory and back.

package cpu

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	registry.Register(FusedDomain, "FusedConvPool", newFusedConvPool)
}

// convPoolOp is a prepared FusedConvPool.
type convPoolOp struct {
	conv *convOp
	pool *poolOp // MaxPool with the node's pool_* window
}

// convPoolBandForce, when positive, fixes the pooled rows per band (tests
// use it to cross band boundaries on small images).
var convPoolBandForce = 0

// convPoolMinBand is the fewest pooled rows per band when the rows are
// cut for the threads rather than for the cache (the rows shared by
// neighbouring bands are computed twice).
const convPoolMinBand = 4

func newFusedConvPool(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	conv, err := newFusedConvOp(n)
	if err != nil {
		return nil, fmt.Errorf("FusedConvPool: %w", err)
	}
	win := graph.Window{
		Kernel:  n.AttrIntsAsInts("pool_kernel_shape", nil),
		Strides: n.AttrIntsAsInts("pool_strides", []int{1, 1}),
		Pads:    n.AttrIntsAsInts("pool_pads", []int{0, 0, 0, 0}),
		AutoPad: "NOTSET",
	}
	if len(win.Kernel) != 2 {
		return nil, fmt.Errorf("FusedConvPool: pool_kernel_shape %v must have 2 values", win.Kernel)
	}
	if win, err = win.Spatial(2, nil); err != nil {
		return nil, fmt.Errorf("FusedConvPool: pool window: %w", err)
	}
	op := &convPoolOp{conv: conv, pool: &poolOp{kind: poolMax, win: win}}
	return runtime.OpFunc(op.run), nil
}

func (op *convPoolOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("FusedConvPool: %w", err)
	}
	if len(in) > 3 {
		return nil, fmt.Errorf("FusedConvPool: takes X, W and B, got %d inputs", len(in))
	}
	y, err := op.banded(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("FusedConvPool: %w", err)
	}
	if y != nil {
		return []*tensor.Tensor{y}, nil
	}
	// Not a case for the bands (other dtypes, no SIMD kernels): the
	// convolution, then the pool; the intermediate goes back to the arena
	// when the op ends.
	c, err := op.conv.conv(ctx, in, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("FusedConvPool: %w", err)
	}
	out, err := op.pool.run(ctx, []*tensor.Tensor{c})
	if err != nil {
		return nil, fmt.Errorf("FusedConvPool: %w", err)
	}
	return out, nil
}

// banded computes the op band by band (see the file comment); it returns
// nil and no error when the case is not one it handles.
func (op *convPoolOp) banded(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	x, w := in[0], in[1]
	if x.DType() != tensor.Float32 || x.Rank() != 4 || sgemmISA() == nil || CPULevel(level.Load()) < LevelAVX2 {
		return nil, nil
	}
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	if err := nnSameDType(x.DType(), []string{"W", "B"}, w, b); err != nil {
		return nil, err
	}
	g, err := newConvGeom(op.conv.win, op.conv.group, x.Shape(), w.Shape(), false, nil, nil)
	if err != nil {
		return nil, err
	}
	bias, err := nnBias[float32](b, g.m)
	if err != nil {
		return nil, err
	}
	cwin, err := op.conv.win.Spatial(2, w.Shape()[2:])
	if err != nil {
		return nil, err
	}
	_, pt, pbot, _ := cwin.Axis(0, g.in[1])
	_, pl, pr, _ := cwin.Axis(1, g.in[2])
	ekh := (g.kernel[1]-1)*g.dil[1] + 1
	if pt >= ekh || pbot >= ekh {
		return nil, nil // some output rows read only padding: no input band
	}
	oh, ow := g.out[1], g.out[2]
	pg, pshape, err := newPoolGeom(op.pool.win, []int{g.batch, g.m, oh, ow})
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	ph, pw := pg.out[1], pg.out[2]
	pk, ps, ppt := op.pool.win.Kernel[0], op.pool.win.Strides[0], op.pool.win.Pads[0]
	if ppt >= pk || op.pool.win.Pads[2] >= pk {
		return nil, nil // windows made of padding only
	}
	y, err := ctx.AllocUninit(tensor.Float32, pshape...)
	if err != nil || y.Len() == 0 {
		return y, err
	}
	xd, yd := x.F32(), y.F32()
	if convNarrowF32(ctx, op.conv, g, xd, w.F32(), bias, nil, yd, nil, &narrowPool{kernel: [2]int{pk, op.pool.win.Kernel[1]},
		strides: [2]int{ps, op.pool.win.Strides[1]}, pads: [2]int{ppt, op.pool.win.Pads[1]}, out: [2]int{ph, pw}}) {
		return y, nil // few channels: the narrow kernel pools as it stores, whole images or parts of one
	}
	rows := convPoolBand(g.m*ow, ph, pk, ps, g.batch, ctx.Threads)
	bands := (ph + rows - 1) / rows
	fails := make([]error, g.batch*bands)
	runtime.Parallel(g.batch*bands, ctx.Threads, func(t int) {
		img, band := t/bands, t%bands
		p0, p1 := band*rows, min(ph, (band+1)*rows)
		r0, r1 := max(0, p0*ps-ppt), min(oh, (p1-1)*ps-ppt+pk) // r0 < r1: pads < k
		// The input rows of conv rows [r0, r1), clipped to the image.
		i0, i1 := r0*g.strides[1]-pt, (r1-1)*g.strides[1]-pt+ekh
		c0, c1 := max(0, i0), min(g.in[1], i1)
		ih, iw := c1-c0, g.in[2]
		xb := getF32(g.c * ih * iw)
		defer putF32(xb)
		for c := range g.c {
			src := xd[((img*g.c+c)*g.in[1]+c0)*iw:]
			copy((*xb)[c*ih*iw:(c+1)*ih*iw], src[:ih*iw])
		}
		bwin := cwin
		bwin.AutoPad, bwin.Pads = "NOTSET", []int{c0 - i0, pl, i1 - c1, pr}
		gb, err := newConvGeom(bwin, op.conv.group, []int{1, g.c, ih, iw}, w.Shape(), false, nil, nil)
		if err != nil || gb.out[1] != r1-r0 || gb.out[2] != ow {
			fails[t] = fmt.Errorf("band geometry %v for conv rows %d..%d: %v", gb, r0, r1, err)
			return
		}
		yb := getF32(g.m * (r1 - r0) * ow)
		defer putF32(yb)
		one := runtime.NewContext(1)
		if !convFastF32(one, op.conv, gb, w, (*xb)[:g.c*ih*iw], bias, nil, (*yb)[:g.m*(r1-r0)*ow], nil) {
			fails[t] = fmt.Errorf("no SIMD kernel for the band convolution")
			return
		}
		// The band's pool: its top and bottom padding are the rows the
		// band's windows would read outside [r0, r1), which are outside
		// the convolution output.
		pwin := op.pool.win
		pwin.Pads = []int{r0 - (p0*ps - ppt), op.pool.win.Pads[1], (p1-1)*ps - ppt + pk - r1, op.pool.win.Pads[3]}
		pgb, _, err := newPoolGeom(pwin, []int{1, g.m, r1 - r0, ow})
		if err != nil || pgb.out[1] != p1-p0 || pgb.out[2] != pw {
			fails[t] = fmt.Errorf("band pool geometry for rows %d..%d: %v", p0, p1, err)
			return
		}
		pb := getF32(g.m * (p1 - p0) * pw)
		defer putF32(pb)
		if !poolFastF32(one, op.pool, pgb, (*yb)[:g.m*(r1-r0)*ow], (*pb)[:g.m*(p1-p0)*pw]) {
			fails[t] = fmt.Errorf("no SIMD kernel for the band pool")
			return
		}
		n := (p1 - p0) * pw
		for m := range g.m {
			copy(yd[((img*g.m+m)*ph+p0)*pw:][:n], (*pb)[m*n:(m+1)*n])
		}
	})
	for _, err := range fails {
		if err != nil {
			return nil, err
		}
	}
	return y, nil
}

// convPoolBand returns the pooled rows per band: as many as keep a band's
// convolution rows (rowFloats floats each, (rows-1)*s + k of them) in half
// of L2, fewer when that leaves threads without a band (the bands then
// rounded to a multiple of the threads for one image), but at least
// convPoolMinBand.
func convPoolBand(rowFloats, ph, k, s, batch, threads int) int {
	if convPoolBandForce > 0 {
		return convPoolBandForce
	}
	fit := ((cpuCaches.l2/2)/(4*max(rowFloats, 1))-k)/s + 1
	rows := clampInt(fit, 1, ph)
	bands := (ph + rows - 1) / rows
	if want := (threads*convTasksPerThread + batch - 1) / batch; bands < want {
		bands = want
	}
	if batch == 1 && threads > 1 {
		bands = (bands + threads - 1) / threads * threads
	}
	if r := (ph + bands - 1) / bands; r >= convPoolMinBand {
		return r
	}
	return min(convPoolMinBand, rows)
}
