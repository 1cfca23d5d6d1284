// The CPU emulator of gcompress's CUDA kernels: the kernel sources compiled
// for the host with GC_EMULATE (see emu.h for the model), a fiber scheduler,
// and a launch entry point for Go (emu.go).
//go:build gcompress_emu

// No contraction of a*b+c into an FMA (the kernels' __fmul_rn/__fadd_rn
// must round twice); baseline x86-64 has no FMA instruction anyway.
#pragma GCC optimize("fp-contract=off")

#include <ucontext.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#define GC_EMULATE 1
#include "emu.h"

// The kernels themselves, unchanged.
#include "../elementwise.cu"
#include "../gemm_f16.cu"
#include "../gemm_s8.cu"
#include "../gemm_sp24.cu"
#include "../gemm_wgmma.cu"

namespace gc_emu {

Thread* cur = nullptr;
gc_dim3 block_dim, grid_dim;
int cluster_size = 1;
uint8_t* dyn_smem = nullptr;
size_t dyn_bytes = 0, block_bytes = 0, block_stride = 0;
std::vector<int> writer;
std::vector<std::pair<size_t, size_t>> fenced;
std::vector<Inflight> wg_inflight;
std::map<uintptr_t, Mbar> mbars;
unsigned long progress = 0;
std::string failure;

void fail(const char* msg) {
  if (failure.empty()) failure = msg;
}

namespace {

struct Fiber {
  ucontext_t ctx;
  Thread t;
  std::vector<char> stack;
};

ucontext_t sched_ctx;
std::vector<Fiber> fibers;
std::vector<WarpSlots> warp_slots;
void (*entry)(const uint64_t*) = nullptr;
const uint64_t* entry_args = nullptr;

void fiber_main(int idx) {
  cur = &fibers[idx].t;
  entry(entry_args);
  fibers[idx].t.state = DONE;
  progress++;
  swapcontext(&fibers[idx].ctx, &sched_ctx);
}

// run_cluster runs the blocks first..first+cluster_size-1 of block
// threads each to completion; it returns an error message or the empty
// string.
std::string run_cluster(int block, int first) {
  const int threads = block * cluster_size;
  const int warps = (threads + 31) / 32;
  warp_slots.assign(warps, WarpSlots{});
  for (int i = 0; i < threads; ++i) {
    Fiber& f = fibers[i];
    f.t = Thread{};
    f.t.tid = gc_dim3{(unsigned)(i % block), 0, 0};
    f.t.rank = i / block;
    f.t.bidx = gc_dim3{(unsigned)(first + f.t.rank), 0, 0};
    f.t.index = i;
    f.t.lane = i % 32;
    f.t.warp = i / 32;
    f.t.state = RUN;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.stack.data();
    f.ctx.uc_stack.ss_size = f.stack.size();
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, (void (*)())fiber_main, 1, i);
  }
  for (;;) {
    bool ran = false;
    const unsigned long before = progress;
    for (int r = 0; r < cluster_size; ++r) {
      const unsigned long at = progress;
      for (int i = r * block; i < (r + 1) * block; ++i) {
        if (fibers[i].t.state == RUN || fibers[i].t.state == MBAR_WAIT) {
          cur = &fibers[i].t;
          swapcontext(&sched_ctx, &fibers[i].ctx);
          ran = true;
        }
      }
      // A block of the cluster runs only in the passes in which the blocks
      // before it could do nothing: the blocks as far apart in time as
      // they can be, so that one's use of another's shared memory before
      // that has set it up (or after it has exited) is seen.
      if (progress != at) break;
    }
    // Release complete barriers.
    int done = 0, cluster_wait = 0;
    for (int i = 0; i < threads; ++i) {
      done += fibers[i].t.state == DONE;
      cluster_wait += fibers[i].t.state == CLUSTER_WAIT;
    }
    if (done == threads) return "";
    bool released = false;
    if (cluster_wait > 0 && cluster_wait == threads - done) {
      for (int i = 0; i < threads; ++i) {
        if (fibers[i].t.state == CLUSTER_WAIT) fibers[i].t.state = RUN;
      }
      released = true;
    }
    for (int w = 0; w < warps; ++w) {
      int live = 0, waiting = 0;
      for (int i = w * 32; i < std::min(threads, w * 32 + 32); ++i) {
        live += fibers[i].t.state != DONE;
        waiting += fibers[i].t.state == WARP_WAIT;
      }
      if (waiting > 0 && waiting == live) {
        if (live != std::min(threads, w * 32 + 32) - w * 32) return "a warp-collective operation with exited lanes";
        for (int i = w * 32; i < std::min(threads, w * 32 + 32); ++i) fibers[i].t.state = RUN;
        released = true;
      }
    }
    for (int r = 0; r < cluster_size; ++r) {
      int block_done = 0, block_wait = 0;
      for (int i = r * block; i < (r + 1) * block; ++i) {
        block_done += fibers[i].t.state == DONE;
        block_wait += fibers[i].t.state == BLOCK_WAIT;
      }
      if (block_wait == 0 || block_wait != block - block_done) continue;
      if (block_done > 0) return "__syncthreads after some threads exited";
      for (int i = r * block; i < (r + 1) * block; ++i) fibers[i].t.state = RUN;
      released = true;
      // The barrier publishes what the block's threads fenced to every
      // proxy.
      const size_t lo = block_smem(r) - dyn_smem, hi = lo + block_bytes;
      std::vector<std::pair<size_t, size_t>> others;
      for (const auto& f : fenced) {
        if (f.first < lo || f.first >= hi) {
          others.push_back(f);
          continue;
        }
        for (size_t i = f.first; i < f.first + f.second; ++i) {
          if (writer[i] < 0) writer[i] = 0;
        }
      }
      fenced = others;
    }
    // A pass that released no barrier and changed nothing (no fiber moved
    // to another state, no mbarrier changed: only mbarrier waits ran, or
    // none) would repeat for ever.
    if (!released && (!ran || progress == before)) {
      for (int i = 0; i < threads; ++i) {
        if (fibers[i].t.state == MBAR_WAIT) return "deadlock: an mbarrier wait for a phase whose arrivals or bytes never come";
      }
      return "deadlock: threads wait at different barriers (divergent __syncthreads, barrier.cluster or warp collective)";
    }
  }
}

// Parameter conversion for the kernel table: every parameter is 8 bytes,
// a value or the address of a larger one.
template <typename T>
T conv(uint64_t v) {
  if constexpr (std::is_pointer<T>::value) {
    return reinterpret_cast<T>(v);
  } else if constexpr (std::is_class<T>::value) {
    // A parameter passed by value that is larger than 8 bytes (a tensor
    // map): the launch passes its address.
    return *reinterpret_cast<const T*>(v);
  } else {
    return static_cast<T>(v);
  }
}

template <typename... Ps, size_t... I>
void invoke(void (*f)(Ps...), const uint64_t* a, std::index_sequence<I...>) {
  f(conv<Ps>(a[I])...);
}

template <typename... Ps>
constexpr int nparams(void (*)(Ps...)) {
  return sizeof...(Ps);
}

struct Entry {
  const char* name;
  void (*call)(const uint64_t*);
  int params;
};

#define GC_EMU_KERNEL(k) \
  Entry { #k, [](const uint64_t* a) { invoke(k, a, std::make_index_sequence<nparams(k)>{}); }, nparams(k) }

// One table row per entry point of a GEMM tile-shape list (gemm_config.h):
// GC_EMU_DENSE(LIST) for every dense base in each shape of LIST,
// GC_EMU_SPARSE(LIST) for every 2:4 base.
#define GC_EMU_TILE(TILE, BM, BN, BK, STAGES, WARPS_M, MIN_BLOCKS, HOIST, INFLIGHT, BASE) GC_EMU_KERNEL(BASE##_##TILE),
#define GC_EMU_DENSE(LIST)                                                                                   \
  LIST(GC_EMU_TILE, gc_gemm_s8_s32) LIST(GC_EMU_TILE, gc_gemm_s8_f32) LIST(GC_EMU_TILE, gc_gemm_s8_s8)        \
  LIST(GC_EMU_TILE, gc_gemm_f16_f32) LIST(GC_EMU_TILE, gc_gemm_f16_f16) LIST(GC_EMU_TILE, gc_gemm_bf16_f32) \
  LIST(GC_EMU_TILE, gc_gemm_bf16_bf16)
#define GC_EMU_SPARSE(LIST)                                                                                      \
  LIST(GC_EMU_TILE, gc_spgemm_s8_s32) LIST(GC_EMU_TILE, gc_spgemm_s8_f32) LIST(GC_EMU_TILE, gc_spgemm_s8_s8)        \
  LIST(GC_EMU_TILE, gc_spgemm_f16_f32) LIST(GC_EMU_TILE, gc_spgemm_f16_f16) LIST(GC_EMU_TILE, gc_spgemm_bf16_f32) \
  LIST(GC_EMU_TILE, gc_spgemm_bf16_bf16)

const Entry table[] = {
    GC_EMU_DENSE(GC_DENSE_TILES) GC_EMU_DENSE(GC_WGMMA_TILES) GC_EMU_DENSE(GC_WGMMA_TMA_TILES)
    GC_EMU_DENSE(GC_WGMMA_WS_TILES) GC_EMU_DENSE(GC_WGMMA_MC_TILES) GC_EMU_DENSE(GC_WGMMA_MQ_TILES)
    GC_EMU_SPARSE(GC_SPARSE_TILES) GC_EMU_SPARSE(GC_WGMMA_SPARSE_TILES) GC_EMU_SPARSE(GC_WGMMA_SPARSE_TMA_TILES)
    GC_EMU_SPARSE(GC_WGMMA_SPARSE_WS_TILES) GC_EMU_SPARSE(GC_WGMMA_SPARSE_MC_TILES)
    GC_EMU_SPARSE(GC_WGMMA_SPARSE_MQ_TILES)
    GC_EMU_KERNEL(gc_sp24_probe_s8),     GC_EMU_KERNEL(gc_sp24_probe_f16),     GC_EMU_KERNEL(gc_quantize_f32_s8),
    GC_EMU_KERNEL(gc_dequantize_s8_f32), GC_EMU_KERNEL(gc_softmax_f32),        GC_EMU_KERNEL(gc_add_f32),
    GC_EMU_KERNEL(gc_relu_f32),          GC_EMU_KERNEL(gc_cast_f32_f16),       GC_EMU_KERNEL(gc_cast_f16_f32),
    GC_EMU_KERNEL(gc_cast_f32_bf16),     GC_EMU_KERNEL(gc_cast_bf16_f32),      GC_EMU_KERNEL(gc_im2col_s8),
    GC_EMU_KERNEL(gc_gemm_s8_s32_naive),
    GC_EMU_KERNEL(gc_gemm_f16_f32_naive), GC_EMU_KERNEL(gc_abi_probe),       GC_EMU_KERNEL(gc_wgmma_probe_s8),
    GC_EMU_KERNEL(gc_wgmma_probe_f16),     GC_EMU_KERNEL(gc_wgmma_sp_probe_s8),   GC_EMU_KERNEL(gc_wgmma_sp_probe_f16),
    GC_EMU_KERNEL(gc_tma_probe),         GC_EMU_KERNEL(gc_cluster_probe),
};

}  // namespace

// The canary written after the dynamic shared memory to catch overruns.
constexpr size_t kCanary = 256;

}  // namespace gc_emu

extern "C" {

// gc_emu_tensor_map returns a new tensor map (free with free) in the
// emulator's layout (emu_tma.h), or NULL.
void* gc_emu_tensor_map(uint64_t base, long long row_bytes, long long rows, long long pitch, int box_bytes, int box_rows,
                        int swizzle) {
  void* p = aligned_alloc(alignof(gc::TensorMap), sizeof(gc::TensorMap));
  if (p) gc::encode_tensor_map(*static_cast<gc::TensorMap*>(p), (const void*)base, row_bytes, rows, pitch, box_bytes, box_rows, swizzle);
  return p;
}

// gc_emu_params returns the parameter count of a kernel, or -1 if unknown.
int gc_emu_params(const char* name) {
  for (const gc_emu::Entry& e : gc_emu::table)
    if (std::string(e.name) == name) return e.params;
  return -1;
}

// gc_emu_launch runs kernel name over grid x block threads with shared bytes
// of dynamic shared memory per block, in clusters of cluster blocks (1:
// none). It returns 0, or writes a message to err (size errlen) and
// returns 1.
int gc_emu_launch(const char* name, int grid, int block, int shared, int cluster, const uint64_t* params, char* err,
                  int errlen) {
  using namespace gc_emu;
  const Entry* k = nullptr;
  for (const Entry& e : table)
    if (std::string(e.name) == name) k = &e;
  if (!k) {
    snprintf(err, errlen, "emulator: no kernel %s", name);
    return 1;
  }
  if (block <= 0 || block > 1024 || grid <= 0 || cluster <= 0 || cluster > 8 || grid % cluster != 0 ||
      (cluster > 1 && block % 32 != 0)) {
    snprintf(err, errlen, "emulator: %s: grid %d, block %d, cluster %d", name, grid, block, cluster);
    return 1;
  }
  const int threads = block * cluster;
  // Fiber stacks: the kernels keep their register arrays (a few KiB) on
  // them.
  if ((int)fibers.size() < threads) {
    fibers.resize(threads);
    for (Fiber& f : fibers) f.stack.resize(256 << 10);
  }
  // The blocks' regions 1024 bytes apart, so that each block's alignment
  // of its stages (gemm_wgmma.cu) puts them at the same offsets.
  const size_t stride = (shared + kCanary + 1023) / 1024 * 1024;
  std::vector<uint8_t> smem(stride * cluster + 128);
  uint8_t* base = smem.data() + (128 - (uintptr_t)smem.data() % 128) % 128;
  entry = k->call;
  entry_args = params;
  block_dim = gc_dim3{(unsigned)block, 1, 1};
  grid_dim = gc_dim3{(unsigned)grid, 1, 1};
  cluster_size = cluster;
  dyn_smem = base;
  dyn_bytes = stride * cluster;
  block_bytes = shared;
  block_stride = stride;
  for (int b = 0; b < grid; b += cluster) {
    memset(base, 0x5c, dyn_bytes);
    writer.assign(dyn_bytes, 0);
    fenced.clear();
    wg_inflight.clear();
    mbars.clear();
    failure.clear();
    // The first failure a thread recorded is the cause of a deadlock that
    // may follow it.
    std::string e = run_cluster(block, b);
    if (!failure.empty()) e = failure;
    if (!e.empty()) {
      snprintf(err, errlen, "emulator: %s block %d: %s", name, b, e.c_str());
      return 1;
    }
    for (int r = 0; r < cluster; ++r) {
      for (size_t i = 0; i < kCanary; ++i) {
        if (block_smem(r)[shared + i] != 0x5c) {
          snprintf(err, errlen, "emulator: %s block %d wrote past its %d bytes of dynamic shared memory", name, b + r, shared);
          return 1;
        }
      }
    }
    for (int i = 0; i < threads; ++i) {
      const Thread& t = fibers[i].t;
      if (!t.open.empty() || !t.groups.empty()) {
        snprintf(err, errlen, "emulator: %s block %d ended with cp.async copies never waited for", name, b + t.rank);
        return 1;
      }
      if (!t.wg_open.empty() || !t.wg_groups.empty()) {
        snprintf(err, errlen, "emulator: %s block %d ended with wgmma never waited for", name, b + t.rank);
        return 1;
      }
    }
    for (const auto& m : mbars) {
      if (!m.second.copies.empty() || !m.second.cp_copies.empty()) {
        snprintf(err, errlen, "emulator: %s block %d ended with copies counted on an mbarrier never waited for", name, b);
        return 1;
      }
    }
  }
  return 0;
}

}  // extern "C"

namespace gc_emu {

bool block_exited(int rank) {
  const int block = (int)block_dim.x;
  for (int i = rank * block; i < (rank + 1) * block; ++i) {
    if (fibers[i].t.state != DONE) return false;
  }
  return true;
}

void yield_wait(int state) {
  Thread* t = cur;
  t->state = state;
  if (state != MBAR_WAIT) progress++;
  swapcontext(&fibers[t->index].ctx, &sched_ctx);
  cur = t;
}

WarpSlots& slots() { return warp_slots[cur->warp]; }

bool bulk_pending(size_t lo, size_t hi) {
  for (const auto& m : mbars) {
    for (const Bulk& c : m.second.copies) {
      const size_t a = c.dst - dyn_smem, b = a + (size_t)c.box_bytes * c.box_rows;
      if (a < hi && b > lo) return true;
    }
  }
  return false;
}

bool copies_pending(size_t lo, size_t hi) {
  const uint8_t* a = dyn_smem + lo;
  const uint8_t* b = dyn_smem + hi;
  auto hits = [&](const std::vector<Copy>& cs) {
    for (const Copy& c : cs) {
      if (c.dst < b && c.dst + c.size > a) return true;
    }
    return false;
  };
  for (const Fiber& f : fibers) {
    if (f.t.state == DONE) continue;
    if (hits(f.t.open)) return true;
    for (const auto& g : f.t.groups) {
      if (hits(g)) return true;
    }
  }
  return false;
}

}  // namespace gc_emu
