// C side of gcompress's CPU micro-kernels (amd64, cgo). The Go glue is
// simd_cgo.go; every function here validates nothing: the Go side checks
// sizes, strides and buffer lengths before the call.
//
// Data formats (the Go mirror is in sgemm.go / igemm.go, with size
// assertions on both sides):
//
//   gc_gemm_args   problem description shared by the FP32 and INT8 drivers;
//                  only int64/float fields, so Go memory holding it carries
//                  no pointers across the cgo boundary.
//   packed A       for each k block pc (KC deep, the last one shorter) and
//                  each MR-row panel ir: kc x MR values, row index fastest
//                  (FP32), or kc/4 groups of MR x 4 bytes (INT8).
//                  Offset of (pc, ir): pc*mpad + ir*kc (elements), mpad = m
//                  rounded up to MR.
//   packed B       for each k block and each column panel jr (NR wide, the
//                  last one rounded up to the vector width VL): kc x w values,
//                  column index fastest (FP32), or kc/4 groups of w x 4
//                  bytes (INT8). Offset of (pc, jr): pc*npad + jr*kc.
#ifndef GC_SIMD_AMD64_H
#define GC_SIMD_AMD64_H

#include <stdint.h>

// Flags of gc_gemm_args.flags.
enum {
	GC_TRANS_A = 1,     // A is stored k x m (op(A) = A^T)
	GC_TRANS_B = 2,     // B is stored n x k
	GC_A_PACKED = 4,    // A points at a pre-packed A (see above)
	GC_B_PACKED = 8,    // B points at a pre-packed B
	GC_B_CONV = 16,     // B is an image; op(B) = im2col(image) (2-D geometry)
	GC_ACCUM = 32,      // C += result (beta = 1); else C = result (beta = 0)
	GC_CLAMP = 64,      // clamp the result to [lo, hi] (Relu, Clip)
	GC_BIAS_ROW = 128,  // add bias_row[i] (per output row / channel)
	GC_BIAS_COL = 256,  // add bias_col[j]
	GC_RESID = 512,     // add resid[i*ldr + j]
	// INT8 GEMM (simd_igemm_tmpl.h)
	GC_AU = 1024,       // A is the unsigned operand of vpdpbusd (else B)
	GC_A_U8 = 2048,     // A holds uint8 (else int8)
	GC_B_U8 = 4096,     // B holds uint8 (else int8)
	GC_FLIP_A = 8192,   // flip the top bit of A's bytes while packing
	GC_FLIP_B = 16384,  // flip the top bit of B's bytes while packing
	GC_HAS_EPI = 32768, // apply the int32 epilogue
	// FP32 only
	GC_A_CONV = 65536,   // A is an image; op(A) = im2col(image)^T
	GC_C_TRANS = 131072, // the final result goes to CT transposed (CT[j*ldct + i]); C holds partial sums
	GC_PRE_RELU = 262144, // the packing prologue (pre) ends with max(., 0)
	GC_PRE_A = 524288,    // the prologue applies to A (else to B)
	GC_B_TOEP = 1048576,  // B is a zero-padded image read as a Toeplitz matrix (stride-1 convolution)
	GC_COMPACT = 4194304, // C is a scratch chunk of a padded-width product, compacted into CT (see compact)
	GC_A_DIRECT = 8388608,   // A is read in place: op(A)[i][p] = A[aoff[p] + i] (no packing)
	GC_CT_COMPACT = 16777216, // with GC_C_TRANS: product row i is cell divmod(i, iw) of a padded-width
	                          // output, stored at oy*ow + ox of CT's row when ox < ow (else dropped)
	// INT8 GEMM again
	GC_REQUANT = 33554432,    // requantize into Y (see gc_gemm_args.ldy) instead of writing C
	GC_REQUANT_U8 = 67108864, // with GC_REQUANT: Y is uint8 (else int8)
};

typedef struct {
	int64_t m, n, k;        // whole problem: op(A) m x k, op(B) k x n
	int64_t i0, i1, j0, j1; // window of C this call computes
	int64_t lda, ldb, ldc, ldr;
	int64_t flags;
	int64_t kc, mc, nc;     // blocking (kc must match a pre-packed operand)
	// im2col geometry for GC_B_CONV: B[p][j] with p = (c*kh + ky)*kw + kx,
	// j = oy*ow + ox, reading image[c][oy*sh + ky*dh - ph][ox*sw + kx*dw - pw]
	// (out of range: pad_value, INT8 only; 0 for FP32).
	int64_t cin, ih, iw, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow;
	int64_t pad_value;      // INT8: byte value of padding
	int64_t ldct;           // GC_C_TRANS: row stride of CT
	int64_t pre_channels;   // channels of the packing prologue (pre)
	float alpha, lo, hi, pad_;
	// INT8 with GC_REQUANT (kernels whose info out[4] is 1): the window's
	// C is not written; each value goes to Y[i*ldy + j] (uint8 when
	// GC_REQUANT_U8, else int8) as clamp(round_half_even(c * mult[i]) +
	// rq_zp, rq_lo, rq_hi) in double (gc_requant's arithmetic). C then
	// holds only the partial sums of k blocks before the last. With
	// rq_pw > 0 (a Toeplitz product of padded width rq_pw), column j is
	// output cell (j / rq_pw, j % rq_pw) of rows of width rq_ow, stored at
	// (j / rq_pw) * rq_ow + j % rq_pw when j % rq_pw < rq_ow (else
	// dropped).
	int64_t ldy, rq_pw, rq_ow;
	double rq_zp, rq_lo, rq_hi;
} gc_gemm_args;

// Kernel shapes, returned by the *_info functions as int64[4]:
// MR, NR, VL (vector lanes = panel width granularity), KU (k unit: 1 for
// FP32, 4 for VNNI-packed INT8, 2 for the AVX2 INT8 madd format).
void gc_sgemm_info_avx512(int64_t *out);
void gc_sgemm_info_avx2(int64_t *out);

int gc_sgemm_avx512(const gc_gemm_args *a, const float *A, const float *B, float *C,
	const float *bias_row, const float *bias_col, const float *resid, float *sa, float *sb, float *CT,
	const float *pre, const int64_t *aoff);
int gc_sgemm_avx2(const gc_gemm_args *a, const float *A, const float *B, float *C,
	const float *bias_row, const float *bias_col, const float *resid, float *sa, float *sb, float *CT,
	const float *pre, const int64_t *aoff);

// Pack rows [i0, i1) of op(A) (m x k, scaled by alpha) or columns [j0, j1)
// of op(B) (k x n) into the full packed layout with kc. pre (NULL: none)
// is the activation prologue: pre_channels scales, then as many shifts
// (x -> x*scale[c] + shift[c], then max(., 0) with GC_PRE_RELU).
void gc_sgemm_pack_a_avx512(const gc_gemm_args *a, const float *A, float *dst, const float *pre);
void gc_sgemm_pack_b_avx512(const gc_gemm_args *a, const float *B, float *dst, const float *pre);
void gc_sgemm_pack_a_avx2(const gc_gemm_args *a, const float *A, float *dst, const float *pre);
void gc_sgemm_pack_b_avx2(const gc_gemm_args *a, const float *B, float *dst, const float *pre);

// INT8 GEMM: u8 x s8 -> s32 (vpdpbusd) or int16 pairs (vpmaddwd).
void gc_igemm_info_vnni512(int64_t *out);
void gc_igemm_info_avxvnni(int64_t *out);
void gc_igemm_info_avx2(int64_t *out);
void gc_igemm_info_avx2b(int64_t *out);
// With GC_REQUANT (only where gc_igemm_info's out[4] is 1), mult and Y
// are the requantization's per-row multipliers and output.
#define GC_IGEMM_DECL(sfx)                                                                        \
	int gc_igemm_##sfx(const gc_gemm_args *g, const void *A, const void *B, int32_t *C,            \
		const int32_t *row_add, const int32_t *col_add, const int32_t *r1, const int32_t *c1, \
		const int32_t *r2, const int32_t *c2, int32_t *sa, int32_t *sb, const double *mult, \
		void *Y);                                                                              \
	void gc_igemm_pack_a_##sfx(const gc_gemm_args *g, const void *A, int32_t *dst);              \
	void gc_igemm_pack_b_##sfx(const gc_gemm_args *g, const void *B, int32_t *dst);
GC_IGEMM_DECL(vnni512)
GC_IGEMM_DECL(avxvnni)
GC_IGEMM_DECL(avx2)
GC_IGEMM_DECL(avx2b)

// Requantization of int32 accumulators to uint8 / int8:
// y[i][j] = clamp(round_half_even(acc[i][j] * mult) + zp, lo, hi) in
// double, mult = mult[j] when per_col, else mult[i]; zp = zp_row[i], or
// zp when zp_row is NULL. acc is m x n (stride n), y m x n.
void gc_requant(const int32_t *acc, void *y, int64_t m, int64_t n, const double *mult, int64_t per_col,
	const double *zp_row, double zp, double lo, double hi, int64_t out_u8);

// Dequantization of 8-bit values (int8 when is_signed, else uint8), AVX2:
// y[i] = ((float)x[i] - zp) * scale, in float32.
void gc_dequant_8(const uint8_t *x, float *y, int64_t n, int64_t is_signed, float zp, float scale);

// QLinearAdd of 8-bit values (int8 when is_signed, else uint8), AVX2:
// y[i] = round_half_even(clamp(((float)a[i] - za) * ra + ((float)b[i] - zb)
// * rb + zy, lo, hi)), each operation rounded to float32 in that order.
void gc_qadd_8(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n, int64_t is_signed, float za, float ra,
	float zb, float rb, float zy, float lo, float hi);
// gc_qadd_8 in AVX-512 (simd_nn_amd64.c), the same results.
void gc_qadd_8_avx512(const uint8_t *a, const uint8_t *b, uint8_t *y, int64_t n, int64_t is_signed, float za,
	float ra, float zb, float rb, float zy, float lo, float hi);

// Integer-valued float32 planes back to int32 (AVX2), truncating: y[p][j]
// = (int32)x[p][j] + bias[p % m] (bias NULL: none), planes of n values.
void gc_f32_to_i32(const float *x, int32_t *y, int64_t planes, int64_t n, const int32_t *bias, int64_t m);

// Dequantization of int32 accumulators to float32 (AVX2): y[i][j] =
// clamp(float(acc[i][j]) * scale[i] + bias[i] + z[i][j], lo, hi), each
// operation rounded to float32 in that order (no fused multiply-add); a
// NULL bias or z adds nothing, clamp 0 skips the clamp. acc, y and z are
// m x n (stride n).
void gc_dequant_f32(const int32_t *acc, float *y, int64_t m, int64_t n, const float *scale, const float *bias,
	const float *z, float lo, float hi, int64_t clamp);

// gc_requant with one multiplier per row (per_col 0) in AVX-512
// (simd_nn_amd64.c), the same results.
void gc_requant_rows_avx512(const int32_t *acc, void *y, int64_t m, int64_t n, const double *mult,
	const double *zp_row, double zp, double lo, double hi);

// Direct INT8 convolution, AVX-512 VNNI + VBMI (simd_qconv_amd64.c; the
// method is in that file's comment). P holds cin planes (plane bytes apart,
// kernel rows rowstep = dh*row-width bytes apart) of unsigned bytes. tiles
// has 4 int32 per tile (byte offset of its first pixel in P, first output
// pixel, pixel count 1..16, span in bytes), idx 64 permutation bytes per
// tile. w: for each block of 16 output channels (the last one ob <= 16
// wide), starting at oc0*K dwords (K = cin*kh*ngroups), dword k*ob + o
// holds the 4 signed taps of step k = (c*kh + r)*ngroups + g for channel
// oc0+o. acc starts at init[o]. geom = cin, kh, ngroups, plane, rowstep,
// m, npix, first tile, end tile, mode, then ngroups tap-group byte
// offsets. mode 0 stores int32 out[o*npix + p]; 1 (uint8) and 2 (int8)
// store clamp(round_half_even(acc * mult[o]) + zp, lo, hi) as gc_requant.
#define GC_QCONV_GEOM_FIXED 10
#define GC_QCONV_MAX_GROUPS 8
void gc_qconv_vnni512(const uint8_t *P, const int32_t *tiles, const uint8_t *idx, const int32_t *w, const int32_t *init,
	void *out, const double *mult, double zp, double lo, double hi, const int64_t *geom);
// The padded image gc_qconv_vnni512 reads: geom = planes, ih, iw, ph, pw,
// hp, wp, len, pad byte, flip. P (len bytes) is filled with the pad byte,
// then x's planes (ih x iw) are copied to rows ph.. and columns pw.. of the
// hp x wp planes, each byte XOR 0x80 when flip (int8 made unsigned).
void gc_qconv_pad(const uint8_t *x, uint8_t *P, const int64_t *geom);

// Padded copy of float32 planes for the Toeplitz convolution, split into
// stride phases: P[c][py][px] (planes Hq x Wq) holds the cells
// (r*sh + py - ph, q*sw + px - pw) of x's plane c (ih x iw), 0 outside it,
// with the prologue pre (2*planes floats: scales, shifts; NULL: none;
// relu: then max(., 0)) applied to the copied cells; tail zeros follow.
// geom = planes, ih, iw, ph, pw, Hq, Wq, tail, relu, sh, sw, only00; with
// only00 set only phase (0, 0) is written (P[c] is one plane: what a 1x1
// strided convolution reads).
void gc_pad_planes(const float *x, float *P, const int64_t *geom, const float *pre);

// 2-D MaxPool of 8-bit planes (see simd_amd64.c); geom = planes, ih, iw,
// oh, ow, sh, sw, ph, pw, dh, dw, is_signed; tmp holds 2*iw bytes.
void gc_maxpool2d_8(const uint8_t *x, uint8_t *y, uint8_t *tmp, const int64_t *geom, const int64_t *ylo,
	const int64_t *yhi, const int64_t *xlo, const int64_t *xhi);

// MaxPool 3x3, stride 2, no dilation, of 8-bit planes (ih x iw to oh x ow;
// int8 when is_signed, else uint8) padded by ph, pw <= 1 at the top and the
// left, every window holding at least one input cell, AVX-512BW
// (simd_qconv_amd64.c): each output row's (up to) three input rows are
// reduced into tmp + 1 (iw bytes; tmp holds 1 + iw + 2*ow + 130 bytes, and
// every byte but those is set to the type's lowest value, which padding
// taps read), then output ox is the maximum of tmp[1 - pw + 2ox + k], k =
// 0, 1, 2.
void gc_maxpool3x3s2_8(const uint8_t *x, uint8_t *y, uint8_t *tmp, int64_t planes, int64_t ih, int64_t iw,
	int64_t oh, int64_t ow, int64_t ph, int64_t pw, int64_t is_signed);

// MaxPool 2x2, stride 2, no padding or dilation, of 8-bit planes (ih x iw
// to oh x ow with 2*oh <= ih, 2*ow <= iw; int8 when is_signed, else uint8),
// AVX-512BW (simd_qconv_amd64.c).
void gc_maxpool2x2_8(const uint8_t *x, uint8_t *y, int64_t planes, int64_t ih, int64_t iw, int64_t oh, int64_t ow,
	int64_t is_signed);

// 2-D float32 pooling (see simd_amd64.c); geom = planes, ih, iw, oh, ow,
// sh, sw, ph, pw, dh, dw, is_max, include_pad, kw; tmp holds iw floats.
void gc_pool2d_f32(const float *x, float *y, float *tmp, const int64_t *geom, const int64_t *ylo,
	const int64_t *yhi, const int64_t *ycnt, const int64_t *xlo, const int64_t *xhi, const int64_t *xcnt);

// Direct depthwise 2-D convolution (see simd_amd64.c for geom).
void gc_dwconv2d_f32(const float *x, const float *w, const float *bias, const float *z, float *y,
	float *scratch, const int64_t *geom, float lo, float hi);
int64_t gc_dwconv2d_scratch(const int64_t *geom);

// Direct 2-D convolution for few output channels, cells along the lanes
// (see simd_amd64.c for geom; off: the kh*kw taps' offsets, gc_conv_narrow_offsets).
void gc_conv_narrow_f32(const float *x, const float *w, const float *bias, const float *z, float *y,
	float *scratch, const int64_t *off, const int64_t *geom, float lo, float hi);
int64_t gc_conv_narrow_scratch(const int64_t *geom);
void gc_conv_narrow_offsets(const int64_t *geom, int64_t *off);

// AVX-512 variants (simd_nn_amd64.c). The pool's geom has a 15th entry,
// kh; both need kh*kw <= GC_NN_MAX_TAPS and scratch / tmp of the size
// their *_scratch_avx512 function returns.
#define GC_NN_MAX_TAPS 256
void gc_dwconv2d_f32_avx512(const float *x, const float *w, const float *bias, const float *z, float *y,
	float *scratch, const int64_t *geom, float lo, float hi);
int64_t gc_dwconv2d_scratch_avx512(const int64_t *geom);
void gc_pool2d_f32_avx512(const float *x, float *y, float *tmp, const int64_t *geom, const int64_t *ylo,
	const int64_t *yhi, const int64_t *ycnt, const int64_t *xlo, const int64_t *xhi, const int64_t *xcnt);
int64_t gc_pool2d_scratch_avx512(const int64_t *geom);
// QuantizeLinear of float32 to 8 bits, one scale (AVX-512 and AVX2; see
// gc_quantize_f32_8).
void gc_quantize_f32_8(const float *x, uint8_t *y, int64_t n, float scale, int32_t zp, int32_t lo, int32_t hi);
void gc_quantize_f32_8_avx2(const float *x, uint8_t *y, int64_t n, float scale, int32_t zp, int32_t lo, int32_t hi);
// y[i] = min(max(x[i], lo), hi) (NaN stays NaN); x may equal y. AVX-512
// (simd_nn_amd64.c) and AVX2 (simd_amd64.c).
void gc_clamp_f32(const float *x, float *y, int64_t n, float lo, float hi);
void gc_clamp_f32_avx2(const float *x, float *y, int64_t n, float lo, float hi);
// y[r] = mean of row r of x (rows x len, contiguous).
void gc_row_means(const float *x, float *y, int64_t rows, int64_t len);
void gc_lrn_f32(const float *x, float *y, const int64_t *geom, double bias, double k);

// Channel-blocked FP32 kernels (simd_nchwc_amd64.c), each for AVX-512
// (suffix _avx512) and AVX2 (_avx2).
#define GC_NCHWC_DECLS(SFX)                                                                                         \
	void gc_nchwc_to##SFX(const float *x, float *y, int64_t hw, int64_t c, int64_t cb0, int64_t cb1);               \
	void gc_nchwc_from##SFX(const float *x, float *y, int64_t hw, int64_t c, int64_t cb0, int64_t cb1);             \
	void gc_nchwc_conv##SFX(const float *P, const float *W, const float *bias, const float *z, float *y,            \
		const int64_t *geom, float lo, float hi);                                                                   \
	void gc_nchwc_pool##SFX(const float *x, float *y, const int64_t *geom, const float *count);                     \
	void gc_nchwc_pad##SFX(const float *x, float *P, const int64_t *geom, const float *k, const float *b);           \
	void gc_nchwc_dwconv##SFX(const float *x, const float *w, const float *bias, const float *z, float *y,          \
		float *scratch, const int64_t *geom, float lo, float hi, const float *count);
GC_NCHWC_DECLS(_avx512)
GC_NCHWC_DECLS(_avx2)
#undef GC_NCHWC_DECLS
int64_t gc_nchwc_dwconv_scratch(const int64_t *geom);

#endif
