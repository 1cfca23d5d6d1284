// Gemm, MatMul, Conv and ConvTranspose (ONNX opset 13+), all lowered onto the
// GEMM kernels of gemm.go.
//
//	Gemm:   Y = alpha * op(A) * op(B) + beta * C, op = optional transpose,
//	        C unidirectionally broadcast to [M, N].
//	MatMul: numpy.matmul: a 1-D A is [1, K], a 1-D B is [K, 1] (the added
//	        dimension is dropped from Y); leading batch dimensions broadcast.
//	Conv:   Y[n, m, o] = B[m] + sum_{c in group(m), k} X[n, c, o*s + k*d - pb] * W[m, c, k]
//	        over 1 to 3 spatial dimensions (out-of-range X reads as 0),
//	        computed per image and group as W_g * im2col(X_g); depthwise
//	        convolutions (one input channel per group) use a direct loop.
//	ConvTranspose: the adjoint of Conv: every input cell scatters
//	        X[n, c, i] * W[c, m, k] to Y[n, m, i*s + k*d - pb], computed as
//	        col2im(W_g^T * X_g), plus B[m].
//
// Float16 and bfloat16 are computed in float32 and rounded back; Conv, Gemm
// and MatMul also take float64, Gemm and MatMul the integer types of the
// spec (arithmetic modulo 2^bits).

package cpu

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("Gemm", newGemm)
	registerFunc("MatMul", runMatMul)
	register("Conv", newConv)
	register("ConvTranspose", newConvTranspose)
}

// nnHalfViaF32 runs a float32 implementation on float16/bfloat16 data: the
// first widen inputs that have dtype half are widened to float32 (the others
// pass as they are), run gets an arena-less context (its outputs are
// scratch), and its first narrow outputs are rounded back to half into
// tensors from ctx.
func nnHalfViaF32(ctx *runtime.Context, in []*tensor.Tensor, half tensor.DType, widen, narrow int,
	run runtime.OpFunc) ([]*tensor.Tensor, error) {
	wide := make([]*tensor.Tensor, len(in))
	for i, t := range in {
		wide[i] = t
		if i < widen && t != nil && t.DType() == half {
			wide[i] = nnWiden(t)
		}
	}
	outs, err := run(runtime.NewContext(ctx.Threads), wide)
	if err != nil {
		return nil, err
	}
	for i := 0; i < narrow && i < len(outs); i++ {
		if outs[i] == nil {
			continue
		}
		if outs[i], err = nnNarrow(ctx, outs[i], half); err != nil {
			return nil, err
		}
	}
	return outs, nil
}

// nnIsHalf reports whether dt is a 16-bit float type.
func nnIsHalf(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

// nnWiden converts a float16 or bfloat16 tensor to a new float32 tensor.
func nnWiden(t *tensor.Tensor) *tensor.Tensor {
	out := make([]float32, t.Len())
	switch t.DType() {
	case tensor.Float16:
		for i, v := range tensor.Data[tensor.F16](t) {
			out[i] = v.Float32()
		}
	case tensor.BFloat16:
		for i, v := range tensor.Data[tensor.BF16](t) {
			out[i] = v.Float32()
		}
	}
	return tensor.FromSlice(t.Shape(), out)
}

// nnNarrow rounds a float32 tensor to dt (float16 or bfloat16), nearest even.
func nnNarrow(ctx *runtime.Context, t *tensor.Tensor, dt tensor.DType) (*tensor.Tensor, error) {
	out, err := ctx.Alloc(dt, t.Shape()...)
	if err != nil {
		return nil, err
	}
	src := t.F32()
	switch dt {
	case tensor.Float16:
		dst := tensor.Data[tensor.F16](out)
		for i, v := range src {
			dst[i] = tensor.NewF16(v)
		}
	case tensor.BFloat16:
		dst := tensor.Data[tensor.BF16](out)
		for i, v := range src {
			dst[i] = tensor.NewBF16(v)
		}
	}
	return out, nil
}

// nnSameDType checks that the non-nil inputs ts all have dtype dt.
func nnSameDType(dt tensor.DType, names []string, ts ...*tensor.Tensor) error {
	for i, t := range ts {
		if t != nil && t.DType() != dt {
			return fmt.Errorf("%s is %v, want %v like the first input", names[i], t.DType(), dt)
		}
	}
	return nil
}

// gemmKernel returns the GEMM kernel for element type T.
func gemmKernel[T gemmElem]() gemmFunc[T] {
	var k any
	var z T
	switch any(z).(type) {
	case float32:
		k = sgemm
	case float64:
		k = dgemm
	case int32:
		k = igemm
	default:
		return gemmBlocked[T]
	}
	return k.(gemmFunc[T])
}

// ---- Gemm ----

type gemmOp struct {
	name           string // "Gemm" or "FusedGemm", for messages
	transA, transB bool
	alpha, beta    float64
	act            fusedAct
	// constB is B's initializer seen at preparation (nil when computed);
	// packed caches it packed for the FP32 kernel.
	constB *tensor.Tensor
	packed packCache
}

func newGemm(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	g, err := newGemmOp(n)
	if err != nil {
		return nil, err
	}
	return runtime.OpFunc(g.run), nil
}

func newGemmOp(n *graph.Node) (*gemmOp, error) {
	g := &gemmOp{
		name:   n.OpType,
		transA: n.AttrInt("transA", 0) != 0,
		transB: n.AttrInt("transB", 0) != 0,
		alpha:  float64(n.AttrFloat("alpha", 1)),
		beta:   float64(n.AttrFloat("beta", 1)),
	}
	if b := n.Input(1); b != nil {
		g.constB = b.Const
	}
	return g, nil
}

func (g *gemmOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	a, b := in[0], in[1]
	var c *tensor.Tensor
	if len(in) > 2 {
		c = in[2]
	}
	if err := nnSameDType(a.DType(), []string{"B", "C"}, b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	var y *tensor.Tensor
	var err error
	switch dt := a.DType(); dt {
	case tensor.Float32:
		y, err = gemmTyped[float32](ctx, g, a, b, c)
	case tensor.Float64:
		y, err = gemmTyped[float64](ctx, g, a, b, c)
	case tensor.Int32:
		y, err = gemmTyped[int32](ctx, g, a, b, c)
	case tensor.Int64:
		y, err = gemmTyped[int64](ctx, g, a, b, c)
	case tensor.Uint32:
		y, err = gemmTyped[uint32](ctx, g, a, b, c)
	case tensor.Uint64:
		y, err = gemmTyped[uint64](ctx, g, a, b, c)
	case tensor.Float16, tensor.BFloat16:
		return nnHalfViaF32(ctx, in, dt, len(in), 1, g.run)
	default:
		err = fmt.Errorf("unsupported dtype %v", dt)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.name, err)
	}
	return []*tensor.Tensor{y}, nil
}

func gemmTyped[T gemmElem](ctx *runtime.Context, g *gemmOp, a, b, c *tensor.Tensor) (*tensor.Tensor, error) {
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, fmt.Errorf("A %v and B %v must be matrices", a.Shape(), b.Shape())
	}
	m, k := a.Shape()[0], a.Shape()[1]
	if g.transA {
		m, k = k, m
	}
	kb, n := b.Shape()[0], b.Shape()[1]
	if g.transB {
		kb, n = n, kb
	}
	if k != kb {
		return nil, fmt.Errorf("inner dimensions differ: op(A) is %dx%d, op(B) is %dx%d", m, k, kb, n)
	}
	if c != nil && !nnBroadcastsTo(c.Shape(), []int{m, n}) {
		return nil, fmt.Errorf("C %v does not broadcast to [%d %d]", c.Shape(), m, n)
	}
	y, err := ctx.AllocUninit(a.DType(), m, n) // every path writes all of Y
	if err != nil {
		return nil, err
	}
	yd := tensor.Data[T](y)
	if len(yd) == 0 {
		return y, nil
	}
	lda, ldb := a.Shape()[1], b.Shape()[1]
	if f32, ok := any(yd).([]float32); ok && gemmFastF32(ctx, g, m, n, k, a, b, c, f32) {
		return y, nil
	}
	beta := T(0)
	if c != nil {
		nnFillBroadcast(yd, []int{m, n}, c, T(g.beta))
		beta = 1
	}
	gemmKernel[T]()(g.transA, g.transB, m, n, k, T(g.alpha), tensor.Data[T](a), lda,
		tensor.Data[T](b), ldb, beta, yd, n, ctx.Threads)
	epilogueGo[T](yd, nil, g.act)
	return y, nil
}

// gemmFastF32 runs a float32 Gemm on the SIMD kernel with B packed once
// when it is constant, a C of shape [N] or [1, N] as a column bias, and
// the activation in the store. It reports false at the generic level.
func gemmFastF32(ctx *runtime.Context, g *gemmOp, m, n, k int, a, b, c *tensor.Tensor, y []float32) bool {
	kern := sgemmISA()
	if kern == nil || k == 0 {
		return false
	}
	call := sgemmCall{m: m, n: n, k: k, alpha: float32(g.alpha), a: a.F32(), lda: a.Shape()[1], transA: g.transA,
		b: b.F32(), ldb: b.Shape()[1], transB: g.transB, c: y, ldc: n,
		epi: sgemmEpilogue{clamp: g.act.clamp, lo: g.act.lo, hi: g.act.hi}}
	if packs := g.packed.get(b, g.constB, kern, func() []*sgemmPacked {
		return []*sgemmPacked{packSgemmB(kern, g.transB, k, n, b.F32(), b.Shape()[1], ctx.Threads)}
	}); packs != nil {
		call.packedB = packs[0]
	}
	if c != nil {
		cd := c.F32()
		switch {
		case c.Len() == n && (c.Rank() == 1 || c.Rank() == 2 && c.Shape()[0] == 1) && n > 1:
			if g.beta != 1 {
				scaled := make([]float32, n)
				for j, v := range cd {
					scaled[j] = float32(g.beta) * v
				}
				cd = scaled
			}
			call.epi.biasCol = cd
		default:
			nnFillBroadcast(y, []int{m, n}, c, float32(g.beta))
			call.accum = true
		}
	}
	call.run(ctx.Threads)
	return true
}

// nnBroadcastsTo reports whether shape src broadcasts unidirectionally to
// shape dst (NumPy rules, without changing dst).
func nnBroadcastsTo(src, dst []int) bool {
	bs, err := tensor.BroadcastShapes(dst, src)
	return err == nil && tensor.SameShape(bs, dst)
}

// nnFillBroadcast sets dst (of shape shape) to scale * src, with src
// broadcast to shape (checked by nnBroadcastsTo).
func nnFillBroadcast[T gemmElem](dst []T, shape []int, src *tensor.Tensor, scale T) {
	sd := tensor.Data[T](src)
	bc := tensor.NewBroadcaster(shape, src.Shape())
	for i := range dst {
		dst[i] = scale * sd[bc.Off[0]]
		bc.Next()
	}
}

// ---- MatMul ----

// matMulPlan is the batched product of MatMul-like ops: count products of
// [m, k] x [k, n] matrices, the i-th reading A at offA[i] and B at offB[i]
// (element offsets) and writing Y at i*m*n.
type matMulPlan struct {
	out        []int
	m, k, n    int
	offA, offB []int
}

// newMatMulPlan applies the numpy.matmul shape rules to shapes a and b.
// When B has no batch dimensions and A is contiguous, the batch folds into m.
func newMatMulPlan(a, b []int) (*matMulPlan, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("operands must have rank >= 1, got %v and %v", a, b)
	}
	aa, bb := a, b
	if len(a) == 1 {
		aa = []int{1, a[0]}
	}
	if len(b) == 1 {
		bb = []int{b[0], 1}
	}
	p := &matMulPlan{m: aa[len(aa)-2], k: aa[len(aa)-1], n: bb[len(bb)-1]}
	if kb := bb[len(bb)-2]; kb != p.k {
		return nil, fmt.Errorf("inner dimensions differ: %v x %v", a, b)
	}
	batchA, batchB := aa[:len(aa)-2], bb[:len(bb)-2]
	batch, err := tensor.BroadcastShapes(batchA, batchB)
	if err != nil {
		return nil, fmt.Errorf("batch dimensions of %v and %v do not broadcast", a, b)
	}
	p.out = append([]int(nil), batch...)
	if len(a) > 1 {
		p.out = append(p.out, p.m)
	}
	if len(b) > 1 {
		p.out = append(p.out, p.n)
	}
	if _, err := tensor.NumElements(p.out); err != nil {
		return nil, err
	}
	count := tensor.Product(batch)
	if tensor.Product(batchB) == 1 && tensor.SameShape(batchA, batch) {
		p.m *= count
		p.offA, p.offB = []int{0}, []int{0}
		return p, nil
	}
	bc := tensor.NewBroadcaster(batch, batchA, batchB)
	p.offA, p.offB = make([]int, count), make([]int, count)
	for i := range count {
		p.offA[i], p.offB[i] = bc.Off[0]*p.m*p.k, bc.Off[1]*p.k*p.n
		bc.Next()
	}
	return p, nil
}

// matMulRun computes y[i] = a[offA[i]] x b[offB[i]] with kernel: in parallel
// over the batch when it has at least ctx.Threads products, else with the
// kernel's own threads.
func matMulRun[T gemmElem](ctx *runtime.Context, p *matMulPlan, a, b, y []T, kernel gemmFunc[T]) {
	mn := p.m * p.n
	one := func(i, threads int) {
		kernel(false, false, p.m, p.n, p.k, 1, a[p.offA[i]:], p.k, b[p.offB[i]:], p.n, 0, y[i*mn:], p.n, threads)
	}
	if len(p.offA) >= ctx.Threads && ctx.Threads > 1 {
		ctx.ParallelFor(len(p.offA), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				one(i, 1)
			}
		})
		return
	}
	for i := range p.offA {
		one(i, ctx.Threads)
	}
}

func runMatMul(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("MatMul: %w", err)
	}
	a, b := in[0], in[1]
	if err := nnSameDType(a.DType(), []string{"B"}, b); err != nil {
		return nil, fmt.Errorf("MatMul: %w", err)
	}
	switch dt := a.DType(); dt {
	case tensor.Float32:
		return one(matMulTyped[float32](ctx, a, b))
	case tensor.Float64:
		return one(matMulTyped[float64](ctx, a, b))
	case tensor.Int32:
		return one(matMulTyped[int32](ctx, a, b))
	case tensor.Int64:
		return one(matMulTyped[int64](ctx, a, b))
	case tensor.Uint32:
		return one(matMulTyped[uint32](ctx, a, b))
	case tensor.Uint64:
		return one(matMulTyped[uint64](ctx, a, b))
	case tensor.Float16, tensor.BFloat16:
		return nnHalfViaF32(ctx, in, dt, len(in), 1, runMatMul)
	default:
		return nil, fmt.Errorf("MatMul: unsupported dtype %v", dt)
	}
}

func matMulTyped[T gemmElem](ctx *runtime.Context, a, b *tensor.Tensor) (*tensor.Tensor, error) {
	p, err := newMatMulPlan(a.Shape(), b.Shape())
	if err != nil {
		return nil, fmt.Errorf("MatMul: %w", err)
	}
	y, err := ctx.AllocUninit(a.DType(), p.out...) // beta 0: written, not read
	if err != nil {
		return nil, fmt.Errorf("MatMul: %w", err)
	}
	if y.Len() > 0 {
		matMulRun(ctx, p, tensor.Data[T](a), tensor.Data[T](b), tensor.Data[T](y), gemmKernel[T]())
	}
	return y, nil
}

// ---- convolution geometry ----

// convMaxSpatial is the largest number of spatial dimensions supported;
// smaller ranks are handled as 3-D with leading size-1 dimensions.
const convMaxSpatial = 3

// convGeom is a convolution resolved for concrete shapes. Spatial slices
// have convMaxSpatial entries (leading ones padded with size 1, stride 1,
// no padding).
type convGeom struct {
	batch, c, m, group int
	cg, mg             int // channels per group, in and out
	in, out, kernel    [convMaxSpatial]int
	strides, dil, pad  [convMaxSpatial]int // pad: at the beginning
	inSize, outSize    int                 // spatial element counts
	kSize              int                 // kernel element count
	// shuffle, when positive, has the blocked depthwise kernel read X's
	// channels through a channel shuffle of that many groups.
	shuffle int
}

// dwBlocked reports whether the float32 convolution g runs on the blocked
// depthwise kernel (gc_nchwc_dwconv, see convDepthwiseF32): 2-D (a depth
// of 1 in and out), one input and one output channel per group, at most
// nnMaxTaps taps, a scratch (padded input and output, 16 channels each)
// of at most dwMaxScratch floats, the blocked kernels active (nchwcKernels).
func (g *convGeom) dwBlocked() bool {
	if !g.planar() || g.cg != 1 || g.mg != 1 || g.group == 1 || g.kernel[1]*g.kernel[2] > nnMaxTaps || !nchwcKernels() {
		return false
	}
	return dwScratchFits(g.out, g.strides, g.dil, g.kernel[1], g.kernel[2])
}

// dwMaxScratch bounds the blocked depthwise kernel's scratch per thread
// (floats): 16 MB, far beyond any image a network convolves; a tiny image
// with huge dilations and pads goes plane by plane instead.
const dwMaxScratch = 1 << 22

// dwScratchFits reports whether gc_nchwc_dwconv's scratch for a 2-D
// window (out, strides and dilations lifted to convMaxSpatial, a kh x kw
// kernel) stays within dwMaxScratch: the padded input the outputs read,
// Hp x Wp, and the output, 16 channels each.
func dwScratchFits(out, strides, dil [convMaxSpatial]int, kh, kw int) bool {
	hp := (out[1]-1)*strides[1] + (kh-1)*dil[1] + 1
	wp := (out[2]-1)*strides[2] + (kw-1)*dil[2] + 1
	return (hp*wp+out[1]*out[2])*nchwcBlock <= dwMaxScratch
}

// planar reports whether g is a 2-D convolution: depth 1 in, out and in
// the kernel (a 3-D input of depth 1 with depth padding is not).
func (g *convGeom) planar() bool { return g.in[0] == 1 && g.kernel[0] == 1 && g.out[0] == 1 }

// shuffleChannels returns x (n images of c channels of size values) with
// its channels shuffled in groups groups: channel ch of the result is
// channel (ch % groups)*(c/groups) + ch/groups of x, the Reshape
// [n, groups, c/groups, ...] -> Transpose(0, 2, 1, ...) -> Reshape of
// ShuffleNet.
func shuffleChannels[T any](x []T, n, c, size, groups int) []T {
	out := make([]T, len(x))
	per := c / groups
	for img := 0; img < n; img++ {
		for ch := 0; ch < c; ch++ {
			src := (img*c + ch%groups*per + ch/groups) * size
			copy(out[(img*c+ch)*size:(img*c+ch+1)*size], x[src:src+size])
		}
	}
	return out
}

// nnLift pads a spatial slice to convMaxSpatial entries with fill in front.
func nnLift(v []int, fill int) [convMaxSpatial]int {
	var out [convMaxSpatial]int
	off := convMaxSpatial - len(v)
	for i := range out {
		if i < off {
			out[i] = fill
		} else {
			out[i] = v[i-off]
		}
	}
	return out
}

// newConvGeom resolves a Conv-like op: x is [N, C, in...], w is [M, C/group,
// k...]. transposed selects the ConvTranspose layout (w is [C, M/group, k...])
// and output rules; outPad and outShape are its output_padding and
// output_shape attributes (nil when absent).
func newConvGeom(win graph.Window, group int, x, w []int, transposed bool, outPad, outShape []int) (*convGeom, error) {
	rank := len(x) - 2
	if rank < 1 || rank > convMaxSpatial {
		return nil, fmt.Errorf("input %v: need 1 to %d spatial dimensions", x, convMaxSpatial)
	}
	if len(w) != len(x) {
		return nil, fmt.Errorf("weight %v and input %v differ in rank", w, x)
	}
	g := &convGeom{batch: x[0], c: x[1], group: group}
	if group < 1 || g.c%group != 0 {
		return nil, fmt.Errorf("group %d does not divide the %d input channels", group, g.c)
	}
	g.cg = g.c / group
	if transposed {
		g.mg, g.m = w[1], w[1]*group
		if w[0] != g.c {
			return nil, fmt.Errorf("weight %v: dimension 0 must equal the %d input channels", w, g.c)
		}
	} else {
		g.m = w[0]
		if g.m%group != 0 || w[1] != g.cg {
			return nil, fmt.Errorf("weight %v does not fit %d input channels in %d groups", w, g.c, group)
		}
		g.mg = g.m / group
	}
	win, err := win.Spatial(rank, w[2:])
	if err != nil {
		return nil, err
	}
	out := make([]int, rank)
	pad := make([]int, rank)
	for i := range rank {
		if transposed {
			want := -1
			if outShape != nil {
				want = outShape[len(outShape)-rank+i]
			}
			out[i], pad[i], err = win.TransposeAxis(i, x[2+i], outPad[i], want)
		} else {
			out[i], pad[i], _, err = win.Axis(i, x[2+i])
		}
		if err != nil {
			return nil, err
		}
	}
	g.in, g.out, g.kernel = nnLift(x[2:], 1), nnLift(out, 1), nnLift(win.Kernel, 1)
	g.strides, g.dil, g.pad = nnLift(win.Strides, 1), nnLift(win.Dilations, 1), nnLift(pad, 0)
	g.inSize, g.outSize, g.kSize = tensor.Product(x[2:]), tensor.Product(out), tensor.Product(win.Kernel)
	return g, nil
}

// outShape returns [N, M, out...] with the original spatial rank.
func (g *convGeom) outShape(rank int) []int {
	return append([]int{g.batch, g.m}, g.out[convMaxSpatial-rank:]...)
}

// pointwise reports whether im2col would be the identity (1x1 kernel, unit
// strides, no padding).
func (g *convGeom) pointwise() bool {
	return g.kSize == 1 && g.in == g.out && g.pad == [convMaxSpatial]int{}
}

// convValidRange returns the outputs o in [0, outN) whose input o*s + off lies in
// [0, inN).
func convValidRange(outN, inN, s, off int) (lo, hi int) {
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	hi = min(outN, (inN-off+s-1)/s)
	if inN-off <= 0 {
		hi = 0
	}
	return min(lo, hi), hi
}

// im2col writes the column matrix of one image's group: row
// ((c*kd + kz)*kh + ky)*kw + kx, column (oz*oh + oy)*ow + ox holds
// x[c, oz*sd + kz*dd - pd, ...] (0 outside the input).
func im2col[T gemmElem](ctx *runtime.Context, g *convGeom, x, col []T) {
	rows := g.cg * g.kSize
	ctx.ParallelFor(rows, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			im2colRow(g, r, x, col[r*g.outSize:(r+1)*g.outSize])
		}
	})
}

func im2colRow[T gemmElem](g *convGeom, r int, x, dst []T) {
	kx := r % g.kernel[2]
	ky := r / g.kernel[2] % g.kernel[1]
	kz := r / (g.kernel[2] * g.kernel[1]) % g.kernel[0]
	c := r / g.kSize
	xc := x[c*g.inSize : (c+1)*g.inSize]
	offX := kx*g.dil[2] - g.pad[2]
	xlo, xhi := convValidRange(g.out[2], g.in[2], g.strides[2], offX)
	sx := g.strides[2]
	for oz := 0; oz < g.out[0]; oz++ {
		iz := oz*g.strides[0] + kz*g.dil[0] - g.pad[0]
		for oy := 0; oy < g.out[1]; oy++ {
			iy := oy*g.strides[1] + ky*g.dil[1] - g.pad[1]
			row := dst[(oz*g.out[1]+oy)*g.out[2] : (oz*g.out[1]+oy+1)*g.out[2]]
			if iz < 0 || iz >= g.in[0] || iy < 0 || iy >= g.in[1] {
				clear(row)
				continue
			}
			src := xc[(iz*g.in[1]+iy)*g.in[2] : (iz*g.in[1]+iy+1)*g.in[2]]
			clear(row[:xlo])
			clear(row[xhi:])
			if xlo == xhi {
				continue
			}
			if sx == 1 {
				copy(row[xlo:xhi], src[xlo+offX:xhi+offX])
				continue
			}
			for ox := xlo; ox < xhi; ox++ {
				row[ox] = src[ox*sx+offX]
			}
		}
	}
}

// convForward computes y (N x M x out) = conv(x, w) + bias (nil: none).
func convForward[T gemmElem](ctx *runtime.Context, g *convGeom, x, w, bias, y []T) {
	if g.cg == 1 && g.group > 1 {
		convDepthwise(ctx, g, x, w, bias, y)
		return
	}
	kernel := gemmKernel[T]()
	kdim := g.cg * g.kSize
	var col []T
	if !g.pointwise() {
		col = make([]T, kdim*g.outSize)
	}
	for n := 0; n < g.batch; n++ {
		for grp := 0; grp < g.group; grp++ {
			xg := x[(n*g.c+grp*g.cg)*g.inSize:]
			b := xg
			if col != nil {
				im2col(ctx, g, xg, col)
				b = col
			}
			yg := y[(n*g.m+grp*g.mg)*g.outSize : (n*g.m+(grp+1)*g.mg)*g.outSize]
			beta := T(0)
			if bias != nil {
				nnFillRows(yg, bias[grp*g.mg:(grp+1)*g.mg], g.outSize)
				beta = 1
			}
			kernel(false, false, g.mg, g.outSize, kdim, 1, w[grp*g.mg*kdim:], kdim, b, g.outSize, beta, yg, g.outSize, ctx.Threads)
		}
	}
}

// nnFillRows sets row i of y (rows of length size) to v[i].
func nnFillRows[T gemmElem](y, v []T, size int) {
	for i, b := range v {
		row := y[i*size : (i+1)*size]
		for j := range row {
			row[j] = b
		}
	}
}

// convDepthwise is the direct convolution for one input channel per group
// (output channel m reads input channel m / mg), parallel over the
// N*M output planes.
func convDepthwise[T gemmElem](ctx *runtime.Context, g *convGeom, x, w, bias, y []T) {
	ctx.ParallelFor(g.batch*g.m, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			n, m := p/g.m, p%g.m
			plane := y[p*g.outSize : (p+1)*g.outSize]
			if bias != nil {
				nnFillRows(plane, bias[m:m+1], g.outSize)
			} else {
				clear(plane)
			}
			xc := x[(n*g.c+m/g.mg)*g.inSize : (n*g.c+m/g.mg+1)*g.inSize]
			convPlane(g, xc, w[m*g.kSize:(m+1)*g.kSize], plane)
		}
	})
}

// convPlane adds the correlation of one input plane xc with one kernel wk
// into the output plane out.
func convPlane[T gemmElem](g *convGeom, xc, wk, out []T) {
	for oz := 0; oz < g.out[0]; oz++ {
		for oy := 0; oy < g.out[1]; oy++ {
			row := out[(oz*g.out[1]+oy)*g.out[2] : (oz*g.out[1]+oy+1)*g.out[2]]
			for kz := 0; kz < g.kernel[0]; kz++ {
				iz := oz*g.strides[0] + kz*g.dil[0] - g.pad[0]
				if iz < 0 || iz >= g.in[0] {
					continue
				}
				for ky := 0; ky < g.kernel[1]; ky++ {
					iy := oy*g.strides[1] + ky*g.dil[1] - g.pad[1]
					if iy < 0 || iy >= g.in[1] {
						continue
					}
					src := xc[(iz*g.in[1]+iy)*g.in[2] : (iz*g.in[1]+iy+1)*g.in[2]]
					wrow := wk[(kz*g.kernel[1]+ky)*g.kernel[2] : (kz*g.kernel[1]+ky+1)*g.kernel[2]]
					convRowAxpy(g, src, wrow, row)
				}
			}
		}
	}
}

// convRowAxpy adds sum_kx wrow[kx] * src[ox*s + kx*d - p] into row.
func convRowAxpy[T gemmElem](g *convGeom, src, wrow, row []T) {
	s := g.strides[2]
	for kx, wv := range wrow {
		off := kx*g.dil[2] - g.pad[2]
		lo, hi := convValidRange(len(row), len(src), s, off)
		if lo == hi {
			continue
		}
		if s == 1 {
			seg := src[lo+off : hi+off]
			for i, v := range seg {
				row[lo+i] += wv * v
			}
			continue
		}
		for ox := lo; ox < hi; ox++ {
			row[ox] += wv * src[ox*s+off]
		}
	}
}

// ---- Conv ----

type convOp struct {
	win   graph.Window
	group int
	// act is the activation fused into the epilogue (FusedConv).
	act fusedAct
	// constW is the weight initializer seen at preparation (nil when the
	// weights are computed); packed caches it packed for the FP32 kernel.
	constW *tensor.Tensor
	packed packCache
	// packedT caches the weights transposed (as op(B)) for convolutions
	// with few output cells.
	packedT packCache
	// dwPacked caches depthwise weights packed for the blocked depthwise
	// kernel (packDepthwise; the key: taps per channel).
	dwPacked constPack[int, []float32]
	// preRelu: FusedConv's pre-activation prologue ends with Relu.
	preRelu bool
	// shuffle is FusedConv's shuffle_groups: X's channels are read through
	// a channel shuffle of that many groups (0: as they are).
	shuffle int
}

func newConv(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op, err := newConvOp(n)
	if err != nil {
		return nil, fmt.Errorf("Conv: %w", err)
	}
	return runtime.OpFunc(op.run), nil
}

func newConvOp(n *graph.Node) (*convOp, error) {
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil, err
	}
	op := &convOp{win: win, group: int(n.AttrInt("group", 1))}
	if op.group < 1 {
		return nil, fmt.Errorf("group %d must be >= 1", op.group)
	}
	if w := n.Input(1); w != nil {
		op.constW = w.Const
	}
	return op, nil
}

func (op *convOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	y, err := op.conv(ctx, in, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("Conv: %w", err)
	}
	return []*tensor.Tensor{y}, nil
}

// conv computes act(Conv(pre(x), w, b) + z) (z nil: none; act from the
// op; pre nil: none, else the per-channel prologue of FusedConv: 2*C
// values, see sgemmCall.pre, with op.pre.relu).
func (op *convOp) conv(ctx *runtime.Context, in []*tensor.Tensor, z *tensor.Tensor, pre []float32) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	if err := nnSameDType(x.DType(), []string{"W", "B", "Z"}, w, b, z); err != nil {
		return nil, err
	}
	if pre != nil && (x.Rank() < 2 || len(pre) != 2*x.Shape()[1]) {
		return nil, fmt.Errorf("pre-activation has %d channels, X %v", len(pre)/2, x.Shape())
	}
	switch dt := x.DType(); dt {
	case tensor.Float32:
		return convTyped[float32](ctx, op, x, w, b, z, pre)
	case tensor.Float64:
		return convTyped[float64](ctx, op, x, w, b, z, pre)
	case tensor.Float16, tensor.BFloat16:
		args := append(append([]*tensor.Tensor(nil), in...), z)
		outs, err := nnHalfViaF32(ctx, args, dt, len(args), 1, func(c *runtime.Context, wide []*tensor.Tensor) ([]*tensor.Tensor, error) {
			n := len(wide) - 1
			y, err := op.conv(c, wide[:n], wide[n], pre)
			return []*tensor.Tensor{y}, err
		})
		if err != nil {
			return nil, err
		}
		return outs[0], nil
	default:
		return nil, fmt.Errorf("unsupported dtype %v", dt)
	}
}

// nnBias checks an optional per-output-channel bias of m values and returns
// its data (nil when absent).
func nnBias[T gemmElem](b *tensor.Tensor, m int) ([]T, error) {
	if b == nil {
		return nil, nil
	}
	if b.Len() != m || b.Rank() != 1 {
		return nil, fmt.Errorf("bias %v must have shape [%d]", b.Shape(), m)
	}
	return tensor.Data[T](b), nil
}

func convTyped[T gemmElem](ctx *runtime.Context, op *convOp, x, w, b, z *tensor.Tensor, pre []float32) (*tensor.Tensor, error) {
	g, err := newConvGeom(op.win, op.group, x.Shape(), w.Shape(), false, nil, nil)
	if err != nil {
		return nil, err
	}
	bias, err := nnBias[T](b, g.m)
	if err != nil {
		return nil, err
	}
	shape := g.outShape(x.Rank() - 2)
	if z != nil && !tensor.SameShape(z.Shape(), shape) {
		return nil, fmt.Errorf("summand Z %v must have the output shape %v", z.Shape(), shape)
	}
	y, err := ctx.AllocUninit(x.DType(), shape...) // every path writes all of Y
	if err != nil {
		return nil, err
	}
	if y.Len() == 0 {
		return y, nil
	}
	var zd []T
	if z != nil {
		zd = tensor.Data[T](z)
	}
	xd, wd, yd := tensor.Data[T](x), tensor.Data[T](w), tensor.Data[T](y)
	if op.shuffle > 0 {
		if g.c%op.shuffle != 0 {
			return nil, fmt.Errorf("shuffle_groups %d does not divide X's %d channels", op.shuffle, g.c)
		}
		// the blocked depthwise kernel reads the planes shuffled; any other
		// path gets a shuffled copy
		if _, f32 := any(xd).([]float32); f32 && pre == nil && g.dwBlocked() {
			g.shuffle = op.shuffle
		} else {
			xd = shuffleChannels(xd, g.batch, g.c, g.inSize, op.shuffle)
		}
	}
	if f32, ok := any(xd).([]float32); ok && convFastF32(ctx, op, g, w, f32, any(bias).([]float32), any(zd).([]float32), any(yd).([]float32), pre) {
		return y, nil
	}
	if pre != nil {
		xd = preApplyTensor(xd, pre, op.preRelu, g.batch, g.c, g.inSize)
	}
	convForward(ctx, g, xd, wd, bias, yd)
	epilogueGo(yd, zd, op.act)
	return y, nil
}

// ---- ConvTranspose ----

type convTransposeOp struct {
	win              graph.Window
	group            int
	outPad, outShape []int
}

func newConvTranspose(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	op := &convTransposeOp{win: win, group: int(n.AttrInt("group", 1)),
		outPad: n.AttrIntsAsInts("output_padding", nil), outShape: n.AttrIntsAsInts("output_shape", nil)}
	if op.group < 1 {
		return nil, fmt.Errorf("ConvTranspose: group %d must be >= 1", op.group)
	}
	for _, v := range append(append([]int(nil), op.outPad...), op.outShape...) {
		if v < 0 || v > 1<<31 {
			return nil, fmt.Errorf("ConvTranspose: output_padding %v / output_shape %v out of range", op.outPad, op.outShape)
		}
	}
	return runtime.OpFunc(op.run), nil
}

func (op *convTransposeOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	x, w := in[0], in[1]
	var b *tensor.Tensor
	if len(in) > 2 {
		b = in[2]
	}
	if err := nnSameDType(x.DType(), []string{"W", "B"}, w, b); err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	switch dt := x.DType(); dt {
	case tensor.Float32:
		return one(convTransposeTyped[float32](ctx, op, x, w, b))
	case tensor.Float64:
		return one(convTransposeTyped[float64](ctx, op, x, w, b))
	case tensor.Float16, tensor.BFloat16:
		return nnHalfViaF32(ctx, in, dt, len(in), 1, op.run)
	default:
		return nil, fmt.Errorf("ConvTranspose: unsupported dtype %v", dt)
	}
}

// geom resolves the geometry for input x and weight w.
func (op *convTransposeOp) geom(x, w []int) (*convGeom, error) {
	rank := len(x) - 2
	outPad := op.outPad
	if outPad == nil {
		outPad = make([]int, max(rank, 0))
	}
	if len(outPad) != rank {
		return nil, fmt.Errorf("output_padding %v needs %d values", outPad, rank)
	}
	if op.outShape != nil && len(op.outShape) != rank && len(op.outShape) != rank+2 {
		return nil, fmt.Errorf("output_shape %v needs %d spatial values", op.outShape, rank)
	}
	return newConvGeom(op.win, op.group, x, w, true, outPad, op.outShape)
}

func convTransposeTyped[T gemmElem](ctx *runtime.Context, op *convTransposeOp, x, w, b *tensor.Tensor) (*tensor.Tensor, error) {
	g, err := op.geom(x.Shape(), w.Shape())
	if err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	bias, err := nnBias[T](b, g.m)
	if err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	y, err := ctx.Alloc(x.DType(), g.outShape(x.Rank()-2)...)
	if err != nil {
		return nil, fmt.Errorf("ConvTranspose: %w", err)
	}
	if y.Len() > 0 {
		convTransposeForward(ctx, g, tensor.Data[T](x), tensor.Data[T](w), bias, tensor.Data[T](y))
	}
	return y, nil
}

// convTransposeForward computes, per image and group, the columns
// W_g^T (mg*kSize x cg) * X_g (cg x inSize) and scatters them into y.
func convTransposeForward[T gemmElem](ctx *runtime.Context, g *convGeom, x, w, bias, y []T) {
	kernel := gemmKernel[T]()
	rows := g.mg * g.kSize
	col := make([]T, rows*g.inSize)
	for n := 0; n < g.batch; n++ {
		for grp := 0; grp < g.group; grp++ {
			xg := x[(n*g.c+grp*g.cg)*g.inSize:]
			kernel(true, false, rows, g.inSize, g.cg, 1, w[grp*g.cg*rows:], rows, xg, g.inSize, 0, col, g.inSize, ctx.Threads)
			yg := y[(n*g.m+grp*g.mg)*g.outSize : (n*g.m+(grp+1)*g.mg)*g.outSize]
			if bias != nil {
				nnFillRows(yg, bias[grp*g.mg:(grp+1)*g.mg], g.outSize)
			}
			ctx.ParallelFor(g.mg, func(lo, hi int) {
				for m := lo; m < hi; m++ {
					col2imChannel(g, col[m*g.kSize*g.inSize:(m+1)*g.kSize*g.inSize], yg[m*g.outSize:(m+1)*g.outSize])
				}
			})
		}
	}
}

// col2imChannel adds the kSize column rows of one output channel into its
// plane: row (kz, ky, kx), input cell (iz, iy, ix) goes to output cell
// (iz*sd + kz*dd - pd, ...) when that lies inside the output.
func col2imChannel[T gemmElem](g *convGeom, col, plane []T) {
	for r := 0; r < g.kSize; r++ {
		kx := r % g.kernel[2]
		ky := r / g.kernel[2] % g.kernel[1]
		kz := r / (g.kernel[2] * g.kernel[1])
		src := col[r*g.inSize : (r+1)*g.inSize]
		offX := kx*g.dil[2] - g.pad[2]
		for iz := 0; iz < g.in[0]; iz++ {
			oz := iz*g.strides[0] + kz*g.dil[0] - g.pad[0]
			if oz < 0 || oz >= g.out[0] {
				continue
			}
			for iy := 0; iy < g.in[1]; iy++ {
				oy := iy*g.strides[1] + ky*g.dil[1] - g.pad[1]
				if oy < 0 || oy >= g.out[1] {
					continue
				}
				dst := plane[(oz*g.out[1]+oy)*g.out[2] : (oz*g.out[1]+oy+1)*g.out[2]]
				line := src[(iz*g.in[1]+iy)*g.in[2] : (iz*g.in[1]+iy+1)*g.in[2]]
				for ix, v := range line {
					if ox := ix*g.strides[2] + offX; ox >= 0 && ox < len(dst) {
						dst[ox] += v
					}
				}
			}
		}
	}
}
