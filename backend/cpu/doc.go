// Package cpu is gcompress's CPU backend: one OpFactory per supported ONNX
// operator, registered in a runtime.Registry. The kernels here are the plain
// Go reference implementations, written for correctness; fast SIMD paths
// replace the hot inner functions (GEMM, convolution) behind the same ops.
//
// Fast paths (issue 3): C micro-kernels via cgo (simd_amd64.c with the
// templates simd_sgemm_tmpl.h and simd_igemm_tmpl.h, compiled per
// instruction set with GCC target pragmas) for the FP32 GEMM (sgemm.go:
// packed panels, cache blocking from the cache sizes, epilogues, im2col,
// Toeplitz and transposed convolution forms), the INT8 GEMM (igemm.go:
// VNNI, AVX-VNNI and AVX2 kernels, zero points and requantization, used by
// quant_fast.go), depthwise convolution, 2-D pooling and LRN (the
// reference's float64 operations, eight cells per instruction; norm.go).
// dispatch.go picks
// the instruction set at start-up (GCOMPRESS_CPU caps it; SetCPULevel
// forces one, as the tests do for every level); without cgo or on other
// architectures every op runs its pure-Go path. fused.go holds the ops of
// gcompress's own domain (FusedConv, FusedGemm) that graph/passes creates,
// convpool.go FusedConvPool (a convolution and the max pool after it,
// computed band by band), conv_narrow.go the direct convolution for fewer
// than 16 output channels (output cells along the vector lanes; it pools
// as it stores for FusedConvPool), nchwc.go the channel-blocked ops (NCHWcConv,
// NCHWcMaxPool, NCHWcAveragePool, ToNCHWc, FromNCHWc: a direct
// convolution and pools on [N, C/16, H, W, 16] activations, AVX-512 and
// AVX2, simd_nchwc_amd64.c, which also holds the depthwise convolution that
// transposes 16 NCHW planes at a time into that layout and back, reading
// them through a channel shuffle when the FusedConv has one).
// Each fast kernel is tested against its Go reference at every level.
//
// Conventions: a factory reads and validates the node's attributes once and
// returns a runtime.OpFunc closure; the closure checks input dtypes/shapes
// (returning an error, never panicking), allocates outputs with ctx.Alloc and
// fills them. Ops implement the operator semantics of ONNX opset 13 and later
// (the importer upgrades older forms), reading runtime.NodeInfo.Opset where a
// later opset changed an operator (Reduce* axes as an input from 18, ...).
package cpu
