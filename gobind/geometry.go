package gobind

// Launch constants shared with the kernels; the values mirror
// kernels/gemm_config.h (a test parses it and compares).
const (
	GemmThreads   = 256
	GemmWSThreads = 384
	GemmGroupM    = 8
	GemmCluster   = 2
	GemmClusterQ  = 4

	SpABytes       = 64
	SpBBytes       = 128
	SpMetaBytesS8  = 16
	SpMetaBytesF16 = 8

	// WgmmaAlign is the alignment of the wgmma kernels' stages (the
	// 1024-byte atom of the 128-byte swizzle, gemm_wgmma.cu).
	WgmmaAlign = 1024

	EltThreads     = 256
	SoftmaxThreads = 256

	// maxEltBlocks caps the grid of the grid-stride elementwise kernels
	// (enough to fill any current GPU several times over).
	maxEltBlocks = 1 << 16
	// maxGrid is the largest grid.x the driver accepts.
	maxGrid = 1<<31 - 1
)

// Tile is one GEMM tile shape, a row of GC_DENSE_TILES or GC_SPARSE_TILES
// in kernels/gemm_config.h: a BM x BN output tile per block of GemmThreads
// threads, BKBytes of K per pipeline stage, Stages stages, WarpsM warps
// along M, MinBlocks blocks per SM promised by the launch bounds, and Hoist
// the K loop with its addresses worked out before it (gc::Tile; for wgmma,
// a stage's wgmma issued before its refill's copies), InFlight the wgmma
// groups a warpgroup leaves running at each wait (wgmma only). Every GEMM
// entry point exists once per shape, named <base>_<Name>. Wgmma marks the
// rows of GC_WGMMA_TILES and GC_WGMMA_SPARSE_TILES: the GEMMs of
// gemm_wgmma.cu, issued per warpgroup by Hopper's wgmma (sm_90 GPUs only,
// WarpsM 8); TMA those of GC_WGMMA_TMA_TILES and GC_WGMMA_SPARSE_TMA_TILES,
// whose operands the TMA engine copies (their launches pass tensor maps:
// GemmArgs.tmaMaps), and TMA and Producer those of GC_WGMMA_WS_TILES and
// GC_WGMMA_SPARSE_WS_TILES, warp-specialised: blocks of GemmWSThreads, a
// producer warpgroup beside the two that issue the wgmmas. Cluster is the
// blocks per thread-block cluster of the m shapes (GC_WGMMA_MC_TILES,
// GC_WGMMA_SPARSE_MC_TILES: GemmCluster blocks, vertically adjacent tiles,
// each TMA-multicasting its share of the B tile to all) and of the q
// shapes (GC_WGMMA_MQ_TILES, GC_WGMMA_SPARSE_MQ_TILES: GemmClusterQ
// blocks), 0 for the others.
type Tile struct {
	Name                                       string
	BM, BN, BKBytes, Stages, WarpsM, MinBlocks int
	Hoist                                      bool
	InFlight                                   int
	Wgmma, TMA, Producer                       bool
	Cluster                                    int
}

// Threads is the block size of the shape's launches.
func (t Tile) Threads() int {
	if t.Producer {
		return GemmWSThreads
	}
	return GemmThreads
}

// DenseTiles and SparseTiles are the shapes compiled into the fatbins, in
// the order of gemm_config.h.
var (
	DenseTiles = []Tile{
		{"t128x128k64", 128, 128, 64, 4, 2, 2, false, 0, false, false, false, 0},
		{"t128x128k64h", 128, 128, 64, 4, 2, 2, true, 0, false, false, false, 0},
		{"w128x256", 128, 256, 128, 4, 8, 1, false, 1, true, false, false, 0},
		{"w128x128", 128, 128, 128, 6, 8, 1, false, 1, true, false, false, 0},
		{"w256x192", 256, 192, 128, 4, 8, 1, false, 1, true, false, false, 0},
		{"w128x256t", 128, 256, 128, 4, 8, 1, false, 1, true, true, false, 0},
		{"w256x192t", 256, 192, 128, 4, 8, 1, false, 1, true, true, false, 0},
		{"w128x256p", 128, 256, 128, 4, 8, 1, false, 1, true, true, true, 0},
		{"w128x128p", 128, 128, 128, 6, 8, 1, false, 1, true, true, true, 0},
		{"w256x192p", 256, 192, 128, 4, 8, 1, false, 1, true, true, true, 0},
		{"w128x256pm", 128, 256, 128, 4, 8, 1, false, 1, true, true, true, GemmCluster},
		{"w128x128pm", 128, 128, 128, 6, 8, 1, false, 1, true, true, true, GemmCluster},
		{"w128x256pq", 128, 256, 128, 4, 8, 1, false, 1, true, true, true, GemmClusterQ},
	}
	SparseTiles = []Tile{
		{"t128x128", 128, 128, 128, 3, 2, 2, false, 0, false, false, false, 0},
		{"t128x128h", 128, 128, 128, 3, 2, 2, true, 0, false, false, false, 0},
		{"w128x256", 128, 256, 128, 4, 8, 1, false, 0, true, false, false, 0},
		{"w128x128", 128, 128, 128, 6, 8, 1, false, 0, true, false, false, 0},
		{"w256x192", 256, 192, 128, 5, 8, 1, false, 0, true, false, false, 0},
		{"w128x256f", 128, 256, 128, 4, 8, 1, false, 1, true, false, false, 0},
		{"w128x128f", 128, 128, 128, 6, 8, 1, false, 1, true, false, false, 0},
		{"w128x256ft", 128, 256, 128, 4, 8, 1, false, 1, true, true, false, 0},
		{"w256x192ft", 256, 192, 128, 5, 8, 1, false, 1, true, true, false, 0},
		{"w128x256fp", 128, 256, 128, 4, 8, 1, false, 1, true, true, true, 0},
		{"w256x192fp", 256, 192, 128, 5, 8, 1, false, 1, true, true, true, 0},
		{"w128x256fpm", 128, 256, 128, 4, 8, 1, false, 1, true, true, true, GemmCluster},
		{"w256x192fpm", 256, 192, 128, 5, 8, 1, false, 1, true, true, true, GemmCluster},
		{"w128x256fpq", 128, 256, 128, 4, 8, 1, false, 1, true, true, true, GemmClusterQ},
		{"w256x192fpq", 256, 192, 128, 5, 8, 1, false, 1, true, true, true, GemmClusterQ},
	}
)

// Blocks is the number of BM x BN output tiles (blocks) of an M x N GEMM,
// for a cluster shape with the tile rows rounded up to whole clusters (the
// blocks past M compute zeros and store nothing).
func (t Tile) Blocks(m, n int64) int64 {
	if t.BM == 0 {
		return 0
	}
	rows := ceilDiv(m, int64(t.BM))
	if c := int64(t.ClusterSize()); c > 1 {
		rows = ceilDiv(rows, c) * c
	}
	return rows * ceilDiv(n, int64(t.BN))
}

// Grid is the number of blocks of an m x n launch: Blocks, capped at
// maxBlocks rounded down to whole clusters (at least one) where maxBlocks
// is positive (GemmArgs.MaxBlocks; the shape's blocks loop over tiles).
func (t Tile) Grid(m, n, maxBlocks int64) int64 {
	b := t.Blocks(m, n)
	if maxBlocks <= 0 {
		return b
	}
	c := int64(t.ClusterSize())
	return min(b, max(maxBlocks/c, 1)*c)
}

// ClusterSize is the blocks per cluster of the shape's launches (1: no
// clusters).
func (t Tile) ClusterSize() int { return max(t.Cluster, 1) }

// ringBarriers is the dynamic shared memory of a warp-specialised shape's
// mbarriers (a full and an empty one per stage, 8 bytes each, past the
// stages: gemm_wgmma.cu, WsRing).
func (t Tile) ringBarriers() int {
	if t.Producer {
		return 16 * t.Stages
	}
	return 0
}

// DenseShared is the dynamic shared memory of a dense GEMM with this shape:
// Stages x (BM + BN) rows of BKBytes, plus for wgmma the WgmmaAlign bytes
// the kernel may skip to align its stages.
func (t Tile) DenseShared() int {
	n := t.Stages*(t.BM+t.BN)*t.BKBytes + t.ringBarriers()
	if t.Wgmma {
		n += WgmmaAlign
	}
	return n
}

// SparseShared is the dynamic shared memory of a 2:4 GEMM with this shape
// and input type: per stage BM rows of compressed A (SpABytes) and metadata,
// BN rows of B (SpBBytes); for wgmma plus the WgmmaAlign alignment slack.
func (t Tile) SparseShared(in Elem) int {
	meta := SpMetaBytesS8
	if in != S8 {
		meta = SpMetaBytesF16
	}
	n := t.Stages*(t.BM*(SpABytes+meta)+t.BN*SpBBytes) + t.ringBarriers()
	if t.Wgmma {
		n += WgmmaAlign
	}
	return n
}

// DenseTileOrder and SparseTileOrder list, per input type, the shapes a
// launch that names none uses, best first: the Launcher takes the first one
// the device can run. The wgmma shapes lead (sm_90 only), each the fastest
// of its family at 8192^3 (docs/RESULTS.md, sessions 21, 26 and 29): int8
// dense w128x256t (1.31-1.37x cuBLASLt on an H100, 1.44x on an H200; the
// warp-specialised w128x256p within 1% of it), f16 and bf16 dense
// w128x128pm (0.82x cuBLAS on an H200, where w128x128, next, ran 0.74x),
// int8 2:4 w256x192ft (w256x192fp level with it, within 1%), f16 2:4
// w128x256fp (8% ahead of w128x256ft on an H100; bf16 was not timed and
// follows f16). The t, p and m shapes need the driver's tensor-map encoder
// (CUDA 12), which every driver that compiles the wgmma PTX has.
// Elsewhere the measured mma.sync shapes serve.
var (
	DenseTileOrder = map[Elem][]string{
		S8:   {"w128x256t", "w128x256", "t128x128k64"},
		F16:  {"w128x128pm", "w128x128", "t128x128k64"},
		BF16: {"w128x128pm", "w128x128", "t128x128k64"},
	}
	SparseTileOrder = map[Elem][]string{
		S8:   {"w256x192ft", "w128x256", "t128x128"},
		F16:  {"w128x256fp", "w128x256ft", "w128x128", "t128x128"},
		BF16: {"w128x256fp", "w128x256ft", "w128x128", "t128x128"},
	}
)

// orFirst returns name, or when it is empty the first of order.
func orFirst(name string, order []string) string {
	if name == "" && len(order) > 0 {
		return order[0]
	}
	return name
}

// Tiles is the tile shapes of the dense (sparse) GEMMs: DenseTiles
// (SparseTiles).
func Tiles(sparse bool) []Tile {
	if sparse {
		return SparseTiles
	}
	return DenseTiles
}

// TileNamed is the dense (sparse) tile shape called name; the zero Tile
// where there is none.
func TileNamed(sparse bool, name string) Tile { return tileNamed(Tiles(sparse), name) }

// tileNamed finds a shape by name in tiles (the zero Tile when absent).
func tileNamed(tiles []Tile, name string) Tile {
	for _, t := range tiles {
		if t.Name == name {
			return t
		}
	}
	return Tile{}
}

// tileName is the name of the tile shape the launch uses: Tile, or the
// first of the order list of its input type.
func (a *GemmArgs) tileName() string       { return orFirst(a.Tile, DenseTileOrder[a.In]) }
func (a *SparseGemmArgs) tileName() string { return orFirst(a.Tile, SparseTileOrder[a.In]) }

// shape is the tile shape the launch uses (the zero Tile for an unknown
// name, which Validate refuses first).
func (a *GemmArgs) shape() Tile       { return tileNamed(DenseTiles, a.tileName()) }
func (a *SparseGemmArgs) shape() Tile { return tileNamed(SparseTiles, a.tileName()) }

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
