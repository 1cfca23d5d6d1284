// Package gobind launches gcompress's CUDA kernels (kernels/*.cu) from Go:
// one typed launcher per kernel that checks shapes, strides, alignment and
// buffer bounds before anything crosses into the driver, so that a bad call
// is a Go error instead of a device fault.
//
// The kernels are compiled by `make kernels` (nvcc: SASS for sm_80, sm_86,
// sm_89, sm_90 and compute_90 PTX) into one fatbin per source file under
// gobind/fatbin/, which the cuda build embeds (go:embed) and loads through
// the driver's module API (package cuda). Launch parameters are pointers and
// 64-bit integers, and for the TMA GEMM shapes their tensor maps
// (TensorMap), which each Runner encodes.
//
// The argument types and their validation, the launch specifications built
// from them (LaunchSpec: kernel, grid, shared memory, tensor maps and the
// 8-byte parameters in signature order), the kernel table, the launch geometry and
// the Harness that adapts any Runner to the shared test suites of
// kernels/kerneltest are plain Go in the default build, unit-tested there
// (against kernels/gemm_config.h and the kernel sources, which the tests
// parse). Two Runners exist: the GPU Launcher (build tag gcompress_cuda, with
// the embedded images and the GPU tests; see package cuda for why not plain
// "cuda") and the CPU emulator of the kernels (package kernels/emu, build
// tag gcompress_emu), so both run the same launches.
package gobind
