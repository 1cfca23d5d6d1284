// Host versions of the wgmma helpers of kernels/wgmma.cuh, used when the
// kernels are compiled with GC_EMULATE: each states, as code, the PTX
// semantics gemm_wgmma.cu relies on (PTX ISA 8.0, "Asynchronous Warpgroup
// Level Matrix Multiply-Accumulate": the shared-memory matrix descriptor,
// the 128- and 64-byte swizzles, the accumulator fragment of m64nNk16 / k32,
// and for wgmma.sp the per-warp metadata registers), plus
// the ordering rules the hardware leaves to the program:
//  * a wgmma runs when its group is waited for (wg_wait), not when issued,
//    so accumulators read before the wait are stale and operands overwritten
//    before it are seen overwritten;
//  * shared bytes that cp.async wrote must be published by the writing
//    thread's fence.proxy.async and then a barrier before a wgmma is issued
//    on them, and no copy into them may be in flight then;
//  * a cp.async into bytes that a not yet waited-for wgmma reads is a race
//    (and so is a TMA copy: emu_tma.h), as is a wgmma on bytes a TMA copy
//    still writes;
//  * a wgmma.sp reads its metadata register while it runs, so the variable
//    that held it at issue must hold it still at the wait (an H100 gave
//    wrong sums when the next tile's metadata was loaded into the register
//    of the wgmma group in flight).
// Violations are reported as launch errors.
#ifndef GC_EMU_WGMMA_H
#define GC_EMU_WGMMA_H

#include "emu.h"

namespace gc {

inline void wg_fence() {}

// wg_hold has nothing to do here: wg_wait checks that each wgmma.sp's
// metadata variable still holds its value.
template <int N>
inline void wg_hold(const uint32_t (&)[N], bool, saddr_t) {}

inline void wg_commit() { gc_emu::commit_group(gc_emu::cur->wg_groups, gc_emu::cur->wg_open); }

// wg_wait: every committed wgmma group but the newest N runs.
template <int N>
inline void wg_wait() {
  gc_emu::complete_groups(gc_emu::cur->wg_groups, N, [](const gc_emu::WgOp& op) {
    if (op.meta_reg && *op.meta_reg != op.meta[op.lane]) {
      gc_emu::fail("wgmma.sp metadata register changed before the wait that retires it");
    }
    op.run(op);
    gc_emu::wg_inflight[op.inflight].pending--;
  });
}

// fence_proxy_async fences this thread's landed copies for wgmma; the next
// __syncthreads publishes them (emu.cpp).
inline void fence_proxy_async() {
  gc_emu::Thread* t = gc_emu::cur;
  for (const auto& r : t->unfenced) {
    for (size_t i = r.first; i < r.first + r.second; ++i) {
      if (gc_emu::writer[i] == t->index + 1) gc_emu::writer[i] = -(t->index + 1);
    }
    gc_emu::fenced.push_back(r);
  }
  t->unfenced.clear();
}

// WgOperand decodes a descriptor (wgmma.cuh: start >> 4 in bits 0-13, stride
// byte offset >> 4 in bits 32-45, base offset in bits 49-51, swizzle mode in
// bits 62-63) of a K-major operand with the 128-byte (mode 1) or 64-byte
// (mode 2) swizzle, the layouts the kernels use; anything else is reported.
struct WgOperand {
  size_t start, sbo;  // start: offset into dyn_smem
  int row;            // bytes per row: the swizzle width

  WgOperand(uint64_t desc, int rows) {
    // The field holds bits 4-17 of the shared address; the kernels take it
    // from smem_addr, a host address here, within the issuing thread's
    // block.
    const uint8_t* base = gc_emu::block_smem(gc_emu::cur->rank);
    const uintptr_t window = (uintptr_t)base & 0x3FFFF;
    const size_t block_off = base - gc_emu::dyn_smem;
    start = block_off + ((((desc & 0x3FFF) << 4) - window) & 0x3FFFF);
    sbo = ((desc >> 32) & 0x3FFF) << 4;
    const int mode = (int)(desc >> 62);
    row = mode == 1 ? 128 : 64;
    if ((mode != 1 && mode != 2) || ((desc >> 49) & 7) != 0) {
      gc_emu::fail("wgmma descriptor: not the 128- or 64-byte swizzle with base offset 0");
    }
    if ((((uintptr_t)gc_emu::dyn_smem + start) & (8 * row - 1)) >= (uintptr_t)row) {
      gc_emu::fail("wgmma descriptor: start address not in row 0 of a swizzle atom (8 rows)");
    }
    if (start + (rows / 8 - 1) * sbo + 8 * row > block_off + gc_emu::block_bytes) {
      gc_emu::fail("wgmma operand outside dynamic shared memory");
    }
  }

  // byte is K byte kb of row r: the address start + (r / 8) * sbo + (r % 8)
  // * row + kb with its bits 4-6 (128-byte swizzle) or 4-5 (64-byte) XOR-ed
  // with bits 7-9 or 7-8.
  uint8_t byte(int r, int kb) const {
    const uintptr_t lin = (uintptr_t)gc_emu::dyn_smem + start + (r / 8) * sbo + (r % 8) * row + kb;
    const uintptr_t phys = lin ^ (((lin >> 7) & (uintptr_t)(row / 16 - 1)) << 4);
    const size_t off = phys - (uintptr_t)gc_emu::dyn_smem;
    if (gc_emu::writer[off] != 0) {
      gc_emu::fail("wgmma read shared memory that cp.async wrote and no fence.proxy.async and barrier published");
    }
    return gc_emu::dyn_smem[off];
  }

  // range is the [lo, hi) offsets the operand's rows cover.
  void range(int rows, size_t& lo, size_t& hi) const {
    lo = start - (((uintptr_t)gc_emu::dyn_smem + start) & (8 * row - 1));  // the atom's base
    hi = lo + (rows / 8 - 1) * sbo + 8 * row;
  }
};

inline float wg_half(uint8_t lo, uint8_t hi, bool bf) { return half_value((uint16_t)(lo | hi << 8), bf); }

// wg_run computes one thread's share of a 64 x N wgmma k-step (32 bytes of
// K): warp w of the warpgroup, lane (g, t) owns d[4j + 2h + x] = element
// (16w + g + 8h, 8j + 2t + x). Halves sum in k order in float (the
// hardware's order is not specified); int8 wraps around in int32.
template <int ELEM, int N>
void wg_run(const gc_emu::WgOp& op) {
  const WgOperand a(op.da, 64), b(op.db, N);
  const int g = op.lane / 4, t = op.lane % 4;
  for (int j = 0; j < N / 8; ++j) {
    for (int h = 0; h < 2; ++h) {
      for (int x = 0; x < 2; ++x) {
        const int m = 16 * op.warp + g + 8 * h, n = 8 * j + 2 * t + x, i = 4 * j + 2 * h + x;
        if (ELEM == ELEM_S8) {
          int* d = static_cast<int*>(op.d);
          uint32_t acc = op.accumulate ? (uint32_t)d[i] : 0;
          for (int k = 0; k < 32; ++k) acc += (uint32_t)((int)(int8_t)a.byte(m, k) * (int)(int8_t)b.byte(n, k));
          d[i] = (int)acc;
        } else {
          float* d = static_cast<float*>(op.d);
          float acc = op.accumulate ? d[i] : 0.0f;
          const bool bf = ELEM == ELEM_BF16;
          for (int k = 0; k < 32; k += 2) {
            acc += wg_half(a.byte(m, k), a.byte(m, k + 1), bf) * wg_half(b.byte(n, k), b.byte(n, k + 1), bf);
          }
          d[i] = acc;
        }
      }
    }
  }
}

// wg_run_sp is wg_run for wgmma.sp: A holds 32 bytes of compressed K per
// row, B 64 bytes of logical K; row r's metadata is in the warp's registers
// as load_meta puts it (sp_col of emu_ops.h, the mma.sp layouts per warp).
template <int ELEM, int N>
void wg_run_sp(const gc_emu::WgOp& op) {
  const WgOperand a(op.da, 64), b(op.db, N);
  gc_emu::WarpSlots meta{};
  for (int l = 0; l < 32; ++l) meta.w[l][8] = op.meta[l];
  const int g = op.lane / 4, t = op.lane % 4;
  const bool s8 = ELEM == ELEM_S8;
  for (int j = 0; j < N / 8; ++j) {
    for (int h = 0; h < 2; ++h) {
      for (int x = 0; x < 2; ++x) {
        const int r = g + 8 * h, m = 16 * op.warp + r, n = 8 * j + 2 * t + x, i = 4 * j + 2 * h + x;
        if (s8) {
          int* d = static_cast<int*>(op.d);
          uint32_t acc = op.accumulate ? (uint32_t)d[i] : 0;
          for (int c = 0; c < 32; ++c) {
            const int k = sp_col(meta, r, c, true);
            acc += (uint32_t)((int)(int8_t)a.byte(m, c) * (int)(int8_t)b.byte(n, k));
          }
          d[i] = (int)acc;
        } else {
          float* d = static_cast<float*>(op.d);
          float acc = op.accumulate ? d[i] : 0.0f;
          const bool bf = ELEM == ELEM_BF16;
          for (int c = 0; c < 16; ++c) {
            const int k = sp_col(meta, r, c, false);
            acc += wg_half(a.byte(m, 2 * c), a.byte(m, 2 * c + 1), bf) * wg_half(b.byte(n, 2 * k), b.byte(n, 2 * k + 1), bf);
          }
          d[i] = acc;
        }
      }
    }
  }
}

// wg_issue queues this thread's share of the warpgroup's wgmma (run by
// run) and registers the shared memory it reads as in flight until the
// warpgroup's last thread has waited for it.
inline void wg_issue(void (*run)(const gc_emu::WgOp&), void* d, uint64_t da, uint64_t db, int n, int accumulate,
                     const uint32_t* meta, const uint32_t* meta_reg) {
  gc_emu::Thread* t = gc_emu::cur;
  const int wg = t->warp / 4, seq = t->wg_seq++;
  int at = -1;
  for (size_t i = 0; i < gc_emu::wg_inflight.size(); ++i) {
    if (gc_emu::wg_inflight[i].wg == wg && gc_emu::wg_inflight[i].seq == seq) at = (int)i;
  }
  if (at < 0) {
    // First issue of this wgmma in the warpgroup: its operands must be
    // published and no copy into them may still be in flight (the hardware
    // may read them as soon as it is issued).
    gc_emu::Inflight f{wg, seq, 0, {0, 0}, {0, 0}};
    WgOperand(da, 64).range(64, f.lo[0], f.hi[0]);
    WgOperand(db, n).range(n, f.lo[1], f.hi[1]);
    for (int i = 0; i < 2; ++i) {
      if (gc_emu::copies_pending(f.lo[i], f.hi[i])) gc_emu::fail("wgmma issued while a cp.async into its operands is in flight");
      if (gc_emu::bulk_pending(f.lo[i], f.hi[i])) gc_emu::fail("wgmma issued while a TMA copy into its operands is in flight");
      for (size_t b = f.lo[i]; b < f.hi[i]; ++b) {
        if (gc_emu::writer[b] != 0) {
          gc_emu::fail("wgmma issued on shared memory that cp.async wrote and no fence.proxy.async and barrier published");
          break;
        }
      }
    }
    gc_emu::wg_inflight.push_back(f);
    at = (int)gc_emu::wg_inflight.size() - 1;
  }
  gc_emu::wg_inflight[at].pending++;
  gc_emu::WgOp op{run, d, da, db, accumulate, t->warp % 4, t->lane, at, {}, meta_reg};
  if (meta) memcpy(op.meta, meta, sizeof(op.meta));
  t->wg_open.push_back(op);
}

template <int ELEM, int N>
inline void wg_mma(typename ElemTraits<ELEM>::Acc (&d)[N / 2], uint64_t da, uint64_t db, int accumulate) {
  wg_issue(&wg_run<ELEM, N>, d, da, db, N, accumulate, nullptr, nullptr);
}

// wg_mma_sp gathers the warp's metadata registers (a warp-collective
// exchange, as the hardware reads other lanes' metadata) and queues the op
// with the address of this thread's metadata variable.
template <int ELEM, int N>
inline void wg_mma_sp(typename ElemTraits<ELEM>::Acc (&d)[N / 2], uint64_t da, uint64_t db, const uint32_t& meta,
                      int accumulate) {
  gc_emu::WarpSlots& s = gc_emu::slots();
  s.w[gc_emu::cur->lane][8] = meta;
  gc_emu::warp_sync();
  uint32_t all[32];
  for (int l = 0; l < 32; ++l) all[l] = (uint32_t)s.w[l][8];
  gc_emu::warp_sync();
  wg_issue(&wg_run_sp<ELEM, N>, d, da, db, N, accumulate, all, &meta);
}

}  // namespace gc

#endif  // GC_EMU_WGMMA_H
