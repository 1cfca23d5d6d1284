// Package kerneltest holds the shared test suites of gcompress's GPU kernels
// (DESIGN.md §5: one suite per op family; implementations only call
// kerneltest.Int8GEMM(t, impl) and friends). A suite generates the cases
// (sizes 1, odd, prime and large; every epilogue), computes the expected
// output with the references of kernels/ref, runs the implementation on host
// buffers, and checks
//
//   - the result: bit-exact for integer outputs and for the exactly specified
//     float epilogues, by NMSE for half-precision GEMMs (named tolerances
//     below), by relative error for softmax;
//   - that every output element was written: each case runs twice, with the
//     output buffer poisoned with two different byte patterns, and both runs
//     must match (an unwritten element keeps the poison, which cannot equal
//     the reference in both runs);
//   - a guard band: the output buffer is larger than the result window on
//     both sides, and nothing outside the window may change.
//
// The CUDA implementations (gobind's cuda-tagged tests and the kernelbench
// -check mode) copy the host buffers to the device, launch, and copy the
// output buffer back. Here, in the default build, the suites run against
// the references themselves and against deliberately broken implementations
// (kerneltest_test.go) to show that they can fail.
//
// Every suite reports through a Reporter (a *testing.T, or a table printer)
// and returns one Result per case for a pass/fail table.
package kerneltest
