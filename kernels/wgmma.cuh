// Hopper (sm_90a) warpgroup MMA helpers for gemm_wgmma.cu: the shared-memory
// matrix descriptor, wgmma.mma_async and wgmma.mma_async.sp (2:4 sparse A)
// with f32 / s32 accumulators in the three widths the kernels use (n128,
// n192, n256), their fence / commit / wait, and the proxy fence between cp.async's
// writes and wgmma's reads of shared memory.
//
// wgmma (PTX ISA 8.0, "Asynchronous Warpgroup Level Matrix Multiply-
// Accumulate"; the int8 wgmma.sp needs ISA 8.2) is issued by the 4 warps of
// a warpgroup together: it computes D[64 x N] (+)= A[64 x K] · B[N x K]ᵀ
// for one k-step (dense: K = 16 halves or 32 int8, 32 bytes either way;
// 2:4: K = 32 halves or 64 int8, A compressed to 32 bytes per row, B 64
// bytes) reading both operands from shared memory, and runs asynchronously:
// the accumulator registers belong to the tensor cores from the wgmma until
// wgmma.wait_group says its group has completed.
//
// Operand layout (both operands "K-major", the TN layout of the GEMMs): rows
// of 128 bytes of K, 8 consecutive rows (1024 bytes, 1024-byte aligned) form
// a swizzle atom in which 16-byte chunk c of row r sits at chunk c ^ (r % 8)
// -- exactly swz128 of common.cuh, which is why the cp.async side needs no
// change. (The compressed A of the 2:4 kernels has 64-byte rows: 512-byte
// atoms, chunk c ^ ((r / 2) % 4), swz64, mode 2.) The descriptor (64 bits)
// holds
//   bits  0-13: start address >> 4 (row 0 of the operand at its k-step:
//               atom base + 32 (or 64, 2:4 B) * k-step)
//   bits 16-29: leading byte offset >> 4 (unused for swizzled K-major; 1)
//   bits 32-45: stride byte offset >> 4 (from one 8-row atom to the next:
//               1024 bytes; 512 for 64-byte rows)
//   bits 49-51: base offset (0: atoms are aligned to their size)
//   bits 62-63: swizzle mode (1: 128-byte, 2: 64-byte)
// and the hardware swizzles the address it computes, start + (row / 8) *
// 1024 + (row % 8) * 128 + byte, by XOR-ing bits 4-6 with bits 7-9 (64-byte:
// bits 4-5 with bits 7-8).
//
// Accumulator fragment (the same for f32 and s32): warp w of the warpgroup
// holds rows 16w..16w+15; with g = lane / 4, t = lane % 4, register 4j + 2h
// + x is element (16w + g + 8h, 8j + 2t + x) -- per warp the layout of an
// m16 row of n8 mma.sync tiles, so store_tile of common.cuh writes it. The
// 2:4 metadata register is per warp that of mma.sp (load_meta).
//
// The PTX is compiled by nvcc 11.8, which cannot target sm_90a: the build
// (Makefile, gobind/fatbin/gemm_wgmma.ptx.gz) rewrites the PTX header to ISA
// 8.2 / sm_90a, and on an sm_90 GPU the driver compiles each kernel when it
// is first used (gobind.SplitPTX). Under GC_EMULATE the host versions of kernels/emu/emu_wgmma.h
// stand in for everything below but the descriptor.
#ifndef GC_WGMMA_CUH
#define GC_WGMMA_CUH

#include "sp24_meta.cuh"

namespace gc {

// wg_desc is the descriptor of a K-major operand with ROW-byte rows and the
// ROW-byte swizzle (128: mode 1, atoms of 8 rows = 1024 bytes, swz128; 64:
// mode 2, 512-byte atoms, swz64 -- the compressed A of the 2:4 kernels)
// whose row 0 at the current k-step is at shared address a (see above).
// Adding bytes >> 4 to a descriptor moves its start address by bytes (the
// field cannot carry: shared addresses are below 2^18).
template <int ROW>
GC_DEVICE uint64_t wg_desc(saddr_t a) {
  static_assert(ROW == 128 || ROW == 64, "128- or 64-byte swizzle");
  return (uint64_t)((a & 0x3FFFF) >> 4) | (uint64_t)1 << 16 | (uint64_t)(8 * ROW >> 4) << 32 |
         (uint64_t)(ROW == 128 ? 1 : 2) << 62;
}

// wg_smem is the first 1024-byte boundary (of the shared window) in the
// dynamic shared memory raw: the 128-byte swizzle's atoms must start on
// one. Launches pass WgmmaAlign (1024) bytes more than the kernels use
// (gobind/geometry.go) for it.
GC_DEVICE uint8_t* wg_smem(uint8_t* raw) { return raw + ((1024 - (smem_addr(raw) & 1023)) & 1023); }

// wg_acc_fence keeps the compiler from touching the accumulators between
// the wgmma issue and its wait: an empty asm that "reads and writes" every
// register pins them in place (otherwise a copy or spill could read a
// register the tensor cores still own, which ptxas answers by serialising
// every wgmma).
template <int N>
GC_DEVICE void wg_acc_fence(float (&d)[N]) {
#if !defined(GC_EMULATE)
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
#endif
}
template <int N>
GC_DEVICE void wg_acc_fence(int (&d)[N]) {
#if !defined(GC_EMULATE)
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(d[i])::"memory");
#endif
}

// wg_mma<ELEM, N> issues one k-step: d (+)= A · Bᵀ over 64 x N, with da, db
// the operands' descriptors; accumulate = 0 overwrites d instead of adding.
template <int ELEM, int N>
GC_DEVICE void wg_mma(typename ElemTraits<ELEM>::Acc (&d)[N / 2], uint64_t da, uint64_t db, int accumulate);

// wg_mma_sp<ELEM, N> issues one 2:4 sparse k-step (wgmma.mma_async.sp: K =
// 32 halves or 64 int8, A compressed to K/2 per row, 32 bytes either way; B
// 64 bytes): d (+)= A · Bᵀ with meta this thread's metadata register
// (load_meta, sp24_meta.cuh) and sparsity selector 0. The tensor cores read
// meta while the wgmma runs, and ptxas does not know it: it reuses the
// register after the issue (an H100 gave wrong sums when it did). So the
// register must be held to the wait that retires the wgmma with wg_hold,
// as the 2:4 GEMMs do (with a group left in flight past the wait, the next
// tile's metadata goes to a second set of registers). meta
// is passed as the variable that holds it, which the emulator checks is
// unchanged at the wait.
template <int ELEM, int N>
GC_DEVICE void wg_mma_sp(typename ElemTraits<ELEM>::Acc (&d)[N / 2], uint64_t da, uint64_t db, const uint32_t& meta,
                         int accumulate);
// A temporary cannot hold the metadata until the wait.
template <int ELEM, int N>
void wg_mma_sp(typename ElemTraits<ELEM>::Acc (&d)[N / 2], uint64_t da, uint64_t db, const uint32_t&& meta,
               int accumulate) = delete;

}  // namespace gc

#if defined(GC_EMULATE)
#include "emu/emu_wgmma.h"
#else
namespace gc {

// wg_hold keeps registers that a wgmma reads while it runs (wgmma.sp
// metadata) from being reused before the point of the call, which must
// follow the wait that retires that wgmma: each is stored to shared memory
// at sink under a predicate, never, that is false at run time but unknown
// to the compiler, so ptxas can neither drop the store nor give the
// register to other values before it (a shared-memory store is not moved
// above a wgmma wait). The emulator checks the variables instead.
template <int N>
GC_DEVICE void wg_hold(const uint32_t (&r)[N], bool never, saddr_t sink) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %0, 0;\n@p st.shared.u32 [%1], %2;\n}\n" ::"r"((int)never),
                 "r"(sink), "r"(r[i])
                 : "memory");
  }
}

GC_DEVICE void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
GC_DEVICE void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }

// wg_wait blocks until at most N of the warpgroup's committed wgmma groups
// are pending.
template <int N>
GC_DEVICE void wg_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// fence_proxy_async orders this thread's earlier generic-proxy writes to
// shared memory (completed cp.async copies) before later async-proxy reads
// (wgmma operands); a barrier then publishes them to the whole block.
GC_DEVICE void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

#define GC_WG_REGS_0_63 \
  "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15," \
  "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31," \
  "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47," \
  "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
#define GC_WG_REGS_64_95 \
  "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79," \
  "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95"
#define GC_WG_REGS_96_127 \
  "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111," \
  "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127"

// GC_WG_OPS8(C, i): constraint C on accumulators d[i..i+7]; GC_WG_OPS_64,
// GC_WG_OPS_96 and GC_WG_OPS_128 on the first 64 / 96 / all 128.
#define GC_WG_OPS8(C, i) \
  C(d[i]), C(d[i + 1]), C(d[i + 2]), C(d[i + 3]), C(d[i + 4]), C(d[i + 5]), C(d[i + 6]), C(d[i + 7])
#define GC_WG_OPS_64(C)                                                                                     \
  GC_WG_OPS8(C, 0), GC_WG_OPS8(C, 8), GC_WG_OPS8(C, 16), GC_WG_OPS8(C, 24), GC_WG_OPS8(C, 32), GC_WG_OPS8(C, 40), \
      GC_WG_OPS8(C, 48), GC_WG_OPS8(C, 56)
#define GC_WG_OPS_96(C) GC_WG_OPS_64(C), GC_WG_OPS8(C, 64), GC_WG_OPS8(C, 72), GC_WG_OPS8(C, 80), GC_WG_OPS8(C, 88)
#define GC_WG_OPS_128(C) GC_WG_OPS_96(C), GC_WG_OPS8(C, 96), GC_WG_OPS8(C, 104), GC_WG_OPS8(C, 112), GC_WG_OPS8(C, 120)

// GC_WG_MMA defines wg_mma<ELEM, N>: PTX the instruction, REGS / OPS its
// accumulator list and constraints (C: "+f" or "+r"), NA the operand number
// of the A descriptor (B: NA + 1, accumulate: NA + 2), IMM the trailing
// immediates (halves: scale-a = scale-b = 1, no transposes).
#define GC_WG_MMA(ELEM, N, T, C, PTX, REGS, OPS, NA, NB, NS, IMM)                                            \
  template <>                                                                                             \
  GC_DEVICE void wg_mma<ELEM, N>(T(&d)[N / 2], uint64_t da, uint64_t db, int accumulate) {                \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #NS ", 0;\n" PTX " {" REGS "}, %" #NA ", %" #NB ", p" IMM \
                 ";\n}\n"                                                                                  \
                 : OPS(C)                                                                                  \
                 : "l"(da), "l"(db), "r"(accumulate));                                                     \
  }

#define GC_WG_REGS_96 GC_WG_REGS_0_63 "," GC_WG_REGS_64_95
#define GC_WG_REGS_128 GC_WG_REGS_96 "," GC_WG_REGS_96_127
GC_WG_MMA(ELEM_S8, 128, int, "+r", "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8", GC_WG_REGS_0_63, GC_WG_OPS_64,
          64, 65, 66, "")
GC_WG_MMA(ELEM_S8, 192, int, "+r", "wgmma.mma_async.sync.aligned.m64n192k32.s32.s8.s8", GC_WG_REGS_96, GC_WG_OPS_96,
          96, 97, 98, "")
GC_WG_MMA(ELEM_S8, 256, int, "+r", "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8", GC_WG_REGS_128, GC_WG_OPS_128,
          128, 129, 130, "")
GC_WG_MMA(ELEM_F16, 128, float, "+f", "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16", GC_WG_REGS_0_63,
          GC_WG_OPS_64, 64, 65, 66, ", 1, 1, 0, 0")
GC_WG_MMA(ELEM_F16, 192, float, "+f", "wgmma.mma_async.sync.aligned.m64n192k16.f32.f16.f16", GC_WG_REGS_96,
          GC_WG_OPS_96, 96, 97, 98, ", 1, 1, 0, 0")
GC_WG_MMA(ELEM_F16, 256, float, "+f", "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16", GC_WG_REGS_128,
          GC_WG_OPS_128, 128, 129, 130, ", 1, 1, 0, 0")
GC_WG_MMA(ELEM_BF16, 128, float, "+f", "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16", GC_WG_REGS_0_63,
          GC_WG_OPS_64, 64, 65, 66, ", 1, 1, 0, 0")
GC_WG_MMA(ELEM_BF16, 192, float, "+f", "wgmma.mma_async.sync.aligned.m64n192k16.f32.bf16.bf16", GC_WG_REGS_96,
          GC_WG_OPS_96, 96, 97, 98, ", 1, 1, 0, 0")
GC_WG_MMA(ELEM_BF16, 256, float, "+f", "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16", GC_WG_REGS_128,
          GC_WG_OPS_128, 128, 129, 130, ", 1, 1, 0, 0")

// GC_WG_MMA_SP defines wg_mma_sp<ELEM, N> as GC_WG_MMA does wg_mma, with
// the metadata register operand NE after B's descriptor (accumulate: NS).
#define GC_WG_MMA_SP(ELEM, N, T, C, PTX, REGS, OPS, NA, NB, NE, NS, IMM)                                       \
  template <>                                                                                             \
  GC_DEVICE void wg_mma_sp<ELEM, N>(T(&d)[N / 2], uint64_t da, uint64_t db, const uint32_t& meta, int accumulate) { \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #NS ", 0;\n" PTX " {" REGS "}, %" #NA ", %" #NB ", %" #NE \
                 ", 0, p" IMM ";\n}\n"                                                                     \
                 : OPS(C)                                                                                  \
                 : "l"(da), "l"(db), "r"(meta), "r"(accumulate));                                          \
  }

GC_WG_MMA_SP(ELEM_S8, 128, int, "+r", "wgmma.mma_async.sp.sync.aligned.m64n128k64.s32.s8.s8", GC_WG_REGS_0_63,
             GC_WG_OPS_64, 64, 65, 66, 67, "")
GC_WG_MMA_SP(ELEM_S8, 192, int, "+r", "wgmma.mma_async.sp.sync.aligned.m64n192k64.s32.s8.s8", GC_WG_REGS_96,
             GC_WG_OPS_96, 96, 97, 98, 99, "")
GC_WG_MMA_SP(ELEM_S8, 256, int, "+r", "wgmma.mma_async.sp.sync.aligned.m64n256k64.s32.s8.s8", GC_WG_REGS_128,
             GC_WG_OPS_128, 128, 129, 130, 131, "")
GC_WG_MMA_SP(ELEM_F16, 128, float, "+f", "wgmma.mma_async.sp.sync.aligned.m64n128k32.f32.f16.f16", GC_WG_REGS_0_63,
             GC_WG_OPS_64, 64, 65, 66, 67, ", 1, 1, 0, 0")
GC_WG_MMA_SP(ELEM_F16, 192, float, "+f", "wgmma.mma_async.sp.sync.aligned.m64n192k32.f32.f16.f16", GC_WG_REGS_96,
             GC_WG_OPS_96, 96, 97, 98, 99, ", 1, 1, 0, 0")
GC_WG_MMA_SP(ELEM_F16, 256, float, "+f", "wgmma.mma_async.sp.sync.aligned.m64n256k32.f32.f16.f16", GC_WG_REGS_128,
             GC_WG_OPS_128, 128, 129, 130, 131, ", 1, 1, 0, 0")
GC_WG_MMA_SP(ELEM_BF16, 128, float, "+f", "wgmma.mma_async.sp.sync.aligned.m64n128k32.f32.bf16.bf16",
             GC_WG_REGS_0_63, GC_WG_OPS_64, 64, 65, 66, 67, ", 1, 1, 0, 0")
GC_WG_MMA_SP(ELEM_BF16, 192, float, "+f", "wgmma.mma_async.sp.sync.aligned.m64n192k32.f32.bf16.bf16",
             GC_WG_REGS_96, GC_WG_OPS_96, 96, 97, 98, 99, ", 1, 1, 0, 0")
GC_WG_MMA_SP(ELEM_BF16, 256, float, "+f", "wgmma.mma_async.sp.sync.aligned.m64n256k32.f32.bf16.bf16",
             GC_WG_REGS_128, GC_WG_OPS_128, 128, 129, 130, 131, ", 1, 1, 0, 0")

}  // namespace gc
#endif  // GC_EMULATE

#endif  // GC_WGMMA_CUH
