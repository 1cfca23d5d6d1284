// FP32 GEMM template, included once per instruction set by simd_amd64.c
// with these macros defined:
//
//   SFX(name)     appends the ISA suffix (name_avx512, ...)
//   MR, NR, VL    register tile: MR rows x NR columns, VL lanes per vector
//   vf            the vector type; VZERO, VLOAD(p), VSTORE(p, v),
//                 VLOADM(p, lanes) (zero-filled), VSTOREM(p, v, lanes),
//                 VBCAST(x), VFMA(a, b, c) = a*b + c, VADD, VMAX, VMIN
//
// It computes C[i0:i1, j0:j1] = epilogue(op(A) * op(B) (+ C)) with the
// Goto/BLIS loop nest: for each nc-wide block of columns and kc-deep block
// of k, op(B) is packed into NR-wide panels (from a matrix, or straight
// from an image for convolutions: im2col fused into packing), and the
// micro-kernel multiplies MR-row panels of packed op(A) with them, keeping
// an MR x NR tile of C in registers. The epilogue (bias per row / column,
// residual, clamp) runs when the last k block is stored, so C is read and
// written once per k block.

typedef struct {
	const float *br, *bc, *rs;
	int64_t ldr;
	float lo, hi;
	int64_t flags;
	float *ct; // GC_C_TRANS: the tile's origin in CT (row stride ldct)
	int64_t ldct;
	// GC_CT_COMPACT: ct and rs point at the tile's first column (row 0);
	// tile row r is product row row0 + r, a cell (oy, ox) = divmod(., wq)
	// of a padded-width output, stored at oy*ow + ox when ox < ow.
	int64_t row0, wq, ow;
} SFX(epi_t);

// micro multiplies a kc x MR panel of A by a kc x (nv*VL) panel of B and
// stores the tile into c (mr rows, nr columns), adding the old C when
// load_c, then the epilogue e (NULL: none). one_row (packed A, mr == 1:
// a GEMV, or the last cell of a 7x7 output) computes row 0 alone, with
// four k steps in flight in separate sums, instead of all MR rows.
static inline __attribute__((always_inline)) void SFX(micro)(int64_t kc, const float *ap, const int64_t *aoff,
	const float *bp, float *c, int64_t ldc, int64_t mr, int64_t nr, int load_c,
	const SFX(epi_t) *e, const int nv, const int one_row) {
	vf acc[MR][3];
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++) {
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) acc[r][v] = VZERO();
	}
	if (one_row) {
		// acc[q] sums the k steps p = q mod 4; row 0 is their total (the
		// store reads rows below mr = 1 only).
		int64_t p = 0;
		for (; p + 4 <= kc; p += 4) {
#pragma GCC unroll 4
			for (int q = 0; q < 4; q++) {
				const vf a = VBCAST(ap[(p + q) * MR]);
#pragma GCC unroll 3
				for (int v = 0; v < nv; v++) acc[q][v] = VFMA(a, VLOAD(bp + ((p + q) * nv + v) * VL), acc[q][v]);
			}
		}
		for (; p < kc; p++) {
			const vf a = VBCAST(ap[p * MR]);
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++) acc[0][v] = VFMA(a, VLOAD(bp + (p * nv + v) * VL), acc[0][v]);
		}
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) acc[0][v] = VADD(VADD(acc[0][v], acc[1][v]), VADD(acc[2][v], acc[3][v]));
	} else if (aoff) {
		// A read in place (GC_A_DIRECT): row r of k step p at ap[aoff[p] + r]
		for (int64_t p = 0; p < kc; p++) {
			const float *aq = ap + aoff[p];
			vf b[3];
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++) b[v] = VLOAD(bp + v * VL);
#pragma GCC unroll 8
			for (int r = 0; r < MR; r++) {
				vf a = VBCAST(aq[r]);
#pragma GCC unroll 3
				for (int v = 0; v < nv; v++) acc[r][v] = VFMA(a, b[v], acc[r][v]);
			}
			bp += nv * VL;
		}
	} else {
		for (int64_t p = 0; p < kc; p++) {
			vf b[3];
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++) b[v] = VLOAD(bp + v * VL);
#pragma GCC unroll 8
			for (int r = 0; r < MR; r++) {
				vf a = VBCAST(ap[r]);
#pragma GCC unroll 3
				for (int v = 0; v < nv; v++) acc[r][v] = VFMA(a, b[v], acc[r][v]);
			}
			ap += MR;
			bp += nv * VL;
		}
	}
	const int64_t flags = e ? e->flags : 0;
	if (flags & GC_C_TRANS) {
		// Last k block of a transposed product: finish the tile in a
		// buffer, then write it column by column into CT (and read the
		// residual the same way).
		float buf[MR][3 * VL];
		for (int r = 0; r < MR && r < mr; r++) {
			for (int v = 0; v < nv; v++) {
				int64_t lanes = nr - v * VL;
				if (lanes <= 0) break;
				vf x = acc[r][v];
				if (load_c) x = VADD(x, lanes >= VL ? VLOAD(c + r * ldc + v * VL) : VLOADM(c + r * ldc + v * VL, lanes));
				if (flags & GC_BIAS_COL) x = VADD(x, lanes >= VL ? VLOAD(e->bc + v * VL) : VLOADM(e->bc + v * VL, lanes));
				VSTORE(&buf[r][v * VL], x);
			}
		}
		// Each column of the tile (one row of CT) is gathered into 8 lanes
		// and stored with masks: lanes [0, n1) at CT + b1, lanes [s2, e2) at
		// CT + b2 + lane (with GC_CT_COMPACT, the cells of the next padded
		// row; the padding lanes between are dropped).
		int64_t n1 = mr, s2 = mr, e2 = mr, b1 = 0, b2 = 0;
		int scalar = 0;
		if (flags & GC_CT_COMPACT) {
			const int64_t oy = e->row0 / e->wq, ox = e->row0 % e->wq;
			n1 = ox < e->ow ? e->ow - ox : 0;
			if (n1 > mr) n1 = mr;
			b1 = oy * e->ow + ox;
			s2 = e->wq - ox; // first lane of the next padded row
			if (s2 < mr) {
				e2 = s2 + e->ow < mr ? s2 + e->ow : mr;
				b2 = (oy + 1) * e->ow - s2;
				scalar = s2 + e->wq < mr; // a third row inside the tile
			} else {
				s2 = e2 = mr;
			}
		}
		if (scalar) {
			for (int64_t col = 0; col < nr; col++) {
				float *dst = e->ct + col * e->ldct;
				const float *rs = (flags & GC_RESID) ? e->rs + col * e->ldr : NULL;
				for (int64_t r = 0; r < mr; r++) {
					const int64_t i = e->row0 + r, ox = i % e->wq;
					if (ox >= e->ow) continue;
					const int64_t at = i / e->wq * e->ow + ox;
					float v = buf[r][col];
					if (rs) v += rs[at];
					if (flags & GC_CLAMP) {
						v = v > e->lo ? v : (v != v ? v : e->lo);
						v = v < e->hi ? v : (v != v ? v : e->hi);
					}
					dst[at] = v;
				}
			}
			return;
		}
		const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
		const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n1), lane);
		const __m256i m2 = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)s2), lane),
			_mm256_cmpgt_epi32(_mm256_set1_epi32((int)e2), lane));
		const __m256i rows = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)mr), lane);
		const __m256i gidx = _mm256_mullo_epi32(lane, _mm256_set1_epi32(3 * VL));
		const __m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi);
		for (int64_t col = 0; col < nr; col++) {
			__m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), &buf[0][col], gidx, _mm256_castsi256_ps(rows), 4);
			float *dst = e->ct + col * e->ldct;
			if (flags & GC_RESID) {
				const float *rs = e->rs + col * e->ldr;
				__m256 z = _mm256_maskload_ps(rs + b1, m1);
				if (e2 > s2) z = _mm256_blendv_ps(z, _mm256_maskload_ps(rs + b2, m2), _mm256_castsi256_ps(m2));
				v = _mm256_add_ps(v, z);
			}
			if (flags & GC_CLAMP) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
			_mm256_maskstore_ps(dst + b1, m1, v);
			if (e2 > s2) _mm256_maskstore_ps(dst + b2, m2, v);
		}
		return;
	}
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++) {
		if (r >= mr) break;
		float *cr = c + r * ldc;
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) {
			int64_t lanes = nr - v * VL;
			if (lanes <= 0) break;
			vf x = acc[r][v];
			if (lanes >= VL) {
				if (load_c) x = VADD(x, VLOAD(cr + v * VL));
				if (flags) {
					if (flags & GC_BIAS_ROW) x = VADD(x, VBCAST(e->br[r]));
					if (flags & GC_BIAS_COL) x = VADD(x, VLOAD(e->bc + v * VL));
					if (flags & GC_RESID) x = VADD(x, VLOAD(e->rs + r * e->ldr + v * VL));
					if (flags & GC_CLAMP) x = VMIN(VBCAST(e->hi), VMAX(VBCAST(e->lo), x));
				}
				VSTORE(cr + v * VL, x);
			} else {
				if (load_c) x = VADD(x, VLOADM(cr + v * VL, lanes));
				if (flags) {
					if (flags & GC_BIAS_ROW) x = VADD(x, VBCAST(e->br[r]));
					if (flags & GC_BIAS_COL) x = VADD(x, VLOADM(e->bc + v * VL, lanes));
					if (flags & GC_RESID) x = VADD(x, VLOADM(e->rs + r * e->ldr + v * VL, lanes));
					if (flags & GC_CLAMP) x = VMIN(VBCAST(e->hi), VMAX(VBCAST(e->lo), x));
				}
				VSTOREM(cr + v * VL, x, lanes);
			}
		}
	}
}

// micro<nv> (A packed), micro<nv>d (A read in place through aoff) and
// micro<nv>r (A packed, row 0 only).
#define GC_MICRO_VARIANT(name, nv, direct, one_row)                                                                \
	static void SFX(name)(int64_t kc, const float *ap, const int64_t *aoff, const float *bp, float *c, int64_t ldc, \
		int64_t mr, int64_t nr, int load_c, const SFX(epi_t) *e) {                                               \
		SFX(micro)(kc, ap, direct ? aoff : NULL, bp, c, ldc, mr, nr, load_c, e, nv, one_row);                   \
	}
GC_MICRO_VARIANT(micro1, 1, 0, 0)
GC_MICRO_VARIANT(micro2, 2, 0, 0)
GC_MICRO_VARIANT(micro1d, 1, 1, 0)
GC_MICRO_VARIANT(micro2d, 2, 1, 0)
GC_MICRO_VARIANT(micro1r, 1, 0, 1)
GC_MICRO_VARIANT(micro2r, 2, 0, 1)
#if NR / VL >= 3
GC_MICRO_VARIANT(micro3, 3, 0, 0)
GC_MICRO_VARIANT(micro3d, 3, 1, 0)
GC_MICRO_VARIANT(micro3r, 3, 0, 1)
#endif
#undef GC_MICRO_VARIANT

// panel_width is the stored width of the column panel starting at jr of a
// block nc wide: NR, or the remainder rounded up to VL.
static inline int64_t SFX(panel_width)(int64_t jr, int64_t nc) {
	int64_t rem = nc - jr;
	if (rem >= NR) return NR;
	return (rem + VL - 1) / VL * VL;
}

// npad is the stored width of n columns (sum of the panel widths).
static inline int64_t SFX(npad)(int64_t n) { return n / NR * NR + (n % NR + VL - 1) / VL * VL; }

// pre_t is the prologue applied to an activation operand while packing:
// x -> x*scale[c] + shift[c] (then max(., 0) when relu), c the channel of
// the k row (k / khw); NULL scale: none. Padding cells stay 0.
typedef struct {
	const float *scale, *shift;
	int64_t khw;
	int relu;
} SFX(pre_t);

static inline vf SFX(pre_apply)(vf x, float s, float t, int relu) {
	x = VFMA(x, VBCAST(s), VBCAST(t));
	return relu ? VMAX(VZERO(), x) : x;
}

static inline float SFX(pre_apply1)(float x, float s, float t, int relu) {
	x = x * s + t;
	return relu ? (x > 0 ? x : (x != x ? x : 0.0f)) : x;
}

// pack_b_rows packs op(B)[pc:pc+kc, j:j+cw] of a row-major B (not
// transposed) into one panel of width w.
static void SFX(pack_b_rows)(const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t j,
	int64_t cw, int64_t w, float *dst, const SFX(pre_t) *pre) {
	const float *src = B + pc * ldb + j;
	const int nv = (int)(w / VL);
	for (int64_t p = 0; p < kc; p++) {
		float ps = 1, pt = 0;
		if (pre) ps = pre->scale[(pc + p) / pre->khw], pt = pre->shift[(pc + p) / pre->khw];
		for (int v = 0; v < nv; v++) {
			int64_t lanes = cw - v * VL;
			vf x = lanes >= VL ? VLOAD(src + v * VL) : (lanes > 0 ? VLOADM(src + v * VL, lanes) : VZERO());
			if (pre && lanes > 0) {
				x = SFX(pre_apply)(x, ps, pt, pre->relu);
				if (lanes < VL) x = VLOADM((const float *)&x, lanes); // keep the columns past cw at 0
			}
			VSTORE(dst + v * VL, x);
		}
		src += ldb;
		dst += w;
	}
}

// pack_b_trans packs op(B)[pc:pc+kc, j:j+cw] of a B stored n x k.
static void SFX(pack_b_trans)(const float *B, int64_t ldb, int64_t pc, int64_t kc, int64_t j,
	int64_t cw, int64_t w, float *dst) {
	for (int64_t c = 0; c < w; c++) {
		if (c >= cw) {
			for (int64_t p = 0; p < kc; p++) dst[p * w + c] = 0;
			continue;
		}
		const float *src = B + (j + c) * ldb + pc;
		for (int64_t p = 0; p < kc; p++) dst[p * w + c] = src[p];
	}
}

// copy_f32 and zero_f32 move short runs with masked vector operations.
static inline void SFX(copy_f32)(float *dst, const float *src, int64_t n) {
	for (; n >= VL; n -= VL, dst += VL, src += VL) VSTORE(dst, VLOAD(src));
	if (n > 0) VSTOREM(dst, VLOADM(src, n), n);
}
static inline void SFX(copy_pre_f32)(float *dst, const float *src, int64_t n, float ps, float pt, int relu) {
	for (; n >= VL; n -= VL, dst += VL, src += VL) VSTORE(dst, SFX(pre_apply)(VLOAD(src), ps, pt, relu));
	if (n > 0) VSTOREM(dst, SFX(pre_apply)(VLOADM(src, n), ps, pt, relu), n);
}
static inline void SFX(zero_f32)(float *dst, int64_t n) {
	for (; n >= VL; n -= VL, dst += VL) VSTORE(dst, VZERO());
	if (n > 0) VSTOREM(dst, VZERO(), n);
}

// conv_seg is a run of panel columns within one output row.
typedef struct {
	int64_t oy, ox, len, doff;
} SFX(conv_seg);

// pack_b_conv packs im2col(image)[pc:pc+kc, j:j+cw] into a panel of width
// w. The panel's columns are cut into runs along output rows once; then
// each k row (c, ky, kx), walked incrementally, copies each run from one
// input row, with zeros where the window leaves the image.
static void SFX(pack_b_conv)(const gc_gemm_args *g, const float *img, int64_t pc, int64_t kc,
	int64_t j, int64_t cw, int64_t w, float *dst, const SFX(pre_t) *pre) {
	SFX(conv_seg) seg[NR + 2];
	int64_t nseg = 0;
	for (int64_t t = 0, oy = j / g->ow, ox = j % g->ow; t < cw; oy++, ox = 0) {
		int64_t len = g->ow - ox < cw - t ? g->ow - ox : cw - t;
		seg[nseg].oy = oy;
		seg[nseg].ox = ox;
		seg[nseg].len = len;
		seg[nseg].doff = t;
		nseg++;
		t += len;
	}
	const int64_t khw = g->kh * g->kw, s = g->sw;
	int64_t c = pc / khw, ky = pc / g->kw % g->kh, kx = pc % g->kw;
	for (int64_t p = 0; p < kc; p++, dst += w) {
		const float *plane = img + c * g->ih * g->iw;
		const float ps = pre ? pre->scale[c] : 1, pt = pre ? pre->shift[c] : 0;
		const int64_t off = kx * g->dw - g->pw;
		// valid ox: 0 <= ox*s + off < iw
		const int64_t xlo = off < 0 ? (-off + s - 1) / s : 0;
		const int64_t xhi = g->iw - off <= 0 ? 0 : (g->iw - off + s - 1) / s;
		for (int64_t q = 0; q < nseg; q++) {
			const SFX(conv_seg) sg = seg[q];
			float *d = dst + sg.doff;
			const int64_t iy = sg.oy * g->sh + ky * g->dh - g->ph;
			if (iy < 0 || iy >= g->ih) {
				SFX(zero_f32)(d, sg.len);
				continue;
			}
			const float *row = plane + iy * g->iw + off;
			// valid run [a, b) within [sg.ox, sg.ox+sg.len)
			int64_t a = sg.ox > xlo ? sg.ox : xlo, b = sg.ox + sg.len < xhi ? sg.ox + sg.len : xhi;
			if (a > sg.ox + sg.len) a = sg.ox + sg.len;
			if (b < a) b = a;
			if (a > sg.ox) SFX(zero_f32)(d, a - sg.ox);
			if (pre) {
				if (s == 1)
					SFX(copy_pre_f32)(d + (a - sg.ox), row + a, b - a, ps, pt, pre->relu);
				else
					for (int64_t ox = a; ox < b; ox++) d[ox - sg.ox] = SFX(pre_apply1)(row[ox * s], ps, pt, pre->relu);
			} else if (s == 1) {
				SFX(copy_f32)(d + (a - sg.ox), row + a, b - a);
			} else {
				for (int64_t ox = a; ox < b; ox++) d[ox - sg.ox] = row[ox * s];
			}
			if (sg.ox + sg.len > b) SFX(zero_f32)(d + (b - sg.ox), sg.ox + sg.len - b);
		}
		if (cw < w) SFX(zero_f32)(dst + cw, w - cw);
		if (++kx == g->kw) {
			kx = 0;
			if (++ky == g->kh) {
				ky = 0;
				c++;
			}
		}
	}
}

// pack_b_toep packs rows [pc, pc+kc) of the Toeplitz operand of a
// convolution over a zero-padded image split into stride phases: P holds,
// per channel c and phase (py, px) < (sh, sw), the plane ih x iw (= Hq x
// Wq) of padded cells (r*sh + py, q*sw + px). Row p = (c, ky, kx) is P
// read flat from phase ((ky*dh) % sh, (kx*dw) % sw) at row (ky*dh) / sh,
// column (kx*dw) / sw, so output cell i = oy*Wq + ox sees its tap
// (padded cell (oy*sh + ky*dh, ox*sw + kx*dw)). Each panel row is one
// contiguous copy.
static void SFX(pack_b_toep)(const gc_gemm_args *g, const float *P, int64_t pc, int64_t kc, int64_t j,
	int64_t cw, int64_t w, float *dst) {
	const int64_t plane = g->ih * g->iw;
	int64_t c = pc / (g->kh * g->kw), ky = pc / g->kw % g->kh, kx = pc % g->kw;
	for (int64_t p = 0; p < kc; p++, dst += w) {
		const int64_t yy = ky * g->dh, xx = kx * g->dw;
		const int64_t ph = (c * g->sh + yy % g->sh) * g->sw + xx % g->sw;
		SFX(copy_f32)(dst, P + ph * plane + (yy / g->sh) * g->iw + xx / g->sw + j, cw);
		if (cw < w) SFX(zero_f32)(dst + cw, w - cw);
		if (++kx == g->kw) {
			kx = 0;
			if (++ky == g->kh) {
				ky = 0;
				c++;
			}
		}
	}
}

// pack_b_pconv packs rows [pc, pc+kc) of the im2col matrix of a
// convolution whose input is given zero-padded and split into stride
// phases (P: per channel c and phase (py, px) < (sh, sw) a plane of ih x iw
// = Hq x Wq padded cells (r*sh + py, q*sw + px)), for the output cells
// j..j+cw-1 (j = oy*ow + ox, no padding columns): row p = (c, ky, kx) of
// cell (oy, ox) is P's phase ((ky*dh) % sh, (kx*dw) % sw) at row
// oy + (ky*dh)/sh, column ox + (kx*dw)/sw. The panel is cut into runs
// along output rows once; every run of every k row is one contiguous
// copy (no bounds: the padding is in P).
static void SFX(pack_b_pconv)(const gc_gemm_args *g, const float *P, int64_t pc, int64_t kc, int64_t j,
	int64_t cw, int64_t w, float *dst) {
	SFX(conv_seg) seg[NR + 2];
	int64_t nseg = 0;
	for (int64_t t = 0, oy = j / g->ow, ox = j % g->ow; t < cw; oy++, ox = 0) {
		int64_t len = g->ow - ox < cw - t ? g->ow - ox : cw - t;
		seg[nseg].oy = oy;
		seg[nseg].ox = ox;
		seg[nseg].len = len;
		seg[nseg].doff = t;
		nseg++;
		t += len;
	}
	const int64_t plane = g->ih * g->iw;
	int64_t c = pc / (g->kh * g->kw), ky = pc / g->kw % g->kh, kx = pc % g->kw;
	for (int64_t p = 0; p < kc; p++, dst += w) {
		const int64_t yy = ky * g->dh, xx = kx * g->dw;
		const float *src = P + ((c * g->sh + yy % g->sh) * g->sw + xx % g->sw) * plane + (yy / g->sh) * g->iw + xx / g->sw;
		for (int64_t q = 0; q < nseg; q++)
			SFX(copy_f32)(dst + seg[q].doff, src + seg[q].oy * g->iw + seg[q].ox, seg[q].len);
		if (cw < w) SFX(zero_f32)(dst + cw, w - cw);
		if (++kx == g->kw) {
			kx = 0;
			if (++ky == g->kh) {
				ky = 0;
				c++;
			}
		}
	}
}

// pack_b packs the kc x nc block at (pc, jc) of op(B) into panels.
static void SFX(pack_b)(const gc_gemm_args *g, const float *B, int64_t pc, int64_t kc, int64_t jc,
	int64_t nc, float *dst, const SFX(pre_t) *pre) {
	for (int64_t jr = 0; jr < nc; jr += NR) {
		const int64_t w = SFX(panel_width)(jr, nc);
		const int64_t cw = nc - jr < NR ? nc - jr : NR;
		if ((g->flags & GC_B_TOEP) && (g->flags & GC_B_CONV))
			SFX(pack_b_pconv)(g, B, pc, kc, jc + jr, cw, w, dst);
		else if (g->flags & GC_B_TOEP)
			SFX(pack_b_toep)(g, B, pc, kc, jc + jr, cw, w, dst);
		else if (g->flags & GC_B_CONV)
			SFX(pack_b_conv)(g, B, pc, kc, jc + jr, cw, w, dst, pre);
		else if (g->flags & GC_TRANS_B)
			SFX(pack_b_trans)(B, g->ldb, pc, kc, jc + jr, cw, w, dst);
		else
			SFX(pack_b_rows)(B, g->ldb, pc, kc, jc + jr, cw, w, dst, pre);
		dst += w * kc;
	}
}

#if MR == 8 && VL == 16
// pack_a_rows8 packs alpha times columns [0, 16*floor(kc/16)) of 8 rows
// of A (stride lda) into a panel ([p][8]), transposing 8 x 16 blocks with
// three rounds of two-source permutes; it returns the columns done.
static int64_t SFX(pack_a_rows8)(const float *s, int64_t lda, int64_t kc, float alpha, float *dst) {
	const __m512 al = _mm512_set1_ps(alpha);
	const __m512i i0 = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
	const __m512i i1 = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
	const __m512i j0 = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), j1 = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
	const __m512i k0 = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), k1 = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
	int64_t p = 0;
	for (; p + 16 <= kc; p += 16) {
		__m512 r[8], a[8];
		__m512d b[8];
		for (int i = 0; i < 8; i++) r[i] = _mm512_mul_ps(al, _mm512_loadu_ps(s + i * lda + p));
		// rows (2i, 2i+1) interleaved: a[2i] columns 0-7, a[2i+1] 8-15
		for (int i = 0; i < 4; i++) {
			a[2 * i] = _mm512_permutex2var_ps(r[2 * i], i0, r[2 * i + 1]);
			a[2 * i + 1] = _mm512_permutex2var_ps(r[2 * i], i1, r[2 * i + 1]);
		}
		// rows 4g..4g+3 for 4 columns per vector
		for (int h = 0; h < 2; h++)
			for (int g = 0; g < 2; g++) {
				__m512d x = _mm512_castps_pd(a[4 * g + h]), y = _mm512_castps_pd(a[4 * g + 2 + h]);
				b[4 * g + 2 * h] = _mm512_permutex2var_pd(x, j0, y);
				b[4 * g + 2 * h + 1] = _mm512_permutex2var_pd(x, j1, y);
			}
		// all 8 rows, 2 columns per vector
		for (int h = 0; h < 2; h++)
			for (int q = 0; q < 2; q++) {
				__m512d x = b[2 * h + q], y = b[4 + 2 * h + q];
				_mm512_storeu_pd((double *)(dst + (p + 8 * h + 4 * q) * 8), _mm512_permutex2var_pd(x, k0, y));
				_mm512_storeu_pd((double *)(dst + (p + 8 * h + 4 * q + 2) * 8), _mm512_permutex2var_pd(x, k1, y));
			}
	}
	return p;
}
#endif

#if MR == 8 && VL == 16
// pack_a_conv8 packs an im2col^T panel of 8 output cells (i0..i0+rows-1)
// with gathers: the in-plane offset of each cell's tap (ky, kx), or -1
// outside the image, is the same for every channel, so it is tabulated
// once per panel and each k row is one 8-lane masked gather (padding and
// rows past the panel read as 0; the prologue skips them).
static void SFX(pack_a_conv8)(const gc_gemm_args *g, const float *img, int64_t pc, int64_t kc, int64_t i0,
	int64_t rows, float *dst, const SFX(pre_t) *pre) {
	const int64_t khw = g->kh * g->kw, plane = g->ih * g->iw;
	int32_t off[64][8];
	__mmask8 valid[64];
	for (int64_t t = 0; t < khw; t++) {
		const int64_t ky = t / g->kw, kx = t % g->kw;
		valid[t] = 0;
		for (int r = 0; r < 8; r++) {
			off[t][r] = 0;
			if (r >= rows) continue;
			const int64_t cell = i0 + r, oy = cell / g->ow, ox = cell % g->ow;
			const int64_t iy = oy * g->sh + ky * g->dh - g->ph, ix = ox * g->sw + kx * g->dw - g->pw;
			if (iy >= 0 && iy < g->ih && ix >= 0 && ix < g->iw) {
				off[t][r] = (int32_t)(iy * g->iw + ix);
				valid[t] |= (__mmask8)(1u << r);
			}
		}
	}
	int64_t c = pc / khw, t = pc % khw;
	for (int64_t p = 0; p < kc; p++, dst += 8) {
		const __m256i idx = _mm256_loadu_si256((const __m256i *)off[t]);
		__m256 v = _mm256_mmask_i32gather_ps(_mm256_setzero_ps(), valid[t], idx, img + c * plane, 4);
		if (pre) {
			__m256 x = _mm256_fmadd_ps(v, _mm256_set1_ps(pre->scale[c]), _mm256_set1_ps(pre->shift[c]));
			if (pre->relu) x = _mm256_max_ps(_mm256_setzero_ps(), x);
			v = _mm256_mask_blend_ps(valid[t], _mm256_setzero_ps(), x);
		}
		_mm256_storeu_ps(dst, _mm256_mul_ps(v, _mm256_set1_ps(g->alpha)));
		if (++t == khw) {
			t = 0;
			c++;
		}
	}
}
#endif

// pack_a packs alpha * op(A)[ic:ic+mc, pc:pc+kc] into MR-row panels
// (rows past mc are zero).
static void SFX(pack_a)(const gc_gemm_args *g, const float *A, int64_t ic, int64_t mc, int64_t pc,
	int64_t kc, float *dst, const SFX(pre_t) *pre) {
	const float alpha = g->alpha;
	if (g->flags & GC_A_CONV) {
		// op(A) = im2col^T: an A panel of MR rows is an im2col panel MR wide.
		for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
#if MR == 8 && VL == 16
			if (g->kh * g->kw <= 64) {
				SFX(pack_a_conv8)(g, A, pc, kc, ic + ir, mc - ir < MR ? mc - ir : MR, dst, pre);
				continue;
			}
#endif
			SFX(pack_b_conv)(g, A, pc, kc, ic + ir, mc - ir < MR ? mc - ir : MR, MR, dst, pre);
		}
		return;
	}
	for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
		const int64_t rows = mc - ir < MR ? mc - ir : MR;
		if (g->flags & GC_TRANS_A) {
			if (rows == MR && !pre) {
				// full panel: MR contiguous values per k, copied as a block
				for (int64_t p = 0; p < kc; p++) {
					const float *src = A + (pc + p) * g->lda + ic + ir;
#pragma GCC unroll 8
					for (int r = 0; r < MR; r++) dst[p * MR + r] = alpha * src[r];
				}
				continue;
			}
			for (int64_t p = 0; p < kc; p++) {
				const float *src = A + (pc + p) * g->lda + ic + ir;
				int64_t r = 0;
				if (pre) {
					const float ps = pre->scale[(pc + p) / pre->khw], pt = pre->shift[(pc + p) / pre->khw];
					for (; r < rows; r++) dst[p * MR + r] = alpha * SFX(pre_apply1)(src[r], ps, pt, pre->relu);
				} else {
					for (; r < rows; r++) dst[p * MR + r] = alpha * src[r];
				}
				for (; r < MR; r++) dst[p * MR + r] = 0;
			}
		} else {
			int64_t p0 = 0;
#if MR == 8 && VL == 16
			if (rows == MR) p0 = SFX(pack_a_rows8)(A + (ic + ir) * g->lda + pc, g->lda, kc, alpha, dst);
#endif
			for (int64_t r = 0; r < MR; r++) {
				if (r >= rows) {
					for (int64_t p = p0; p < kc; p++) dst[p * MR + r] = 0;
					continue;
				}
				const float *src = A + (ic + ir + r) * g->lda + pc;
				for (int64_t p = p0; p < kc; p++) dst[p * MR + r] = alpha * src[p];
			}
		}
	}
}

// GC_MICRO_CALL runs the micro<nv><kind> variant for the panel width w.
#if NR / VL >= 3
#define GC_MICRO_CALL(kind, a, off)                                                                 \
	switch (w / VL) {                                                                               \
	case 1: SFX(micro1##kind)(kc, (a), (off), bpan, ct, ldc, mr, nr, load_c, ep); break;             \
	case 2: SFX(micro2##kind)(kc, (a), (off), bpan, ct, ldc, mr, nr, load_c, ep); break;             \
	default: SFX(micro3##kind)(kc, (a), (off), bpan, ct, ldc, mr, nr, load_c, ep); break;            \
	}
#else
#define GC_MICRO_CALL(kind, a, off)                                                                 \
	switch (w / VL) {                                                                               \
	case 1: SFX(micro1##kind)(kc, (a), (off), bpan, ct, ldc, mr, nr, load_c, ep); break;             \
	default: SFX(micro2##kind)(kc, (a), (off), bpan, ct, ldc, mr, nr, load_c, ep); break;            \
	}
#endif

// macro runs the micro-kernel over an mc x nc block of C. With aoff (A
// read in place) ap is op(A)'s row i in place and aoff the offsets of k
// steps pc..; else ap is the packed block.
static void SFX(macro)(int64_t mc, int64_t nc, int64_t kc, const float *ap, const int64_t *aoff, const float *bp,
	float *c, int64_t ldc, int load_c, const SFX(epi_t) *e, int64_t i, int64_t j) {
	SFX(epi_t) te;
	const int64_t rpanels = (mc + MR - 1) / MR;
	for (int64_t jr = 0; jr < nc; jr += NR) {
		const int64_t w = SFX(panel_width)(jr, nc);
		const int64_t nr = nc - jr < NR ? nc - jr : NR;
		const float *bpan = bp + jr * kc;
		// The next B panel is fetched into L2 a slice per row panel of
		// this one: streamed from memory (the weights of a transposed
		// convolution with few output cells) it then arrives at the rate
		// the whole row of tiles consumes it, rather than at the first
		// tile's.
		const char *next = jr + NR < nc ? (const char *)(bp + (jr + NR) * kc) : NULL;
		const int64_t next_bytes = next ? SFX(panel_width)(jr + NR, nc) * kc * 4 : 0;
		const int64_t slice = (next_bytes / 64 + rpanels - 1) / rpanels * 64;
		for (int64_t ir = 0; ir < mc; ir += MR) {
			const int64_t mr = mc - ir < MR ? mc - ir : MR;
			if (next) {
				const int64_t from = ir / MR * slice, to = from + slice < next_bytes ? from + slice : next_bytes;
				for (int64_t o = from; o < to; o += 64) _mm_prefetch(next + o, _MM_HINT_T1);
			}
			if (jr == 0 && !aoff && ir + MR < mc) {
				// likewise the next packed A panel on the first pass (the
				// weights of the normal orientation)
				const char *na = (const char *)(ap + (ir + MR) * kc);
				for (int64_t o = 0; o < MR * kc * 4; o += 64) _mm_prefetch(na + o, _MM_HINT_T1);
			}
			const SFX(epi_t) *ep = NULL;
			if (e) {
				te = *e;
				if (e->br) te.br = e->br + i + ir;
				if (e->bc) te.bc = e->bc + j + jr;
				if (e->flags & GC_CT_COMPACT) {
					if (e->rs) te.rs = e->rs + (j + jr) * e->ldr;
					te.ct = e->ct + (j + jr) * e->ldct;
					te.row0 = i + ir;
				} else if (e->flags & GC_C_TRANS) {
					if (e->rs) te.rs = e->rs + (j + jr) * e->ldr + i + ir;
					te.ct = e->ct + (j + jr) * e->ldct + i + ir;
				} else if (e->rs) {
					te.rs = e->rs + (i + ir) * e->ldr + j + jr;
				}
				ep = &te;
			}
			float *ct = c ? c + ir * ldc + jr : NULL;
			if (aoff) {
				GC_MICRO_CALL(d, ap + ir, aoff);
			} else if (mr == 1) {
				GC_MICRO_CALL(r, ap + ir * kc, NULL);
			} else {
				GC_MICRO_CALL(, ap + ir * kc, NULL);
			}
		}
	}
}

#undef GC_MICRO_CALL

void SFX(gc_sgemm_info)(int64_t *out) {
	out[0] = MR;
	out[1] = NR;
	out[2] = VL;
	out[3] = 1;
}

// pre_of returns the prologue described by g and pre (2*channels floats:
// scales then shifts), or NULL.
static inline const SFX(pre_t) *SFX(pre_of)(const gc_gemm_args *g, const float *pre, SFX(pre_t) *buf) {
	if (!pre) return NULL;
	buf->scale = pre;
	buf->shift = pre + g->pre_channels;
	buf->khw = (g->flags & (GC_A_CONV | GC_B_CONV)) ? g->kh * g->kw : 1;
	buf->relu = (g->flags & GC_PRE_RELU) != 0;
	return buf;
}

// compact copies columns [jc, jc+nc) of rows [i0, i1) of a padded-width
// product (rows of g->iw = Wq columns, the first g->ow valid; the chunk is
// C, rows ldc apart, column 0 = jc) into Y (CT, g->ldct per row i, rows of
// ow), adding bias_row[i] and the residual (resid, g->ldr per row, Y's
// layout) and clamping (GC_CLAMP), as the store epilogue would.
static void SFX(compact)(const gc_gemm_args *g, const float *C, int64_t ldc, int64_t jc, int64_t nc,
	const float *bias_row, const float *resid, float *Y) {
	const int64_t wq = g->iw, ow = g->ow;
	const int clamp = (g->flags & GC_CLAMP) != 0;
	const vf lo = VBCAST(g->lo), hi = VBCAST(g->hi);
	for (int64_t i = g->i0; i < g->i1; i++) {
		const float *src = C + (i - g->i0) * ldc;
		float *yr = Y + i * g->ldct;
		const float *zr = resid ? resid + i * g->ldr : NULL;
		const vf b = VBCAST((g->flags & GC_BIAS_ROW) ? bias_row[i] : 0.0f);
		for (int64_t j = jc; j < jc + nc;) {
			const int64_t oy = j / wq, ox = j % wq;
			int64_t run = wq - ox;
			if (run > jc + nc - j) run = jc + nc - j;
			const int64_t valid = ox < ow ? (ow - ox < run ? ow - ox : run) : 0;
			const float *s = src + (j - jc);
			float *d = yr + oy * ow + ox;
			const float *z = zr ? zr + oy * ow + ox : NULL;
			int64_t t = 0;
			for (; t + VL <= valid; t += VL) {
				vf x = VADD(VLOAD(s + t), b);
				if (z) x = VADD(x, VLOAD(z + t));
				if (clamp) x = VMIN(hi, VMAX(lo, x));
				VSTORE(d + t, x);
			}
			if (t < valid) {
				const int64_t n = valid - t;
				vf x = VADD(VLOADM(s + t, n), b);
				if (z) x = VADD(x, VLOADM(z + t, n));
				if (clamp) x = VMIN(hi, VMAX(lo, x));
				VSTOREM(d + t, x, n);
			}
			j += run;
		}
	}
}

int SFX(gc_sgemm)(const gc_gemm_args *g, const float *A, const float *B, float *C,
	const float *bias_row, const float *bias_col, const float *resid, float *sa, float *sb, float *CT,
	const float *pre, const int64_t *aoff) {
	SFX(pre_t) prebuf;
	const SFX(pre_t) *pp = SFX(pre_of)(g, pre, &prebuf);
	// The prologue belongs to the activation operand: B, or A with GC_PRE_A.
	const int pre_on_a = (g->flags & GC_PRE_A) != 0;
	const int64_t kc_max = g->kc, mc_max = g->mc, nc_max = g->nc;
	const int64_t mpad = (g->m + MR - 1) / MR * MR;
	const int64_t npad = SFX(npad)(g->n);
	const int compact = (g->flags & GC_COMPACT) != 0;
	// With compaction, C is a scratch chunk (rows i0.., column jc at 0)
	// and the epilogue runs in compact; else in the last k block's store.
	const int direct_a = (g->flags & GC_A_DIRECT) != 0;
	SFX(epi_t) e = {bias_row, bias_col, resid, g->ldr, g->lo, g->hi,
		compact ? 0 : g->flags & (GC_BIAS_ROW | GC_BIAS_COL | GC_RESID | GC_CLAMP | GC_C_TRANS | GC_CT_COMPACT), CT, g->ldct,
		0, g->iw, g->ow};
	for (int64_t jc = g->j0; jc < g->j1; jc += nc_max) {
		const int64_t nc = g->j1 - jc < nc_max ? g->j1 - jc : nc_max;
		for (int64_t pc = 0; pc < g->k; pc += kc_max) {
			const int64_t kc = g->k - pc < kc_max ? g->k - pc : kc_max;
			const float *bp;
			if (g->flags & GC_B_PACKED) {
				bp = B + pc * npad + jc * kc;
			} else {
				SFX(pack_b)(g, B, pc, kc, jc, nc, sb, pre_on_a ? NULL : pp);
				bp = sb;
			}
			const int load_c = pc > 0 || (g->flags & GC_ACCUM);
			const int last = pc + kc >= g->k;
			for (int64_t ic = g->i0; ic < g->i1; ic += mc_max) {
				const int64_t mc = g->i1 - ic < mc_max ? g->i1 - ic : mc_max;
				const float *ap;
				if (direct_a) {
					ap = A + ic;
				} else if (g->flags & GC_A_PACKED) {
					ap = A + pc * mpad + ic * kc;
				} else {
					SFX(pack_a)(g, A, ic, mc, pc, kc, sa, pre_on_a ? pp : NULL);
					ap = sa;
				}
				float *cb = C ? (compact ? C + (ic - g->i0) * g->ldc : C + ic * g->ldc + jc) : NULL;
				SFX(macro)(mc, nc, kc, ap, direct_a ? aoff + pc : NULL, bp, cb, g->ldc, load_c,
					last && e.flags ? &e : NULL, ic, jc);
			}
		}
		if (compact) SFX(compact)(g, C, g->ldc, jc, nc, bias_row, resid, CT);
	}
	return 0;
}

void SFX(gc_sgemm_pack_a)(const gc_gemm_args *g, const float *A, float *dst, const float *pre) {
	SFX(pre_t) prebuf;
	const SFX(pre_t) *pp = SFX(pre_of)(g, pre, &prebuf);
	const int64_t mpad = (g->m + MR - 1) / MR * MR;
	for (int64_t pc = 0; pc < g->k; pc += g->kc) {
		const int64_t kc = g->k - pc < g->kc ? g->k - pc : g->kc;
		SFX(pack_a)(g, A, g->i0, g->i1 - g->i0, pc, kc, dst + pc * mpad + g->i0 * kc, pp);
	}
}

void SFX(gc_sgemm_pack_b)(const gc_gemm_args *g, const float *B, float *dst, const float *pre) {
	SFX(pre_t) prebuf;
	const SFX(pre_t) *pp = SFX(pre_of)(g, pre, &prebuf);
	const int64_t npad = SFX(npad)(g->n);
	for (int64_t pc = 0; pc < g->k; pc += g->kc) {
		const int64_t kc = g->k - pc < g->kc ? g->k - pc : g->kc;
		// Panels are cut from column j0 in NR steps, as the driver reads them.
		SFX(pack_b)(g, B, pc, kc, g->j0, g->j1 - g->j0, dst + pc * npad + g->j0 * kc, pp);
	}
}
