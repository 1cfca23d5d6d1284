// Host emulation of the slice of the CUDA execution model that gcompress's
// kernels use, so that the kernel sources (kernels/*.cu) compile with a C++
// compiler and run on the CPU (package kernels/emu, build tag gcompress_emu).
// It exists because the kernels were written without a GPU: running them
// here checks their indexing, tiling, pipelining and epilogues through the
// same test suites the GPU runs, against the PTX semantics as this file
// states them. It does not check those semantics themselves (fragment and
// metadata layouts of mma / mma.sp, ldmatrix, wgmma's descriptors); the GPU
// runs do.
//
// Model: a launch runs its clusters of blocks (one block each, unless the
// kernel has cluster dimensions: gemm_wgmma.cu's m shapes) one after
// another; the threads of a cluster's blocks are fibers (ucontext)
// scheduled cooperatively on one OS thread. A fiber runs until it reaches
// a barrier: __syncthreads (all threads of its block), barrier.cluster
// (every thread of the cluster that has not exited) or a warp-collective
// operation (ldmatrix, mma, shfl, __syncwarp: all threads of the warp,
// which exchange data through a per-warp slot array). A barrier that can
// never complete (divergence) is reported as an error. The blocks of a
// cluster have their dynamic shared memory one after another in one
// region (dyn_smem), block_stride bytes apart, so that the checks below
// that index it by offset see the whole cluster's. cp.async copies are
// queued per thread and performed at cp.async.wait_group, as late as the
// hardware may perform them, so a read of a stage before its wait sees stale
// data. Hopper's wgmma (emu_wgmma.h) is queued the same way and performed at
// wgmma.wait_group, reading shared memory then; the bytes cp.async wrote
// count as unpublished to wgmma until the writing thread's
// fence.proxy.async, and a copy into bytes an unfinished wgmma reads is an
// error.
#ifndef GC_EMU_H
#define GC_EMU_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <map>
#include <utility>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

// CUDA qualifiers for host compilation: the CUDA headers (host mode) define
// __global__ and __device__ as nothing; __shared__ variables become statics
// (clusters run one at a time, so a static is per block in a kernel
// without cluster dimensions; the kernels with them keep their shared
// variables in the dynamic shared memory), and launch bounds and cluster
// dimensions go (the launch passes the cluster size).
#undef __shared__
#define __shared__ static
#define __launch_bounds__(...)
#define __cluster_dims__(...)
#ifndef __device__
#define __device__
#endif
#ifndef __global__
#define __global__
#endif
#ifndef __forceinline__
#define __forceinline__ inline
#endif

struct gc_dim3 {
  unsigned x, y, z;
};

namespace gc_emu {

// Slots for warp-collective exchanges: 32 lanes x 16 words.
struct WarpSlots {
  uint64_t w[32][16];
};

// Fiber state. MBAR_WAIT: waiting for an mbarrier phase (kernels/emu/
// emu_tma.h), run again at every pass until the phase completes;
// CLUSTER_WAIT: at barrier.cluster.
enum { RUN = 0, WARP_WAIT = 1, BLOCK_WAIT = 2, DONE = 3, MBAR_WAIT = 4, CLUSTER_WAIT = 5 };

struct Copy {
  uint8_t* dst;
  const uint8_t* src;
  int size, src_bytes;
};

// WgOp is one thread's share of a wgmma (emu_wgmma.h): run computes the
// thread's accumulators d from the operands the descriptors name.
struct WgOp {
  void (*run)(const WgOp&);
  void* d;
  uint64_t da, db;
  int accumulate, warp, lane;  // warp: within the warpgroup
  int inflight;                // index of its entry in wg_inflight
  uint32_t meta[32];           // wgmma.sp: the metadata registers of the warp's lanes
  const uint32_t* meta_reg;    // wgmma.sp: this thread's metadata variable, unchanged until the wait
};

// A thread: tid its threadIdx, bidx its blockIdx, rank its block's within
// the cluster; index, lane and warp count across the cluster's blocks.
struct Thread {
  gc_dim3 tid, bidx;
  int rank, index, lane, warp, state;
  std::vector<std::vector<Copy>> groups;     // committed groups, oldest first
  std::vector<Copy> open;                    // not yet committed
  std::vector<std::vector<WgOp>> wg_groups;  // committed wgmma groups
  std::vector<WgOp> wg_open;                 // wgmma not yet committed
  int wg_seq;                                // wgmma issued so far
  std::vector<std::pair<size_t, size_t>> unfenced;  // landed copies into dyn_smem
};

// Inflight is the shared memory a warpgroup's wgmma reads, [lo, hi) as
// offsets into dyn_smem, until the last of its threads has waited for it.
struct Inflight {
  int wg, seq, pending;
  size_t lo[2], hi[2];
};

// Bulk is a queued TMA copy (cp.async.bulk.tensor, emu_tma.h): the box of
// box_rows x box_bytes at byte x, row y of the array of rows x row_bytes at
// base (pitch bytes apart) to dst, swizzled in spans of swizzle bytes (0:
// none).
struct Bulk {
  uint8_t* dst;
  const uint8_t* base;
  long long row_bytes, rows, pitch;
  int box_bytes, box_rows, swizzle;
  int x, y;
};

// Mbar is an mbarrier: count arrivals per phase, pending still to come in
// the current one, tx transaction bytes expected and not landed, phase the
// number of completed phases, copies the copies counted on it not landed,
// cp_copies the cp.async copies (with the index of the thread that issued
// them) whose thread's arrival waits for them (cp.async.mbarrier.arrive).
struct Mbar {
  int count, pending;
  long long tx;
  unsigned phase;
  std::vector<Bulk> copies;
  std::vector<std::pair<int, Copy>> cp_copies;
};

// The running thread (one at a time), the launch's geometry, and the
// running cluster's dynamic shared memory: dyn_bytes in all, block r's
// block_bytes of it at dyn_smem + r * block_stride.
extern Thread* cur;
extern gc_dim3 block_dim, grid_dim;
extern int cluster_size;
extern uint8_t* dyn_smem;
extern size_t dyn_bytes, block_bytes, block_stride;
// block_smem is the dynamic shared memory of block rank of the cluster.
inline uint8_t* block_smem(int rank) { return dyn_smem + (size_t)rank * block_stride; }
// block_of is the rank of the block whose dynamic shared memory holds
// [lo, hi), or -1.
inline int block_of(const uint8_t* lo, const uint8_t* hi) {
  for (int r = 0; r < cluster_size; ++r) {
    if (lo >= block_smem(r) && hi <= block_smem(r) + block_bytes) return r;
  }
  return -1;
}
// writer[i]: 1 + the thread whose landed cp.async wrote byte i of dyn_smem
// and has not fenced it with fence.proxy.async; minus that once fenced,
// until the next __syncthreads publishes it (0: published, as wgmma
// operands must be).
extern std::vector<int> writer;
// fenced lists the ranges (offset, size) fenced since the last barrier.
extern std::vector<std::pair<size_t, size_t>> fenced;
// copies_pending reports whether any thread of the block has a cp.async into
// dyn_smem offsets [lo, hi) that has not landed yet.
bool copies_pending(size_t lo, size_t hi);
extern std::vector<Inflight> wg_inflight;
// mbars: the block's mbarriers by shared address; progress counts what
// changes their state or a fiber's, so that a pass of the scheduler in
// which only mbarrier waits ran and nothing changed is a deadlock.
extern std::map<uintptr_t, Mbar> mbars;
extern unsigned long progress;
// bulk_pending reports whether a TMA copy not yet landed writes any of the
// dyn_smem offsets [lo, hi).
bool bulk_pending(size_t lo, size_t hi);
// wgmma_reads reports whether a wgmma not yet waited for reads any of the
// shared bytes [lo, hi): no copy, cp.async or TMA, may write them then.
inline bool wgmma_reads(const uint8_t* lo, const uint8_t* hi) {
  for (const Inflight& f : wg_inflight) {
    for (int i = 0; i < 2; ++i) {
      if (f.pending > 0 && hi > dyn_smem + f.lo[i] && lo < dyn_smem + f.hi[i]) return true;
    }
  }
  return false;
}

// land performs the copy c (zeros outside the array; the swizzle XORs
// address bits 4.. with bits 7.., as many as the span has 16-byte chunks
// beyond the first) and returns its bytes. The bytes are published to
// every proxy (TMA writes through the async proxy; the wait that lands them
// orders them before the waiting thread's reads).
inline long long land(const Bulk& c) {
  const uintptr_t mask = c.swizzle ? (uintptr_t)(c.swizzle / 16 - 1) : 0;
  for (int r = 0; r < c.box_rows; ++r) {
    const long long gy = (long long)c.y + r;
    for (int b = 0; b < c.box_bytes; ++b) {
      const long long gx = (long long)c.x + b;
      const bool in = gy >= 0 && gy < c.rows && gx >= 0 && gx < c.row_bytes;
      const uintptr_t lin = (uintptr_t)c.dst + (uintptr_t)r * c.box_bytes + b;
      const uintptr_t phys = lin ^ (((lin >> 7) & mask) << 4);
      uint8_t* p = (uint8_t*)phys;
      *p = in ? c.base[gy * c.pitch + gx] : 0;
      writer[p - dyn_smem] = 0;
    }
  }
  return (long long)c.box_bytes * c.box_rows;
}
// fail records the first error of the running block (reported after it).
void fail(const char* msg);

void yield_wait(int state);  // park the current fiber until released
bool block_exited(int rank); // every thread of block rank of the cluster has exited
WarpSlots& slots();          // the current warp's exchange slots

inline void warp_sync() { yield_wait(WARP_WAIT); }
inline void block_sync() { yield_wait(BLOCK_WAIT); }

// commit_group closes the open (uncommitted) entries of a thread's queue
// into a group, even when there are none: the commit_group of cp.async and
// of wgmma.
template <typename T>
void commit_group(std::vector<std::vector<T>>& groups, std::vector<T>& open) {
  groups.push_back(open);
  open.clear();
}

// complete_groups completes (done) every committed group of a thread's
// queue but the newest keep, oldest first: the wait_group of cp.async and
// of wgmma.
template <typename T, typename F>
void complete_groups(std::vector<std::vector<T>>& groups, int keep, F done) {
  while ((int)groups.size() > keep) {
    for (const T& x : groups.front()) done(x);
    groups.erase(groups.begin());
  }
}

// land_cp performs a cp.async copy issued by thread index: its bytes in
// dyn_smem count as that thread's, unpublished to wgmma.
inline void land_cp(const Copy& c, int index) {
  memcpy(c.dst, c.src, c.src_bytes);
  memset(c.dst + c.src_bytes, 0, c.size - c.src_bytes);
  if (c.dst >= dyn_smem && c.dst < dyn_smem + dyn_bytes) {
    const size_t off = c.dst - dyn_smem;
    for (int i = 0; i < c.size; ++i) writer[off + i] = index + 1;
  }
}

// do_copy performs a copy of the current thread at its cp.async.wait_group,
// to be fenced by it for wgmma.
inline void do_copy(const Copy& c) {
  land_cp(c, cur->index);
  if (c.dst >= dyn_smem && c.dst < dyn_smem + dyn_bytes) cur->unfenced.push_back({(size_t)(c.dst - dyn_smem), (size_t)c.size});
}

}  // namespace gc_emu

#define threadIdx (gc_emu::cur->tid)
#define blockIdx (gc_emu::cur->bidx)
#define blockDim (gc_emu::block_dim)
#define gridDim (gc_emu::grid_dim)

inline void __syncthreads() { gc_emu::block_sync(); }
inline void __syncwarp(unsigned = 0xffffffffu) { gc_emu::warp_sync(); }

template <typename T>
inline T min(T a, T b) {
  return b < a ? b : a;
}
template <typename T>
inline T max(T a, T b) {
  return a < b ? b : a;
}

// Correctly rounded single operations; the host build uses
// -ffp-contract=off, so no FMA contraction either.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __int2float_rn(int v) { return (float)v; }

// __shfl_xor_sync: every lane of the warp deposits v and reads lane^o's.
inline float __shfl_xor_sync(unsigned, float v, int o) {
  gc_emu::WarpSlots& s = gc_emu::slots();
  const int lane = gc_emu::cur->lane;
  memcpy(&s.w[lane][0], &v, 4);
  gc_emu::warp_sync();
  float r;
  memcpy(&r, &s.w[lane ^ o][0], 4);
  gc_emu::warp_sync();
  return r;
}

#endif  // GC_EMU_H
