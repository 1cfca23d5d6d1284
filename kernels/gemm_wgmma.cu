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
//    (kt-1-F) % STAGES is free and is refilled with tile kt+P before tile
//    kt's wgmma is issued.
//  * The t shapes (GC_WGMMA_TMA_TILES, GC_WGMMA_SPARSE_TMA_TILES) fill the
//    stages with the TMA engine instead (gemm_wgmma_tma, gemm_wgmma_sp_tma;
//    tma.cuh): thread 0 issues a tile's box copies, counted on its stage's
//    mbarrier, and every thread waits for that barrier's phase before the
//    block barrier of the iteration (TmaRing); the invariant is the same.
//  * The p shapes (GC_WGMMA_WS_TILES, ...) add a producer warpgroup that
//    issues the copies, and full/empty mbarriers per stage in place of the
//    block barrier (WsRing, ws_mainloop); the m shapes (GC_WGMMA_MC_TILES,
//    ...) run them in clusters of GC_GEMM_CLUSTER blocks with vertically
//    adjacent tiles, each block's producer multicasting its share of the
//    common B tile into every block (tma_fill_b, WsTiles), and the q
//    shapes (GC_WGMMA_MQ_TILES, ...) in clusters of GC_GEMM_CLUSTER_Q
//    (InClusters). Their blocks
//    loop over tiles (WsTiles): one each in a grid of one block per tile,
//    several in a smaller grid (persistent blocks, GemmArgs.MaxBlocks).
//  * Epilogue: the accumulators go straight to global memory through
//    store_tile (common.cuh); per warp they are one m16 row of n8 tiles.
#include <type_traits>

#include "tma.cuh"
#include "wgmma.cuh"

// GC_CLUSTER_DIMS(N): the cluster dimensions of the m and q shapes' entry
// points (and of gc_cluster_probe), N blocks along x.
#define GC_CLUSTER_DIMS(N) __cluster_dims__(N, 1, 1)

namespace gc {

// NoHold is the retired() of the kernels whose wgmmas read no registers
// while they run.
struct NoHold {
  GC_DEVICE void operator()(int) const {}
};

// NoWait is the ready() of the kernels whose copies are all cp.async:
// cp.async.wait_group alone says a tile has landed.
struct NoWait {
  GC_DEVICE void operator()(int) const {}
};

// wgmma_mainloop is the pipeline of the kernels below, with F (0 or 1)
// wgmma groups left in flight (the invariant is in the file comment; the
// barrier of iteration kt orders both warpgroups' waits of iteration kt-1
// before the refill): load(stage, kt) starts the copies of tile kt into a
// stage, ready(kt) waits for those that cp.async.wait_group does not
// count (the TMA copies: TmaRing), mma(acc, stage, q) issues the stage's
// wgmma k-steps, and retired(q') runs after each wait
// (wg_hold of the registers the retired wgmmas read), and with F = 1 for
// both q' after the last wait. q is the tile's parity kt & 1 where per-parity registers
// are needed (PAIRS: F = 1 and a retired() other than NoHold), else 0; q'
// is that of the tile whose group the wait retired (kt - F). With PAIRS
// the loop is unrolled by two, so that q is a constant once the calls are
// inlined (per-parity registers stay registers). acc starts at zero; at
// the end every wgmma and every copy has completed.
template <int STAGES, int F, typename Acc, int N, typename Load, typename Mma, typename Retired,
          typename Ready = NoWait>
GC_DEVICE void wgmma_mainloop(Acc (&acc)[N], int ktiles, Load load, Mma mma, Retired retired, Ready ready = Ready()) {
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
    ready(kt);
    fence_proxy_async();
    __syncthreads();
    refill(kt);
    wg_acc_fence(acc);
    wg_fence();
    mma(acc, kt % STAGES, q);
    wg_commit();
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
  static_assert(!T::HOIST, "no HOIST schedule in the wgmma kernels");
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

// tma_fill_b copies B's box at byte x, rows bn.. (B_STAGE bytes, BN rows of
// 128 bytes) to sB, counted on bar: in a cluster of CLUSTER blocks, the
// calling block's 1/CLUSTER of the rows (the map's box has that many) to
// the same rows of sB in every block of the cluster.
template <int CLUSTER, int B_STAGE, int BN>
GC_DEVICE void tma_fill_b(uint8_t* sB, const TensorMap& mB, int x, long long bn, saddr_t bar) {
  if (CLUSTER == 1) {
    tma_load_2d(smem_addr(sB), mB, x, (int)bn, bar);
  } else {
    static_assert(BN % (8 * CLUSTER) == 0, "each share whole 8-row swizzle atoms");
    const int r = cluster_rank();
    tma_load_2d_multicast(smem_addr(sB + r * (B_STAGE / CLUSTER)), mB, x, (int)bn + r * (BN / CLUSTER), bar,
                          (uint16_t)((1 << CLUSTER) - 1));
  }
}

// WgDense is what the dense kernels below share: the shared-memory layout
// (STAGES stages of A[BM][128 bytes] then B[BN][128 bytes], swz128), the
// descriptors, and stage(), which issues one stage's BK/32 k-steps, each
// one wgmma per row block on the same B. descA is the descriptor of row
// block 0 of this warpgroup's A rows in stage 0 at k-step 0 (row block i
// adds (i * 64 * BK) >> 4), descB that of B; stage s adds (s * STAGE) >>
// 4, k-step kk (32 * kk) >> 4.
template <int ELEM, typename T>
struct WgDense {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  typedef WgShape<T> S;
  static constexpr int BM = T::BM, BN = T::BN, BK = T::BK, MT = S::MT, NACC = S::NACC;
  static constexpr int A_STAGE = BM * BK, B_STAGE = BN * BK;
  static_assert(BK == 128, "128-byte swizzled rows");

  uint8_t *sA, *sB;
  uint64_t descA, descB;

  GC_DEVICE explicit WgDense(uint8_t* smem)
      : sA(smem),
        sB(smem + T::STAGES * A_STAGE),
        descA(wg_desc<128>(smem_addr(smem + S::row0(0) * BK))),
        descB(wg_desc<128>(smem_addr(smem + T::STAGES * A_STAGE))) {}

  // tma_fill (one thread) copies tile kt of A (rows bm..) and B (rows
  // bn..) into stage st with the TMA engine, the bytes counted on bar: the
  // boxes at byte kt * BK, one expect for both. In a cluster of CLUSTER
  // blocks (whose tiles share bn) B's box is 1/CLUSTER of its rows, the
  // calling block's share, multicast to every block (tma_fill_b).
  template <int CLUSTER = 1>
  GC_DEVICE void tma_fill(const TensorMap& mA, const TensorMap& mB, saddr_t bar, int st, int kt, long long bm,
                          long long bn) const {
    mbar_arrive_expect_tx(bar, A_STAGE + B_STAGE);
    tma_load_2d(smem_addr(sA + st * A_STAGE), mA, kt * BK, (int)bm, bar);
    tma_fill_b<CLUSTER, B_STAGE, BN>(sB + st * B_STAGE, mB, kt * BK, bn, bar);
  }

  // ring_barriers: the mbarriers of the p, m and q shapes (WsRing), past the
  // stages.
  GC_DEVICE uint64_t* ring_barriers() const { return reinterpret_cast<uint64_t*>(sB + T::STAGES * B_STAGE); }

  GC_DEVICE void stage(Acc (&d)[MT * NACC], int st) const {
#pragma unroll
    for (int kk = 0; kk < BK / 32; ++kk) {
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        wg_mma<ELEM, BN>(wg_block<NACC>(d, i), descA + ((st * A_STAGE + i * 64 * BK + kk * 32) >> 4),
                         descB + ((st * B_STAGE + kk * 32) >> 4), 1);
      }
    }
  }
};

template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_wgmma(const uint8_t* __restrict__ A, const uint8_t* __restrict__ B, const Epi& e, long long K,
                          long long lda_b, long long ldb_b) {
  typedef WgDense<ELEM, T> W;
  typedef typename W::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, MT = W::MT;

  GC_DYNAMIC_SMEM(raw);
  const W w(wg_smem(raw));

  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const long long Kb = K * ElemTraits<ELEM>::bytes;
  const int ktiles = (int)((Kb + BK - 1) / BK);

  const RowChunks<BM, BK> copyA(w.sA, A, lda_b, bm, e.M);
  const RowChunks<BN, BK> copyB(w.sB, B, ldb_b, bn, e.N);
  const int col_bytes = copyA.column() * 16;
  const bool inside = bm + BM <= e.M && bn + BN <= e.N;

  Acc acc[MT * W::NACC];
  wgmma_mainloop<T::STAGES, T::INFLIGHT>(
      acc, ktiles,
      [&](int stage, int kt) {
        copy_stage<BK>(copyA, copyB, stage * W::A_STAGE, stage * W::B_STAGE, (long long)kt * BK, Kb, inside, col_bytes);
      },
      [&](Acc(&d)[MT * W::NACC], int st, int) { w.stage(d, st); }, NoHold{});

  wg_store<OUT, T>(e, bm, bn, acc);
}

// TmaRing is the TMA side of the t shapes' pipeline: one mbarrier per stage
// in full (one arrival per phase: thread 0's arrive.expect_tx of the
// stage's bytes, before it issues the stage's copies), and the wait of
// every thread for the phase that tile kt's copies complete, the
// (kt / STAGES)-th of stage kt % STAGES. No thread can fall two phases
// behind the barrier it waits on: thread 0 refills a stage only after the
// block barrier that follows every thread's wait for the stage's previous
// tile.
template <int STAGES>
struct TmaRing {
  saddr_t bar0;  // the barrier of stage s is at bar0 + 8 s
  GC_DEVICE explicit TmaRing(uint64_t (&full)[STAGES]) : bar0(smem_addr(&full[0])) {
    if (threadIdx.x == 0) {
      for (int s = 0; s < STAGES; ++s) mbar_init(bar0 + 8 * s, 1);
      fence_mbar_init();
    }
    __syncthreads();
  }
  GC_DEVICE saddr_t bar(int stage) const { return bar0 + 8 * stage; }
  // wait blocks until tile kt's copies have landed.
  GC_DEVICE void wait(int kt) const { mbar_wait(bar(kt % STAGES), (kt / STAGES) & 1); }
};

// gemm_wgmma_tma is gemm_wgmma with the operands copied by TMA (tensor maps
// mA and mB of A and B as byte arrays: GemmArgs.tmaMaps in gobind): thread 0 issues
// a stage's two box copies (the 128-byte swizzle lands them as swz128
// does; rows and bytes past the matrices land as zeros), every thread
// waits for the stage's mbarrier phase. No bounds logic, no per-thread
// copy addresses.
template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_wgmma_tma(const TensorMap& mA, const TensorMap& mB, const Epi& e, long long K) {
  typedef WgDense<ELEM, T> W;
  typedef typename W::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, MT = W::MT, STAGES = T::STAGES;

  GC_DYNAMIC_SMEM(raw);
  const W w(wg_smem(raw));
  __shared__ uint64_t full[STAGES];
  const TmaRing<STAGES> ring(full);

  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const int ktiles = (int)((K * ElemTraits<ELEM>::bytes + BK - 1) / BK);

  Acc acc[MT * W::NACC];
  wgmma_mainloop<STAGES, T::INFLIGHT>(
      acc, ktiles,
      [&](int stage, int kt) {
        if (threadIdx.x == 0) w.tma_fill(mA, mB, ring.bar(stage), stage, kt, bm, bn);
      },
      [&](Acc(&d)[MT * W::NACC], int st, int) { w.stage(d, st); }, NoHold{}, [&](int kt) { ring.wait(kt); });

  wg_store<OUT, T>(e, bm, bn, acc);
}

// WgSparse is what the 2:4 kernels below share: the shared-memory layout
// of a stage (compressed A, BM rows x 64 bytes with the 64-byte swizzle
// (swz64); B, BN rows x 128 bytes (swz128); metadata, BM rows x 16 (int8)
// or 8 (halves) bytes, unswizzled, which each lane reads into its
// register with load_meta), the descriptors, and stage(), which issues a
// stage's two sparse k-steps: A + 32 bytes, B + 64 bytes, the next 8
// (int8) or 4 (halves) metadata bytes.
template <int ELEM, typename T>
struct WgSparse {
  typedef typename ElemTraits<ELEM>::Acc Acc;
  typedef WgShape<T> S;
  static constexpr int BM = T::BM, BN = T::BN, MT = S::MT, NACC = S::NACC;
  static constexpr int AB = GC_SPGEMM_A_BYTES, BB = GC_SPGEMM_B_BYTES, MB = SpTraits<ELEM>::meta_bytes;
  static constexpr int A_STAGE = BM * AB, B_STAGE = BN * BB, E_STAGE = BM * MB;
  static_assert(T::BK == BB, "128 bytes of logical K per stage");

  uint8_t *sA, *sB, *sE;
  // Row block i of this warpgroup: A descriptor descA + (i * 64 * AB) >> 4.
  uint64_t descA, descB;
  // This warp's 16 rows of row block 0 of the metadata tile (block i: + 64 i).
  int meta_row;

  GC_DEVICE explicit WgSparse(uint8_t* smem)
      : sA(smem),
        sB(smem + T::STAGES * A_STAGE),
        sE(smem + T::STAGES * (A_STAGE + B_STAGE)),
        descA(wg_desc<AB>(smem_addr(smem + S::row0(0) * AB))),
        descB(wg_desc<BB>(smem_addr(smem + T::STAGES * A_STAGE))),
        meta_row(S::warp_row(0)) {}

  // tma_fill (one thread) copies tile kt of the compressed A (64-byte
  // boxes, the 64-byte swizzle) and of B (128 bytes a stage) into stage st,
  // counted on bar; not the metadata. (B as in WgDense::tma_fill.) A's map
  // (gobind SparseGemmArgs.tmaMaps) has the values row by row when their
  // k-tile stride ldvk is AB: tile kt is AB bytes further along rows bm..;
  // else k tile by k tile in rows of AB bytes: tile kt's rows start
  // kt ldvk / AB rows on.
  template <int CLUSTER = 1>
  GC_DEVICE void tma_fill(const TensorMap& mA, const TensorMap& mB, saddr_t bar, int st, int kt, long long bm,
                          long long bn, int ldvk) const {
    mbar_arrive_expect_tx(bar, A_STAGE + B_STAGE);
    const bool rows = ldvk == AB;
    tma_load_2d(smem_addr(sA + st * A_STAGE), mA, rows ? kt * AB : 0, (int)(rows ? bm : bm + kt * (ldvk / AB)), bar);
    tma_fill_b<CLUSTER, B_STAGE, BN>(sB + st * B_STAGE, mB, kt * BB, bn, bar);
  }

  // ring_barriers as in WgDense, past the metadata stages.
  GC_DEVICE uint64_t* ring_barriers() const { return reinterpret_cast<uint64_t*>(sE + T::STAGES * E_STAGE); }

  // stage issues stage st's wgmma.sp k-steps, with m the metadata
  // registers of the tile's parity (see gemm_wgmma_sp).
  GC_DEVICE void stage(Acc (&d)[MT * NACC], int st, uint32_t (&m)[2 * MT]) const {
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
  }
};

// gemm_wgmma_sp is the 2:4 kernel body (the GEMMs of gemm_sp24.cu: same
// format, parameters and epilogues) on wgmma.mma_async.sp, structured as
// gemm_wgmma, with WgSparse's stage layout. A stage covers
// GC_SPGEMM_B_BYTES = 128 bytes of logical K, as in gemm_sp24.cu: rows of
// A past M read row M-1, whose metadata is valid and whose results are
// never stored; rows of B past N are zero-filled. K is a multiple of the
// format's alignment, so every stage is whole.
template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_wgmma_sp(const uint8_t* __restrict__ Av, const uint8_t* __restrict__ Em,
                             const uint8_t* __restrict__ B, const Epi& e, long long K, long long ldv_b, int ldvk,
                             long long lde, long long ldek, long long ldb_b) {
  typedef WgSparse<ELEM, T> W;
  typedef typename W::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, MT = W::MT;

  GC_DYNAMIC_SMEM(raw);
  const W w(wg_smem(raw));

  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const int ktiles = (int)(K * ElemTraits<ELEM>::bytes / W::BB);

  const RowChunks<BM, W::AB, true> copyA(w.sA, Av, ldv_b, bm, e.M);
  const RowChunks<BN, W::BB> copyB(w.sB, B, ldb_b, bn, e.N);
  const bool inside = bm + BM <= e.M && bn + BN <= e.N;
  const MetaCopy<BM, W::MB> copyE(w.sE, Em, lde, ldek, bm, e.M, threadIdx.x);
  // The metadata registers of a tile's two k-steps of each row block, one
  // set per parity of tile: they must hold until the wait that retires the
  // tile's group (wg_mma_sp), hence wg_hold after it: without it nothing
  // stops ptxas from giving them to other values between the issue and the
  // wait (the next k-step's descriptor arithmetic, the next tile's work
  // with a group in flight). With INFLIGHT 0
  // only set 0 is used; with 1 the next tile loads the other set while this
  // one's group runs. e.M < 0 never holds: Validate refuses it.
  uint32_t em[2][2 * MT] = {};

  Acc acc[MT * W::NACC];
  const auto run = [&](auto load_tile) {
    wgmma_mainloop<T::STAGES, T::INFLIGHT>(
        acc, ktiles, load_tile, [&](Acc(&d)[MT * W::NACC], int st, int q) { w.stage(d, st, em[q]); },
        [&](int q) { wg_hold(em[q], e.M < 0, smem_addr(w.sE)); });
  };
  // One main loop per kind of block, so that neither holds the other's
  // copy addresses: with one loop choosing per stage, w256x192's halves
  // kernels spilled (192 accumulators; 255 registers and 12 bytes of
  // spills, where two loops take 255 and none).
  if (inside) {
    run([&](int stage, int kt) {
      copyA.copy_whole(stage * W::A_STAGE, kt * ldvk);
      copyB.copy_whole(stage * W::B_STAGE, (long long)kt * W::BB);
      copyE.copy(stage, kt);
    });
  } else {
    run([&](int stage, int kt) {
      copyA.copy(stage * W::A_STAGE, kt * ldvk, 16);
      copyB.copy(stage * W::B_STAGE, (long long)kt * W::BB, 16);
      copyE.copy(stage, kt);
    });
  }

  wg_store<OUT, T>(e, bm, bn, acc);
}

// gemm_wgmma_sp_tma is gemm_wgmma_sp with the compressed A (map mA: 64-byte
// boxes, the 64-byte swizzle) and B (mB: 128-byte boxes, the 128-byte
// swizzle) copied by TMA as in gemm_wgmma_tma; the metadata still goes by
// cp.async (a halves stage has 8 bytes of it per row, under TMA's 16-byte
// minimum box row). Rows of A past M land as zeros, or with the values k
// tile by k tile as the padding rows after the k tile's and then the next
// k tile's rows (tma_fill); either way their metadata, read from row M-1,
// is valid and their results are never stored.
template <int ELEM, int OUT, typename T>
GC_DEVICE void gemm_wgmma_sp_tma(const TensorMap& mA, const TensorMap& mB, const uint8_t* __restrict__ Em,
                                 const Epi& e, long long K, int ldvk, long long lde, long long ldek) {
  typedef WgSparse<ELEM, T> W;
  typedef typename W::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, MT = W::MT, STAGES = T::STAGES;

  GC_DYNAMIC_SMEM(raw);
  const W w(wg_smem(raw));
  __shared__ uint64_t full[STAGES];
  const TmaRing<STAGES> ring(full);

  int pm, pn;
  tile_of<BM, BN>(e.M, e.N, pm, pn);
  const long long bm = (long long)pm * BM, bn = (long long)pn * BN;
  const int ktiles = (int)(K * ElemTraits<ELEM>::bytes / W::BB);
  const MetaCopy<BM, W::MB> copyE(w.sE, Em, lde, ldek, bm, e.M, threadIdx.x);
  uint32_t em[2][2 * MT] = {};  // as in gemm_wgmma_sp

  Acc acc[MT * W::NACC];
  wgmma_mainloop<STAGES, T::INFLIGHT>(
      acc, ktiles,
      [&](int stage, int kt) {
        if (threadIdx.x == 0) w.tma_fill(mA, mB, ring.bar(stage), stage, kt, bm, bn, ldvk);
        copyE.copy(stage, kt);
      },
      [&](Acc(&d)[MT * W::NACC], int st, int q) { w.stage(d, st, em[q]); },
      [&](int q) { wg_hold(em[q], e.M < 0, smem_addr(w.sE)); }, [&](int kt) { ring.wait(kt); });

  wg_store<OUT, T>(e, bm, bn, acc);
}

// The p shapes (GC_WGMMA_WS_TILES, GC_WGMMA_SPARSE_WS_TILES) are the t
// shapes warp-specialised: blocks of GC_GEMM_WS_THREADS = 384 threads,
// the two warpgroups of the other shapes (threads 0..255, the consumers:
// wgmma and epilogue, unchanged) and a producer warpgroup (256..383) that
// copies the stages. No block barrier in the main loop: per stage a "full"
// mbarrier says the stage has landed and an "empty" one that every
// consumer warp is done with it (WsRing). The producer gives its registers to
// the consumers (setmaxnreg): 128 x 40 + 256 x 232 <= 64K.
constexpr int kWsProducerRegs = 40, kWsConsumerRegs = 232;
static_assert(128 * kWsProducerRegs + GC_GEMM_THREADS * kWsConsumerRegs <= 65536, "the SM's register file");

// WsTiles walks the tiles a block of the p, m and q shapes computes: its own,
// then every (gridDim.x / CLUSTER)-th after it, in tile_at's order of
// (CLUSTER BM) x BN tiles, of which the block of rank r of a cluster takes
// the r-th BM rows (so the blocks of a cluster share their B tile; the grid
// has the tile rows rounded up to whole clusters, gobind Tile.Blocks, and a
// block past M computes on what its boxes hold there, zeros or, for 2:4
// values k tile by k tile, other rows, and stores nothing). A grid of one block
// (cluster) per tile runs one each; a smaller one (GemmArgs.MaxBlocks:
// persistent blocks) runs several, so a block's next tile starts filling
// its stages while its consumers store the last one.
template <int BM, int BN, int CLUSTER>
struct WsTiles {
  long long M, N, tiles, t;
  GC_DEVICE WsTiles(long long M_, long long N_)
      : M(M_), N(N_), tiles(((M_ + CLUSTER * BM - 1) / (CLUSTER * BM)) * ((N_ + BN - 1) / BN)), t(blockIdx.x / CLUSTER) {}
  // next sets the next tile's row and column (in BM x BN tiles); false
  // when there is none.
  GC_DEVICE bool next(int& pm, int& pn) {
    if (t >= tiles) return false;
    tile_at<CLUSTER * BM, BN>(M, N, (int)t, pm, pn);
    pm = pm * CLUSTER + (CLUSTER > 1 ? (int)cluster_rank() : 0);
    t += gridDim.x / CLUSTER;
    return true;
  }
};

// WsRing is the pipeline of the p, m and q shapes, 2 STAGES mbarriers at
// bars (in the dynamic shared memory, past the stages: ring_barriers):
// full[s] completes a phase when the producer's arrive.expect_tx and
// full_count - 1 other arrivals are in and the stage's bytes have landed;
// empty[s] when every consumer warp of the CLUSTER blocks has released the
// stage (one arrival each once the warp has waited for its wgmmas: with
// CLUSTER > 1 in every block of the cluster, whose producers all write
// into each block's stage). Fills are counted across the block's
// tiles (WsTiles): g = the tile's first fill + its k tile. The producer
// makes fill g into stage g % STAGES after empty's phase g / STAGES - 1
// (the consumers released fill g - STAGES); the consumers compute on it
// after full's phase g / STAGES. Neither side can get two phases ahead of
// the other, so a parity names a phase. In a cluster the producer drains the ring
// before its block may exit: it waits until every block's consumers have
// released every stage, so no arrival of the other block's consumers and
// no copy of its own into the other block is still to come.
template <int STAGES, int CLUSTER>
struct WsRing {
  static constexpr int kStages = STAGES;
  static constexpr int CONSUMER_WARPS = GC_GEMM_THREADS / 32;
  saddr_t full0, empty0;  // stage s: + 8 s
  int ktiles;
  GC_DEVICE WsRing(uint64_t* bars, int full_count, int ktiles_)
      : full0(smem_addr(bars)), empty0(smem_addr(bars + STAGES)), ktiles(ktiles_) {
    if (threadIdx.x == 0) {
      for (int s = 0; s < STAGES; ++s) {
        mbar_init(full0 + 8 * s, full_count);
        mbar_init(empty0 + 8 * s, CLUSTER * CONSUMER_WARPS);
      }
      fence_mbar_init();
    }
    // Every block's barriers initialised before any block's copies or
    // arrivals reach them.
    if (CLUSTER == 1) {
      __syncthreads();
    } else {
      cluster_sync();
    }
  }
  // full is the barrier that counts tile kt's copies.
  GC_DEVICE saddr_t full(int kt) const { return full0 + 8 * (kt % STAGES); }
  // acquire (producer) blocks until tile kt's stage is free.
  GC_DEVICE void acquire(int kt) const {
    if (kt >= STAGES) mbar_wait(empty0 + 8 * (kt % STAGES), (kt / STAGES - 1) & 1);
  }
  // drain (the producer thread that acquires, after its last stage fill,
  // the end-th): in a cluster, blocks until the stages of the last STAGES
  // fills are released too.
  GC_DEVICE void drain(int end) const {
    if (CLUSTER > 1) {
      for (int g = end; g < end + STAGES; ++g) acquire(g);
    }
  }
  // wait (consumer) blocks until tile kt has landed.
  GC_DEVICE void wait(int kt) const { mbar_wait(full(kt), (kt / STAGES) & 1); }
  // release (every consumer thread, once it has waited for tile kt's
  // wgmmas): the calling warp is done with tile kt's stage. In a cluster
  // lane c arrives in block c, so the warp's arrivals go out at once.
  GC_DEVICE void release(int kt) const {
    __syncwarp();
    const int lane = threadIdx.x & 31;
    const saddr_t bar = empty0 + 8 * (kt % STAGES);
    if (CLUSTER == 1) {
      if (lane == 0) mbar_arrive(bar);
    } else if (lane < CLUSTER) {
      mbar_arrive_cluster(bar, lane);
    }
  }
};

// ws_mainloop is the consumers' side of the p, m and q shapes for one tile,
// whose k tiles are the ring's fills g0..: wgmma_mainloop without copies
// or block barriers. Iteration kt waits for fill g0 + kt, issues its
// wgmmas (mma, as there), waits until F groups remain, runs retired() for
// the k tile that wait retired (kt - F) and then releases its stage; the
// last wait retires and releases the rest.
template <int F, typename Ring, typename Acc, int N, typename Mma, typename Retired>
GC_DEVICE void ws_mainloop(Acc (&acc)[N], const Ring& ring, int g0, Mma mma, Retired retired) {
  constexpr int STAGES = Ring::kStages;
  static_assert(F == 0 || F == 1, "at most one group in flight");
  static_assert(STAGES >= F + 2, "a stage computed on, F in flight, one or more being filled");
  constexpr bool PAIRS = F == 1 && !std::is_same<Retired, NoHold>::value;
#pragma unroll
  for (int i = 0; i < N; ++i) acc[i] = 0;
  const int ktiles = ring.ktiles;
  const auto step = [&](int kt, int q) {
    ring.wait(g0 + kt);
    wg_acc_fence(acc);
    wg_fence();
    mma(acc, (g0 + kt) % STAGES, q);
    wg_commit();
    wg_wait<F>();
    wg_acc_fence(acc);
    retired((q + F) & 1);
    if (kt >= F) ring.release(g0 + kt - F);
  };
  if (PAIRS) {  // as in wgmma_mainloop: the odd last tile after the loop
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
  if (F == 1) {
    retired(0);
    retired(1);
    if (ktiles > 0) ring.release(g0 + ktiles - 1);
  }
}

// gemm_wgmma_ws is gemm_wgmma_tma warp-specialised: thread 256 issues every
// tile's boxes as soon as its stage is free, the consumers run ws_mainloop.
// With CLUSTER > 1 (the m shapes) the blocks of a cluster compute
// vertically adjacent tiles (WsTiles) and share B's boxes.
template <int ELEM, int OUT, typename T, int CLUSTER = 1>
GC_DEVICE void gemm_wgmma_ws(const TensorMap& mA, const TensorMap& mB, const Epi& e, long long K) {
  typedef WgDense<ELEM, T> W;
  typedef typename W::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, BK = T::BK, MT = W::MT, STAGES = T::STAGES;

  GC_DYNAMIC_SMEM(raw);
  const W w(wg_smem(raw));
  const int ktiles = (int)((K * ElemTraits<ELEM>::bytes + BK - 1) / BK);
  const WsRing<STAGES, CLUSTER> ring(w.ring_barriers(), 1, ktiles);

  if (threadIdx.x >= GC_GEMM_THREADS) {
    setmaxnreg_dec<kWsProducerRegs>();
    if (threadIdx.x == GC_GEMM_THREADS) {
      int g = 0, pm, pn;
      for (WsTiles<BM, BN, CLUSTER> tiles(e.M, e.N); tiles.next(pm, pn);) {
        for (int kt = 0; kt < ktiles; ++kt, ++g) {
          ring.acquire(g);
          w.template tma_fill<CLUSTER>(mA, mB, ring.full(g), g % STAGES, kt, (long long)pm * BM, (long long)pn * BN);
        }
      }
      ring.drain(g);
    }
    return;
  }
  setmaxnreg_inc<kWsConsumerRegs>();
  Acc acc[MT * W::NACC];
  int g0 = 0, pm, pn;
  for (WsTiles<BM, BN, CLUSTER> tiles(e.M, e.N); tiles.next(pm, pn); g0 += ktiles) {
    ws_mainloop<T::INFLIGHT>(
        acc, ring, g0, [&](Acc(&d)[MT * W::NACC], int st, int) { w.stage(d, st); }, NoHold{});
    wg_store<OUT, T>(e, (long long)pm * BM, (long long)pn * BN, acc);
  }
}

// gemm_wgmma_sp_ws is gemm_wgmma_sp_tma warp-specialised: the producer's
// thread 0 issues the boxes of A and B, and each of its 128 threads copies
// the metadata of one or two A rows by cp.async, whose landing it ties to
// the stage's full barrier (cp.async.mbarrier.arrive: full counts 1 + 128
// arrivals). CLUSTER as in gemm_wgmma_ws.
template <int ELEM, int OUT, typename T, int CLUSTER = 1>
GC_DEVICE void gemm_wgmma_sp_ws(const TensorMap& mA, const TensorMap& mB, const uint8_t* __restrict__ Em,
                                const Epi& e, long long K, int ldvk, long long lde, long long ldek) {
  typedef WgSparse<ELEM, T> W;
  typedef typename W::Acc Acc;
  constexpr int BM = T::BM, BN = T::BN, MT = W::MT, STAGES = T::STAGES;
  constexpr int PRODUCERS = GC_GEMM_WS_THREADS - GC_GEMM_THREADS;
  static_assert(BM <= 2 * PRODUCERS, "one or two metadata rows per producer thread");

  GC_DYNAMIC_SMEM(raw);
  const W w(wg_smem(raw));
  const int ktiles = (int)(K * ElemTraits<ELEM>::bytes / W::BB);
  const WsRing<STAGES, CLUSTER> ring(w.ring_barriers(), 1 + PRODUCERS, ktiles);

  if (threadIdx.x >= GC_GEMM_THREADS) {
    setmaxnreg_dec<kWsProducerRegs>();
    const int p = threadIdx.x - GC_GEMM_THREADS;
    int g = 0, pm, pn;
    for (WsTiles<BM, BN, CLUSTER> tiles(e.M, e.N); tiles.next(pm, pn);) {
      const long long bm = (long long)pm * BM;
      const MetaCopy<BM, W::MB> copyE0(w.sE, Em, lde, ldek, bm, e.M, p),
          copyE1(w.sE, Em, lde, ldek, bm, e.M, p + PRODUCERS);
      for (int kt = 0; kt < ktiles; ++kt, ++g) {
        ring.acquire(g);
        if (p == 0) w.template tma_fill<CLUSTER>(mA, mB, ring.full(g), g % STAGES, kt, bm, (long long)pn * BN, ldvk);
        copyE0.copy(g % STAGES, kt);
        copyE1.copy(g % STAGES, kt);
        cp_async_mbar_arrive(ring.full(g));
      }
    }
    cp_async_wait<0>();
    if (p == 0) ring.drain(g);
    return;
  }
  setmaxnreg_inc<kWsConsumerRegs>();
  uint32_t em[2][2 * MT] = {};  // as in gemm_wgmma_sp
  Acc acc[MT * W::NACC];
  int g0 = 0, pm, pn;
  for (WsTiles<BM, BN, CLUSTER> tiles(e.M, e.N); tiles.next(pm, pn); g0 += ktiles) {
    ws_mainloop<T::INFLIGHT>(
        acc, ring, g0, [&](Acc(&d)[MT * W::NACC], int st, int q) { w.stage(d, st, em[q]); },
        [&](int q) { wg_hold(em[q], e.M < 0, smem_addr(w.sE)); });
    wg_store<OUT, T>(e, (long long)pm * BM, (long long)pn * BN, acc);
  }
}

// InClusters<CLUSTER> holds the m and q shapes' bodies: the p shapes' in
// clusters of CLUSTER blocks (GC_GEMM_CLUSTER, GC_GEMM_CLUSTER_Q).
template <int CLUSTER>
struct InClusters {
  template <int ELEM, int OUT, typename T>
  static GC_DEVICE void dense(const TensorMap& mA, const TensorMap& mB, const Epi& e, long long K) {
    gemm_wgmma_ws<ELEM, OUT, T, CLUSTER>(mA, mB, e, K);
  }
  template <int ELEM, int OUT, typename T>
  static GC_DEVICE void sparse(const TensorMap& mA, const TensorMap& mB, const uint8_t* __restrict__ Em, const Epi& e,
                               long long K, int ldvk, long long lde, long long ldek) {
    gemm_wgmma_sp_ws<ELEM, OUT, T, CLUSTER>(mA, mB, Em, e, K, ldvk, lde, ldek);
  }
};

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

// tma_probe copies two boxes of map (bytes each), at byte x0, row y0 and
// then at x1, y1, into shared memory through one mbarrier (phases 0 and
// 1) and writes the shared bytes out as they are, swizzle and zero fill
// included: out[0..bytes) the first, out[bytes..2 bytes) the second. The
// host (kerneltest.TmaProbeCase) compares them with the layout tma.cuh
// describes.
GC_DEVICE void tma_probe(const TensorMap& map, uint8_t* out, int x0, int y0, int x1, int y1, int bytes) {
  GC_DYNAMIC_SMEM(raw);
  uint8_t* box = wg_smem(raw);
  __shared__ uint64_t bar;  // the mbarrier (8-byte aligned as its type)
  const saddr_t b = smem_addr(&bar);
  if (threadIdx.x == 0) {
    mbar_init(b, 1);
    fence_mbar_init();
  }
  __syncthreads();
  for (int phase = 0; phase < 2; ++phase) {
    if (threadIdx.x == 0) {
      mbar_arrive_expect_tx(b, bytes);
      tma_load_2d(smem_addr(box), map, phase ? x1 : x0, phase ? y1 : y0, b);
    }
    mbar_wait(b, phase);
    for (int i = threadIdx.x; i < bytes; i += blockDim.x) out[phase * bytes + i] = box[i];
    __syncthreads();  // every read of the box before the next copy overwrites it
  }
}

// cluster_probe checks what the m shapes take from thread-block clusters,
// in one cluster of GC_GEMM_CLUSTER blocks: block r copies map's box at
// byte x, row y + r rows (bytes each) by one multicast into box r of every
// block's shared memory, counted on every block's barrier (which expects
// all the boxes); each block writes its boxes out as they landed
// (out[r * CLUSTER bytes ..]) and then arrives on an "ack" barrier in every
// block of the cluster (mapa + remote arrive) and waits for its own: the
// probe ends only if every block's arrivals reached every other. The host
// (gobind.Harness.RunClusterProbe) compares each block's boxes with the
// box of CLUSTER rows at x, y.
GC_DEVICE void cluster_probe(const TensorMap& map, uint8_t* out, int x, int y, int rows, int bytes) {
  constexpr int CLUSTER = GC_GEMM_CLUSTER;
  GC_DYNAMIC_SMEM(raw);
  uint8_t* boxes = wg_smem(raw);
  uint64_t* bars = reinterpret_cast<uint64_t*>(boxes + CLUSTER * bytes);  // landed, ack
  const saddr_t landed = smem_addr(&bars[0]), ack = smem_addr(&bars[1]);
  const int r = cluster_rank();
  if (threadIdx.x == 0) {
    mbar_init(landed, 1);
    mbar_init(ack, CLUSTER);
    fence_mbar_init();
  }
  cluster_sync();
  if (threadIdx.x == 0) {
    mbar_arrive_expect_tx(landed, CLUSTER * bytes);
    tma_load_2d_multicast(smem_addr(boxes + r * bytes), map, x, y + r * rows, landed, (uint16_t)((1 << CLUSTER) - 1));
  }
  mbar_wait(landed, 0);
  for (int i = threadIdx.x; i < CLUSTER * bytes; i += blockDim.x) out[r * CLUSTER * bytes + i] = boxes[i];
  if (threadIdx.x == 0) {
    for (int c = 0; c < CLUSTER; ++c) mbar_arrive_cluster(ack, c);
  }
  mbar_wait(ack, 0);
}

}  // namespace gc

// GC_WGMMA_PART selects one of two halves of the entry points below (about
// half the PTX each), so that the build compiles both at once (Makefile):
// 0, the probes, the int8 GEMMs and the dense halves -> f32 ones; 1, the
// rest. Unset (-1): all of them, as the emulator compiles them.
#ifndef GC_WGMMA_PART
#define GC_WGMMA_PART -1
#endif

#if GC_WGMMA_PART != 1
// gc_tma_probe: see tma_probe; one block of 128 threads, the box's bytes +
// 1024 of dynamic shared memory.
extern "C" __global__ void __launch_bounds__(128, 1)
    gc_tma_probe(const __grid_constant__ gc::TensorMap map, void* out, long long x0, long long y0, long long x1,
                 long long y1, long long bytes) {
  gc::tma_probe(map, static_cast<uint8_t*>(out), (int)x0, (int)y0, (int)x1, (int)y1, (int)bytes);
}

// gc_cluster_probe: see cluster_probe; one cluster of GC_GEMM_CLUSTER
// blocks of 128 threads, GC_GEMM_CLUSTER boxes + 1024 + 16 bytes of dynamic
// shared memory.
extern "C" __global__ void GC_CLUSTER_DIMS(GC_GEMM_CLUSTER) __launch_bounds__(128, 1)
    gc_cluster_probe(const __grid_constant__ gc::TensorMap map, void* out, long long x, long long y, long long rows,
                     long long bytes) {
  gc::cluster_probe(map, static_cast<uint8_t*>(out), (int)x, (int)y, (int)rows, (int)bytes);
}

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
#endif  // GC_WGMMA_PART != 1

// Entry points: GC_WGMMA_KERNEL defines BASE_TILE for one row of
// GC_WGMMA_TILES (parameters at GC_DENSE_ENTRY, gemm_dense.cuh),
// GC_WGMMA_SPARSE_KERNEL for one row of GC_WGMMA_SPARSE_TILES (at
// GC_SPARSE_ENTRY, sp24_meta.cuh).
#define GC_WGMMA_KERNEL(...) GC_DENSE_ENTRY(gc::gemm_wgmma, __VA_ARGS__)
#define GC_WGMMA_SPARSE_KERNEL(...) GC_SPARSE_ENTRY(gc::gemm_wgmma_sp, __VA_ARGS__)

// GC_TMA_ENTRY defines BASE_TILE of the dense body BODY (gemm_wgmma_tma,
// gemm_wgmma_ws, InClusters::dense) in blocks of THREADS, with the attributes
// ATTR (none, or the cluster dimensions), for one row of a TMA tile list:
// the parameters of GC_DENSE_ENTRY after the tensor maps of A and B, which
// replace the pointers and strides of A and B (passed, unused).
#define GC_TMA_ENTRY(BODY, THREADS, ATTR, TILE, BM, BN, BK, STAGES, WARPS_M, MIN_BLOCKS, HOIST, INFLIGHT, BASE, ELEM, \
                     OUT)                                                                                            \
  extern "C" __global__ void ATTR __launch_bounds__(THREADS, MIN_BLOCKS)                                              \
      BASE##_##TILE(const __grid_constant__ gc::TensorMap mA, const __grid_constant__ gc::TensorMap mB, const void*,  \
                    const void*, void* C, const float* scale, const void* bias, long long M, long long N, long long K, \
                    long long, long long, long long ldcm, long long ldcn, long long axis, long long zp) {             \
    gc::Epi e{C, ldcm, ldcn, scale, bias, axis, zp, M, N};                                                            \
    BODY<ELEM, OUT, gc::Tile<BM, BN, BK, STAGES, WARPS_M, HOIST, INFLIGHT>>(mA, mB, e, K);                            \
  }

// GC_SPARSE_TMA_ENTRY: the same for the 2:4 bodies (gemm_wgmma_sp_tma,
// gemm_wgmma_sp_ws, InClusters::sparse) and GC_SPARSE_ENTRY's parameters (of
// which the values' k-tile stride, the metadata and its strides are used).
#define GC_SPARSE_TMA_ENTRY(BODY, THREADS, ATTR, TILE, BM, BN, BK, STAGES, WARPS_M, MIN_BLOCKS, HOIST, INFLIGHT, BASE, \
                            ELEM, OUT)                                                                                 \
  extern "C" __global__ void ATTR __launch_bounds__(THREADS, MIN_BLOCKS)                                              \
      BASE##_##TILE(const __grid_constant__ gc::TensorMap mA, const __grid_constant__ gc::TensorMap mB, const void*,  \
                    const void* Em, const void*, void* C, const float* scale, const void* bias, long long M,           \
                    long long N, long long K, long long, long long ldvk, long long lde, long long ldek, long long,     \
                    long long ldcm, long long ldcn, long long axis, long long zp) {                                    \
    gc::Epi e{C, ldcm, ldcn, scale, bias, axis, zp, M, N};                                                            \
    BODY<ELEM, OUT, gc::Tile<BM, BN, BK, STAGES, WARPS_M, HOIST, INFLIGHT>>(mA, mB, static_cast<const uint8_t*>(Em), \
                                                                           e, K, (int)ldvk, lde, ldek);               \
  }

// One row of GC_WGMMA_TMA_TILES, GC_WGMMA_SPARSE_TMA_TILES,
// GC_WGMMA_WS_TILES, GC_WGMMA_SPARSE_WS_TILES, GC_WGMMA_MC_TILES,
// GC_WGMMA_SPARSE_MC_TILES, GC_WGMMA_MQ_TILES and GC_WGMMA_SPARSE_MQ_TILES
// (all but the first two in blocks of GC_GEMM_WS_THREADS, one per SM; the
// MC lists in clusters of GC_GEMM_CLUSTER along x, the MQ lists of
// GC_GEMM_CLUSTER_Q).
#define GC_WGMMA_TMA_KERNEL(...) GC_TMA_ENTRY(gc::gemm_wgmma_tma, GC_GEMM_THREADS, , __VA_ARGS__)
#define GC_WGMMA_SPARSE_TMA_KERNEL(...) GC_SPARSE_TMA_ENTRY(gc::gemm_wgmma_sp_tma, GC_GEMM_THREADS, , __VA_ARGS__)
#define GC_WGMMA_WS_KERNEL(...) GC_TMA_ENTRY(gc::gemm_wgmma_ws, GC_GEMM_WS_THREADS, , __VA_ARGS__)
#define GC_WGMMA_SPARSE_WS_KERNEL(...) GC_SPARSE_TMA_ENTRY(gc::gemm_wgmma_sp_ws, GC_GEMM_WS_THREADS, , __VA_ARGS__)
#define GC_WGMMA_MC_KERNEL(...)                                                                      \
  GC_TMA_ENTRY(gc::InClusters<GC_GEMM_CLUSTER>::dense, GC_GEMM_WS_THREADS, GC_CLUSTER_DIMS(GC_GEMM_CLUSTER), \
               __VA_ARGS__)
#define GC_WGMMA_SPARSE_MC_KERNEL(...)                                               \
  GC_SPARSE_TMA_ENTRY(gc::InClusters<GC_GEMM_CLUSTER>::sparse, GC_GEMM_WS_THREADS, \
                      GC_CLUSTER_DIMS(GC_GEMM_CLUSTER), __VA_ARGS__)
#define GC_WGMMA_MQ_KERNEL(...)                                                 \
  GC_TMA_ENTRY(gc::InClusters<GC_GEMM_CLUSTER_Q>::dense, GC_GEMM_WS_THREADS, \
               GC_CLUSTER_DIMS(GC_GEMM_CLUSTER_Q), __VA_ARGS__)
#define GC_WGMMA_SPARSE_MQ_KERNEL(...)                                                 \
  GC_SPARSE_TMA_ENTRY(gc::InClusters<GC_GEMM_CLUSTER_Q>::sparse, GC_GEMM_WS_THREADS, \
                      GC_CLUSTER_DIMS(GC_GEMM_CLUSTER_Q), __VA_ARGS__)

#if GC_WGMMA_PART != 1
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)

GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)

GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)

GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)

GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)

GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)

GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)

GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)

GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)

GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_s8_s32, gc::ELEM_S8, GC_OUT_S32)
GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_s8_f32, gc::ELEM_S8, GC_OUT_F32)
GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_s8_s8, gc::ELEM_S8, GC_OUT_S8)
#endif  // GC_WGMMA_PART != 1

#if GC_WGMMA_PART != 0
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_TILES(GC_WGMMA_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_SPARSE_TILES(GC_WGMMA_SPARSE_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_TMA_TILES(GC_WGMMA_TMA_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_SPARSE_TMA_TILES(GC_WGMMA_SPARSE_TMA_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_WS_TILES(GC_WGMMA_WS_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_SPARSE_WS_TILES(GC_WGMMA_SPARSE_WS_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_MC_TILES(GC_WGMMA_MC_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_SPARSE_MC_TILES(GC_WGMMA_SPARSE_MC_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_MQ_TILES(GC_WGMMA_MQ_KERNEL, gc_gemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)

GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_f16_f32, gc::ELEM_F16, GC_OUT_F32)
GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_f16_f16, gc::ELEM_F16, GC_OUT_F16)
GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_bf16_f32, gc::ELEM_BF16, GC_OUT_F32)
GC_WGMMA_SPARSE_MQ_TILES(GC_WGMMA_SPARSE_MQ_KERNEL, gc_spgemm_bf16_bf16, gc::ELEM_BF16, GC_OUT_BF16)
#endif  // GC_WGMMA_PART != 0
