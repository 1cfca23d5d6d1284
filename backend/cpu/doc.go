// Package cpu is gcompress's CPU backend: one OpFactory per supported ONNX
// operator, registered in a runtime.Registry. The kernels here are the plain
// Go reference implementations, written for correctness; fast SIMD paths
// replace the hot inner functions (GEMM, convolution) behind the same ops.
//
// Conventions: a factory reads and validates the node's attributes once and
// returns a runtime.OpFunc closure; the closure checks input dtypes/shapes
// (returning an error, never panicking), allocates outputs with ctx.Alloc and
// fills them. Ops implement the operator semantics of ONNX opset 13 and later
// (the importer upgrades older forms), reading runtime.NodeInfo.Opset where a
// later opset changed an operator (Reduce* axes as an input from 18, ...).
package cpu
