// Channel-blocked (NCHWc) FP32 execution. A blocked tensor holds an NCHW
// activation [N, C, H, W] as [N, CB, H, W, 16], CB = ceil(C/16): channel c
// of pixel (y, x) at (((n*CB + c/16)*H + y)*W + x)*16 + c%16, so the 16
// channels of a pixel are one cache line, one AVX-512 vector or two AVX2 ones; channels
// past C in the last block are padding no op reads as data.
// graph/passes.BlockChannels keeps the activations between convolutions
// in this layout, with these ops (domain gcompress):
//
//	ToNCHWc(X)            NCHW -> blocked (padding channels zero)
//	FromNCHWc(X)          blocked -> NCHW, the first `channels` channels
//	                      (attribute; 0 or absent: all)
//	NCHWcConv(X, W, B?, Z?, s?, b?, mean?, var?)
//	                      act(Conv(pre(X), W, B) + Z), FusedConv's attributes
//	                      and pre-activation, group 1, 2-D; Z and Y blocked,
//	                      X blocked or NCHW planes (any channel count, no
//	                      pre-activation then), W and B as Conv's; W's output
//	                      channels need not fill the last block (then no Z)
//	NCHWcMaxPool(X)       MaxPool's attributes (2-D), blocked
//	NCHWcAveragePool(X)   AveragePool's attributes (2-D), blocked
//
// The convolution is direct (simd_nchwc_amd64.c): no im2col or Toeplitz
// matrix is packed per call, only the input padded when the convolution
// has pads; a register tile is up to 6 pixels of an output row by 64
// output channels with AVX-512, by 16 with AVX2 (simd_nchwc_tmpl.h, built
// for both). The kernels need AVX2: the backend offers these ops from that
// level up (Backend), and when the level is lowered below it after a
// session was prepared they fall back to the NCHW ops between reorders.

package cpu

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// nchwcBlock is the channel block and nchwcGroup the output channels of
// one weight group (4 vectors of 16).
const (
	nchwcBlock = 16
	nchwcGroup = 64
)

// nchwcPassBlocksForce, when positive, replaces the number of input
// channel blocks per pass of the convolution (tests use it to cover the
// accumulation between passes on small shapes).
var nchwcPassBlocksForce = 0

// nchwcOps are the ops of this file.
var nchwcOps = map[string]bool{"ToNCHWc": true, "FromNCHWc": true, "NCHWcConv": true, "NCHWcMaxPool": true,
	"NCHWcAveragePool": true}

func init() {
	registry.Register(FusedDomain, "ToNCHWc", func(*graph.Node, runtime.NodeInfo) (runtime.Op, error) {
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return reorderNCHWc(ctx, in, true, 0)
		}), nil
	})
	registry.Register(FusedDomain, "FromNCHWc", func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		channels := int(n.AttrInt("channels", 0))
		if channels < 0 {
			return nil, fmt.Errorf("FromNCHWc: channels %d must be >= 0", channels)
		}
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return reorderNCHWc(ctx, in, false, channels)
		}), nil
	})
	registry.Register(FusedDomain, "NCHWcConv", newNCHWcConv)
	registry.Register(FusedDomain, "NCHWcMaxPool", newNCHWcPool(poolMax))
	registry.Register(FusedDomain, "NCHWcAveragePool", newNCHWcPool(poolAvg))
}

// nchwcKernels reports whether the blocked kernels run at the current
// dispatch level.
func nchwcKernels() bool { return simdBuilt && CPULevel(level.Load()) >= LevelAVX2 }

// blockedShape returns the blocked shape of NCHW shape s: the channels
// rounded up to whole blocks (the extra ones are zeros or, after a
// convolution, values no op reads).
func blockedShape(s []int) []int {
	return []int{s[0], (s[1] + nchwcBlock - 1) / nchwcBlock, s[2], s[3], nchwcBlock}
}

// nchwShape returns the NCHW shape of blocked shape s holding c channels
// (0: all of its blocks').
func nchwShape(s []int, c int) []int {
	if c == 0 {
		c = s[1] * nchwcBlock
	}
	return []int{s[0], c, s[2], s[3]}
}

// checkBlocked checks that t is a float32 blocked tensor.
func checkBlocked(name string, t *tensor.Tensor) error {
	if t.DType() != tensor.Float32 || t.Rank() != 5 || t.Shape()[4] != nchwcBlock {
		return fmt.Errorf("%s %v %v must be float32 [N, C/16, H, W, 16]", name, t.DType(), t.Shape())
	}
	return nil
}

// reorderNCHWc runs ToNCHWc (to) or FromNCHWc, which keeps the first
// channels channels of its input's blocks (0: all).
func reorderNCHWc(ctx *runtime.Context, in []*tensor.Tensor, to bool, channels int) ([]*tensor.Tensor, error) {
	name := map[bool]string{true: "ToNCHWc", false: "FromNCHWc"}[to]
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	x := in[0]
	var plain, shape []int
	if to {
		if x.DType() != tensor.Float32 || x.Rank() != 4 {
			return nil, fmt.Errorf("ToNCHWc: X %v %v must be float32 [N, C, H, W]", x.DType(), x.Shape())
		}
		plain, shape = x.Shape(), blockedShape(x.Shape())
	} else {
		if err := checkBlocked("X", x); err != nil {
			return nil, fmt.Errorf("FromNCHWc: %w", err)
		}
		if cb := x.Shape()[1]; channels > cb*nchwcBlock || (channels > 0 && channels <= (cb-1)*nchwcBlock) {
			return nil, fmt.Errorf("FromNCHWc: channels %d do not fit X %v", channels, x.Shape())
		}
		plain = nchwShape(x.Shape(), channels)
		shape = plain
	}
	y, err := ctx.AllocUninit(tensor.Float32, shape...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	nchwcReorder(ctx, x.F32(), y.F32(), plain[0], plain[1], plain[2]*plain[3], to)
	return []*tensor.Tensor{y}, nil
}

// nchwcReorder converts n images of c channels of hw pixels from NCHW x
// into blocked y (to; the channels past c of the last block are zeros)
// or back, in parallel over the blocks.
func nchwcReorder(ctx *runtime.Context, x, y []float32, n, c, hw int, to bool) {
	if len(x) == 0 || len(y) == 0 {
		return
	}
	fast := nchwcKernels()
	cb := (c + nchwcBlock - 1) / nchwcBlock
	threads := min(ctx.Threads, n*cb)
	if n*cb*nchwcBlock*hw < 1<<15 {
		threads = 1
	}
	plainSize, blockedSize := c*hw, cb*nchwcBlock*hw
	runtime.Parallel(threads, threads, func(t int) {
		lo, hi := t*n*cb/threads, (t+1)*n*cb/threads
		for img := lo / cb; img*cb < hi; img++ {
			b0, b1 := max(lo-img*cb, 0), min(hi-img*cb, cb)
			p, b := img*plainSize, img*blockedSize
			switch {
			case fast && to:
				nchwcTo(x[p:p+plainSize], y[b:b+blockedSize], hw, c, b0, b1)
			case fast:
				nchwcFrom(x[b:b+blockedSize], y[p:p+plainSize], hw, c, b0, b1)
			case to:
				nchwcReorderGo(x[p:p+plainSize], y[b:b+blockedSize], hw, c, b0, b1, true)
			default:
				nchwcReorderGo(x[b:b+blockedSize], y[p:p+plainSize], hw, c, b0, b1, false)
			}
		}
	})
}

// nchwcReorderGo is the plain reference of nchwcTo (to) and nchwcFrom on
// channel blocks [b0, b1) of one image of c channels.
func nchwcReorderGo(x, y []float32, hw, c, b0, b1 int, to bool) {
	for ch := b0 * nchwcBlock; ch < b1*nchwcBlock; ch++ {
		for p := range hw {
			plain, blocked := ch*hw+p, ((ch/nchwcBlock)*hw+p)*nchwcBlock+ch%nchwcBlock
			switch {
			case to && ch < c:
				y[blocked] = x[plain]
			case to:
				y[blocked] = 0
			case ch < c:
				y[plain] = x[blocked]
			}
		}
	}
}

// toNCHW returns the first c channels (0: all) of blocked t as a new NCHW
// tensor (fallback paths).
func toNCHW(ctx *runtime.Context, t *tensor.Tensor, c int) (*tensor.Tensor, error) {
	s := nchwShape(t.Shape(), c)
	out, err := tensor.New(tensor.Float32, s...)
	if err != nil {
		return nil, err
	}
	nchwcReorder(ctx, t.F32(), out.F32(), s[0], s[1], s[2]*s[3], false)
	return out, nil
}

// ---- NCHWcConv ----

// nchwcConvOp is a prepared NCHWcConv.
type nchwcConvOp struct {
	conv   *convOp
	preEps float64 // the pre-activation's epsilon
	// packed caches the constant weights packed for input blocks of
	// (the key) channels
	packed constPack[int, []float32]
}

func newNCHWcConv(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	conv, err := newFusedConvOp(n)
	if err != nil {
		return nil, fmt.Errorf("NCHWcConv: %w", err)
	}
	if conv.group != 1 {
		return nil, fmt.Errorf("NCHWcConv: group %d must be 1", conv.group)
	}
	if len(n.Inputs) > 8 {
		return nil, fmt.Errorf("NCHWcConv: takes X, W, B, Z and the pre-activation's scale, B, mean and var, got %d inputs", len(n.Inputs))
	}
	if conv.preRelu, err = parsePreRelu(n); err != nil {
		return nil, fmt.Errorf("NCHWcConv: %w", err)
	}
	op := &nchwcConvOp{conv: conv, preEps: float64(n.AttrFloat("pre_epsilon", 1e-5))}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		y, err := op.run(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("NCHWcConv: %w", err)
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

// weights returns w packed (packNCHWcWeights), cached when w is the
// constant the op was prepared with.
func (op *nchwcConvOp) weights(w *tensor.Tensor, g *convGeom, bs int) []float32 {
	return op.packed.form(w, op.conv.constW, bs, func() []float32 { return packNCHWcWeights(w.F32(), g, bs) })
}

// packNCHWcWeights lays w (M x C x kh x kw) out as W[g][cb][ky][kx][ic][64]
// for output channel g*64 + oc and input channel cb*bs + ic (bs: the
// input's channels per block, 16 or 1), zeros past M.
func packNCHWcWeights(w []float32, g *convGeom, bs int) []float32 {
	m, c, kh, kw := g.m, g.c, g.kernel[1], g.kernel[2]
	cb := c / bs
	groups := (m + nchwcGroup - 1) / nchwcGroup
	out := make([]float32, groups*cb*kh*kw*bs*nchwcGroup)
	for mo := range m {
		for ci := range c {
			for ky := range kh {
				for kx := range kw {
					at := ((((mo/nchwcGroup*cb+ci/bs)*kh+ky)*kw+kx)*bs+ci%bs)*nchwcGroup + mo%nchwcGroup
					out[at] = w[((mo*c+ci)*kh+ky)*kw+kx]
				}
			}
		}
	}
	return out
}

func (op *nchwcConvOp) run(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	var b, z *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	if len(in) > 3 {
		z = in[3]
	}
	if len(in) > 8 {
		return nil, fmt.Errorf("takes at most 8 inputs, got %d", len(in))
	}
	bs, xShape := nchwcBlock, x.Shape() // X blocked, or NCHW planes (bs 1)
	if x.DType() == tensor.Float32 && x.Rank() == 4 {
		bs = 1
	} else if err := checkBlocked("X", x); err != nil {
		return nil, fmt.Errorf("%w, or float32 [N, C, H, W]", err)
	} else {
		xShape = nchwShape(xShape, 0)
	}
	if xShape[1] == 0 {
		return nil, fmt.Errorf("X %v has no channels", x.Shape())
	}
	if err := nnSameDType(x.DType(), []string{"W", "B", "Z"}, w, b, z); err != nil {
		return nil, err
	}
	if w.Rank() != 4 {
		return nil, fmt.Errorf("W %v must be [M, C, kh, kw]", w.Shape())
	}
	g, err := newConvGeom(op.conv.win, 1, xShape, w.Shape(), false, nil, nil)
	if err != nil {
		return nil, err
	}
	if z != nil && g.m%nchwcBlock != 0 {
		return nil, fmt.Errorf("W %v: a summand needs output channels in whole blocks of 16, not %d", w.Shape(), g.m)
	}
	bias, err := nnBias[float32](b, g.m)
	if err != nil {
		return nil, err
	}
	var pre []float32
	if len(in) > 4 && in[4] != nil {
		if bs == 1 {
			return nil, fmt.Errorf("a pre-activation needs a blocked X")
		}
		if pre, err = preActParams(in[4:], g.c, op.preEps); err != nil {
			return nil, fmt.Errorf("pre-activation: %w", err)
		}
	}
	shape := blockedShape(g.outShape(2))
	if z != nil && !tensor.SameShape(z.Shape(), shape) {
		return nil, fmt.Errorf("summand Z %v must have the output shape %v", z.Shape(), shape)
	}
	if !nchwcKernels() {
		// The NCHW convolution between reorders.
		var zn *tensor.Tensor
		if z != nil {
			if zn, err = toNCHW(ctx, z, g.m); err != nil {
				return nil, err
			}
		}
		xn := x
		if bs != 1 {
			if xn, err = toNCHW(ctx, x, 0); err != nil {
				return nil, err
			}
		}
		yn, err := op.conv.conv(ctx, []*tensor.Tensor{xn, w, b}, zn, pre)
		if err != nil {
			return nil, err
		}
		outs, err := reorderNCHWc(ctx, []*tensor.Tensor{yn}, true, 0)
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}
	y, err := ctx.AllocUninit(tensor.Float32, shape...) // the kernel writes all of Y
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	var zd []float32
	if z != nil {
		zd = z.F32()
	}
	nchwcConvF32(ctx, g, op.weights(w, g, bs), x.F32(), bias, zd, y.F32(), op.conv.act, pre, op.conv.preRelu, bs)
	return y, nil
}

// nchwcConvF32 runs convolution g on x, blocked (bs 16) or NCHW planes
// (bs 1), into blocked y with the packed weights wp, bias (or nil), the
// blocked summand z (or nil), act, and the pre-activation pre (nil: none;
// see sgemmCall.pre; blocked x only) with preRelu, image by image: the
// image is copied into a scratch P when the convolution has pads or a
// pre-activation (padded, the pre-activation applied), or when it is a
// strided 1x1 one without pads (its input pixels gathered, nchwcGather,
// so that it runs as a unit-stride one), then the output channel groups
// times parts of the rows (or, for a 1x1 convolution with unit strides,
// of the image read as one row) are cut into tasks, about
// convTasksPerThread per thread.
func nchwcConvF32(ctx *runtime.Context, g *convGeom, wp, x, bias, z, y []float32, act fusedAct, pre []float32, preRelu bool, bs int) {
	ih, iw, oh, ow := g.in[1], g.in[2], g.out[1], g.out[2]
	kh, kw, sh, sw, dh, dw := g.kernel[1], g.kernel[2], g.strides[1], g.strides[2], g.dil[1], g.dil[2]
	pt, pl := g.pad[1], g.pad[2]
	cb := g.c / bs
	groups := (g.m + nchwcGroup - 1) / nchwcGroup
	padded := pt != 0 || pl != 0 || (oh-1)*sh+(kh-1)*dh >= ih || (ow-1)*sw+(kw-1)*dw >= iw
	hq, wq := ih, iw
	if padded {
		hq, wq = (oh-1)*sh+(kh-1)*dh+1, (ow-1)*sw+(kw-1)*dw+1
	}
	// A strided 1x1 convolution without pads reads every sh-th row and
	// sw-th column: those pixels are gathered into P first, so that the
	// kernel runs a unit-stride one over the image as one row (whole tiles
	// with constant offsets, instead of short rows read with a stride).
	gather := kh == 1 && kw == 1 && (sh > 1 || sw > 1) && !padded && pre == nil && bs == nchwcBlock
	copied := padded || pre != nil || gather
	ph, pw := hq, wq // P's planes as copied (the kernel may read them as one row)
	if gather {
		ph, pw, sh, sw = oh, ow, 1, 1
	}
	relu := int64(0)
	if preRelu {
		relu = 1
	}
	rows, cols := oh, ow // the rows and pixels per row the kernel sees
	if kh == 1 && kw == 1 && sh == 1 && sw == 1 && !padded {
		rows, cols, hq, wq = 1, oh*ow, 1, ph*pw // one row of every pixel
	}
	// input blocks per pass: a group's weights for them take half of L2
	perBlock := kh * kw * bs * nchwcGroup * 4
	cbk := max(1, cpuCaches.l2/2/perBlock)
	cbk = (cb + (cb+cbk-1)/cbk - 1) / ((cb + cbk - 1) / cbk) // equal passes
	if nchwcPassBlocksForce > 0 {
		cbk = min(cb, nchwcPassBlocksForce)
	}
	threads := ctx.Threads
	if g.m*g.outSize*g.c*g.kSize < 2*convMinTaskWork {
		threads = 1
	}
	units := rows
	if rows == 1 {
		units = max(1, cols/nchwcGroup) // parts of a row: at least 64 pixels each
	}
	chunks := min(units, max(1, (convTasksPerThread*threads+groups-1)/groups))
	clamp := int64(0)
	if act.clamp {
		clamp = 1
	}
	inLen, outLen := g.c*g.inSize, (g.m+nchwcBlock-1)/nchwcBlock*nchwcBlock*g.outSize
	var P []float32
	if copied {
		pbuf := getF32(cb * ph * pw * bs)
		defer putF32(pbuf)
		P = (*pbuf)[:cb*ph*pw*bs]
	}
	for img := range g.batch {
		xi := x[img*inLen : (img+1)*inLen]
		src := xi
		if copied {
			parts := min(cb, threads)
			runtime.Parallel(parts, parts, func(t int) {
				b0, b1 := t*cb/parts, (t+1)*cb/parts
				if gather {
					nchwcGather(xi, P, ih, iw, oh, ow, g.strides[1], g.strides[2], b0, b1)
					return
				}
				if bs == 1 {
					// planes b0..b1, padded (one stride phase)
					geom := [12]int64{int64(b1 - b0), int64(ih), int64(iw), int64(pt), int64(pl), int64(ph), int64(pw), 0, 0, 1, 1, 0}
					padPlanes(xi[b0*ih*iw:b1*ih*iw], P[b0*ph*pw:b1*ph*pw], &geom, nil)
					return
				}
				geom := [9]int64{int64(ih), int64(iw), int64(ph), int64(pw), int64(pt), int64(pl), int64(b0), int64(b1), relu}
				nchwcPadC(xi, P, &geom, pre)
			})
			src = P
		}
		yi := y[img*outLen : (img+1)*outLen]
		var zi []float32
		if z != nil {
			zi = z[img*outLen : (img+1)*outLen]
		}
		runtime.Parallel(groups*chunks, threads, func(t int) {
			grp, part := t/chunks, t%chunks
			geom := [21]int64{int64(cb), int64(hq), int64(wq), int64(rows), int64(cols), int64(kh), int64(kw),
				int64(sh), int64(sw), int64(dh), int64(dw), int64(g.m), int64(grp), int64(grp + 1),
				0, int64(rows), 0, int64(cols), clamp, int64(cbk), int64(bs)}
			if rows == 1 {
				geom[16], geom[17] = int64(part*cols/chunks), int64((part+1)*cols/chunks)
			} else {
				geom[14], geom[15] = int64(part*rows/chunks), int64((part+1)*rows/chunks)
			}
			if geom[14] < geom[15] && geom[16] < geom[17] {
				nchwcConvC(src, wp, bias, zi, yi, &geom, act.lo, act.hi)
			}
		})
	}
}

// nchwcGather copies pixels (oy*sh, ox*sw) of blocks [b0, b1) of the
// blocked image x (ih x iw pixels a block) into p (oh x ow a block).
func nchwcGather(x, p []float32, ih, iw, oh, ow, sh, sw, b0, b1 int) {
	const bl = nchwcBlock
	for b := b0; b < b1; b++ {
		src, dst := x[b*ih*iw*bl:(b+1)*ih*iw*bl], p[b*oh*ow*bl:(b+1)*oh*ow*bl]
		for oy := range oh {
			for ox := range ow {
				d, s := (oy*ow+ox)*bl, (oy*sh*iw+ox*sw)*bl
				*(*[bl]float32)(dst[d : d+bl]) = *(*[bl]float32)(src[s : s+bl])
			}
		}
	}
}

// ---- NCHWcMaxPool, NCHWcAveragePool ----

// newNCHWcPool returns the factory of NCHWcMaxPool (kind poolMax) or
// NCHWcAveragePool (poolAvg): MaxPool's or AveragePool's attributes, 2-D,
// on blocked X and Y (no Indices output).
func newNCHWcPool(kind poolKind) runtime.OpFactory {
	name := "NCHWc" + poolNames[kind]
	return func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		win, err := graph.NodeWindow(n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if win.Kernel == nil {
			return nil, fmt.Errorf("%s: kernel_shape is required", name)
		}
		if n.AttrInt("storage_order", 0) != 0 || (len(n.Outputs) > 1 && n.Outputs[1] != nil) {
			return nil, fmt.Errorf("%s: no Indices output or storage_order", name)
		}
		pool := &poolOp{kind: kind, win: win, includePad: n.AttrInt("count_include_pad", 0) != 0}
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			y, err := nchwcPool(ctx, pool, in)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return []*tensor.Tensor{y}, nil
		}), nil
	}
}

// nchwcPool runs NCHWcMaxPool or NCHWcAveragePool: the blocked kernel for
// a 2-D pool without dilation, else the NCHW pool between reorders.
func nchwcPool(ctx *runtime.Context, pool *poolOp, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := checkBlocked("X", x); err != nil {
		return nil, err
	}
	g, shape, err := pool.geom(nchwShape(x.Shape(), 0))
	if err != nil {
		return nil, err
	}
	if !nchwcKernels() || g.dil[1] != 1 || g.dil[2] != 1 {
		xn, err := toNCHW(ctx, x, 0)
		if err != nil {
			return nil, err
		}
		outs, err := pool.run(ctx, []*tensor.Tensor{xn})
		if err != nil {
			return nil, err
		}
		outs, err = reorderNCHWc(ctx, outs[:1], true, 0)
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	}
	y, err := ctx.AllocUninit(tensor.Float32, blockedShape(shape)...)
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	blocks := shape[0] * shape[1] / nchwcBlock // images times channel blocks, pooled as one batch
	kh, kw := pool.win.Kernel[0], pool.win.Kernel[1]
	threads := min(ctx.Threads, blocks)
	if y.Len()*kh*kw < 1<<16 {
		threads = 1
	}
	xd, yd := x.F32(), y.F32()
	runtime.Parallel(threads, threads, func(t int) {
		geom := [12]int64{int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]), int64(kh), int64(kw),
			int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]),
			int64(t * blocks / threads), int64((t + 1) * blocks / threads)}
		nchwcPoolC(xd, yd, &geom, g.count)
	})
	return y, nil
}
