// Parallel sections of the kernels (packing, the GEMM windows, convolution
// jobs) run on the runtime's worker pool (runtime.Parallel): workers spin
// for a while after a section before they park, and chunks are claimed
// dynamically, so a section costs about a microsecond when the workers are
// warm and the caller never waits for a helper that has not started.

package cpu

import "github.com/gcompress/gcompress/runtime"

// parallelChunks splits [0, n) into at most parts contiguous chunks of
// nearly equal size and runs them concurrently (runtime.ParallelChunks).
// It returns when all are done.
func parallelChunks(n, parts int, fn func(lo, hi int)) {
	runtime.ParallelChunks(n, parts, fn)
}
