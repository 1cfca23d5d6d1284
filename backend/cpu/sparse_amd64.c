//go:build cgo && amd64

// CSR sparse x dense product for x86-64 (AVX-512F), the fast path of
// spmmGo (sparse.go, which states the maths and layouts). The Go glue is
// sparse_cgo.go; it checks every size and stride before the call and
// calls this only when the CPU has AVX-512F.
//
// geom: r0, r1 (rows of C to compute), n, ldb, ldcM, ldcN, flags
// (1: clamp to [lo, hi], 2: add bias[i], 4: add z at C's position).
//
// n == 1: each row is a dot product of its values with B gathered at its
// column indices (vgatherdps, 16 per step). n > 1: each row of C is
// accumulated 64 columns at a time (4 zmm accumulators per chain; the
// last block masked), one broadcast value times one row block of B per
// non-zero, with two or four independent chains over the non-zeros so
// that the FMA latency does not bound the loop. The summation order is
// therefore not the reference's: results agree to float32 rounding.

#include <immintrin.h>
#include <stdint.h>

#pragma GCC push_options
#pragma GCC target("avx512f,fma")

static inline float gc_sp_finish(float v, int64_t i, int64_t at, const float *bias, const float *z,
	int64_t flags, float lo, float hi) {
	if (flags & 2) v += bias[i];
	if (flags & 4) v += z[at];
	if (flags & 1) v = v < lo ? lo : (v > hi ? hi : v);
	return v;
}

// gc_sp_row computes row i of C for n > 1 from the non-zeros val[0..cnt)
// in columns col[0..cnt) (see the file comment).
static inline void gc_sp_row(int64_t i, const int32_t *col, const float *val, int64_t cnt, const float *b,
	int64_t ldb, int64_t n, float *c, int64_t ldcM, int64_t ldcN, const float *bias, const float *z,
	int64_t flags, float lo, float hi) {
	const int64_t q0 = 0, q1 = cnt;
	for (int64_t j0 = 0; j0 < n; j0 += 64) {
		const int64_t w = n - j0 < 64 ? n - j0 : 64;
		__mmask16 mk[4];
		for (int t = 0; t < 4; t++) {
			const int64_t l = w - 16 * t;
			mk[t] = l >= 16 ? (__mmask16)0xffff : (l <= 0 ? (__mmask16)0 : (__mmask16)((1u << l) - 1u));
		}
		__m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
		if (w == 64) {
			// Two non-zeros per step: eight independent accumulators.
			__m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
			int64_t q = q0;
			for (; q + 2 <= q1; q += 2) {
				const __m512 v = _mm512_set1_ps(val[q]), u = _mm512_set1_ps(val[q + 1]);
				const float *br = b + (int64_t)col[q] * ldb + j0, *bs = b + (int64_t)col[q + 1] * ldb + j0;
				a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br), a0);
				a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br + 16), a1);
				a2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br + 32), a2);
				a3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br + 48), a3);
				b0 = _mm512_fmadd_ps(u, _mm512_loadu_ps(bs), b0);
				b1 = _mm512_fmadd_ps(u, _mm512_loadu_ps(bs + 16), b1);
				b2 = _mm512_fmadd_ps(u, _mm512_loadu_ps(bs + 32), b2);
				b3 = _mm512_fmadd_ps(u, _mm512_loadu_ps(bs + 48), b3);
			}
			for (; q < q1; q++) {
				const __m512 v = _mm512_set1_ps(val[q]);
				const float *br = b + (int64_t)col[q] * ldb + j0;
				a0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br), a0);
				a1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br + 16), a1);
				a2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br + 32), a2);
				a3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(br + 48), a3);
			}
			a0 = _mm512_add_ps(a0, b0);
			a1 = _mm512_add_ps(a1, b1);
			a2 = _mm512_add_ps(a2, b2);
			a3 = _mm512_add_ps(a3, b3);
		} else if (w <= 16) {
			// One vector of columns: four non-zeros per step, one
			// accumulator each (the FMA latency, not the loads, bounds
			// a single chain).
			int64_t q = q0;
			for (; q + 4 <= q1; q += 4) {
				a0 = _mm512_fmadd_ps(_mm512_set1_ps(val[q]), _mm512_maskz_loadu_ps(mk[0], b + (int64_t)col[q] * ldb + j0), a0);
				a1 = _mm512_fmadd_ps(_mm512_set1_ps(val[q + 1]), _mm512_maskz_loadu_ps(mk[0], b + (int64_t)col[q + 1] * ldb + j0), a1);
				a2 = _mm512_fmadd_ps(_mm512_set1_ps(val[q + 2]), _mm512_maskz_loadu_ps(mk[0], b + (int64_t)col[q + 2] * ldb + j0), a2);
				a3 = _mm512_fmadd_ps(_mm512_set1_ps(val[q + 3]), _mm512_maskz_loadu_ps(mk[0], b + (int64_t)col[q + 3] * ldb + j0), a3);
			}
			for (; q < q1; q++)
				a0 = _mm512_fmadd_ps(_mm512_set1_ps(val[q]), _mm512_maskz_loadu_ps(mk[0], b + (int64_t)col[q] * ldb + j0), a0);
			a0 = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
			a1 = a2 = a3 = _mm512_setzero_ps();
		} else {
			// Two non-zeros per step.
			__m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps(), b3 = _mm512_setzero_ps();
			int64_t q = q0;
			for (; q + 2 <= q1; q += 2) {
				const __m512 v = _mm512_set1_ps(val[q]), u = _mm512_set1_ps(val[q + 1]);
				const float *br = b + (int64_t)col[q] * ldb + j0, *bs = b + (int64_t)col[q + 1] * ldb + j0;
				a0 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[0], br), a0);
				b0 = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(mk[0], bs), b0);
				a1 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[1], br + 16), a1);
				b1 = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(mk[1], bs + 16), b1);
				if (mk[2]) {
					a2 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[2], br + 32), a2);
					b2 = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(mk[2], bs + 32), b2);
				}
				if (mk[3]) {
					a3 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[3], br + 48), a3);
					b3 = _mm512_fmadd_ps(u, _mm512_maskz_loadu_ps(mk[3], bs + 48), b3);
				}
			}
			for (; q < q1; q++) {
				const __m512 v = _mm512_set1_ps(val[q]);
				const float *br = b + (int64_t)col[q] * ldb + j0;
				a0 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[0], br), a0);
				a1 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[1], br + 16), a1);
				if (mk[2]) a2 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[2], br + 32), a2);
				if (mk[3]) a3 = _mm512_fmadd_ps(v, _mm512_maskz_loadu_ps(mk[3], br + 48), a3);
			}
			a0 = _mm512_add_ps(a0, b0);
			a1 = _mm512_add_ps(a1, b1);
			a2 = _mm512_add_ps(a2, b2);
			a3 = _mm512_add_ps(a3, b3);
		}
		__m512 acc[4] = {a0, a1, a2, a3};
		if (ldcN == 1) {
			const __m512 lov = _mm512_set1_ps(lo), hiv = _mm512_set1_ps(hi);
			for (int t = 0; t < 4 && mk[t]; t++) {
				__m512 v = acc[t];
				const int64_t at = i * ldcM + j0 + 16 * t;
				if (flags & 2) v = _mm512_add_ps(v, _mm512_set1_ps(bias[i]));
				if (flags & 4) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mk[t], z + at));
				if (flags & 1) v = _mm512_min_ps(_mm512_max_ps(v, lov), hiv);
				_mm512_mask_storeu_ps(c + at, mk[t], v);
			}
		} else {
			float tmp[64];
			for (int t = 0; t < 4; t++) _mm512_storeu_ps(tmp + 16 * t, acc[t]);
			for (int64_t j = 0; j < w; j++) {
				const int64_t at = i * ldcM + (j0 + j) * ldcN;
				c[at] = gc_sp_finish(tmp[j], i, at, bias, z, flags, lo, hi);
			}
		}
	}
}

void gc_spmm_f32_avx512(const int32_t *rowptr, const int32_t *col, const float *val, const float *b,
	float *c, const float *bias, const float *z, const int64_t *geom, float lo, float hi) {
	const int64_t r0 = geom[0], r1 = geom[1], n = geom[2], ldb = geom[3];
	const int64_t ldcM = geom[4], ldcN = geom[5], flags = geom[6];
	if (n == 1) {
		const __m512i stride = _mm512_set1_epi32((int32_t)ldb);
		for (int64_t i = r0; i < r1; i++) {
			int64_t q = rowptr[i];
			const int64_t end = rowptr[i + 1];
			__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
			for (; q + 32 <= end; q += 32) {
				__m512i i0 = _mm512_loadu_si512((const void *)(col + q));
				__m512i i1 = _mm512_loadu_si512((const void *)(col + q + 16));
				if (ldb != 1) {
					i0 = _mm512_mullo_epi32(i0, stride);
					i1 = _mm512_mullo_epi32(i1, stride);
				}
				acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(val + q), _mm512_i32gather_ps(i0, b, 4), acc0);
				acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(val + q + 16), _mm512_i32gather_ps(i1, b, 4), acc1);
			}
			for (; q < end; q += 16) {
				const int64_t left = end - q;
				const __mmask16 mk = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
				__m512i i0 = _mm512_maskz_loadu_epi32(mk, (const void *)(col + q));
				if (ldb != 1) i0 = _mm512_mullo_epi32(i0, stride);
				const __m512 x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, i0, b, 4);
				acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, val + q), x, acc0);
			}
			const float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
			const int64_t at = i * ldcM;
			c[at] = gc_sp_finish(s, i, at, bias, z, flags, lo, hi);
		}
		return;
	}
	for (int64_t i = r0; i < r1; i++)
		gc_sp_row(i, col + rowptr[i], val + rowptr[i], rowptr[i + 1] - rowptr[i], b, ldb, n, c, ldcM, ldcN, bias, z, flags, lo, hi);
}

// gc_sp24_f32_avx512 is the 2:4 product of sparse24Go (sparse.go): rows
// [r0, r1) of the Rows x Cols 2:4 matrix (vals: Cols/2 per row, meta:
// Cols/8 bytes per row; K the logical width). lut[4*m .. 4*m+3] are the
// columns, relative to the byte's first group, of the four values of
// metadata byte m: {f0, s0, 4+f1, 4+s1}. n == 1: 16 values (4 metadata
// bytes) per step, their columns from the table, B gathered. n > 1: each
// row's metadata is decoded into column indices (scratch, Cols/2 int32)
// and the row runs as a CSR row. Columns >= K (the partial last group,
// padding) are skipped. geom as for gc_spmm_f32_avx512 plus geom[7] =
// Cols, geom[8] = K.
void gc_sp24_f32_avx512(const float *vals, const uint8_t *meta, const int32_t *lut, const float *b, float *c,
	const float *bias, const float *z, int32_t *scratch, const int64_t *geom, float lo, float hi) {
	const int64_t r0 = geom[0], r1 = geom[1], n = geom[2], ldb = geom[3];
	const int64_t ldcM = geom[4], ldcN = geom[5], flags = geom[6], cols = geom[7], K = geom[8];
	const int64_t vs = cols / 2, ms = cols / 8, full = K / 8;
	for (int64_t i = r0; i < r1; i++) {
		const float *v = vals + i * vs;
		const uint8_t *mt = meta + i * ms;
		if (n == 1) {
			const __m512i lane = _mm512_set_epi32(24, 24, 24, 24, 16, 16, 16, 16, 8, 8, 8, 8, 0, 0, 0, 0);
			const __m512i stride = _mm512_set1_epi32((int32_t)ldb);
			__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
			int64_t q = 0;
			for (; q + 4 <= full; q += 4) {
				__m512i idx = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(lut + 4 * mt[q])));
				idx = _mm512_inserti32x4(idx, _mm_loadu_si128((const __m128i *)(lut + 4 * mt[q + 1])), 1);
				idx = _mm512_inserti32x4(idx, _mm_loadu_si128((const __m128i *)(lut + 4 * mt[q + 2])), 2);
				idx = _mm512_inserti32x4(idx, _mm_loadu_si128((const __m128i *)(lut + 4 * mt[q + 3])), 3);
				idx = _mm512_add_epi32(idx, _mm512_add_epi32(lane, _mm512_set1_epi32((int32_t)(8 * q))));
				if (ldb != 1) idx = _mm512_mullo_epi32(idx, stride);
				const __m512 x = _mm512_i32gather_ps(idx, b, 4);
				if (q & 4) acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 4 * q), x, acc1);
				else acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(v + 4 * q), x, acc0);
			}
			float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
			for (int64_t g = 2 * q; g < cols / 4; g++) {
				const int nib = (mt[g / 2] >> (4 * (g & 1))) & 15;
				const int64_t c0 = 4 * g + (nib & 3), c1 = 4 * g + (nib >> 2);
				if (c0 < K) s += v[2 * g] * b[c0 * ldb];
				if (c1 < K) s += v[2 * g + 1] * b[c1 * ldb];
			}
			const int64_t at = i * ldcM;
			c[at] = gc_sp_finish(s, i, at, bias, z, flags, lo, hi);
			continue;
		}
		for (int64_t g = 0; g < cols / 4; g++) {
			const int nib = (mt[g / 2] >> (4 * (g & 1))) & 15;
			const int64_t c0 = 4 * g + (nib & 3), c1 = 4 * g + (nib >> 2);
			scratch[2 * g] = c0 < K ? (int32_t)c0 : 0;
			scratch[2 * g + 1] = c1 < K ? (int32_t)c1 : 0;
		}
		// Values in padding columns are zero: reading column 0 for them
		// adds nothing.
		gc_sp_row(i, scratch, v, vs, b, ldb, n, c, ldcM, ldcN, bias, z, flags, lo, hi);
	}
}

#pragma GCC pop_options
