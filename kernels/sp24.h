/* 2:4 semi-structured sparse format: the C side of ref.Format /
 * ref.Sparse24 (kernels/ref/formats.go, kernels/ref/sparse24.go). A test in
 * kernels/ref parses the #defines below and compares them with the Go table.
 *
 * A logical M x K matrix A (K a multiple of the kernel's K alignment) is
 * stored as
 *   values: M x K/2 elements, row stride K/2. Group g (columns 4g..4g+3) of
 *           row r keeps two elements, at values[r*K/2 + 2g] and [.. + 2g+1],
 *           in increasing column order.
 *   meta:   M x K/8 bytes, row stride K/8. Group g of row r is the nibble
 *           (meta[r*K/8 + g/2] >> 4*(g%2)) & 0xf; bits [1:0] give the column
 *           of the first kept element within the group, bits [3:2] the second,
 *           first < second. A little-endian 16-bit load at byte 2t of a row
 *           yields the nibbles of groups 4t..4t+3 in order (the 16-bit half
 *           of an f16 mma.sp metadata register), a 32-bit load at byte 4t
 *           those of groups 8t..8t+7 (an int8 one; see gemm_sp24.cu).
 */
#ifndef GC_SP24_H
#define GC_SP24_H

#define GC_SP24_GROUP 4      /* logical elements per group */
#define GC_SP24_KEPT 2       /* stored values per group */
#define GC_SP24_META_BITS 4  /* metadata bits per group */
#define GC_SP24_EMPTY_NIBBLE 0x4 /* an all-zero group keeps columns 0 and 1 */

/* K alignment (one pipeline stage of the sparse kernels, in logical
 * elements) and the byte alignment of the metadata rows that follows from it
 * (K/8 bytes per row and stage: one cp.async of that size per row). */
#define GC_SP24_KALIGN_S8 128
#define GC_SP24_KALIGN_F16 64
#define GC_SP24_KALIGN_BF16 64
#define GC_SP24_META_ROW_ALIGN_S8 16
#define GC_SP24_META_ROW_ALIGN_F16 8
#define GC_SP24_META_ROW_ALIGN_BF16 8

#if defined(__cplusplus)
static_assert(GC_SP24_KALIGN_S8 / 8 == GC_SP24_META_ROW_ALIGN_S8, "s8 metadata row alignment");
static_assert(GC_SP24_KALIGN_F16 / 8 == GC_SP24_META_ROW_ALIGN_F16, "f16 metadata row alignment");
static_assert(GC_SP24_GROUP == 4 && GC_SP24_KEPT == 2 && GC_SP24_META_BITS == 4, "2:4 with two 2-bit indices per group");
#endif

#endif /* GC_SP24_H */
