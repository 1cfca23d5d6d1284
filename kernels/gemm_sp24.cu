// 2:4 semi-structured sparse GEMM on the sparse tensor cores (mma.sp):
//   D = epilogue(A · Bᵀ),  A (M x K) 2:4 sparse in the format of sp24.h,
//                          B (N x K) dense, row-major along K.
//   int8:      mma.sp m16n8k64 s8 x s8 -> s32   (gc_spgemm_s8_*)
//   f16/bf16:  mma.sp m16n8k32 -> f32           (gc_spgemm_f16_*, gc_spgemm_bf16_*)
// Reference: ref.SparseGemmRef (kernels/ref/sparse24.go), which reads A
// through its metadata exactly as documented in sp24.h.
//
// A is the weight (out_channels x in_features) and B the activations (tokens
// x in_features), so D is out_channels x tokens; the epilogue's strides let the
// caller store D transposed (ldcm = 1, ldcn = out_channels) to get the usual
// tokens x out_channels layout, and per-channel vectors follow rows
// (axis = GC_EPI_PER_ROW).
//
// Structure: as the dense kernels (gemm_dense.cuh): a BM x BN tile per block
// of 8 warps (the rows of GC_SPARSE_TILES), a cp.async ring of STAGES
// stages. A stage covers 128 bytes of logical K (two sparse k-steps) and
// holds
//   A values: BM rows x 64 bytes (compressed), swz64
//   B:        BN rows x 128 bytes, swz128
//   metadata: BM rows x 16 (int8) or 8 (halves) bytes, unswizzled.
// K must be a multiple of GC_SP24_KALIGN_* (the compressor pads), so every
// copy is whole; A rows past M are clamped to row M-1 (valid metadata; the
// results of those rows are never stored), B rows past N zero-filled.
//
// Metadata register: see load_meta in sp24_meta.cuh (shared with the wgmma
// 2:4 kernels of gemm_wgmma.cu); gc_sp24_probe_* below checks it on one
// tile and tries the alternatives: on an H100 (2026-11-26) both layouts
// held and both int8 alternatives failed, and the GEMMs matched their
// references (bench/results/gpu-h100-2026-11-26).
#include "sp24_meta.cuh"

namespace gc {

template <int ELEM>
GC_DEVICE void mma_sparse(typename ElemTraits<ELEM>::Acc (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4],
                          uint32_t e);
template <>
GC_DEVICE void mma_sparse<ELEM_S8>(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  mma_sp_s8_16864(d, a, b, e);
}
template <>
GC_DEVICE void mma_sparse<ELEM_F16>(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  mma_sp_f16_16832(d, a, b, e);
}
template <>
GC_DEVICE void mma_sparse<ELEM_BF16>(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  mma_sp_bf16_16832(d, a, b, e);
}

// HoistOnly<H, C>::type is C when H, else a stand-in that does nothing, so
// that a kernel without HOIST holds none of C's state.
struct NoChunks {
  template <typename... Args>
  GC_DEVICE NoChunks(Args...) {}
  GC_DEVICE void copy_whole(uint32_t, long long) const {}
  GC_DEVICE void copy(uint32_t, long long, int) const {}
};
template <bool H, typename C>
struct HoistOnly {
  typedef C type;
};
template <typename C>
struct HoistOnly<false, C> {
  typedef NoChunks type;
};

// gemm_sp24 is the kernel body for tile shape T (a gc::Tile whose BK is
// GC_SPGEMM_B_BYTES). Av: compressed values (row stride ldv_b bytes, k-tile
// stride ldvk: row r's AB bytes of tile kt at r ldv_b + kt ldvk, a 32-bit
// product, as gobind validates), Em:
// metadata (row stride lde bytes, k-tile stride ldek: MetaCopy), B: dense
// (row stride ldb_b bytes); K logical elements, a multiple of the format's
// K alignment.
template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_sp24(const uint8_t* __restrict__ Av, const uint8_t* __restrict__ Em,
                         const uint8_t* __restrict__ B, const Epi& e, long long K, long long ldv_b, int ldvk,
                         long long lde, long long ldek, long long ldb_b) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, STAGES = T::STAGES, MI = T::MI, NJ = T::NJ;
  constexpr int AB = GC_SPGEMM_A_BYTES, BB = GC_SPGEMM_B_BYTES, MB = SpTraits<ELEM>::meta_bytes;
  constexpr int A_STAGE = BM * AB, B_STAGE = BN * BB, E_STAGE = BM * MB;
  static_assert(T::BK == BB, "a sparse stage covers GC_SPGEMM_B_BYTES of K");
  static_assert(BM * AB / 16 % GC_GEMM_THREADS == 0, "every thread copies the same number of A-value chunks");

  GC_DYNAMIC_SMEM(smem);
  uint8_t* sA = smem;
  uint8_t* sB = sA + STAGES * A_STAGE;
  uint8_t* sE = sB + STAGES * B_STAGE;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp / T::WARPS_N, wn = warp % T::WARPS_N;
  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const int ktiles = (int)(K * ElemTraits<ELEM>::bytes / BB);

  // B rows past N are zero-filled; K is always whole. B's copies have
  // their addresses worked out once (RowChunks); without HOIST A's are
  // computed per stage, as precomputing them too spilled the int8 kernel
  // for sm_90 past its 128 registers.
  const RowChunks<BN, BB> copyB(sB, B, ldb_b, bn, e.N);
  // HOIST: A's copies through RowChunks too, and blocks inside M x N copy
  // without bounds logic (a branch uniform over the block).
  const typename HoistOnly<T::HOIST, RowChunks<BM, AB, true>>::type copyA(sA, Av, ldv_b, bm, e.M);
  const bool inside = T::HOIST && bm + BM <= e.M && bn + BN <= e.N;
  const MetaCopy<BM, MB> copyE(sE, Em, lde, ldek, bm, e.M, tid);
  auto load_tile = [&](int stage, int kt) {
    if (inside) {
      copyA.copy_whole(stage * A_STAGE, kt * ldvk);
      copyB.copy_whole(stage * B_STAGE, (long long)kt * BB);
    } else if (T::HOIST) {
      copyA.copy(stage * A_STAGE, kt * ldvk, 16);
      copyB.copy(stage * B_STAGE, (long long)kt * BB, 16);
    } else {
      // A values: BM rows x 4 chunks; rows past M read row M-1 (valid
      // metadata; those results are never stored).
#pragma unroll
      for (int r = 0; r < BM * 4 / GC_GEMM_THREADS; ++r) {
        const int c = tid + r * GC_GEMM_THREADS;
        const int row = c >> 2, ch = c & 3;
        const long long gm = min(bm + row, e.M - 1);
        cp_async16(smem_addr(sA + stage * A_STAGE + swz64(row, ch)), Av + gm * ldv_b + kt * ldvk + ch * 16, 16);
      }
      copyB.copy(stage * B_STAGE, (long long)kt * BB, 16);
    }
    copyE.copy(stage, kt);
  };

  // HOIST: this lane's ldmatrix offsets within a stage at each k-step, for
  // the first m16 tile of A and the first n8 tile of B; tile i (j) is 16*i
  // (8*j) rows further on, which leaves the swizzles (row bits 0-2) alone.
  uint32_t a_off[2], b_off[2];
#pragma unroll
  for (int kk = 0; kk < 2; ++kk) {
    a_off[kk] = swz64(wm * T::WM + (lane & 15), kk * 2 + (lane >> 4));
    b_off[kk] = swz128(wn * T::WN + (lane & 7), kk * 4 + (lane >> 3));
  }
  const saddr_t sA_addr = smem_addr(sA), sB_addr = smem_addr(sB);

  Acc acc[MI][NJ][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NJ; ++j)
#pragma unroll
      for (int x = 0; x < 4; ++x) acc[i][j][x] = 0;

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
    const uint8_t* tE = sE + (kt % STAGES) * E_STAGE;
    const saddr_t tA_addr = sA_addr + (kt % STAGES) * A_STAGE, tB_addr = sB_addr + (kt % STAGES) * B_STAGE;
#pragma unroll
    for (int kk = 0; kk < 2; ++kk) {
      uint32_t a[MI][4], em[MI];
#pragma unroll
      for (int i = 0; i < MI; ++i) {
        // Compressed A: 16 rows x 32 bytes per k-step, the dense A layout.
        const int row = wm * T::WM + i * 16 + (lane & 15);
        const int ch = kk * 2 + (lane >> 4);
        const saddr_t at = T::HOIST ? tA_addr + a_off[kk] + i * 16 * AB : smem_addr(tA + swz64(row, ch));
        ldmatrix_x4(a[i][0], a[i][1], a[i][2], a[i][3], at);
        em[i] = load_meta<ELEM>(tE, wm * T::WM + i * 16, MB, kk * SpTraits<ELEM>::meta_step, 0);
      }
      // B one n8 tile at a time: for sm_90 this order compiles to the
      // fewest main-loop instructions without spills (253 for int8, against
      // 268 with all of B loaded first); for sm_80/86/89 it spills a little
      // (docs/RESULTS.md, "On an H100").
#pragma unroll
      for (int j = 0; j < NJ; ++j) {
        // One n8 tile: 8 rows x 64 bytes; lanes 8q..8q+7 address chunk q, so
        // register q holds K bytes [16q + 4t, 16q + 4t + 4) of column g.
        uint32_t b[4];
        const int row = wn * T::WN + j * 8 + (lane & 7);
        const int ch = kk * 4 + (lane >> 3);
        const saddr_t at = T::HOIST ? tB_addr + b_off[kk] + j * 8 * BB : smem_addr(tB + swz128(row, ch));
        ldmatrix_x4(b[0], b[1], b[2], b[3], at);
#pragma unroll
        for (int i = 0; i < MI; ++i) mma_sparse<ELEM>(acc[i][j], a[i], b, em[i]);
      }
    }
  }
  cp_async_wait<0>();

  store_tile<OUT>(e, bm + wm * T::WM, bn + wn * T::WN, acc);
}

// sp24_probe runs one mma.sp on a single 16 x 8 tile with operands read
// straight from global memory (no ldmatrix, no pipeline), so the only thing
// it tests is the fragment and metadata layout:
//   Av: 16 rows x 32 bytes of compressed A (int8: K = 64; halves: K = 32)
//   Em: 16 rows x (K/8) bytes of metadata in the sp24.h format
//   B:  8 rows x 64 bytes (K elements)
//   D:  16 x 8 row-major int32 (int8) or float32 (halves)
template <int ELEM>
GC_DEVICE void sp24_probe(const uint8_t* Av, const uint8_t* Em, const uint8_t* B, void* D, int variant) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  uint32_t a[4], b[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    a[r] = *reinterpret_cast<const uint32_t*>(Av + (g + 8 * (r & 1)) * 32 + 16 * (r >> 1) + 4 * t);
    b[r] = *reinterpret_cast<const uint32_t*>(B + g * 64 + 16 * r + 4 * t);
  }
  const uint32_t em = load_meta<ELEM>(Em, 0, SpTraits<ELEM>::meta_step, 0, variant);
  Acc d[4] = {0, 0, 0, 0};
  mma_sparse<ELEM>(d, a, b, em);
  Acc* out = static_cast<Acc*>(D);
  out[g * 8 + 2 * t] = d[0];
  out[g * 8 + 2 * t + 1] = d[1];
  out[(g + 8) * 8 + 2 * t] = d[2];
  out[(g + 8) * 8 + 2 * t + 1] = d[3];
}

}  // namespace gc

// Entry points, one per row of GC_SPARSE_TILES (BASE_TILE; parameters at
// GC_SPARSE_ENTRY in sp24_meta.cuh).
#define GC_SPARSE_KERNEL(...) GC_SPARSE_ENTRY(gc::gemm_sp24, __VA_ARGS__)

GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_SPARSE_TILES(GC_SPARSE_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

// Layout probes: one warp (launch 1 block of 32 threads). Parameters: Av,
// Em, B, D, variant (0: the layout the GEMMs use; 1 and 2: the int8
// alternatives of load_meta).
extern "C" __global__ void gc_sp24_probe_s8(const void* Av, const void* Em, const void* B, void* D, long long variant) {
  gc::sp24_probe<gc::ELEM_S8>(static_cast<const uint8_t*>(Av), static_cast<const uint8_t*>(Em),
                              static_cast<const uint8_t*>(B), D, (int)variant);
}
extern "C" __global__ void gc_sp24_probe_f16(const void* Av, const void* Em, const void* B, void* D,
                                             long long variant) {
  gc::sp24_probe<gc::ELEM_F16>(static_cast<const uint8_t*>(Av), static_cast<const uint8_t*>(Em),
                               static_cast<const uint8_t*>(B), D, (int)variant);
}
