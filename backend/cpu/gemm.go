// GEMM: the matrix-multiply kernel behind Gemm, MatMul, Conv, ConvTranspose
// and the integer ops (MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv).
//
// Every kernel computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// with op(A) an m x k matrix, op(B) k x n and C m x n, all row-major with
// leading dimensions (row strides) lda, ldb, ldc; op(X) is X or its transpose
// (then X is stored as k x m, resp. n x k). As in BLAS, beta == 0 overwrites C
// without reading it (NaNs already in C do not propagate) and alpha == 0 (or
// k == 0) does not read A or B. Only the m x n window of C is written.
//
// The ops call the package variables sgemm, dgemm and igemm, so that a faster
// kernel can replace the pure-Go blocked implementation without touching the
// ops: sgemm is sgemmFast (sgemm.go), which runs the SIMD micro-kernels of
// the active CPU level (dispatch.go) and falls back to gemmBlocked; the ops
// that fuse epilogues or pack constant weights call the SIMD driver
// (sgemmCall, igemmCall) directly. gemmBlocked stays the portable path.
// GemmRef is the oracle the tests compare every kernel against.

package cpu

// gemmElem lists the element types of the GEMM kernels. Integer types wrap
// around on overflow (arithmetic modulo 2^bits), as in C.
type gemmElem interface {
	float32 | float64 | int32 | int64 | uint32 | uint64
}

// gemmFunc is the signature of a GEMM kernel: C = alpha*op(A)*op(B) + beta*C
// (see the file comment), using up to threads goroutines.
type gemmFunc[T gemmElem] func(transA, transB bool, m, n, k int, alpha T, a []T, lda int,
	b []T, ldb int, beta T, c []T, ldc int, threads int)

// The kernels the ops use; replaceable by faster implementations.
var (
	sgemm gemmFunc[float32] = sgemmFast
	dgemm gemmFunc[float64] = gemmBlocked[float64]
	igemm gemmFunc[int32]   = gemmBlocked[int32]
)

// GemmRef is the reference GEMM: C = alpha*op(A)*op(B) + beta*C, computed
// element by element with a plain triple loop, where
//
//	op(A)[i][p] = A[i*lda+p] (transA false) or A[p*lda+i] (transA true)
//	op(B)[p][j] = B[p*ldb+j] (transB false) or B[j*ldb+p] (transB true)
//	C[i][j]     = C[i*ldc+j], 0 <= i < m, 0 <= j < n, 0 <= p < k.
//
// With beta == 0, C is overwritten without being read. It panics if a slice
// is too short for the given sizes (a programming error).
func GemmRef[T gemmElem](transA, transB bool, m, n, k int, alpha T, a []T, lda int,
	b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s T
			for p := 0; p < k; p++ {
				ia, ib := i*lda+p, p*ldb+j
				if transA {
					ia = p*lda + i
				}
				if transB {
					ib = j*ldb + p
				}
				s += a[ia] * b[ib]
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Blocking of gemmBlocked (Goto/BLIS scheme): a KC x NC block of op(B) is
// packed into NR-column panels and reused by every MC x KC block of op(A),
// packed (and scaled by alpha) into MR-row panels; the micro-kernel keeps an
// MR x NR tile of C in registers. MR x NR = 2 x 4 is what the Go compiler
// keeps in registers without spilling on amd64; KC x NR of B stays in L1 and
// MC x KC of A in L2.
const (
	gemmMR = 2
	gemmNR = 4
	gemmKC = 256
	gemmMC = 128
	gemmNC = 1024
	// gemmMinWork is the m*n*k below which splitting over threads costs more
	// than it saves.
	gemmMinWork = 1 << 15
)

// gemmBlocked is the default GEMM kernel: cache-blocked with packed panels,
// parallel over blocks of rows of C (or of columns when C is wide and short),
// each goroutine owning a disjoint window of C.
func gemmBlocked[T gemmElem](transA, transB bool, m, n, k int, alpha T, a []T, lda int,
	b []T, ldb int, beta T, c []T, ldc int, threads int) {
	if m <= 0 || n <= 0 {
		return
	}
	job := gemmJob[T]{transA: transA, transB: transB, k: k, alpha: alpha, a: a, lda: lda,
		b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
	byRows := m >= n
	blocks := (n + gemmNR - 1) / gemmNR
	if byRows {
		blocks = (m + gemmMR - 1) / gemmMR
	}
	parts := min(threads, blocks, max(1, m*n*max(k, 1)/gemmMinWork))
	if parts <= 1 {
		job.run(0, m, 0, n)
		return
	}
	parallelChunks(blocks, parts, func(lo, hi int) {
		if byRows {
			job.run(lo*gemmMR, min(m, hi*gemmMR), 0, n)
		} else {
			job.run(0, m, lo*gemmNR, min(n, hi*gemmNR))
		}
	})
}

// gemmJob holds the operands of one gemmBlocked call.
type gemmJob[T gemmElem] struct {
	transA, transB bool
	k              int
	alpha, beta    T
	a, b, c        []T
	lda, ldb, ldc  int
}

// run computes the window [i0,i1) x [j0,j1) of C.
func (g *gemmJob[T]) run(i0, i1, j0, j1 int) {
	g.scaleC(i0, i1, j0, j1)
	if g.k <= 0 || g.alpha == 0 {
		return
	}
	kcMax := gemmRoundUp(min(gemmKC, g.k), 2)
	bufA := make([]T, gemmRoundUp(min(gemmMC, i1-i0), gemmMR)*kcMax)
	bufB := make([]T, gemmRoundUp(min(gemmNC, j1-j0), gemmNR)*kcMax)
	for jc := j0; jc < j1; jc += gemmNC {
		nc := min(gemmNC, j1-jc)
		for pc := 0; pc < g.k; pc += gemmKC {
			kc := min(gemmKC, g.k-pc)
			g.packB(bufB, pc, kc, jc, nc)
			for ic := i0; ic < i1; ic += gemmMC {
				mc := min(gemmMC, i1-ic)
				g.packA(bufA, ic, mc, pc, kc)
				gemmMacro(bufA, bufB, mc, nc, gemmRoundUp(kc, 2), g.c[ic*g.ldc+jc:], g.ldc)
			}
		}
	}
}

// scaleC sets the window of C to beta*C (to zero when beta is 0).
func (g *gemmJob[T]) scaleC(i0, i1, j0, j1 int) {
	if g.beta == 1 {
		return
	}
	for i := i0; i < i1; i++ {
		row := g.c[i*g.ldc+j0 : i*g.ldc+j1]
		if g.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= g.beta
		}
	}
}

// packA copies alpha * op(A)[i0:i0+mc, p0:p0+kc] into dst as MR-row panels:
// panel r holds, for each p, the MR values of rows i0+r*MR.. at column p.
// Rows past mc and columns past kc (up to an even count) are zero.
func (g *gemmJob[T]) packA(dst []T, i0, mc, p0, kc int) {
	kp := gemmRoundUp(kc, 2)
	for ir := 0; ir < mc; ir += gemmMR {
		panel := dst[ir*kp : (ir+gemmMR)*kp]
		for r := 0; r < gemmMR; r++ {
			if ir+r >= mc {
				for p := 0; p < kp; p++ {
					panel[p*gemmMR+r] = 0
				}
				continue
			}
			i := i0 + ir + r
			if g.transA {
				for p := 0; p < kc; p++ {
					panel[p*gemmMR+r] = g.alpha * g.a[(p0+p)*g.lda+i]
				}
			} else {
				for p, v := range g.a[i*g.lda+p0 : i*g.lda+p0+kc] {
					panel[p*gemmMR+r] = g.alpha * v
				}
			}
			for p := kc; p < kp; p++ {
				panel[p*gemmMR+r] = 0
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as NR-column panels:
// panel c holds, for each p, the NR values of row p at columns j0+c*NR...
// Columns past nc and rows past kc (up to an even count) are zero.
func (g *gemmJob[T]) packB(dst []T, p0, kc, j0, nc int) {
	kp := gemmRoundUp(kc, 2)
	for jr := 0; jr < nc; jr += gemmNR {
		panel := dst[jr*kp : (jr+gemmNR)*kp]
		cols := min(gemmNR, nc-jr)
		if g.transB {
			for c := 0; c < gemmNR; c++ {
				if c >= cols {
					for p := 0; p < kc; p++ {
						panel[p*gemmNR+c] = 0
					}
					continue
				}
				col := g.b[(j0+jr+c)*g.ldb+p0 : (j0+jr+c)*g.ldb+p0+kc]
				for p, v := range col {
					panel[p*gemmNR+c] = v
				}
			}
		} else {
			for p := 0; p < kc; p++ {
				out := panel[p*gemmNR : (p+1)*gemmNR]
				row := (p0+p)*g.ldb + j0 + jr
				copy(out, g.b[row:row+cols])
				clear(out[cols:])
			}
		}
		clear(panel[kc*gemmNR:])
	}
}

// gemmMacro multiplies packed panels: C[0:mc, 0:nc] += A~ * B~, where the
// panels are kp deep. Edge tiles go through a scratch tile so that nothing
// outside the mc x nc window of c is touched.
func gemmMacro[T gemmElem](ap, bp []T, mc, nc, kp int, c []T, ldc int) {
	var tile [gemmMR * gemmNR]T
	for jr := 0; jr < nc; jr += gemmNR {
		bPanel := bp[jr*kp : (jr+gemmNR)*kp]
		cols := min(gemmNR, nc-jr)
		for ir := 0; ir < mc; ir += gemmMR {
			aPanel := ap[ir*kp : (ir+gemmMR)*kp]
			rows := min(gemmMR, mc-ir)
			if rows == gemmMR && cols == gemmNR {
				gemmMicro(kp, aPanel, bPanel, c[ir*ldc+jr:], ldc)
				continue
			}
			clear(tile[:])
			gemmMicro(kp, aPanel, bPanel, tile[:], gemmNR)
			for r := 0; r < rows; r++ {
				out := c[(ir+r)*ldc+jr : (ir+r)*ldc+jr+cols]
				for j := range out {
					out[j] += tile[r*gemmNR+j]
				}
			}
		}
	}
}

// gemmMicro adds the 2 x 4 product of an A panel (kp x 2, interleaved) and a
// B panel (kp x 4) into c (rows 0 and 1 at stride ldc). kp must be even: the
// loop is unrolled twice, which the Go compiler schedules markedly better.
func gemmMicro[T gemmElem](kp int, ap, bp []T, c []T, ldc int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 T
	ap = ap[:kp*gemmMR]
	bp = bp[:kp*gemmNR]
	for len(ap) >= 4 && len(bp) >= 8 {
		a := ap[:4:4]
		b := bp[:8:8]
		a0, a1 := a[0], a[1]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		a0, a1 = a[2], a[3]
		b0, b1, b2, b3 = b[4], b[5], b[6], b[7]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		ap = ap[4:]
		bp = bp[8:]
	}
	r0 := c[:4:4]
	r0[0] += c00
	r0[1] += c01
	r0[2] += c02
	r0[3] += c03
	r1 := c[ldc : ldc+4 : ldc+4]
	r1[0] += c10
	r1[1] += c11
	r1[2] += c12
	r1[3] += c13
}

// gemmRoundUp rounds n up to a multiple of m.
func gemmRoundUp(n, m int) int { return (n + m - 1) / m * m }
