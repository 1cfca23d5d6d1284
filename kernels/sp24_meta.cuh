// The metadata side of the 2:4 sparse GEMMs (mma.sp in gemm_sp24.cu,
// wgmma.mma_async.sp in gemm_wgmma.cu): the per-stage metadata sizes and the
// metadata register each lane passes to the tensor cores. wgmma.sp takes the
// same register per warp (each warp of a warpgroup provides the metadata of
// its 16 rows of the m64 tile, PTX ISA "Matrix fragments for warpgroup-level
// multiply-accumulate operation with sparse matrix A"), so both read it with
// load_meta.
//
// Metadata register (load_meta): lane (g = lane/4, t = lane%4) passes, with
// sparsity selector 0,
//   halves (m16n8k32, 8 groups per row; lanes t = 0, 1 contribute):
//     e = meta16(row g, t&1) | meta16(row g+8, t&1) << 16
//     where meta16(r, j) is the little-endian 16-bit word at byte 2j of row
//     r's metadata for the current k-step: the nibbles of groups 4j..4j+3;
//   int8 (m16n8k64, 16 groups per row; all four lanes contribute):
//     e = meta32(row g + 8*(t&1), t>>1)
//     where meta32(r, j) is the little-endian 32-bit word at byte 4j: the
//     nibbles of groups 8j..8j+7, one row per lane.
// The halves layout is the PTX ISA's metadata figure for m16n8k32 as LLVM's
// mma.sp integration test (sparse-mma-2-4-f16.mlir) and CUTLASS read it. The
// int8 layout is the one CUTLASS's SM89 sparse-MMA emulation, TileLang's
// int8 metadata layout and a hardware-probed Triton design note give (the
// ISA states it only in a figure); an earlier version extended the halves
// layout by one quad-lane per 16 groups, which those sources say is wrong.
// gc_sp24_probe_* (gemm_sp24.cu) checks exactly this mapping on one tile and
// tries the alternatives: on an H100 (2026-11-26) both layouts held and both
// int8 alternatives failed.
#ifndef GC_SP24_META_CUH
#define GC_SP24_META_CUH

#include "gemm_dense.cuh"
#include "sp24.h"

namespace gc {

template <int ELEM>
struct SpTraits;
template <>
struct SpTraits<ELEM_S8> {
  static constexpr int meta_bytes = GC_SPGEMM_META_BYTES_S8;  // per row and stage
  static constexpr int meta_step = 8;                         // per row and k-step
};
template <>
struct SpTraits<ELEM_F16> {
  static constexpr int meta_bytes = GC_SPGEMM_META_BYTES_F16;
  static constexpr int meta_step = 4;
};
template <>
struct SpTraits<ELEM_BF16> : SpTraits<ELEM_F16> {};

// MetaCopy is the metadata side of a 2:4 stage's copies: thread tid < BM
// copies the MB bytes of A row bm + tid for each tile (rows past M read row
// M-1, whose metadata is valid and whose results are never stored) into
// its row of the stage's metadata tile, unswizzled. The MB bytes of row r
// for k tile kt are at Em + r lde + kt ldek: rows of K/8 bytes have
// ldek = MB (the layout of ref.Compress24), and the k-tile-major layout
// (ref.ByKTile) has lde = MB and ldek the bytes of a k tile's rows, so
// that a stage's rows are one contiguous run (a few whole lines of L2
// instead of a request per row).
template <int BM, int MB>
struct MetaCopy {
  static_assert(BM <= GC_GEMM_THREADS, "one metadata copy per A row");
  const uint8_t* src;
  long long ldek;
  saddr_t dst;
  bool active;  // tid < BM
  GC_DEVICE MetaCopy(uint8_t* sE, const uint8_t* Em, long long lde, long long ldek_, long long bm, long long M,
                     int tid)
      : src(Em + min(bm + tid, M - 1) * lde), ldek(ldek_), dst(smem_addr(sE + tid * MB)), active(tid < BM) {}
  // copy starts the copy of tile kt's metadata into stage.
  GC_DEVICE void copy(int stage, int kt) const {
    if (!active) return;
    if (MB == 16) {
      cp_async16(dst + stage * BM * MB, src + kt * ldek, 16);
    } else {
      cp_async8(dst + stage * BM * MB, src + kt * ldek, 8);
    }
  }
};

// load_meta builds the metadata register of one m16 tile whose 16 rows start
// at row0 of a metadata tile with row stride `stride` bytes, for the k-step
// whose metadata starts at byte `koff` of each row (layout in the file
// comment). Two int8 alternatives are kept for the probe: variant 1, the
// halves layout extended by one quad-lane per 16 groups (this file's earlier
// assumption), and variant 2, "each lane's metadata covers the groups of its
// own A values".
template <int ELEM>
GC_DEVICE uint32_t load_meta(const uint8_t* tile, int row0, int stride, int koff, int variant) {
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const uint8_t* r0 = tile + (row0 + g) * stride + koff;
  const uint8_t* r8 = tile + (row0 + g + 8) * stride + koff;
  if (ELEM == ELEM_S8 && variant == 0) {
    return *reinterpret_cast<const uint32_t*>((t & 1 ? r8 : r0) + 4 * (t >> 1));
  }
  if (ELEM == ELEM_S8 && variant == 2) {
    return (uint32_t)r0[t] | (uint32_t)r8[t] << 8 | (uint32_t)r0[4 + t] << 16 | (uint32_t)r8[4 + t] << 24;
  }
  const int tp = ELEM == ELEM_S8 ? t : (t & 1);
  const uint32_t lo = *reinterpret_cast<const uint16_t*>(r0 + 2 * tp);
  const uint32_t hi = *reinterpret_cast<const uint16_t*>(r8 + 2 * tp);
  return lo | hi << 16;
}

}  // namespace gc

// GC_SPARSE_ENTRY defines the entry point BASE_TILE of the 2:4 kernel body
// BODY (gc::gemm_sp24, gc::gemm_wgmma_sp) for one row of a tile list.
// Parameters (all 8 bytes): A values, A metadata, B, C, scale, bias, M, N, K
// (logical), ldv (A values row stride, elements), ldvk (values k-tile
// stride, bytes: row r's values for k tile kt at byte r ldv eb + kt ldvk;
// the bodies take it as an int, gobind keeps kt ldvk below 2^31), lde
// (metadata row stride, bytes), ldek (metadata k-tile stride, bytes:
// MetaCopy), ldb (elements), ldcm, ldcn, axis, zp.
#define GC_SPARSE_ENTRY(BODY, TILE, BM, BN, BK, STAGES, WARPS_M, MIN_BLOCKS, HOIST, INFLIGHT, BASE, ELEM, OUT)   \
  extern "C" __global__ void __launch_bounds__(GC_GEMM_THREADS, MIN_BLOCKS)                                      \
      BASE##_##TILE(const void* Av, const void* Em, const void* B, void* C, const float* scale, const void* bias, \
                    long long M, long long N, long long K, long long ldv, long long ldvk, long long lde,           \
                    long long ldek, long long ldb, long long ldcm, long long ldcn, long long axis, long long zp) { \
    gc::Epi e{C, ldcm, ldcn, scale, bias, axis, zp, M, N};                                                       \
    constexpr int eb = gc::ElemTraits<ELEM>::bytes;                                                              \
    BODY<ELEM, OUT, gc::Tile<BM, BN, BK, STAGES, WARPS_M, HOIST, INFLIGHT>>(                                       \
        static_cast<const uint8_t*>(Av), static_cast<const uint8_t*>(Em), static_cast<const uint8_t*>(B), e, K,   \
        ldv * eb, (int)ldvk, lde, ldek, ldb * eb);                                                                \
  }

#endif  // GC_SP24_META_CUH
