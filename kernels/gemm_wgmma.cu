// Hopper GEMMs on wgmma (sm_90a only): the dense GEMMs of gemm_s8.cu and
// gemm_f16.cu and the 2:4 GEMMs of gemm_sp24.cu -- same entry-point bases,
// parameters, references and epilogues -- with the tensor-core work issued
// per warpgroup by wgmma.mma_async(.sp) (wgmma.cuh) instead of per warp by
// mma.sync / mma.sp:
//   int8:       m64nNk32 s8 x s8 -> s32    (2:4: m64nNk64)
//   f16, bf16:  m64nNk16 -> f32            (2:4: m64nNk32)
// mma.sync reaches about 40% of an H100's f16 tensor throughput (docs/
// RESULTS.md "On an H100"); wgmma reads both operands straight from shared
// memory, so the warps issue no ldmatrix and far fewer instructions.
//
// Structure (per block: one BM x BN tile of D, 256 threads = 2 warpgroups;
// the shapes are the rows of GC_WGMMA_TILES in gemm_config.h):
//  * Warpgroup w computes MT = BM/128 (1 or 2) m64 row blocks of the tile,
//    rows 64(MT w + i)..+63 for i < MT, all BN columns: per stage BK/32
//    k-steps, each one wgmma m64nBN per row block on the same B;
//    MT BN/2 accumulators per thread. MT = 2 halves the B bytes a block
//    copies per output (on an H100 the time of a stage followed the bytes
//    it copies more than its tensor work: docs/RESULTS.md "Bytes per
//    output").
//  * Shared memory: STAGES stages of A[BM][128 bytes] then B[BN][128 bytes],
//    16-byte chunks swizzled by swz128 -- the 128-byte swizzle wgmma's
//    descriptors name -- from a 1024-byte aligned base (the swizzle atom).
//  * Pipeline: cp.async fills the stages as in gemm_dense.cuh (RowChunks,
//    zero-filled bounds); F = T::INFLIGHT wgmma groups (tiles) stay in
//    flight while the next is issued: 1 for the dense GEMMs; for the 2:4
//    ones 0, or 1 in the f shapes, whose metadata registers (which a
//    wgmma.sp reads while it runs: wg_mma_sp) come in two sets, one per
//    parity of tile. With P = STAGES-1-F tiles copied ahead, the loop invariant
//    at iteration kt, after cp.async.wait_group(P-1), fence.proxy.async and
//    __syncthreads: tile kt is resident and visible to wgmma, and every
//    warpgroup has completed its wgmma groups up to kt-1-F (each waited for
//    all but its newest F at the end of iteration kt-1), so stage
//    (kt-1-F) % STAGES is free and is refilled with tile kt+P: before tile
//    kt's wgmma is issued, or, in the HOIST shapes (suffix h), right after,
//    so that the tensor cores start on tile kt while the copies are issued.
//  * Epilogue: the accumulators go straight to global memory through
//    store_tile (common.cuh); per warp they are one m16 row of n8 tiles.
#include <type_traits>

#include "wgmma.cuh"

namespace gc {

// NoHold is the retired() of the kernels whose wgmmas read no registers
// while they run.
struct NoHold {
  GC_DEVICE void operator()(int) const {}
};

// wgmma_mainloop is the pipeline of both kernels below, with F (0 or 1)
// wgmma groups left in flight (the invariant is in the file comment; the
// barrier of iteration kt orders both warpgroups' waits of iteration kt-1
// before the refill): load(stage, kt) starts the copies of tile kt into a
// stage, mma(acc, stage, q) issues the stage's wgmma k-steps, EARLY issues
// them before the refill's copies, and retired(q') runs after each wait
// (wg_hold of the registers the retired wgmmas read), and with F = 1 for
// both q' after the last wait. q is the tile's parity kt & 1 where per-parity registers
// are needed (PAIRS: F = 1 and a retired() other than NoHold), else 0; q'
// is that of the tile whose group the wait retired (kt - F). With PAIRS
// the loop is unrolled by two, so that q is a constant once the calls are
// inlined (per-parity registers stay registers). acc starts at zero; at
// the end every wgmma and every copy has completed.
template <int STAGES, int F, bool EARLY, typename Acc, int N, typename Load, typename Mma, typename Retired>
GC_DEVICE void wgmma_mainloop(Acc (&acc)[N], int ktiles, Load load, Mma mma, Retired retired) {
  constexpr int P = STAGES - 1 - F;  // tiles copied ahead of the one computed on
  static_assert(P >= 2, "one stage computed on, F in flight to wgmma, two or more being filled");
  static_assert(F == 0 || F == 1, "at most one group in flight");
  constexpr bool PAIRS = F == 1 && !std::is_same<Retired, NoHold>::value;
#pragma unroll
  for (int i = 0; i < N; ++i) acc[i] = 0;
#pragma unroll
  for (int s = 0; s < P; ++s) {
    if (s < ktiles) load(s, s);
    cp_async_commit();
  }
  const auto refill = [&](int kt) {
    const int nt = kt + P;
    if (nt < ktiles) load(nt % STAGES, nt);
    cp_async_commit();
  };
  const auto step = [&](int kt, int q) {
    cp_async_wait<P - 1>();
    fence_proxy_async();
    __syncthreads();
    if (!EARLY) refill(kt);
    wg_acc_fence(acc);
    wg_fence();
    mma(acc, kt % STAGES, q);
    wg_commit();
    if (EARLY) refill(kt);
    wg_wait<F>();
    wg_acc_fence(acc);
    retired((q + F) & 1);
  };
  if (PAIRS) {
    // An odd last tile runs after the loop, not in it: no path through the
    // code then reaches a metadata load of one parity while that parity's
    // group is in flight (the SASS check follows every path, and a tile
    // skipped inside the loop would open one it cannot rule out).
    int kt = 0;
    for (; kt + 1 < ktiles; kt += 2) {
      step(kt, 0);
      step(kt + 1, 1);
    }
    if (kt < ktiles) step(kt, 0);
  } else {
    for (int kt = 0; kt < ktiles; ++kt) step(kt, 0);
  }
  wg_wait<0>();
  wg_acc_fence(acc);
  if (F == 1) {  // the last group's tile: either parity
    retired(0);
    retired(1);
  }
  cp_async_wait<0>();
}

// WgShape is what the wgmma kernels derive from a tile row T: MT m64 row
// blocks per warpgroup and the accumulators of each (BN/2 per thread).
template <typename T>
struct WgShape {
  static constexpr int MT = T::BM / 128, NACC = T::BN / 2;
  static_assert(T::WARPS_M == 8 && (T::BM == 128 || T::BM == 256), "2 warpgroups of 1 or 2 m64 row blocks");
  static_assert(T::BN == 128 || T::BN == 192 || T::BN == 256, "the wgmma widths wgmma.cuh defines");
  // row0 is the first row, within the tile, of row block i of the
  // warpgroup of the calling thread; warp_row that of the calling warp's
  // 16 rows of it.
  static GC_DEVICE int row0(int i) { return ((threadIdx.x >> 7) * MT + i) * 64; }
  static GC_DEVICE int warp_row(int i) { return row0(i) + ((threadIdx.x >> 5) & 3) * 16; }
};

// wg_block is row block i's accumulators within a warpgroup's MT blocks.
template <int NACC, typename Acc, int N>
GC_DEVICE Acc (&wg_block(Acc (&acc)[N], int i))[NACC] {
  return reinterpret_cast<Acc(&)[NACC]>(acc[i * NACC]);
}

// wg_store writes a warpgroup's MT row blocks through store_tile: per warp
// and block one m16 row of n8 tiles (wgmma.cuh's accumulator layout).
template <int OUT, typename T, typename Acc, int N>
GC_DEVICE void wg_store(const Epi& e, long long bm, long long bn, Acc (&acc)[N]) {
  typedef WgShape<T> S;
#pragma unroll
  for (int i = 0; i < S::MT; ++i) {
    store_tile<OUT>(e, bm + S::warp_row(i), bn,
                    reinterpret_cast<const Acc(&)[1][T::BN / 8][4]>(wg_block<S::NACC>(acc, i)));
  }
}

template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_wgmma(const uint8_t* __restrict__ A, const uint8_t* __restrict__ B, const Epi& e, long long K,
                          long long lda_b, long long ldb_b) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  typedef WgShape<T> S;
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, STAGES = T::STAGES, MT = S::MT, NACC = S::NACC;
  constexpr int A_STAGE = BM * BK, B_STAGE = BN * BK;
  static_assert(BK == 128, "128-byte swizzled rows");

  GC_DYNAMIC_SMEM(raw);
  uint8_t* smem = wg_smem(raw);
  uint8_t* sA = smem;
  uint8_t* sB = smem + STAGES * A_STAGE;

  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const long long Kb = K * ElemTraits<ELEM>::bytes;
  const int ktiles = (int)((Kb + BK - 1) / BK);

  const RowChunks<BM, BK> copyA(sA, A, lda_b, bm, e.M);
  const RowChunks<BN, BK> copyB(sB, B, ldb_b, bn, e.N);
  const int col_bytes = copyA.column() * 16;
  const bool inside = bm + BM <= e.M && bn + BN <= e.N;
  // Descriptors of row block 0 of this warpgroup's A rows and of all of B
  // in stage 0 at k-step 0; row block i adds (i * 64 * BK) >> 4, stage s,
  // k-step kk (s * STAGE + 32 * kk) >> 4.
  const uint64_t descA = wg_desc<128>(smem_addr(sA + S::row0(0) * BK)), descB = wg_desc<128>(smem_addr(sB));

  Acc acc[MT * NACC];
  wgmma_mainloop<STAGES, T::INFLIGHT, T::HOIST>(
      acc, ktiles,
      [&](int stage, int kt) {
        copy_stage<BK>(copyA, copyB, stage * A_STAGE, stage * B_STAGE, (long long)kt * BK, Kb, inside, col_bytes);
      },
      [&](Acc(&d)[MT * NACC], int st, int) {
#pragma unroll
        for (int kk = 0; kk < BK / 32; ++kk) {
#pragma unroll
          for (int i = 0; i < MT; ++i) {
            wg_mma<ELEM, BN>(wg_block<NACC>(d, i), descA + ((st * A_STAGE + i * 64 * BK + kk * 32) >> 4),
                             descB + ((st * B_STAGE + kk * 32) >> 4), 1);
          }
        }
      },
      NoHold{});

  wg_store<OUT, T>(e, bm, bn, acc);
}

// gemm_wgmma_sp is the 2:4 kernel body (the GEMMs of gemm_sp24.cu: same
// format, parameters and epilogues) on wgmma.mma_async.sp, structured as
// gemm_wgmma. A stage covers GC_SPGEMM_B_BYTES = 128 bytes of logical K, as
// in gemm_sp24.cu: compressed A, BM rows x 64 bytes with the 64-byte
// swizzle (swz64; rows past M read row M-1, whose metadata is valid and
// whose results are never stored); B, BN rows x 128 bytes (swz128, rows
// past N zero-filled); metadata, BM rows x 16 (int8) or 8 (halves) bytes,
// unswizzled, which each lane reads into its register with load_meta. Two
// sparse k-steps per stage: A + 32 bytes, B + 64 bytes, the next 8 (int8)
// or 4 (halves) metadata bytes. K is a multiple of the format's alignment,
// so every stage is whole.
template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_wgmma_sp(const uint8_t* __restrict__ Av, const uint8_t* __restrict__ Em,
                             const uint8_t* __restrict__ B, const Epi& e, long long K, long long ldv_b, long long lde,
                             long long ldb_b) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  typedef WgShape<T> S;
  constexpr int BM = T::BM, BN = T::BN, STAGES = T::STAGES, MT = S::MT, NACC = S::NACC;
  constexpr int AB = GC_SPGEMM_A_BYTES, BB = GC_SPGEMM_B_BYTES, MB = SpTraits<ELEM>::meta_bytes;
  constexpr int A_STAGE = BM * AB, B_STAGE = BN * BB, E_STAGE = BM * MB;
  static_assert(T::BK == BB, "128 bytes of logical K per stage");

  GC_DYNAMIC_SMEM(raw);
  uint8_t* smem = wg_smem(raw);
  uint8_t* sA = smem;
  uint8_t* sB = sA + STAGES * A_STAGE;
  uint8_t* sE = sB + STAGES * B_STAGE;

  const int tid = threadIdx.x;
  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const int ktiles = (int)(K * ElemTraits<ELEM>::bytes / BB);

  const RowChunks<BM, AB, true> copyA(sA, Av, ldv_b, bm, e.M);
  const RowChunks<BN, BB> copyB(sB, B, ldb_b, bn, e.N);
  const bool inside = bm + BM <= e.M && bn + BN <= e.N;
  const MetaCopy<BM, MB> copyE(sE, Em, lde, bm, e.M, tid);
  // Row block i of this warpgroup: A descriptor descA + (i * 64 * AB) >> 4.
  const uint64_t descA = wg_desc<AB>(smem_addr(sA + S::row0(0) * AB)), descB = wg_desc<BB>(smem_addr(sB));
  // This warp's 16 rows of row block 0 of the metadata tile (block i: + 64 i).
  const int meta_row = S::warp_row(0);
  // The metadata registers of a tile's two k-steps of each row block, one
  // set per parity of tile: they must hold until the wait that retires the
  // tile's group (wg_mma_sp), hence wg_hold after it: without it nothing
  // stops ptxas from giving them to other values between the issue and the
  // wait (the next k-step's descriptor arithmetic, the copies in the HOIST
  // shapes, the next tile's work with a group in flight). With INFLIGHT 0
  // only set 0 is used; with 1 the next tile loads the other set while this
  // one's group runs. e.M < 0 never holds: Validate refuses it.
  uint32_t em[2][2 * MT] = {};

  Acc acc[MT * NACC];
  const auto run = [&](auto load_tile) {
    wgmma_mainloop<STAGES, T::INFLIGHT, T::HOIST>(acc, ktiles, load_tile, [&](Acc(&d)[MT * NACC], int st, int q) {
      uint32_t(&m)[2 * MT] = em[q];
#pragma unroll
      for (int kk = 0; kk < 2; ++kk) {
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          m[2 * i + kk] = load_meta<ELEM>(sE + st * E_STAGE, meta_row + 64 * i, MB, kk * SpTraits<ELEM>::meta_step, 0);
        }
      }
#pragma unroll
      for (int kk = 0; kk < 2; ++kk) {
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          wg_mma_sp<ELEM, BN>(wg_block<NACC>(d, i), descA + ((st * A_STAGE + i * 64 * AB + kk * 32) >> 4),
                              descB + ((st * B_STAGE + kk * 64) >> 4), m[2 * i + kk], 1);
        }
      }
    }, [&](int q) { wg_hold(em[q], e.M < 0, smem_addr(sE)); });
  };
  // One main loop per kind of block, so that neither holds the other's
  // copy addresses: with one loop choosing per stage, w256x192's halves
  // kernels spilled (192 accumulators; 255 registers and 12 bytes of
  // spills, where two loops take 255 and none).
  if (inside) {
    run([&](int stage, int kt) {
      copyA.copy_whole(stage * A_STAGE, (long long)kt * AB);
      copyB.copy_whole(stage * B_STAGE, (long long)kt * BB);
      copyE.copy(stage, kt);
    });
  } else {
    run([&](int stage, int kt) {
      copyA.copy(stage * A_STAGE, (long long)kt * AB, 16);
      copyB.copy(stage * B_STAGE, (long long)kt * BB, 16);
      copyE.copy(stage, kt);
    });
  }

  wg_store<OUT, T>(e, bm, bn, acc);
}

// probe_run ends both probes below: it publishes the operands the thread's
// cp.asyncs copied, issues one wgmma (issue(d)) on zeroed accumulators d and
// writes them out as they are: D[thread * 64 + i].
template <typename Acc, typename Issue>
GC_DEVICE void probe_run(void* D, Issue issue) {
  cp_async_commit();
  cp_async_wait<0>();
  fence_proxy_async();
  __syncthreads();
  Acc d[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) d[i] = 0;
  wg_acc_fence(d);
  wg_fence();
  issue(d);
  wg_commit();
  wg_wait<0>();
  wg_acc_fence(d);
#pragma unroll
  for (int i = 0; i < 64; ++i) static_cast<Acc*>(D)[threadIdx.x * 64 + i] = d[i];
}

// wgmma_probe runs one wgmma k-step (kk, 0..3) of a 64 x 128 product on one
// warpgroup, with the operands in the GEMM's stage layout, and writes every
// thread's 64 accumulators as they are: D[thread * 64 + i]. A (64 rows) and
// B (128 rows) are row-major with 128-byte rows (one stage's K). The host
// (kerneltest.WgmmaProbeCase) compares with the layouts wgmma.cuh assumes
// and, where they differ, finds which elements the registers hold.
template <int ELEM>
GC_DEVICE void wgmma_probe(const uint8_t* A, const uint8_t* B, void* D, long long kk) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  GC_DYNAMIC_SMEM(raw);
  uint8_t* sA = wg_smem(raw);
  uint8_t* sB = sA + 64 * 128;
  for (int c = threadIdx.x; c < (64 + 128) * 8; c += 128) {
    const int row = c / 8, ch = c % 8;
    const bool isA = row < 64;
    const uint8_t* src = isA ? A + row * 128 + ch * 16 : B + (row - 64) * 128 + ch * 16;
    cp_async16(smem_addr(isA ? sA + swz128(row, ch) : sB + swz128(row - 64, ch)), src, 16);
  }
  probe_run<Acc>(D, [&](Acc(&d)[64]) {
    wg_mma<ELEM, 128>(d, wg_desc<128>(smem_addr(sA)) + ((kk * 32) >> 4), wg_desc<128>(smem_addr(sB)) + ((kk * 32) >> 4),
                      0);
  });
}

// wgmma_sp_probe is wgmma_probe for wgmma.mma_async.sp: one sparse k-step
// (kk, 0..1) of a 64 x 128 product from one 2:4 stage in the layout of
// gemm_wgmma_sp: Av 64 rows x 64 bytes of compressed A, Em 64 rows x 16
// (int8) or 8 (halves) bytes of metadata, B 128 rows x 128 bytes. variant
// picks load_meta's metadata layout (0: the GEMMs'; 1, 2: the int8
// alternatives).
template <int ELEM>
GC_DEVICE void wgmma_sp_probe(const uint8_t* Av, const uint8_t* Em, const uint8_t* B, void* D, long long kk,
                              int variant) {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  constexpr int AB = GC_SPGEMM_A_BYTES, BB = GC_SPGEMM_B_BYTES, MB = SpTraits<ELEM>::meta_bytes;
  GC_DYNAMIC_SMEM(raw);
  uint8_t* sA = wg_smem(raw);
  uint8_t* sB = sA + 64 * AB;
  uint8_t* sE = sB + 128 * BB;
  for (int c = threadIdx.x; c < 64 * AB / 16 + 128 * BB / 16; c += 128) {
    if (c < 64 * AB / 16) {
      cp_async16(smem_addr(sA + swz64(c / 4, c % 4)), Av + c * 16, 16);
    } else {
      const int b = c - 64 * AB / 16;
      cp_async16(smem_addr(sB + swz128(b / 8, b % 8)), B + b * 16, 16);
    }
  }
  if (threadIdx.x < 64 * MB / 8) cp_async8(smem_addr(sE + threadIdx.x * 8), Em + threadIdx.x * 8, 8);
  uint32_t em;  // outlives the wgmma that reads it (probe_run waits after issue returns)
  probe_run<Acc>(D, [&](Acc(&d)[64]) {
    em = load_meta<ELEM>(sE, (threadIdx.x >> 5) * 16, MB, (int)kk * SpTraits<ELEM>::meta_step, variant);
    wg_mma_sp<ELEM, 128>(d, wg_desc<AB>(smem_addr(sA)) + ((kk * 32) >> 4),
                         wg_desc<BB>(smem_addr(sB)) + ((kk * 64) >> 4), em, 0);
  });
}

}  // namespace gc

// gc_wgmma_sp_probe_s8 / _f16: see wgmma_sp_probe; one block of 128
// threads, 64 * 64 + 128 * 128 + 64 * 16 + 1024 bytes of dynamic shared
// memory.
extern "C" __global__ void __launch_bounds__(128, 1)
    gc_wgmma_sp_probe_s8(const void* Av, const void* Em, const void* B, void* D, long long kk, long long variant) {
  gc::wgmma_sp_probe<gc::ELEM_S8>(static_cast<const uint8_t*>(Av), static_cast<const uint8_t*>(Em),
                                  static_cast<const uint8_t*>(B), D, kk, (int)variant);
}
extern "C" __global__ void __launch_bounds__(128, 1)
    gc_wgmma_sp_probe_f16(const void* Av, const void* Em, const void* B, void* D, long long kk, long long variant) {
  gc::wgmma_sp_probe<gc::ELEM_F16>(static_cast<const uint8_t*>(Av), static_cast<const uint8_t*>(Em),
                                   static_cast<const uint8_t*>(B), D, kk, (int)variant);
}

// gc_wgmma_probe_s8 / _f16: see wgmma_probe; one block of 128 threads,
// (64 + 128) * 128 + 1024 bytes of dynamic shared memory.
extern "C" __global__ void __launch_bounds__(128, 1) gc_wgmma_probe_s8(const void* A, const void* B, void* D, long long kk) {
  gc::wgmma_probe<gc::ELEM_S8>(static_cast<const uint8_t*>(A), static_cast<const uint8_t*>(B), D, kk);
}
extern "C" __global__ void __launch_bounds__(128, 1) gc_wgmma_probe_f16(const void* A, const void* B, void* D, long long kk) {
  gc::wgmma_probe<gc::ELEM_F16>(static_cast<const uint8_t*>(A), static_cast<const uint8_t*>(B), D, kk);
}

// Entry points: GC_WGMMA_KERNEL defines BASE_TILE for one row of
// GC_WGMMA_TILES (parameters at GC_DENSE_ENTRY, gemm_dense.cuh),
// GC_WGMMA_SPARSE_KERNEL for one row of GC_WGMMA_SPARSE_TILES (at
// GC_SPARSE_ENTRY, sp24_meta.cuh).
#define GC_WGMMA_KERNEL(...) GC_DENSE_ENTRY(gc::gemm_wgmma, __VA_ARGS__)
#define GC_WGMMA_SPARSE_KERNEL(...) GC_SPARSE_ENTRY(gc::gemm_wgmma_sp, __VA_ARGS__)

GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)
