//go:build cgo && amd64

// Channel-blocked (NCHWc) FP32 kernels (simd_nchwc_tmpl.h), once with
// AVX-512 (a block's 16 channels one register) and once with AVX2 (two):
//
//   gc_nchwc_to      NCHW planes into blocks, 16 pixels x 16 channels per
//                    register transpose;
//   gc_nchwc_from    blocks back into NCHW planes;
//   gc_nchwc_pad     a blocked image into the padded copy a convolution
//                    reads, with the pre-activation applied;
//   gc_nchwc_conv    direct convolution, blocked out, the input blocked
//                    or NCHW planes;
//   gc_nchwc_pool    max or average pool, one vector of 16 channels per
//                    output pixel;
//   gc_nchwc_dwconv  depthwise convolution of NCHW planes through blocks.
//
// Each is name_avx512 and name_avx2; the Go side (simd_cgo.go) calls the
// one of the dispatch level.

#include <immintrin.h>
#include <stdint.h>

#include "simd_amd64.h"

// nchwc_dw_dims is the padded input of gc_nchwc_dwconv (see there).
static void nchwc_dw_dims(const int64_t *geom, int64_t *hp, int64_t *wp) {
	*hp = (geom[5] - 1) * geom[9] + (geom[7] - 1) * geom[13] + 1;
	*wp = (geom[6] - 1) * geom[10] + (geom[8] - 1) * geom[14] + 1;
}

int64_t gc_nchwc_dwconv_scratch(const int64_t *geom) {
	int64_t hp, wp;
	nchwc_dw_dims(geom, &hp, &wp);
	return (hp * wp + geom[5] * geom[6] + geom[7] * geom[8] + 1) * 16;
}

// ---------------------------------------------------------------- AVX-512
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,fma")

#define NCHWC_MASK(n) ((__mmask16)((n) >= 16 ? 0xFFFFu : ((1u << (n)) - 1u)))

// nchwc_transpose16 transposes the 16 x 16 block r in place: r[i][j]
// becomes r[j][i]. Three stages: 32-bit interleave of row pairs, 64-bit
// interleave of those pairs, then 128-bit lane shuffles.
static inline __attribute__((always_inline)) void nchwc_transpose16(__m512 r[16]) {
	__m512 t[16];
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	__m512 u[16];
	for (int g = 0; g < 4; g++) {
		const __m512d t0 = _mm512_castps_pd(t[4 * g]), t1 = _mm512_castps_pd(t[4 * g + 1]);
		const __m512d t2 = _mm512_castps_pd(t[4 * g + 2]), t3 = _mm512_castps_pd(t[4 * g + 3]);
		u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
		u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
		u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
		u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
	}
	// u[4g + j], 128-bit lane L, holds column 4L + j of rows 4g..4g+3.
	for (int j = 0; j < 4; j++) {
		const __m512 ab_lo = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44), ab_hi = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);
		const __m512 cd_lo = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44), cd_hi = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
		r[j] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88);
		r[4 + j] = _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xDD);
		r[8 + j] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88);
		r[12 + j] = _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xDD);
	}
}

#define SFX(name) name##_avx512
#define vblk __m512
#define BZERO() _mm512_setzero_ps()
#define BSET1(x) _mm512_set1_ps(x)
#define BLOAD(p) _mm512_loadu_ps(p)
#define BSTORE(p, v) _mm512_storeu_ps((p), (v))
#define bmask __mmask16
#define BMASK(n) NCHWC_MASK(n)
#define BLOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define BLOADM1(p, m) _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), (m), (p))
#define BSTOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define BFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define BADD(a, b) _mm512_add_ps((a), (b))
#define BDIV(a, b) _mm512_div_ps((a), (b))
#define BMAX(a, b) _mm512_max_ps((a), (b))
#define BMIN(a, b) _mm512_min_ps((a), (b))
#define BTRANSPOSE(r) nchwc_transpose16(r)
#define NCHWC_NF 4
#define NCHWC_NP1 16
#define NCHWC_POOL_NP 8
#include "simd_nchwc_tmpl.h"

#pragma GCC pop_options

// ---------------------------------------------------------------- AVX2+FMA
#pragma GCC push_options
#pragma GCC target("avx2,fma")

// nchwc_v16 is a block's 16 floats in two AVX2 registers: channels 0-7
// in lo, 8-15 in hi.
typedef struct {
	__m256 lo, hi;
} nchwc_v16;

static inline __attribute__((always_inline)) nchwc_v16 v16_make(__m256 lo, __m256 hi) {
	nchwc_v16 v = {lo, hi};
	return v;
}

// nchwc_m16 is the first n lanes of a block: n and the maskload /
// maskstore masks of its two halves. The masked accesses touch a half
// only when it holds one of the n lanes (AMD leaves faults on masked-out
// elements to the implementation), and none when n is 0.
typedef struct {
	__m256i lo, hi;
	int64_t n;
} nchwc_m16;

static inline __attribute__((always_inline)) nchwc_m16 v16_mask(int64_t n) {
	const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const int k = n < 16 ? (int)n : 16;
	nchwc_m16 m = {_mm256_cmpgt_epi32(_mm256_set1_epi32(k), lanes), _mm256_cmpgt_epi32(_mm256_set1_epi32(k - 8), lanes), k};
	return m;
}

static inline __attribute__((always_inline)) void v16_store(float *p, nchwc_v16 v) {
	_mm256_storeu_ps(p, v.lo);
	_mm256_storeu_ps(p + 8, v.hi);
}

// v16_loadm loads the mask's lanes, zeros in the others (maskload's own).
static inline __attribute__((always_inline)) nchwc_v16 v16_loadm(const float *p, nchwc_m16 m) {
	if (m.n >= 16) return v16_make(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
	const __m256 zero = _mm256_setzero_ps();
	return v16_make(m.n > 0 ? _mm256_maskload_ps(p, m.lo) : zero, m.n > 8 ? _mm256_maskload_ps(p + 8, m.hi) : zero);
}

// v16_loadm1 is v16_loadm with ones in the lanes the mask leaves out.
static inline __attribute__((always_inline)) nchwc_v16 v16_loadm1(const float *p, nchwc_m16 m) {
	const __m256 one = _mm256_set1_ps(1.0f);
	const nchwc_v16 v = v16_loadm(p, m);
	return v16_make(_mm256_blendv_ps(one, v.lo, _mm256_castsi256_ps(m.lo)), _mm256_blendv_ps(one, v.hi, _mm256_castsi256_ps(m.hi)));
}

static inline __attribute__((always_inline)) void v16_storem(float *p, nchwc_m16 m, nchwc_v16 v) {
	if (m.n >= 16) {
		v16_store(p, v);
		return;
	}
	if (m.n > 0) _mm256_maskstore_ps(p, m.lo, v.lo);
	if (m.n > 8) _mm256_maskstore_ps(p + 8, m.hi, v.hi);
}

// transpose8 transposes the 8 x 8 block r in place: 32-bit interleave of
// row pairs, 64-bit shuffles of those pairs, then 128-bit lane swaps.
static inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
	__m256 t[8], s[8];
	for (int i = 0; i < 4; i++) {
		t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int g = 0; g < 2; g++) {
		s[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
		s[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
		s[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
		s[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
	}
	// s[j] (rows 0-3) and s[4 + j] (rows 4-7) hold columns j and 4 + j in
	// their low and high 128-bit lanes.
	for (int j = 0; j < 4; j++) {
		r[j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x20);
		r[4 + j] = _mm256_permute2f128_ps(s[j], s[4 + j], 0x31);
	}
}

// v16_transpose transposes the 16 x 16 block r in place as four 8 x 8
// blocks: rows 0-7 of the result take the low halves' transposes, rows
// 8-15 the high halves'.
static inline __attribute__((always_inline)) void v16_transpose(nchwc_v16 r[16]) {
	__m256 a[8], b[8], c[8], d[8];
	for (int i = 0; i < 8; i++) a[i] = r[i].lo, b[i] = r[i].hi, c[i] = r[8 + i].lo, d[i] = r[8 + i].hi;
	transpose8(a);
	transpose8(b);
	transpose8(c);
	transpose8(d);
	for (int j = 0; j < 8; j++) r[j] = v16_make(a[j], c[j]), r[8 + j] = v16_make(b[j], d[j]);
}

#define V16_OP2(name, op)                                                                           \
	static inline __attribute__((always_inline)) nchwc_v16 name(nchwc_v16 a, nchwc_v16 b) {         \
		return v16_make(op(a.lo, b.lo), op(a.hi, b.hi));                                            \
	}
V16_OP2(v16_add, _mm256_add_ps)
V16_OP2(v16_div, _mm256_div_ps)
V16_OP2(v16_max, _mm256_max_ps)
V16_OP2(v16_min, _mm256_min_ps)
#undef V16_OP2

static inline __attribute__((always_inline)) nchwc_v16 v16_fma(nchwc_v16 a, nchwc_v16 b, nchwc_v16 c) {
	return v16_make(_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi));
}

#define SFX(name) name##_avx2
#define vblk nchwc_v16
#define BZERO() v16_make(_mm256_setzero_ps(), _mm256_setzero_ps())
#define BSET1(x) v16_make(_mm256_set1_ps(x), _mm256_set1_ps(x))
#define BLOAD(p) v16_make(_mm256_loadu_ps(p), _mm256_loadu_ps((p) + 8))
#define BSTORE(p, v) v16_store((p), (v))
#define bmask nchwc_m16
#define BMASK(n) v16_mask(n)
#define BLOADM(p, m) v16_loadm((p), (m))
#define BLOADM1(p, m) v16_loadm1((p), (m))
#define BSTOREM(p, m, v) v16_storem((p), (m), (v))
#define BFMA(a, b, c) v16_fma((a), (b), (c))
#define BADD(a, b) v16_add((a), (b))
#define BDIV(a, b) v16_div((a), (b))
#define BMAX(a, b) v16_max((a), (b))
#define BMIN(a, b) v16_min((a), (b))
#define BTRANSPOSE(r) v16_transpose(r)
#define NCHWC_NF 1
#define NCHWC_NP1 6
#define NCHWC_POOL_NP 4
#include "simd_nchwc_tmpl.h"

#pragma GCC pop_options
