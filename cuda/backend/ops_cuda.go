//go:build gcompress_cuda

package backend

import (
	"fmt"
	"sync"
	"time"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// call holds the device buffers of one GPU op run.
type call struct {
	b    *Backend
	bufs []*cuda.Buffer
}

func (c *call) free() {
	for _, buf := range c.bufs {
		buf.Free()
	}
}

// upload copies raw bytes to a new device buffer.
func (c *call) upload(data []byte) (cuda.Mem, error) {
	buf, err := cuda.Upload(c.b.Dev, data)
	if err != nil {
		return cuda.Mem{}, err
	}
	c.bufs = append(c.bufs, buf)
	return buf.Mem(), nil
}

// alloc returns device memory for an output.
func (c *call) alloc(n int64) (cuda.Mem, error) {
	buf, err := c.b.Dev.Alloc(max(n, 1))
	if err != nil {
		return cuda.Mem{}, err
	}
	c.bufs = append(c.bufs, buf)
	return buf.Mem(), nil
}

// inOut uploads the input x and allocates device memory for the output y.
func (c *call) inOut(x, y *tensor.Tensor) (xm, ym cuda.Mem, err error) {
	if xm, err = c.upload(x.RawBytes()); err != nil {
		return xm, ym, err
	}
	ym, err = c.alloc(y.Bytes())
	return xm, ym, err
}

// fetch copies a device result into the host tensor t (waiting for the
// kernels queued before it).
func (c *call) fetch(t *tensor.Tensor, m cuda.Mem) error {
	return c.b.Dev.CopyOut(t.RawBytes(), m)
}

// transposePad turns a constant K x N weight (row-major) into the N x K
// layout of operand B with rows padded to ld elements.
func transposePad(src []byte, k, n, ld, esize int) []byte {
	out := make([]byte, n*ld*esize)
	for p := 0; p < k; p++ {
		for j := 0; j < n; j++ {
			copy(out[(j*ld+p)*esize:(j*ld+p+1)*esize], src[(p*n+j)*esize:(p*n+j+1)*esize])
		}
	}
	return out
}

// gemmOp is a GEMM with a constant weight W (K x N in the model) and the
// activation A from the node's first input: Y = A·W. The weight is on the
// device as the kernels' operand B (N x ldb, transposed and padded), or,
// where it is 2:4 sparse along K and the device has the sparse kernels, as
// their 2:4 operand A: then the kernel computes Yᵀ = Wᵀ·Aᵀ (M and N
// swapped, the activation as its operand B) and writes it transposed,
// which is Y. With Sparse24Auto it is there both ways, and auto holds
// which GEMM runs at each row count.
type gemmOp struct {
	b         *Backend
	in        ref.Elem
	dt        tensor.DType // dtype of A (and W)
	outDT     tensor.DType
	k, n, ldb int
	w         cuda.Mem
	sp        *sparseWeight
	auto      *sparse24Auto
	epi       gobind.Epilogue // Out, Scale, Bias, ZeroPoint (C and strides per run)
	name      string          // the op type, for errors
	node      string          // the node's name, for Sparse24Choice
}

// sparse24Auto remembers, per bucket of row counts (rowBucket), whether
// the 2:4 GEMM was not slower than the dense one (Sparse24Auto).
type sparse24Auto struct {
	mu     sync.Mutex
	sparse map[int]bool
}

// sparseWeight is Wᵀ in the 2:4 layout (ref.Sparse24, values and metadata
// k tile by k tile: compressWeight), K padded to the format's alignment k.
type sparseWeight struct {
	values, meta         cuda.Mem
	k                    int
	ldv, ldvk, lde, ldek int64 // the strides (compressedWeight)
}

// newGemmOp uploads the weight w (K x N): compressed where it is 2:4 along K
// and the device runs the 2:4 GEMMs of its type, else transposed and
// padded; with Sparse24Auto a 2:4 weight both ways.
func newGemmOp(b *Backend, node *graph.Node, in ref.Elem, w *tensor.Tensor, out ref.Out, outDT tensor.DType) (*gemmOp, error) {
	k, n := w.Shape()[0], w.Shape()[1]
	g := &gemmOp{b: b, in: in, dt: w.DType(), outDT: outDT, k: k, n: n, epi: gobind.Epilogue{Out: out}, name: node.OpType,
		node: node.Name}
	if b.sparse24 != Sparse24Off && b.K.DefaultTile(true, in) != "" {
		if c, ok := compressWeight(w, in); ok {
			vb, err := b.constant(c.values)
			if err != nil {
				return nil, err
			}
			mb, err := b.constant(c.meta)
			if err != nil {
				return nil, err
			}
			g.sp = &sparseWeight{values: vb.Mem(), meta: mb.Mem(), k: c.k, ldv: int64(c.ldv), ldvk: int64(c.ldvk), lde: int64(c.lde),
				ldek: int64(c.ldek)}
			if b.sparse24 != Sparse24Auto {
				return g, nil
			}
			g.auto = &sparse24Auto{sparse: map[int]bool{}}
		}
	}
	es := int(in.Bytes())
	g.ldb = roundUp(k, 16/es)
	buf, err := b.constant(transposePad(w.RawBytes(), k, n, g.ldb, es))
	if err != nil {
		return nil, err
	}
	g.w = buf.Mem()
	return g, nil
}

// run multiplies A [..., M, K] (the node's first input) by the weight:
// Y [..., M, N].
func (g *gemmOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, bool, error) {
	a := in[0]
	sh := a.Shape()
	if a.DType() != g.dt || len(sh) < 2 || sh[len(sh)-1] != g.k {
		return nil, false, nil
	}
	y, err := ctx.Alloc(g.outDT, append(append([]int(nil), sh[:len(sh)-1]...), g.n)...)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", g.name, err)
	}
	return []*tensor.Tensor{y}, true, g.gemm(a.RawBytes(), a.Len()/g.k, g.epi, y.RawBytes())
}

// gemm multiplies m rows of a (m x K elements of the kernels' input type,
// packed) by the weight into out (m x N elements of e.Out's type, packed),
// with e's scale, bias and zero point (its output and strides are set
// here).
func (g *gemmOp) gemm(a []byte, m int, e gobind.Epilogue, out []byte) error {
	if m == 0 {
		return nil
	}
	c := &call{b: g.b}
	defer c.free()
	useSparse, decided := g.sp != nil, true
	if g.auto != nil {
		useSparse, decided = g.auto.choice(m)
	}
	es := int(g.in.Bytes())
	lda := roundUp(g.k, 16/es)
	if useSparse {
		lda = g.sp.k // the zeros past K meet the weight's padding
	}
	am, err := c.upload(padRows(a, m, g.k, lda, es))
	if err != nil {
		return err
	}
	cm, err := c.alloc(int64(len(out)))
	if err != nil {
		return err
	}
	e.C = cm
	sparse := func() error {
		// Yᵀ = Wᵀ·Aᵀ: output row i is Y's column i (so are the epilogue
		// vectors' entries), stored transposed.
		se := e
		se.LdCM, se.LdCN, se.Axis = 1, int64(g.n), ref.PerRow
		return g.b.K.SparseGemm(nil, &gobind.SparseGemmArgs{In: g.in, M: int64(g.n), N: int64(m), K: int64(g.sp.k),
			AValues: g.sp.values, LdV: g.sp.ldv, LdVK: g.sp.ldvk, AMeta: g.sp.meta, LdE: g.sp.lde, LdEK: g.sp.ldek, B: am,
			LdB: int64(lda), Epilogue: se})
	}
	dense := func() error {
		de := e
		de.LdCM, de.LdCN = int64(g.n), 1
		return g.b.K.Gemm(nil, &gobind.GemmArgs{In: g.in, M: int64(m), N: int64(g.n), K: int64(g.k), A: am, LdA: int64(lda),
			B: g.w, LdB: int64(g.ldb), Epilogue: de})
	}
	if !decided {
		useSparse = g.pick(m, sparse, dense)
	}
	run := dense
	if useSparse {
		run = sparse
	}
	if err := run(); err != nil {
		return fmt.Errorf("%s: %w", g.name, err)
	}
	return g.b.Dev.CopyOut(out, cm)
}

// choice returns Sparse24Auto's choice for m's bucket of row counts
// (rowBucket), and whether there is one yet (if not, the 2:4 GEMM, whose
// A padding the dense one also takes, until pick has timed both).
func (a *sparse24Auto) choice(m int) (useSparse, decided bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sparse[rowBucket(m)]
	return s || !ok, ok
}

// pick reports whether the 2:4 GEMM runs at m rows under Sparse24Auto:
// whether it was not slower in m's bucket of row counts, both timed now
// (Backend.time) at m if the bucket is new (another run may have timed it
// since choice). Where a timing fails, the 2:4 GEMM runs, as it would
// without auto, and the bucket keeps it.
func (g *gemmOp) pick(m int, sparse, dense func() error) bool {
	g.auto.mu.Lock()
	defer g.auto.mu.Unlock()
	bucket := rowBucket(m)
	if useSparse, ok := g.auto.sparse[bucket]; ok {
		return useSparse
	}
	useSparse := true
	ts, err := g.b.time(sparse)
	if err == nil {
		var td time.Duration
		if td, err = g.b.time(dense); err == nil {
			c := newSparse24Choice(g.name, g.node, g.k, g.n, m, ts, td)
			useSparse = c.Sparse
			g.b.addChoice(c)
		}
	}
	g.auto.sparse[bucket] = useSparse
	return useSparse
}

// MatMulInteger: int8 A, constant int8 B, zero points absent or zero.
func newMatMulInteger(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	w := constWeight(n, 1, tensor.Int8)
	if w == nil || !isZeroConst(n.Input(2)) || !isZeroConst(n.Input(3)) {
		return nil, nil
	}
	return newGemmOp(b, n, ref.S8, w, ref.OutS32, tensor.Int32)
}

// QLinearMatMul: int8 A with zero zero point, constant int8 B with zero
// zero points, constant scales; y = requant(acc) with the multiplier
// fl32(fl32(a_scale*b_scale[n]) / y_scale) (the CPU backend's float32
// multiplier; the GPU rounds acc*multiplier in float32, the CPU in float64,
// so an output may differ by one on a rounding tie).
func newQLinearMatMul(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	w := constWeight(n, 3, tensor.Int8)
	if w == nil || !isZeroConst(n.Input(2)) || !isZeroConst(n.Input(5)) {
		return nil, nil
	}
	as, bs, ys := graph.ConstTensor(n.Input(1)), graph.ConstTensor(n.Input(4)), graph.ConstTensor(n.Input(6))
	yzp := graph.ConstTensor(n.Input(7))
	cols := w.Shape()[1]
	if as == nil || bs == nil || ys == nil || yzp == nil || as.Len() != 1 || ys.Len() != 1 || yzp.Len() != 1 ||
		yzp.DType() != tensor.Int8 || (bs.Len() != 1 && bs.Len() != cols) {
		return nil, nil
	}
	scale := make([]float32, cols)
	for j := range scale {
		bj := bs.Float64At(0)
		if bs.Len() > 1 {
			bj = bs.Float64At(j)
		}
		scale[j] = float32(as.Float64At(0)) * float32(bj) / float32(ys.Float64At(0))
	}
	g, err := newGemmOp(b, n, ref.S8, w, ref.OutS8, tensor.Int8)
	if err != nil {
		return nil, err
	}
	sb, err := b.constant(rawCopy(scale))
	if err != nil {
		return nil, err
	}
	g.epi.Scale, g.epi.ZeroPoint = sb.Mem(), int64(yzp.Float64At(0))
	return g, nil
}

// qgemmOp runs a com.microsoft QGemm on the int8 GEMMs (qgemmPlan): A
// shifted to int8 on the host, the weight on the device once (2:4 where it
// is), the requantization in the kernel's epilogue or, for a float output,
// the bias and scales on the host.
type qgemmOp struct {
	g *gemmOp
	p *qgemmPlan
}

func newQGemm(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	p := planQGemm(n)
	if p == nil {
		return nil, nil
	}
	g, err := newGemmOp(b, n, ref.S8, p.w, ref.OutS32, tensor.Int32)
	if err != nil {
		return nil, err
	}
	if p.yDT != tensor.Float32 {
		sb, err := b.constant(rawCopy(p.scale))
		if err != nil {
			return nil, err
		}
		bb, err := b.constant(rawCopy(p.bias))
		if err != nil {
			return nil, err
		}
		g.epi = gobind.Epilogue{Out: ref.OutS8, Scale: sb.Mem(), Bias: bb.Mem(), ZeroPoint: p.zp}
	}
	return &qgemmOp{g: g, p: p}, nil
}

func (op *qgemmOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, bool, error) {
	g, p, a := op.g, op.p, in[0]
	if a.DType() != p.aDT || a.Rank() != 2 || a.Shape()[1] != g.k {
		return nil, false, nil
	}
	m := a.Shape()[0]
	y, err := ctx.Alloc(p.yDT, m, g.n)
	if err != nil {
		return nil, true, fmt.Errorf("QGemm: %w", err)
	}
	if p.yDT != tensor.Float32 {
		if err := g.gemm(p.signedA(a.RawBytes()), m, g.epi, y.RawBytes()); err != nil {
			return nil, true, err
		}
		if p.yDT == tensor.Uint8 {
			unsignedOut(y.RawBytes())
		}
		return []*tensor.Tensor{y}, true, nil
	}
	acc := tensor.MustNew(tensor.Int32, m, g.n)
	if err := g.gemm(p.signedA(a.RawBytes()), m, g.epi, acc.RawBytes()); err != nil {
		return nil, true, err
	}
	p.floatOut(tensor.Data[int32](acc), y.F32())
	return []*tensor.Tensor{y}, true, nil
}

// qconvOp runs an ONNX QLinearConv on the GPU (qconvPlan): the batch of
// images uploaded at once, then per image gc_im2col_s8 and the int8 GEMM
// with the weight on the device once (qconvPlan.steps).
type qconvOp struct {
	b *Backend
	p *qconvPlan
	d qconvDevice
}

func newQLinearConv(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	p := planQLinearConv(n)
	if p == nil {
		return nil, nil
	}
	d := qconvDevice{ld: roundUp(p.w.Shape()[1], 16)}
	wb, err := b.constant(p.deviceWeight(d.ld))
	if err != nil {
		return nil, err
	}
	sb, err := b.constant(rawCopy(p.mult))
	if err != nil {
		return nil, err
	}
	bb, err := b.constant(rawCopy(p.bias))
	if err != nil {
		return nil, err
	}
	d.w, d.mult, d.bias = wb.Mem(), sb.Mem(), bb.Mem()
	return &qconvOp{b: b, p: p, d: d}, nil
}

func (op *qconvOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, bool, error) {
	x := in[0]
	g, ok := op.p.geometry(x.Shape())
	if x.DType() != op.p.xDT || !ok {
		return nil, false, nil
	}
	y, err := ctx.Alloc(op.p.yDT, x.Shape()[0], op.p.w.Shape()[0], g.OH, g.OW)
	if err != nil {
		return nil, true, fmt.Errorf("QLinearConv: %w", err)
	}
	if y.Len() == 0 {
		return []*tensor.Tensor{y}, true, nil
	}
	if err := op.conv(x, g, y); err != nil {
		return nil, true, fmt.Errorf("QLinearConv: %w", err)
	}
	if op.p.yDT == tensor.Uint8 {
		unsignedOut(y.RawBytes())
	}
	return []*tensor.Tensor{y}, true, nil
}

// conv runs the convolution of the images x (geometry g each) into y; the
// GEMMs name no tile shape, so they move on to the next shape where the
// default fails to load, as every GEMM of the backend does.
func (op *qconvOp) conv(x *tensor.Tensor, g ref.Im2col, y *tensor.Tensor) error {
	c := &call{b: op.b}
	defer c.free()
	xm, ym, err := c.inOut(x, y)
	if err != nil {
		return err
	}
	cols, err := c.alloc(int64(g.OH * g.OW * op.d.ld))
	if err != nil {
		return err
	}
	steps, err := op.p.steps(op.d, "", g, x.Shape()[0], xm, ym, cols)
	if err != nil {
		return err
	}
	for _, s := range steps {
		if err := op.b.K.Im2col(nil, s.col); err != nil {
			return err
		}
		if err := op.b.K.Gemm(nil, s.gemm); err != nil {
			return err
		}
	}
	return c.fetch(y, ym)
}

// MatMul on float16 or bfloat16 with a constant B: float32 accumulation,
// output in the input type.
func newHalfMatMul(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	for _, c := range []struct {
		dt  tensor.DType
		in  ref.Elem
		out ref.Out
	}{{tensor.Float16, ref.F16, ref.OutF16}, {tensor.BFloat16, ref.BF16, ref.OutBF16}} {
		if w := constWeight(n, 1, c.dt); w != nil {
			return newGemmOp(b, n, c.in, w, c.out, c.dt)
		}
	}
	return nil, nil
}

// softmaxOp: float32 softmax over the last axis.
type softmaxOp struct {
	b    *Backend
	axis int
}

func newSoftmax(b *Backend, n *graph.Node, info runtime.NodeInfo) (gpuOp, error) {
	if info.Opset < 13 {
		return nil, nil // the coerced-2D semantics of older opsets stay on the CPU
	}
	return &softmaxOp{b: b, axis: int(n.AttrInt("axis", -1))}, nil
}

func (op *softmaxOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, bool, error) {
	x := in[0]
	r := x.Rank()
	if x.DType() != tensor.Float32 || r == 0 || (op.axis != -1 && op.axis != r-1) {
		return nil, false, nil
	}
	cols := x.Shape()[r-1]
	y, err := ctx.Alloc(tensor.Float32, x.Shape()...)
	if err != nil || x.Len() == 0 {
		return []*tensor.Tensor{y}, true, err
	}
	c := &call{b: op.b}
	defer c.free()
	xm, ym, err := c.inOut(x, y)
	if err != nil {
		return nil, true, err
	}
	if err := op.b.K.Softmax(nil, &gobind.SoftmaxArgs{X: xm, Y: ym, Rows: int64(x.Len() / cols), Cols: int64(cols)}); err != nil {
		return nil, true, err
	}
	return []*tensor.Tensor{y}, true, c.fetch(y, ym)
}

// quantOp: QuantizeLinear float32 -> int8 and DequantizeLinear int8 ->
// float32 with constant per-tensor or per-axis parameters.
type quantOp struct {
	b        *Backend
	quantize bool
	axis     int
	count    int // channels (1: per tensor)
	scale    cuda.Mem
	zp       cuda.Mem // int32 zero points, or null
}

func newQuantParams(b *Backend, n *graph.Node, quantize bool) (gpuOp, error) {
	if n.AttrInt("block_size", 0) != 0 {
		return nil, nil
	}
	if dt := tensor.DType(n.AttrInt("output_dtype", 0)); quantize && dt != tensor.Undefined && dt != tensor.Int8 {
		return nil, nil
	}
	s, zpv := graph.ConstTensor(n.Input(1)), n.Input(2)
	if s == nil || s.DType() != tensor.Float32 || s.Rank() > 1 {
		return nil, nil
	}
	var zp *tensor.Tensor
	if zpv != nil {
		if zp = graph.ConstTensor(zpv); zp == nil || zp.DType() != tensor.Int8 || zp.Len() != s.Len() {
			return nil, nil
		}
	} else if quantize {
		return nil, nil // without a zero point the output is uint8
	}
	op := &quantOp{b: b, quantize: quantize, axis: int(n.AttrInt("axis", 1)), count: s.Len()}
	sb, err := b.constant(append([]byte(nil), s.RawBytes()...))
	if err != nil {
		return nil, err
	}
	op.scale = sb.Mem()
	if zp != nil {
		z := make([]int32, zp.Len())
		for i := range z {
			z[i] = int32(zp.Float64At(i))
		}
		zb, err := b.constant(append([]byte(nil), tensor.FromSlice([]int{len(z)}, z).RawBytes()...))
		if err != nil {
			return nil, err
		}
		op.zp = zb.Mem()
	}
	return op, nil
}

func newQuantize(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	return newQuantParams(b, n, true)
}

func newDequantize(b *Backend, n *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	return newQuantParams(b, n, false)
}

func (op *quantOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, bool, error) {
	x := in[0]
	inDT, outDT := tensor.Int8, tensor.Float32
	if op.quantize {
		inDT, outDT = tensor.Float32, tensor.Int8
	}
	if x.DType() != inDT {
		return nil, false, nil
	}
	inner, channels := 1, 1
	if op.count > 1 {
		axis := op.axis
		if axis < 0 {
			axis += x.Rank()
		}
		if axis < 0 || axis >= x.Rank() || x.Shape()[axis] != op.count {
			return nil, false, nil
		}
		channels = op.count
		for _, d := range x.Shape()[axis+1:] {
			inner *= d
		}
	}
	y, err := ctx.Alloc(outDT, x.Shape()...)
	if err != nil || x.Len() == 0 {
		return []*tensor.Tensor{y}, true, err
	}
	c := &call{b: op.b}
	defer c.free()
	xm, ym, err := c.inOut(x, y)
	if err != nil {
		return nil, true, err
	}
	args := &gobind.QuantArgs{X: xm, Y: ym, Scale: op.scale, ZeroPoint: op.zp, N: int64(x.Len()), Inner: int64(inner), Channels: int64(channels)}
	if err := op.b.K.Quantize(nil, op.quantize, args); err != nil {
		return nil, true, err
	}
	return []*tensor.Tensor{y}, true, c.fetch(y, ym)
}

// Relu and same-shape Add on float32.
type eltOp struct {
	b   *Backend
	add bool
}

func newRelu(b *Backend, _ *graph.Node, _ runtime.NodeInfo) (gpuOp, error) { return &eltOp{b: b}, nil }
func newAdd(b *Backend, _ *graph.Node, _ runtime.NodeInfo) (gpuOp, error) {
	return &eltOp{b: b, add: true}, nil
}

func (op *eltOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, bool, error) {
	x := in[0]
	if x.DType() != tensor.Float32 || op.add && (len(in) < 2 || in[1] == nil || in[1].DType() != tensor.Float32 || !tensor.SameShape(x.Shape(), in[1].Shape())) {
		return nil, false, nil
	}
	y, err := ctx.Alloc(tensor.Float32, x.Shape()...)
	if err != nil || x.Len() == 0 {
		return []*tensor.Tensor{y}, true, err
	}
	c := &call{b: op.b}
	defer c.free()
	xm, ym, err := c.inOut(x, y)
	if err != nil {
		return nil, true, err
	}
	if op.add {
		bm, err := c.upload(in[1].RawBytes())
		if err != nil {
			return nil, true, err
		}
		err = op.b.K.Add(nil, xm, bm, ym, int64(x.Len()))
		if err != nil {
			return nil, true, err
		}
	} else if err := op.b.K.Unary(nil, gobind.Relu, &gobind.UnaryArgs{X: xm, Y: ym, N: int64(x.Len())}); err != nil {
		return nil, true, err
	}
	return []*tensor.Tensor{y}, true, c.fetch(y, ym)
}
