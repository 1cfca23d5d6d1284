// FP32 GEMM on the SIMD micro-kernels (simd_amd64.c), with the Go-side
// driver: operand pre-packing, threading and the pure-Go fallback.
//
// One call computes
//
//	C = clamp(op(A)*op(B) [+ C] + biasRow[i] + biasCol[j] + R[i][j], lo, hi)
//
// (each term optional; see sgemmCall), where op(B) may also be the im2col
// matrix of an image, built while packing. The C side packs op(B) in
// kc x nc blocks of NR-wide panels and op(A) in MR-row panels, and keeps an
// MR x NR tile of C in registers (simd_sgemm_tmpl.h). Constant operands
// (weights) are packed once (sgemmPacked) and reused by every call.
//
// Threads split C into disjoint windows: along N (columns) when there are
// enough column panels, else along M. The operand every window reads in
// full (A when splitting N, B when splitting M) is packed once, in
// parallel, before the windows run, so no thread repeats another's packing.

package cpu

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"

	"github.com/gcompress/gcompress/runtime"
)

// gemmArgs mirrors gc_gemm_args of simd_amd64.h field for field (the cgo
// glue asserts that the sizes agree).
type gemmArgs struct {
	m, n, k                 int64
	i0, i1, j0, j1          int64
	lda, ldb, ldc, ldr      int64
	flags                   int64
	kc, mc, nc              int64
	cin, ih, iw, kh, kw     int64
	sh, sw, ph, pw, dh, dw  int64
	oh, ow                  int64
	padValue                int64
	ldct                    int64
	preChannels             int64
	alpha, lo, hi, unusedF4 float32
	// INT8 requantization into Y (gcRequant; see gc_gemm_args)
	ldy, rqPw, rqOw  int64
	rqZp, rqLo, rqHi float64
}

// partWindow sets the window of part p of parts of an m x n product: whole
// column panels (nr wide) when splitN, else whole row panels (mr high),
// split as evenly as panels allow.
func (a *gemmArgs) partWindow(p, parts int, splitN bool, m, n, mr, nr int) {
	if splitN {
		panels := (n + nr - 1) / nr
		lo, hi := p*panels/parts, (p+1)*panels/parts
		a.i0, a.i1, a.j0, a.j1 = 0, int64(m), int64(lo*nr), int64(min(n, hi*nr))
		return
	}
	panels := (m + mr - 1) / mr
	lo, hi := p*panels/parts, (p+1)*panels/parts
	a.i0, a.i1, a.j0, a.j1 = int64(lo*mr), int64(min(m, hi*mr)), 0, int64(n)
}

// gemmArgsSize is the size of gc_gemm_args in bytes.
const gemmArgsSize = 31*8 + 4*4 + 6*8

var _ = [1]struct{}{}[unsafe.Sizeof(gemmArgs{})-gemmArgsSize]

// Flags of gemmArgs.flags (GC_* in simd_amd64.h).
const (
	gcTransA  = 1
	gcTransB  = 2
	gcAPacked = 4
	gcBPacked = 8
	gcBConv   = 16
	gcAccum   = 32
	gcClamp   = 64
	gcBiasRow = 128
	gcBiasCol = 256
	gcResid   = 512
	gcAConv   = 65536
	gcCTrans  = 131072
	gcPreRelu = 262144
	gcPreA    = 524288
	gcBToep   = 1048576
	gcCompact = 4194304
	gcADirect = 8388608
	gcCTComp  = 16777216
)

// sgemmKernel is one instruction set's FP32 GEMM: its register tile and
// blocking, and the C entry points.
type sgemmKernel struct {
	name       string
	mr, nr, vl int
	kc, mc, nc int
	run        func(a *gemmArgs, A, B, C, biasRow, biasCol, resid, sa, sb, ct, pre []float32, aoff []int64)
	packA      func(a *gemmArgs, A, dst, pre []float32)
	packB      func(a *gemmArgs, B, dst, pre []float32)
}

// mpad and npad are the stored sizes of m rows / n columns once packed.
func (k *sgemmKernel) mpad(m int) int { return gemmRoundUp(m, k.mr) }
func (k *sgemmKernel) npad(n int) int { return n/k.nr*k.nr + gemmRoundUp(n%k.nr, k.vl) }

// sgemmConv is the im2col geometry of an image used as op(B): B[p][j] =
// image[c][oy*sh + ky*dh - ph][ox*sw + kx*dw - pw], p = (c*kh + ky)*kw + kx,
// j = oy*ow + ox (0 outside the image).
type sgemmConv struct {
	cin, ih, iw, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow int
}

// sgemmPacked is an operand packed for one kernel with k blocks kc deep:
// op(A) (rows x cols = m x k) or op(B) (k x n), with alpha already
// applied to A.
type sgemmPacked struct {
	kern       *sgemmKernel
	isA        bool
	rows, cols int
	kc         int
	data       []float32
}

// sgemmEpilogue is what the ops fuse into the store of C.
type sgemmEpilogue struct {
	biasRow []float32 // [m], added to row i
	biasCol []float32 // [n], added to column j
	resid   []float32 // added element-wise, row stride ldr
	ldr     int
	clamp   bool // clamp to [lo, hi]
	lo, hi  float32
}

func (e *sgemmEpilogue) active() bool {
	return e.biasRow != nil || e.biasCol != nil || e.resid != nil || e.clamp
}

// sgemmCall is one product C = epilogue(alpha*op(A)*op(B) (+ C)), or with
// ct set, C^T = epilogue(...) written into ct (row stride ldct): the
// epilogue's column bias and residual then index the transposed output.
type sgemmCall struct {
	m, n, k int
	alpha   float32
	a       []float32 // unused when packedA is set; the image when aConv is set
	lda     int
	transA  bool
	packedA *sgemmPacked
	aConv   *sgemmConv // op(A) = im2col(a)^T (m = output cells, k = taps)
	b       []float32  // matrix, or the image when conv is set
	ldb     int
	transB  bool
	packedB *sgemmPacked
	conv    *sgemmConv
	// toeplitz: b is a zero-padded image split into stride phases (conv's
	// ih x iw are the phase planes' Hq x Wq, see pack_b_toep in
	// simd_sgemm_tmpl.h) read as a Toeplitz matrix, n = oh*Wq.
	toeplitz bool
	// aoff (direct A): op(A) is read in place, op(A)[i][p] = a[aoff[p] + i]
	// (the Toeplitz rows of a padded image read transposed); no packing.
	// Every register tile reads whole MR-row panels, so a must extend to
	// aoff[p] + mpad(m) (the rows past m are computed and dropped).
	aoff []int64
	// ctWq > 0 (with ct): product row i is cell (i / ctWq, i % ctWq) of a
	// padded-width output; cells with i % ctWq < ctOw are stored at
	// (i / ctWq)*ctOw + i % ctWq of their C^T row, the others dropped.
	ctWq, ctOw int
	c          []float32 // with ct: scratch for partial sums (allocated when nil and needed)
	ldc        int
	// compactY (with toeplitz): C is computed in chunks of the padded width
	// conv.iw into per-window scratch and each chunk's valid columns
	// (ox < conv.ow) are written to compactY (row i at i*ldy, rows of
	// conv.ow), with the epilogue (row bias, residual in compactY's layout
	// with stride epi.ldr, clamp) applied there. c is not used.
	compactY []float32
	ldy      int
	// kc and nc override the kernel's blocking (0: the kernel's); a
	// pre-packed operand fixes kc.
	kc, nc int
	ct     []float32 // transposed output (nil: C is the output)
	ldct   int
	accum  bool // beta = 1 (else beta = 0: C is not read)
	epi    sgemmEpilogue
	// pre is the prologue applied to the activation operand (B, or A
	// when preOnA) as it is packed: x -> x*pre[c] + pre[C+c] for channel c
	// of the k index (k / (kh*kw) for an image), then max(x, 0) when
	// preRelu; padding cells of an image stay 0. It has 2*C values.
	pre     []float32
	preRelu bool
	preOnA  bool
}

// sgemmMinWork is the m*n*k each thread should get at least: handing a
// section to the pool's spinning workers and joining them costs a
// microsecond or two, about a tenth of what a product of this size takes
// on one core. (Variables so that tests can force the parallel paths on
// small problems.)
var sgemmMinWork = 1 << 19

// sgemmChunksPerThread is how many windows per thread a parallel product
// is cut into, claimed dynamically, so that a thread slowed by something
// else on its core (another tenant of the VM) hands its later windows to
// the other threads instead of holding up the section. 1024^3 on the two
// cores of the development VM, median over 4 processes of 21 runs each:
// 0.90-0.93x OpenBLAS with 4 windows per thread, 0.81-0.97x with one.
const sgemmChunksPerThread = 4

// copyMinWork is the number of elements each thread of a parallel copy
// (packing a whole operand, padding an image, concatenating) should get
// at least, for the same reason.
var copyMinWork = 1 << 15

// scratchPool recycles scratch slices of T, one sync.Pool per power-of-two
// capacity so that a request is never served by a slice too small for it.
type scratchPool[T any] [48]sync.Pool

// get returns a slice of length n (contents undefined).
func (sp *scratchPool[T]) get(n int) *[]T {
	b := bits.Len(uint(max(n, 1) - 1)) // smallest b with 1<<b >= n
	if p, ok := sp[b].Get().(*[]T); ok {
		*p = (*p)[:n]
		return p
	}
	s := make([]T, n, 1<<b)
	return &s
}

// put returns a slice from get to the pool.
func (sp *scratchPool[T]) put(p *[]T) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	sp[bits.Len(uint(c))-1].Put(p)
}

// f32Scratch and i32Scratch hold the FP32 and INT8 packing scratch.
var (
	f32Scratch scratchPool[float32]
	i32Scratch scratchPool[int32]
)

func getF32(n int) *[]float32 { return f32Scratch.get(n) }
func putF32(p *[]float32)     { f32Scratch.put(p) }
func getI32(n int) *[]int32   { return i32Scratch.get(n) }
func putI32(p *[]int32)       { i32Scratch.put(p) }

// packSgemmA packs alpha*op(A) (m x k) for kernel kern, using up to threads
// goroutines.
func packSgemmA(kern *sgemmKernel, transA bool, m, k int, alpha float32, a []float32, lda int, threads int) *sgemmPacked {
	return packSgemmAKC(kern, kern.kc, transA, m, k, alpha, a, lda, threads)
}

// packSgemmAKC is packSgemmA with k blocks kc deep.
func packSgemmAKC(kern *sgemmKernel, kc int, transA bool, m, k int, alpha float32, a []float32, lda int, threads int) *sgemmPacked {
	p := &sgemmPacked{kern: kern, isA: true, rows: m, cols: k, kc: kc, data: make([]float32, kern.mpad(m)*k)}
	kern.packAInto(p.data, kc, transA, m, k, alpha, a, lda, threads)
	return p
}

func (kern *sgemmKernel) packAInto(dst []float32, kc int, transA bool, m, k int, alpha float32, a []float32, lda int, threads int) {
	args := gemmArgs{m: int64(m), k: int64(k), lda: int64(lda), kc: int64(kc), alpha: alpha}
	if transA {
		args.flags |= gcTransA
	}
	kern.packAArgs(dst, &args, a, nil, threads)
}

// packAArgs packs the whole op(A) described by args (matrix or im2col^T,
// with the prologue pre) in parallel over row panels.
func (kern *sgemmKernel) packAArgs(dst []float32, args *gemmArgs, a, pre []float32, threads int) {
	m, k := int(args.m), int(args.k)
	panels := (m + kern.mr - 1) / kern.mr
	parallelChunks(panels, min(threads, max(1, m*k/copyMinWork)), func(lo, hi int) {
		a2 := *args
		a2.i0, a2.i1 = int64(lo*kern.mr), int64(min(m, hi*kern.mr))
		kern.packA(&a2, a, dst, pre)
	})
}

// packSgemmB packs op(B) (k x n) for kernel kern.
func packSgemmB(kern *sgemmKernel, transB bool, k, n int, b []float32, ldb int, threads int) *sgemmPacked {
	return packSgemmBKC(kern, kern.kc, transB, k, n, b, ldb, threads)
}

// packSgemmBKC is packSgemmB with k blocks kc deep.
func packSgemmBKC(kern *sgemmKernel, kc int, transB bool, k, n int, b []float32, ldb int, threads int) *sgemmPacked {
	p := &sgemmPacked{kern: kern, rows: k, cols: n, kc: kc, data: make([]float32, kern.npad(n)*k)}
	args := gemmArgs{n: int64(n), k: int64(k), ldb: int64(ldb), kc: int64(kc)}
	if transB {
		args.flags |= gcTransB
	}
	kern.packBInto(p.data, &args, b, nil, threads)
	return p
}

// packBInto packs the whole op(B) described by args (matrix or image,
// with the prologue pre) in parallel over column panels.
func (kern *sgemmKernel) packBInto(dst []float32, args *gemmArgs, b, pre []float32, threads int) {
	n := int(args.n)
	panels := (n + kern.nr - 1) / kern.nr
	parallelChunks(panels, min(threads, max(1, n*int(args.k)/copyMinWork)), func(lo, hi int) {
		a2 := *args
		a2.j0, a2.j1 = int64(lo*kern.nr), int64(min(n, hi*kern.nr))
		kern.packB(&a2, b, dst, pre)
	})
}

// run computes the call with the active kernel, or in pure Go at the
// generic level (or when a packed operand belongs to another kernel, which
// the caller avoids). It checks the sizes of every slice and panics with a
// message on a programming error.
func (c *sgemmCall) run(threads int) {
	if c.m <= 0 || c.n <= 0 {
		return
	}
	kern := c.kernel()
	if kern == nil {
		c.runGo(threads)
		return
	}
	args, a, b, scratch := c.prepare(kern)
	if scratch != nil {
		defer putF32(scratch)
	}
	rowPanels := (c.m + kern.mr - 1) / kern.mr
	colPanels := (c.n + kern.nr - 1) / kern.nr
	parts := min(threads, max(1, c.m*c.n*c.k/sgemmMinWork))
	if parts <= 1 {
		args.i0, args.i1, args.j0, args.j1 = 0, int64(c.m), 0, int64(c.n)
		c.window(kern, &args, a, b)
		return
	}
	splitN := colPanels >= 4*parts || colPanels >= rowPanels || c.compactY != nil
	if c.aoff != nil {
		splitN = false // A is read in place: split its rows
	}
	if splitN {
		if args.flags&gcAPacked == 0 {
			buf := getF32(kern.mpad(c.m) * c.k)
			defer putF32(buf)
			var preA []float32
			if c.preOnA {
				preA = c.pre
			}
			kern.packAArgs(*buf, &args, c.a, preA, parts)
			a = *buf
			args.flags |= gcAPacked
		}
		parts = min(parts, colPanels)
	} else {
		if args.flags&gcBPacked == 0 {
			buf := getF32(kern.npad(c.n) * c.k)
			defer putF32(buf)
			var preB []float32
			if !c.preOnA {
				preB = c.pre
			}
			kern.packBInto(*buf, &args, c.b, preB, parts)
			b = *buf
			args.flags |= gcBPacked
		}
		parts = min(parts, rowPanels)
	}
	windows := min(sgemmChunksPerThread*parts, rowPanels)
	if splitN {
		windows = min(sgemmChunksPerThread*parts, colPanels)
	}
	runtime.Parallel(windows, parts, func(t int) {
		w := args
		w.partWindow(t, windows, splitN, c.m, c.n, kern.mr, kern.nr)
		c.window(kern, &w, a, b)
	})
}

// kernel returns the active FP32 kernel if it can run the call (nil: the
// pure-Go path).
func (c *sgemmCall) kernel() *sgemmKernel {
	kern := sgemmISA()
	if kern == nil || c.k == 0 || (c.packedA != nil && c.packedA.kern != kern) || (c.packedB != nil && c.packedB.kern != kern) {
		return nil
	}
	return kern
}

// prepare checks the call and returns the C arguments for kern (window
// unset) with the operands to pass, and the partial-sum scratch it set as
// c.c for a transposed output (nil: none; the caller returns it with
// putF32 when every window is done).
func (c *sgemmCall) prepare(kern *sgemmKernel) (args gemmArgs, a, b []float32, scratch *[]float32) {
	c.check()
	kc, nc := kern.kc, kern.nc
	if c.kc > 0 {
		kc = c.kc
	}
	if c.nc > 0 {
		nc = c.nc
	}
	if c.packedA != nil {
		kc = c.packedA.kc
	}
	if c.packedB != nil {
		if c.packedA != nil && c.packedB.kc != kc {
			panic("sgemm: packed A and B differ in kc")
		}
		kc = c.packedB.kc
	}
	args = gemmArgs{m: int64(c.m), n: int64(c.n), k: int64(c.k), lda: int64(c.lda), ldb: int64(c.ldb),
		ldc: int64(c.ldc), ldr: int64(c.epi.ldr), kc: int64(kc), mc: int64(kern.mc), nc: int64(nc),
		alpha: c.alpha, lo: c.epi.lo, hi: c.epi.hi}
	if c.transA {
		args.flags |= gcTransA
	}
	if c.transB {
		args.flags |= gcTransB
	}
	if c.accum {
		args.flags |= gcAccum
	}
	if c.epi.clamp {
		args.flags |= gcClamp
	}
	if c.epi.biasRow != nil {
		args.flags |= gcBiasRow
	}
	if c.epi.biasCol != nil {
		args.flags |= gcBiasCol
	}
	if c.epi.resid != nil {
		args.flags |= gcResid
	}
	cv := c.conv
	if cv != nil && c.toeplitz {
		args.flags |= gcBToep
	} else if cv != nil {
		args.flags |= gcBConv
	} else if cv = c.aConv; cv != nil {
		args.flags |= gcAConv
	}
	if cv != nil {
		args.cin, args.ih, args.iw, args.kh, args.kw = int64(cv.cin), int64(cv.ih), int64(cv.iw), int64(cv.kh), int64(cv.kw)
		args.sh, args.sw, args.ph, args.pw = int64(cv.sh), int64(cv.sw), int64(cv.ph), int64(cv.pw)
		args.dh, args.dw, args.oh, args.ow = int64(cv.dh), int64(cv.dw), int64(cv.oh), int64(cv.ow)
	}
	if c.compactY != nil {
		args.flags |= gcCompact
		args.ldct = int64(c.ldy)
	}
	if c.aoff != nil {
		args.flags |= gcADirect
	}
	if c.pre != nil {
		args.preChannels = int64(len(c.pre) / 2)
		if c.preRelu {
			args.flags |= gcPreRelu
		}
		if c.preOnA {
			args.flags |= gcPreA
		}
	}
	if c.ct != nil {
		args.flags |= gcCTrans
		args.ldct = int64(c.ldct)
		if c.ctWq > 0 {
			args.flags |= gcCTComp
			args.iw, args.ow = int64(c.ctWq), int64(c.ctOw)
		}
		if c.c == nil && c.k > kc {
			// Partial sums of all k blocks but the last.
			scratch = getF32(c.m * c.n)
			c.c, c.ldc = *scratch, c.n
			args.ldc = int64(c.n)
		}
	}
	a, b = c.a, c.b
	if c.packedA != nil {
		args.flags |= gcAPacked
		a = c.packedA.data
	}
	if c.packedB != nil {
		args.flags |= gcBPacked
		b = c.packedB.data
	}
	return args, a, b, scratch
}

// window runs one thread's window of C (args.i0..i1, j0..j1) with its own
// packing and compaction scratch.
func (c *sgemmCall) window(kern *sgemmKernel, args *gemmArgs, a, b []float32) {
	var sa, sb, sc *[]float32
	kc := int(args.kc)
	if args.flags&(gcAPacked|gcADirect) == 0 {
		sa = getF32(kern.mpad(min(kern.mc, c.m)) * min(kc, c.k))
		defer putF32(sa)
	} else {
		sa = new([]float32)
	}
	if args.flags&gcBPacked == 0 {
		sb = getF32(kern.npad(min(int(args.nc), int(args.j1-args.j0))) * min(kc, c.k))
		defer putF32(sb)
	} else {
		sb = new([]float32)
	}
	cm, ct := c.c, c.ct
	if c.compactY != nil {
		nc := min(int(args.nc), int(args.j1-args.j0))
		sc = getF32(int(args.i1-args.i0) * nc)
		defer putF32(sc)
		w := *args
		w.ldc = int64(nc)
		args = &w
		cm, ct = *sc, c.compactY
	}
	var pre []float32
	if args.flags&gcPreA != 0 && args.flags&(gcAPacked|gcADirect) == 0 || args.flags&gcPreA == 0 && args.flags&gcBPacked == 0 {
		pre = c.pre // the operand is packed inside this call
	}
	kern.run(args, a, b, cm, c.epi.biasRow, c.epi.biasCol, c.epi.resid, *sa, *sb, ct, pre, c.aoff)
}

// check panics if a slice is too short for the sizes and strides of the
// call: the C side trusts them.
func (c *sgemmCall) check() {
	need := func(what string, s []float32, rows, cols, ld int) {
		if rows <= 0 || cols <= 0 {
			return
		}
		if ld < cols || len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("sgemm: %s is %d long, need %d x %d with stride %d", what, len(s), rows, cols, ld))
		}
	}
	if c.aoff != nil {
		if len(c.aoff) < c.k || c.packedA != nil || c.aConv != nil || (c.pre != nil && c.preOnA) {
			panic("sgemm: direct A needs k offsets, no packed or image A and no prologue on A")
		}
		rows := gemmRoundUp(c.m, 8) // every kernel's MR divides 8 or is 6: see below
		if k := sgemmISA(); k != nil {
			rows = k.mpad(c.m)
		}
		for _, o := range c.aoff[:c.k] {
			if o < 0 || int(o)+rows > len(c.a) {
				panic(fmt.Sprintf("sgemm: direct A column at %d with %d rows overruns %d values", o, rows, len(c.a)))
			}
		}
	} else if c.packedA != nil {
		if c.packedA.rows != c.m || c.packedA.cols != c.k || !c.packedA.isA {
			panic("sgemm: packed A does not match the call")
		}
	} else if cv := c.aConv; cv != nil {
		if c.conv != nil || cv.cin*cv.kh*cv.kw != c.k || cv.oh*cv.ow != c.m || len(c.a) < cv.cin*cv.ih*cv.iw {
			panic("sgemm: image A does not match the call")
		}
	} else if c.transA {
		need("A", c.a, c.k, c.m, c.lda)
	} else {
		need("A", c.a, c.m, c.k, c.lda)
	}
	switch {
	case c.packedB != nil:
		if c.packedB.rows != c.k || c.packedB.cols != c.n || c.packedB.isA {
			panic("sgemm: packed B does not match the call")
		}
	case c.conv != nil && c.toeplitz:
		cv := c.conv
		if cv.cin*cv.kh*cv.kw != c.k || cv.oh*cv.iw != c.n || len(c.b) < cv.cin*cv.sh*cv.sw*cv.ih*cv.iw+(cv.kw-1)*cv.dw/cv.sw ||
			cv.oh+(cv.kh-1)*cv.dh/cv.sh > cv.ih || cv.ow+(cv.kw-1)*cv.dw/cv.sw > cv.iw {
			panic("sgemm: padded image does not match the call")
		}
	case c.conv != nil:
		cv := c.conv
		if cv.cin*cv.kh*cv.kw != c.k || cv.oh*cv.ow != c.n || len(c.b) < cv.cin*cv.ih*cv.iw {
			panic("sgemm: image does not match the call")
		}
	case c.transB:
		need("B", c.b, c.n, c.k, c.ldb)
	default:
		need("B", c.b, c.k, c.n, c.ldb)
	}
	if c.ct != nil {
		cells := c.m // C^T row length
		if c.ctWq > 0 {
			if c.m%c.ctWq != 0 || c.ctOw > c.ctWq || c.ctOw <= 0 {
				panic("sgemm: compacted C^T does not match the call")
			}
			cells = c.m / c.ctWq * c.ctOw
		}
		need("C^T", c.ct, c.n, cells, c.ldct)
		if c.c != nil {
			need("C", c.c, c.m, c.n, c.ldc)
		}
		if c.epi.resid != nil {
			need("residual", c.epi.resid, c.n, cells, c.epi.ldr)
		}
		if c.epi.biasRow != nil || c.accum {
			panic("sgemm: a transposed output takes no row bias and no accumulation")
		}
	} else if c.compactY != nil {
		cv := c.conv
		if cv == nil || !c.toeplitz || cv.oh*cv.iw != c.n || c.epi.biasCol != nil || c.accum {
			panic("sgemm: compaction needs a Toeplitz product without column bias or accumulation")
		}
		need("compacted Y", c.compactY, c.m, cv.oh*cv.ow, c.ldy)
		if c.epi.resid != nil {
			need("residual", c.epi.resid, c.m, cv.oh*cv.ow, c.epi.ldr)
		}
	} else {
		need("C", c.c, c.m, c.n, c.ldc)
		if c.epi.resid != nil {
			need("residual", c.epi.resid, c.m, c.n, c.epi.ldr)
		}
	}
	if c.epi.biasRow != nil && len(c.epi.biasRow) < c.m || c.epi.biasCol != nil && len(c.epi.biasCol) < c.n {
		panic("sgemm: bias too short")
	}
	if c.pre != nil {
		channels := c.k
		if cv := c.conv; cv != nil && !c.preOnA {
			channels = cv.cin
		} else if cv := c.aConv; cv != nil && c.preOnA {
			channels = cv.cin
		}
		if len(c.pre) != 2*channels {
			panic(fmt.Sprintf("sgemm: prologue has %d values for %d channels", len(c.pre), channels))
		}
	}
}

// runGo is the portable path: gemmBlocked (with an explicit im2col for
// image operands) followed by the epilogue in Go.
func (c *sgemmCall) runGo(threads int) {
	a, lda, transA := c.a, c.lda, c.transA
	if p := c.packedA; p != nil {
		// A packed for a kernel no longer active: the caller keeps the
		// source; this path is only reached through misuse.
		panic(fmt.Sprintf("sgemm: A packed for %s used at level %v", p.kern.name, CPULevel(level.Load())))
	}
	b, ldb, transB := c.b, c.ldb, c.transB
	if p := c.packedB; p != nil {
		panic(fmt.Sprintf("sgemm: B packed for %s used at level %v", p.kern.name, CPULevel(level.Load())))
	}
	if c.pre != nil {
		// Apply the prologue to a copy of the activation operand: its
		// rows (channels) are the k index, or blocks of kh*kw of it.
		if c.preOnA {
			a = preApplyGo(a, c.pre, c.preRelu, c.aConv, c.lda)
		} else {
			b = preApplyGo(b, c.pre, c.preRelu, c.conv, c.ldb)
		}
	}
	if cv := c.conv; cv != nil && c.toeplitz {
		b, ldb, transB = toeplitzMatrix(cv, c.b, c.n), c.n, false
	} else if cv != nil {
		b, ldb, transB = im2colConv(cv, c.b, threads), c.n, false
	}
	if cv := c.aConv; cv != nil {
		a, lda, transA = im2colConv(cv, c.a, threads), c.m, true
	}
	if c.aoff != nil {
		ex := make([]float32, c.m*c.k)
		for p, o := range c.aoff[:c.k] {
			for i := 0; i < c.m; i++ {
				ex[i*c.k+p] = c.a[int(o)+i]
			}
		}
		a, lda, transA = ex, c.k, false
	}
	beta := float32(0)
	if c.accum {
		beta = 1
	}
	if c.ct != nil {
		// C^T = epilogue(op(A) op(B))^T: compute C, then transpose.
		tmp := make([]float32, c.m*c.n)
		gemmBlocked(transA, transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, 0, tmp, c.n, threads)
		e := c.epi
		for j := 0; j < c.n; j++ {
			for i := 0; i < c.m; i++ {
				at := i
				if c.ctWq > 0 {
					if i%c.ctWq >= c.ctOw {
						continue
					}
					at = i/c.ctWq*c.ctOw + i%c.ctWq
				}
				v := tmp[i*c.n+j]
				if e.biasCol != nil {
					v += e.biasCol[j]
				}
				if e.resid != nil {
					v += e.resid[j*e.ldr+at]
				}
				if e.clamp {
					v = min(max(v, e.lo), e.hi)
				}
				c.ct[j*c.ldct+at] = v
			}
		}
		return
	}
	if c.compactY != nil {
		tmp := make([]float32, c.m*c.n)
		gemmBlocked(transA, transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, 0, tmp, c.n, threads)
		cv, e := c.conv, c.epi
		for i := 0; i < c.m; i++ {
			for oy := 0; oy < cv.oh; oy++ {
				for ox := 0; ox < cv.ow; ox++ {
					v := tmp[i*c.n+oy*cv.iw+ox]
					if e.biasRow != nil {
						v += e.biasRow[i]
					}
					if e.resid != nil {
						v += e.resid[i*e.ldr+oy*cv.ow+ox]
					}
					if e.clamp {
						v = min(max(v, e.lo), e.hi)
					}
					c.compactY[i*c.ldy+oy*cv.ow+ox] = v
				}
			}
		}
		return
	}
	gemmBlocked(transA, transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, beta, c.c, c.ldc, threads)
	if c.epi.active() {
		sgemmEpilogueGo(c.c, c.ldc, c.m, c.n, &c.epi)
	}
}

// preApplyGo returns x with the prologue applied: channel c (an image
// plane, or row c of a matrix with row stride ld) becomes
// x*pre[c] + pre[C+c], then max(., 0) when relu.
func preApplyGo(x, pre []float32, relu bool, cv *sgemmConv, ld int) []float32 {
	channels := len(pre) / 2
	size := ld
	if cv != nil {
		size = cv.ih * cv.iw
	}
	out := append([]float32(nil), x...)
	for c := 0; c < channels; c++ {
		end := min(len(out), (c+1)*size)
		for i := c * size; i < end; i++ {
			v := out[i]*pre[c] + pre[channels+c]
			if relu {
				v = max(v, 0)
			}
			out[i] = v
		}
	}
	return out
}

// sgemmEpilogueGo applies e to the m x n window of c.
func sgemmEpilogueGo(c []float32, ldc, m, n int, e *sgemmEpilogue) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			v := row[j]
			if e.biasRow != nil {
				v += e.biasRow[i]
			}
			if e.biasCol != nil {
				v += e.biasCol[j]
			}
			if e.resid != nil {
				v += e.resid[i*e.ldr+j]
			}
			if e.clamp {
				v = min(max(v, e.lo), e.hi)
			}
			row[j] = v
		}
	}
}

// toeplitzMatrix builds the k x n Toeplitz matrix of a padded image (see
// sgemmCall.toeplitz).
func toeplitzMatrix(cv *sgemmConv, p []float32, n int) []float32 {
	k := cv.cin * cv.kh * cv.kw
	out := make([]float32, k*n)
	for r := 0; r < k; r++ {
		c, ky, kx := r/(cv.kh*cv.kw), r/cv.kw%cv.kh, r%cv.kw
		yy, xx := ky*cv.dh, kx*cv.dw
		phase := (c*cv.sh+yy%cv.sh)*cv.sw + xx%cv.sw
		off := phase*cv.ih*cv.iw + yy/cv.sh*cv.iw + xx/cv.sw
		copy(out[r*n:(r+1)*n], p[off:off+n])
	}
	return out
}

// im2colConv builds the im2col matrix (cin*kh*kw x oh*ow) of an image.
func im2colConv(cv *sgemmConv, img []float32, threads int) []float32 {
	k, n := cv.cin*cv.kh*cv.kw, cv.oh*cv.ow
	col := make([]float32, k*n)
	parallelChunks(k, threads, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			c, ky, kx := p/(cv.kh*cv.kw), p/cv.kw%cv.kh, p%cv.kw
			plane := img[c*cv.ih*cv.iw : (c+1)*cv.ih*cv.iw]
			dst := col[p*n : (p+1)*n]
			for oy := 0; oy < cv.oh; oy++ {
				iy := oy*cv.sh + ky*cv.dh - cv.ph
				for ox := 0; ox < cv.ow; ox++ {
					ix := ox*cv.sw + kx*cv.dw - cv.pw
					v := float32(0)
					if iy >= 0 && iy < cv.ih && ix >= 0 && ix < cv.iw {
						v = plane[iy*cv.iw+ix]
					}
					dst[oy*cv.ow+ox] = v
				}
			}
		}
	})
	return col
}

// sgemmFast is a gemmFunc[float32] on the active kernel (the package's
// sgemm): C = alpha*op(A)*op(B) + beta*C.
func sgemmFast(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int, threads int) {
	if m <= 0 || n <= 0 {
		return
	}
	if sgemmISA() == nil || k == 0 || alpha == 0 {
		gemmBlocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads)
		return
	}
	if beta != 0 && beta != 1 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
	call := sgemmCall{m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, transA: transA,
		b: b, ldb: ldb, transB: transB, c: c, ldc: ldc, accum: beta != 0}
	call.run(threads)
}
