/* Tile configuration and ABI constants shared by the GEMM kernels and their
 * Go launchers (gobind/geometry.go). gobind's tests parse this file and
 * compare every #define below with the Go constants, so launch geometry and
 * shared-memory sizes cannot drift apart. Keep each value a plain integer
 * literal; derived values are checked by static_assert.
 */
#ifndef GC_GEMM_CONFIG_H
#define GC_GEMM_CONFIG_H

/* Dense GEMMs (int8 m16n8k32, f16/bf16 m16n8k16): one 128x128 output tile
 * per block of 256 threads (8 warps as 2 along M x 4 along N, each warp
 * 64x32), K consumed 64 bytes per stage (k32 x2 for int8, k16 x2 for
 * halves), a 4-stage cp.async pipeline. */
#define GC_GEMM_BM 128
#define GC_GEMM_BN 128
#define GC_GEMM_BK_BYTES 64
#define GC_GEMM_STAGES 4
#define GC_GEMM_THREADS 256
#define GC_GEMM_SMEM_BYTES 65536
/* Blocks are rasterised in groups of GROUP_M tile rows for L2 reuse. */
#define GC_GEMM_GROUP_M 8

/* 2:4 sparse GEMMs (mma.sp int8 m16n8k64, f16/bf16 m16n8k32): the same
 * 128x128 tile; per stage 64 bytes of compressed A (128 logical bytes), 128
 * bytes of B and 128/8 = 16 (int8) or 64/8 = 8 (halves) metadata bytes per A
 * row; 3 stages. */
#define GC_SPGEMM_STAGES 3
#define GC_SPGEMM_A_BYTES 64
#define GC_SPGEMM_B_BYTES 128
#define GC_SPGEMM_META_BYTES_S8 16
#define GC_SPGEMM_META_BYTES_F16 8
#define GC_SPGEMM_SMEM_BYTES_S8 79872
#define GC_SPGEMM_SMEM_BYTES_F16 76800

/* Epilogue channel axis (ref.PerCol, ref.PerRow). */
#define GC_EPI_PER_COL 0
#define GC_EPI_PER_ROW 1

/* Output kinds (ref.Out). */
#define GC_OUT_S32 0
#define GC_OUT_F32 1
#define GC_OUT_S8 2
#define GC_OUT_F16 3
#define GC_OUT_BF16 4

/* Elementwise kernels: threads per block. */
#define GC_ELT_THREADS 256
#define GC_SOFTMAX_THREADS 256

#if defined(__cplusplus)
static_assert(GC_GEMM_SMEM_BYTES == GC_GEMM_STAGES * (GC_GEMM_BM + GC_GEMM_BN) * GC_GEMM_BK_BYTES, "dense smem");
static_assert(GC_SPGEMM_SMEM_BYTES_S8 == GC_SPGEMM_STAGES * (GC_GEMM_BM * GC_SPGEMM_A_BYTES + GC_GEMM_BN * GC_SPGEMM_B_BYTES + GC_GEMM_BM * GC_SPGEMM_META_BYTES_S8), "sparse s8 smem");
static_assert(GC_SPGEMM_SMEM_BYTES_F16 == GC_SPGEMM_STAGES * (GC_GEMM_BM * GC_SPGEMM_A_BYTES + GC_GEMM_BN * GC_SPGEMM_B_BYTES + GC_GEMM_BM * GC_SPGEMM_META_BYTES_F16), "sparse f16 smem");
static_assert(GC_GEMM_THREADS == 256 && GC_GEMM_BM == 128 && GC_GEMM_BN == 128, "the warp layout below assumes 8 warps on a 128x128 tile");
#endif

#endif /* GC_GEMM_CONFIG_H */
