// Sparse ops of gcompress's own domain, made at load time by
// graph/passes.SparsifyWeights from Gemm/FusedGemm and Conv/FusedConv
// nodes whose constant weights are mostly zeros:
//
//	SparseGemm(A, B, C?)  = act(Gemm(A, B, C))        (transA = 0, alpha = 1)
//	SparseConv(X, W, B?, Z?) = act(Conv(X, W, B) + Z)  (2-D, group = 1)
//
// with the attributes of FusedGemm / FusedConv (activation,
// activation_params). The op compresses its weight once (CSR, and the
// 2:4 format when the weight is 2:4 sparse along K) and picks, per call
// and per product shape (M output channels, K reduction length, N columns:
// the batch of a Gemm, the output cells of a convolution image), the
// kernel the measured break-even table says is fastest (sparse_breakeven.go):
// the dense FusedGemm/FusedConv path, the CSR kernel, or the 2:4 kernel.
// Below the break-even sparsity the dense kernel runs, so a pass that
// marks a layer sparse never makes it slower by more than the table's
// error.

package cpu

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	registry.Register(FusedDomain, "SparseGemm", newSparseGemm)
	registry.Register(FusedDomain, "SparseConv", newSparseConv)
}

// SparseKernel is one way of running a sparse op.
type SparseKernel int32

// The kernels a sparse op can run.
const (
	KernelDense SparseKernel = iota // the dense FusedGemm / FusedConv path
	KernelCSR                       // CSR x dense (gc_spmm_f32 / spmmGo)
	Kernel24                        // 2:4 x dense (sparse24Go)
	numSparseKernels
)

func (k SparseKernel) String() string {
	switch k {
	case KernelDense:
		return "dense"
	case KernelCSR:
		return "csr"
	case Kernel24:
		return "2:4"
	}
	return fmt.Sprintf("SparseKernel(%d)", int(k))
}

// SparsePolicy says how sparse ops choose their kernel.
type SparsePolicy int32

// The policies: Auto follows the break-even table; the others force one
// kernel wherever it applies (Force24 falls back to dense for weights that
// are not 2:4), for tests and for the break-even measurement.
const (
	SparseAuto SparsePolicy = iota
	SparseForceDense
	SparseForceCSR
	SparseForce24
)

var (
	sparsePolicy atomic.Int32
	// sparseCalls counts the calls that ran each kernel (tests and
	// reports read them with SparseKernelCalls).
	sparseCalls [numSparseKernels]atomic.Int64
)

// SetSparsePolicy sets how sparse ops choose their kernel (process-wide;
// already prepared ops follow the change on their next call) and returns
// the previous policy.
func SetSparsePolicy(p SparsePolicy) SparsePolicy {
	return SparsePolicy(sparsePolicy.Swap(int32(p)))
}

// SparseKernelCalls returns how many sparse-op calls ran each kernel since
// the process started (indexed by SparseKernel).
func SparseKernelCalls() [3]int64 {
	var out [3]int64
	for i := range out {
		out[i] = sparseCalls[i].Load()
	}
	return out
}

// sparseWeights is a constant weight matrix (M x K: output channels by
// reduction length) in the sparse formats.
type sparseWeights struct {
	src  *tensor.Tensor // the initializer it was built from
	conv bool
	m, k int
	csr  *CSR
	s24  *Sparse24F32 // nil unless 2:4 sparse along K
	mu   sync.Mutex
	pick map[int]SparseKernel // by N, under SparseAuto
}

// newSparseWeights compresses the m x k matrix w (row-major).
func newSparseWeights(src *tensor.Tensor, conv bool, m, k int, w []float32) (*sparseWeights, error) {
	csr, err := NewCSR(m, k, w, k)
	if err != nil {
		return nil, err
	}
	sw := &sparseWeights{src: src, conv: conv, m: m, k: k, csr: csr, pick: map[int]SparseKernel{}}
	if s, err := NewSparse24F32(m, k, w, k); err == nil {
		sw.s24 = s
	}
	return sw, nil
}

// choose returns the kernel for a product with n columns.
func (sw *sparseWeights) choose(n int) SparseKernel {
	switch SparsePolicy(sparsePolicy.Load()) {
	case SparseForceDense:
		return KernelDense
	case SparseForceCSR:
		return KernelCSR
	case SparseForce24:
		if sw.s24 != nil {
			return Kernel24
		}
		return KernelDense
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	k, ok := sw.pick[n]
	if !ok {
		k = ChooseSparseKernel(sw.conv, sw.m, sw.k, n, sw.csr.Density(), sw.s24 != nil)
		sw.pick[n] = k
	}
	return k
}

// spMinWork is the non-zeros x columns below which a product runs on one
// thread.
const spMinWork = 1 << 14

// run computes rows of C = act(W·B + bias + Z) with kernel kind (CSR or
// 2:4) over the threads; see sparse.go for the layouts.
func (sw *sparseWeights) run(kind SparseKernel, threads, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	parts := min(threads, max(1, (sw.csr.NNZ()+sw.m)*n/spMinWork))
	fast := CPULevel(level.Load()) >= LevelAVX512
	parallelChunks(sw.m, parts, func(lo, hi int) {
		switch {
		case kind == Kernel24 && fast && int64(sw.k)*int64(ldb) < 1<<31:
			sparse24C(sw.s24, lo, hi, n, b, ldb, c, ldcM, ldcN, e)
		case kind == Kernel24:
			sparse24Go(sw.s24, lo, hi, n, b, ldb, c, ldcM, ldcN, e)
		case fast && int64(sw.k)*int64(ldb) < 1<<31:
			spmmC(sw.csr, lo, hi, n, b, ldb, c, ldcM, ldcN, e)
		default:
			spmmGo(sw.csr, lo, hi, n, b, ldb, c, ldcM, ldcN, e)
		}
	})
}

// ---- SparseGemm ----

func newSparseGemm(n *graph.Node, info runtime.NodeInfo) (runtime.Op, error) {
	dense, err := newFusedGemm(n, info)
	if err != nil {
		return nil, fmt.Errorf("SparseGemm: %w", err)
	}
	g, err := newGemmOp(n)
	if err != nil {
		return nil, fmt.Errorf("SparseGemm: %w", err)
	}
	if g.act, err = parseFusedAct(n); err != nil {
		return nil, fmt.Errorf("SparseGemm: %w", err)
	}
	b := g.constB
	if g.transA || g.alpha != 1 || b == nil || b.DType() != tensor.Float32 || b.Rank() != 2 {
		return dense, nil // nothing to exploit: run as FusedGemm
	}
	m, k := b.Shape()[1], b.Shape()[0] // op(B) is k x m; the weight matrix is its transpose
	w := b.F32()
	if g.transB {
		m, k = b.Shape()[0], b.Shape()[1]
	} else {
		wt := make([]float32, m*k)
		for p := 0; p < k; p++ {
			for i := 0; i < m; i++ {
				wt[i*k+p] = w[p*m+i]
			}
		}
		w = wt
	}
	sw, err := newSparseWeights(b, false, m, k, w)
	if err != nil {
		return nil, fmt.Errorf("SparseGemm: %w", err)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("SparseGemm: %w", err)
		}
		a := in[0]
		var bias []float32
		if len(in) > 2 && in[2] != nil {
			c := in[2]
			if c.DType() != tensor.Float32 || c.Len() != m || g.beta != 1 || !(c.Rank() == 1 || c.Rank() == 2 && c.Shape()[0] == 1) {
				return dense.Run(ctx, in)
			}
			bias = c.F32()
		}
		if in[1] != sw.src || a.DType() != tensor.Float32 || a.Rank() != 2 || a.Shape()[1] != k {
			return dense.Run(ctx, in)
		}
		rows := a.Shape()[0]
		kind := sw.choose(rows)
		if kind == KernelDense || rows == 0 {
			sparseCalls[KernelDense].Add(1)
			return dense.Run(ctx, in)
		}
		sparseCalls[kind].Add(1)
		y, err := ctx.Alloc(tensor.Float32, rows, m)
		if err != nil {
			return nil, fmt.Errorf("SparseGemm: %w", err)
		}
		e := &SparseEpilogue{Bias: bias, Clamp: g.act.clamp, Lo: g.act.lo, Hi: g.act.hi}
		x := a.F32()
		if rows == 1 {
			sw.run(kind, ctx.Threads, 1, x, 1, y.F32(), 1, m, e)
			return []*tensor.Tensor{y}, nil
		}
		// B = A^T (k x rows), C = Y^T stored into Y (rows x m).
		xt := getF32(k * rows)
		defer putF32(xt)
		transposeF32(x, *xt, rows, k)
		sw.run(kind, ctx.Threads, rows, *xt, rows, y.F32(), 1, m, e)
		return []*tensor.Tensor{y}, nil
	}), nil
}

// transposeF32 writes the rows x cols matrix x transposed into dst
// (cols x rows), in cache-sized tiles.
func transposeF32(x, dst []float32, rows, cols int) {
	const tile = 32
	for i0 := 0; i0 < rows; i0 += tile {
		for j0 := 0; j0 < cols; j0 += tile {
			for i := i0; i < min(i0+tile, rows); i++ {
				for j := j0; j < min(j0+tile, cols); j++ {
					dst[j*rows+i] = x[i*cols+j]
				}
			}
		}
	}
}

// ---- SparseConv ----

func newSparseConv(n *graph.Node, info runtime.NodeInfo) (runtime.Op, error) {
	dense, err := newFusedConv(n, info)
	if err != nil {
		return nil, fmt.Errorf("SparseConv: %w", err)
	}
	op, err := newFusedConvOp(n)
	if err != nil {
		return nil, fmt.Errorf("SparseConv: %w", err)
	}
	w := op.constW
	if op.group != 1 || w == nil || w.DType() != tensor.Float32 || w.Rank() != 4 || len(n.Inputs) > 4 {
		return dense, nil
	}
	m, k := w.Shape()[0], w.Len()/max(w.Shape()[0], 1)
	sw, err := newSparseWeights(w, true, m, k, w.F32())
	if err != nil {
		return nil, fmt.Errorf("SparseConv: %w", err)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("SparseConv: %w", err)
		}
		x := in[0]
		if in[1] != sw.src || x.DType() != tensor.Float32 || x.Rank() != 4 {
			return dense.Run(ctx, in)
		}
		geo, err := newConvGeom(op.win, 1, x.Shape(), w.Shape(), false, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("SparseConv: %w", err)
		}
		kind := sw.choose(geo.outSize)
		if kind == KernelDense || geo.batch == 0 || geo.outSize == 0 {
			sparseCalls[KernelDense].Add(1)
			return dense.Run(ctx, in)
		}
		var bias, z []float32
		if len(in) > 2 && in[2] != nil {
			if bias, err = nnBias[float32](in[2], m); err != nil {
				return nil, fmt.Errorf("SparseConv: %w", err)
			}
		}
		shape := geo.outShape(2)
		if len(in) > 3 && in[3] != nil {
			if in[3].DType() != tensor.Float32 || !tensor.SameShape(in[3].Shape(), shape) {
				return nil, fmt.Errorf("SparseConv: summand Z %v must have the output shape %v", in[3].Shape(), shape)
			}
			z = in[3].F32()
		}
		y, err := ctx.Alloc(tensor.Float32, shape...)
		if err != nil {
			return nil, fmt.Errorf("SparseConv: %w", err)
		}
		sparseCalls[kind].Add(1)
		xd, yd := x.F32(), y.F32()
		var col *[]float32
		if !geo.pointwise() {
			col = getF32(k * geo.outSize)
			defer putF32(col)
		}
		for img := 0; img < geo.batch; img++ {
			xi := xd[img*geo.c*geo.inSize : (img+1)*geo.c*geo.inSize]
			b := xi
			if col != nil {
				im2col(ctx, geo, xi, *col)
				b = *col
			}
			e := &SparseEpilogue{Bias: bias, Clamp: op.act.clamp, Lo: op.act.lo, Hi: op.act.hi}
			if z != nil {
				e.Z = z[img*m*geo.outSize : (img+1)*m*geo.outSize]
			}
			sw.run(kind, ctx.Threads, geo.outSize, b, geo.outSize, yd[img*m*geo.outSize:(img+1)*m*geo.outSize], geo.outSize, 1, e)
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}
