// Package gemmbench times gobind's GPU GEMMs (build tag gcompress_cuda)
// the way issue 4's benchmarks count them: each problem is checked against
// the Go reference on sampled output rows before it is timed, then timed
// with CUDA events around one launch, the L2 cache flushed (a buffer of
// twice its size overwritten) before every repeat.
//
// A problem D = A·Bᵀ has A M x K, B N x K and D M x N, row-major, of seeded
// random data (int8 uniform over [-128, 127], halves uniform over [-1, 1]);
// in the 2:4 families at most two of every four consecutive elements of
// each A row are non-zero (kerneltest.Random24: two in 7 groups of 8) and
// A is passed compressed (ref.Compress24), the same size whatever the
// count. The output type is
// Out: int32 for int8 inputs, the input's own type for halves.
//
// TOPS counts 2·M·N·K operations per run for dense and 2:4 alike (the
// dense-equivalent count vendors use), so a 2:4 GEMM's TOPS over its dense
// twin's is its speed-up.
//
// kernelbench (-bench) and `gcompress --device cuda:N bench gemm` use it.
package gemmbench
