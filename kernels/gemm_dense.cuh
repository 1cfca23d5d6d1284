// Dense tensor-core GEMM: D = epilogue(A · Bᵀ) with A M x K and B N x K, both
// row-major and contiguous along K (the TN layout), on mma.sync:
//   int8:       m16n8k32 s8 x s8 -> s32
//   f16, bf16:  m16n8k16 -> f32
// (reference: ref.Int8GemmRef / ref.HalfGemmRef in kernels/ref/gemm.go).
//
// Structure (per block: one BM x BN tile of D, 256 threads; the shapes are
// the rows of GC_DENSE_TILES in gemm_config.h, gc::Tile in common.cuh):
//  * Pipeline: K is consumed in stages of BK bytes (BK/32 mma k-steps). A
//    ring of STAGES shared-memory stages is filled with cp.async (16-byte
//    global -> shared copies that bypass registers); STAGES-1 tiles are in
//    flight while the warps compute on the oldest. Loop invariant: at the top
//    of iteration kt, after cp.async.wait_group(STAGES-2) and __syncthreads,
//    tile kt is resident for every thread, and every warp has finished with
//    stage (kt-1) % STAGES, which is then refilled with tile kt+STAGES-1.
//  * Bounds: rows past M (N) and K bytes past K are zero-filled by cp.async's
//    src-size operand, so any M, N, K work; the launcher checks that A and B
//    are 16-byte aligned with row strides that are multiples of 16 bytes.
//  * Shared memory: each stage holds A[BM][BK bytes] then B[BN][BK bytes],
//    16-byte chunks XOR-swizzled by swz64 / swz128 (bank-conflict-free
//    ldmatrix).
//  * Warps: WARPS_M along M x WARPS_N along N, each owns WM x WN of D = MI x
//    NJ mma tiles, 4*MI*NJ accumulators per thread. Per k-step a warp issues
//    MI ldmatrix.x4 for A (one per m16 tile), NJ/2 ldmatrix.x4 for B (two n8
//    tiles each) and MI*NJ mma: the larger the warp tile, the fewer
//    shared-memory reads per mma.
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

// RowChunks is one thread's share of the copies of an operand tile of ROWS
// rows x ROW_BYTES bytes of K: chunks c = tid + r * THREADS (r < N), all in
// 16-byte column ch = tid % CH (CH = ROW_BYTES/16) and in rows row0 + r *
// STEP (row0 = tid / CH, STEP = THREADS / CH). The row address, the row
// bounds and the shared address are worked out once per block, so a
// pipeline stage only adds its K offset (the integer work per copy is most
// of what the pipeline issues). STEP is a multiple of the swizzles' period
// of 8 rows, so chunk r's shared address is chunk 0's plus r * STEP rows,
// and its global address chunk 0's plus r * STEP row strides: a handful of
// registers for all N chunks. Rows past the valid ones are zero-filled, or
// with CLAMP read the last valid row instead.
template <int ROWS, int ROW_BYTES, bool CLAMP = false>
struct RowChunks {
  static constexpr int CH = ROW_BYTES / 16, STEP = GC_GEMM_THREADS / CH, N = ROWS / STEP;
  static_assert(ROWS % STEP == 0 && STEP % 8 == 0, "every thread copies N chunks, 8-row swizzle period");
  const uint8_t* first;  // chunk 0's row at K byte 16*ch
  const uint8_t* other;  // what rows past the valid ones read: g (zero-filled) or the last row
  long long step_b;      // STEP row strides in bytes
  saddr_t dst;           // chunk 0's shared address in stage 0
  unsigned valid;        // bit r: chunk r's row exists

  // The tile's rows are rows tile_row0.. of g (row stride ld_b bytes), of
  // which rows_valid exist.
  GC_DEVICE RowChunks(uint8_t* tile, const uint8_t* g, long long ld_b, long long tile_row0, long long rows_valid)
      : step_b(STEP * ld_b), valid(0) {
    const int ch = threadIdx.x % CH, row0 = threadIdx.x / CH;
    first = g + (tile_row0 + row0) * ld_b + ch * 16;
    other = CLAMP ? g + (rows_valid - 1) * ld_b + ch * 16 : g;
    dst = smem_addr(tile + swz<ROW_BYTES>(row0, ch));
#pragma unroll
    for (int r = 0; r < N; ++r) {
      if (tile_row0 + row0 + r * STEP < rows_valid) valid |= 1u << r;
    }
  }

  // column is this thread's 16-byte column of K.
  GC_DEVICE int column() const { return threadIdx.x % CH; }

  // copy_whole is copy for a stage whose rows all exist (the block lies
  // inside the matrix) and whose K bytes are all present (koff + ROW_BYTES
  // <= K bytes): no bounds logic.
  GC_DEVICE void copy_whole(uint32_t soff, long long koff) const {
    const uint8_t* src = first + koff;
#pragma unroll
    for (int r = 0; r < N; ++r) cp_async16(dst + soff + r * STEP * ROW_BYTES, src + r * step_b, 16);
  }

  // copy starts this thread's copies of one stage: shared offset soff from
  // stage 0, K bytes from koff, kbytes (0..16) of this thread's chunk
  // present in K (the rest zero-filled).
  GC_DEVICE void copy(uint32_t soff, long long koff, int kbytes) const {
#pragma unroll
    for (int r = 0; r < N; ++r) {
      const bool row_ok = valid >> r & 1;
      const bool ok = (CLAMP || row_ok) && kbytes > 0;
      // A copy of 0 bytes still needs a valid address: other (g itself
      // unless CLAMP, which always copies).
      const uint8_t* src = !ok ? other : row_ok ? first + r * step_b + koff : other + koff;
      cp_async16(dst + soff + r * STEP * ROW_BYTES, src, ok ? kbytes : 0);
    }
  }
};

// copy_stage starts one stage's copies of A and B (RowChunks a and b, at
// shared offsets a_off and b_off from stage 0) for the BK bytes of K from
// k0, of Kb: without bounds logic for a block inside M x N (inside) whose
// stage lies within K, else with the rows and the K tail zero-filled.
// col_bytes is the thread's K column, a.column() * 16 (both operands'
// chunks of a thread sit in the same column).
template <int BK, typename CA, typename CB>
GC_DEVICE void copy_stage(const CA& a, const CB& b, uint32_t a_off, uint32_t b_off, long long k0, long long Kb,
                          bool inside, int col_bytes) {
  if (inside && k0 + BK <= Kb) {
    a.copy_whole(a_off, k0);
    b.copy_whole(b_off, k0);
    return;
  }
  const long long gk = k0 + col_bytes;
  const int kbytes = gk < Kb ? (int)min(16LL, Kb - gk) : 0;
  a.copy(a_off, k0, kbytes);
  b.copy(b_off, k0, kbytes);
}

// gemm_dense is the kernel body for tile shape T (a gc::Tile). A, B are
// byte pointers; lda_b, ldb_b row strides in bytes; K in elements.
template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_dense(const uint8_t* __restrict__ A, const uint8_t* __restrict__ B, const Epi& e, long long K,
                          long long lda_b, long long ldb_b) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, STAGES = T::STAGES, MI = T::MI, NJ = T::NJ;
  constexpr int A_STAGE = BM * BK, B_STAGE = BN * BK;

  GC_DYNAMIC_SMEM(smem);
  uint8_t* sA = smem;
  uint8_t* sB = smem + STAGES * A_STAGE;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp / T::WARPS_N, wn = warp % T::WARPS_N;
  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const long long Kb = K * ElemTraits<ELEM>::bytes;
  const int ktiles = (int)((Kb + BK - 1) / BK);

  const RowChunks<BM, BK> copyA(sA, A, lda_b, bm, e.M);
  const RowChunks<BN, BK> copyB(sB, B, ldb_b, bn, e.N);
  static_assert(GC_GEMM_THREADS % (BK / 16) == 0, "one K column per thread");
  const int col_bytes = copyA.column() * 16;
  // HOIST: whole stages of a block inside M x N skip the bounds logic (a
  // branch uniform over the block and the stage).
  const bool inside = T::HOIST && bm + BM <= e.M && bn + BN <= e.N;
  auto load_tile = [&](int stage, int kt) {
    copy_stage<BK>(copyA, copyB, stage * A_STAGE, stage * B_STAGE, (long long)kt * BK, Kb, inside, col_bytes);
  };

  // HOIST: this lane's ldmatrix offsets within a stage at each k-step, for
  // the first m16 tile of A and the first n16 pair of B (the fragment
  // layouts are those of the loop below); tile i (j2) is 16*i (16*j2) rows
  // further on, which leaves the swizzle, a function of row bits 0-2, alone.
  uint32_t a_off[BK / 32], b_off[BK / 32];
#pragma unroll
  for (int kk = 0; kk < BK / 32; ++kk) {
    a_off[kk] = swz<BK>(wm * T::WM + (lane & 15), kk * 2 + (lane >> 4));
    b_off[kk] = swz<BK>(wn * T::WN + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1));
  }
  const saddr_t sA_addr = smem_addr(sA), sB_addr = smem_addr(sB);

  Acc acc[MI][NJ][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NJ; ++j)
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
    const saddr_t tA_addr = sA_addr + (kt % STAGES) * A_STAGE, tB_addr = sB_addr + (kt % STAGES) * B_STAGE;
#pragma unroll
    for (int kk = 0; kk < BK / 32; ++kk) {
      uint32_t a[MI][4], b[NJ][2];
#pragma unroll
      for (int i = 0; i < MI; ++i) {
        // Lanes 0-15 address rows 0-15 of the m16 tile at the k-step's first
        // 16-byte chunk, lanes 16-31 the same rows at the second chunk:
        // matrices (rows 0-7, c0), (8-15, c0), (0-7, c1), (8-15, c1) are
        // exactly A registers 0..3.
        const int row = wm * T::WM + i * 16 + (lane & 15);
        const int ch = kk * 2 + (lane >> 4);
        const saddr_t at = T::HOIST ? tA_addr + a_off[kk] + i * 16 * BK : smem_addr(tA + swz<BK>(row, ch));
        ldmatrix_x4(a[i][0], a[i][1], a[i][2], a[i][3], at);
      }
#pragma unroll
      for (int j2 = 0; j2 < NJ / 2; ++j2) {
        // Matrices (n 0-7, c0), (n 0-7, c1), (n 8-15, c0), (n 8-15, c1):
        // B registers 0,1 of n8 tile 2*j2, then of tile 2*j2+1.
        const int row = wn * T::WN + j2 * 16 + (lane & 7) + ((lane >> 4) << 3);
        const int ch = kk * 2 + ((lane >> 3) & 1);
        const saddr_t at = T::HOIST ? tB_addr + b_off[kk] + j2 * 16 * BK : smem_addr(tB + swz<BK>(row, ch));
        ldmatrix_x4(b[2 * j2][0], b[2 * j2][1], b[2 * j2 + 1][0], b[2 * j2 + 1][1], at);
      }
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int j = 0; j < NJ; ++j) mma_dense<ELEM>(acc[i][j], a[i], b[j][0], b[j][1]);
    }
  }
  cp_async_wait<0>();

  store_tile<OUT>(e, bm + wm * T::WM, bn + wn * T::WN, acc);
}

}  // namespace gc

// GC_DENSE_ENTRY defines the entry point BASE_TILE of the dense kernel body
// BODY (gc::gemm_dense, gc::gemm_wgmma) for one row of a tile list.
// Parameters (all 8 bytes): A, B, C, scale, bias, M, N, K, lda, ldb
// (elements), ldcm, ldcn (output strides in elements), axis, zp.
#define GC_DENSE_ENTRY(BODY, TILE, BM, BN, BK, STAGES, WARPS_M, MIN_BLOCKS, HOIST, INFLIGHT, BASE, ELEM, OUT)    \
  extern "C" __global__ void __launch_bounds__(GC_GEMM_THREADS, MIN_BLOCKS)                                     \
      BASE##_##TILE(const void* A, const void* B, void* C, const float* scale, const void* bias, long long M,      \
                    long long N, long long K, long long lda, long long ldb, long long ldcm, long long ldcn,       \
                    long long axis, long long zp) {                                                              \
    gc::Epi e{C, ldcm, ldcn, scale, bias, axis, zp, M, N};                                                      \
    constexpr int eb = gc::ElemTraits<ELEM>::bytes;                                                             \
    BODY<ELEM, OUT, gc::Tile<BM, BN, BK, STAGES, WARPS_M, HOIST, INFLIGHT>>(                                      \
        static_cast<const uint8_t*>(A), static_cast<const uint8_t*>(B), e, K, lda * eb, ldb * eb);              \
  }

// GC_DENSE_KERNEL defines the mma.sync entry point BASE_TILE for one row of
// GC_DENSE_TILES: GC_DENSE_TILES(GC_DENSE_KERNEL, base, elem, out) defines
// base_<tile> for every shape.
#define GC_DENSE_KERNEL(...) GC_DENSE_ENTRY(gc::gemm_dense, __VA_ARGS__)

#endif  // GC_GEMM_DENSE_CUH
