// Command kernelbench checks and times gcompress's CUDA kernels on a GPU
// host: -check runs every kernel's shared test suite against its Go
// reference and prints a pass/fail table; -bench times the GEMMs with CUDA
// events (L2 flushed between repeats) at large sizes, checks each against
// the reference on sampled rows first, and puts the results beside the
// vendor baselines that kernels/bench/vendor_bench.py measured with PyTorch
// (-vendor), with the acceptance ratios of issue 4, into a JSON report.
//
//	kernelbench -check                      every suite, pass/fail table
//	kernelbench -bench -vendor vendor.json  timings beside the vendor's
//	kernelbench -check -bench -vendor vendor.json -out results.json
//
// It needs the gcompress_cuda build (make gpu-bundle builds it); the default
// build compiles a stub that says so.
package main
