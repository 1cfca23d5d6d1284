// gc_requant16: the requantization of 16 int32 accumulators to 8-bit
// values, y = clamp(round_half_even(acc * s) + z, lo, hi) in double, as
// gc_requant computes it. Included by the C files that compile AVX-512
// code (after their target pragma), so that the direct INT8 convolution's
// epilogue, the INT8 GEMM's epilogue (GC_REQUANT) and
// gc_requant_rows_avx512 share one implementation; it uses AVX-512F only.
//
// It clamps acc * s to [lo - z, hi - z] before rounding and adds z as an
// integer after: with integer bounds and zero point, rounding commutes with
// the clamp, so that is the same value as clamp(round(acc * s) + z, lo, hi)
// in four fewer operations.

#ifndef GC_REQUANT_AVX512_H
#define GC_REQUANT_AVX512_H

#include <immintrin.h>

static inline __attribute__((always_inline)) __m128i gc_requant16(__m512i acc, __m512d s, __m512d z, __m512d lo,
	__m512d hi) {
	const __m512d l = _mm512_sub_pd(lo, z), h = _mm512_sub_pd(hi, z);
	__m512d a0 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), s);
	__m512d a1 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), s);
	a0 = _mm512_min_pd(_mm512_max_pd(a0, l), h);
	a1 = _mm512_min_pd(_mm512_max_pd(a1, l), h);
	const __m256i r0 = _mm512_cvt_roundpd_epi32(a0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	const __m256i r1 = _mm512_cvt_roundpd_epi32(a1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(r0), r1, 1);
	return _mm512_cvtepi32_epi8(_mm512_add_epi32(v, _mm512_set1_epi32((int)_mm512_cvtsd_f64(z))));
}

#endif
