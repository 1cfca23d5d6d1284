//go:build cgo && amd64

// cgo glue of the C micro-kernels (simd_amd64.c). Everything crossing the
// boundary is a plain pointer to numeric data or to gemmArgs (which holds
// no pointers); the Go side checks every size before the call.

package cpu

/*
#cgo CFLAGS: -O3 -std=gnu11 -fno-strict-aliasing
#include "simd_amd64.h"
*/
import "C"

import "unsafe"

// simdBuilt reports that the C kernels are compiled into this build.
const simdBuilt = true

func init() {
	if C.sizeof_gc_gemm_args != gemmArgsSize {
		panic("cpu: gc_gemm_args and gemmArgs differ in size")
	}
}

// cBool is b as a C flag: 1 or 0.
func cBool(b bool) C.int64_t {
	if b {
		return 1
	}
	return 0
}

func f32p(s []float32) *C.float {
	if len(s) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(unsafe.SliceData(s)))
}

func cArgs(a *gemmArgs) *C.gc_gemm_args { return (*C.gc_gemm_args)(unsafe.Pointer(a)) }

func newSgemmKernel(name string, info func(*C.int64_t), run func(*C.gc_gemm_args, *C.float, *C.float, *C.float, *C.float, *C.float, *C.float, *C.float, *C.float, *C.float, *C.float, *C.int64_t) C.int,
	packA, packB func(*C.gc_gemm_args, *C.float, *C.float, *C.float)) *sgemmKernel {
	var v [4]C.int64_t
	info(&v[0])
	k := &sgemmKernel{name: name, mr: int(v[0]), nr: int(v[1]), vl: int(v[2])}
	k.run = func(a *gemmArgs, A, B, Cm, br, bc, rs, sa, sb, ct, pre []float32, aoff []int64) {
		run(cArgs(a), f32p(A), f32p(B), f32p(Cm), f32p(br), f32p(bc), f32p(rs), f32p(sa), f32p(sb), f32p(ct), f32p(pre), i64p(aoff))
	}
	k.packA = func(a *gemmArgs, A, dst, pre []float32) { packA(cArgs(a), f32p(A), f32p(dst), f32p(pre)) }
	k.packB = func(a *gemmArgs, B, dst, pre []float32) { packB(cArgs(a), f32p(B), f32p(dst), f32p(pre)) }
	return k
}

var (
	sgemmAVX512 = withBlocking(newSgemmKernel("avx512",
		func(p *C.int64_t) { C.gc_sgemm_info_avx512(p) },
		func(a *C.gc_gemm_args, A, B, Cm, br, bc, rs, sa, sb, ct, pre *C.float, aoff *C.int64_t) C.int {
			return C.gc_sgemm_avx512(a, A, B, Cm, br, bc, rs, sa, sb, ct, pre, aoff)
		},
		func(a *C.gc_gemm_args, A, dst, pre *C.float) { C.gc_sgemm_pack_a_avx512(a, A, dst, pre) },
		func(a *C.gc_gemm_args, B, dst, pre *C.float) { C.gc_sgemm_pack_b_avx512(a, B, dst, pre) }))
	sgemmAVX2 = withBlocking(newSgemmKernel("avx2",
		func(p *C.int64_t) { C.gc_sgemm_info_avx2(p) },
		func(a *C.gc_gemm_args, A, B, Cm, br, bc, rs, sa, sb, ct, pre *C.float, aoff *C.int64_t) C.int {
			return C.gc_sgemm_avx2(a, A, B, Cm, br, bc, rs, sa, sb, ct, pre, aoff)
		},
		func(a *C.gc_gemm_args, A, dst, pre *C.float) { C.gc_sgemm_pack_a_avx2(a, A, dst, pre) },
		func(a *C.gc_gemm_args, B, dst, pre *C.float) { C.gc_sgemm_pack_b_avx2(a, B, dst, pre) }))
)

func i64p(s []int64) *C.int64_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(unsafe.SliceData(s)))
}

// maxPool2D8 runs gc_maxpool2d_8 (see simd_amd64.c) on planes of x (int8
// when geom[11] is 1); tmp holds two rows; the caller checks every size.
func maxPool2D8(x, y, tmp []byte, geom *[12]int64, ylo, yhi, xlo, xhi []int64) {
	C.gc_maxpool2d_8((*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(x))), (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(y))),
		(*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(tmp))), i64p(geom[:]), i64p(ylo), i64p(yhi), i64p(xlo), i64p(xhi))
}

// pool2dF32 runs gc_pool2d_f32 (see simd_amd64.c) on planes of x; the
// caller checks every size.
func pool2dF32(x, y, tmp []float32, geom *[14]int64, ylo, yhi, ycnt, xlo, xhi, xcnt []int64) {
	C.gc_pool2d_f32(f32p(x), f32p(y), f32p(tmp), i64p(geom[:]), i64p(ylo), i64p(yhi), i64p(ycnt), i64p(xlo), i64p(xhi), i64p(xcnt))
}

// dwconv2dF32 runs gc_dwconv2d_f32 (see simd_amd64.c), or its AVX-512
// variant when avx512 is set; the caller checks every size (and that
// kh*kw <= nnMaxTaps for avx512).
func dwconv2dF32(x, w, bias, z, y []float32, geom *[18]int64, lo, hi float32, avx512 bool) {
	if avx512 {
		scratch := getF32(int(C.gc_dwconv2d_scratch_avx512(i64p(geom[:]))))
		defer putF32(scratch)
		C.gc_dwconv2d_f32_avx512(f32p(x), f32p(w), f32p(bias), f32p(z), f32p(y), f32p(*scratch), i64p(geom[:]), C.float(lo), C.float(hi))
		return
	}
	scratch := getF32(int(C.gc_dwconv2d_scratch(i64p(geom[:]))))
	defer putF32(scratch)
	C.gc_dwconv2d_f32(f32p(x), f32p(w), f32p(bias), f32p(z), f32p(y), f32p(*scratch), i64p(geom[:]), C.float(lo), C.float(hi))
}

// convNarrowC runs gc_conv_narrow_f32 (see simd_amd64.c) with scratch
// of convNarrowScratch floats; the caller checks every size.
func convNarrowC(x, w, bias, z, y, scratch []float32, off []int64, geom *[28]int64, lo, hi float32) {
	C.gc_conv_narrow_f32(f32p(x), f32p(w), f32p(bias), f32p(z), f32p(y), f32p(scratch), i64p(off), i64p(geom[:]), C.float(lo), C.float(hi))
}

// convNarrowScratch returns gc_conv_narrow_scratch(geom).
func convNarrowScratch(geom *[28]int64) int { return int(C.gc_conv_narrow_scratch(i64p(geom[:]))) }

// convNarrowOffsets writes the tap offsets of geom's kernel into off (kh*kw
// values; gc_conv_narrow_offsets).
func convNarrowOffsets(geom *[28]int64, off []int64) {
	C.gc_conv_narrow_offsets(i64p(geom[:]), i64p(off))
}

// nnMaxTaps is GC_NN_MAX_TAPS: the largest kh*kw of the AVX-512 depthwise
// and pooling kernels and of the blocked depthwise kernel (gc_nchwc_dwconv,
// AVX2 and AVX-512).
const nnMaxTaps = C.GC_NN_MAX_TAPS

// pool2dF32AVX512 runs gc_pool2d_f32_avx512 (geom as pool2dF32's plus kh);
// the caller checks every size and kh*kw <= nnMaxTaps.
func pool2dF32AVX512(x, y []float32, geom *[15]int64, ylo, yhi, ycnt, xlo, xhi, xcnt []int64) {
	tmp := getF32(int(C.gc_pool2d_scratch_avx512(i64p(geom[:]))))
	defer putF32(tmp)
	C.gc_pool2d_f32_avx512(f32p(x), f32p(y), f32p(*tmp), i64p(geom[:]), i64p(ylo), i64p(yhi), i64p(ycnt), i64p(xlo), i64p(xhi), i64p(xcnt))
}

// quantizeF32To8 runs gc_quantize_f32_8 (AVX-512) or its AVX2 form: y = QuantizeLinear(x)
// with one scale and zero point into the 8-bit range [lo, hi].
func quantizeF32To8(x []float32, y []byte, scale float32, zp, lo, hi int32) {
	if CPULevel(level.Load()) < LevelAVX512 {
		C.gc_quantize_f32_8_avx2(f32p(x), (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(y))), C.int64_t(len(x)), C.float(scale),
			C.int32_t(zp), C.int32_t(lo), C.int32_t(hi))
		return
	}
	C.gc_quantize_f32_8(f32p(x), (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(y))), C.int64_t(len(x)), C.float(scale),
		C.int32_t(zp), C.int32_t(lo), C.int32_t(hi))
}

// clampF32 runs gc_clamp_f32 (AVX-512) or gc_clamp_f32_avx2: y = min(max(x,
// lo), hi) over len(y) values (x at least as long).
func clampF32(x, y []float32, lo, hi float32) {
	if len(y) == 0 {
		return
	}
	_ = x[len(y)-1]
	if CPULevel(level.Load()) >= LevelAVX512 {
		C.gc_clamp_f32(f32p(x), f32p(y), C.int64_t(len(y)), C.float(lo), C.float(hi))
		return
	}
	C.gc_clamp_f32_avx2(f32p(x), f32p(y), C.int64_t(len(y)), C.float(lo), C.float(hi))
}

// lrnF32 runs gc_lrn_f32 (AVX-512; geom as documented there); the caller
// checks every size.
func lrnF32(x, y []float32, geom *[7]int64, bias, k float64) {
	C.gc_lrn_f32(f32p(x), f32p(y), i64p(geom[:]), C.double(bias), C.double(k))
}

// rowMeansF32 runs gc_row_means: y[r] = mean of x[r*n : (r+1)*n] for the
// len(y) rows.
func rowMeansF32(x, y []float32, n int) {
	if len(y) == 0 || n == 0 {
		return
	}
	_ = x[len(y)*n-1]
	C.gc_row_means(f32p(x), f32p(y), C.int64_t(len(y)), C.int64_t(n))
}

func i32p(s []int32) *C.int32_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(s)))
}

func bytep(s []byte) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(s))
}

type cIgemmRun func(*C.gc_gemm_args, unsafe.Pointer, unsafe.Pointer, *C.int32_t, *C.int32_t, *C.int32_t, *C.int32_t, *C.int32_t, *C.int32_t, *C.int32_t, *C.int32_t, *C.int32_t, *C.double, unsafe.Pointer) C.int
type cIgemmPack func(*C.gc_gemm_args, unsafe.Pointer, *C.int32_t)

func newIgemmKernel(name string, madd bool, info func(*C.int64_t), run cIgemmRun, packA, packB cIgemmPack) *igemmKernel {
	var v [5]C.int64_t
	info(&v[0])
	k := &igemmKernel{name: name, madd: madd, mr: int(v[0]), nr: int(v[1]), vl: int(v[2]), ku: int(v[3]), requant: v[4] == 1}
	k.run = func(a *gemmArgs, A, B []byte, Cm []int32, ra, ca, r1, c1, r2, c2, sa, sb []int32, mult []float64, Y []byte) {
		var mp *C.double
		if len(mult) > 0 {
			mp = (*C.double)(unsafe.Pointer(unsafe.SliceData(mult)))
		}
		run(cArgs(a), bytep(A), bytep(B), i32p(Cm), i32p(ra), i32p(ca), i32p(r1), i32p(c1), i32p(r2), i32p(c2), i32p(sa), i32p(sb), mp, bytep(Y))
	}
	k.packA = func(a *gemmArgs, A []byte, dst []int32) { packA(cArgs(a), bytep(A), i32p(dst)) }
	k.packB = func(a *gemmArgs, B []byte, dst []int32) { packB(cArgs(a), bytep(B), i32p(dst)) }
	return k
}

var (
	igemmVNNI512 = withIBlocking(newIgemmKernel("vnni512", false,
		func(p *C.int64_t) { C.gc_igemm_info_vnni512(p) },
		func(a *C.gc_gemm_args, A, B unsafe.Pointer, Cm, ra, ca, r1, c1, r2, c2, sa, sb *C.int32_t, mult *C.double, Y unsafe.Pointer) C.int {
			return C.gc_igemm_vnni512(a, A, B, Cm, ra, ca, r1, c1, r2, c2, sa, sb, mult, Y)
		},
		func(a *C.gc_gemm_args, A unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_a_vnni512(a, A, dst) },
		func(a *C.gc_gemm_args, B unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_b_vnni512(a, B, dst) }))
	igemmAVXVNNI = withIBlocking(newIgemmKernel("avxvnni", false,
		func(p *C.int64_t) { C.gc_igemm_info_avxvnni(p) },
		func(a *C.gc_gemm_args, A, B unsafe.Pointer, Cm, ra, ca, r1, c1, r2, c2, sa, sb *C.int32_t, mult *C.double, Y unsafe.Pointer) C.int {
			return C.gc_igemm_avxvnni(a, A, B, Cm, ra, ca, r1, c1, r2, c2, sa, sb, mult, Y)
		},
		func(a *C.gc_gemm_args, A unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_a_avxvnni(a, A, dst) },
		func(a *C.gc_gemm_args, B unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_b_avxvnni(a, B, dst) }))
	igemmAVX2 = withIBlocking(newIgemmKernel("avx2", true,
		func(p *C.int64_t) { C.gc_igemm_info_avx2(p) },
		func(a *C.gc_gemm_args, A, B unsafe.Pointer, Cm, ra, ca, r1, c1, r2, c2, sa, sb *C.int32_t, mult *C.double, Y unsafe.Pointer) C.int {
			return C.gc_igemm_avx2(a, A, B, Cm, ra, ca, r1, c1, r2, c2, sa, sb, mult, Y)
		},
		func(a *C.gc_gemm_args, A unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_a_avx2(a, A, dst) },
		func(a *C.gc_gemm_args, B unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_b_avx2(a, B, dst) }))
	igemmAVX2Bytes = withIBlocking(newIgemmKernel("avx2b", false,
		func(p *C.int64_t) { C.gc_igemm_info_avx2b(p) },
		func(a *C.gc_gemm_args, A, B unsafe.Pointer, Cm, ra, ca, r1, c1, r2, c2, sa, sb *C.int32_t, mult *C.double, Y unsafe.Pointer) C.int {
			return C.gc_igemm_avx2b(a, A, B, Cm, ra, ca, r1, c1, r2, c2, sa, sb, mult, Y)
		},
		func(a *C.gc_gemm_args, A unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_a_avx2b(a, A, dst) },
		func(a *C.gc_gemm_args, B unsafe.Pointer, dst *C.int32_t) { C.gc_igemm_pack_b_avx2b(a, B, dst) }))
)

// requantC runs gc_requant (see simd_amd64.h) on an m x n accumulator, or
// its AVX-512 form for per-row multipliers at the AVX-512 levels.
func requantC(acc []int32, y []byte, m, n int, mult []float64, perCol bool, zpRow []float64, zp, lo, hi float64, outU8 bool) {
	pc, u8 := cBool(perCol), cBool(outU8)
	var zr *C.double
	if len(zpRow) > 0 {
		zr = (*C.double)(unsafe.Pointer(unsafe.SliceData(zpRow)))
	}
	if !perCol && CPULevel(level.Load()) >= LevelAVX512 {
		C.gc_requant_rows_avx512(i32p(acc), bytep(y), C.int64_t(m), C.int64_t(n), (*C.double)(unsafe.Pointer(unsafe.SliceData(mult))),
			zr, C.double(zp), C.double(lo), C.double(hi))
		return
	}
	C.gc_requant(i32p(acc), bytep(y), C.int64_t(m), C.int64_t(n), (*C.double)(unsafe.Pointer(unsafe.SliceData(mult))), pc, zr,
		C.double(zp), C.double(lo), C.double(hi), u8)
}

// padPlanes runs gc_pad_planes (see simd_amd64.h); the caller checks
// every size.
func padPlanes(x, P []float32, geom *[12]int64, pre []float32) {
	C.gc_pad_planes(f32p(x), f32p(P), i64p(geom[:]), f32p(pre))
}

func init() {
	if C.GC_QCONV_GEOM_FIXED != qconvGeomFixed || C.GC_QCONV_MAX_GROUPS != qconvMaxGroups {
		panic("cpu: gc_qconv_vnni512's geometry layout and qconvPlan's differ")
	}
}

// qconvPad runs gc_qconv_pad (see simd_amd64.h).
func qconvPad(x, P []byte, geom *[10]int64) {
	_ = x[geom[0]*geom[1]*geom[2]-1]
	_ = P[geom[7]-1]
	C.gc_qconv_pad((*C.uint8_t)(bytep(x)), (*C.uint8_t)(bytep(P)), i64p(geom[:]))
}

// qconvC runs gc_qconv_vnni512 (see simd_amd64.h) writing output channels
// [0, m) of acc[first:] (mode 0) or y[first:]; the plan's tables were
// checked against the image when it was built.
func qconvC(P []byte, tiles []int32, idx []byte, w, init []int32, acc []int32, y []byte, first int, mult []float64, zp, lo, hi float64, geom *[qconvGeomFixed + qconvMaxGroups]int64) {
	end := first + int(geom[5]*geom[6])
	var out unsafe.Pointer
	if geom[9] == 0 {
		out = unsafe.Pointer(&acc[first:end][0])
	} else {
		out = unsafe.Pointer(&y[first:end][0])
		_ = mult[geom[5]-1]
	}
	_ = w[int(geom[5])*int(geom[0]*geom[1]*geom[2])-1]
	_ = init[geom[5]-1]
	_ = idx[len(tiles)/4*64-1]
	var mp *C.double
	if len(mult) > 0 {
		mp = (*C.double)(unsafe.Pointer(unsafe.SliceData(mult)))
	}
	C.gc_qconv_vnni512((*C.uint8_t)(bytep(P)), i32p(tiles), (*C.uint8_t)(bytep(idx)), i32p(w), i32p(init), out, mp,
		C.double(zp), C.double(lo), C.double(hi), i64p(geom[:]))
}

// maxPool3x3s2x8 runs gc_maxpool3x3s2_8 on planes of ih x iw bytes.
func maxPool3x3s2x8(x, y []byte, planes, ih, iw, oh, ow, ph, pw int, signed bool) {
	_ = x[planes*ih*iw-1]
	_ = y[planes*oh*ow-1]
	if ph < 0 || ph > 1 || pw < 0 || pw > 1 {
		panic("maxPool3x3s2x8: padding out of range")
	}
	tmp := make([]byte, 1+iw+2*ow+130)
	s := cBool(signed)
	C.gc_maxpool3x3s2_8((*C.uint8_t)(bytep(x)), (*C.uint8_t)(bytep(y)), (*C.uint8_t)(bytep(tmp)), C.int64_t(planes),
		C.int64_t(ih), C.int64_t(iw), C.int64_t(oh), C.int64_t(ow), C.int64_t(ph), C.int64_t(pw), s)
}

// maxPool2x2x8 runs gc_maxpool2x2_8 on planes of ih x iw bytes.
func maxPool2x2x8(x, y []byte, planes, ih, iw, oh, ow int, signed bool) {
	_ = x[planes*ih*iw-1]
	_ = y[planes*oh*ow-1]
	s := cBool(signed)
	C.gc_maxpool2x2_8((*C.uint8_t)(bytep(x)), (*C.uint8_t)(bytep(y)), C.int64_t(planes), C.int64_t(ih), C.int64_t(iw),
		C.int64_t(oh), C.int64_t(ow), s)
}

// nchwcAVX512 reports whether the blocked kernels' AVX-512 build runs
// (else their AVX2 one: nchwcKernels).
func nchwcAVX512() bool { return CPULevel(level.Load()) >= LevelAVX512 }

// nchwcTo runs gc_nchwc_to: channel blocks [cb0, cb1) of the blocked y
// from the c NCHW planes x of one image of hw pixels.
func nchwcTo(x, y []float32, hw, c, cb0, cb1 int) {
	_, _ = x[min(c, cb1*16)*hw-1], y[cb1*16*hw-1]
	if nchwcAVX512() {
		C.gc_nchwc_to_avx512(f32p(x), f32p(y), C.int64_t(hw), C.int64_t(c), C.int64_t(cb0), C.int64_t(cb1))
	} else {
		C.gc_nchwc_to_avx2(f32p(x), f32p(y), C.int64_t(hw), C.int64_t(c), C.int64_t(cb0), C.int64_t(cb1))
	}
}

// nchwcFrom runs gc_nchwc_from, the inverse of nchwcTo.
func nchwcFrom(x, y []float32, hw, c, cb0, cb1 int) {
	_, _ = x[cb1*16*hw-1], y[min(c, cb1*16)*hw-1]
	if nchwcAVX512() {
		C.gc_nchwc_from_avx512(f32p(x), f32p(y), C.int64_t(hw), C.int64_t(c), C.int64_t(cb0), C.int64_t(cb1))
	} else {
		C.gc_nchwc_from_avx2(f32p(x), f32p(y), C.int64_t(hw), C.int64_t(c), C.int64_t(cb0), C.int64_t(cb1))
	}
}

// nchwcConvC runs gc_nchwc_conv (geom as documented there); the caller
// checks every size.
func nchwcConvC(P, w, bias, z, y []float32, geom *[21]int64, lo, hi float32) {
	if nchwcAVX512() {
		C.gc_nchwc_conv_avx512(f32p(P), f32p(w), f32p(bias), f32p(z), f32p(y), i64p(geom[:]), C.float(lo), C.float(hi))
	} else {
		C.gc_nchwc_conv_avx2(f32p(P), f32p(w), f32p(bias), f32p(z), f32p(y), i64p(geom[:]), C.float(lo), C.float(hi))
	}
}

// nchwcDwconvC runs gc_nchwc_dwconv (geom as documented there; w packed
// by packDepthwise or nil: unit weights; count nil: no division) with its
// scratch; the caller checks every size, and kh*kw <= nnMaxTaps
// (convGeom.dwBlocked).
func nchwcDwconvC(x, w, bias, z, y []float32, geom *[17]int64, lo, hi float32, count []float32) {
	scratch := getF32(int(C.gc_nchwc_dwconv_scratch(i64p(geom[:]))))
	defer putF32(scratch)
	if nchwcAVX512() {
		C.gc_nchwc_dwconv_avx512(f32p(x), f32p(w), f32p(bias), f32p(z), f32p(y), f32p(*scratch), i64p(geom[:]), C.float(lo),
			C.float(hi), f32p(count))
	} else {
		C.gc_nchwc_dwconv_avx2(f32p(x), f32p(w), f32p(bias), f32p(z), f32p(y), f32p(*scratch), i64p(geom[:]), C.float(lo),
			C.float(hi), f32p(count))
	}
}

// nchwcPoolC runs gc_nchwc_pool (count nil: max pool); the caller checks
// every size.
func nchwcPoolC(x, y []float32, geom *[12]int64, count []float32) {
	if nchwcAVX512() {
		C.gc_nchwc_pool_avx512(f32p(x), f32p(y), i64p(geom[:]), f32p(count))
	} else {
		C.gc_nchwc_pool_avx2(f32p(x), f32p(y), i64p(geom[:]), f32p(count))
	}
}

// nchwcPadC runs gc_nchwc_pad (pre nil: no prologue, else k then b for
// every channel); the caller checks every size.
func nchwcPadC(x, P []float32, geom *[9]int64, pre []float32) {
	var k, b *C.float
	if pre != nil {
		k, b = f32p(pre), f32p(pre[len(pre)/2:])
	}
	if nchwcAVX512() {
		C.gc_nchwc_pad_avx512(f32p(x), f32p(P), i64p(geom[:]), k, b)
	} else {
		C.gc_nchwc_pad_avx2(f32p(x), f32p(P), i64p(geom[:]), k, b)
	}
}

// dequantC runs gc_dequant_f32 (see simd_amd64.h) on an m x n accumulator.
func dequantC(acc []int32, y []float32, m, n int, scale, bias, z []float32, act fusedAct) {
	clamp := cBool(act.clamp)
	C.gc_dequant_f32(i32p(acc), f32p(y), C.int64_t(m), C.int64_t(n), f32p(scale), f32p(bias), f32p(z), C.float(act.lo),
		C.float(act.hi), clamp)
}

// dequant8C runs gc_dequant_8 (see simd_amd64.h): y = (x - zp) * scale
// for 8-bit x.
func dequant8C(x []byte, y []float32, signed bool, zp, scale float32) {
	sg := cBool(signed)
	C.gc_dequant_8((*C.uint8_t)(bytep(x)), f32p(y), C.int64_t(len(x)), sg, C.float(zp), C.float(scale))
}

// qadd8C runs gc_qadd_8 (see simd_amd64.h), or its AVX-512 form at the
// AVX-512 levels: the QLinearAdd of 8-bit a and b into y (all the same
// length).
func qadd8C(a, b, y []byte, signed bool, za, ra, zb, rb, zy, lo, hi float32) {
	sg := cBool(signed)
	if CPULevel(level.Load()) >= LevelAVX512 {
		C.gc_qadd_8_avx512((*C.uint8_t)(bytep(a)), (*C.uint8_t)(bytep(b)), (*C.uint8_t)(bytep(y)), C.int64_t(len(y)), sg,
			C.float(za), C.float(ra), C.float(zb), C.float(rb), C.float(zy), C.float(lo), C.float(hi))
		return
	}
	C.gc_qadd_8((*C.uint8_t)(bytep(a)), (*C.uint8_t)(bytep(b)), (*C.uint8_t)(bytep(y)), C.int64_t(len(y)), sg,
		C.float(za), C.float(ra), C.float(zb), C.float(rb), C.float(zy), C.float(lo), C.float(hi))
}

// f32ToI32C runs gc_f32_to_i32 (see simd_amd64.h) on planes of n values.
func f32ToI32C(x []float32, y []int32, planes, n int, bias []int32, m int) {
	C.gc_f32_to_i32(f32p(x), i32p(y), C.int64_t(planes), C.int64_t(n), i32p(bias), C.int64_t(m))
}
