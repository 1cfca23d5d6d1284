package gobind

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/cuda"
)

// TensorMap is what a kernel's tensor-map parameter (kernels/tma.cuh)
// copies from: the 2-D byte array at Base of Rows rows of RowBytes bytes,
// Pitch bytes apart, in boxes of BoxRows x BoxBytes swizzled in spans of
// Swizzle bytes (0: none). Runners encode it, the GPU's through the driver
// (cuda.Device.EncodeTensorMap), the emulator in its own layout.
type TensorMap struct {
	Base              cuda.Mem
	RowBytes, Rows    int64
	Pitch             int64
	BoxBytes, BoxRows int
	Swizzle           int
}

// BoxSize is the bytes one copy of a box writes (the zero-filled ones
// included), what its mbarrier is told to expect.
func (m TensorMap) BoxSize() int { return m.BoxBytes * m.BoxRows }

// Validate checks m against the driver's rules for a tiled byte tensor map
// (cuTensorMapEncodeTiled) and that the array lies within Base: a 16-byte
// aligned base, a pitch that is a multiple of 16, a box of 16..256 bytes
// (a multiple of 16) by 1..256 rows, and no wider than its swizzle span.
func (m TensorMap) Validate(kernel string) error {
	switch {
	case m.Base.IsNull():
		return argErr(kernel, "tensor map of a null pointer")
	case !m.Base.Aligned(16):
		return argErr(kernel, "tensor map base must be 16-byte aligned")
	case m.RowBytes < 1 || m.Rows < 1 || m.RowBytes > math.MaxInt32 || m.Rows > math.MaxInt32:
		// Box coordinates are signed 32-bit.
		return argErr(kernel, "tensor map of %d rows of %d bytes (1 to 2^31-1 each)", m.Rows, m.RowBytes)
	case m.Pitch%16 != 0 || m.Pitch < m.RowBytes || m.Pitch >= 1<<40:
		return argErr(kernel, "tensor map pitch %d: a multiple of 16, at least the row's %d bytes", m.Pitch, m.RowBytes)
	case m.BoxBytes < 16 || m.BoxBytes > 256 || m.BoxBytes%16 != 0 || m.BoxRows < 1 || m.BoxRows > 256:
		return argErr(kernel, "tensor map box of %d rows of %d bytes", m.BoxRows, m.BoxBytes)
	case m.Swizzle != 0 && m.Swizzle != 32 && m.Swizzle != 64 && m.Swizzle != 128:
		return argErr(kernel, "tensor map swizzle %d, want 0, 32, 64 or 128", m.Swizzle)
	case m.Swizzle != 0 && m.BoxBytes > m.Swizzle:
		return argErr(kernel, "tensor map box rows of %d bytes exceed the %d-byte swizzle", m.BoxBytes, m.Swizzle)
	}
	if need := (m.Rows-1)*m.Pitch + m.RowBytes; need > m.Base.Bytes {
		return argErr(kernel, "tensor map covers %d bytes, its buffer has %d", need, m.Base.Bytes)
	}
	return nil
}

// TmaProbeShared is the dynamic shared memory of gc_tma_probe: the largest
// box (256 x 256 bytes) and the alignment slack.
const TmaProbeShared = 256*256 + WgmmaAlign

// TmaProbeSpec returns the launch of gc_tma_probe (kernels/gemm_wgmma.cu):
// m's box at byte x0, row y0 and then at x1, y1, copied into shared memory
// and written to out as they land there (2 m.BoxSize() bytes).
func TmaProbeSpec(m TensorMap, out cuda.Mem, x0, y0, x1, y1 int64) (LaunchSpec, error) {
	const name = "gc_tma_probe"
	if err := m.Validate(name); err != nil {
		return LaunchSpec{}, err
	}
	for _, c := range []int64{x0, y0, x1, y1} {
		if c < math.MinInt32 || c > math.MaxInt32 {
			return LaunchSpec{}, argErr(name, "box coordinate %d outside int32", c)
		}
	}
	if err := probeBuffers(name, 16, probeBuffer{"out", out, int64(2 * m.BoxSize())}); err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Kernel: name, Grid: 1, Block: 128, Shared: m.BoxSize() + WgmmaAlign, Maps: []TensorMap{m},
		Params: []uint64{ptr(out), i64(x0), i64(y0), i64(x1), i64(y1), i64(int64(m.BoxSize()))}}.check()
}

// ClusterProbeShared is the dynamic shared memory of gc_cluster_probe: a
// cluster's worth of the largest box, the alignment slack and two
// mbarriers.
const ClusterProbeShared = GemmCluster*256*256 + WgmmaAlign + 16

// ClusterProbeSpec returns the launch of gc_cluster_probe (kernels/
// gemm_wgmma.cu), one cluster of GemmCluster blocks: block r multicasts m's
// box at byte x, row y + r m.BoxRows into every block, and each block
// writes the GemmCluster boxes it received to out (GemmCluster^2
// m.BoxSize() bytes in all, block by block).
func ClusterProbeSpec(m TensorMap, out cuda.Mem, x, y int64) (LaunchSpec, error) {
	const name = "gc_cluster_probe"
	if err := m.Validate(name); err != nil {
		return LaunchSpec{}, err
	}
	if x < 0 || x > math.MaxInt32 || y < 0 || y+GemmCluster*int64(m.BoxRows) > math.MaxInt32 {
		return LaunchSpec{}, argErr(name, "box coordinates %d, %d outside int32", x, y)
	}
	if err := probeBuffers(name, 16, probeBuffer{"out", out, int64(GemmCluster * GemmCluster * m.BoxSize())}); err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Kernel: name, Grid: GemmCluster, Block: 128, Cluster: GemmCluster,
		Shared: GemmCluster*m.BoxSize() + WgmmaAlign + 16, Maps: []TensorMap{m},
		Params: []uint64{ptr(out), i64(x), i64(y), i64(int64(m.BoxRows)), i64(int64(m.BoxSize()))}}.check()
}

// maps is the number of tensor maps a GEMM entry point of the tile takes
// first (A and B for the TMA shapes).
func (t Tile) maps() int {
	if t.TMA {
		return 2
	}
	return 0
}

// twin is the cp.async wgmma shape of a TMA shape's output tile (wBMxBN),
// which runs its launches with nothing to copy (M, N or K zero): a tensor
// map cannot describe an empty array.
func (t Tile) twin() string { return fmt.Sprintf("w%dx%d", t.BM, t.BN) }

// tmaMaps are the tensor maps of a dense launch in shape t: none unless t
// is a TMA shape; then A (M rows) and B (N rows) as byte arrays of K
// elements a row, in boxes of a stage's bytes by the tile's rows (B's
// shared by a cluster shape's blocks: each copies its share of the rows
// to all), with the 128-byte swizzle the kernel's wgmma descriptors name.
func (a *GemmArgs) tmaMaps(t Tile) []TensorMap {
	if !t.TMA {
		return nil
	}
	eb := a.In.Bytes()
	return []TensorMap{
		{Base: a.A, RowBytes: a.K * eb, Rows: a.M, Pitch: a.LdA * eb, BoxBytes: t.BKBytes, BoxRows: t.BM, Swizzle: t.BKBytes},
		{Base: a.B, RowBytes: a.K * eb, Rows: a.N, Pitch: a.LdB * eb, BoxBytes: t.BKBytes, BoxRows: t.BN / t.ClusterSize(),
			Swizzle: t.BKBytes},
	}
}

// tmaMaps of a 2:4 launch: for a TMA shape the compressed values of A in
// boxes of SpABytes with the 64-byte swizzle, and B as in the dense one.
// Values row by row (k-tile stride SpABytes) are M rows of K/2 elements,
// the kernel's box of k tile t at byte t*SpABytes of row bm; k tile by k
// tile (rows of SpABytes, Validate) they are rows of SpABytes, k tile t's
// rows starting t*LdVK/SpABytes rows on, so its box is at row bm of them
// (the kernel tells the two apart by the k-tile stride, tma_fill). In the
// second, a box that reaches past row M reads the k tile's padding rows,
// then the next k tile's (zeros past the last): results of rows past M,
// which are never stored.
func (a *SparseGemmArgs) tmaMaps(t Tile) []TensorMap {
	if !t.TMA {
		return nil
	}
	eb := a.In.Bytes()
	v := a.values(a.Format())
	mA := TensorMap{Base: a.AValues, RowBytes: a.K / 2 * eb, Rows: a.M, Pitch: v.ld, BoxBytes: SpABytes, BoxRows: t.BM, Swizzle: SpABytes}
	switch {
	case v.ldk != v.tileBytes:
		mA.RowBytes, mA.Rows = v.tileBytes, (v.tiles-1)*(v.ldk/v.tileBytes)+a.M
	case a.M == 1:
		mA.Pitch = max(mA.Pitch, mA.RowBytes) // one row: the stride is never used
	}
	return []TensorMap{
		mA,
		{Base: a.B, RowBytes: a.K * eb, Rows: a.N, Pitch: a.LdB * eb, BoxBytes: SpBBytes, BoxRows: t.BN / t.ClusterSize(),
			Swizzle: SpBBytes},
	}
}

// withMaps adds maps (none for a shape without TMA) to a GEMM launch s
// after validating them.
func withMaps(s LaunchSpec, maps []TensorMap) (LaunchSpec, error) {
	for _, m := range maps {
		if err := m.Validate(s.Kernel); err != nil {
			return LaunchSpec{}, err
		}
	}
	s.Maps = maps
	return s, nil
}
