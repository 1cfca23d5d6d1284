/* Tile configuration and ABI constants shared by the GEMM kernels and their
 * Go launchers (gobind/geometry.go). gobind's tests parse this file and
 * compare every #define and every tile row below with the Go constants and
 * tables, so the launch geometry cannot drift apart. The dynamic shared
 * memory of a launch is computed in Go from a row (Tile.DenseShared,
 * SparseShared) and used by the kernels as the same sum of stage buffers;
 * the CPU emulator's canary after the dynamic shared memory catches a
 * launch that passes too little. Keep each value a plain integer literal.
 */
#ifndef GC_GEMM_CONFIG_H
#define GC_GEMM_CONFIG_H

/* GEMM tile shapes. Every GEMM block has GC_GEMM_THREADS threads (8 warps,
 * WARPS_M along M x 8/WARPS_M along N); a row gives
 *   X(name, BM, BN, BK_BYTES, STAGES, WARPS_M, MIN_BLOCKS, HOIST, INFLIGHT, ...)
 * BM x BN: the output tile of a block; BK_BYTES: the bytes of K one
 * pipeline stage covers (dense: 64 = two int8 k32 or f16 k16 mma steps, 128
 * = four; 2:4: 128 = two mma.sp steps);
 * STAGES: the depth of the cp.async ring; MIN_BLOCKS: the blocks per SM the
 * launch bounds promise (the register budget follows from it); HOIST: the
 * K loop with its addresses worked out before it (gc::Tile); INFLIGHT: in
 * the wgmma shapes, the wgmma groups a warpgroup leaves running at each
 * wait (dense 1; 2:4 0, or 1 with the metadata registers double-buffered:
 * gemm_wgmma.cu), 0 and unused in the mma.sync shapes. Each warp
 * owns a (BM/WARPS_M) x (BN/(8/WARPS_M)) piece of the tile. Every entry
 * point exists once per shape (name suffix _<name>); gobind picks the shape
 * per input type (gobind/geometry.go) and kernelbench -tiles times them all.
 * The trailing arguments are passed through to X.
 * On an H100 (2026-11-26, docs/RESULTS.md "On an H100") 128x128 with 64-byte
 * stages was the fastest of 128x128, 128x256 and 256x128 tiles with 64- and
 * 128-byte stages for every input type, dense and 2:4: the larger warp tiles
 * (64x64, one block per SM) were 0-4% slower for int8 and 10-20% slower for
 * halves. These HOIST rows (suffix h) were 13-17% faster there (session
 * 18) but have not run the GPU suites. A shape is one line here and one in
 * gobind. */
#define GC_DENSE_TILES(X, ...)                         \
  X(t128x128k64, 128, 128, 64, 4, 2, 2, 0, 0, __VA_ARGS__) \
  X(t128x128k64h, 128, 128, 64, 4, 2, 2, 1, 0, __VA_ARGS__)

/* Hopper GEMMs on wgmma (gemm_wgmma.cu, sm_90 only): the dense entry points
 * again, per warpgroup (WARPS_M 8: warp w owns rows 16w..16w+15 of the
 * tile, warpgroup w/4 issues its m64 wgmma), BK_BYTES 128 (the 128-byte
 * swizzle), HOIST 0. On an H100 (session 18) w128x256 was the fastest int8
 * shape and w128x128 the fastest for halves. (Rows that issued a stage's
 * wgmma before its refill's copies, suffix h, or had a deeper copy ring,
 * suffix sN, were dropped in session 22 without ever being timed: the TMA
 * and warp-specialised shapes below take the copies off the wgmma
 * warps' path more directly.) The 256-row shapes (session 19), in which
 * each warpgroup issues two m64 row blocks on the same B, copy 0.92-1.17
 * bytes per output and stage where w128x256 copies 1.5 (docs/RESULTS.md
 * "Bytes per output"); on the H100 (session 21) w256x192 took 6% longer
 * than w128x256 for int8, and w256x128, slower still, was dropped. */
#define GC_WGMMA_TILES(X, ...)                         \
  X(w128x256, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__)   \
  X(w128x128, 128, 128, 128, 6, 8, 1, 0, 1, __VA_ARGS__)   \
  X(w256x192, 256, 192, 128, 4, 8, 1, 0, 1, __VA_ARGS__)

/* Hopper 2:4 GEMMs on wgmma.mma_async.sp (gemm_wgmma.cu, sm_90 only): the
 * sparse entry points again, per warpgroup as GC_WGMMA_TILES, with the
 * stages of GC_SPARSE_TILES (BK_BYTES 128 of logical K). On an H100
 * (session 18) w128x256 was the fastest int8 shape, w128x128 for halves at
 * 4096^3. The f
 * rows (session 19) leave one group in flight at each wait, as the dense
 * kernels do, with a set of metadata registers per parity of tile: 9-12%
 * faster than their parents on the H100 (session 21), where w256x128 and
 * w256x128f, slower than the 128-row shapes, were dropped. */
#define GC_WGMMA_SPARSE_TILES(X, ...)                  \
  X(w128x256, 128, 256, 128, 4, 8, 1, 0, 0, __VA_ARGS__)   \
  X(w128x128, 128, 128, 128, 6, 8, 1, 0, 0, __VA_ARGS__)   \
  X(w256x192, 256, 192, 128, 5, 8, 1, 0, 0, __VA_ARGS__)   \
  X(w128x256f, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__)  \
  X(w128x128f, 128, 128, 128, 6, 8, 1, 0, 1, __VA_ARGS__)

/* The wgmma GEMMs again with their operands copied by the TMA engine
 * (kernels/tma.cuh; suffix t, the rest of the name the shape of the same
 * row above): one thread issues a stage's bulk tensor copies, counted on
 * the stage's mbarrier, where the shapes above have all 256 threads issue
 * cp.async (the 2:4 metadata still goes by cp.async). The entry points
 * take the tensor maps of A and B first (gobind TensorMap), then the
 * parameters of GC_DENSE_ENTRY / GC_SPARSE_ENTRY. Without per-thread copy
 * addresses they take 30-40 registers fewer, which leaves room for the 2:4
 * w256x192 with a group in flight (ft; 226-228 registers with ptxas 12.4),
 * which the cp.async version had not. On the H100 (session 21) they lead:
 * int8 dense w128x256t, int8 2:4 w256x192ft, halves 2:4 w128x256ft are the
 * defaults there; the 2:4 t rows without a group in flight (w128x256t,
 * w256x192t), slower than the ft ones, were dropped. */
#define GC_WGMMA_TMA_TILES(X, ...)                     \
  X(w128x256t, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__)  \
  X(w256x192t, 256, 192, 128, 4, 8, 1, 0, 1, __VA_ARGS__)

#define GC_WGMMA_SPARSE_TMA_TILES(X, ...)              \
  X(w128x256ft, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__) \
  X(w256x192ft, 256, 192, 128, 5, 8, 1, 0, 1, __VA_ARGS__)

/* The t shapes warp-specialised (suffix p; gemm_wgmma_ws, gemm_wgmma_sp_ws):
 * blocks of GC_GEMM_WS_THREADS, a producer warpgroup copying the stages
 * (TMA; the 2:4 metadata by cp.async tied to the stage's mbarrier) beside
 * the two warpgroups that issue the wgmmas, which wait for each stage on
 * its mbarrier and release it on another instead of meeting at a block
 * barrier. On an H100 (session 21) the 256-row t shapes issued an
 * instruction in only 23% of the cycles, all warps waiting at once. Written
 * in session 21 without a GPU: checked by ptxas 12.4 and the emulator, not
 * run on one. Same parameters as the t shapes. */
#define GC_WGMMA_WS_TILES(X, ...)                      \
  X(w128x256p, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__) \
  X(w128x128p, 128, 128, 128, 6, 8, 1, 0, 1, __VA_ARGS__) \
  X(w256x192p, 256, 192, 128, 4, 8, 1, 0, 1, __VA_ARGS__)

#define GC_WGMMA_SPARSE_WS_TILES(X, ...)                \
  X(w128x256fp, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__) \
  X(w256x192fp, 256, 192, 128, 5, 8, 1, 0, 1, __VA_ARGS__)

/* The p shapes in thread-block clusters (suffix m; gemm_wgmma_ws and
 * gemm_wgmma_sp_ws with CLUSTER = GC_GEMM_CLUSTER): the blocks of a cluster
 * compute vertically adjacent tiles, which share their B tile, and each
 * block's producer copies its 1/GC_GEMM_CLUSTER of B's rows by one TMA
 * multicast into every block of the cluster, so a block reads from L2 its
 * own A and a share of B. On an H100 (session 21) the 128 x 256 t and ft
 * shapes moved 7.0-7.7 TB/s from L2, all the bytes of their tiles, of
 * which B is 2/3 (dense) or 3/4 (2:4); w128x128, the fastest halves
 * shape, 8.0-8.6 TB/s (f16), half of it B's. The mbarriers live in the dynamic
 * shared memory (16 bytes a stage past the stages). Written in session 22
 * without a GPU: checked by ptxas 12.4 and the emulator, not run on one.
 * w256x192fpm (session 23, also not run on a GPU): the 2:4 tile with the
 * fewest L2 bytes per output, which was issue-bound as a t shape (its p
 * shape removes the block barrier; this one halves its B bytes too).
 * Same parameters as the t shapes. */
#define GC_WGMMA_MC_TILES(X, ...)                       \
  X(w128x256pm, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__) \
  X(w128x128pm, 128, 128, 128, 6, 8, 1, 0, 1, __VA_ARGS__)

#define GC_WGMMA_SPARSE_MC_TILES(X, ...)                  \
  X(w128x256fpm, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__) \
  X(w256x192fpm, 256, 192, 128, 5, 8, 1, 0, 1, __VA_ARGS__)

/* The p shapes in clusters of GC_GEMM_CLUSTER_Q = 4 blocks (suffix q; the
 * m shapes' bodies with CLUSTER 4): four vertically adjacent tiles share
 * their B tile, each block copying a quarter of its rows, so a block reads
 * from L2 its own A (and 2:4 metadata) and a quarter of B: per stage 24
 * KiB instead of the p shapes' 48 (int8 dense 128 x 256) and 26 instead of
 * 44 (2:4 256 x 192), where the m shapes read 32 and 32. On an H100 the 2:4
 * t shapes followed their L2 bytes (session 21), which the 2:4 target
 * needs cut the most. Written in session 27 without a GPU: checked by
 * ptxas 12.4 and the emulator, not run on one. Same parameters as the t
 * shapes. */
#define GC_WGMMA_MQ_TILES(X, ...) \
  X(w128x256pq, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__)

#define GC_WGMMA_SPARSE_MQ_TILES(X, ...)                  \
  X(w128x256fpq, 128, 256, 128, 4, 8, 1, 0, 1, __VA_ARGS__) \
  X(w256x192fpq, 256, 192, 128, 5, 8, 1, 0, 1, __VA_ARGS__)

/* 2:4 sparse GEMMs (mma.sp int8 m16n8k64, f16/bf16 m16n8k32): a stage covers
 * GC_SPGEMM_B_BYTES = 128 bytes of logical K: per row 64 bytes of compressed
 * A, 128 bytes of B and 128/8 = 16 (int8) or 64/8 = 8 (halves) metadata
 * bytes; BK_BYTES of every sparse shape is 128. */
#define GC_SPARSE_TILES(X, ...)                       \
  X(t128x128, 128, 128, 128, 3, 2, 2, 0, 0, __VA_ARGS__)  \
  X(t128x128h, 128, 128, 128, 3, 2, 2, 1, 0, __VA_ARGS__)

#define GC_GEMM_THREADS 256
#define GC_GEMM_WS_THREADS 384
#define GC_GEMM_CLUSTER 2
#define GC_GEMM_CLUSTER_Q 4
#define GC_SPGEMM_A_BYTES 64
#define GC_SPGEMM_B_BYTES 128
#define GC_SPGEMM_META_BYTES_S8 16
#define GC_SPGEMM_META_BYTES_F16 8
/* Blocks are rasterised in groups of GROUP_M tile rows for L2 reuse. */
#define GC_GEMM_GROUP_M 8

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

#endif /* GC_GEMM_CONFIG_H */
