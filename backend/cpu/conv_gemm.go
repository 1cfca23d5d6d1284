// The FP32 convolution as one GEMM per image and group on the SIMD
// kernels, Y_g (M x N) = W_g (M x K) * B(X_g) (K x N), with the weights
// packed once (k blocks of convKC(K)) and B one of:
//
//	pointwise  1x1, unit strides, no padding: B is X_g itself (K = channels
//	           rows of N cells);
//	toeplitz   the input zero-padded by the convolution's pads and split
//	           into stride phases (P, built per image and group with the
//	           pre-activation applied), read as a Toeplitz matrix whose row
//	           (c, ky, kx) is P read flat from one offset: the product has
//	           the padded width Wq per output row, and each column chunk of
//	           it is compacted into Y (valid ox < ow) while still in cache,
//	           with bias, residual and activation applied there;
//	im2col     (small outputs, where the padded width would waste more
//	           than toeplitzMaxWaste) the im2col matrix built while packing.
//
// B is packed per k block and chunk of columns (convNC), so the chunk of
// C, the packed B and the block of weights stay in the core's L2 while
// the chunk is computed (the prologue is applied while packing for
// pointwise and im2col). Reading B in place without packing was tried:
// with a few dozen output channels it ran 2-2.5x slower than packing on
// the development machine (Zen 5), the unpacked rows being spread over
// many cache lines.
//
// Threads: the columns of every image and group are cut into tasks (whole
// register panels, about convTasksPerThread per thread) that run as one
// parallel section (runtime.Parallel: claimed dynamically, so a thread
// that starts late takes fewer); each task packs its own B and compacts
// its own chunks, so the only other section is the padding of P.

package cpu

import (
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// convKCMax bounds the k block of the convolution products.
var convKCMax = 256

// convTasksPerThread is how many column tasks per thread a convolution
// is cut into (dynamic claiming evens out a late or slow thread).
const convTasksPerThread = 3

// convMinTaskWork is the least M*N*K of a task (multiply-adds): below it
// the convolution runs on fewer threads.
var convMinTaskWork = 1 << 18

// convNCForce, when positive, replaces convNC's choice (tests use it to
// cross chunk boundaries on small images).
var convNCForce = 0

// convKC returns the k block depth of a product with m rows and depth k:
// k itself up to the limit, else equal blocks of at most the limit (a
// multiple of 8 where possible), so no block is much shorter than the
// others. The limit is convKCMax, lowered for many rows so that a block of
// the weights (m x kc) takes at most half of L2: it is streamed once per
// register panel of B.
func convKC(m, k int) int {
	limit := clampInt((cpuCaches.l2/2)/(4*max(m, 1))/8*8, 64, convKCMax)
	if k <= limit {
		return k
	}
	blocks := (k + limit - 1) / limit
	kc := (k + blocks - 1) / blocks
	if r := (kc + 7) / 8 * 8; r <= limit {
		kc = r
	}
	return kc
}

// convNC returns the column chunk of a product with m rows and k blocks
// kcB deep packed per chunk: the chunk of C and of packed B should stay in
// the core's L2 while it is computed.
func convNC(kern *sgemmKernel, m, kcB int) int {
	if convNCForce > 0 {
		return convNCForce
	}
	budget := max(cpuCaches.l2/2, 64<<10) / 4 // floats
	nc := budget / max(m+kcB, 1) / kern.nr * kern.nr
	return clampInt(nc, kern.nr, 64*kern.nr)
}

// convGemmF32 runs the convolution (not depthwise, not transposed; see
// the file comment). cv is nil for a pointwise convolution. pre is the
// prologue of all C input channels (nil: none).
func convGemmF32(ctx *runtime.Context, op *convOp, g *convGeom, cv *sgemmConv, kern *sgemmKernel,
	wt *tensor.Tensor, x, bias, z, y, pre []float32) {
	kdim := g.cg * g.kSize
	kc := convKC(g.mg, kdim)
	w := wt.F32()
	packs := op.packed.get(wt, op.constW, kern, func() []*sgemmPacked {
		out := make([]*sgemmPacked, g.group)
		for grp := range out {
			out[grp] = packSgemmAKC(kern, kc, false, g.mg, kdim, 1, w[grp*g.mg*kdim:], kdim, ctx.Threads)
		}
		return out
	})
	if packs == nil || packs[0].kc != kc {
		// Computed weights: pack them here (once per call).
		packs = make([]*sgemmPacked, g.group)
		for grp := range packs {
			packs[grp] = packSgemmAKC(kern, kc, false, g.mg, kdim, 1, w[grp*g.mg*kdim:], kdim, ctx.Threads)
		}
	}
	jobs := g.batch * g.group

	// The B operand of each job.
	var (
		toep     bool
		tcv      sgemmConv
		n        int // columns of the product
		planeLen int // floats of one job's padded input P
		padBufs  []*[]float32
		pres     [][]float32 // per group: the prologue applied while packing B
	)
	if cv == nil {
		n = g.outSize
	} else {
		hq, wq := cv.oh+(cv.kh-1)*cv.dh/cv.sh, cv.ow+(cv.kw-1)*cv.dw/cv.sw
		if float64(wq) <= toeplitzMaxWaste*float64(cv.ow) {
			toep = true
			tcv = *cv
			tcv.ih, tcv.iw = hq, wq
			n = cv.oh * wq
			only00 := cv.kh == 1 && cv.kw == 1 // a 1x1 kernel reads phase (0, 0) only
			if only00 {
				tcv.sh, tcv.sw = 1, 1
			}
			tail := (cv.kw - 1) * cv.dw / cv.sw
			planeLen = g.cg*tcv.sh*tcv.sw*hq*wq + tail
			padBufs = make([]*[]float32, jobs)
			for j := range padBufs {
				padBufs[j] = getF32(planeLen + kern.mr) // slack: direct A reads whole row panels
				defer putF32(padBufs[j])
			}
			convPadJobs(ctx, g, cv, hq, wq, only00, op.preRelu, x, pre, padBufs)
			if g.mg <= convDirectMaxM && kdim >= convDirectMinK && kdim <= convDirectMaxK {
				convDirectT(ctx, op, g, &tcv, kern, wt, padBufs, bias, z, y)
				return
			}
		} else {
			n = g.outSize
		}
	}
	if pre != nil && !toep {
		pres = make([][]float32, g.group)
		for grp := range pres {
			pres[grp] = g.groupPre(pre, grp)
		}
	}
	// call returns job j's product without a window.
	call := func(j int) sgemmCall {
		nimg, grp := j/g.group, j%g.group
		c := sgemmCall{m: g.mg, n: n, k: kdim, alpha: 1, packedA: packs[grp],
			epi: sgemmEpilogue{clamp: op.act.clamp, lo: op.act.lo, hi: op.act.hi}}
		yg := y[(nimg*g.m+grp*g.mg)*g.outSize : (nimg*g.m+(grp+1)*g.mg)*g.outSize]
		if bias != nil {
			c.epi.biasRow = bias[grp*g.mg : (grp+1)*g.mg]
		}
		if z != nil {
			c.epi.resid, c.epi.ldr = z[(nimg*g.m+grp*g.mg)*g.outSize:], g.outSize
		}
		xg := x[(nimg*g.c+grp*g.cg)*g.inSize : (nimg*g.c+(grp+1)*g.cg)*g.inSize]
		switch {
		case toep:
			c.b, c.conv, c.toeplitz = *padBufs[j], &tcv, true
			c.compactY, c.ldy = yg, g.outSize
		case cv == nil:
			c.b, c.ldb = xg, g.inSize
			c.c, c.ldc = yg, g.outSize
		default:
			c.b, c.conv = xg, cv
			c.c, c.ldc = yg, g.outSize
		}
		if pres != nil {
			c.pre, c.preRelu = pres[grp], op.preRelu
		}
		return c
	}

	colPanels := (n + kern.nr - 1) / kern.nr
	rowPanels := (g.mg + kern.mr - 1) / kern.mr
	work := g.mg * n * kdim
	threads := ctx.Threads
	if jobs*work < 2*convMinTaskWork {
		threads = 1
	}
	if threads > 1 && jobs < convTasksPerThread*threads && rowPanels >= 2*threads && g.mg > n && 4*g.mg*kdim >= convRowsMinWeights {
		// More rows than columns and weights of half an L2 or more (deep
		// in a network): pack each job's B once, in parallel over its
		// panels, then split the rows, so that the weights are streamed
		// once in all rather than once per thread. With smaller weights
		// the column split is faster: each thread packs and reads only
		// its own part of B (SqueezeNet's 13x13 1x1 convolutions ran
		// slower on 2 threads than on 1 with the rows split). One task
		// per thread: each task reads all of B, so more tasks read it
		// more often (ResNet-50 ran 2.5% faster than with 3 per thread).
		bufs := make([]*[]float32, jobs)
		packed := make([]*sgemmPacked, jobs)
		for j := range bufs {
			bufs[j] = getF32(kern.npad(n) * kdim)
			defer putF32(bufs[j])
			c := call(j)
			args, _, b, scratch := c.prepare(kern)
			if scratch != nil {
				putF32(scratch)
			}
			kern.packBInto(*bufs[j], &args, b, c.pre, threads)
			packed[j] = &sgemmPacked{kern: kern, rows: kdim, cols: n, kc: kc, data: *bufs[j]}
		}
		perJob := min(rowPanels, threads)
		nc := convNC(kern, (g.mg+perJob-1)/perJob, kc)
		runtime.Parallel(jobs*perJob, threads, func(t int) {
			j, part := t/perJob, t%perJob
			lo, hi := part*rowPanels/perJob*kern.mr, min(g.mg, (part+1)*rowPanels/perJob*kern.mr)
			if lo >= hi {
				return
			}
			c := call(j)
			c.packedB, c.pre, c.nc = packed[j], nil, nc
			args, a, b, scratch := c.prepare(kern)
			if scratch != nil {
				defer putF32(scratch)
			}
			args.i0, args.i1, args.j0, args.j1 = int64(lo), int64(hi), 0, int64(n)
			c.window(kern, &args, a, b)
		})
		return
	}
	perJob := 1
	if threads > 1 && jobs < convTasksPerThread*threads {
		perJob = min(colPanels, convTasksPerThread*threads, max(1, work/convMinTaskWork))
	}
	if jobs*perJob == 1 {
		threads = 1
	}
	nc := convNC(kern, g.mg, kc)
	runtime.Parallel(jobs*perJob, threads, func(t int) {
		j, part := t/perJob, t%perJob
		lo, hi := part*colPanels/perJob*kern.nr, min(n, (part+1)*colPanels/perJob*kern.nr)
		if lo >= hi {
			return
		}
		c := call(j)
		c.nc = nc
		args, a, b, scratch := c.prepare(kern)
		if scratch != nil {
			defer putF32(scratch)
		}
		args.i0, args.i1, args.j0, args.j1 = 0, int64(g.mg), int64(lo), int64(hi)
		c.window(kern, &args, a, b)
	})
}

// convRowsMinWeights is the least size in bytes of a group's weights for
// which a product with more rows than columns splits its rows over the
// threads (half of L2; tests lower it to cover that path on small shapes).
var convRowsMinWeights = cpuCaches.l2 / 2

// convDirectMaxM, convDirectMinK and convDirectMaxK bound the Toeplitz
// convolutions computed transposed with the padded input read in place
// (convDirectT): few output channels, and k large enough that the
// transposed store is amortized but small enough to take in one block.
var (
	convDirectMaxM = 48
	convDirectMinK = 64
	convDirectMaxK = 2304
)

// convDirectT runs Toeplitz convolutions with few output channels as
// Y^T = T(P)^T W^T: the rows of the product are the cells of the padded
// output (padded width Wq), read straight from P (row i of tap p is
// P[off(p) + i], broadcast into the register tile: no packing at all), the
// columns the output channels (the weights packed once, transposed), and
// each tile is stored transposed into Y, dropping the padding columns,
// with bias, summand and activation. With a few dozen output channels a
// packed B panel of the normal orientation would be reused by only a few
// register tiles, so packing it costs as much as the product. The whole
// depth is one k block (no partial sums); rows are split over the threads.
func convDirectT(ctx *runtime.Context, op *convOp, g *convGeom, tcv *sgemmConv, kern *sgemmKernel,
	wt *tensor.Tensor, pads []*[]float32, bias, z, y []float32) {
	kdim := g.cg * g.kSize
	w := wt.F32()
	packsT := op.packedT.get(wt, op.constW, kern, func() []*sgemmPacked {
		out := make([]*sgemmPacked, g.group)
		for grp := range out {
			out[grp] = packSgemmBKC(kern, kdim, true, kdim, g.mg, w[grp*g.mg*kdim:], kdim, ctx.Threads)
		}
		return out
	})
	if packsT == nil || packsT[0].kc != kdim {
		packsT = make([]*sgemmPacked, g.group)
		for grp := range packsT {
			packsT[grp] = packSgemmBKC(kern, kdim, true, kdim, g.mg, w[grp*g.mg*kdim:], kdim, ctx.Threads)
		}
	}
	aoff := make([]int64, kdim)
	for p := range aoff {
		c, ky, kx := p/(tcv.kh*tcv.kw), p/tcv.kw%tcv.kh, p%tcv.kw
		yy, xx := ky*tcv.dh, kx*tcv.dw
		ph := (c*tcv.sh+yy%tcv.sh)*tcv.sw + xx%tcv.sw
		aoff[p] = int64(ph*tcv.ih*tcv.iw + yy/tcv.sh*tcv.iw + xx/tcv.sw)
	}
	n := tcv.oh * tcv.iw // product rows: padded output cells
	jobs := g.batch * g.group
	rowPanels := (n + kern.mr - 1) / kern.mr
	perJob, threads := 1, ctx.Threads
	if threads > 1 && jobs < convTasksPerThread*threads {
		perJob = min(rowPanels, convTasksPerThread*threads, max(1, g.mg*n*kdim/convMinTaskWork))
	}
	if jobs*perJob == 1 {
		threads = 1
	}
	runtime.Parallel(jobs*perJob, threads, func(t int) {
		j, part := t/perJob, t%perJob
		lo, hi := part*rowPanels/perJob*kern.mr, min(n, (part+1)*rowPanels/perJob*kern.mr)
		if lo >= hi {
			return
		}
		nimg, grp := j/g.group, j%g.group
		c := sgemmCall{m: n, n: g.mg, k: kdim, alpha: 1, a: *pads[j], aoff: aoff, packedB: packsT[grp],
			ct: y[(nimg*g.m+grp*g.mg)*g.outSize:], ldct: g.outSize, ctWq: tcv.iw, ctOw: tcv.ow,
			epi: sgemmEpilogue{clamp: op.act.clamp, lo: op.act.lo, hi: op.act.hi}}
		if bias != nil {
			c.epi.biasCol = bias[grp*g.mg : (grp+1)*g.mg]
		}
		if z != nil {
			c.epi.resid, c.epi.ldr = z[(nimg*g.m+grp*g.mg)*g.outSize:], g.outSize
		}
		args, a, b, scratch := c.prepare(kern)
		if scratch != nil {
			defer putF32(scratch)
		}
		args.i0, args.i1, args.j0, args.j1 = int64(lo), int64(hi), 0, int64(g.mg)
		c.window(kern, &args, a, b)
	})
}

// convPadJobs fills bufs[j] with job j's input (image j / group, group
// j % group) zero-padded and split into stride phases, Hq x Wq each, with
// the prologue pre applied (see gc_pad_planes; only00: phase (0, 0)
// only), in one parallel section over jobs and channel ranges.
func convPadJobs(ctx *runtime.Context, g *convGeom, cv *sgemmConv, hq, wq int, only00, preRelu bool,
	x, pre []float32, bufs []*[]float32) {
	phases := cv.sh * cv.sw
	if only00 {
		phases = 1
	}
	relu, one := int64(0), int64(0)
	if preRelu {
		relu = 1
	}
	if only00 {
		one = 1
	}
	tail := (cv.kw - 1) * cv.dw / cv.sw
	jobs := len(bufs)
	chunks := max(1, min(g.cg, ctx.Threads*2, g.cg*phases*hq*wq/copyMinWork))
	runtime.Parallel(jobs*chunks, ctx.Threads, func(t int) {
		j, part := t/chunks, t%chunks
		nimg, grp := j/g.group, j%g.group
		lo, hi := part*g.cg/chunks, (part+1)*g.cg/chunks
		last := int64(0)
		if hi == g.cg {
			last = int64(tail)
		}
		geom := [12]int64{int64(hi - lo), int64(cv.ih), int64(cv.iw), int64(cv.ph), int64(cv.pw), int64(hq), int64(wq), last, relu,
			int64(cv.sh), int64(cv.sw), one}
		var pp []float32
		if pre != nil {
			c0 := grp*g.cg + lo
			pp = make([]float32, 2*(hi-lo))
			copy(pp, pre[c0:c0+hi-lo])
			copy(pp[hi-lo:], pre[g.c+c0:g.c+c0+hi-lo])
		}
		xg := x[(nimg*g.c+grp*g.cg)*g.inSize:]
		padPlanes(xg[lo*g.inSize:hi*g.inSize], (*bufs[j])[lo*phases*hq*wq:], &geom, pp)
	})
}
