// Channel-blocked (NCHWc) FP32 kernels, included once per instruction set
// by simd_nchwc_amd64.c with these defined:
//
//   SFX(name)       appends the ISA suffix (name_avx512, name_avx2)
//   vblk            a vector of one block's 16 floats (one register with
//                   AVX-512, two with AVX2); BZERO(), BSET1(x), BLOAD(p),
//                   BSTORE(p, v); bmask, the first n lanes of a block
//                   (BMASK(n)), and BLOADM(p, m) (the rest zero),
//                   BLOADM1(p, m) (the rest one), BSTOREM(p, m, v); BFMA(a, b, c) = a*b + c,
//                   BADD, BDIV, BMAX, BMIN (as _mm512_max_ps: the second
//                   operand when either is NaN), BTRANSPOSE(r) (the 16 x 16
//                   block r[16] in place: r[i][j] becomes r[j][i])
//   NCHWC_NF        blocks of 16 output channels one convolution tile
//                   computes (4 or 1)
//   NCHWC_NP1       the most pixels of a tile of one block
//   NCHWC_POOL_NP   pixels of a pooling or depthwise tile
//
// The layout: an image of C channels is CB = ceil(C/16) blocks, each H x W
// pixels of 16 channel values (the last block's channels past C padding),
// so the value of channel c at (y, x) sits at ((c/16*H + y)*W + x)*16 +
// c%16. The Go side (nchwc.go) checks every size. The template undefines
// these macros at its end.

// The tiles' switch has cases for one block and, with NCHWC_NF 4, for two
// to four; their register arrays hold 16 pixels by 4 blocks and 8 pixels.
_Static_assert((NCHWC_NF == 1 || NCHWC_NF == 4) && NCHWC_NP1 <= 16 && NCHWC_POOL_NP <= 8 && NCHWC_POOL_NP >= 4,
	"NCHWC_NF must be 1 or 4, NCHWC_NP1 at most 16, NCHWC_POOL_NP 4 to 8");

// gc_nchwc_to writes channel blocks [cb0, cb1) of y (blocked) from x, the
// c NCHW planes of one image of hw pixels (channels past c: zeros).
void SFX(gc_nchwc_to)(const float *x, float *y, int64_t hw, int64_t c, int64_t cb0, int64_t cb1) {
	for (int64_t cb = cb0; cb < cb1; cb++) {
		const float *xb = x + cb * 16 * hw;
		float *yb = y + cb * hw * 16;
		const int64_t nc = c - cb * 16 < 16 ? c - cb * 16 : 16; // the block's real channels
		for (int64_t q = 0; q < hw; q += 16) {
			const int64_t n = hw - q < 16 ? hw - q : 16;
			const bmask m = BMASK(n);
			vblk v[16];
			for (int ch = 0; ch < 16; ch++) v[ch] = ch < nc ? BLOADM(xb + ch * hw + q, m) : BZERO();
			BTRANSPOSE(v); // v[j]: the 16 channels of pixel q + j
			for (int64_t j = 0; j < n; j++) BSTORE(yb + (q + j) * 16, v[j]);
		}
	}
}

// gc_nchwc_from writes the NCHW planes of channel blocks [cb0, cb1) of y,
// c channels in all, from x (blocked, one image of hw pixels).
void SFX(gc_nchwc_from)(const float *x, float *y, int64_t hw, int64_t c, int64_t cb0, int64_t cb1) {
	for (int64_t cb = cb0; cb < cb1; cb++) {
		const float *xb = x + cb * hw * 16;
		float *yb = y + cb * 16 * hw;
		const int64_t nc = c - cb * 16 < 16 ? c - cb * 16 : 16;
		for (int64_t q = 0; q < hw; q += 16) {
			const int64_t n = hw - q < 16 ? hw - q : 16;
			const bmask m = BMASK(n);
			vblk v[16];
			for (int64_t j = 0; j < 16; j++) v[j] = j < n ? BLOAD(xb + (q + j) * 16) : BZERO();
			BTRANSPOSE(v); // v[c]: pixels q.. of channel c
			for (int64_t ch = 0; ch < nc; ch++) BSTOREM(yb + ch * hw + q, m, v[ch]);
		}
	}
}

// gc_nchwc_pad copies channel blocks [cb0, cb1) of the blocked image x
// (ih x iw) into P (hq x wq per block) at offset (pt, pl), zeros around
// it (rows and columns of x beyond P are dropped), applying the
// per-channel prologue v*k[c] + b[c] (then max(v, 0) when relu) to the
// image's own cells when k is not NULL. geom: ih, iw, hq, wq, pt, pl, cb0,
// cb1, relu.
void SFX(gc_nchwc_pad)(const float *x, float *P, const int64_t *geom, const float *k, const float *b) {
	const int64_t ih = geom[0], iw = geom[1], hq = geom[2], wq = geom[3], pt = geom[4], pl = geom[5];
	const int64_t cb0 = geom[6], cb1 = geom[7], relu = geom[8];
	const int64_t lo = pl < 0 ? -pl : 0, hi = iw < wq - pl ? iw : wq - pl; // the columns of x kept
	const vblk zero = BZERO();
	for (int64_t cb = cb0; cb < cb1; cb++) {
		const vblk vk = k ? BLOAD(k + cb * 16) : zero, vb = k ? BLOAD(b + cb * 16) : zero;
		for (int64_t r = 0; r < hq; r++) {
			float *row = P + (cb * hq + r) * wq * 16;
			const int64_t iy = r - pt;
			if (iy < 0 || iy >= ih || lo >= hi) {
				for (int64_t q = 0; q < wq; q++) BSTORE(row + q * 16, zero);
				continue;
			}
			const float *src = x + (cb * ih + iy) * iw * 16;
			for (int64_t q = 0; q < lo + pl; q++) BSTORE(row + q * 16, zero);
			for (int64_t ix = lo; ix < hi; ix++) {
				vblk v = BLOAD(src + ix * 16);
				if (k) {
					v = BFMA(v, vk, vb);
					if (relu) v = BMAX(zero, v); // NaN stays NaN (the second operand)
				}
				BSTORE(row + (ix + pl) * 16, v);
			}
			for (int64_t q = hi + pl; q < wq; q++) BSTORE(row + q * 16, zero);
		}
	}
}

// nchwc_tile computes NP output pixels (one row, input pixels ix0 +
// p*sw + kx*dw of rows iy0 + ky*dh of P) by NF blocks of 16 output
// channels, over input blocks [0, cbn) of P and W (W: per input block,
// tap and input channel, 64 weights, NF*16 of them used). The input
// blocks are BS channels: 16 (blocked, a pixel's channels adjacent) or 1
// (NCHW planes, for an input whose channels are not whole blocks). The
// accumulators start from init (first) or from out; the last pass adds
// the summand z (when not NULL) and clamps (lo not NULL). Block f of
// pixel p is at out + f*ostride + p*16, and likewise in z.
static inline __attribute__((always_inline)) void SFX(nchwc_tile)(const float *P, const float *W, float *out, const float *z,
	int64_t ostride, int64_t cbn, int64_t pstride, int64_t wq, int64_t kh, int64_t kw, int64_t sw, int64_t dh,
	int64_t dw, int64_t iy0, int64_t ix0, const vblk *init, const vblk *lo, const vblk *hi, const int NP,
	const int NF, const int unit, const int BS) {
	if (unit) sw = dw = 1; // the common case, with constant offsets
	vblk acc[16][4];
#pragma GCC unroll 16
	for (int p = 0; p < NP; p++) {
#pragma GCC unroll 4
		for (int f = 0; f < NF; f++) acc[p][f] = init ? init[f] : BLOAD(out + f * ostride + p * 16);
	}
	// the output (and summand) lines the epilogue touches, fetched while
	// the tile computes
#pragma GCC unroll 4
	for (int f = 0; f < NF; f++) {
#pragma GCC unroll 16
		for (int p = 0; p < NP; p++) {
			__builtin_prefetch(out + f * ostride + p * 16, 1, 3);
			if (z) __builtin_prefetch(z + f * ostride + p * 16, 0, 3);
		}
	}
	const float *w = W;
	for (int64_t cb = 0; cb < cbn; cb++) {
		for (int64_t ky = 0; ky < kh; ky++) {
			const float *in = P + cb * pstride + ((iy0 + ky * dh) * wq + ix0) * BS;
			for (int64_t kx = 0; kx < kw; kx++) {
				const float *ip = in + kx * dw * BS;
#pragma GCC unroll 4
				for (int ic = 0; ic < BS; ic++) {
					vblk wv[4];
#pragma GCC unroll 4
					for (int f = 0; f < NF; f++) wv[f] = BLOAD(w + f * 16);
					w += 64;
#pragma GCC unroll 16
					for (int p = 0; p < NP; p++) {
						const vblk b = BSET1(ip[p * sw * BS + ic]);
#pragma GCC unroll 4
						for (int f = 0; f < NF; f++) acc[p][f] = BFMA(wv[f], b, acc[p][f]);
					}
				}
			}
		}
	}
#pragma GCC unroll 4
	for (int f = 0; f < NF; f++) {
#pragma GCC unroll 16
		for (int p = 0; p < NP; p++) {
			vblk a = acc[p][f];
			if (z) a = BADD(a, BLOAD(z + f * ostride + p * 16));
			if (lo) a = BMIN(*hi, BMAX(*lo, a));
			BSTORE(out + f * ostride + p * 16, a);
		}
	}
}

// nchwc_conv_geom is what every tile of one gc_nchwc_conv call shares.
typedef struct {
	int64_t ostride, pstride, wq, kh, kw, sh, sw, dh, dw;
	int unit; // sw == dw == 1
	const vblk *hi;
} SFX(nchwc_conv_geom);

#define NCHWC_TILE(NP, NF)                                                                                              \
	do {                                                                                                                \
		if (c->unit)                                                                                                    \
			SFX(nchwc_tile)(P, W, o, zo, c->ostride, cbn, c->pstride, c->wq, c->kh, c->kw, 1, c->dh, 1, oy * c->sh, ox, init, \
				lo, c->hi, NP, NF, 1, BS);                                                                              \
		else                                                                                                            \
			SFX(nchwc_tile)(P, W, o, zo, c->ostride, cbn, c->pstride, c->wq, c->kh, c->kw, c->sw, c->dh, c->dw, oy * c->sh,   \
				ox * c->sw, init, lo, c->hi, NP, NF, 0, BS);                                                            \
	} while (0)
#define NCHWC_CASE(NP, NF) \
	case NP: NCHWC_TILE(NP, NF); break;

// nchwc_tile_bs runs the tile of np pixels by nf blocks at output row oy,
// column ox (see nchwc_tile; P and W start at the pass's first input
// block, init NULL: continue from o), with input blocks of BS channels.
static inline __attribute__((always_inline)) void SFX(nchwc_tile_bs)(const SFX(nchwc_conv_geom) *c, const float *P,
	const float *W, float *o, const float *zo, int64_t cbn, int64_t oy, int64_t ox, int64_t np, int64_t nf,
	const vblk *init, const vblk *lo, const int BS) {
	switch (nf) {
#if NCHWC_NF == 4
	case 4:
		switch (np) { NCHWC_CASE(1, 4) NCHWC_CASE(2, 4) NCHWC_CASE(3, 4) NCHWC_CASE(4, 4) NCHWC_CASE(5, 4) default: NCHWC_TILE(6, 4); }
		break;
	case 3:
		switch (np) {
			NCHWC_CASE(1, 3) NCHWC_CASE(2, 3) NCHWC_CASE(3, 3) NCHWC_CASE(4, 3) NCHWC_CASE(5, 3) NCHWC_CASE(6, 3)
			NCHWC_CASE(7, 3) default: NCHWC_TILE(8, 3);
		}
		break;
	case 2:
		switch (np) {
			NCHWC_CASE(1, 2) NCHWC_CASE(2, 2) NCHWC_CASE(3, 2) NCHWC_CASE(4, 2) NCHWC_CASE(5, 2) NCHWC_CASE(6, 2)
			NCHWC_CASE(7, 2) NCHWC_CASE(8, 2) NCHWC_CASE(9, 2) NCHWC_CASE(10, 2) NCHWC_CASE(11, 2)
			default: NCHWC_TILE(12, 2);
		}
		break;
#endif
	default:
		switch (np) {
			NCHWC_CASE(1, 1) NCHWC_CASE(2, 1) NCHWC_CASE(3, 1) NCHWC_CASE(4, 1) NCHWC_CASE(5, 1)
#if NCHWC_NP1 > 6
			NCHWC_CASE(6, 1) NCHWC_CASE(7, 1) NCHWC_CASE(8, 1) NCHWC_CASE(9, 1) NCHWC_CASE(10, 1) NCHWC_CASE(11, 1)
			NCHWC_CASE(12, 1) NCHWC_CASE(13, 1) NCHWC_CASE(14, 1) NCHWC_CASE(15, 1)
#endif
			default: NCHWC_TILE(NCHWC_NP1, 1);
		}
	}
}
#undef NCHWC_CASE
#undef NCHWC_TILE

typedef void (*SFX(nchwc_tile_fn))(const SFX(nchwc_conv_geom) *, const float *, const float *, float *, const float *, int64_t,
	int64_t, int64_t, int64_t, int64_t, const vblk *, const vblk *);

// nchwc_tile_at16 and nchwc_tile_at1 are nchwc_tile_bs for blocked and
// NCHW input.
static void SFX(nchwc_tile_at16)(const SFX(nchwc_conv_geom) *c, const float *P, const float *W, float *o, const float *zo,
	int64_t cbn, int64_t oy, int64_t ox, int64_t np, int64_t nf, const vblk *init, const vblk *lo) {
	SFX(nchwc_tile_bs)(c, P, W, o, zo, cbn, oy, ox, np, nf, init, lo, 16);
}

static void SFX(nchwc_tile_at1)(const SFX(nchwc_conv_geom) *c, const float *P, const float *W, float *o, const float *zo,
	int64_t cbn, int64_t oy, int64_t ox, int64_t np, int64_t nf, const vblk *init, const vblk *lo) {
	SFX(nchwc_tile_bs)(c, P, W, o, zo, cbn, oy, ox, np, nf, init, lo, 1);
}

// nchwc_tile_max is the most pixels of a tile with nf blocks of output
// channels (nf <= NCHWC_NF): about 24 accumulator registers with
// AVX-512, 12 with AVX2, leaving registers for the weights.
static inline int64_t SFX(nchwc_tile_max)(int64_t nf) { return nf >= 4 ? 6 : nf == 3 ? 8 : nf == 2 ? 12 : NCHWC_NP1; }

// nchwc_group_init sets init to group g's bias vectors (zero past M, or
// all zero without a bias) and returns the group's blocks of 16 outputs.
static inline int64_t SFX(nchwc_group_init)(const float *bias, int64_t M, int64_t g, vblk init[4]) {
	for (int64_t f = 0; f < 4; f++) {
		const int64_t m0 = g * 64 + f * 16, nm = M - m0 < 16 ? (M - m0 > 0 ? M - m0 : 0) : 16;
		init[f] = bias ? BLOADM(bias + m0, BMASK(nm)) : BZERO();
	}
	return M - g * 64 >= 64 ? 4 : (M - g * 64 + 15) / 16;
}

// gc_nchwc_conv computes, for output channel groups [g0, g1) (64 channels
// each, the last one M - 64*g rounded up to whole blocks of 16), output
// rows [oy0, oy1) and in each row the pixels [px0, px1), the convolution
// of P (CB blocks of hq x wq pixels, padded already: output (oy, ox)
// reads P at (oy*sh + ky*dh, ox*sw + kx*dw)) with the weights
// W[g][cb][ky][kx][ic][64], into y (blocked, oh x ow per block), starting
// from bias (or zero), adding the blocked summand z (or NULL) and clamping
// to [lo, hi] when clamp is set.
//
// The input blocks are taken cbk at a time (so that a group's weights for
// them stay in L2 across the tiles), y accumulating between passes.
// (Running every group per tile of pixels instead, for weights that fit
// in L2 together, was tried: ResNet-50 ran no faster.)
//
// geom: CB, hq, wq, oh, ow, kh, kw, sh, sw, dh, dw, M, g0, g1, oy0, oy1,
// px0, px1, clamp, cbk, bs: the input's channels per block, 16 (P holds
// CB blocks, each hq x wq pixels of 16 channels) or 1 (P holds CB = C
// channel planes of hq x wq, NCHW; W[g][c][ky][kx][64]).
//
// The register tile is NP pixels of a row by NF vectors of 16 output
// channels (AVX-512: NF up to 4, NP*NF <= 24; AVX2, whose vector of 16 is
// two registers: NF 1, NP up to 6): for each input channel and tap, NF
// weight vectors are loaded and each pixel's input value broadcast
// against them, NP*NF vector FMAs for NP + NF loads; a pixel's 16 input
// channels are one cache line.
void SFX(gc_nchwc_conv)(const float *P, const float *W, const float *bias, const float *z, float *y, const int64_t *geom,
	float lo, float hi) {
	const int64_t CB = geom[0], hq = geom[1], wq = geom[2], oh = geom[3], ow = geom[4], kh = geom[5], kw = geom[6];
	const int64_t M = geom[11], g0 = geom[12], g1 = geom[13], oy0 = geom[14], oy1 = geom[15];
	const int64_t px0 = geom[16], px1 = geom[17], clamp = geom[18], cbk = geom[19], bs = geom[20];
	const vblk vlo = BSET1(lo), vhi = BSET1(hi);
	const SFX(nchwc_conv_geom) c = {.ostride = geom[3] * geom[4] * 16, .pstride = hq * wq * bs, .wq = wq, .kh = kh, .kw = kw,
		.sh = geom[7], .sw = geom[8], .dh = geom[9], .dw = geom[10], .unit = geom[8] == 1 && geom[10] == 1, .hi = &vhi};
	const int64_t gsize = CB * kh * kw * bs * 64; // floats of one group's weights
	const SFX(nchwc_tile_fn) tile = bs == 1 ? SFX(nchwc_tile_at1) : SFX(nchwc_tile_at16);
	const int64_t npx = px1 - px0;
	for (int64_t g = g0; g < g1; g++) {
		vblk init[4];
		const int64_t nf = SFX(nchwc_group_init)(bias, M, g, init);
		// balanced tiles: ntiles of np or np - 1 pixels
		const int64_t tmax = SFX(nchwc_tile_max)(nf < NCHWC_NF ? nf : NCHWC_NF);
		const int64_t ntiles = (npx + tmax - 1) / tmax, base = npx / ntiles, extra = npx % ntiles;
		for (int64_t cb0 = 0; cb0 < CB; cb0 += cbk) {
			const int64_t cbn = CB - cb0 < cbk ? CB - cb0 : cbk;
			const int first = cb0 == 0, last = cb0 + cbn == CB;
			const float *Pc = P + cb0 * c.pstride, *Wc = W + g * gsize + cb0 * kh * kw * bs * 64;
			const vblk *plo = last && clamp ? &vlo : NULL;
			for (int64_t oy = oy0; oy < oy1; oy++) {
				int64_t ox = px0;
				for (int64_t t = 0; t < ntiles; t++) {
					const int64_t np = base + (t < extra);
					const int64_t at = ((g * 4 * oh) + oy) * ow * 16 + ox * 16;
					// the group's nf blocks, NCHWC_NF at a time
					for (int64_t f = 0; f < nf; f += NCHWC_NF) {
						const int64_t o = at + f * c.ostride;
						tile(&c, Pc, Wc + f * 16, y + o, last && z ? z + o : NULL, cbn, oy, ox, np,
							nf - f < NCHWC_NF ? nf - f : NCHWC_NF, first ? init + f : NULL, plo);
					}
					ox += np;
				}
			}
		}
	}
}

// nchwc_pool_tile pools NP output pixels ox.. of one row whose windows lie
// inside the image horizontally (columns ox*sw - pl + kx, kx < kw), over
// the window rows [ky0, ky1) from iy0: NP independent accumulators, the
// taps in the order of the reference, as nchwc_pool_pixel does per pixel.
static inline __attribute__((always_inline)) void SFX(nchwc_pool_tile)(const float *xb, float *yb, const float *count,
	vblk start, int64_t iw, int64_t ow, int64_t kw, int64_t sw, int64_t pl, int64_t iy0, int64_t ky0, int64_t ky1,
	int64_t oy, int64_t ox, const int NP) {
	vblk acc[8];
	for (int p = 0; p < NP; p++) acc[p] = start;
	for (int64_t ky = ky0; ky < ky1; ky++) {
		const float *row = xb + ((iy0 + ky) * iw + ox * sw - pl) * 16;
		for (int64_t kx = 0; kx < kw; kx++) {
			for (int p = 0; p < NP; p++) {
				const vblk v = BLOAD(row + (p * sw + kx) * 16);
				acc[p] = count ? BADD(acc[p], v) : BMAX(v, acc[p]);
			}
		}
	}
	for (int p = 0; p < NP; p++) {
		if (count) acc[p] = BDIV(acc[p], BSET1(count[oy * ow + ox + p]));
		BSTORE(yb + (oy * ow + ox + p) * 16, acc[p]);
	}
}

// nchwc_pool_pixel pools output pixel (oy, ox) over its window clipped to
// the image (see gc_nchwc_pool).
static inline void SFX(nchwc_pool_pixel)(const float *xb, float *yb, const float *count, vblk start, int64_t iw,
	int64_t ow, int64_t kw, int64_t sw, int64_t pl, int64_t iy0, int64_t ky0, int64_t ky1, int64_t oy, int64_t ox) {
	const int64_t ix0 = ox * sw - pl;
	const int64_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = iw - ix0 < kw ? iw - ix0 : kw;
	vblk acc = start;
	for (int64_t ky = ky0; ky < ky1; ky++) {
		const float *row = xb + ((iy0 + ky) * iw + ix0) * 16;
		if (count)
			for (int64_t kx = kx0; kx < kx1; kx++) acc = BADD(acc, BLOAD(row + kx * 16));
		else
			for (int64_t kx = kx0; kx < kx1; kx++) acc = BMAX(BLOAD(row + kx * 16), acc);
	}
	if (count) acc = BDIV(acc, BSET1(count[oy * ow + ox]));
	BSTORE(yb + (oy * ow + ox) * 16, acc);
}

// gc_nchwc_pool max- or average-pools channel blocks [cb0, cb1) of x
// (blocked, ih x iw) into y (oh x ow) over the window rows oy*sh - pt + ky,
// columns ox*sw - pl + kx that lie inside the image. With count NULL,
// output (oy, ox) is their maximum, NaN inputs skipped (max(v, acc) keeps
// acc when v is NaN), as the reference does; else their sum, in row-major
// window order from 0 as the plain Go reference adds them (the SIMD NCHW
// AveragePool sums separably, so the two differ by rounding), divided by
// count[oy*ow + ox] (the cells the average counts: inside the image, or
// inside the padded extent with count_include_pad). The pixels whose
// windows lie inside the image horizontally go NCHWC_POOL_NP (8 with
// AVX-512, 4 with AVX2), then half that, at a time
// (independent accumulators: one pixel alone is a chain of dependent max
// or add), the others one by one.
// geom: ih, iw, oh, ow, kh, kw, sh, sw, pt, pl, cb0, cb1.
void SFX(gc_nchwc_pool)(const float *x, float *y, const int64_t *geom, const float *count) {
	const int64_t ih = geom[0], iw = geom[1], oh = geom[2], ow = geom[3], kh = geom[4], kw = geom[5];
	const int64_t sh = geom[6], sw = geom[7], pt = geom[8], pl = geom[9], cb0 = geom[10], cb1 = geom[11];
	const vblk start = count ? BZERO() : BSET1(-__builtin_inff());
	// the columns whose windows are inside the image: [xa, xb)
	int64_t xa = (pl + sw - 1) / sw, xb = iw - kw + pl >= 0 ? (iw - kw + pl) / sw + 1 : 0;
	if (xb > ow) xb = ow;
	if (xa > xb) xa = xb;
	for (int64_t cb = cb0; cb < cb1; cb++) {
		const float *xc = x + cb * ih * iw * 16;
		float *yc = y + cb * oh * ow * 16;
		for (int64_t oy = 0; oy < oh; oy++) {
			const int64_t iy0 = oy * sh - pt;
			const int64_t ky0 = iy0 < 0 ? -iy0 : 0, ky1 = ih - iy0 < kh ? ih - iy0 : kh;
			int64_t ox = 0;
			for (; ox < xa; ox++) SFX(nchwc_pool_pixel)(xc, yc, count, start, iw, ow, kw, sw, pl, iy0, ky0, ky1, oy, ox);
			for (; ox + NCHWC_POOL_NP <= xb; ox += NCHWC_POOL_NP)
				SFX(nchwc_pool_tile)(xc, yc, count, start, iw, ow, kw, sw, pl, iy0, ky0, ky1, oy, ox, NCHWC_POOL_NP);
			for (; ox + NCHWC_POOL_NP / 2 <= xb; ox += NCHWC_POOL_NP / 2)
				SFX(nchwc_pool_tile)(xc, yc, count, start, iw, ow, kw, sw, pl, iy0, ky0, ky1, oy, ox, NCHWC_POOL_NP / 2);
			for (; ox < ow; ox++) SFX(nchwc_pool_pixel)(xc, yc, count, start, iw, ow, kw, sw, pl, iy0, ky0, ky1, oy, ox);
		}
	}
}


// ---------------------------------------------------------------- depthwise
// gc_nchwc_dwconv runs a 2-D depthwise convolution of NCHW planes (one
// input channel per output channel: C = M) through the blocked layout, 16
// channels at a time. Channel group g (image g / CB, channels 16*(g % CB)
// and up, CB = ceil(C/16)) is transposed into a zero-padded blocked copy
// (Hp x Wp pixels of 16 channels, Hp = (oh-1)*sh + (kh-1)*dh + 1, Wp
// likewise; input cell (iy, ix) at pixel (iy+ph, ix+pw)), convolved one
// 16-channel vector per output pixel and tap,
//
//	Yb[oy][ox] = bias + Σ_{ky,kx} W[ky][kx] * Xb[oy*sh + ky*dh][ox*sw + kx*dw]
//
// (taps in (ky, kx) order, as the reference sums them; an accumulator per
// output pixel of a row tile of up to NCHWC_POOL_NP), and transposed back into the
// output planes, with the summand z (NCHW, NULL: none) added and the
// clamp to [lo, hi] applied on the way. Every vector lane does useful
// work whatever the plane's width, where a per-plane kernel fills only
// ow mod 16 lanes of a row's last vector and pads every plane alone.
// With shuffle = s > 0, channel c reads input plane (c % s)*(C/s) + c/s
// (a channel shuffle of s groups before the convolution; C % s == 0).
// w holds the weights packed, per group of 16 channels and tap a vector
// of 16 (W[CB][kh][kw][16], zero past C: packDepthwise in Go); with w
// NULL every weight is 1, and with count not NULL output pixel f
// (oy*ow + ox) of every plane is divided by count[f]: an average pool
// (the padding's zeros add nothing to the window's sum).
// geom: g0, g1, C, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, clamp,
// shuffle; scratch: gc_nchwc_dwconv_scratch(geom) floats.

// nchwc_dw_tile computes the NP output pixels f0.. (flat index oy*ow +
// ox, so a tile may span rows): Yb[f] = bias + Σ_t W[t] * Xb[base(f) +
// toff[t]], base(f) the blocked offset of input pixel (oy*sh, ox*sw) and
// toff[t] that of tap t = (ky, kx) from it. NP independent accumulators
// keep the FMA units busy however narrow the rows.
static inline __attribute__((always_inline)) void SFX(nchwc_dw_tile)(const float *Xb, const float *W, vblk bias, float *Yb,
	const int64_t *toff, int64_t taps, int64_t wp, int64_t sh, int64_t sw, int64_t ow, int64_t f0, const int NP) {
	const float *base[8];
	vblk acc[8];
	int64_t oy = f0 / ow, ox = f0 % ow;
	for (int p = 0; p < NP; p++) {
		base[p] = Xb + (oy * sh * wp + ox * sw) * 16;
		acc[p] = bias;
		if (++ox == ow) ox = 0, oy++;
	}
	for (int64_t t = 0; t < taps; t++) {
		const vblk wv = BLOAD(W + t * 16);
		for (int p = 0; p < NP; p++) acc[p] = BFMA(wv, BLOAD(base[p] + toff[t]), acc[p]);
	}
	for (int p = 0; p < NP; p++) BSTORE(Yb + (f0 + p) * 16, acc[p]);
}

void SFX(gc_nchwc_dwconv)(const float *x, const float *w, const float *bias, const float *z, float *y, float *scratch,
	const int64_t *geom, float lo, float hi, const float *count) {
	const int64_t g0 = geom[0], g1 = geom[1], C = geom[2], ih = geom[3], iw = geom[4], oh = geom[5], ow = geom[6];
	const int64_t kh = geom[7], kw = geom[8], sh = geom[9], sw = geom[10], ph = geom[11], pw = geom[12];
	const int64_t dh = geom[13], dw = geom[14], clamp = geom[15], shuffle = geom[16];
	const int64_t CB = (C + 15) / 16, taps = kh * kw, ihw = ih * iw, ohw = oh * ow;
	int64_t hp, wp;
	nchwc_dw_dims(geom, &hp, &wp);
	float *Xb = scratch, *Yb = Xb + hp * wp * 16, *ones = Yb + ohw * 16;
	const vblk zero = BZERO(), vlo = BSET1(lo), vhi = BSET1(hi);
	if (!w)
		for (int64_t t = 0; t < taps; t++) BSTORE(ones + t * 16, BSET1(1.0f));
	int64_t toff[GC_NN_MAX_TAPS]; // tap (ky, kx): its offset in Xb from the window's corner
	for (int64_t t = 0; t < taps; t++) toff[t] = ((t / kw) * dh * wp + (t % kw) * dw) * 16;
	// the columns of Xb that input columns fill: [pw, xe)
	const int64_t xe = pw + iw < wp ? pw + iw : wp;
	for (int64_t g = g0; g < g1; g++) {
		const int64_t n = g / CB, m0 = (g % CB) * 16, nc = C - m0 < 16 ? C - m0 : 16;
		const float *xc[16]; // the input plane of each channel
		for (int64_t c = 0; c < nc; c++) {
			const int64_t ch = m0 + c;
			xc[c] = x + (n * C + (shuffle ? ch % shuffle * (C / shuffle) + ch / shuffle : ch)) * ihw;
		}
		const int64_t yoff = (n * C + m0) * ohw;
		const float *W = w ? w + (g % CB) * taps * 16 : ones;
		const vblk vb = bias ? BLOADM(bias + m0, BMASK(nc)) : zero;
		// zero the padding of Xb: rows without input, columns beside it
		for (int64_t r = 0; r < hp; r++) {
			float *row = Xb + r * wp * 16;
			const int64_t iy = r - ph;
			if (iy < 0 || iy >= ih || pw >= wp) {
				for (int64_t q = 0; q < wp; q++) BSTORE(row + q * 16, zero);
				continue;
			}
			for (int64_t q = 0; q < pw; q++) BSTORE(row + q * 16, zero);
			for (int64_t q = xe; q < wp; q++) BSTORE(row + q * 16, zero);
		}
		// transpose the planes in, 16 pixels of the flat plane at a time
		int64_t iy = 0, ix = 0;
		for (int64_t q = 0; q < ihw; q += 16) {
			const int64_t cnt = ihw - q < 16 ? ihw - q : 16;
			const bmask m = BMASK(cnt);
			vblk v[16];
			for (int c = 0; c < 16; c++) v[c] = c < nc ? BLOADM(xc[c] + q, m) : zero;
			BTRANSPOSE(v); // v[j]: the 16 channels of pixel q + j
			for (int64_t j = 0; j < cnt; j++) {
				if (iy + ph < hp && ix + pw < wp) BSTORE(Xb + ((iy + ph) * wp + ix + pw) * 16, v[j]);
				if (++ix == iw) ix = 0, iy++;
			}
		}
		// convolve: tiles of NCHWC_POOL_NP output pixels, the last one
		// ending at the plane's end (overlapping its predecessor); smaller
		// planes in tiles of 4, 2 and 1
		int64_t f = 0;
		if (ohw >= NCHWC_POOL_NP) {
			for (; f + NCHWC_POOL_NP <= ohw; f += NCHWC_POOL_NP)
				SFX(nchwc_dw_tile)(Xb, W, vb, Yb, toff, taps, wp, sh, sw, ow, f, NCHWC_POOL_NP);
			if (f < ohw) SFX(nchwc_dw_tile)(Xb, W, vb, Yb, toff, taps, wp, sh, sw, ow, ohw - NCHWC_POOL_NP, NCHWC_POOL_NP);
			f = ohw;
		}
		if (f + 4 <= ohw) {
			SFX(nchwc_dw_tile)(Xb, W, vb, Yb, toff, taps, wp, sh, sw, ow, f, 4);
			f += 4;
		}
		if (f + 2 <= ohw) {
			SFX(nchwc_dw_tile)(Xb, W, vb, Yb, toff, taps, wp, sh, sw, ow, f, 2);
			f += 2;
		}
		if (f < ohw) SFX(nchwc_dw_tile)(Xb, W, vb, Yb, toff, taps, wp, sh, sw, ow, f, 1);
		// transpose back into the output planes, with z and the clamp
		for (int64_t q = 0; q < ohw; q += 16) {
			const int64_t cnt = ohw - q < 16 ? ohw - q : 16;
			const bmask m = BMASK(cnt);
			vblk v[16];
			for (int64_t j = 0; j < 16; j++) v[j] = j < cnt ? BLOAD(Yb + (q + j) * 16) : zero;
			BTRANSPOSE(v); // v[c]: pixels q.. of channel c
			for (int64_t c = 0; c < nc; c++) {
				vblk r = v[c];
				const int64_t o = yoff + c * ohw + q;
				if (count) r = BDIV(r, BLOADM1(count + q, m));
				if (z) r = BADD(r, BLOADM(z + o, m));
				if (clamp) r = BMIN(vhi, BMAX(vlo, r));
				BSTOREM(y + o, m, r);
			}
		}
	}
}

#undef SFX
#undef vblk
#undef BZERO
#undef BSET1
#undef BLOAD
#undef BSTORE
#undef bmask
#undef BMASK
#undef BLOADM
#undef BLOADM1
#undef BSTOREM
#undef BFMA
#undef BADD
#undef BDIV
#undef BMAX
#undef BMIN
#undef BTRANSPOSE
#undef NCHWC_NF
#undef NCHWC_NP1
#undef NCHWC_POOL_NP
