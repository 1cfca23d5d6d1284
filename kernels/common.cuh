// Device helpers shared by gcompress's CUDA kernels: shared-memory address
// conversion, cp.async, ldmatrix, the mma / mma.sp wrappers, the swizzles of
// the shared-memory tiles, block rasterisation and the GEMM epilogues.
//
// ABI of every kernel: parameters are pointers and 64-bit integers only
// (gorgonia.org/cu and gobind copy each parameter as 8 bytes), and every
// kernel is extern "C" so the Go side finds it by its plain name.
#ifndef GC_COMMON_CUH
#define GC_COMMON_CUH

#include <stdint.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "gemm_config.h"

#define GC_DEVICE __device__ __forceinline__

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "gcompress kernels need sm_80 or newer (cp.async, bf16 and sparse mma)"
#endif

// GC_DYNAMIC_SMEM declares the kernel's dynamic shared memory.
#if defined(GC_EMULATE)
// Host emulation (kernels/emu): the PTX helpers below are replaced by C++
// statements of their semantics, and threads by fibers.
#include "emu/emu_ops.h"
#define GC_DYNAMIC_SMEM(name) uint8_t* name = gc_emu::block_smem(gc_emu::cur->rank)
#else
#define GC_DYNAMIC_SMEM(name) extern __shared__ __align__(128) uint8_t name[]

namespace gc {

// saddr_t is a shared-memory address as cp.async and ldmatrix take it.
typedef uint32_t saddr_t;

// smem_addr converts a generic pointer into shared memory to the 32-bit
// shared-window address that cp.async and ldmatrix take.
GC_DEVICE saddr_t smem_addr(const void* p) {
  uint32_t a;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }\n" : "=r"(a) : "l"(p));
  return a;
}

// cp_async16 copies 16 bytes global -> shared without staging in registers,
// reading only src_bytes (0..16) bytes and zero-filling the rest. dst and src
// must be 16-byte aligned (src must be a valid address even when src_bytes is
// 0). .cg caches in L2 only: the tiles are reused through shared memory.
GC_DEVICE void cp_async16(saddr_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes)
               : "memory");
}

// cp_async8 is cp_async16 for 8 bytes (8-byte alignment; .ca, as .cg takes
// 16-byte copies only).
GC_DEVICE void cp_async8(saddr_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes)
               : "memory");
}

GC_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

// cp_async_wait blocks until at most N of this thread's committed groups are
// still in flight.
template <int N>
GC_DEVICE void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ldmatrix_x4 loads four 8x8 matrices of 16-bit elements (8 rows of 16
// bytes each) from shared memory. Lanes 8j..8j+7 supply the row addresses of
// matrix j; lane l receives in r[j] the 4 bytes at row l/4, bytes 4*(l%4)..+3
// of matrix j. Operands of the int8 and f16 mma are both handled as such
// 16-byte rows.
GC_DEVICE void ldmatrix_x4(uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3, saddr_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr)
               : "memory");
}

}  // namespace gc
#endif  // GC_EMULATE

namespace gc {

// Swizzled offsets of 16-byte chunk ch of row `row` in a tile with 64-byte
// rows (4 chunks) or 128-byte rows (8 chunks). ldmatrix reads one chunk column
// of 8 consecutive rows per phase; without the XOR those rows would hit the
// same banks (4-way conflicts for 64-byte rows, 8-way for 128). With it the 8
// rows land in 8 distinct 16-byte bank groups:
//   64-byte rows:  unit = 4*(row&1) + (ch ^ ((row>>1)&3))  -> 8 distinct units
//   128-byte rows: unit = ch ^ (row&7)                     -> 8 distinct units
GC_DEVICE uint32_t swz64(int row, int ch) { return (uint32_t)(row * 64 + ((ch ^ ((row >> 1) & 3)) << 4)); }
GC_DEVICE uint32_t swz128(int row, int ch) { return (uint32_t)(row * 128 + ((ch ^ (row & 7)) << 4)); }

}  // namespace gc

#if !defined(GC_EMULATE)
namespace gc {
// ---- tensor-core instructions -------------------------------------------
// Fragments (PTX ISA "Matrix fragments for mma.m16n8k32/k16"; g = lane/4,
// t = lane%4): A registers 0..3 hold rows g, g+8, g, g+8 and K bytes
// [4t, 4t+4) of the first 16 K bytes (regs 0,1) and of the second 16 (regs
// 2,3); B registers 0,1 hold column n = g and K bytes [4t, 4t+4) of the first
// and second 16 K bytes; accumulators c0..c3 are (g, 2t), (g, 2t+1),
// (g+8, 2t), (g+8, 2t+1). In bytes the layout is the same for s8 k32 and
// f16/bf16 k16, which is why one ldmatrix scheme serves both.

GC_DEVICE void mma_s8_16832(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

GC_DEVICE void mma_f16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

GC_DEVICE void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Sparse: A is the compressed 16 x (K/2) tile in the same register layout as
// the dense A above (16 rows x 32 bytes); B covers the full logical K (64
// bytes: register r holds K bytes [16r + 4t, 16r + 4t + 4)); e is the
// metadata register, sparsity selector 0 (see load_meta in sp24_meta.cuh for
// which rows and groups a lane's e holds).
GC_DEVICE void mma_sp_s8_16864(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  asm("mma.sp.sync.aligned.m16n8k64.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

GC_DEVICE void mma_sp_f16_16832(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  asm("mma.sp.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

GC_DEVICE void mma_sp_bf16_16832(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[4], uint32_t e) {
  asm("mma.sp.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

}  // namespace gc
#endif  // !GC_EMULATE

namespace gc {

// ---- tile shapes -----------------------------------------------------------
// Tile is one row of GC_DENSE_TILES / GC_SPARSE_TILES (gemm_config.h): a
// BM x BN output tile per block of GC_GEMM_THREADS threads, BK bytes of K per
// pipeline stage, STAGES stages, warps WARPS_M along M x WARPS_N along N,
// each warp owning WM x WN of the tile = MI x NJ mma tiles of 16 x 8. HOIST
// selects the K loop whose shared-memory fragment addresses are worked out
// before the loop and whose whole stages are copied without bounds logic
// (gemm_dense.cuh, gemm_sp24.cu); in the wgmma GEMMs, the loop that issues
// a stage's wgmma before the copies that refill the ring (gemm_wgmma.cu).
// INFLIGHT: the wgmma groups left running at each wait (gemm_wgmma.cu).
template <int BM_, int BN_, int BK_, int STAGES_, int WARPS_M_, int HOIST_, int INFLIGHT_>
struct Tile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, STAGES = STAGES_, INFLIGHT = INFLIGHT_;
  static constexpr bool HOIST = HOIST_ != 0;
  static constexpr int WARPS_M = WARPS_M_, WARPS_N = GC_GEMM_THREADS / 32 / WARPS_M_;
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  static constexpr int MI = WM / 16, NJ = WN / 8;
  static_assert(WARPS_M * WARPS_N * 32 == GC_GEMM_THREADS, "8 warps per block");
  static_assert(WM % 16 == 0 && WN % 16 == 0, "warp tiles are whole pairs of n8 mma tiles");
  static_assert(BK == 64 || BK == 128, "stages of 64 or 128 bytes (swz64 / swz128)");
  static_assert(BM * BK % (16 * GC_GEMM_THREADS) == 0 && BN * BK % (16 * GC_GEMM_THREADS) == 0,
                "every thread copies the same number of 16-byte chunks");
};

// swz is swz64 or swz128 by the row length in bytes.
template <int ROW_BYTES>
GC_DEVICE uint32_t swz(int row, int ch) {
  static_assert(ROW_BYTES == 64 || ROW_BYTES == 128, "swizzled rows are 64 or 128 bytes");
  return ROW_BYTES == 64 ? swz64(row, ch) : swz128(row, ch);
}

// ---- block rasterisation -------------------------------------------------
// tile_of maps the 1-D block index (tile_at: any index pid) to a (tile
// row, tile column) pair of BM x BN tiles, walking GC_GEMM_GROUP_M tile
// rows at a time so that consecutive blocks share A rows and B columns in
// L2 (the grouped ordering Triton's tutorials use).
template <int BM, int BN>
GC_DEVICE void tile_at(long long M, long long N, int pid, int& pm, int& pn) {
  const int tiles_m = (int)((M + BM - 1) / BM);
  const int tiles_n = (int)((N + BN - 1) / BN);
  const int per_group = GC_GEMM_GROUP_M * tiles_n;
  const int group = pid / per_group;
  const int first_m = group * GC_GEMM_GROUP_M;
  const int rows = min(tiles_m - first_m, GC_GEMM_GROUP_M);
  pm = first_m + (pid % per_group) % rows;
  pn = (pid % per_group) / rows;
}
template <int BM, int BN>
GC_DEVICE void tile_of(long long M, long long N, int& pm, int& pn) {
  tile_at<BM, BN>(M, N, blockIdx.x, pm, pn);
}

// ---- epilogues -------------------------------------------------------------
// Epi carries the output and the per-channel vectors; the maths is that of
// ref.Epilogue (kernels/ref/gemm.go), operation by operation, using the
// non-contractible __fmul_rn/__fadd_rn so the result is reproducible bit for
// bit on the host.
struct Epi {
  void* c;
  long long ldm, ldn;   // D[m][n] is stored at c[m*ldm + n*ldn]
  const float* scale;   // nullable; indexed by the channel
  const void* bias;     // nullable; float (float outputs) or int32 (OUT_S8)
  long long axis;       // GC_EPI_PER_COL: channel n; GC_EPI_PER_ROW: channel m
  long long zp;         // OUT_S8 zero point
  long long M, N;
};

template <int OUT>
GC_DEVICE void store_int(const Epi& e, long long m, long long n, int acc) {
  const long long at = m * e.ldm + n * e.ldn;
  const long long ch = e.axis == GC_EPI_PER_ROW ? m : n;
  if (OUT == GC_OUT_S32) {
    static_cast<int*>(e.c)[at] = acc;
  } else if (OUT == GC_OUT_F32) {
    float v = __int2float_rn(acc);
    if (e.scale) v = __fmul_rn(v, e.scale[ch]);
    if (e.bias) v = __fadd_rn(v, static_cast<const float*>(e.bias)[ch]);
    static_cast<float*>(e.c)[at] = v;
  } else if (OUT == GC_OUT_S8) {
    // int32 bias added with wrap-around (unsigned arithmetic, no UB).
    int a = acc;
    if (e.bias) a = (int)((unsigned)a + (unsigned)static_cast<const int*>(e.bias)[ch]);
    float v = __int2float_rn(a);
    if (e.scale) v = __fmul_rn(v, e.scale[ch]);
    float r = rintf(v);  // round half to even
    r = __fadd_rn(r, (float)e.zp);
    r = fminf(fmaxf(r, -128.0f), 127.0f);  // NaN -> -128 (fmaxf returns the non-NaN)
    static_cast<int8_t*>(e.c)[at] = (int8_t)(int)r;
  }
}

template <int OUT>
GC_DEVICE void store_float(const Epi& e, long long m, long long n, float v) {
  const long long at = m * e.ldm + n * e.ldn;
  const long long ch = e.axis == GC_EPI_PER_ROW ? m : n;
  if (e.scale) v = __fmul_rn(v, e.scale[ch]);
  if (e.bias) v = __fadd_rn(v, static_cast<const float*>(e.bias)[ch]);
  if (OUT == GC_OUT_F32) {
    static_cast<float*>(e.c)[at] = v;
  } else if (OUT == GC_OUT_F16) {
    static_cast<__half*>(e.c)[at] = __float2half_rn(v);
  } else if (OUT == GC_OUT_BF16) {
    static_cast<__nv_bfloat16*>(e.c)[at] = __float2bfloat16_rn(v);
  }
}

// store_acc dispatches on the accumulator type.
template <int OUT>
GC_DEVICE void store_acc(const Epi& e, long long m, long long n, int acc) {
  store_int<OUT>(e, m, n, acc);
}
template <int OUT>
GC_DEVICE void store_acc(const Epi& e, long long m, long long n, float acc) {
  store_float<OUT>(e, m, n, acc);
}

// store_tile writes a warp's accumulator tile of MI m16 x NJ n8 mma tiles
// whose top-left output element is (m0, n0), skipping elements outside M x N.
template <int OUT, typename Acc, int MI, int NJ>
GC_DEVICE void store_tile(const Epi& e, long long m0, long long n0, const Acc (&acc)[MI][NJ][4]) {
  const int lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int i = 0; i < MI; ++i) {
#pragma unroll
    for (int j = 0; j < NJ; ++j) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const long long m = m0 + i * 16 + g + 8 * h;
        if (m >= e.M) continue;
#pragma unroll
        for (int x = 0; x < 2; ++x) {
          const long long n = n0 + j * 8 + 2 * t + x;
          if (n < e.N) store_acc<OUT>(e, m, n, acc[i][j][2 * h + x]);
        }
      }
    }
  }
}

}  // namespace gc

#endif  // GC_COMMON_CUH
