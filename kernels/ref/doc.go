// Package ref holds the plain Go reference implementations of gcompress's
// CUDA kernels (kernels/*.cu) and the declarations of the packed data formats
// those kernels read. It builds without the CUDA toolkit and without a GPU:
// the references are the oracles the GPU tests compare against, and the
// formats (2:4 sparse values + metadata) are produced on the host by the
// compressor here.
//
// Every reference states its maths in its doc comment. Conventions shared by
// all GEMMs:
//
//	D[i][j] = epilogue( Σ_p A[i][p] · B[j][p] ),  0 <= i < M, 0 <= j < N, 0 <= p < K
//
// A is M×K row-major with row stride lda, B is N×K row-major with row stride
// ldb (the "TN" layout: both operands contiguous along K, as a PyTorch Linear
// weight [out, in] is), and D[i][j] is stored at c[i*ldcM + j*ldcN], so a
// row-major output has (ldcM, ldcN) = (ldc, 1) and a transposed one (1, ldc).
//
// Integer GEMMs accumulate in int32 with wrap-around (two's complement
// arithmetic modulo 2^32, which is what the tensor cores' s32 accumulators do
// without .satfinite); since wrapping addition is associative the result does
// not depend on summation order, and the GPU must match bit for bit. The
// float epilogues are specified operation by operation (each rounded to
// float32, no fused multiply-add) so that they too are reproducible exactly.
package ref
