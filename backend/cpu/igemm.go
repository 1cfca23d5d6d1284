// INT8 GEMM on the SIMD micro-kernels (simd_igemm_tmpl.h): the Go driver,
// with operand packing, sign handling, zero points and threading.
//
// One call computes, exactly in int32 (modulo 2^32 like the reference),
//
//	Y[i][j] = sum_k (A[i][k] - za[i]) * (B[k][j] - zb[j]) + bias[i]
//
// for 8-bit A (m x k, uint8 or int8) and B (k x n; or the im2col matrix of
// an 8-bit image), za per row or one value, zb per column or one value.
//
// The kernels multiply packed operands: VNNI's vpdpbusd needs one operand
// unsigned (u8) and the other signed (s8); an operand of the wrong kind is
// packed with its top bit flipped, which adds an offset o (+128 for s8 ->
// u8, -128 for u8 -> s8). With a' = a + oa, b' = b + ob and S the kernel's
// sum of a'*b' over k (K = k):
//
//	Y = S - (ob + zb[j])*ra[i] - (oa + za[i])*cb[j] + K*(za[i]*zb[j] - oa*ob) + bias[i]
//
// where ra and cb are the row sums of A and column sums of B (original
// values). The kernel adds these terms in its store as row terms, column
// terms and at most two rank-1 products (see igemmCall.terms). The AVX2
// kernel (no VNNI) widens both operands to int16 instead and multiplies
// pairs with vpmaddwd: products of 8-bit values and their pair sums fit
// in int32, and no offsets are needed. (vpmaddubsw, which multiplies u8 by
// s8 directly, saturates its int16 pair sums: 255*127*2 > 32767.) Where
// the signed operand is a constant that lies in [-64, 64] (weights
// quantized with --reduce-range), no pair can saturate, and the AVX2 byte
// kernel (igemmAVX2Bytes: VNNI's operand format, vpmaddubsw then vpmaddwd
// by 1) computes the same sums: as many multiplies per product as the
// int16 kernel, but half the broadcasts, loads and packed bytes, and half
// the additions.
//
// Convolutions put the weights in A and pack im2col(X) as B; the terms
// then need only ra (weight row sums, computed once), provided the
// weights' zero point is 0 (symmetric weights, the usual quantization):
// otherwise the column sums of im2col(X) would be needed, and the op uses
// its reference path.

package cpu

import (
	"fmt"
	"unsafe"

	"github.com/gcompress/gcompress/tensor"
)

// igemmKernel is one instruction set's INT8 GEMM.
type igemmKernel struct {
	name           string
	mr, nr, vl, ku int
	madd           bool // int16 vpmaddwd format: no sign offsets
	kc, mc, nc     int
	run            func(a *gemmArgs, A, B []byte, C []int32, ra, ca, r1, c1, r2, c2, sa, sb []int32, mult []float64, Y []byte)
	// requant: the epilogue can requantize to 8 bits (igemmCall.requant)
	requant bool
	packA   func(a *gemmArgs, A []byte, dst []int32)
	packB   func(a *gemmArgs, B []byte, dst []int32)
}

func (k *igemmKernel) mpad(m int) int { return gemmRoundUp(m, k.mr) }
func (k *igemmKernel) npad(n int) int { return n/k.nr*k.nr + gemmRoundUp(n%k.nr, k.vl) }

// words is the number of packed 32-bit words of an operand with m rows
// (A) or n columns (B, npad) and depth k.
func (k *igemmKernel) words(width, depth int) int {
	full, rem := depth/k.kc, depth%k.kc
	return width * (full*(k.kc/k.ku) + (rem+k.ku-1)/k.ku)
}

// igemmBytesLimit is the largest magnitude of the signed operand for which
// igemmAVX2Bytes is exact: a pair of products is then at most 2*255*64 =
// 32640 in magnitude, inside vpmaddubsw's int16.
const igemmBytesLimit = 64

// bytesFit remembers whether an op's constant int8 operand lies in
// [-igemmBytesLimit, igemmBytesLimit], the byte kernel's condition.
type bytesFit struct {
	fits constPack[struct{}, bool]
}

// kernel returns the kernel to pack the constant signed (int8) operand t
// (bytes b; constant is the op's initializer) for: igemmISA's, or at the
// levels that run the int16 kernel the byte kernel when t lies in
// [-igemmBytesLimit, igemmBytesLimit] (scanned once per constant, and only
// there; a computed t never fits). The product must then take that operand
// as the signed one without flipping it (form: an int8 operand against a
// uint8 one, or two int8 operands with the other flipped).
func (f *bytesFit) kernel(t, constant *tensor.Tensor, b []byte) *igemmKernel {
	kern := igemmISA()
	if kern != igemmAVX2 || igemmAVX2Bytes == nil {
		return kern
	}
	if f.fits.get(t, constant, struct{}{}, func() bool { return int8Within(b, igemmBytesLimit) }) {
		return igemmAVX2Bytes
	}
	return kern
}

// int8Within reports whether every byte of b, read as int8, lies in
// [-limit, limit].
func int8Within(b []byte, limit int) bool {
	for _, v := range b {
		if x := int(int8(v)); x < -limit || x > limit {
			return false
		}
	}
	return true
}

// igemmISA returns the INT8 kernel of the active level (nil: pure Go).
func igemmISA() *igemmKernel {
	switch CPULevel(level.Load()) {
	case LevelAVX512VNNI:
		return igemmVNNI512
	case LevelAVXVNNI:
		return igemmAVXVNNI
	case LevelAVX2, LevelAVX512:
		return igemmAVX2
	}
	return nil
}

// withIBlocking sets the INT8 blocking: kc bytes of k per block (a
// multiple of 4), sized like the FP32 kernel's (a kc x NR panel of B in
// half of L1), mc and nc as for FP32.
func withIBlocking(k *igemmKernel) *igemmKernel {
	if k == nil {
		return nil
	}
	c := cpuCaches
	// A panel word holds ku values: kc/ku words x NR columns x 4 bytes.
	k.kc = clampInt(c.l1d/2/(k.nr*4)*k.ku/16*16, 64, 2048)
	k.mc = clampInt(c.l2/2/(k.kc/k.ku*4)/k.mr*k.mr, k.mr, 1024/k.mr*k.mr)
	k.nc = clampInt(c.l3/4/(k.kc/k.ku*4)/k.nr*k.nr, k.nr, 8192/k.nr*k.nr)
	return k
}

// igemmPacked is an 8-bit operand packed for one kernel, with its row
// sums (A) or column sums (B) in original values.
type igemmPacked struct {
	kern       *igemmKernel
	isA        bool
	rows, cols int // m x k (A) or k x n (B)
	u8, flip   bool
	data       []int32
	sums       []int32
}

// igemmCall is one product (see the file comment).
type igemmCall struct {
	m, n, k int
	a       []byte // unused when packedA is set
	aU8     bool
	lda     int
	transA  bool
	packedA *igemmPacked
	b       []byte // matrix, or the image when conv is set
	bU8     bool
	ldb     int
	transB  bool
	packedB *igemmPacked
	conv    *sgemmConv
	// toep, instead of conv, makes B a zero-padded image (planes of toep.ih
	// x toep.iw, the padded size) read as the Toeplitz matrix of a stride-1
	// convolution: n = oh x padded width, the columns past ow garbage.
	toep   *sgemmConv
	c      []int32
	ldc    int
	za, zb []int32 // one value, or per row / per column; nil: 0
	bias   []int32 // per row; nil: none
	// preferFlipB chooses, when both operands have the same signedness,
	// to offset B (then only A's row sums are needed) rather than A.
	preferFlipB bool
	// fixed, when set, is the whole epilogue, precomputed by the caller
	// (za, zb and bias are then ignored); only for a form without offsets
	// (form's oa and ob both 0).
	fixed *igemmTerms
	// requant, when set, sends the result to 8 bits instead of c (only
	// for a kernel with requant).
	requant *igemmRequant
}

// igemmRequant makes the INT8 GEMM's epilogue requantize its result
// straight into y (m rows of stride ldy, uint8 when u8, else int8):
//
//	y[i][j] = clamp(round_half_even(c[i][j] * mult[i]) + zp, lo, hi)
//
// in double, as requantC computes it, so the int32 product never goes
// through memory. c is then only scratch for the partial sums of the k
// blocks before the last, and may be nil when k <= the kernel's kc.
type igemmRequant struct {
	y          []byte
	u8         bool
	ldy        int
	mult       []float64
	zp, lo, hi float64
	// pw > 0: the product is a Toeplitz one of padded width pw (see
	// gc_gemm_args.rq_pw), compacted into rows of width ow.
	pw, ow int
}

// form decides, for kernel kern, which operand vpdpbusd treats as
// unsigned and which one is packed with flipped bits, and the offsets
// that adds.
func (c *igemmCall) form(kern *igemmKernel) (au, flipA, flipB bool, oa, ob int32) {
	if kern.madd {
		return false, false, false, 0, 0
	}
	switch {
	case c.aU8 && c.bU8:
		if c.preferFlipB {
			return true, false, true, 0, -128
		}
		return false, true, false, -128, 0
	case c.aU8:
		return true, false, false, 0, 0
	case c.bU8:
		return false, false, false, 0, 0
	default:
		if c.preferFlipB {
			return false, false, true, 0, 128
		}
		return true, true, false, 128, 0
	}
}

// igemmSums computes row sums of op(A) (rows m, depth k) or, with the
// roles swapped by the caller, column sums of op(B).
func igemmRowSums(a []byte, u8, trans bool, rows, depth, ld int) []int32 {
	out := make([]int32, rows)
	val := func(i int) int32 {
		if u8 {
			return int32(a[i])
		}
		return int32(int8(a[i]))
	}
	for r := 0; r < rows; r++ {
		var s int32
		for p := 0; p < depth; p++ {
			if trans {
				s += val(p*ld + r)
			} else {
				s += val(r*ld + p)
			}
		}
		out[r] = s
	}
	return out
}

// packIgemmA packs op(A) (m x k) for kern with the given flip.
func packIgemmA(kern *igemmKernel, a []byte, u8, flip, transA bool, m, k, lda, threads int) *igemmPacked {
	p := &igemmPacked{kern: kern, isA: true, rows: m, cols: k, u8: u8, flip: flip,
		data: make([]int32, kern.words(kern.mpad(m), k)), sums: igemmRowSums(a, u8, transA, m, k, lda)}
	args := gemmArgs{m: int64(m), k: int64(k), lda: int64(lda), kc: int64(kern.kc)}
	args.flags = igemmTypeFlags(u8, false, flip, false)
	if transA {
		args.flags |= gcTransA
	}
	panels := (m + kern.mr - 1) / kern.mr
	parallelChunks(panels, min(threads, max(1, m*k/copyMinWork)), func(lo, hi int) {
		a2 := args
		a2.i0, a2.i1 = int64(lo*kern.mr), int64(min(m, hi*kern.mr))
		kern.packA(&a2, a, p.data)
	})
	return p
}

// packIgemmB packs op(B) (k x n, a matrix) for kern with the given flip.
func packIgemmB(kern *igemmKernel, b []byte, u8, flip, transB bool, k, n, ldb, threads int) *igemmPacked {
	p := &igemmPacked{kern: kern, rows: k, cols: n, u8: u8, flip: flip,
		data: make([]int32, kern.words(kern.npad(n), k)), sums: igemmRowSums(b, u8, !transB, n, k, ldb)}
	args := gemmArgs{n: int64(n), k: int64(k), ldb: int64(ldb), kc: int64(kern.kc)}
	args.flags = igemmTypeFlags(false, u8, false, flip)
	if transB {
		args.flags |= gcTransB
	}
	kern.packBWords(p.data, &args, b, threads)
	return p
}

func (kern *igemmKernel) packBWords(dst []int32, args *gemmArgs, b []byte, threads int) {
	n := int(args.n)
	panels := (n + kern.nr - 1) / kern.nr
	parallelChunks(panels, min(threads, max(1, n*int(args.k)/copyMinWork)), func(lo, hi int) {
		a2 := *args
		a2.j0, a2.j1 = int64(lo*kern.nr), int64(min(n, hi*kern.nr))
		kern.packB(&a2, b, dst)
	})
}

func (kern *igemmKernel) packAWords(dst []int32, args *gemmArgs, a []byte, threads int) {
	m := int(args.m)
	panels := (m + kern.mr - 1) / kern.mr
	parallelChunks(panels, min(threads, max(1, m*int(args.k)/copyMinWork)), func(lo, hi int) {
		a2 := *args
		a2.i0, a2.i1 = int64(lo*kern.mr), int64(min(m, hi*kern.mr))
		kern.packA(&a2, a, dst)
	})
}

// Flags of the INT8 kernels (GC_* in simd_amd64.h).
const (
	gcAU     = 1024
	gcAU8    = 2048
	gcBU8    = 4096
	gcFlipA  = 8192
	gcFlipB  = 16384
	gcHasEpi = 32768
	// gcRequant and gcRequantU8: see GC_REQUANT in simd_amd64.h
	gcRequant   = 33554432
	gcRequantU8 = 67108864
)

func igemmTypeFlags(aU8, bU8, flipA, flipB bool) int64 {
	var f int64
	if aU8 {
		f |= gcAU8
	}
	if bU8 {
		f |= gcBU8
	}
	if flipA {
		f |= gcFlipA
	}
	if flipB {
		f |= gcFlipB
	}
	return f
}

// at returns v[i], or v[0] for a one-value vector, or 0 for nil.
func at(v []int32, i int) int32 {
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	return v[i]
}

// igemmTerms are the int32 epilogue vectors of a call (nil: absent).
type igemmTerms struct {
	ra, ca, r1, c1, r2, c2 []int32
}

// terms derives the epilogue from the zero points, offsets and bias.
// ra and cb are the row sums of A and column sums of B (nil when not
// needed: then the factor multiplying them is zero, checked by the
// caller with needSums).
func (c *igemmCall) terms(oa, ob int32, ra, cb []int32) igemmTerms {
	var t igemmTerms
	K := int32(c.k)
	zaVec, zbVec := len(c.za) > 1, len(c.zb) > 1
	rowAdd := make([]int32, c.m)
	var colAdd []int32
	if cb != nil || zbVec && !zaVec { // else every column term is 0
		colAdd = make([]int32, c.n)
	}
	useRow, useCol := false, false
	for i := range rowAdd {
		v := at(c.bias, i) - K*oa*ob
		if ra != nil {
			v -= ob * ra[i]
			if !zbVec {
				v -= at(c.zb, 0) * ra[i]
			}
		}
		if !zbVec {
			v += K * at(c.za, i) * at(c.zb, 0)
		}
		rowAdd[i] = v
		useRow = useRow || v != 0
	}
	for j := range colAdd {
		var v int32
		if cb != nil {
			v -= oa * cb[j]
			if !zaVec {
				v -= at(c.za, 0) * cb[j]
			}
		}
		if zbVec && !zaVec {
			v += K * at(c.za, 0) * c.zb[j]
		}
		colAdd[j] = v
		useCol = useCol || v != 0
	}
	if useRow {
		t.ra = rowAdd
	}
	if useCol {
		t.ca = colAdd
	}
	if zbVec && ra != nil { // -zb[j]*ra[i]
		t.r1, t.c1 = ra, make([]int32, c.n)
		for j := range t.c1 {
			t.c1[j] = -c.zb[j]
		}
	}
	if zaVec { // za[i]*(K*zb[j] - cb[j]) (the scalar-zb part of K*za*zb is a row term)
		t.r2, t.c2 = c.za, make([]int32, c.n)
		for j := range t.c2 {
			var v int32
			if zbVec {
				v = K * c.zb[j]
			}
			if cb != nil {
				v -= cb[j]
			}
			t.c2[j] = v
		}
	}
	return t
}

// needSums reports whether the row sums of A and the column sums of B
// enter the result.
func (c *igemmCall) needSums(oa, ob int32) (needRA, needCB bool) {
	needRA = ob != 0
	for _, z := range c.zb {
		needRA = needRA || z != 0
	}
	needCB = oa != 0
	for _, z := range c.za {
		needCB = needCB || z != 0
	}
	return needRA, needCB
}

// bytesPacked returns the operand packed for igemmAVX2Bytes, if any.
func (c *igemmCall) bytesPacked() *igemmPacked {
	if p := c.packedA; p != nil && p.kern == igemmAVX2Bytes {
		return p
	}
	if p := c.packedB; p != nil && p.kern == igemmAVX2Bytes {
		return p
	}
	return nil
}

// runSIMD computes the call with the active INT8 kernel and reports
// false (computing nothing) when there is none or the call needs column
// sums of an image operand.
func (c *igemmCall) runSIMD(threads int) bool {
	kern := igemmISA()
	if p := c.bytesPacked(); p != nil && kern == igemmAVX2 {
		// packed by bytesFit.kernel: exact only as the signed operand
		if p.u8 || p.flip {
			return false
		}
		kern = p.kern
	}
	if kern == nil || c.k == 0 {
		return false
	}
	if c.m <= 0 || c.n <= 0 {
		return true
	}
	au, flipA, flipB, oa, ob := c.form(kern)
	if p := c.packedA; p != nil && (p.kern != kern || p.flip != flipA) {
		return false
	}
	if p := c.packedB; p != nil && (p.kern != kern || p.flip != flipB) {
		return false
	}
	var t igemmTerms
	if c.fixed != nil {
		if oa != 0 || ob != 0 {
			return false
		}
		t = *c.fixed
	} else {
		needRA, needCB := c.needSums(oa, ob)
		var ra, cb []int32
		if needRA {
			if c.packedA != nil {
				ra = c.packedA.sums
			} else {
				ra = igemmRowSums(c.a, c.aU8, c.transA, c.m, c.k, c.lda)
			}
		}
		if needCB {
			switch {
			case c.packedB != nil:
				cb = c.packedB.sums
			case c.conv != nil || c.toep != nil:
				return false
			default:
				cb = igemmRowSums(c.b, c.bU8, !c.transB, c.n, c.k, c.ldb)
			}
		}
		t = c.terms(oa, ob, ra, cb)
	}
	if c.requant != nil && !kern.requant {
		return false
	}
	c.check(kern)
	args := gemmArgs{m: int64(c.m), n: int64(c.n), k: int64(c.k), lda: int64(c.lda), ldb: int64(c.ldb),
		ldc: int64(c.ldc), kc: int64(kern.kc), mc: int64(kern.mc), nc: int64(kern.nc)}
	args.flags = igemmTypeFlags(c.aU8, c.bU8, flipA, flipB)
	var mult []float64
	var y []byte
	if r := c.requant; r != nil {
		args.flags |= gcRequant
		if r.u8 {
			args.flags |= gcRequantU8
		}
		args.ldy, args.rqZp, args.rqLo, args.rqHi = int64(r.ldy), r.zp, r.lo, r.hi
		args.rqPw, args.rqOw = int64(r.pw), int64(r.ow)
		mult, y = r.mult, r.y
	}
	if au {
		args.flags |= gcAU
	}
	if c.transA {
		args.flags |= gcTransA
	}
	if c.transB {
		args.flags |= gcTransB
	}
	if t.ra != nil || t.ca != nil || t.r1 != nil || t.r2 != nil {
		args.flags |= gcHasEpi
	}
	if cv := c.conv; cv != nil {
		args.flags |= gcBConv
		args.cin, args.ih, args.iw, args.kh, args.kw = int64(cv.cin), int64(cv.ih), int64(cv.iw), int64(cv.kh), int64(cv.kw)
		args.sh, args.sw, args.ph, args.pw = int64(cv.sh), int64(cv.sw), int64(cv.ph), int64(cv.pw)
		args.dh, args.dw, args.oh, args.ow = int64(cv.dh), int64(cv.dw), int64(cv.oh), int64(cv.ow)
		if len(c.zb) > 0 {
			args.padValue = int64(byte(c.zb[0]))
		}
	}
	if tv := c.toep; tv != nil {
		args.flags |= gcBToep
		args.cin, args.ih, args.iw, args.kh, args.kw = int64(tv.cin), int64(tv.ih), int64(tv.iw), int64(tv.kh), int64(tv.kw)
		args.dh, args.dw, args.sh, args.sw = int64(tv.dh), int64(tv.dw), 1, 1
	}
	a, b := c.a, c.b
	if c.packedA != nil {
		args.flags |= gcAPacked
		a = int32Bytes(c.packedA.data)
	}
	if c.packedB != nil {
		args.flags |= gcBPacked
		b = int32Bytes(c.packedB.data)
	}
	rowPanels := (c.m + kern.mr - 1) / kern.mr
	colPanels := (c.n + kern.nr - 1) / kern.nr
	parts := min(threads, max(1, c.m*c.n*c.k/(4*sgemmMinWork))) // INT8 products run ~4x faster
	window := func(w *gemmArgs, a, b []byte) {
		var sa, sb []int32 // packing scratch, unused for a packed operand
		if w.flags&gcAPacked == 0 {
			p := getI32(kern.words(kern.mpad(min(kern.mc, c.m)), min(kern.kc, c.k)))
			defer putI32(p)
			sa = *p
		}
		if w.flags&gcBPacked == 0 {
			p := getI32(kern.words(kern.npad(min(kern.nc, int(w.j1-w.j0))), min(kern.kc, c.k)))
			defer putI32(p)
			sb = *p
		}
		kern.run(w, a, b, c.c, t.ra, t.ca, t.r1, t.c1, t.r2, t.c2, sa, sb, mult, y)
	}
	if parts <= 1 {
		args.i0, args.i1, args.j0, args.j1 = 0, int64(c.m), 0, int64(c.n)
		window(&args, a, b)
		return true
	}
	splitN := colPanels >= 4*parts || colPanels >= rowPanels
	if splitN && args.flags&gcAPacked == 0 {
		buf := getI32(kern.words(kern.mpad(c.m), c.k))
		defer putI32(buf)
		kern.packAWords(*buf, &args, c.a, parts)
		a = int32Bytes(*buf)
		args.flags |= gcAPacked
	}
	if !splitN && args.flags&gcBPacked == 0 {
		buf := getI32(kern.words(kern.npad(c.n), c.k))
		defer putI32(buf)
		kern.packBWords(*buf, &args, c.b, parts)
		b = int32Bytes(*buf)
		args.flags |= gcBPacked
	}
	if splitN {
		parts = min(parts, colPanels)
	} else {
		parts = min(parts, rowPanels)
	}
	parallelChunks(parts, parts, func(p, _ int) {
		w := args
		w.partWindow(p, parts, splitN, c.m, c.n, kern.mr, kern.nr)
		window(&w, a, b)
	})
	return true
}

// runRequant runs c, whose requant is set, with c.c int32 scratch for the
// partial sums of its k blocks before the last when k takes more than one
// block of the kernel's (none is needed otherwise).
func (c igemmCall) runRequant(threads int) bool {
	if kern := igemmISA(); kern != nil && c.k > kern.kc {
		s := getI32(c.m * c.n)
		defer putI32(s)
		c.c, c.ldc = *s, c.n
	}
	return c.runSIMD(threads)
}

// int32Bytes views packed words as bytes for the cgo call.
func int32Bytes(v []int32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

// check panics if a slice is too short for the call with kernel kern.
func (c *igemmCall) check(kern *igemmKernel) {
	need := func(what string, n, rows, cols, ld int) {
		if rows > 0 && cols > 0 && (ld < cols || n < (rows-1)*ld+cols) {
			panic(fmt.Sprintf("igemm: %s is %d long, need %d x %d with stride %d", what, n, rows, cols, ld))
		}
	}
	switch {
	case c.packedA != nil:
		if !c.packedA.isA || c.packedA.rows != c.m || c.packedA.cols != c.k {
			panic("igemm: packed A does not match the call")
		}
	case c.transA:
		need("A", len(c.a), c.k, c.m, c.lda)
	default:
		need("A", len(c.a), c.m, c.k, c.lda)
	}
	switch {
	case c.packedB != nil:
		if c.packedB.isA || c.packedB.rows != c.k || c.packedB.cols != c.n {
			panic("igemm: packed B does not match the call")
		}
	case c.conv != nil:
		cv := c.conv
		if cv.cin*cv.kh*cv.kw != c.k || cv.oh*cv.ow != c.n || len(c.b) < cv.cin*cv.ih*cv.iw {
			panic("igemm: image does not match the call")
		}
	case c.toep != nil:
		tv := c.toep
		last := (tv.cin-1)*tv.ih*tv.iw + (tv.kh-1)*tv.dh*tv.iw + (tv.kw-1)*tv.dw
		if tv.cin*tv.kh*tv.kw != c.k || len(c.b) < last+c.n {
			panic("igemm: padded image does not match the call")
		}
	case c.transB:
		need("B", len(c.b), c.n, c.k, c.ldb)
	default:
		need("B", len(c.b), c.k, c.n, c.ldb)
	}
	if r := c.requant; r != nil {
		cols := c.n
		if r.pw > 0 {
			if r.ow > r.pw || c.n%r.pw != 0 {
				panic("igemm: compacted requantization does not match the call")
			}
			cols = c.n / r.pw * r.ow
		}
		need("Y", len(r.y), c.m, cols, r.ldy)
		if len(r.mult) < c.m {
			panic("igemm: requantization multipliers too short")
		}
	}
	if c.requant == nil || c.k > kern.kc {
		need("C", len(c.c), c.m, c.n, c.ldc)
	}
	for _, v := range []struct {
		s []int32
		n int
	}{{c.za, c.m}, {c.zb, c.n}, {c.bias, c.m}} {
		if len(v.s) > 1 && len(v.s) < v.n {
			panic("igemm: zero point or bias vector too short")
		}
	}
}

// igemmRef is the reference: Y = sum_k (A - za)(B - zb) + bias, with
// op(B) from a matrix or an image (im2col, padding reading as zb), in
// int32 arithmetic.
func (c *igemmCall) ref() {
	val := func(s []byte, i int, u8 bool) int32 {
		if u8 {
			return int32(s[i])
		}
		return int32(int8(s[i]))
	}
	for i := 0; i < c.m; i++ {
		for j := 0; j < c.n; j++ {
			s := at(c.bias, i)
			for p := 0; p < c.k; p++ {
				ia := i*c.lda + p
				if c.transA {
					ia = p*c.lda + i
				}
				av := val(c.a, ia, c.aU8) - at(c.za, i)
				var bv int32
				switch cv := c.conv; {
				case cv != nil:
					ch, ky, kx := p/(cv.kh*cv.kw), p/cv.kw%cv.kh, p%cv.kw
					oy, ox := j/cv.ow, j%cv.ow
					iy, ix := oy*cv.sh+ky*cv.dh-cv.ph, ox*cv.sw+kx*cv.dw-cv.pw
					if iy < 0 || iy >= cv.ih || ix < 0 || ix >= cv.iw {
						bv = 0 // padding reads as the zero point
					} else {
						bv = val(c.b, (ch*cv.ih+iy)*cv.iw+ix, c.bU8) - at(c.zb, j)
					}
				case c.transB:
					bv = val(c.b, j*c.ldb+p, c.bU8) - at(c.zb, j)
				default:
					bv = val(c.b, p*c.ldb+j, c.bU8) - at(c.zb, j)
				}
				s += av * bv
			}
			c.c[i*c.ldc+j] = s
		}
	}
}
