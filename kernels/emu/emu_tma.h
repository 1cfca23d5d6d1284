// Host versions of the TMA and mbarrier helpers of kernels/tma.cuh, used
// when the kernels are compiled with GC_EMULATE. They state, as code, the
// semantics tma.cuh describes (PTX ISA 8.0: mbarrier phases, arrivals and
// transaction counts; cp.async.bulk.tensor's tile mode with zero fill out
// of bounds and the address-bit swizzle), and check the rules the hardware
// leaves to the program:
//  * a copy lands when a thread waits for the phase that counts it, as late
//    as the hardware may land it, so reading its bytes before that wait
//    sees them stale;
//  * a wgmma may not be issued on bytes a copy still in flight writes, nor
//    a copy be issued into bytes an unfinished wgmma reads;
//  * a phase whose arrivals or bytes never come is a deadlock, and a block
//    may not end with copies never waited for;
//  * the map must be one the Go side encoded for the emulator (gobind
//    TensorMap: this layout, below), the destination 128-byte aligned, the
//    box within the swizzle span.
#ifndef GC_EMU_TMA_H
#define GC_EMU_TMA_H

#include "emu.h"

// __grid_constant__ marks a kernel parameter whose address is taken (the
// tensor maps); nothing to do on the host.
#define __grid_constant__

namespace gc {

// The emulator's tensor-map layout (encode_tensor_map, which the Go runner
// calls for each gobind.TensorMap of a launch): opaque[0] a magic number,
// then base address, row bytes (dimension 0), rows, pitch, box bytes, box
// rows, swizzle bytes.
constexpr uint64_t kEmuTensorMapMagic = 0x6763746d61703031ull;  // "gctmap01"

inline void encode_tensor_map(TensorMap& m, const void* base, long long row_bytes, long long rows, long long pitch,
                              int box_bytes, int box_rows, int swizzle) {
  const uint64_t v[8] = {kEmuTensorMapMagic,   (uint64_t)base,      (uint64_t)row_bytes, (uint64_t)rows,
                         (uint64_t)pitch,      (uint64_t)box_bytes, (uint64_t)box_rows,  (uint64_t)swizzle};
  memset(m.opaque, 0, sizeof m.opaque);
  memcpy(m.opaque, v, sizeof v);
}

inline void mbar_init(saddr_t bar, int count) {
  gc_emu::Mbar& b = gc_emu::mbars[bar];
  b = gc_emu::Mbar{count, count, 0, 0, {}, {}};
  gc_emu::progress++;
}

inline void fence_mbar_init() {}

inline gc_emu::Mbar& mbar_at(saddr_t bar) {
  auto it = gc_emu::mbars.find(bar);
  if (it == gc_emu::mbars.end()) {
    gc_emu::fail("mbarrier used before mbarrier.init");
    static gc_emu::Mbar none;
    return none;
  }
  return it->second;
}

inline void mbar_arrive_expect_tx(saddr_t bar, int bytes) {
  gc_emu::Mbar& b = mbar_at(bar);
  if (b.pending == 0) gc_emu::fail("mbarrier: more arrivals than the phase expects");
  b.pending--;
  b.tx += bytes;
  gc_emu::progress++;
}

inline void mbar_arrive(saddr_t bar) { mbar_arrive_expect_tx(bar, 0); }

// cp_async_mbar_arrive: the thread's cp.async copies not yet landed (open
// or committed) move to the barrier, which lands them when its phase
// completes (as late as the hardware may), and the thread's arrival counts
// now: the phase cannot complete before they land either way. The bytes
// stay unpublished to wgmma (written by that thread, never fenced).
inline void cp_async_mbar_arrive(saddr_t bar) {
  gc_emu::Mbar& b = mbar_at(bar);
  gc_emu::Thread* t = gc_emu::cur;
  for (auto& g : t->groups) {
    for (const gc_emu::Copy& c : g) b.cp_copies.push_back({t->index, c});
  }
  for (const gc_emu::Copy& c : t->open) b.cp_copies.push_back({t->index, c});
  t->groups.clear();
  t->open.clear();
  mbar_arrive(bar);
}

// setmaxnreg moves registers between warpgroups on the GPU; here it only
// checks the count PTX allows.
template <int N>
inline void setmaxnreg_dec() {
  static_assert(N >= 24 && N <= 256 && N % 8 == 0, "setmaxnreg: 24..256, a multiple of 8");
}
template <int N>
inline void setmaxnreg_inc() {
  static_assert(N >= 24 && N <= 256 && N % 8 == 0, "setmaxnreg: 24..256, a multiple of 8");
}

// mbar_wait: the phase with parity parity has completed once the barrier's
// current phase has the other parity. Until then, with every arrival in,
// the waiting thread lands the phase's copies and completes it when their
// bytes make up the expected count; otherwise it yields to the others.
inline void mbar_wait(saddr_t bar, int parity) {
  for (;;) {
    gc_emu::Mbar& b = mbar_at(bar);
    if ((int)(b.phase & 1) != parity) return;
    if (b.pending == 0) {
      for (const gc_emu::Bulk& c : b.copies) b.tx -= gc_emu::land(c);
      b.copies.clear();
      for (const auto& c : b.cp_copies) gc_emu::land_cp(c.second, c.first);
      b.cp_copies.clear();
      if (b.tx < 0) gc_emu::fail("mbarrier: copies landed more bytes than the phase expects");
      if (b.tx <= 0) {
        b.phase++;
        b.pending = b.count;
        b.tx = 0;
        gc_emu::progress++;
        continue;
      }
    }
    gc_emu::yield_wait(gc_emu::MBAR_WAIT);
  }
}

// tma_load_2d queues the copy of map's box at byte x, row y to dst on bar.
inline void tma_load_2d(saddr_t dst, const TensorMap& map, int x, int y, saddr_t bar) {
  const uint64_t* m = map.opaque;
  if (m[0] != kEmuTensorMapMagic) {
    gc_emu::fail("cp.async.bulk.tensor: not a tensor map encoded for the emulator");
    return;
  }
  gc_emu::Bulk c{(uint8_t*)dst,
                 (const uint8_t*)m[1],
                 (long long)m[2],
                 (long long)m[3],
                 (long long)m[4],
                 (int)m[5],
                 (int)m[6],
                 (int)m[7],
                 x,
                 y};
  if ((uintptr_t)dst % 128 != 0) gc_emu::fail("cp.async.bulk.tensor: shared destination not 128-byte aligned");
  const uint8_t* lo = c.dst;
  const uint8_t* hi = c.dst + (size_t)c.box_bytes * c.box_rows;
  if (gc_emu::block_of(lo, hi) < 0) {
    gc_emu::fail("cp.async.bulk.tensor: box outside dynamic shared memory");
    return;
  }
  if (gc_emu::wgmma_reads(lo, hi)) gc_emu::fail("cp.async.bulk.tensor into shared memory that an unfinished wgmma reads");
  mbar_at(bar).copies.push_back(c);
  gc_emu::progress++;
}

// Clusters. cluster_rank is the thread's block's rank in its cluster;
// cluster_sync the barrier.cluster of every thread of the cluster that has
// not exited.
inline int cluster_rank() { return gc_emu::cur->rank; }
inline void cluster_sync() { gc_emu::yield_wait(gc_emu::CLUSTER_WAIT); }

// cluster_map is mapa: the address at a's offset in the shared memory of
// block cta of the cluster, a within the calling thread's block.
inline saddr_t cluster_map(saddr_t a, int cta) {
  const uint8_t* own = gc_emu::block_smem(gc_emu::cur->rank);
  if (cta < 0 || cta >= gc_emu::cluster_size) {
    gc_emu::fail("mapa: no such block in the cluster");
    return a;
  }
  if ((const uint8_t*)a < own || (const uint8_t*)a >= own + gc_emu::block_bytes) {
    gc_emu::fail("mapa: an address outside the block's dynamic shared memory");
    return a;
  }
  if (gc_emu::block_exited(cta)) gc_emu::fail("an access to the shared memory of a block of the cluster that has exited");
  return (saddr_t)(gc_emu::block_smem(cta) + ((const uint8_t*)a - own));
}

// mbar_arrive_cluster arrives on the barrier at bar's offset in block cta.
inline void mbar_arrive_cluster(saddr_t bar, int cta) { mbar_arrive(cluster_map(bar, cta)); }

// tma_load_2d_multicast queues the box for every block of the cluster in
// mask, at dst's and bar's offsets in that block.
inline void tma_load_2d_multicast(saddr_t dst, const TensorMap& map, int x, int y, saddr_t bar, uint16_t mask) {
  if (mask == 0 || (mask >> gc_emu::cluster_size) != 0) {
    gc_emu::fail("cp.async.bulk.tensor.multicast: a mask naming no block, or one outside the cluster");
    return;
  }
  for (int r = 0; r < gc_emu::cluster_size; ++r) {
    if (mask >> r & 1) tma_load_2d(cluster_map(dst, r), map, x, y, cluster_map(bar, r));
  }
}

}  // namespace gc

#endif  // GC_EMU_TMA_H
