//go:build cgo && amd64

// gcompress CPU micro-kernels for x86-64. Each instruction set's code is
// compiled with a GCC target pragma, so the binary runs on any x86-64 and
// the Go side (dispatch.go) calls only what the CPU supports.

#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "simd_amd64.h"

// ---------------------------------------------------------------- AVX-512
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma,bmi2")

#define SFX(name) name##_avx512
#define MR 8
#define NR 48
#define VL 16
typedef __m512 vf_avx512;
#define vf vf_avx512
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VMASK(lanes) ((__mmask16)((1u << (lanes)) - 1u))
#define VLOADM(p, lanes) _mm512_maskz_loadu_ps(VMASK(lanes), (p))
#define VSTOREM(p, v, lanes) _mm512_mask_storeu_ps((p), VMASK(lanes), (v))
#define VBCAST(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VMIN(a, b) _mm512_min_ps((a), (b))
#include "simd_sgemm_tmpl.h"
#undef SFX
#undef MR
#undef NR
#undef VL
#undef vf
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VMASK
#undef VLOADM
#undef VSTOREM
#undef VBCAST
#undef VFMA
#undef VADD
#undef VMAX
#undef VMIN

#pragma GCC pop_options

// ---------------------------------------------------------------- AVX2+FMA
#pragma GCC push_options
#pragma GCC target("avx2,fma")

#define SFX(name) name##_avx2
#define MR 6
#define NR 16
#define VL 8
typedef __m256 vf_avx2;
#define vf vf_avx2
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VMASK(lanes) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(lanes)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLOADM(p, lanes) _mm256_maskload_ps((p), VMASK(lanes))
#define VSTOREM(p, v, lanes) _mm256_maskstore_ps((p), VMASK(lanes), (v))
#define VBCAST(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define VMIN(a, b) _mm256_min_ps((a), (b))
#include "simd_sgemm_tmpl.h"
#undef SFX
#undef MR
#undef NR
#undef VL
#undef vf
#undef VZERO
#undef VLOAD
#undef VSTORE
#undef VMASK
#undef VLOADM
#undef VSTOREM
#undef VBCAST
#undef VFMA
#undef VADD
#undef VMAX
#undef VMIN

#pragma GCC pop_options

// ---------------------------------------------------------------- INT8
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
#define SFX(name) name##_vnni512
#define MR 8
#define NR 48
#define VL 16
#define KU 4
#define MADD 0
typedef __m512i vi_vnni512;
#define vi vi_vnni512
#define VIZERO() _mm512_setzero_si512()
#define VILOAD(p) _mm512_loadu_si512((const void *)(p))
#define VISTORE(p, v) _mm512_storeu_si512((void *)(p), (v))
#define VIMASK(lanes) ((__mmask16)((1u << (lanes)) - 1u))
#define VILOADM(p, lanes) _mm512_maskz_loadu_epi32(VIMASK(lanes), (const void *)(p))
#define VISTOREM(p, v, lanes) _mm512_mask_storeu_epi32((void *)(p), VIMASK(lanes), (v))
#define VIBCAST(x) _mm512_set1_epi32(x)
#define VIADD(a, b) _mm512_add_epi32((a), (b))
#define VIMUL(a, b) _mm512_mullo_epi32((a), (b))
#define VDOT_AU(acc, a, b) _mm512_dpbusd_epi32((acc), (a), (b))
#define VDOT_BU(acc, a, b) _mm512_dpbusd_epi32((acc), (b), (a))
#define IREQUANT 1
#include "simd_requant_avx512.h"
typedef __m512d vrq_vnni512;
#define vrq vrq_vnni512
#define VRQ_SET1(m) _mm512_set1_pd(m)
typedef struct {
	__m512d z, lo, hi;
} vrq_k_vnni512;
#define vrq_k vrq_k_vnni512
#define VRQ_K(z, lo, hi) ((vrq_k){_mm512_set1_pd(z), _mm512_set1_pd(lo), _mm512_set1_pd(hi)})
#define VREQUANT(x, s, k) gc_requant16((x), (s), (k).z, (k).lo, (k).hi)
#define VSTORE_BYTES(dst, q, first, count) _mm_mask_storeu_epi8((dst) - (first), (__mmask16)(VIMASK(count) << (first)), (q))
#include "simd_igemm_tmpl.h"
#undef IREQUANT
#undef vrq
#undef VRQ_SET1
#undef vrq_k
#undef VRQ_K
#undef VREQUANT
#undef VSTORE_BYTES
#undef SFX
#undef MR
#undef NR
#undef VL
#undef KU
#undef MADD
#undef vi
#undef VIZERO
#undef VILOAD
#undef VISTORE
#undef VIMASK
#undef VILOADM
#undef VISTOREM
#undef VIBCAST
#undef VIADD
#undef VIMUL
#undef VDOT_AU
#undef VDOT_BU
#pragma GCC pop_options

// The 256-bit INT8 kernels' requantizing epilogue (IREQUANT).
#pragma GCC push_options
#pragma GCC target("avx2,fma")

// gc_requant8 is gc_requant16 (simd_requant_avx512.h) for 8 accumulators
// in AVX2: y = clamp(round_half_even(acc * s) + z, lo, hi) in double, the
// product clamped to [lo - z, hi - z] (k.l, k.h) before rounding and z
// (k.z) added as an integer after (the same value with integer bounds and
// zero point). The 8 results, within [lo, hi] and so within an int16 and
// a byte, are the low bytes of the returned vector, their low bytes as
// uint8 or int8.
typedef struct {
	__m256d l, h;
	__m128i z;
} gc_requant8_k;

static inline __attribute__((always_inline)) gc_requant8_k gc_requant8_consts(double z, double lo, double hi) {
	return (gc_requant8_k){_mm256_set1_pd(lo - z), _mm256_set1_pd(hi - z), _mm_set1_epi32((int)z)};
}

static inline __attribute__((always_inline)) __m128i gc_requant8(__m256i acc, __m256d s, gc_requant8_k k) {
	__m256d a0 = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(acc)), s);
	__m256d a1 = _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(acc, 1)), s);
	a0 = _mm256_min_pd(_mm256_max_pd(a0, k.l), k.h);
	a1 = _mm256_min_pd(_mm256_max_pd(a1, k.l), k.h);
	// vcvtpd2dq rounds by MXCSR: to nearest, ties to even, as Go leaves
	// it (and as gc_requant's nearbyint assumes)
	const __m128i r0 = _mm_add_epi32(_mm256_cvtpd_epi32(a0), k.z), r1 = _mm_add_epi32(_mm256_cvtpd_epi32(a1), k.z);
	const __m128i lowb = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
	return _mm_shuffle_epi8(_mm_packs_epi32(r0, r1), lowb);
}

// gc_store_bytes8 stores bytes [first, first+count) of q's low 8 at dst.
static inline __attribute__((always_inline)) void gc_store_bytes8(uint8_t *dst, __m128i q, int64_t first,
	int64_t count) {
	if (first == 0 && count == 8) {
		_mm_storel_epi64((__m128i *)dst, q);
		return;
	}
	uint8_t t[16];
	_mm_storeu_si128((__m128i *)t, q);
	memcpy(dst, t + first, (size_t)count);
}
#pragma GCC pop_options

#define IREQUANT 1
typedef __m256d vrq_avx2;
#define vrq vrq_avx2
#define VRQ_SET1(m) _mm256_set1_pd(m)
#define vrq_k gc_requant8_k
#define VRQ_K(z, lo, hi) gc_requant8_consts((z), (lo), (hi))
#define VREQUANT(x, s, k) gc_requant8((x), (s), (k))
#define VSTORE_BYTES(dst, q, first, count) gc_store_bytes8((dst), (q), (first), (count))

#pragma GCC push_options
#pragma GCC target("avx2,fma,avxvnni")
#define SFX(name) name##_avxvnni
#define MR 6
#define NR 16
#define VL 8
#define KU 4
#define MADD 0
typedef __m256i vi_avxvnni;
#define vi vi_avxvnni
#define VIZERO() _mm256_setzero_si256()
#define VILOAD(p) _mm256_loadu_si256((const __m256i *)(p))
#define VISTORE(p, v) _mm256_storeu_si256((__m256i *)(p), (v))
#define VIMASK(lanes) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(lanes)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VILOADM(p, lanes) _mm256_maskload_epi32((const int *)(p), VIMASK(lanes))
#define VISTOREM(p, v, lanes) _mm256_maskstore_epi32((int *)(p), VIMASK(lanes), (v))
#define VIBCAST(x) _mm256_set1_epi32(x)
#define VIADD(a, b) _mm256_add_epi32((a), (b))
#define VIMUL(a, b) _mm256_mullo_epi32((a), (b))
#define VDOT_AU(acc, a, b) _mm256_dpbusd_avx_epi32((acc), (a), (b))
#define VDOT_BU(acc, a, b) _mm256_dpbusd_avx_epi32((acc), (b), (a))
#include "simd_igemm_tmpl.h"
#undef SFX
#undef vi
#undef VDOT_AU
#undef VDOT_BU
#pragma GCC pop_options

// The AVX2 byte kernel: the VNNI operand format, each dword of 4 unsigned
// by 4 signed bytes reduced by vpmaddubsw (pairs summed into int16, with
// saturation) and vpmaddwd by 1 (the two pairs into int32). Exact only
// when no pair sum leaves the int16 range, which the Go side guarantees by
// using it only when the signed operand lies in [-64, 64]: |2*255*64| =
// 32640 <= 32767 (igemmBytesLimit). Per 32 products it issues as many
// multiplies as the int16 kernel (vpmaddubsw + vpmaddwd against two
// vpmaddwd) but one addition instead of two, and half the broadcasts,
// loads and packed bytes (BenchmarkQLinearConv's gemm-7bit cases time it).
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SFX(name) name##_avx2b
#undef MR
#define MR 6
typedef __m256i vi_avx2b;
#define vi vi_avx2b
#define VDOT_AU(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((a), (b)), _mm256_set1_epi16(1)))
#define VDOT_BU(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((b), (a)), _mm256_set1_epi16(1)))
#define ILOOP_APART 1
#include "simd_igemm_tmpl.h"
#undef ILOOP_APART
#undef SFX
#undef MADD
#undef KU
#undef vi
#undef VDOT_AU
#undef VDOT_BU
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define SFX(name) name##_avx2
#undef MR
#define MR 4
#define KU 2
#define MADD 1
typedef __m256i vi_avx2;
#define vi vi_avx2
#define VDOT_AU(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define VDOT_BU(acc, a, b) _mm256_add_epi32((acc), _mm256_madd_epi16((a), (b)))
#define ILOOP_APART 1
#include "simd_igemm_tmpl.h"
#undef ILOOP_APART
#undef SFX
#undef MR
#undef NR
#undef VL
#undef KU
#undef MADD
#undef vi
#undef VIZERO
#undef VILOAD
#undef VISTORE
#undef VIMASK
#undef VILOADM
#undef VISTOREM
#undef VIBCAST
#undef VIADD
#undef VIMUL
#undef VDOT_AU
#undef VDOT_BU
#undef IREQUANT
#undef vrq
#undef VRQ_SET1
#undef vrq_k
#undef VRQ_K
#undef VREQUANT
#undef VSTORE_BYTES

// gc_dequant_8: see simd_amd64.h.
void gc_dequant_8(const uint8_t *x, float *y, int64_t n, int64_t is_signed, float zp, float scale) {
	if (is_signed) {
		const int8_t *s = (const int8_t *)x;
		for (int64_t i = 0; i < n; i++) y[i] = ((float)s[i] - zp) * scale;
	} else {
		for (int64_t i = 0; i < n; i++) y[i] = ((float)x[i] - zp) * scale;
	}
}

// gc_qadd_8: see simd_amd64.h. Contraction is off: each product is
// rounded to float32 before the sums, as in the Go reference.
__attribute__((optimize("fp-contract=off"))) void gc_qadd_8(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n,
	int64_t is_signed, float za, float ra, float zb, float rb, float zy, float lo, float hi) {
	if (is_signed) {
		const int8_t *sa = (const int8_t *)a, *sb = (const int8_t *)b;
		int8_t *sy = (int8_t *)y;
		for (int64_t i = 0; i < n; i++) {
			float v = (((float)sa[i] - za) * ra + ((float)sb[i] - zb) * rb) + zy;
			v = v < lo ? lo : (v > hi ? hi : v);
			sy[i] = (int8_t)(int32_t)__builtin_nearbyintf(v);
		}
	} else {
		for (int64_t i = 0; i < n; i++) {
			float v = (((float)a[i] - za) * ra + ((float)b[i] - zb) * rb) + zy;
			v = v < lo ? lo : (v > hi ? hi : v);
			y[i] = (uint8_t)(int32_t)__builtin_nearbyintf(v);
		}
	}
}

// gc_f32_to_i32: see simd_amd64.h.
void gc_f32_to_i32(const float *x, int32_t *y, int64_t planes, int64_t n, const int32_t *bias, int64_t m) {
	for (int64_t p = 0; p < planes; p++) {
		const int32_t b = bias ? bias[p % m] : 0;
		const float *s = x + p * n;
		int32_t *d = y + p * n;
		// added as unsigned: wraps modulo 2^32 like the int32 reference
		for (int64_t j = 0; j < n; j++) d[j] = (int32_t)((uint32_t)(int32_t)s[j] + (uint32_t)b);
	}
}

// gc_dequant_f32: see simd_amd64.h. Contraction is off: the chain it
// replaces rounds the product before the sums.
__attribute__((optimize("fp-contract=off"))) void gc_dequant_f32(const int32_t *acc, float *y, int64_t m, int64_t n,
	const float *scale, const float *bias, const float *z, float lo, float hi, int64_t clamp) {
	for (int64_t i = 0; i < m; i++) {
		const int32_t *a = acc + i * n;
		float *o = y + i * n;
		const float s = scale[i], b = bias ? bias[i] : 0.0f;
		const float *zr = z ? z + i * n : 0;
		for (int64_t j = 0; j < n; j++) {
			float v = (float)a[j] * s;
			if (bias) v += b;
			if (zr) v += zr[j];
			if (clamp) v = v < lo ? lo : (v > hi ? hi : v);
			o[j] = v;
		}
	}
}

// gc_requant: see simd_amd64.h. nearbyint rounds half to even in the
// default rounding mode and vectorizes to vroundpd.
void gc_requant(const int32_t *acc, void *y, int64_t m, int64_t n, const double *mult, int64_t per_col,
	const double *zp_row, double zp, double lo, double hi, int64_t out_u8) {
	for (int64_t i = 0; i < m; i++) {
		const int32_t *a = acc + i * n;
		const double z = zp_row ? zp_row[i] : zp;
		if (out_u8) {
			uint8_t *o = (uint8_t *)y + i * n;
			if (per_col) {
				for (int64_t j = 0; j < n; j++) {
					double v = __builtin_nearbyint((double)a[j] * mult[j]) + z;
					v = v < lo ? lo : (v > hi ? hi : v);
					o[j] = (uint8_t)(int32_t)v;
				}
			} else {
				const double s = mult[i];
				for (int64_t j = 0; j < n; j++) {
					double v = __builtin_nearbyint((double)a[j] * s) + z;
					v = v < lo ? lo : (v > hi ? hi : v);
					o[j] = (uint8_t)(int32_t)v;
				}
			}
		} else {
			int8_t *o = (int8_t *)y + i * n;
			if (per_col) {
				for (int64_t j = 0; j < n; j++) {
					double v = __builtin_nearbyint((double)a[j] * mult[j]) + z;
					v = v < lo ? lo : (v > hi ? hi : v);
					o[j] = (int8_t)(int32_t)v;
				}
			} else {
				const double s = mult[i];
				for (int64_t j = 0; j < n; j++) {
					double v = __builtin_nearbyint((double)a[j] * s) + z;
					v = v < lo ? lo : (v > hi ? hi : v);
					o[j] = (int8_t)(int32_t)v;
				}
			}
		}
	}
}
#pragma GCC pop_options

// ---------------------------------------------------------------- Toeplitz
#pragma GCC push_options
#pragma GCC target("avx2,fma")
void gc_pad_planes(const float *x, float *P, const int64_t *geom, const float *pre) {
	const int64_t planes = geom[0], ih = geom[1], iw = geom[2], ph = geom[3], pw = geom[4];
	const int64_t Hq = geom[5], Wq = geom[6], tail = geom[7], relu = geom[8], sh = geom[9], sw = geom[10];
	const int64_t nsh = geom[11] ? 1 : sh, nsw = geom[11] ? 1 : sw; // phases written
	for (int64_t c = 0; c < planes; c++) {
		const float *src = x + c * ih * iw;
		const float s = pre ? pre[c] : 1, t = pre ? pre[planes + c] : 0;
		for (int64_t py = 0; py < nsh; py++) {
			for (int64_t px = 0; px < nsw; px++) {
				float *d = P + ((c * nsh + py) * nsw + px) * Hq * Wq;
				// phase columns q with input column q*sw + px - pw in [0, iw)
				const int64_t off = px - pw;
				int64_t qa = off < 0 ? (-off + sw - 1) / sw : 0;
				int64_t qb = iw - off <= 0 ? 0 : (iw - off + sw - 1) / sw;
				if (qb > Wq) qb = Wq;
				if (qa > qb) qa = qb;
				for (int64_t r = 0; r < Hq; r++) {
					float *row = d + r * Wq;
					const int64_t ir = r * sh + py - ph;
					if (ir < 0 || ir >= ih) {
						memset(row, 0, (size_t)Wq * sizeof(float));
						continue;
					}
					const float *sr = src + ir * iw + off;
					memset(row, 0, (size_t)qa * sizeof(float));
					if (sw == 1) {
						if (pre && relu)
							for (int64_t q = qa; q < qb; q++) {
								float v = sr[q] * s + t;
								row[q] = v > 0 ? v : (v != v ? v : 0.0f);
							}
						else if (pre)
							for (int64_t q = qa; q < qb; q++) row[q] = sr[q] * s + t;
						else
							memcpy(row + qa, sr + qa, (size_t)(qb - qa) * sizeof(float));
					} else {
						int64_t q = qa;
						if (sw == 2) {
							// 8 cells from 16 contiguous values (the even ones),
							// while all 16 lie inside the row
							const __m256 vs = _mm256_set1_ps(s), vt = _mm256_set1_ps(t), z = _mm256_setzero_ps();
							for (; q + 8 <= qb && 2 * (q + 8) + off <= iw; q += 8) {
								__m256 a = _mm256_loadu_ps(sr + 2 * q), b = _mm256_loadu_ps(sr + 2 * q + 8);
								__m256 v = _mm256_castpd_ps(_mm256_permute4x64_pd(
									_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0)));
								if (pre) {
									v = _mm256_fmadd_ps(v, vs, vt);
									if (relu) v = _mm256_max_ps(z, v); // NaN stays NaN (second operand)
								}
								_mm256_storeu_ps(row + q, v);
							}
						}
						for (; q < qb; q++) {
							float v = sr[q * sw];
							if (pre) {
								v = v * s + t;
								if (relu) v = v > 0 ? v : (v != v ? v : 0.0f);
							}
							row[q] = v;
						}
					}
					memset(row + qb, 0, (size_t)(Wq - qb) * sizeof(float));
				}
			}
		}
	}
	memset(P + planes * nsh * nsw * Hq * Wq, 0, (size_t)tail * sizeof(float));
}

#pragma GCC pop_options

// ---------------------------------------------------------------- pooling
// 2-D max / average pooling of float32 planes (AVX2 target; the loops are
// written for GCC's vectorizer). For each output row the window's input
// rows are first reduced column by column into tmp (max or sum over ky),
// then each output cell reduces its kx taps of tmp. The window of output
// (oy, ox) covers taps ky in [ylo[oy], yhi[oy]), kx in [xlo[ox], xhi[ox])
// at input (oy*sh - ph + ky*dh, ox*sw - pw + kx*dw); an average divides by
// ycnt[oy]*xcnt[ox] (count_include_pad) or by the number of taps. Max
// ignores NaN inputs (x > best ? x : best), as the Go reference does.
// gc_maxpool2d_8 is MaxPool over planes of 8-bit values (int8 when geom[11]
// is set, else uint8) without the Indices output, separable like
// gc_pool2d_f32 (written for GCC's vectorizer): each output row's window
// rows are reduced into tmp (iw bytes), then each output cell takes the
// maximum of its kx taps of tmp: for a window inside the row (without
// dilation) from the sliding maxima of kw columns in tmp's second row,
// else tap by tap. A window without input cells gives 0.
#define GC_MAXPOOL_ROWS(T)                                                                      \
	do {                                                                                        \
		T *t = (T *)tmp;                                                                        \
		for (int64_t ky = k0 + 1; ky < k1; ky++) {                                              \
			const T *r = (const T *)xp + (iy0 + ky * dh) * iw;                                  \
			for (int64_t ix = 0; ix < iw; ix++) t[ix] = r[ix] > t[ix] ? r[ix] : t[ix];          \
		}                                                                                       \
		if (pair) {                                                                             \
			T *o = (T *)yp + oy * ow;                                                           \
			for (int64_t ox = 0; ox < ow; ox++) {                                               \
				const T u = t[2 * ox], v = t[2 * ox + 1];                                       \
				o[ox] = u > v ? u : v;                                                          \
			}                                                                                   \
			break;                                                                              \
		}                                                                                       \
		T *o = (T *)yp + oy * ow;                                                               \
		if (ox0 < ox1) {                                                                        \
			/* the windows inside the row: sliding maxima of kw columns */                      \
			T *m = (T *)tmp + iw;                                                               \
			const int64_t nm = iw - kw + 1;                                                     \
			for (int64_t j = 0; j < nm; j++) m[j] = t[j];                                       \
			for (int64_t k = 1; k < kw; k++)                                                    \
				for (int64_t j = 0; j < nm; j++) m[j] = t[j + k] > m[j] ? t[j + k] : m[j];      \
			for (int64_t ox = ox0; ox < ox1; ox++) o[ox] = m[ox * sw - pw];                     \
		}                                                                                       \
		for (int64_t ox = 0; ox < ow; ox++) {                                                   \
			if (ox == ox0 && ox0 < ox1) ox = ox1;                                               \
			if (ox == ow) break;                                                                \
			const int64_t a = xlo[ox], b = xhi[ox], ix0 = ox * sw - pw;                         \
			T best = 0;                                                                         \
			if (a < b) {                                                                        \
				best = t[ix0 + a * dw];                                                         \
				for (int64_t kx = a + 1; kx < b; kx++) {                                        \
					const T v = t[ix0 + kx * dw];                                               \
					best = v > best ? v : best;                                                 \
				}                                                                               \
			}                                                                                   \
			o[ox] = best;                                                                       \
		}                                                                                       \
	} while (0)

#pragma GCC push_options
#pragma GCC target("avx2,fma")
void gc_maxpool2d_8(const uint8_t *x, uint8_t *y, uint8_t *tmp, const int64_t *geom, const int64_t *ylo,
	const int64_t *yhi, const int64_t *xlo, const int64_t *xhi) {
	const int64_t planes = geom[0], ih = geom[1], iw = geom[2], oh = geom[3], ow = geom[4];
	const int64_t sh = geom[5], sw = geom[6], ph = geom[7], pw = geom[8], dh = geom[9], dw = geom[10];
	const int is_signed = geom[11] != 0;
	// pair: every output cell is the maximum of two adjacent columns
	// (kernel width 2, stride 2, no dilation or left padding, all in range),
	// the common 2x2 pool, in a loop GCC vectorizes.
	int pair = sw == 2 && dw == 1 && pw == 0 && 2 * ow <= iw;
	for (int64_t ox = 0; pair && ox < ow; ox++) pair = xlo[ox] == 0 && xhi[ox] == 2;
	// kw: the widest run of valid taps, which the windows inside the row
	// have; [ox0, ox1): the outputs whose windows read kw columns from tap
	// 0 (without dilation), one contiguous run, taken from sliding maxima
	int64_t kw = 0, ox0 = 0, ox1 = 0;
	for (int64_t ox = 0; ox < ow; ox++) kw = xhi[ox] > kw ? xhi[ox] : kw;
	if (dw == 1 && kw > 1) {
		while (ox0 < ow && !(xlo[ox0] == 0 && xhi[ox0] == kw)) ox0++;
		for (ox1 = ox0; ox1 < ow && xlo[ox1] == 0 && xhi[ox1] == kw;) ox1++;
	}
	for (int64_t p = 0; p < planes; p++) {
		const uint8_t *xp = x + p * ih * iw;
		uint8_t *yp = y + p * oh * ow;
		for (int64_t oy = 0; oy < oh; oy++) {
			const int64_t k0 = ylo[oy], k1 = yhi[oy], iy0 = oy * sh - ph;
			if (k0 >= k1) {
				memset(yp + oy * ow, 0, (size_t)ow);
				continue;
			}
			memcpy(tmp, xp + (iy0 + k0 * dh) * iw, (size_t)iw);
			if (is_signed)
				GC_MAXPOOL_ROWS(int8_t);
			else
				GC_MAXPOOL_ROWS(uint8_t);
		}
	}
}
#pragma GCC pop_options
#undef GC_MAXPOOL_ROWS

#pragma GCC push_options
#pragma GCC target("avx2,fma")
void gc_pool2d_f32(const float *x, float *y, float *tmp, const int64_t *geom, const int64_t *ylo,
	const int64_t *yhi, const int64_t *ycnt, const int64_t *xlo, const int64_t *xhi, const int64_t *xcnt) {
	const int64_t planes = geom[0], ih = geom[1], iw = geom[2], oh = geom[3], ow = geom[4];
	const int64_t sh = geom[5], sw = geom[6], ph = geom[7], pw = geom[8], dh = geom[9], dw = geom[10];
	const int64_t is_max = geom[11], include_pad = geom[12], kw = geom[13];
	for (int64_t p = 0; p < planes; p++) {
		const float *xp = x + p * ih * iw;
		float *yp = y + p * oh * ow;
		for (int64_t oy = 0; oy < oh; oy++) {
			const int64_t k0 = ylo[oy], k1 = yhi[oy];
			for (int64_t ix = 0; ix < iw; ix++) tmp[ix] = is_max ? -__builtin_inff() : 0.0f;
			for (int64_t ky = k0; ky < k1; ky++) {
				const float *r = xp + (oy * sh - ph + ky * dh) * iw;
				if (is_max) {
					for (int64_t ix = 0; ix < iw; ix++) tmp[ix] = r[ix] > tmp[ix] ? r[ix] : tmp[ix];
				} else {
					for (int64_t ix = 0; ix < iw; ix++) tmp[ix] += r[ix];
				}
			}
			float *yr = yp + oy * ow;
			const float init = is_max ? -__builtin_inff() : 0.0f;
			// Interior cells (all kw taps inside) are reduced tap by tap over
			// the whole run, which the compiler vectorizes; edges one by one.
			int64_t oxa = 0, oxb = ow;
			while (oxa < ow && (xlo[oxa] != 0 || xhi[oxa] != kw)) oxa++;
			while (oxb > oxa && (xlo[oxb - 1] != 0 || xhi[oxb - 1] != kw)) oxb--;
			for (int64_t ox = oxa; ox < oxb; ox++) yr[ox] = init;
			for (int64_t kx = 0; kx < kw; kx++) {
				const float *t = tmp + kx * dw - pw;
				if (sw == 1) {
					if (is_max) {
						for (int64_t ox = oxa; ox < oxb; ox++) yr[ox] = t[ox] > yr[ox] ? t[ox] : yr[ox];
					} else {
						for (int64_t ox = oxa; ox < oxb; ox++) yr[ox] += t[ox];
					}
				} else {
					if (is_max) {
						for (int64_t ox = oxa; ox < oxb; ox++) yr[ox] = t[ox * sw] > yr[ox] ? t[ox * sw] : yr[ox];
					} else {
						for (int64_t ox = oxa; ox < oxb; ox++) yr[ox] += t[ox * sw];
					}
				}
			}
			if (!is_max) {
				for (int64_t ox = oxa; ox < oxb; ox++) {
					const int64_t cnt = include_pad ? ycnt[oy] * xcnt[ox] : (k1 - k0) * kw;
					yr[ox] = yr[ox] / (float)cnt;
				}
			}
			for (int64_t ox = 0; ox < ow; ox++) {
				if (ox == oxa) {
					ox = oxb - 1;
					continue;
				}
				const float *t = tmp + ox * sw - pw;
				float acc = init;
				for (int64_t kx = xlo[ox]; kx < xhi[ox]; kx++) {
					float v = t[kx * dw];
					acc = is_max ? (v > acc ? v : acc) : acc + v;
				}
				if (!is_max) {
					int64_t cnt = include_pad ? ycnt[oy] * xcnt[ox] : (k1 - k0) * (xhi[ox] - xlo[ox]);
					acc = acc / (float)cnt;
				}
				yr[ox] = acc;
			}
		}
	}
}
#pragma GCC pop_options

// ---------------------------------------------------------------- depthwise
// Direct 2-D depthwise convolution of float32 planes [p0, p1) of an
// N x M output: output plane p (n = p / M, m = p % M) correlates input
// plane n*C + m/mult with the kh x kw kernel w[m], starting from bias[m]
// (0 when bias is NULL), then adds z (the same layout as y; NULL: none)
// and clamps to [lo, hi] when clamp is set. geom = p0, p1, M, C, mult,
// ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, clamp. With scratch
// (gc_dwconv2d_scratch floats) each plane is processed flat over padded
// stride-phase planes (see below); without it, rows are accumulated tap
// by tap (ky, then kx) over the valid output range. kw must be at most 64.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
// clamp_keep_nan is min(max(v, lo), hi) with a NaN kept, as the vector
// clamps (maxps and minps with v second) keep it.
static inline float clamp_keep_nan(float v, float lo, float hi) {
	v = v > lo ? v : (v != v ? v : lo);
	return v < hi ? v : (v != v ? v : hi);
}

// The phase planes of the flat path: Hq x Wq, with Hq = oh + (kh-1)*dh/sh
// and Wq = ow + (kw-1)*dw/sw; sh*sw of them, then (kw-1)*dw/sw zeros,
// then the accumulator (oh x Wq).
static void dw_dims(const int64_t *geom, int64_t *hq, int64_t *wq, int64_t *tail) {
	const int64_t oh = geom[7], ow = geom[8], kh = geom[9], kw = geom[10];
	const int64_t sh = geom[11], sw = geom[12], dh = geom[15], dw = geom[16];
	*hq = oh + (kh - 1) * dh / sh;
	*wq = ow + (kw - 1) * dw / sw;
	*tail = (kw - 1) * dw / sw;
}

// dw_pad_plane copies input plane xp (geom's ih x iw, see
// gc_dwconv2d_f32) into the sh*sw zero-padded stride-phase planes at pad,
// hq x wq each (dw_dims): phase plane (py, px) holds padded cell
// (r*sh + py, q*sw + px).
static void dw_pad_plane(const float *xp, float *pad, const int64_t *geom, int64_t hq, int64_t wq) {
	const int64_t ih = geom[5], iw = geom[6], sh = geom[11], sw = geom[12], ph = geom[13], pw = geom[14];
	for (int64_t py = 0; py < sh; py++) {
		for (int64_t px = 0; px < sw; px++) {
			float *d = pad + (py * sw + px) * hq * wq;
			// phase columns q with input column q*sw + off in [0, iw)
			const int64_t off = px - pw;
			int64_t qa = off < 0 ? (-off + sw - 1) / sw : 0;
			int64_t qb = iw - off <= 0 ? 0 : (iw - off + sw - 1) / sw;
			if (qb > wq) qb = wq;
			if (qa > qb) qa = qb;
			for (int64_t r = 0; r < hq; r++) {
				const int64_t ir = r * sh + py - ph;
				float *row = d + r * wq;
				if (ir < 0 || ir >= ih) {
					memset(row, 0, (size_t)wq * sizeof(float));
					continue;
				}
				const float *sr = xp + ir * iw + off;
				for (int64_t q = 0; q < qa; q++) row[q] = 0;
				if (sw == 1)
					memcpy(row + qa, sr + qa, (size_t)(qb - qa) * sizeof(float));
				else if (sw == 2)
					for (int64_t q = qa; q < qb; q++) row[q] = sr[2 * q];
				else
					for (int64_t q = qa; q < qb; q++) row[q] = sr[q * sw];
				for (int64_t q = qb; q < wq; q++) row[q] = 0;
			}
		}
	}
}

int64_t gc_dwconv2d_scratch(const int64_t *geom) {
	int64_t hq, wq, tail;
	dw_dims(geom, &hq, &wq, &tail);
	return geom[11] * geom[12] * hq * wq + tail + geom[7] * wq;
}

void gc_dwconv2d_f32(const float *x, const float *w, const float *bias, const float *z, float *y,
	float *scratch, const int64_t *geom, float lo, float hi) {
	const int64_t p0 = geom[0], p1 = geom[1], M = geom[2], C = geom[3], mult = geom[4];
	const int64_t ih = geom[5], iw = geom[6], oh = geom[7], ow = geom[8], kh = geom[9], kw = geom[10];
	const int64_t sh = geom[11], sw = geom[12], ph = geom[13], pw = geom[14], dh = geom[15], dw = geom[16];
	const int64_t clamp = geom[17];
	int64_t xa[64], xb[64];
	for (int64_t kx = 0; kx < kw; kx++) {
		const int64_t off = kx * dw - pw;
		int64_t a = off < 0 ? (-off + sw - 1) / sw : 0;
		int64_t b = iw - off <= 0 ? 0 : (iw - off + sw - 1) / sw;
		if (b > ow) b = ow;
		if (a > b) a = b;
		xa[kx] = a;
		xb[kx] = b;
	}
	// With scratch, the input plane is copied into zero-padded planes split
	// by stride phase (plane (py, px) holds padded cells (r*sh + py,
	// q*sw + px)), so that every tap is one long multiply-add over the
	// flat output (oh rows of wq; the last wq - ow columns of each are
	// discarded), whatever the stride.
	int64_t hq, wq, tail;
	dw_dims(geom, &hq, &wq, &tail);
	const int flat = scratch != NULL;
	float *pad = scratch, *acc = scratch + sh * sw * hq * wq + tail;
	if (flat) memset(pad + sh * sw * hq * wq, 0, (size_t)tail * sizeof(float));
	for (int64_t p = p0; p < p1; p++) {
		const int64_t n = p / M, m = p % M;
		const float *xp = x + (n * C + m / mult) * ih * iw;
		const float *wk = w + m * kh * kw;
		float *yp = y + p * oh * ow;
		const float b0 = bias ? bias[m] : 0.0f;
		if (flat) {
			dw_pad_plane(xp, pad, geom, hq, wq);
			const int64_t len = oh * wq;
			for (int64_t i = 0; i < len; i++) acc[i] = b0;
			for (int64_t ky = 0; ky < kh; ky++) {
				for (int64_t kx = 0; kx < kw; kx++) {
					const float wv = wk[ky * kw + kx];
					const int64_t yy = ky * dh, xx = kx * dw;
					const float *src = pad + ((yy % sh) * sw + xx % sw) * hq * wq + (yy / sh) * wq + xx / sw;
					for (int64_t i = 0; i < len; i++) acc[i] += wv * src[i];
				}
			}
			for (int64_t oy = 0; oy < oh; oy++) {
				float *row = yp + oy * ow;
				const float *ar = acc + oy * wq;
				const float *zr = z ? z + p * oh * ow + oy * ow : NULL;
				for (int64_t ox = 0; ox < ow; ox++) {
					float v = ar[ox];
					if (zr) v += zr[ox];
					if (clamp) v = clamp_keep_nan(v, lo, hi);
					row[ox] = v;
				}
			}
			continue;
		}
		for (int64_t oy = 0; oy < oh; oy++) {
			float *row = yp + oy * ow;
			for (int64_t ox = 0; ox < ow; ox++) row[ox] = b0;
			for (int64_t ky = 0; ky < kh; ky++) {
				const int64_t iy = oy * sh + ky * dh - ph;
				if (iy < 0 || iy >= ih) continue;
				const float *xr = xp + iy * iw;
				for (int64_t kx = 0; kx < kw; kx++) {
					const float wv = wk[ky * kw + kx];
					const float *src = xr + kx * dw - pw;
					const int64_t a = xa[kx], b = xb[kx];
					if (sw == 1) {
						for (int64_t ox = a; ox < b; ox++) row[ox] += wv * src[ox];
					} else {
						for (int64_t ox = a; ox < b; ox++) row[ox] += wv * src[ox * sw];
					}
				}
			}
			if (z) {
				const float *zr = z + p * oh * ow + oy * ow;
				for (int64_t ox = 0; ox < ow; ox++) row[ox] += zr[ox];
			}
			if (clamp) {
				for (int64_t ox = 0; ox < ow; ox++) row[ox] = clamp_keep_nan(row[ox], lo, hi);
			}
		}
	}
}
#pragma GCC pop_options

// ---------------------------------------------------------------- narrow
// Direct 2-D convolution (one group) for few output channels, with the
// output cells along the vector lanes instead of the channels (the
// blocked kernel and the GEMM fill 16 channels or 6 rows per tile), and
// optionally a max pool of its output. For images [n0, n1), output
// channel m's convolution cell (oy, ox) is
//
//	act(bias[m] + sum_c sum_(ky,kx) w[m][c][ky][kx] * P_c[oy*wq + ox + off(ky, kx)])
//
// where P_c is input channel c in zero-padded stride-phase planes
// (dw_dims, dw_pad_plane) and off(ky, kx) the tap's phase plane and place
// in it (gc_conv_narrow_offsets): every tap reads the flat range of the
// rows computed, [c0*wq, c1*wq), as one run, whatever the stride and
// dilation; the wq - ow cells past each row's end are computed into the
// scratch F and dropped. Without a pool (pkh 0), rows [r0, r1) of y are
// F's rows plus z, clamped (act: narrow_store_rows); with one, y's rows
// [r0, r1) are pooled rows (narrow_pool_rows), each cell the largest of
// its window's cells inside the convolution output (rows [c0, c1)
// computed: those the windows reach) after the clamp, NaN skipped and
// -inf for a window without any, as the max pools do. Tiles are 48
// consecutive cells (6 vectors of 8) by groups of up to 4 channels, the
// groups inside the tile so that its input window is read from L1 by
// each; the sums run over c, then ky, then kx, as the reference's do.
// geom = n0, n1, M, C, -, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw,
// clamp, r0, r1, then the pool's pkh, pkw, psh, psw, ppt, ppl, poh, pow;
// off: the kh*kw tap offsets; scratch: gc_conv_narrow_scratch floats.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define NARROW_CELLS 48

// narrow_dims returns the phase planes' rows and columns (dw_dims), their
// tail (the columns a row's last taps reach past the output width), the
// floats of a channel's planes and the F floats a channel (the rows' flat
// range rounded up to whole tiles).
static void narrow_dims(const int64_t *geom, int64_t *hq, int64_t *wq, int64_t *tail, int64_t *plane, int64_t *flen) {
	dw_dims(geom, hq, wq, tail);
	*plane = geom[11] * geom[12] * *hq * *wq;
	*flen = (geom[7] * *wq + NARROW_CELLS - 1) / NARROW_CELLS * NARROW_CELLS;
}

// The padded planes of every channel, then tail + NARROW_CELLS zeros (a
// tap reads its phase plane from its offset, at most (hq - oh)*wq + tail,
// on for the tile's cells, below oh*wq + NARROW_CELLS: so the last tile
// reads at most that far past the last plane), then F and 16 floats that
// the 2x2 pool may read past its last row.
int64_t gc_conv_narrow_scratch(const int64_t *geom) {
	int64_t hq, wq, tail, plane, flen;
	narrow_dims(geom, &hq, &wq, &tail, &plane, &flen);
	return geom[3] * plane + tail + NARROW_CELLS + geom[2] * flen + 16;
}

// gc_conv_narrow_offsets writes the offset of each tap (ky, kx) of geom's
// kernel in an input channel's stride-phase planes into off (kh*kw
// values): phase plane (ky*dh % sh, kx*dw % sw) of hq x wq cells, row
// ky*dh / sh, column kx*dw / sw.
void gc_conv_narrow_offsets(const int64_t *geom, int64_t *off) {
	const int64_t kh = geom[9], kw = geom[10], sh = geom[11], sw = geom[12], dh = geom[15], dw = geom[16];
	int64_t hq, wq, tail;
	dw_dims(geom, &hq, &wq, &tail);
	for (int64_t ky = 0; ky < kh; ky++) {
		for (int64_t kx = 0; kx < kw; kx++) {
			const int64_t yy = ky * dh, xx = kx * dw;
			off[ky * kw + kx] = ((yy % sh) * sw + xx % sw) * hq * wq + (yy / sh) * wq + xx / sw;
		}
	}
}

// clamp8_keep_nan is min(max(v, lo), hi) lane by lane, a NaN kept (maxps
// and minps return their second operand, v, when either is NaN).
static inline __m256 clamp8_keep_nan(__m256 v, __m256 vlo, __m256 vhi) {
	return _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
}

// narrow_tile sums R channels (ws: the first one's weights, wstride
// floats apart) over T vectors of cells starting at P (channel 0's planes,
// plane floats apart) into F (fstride floats a channel), from bias (NULL:
// 0). R and T are constants where it is inlined, so that the R*T
// accumulators stay in registers.
static inline __attribute__((always_inline)) void narrow_tile(const int R, const int T, const float *P, int64_t plane,
	int64_t C, const int64_t *off, int64_t taps, const float *ws, int64_t wstride, const float *bias, float *F,
	int64_t fstride) {
	__m256 acc[4][6];
	for (int r = 0; r < R; r++) {
		const __m256 b = _mm256_set1_ps(bias ? bias[r] : 0.0f);
		for (int t = 0; t < T; t++) acc[r][t] = b;
	}
	for (int64_t c = 0; c < C; c++) {
		const float *pc = P + c * plane, *wc = ws + c * taps;
		for (int64_t k = 0; k < taps; k++) {
			const float *s = pc + off[k];
			__m256 xv[6];
			for (int t = 0; t < T; t++) xv[t] = _mm256_loadu_ps(s + 8 * t);
			for (int r = 0; r < R; r++) {
				const __m256 wv = _mm256_broadcast_ss(wc + r * wstride + k);
				for (int t = 0; t < T; t++) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
			}
		}
	}
	for (int r = 0; r < R; r++)
		for (int t = 0; t < T; t++) _mm256_storeu_ps(F + r * fstride + 8 * t, acc[r][t]);
}

// narrow_pool_rows max-pools image n's convolution rows in F (channel m's
// row r at F + m*flen + (r - c0)*wq, rows [c0, c1) computed) into y's
// pooled rows [r0, r1), each cell clamped (when geom's clamp is set)
// before the maxima; see gc_conv_narrow_f32.
static void narrow_pool_rows(const float *F, float *y, const int64_t *geom, int64_t n, int64_t wq, int64_t flen,
	int64_t c0, float lo, float hi) {
	const int64_t M = geom[2], oh = geom[7], ow = geom[8], clamp = geom[17], r0 = geom[18], r1 = geom[19];
	const int64_t pkh = geom[20], pkw = geom[21], psh = geom[22], psw = geom[23], ppt = geom[24], ppl = geom[25];
	const int64_t poh = geom[26], pow_ = geom[27];
	const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), ninf = _mm256_set1_ps(-__builtin_inff());
	for (int64_t m = 0; m < M; m++) {
		const float *fm = F + m * flen - c0 * wq; // row r at fm + r*wq
		float *ym = y + (n * M + m) * poh * pow_;
		for (int64_t py = r0; py < r1; py++) {
			int64_t ya = py * psh - ppt, yb = ya + pkh;
			ya = ya < 0 ? 0 : ya;
			yb = yb > oh ? oh : yb;
			int64_t px = 0;
			if (pkh == 2 && pkw == 2 && psh == 2 && psw == 2 && ppl == 0 && yb - ya == 2) {
				// 2x2, stride 2 (LeNet's), for the windows inside the row
				// (an end pad's last one is not): 16 cells of two rows give
				// 8 pooled ones, the pairs' maxima in the order 0 1 4 5 |
				// 2 3 6 7, put back in order; the last vector stores its
				// valid lanes only (the cells it reads past them are in F
				// or its slack). A NaN, kept by the clamp, never reaches a
				// maximum: maxps returns its second operand when either is
				// NaN, and the running maxima start at -inf.
				const float *f0 = fm + ya * wq, *f1 = f0 + wq;
				const int64_t inside = pow_ < ow / 2 ? pow_ : ow / 2;
				for (; px < inside; px += 8) {
					__m256 c00 = _mm256_loadu_ps(f0 + 2 * px), c10 = _mm256_loadu_ps(f1 + 2 * px);
					__m256 c01 = _mm256_loadu_ps(f0 + 2 * px + 8), c11 = _mm256_loadu_ps(f1 + 2 * px + 8);
					if (clamp) {
						c00 = clamp8_keep_nan(c00, vlo, vhi);
						c10 = clamp8_keep_nan(c10, vlo, vhi);
						c01 = clamp8_keep_nan(c01, vlo, vhi);
						c11 = clamp8_keep_nan(c11, vlo, vhi);
					}
					const __m256 a = _mm256_max_ps(c10, _mm256_max_ps(c00, ninf));
					const __m256 b = _mm256_max_ps(c11, _mm256_max_ps(c01, ninf));
					__m256 v = _mm256_max_ps(_mm256_shuffle_ps(a, b, 0x88), _mm256_shuffle_ps(a, b, 0xDD));
					v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), 0xD8));
					if (px + 8 <= inside) {
						_mm256_storeu_ps(ym + py * pow_ + px, v);
					} else {
						const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
						_mm256_maskstore_ps(ym + py * pow_ + px, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(inside - px)), lanes), v);
					}
				}
				px = inside;
			}
			for (; px < pow_; px++) {
				int64_t xa = px * psw - ppl, xb = xa + pkw;
				xa = xa < 0 ? 0 : xa;
				xb = xb > ow ? ow : xb;
				float v = -__builtin_inff(); // also for a window of padding only
				for (int64_t r = ya; r < yb; r++) {
					for (int64_t q = xa; q < xb; q++) {
						float c = fm[r * wq + q];
						if (clamp) c = clamp_keep_nan(c, lo, hi);
						v = c > v ? c : v; // a NaN is skipped
					}
				}
				ym[py * pow_ + px] = v;
			}
		}
	}
}

// narrow_store_rows stores image n's rows [r0, r1) of F (rows from c0 =
// r0) into y, plus z (NULL: none), clamped when geom's clamp is set; see
// gc_conv_narrow_f32.
static void narrow_store_rows(const float *F, const float *z, float *y, const int64_t *geom, int64_t n, int64_t wq,
	int64_t flen, float lo, float hi) {
	const int64_t M = geom[2], oh = geom[7], ow = geom[8], clamp = geom[17], r0 = geom[18], r1 = geom[19];
	const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
	for (int64_t m = 0; m < M; m++) {
		for (int64_t oy = r0; oy < r1; oy++) {
			const float *fr = F + m * flen + (oy - r0) * wq;
			const int64_t o = ((n * M + m) * oh + oy) * ow;
			float *yr = y + o;
			const float *zr = z ? z + o : NULL;
			int64_t ox = 0;
			for (; ox + 8 <= ow; ox += 8) {
				__m256 v = _mm256_loadu_ps(fr + ox);
				if (zr) v = _mm256_add_ps(v, _mm256_loadu_ps(zr + ox));
				if (clamp) v = clamp8_keep_nan(v, vlo, vhi);
				_mm256_storeu_ps(yr + ox, v);
			}
			for (; ox < ow; ox++) {
				float v = fr[ox];
				if (zr) v += zr[ox];
				if (clamp) v = clamp_keep_nan(v, lo, hi);
				yr[ox] = v;
			}
		}
	}
}

void gc_conv_narrow_f32(const float *x, const float *w, const float *bias, const float *z, float *y,
	float *scratch, const int64_t *off, const int64_t *geom, float lo, float hi) {
	const int64_t n0 = geom[0], n1 = geom[1], M = geom[2], C = geom[3];
	const int64_t ih = geom[5], iw = geom[6], oh = geom[7], kh = geom[9], kw = geom[10];
	const int64_t r0 = geom[18], r1 = geom[19], pkh = geom[20], psh = geom[22], ppt = geom[24];
	const int64_t taps = kh * kw;
	int64_t c0 = r0, c1 = r1; // the convolution rows computed
	if (pkh > 0) {
		c0 = r0 * psh - ppt;
		c1 = (r1 - 1) * psh - ppt + pkh;
		c0 = c0 < 0 ? 0 : c0;
		c1 = c1 > oh ? oh : c1;
	}
	int64_t hq, wq, tail, plane, flen;
	narrow_dims(geom, &hq, &wq, &tail, &plane, &flen);
	float *F = scratch + C * plane + tail + NARROW_CELLS;
	memset(scratch + C * plane, 0, (size_t)(tail + NARROW_CELLS) * sizeof(float)); // read only for dropped cells
	const int64_t i0 = c0 * wq, i1 = c1 * wq;
	for (int64_t n = n0; n < n1; n++) {
		for (int64_t c = 0; c < C; c++) dw_pad_plane(x + (n * C + c) * ih * iw, scratch + c * plane, geom, hq, wq);
		for (int64_t i = i0; i < i1; i += NARROW_CELLS) {
			const float *P = scratch + i;
			float *Fi = F + (i - i0);
			for (int64_t m = 0; m < M;) {
				// groups of 4 channels, the last ones of 3 + 2 or 3 + 3 rather
				// than 4 + 1 or 4 + 2
				const int64_t left = M - m, R = left <= 4 ? left : (left <= 6 ? 3 : 4);
				const float *ws = w + m * C * taps, *bs = bias ? bias + m : NULL;
				float *Fm = Fi + m * flen;
				switch (R) {
				case 1:
					narrow_tile(1, 6, P, plane, C, off, taps, ws, C * taps, bs, Fm, flen);
					break;
				case 2:
					narrow_tile(2, 6, P, plane, C, off, taps, ws, C * taps, bs, Fm, flen);
					break;
				case 3:
					narrow_tile(3, 3, P, plane, C, off, taps, ws, C * taps, bs, Fm, flen);
					narrow_tile(3, 3, P + 24, plane, C, off, taps, ws, C * taps, bs, Fm + 24, flen);
					break;
				default:
					narrow_tile(4, 3, P, plane, C, off, taps, ws, C * taps, bs, Fm, flen);
					narrow_tile(4, 3, P + 24, plane, C, off, taps, ws, C * taps, bs, Fm + 24, flen);
				}
				m += R;
			}
		}
		if (pkh > 0)
			narrow_pool_rows(F, y, geom, n, wq, flen, c0, lo, hi);
		else
			narrow_store_rows(F, z, y, geom, n, wq, flen, lo, hi);
	}
}
#undef NARROW_CELLS
#pragma GCC pop_options

// gc_clamp_f32_avx2 is gc_clamp_f32 (simd_nn_amd64.c) for AVX2 CPUs:
// y[i] = min(max(x[i], lo), hi), NaN stays NaN (maxps and minps return
// their second operand, x, when either is NaN; the tail mirrors them).
#pragma GCC push_options
#pragma GCC target("avx2,fma")
void gc_clamp_f32_avx2(const float *x, float *y, int64_t n, float lo, float hi) {
	const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
	int64_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
		__m256 c = _mm256_loadu_ps(x + i + 16), d = _mm256_loadu_ps(x + i + 24);
		_mm256_storeu_ps(y + i, _mm256_min_ps(vhi, _mm256_max_ps(vlo, a)));
		_mm256_storeu_ps(y + i + 8, _mm256_min_ps(vhi, _mm256_max_ps(vlo, b)));
		_mm256_storeu_ps(y + i + 16, _mm256_min_ps(vhi, _mm256_max_ps(vlo, c)));
		_mm256_storeu_ps(y + i + 24, _mm256_min_ps(vhi, _mm256_max_ps(vlo, d)));
	}
	for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_loadu_ps(x + i))));
	for (; i < n; i++) {
		float v = x[i];
		v = lo > v ? lo : v;
		y[i] = hi < v ? hi : v;
	}
}
#pragma GCC pop_options

// gc_quantize_f32_8_avx2 is gc_quantize_f32_8 (simd_nn_amd64.c) for AVX2
// CPUs: y[i] = clamp(round(x[i] / scale), lo - zp, hi - zp) + zp, rounded
// half to even (vcvtps2dq under the default rounding mode; the tail adds
// and subtracts 1.5 * 2^23 as the Go path does), NaN -> 0.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
void gc_quantize_f32_8_avx2(const float *x, uint8_t *y, int64_t n, float scale, int32_t zp, int32_t lo, int32_t hi) {
	const float dlo = (float)(lo - zp), dhi = (float)(hi - zp);
	const __m256 vs = _mm256_set1_ps(scale), vlo = _mm256_set1_ps(dlo), vhi = _mm256_set1_ps(dhi);
	const __m256 vnan = _mm256_set1_ps((float)-zp);
	const __m256i vzp = _mm256_set1_epi32(zp);
	// byte 0 of each int32 (two's complement: the int8 or uint8 value) to
	// the low 4 bytes of each 128-bit lane, then the lanes' words 0 and 4
	const __m256i pick = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1,
		-1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
	const __m256i join = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_div_ps(_mm256_loadu_ps(x + i), vs);
		const __m256 nan = _mm256_cmp_ps(d, d, _CMP_UNORD_Q);
		d = _mm256_blendv_ps(_mm256_min_ps(vhi, _mm256_max_ps(vlo, d)), vnan, nan);
		const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(d), vzp);
		const __m256i b = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(q, pick), join);
		_mm_storel_epi64((__m128i *)(y + i), _mm256_castsi256_si128(b));
	}
	for (; i < n; i++) {
		float d = x[i] / scale;
		if (d != d) {
			y[i] = 0;
			continue;
		}
		d = d < dlo ? dlo : (d > dhi ? dhi : d);
		const float r = (d + 12582912.0f) - 12582912.0f;
		y[i] = (uint8_t)((int32_t)r + zp);
	}
}
#pragma GCC pop_options
