// Hopper (sm_90a) bulk tensor copies (TMA) and the shared-memory barriers
// (mbarrier) that count their bytes, for gemm_wgmma.cu.
//
// A tensor map (CUtensorMap, 128 bytes, 64-byte aligned; CUDA 12's cuda.h,
// which the 11.8 headers here lack, hence TensorMap below) describes a 2-D
// array in global memory -- here always bytes (CU_TENSOR_MAP_DATA_TYPE_UINT8):
// dimension 0 the bytes of a row, dimension 1 the rows, a row pitch -- and a
// box of BOX0 bytes x BOX1 rows. The host encodes it (cuda.EncodeTensorMap,
// gobind.TensorMap) and passes it by value as a __grid_constant__ kernel
// parameter. One thread then copies a whole box with one instruction:
//
//   cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes
//       [dst], [map, {x, y}], [bar]
//
// copies bytes x..x+BOX0-1 of rows y..y+BOX1-1 to dst (row r of the box at
// dst + r * BOX0), writing zeros for every element outside the array (so a
// box at an edge needs no bounds logic), and swizzles as wgmma's
// descriptors do: with the 128-byte (64-byte) swizzle, bits 4-6 (4-5) of
// each shared address are XOR-ed with bits 7-9 (7-8) -- exactly swz128
// (swz64) of rows of 128 (64) bytes from a 1024- (512-) byte aligned dst.
// The copy runs in the async proxy: wgmma reads its bytes with no
// fence.proxy.async.
//
// Completion is counted by an mbarrier, a 64-bit object in shared memory
// with a phase: a phase completes when its expected arrivals have arrived
// and the transaction bytes it expects have landed. arrive.expect_tx adds
// bytes to the phase's expectation and arrives; each copy's bytes count
// down as they land (the full box, zero-filled elements included). A
// thread waits for phase n by its parity (n & 1): try_wait.parity succeeds
// once that phase has completed.
//
// The warp-specialised GEMMs (gemm_wgmma.cu, the p shapes) also use plain
// arrivals (a consumer releasing a stage), cp.async.mbarrier.arrive (a
// producer thread's arrival that waits for its own cp.async copies to land,
// so one barrier counts both kinds of copy), and setmaxnreg, which moves
// registers from the producer warpgroup to the consumers; ptxas allocates
// each side's code within its count when the kernel's launch bounds fix
// the count at entry.
//
// The m shapes run in thread-block clusters (blocks launched together on
// one GPC, __cluster_dims__ at compile time): a block may arrive on an
// mbarrier in another block of its cluster (mapa gives the address at the
// same offset there), and one TMA copy can multicast a box into every
// block of a mask, landing at the same offset in each and counted on the
// barrier at the same offset in each. barrier.cluster is the cluster's
// __syncthreads (of the threads that have not exited).
//
// Under GC_EMULATE, kernels/emu/emu_tma.h stands in for all of it: the
// emulator's own tensor-map layout, copies that land at the wait, and
// checks of the rules above.
#ifndef GC_TMA_CUH
#define GC_TMA_CUH

#include "common.cuh"

namespace gc {

// TensorMap is a CUtensorMap: opaque, encoded by the driver on the host.
struct alignas(64) TensorMap {
  uint64_t opaque[16];
};

}  // namespace gc

#if defined(GC_EMULATE)
#include "emu/emu_tma.h"
#else
namespace gc {

// mbar_init sets up the barrier at bar for count arrivals per phase (phase
// 0 in progress). fence_mbar_init then makes the initialisation visible to
// the async proxy (the copies that complete on it); a __syncthreads after
// both publishes it to the other threads.
GC_DEVICE void mbar_init(saddr_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
GC_DEVICE void fence_mbar_init() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

// mbar_arrive_expect_tx arrives on bar and adds bytes to the transaction
// bytes its current phase waits for.
GC_DEVICE void mbar_arrive_expect_tx(saddr_t bar, int bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// mbar_wait blocks until the phase of bar with parity parity has completed.
GC_DEVICE void mbar_wait(saddr_t bar, int parity) {
  asm volatile(
      "{\n.reg .pred done;\n"
      "gc_mbar_wait_again:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra gc_mbar_wait_again;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

// mbar_arrive arrives on bar.
GC_DEVICE void mbar_arrive(saddr_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}

// cp_async_mbar_arrive arrives on bar once every cp.async this thread has
// issued so far has landed (.noinc: the arrival is one of the count the
// barrier was initialised with).
GC_DEVICE void cp_async_mbar_arrive(saddr_t bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}

// setmaxnreg_dec / setmaxnreg_inc set the registers per thread of the
// calling warpgroup to N (all its threads execute it): a producer
// warpgroup gives registers back to the pool, from which the consumers'
// inc takes them (it waits until the pool has them).
template <int N>
GC_DEVICE void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
GC_DEVICE void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}

// tma_load_2d copies the box of map at byte x, row y to dst (shared), the
// bytes counted on bar.
GC_DEVICE void tma_load_2d(saddr_t dst, const TensorMap& map, int x, int y, saddr_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], "
      "[%4];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(&map)), "r"(x), "r"(y), "r"(bar)
      : "memory");
}

// cluster_rank is the calling block's rank in its cluster.
GC_DEVICE int cluster_rank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return (int)r;
}

// cluster_sync: every thread of the cluster that has not exited arrives
// (release) and waits for the others (acquire).
GC_DEVICE void cluster_sync() {
  asm volatile("barrier.cluster.arrive.aligned;\nbarrier.cluster.wait.aligned;\n" ::: "memory");
}

// mbar_arrive_cluster arrives on the barrier at bar's offset in the shared
// memory of block cta of the cluster, with mbarrier.arrive's default
// semantics (release at CTA scope). Its callers arrive to say that reads
// they have already waited for are done (a consumer's wgmmas, retired by
// wgmma.wait_group, before a producer refills the stage), so there is
// nothing in flight to order. `.release.cluster` would: ptxas 12.4 puts
// MEMBAR.ALL.CTA, MEMBAR.ALL.GPU, ERRBAR and CGAERRBAR before such an
// arrival, a fence at GPU scope that waits for the warp's memory traffic
// to reach L2, on every release of every stage (the SASS check loopFences
// refuses it). So this arrival must not be used to publish writes of the
// calling thread (say an epilogue through another block's shared memory)
// to the block it arrives in.
GC_DEVICE void mbar_arrive_cluster(saddr_t bar, int cta) {
  asm volatile(
      "{\n.reg .b32 remote;\n"
      "mapa.shared::cluster.u32 remote, %0, %1;\n"
      "mbarrier.arrive.shared::cluster.b64 _, [remote];\n}\n" ::"r"(bar),
      "r"(cta)
      : "memory");
}

// tma_load_2d_multicast is tma_load_2d into every block of the cluster
// whose bit is set in mask: the box lands at dst's offset in each, its
// bytes counted on the barrier at bar's offset in each.
GC_DEVICE void tma_load_2d_multicast(saddr_t dst, const TensorMap& map, int x, int y, saddr_t bar, uint16_t mask) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1, "
      "{%2, %3}], [%4], %5;\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(&map)), "r"(x), "r"(y), "r"(bar), "h"(mask)
      : "memory");
}

}  // namespace gc
#endif  // GC_EMULATE

#endif  // GC_TMA_CUH
