//go:build cgo && amd64

// cgo glue of the CSR kernel (sparse_amd64.c).

package cpu

/*
#cgo CFLAGS: -O3 -std=gnu11 -fno-strict-aliasing
#include <stdint.h>
void gc_spmm_f32_avx512(const int32_t *rowptr, const int32_t *col, const float *val, const float *b,
	float *c, const float *bias, const float *z, const int64_t *geom, float lo, float hi);
void gc_sp24_f32_avx512(const float *vals, const uint8_t *meta, const int32_t *lut, const float *b, float *c,
	const float *bias, const float *z, int32_t *scratch, const int64_t *geom, float lo, float hi);
*/
import "C"

import "unsafe"

// epiArgs flattens an epilogue for the C kernels.
func epiArgs(e *SparseEpilogue) (flags int64, bias, z []float32, lo, hi float32) {
	if e == nil {
		return
	}
	if e.Clamp {
		flags |= 1
		lo, hi = e.Lo, e.Hi
	}
	if e.Bias != nil {
		flags |= 2
		bias = e.Bias
	}
	if e.Z != nil {
		flags |= 4
		z = e.Z
	}
	return
}

// lut24 lists, for each metadata byte, the columns of its four values
// relative to the byte's first group: {f0, s0, 4+f1, 4+s1}.
var lut24 = func() []int32 {
	out := make([]int32, 256*4)
	for b, t := range nibbleCols {
		out[4*b], out[4*b+1], out[4*b+2], out[4*b+3] = int32(t[0]), int32(t[1]), 4+int32(t[2]), 4+int32(t[3])
	}
	return out
}()

// sparse24C runs gc_sp24_f32_avx512 on rows [r0, r1); the caller has
// checked the operands and that the CPU has AVX-512F.
func sparse24C(s *Sparse24F32, r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	flags, bias, z, lo, hi := epiArgs(e)
	var scratch []int32
	if n > 1 {
		scratch = make([]int32, s.ValueStride())
	}
	geom := [9]int64{int64(r0), int64(r1), int64(n), int64(ldb), int64(ldcM), int64(ldcN), flags, int64(s.Cols), int64(s.K)}
	C.gc_sp24_f32_avx512(f32p(s.Vals), (*C.uint8_t)(bytep(s.Meta)), i32p(lut24), f32p(b), f32p(c), f32p(bias), f32p(z),
		i32p(scratch), (*C.int64_t)(unsafe.Pointer(&geom[0])), C.float(lo), C.float(hi))
}

// spmmC runs gc_spmm_f32_avx512 on rows [r0, r1); the caller has checked
// the operands (spCheck) and that the CPU has AVX-512F.
func spmmC(a *CSR, r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	flags, bias, z, lo, hi := epiArgs(e)
	geom := [7]int64{int64(r0), int64(r1), int64(n), int64(ldb), int64(ldcM), int64(ldcN), flags}
	C.gc_spmm_f32_avx512(i32p(a.RowPtr), i32p(a.Col), f32p(a.Val), f32p(b), f32p(c), f32p(bias), f32p(z),
		(*C.int64_t)(unsafe.Pointer(&geom[0])), C.float(lo), C.float(hi))
}
