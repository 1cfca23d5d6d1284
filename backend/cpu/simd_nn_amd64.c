//go:build cgo && amd64

// AVX-512 kernels of the non-GEMM float32 ops that show up in CNN profiles:
// depthwise convolution, 2-D max / average pooling, clamp (Relu, Clip) and
// row means (GlobalAveragePool). The Go side (simd_cgo.go) checks every
// size and calls these only at the avx512 levels; the AVX2 kernels of
// simd_amd64.c remain for the avx2 levels.

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "simd_amd64.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")

#include "simd_requant_avx512.h"

#define NN_MASK(n) ((__mmask16)((1u << (n)) - 1u))

// nn_prefetch_plane asks for the n floats at p (the next plane's input,
// usually in L3 or memory: the kernels are latency bound without it), into
// L1 when they fit in half of it, else into L2.
static inline void nn_prefetch_plane(const float *p, int64_t n) {
	const char *c = (const char *)p;
	const int64_t bytes = n * 4;
	if (bytes <= 24 << 10) {
		for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(c + o, _MM_HINT_T0);
	} else {
		for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(c + o, _MM_HINT_T1);
	}
}

// nn_pad_phases copies the plane x (ih x iw) into sh*sw phase planes of
// Hq x Wq: phase (py, px) holds the padded cells (r*sh + py - ph,
// q*sw + px - pw), fill outside the plane; then tail more fill values.
static void nn_pad_phases(const float *x, int64_t ih, int64_t iw, int64_t ph, int64_t pw, int64_t sh, int64_t sw,
	int64_t Hq, int64_t Wq, int64_t tail, float fill, float *P) {
	const __m512 f = _mm512_set1_ps(fill);
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	for (int64_t py = 0; py < sh; py++) {
		for (int64_t px = 0; px < sw; px++) {
			float *d = P + (py * sw + px) * Hq * Wq;
			const int64_t off = px - pw;
			int64_t qa = off < 0 ? (-off + sw - 1) / sw : 0;
			int64_t qb = iw - off <= 0 ? 0 : (iw - off + sw - 1) / sw;
			if (qb > Wq) qb = Wq;
			if (qa > qb) qa = qb;
			for (int64_t r = 0; r < Hq; r++) {
				float *row = d + r * Wq;
				const int64_t ir = r * sh + py - ph;
				if (ir < 0 || ir >= ih) {
					int64_t q = 0;
					for (; q + 16 <= Wq; q += 16) _mm512_storeu_ps(row + q, f);
					if (q < Wq) _mm512_mask_storeu_ps(row + q, NN_MASK(Wq - q), f);
					continue;
				}
				const float *sr = x + ir * iw + off;
				// fill [0, qa) and [qb, Wq) (short runs: masked stores)
				for (int64_t q = 0; q < qa; q += 16) _mm512_mask_storeu_ps(row + q, NN_MASK(qa - q < 16 ? qa - q : 16), f);
				for (int64_t q = qb; q < Wq; q += 16) _mm512_mask_storeu_ps(row + q, NN_MASK(Wq - q < 16 ? Wq - q : 16), f);
				if (sw == 1) {
					for (int64_t q = qa; q < qb; q += 16) {
						const __mmask16 m = NN_MASK(qb - q < 16 ? qb - q : 16);
						_mm512_mask_storeu_ps(row + q, m, _mm512_maskz_loadu_ps(m, sr + q));
					}
				} else if (sw == 2) {
					// 16 cells from the even lanes of 32 contiguous values; a
					// short block loads only the 2*cnt-1 values it needs
					for (int64_t q = qa; q < qb; q += 16) {
						const int64_t cnt = qb - q < 16 ? qb - q : 16;
						const uint32_t m32 = cnt == 16 ? 0x7FFFFFFFu : (uint32_t)((1u << (2 * cnt - 1)) - 1u);
						__m512 a = _mm512_maskz_loadu_ps((__mmask16)m32, sr + 2 * q);
						__m512 b = _mm512_maskz_loadu_ps((__mmask16)(m32 >> 16), sr + 2 * q + 16);
						_mm512_mask_storeu_ps(row + q, NN_MASK(cnt), _mm512_permutex2var_ps(a, even, b));
					}
				} else {
					for (int64_t q = qa; q < qb; q++) row[q] = sr[q * sw];
				}
			}
		}
	}
	for (int64_t t = 0; t < tail; t++) P[sh * sw * Hq * Wq + t] = fill;
}

int64_t gc_dwconv2d_scratch_avx512(const int64_t *geom) {
	const int64_t oh = geom[7], ow = geom[8], kh = geom[9], kw = geom[10];
	const int64_t sh = geom[11], sw = geom[12], dh = geom[15], dw = geom[16];
	const int64_t hq = oh + (kh - 1) * dh / sh, wq = ow + (kw - 1) * dw / sw;
	return sh * sw * hq * wq + (kw - 1) * dw / sw + 16;
}

// gc_dwconv2d_f32_avx512 is gc_dwconv2d_f32 (same geom, see
// simd_amd64.h) with AVX-512: each plane is copied into zero-padded
// stride-phase planes (scratch: gc_dwconv2d_scratch_avx512 floats), then
// every output row segment of 16 cells is summed tap by tap in a register
// (four rows at a time, for independent accumulators), starting from the
// bias, with z and the clamp applied before the store. The taps are summed
// in (ky, kx) order, as the reference does.
void gc_dwconv2d_f32_avx512(const float *x, const float *w, const float *bias, const float *z, float *y,
	float *scratch, const int64_t *geom, float lo, float hi) {
	const int64_t p0 = geom[0], p1 = geom[1], M = geom[2], C = geom[3], mult = geom[4];
	const int64_t ih = geom[5], iw = geom[6], oh = geom[7], ow = geom[8], kh = geom[9], kw = geom[10];
	const int64_t sh = geom[11], sw = geom[12], ph = geom[13], pw = geom[14], dh = geom[15], dw = geom[16];
	const int64_t clamp = geom[17];
	const int64_t hq = oh + (kh - 1) * dh / sh, wq = ow + (kw - 1) * dw / sw, tail = (kw - 1) * dw / sw;
	const int64_t taps = kh * kw; // at most GC_NN_MAX_TAPS (checked by the caller)
	int64_t toff[GC_NN_MAX_TAPS];
	for (int64_t t = 0; t < taps; t++) {
		const int64_t yy = (t / kw) * dh, xx = (t % kw) * dw;
		toff[t] = ((yy % sh) * sw + xx % sw) * hq * wq + (yy / sh) * wq + xx / sw;
	}
	const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
	for (int64_t p = p0; p < p1; p++) {
		const int64_t n = p / M, m = p % M;
		const float *wk = w + m * taps;
		if (p + 1 < p1) nn_prefetch_plane(x + ((p + 1) / M * C + (p + 1) % M / mult) * ih * iw, ih * iw);
		nn_pad_phases(x + (n * C + m / mult) * ih * iw, ih, iw, ph, pw, sh, sw, hq, wq, tail, 0.0f, scratch);
		float *yp = y + p * oh * ow;
		const float *zp = z ? z + p * oh * ow : NULL;
		const __m512 b0 = _mm512_set1_ps(bias ? bias[m] : 0.0f);
		for (int64_t oy = 0; oy < oh; oy += 4) {
			const int64_t rows = oh - oy < 4 ? oh - oy : 4;
			for (int64_t ox = 0; ox < ow; ox += 16) {
				const int64_t cnt = ow - ox < 16 ? ow - ox : 16;
				const __mmask16 mk = NN_MASK(cnt);
				__m512 acc0 = b0, acc1 = b0, acc2 = b0, acc3 = b0;
				const float *base = scratch + oy * wq + ox;
				for (int64_t t = 0; t < taps; t++) {
					const __m512 wv = _mm512_set1_ps(wk[t]);
					const float *s = base + toff[t];
					acc0 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk, s), acc0);
					if (rows > 1) acc1 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk, s + wq), acc1);
					if (rows > 2) acc2 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk, s + 2 * wq), acc2);
					if (rows > 3) acc3 = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk, s + 3 * wq), acc3);
				}
				__m512 acc[4] = {acc0, acc1, acc2, acc3};
				for (int64_t r = 0; r < rows; r++) {
					__m512 v = acc[r];
					const int64_t o = (oy + r) * ow + ox;
					if (zp) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk, zp + o));
					if (clamp) v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v));
					_mm512_mask_storeu_ps(yp + o, mk, v);
				}
			}
		}
	}
}

// nn_pool_den_off is where the pool's divisors start in its scratch: after
// the phase planes, or the separable path's padded row (the fill written up
// to tlen, rounded to 16; the input row at pw), whichever is longer.
static int64_t nn_pool_den_off(const int64_t *geom) {
	const int64_t iw = geom[2], oh = geom[3], ow = geom[4], sh = geom[5], sw = geom[6], pw = geom[8], dh = geom[9], dw = geom[10];
	const int64_t kw = geom[13], kh = geom[14];
	const int64_t hq = oh + (kh - 1) * dh / sh, wq = ow + (kw - 1) * dw / sw;
	int64_t off = sh * sw * hq * wq + (kw - 1) * dw / sw + 16;
	const int64_t tlen = (((ow + 15) / 16 * 16) * sw + kw + 32 + 15) / 16 * 16;
	const int64_t row = (pw + iw + 16 > tlen ? pw + iw + 16 : tlen) + 16; // + 16: T is aligned to 64 bytes
	return row > off ? row : off;
}

// nn_pool_sep is the separable path of gc_pool2d_f32_avx512 (dw 1, sw 1
// or 2) over all planes. It is inlined with is_max, sw and kw constant for
// the common max pools, so their loops compile to straight-line code.
static inline __attribute__((always_inline)) void nn_pool_sep(const float *x, float *y, float *P, float *den,
	const int64_t *geom, const int64_t *ylo, const int64_t *yhi, const int64_t *ycnt, const int64_t *xlo,
	const int64_t *xhi, const int64_t *xcnt, const int is_max, const int64_t sw, const int64_t kw) {
	const int64_t planes = geom[0], ih = geom[1], iw = geom[2], oh = geom[3], ow = geom[4];
	const int64_t sh = geom[5], ph = geom[7], pw = geom[8], dh = geom[9];
	const int64_t include_pad = geom[12], kh = geom[14];
	const float fill = is_max ? -INFINITY : 0.0f;
	// Separable: for each output row, its valid input rows (ylo..yhi)
	// are reduced column by column into a row T padded with the fill
	// value (pw in front), then each output cell reduces its kw taps of
	// T: 16 cells at a time from 16 (sw 1) or 32 (sw 2, even lanes
	// kept) contiguous values. (For averages the sum is taken rows
	// first, a rounding difference from the reference's row-major
	// order.)
	const __m512 vf = _mm512_set1_ps(fill);
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
	// T: pw + iw + the right fill, rounded up (see gc_pool2d_scratch_avx512),
	// 64-byte aligned
	float *T = (float *)(((uintptr_t)P + 63) & ~(uintptr_t)63);
	const int64_t tlen = (((ow + 15) / 16 * 16) * sw + kw + 32 + 15) / 16 * 16;
	for (int64_t i = 0; i < tlen; i += 16) _mm512_store_ps(T + i, vf);
	// kw <= 3: T is read in whole aligned vectors (those the row
	// reduction just stored, so the loads are forwarded from the
	// stores) and the taps shifted into place in registers; an
	// unaligned load across two of those stores would wait for them
	// to reach the cache.
	const int regs = kw <= 3;
	for (int64_t p = 0; p < planes; p++) {
		const float *xp = x + p * ih * iw;
		float *yp = y + p * oh * ow;
		if (p + 1 < planes && ih * iw <= (6 << 10)) nn_prefetch_plane(xp + ih * iw, ih * iw);
		for (int64_t oy = 0; oy < oh; oy++) {
			const int64_t k0 = ylo[oy], k1 = yhi[oy];
			const float *r0 = xp + (oy * sh - ph + k0 * dh) * iw;
			// the rows the next output row adds (prefetched: the input
			// usually comes from L3 or memory)
			const int64_t pf0 = (oy + 2) * sh - ph + (kh - sh > 0 ? kh - sh : 0) * dh;
			const int64_t pf1 = (oy + 2) * sh - ph + kh * dh;
			// T[j] = the rows' reduction of input column j - pw (the fill
			// outside the row), in aligned blocks of 16
			for (int64_t j = 0; j < pw + iw; j += 16) {
				const int64_t ix = j - pw;
				const int64_t lo = ix < 0 ? (-ix < 16 ? -ix : 16) : 0, hi = iw - ix < 16 ? iw - ix : 16;
				const __mmask16 mk = (__mmask16)(NN_MASK(hi) & ~NN_MASK(lo));
				for (int64_t pr = pf0 < 0 ? 0 : pf0; pr < pf1 && pr < ih; pr += dh)
					_mm_prefetch((const char *)(xp + pr * iw + (ix < 0 ? 0 : ix)), _MM_HINT_T0);
				__m512 a = vf;
				const float *r = r0 + ix;
				for (int64_t ky = k0; ky < k1; ky++, r += dh * iw) {
					__m512 v = _mm512_mask_loadu_ps(vf, mk, r);
					a = is_max ? _mm512_max_ps(v, a) : _mm512_add_ps(a, v);
				}
				_mm512_store_ps(T + j, a);
			}
			if (!is_max) {
				for (int64_t ox = 0; ox < ow; ox++)
					den[ox] = (float)(include_pad ? ycnt[oy] * xcnt[ox] : (k1 - k0) * (xhi[ox] - xlo[ox]));
			}
			for (int64_t ox = 0; ox < ow; ox += 16) {
				const __mmask16 mk = NN_MASK(ow - ox < 16 ? ow - ox : 16);
				const float *src = T + ox * sw;
				__m512 a = vf;
				if (regs) {
					// taps kx of 16 cells: sw 1, T[ox + kx + i] = lanes kx.. of
					// the blocks A, B; sw 2, T[2*ox + kx + 2i] = the even (kx
					// even) or odd lanes of the blocks from kx & ~1 on.
					const __m512 A = _mm512_load_ps(src), B = _mm512_load_ps(src + 16);
					__m512 v[3];
					if (sw == 1) {
						v[0] = A;
						v[1] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(B), _mm512_castps_si512(A), 1));
						v[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(B), _mm512_castps_si512(A), 2));
					} else {
						v[0] = _mm512_permutex2var_ps(A, even, B);
						v[1] = _mm512_permutex2var_ps(A, odd, B);
						if (kw > 2) {
							const __m512 Cv = _mm512_load_ps(src + 32);
							const __m512 A2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(B), _mm512_castps_si512(A), 2));
							const __m512 B2 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(Cv), _mm512_castps_si512(B), 2));
							v[2] = _mm512_permutex2var_ps(A2, even, B2);
						}
					}
					for (int64_t kx = 0; kx < kw; kx++) a = is_max ? _mm512_max_ps(v[kx], a) : _mm512_add_ps(a, v[kx]);
				} else {
					for (int64_t kx = 0; kx < kw; kx++) {
						__m512 v = sw == 1 ? _mm512_loadu_ps(src + kx)
						                   : _mm512_permutex2var_ps(_mm512_loadu_ps(src + kx), even, _mm512_loadu_ps(src + kx + 16));
						a = is_max ? _mm512_max_ps(v, a) : _mm512_add_ps(a, v);
					}
				}
				if (!is_max) a = _mm512_div_ps(a, _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), mk, den + ox));
				_mm512_mask_storeu_ps(yp + oy * ow + ox, mk, a);
			}
		}
	}
}

// gc_pool2d_f32_avx512 is gc_pool2d_f32 (see simd_amd64.h; geom, the tap
// ranges and counts are the same; tmp holds gc_pool2d_scratch_avx512
// floats) with AVX-512: each plane is copied into stride-phase planes
// padded with -Inf (max) or 0 (average), then every output row segment of
// 16 cells reduces its kh x kw taps in registers. Max ignores NaN inputs
// (max(x, acc) keeps acc when x is NaN), as the reference does; an average
// divides the sum by the window's count (count_include_pad: ycnt*xcnt,
// else the taps inside the input).
void gc_pool2d_f32_avx512(const float *x, float *y, float *tmp, const int64_t *geom, const int64_t *ylo,
	const int64_t *yhi, const int64_t *ycnt, const int64_t *xlo, const int64_t *xhi, const int64_t *xcnt) {
	const int64_t planes = geom[0], ih = geom[1], iw = geom[2], oh = geom[3], ow = geom[4];
	const int64_t sh = geom[5], sw = geom[6], ph = geom[7], pw = geom[8], dh = geom[9], dw = geom[10];
	const int64_t is_max = geom[11], include_pad = geom[12], kw = geom[13], kh = geom[14];
	const int64_t hq = oh + (kh - 1) * dh / sh, wq = ow + (kw - 1) * dw / sw, tail = (kw - 1) * dw / sw;
	const int64_t taps = kh * kw; // at most GC_NN_MAX_TAPS (checked by the caller)
	float *P = tmp, *den = tmp + nn_pool_den_off(geom);
	int64_t toff[GC_NN_MAX_TAPS];
	for (int64_t t = 0; t < taps; t++) {
		const int64_t yy = (t / kw) * dh, xx = (t % kw) * dw;
		toff[t] = ((yy % sh) * sw + xx % sw) * hq * wq + (yy / sh) * wq + xx / sw;
	}
	const float fill = is_max ? -INFINITY : 0.0f;
	if (dw == 1 && (sw == 1 || sw == 2)) {
		if (is_max && sw == 2 && kw == 3) {
			nn_pool_sep(x, y, P, den, geom, ylo, yhi, ycnt, xlo, xhi, xcnt, 1, 2, 3);
		} else if (is_max && sw == 1 && kw == 3) {
			nn_pool_sep(x, y, P, den, geom, ylo, yhi, ycnt, xlo, xhi, xcnt, 1, 1, 3);
		} else if (is_max && sw == 2 && kw == 2) {
			nn_pool_sep(x, y, P, den, geom, ylo, yhi, ycnt, xlo, xhi, xcnt, 1, 2, 2);
		} else {
			nn_pool_sep(x, y, P, den, geom, ylo, yhi, ycnt, xlo, xhi, xcnt, is_max != 0, sw, kw);
		}
		return;
	}
	for (int64_t p = 0; p < planes; p++) {
		nn_pad_phases(x + p * ih * iw, ih, iw, ph, pw, sh, sw, hq, wq, tail, fill, P);
		float *yp = y + p * oh * ow;
		for (int64_t oy = 0; oy < oh; oy++) {
			if (!is_max) {
				for (int64_t ox = 0; ox < ow; ox++)
					den[ox] = (float)(include_pad ? ycnt[oy] * xcnt[ox] : (yhi[oy] - ylo[oy]) * (xhi[ox] - xlo[ox]));
			}
			for (int64_t ox = 0; ox < ow; ox += 16) {
				const int64_t cnt = ow - ox < 16 ? ow - ox : 16;
				const __mmask16 mk = NN_MASK(cnt);
				const float *base = P + oy * wq + ox;
				__m512 acc = _mm512_set1_ps(fill);
				if (is_max) {
					for (int64_t t = 0; t < taps; t++) acc = _mm512_max_ps(_mm512_maskz_loadu_ps(mk, base + toff[t]), acc);
				} else {
					for (int64_t t = 0; t < taps; t++) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mk, base + toff[t]));
					acc = _mm512_div_ps(acc, _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), mk, den + ox));
				}
				_mm512_mask_storeu_ps(yp + oy * ow + ox, mk, acc);
			}
		}
	}
}

int64_t gc_pool2d_scratch_avx512(const int64_t *geom) { return nn_pool_den_off(geom) + geom[4] + 16; }

// gc_clamp_f32 sets y[i] = min(max(x[i], lo), hi); NaN stays NaN.
void gc_clamp_f32(const float *x, float *y, int64_t n, float lo, float hi) {
	const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
	int64_t i = 0;
	for (; i + 64 <= n; i += 64) {
		__m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
		__m512 c = _mm512_loadu_ps(x + i + 32), d = _mm512_loadu_ps(x + i + 48);
		_mm512_storeu_ps(y + i, _mm512_min_ps(vhi, _mm512_max_ps(vlo, a)));
		_mm512_storeu_ps(y + i + 16, _mm512_min_ps(vhi, _mm512_max_ps(vlo, b)));
		_mm512_storeu_ps(y + i + 32, _mm512_min_ps(vhi, _mm512_max_ps(vlo, c)));
		_mm512_storeu_ps(y + i + 48, _mm512_min_ps(vhi, _mm512_max_ps(vlo, d)));
	}
	for (; i < n; i += 16) {
		const __mmask16 mk = NN_MASK(n - i < 16 ? n - i : 16);
		_mm512_mask_storeu_ps(y + i, mk, _mm512_min_ps(vhi, _mm512_max_ps(vlo, _mm512_maskz_loadu_ps(mk, x + i))));
	}
}

// gc_quantize_f32_8 is QuantizeLinear of float32 values with one scale into
// 8-bit values: y[i] = clamp(round(x[i] / scale), lo - zp, hi - zp) + zp,
// rounded half to even, NaN -> 0, lo and hi the int8 or uint8 range; the
// quotient is the float32 one, as in the Go path (quantizeF32PerTensor).
void gc_quantize_f32_8(const float *x, uint8_t *y, int64_t n, float scale, int32_t zp, int32_t lo, int32_t hi) {
	const __m512 vs = _mm512_set1_ps(scale), vlo = _mm512_set1_ps((float)(lo - zp)), vhi = _mm512_set1_ps((float)(hi - zp));
	const __m512 vnan = _mm512_set1_ps((float)-zp);
	const __m512i vzp = _mm512_set1_epi32(zp);
	for (int64_t i = 0; i < n; i += 16) {
		const __mmask16 mk = NN_MASK(n - i < 16 ? n - i : 16);
		__m512 d = _mm512_div_ps(_mm512_maskz_loadu_ps(mk, x + i), vs);
		const __mmask16 nan = _mm512_cmp_ps_mask(d, d, _CMP_UNORD_Q);
		d = _mm512_mask_mov_ps(_mm512_min_ps(vhi, _mm512_max_ps(vlo, d)), nan, vnan);
		const __m512i q = _mm512_add_epi32(_mm512_cvt_roundps_epi32(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), vzp);
		_mm512_mask_cvtepi32_storeu_epi8(y + i, mk, q);
	}
}

// gc_row_means sets y[r] = (sum of x[r*len .. r*len+len-1]) / len for rows
// rows, summing in 64 lanes, then pairwise.
void gc_row_means(const float *x, float *y, int64_t rows, int64_t len) {
	for (int64_t r = 0; r < rows; r++) {
		const float *s = x + r * len;
		__m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps(), c = _mm512_setzero_ps(), d = _mm512_setzero_ps();
		int64_t i = 0;
		for (; i + 64 <= len; i += 64) {
			a = _mm512_add_ps(a, _mm512_loadu_ps(s + i));
			b = _mm512_add_ps(b, _mm512_loadu_ps(s + i + 16));
			c = _mm512_add_ps(c, _mm512_loadu_ps(s + i + 32));
			d = _mm512_add_ps(d, _mm512_loadu_ps(s + i + 48));
		}
		for (; i < len; i += 16) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(NN_MASK(len - i < 16 ? len - i : 16), s + i));
		y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d))) / (float)len;
	}
}

// gc_lrn_f32 computes LRN planes [p0, p1) of x (N x C planes of plane
// floats; plane p is channel p % C of image p / C) into y, exactly as the
// Go reference does it, in float64 eight cells at a time: s = the sum, in
// channel order from 0, of the squares of channels [c - before, c + after]
// inside [0, C); d = bias + k*s; p = sqrt(d)*sqrt(sqrt(d)) (beta 0.75),
// sqrt(d) (0.5) or d (1); y = x / p rounded to float32. Each product,
// sum, square root and quotient is one correctly rounded IEEE operation,
// as in the reference, so the two agree bit for bit; floating-point
// contraction is off here, or GCC would fuse bias + k*s into one FMA (one
// rounding fewer than the reference). geom: p0, p1, C, plane, before,
// after, beta code (0: 0.75, 1: 0.5, 2: 1).
__attribute__((optimize("fp-contract=off"))) void gc_lrn_f32(const float *x, float *y, const int64_t *geom, double bias,
	double k) {
	const int64_t p0 = geom[0], p1 = geom[1], C = geom[2], plane = geom[3], before = geom[4], after = geom[5];
	const int64_t beta = geom[6];
	const __m512d vb = _mm512_set1_pd(bias), vk = _mm512_set1_pd(k);
	for (int64_t p = p0; p < p1; p++) {
		const int64_t img = p / C, ch = p % C;
		const int64_t c0 = ch - before > 0 ? ch - before : 0, c1 = ch + after < C - 1 ? ch + after : C - 1;
		const float *xi = x + img * C * plane;
		for (int64_t i = 0; i < plane; i += 8) {
			const __mmask8 m = plane - i >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (plane - i)) - 1u);
			__m512d s = _mm512_setzero_pd();
			for (int64_t cc = c0; cc <= c1; cc++) {
				const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, xi + cc * plane + i));
				s = _mm512_add_pd(s, _mm512_mul_pd(v, v));
			}
			const __m512d d = _mm512_add_pd(vb, _mm512_mul_pd(vk, s));
			__m512d q = d;
			if (beta == 0) {
				const __m512d r = _mm512_sqrt_pd(d);
				q = _mm512_mul_pd(r, _mm512_sqrt_pd(r));
			} else if (beta == 1) {
				q = _mm512_sqrt_pd(d);
			}
			const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + p * plane + i));
			_mm256_mask_storeu_ps(y + p * plane + i, m, _mm512_cvtpd_ps(_mm512_div_pd(v, q)));
		}
	}
}

// gc_requant_rows_avx512 is gc_requant with one multiplier per row
// (per_col 0), 16 values per step (gc_requant16, which gc_qconv_vnni512's
// epilogue uses too): y = clamp(round_half_even(acc * mult[i]) + zp, lo,
// hi) in double, as gc_requant computes it.
void gc_requant_rows_avx512(const int32_t *acc, void *y, int64_t m, int64_t n, const double *mult,
	const double *zp_row, double zp, double lo, double hi) {
	const __m512d vlo = _mm512_set1_pd(lo), vhi = _mm512_set1_pd(hi);
	for (int64_t i = 0; i < m; i++) {
		const int32_t *a = acc + i * n;
		uint8_t *o = (uint8_t *)y + i * n;
		const __m512d s = _mm512_set1_pd(mult[i]), z = _mm512_set1_pd(zp_row ? zp_row[i] : zp);
		for (int64_t j = 0; j < n; j += 16) {
			const __mmask16 mk = (__mmask16)(n - j >= 16 ? 0xFFFFu : (1u << (n - j)) - 1u);
			_mm_mask_storeu_epi8(o + j, mk, gc_requant16(_mm512_maskz_loadu_epi32(mk, a + j), s, z, vlo, vhi));
		}
	}
}

// gc_qadd_8_avx512 is gc_qadd_8 with 16 values per step, the same
// float32 operations in the same order (no contraction: separate
// intrinsics, and GCC does not fuse them under fp-contract=off).
__attribute__((optimize("fp-contract=off"))) void gc_qadd_8_avx512(const uint8_t *a, const uint8_t *b, uint8_t *y,
	int64_t n, int64_t is_signed, float za, float ra, float zb, float rb, float zy, float lo, float hi) {
	const __m512 vza = _mm512_set1_ps(za), vra = _mm512_set1_ps(ra), vzb = _mm512_set1_ps(zb), vrb = _mm512_set1_ps(rb);
	const __m512 vzy = _mm512_set1_ps(zy), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
	for (int64_t i = 0; i < n; i += 16) {
		const __mmask16 mk = (__mmask16)(n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1u);
		const __m128i a8 = _mm_maskz_loadu_epi8(mk, a + i), b8 = _mm_maskz_loadu_epi8(mk, b + i);
		const __m512i ai = is_signed ? _mm512_cvtepi8_epi32(a8) : _mm512_cvtepu8_epi32(a8);
		const __m512i bi = is_signed ? _mm512_cvtepi8_epi32(b8) : _mm512_cvtepu8_epi32(b8);
		const __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(ai), vza), vra);
		const __m512 u = _mm512_mul_ps(_mm512_sub_ps(_mm512_cvtepi32_ps(bi), vzb), vrb);
		__m512 v = _mm512_add_ps(_mm512_add_ps(t, u), vzy);
		v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
		// round half to even (the default rounding mode), then narrow: the
		// values are in range, so truncating to 8 bits is exact
		_mm_mask_storeu_epi8(y + i, mk, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
	}
}

#pragma GCC pop_options
