// Package backend is gcompress's CUDA runtime backend (build tag
// gcompress_cuda): a runtime.Backend that runs on the GPU the operators it
// has kernels for (kernels/*.cu through gobind) and hands every other
// operator, and every call its kernels cannot take (dtype, attributes,
// non-constant weights), to the CPU backend.
//
// Placement is explicit and per node: the factory decides at session
// preparation whether a node can run on the GPU (its constant weights are
// then uploaded once, transposed and padded for the kernels), and each run
// checks the actual inputs; Report lists, per operator type, how many runs
// went to the GPU and to the CPU, with the host<->device transfers the GPU
// runs cost. The runtime's tensors live on the host, so every GPU op copies
// its (non-constant) inputs in and its outputs out; those copies are what
// the transfer counts measure, and what keeping activations resident on the
// device (a runtime change) would remove.
//
// GPU operators: MatMulInteger (int8 x int8 -> int32, constant B, zero
// points absent or zero), QLinearMatMul (int8, zero input zero points,
// per-tensor or per-column weight scale; the requantization uses a float32
// multiplier, so an output can differ by 1 from the CPU backend's float64
// rounding on a tie), com.microsoft QGemm (what `gcompress quantize` lowers
// Gemm and 2-D MatMul layers to: uint8 or int8 A, constant int8 B with zero
// zero points, C per column; see qgemmPlan), QLinearConv (2-D, one group,
// uint8 or int8 x and y, constant int8 weight with zero zero points:
// gc_im2col_s8 and the int8 GEMM per image, requantized per output channel
// in its epilogue; see qconvPlan), MatMul on float16/bfloat16
// with a constant B,
// Softmax over the last axis (float32), QuantizeLinear to int8 and
// DequantizeLinear from int8 (per tensor or per axis), Relu and
// same-shape Add (float32).
//
// A GEMM's constant weight W (K x N) that is 2:4 sparse along K (at most two
// non-zeros in every four consecutive elements of a column, as `gcompress
// prune --method 2:4` leaves the weights of a layer) runs on the 2:4
// tensor-core GEMMs: Wᵀ is compressed once (values and metadata, K padded
// to the format's alignment), and each run computes Yᵀ = Wᵀ·Xᵀ with the
// activation X as the dense operand and the output stored transposed, which
// is Y; a per-column weight scale becomes the kernel's per-row one. Report
// counts those nodes (Sparse24Nodes); GCOMPRESS_SPARSE24=off (Sparse24Env)
// keeps them on the dense GEMMs, and GCOMPRESS_SPARSE24=auto keeps the
// weight both ways and runs whichever GEMM was faster at the run's row
// count, timing both (CUDA events) on a node's first run at each
// (Report.Sparse24Auto).
package backend
