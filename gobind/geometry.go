package gobind

// Tile configuration of the GEMM kernels and the elementwise launch shapes;
// the values mirror kernels/gemm_config.h (a test parses it and compares).
const (
	GemmBM        = 128
	GemmBN        = 128
	GemmBKBytes   = 64
	GemmStages    = 4
	GemmThreads   = 256
	GemmSmemBytes = 65536
	GemmGroupM    = 8

	SpStages       = 3
	SpABytes       = 64
	SpBBytes       = 128
	SpMetaBytesS8  = 16
	SpMetaBytesF16 = 8
	SpSmemBytesS8  = 79872
	SpSmemBytesF16 = 76800

	EltThreads     = 256
	SoftmaxThreads = 256

	// maxEltBlocks caps the grid of the grid-stride elementwise kernels
	// (enough to fill any current GPU several times over).
	maxEltBlocks = 1 << 16
	// maxGrid is the largest grid.x the driver accepts.
	maxGrid = 1<<31 - 1
)

// GemmBlocks is the number of 128x128 output tiles (blocks) of an M x N GEMM.
func GemmBlocks(m, n int64) int64 {
	return ceilDiv(m, GemmBM) * ceilDiv(n, GemmBN)
}

// EltBlocks is the grid of an elementwise kernel over n elements.
func EltBlocks(n int64) int {
	return int(min(max(ceilDiv(n, EltThreads), 1), maxEltBlocks))
}

// SoftmaxBlocks is the grid of the row softmax (one block per row,
// grid-stride beyond the cap).
func SoftmaxBlocks(rows int64) int {
	return int(min(max(rows, 1), maxEltBlocks))
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
