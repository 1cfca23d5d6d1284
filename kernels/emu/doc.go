// Package emu runs gcompress's CUDA kernels (kernels/*.cu) on the CPU: the
// kernel sources are compiled for the host with GC_EMULATE, which replaces
// the PTX helpers of kernels/common.cuh and kernels/wgmma.cuh by C++
// statements of their semantics (kernels/emu/emu_ops.h, emu_wgmma.h) and GPU
// threads by fibers (kernels/emu/emu.h, emu.cpp). Runner implements gobind.Runner, so the shared kernel suites of
// kernels/kerneltest run against the emulated kernels through the same
// launch specifications (parameter order, grid, shared memory) as the GPU.
//
// What this checks without a GPU: the kernels' tiling, swizzled shared-memory
// addressing, cp.async pipeline (copies land only at cp.async.wait_group),
// fragment bookkeeping, epilogues and bounds handling, plus the launch ABI
// between Go and the kernels; out-of-bounds writes to global memory (guard
// bands) and to shared memory (a canary), divergent barriers, unwaited
// copies and wgmma, wgmma reads of shared memory no fence.proxy.async
// published, and copies into operands of an unfinished wgmma are reported.
// What it cannot check: that the PTX semantics stated in emu_ops.h and
// emu_wgmma.h are the hardware's (the mma.sp metadata layout, checked on an
// H100; wgmma's descriptors, swizzle and fragments, not yet), timing, and
// concurrency between blocks, except within a thread-block cluster: the
// blocks of a cluster run together, each as far behind the ones before it
// as it can be, and an mbarrier used before its block set it up, an access
// to a block that has exited and a TMA multicast into operands of another
// block's unfinished wgmma are reported.
//
// The kernel sources are included from kernels/, outside the package, so
// each has a link here (src_<name>.h) that puts it among the package's
// header files: Go's build cache then rebuilds the emulator when a kernel
// changes. TestSourceLinks (no build tag, run by `make test`) fails when a
// source has no link.
//
// The package needs the build tag gcompress_emu, cgo, a C++17 compiler and
// the CUDA headers (cuda_fp16.h, cuda_bf16.h, for the half types); `make
// check-cuda` runs its tests.
package emu
