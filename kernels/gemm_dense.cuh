// Dense tensor-core GEMM: D = epilogue(A · Bᵀ) with A M x K and B N x K, both
// row-major and contiguous along K (the TN layout), on mma.sync:
//   int8:       m16n8k32 s8 x s8 -> s32
//   f16, bf16:  m16n8k16 -> f32
// (reference: ref.Int8GemmRef / ref.HalfGemmRef in kernels/ref/gemm.go).
//
// Structure (one 128x128 tile of D per block, 256 threads):
//  * Pipeline: K is consumed in stages of 64 bytes (2 mma k-steps). A ring of
//    GC_GEMM_STAGES shared-memory stages is filled with cp.async (16-byte
//    global -> shared copies that bypass registers); STAGES-1 tiles are in
//    flight while the warps compute on the oldest. Loop invariant: at the top
//    of iteration kt, after cp.async.wait_group(STAGES-2) and __syncthreads,
//    tile kt is resident for every thread, and every warp has finished with
//    stage (kt-1) % STAGES, which is then refilled with tile kt+STAGES-1.
//  * Bounds: rows past M (N) and K bytes past K are zero-filled by cp.async's
//    src-size operand, so any M, N, K work; the launcher checks that A and B
//    are 16-byte aligned with row strides that are multiples of 16 bytes.
//  * Shared memory: each stage holds A[128][64 bytes] then B[128][64 bytes],
//    16-byte chunks XOR-swizzled by swz64 (bank-conflict-free ldmatrix).
//  * Warps: 2 along M x 4 along N, each owns 64 x 32 of D = 4 x 4 mma tiles,
//    64 accumulators per thread. Per k-step a warp issues 4 ldmatrix.x4 for A
//    (one per m16 tile), 2 ldmatrix.x4 for B (two n8 tiles each) and 16 mma.
//  * Epilogue: straight from registers to global memory through gc::Epi
//    (per-channel scale, bias, requantization to int8).
#ifndef GC_GEMM_DENSE_CUH
#define GC_GEMM_DENSE_CUH

#include "common.cuh"

namespace gc {

enum Elem { ELEM_S8 = 0, ELEM_F16 = 1, ELEM_BF16 = 2 };

template <int ELEM>
struct ElemTraits;
template <>
struct ElemTraits<ELEM_S8> {
  typedef int Acc;
  static constexpr int bytes = 1;
};
template <>
struct ElemTraits<ELEM_F16> {
  typedef float Acc;
  static constexpr int bytes = 2;
};
template <>
struct ElemTraits<ELEM_BF16> {
  typedef float Acc;
  static constexpr int bytes = 2;
};

template <int ELEM>
GC_DEVICE void mma_dense(typename ElemTraits<ELEM>::Acc (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);
template <>
GC_DEVICE void mma_dense<ELEM_S8>(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_s8_16832(d, a, b0, b1);
}
template <>
GC_DEVICE void mma_dense<ELEM_F16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_f16_16816(d, a, b0, b1);
}
template <>
GC_DEVICE void mma_dense<ELEM_BF16>(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_bf16_16816(d, a, b0, b1);
}

// gemm_dense is the kernel body. A, B are byte pointers; lda_b, ldb_b row
// strides in bytes; K in elements.
template <int ELEM, int OUT>
GC_DEVICE void gemm_dense(const uint8_t* __restrict__ A, const uint8_t* __restrict__ B, const Epi& e, long long K,
                          long long lda_b, long long ldb_b) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  constexpr int BM = GC_GEMM_BM, BN = GC_GEMM_BN, BK = GC_GEMM_BK_BYTES, STAGES = GC_GEMM_STAGES;
  constexpr int A_STAGE = BM * BK, B_STAGE = BN * BK;

  GC_DYNAMIC_SMEM(smem);
  uint8_t* sA = smem;
  uint8_t* sB = smem + STAGES * A_STAGE;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 2, wn = warp & 3;
  int pm, pn;
  tile_of(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const long long Kb = K * ElemTraits<ELEM>::bytes;
  const int ktiles = (int)((Kb + BK - 1) / BK);

  // Each thread copies chunks tid and tid+256 of both tiles: 128 rows x 4
  // chunks of 16 bytes = 512 chunks per operand.
  auto load_tile = [&](int stage, int kt) {
    const long long k0 = (long long)kt * BK;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int c = tid + r * GC_GEMM_THREADS;
      const int row = c >> 2, ch = c & 3;
      const long long gk = k0 + ch * 16;
      const int kbytes = gk < Kb ? (int)min(16LL, Kb - gk) : 0;
      {
        const long long gm = bm + row;
        const bool ok = gm < e.M && kbytes > 0;
        const uint8_t* src = ok ? A + gm * lda_b + gk : A;
        cp_async16(smem_addr(sA + stage * A_STAGE + swz64(row, ch)), src, ok ? kbytes : 0);
      }
      {
        const long long gn = bn + row;
        const bool ok = gn < e.N && kbytes > 0;
        const uint8_t* src = ok ? B + gn * ldb_b + gk : B;
        cp_async16(smem_addr(sB + stage * B_STAGE + swz64(row, ch)), src, ok ? kbytes : 0);
      }
    }
  };

  Acc acc[4][4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int x = 0; x < 4; ++x) acc[i][j][x] = 0;

  // Prologue: STAGES-1 tiles in flight (one commit group each, empty groups
  // past the end keep the group count uniform).
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles) load_tile(s, s);
    cp_async_commit();
  }

  for (int kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    {
      const int nt = kt + STAGES - 1;
      if (nt < ktiles) load_tile(nt % STAGES, nt);
      cp_async_commit();
    }
    const uint8_t* tA = sA + (kt % STAGES) * A_STAGE;
    const uint8_t* tB = sB + (kt % STAGES) * B_STAGE;
#pragma unroll
    for (int kk = 0; kk < 2; ++kk) {
      uint32_t a[4][4], b[4][2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        // Lanes 0-15 address rows 0-15 of the m16 tile at the k-step's first
        // 16-byte chunk, lanes 16-31 the same rows at the second chunk:
        // matrices (rows 0-7, c0), (8-15, c0), (0-7, c1), (8-15, c1) are
        // exactly A registers 0..3.
        const int row = wm * 64 + i * 16 + (lane & 15);
        const int ch = kk * 2 + (lane >> 4);
        ldmatrix_x4(a[i][0], a[i][1], a[i][2], a[i][3], smem_addr(tA + swz64(row, ch)));
      }
#pragma unroll
      for (int j2 = 0; j2 < 2; ++j2) {
        // Matrices (n 0-7, c0), (n 0-7, c1), (n 8-15, c0), (n 8-15, c1):
        // B registers 0,1 of n8 tile 2*j2, then of tile 2*j2+1.
        const int row = wn * 32 + j2 * 16 + (lane & 7) + ((lane >> 4) << 3);
        const int ch = kk * 2 + ((lane >> 3) & 1);
        ldmatrix_x4(b[2 * j2][0], b[2 * j2][1], b[2 * j2 + 1][0], b[2 * j2 + 1][1], smem_addr(tB + swz64(row, ch)));
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) mma_dense<ELEM>(acc[i][j], a[i], b[j][0], b[j][1]);
    }
  }
  cp_async_wait<0>();

  store_tile<OUT>(e, bm + wm * 64, bn + wn * 32, acc);
}

}  // namespace gc

// GC_DENSE_KERNEL defines one extern "C" entry point. Parameters (all 8
// bytes): A, B, C, scale, bias, M, N, K, lda, ldb (elements), ldcm, ldcn
// (output strides in elements), axis, zp.
#define GC_DENSE_KERNEL(NAME, ELEM, OUT)                                                                         \
  extern "C" __global__ void __launch_bounds__(GC_GEMM_THREADS, 2)                                              \
      NAME(const void* A, const void* B, void* C, const float* scale, const void* bias, long long M, long long N, \
           long long K, long long lda, long long ldb, long long ldcm, long long ldcn, long long axis,           \
           long long zp) {                                                                                       \
    gc::Epi e{C, ldcm, ldcn, scale, bias, axis, zp, M, N};                                                       \
    constexpr int eb = gc::ElemTraits<ELEM>::bytes;                                                              \
    gc::gemm_dense<ELEM, OUT>(static_cast<const uint8_t*>(A), static_cast<const uint8_t*>(B), e, K, lda * eb,    \
                              ldb * eb);                                                                         \
  }

#endif  // GC_GEMM_DENSE_CUH
