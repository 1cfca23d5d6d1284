// INT8 GEMM template (u8 x s8 -> s32), included once per instruction set
// by simd_amd64.c with these macros defined:
//
//   SFX(name)   appends the ISA suffix
//   MR, NR, VL  register tile (VL int32 lanes per vector)
//   KU          k values per 32-bit word of a packed panel: 4 bytes for
//               VNNI (vpdpbusd) and the AVX2 byte kernel (vpmaddubsw),
//               2 int16 for the AVX2 vpmaddwd kernel
//   MADD        1 for the int16 format (values widened while packing,
//               sign by their type, so no offsets are needed), 0 for VNNI
//   vi          vector of int32; VIZERO, VILOAD(p), VISTORE(p, v),
//               VILOADM(p, lanes), VISTOREM(p, v, lanes), VIBCAST(x),
//               VIADD, VIMUL (low 32 bits), VDOT_AU(acc, a, b) with a
//               the unsigned operand, VDOT_BU(acc, a, b) with b unsigned
//   IREQUANT    defined where the epilogue can requantize to 8 bits itself
//               (GC_REQUANT), with: vrq, the type of a row's multiplier
//               broadcast, VRQ_SET1(m); vrq_k, the constants of the zero
//               point z and bounds lo, hi, VRQ_K(z, lo, hi); VREQUANT(x, s,
//               k), the VL accumulators x requantized with multiplier s and
//               constants k, as the low VL bytes of a __m128i; and
//               VSTORE_BYTES(dst, q, first, count), which stores bytes
//               [first, first+count) of q at dst
//   ILOOP_APART defined where the k loop must run apart from the epilogue
//               (see iloop)
//
// Packed panels hold 32-bit words: an A panel is kq words of MR rows (each
// word KU consecutive k values of one row), a B panel kq words of w
// columns, kq = ceil(kc / KU), zero-padded. The micro-kernel computes
// S = sum over words of dot(word of A, word of B) exactly in int32 (the
// products of u8 and s8, or of two values of at most 9 bits in int16,
// and their pair sums cannot overflow; the byte kernel's int16 pair sums
// stay exact only because the Go side gives it a signed operand within
// [-64, 64]; accumulation wraps modulo 2^32, as the reference's int32
// does). The epilogue adds
//
//   row_add[i] + col_add[j] + r1[i]*c1[j] + r2[i]*c2[j]
//
// (each optional), which the Go side derives from zero points, sign
// offsets and bias (see igemm.go).
//
// Sign handling for VNNI: vpdpbusd multiplies unsigned bytes of one
// operand by signed bytes of the other. GC_AU selects A as the unsigned
// operand (else B); an operand of the other signedness is converted while
// packing by flipping its top bit (GC_FLIP_A / GC_FLIP_B: x ^ 0x80 maps s8
// to u8 = x + 128 and u8 to s8 = x - 128), and the Go side corrects the
// sums for the offset.

typedef struct {
	const int32_t *ra, *ca, *r1, *c1, *r2, *c2;
	int64_t flags;
	// GC_REQUANT: the tile's output (row stride ldy), its rows'
	// multipliers, and the zero point and bounds. With pw > 0 the
	// product's columns are cells of a padded-width output (a Toeplitz
	// product): column c is cell (c / pw, c % pw), stored at
	// (c / pw) * ow + c % pw when c % pw < ow, else dropped; y is then the
	// tile's first row and col its first column.
	uint8_t *y;
	const double *mult;
	int64_t ldy, pw, ow, col;
	double zp, lo, hi;
} SFX(iepi_t);

// iloop computes the tile's dot products over kq words into out.
static inline __attribute__((always_inline)) void SFX(iloop)(int64_t kq, const int32_t *ap, const int32_t *bp,
	vi out[MR][3], const int nv, const int au) {
	vi acc[MR][3];
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++) {
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) acc[r][v] = VIZERO();
	}
	for (int64_t p = 0; p < kq; p++) {
		vi b[3];
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) b[v] = VILOAD(bp + v * VL);
#pragma GCC unroll 8
		for (int r = 0; r < MR; r++) {
			vi a = VIBCAST(ap[r]);
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++) acc[r][v] = au ? VDOT_AU(acc[r][v], a, b[v]) : VDOT_BU(acc[r][v], a, b[v]);
		}
		ap += MR;
		bp += nv * VL;
	}
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++) {
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) out[r][v] = acc[r][v];
	}
}

#ifdef ILOOP_APART
// The AVX2 kernels (ILOOP_APART) run their loop apart from the epilogue,
// storing the accumulators once at the end: inlined into imicro, where the
// epilogue reads them through indices, GCC kept a copy of each in another
// register or on the stack at every step of the loop (their dot product
// is two or three instructions), which cost the int16 kernel about a fifth
// of its speed. The VNNI kernels' loops compile without copies inlined.
#define ILOOP(nv, au)                                                                                  \
	static __attribute__((noinline)) void SFX(iloop##nv##_##au)(int64_t kq, const int32_t *ap,     \
		const int32_t *bp, vi out[MR][3]) {                                                      \
		SFX(iloop)(kq, ap, bp, out, nv, au);                                                     \
	}
ILOOP(1, 0)
ILOOP(2, 0)
ILOOP(1, 1)
ILOOP(2, 1)
#if NR / VL >= 3
ILOOP(3, 0)
ILOOP(3, 1)
#endif
#undef ILOOP
#endif

static inline __attribute__((always_inline)) void SFX(imicro)(int64_t kq, const int32_t *ap,
	const int32_t *bp, int32_t *c, int64_t ldc, int64_t mr, int64_t nr, int load_c,
	const SFX(iepi_t) *e, const int nv, const int au) {
	vi acc[MR][3];
#ifdef ILOOP_APART
	switch (nv * 2 + au) {
	case 2: SFX(iloop1_0)(kq, ap, bp, acc); break;
	case 3: SFX(iloop1_1)(kq, ap, bp, acc); break;
	case 4: SFX(iloop2_0)(kq, ap, bp, acc); break;
	case 5: SFX(iloop2_1)(kq, ap, bp, acc); break;
#if NR / VL >= 3
	case 6: SFX(iloop3_0)(kq, ap, bp, acc); break;
	case 7: SFX(iloop3_1)(kq, ap, bp, acc); break;
#endif
	default: __builtin_unreachable();
	}
#else
	SFX(iloop)(kq, ap, bp, acc, nv, au);
#endif
	// The epilogue's fields in locals: the requantizing stores go through
	// uint8_t pointers, which may alias anything, so read through e every
	// field would be loaded again (and the requantization's constants
	// rebuilt) after each store.
	const int32_t *ra = e ? e->ra : NULL, *ca = e ? e->ca : NULL;
	const int32_t *r1 = e ? e->r1 : NULL, *c1 = e ? e->c1 : NULL;
	const int32_t *r2 = e ? e->r2 : NULL, *c2 = e ? e->c2 : NULL;
#ifdef IREQUANT
	uint8_t *const y = e ? e->y : NULL;
	const double *const mult = y ? e->mult : NULL;
	const int64_t ldy = y ? e->ldy : 0, pw = y ? e->pw : 0, ow = y ? e->ow : 0;
	const vrq_k rk = VRQ_K(y ? e->zp : 0, y ? e->lo : 0, y ? e->hi : 0);
	// A Toeplitz product's cell (row, column) of each vector's first lane,
	// the same for every row of the tile.
	int64_t cell_y[3] = {0, 0, 0}, cell_x[3] = {0, 0, 0};
	if (pw) {
		for (int v = 0; v < nv; v++) {
			cell_y[v] = (e->col + v * VL) / pw;
			cell_x[v] = (e->col + v * VL) % pw;
		}
	}
	// The usual tile (full, requantized into rows, no terms but a row
	// add) without the general path's tests at every vector.
	if (y && pw == 0 && !ca && !r1 && !r2 && mr == MR && nr == nv * VL) {
#pragma GCC unroll 8
		for (int r = 0; r < MR; r++) {
			const vrq rq_s = VRQ_SET1(mult[r]);
			const vi add = VIBCAST(ra ? ra[r] : 0);
#pragma GCC unroll 3
			for (int v = 0; v < nv; v++) {
				vi x = VIADD(acc[r][v], add);
				if (load_c) x = VIADD(x, VILOAD(c + r * ldc + v * VL));
				VSTORE_BYTES(y + r * ldy + v * VL, VREQUANT(x, rq_s, rk), 0, VL);
			}
		}
		return;
	}
#endif
#pragma GCC unroll 8
	for (int r = 0; r < MR; r++) {
		if (r >= mr) break;
		int32_t *cr = c + r * ldc;
#ifdef IREQUANT
		const vrq rq_s = VRQ_SET1(y ? mult[r] : 0);
#endif
#pragma GCC unroll 3
		for (int v = 0; v < nv; v++) {
			int64_t lanes = nr - v * VL;
			if (lanes <= 0) break;
			if (lanes > VL) lanes = VL;
			vi x = acc[r][v];
			if (load_c) x = VIADD(x, VILOADM(cr + v * VL, lanes));
			if (ra) x = VIADD(x, VIBCAST(ra[r]));
			if (ca) x = VIADD(x, VILOADM(ca + v * VL, lanes));
			if (r1) x = VIADD(x, VIMUL(VIBCAST(r1[r]), VILOADM(c1 + v * VL, lanes)));
			if (r2) x = VIADD(x, VIMUL(VIBCAST(r2[r]), VILOADM(c2 + v * VL, lanes)));
#ifdef IREQUANT
			if (y) {
				const __m128i q = VREQUANT(x, rq_s, rk);
				uint8_t *yr = y + r * ldy;
				if (pw == 0) {
					VSTORE_BYTES(yr + v * VL, q, 0, lanes);
					continue;
				}
				if (cell_x[v] + lanes <= ow) { // all in one output row
					VSTORE_BYTES(yr + cell_y[v] * ow + cell_x[v], q, 0, lanes);
					continue;
				}
				// lanes [l, l+run) lie in one padded row; the first
				// ow - ox of them are output cells
				for (int64_t l = 0, oy = cell_y[v], ox = cell_x[v]; l < lanes; oy++, ox = 0) {
					int64_t run = pw - ox;
					if (run > lanes - l) run = lanes - l;
					const int64_t keep = ox >= ow ? 0 : (ow - ox < run ? ow - ox : run);
					if (keep > 0) VSTORE_BYTES(yr + oy * ow + ox, q, l, keep);
					l += run;
				}
				continue;
			}
#endif
			if (lanes == VL)
				VISTORE(cr + v * VL, x);
			else
				VISTOREM(cr + v * VL, x, lanes);
		}
	}
}

#define IMICRO(nv, au)                                                                              \
	static void SFX(imicro##nv##_##au)(int64_t kq, const int32_t *ap, const int32_t *bp, int32_t *c, \
		int64_t ldc, int64_t mr, int64_t nr, int load_c, const SFX(iepi_t) *e) {                   \
		SFX(imicro)(kq, ap, bp, c, ldc, mr, nr, load_c, e, nv, au);                                 \
	}
IMICRO(1, 0)
IMICRO(2, 0)
IMICRO(1, 1)
IMICRO(2, 1)
#if NR / VL >= 3
IMICRO(3, 0)
IMICRO(3, 1)
#endif
#undef IMICRO

static inline int64_t SFX(ipanel_width)(int64_t jr, int64_t nc) {
	int64_t rem = nc - jr;
	if (rem >= NR) return NR;
	return (rem + VL - 1) / VL * VL;
}

static inline int64_t SFX(inpad)(int64_t n) { return n / NR * NR + (n % NR + VL - 1) / VL * VL; }

// ival reads element i of an 8-bit operand as the value packed for the
// kernel: for MADD its integer value (u8 or s8), else its byte with the
// top bit flipped when flip is set.
static inline int32_t SFX(ival)(const uint8_t *p, int64_t i, int is_u8, int flip) {
#if MADD
	(void)flip;
	return is_u8 ? (int32_t)p[i] : (int32_t)(int8_t)p[i];
#else
	(void)is_u8;
	return (int32_t)(uint8_t)(p[i] ^ (flip ? 0x80 : 0));
#endif
}

// word packs KU values into one 32-bit word.
static inline int32_t SFX(word)(const int32_t *v) {
#if MADD
	return (int32_t)((uint32_t)(uint16_t)(int16_t)v[0] | ((uint32_t)(uint16_t)(int16_t)v[1] << 16));
#else
	return (int32_t)((uint32_t)v[0] | ((uint32_t)v[1] << 8) | ((uint32_t)v[2] << 16) | ((uint32_t)v[3] << 24));
#endif
}

// iinterleave packs KU rows of 8-bit values (rp[u][0..cw)) into w words
// (columns past cw are 0): for VNNI the bytes of the KU rows side by side
// (flipped when flip), for MADD the values widened to int16 pairs.
static void SFX(iinterleave)(const uint8_t *const *rp, int64_t cw, int64_t w, int is_u8, int flip,
	int32_t *dst) {
	int64_t c = 0;
#if !MADD
	const __m128i fx = _mm_set1_epi8(flip ? (char)0x80 : 0);
	for (; c + 16 <= cw; c += 16) {
		__m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rp[0] + c)), fx);
		__m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rp[1] + c)), fx);
		__m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rp[2] + c)), fx);
		__m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(rp[3] + c)), fx);
		__m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
		__m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
		_mm_storeu_si128((__m128i *)(dst + c), _mm_unpacklo_epi16(t0, t2));
		_mm_storeu_si128((__m128i *)(dst + c + 4), _mm_unpackhi_epi16(t0, t2));
		_mm_storeu_si128((__m128i *)(dst + c + 8), _mm_unpacklo_epi16(t1, t3));
		_mm_storeu_si128((__m128i *)(dst + c + 12), _mm_unpackhi_epi16(t1, t3));
	}
#else
	for (; c + 16 <= cw; c += 16) {
		__m128i a = _mm_loadu_si128((const __m128i *)(rp[0] + c));
		__m128i b = _mm_loadu_si128((const __m128i *)(rp[1] + c));
		__m256i aw = is_u8 ? _mm256_cvtepu8_epi16(a) : _mm256_cvtepi8_epi16(a);
		__m256i bw = is_u8 ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b);
		__m256i lo = _mm256_unpacklo_epi16(aw, bw), hi = _mm256_unpackhi_epi16(aw, bw);
		// unpack works within 128-bit lanes: lo = c0-3 | c8-11, hi = c4-7 | c12-15
		_mm256_storeu_si256((__m256i *)(dst + c), _mm256_permute2x128_si256(lo, hi, 0x20));
		_mm256_storeu_si256((__m256i *)(dst + c + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
	}
#endif
	for (; c < cw; c++) {
		int32_t v[4] = {0, 0, 0, 0};
		for (int u = 0; u < KU; u++) v[u] = SFX(ival)(rp[u], c, is_u8, flip);
		dst[c] = SFX(word)(v);
	}
	for (; c < w; c++) dst[c] = 0;
}

// iodd_skip writes d[q] = row[2q] for q in [a, b) (a stride-2 row of a
// convolution: the ResNet stem and downsampling layers), 16 at a time from
// 32-byte loads: the even bytes of each 16-byte lane (vpshufb), the two
// lanes' halves joined (vpermq). A load reads row[2q .. 2q+31], so the
// vector loop stops where that would pass row[2(b-1)], the last byte the
// caller vouches for.
static inline void SFX(iodd_skip)(const uint8_t *row, int64_t a, int64_t b, uint8_t *d) {
	const __m256i even = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1,
		0, 2, 4, 6, 8, 10, 12, 14, -1, -1, -1, -1, -1, -1, -1, -1);
	int64_t q = a;
	for (; q + 17 <= b; q += 16) {
		__m256i v = _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(row + 2 * q)), even);
		v = _mm256_permute4x64_epi64(v, 0x08);
		_mm_storeu_si128((__m128i *)(d + q), _mm256_castsi256_si128(v));
	}
	for (; q < b; q++) d[q] = row[2 * q];
}

// iconv_row writes the im2col row p of an 8-bit image for panel columns
// [j, j+cw) into out (padding: padb).
static void SFX(iconv_row)(const gc_gemm_args *g, const uint8_t *img, int64_t p, int64_t j, int64_t cw,
	uint8_t padb, uint8_t *out) {
	const int64_t khw = g->kh * g->kw;
	const int64_t ch = p / khw, ky = p / g->kw % g->kh, kx = p % g->kw;
	const uint8_t *plane = img + ch * g->ih * g->iw;
	const int64_t off = kx * g->dw - g->pw, s = g->sw;
	const int64_t xlo = off < 0 ? (-off + s - 1) / s : 0;
	const int64_t xhi = g->iw - off <= 0 ? 0 : (g->iw - off + s - 1) / s;
	for (int64_t t = 0, oy = j / g->ow, ox = j % g->ow; t < cw; oy++, ox = 0) {
		const int64_t len = g->ow - ox < cw - t ? g->ow - ox : cw - t;
		uint8_t *d = out + t;
		const int64_t iy = oy * g->sh + ky * g->dh - g->ph;
		if (iy < 0 || iy >= g->ih) {
			memset(d, padb, (size_t)len);
		} else {
			const uint8_t *row = plane + iy * g->iw + off;
			// valid run [a, b) within [ox, ox+len)
			int64_t a = ox > xlo ? ox : xlo, b = ox + len < xhi ? ox + len : xhi;
			if (a > ox + len) a = ox + len;
			if (b < a) b = a;
			for (int64_t q = ox; q < a; q++) d[q - ox] = padb;
			if (s == 1)
				memcpy(d + (a - ox), row + a, (size_t)(b - a));
			else if (s == 2)
				SFX(iodd_skip)(row, a, b, d - ox);
			else
				for (int64_t q = a; q < b; q++) d[q - ox] = row[q * s];
			for (int64_t q = b; q < ox + len; q++) d[q - ox] = padb;
		}
		t += len;
	}
}

// ipack_b packs op(B)[pc:pc+kc, jc:jc+nc] (8-bit matrix, its transpose,
// im2col of an 8-bit image, or the Toeplitz matrix of a padded one) into panels of words: for each word row, KU
// rows of op(B) are gathered (read in place for a row-major matrix) and
// interleaved.
static void SFX(ipack_b)(const gc_gemm_args *g, const uint8_t *B, int64_t pc, int64_t kc, int64_t jc,
	int64_t nc, int32_t *dst) {
	const int is_u8 = (g->flags & GC_B_U8) != 0, flip = (g->flags & GC_FLIP_B) != 0;
	const int64_t kq = (kc + KU - 1) / KU;
	uint8_t tmp[KU][NR];
	uint8_t zero[NR];
	// k padding must pack as the value 0.
	memset(zero, MADD ? 0 : (flip ? 0x80 : 0), sizeof zero);
	// An image's im2col rows are built once for the whole block, kc rows of
	// nc bytes (one pass over each output row's input run), and the panels
	// read them in place: building them per 48-column panel cost a call and
	// a few short copies per panel and row, most of the time of small
	// convolutions. Without the memory the rows are built per panel.
	uint8_t *rows = NULL;
	if (g->flags & GC_B_CONV) {
		rows = (uint8_t *)malloc((size_t)(kc * nc));
		if (rows)
			for (int64_t p = 0; p < kc; p++)
				SFX(iconv_row)(g, B, pc + p, jc, nc, (uint8_t)g->pad_value, rows + p * nc);
	}
	// Rows read in place (a row-major B, the Toeplitz rows, the im2col
	// rows built above): each word row's KU source rows are found once
	// and interleaved into every panel, panel jr's words at dst + jr * kq.
	if (rows || (g->flags & GC_B_TOEP) || !(g->flags & (GC_B_CONV | GC_TRANS_B))) {
		// Row p = (c*kh + ky)*kw + kx of the Toeplitz matrix of a
		// zero-padded image (GC_B_TOEP, stride 1: planes of ih x iw, the
		// padded height and width) starts at c*ih*iw + ky*dh*iw + kx*dw,
		// and its column j is output cell (j / iw, j % iw) of a product
		// computed at the padded width. The rows are visited in order, so
		// (c, ky, kx) steps from row pc's instead of three divisions a row.
		int64_t tc = 0, tky = 0, tkx = 0;
		if (g->flags & GC_B_TOEP) tc = pc / (g->kh * g->kw), tky = pc / g->kw % g->kh, tkx = pc % g->kw;
		for (int64_t q = 0; q < kq; q++) {
			const uint8_t *rp[4] = {zero, zero, zero, zero};
			int real[4] = {0, 0, 0, 0};
			for (int u = 0; u < KU; u++) {
				const int64_t p = pc + q * KU + u;
				if (p >= pc + kc) break;
				real[u] = 1;
				if (rows)
					rp[u] = rows + (p - pc) * nc;
				else if (g->flags & GC_B_TOEP) {
					rp[u] = B + tc * g->ih * g->iw + tky * g->dh * g->iw + tkx * g->dw + jc;
					if (++tkx == g->kw) {
						tkx = 0;
						if (++tky == g->kh) {
							tky = 0;
							tc++;
						}
					}
				} else
					rp[u] = B + p * g->ldb + jc;
			}
			for (int64_t jr = 0; jr < nc; jr += NR) {
				const uint8_t *rj[4];
				for (int u = 0; u < 4; u++) rj[u] = real[u] ? rp[u] + jr : zero;
				const int64_t w = SFX(ipanel_width)(jr, nc);
				SFX(iinterleave)(rj, nc - jr < NR ? nc - jr : NR, w, is_u8, flip, dst + jr * kq + q * w);
			}
		}
		free(rows);
		return;
	}
	for (int64_t jr = 0; jr < nc; jr += NR) {
		const int64_t w = SFX(ipanel_width)(jr, nc);
		const int64_t cw = nc - jr < NR ? nc - jr : NR;
		const int64_t j = jc + jr;
		for (int64_t q = 0; q < kq; q++) {
			const uint8_t *rp[4] = {zero, zero, zero, zero};
			for (int u = 0; u < KU; u++) {
				const int64_t p = pc + q * KU + u;
				if (p >= pc + kc) break;
				if (g->flags & GC_B_CONV) {
					SFX(iconv_row)(g, B, p, j, cw, (uint8_t)g->pad_value, tmp[u]);
				} else {
					for (int64_t c = 0; c < cw; c++) tmp[u][c] = B[(j + c) * g->ldb + p];
				}
				rp[u] = tmp[u];
			}
			SFX(iinterleave)(rp, cw, w, is_u8, flip, dst + q * w);
		}
		dst += w * kq;
	}
	free(rows);
}

// ipack_a packs op(A)[ic:ic+mc, pc:pc+kc] into MR-row panels of words.
static void SFX(ipack_a)(const gc_gemm_args *g, const uint8_t *A, int64_t ic, int64_t mc, int64_t pc,
	int64_t kc, int32_t *dst) {
	const int is_u8 = (g->flags & GC_A_U8) != 0, flip = (g->flags & GC_FLIP_A) != 0;
	const int64_t kq = (kc + KU - 1) / KU, kfull = kc / KU;
	for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kq) {
		for (int64_t r = 0; r < MR; r++) {
			const int64_t i = ic + ir + r;
			if (ir + r >= mc) {
				for (int64_t q = 0; q < kq; q++) dst[q * MR + r] = 0;
				continue;
			}
			int64_t q = 0;
			if (!(g->flags & GC_TRANS_A)) {
				const uint8_t *src = A + i * g->lda + pc;
#if !MADD
				const uint32_t fx = flip ? 0x80808080u : 0;
				for (; q < kfull; q++) {
					uint32_t wd;
					memcpy(&wd, src + q * KU, 4);
					dst[q * MR + r] = (int32_t)(wd ^ fx);
				}
#else
				for (; q < kfull; q++) {
					int32_t v[2] = {SFX(ival)(src, q * 2, is_u8, 0), SFX(ival)(src, q * 2 + 1, is_u8, 0)};
					dst[q * MR + r] = SFX(word)(v);
				}
#endif
			}
			for (; q < kq; q++) {
				int32_t v[4] = {0, 0, 0, 0};
				for (int u = 0; u < KU; u++) {
					const int64_t p = pc + q * KU + u;
					if (p >= pc + kc) break;
					v[u] = (g->flags & GC_TRANS_A) ? SFX(ival)(A, p * g->lda + i, is_u8, flip)
								      : SFX(ival)(A, i * g->lda + p, is_u8, flip);
				}
				dst[q * MR + r] = SFX(word)(v);
			}
		}
	}
}

static void SFX(imacro)(int64_t mc, int64_t nc, int64_t kq, const int32_t *ap, const int32_t *bp,
	int32_t *c, int64_t ldc, int load_c, const SFX(iepi_t) *e, int64_t i, int64_t j, int au) {
	SFX(iepi_t) te;
	for (int64_t jr = 0; jr < nc; jr += NR) {
		const int64_t w = SFX(ipanel_width)(jr, nc);
		const int64_t nr = nc - jr < NR ? nc - jr : NR;
		const int32_t *bpan = bp + jr * kq;
		for (int64_t ir = 0; ir < mc; ir += MR) {
			const int64_t mr = mc - ir < MR ? mc - ir : MR;
			const SFX(iepi_t) *ep = NULL;
			if (e) {
				te = *e;
				if (e->ra) te.ra = e->ra + i + ir;
				if (e->ca) te.ca = e->ca + j + jr;
				if (e->r1) te.r1 = e->r1 + i + ir, te.c1 = e->c1 + j + jr;
				if (e->r2) te.r2 = e->r2 + i + ir, te.c2 = e->c2 + j + jr;
				if (e->y) {
					te.y = e->y + (i + ir) * e->ldy + (e->pw ? 0 : j + jr), te.mult = e->mult + i + ir;
					te.col = j + jr;
				}
				ep = &te;
			}
			int32_t *ct = c + ir * ldc + jr;
			const int32_t *apan = ap + ir * kq;
			switch ((w / VL) * 2 + au) {
			case 2: SFX(imicro1_0)(kq, apan, bpan, ct, ldc, mr, nr, load_c, ep); break;
			case 3: SFX(imicro1_1)(kq, apan, bpan, ct, ldc, mr, nr, load_c, ep); break;
			case 4: SFX(imicro2_0)(kq, apan, bpan, ct, ldc, mr, nr, load_c, ep); break;
			case 5: SFX(imicro2_1)(kq, apan, bpan, ct, ldc, mr, nr, load_c, ep); break;
#if NR / VL >= 3
			case 6: SFX(imicro3_0)(kq, apan, bpan, ct, ldc, mr, nr, load_c, ep); break;
			case 7: SFX(imicro3_1)(kq, apan, bpan, ct, ldc, mr, nr, load_c, ep); break;
#endif
			}
		}
	}
}

void SFX(gc_igemm_info)(int64_t *out) {
	out[0] = MR;
	out[1] = NR;
	out[2] = VL;
	out[3] = KU;
#ifdef IREQUANT
	out[4] = 1;
#else
	out[4] = 0;
#endif
}

// gc_igemm computes the window of C = S (+ C when GC_ACCUM) + epilogue;
// kc must be a multiple of KU (so k blocks start on word boundaries).
int SFX(gc_igemm)(const gc_gemm_args *g, const void *A, const void *B, int32_t *C,
	const int32_t *row_add, const int32_t *col_add, const int32_t *r1, const int32_t *c1,
	const int32_t *r2, const int32_t *c2, int32_t *sa, int32_t *sb, const double *mult, void *Y) {
	const int64_t kc_max = g->kc, mc_max = g->mc, nc_max = g->nc;
	const int64_t mpad = (g->m + MR - 1) / MR * MR;
	const int64_t npad = SFX(inpad)(g->n);
	const int au = (g->flags & GC_AU) != 0;
	SFX(iepi_t) e = {row_add, col_add, r1, c1, r2, c2, g->flags & (GC_HAS_EPI | GC_REQUANT), NULL, NULL, 0, 0, 0, 0, 0, 0, 0};
#ifdef IREQUANT
	if (g->flags & GC_REQUANT) {
		e.y = (uint8_t *)Y, e.mult = mult, e.ldy = g->ldy, e.pw = g->rq_pw, e.ow = g->rq_ow;
		e.zp = g->rq_zp, e.lo = g->rq_lo, e.hi = g->rq_hi;
	}
#else
	(void)mult, (void)Y;
	if (g->flags & GC_REQUANT) return -1;
#endif
	for (int64_t jc = g->j0; jc < g->j1; jc += nc_max) {
		const int64_t nc = g->j1 - jc < nc_max ? g->j1 - jc : nc_max;
		for (int64_t pc = 0; pc < g->k; pc += kc_max) {
			const int64_t kc = g->k - pc < kc_max ? g->k - pc : kc_max;
			const int64_t kq = (kc + KU - 1) / KU;
			const int32_t *bp;
			if (g->flags & GC_B_PACKED) {
				bp = (const int32_t *)B + pc / KU * npad + jc * kq;
			} else {
				SFX(ipack_b)(g, (const uint8_t *)B, pc, kc, jc, nc, sb);
				bp = sb;
			}
			const int load_c = pc > 0 || (g->flags & GC_ACCUM);
			const int last = pc + kc >= g->k;
			for (int64_t ic = g->i0; ic < g->i1; ic += mc_max) {
				const int64_t mc = g->i1 - ic < mc_max ? g->i1 - ic : mc_max;
				const int32_t *ap;
				if (g->flags & GC_A_PACKED) {
					ap = (const int32_t *)A + pc / KU * mpad + ic * kq;
				} else {
					SFX(ipack_a)(g, (const uint8_t *)A, ic, mc, pc, kc, sa);
					ap = sa;
				}
				SFX(imacro)(mc, nc, kq, ap, bp, C + ic * g->ldc + jc, g->ldc, load_c,
					last && e.flags ? &e : NULL, ic, jc, au);
			}
		}
	}
	return 0;
}

void SFX(gc_igemm_pack_a)(const gc_gemm_args *g, const void *A, int32_t *dst) {
	const int64_t mpad = (g->m + MR - 1) / MR * MR;
	for (int64_t pc = 0; pc < g->k; pc += g->kc) {
		const int64_t kc = g->k - pc < g->kc ? g->k - pc : g->kc;
		const int64_t kq = (kc + KU - 1) / KU;
		SFX(ipack_a)(g, (const uint8_t *)A, g->i0, g->i1 - g->i0, pc, kc, dst + pc / KU * mpad + g->i0 * kq);
	}
}

void SFX(gc_igemm_pack_b)(const gc_gemm_args *g, const void *B, int32_t *dst) {
	const int64_t npad = SFX(inpad)(g->n);
	for (int64_t pc = 0; pc < g->k; pc += g->kc) {
		const int64_t kc = g->k - pc < g->kc ? g->k - pc : g->kc;
		const int64_t kq = (kc + KU - 1) / KU;
		SFX(ipack_b)(g, (const uint8_t *)B, pc, kc, g->j0, g->j1 - g->j0, dst + pc / KU * npad + g->j0 * kq);
	}
}
