//go:build cgo && amd64

// Direct INT8 convolution with AVX-512 VNNI and VBMI (gc_qconv_vnni512,
// see simd_amd64.h): no im2col and no packing of the image.
//
// For output channel o and output pixel p = (oy, ox) the convolution is
//
//   acc[o][p] = init[o] + sum_{c, r, t} W[o][c][r][t] * P[c][oy*sh + r*dh][ox*sw + t*dw]
//
// over input planes c, kernel rows r and taps t of a row. A row's taps are
// taken four at a time (one vpdpbusd dword: 4 unsigned image bytes times 4
// signed weights, summed into an int32 lane). Group g starts at tap
// s_g = min(4g, kw-4), so no group reads past the row's last tap; taps a
// group repeats from the one before carry weight 0. Sixteen output pixels
// form a tile (one zmm of int32 lanes): lane j needs the 4 bytes at
// rel_j + s_g*dw + {0, dw, 2dw, 3dw} past the tile's base offset, where
// rel_j is pixel j's offset in the padded plane relative to the tile's
// first pixel. One 64-byte load at the base and one vpermb with a per-tile
// index vector (idx[4j+b] = rel_j + b*dw) build all sixteen dwords, so a
// tile is any run of consecutive output pixels (across output rows too)
// whose bytes span at most 64. Each window then meets OB broadcast weight
// dwords, one per output channel of the block: OB x T accumulators for T
// tiles stay in registers for the whole reduction.
//
// The load is masked to the tile's span, so nothing outside the receptive
// fields of the tile's pixels is touched when kw >= 4; for kw < 4 the
// last taps of a group read up to (4-kw)*dw bytes further, which the
// caller's padded copy provides.

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "simd_amd64.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx512vbmi")

#include "simd_requant_avx512.h"

typedef struct {
	const uint8_t *P;
	const int32_t *tiles; // 4 per tile: base offset, first output pixel, pixel count, span in bytes
	const uint8_t *idx;   // 64 per tile
	const int32_t *w;     // packed weights (see simd_amd64.h)
	const int32_t *init;  // per output channel
	void *out;
	const double *mult;   // per output channel (requantizing modes)
	double zp, lo, hi;
	int64_t cin, kh, ngroups, plane, rowstep, m, npix, mode;
	const int64_t *goff;
} qconv_ctx;

// qconv_block computes output channels [oc0, oc0+OB) of tiles
// [t0, t0+T); OB and T are constants after inlining, so acc lives in
// registers.
static inline __attribute__((always_inline)) void qconv_block(const qconv_ctx *q, int64_t oc0, int64_t t0, const int OB,
	const int T) {
	__m512i acc[16][4], idx[4];
	__mmask64 lmask[4];
	const uint8_t *base[4];
#pragma GCC unroll 4
	for (int t = 0; t < T; t++) {
		const int32_t *tl = q->tiles + 4 * (t0 + t);
		idx[t] = _mm512_loadu_si512(q->idx + 64 * (t0 + t));
		lmask[t] = tl[3] >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << tl[3]) - 1);
		base[t] = q->P + tl[0];
	}
#pragma GCC unroll 16
	for (int o = 0; o < OB; o++) {
		const __m512i v = _mm512_set1_epi32(q->init[oc0 + o]);
#pragma GCC unroll 4
		for (int t = 0; t < T; t++) acc[o][t] = v;
	}
	const int32_t *w = q->w + oc0 * q->cin * q->kh * q->ngroups;
	for (int64_t c = 0; c < q->cin; c++) {
		for (int64_t r = 0; r < q->kh; r++) {
			const int64_t rowoff = c * q->plane + r * q->rowstep;
			for (int64_t g = 0; g < q->ngroups; g++) {
				const int64_t off = rowoff + q->goff[g];
				__m512i win[4];
#pragma GCC unroll 4
				for (int t = 0; t < T; t++)
					win[t] = _mm512_permutexvar_epi8(idx[t], _mm512_maskz_loadu_epi8(lmask[t], base[t] + off));
#pragma GCC unroll 16
				for (int o = 0; o < OB; o++) {
					const __m512i wv = _mm512_set1_epi32(w[o]);
#pragma GCC unroll 4
					for (int t = 0; t < T; t++) acc[o][t] = _mm512_dpbusd_epi32(acc[o][t], win[t], wv);
				}
				w += OB;
			}
		}
	}
#pragma GCC unroll 4
	for (int t = 0; t < T; t++) {
		const int32_t *tl = q->tiles + 4 * (t0 + t);
		const int64_t pix = tl[1];
		const __mmask16 smask = (__mmask16)((1u << tl[2]) - 1u);
#pragma GCC unroll 16
		for (int o = 0; o < OB; o++) {
			const int64_t at = (oc0 + o) * q->npix + pix;
			if (q->mode == 0) {
				_mm512_mask_storeu_epi32((int32_t *)q->out + at, smask, acc[o][t]);
				continue;
			}
			const __m512d s = _mm512_set1_pd(q->mult[oc0 + o]), z = _mm512_set1_pd(q->zp);
			const __m512d lo = _mm512_set1_pd(q->lo), hi = _mm512_set1_pd(q->hi);
			_mm_mask_storeu_epi8((uint8_t *)q->out + at, smask, gc_requant16(acc[o][t], s, z, lo, hi));
		}
	}
}

// Tiles per block for a block of OB output channels: OB*T accumulators,
// T index vectors and T windows within the 32 zmm registers.
#define QCONV_T(OB) ((OB) >= 12 ? 1 : (OB) >= 7 ? 2 : (OB) >= 5 ? 3 : 4)

typedef void (*qconv_fn)(const qconv_ctx *, int64_t, int64_t);

#define QCONV_FNS(OB)                                                                                 \
	static void qconv_##OB##_t(const qconv_ctx *q, int64_t oc0, int64_t t0) {                       \
		qconv_block(q, oc0, t0, OB, QCONV_T(OB));                                                 \
	}                                                                                                 \
	static void qconv_##OB##_1(const qconv_ctx *q, int64_t oc0, int64_t t0) { qconv_block(q, oc0, t0, OB, 1); }
QCONV_FNS(1)
QCONV_FNS(2)
QCONV_FNS(3)
QCONV_FNS(4)
QCONV_FNS(5)
QCONV_FNS(6)
QCONV_FNS(7)
QCONV_FNS(8)
QCONV_FNS(9)
QCONV_FNS(10)
QCONV_FNS(11)
QCONV_FNS(12)
QCONV_FNS(13)
QCONV_FNS(14)
QCONV_FNS(15)
QCONV_FNS(16)

static const qconv_fn qconv_full[17] = {0, qconv_1_t, qconv_2_t, qconv_3_t, qconv_4_t, qconv_5_t, qconv_6_t,
	qconv_7_t, qconv_8_t, qconv_9_t, qconv_10_t, qconv_11_t, qconv_12_t, qconv_13_t, qconv_14_t, qconv_15_t,
	qconv_16_t};
static const qconv_fn qconv_one[17] = {0, qconv_1_1, qconv_2_1, qconv_3_1, qconv_4_1, qconv_5_1, qconv_6_1,
	qconv_7_1, qconv_8_1, qconv_9_1, qconv_10_1, qconv_11_1, qconv_12_1, qconv_13_1, qconv_14_1, qconv_15_1,
	qconv_16_1};

void gc_qconv_vnni512(const uint8_t *P, const int32_t *tiles, const uint8_t *idx, const int32_t *w, const int32_t *init,
	void *out, const double *mult, double zp, double lo, double hi, const int64_t *geom) {
	const qconv_ctx q = {
		.P = P, .tiles = tiles, .idx = idx, .w = w, .init = init, .out = out, .mult = mult,
		.zp = zp, .lo = lo, .hi = hi,
		.cin = geom[0], .kh = geom[1], .ngroups = geom[2], .plane = geom[3], .rowstep = geom[4],
		.m = geom[5], .npix = geom[6], .mode = geom[9], .goff = geom + GC_QCONV_GEOM_FIXED,
	};
	const int64_t tlo = geom[7], thi = geom[8];
	for (int64_t oc0 = 0; oc0 < q.m; oc0 += 16) {
		const int ob = q.m - oc0 < 16 ? (int)(q.m - oc0) : 16;
		const int T = QCONV_T(ob);
		int64_t t = tlo;
		for (; t + T <= thi; t += T) qconv_full[ob](&q, oc0, t);
		for (; t < thi; t++) qconv_one[ob](&q, oc0, t);
	}
}

void gc_qconv_pad(const uint8_t *x, uint8_t *P, const int64_t *geom) {
	const int64_t planes = geom[0], ih = geom[1], iw = geom[2], ph = geom[3], pw = geom[4];
	const int64_t hp = geom[5], wp = geom[6], len = geom[7];
	const uint8_t pad = (uint8_t)geom[8], flip = (uint8_t)geom[9];
	memset(P, pad, (size_t)len);
	// input columns [x0, x1) land at padded columns [x0 + pw, x1 + pw)
	const int64_t x0 = pw < 0 ? -pw : 0;
	int64_t x1 = wp - pw < iw ? wp - pw : iw;
	if (x1 < x0) x1 = x0;
	for (int64_t c = 0; c < planes; c++) {
		for (int64_t iy = 0; iy < ih; iy++) {
			const int64_t py = iy + ph;
			if (py < 0 || py >= hp) continue;
			const uint8_t *s = x + (c * ih + iy) * iw + x0;
			uint8_t *d = P + c * hp * wp + py * wp + x0 + pw;
			const int64_t n = x1 - x0;
			if (!flip) {
				memcpy(d, s, (size_t)n);
				continue;
			}
			int64_t i = 0;
			const __m512i f = _mm512_set1_epi8((char)0x80);
			for (; i + 64 <= n; i += 64) _mm512_storeu_si512(d + i, _mm512_xor_si512(_mm512_loadu_si512(s + i), f));
			if (i < n) {
				const __mmask64 k = ((__mmask64)1 << (n - i)) - 1;
				_mm512_mask_storeu_epi8(d + i, k, _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, s + i), f));
			}
		}
	}
}

#pragma GCC pop_options

// gc_maxpool3x3s2_8: see simd_amd64.h. The three taps of a row: the
// bytes of 16-bit lanes pair columns 2ox and 2ox+1 (maximum of the word's
// two bytes in its low byte), a load two bytes further gives column
// 2ox+2 in the same low byte, and the words narrow back to bytes.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl")
void gc_maxpool3x3s2_8(const uint8_t *x, uint8_t *y, uint8_t *tmp, int64_t planes, int64_t ih, int64_t iw,
	int64_t oh, int64_t ow, int64_t ph, int64_t pw, int64_t is_signed) {
	const uint8_t lowest = is_signed ? 0x80 : 0;
	memset(tmp, lowest, (size_t)(1 + iw + 2 * ow + 130));
	uint8_t *t = tmp + 1;
	const uint8_t *base = tmp + 1 - pw;
	for (int64_t p = 0; p < planes; p++) {
		for (int64_t oy = 0; oy < oh; oy++) {
			int first = 1;
			for (int64_t ky = 0; ky < 3; ky++) {
				const int64_t iy = 2 * oy - ph + ky;
				if (iy < 0 || iy >= ih) continue;
				const uint8_t *r = x + (p * ih + iy) * iw;
				for (int64_t ix = 0; ix < iw; ix += 64) {
					const __mmask64 m = iw - ix >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (iw - ix)) - 1);
					__m512i v = _mm512_maskz_loadu_epi8(m, r + ix);
					if (!first) {
						const __m512i u = _mm512_maskz_loadu_epi8(m, t + ix);
						v = is_signed ? _mm512_max_epi8(v, u) : _mm512_max_epu8(v, u);
					}
					_mm512_mask_storeu_epi8(t + ix, m, v);
				}
				first = 0;
			}
			uint8_t *o = y + (p * oh + oy) * ow;
			for (int64_t ox = 0; ox < ow; ox += 32) {
				const int64_t n = ow - ox < 32 ? ow - ox : 32;
				const __m512i a = _mm512_loadu_si512((const void *)(base + 2 * ox));
				const __m512i c = _mm512_loadu_si512((const void *)(base + 2 * ox + 2));
				const __m512i h = _mm512_srli_epi16(a, 8);
				__m512i m = is_signed ? _mm512_max_epi8(a, h) : _mm512_max_epu8(a, h);
				m = is_signed ? _mm512_max_epi8(m, c) : _mm512_max_epu8(m, c);
				_mm256_mask_storeu_epi8(o + ox, (__mmask32)(n == 32 ? 0xFFFFFFFFu : (1u << n) - 1u), _mm512_cvtepi16_epi8(m));
			}
		}
	}
}
#pragma GCC pop_options

// gc_maxpool2x2_8: see simd_amd64.h. Two input rows are reduced with one
// byte max per 64 columns; adjacent columns are then paired as the two
// bytes of 16-bit lanes (widened to words, maximum, narrowed back).
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl")
void gc_maxpool2x2_8(const uint8_t *x, uint8_t *y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
	int64_t is_signed) {
	for (int64_t p = 0; p < planes; p++) {
		for (int64_t oy = 0; oy < oh; oy++) {
			const uint8_t *r0 = x + (p * ih + 2 * oy) * iw, *r1 = r0 + iw;
			uint8_t *o = y + (p * oh + oy) * ow;
			for (int64_t ox = 0; ox < ow; ox += 32) {
				const int64_t n = ow - ox < 32 ? ow - ox : 32; // outputs; 2n input bytes
				const __mmask64 lm = n == 32 ? ~(__mmask64)0 : (((__mmask64)1 << (2 * n)) - 1);
				const __m512i a = _mm512_maskz_loadu_epi8(lm, r0 + 2 * ox), b = _mm512_maskz_loadu_epi8(lm, r1 + 2 * ox);
				__m512i v, even, odd;
				if (is_signed) {
					v = _mm512_max_epi8(a, b);
					even = _mm512_srai_epi16(_mm512_slli_epi16(v, 8), 8);
					odd = _mm512_srai_epi16(v, 8);
					v = _mm512_max_epi16(even, odd);
				} else {
					v = _mm512_max_epu8(a, b);
					even = _mm512_and_si512(v, _mm512_set1_epi16(0xff));
					odd = _mm512_srli_epi16(v, 8);
					v = _mm512_max_epu16(even, odd);
				}
				_mm256_mask_storeu_epi8(o + ox, (__mmask32)(n == 32 ? ~0u : ((1u << n) - 1u)), _mm512_cvtepi16_epi8(v));
			}
		}
	}
}
#pragma GCC pop_options
