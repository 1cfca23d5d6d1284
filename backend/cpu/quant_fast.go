// Fast paths of the integer ops on the INT8 GEMM (igemm.go):
// MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv compute their
// int32 accumulators with the SIMD kernels (constant weights packed once)
// and QLinear* requantize them with the vectorized gc_requant. Each path
// reports false when a case is outside what it handles (zero points that
// are neither per tensor nor per row/column, weight zero points of a
// convolution that are not 0, depthwise or 3-D convolutions, the generic
// CPU level); the op then runs its reference path. Results are identical
// either way: integer products are exact, and the requantization does the
// reference's float64 arithmetic.

package cpu

import (
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// ipackCache holds a constant 8-bit operand packed for the active INT8
// kernel (one pack per group), rebuilt when the kernel or the sign flip
// the product needs changes.
type ipackCache = constPack[ipackKey, []*igemmPacked]

// ipackKey is what an INT8 pack depends on besides the operand.
type ipackKey struct {
	kern *igemmKernel
	flip bool
}

// int8Bytes returns the data of a uint8 or int8 tensor as bytes, and
// whether it is uint8; ok is false for other dtypes.
func int8Bytes(t *tensor.Tensor) (b []byte, u8, ok bool) {
	switch t.DType() {
	case tensor.Uint8:
		return tensor.Data[uint8](t), true, true
	case tensor.Int8:
		return bytesOf(tensor.Data[int8](t)), false, true
	}
	return nil, false, false
}

// fillBytes sets every byte of b to v, doubling the filled prefix with
// copy (a byte loop ran at one byte per cycle).
func fillBytes(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

// bytesOf views 8-bit values as bytes (nil when empty).
func bytesOf[Q int8 | uint8](v []Q) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), len(v))
}

// zpVector reads a zero point for the fast paths: nil, one value, or a
// 1-D tensor of n values; ok is false otherwise (or for a dtype other
// than want's).
func zpVector(zp *tensor.Tensor, n int, want tensor.DType) ([]int32, bool) {
	if zp == nil {
		return nil, true
	}
	if zp.DType() != want || !(zp.Len() == 1 || zp.Rank() == 1 && zp.Len() == n) {
		return nil, false
	}
	v, err := quantInt32s(zp)
	return v, err == nil
}

// tile repeats a per-row vector count times (one-value vectors stay).
func tile[T any](v []T, count int) []T {
	if len(v) <= 1 || count == 1 {
		return v
	}
	out := make([]T, 0, len(v)*count)
	for i := 0; i < count; i++ {
		out = append(out, v...)
	}
	return out
}

// quantMatMulOp is MatMulInteger or QLinearMatMul with its constant-B
// cache.
type quantMatMulOp struct {
	constB *tensor.Tensor
	packed ipackCache
	bFit   bytesFit
}

// matMulIntFast computes acc = (A - za)(B - zb) for plan p with the INT8
// kernel and reports whether it could.
func (op *quantMatMulOp) matMulIntFast(ctx *runtime.Context, p *matMulPlan, a, azp, b, bzp *tensor.Tensor, acc []int32) bool {
	kern := igemmISA()
	if kern == nil || p.k == 0 {
		return false
	}
	ab, aU8, ok1 := int8Bytes(a)
	bb, bU8, ok2 := int8Bytes(b)
	if !ok1 || !ok2 {
		return false
	}
	rows := 1
	if a.Rank() > 1 {
		rows = a.Shape()[a.Rank()-2]
	}
	za, ok := zpVector(azp, rows, a.DType())
	if !ok {
		return false
	}
	var zb []int32
	if b.Rank() > 1 {
		zb, ok = zpVector(bzp, b.Shape()[b.Rank()-1], b.DType())
	} else {
		zb, ok = zpVector(bzp, 1, b.DType())
		ok = ok && len(zb) <= 1
	}
	if !ok {
		return false
	}
	za = tile(za, p.m/rows)
	call := igemmCall{m: p.m, n: p.n, k: p.k, aU8: aU8, lda: p.k, bU8: bU8, ldb: p.n, ldc: p.n, za: za, zb: zb}
	var packs []*igemmPacked
	if b.Rank() == 2 {
		if !bU8 {
			kern = op.bFit.kernel(b, op.constB, bb)
		}
		_, _, flipB, _, _ := call.form(kern)
		packs = op.packed.get(b, op.constB, ipackKey{kern, flipB}, func() []*igemmPacked {
			return []*igemmPacked{packIgemmB(kern, bb, bU8, flipB, false, p.k, p.n, p.n, ctx.Threads)}
		})
	}
	mn := p.m * p.n
	one := func(i, threads int) bool {
		c := call
		c.a, c.c = ab[p.offA[i]:], acc[i*mn:(i+1)*mn]
		if packs != nil {
			c.packedB = packs[0]
		} else {
			c.b = bb[p.offB[i]:]
		}
		return c.runSIMD(threads)
	}
	return runIntJobs(ctx, len(p.offA), one)
}

// runIntJobs runs job(i, threads) for i in [0, n), the INT8 GEMMs of one
// op: spread over ctx's threads one job per thread at a time when there
// are at least as many jobs as threads, else one after the other with all
// threads each. It reports whether every job ran (false: a job's kernel
// did not apply).
func runIntJobs(ctx *runtime.Context, n int, job func(i, threads int) bool) bool {
	if n >= ctx.Threads && ctx.Threads > 1 {
		var failed atomic.Bool
		parallelChunks(n, ctx.Threads, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if !job(i, 1) {
					failed.Store(true)
				}
			}
		})
		return !failed.Load()
	}
	for i := 0; i < n; i++ {
		if !job(i, ctx.Threads) {
			return false
		}
	}
	return true
}

// requantFast writes y = saturate(round(acc * mult) + zp) with the C
// kernel: acc is rows x cols (rows a multiple of the per-row vectors'
// period), mult per row (perCol false) or per column, zp one value or
// per row. It reports false at the generic level.
func requantFast(y *tensor.Tensor, acc []int32, rows, cols int, mult []float64, perCol bool, zp []float64) bool {
	if CPULevel(level.Load()) < LevelAVX2 {
		return false
	}
	if len(acc) == 0 {
		return true
	}
	yb, u8, _ := int8Bytes(y)
	lo, hi := float64(math.MinInt8), float64(math.MaxInt8)
	if u8 {
		lo, hi = 0, math.MaxUint8
	}
	var zpRow []float64
	z := 0.0
	if len(zp) == 1 {
		z = zp[0]
	} else {
		zpRow = zp
	}
	requantC(acc, yb, rows, cols, mult, perCol, zpRow, z, lo, hi, u8)
	return true
}

// qlinearMatMulRequant requantizes the QLinearMatMul accumulators with
// the C kernel when the multiplier varies along one axis only.
func qlinearMatMulRequant(y *tensor.Tensor, acc []int32, p *matMulPlan, rows, cols int, sa, sb, sy, zy []float64) bool {
	total := len(acc) / max(cols, 1)
	pick := func(v []float64, i int) float64 { return v[min(i, len(v)-1)] }
	switch {
	case len(sb) == 1:
		mult := make([]float64, total)
		for r := range mult {
			mult[r] = quantMultiplier(pick(sa, r%rows), sb[0], pick(sy, r%rows))
		}
		return requantFast(y, acc, total, cols, mult, false, tile(zy, total/rows))
	case len(sa) == 1 && len(sy) == 1:
		mult := make([]float64, cols)
		for c := range mult {
			mult[c] = quantMultiplier(sa[0], sb[c], sy[0])
		}
		if len(zy) > 1 {
			return false
		}
		return requantFast(y, acc, total, cols, mult, true, zy)
	}
	return false
}

// convIntOperands checks the operands the INT8 convolution paths take:
// 8-bit x and w, zero points of the same dtypes, w's all 0 and x's one
// value (zx: nil or that value).
func convIntOperands(x, w, xzp, wzp *tensor.Tensor) (xb, wb []byte, xU8, wU8 bool, zx []int32, ok bool) {
	xb, xU8, ok1 := int8Bytes(x)
	wb, wU8, ok2 := int8Bytes(w)
	if !ok1 || !ok2 {
		return
	}
	if xzp != nil && xzp.DType() != x.DType() || wzp != nil && wzp.DType() != w.DType() {
		return
	}
	if wzp != nil {
		z, err := quantInt32s(wzp)
		if err != nil {
			return
		}
		for _, v := range z {
			if v != 0 {
				return
			}
		}
	}
	if xzp != nil {
		v, err := quantInt32s(xzp)
		if err != nil || len(v) != 1 {
			return
		}
		zx = v
	}
	return xb, wb, xU8, wU8, zx, true
}

// depthwiseExact computes an integer depthwise convolution (one input
// channel per group) of the 8-bit x less zero point zx and w, plus bias,
// into dst with the float32 depthwise kernels: every operand (|v| <= 255)
// and every partial sum (|s| <= taps*255*255 < 2^24) is an integer
// float32 holds exactly, so the result is the integer convolution's, bit
// for bit. It reports false where that bound or the float kernels do not
// apply (the INT8 kernels have no depthwise form).
func depthwiseExact(ctx *runtime.Context, g *convGeom, xb, wb []byte, xU8, wU8 bool, zx int32, wshape []int, bias, dst []int32) bool {
	if sgemmISA() == nil || g.kSize*255*255 >= 1<<24 {
		return false
	}
	xf, wf, yf := getF32(len(xb)), getF32(len(wb)), getF32(len(dst))
	defer putF32(xf)
	defer putF32(wf)
	defer putF32(yf)
	dequant8C(xb, *xf, !xU8, float32(zx), 1)
	dequant8C(wb, *wf, !wU8, 0, 1)
	if !convDepthwiseF32(ctx, &convOp{}, g, *xf, tensor.FromSlice(wshape, *wf), nil, nil, *yf) {
		return false
	}
	f32ToI32C(*yf, dst, g.batch*g.m, g.outSize, bias, g.m)
	return true
}

// zeroPoint is the value of a per-tensor zero point (nil: 0).
func zeroPoint(zx []int32) int32 {
	if len(zx) == 1 {
		return zx[0]
	}
	return 0
}

// Where the direct kernel beats the INT8 GEMM (BenchmarkQLinearConv, one
// thread, Zen 5, with the GEMM requantizing in its epilogue and the
// Toeplitz rows' offsets precomputed): kernels at least 3 wide (a 1x1
// kernel uses one of each group's four taps: 155 vs 450 GOP/s for
// ResNet's 64->256 1x1) and at most qconvDirectMaxM output channels per
// group, qconvDirectMaxMToeplitz where the GEMM takes the Toeplitz form
// (3x3 at 64/128/256/512 channels: 1.07x, 0.86x, 0.78x, 0.76x the GEMM's
// speed; LeNet-5's convolutions 1.8x and 2.2x, ResNet's 7x7 stem 2.2x; in
// ResNet-50, its 3x3/2 at 128 channels 549 us direct, 663 through im2col).
const (
	qconvDirectMinKW        = 3
	qconvDirectMaxM         = 128
	qconvDirectMaxMToeplitz = 64
)

// directPlan returns the direct kernel's plan for this convolution, or
// nil when the kernel is off or does not take it (uint8 weights, 3-D,
// depthwise, or a shape the INT8 GEMM runs faster).
func (op *convIntOp) directPlan(g *convGeom, w *tensor.Tensor, wb []byte, xU8, wU8 bool) *qconvPlan {
	if !qconvDirectOn() || wU8 || !g.planar() || (g.cg == 1 && g.group > 1) {
		return nil
	}
	if qconvDirectUse == qconvAuto {
		maxM := qconvDirectMaxM
		if toep, _, _ := toeplitzForm(g); toep {
			maxM = qconvDirectMaxMToeplitz
		}
		if g.kernel[2] < qconvDirectMinKW || g.mg > maxM {
			return nil
		}
	}
	key := qconvKeyOf(g, !xU8)
	if w == op.constW {
		key.w = w
	}
	return op.direct.get(key, wb)
}

// qconvKeyOf is the direct kernel's key for a 2-D convolution (weights
// not cached).
func qconvKeyOf(g *convGeom, flip bool) qconvKey {
	return qconvKey{cg: g.cg, mg: g.mg, group: g.group, ih: g.in[1], iw: g.in[2], oh: g.out[1], ow: g.out[2],
		kh: g.kernel[1], kw: g.kernel[2], sh: g.strides[1], sw: g.strides[2], ph: g.pad[1], pw: g.pad[2],
		dh: g.dil[1], dw: g.dil[2], flip: flip}
}

// convIntFast computes the int32 convolution (X - zx) * (W - 0) + bias
// into acc (N x M x out) with the direct kernel or the INT8 GEMM, per
// image and group.
func (op *convIntOp) convIntFast(ctx *runtime.Context, g *convGeom, x, w, xzp, wzp *tensor.Tensor, bias []int32, acc []int32) bool {
	kern := igemmISA()
	if kern == nil || !g.planar() {
		return false
	}
	xb, wb, xU8, wU8, zx, ok := convIntOperands(x, w, xzp, wzp)
	if !ok {
		return false
	}
	if g.cg == 1 && g.group > 1 {
		// the INT8 GEMM has no depthwise form; what depthwiseExact refuses
		// (more than 258 taps, rows wider than 64 taps) runs the reference
		return depthwiseExact(ctx, g, xb, wb, xU8, wU8, zeroPoint(zx), w.Shape(), bias, acc)
	}
	if p := op.directPlan(g, w, wb, xU8, wU8); p != nil {
		return p.run(ctx, g, xb, zeroPoint(zx), bias, qconvOut{acc: acc})
	}
	return op.convGemm(ctx, g, w, xb, wb, xU8, wU8, zx, bias, acc, nil)
}

// convGemm is convIntFast's INT8 GEMM path, per image and group: into
// acc, or with rq set straight into rq.y (rq.mult per output channel, the
// whole output's), requantized in the GEMM's epilogue; false when the
// kernel cannot.
func (op *convIntOp) convGemm(ctx *runtime.Context, g *convGeom, w *tensor.Tensor, xb, wb []byte, xU8, wU8 bool, zx, bias, acc []int32, rq *igemmRequant) bool {
	kern := igemmISA()
	if rq != nil && !kern.requant {
		return false
	}
	if !wU8 {
		kern = op.wFit.kernel(w, op.constW, wb)
	}
	kdim := g.cg * g.kSize
	call := igemmCall{m: g.mg, n: g.outSize, k: kdim, aU8: wU8, lda: kdim, bU8: xU8, ldb: g.inSize,
		ldc: g.outSize, zb: zx, preferFlipB: true}
	_, flipA, _, _, _ := call.form(kern)
	packs := op.packed.get(w, op.constW, ipackKey{kern, flipA}, func() []*igemmPacked {
		out := make([]*igemmPacked, g.group)
		for grp := range out {
			out[grp] = packIgemmA(kern, wb[grp*g.mg*kdim:], wU8, flipA, false, g.mg, kdim, kdim, ctx.Threads)
		}
		return out
	})
	if !g.pointwise() {
		call.conv = &sgemmConv{cin: g.cg, ih: g.in[1], iw: g.in[2], kh: g.kernel[1], kw: g.kernel[2],
			sh: g.strides[1], sw: g.strides[2], ph: g.pad[1], pw: g.pad[2], dh: g.dil[1], dw: g.dil[2],
			oh: g.out[1], ow: g.out[2]}
	}
	toep, hp, wp := toeplitzForm(g)
	padByte := byte(zeroPoint(zx))
	job := func(j, threads int) bool {
		n, grp := j/g.group, j%g.group
		c := call
		c.b = xb[(n*g.c+grp*g.cg)*g.inSize : (n*g.c+(grp+1)*g.cg)*g.inSize]
		rows := (n*g.m + grp*g.mg) * g.outSize
		if rq != nil {
			r := *rq
			r.y, r.ldy, r.mult = rq.y[rows:rows+g.mg*g.outSize], g.outSize, rq.mult[grp*g.mg:(grp+1)*g.mg]
			c.requant = &r
		} else {
			c.c = acc[rows : rows+g.mg*g.outSize]
		}
		if packs != nil {
			c.packedA = packs[grp]
		} else {
			c.a = wb[grp*g.mg*kdim:]
		}
		if bias != nil {
			c.bias = bias[grp*g.mg : (grp+1)*g.mg]
		}
		if toep {
			return convToeplitz(c, g, hp, wp, padByte, threads)
		}
		if c.requant != nil {
			return c.runRequant(threads)
		}
		return c.runSIMD(threads)
	}
	return runIntJobs(ctx, g.batch*g.group, job)
}

// toeplitzForm reports whether the INT8 GEMM computes the convolution g
// in the Toeplitz form, and the padded height and width: a stride-1
// convolution reads a copy of the image padded with the x zero point
// (height hp = oh + (kh-1)*dh, width wp = ow + (kw-1)*dw) in place, as the
// Toeplitz matrix of the product computed at the padded width: no im2col
// rows to build, which cost more than the products of small convolutions.
// Each output row then keeps its first ow cells. Used while the padded
// width wastes at most half of the product.
func toeplitzForm(g *convGeom) (ok bool, hp, wp int) {
	hp, wp = g.out[1]+(g.kernel[1]-1)*g.dil[1], g.out[2]+(g.kernel[2]-1)*g.dil[2]
	ok = !g.pointwise() && g.strides[1] == 1 && g.strides[2] == 1 && 2*wp <= 3*g.out[2]
	return ok, hp, wp
}

// convToeplitz runs one image and group of convIntFast in the Toeplitz form:
// c is the im2col call, c.b the group's image, c.c its output rows
// (mg x oh*ow), or c.requant its requantized output rows, which the
// GEMM's epilogue compacts from the padded width itself.
func convToeplitz(c igemmCall, g *convGeom, hp, wp int, padByte byte, threads int) bool {
	plane := hp * wp
	slack := (g.kernel[2] - 1) * g.dil[2]
	pbuf := getI32((g.cg*plane + slack + 3) / 4)
	defer putI32(pbuf)
	P := int32Bytes(*pbuf)[:g.cg*plane+slack]
	fillBytes(P, padByte)
	ih, iw := g.in[1], g.in[2]
	for ch := 0; ch < g.cg; ch++ {
		for iy := 0; iy < ih; iy++ {
			py := iy + g.pad[1]
			if py < 0 || py >= hp {
				continue
			}
			dst := P[ch*plane+py*wp : ch*plane+(py+1)*wp]
			src := c.b[(ch*ih+iy)*iw : (ch*ih+iy+1)*iw]
			if lo := g.pad[2]; lo >= 0 {
				copy(dst[min(lo, wp):], src)
			} else {
				copy(dst, src[min(-lo, iw):])
			}
		}
	}
	oh, ow := g.out[1], g.out[2]
	out := c.c
	c.b, c.conv = P, nil
	c.toep = &sgemmConv{cin: g.cg, ih: hp, iw: wp, kh: g.kernel[1], kw: g.kernel[2], sh: 1, sw: 1, dh: g.dil[1], dw: g.dil[2], oh: oh, ow: wp}
	c.n, c.ldc = oh*wp, oh*wp
	if c.requant != nil {
		r := *c.requant
		r.pw, r.ow = wp, ow
		c.requant = &r
		return c.runRequant(threads)
	}
	tmp := getI32(g.mg * c.n)
	defer putI32(tmp)
	c.c = *tmp
	if !c.runSIMD(threads) {
		return false
	}
	for m := 0; m < g.mg; m++ {
		for oy := 0; oy < oh; oy++ {
			copy(out[(m*oh+oy)*ow:(m*oh+oy+1)*ow], (*tmp)[(m*oh+oy)*wp:])
		}
	}
	return true
}
