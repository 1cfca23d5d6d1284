package gobind

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/kernels/ref"
)

// mem returns a fake device view at a 256-byte aligned address.
func mem(base uintptr, n int64) cuda.Mem { return cuda.Mem{Ptr: base << 20, Bytes: n} }

func goodGemm() GemmArgs {
	return GemmArgs{In: S8, M: 100, N: 50, K: 70,
		A: mem(1, 100*80), LdA: 80, B: mem(2, 50*80), LdB: 80,
		Epilogue: Epilogue{Out: ref.OutS32, C: mem(3, 100*50*4), LdCM: 50, LdCN: 1}}
}

func TestGemmArgsValidate(t *testing.T) {
	g := goodGemm()
	if err := g.Validate(); err != nil {
		t.Fatalf("valid args rejected: %v", err)
	}
	if want := "gc_gemm_s8_s32_" + DenseTileOrder[S8][0]; g.Kernel() != want {
		t.Fatalf("kernel %s, want %s", g.Kernel(), want)
	}
	g.Tile = DenseTiles[0].Name
	if err := g.Validate(); err != nil || g.Kernel() != "gc_gemm_s8_s32_"+g.Tile {
		t.Fatalf("named tile: %s, %v", g.Kernel(), err)
	}
	if spec, err := g.Spec(); err != nil || spec.Shared != DenseTiles[0].DenseShared() || spec.Grid != 1 {
		t.Fatalf("named tile spec %+v, %v", spec, err)
	}
	g.Tile = "t64x64"
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), `tile "t64x64"`) {
		t.Fatalf("unknown tile: %v", err)
	}
	g = goodGemm()
	bad := map[string]func(*GemmArgs){
		"lda not 16-byte multiple": func(a *GemmArgs) { a.LdA = 72 },
		"lda < K":                  func(a *GemmArgs) { a.LdA, a.K = 64, 70 },
		"A misaligned":             func(a *GemmArgs) { a.A.Ptr += 8 },
		"A too short":              func(a *GemmArgs) { a.A.Bytes = 99*80 + 69 },
		"B null":                   func(a *GemmArgs) { a.B = cuda.Mem{} },
		"C too short":              func(a *GemmArgs) { a.C.Bytes = 100*50*4 - 1 },
		"C strides alias":          func(a *GemmArgs) { a.LdCM = 49 },
		"C strides neither":        func(a *GemmArgs) { a.LdCM, a.LdCN = 100, 2 },
		"C misaligned":             func(a *GemmArgs) { a.C.Ptr += 2 },
		"scale on s32":             func(a *GemmArgs) { a.Scale = mem(4, 200) },
		"no kernel s8->f16":        func(a *GemmArgs) { a.Out = ref.OutF16 },
		"zero point on f32":        func(a *GemmArgs) { a.Out, a.ZeroPoint = ref.OutF32, 3 },
		"zero point range":         func(a *GemmArgs) { a.Out, a.ZeroPoint = ref.OutS8, 200 },
		"short scale per col":      func(a *GemmArgs) { a.Out, a.Scale = ref.OutF32, mem(4, 4*49) },
		"short bias per row":       func(a *GemmArgs) { a.Out, a.Axis, a.Bias = ref.OutS8, ref.PerRow, mem(4, 4*99) },
		"output overlaps A":        func(a *GemmArgs) { a.C = mem(1, 100*50*4) },
		"negative K":               func(a *GemmArgs) { a.K = -1 },
		"bad axis":                 func(a *GemmArgs) { a.Axis = 7 },
		"MaxBlocks, one per tile":  func(a *GemmArgs) { a.MaxBlocks = 4 },
		"MaxBlocks negative":       func(a *GemmArgs) { a.Tile, a.MaxBlocks = "w128x256p", -1 },
	}
	for name, mutate := range bad {
		a := goodGemm()
		mutate(&a)
		if err := a.Validate(); err == nil || !errors.Is(err, ErrArgs) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	ok := map[string]func(*GemmArgs){
		"transposed output": func(a *GemmArgs) { a.LdCM, a.LdCN = 1, 100 },
		"requant per row": func(a *GemmArgs) {
			a.Out, a.Axis, a.Scale, a.Bias, a.ZeroPoint = ref.OutS8, ref.PerRow, mem(4, 400), mem(5, 400), -5
		},
		"empty M": func(a *GemmArgs) { a.M, a.A = 0, cuda.Mem{} },
		"K zero":  func(a *GemmArgs) { a.K, a.A, a.B = 0, cuda.Mem{}, cuda.Mem{} },
		"f16 -> f16": func(a *GemmArgs) {
			a.In, a.Out, a.C = F16, ref.OutF16, mem(3, 100*50*2)
			a.A.Bytes *= 2
			a.B.Bytes *= 2
		},
		"odd K, padded ld": func(a *GemmArgs) { a.K = 1 },
		"bf16 -> f32 + scale": func(a *GemmArgs) {
			a.In, a.Out, a.Scale = BF16, ref.OutF32, mem(4, 200)
			a.A.Bytes *= 2
			a.B.Bytes *= 2
		},
	}
	for name, mutate := range ok {
		a := goodGemm()
		mutate(&a)
		if err := a.Validate(); err != nil {
			t.Errorf("%s rejected: %v", name, err)
		}
	}
}

func goodSparse() SparseGemmArgs {
	// M = 64 rows, K = 256 logical (2 stages of 128), N = 10.
	return SparseGemmArgs{In: S8, M: 64, N: 10, K: 256,
		AValues: mem(1, 64*128), LdV: 128, AMeta: mem(2, 64*32), LdE: 32,
		B: mem(3, 10*256), LdB: 256,
		Epilogue: Epilogue{Out: ref.OutF32, C: mem(4, 64*10*4), LdCM: 1, LdCN: 64, Axis: ref.PerRow, Scale: mem(5, 256)}}
}

// TestMaxBlocksGrid: a p, m or q shape's grid capped by MaxBlocks, rounded
// down to whole clusters and at least one.
func TestMaxBlocksGrid(t *testing.T) {
	pm := tileNamed(DenseTiles, "w128x256pm")
	if pm.ClusterSize() != 2 || !pm.Producer {
		t.Fatalf("w128x256pm: %+v", pm)
	}
	for _, c := range []struct{ max, want int64 }{{0, 32}, {100, 32}, {32, 32}, {5, 4}, {2, 2}, {1, 2}} {
		if got := pm.Grid(1000, 1000, c.max); got != c.want {
			t.Errorf("Grid(1000, 1000, %d) = %d, want %d (8 rows x 4 columns of tiles)", c.max, got, c.want)
		}
	}
	g := goodGemm()
	g.Tile, g.MaxBlocks = "w128x256p", 1
	if spec, err := g.Spec(); err != nil || spec.Grid != 1 {
		t.Errorf("w128x256p in one block: %+v, %v", spec, err)
	}
}

func TestSparseGemmArgsValidate(t *testing.T) {
	s := goodSparse()
	if err := s.Validate(); err != nil {
		t.Fatalf("valid sparse args rejected: %v", err)
	}
	// Nothing to read: K zero (in a TMA shape too, and with a k-tile
	// stride for values that have no k tiles), or no rows.
	for name, mutate := range map[string]func(*SparseGemmArgs){
		"K zero":               func(a *SparseGemmArgs) { a.K, a.AValues, a.AMeta, a.B = 0, cuda.Mem{}, cuda.Mem{}, cuda.Mem{} },
		"K zero, TMA, by tile": func(a *SparseGemmArgs) { a.Tile, a.K, a.LdV, a.LdVK = "w256x192ft", 0, 64, 64*64 },
		"M zero":               func(a *SparseGemmArgs) { a.M, a.AValues, a.AMeta = 0, cuda.Mem{}, cuda.Mem{} },
	} {
		a := goodSparse()
		mutate(&a)
		if err := a.Validate(); err != nil {
			t.Errorf("%s rejected: %v", name, err)
		}
	}
	bad := map[string]func(*SparseGemmArgs){
		"K not aligned":        func(a *SparseGemmArgs) { a.K = 192 },
		"meta stride":          func(a *SparseGemmArgs) { a.LdE = 40 },
		"meta short":           func(a *SparseGemmArgs) { a.AMeta.Bytes = 63*32 + 31 },
		"values stride < K/2":  func(a *SparseGemmArgs) { a.LdV = 112 },
		"B too short":          func(a *SparseGemmArgs) { a.B.Bytes = 10*256 - 1 },
		"f16 with s8 out":      func(a *SparseGemmArgs) { a.In, a.Out = F16, ref.OutS8 },
		"meta misaligned s8":   func(a *SparseGemmArgs) { a.AMeta.Ptr += 8 },
		"output overlaps meta": func(a *SparseGemmArgs) { a.C = mem(2, 64*10*4) },
	}
	for name, mutate := range bad {
		a := goodSparse()
		mutate(&a)
		if err := a.Validate(); !errors.Is(err, ErrArgs) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	// Metadata k tile by k tile (rows of 16 bytes, k tiles 64 rows apart):
	// each bad case fails for its own reason (the buffer is large enough
	// for all but the one that is about its size).
	for name, c := range map[string]struct {
		lde, ldek, bytes int64
		want             string
	}{
		"k tiles overlap":       {16, 63 * 16, 1 << 20, "overlap"},
		"k-tile stride 8":       {16, 64*16 + 8, 1 << 20, "multiples of 16"},
		"k tiles past the meta": {16, 65 * 16, 64 * 32, "need"},
		"rows overlap k tiles":  {16, 16, 1 << 20, "overlap"},
		"negative k-tile":       {16, -16, 1 << 20, "negative"},
		"overflowing k-tile":    {16, 1 << 62, 1 << 20, "need"},
	} {
		a := goodSparse()
		a.LdE, a.LdEK, a.AMeta.Bytes = c.lde, c.ldek, c.bytes
		if err := a.Validate(); !errors.Is(err, ErrArgs) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one that says %q", name, err, c.want)
		}
	}
	// The same metadata k tile by k tile, exactly filling the buffer; and
	// rows with a gap between their k tiles.
	for _, strides := range [][2]int64{{16, 64 * 16}, {64, 32}} {
		k := goodSparse()
		k.LdE, k.LdEK = strides[0], strides[1]
		if strides[0] == 64 {
			k.AMeta.Bytes = 63*64 + 32 + 16
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("metadata strides %v rejected: %v", strides, err)
		}
	}
	// Values k tile by k tile (rows of 64 bytes, k tiles 64 rows apart):
	// accepted in an mma.sync, a cp.async wgmma and a TMA shape; each bad
	// case fails for its own reason, the TMA one only in the TMA shape.
	for _, tile := range []string{"t128x128", "w128x128", "w256x192ft"} {
		v := goodSparse()
		v.Tile, v.LdV, v.LdVK = tile, 64, 64*64
		if err := v.Validate(); err != nil {
			t.Errorf("%s: values by k tile rejected: %v", tile, err)
		}
	}
	for name, c := range map[string]struct {
		tile      string
		ldv, ldvk int64
		bytes     int64
		want      string
	}{
		"values k tiles overlap":   {"t128x128", 64, 63 * 64, 1 << 20, "overlap"},
		"values k-tile stride 8":   {"t128x128", 64, 64*64 + 8, 1 << 20, "multiples of 16"},
		"values past the buffer":   {"t128x128", 64, 65 * 64, 64 * 128, "need"},
		"values negative k-tile":   {"t128x128", 64, -64, 1 << 20, "negative"},
		"values k tiles past 2^31": {"t128x128", 64, 1 << 31, 1 << 40, "2^31-1"},
		"TMA values rows of 128":   {"w256x192ft", 128, 64 * 128, 1 << 20, "TMA shape"},
		"TMA values k-tile stride": {"w256x192ft", 64, 64*64 + 16, 1 << 20, "TMA shape"},
	} {
		a := goodSparse()
		a.Tile, a.LdV, a.LdVK, a.AValues.Bytes = c.tile, c.ldv, c.ldvk, c.bytes
		if err := a.Validate(); !errors.Is(err, ErrArgs) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one that says %q", name, err, c.want)
		}
		if c.want == "TMA shape" {
			a.Tile = "t128x128"
			if err := a.Validate(); err != nil {
				t.Errorf("%s: rejected in a cp.async shape: %v", name, err)
			}
		}
	}
	// f16: K alignment 64, metadata rows 8-byte aligned.
	h := goodSparse()
	h.In, h.K, h.LdV, h.LdE, h.LdB = F16, 64, 32, 8, 64
	h.AValues.Bytes, h.B.Bytes = 64*32*2, 10*64*2
	h.AMeta.Ptr += 8
	if err := h.Validate(); err != nil {
		t.Fatalf("f16 sparse rejected: %v", err)
	}
}

func TestElementwiseArgsValidate(t *testing.T) {
	q := QuantArgs{X: mem(1, 4*12), Y: mem(2, 12), Scale: mem(3, 8), ZeroPoint: mem(4, 8), N: 12, Inner: 3, Channels: 2}
	if err := q.Validate(true); err != nil {
		t.Fatal(err)
	}
	if err := q.Validate(false); err == nil { // int8 input of 12 bytes is fine, but the f32 output of 12 bytes is not
		t.Fatal("dequantize into a 12-byte output accepted")
	}
	q2 := q
	q2.Scale = cuda.Mem{}
	if err := q2.Validate(true); err == nil {
		t.Fatal("null scale accepted")
	}
	q3 := q
	q3.Channels = 3
	if err := q3.Validate(true); err == nil {
		t.Fatal("3 channels with 2 scales accepted")
	}
	s := SoftmaxArgs{X: mem(1, 4*6), Y: mem(2, 4*6), Rows: 2, Cols: 3}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.Cols = 4
	if err := s.Validate(); err == nil {
		t.Fatal("softmax over a short buffer accepted")
	}
	u := UnaryArgs{X: mem(1, 8), Y: mem(2, 4), N: 2}
	if err := u.validate("gc_cast_f32_f16", 4, 2); err != nil {
		t.Fatal(err)
	}
	if err := u.validate("gc_relu_f32", 4, 4); err == nil {
		t.Fatal("short relu output accepted")
	}
	// im2col of a 2 x 5 x 5 image, 3 x 3 kernel, padding 1: 25 rows of
	// 32 bytes (K = 18).
	g := ref.Im2col{C: 2, H: 5, W: 5, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PH: 1, PW: 1, OH: 5, OW: 5}
	ia := Im2colArgs{X: mem(1, 50), Cols: mem(2, 25*32), Geom: g, Ld: 32, Pad: 9, Flip: true}
	spec, err := ia.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if spec.Grid != EltBlocks(25*32) || spec.Params[len(spec.Params)-2] != 9 || spec.Params[len(spec.Params)-1] != 1 {
		t.Errorf("im2col launch: grid %d, last parameters %v", spec.Grid, spec.Params[len(spec.Params)-2:])
	}
	for name, bad := range map[string]func(a *Im2colArgs){
		"rows shorter than a patch": func(a *Im2colArgs) { a.Ld = 16 },
		"a short column buffer":     func(a *Im2colArgs) { a.Cols.Bytes-- },
		"a short image":             func(a *Im2colArgs) { a.X.Bytes-- },
		"a zero stride":             func(a *Im2colArgs) { a.Geom.SW = 0 },
		"negative padding":          func(a *Im2colArgs) { a.Geom.PH = -1 },
		"columns over the image":    func(a *Im2colArgs) { a.Cols.Ptr = a.X.Ptr + 10 },
	} {
		b := ia
		bad(&b)
		if err := b.Validate(); err == nil {
			t.Errorf("im2col with %s accepted", name)
		}
	}
}

func TestGeometry(t *testing.T) {
	t128 := Tile{"a", 128, 128, 64, 4, 2, 2, false, 0, false, false, false, 0}
	t256 := Tile{"b", 128, 256, 128, 3, 2, 1, false, 0, false, false, false, 0}
	w256 := Tile{"w", 128, 256, 128, 4, 8, 1, false, 1, true, false, false, 0}
	if t128.Blocks(8192, 8192) != 64*64 || t128.Blocks(1, 1) != 1 || t128.Blocks(129, 128) != 2 ||
		t256.Blocks(8192, 8192) != 64*32 || t256.Blocks(129, 257) != 4 || (Tile{}).Blocks(1, 1) != 0 {
		t.Fatal("Tile.Blocks")
	}
	if t128.DenseShared() != 65536 || t256.DenseShared() != 3*384*128 || w256.DenseShared() != 4*384*128+1024 {
		t.Fatal("Tile.DenseShared")
	}
	// A cluster shape's grid has whole clusters of tile rows; the shapes
	// with a producer keep their mbarriers past the stages; a cluster
	// shape's blocks each copy 1/Cluster of B's rows.
	pm := tileNamed(DenseTiles, "w128x256pm")
	if pm.ClusterSize() != GemmCluster || w256.ClusterSize() != 1 || pm.Blocks(8192, 8192) != 64*32 ||
		pm.Blocks(129, 257) != 2*2 || pm.Blocks(257, 256) != 4*1 || pm.Blocks(1, 1) != 2 {
		t.Fatal("Tile.Blocks of a cluster shape")
	}
	if pm.DenseShared() != 4*384*128+16*4+1024 {
		t.Fatal("Tile.DenseShared of a shape with a producer")
	}
	a := GemmArgs{In: S8, M: 300, N: 300, K: 128, LdA: 128, LdB: 128}
	if maps := a.tmaMaps(pm); len(maps) != 2 || maps[0].BoxRows != 128 || maps[1].BoxRows != 256/GemmCluster {
		t.Fatalf("tensor maps of a cluster shape: %+v", maps)
	}
	// A q shape: tile rows in fours, B's box a quarter of its rows; a
	// capped grid keeps whole clusters.
	pq := tileNamed(DenseTiles, "w128x256pq")
	if pq.ClusterSize() != GemmClusterQ || pq.Blocks(8192, 8192) != 64*32 || pq.Blocks(129, 257) != 4*2 ||
		pq.Blocks(513, 1) != 8 || pq.Grid(8192, 8192, 130) != 128 || pq.Grid(8192, 8192, 3) != 4 {
		t.Fatal("Tile.Blocks / Grid of a q shape")
	}
	if maps := a.tmaMaps(pq); len(maps) != 2 || maps[0].BoxRows != 128 || maps[1].BoxRows != 256/GemmClusterQ {
		t.Fatalf("tensor maps of a q shape: %+v", maps)
	}
	sp := Tile{"c", 128, 128, 128, 3, 2, 2, false, 0, false, false, false, 0}
	wsp := Tile{"w", 128, 256, 128, 4, 8, 1, false, 1, true, false, false, 0}
	if sp.SparseShared(ref.S8) != 79872 || sp.SparseShared(ref.F16) != 76800 || wsp.SparseShared(ref.S8) != 4*(128*80+256*128)+1024 {
		t.Fatal("Tile.SparseShared")
	}
	for in, order := range DenseTileOrder {
		for _, name := range order {
			if tileNamed(DenseTiles, name).BM == 0 {
				t.Errorf("DenseTileOrder[%v] names %q, not a dense tile", in, name)
			}
		}
	}
	for in, order := range SparseTileOrder {
		for _, name := range order {
			if tileNamed(SparseTiles, name).BM == 0 {
				t.Errorf("SparseTileOrder[%v] names %q, not a sparse tile", in, name)
			}
		}
	}
	if EltBlocks(0) != 1 || EltBlocks(257) != 2 || EltBlocks(1<<40) != maxEltBlocks {
		t.Fatal("EltBlocks")
	}
	if SoftmaxBlocks(3) != 3 || SoftmaxBlocks(1<<30) != maxEltBlocks {
		t.Fatal("SoftmaxBlocks")
	}
}

// Kinds of tile rows, as gemm_config.h names their lists (GC_<kind>_TILES,
// with DENSE or SPARSE for the mma.sync rows).
const (
	kindMmaSync = ""
	kindWgmma   = "WGMMA"
	kindTMA     = "WGMMA_TMA"
	kindWS      = "WGMMA_WS"
	kindMC      = "WGMMA_MC"
	kindMQ      = "WGMMA_MQ"
)

func (t Tile) kind() string {
	switch {
	case t.Cluster == GemmClusterQ:
		return kindMQ
	case t.Cluster > 1:
		return kindMC
	case t.Producer:
		return kindWS
	case t.TMA:
		return kindTMA
	case t.Wgmma:
		return kindWgmma
	}
	return kindMmaSync
}

// tilesOf is the part of a tile list of the given kinds.
func tilesOf(tiles []Tile, kinds ...string) []Tile {
	var out []Tile
	for _, tl := range tiles {
		if slices.Contains(kinds, tl.kind()) {
			out = append(out, tl)
		}
	}
	return out
}

// TestConfigMatchesHeader parses kernels/gemm_config.h: every tile constant
// the launchers use must equal the kernels' own.
func TestConfigMatchesHeader(t *testing.T) {
	src, err := os.ReadFile("../kernels/gemm_config.h")
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]int64{}
	for _, m := range regexp.MustCompile(`(?m)^#define (GC_\w+) (\d+)\s*$`).FindAllStringSubmatch(string(src), -1) {
		v, _ := strconv.ParseInt(m[2], 10, 64)
		defs[m[1]] = v
	}
	want := map[string]int64{
		"GC_GEMM_THREADS": GemmThreads, "GC_GEMM_WS_THREADS": GemmWSThreads, "GC_GEMM_GROUP_M": GemmGroupM,
		"GC_GEMM_CLUSTER": GemmCluster, "GC_GEMM_CLUSTER_Q": GemmClusterQ,
		"GC_SPGEMM_A_BYTES": SpABytes, "GC_SPGEMM_B_BYTES": SpBBytes,
		"GC_SPGEMM_META_BYTES_S8": SpMetaBytesS8, "GC_SPGEMM_META_BYTES_F16": SpMetaBytesF16,
		"GC_EPI_PER_COL": int64(ref.PerCol), "GC_EPI_PER_ROW": int64(ref.PerRow),
		"GC_OUT_S32": int64(ref.OutS32), "GC_OUT_F32": int64(ref.OutF32), "GC_OUT_S8": int64(ref.OutS8),
		"GC_OUT_F16": int64(ref.OutF16), "GC_OUT_BF16": int64(ref.OutBF16),
		"GC_ELT_THREADS": EltThreads, "GC_SOFTMAX_THREADS": SoftmaxThreads,
	}
	// The tile-shape lists, row for row.
	lists := map[string][]Tile{"GC_DENSE_TILES": tilesOf(DenseTiles, kindMmaSync), "GC_WGMMA_TILES": tilesOf(DenseTiles, kindWgmma),
		"GC_WGMMA_TMA_TILES": tilesOf(DenseTiles, kindTMA), "GC_SPARSE_TILES": tilesOf(SparseTiles, kindMmaSync),
		"GC_WGMMA_SPARSE_TILES": tilesOf(SparseTiles, kindWgmma), "GC_WGMMA_SPARSE_TMA_TILES": tilesOf(SparseTiles, kindTMA),
		"GC_WGMMA_WS_TILES": tilesOf(DenseTiles, kindWS), "GC_WGMMA_SPARSE_WS_TILES": tilesOf(SparseTiles, kindWS),
		"GC_WGMMA_MC_TILES": tilesOf(DenseTiles, kindMC), "GC_WGMMA_SPARSE_MC_TILES": tilesOf(SparseTiles, kindMC),
		"GC_WGMMA_MQ_TILES": tilesOf(DenseTiles, kindMQ), "GC_WGMMA_SPARSE_MQ_TILES": tilesOf(SparseTiles, kindMQ)}
	for list, tiles := range lists {
		body := regexp.MustCompile(`(?s)#define ` + list + `\(X, \.\.\.\)(.*?)\n\n`).FindStringSubmatch(string(src))
		if body == nil {
			t.Errorf("gemm_config.h: no %s", list)
			continue
		}
		var got []Tile
		row := regexp.MustCompile(`X\((\w+), (\d+), (\d+), (\d+), (\d+), (\d+), (\d+), ([01]), ([01]), __VA_ARGS__\)`)
		for _, m := range row.FindAllStringSubmatch(body[1], -1) {
			v := make([]int, 8)
			for i := range v {
				v[i], _ = strconv.Atoi(m[i+2])
			}
			cluster := 0
			switch {
			case strings.HasSuffix(list, "_MC_TILES"):
				cluster = GemmCluster
			case strings.HasSuffix(list, "_MQ_TILES"):
				cluster = GemmClusterQ
			}
			ws := cluster > 0 || strings.HasSuffix(list, "_WS_TILES")
			got = append(got, Tile{m[1], v[0], v[1], v[2], v[3], v[4], v[5], v[6] == 1, v[7], strings.HasPrefix(list, "GC_WGMMA_"),
				ws || strings.HasSuffix(list, "_TMA_TILES"), ws, cluster})
		}
		if !reflect.DeepEqual(got, tiles) {
			t.Errorf("gemm_config.h %s:\n%v\nGo has\n%v", list, got, tiles)
		}
		for _, tl := range tiles {
			if tl.BM%(16*tl.WarpsM) != 0 || tl.BN%(16*(GemmThreads/32/tl.WarpsM)) != 0 {
				t.Errorf("%s %s: warp tile is not whole 16 x 16 pieces", list, tl.Name)
			}
		}
	}
	wgmmaKinds := []string{kindWgmma, kindTMA, kindWS, kindMC, kindMQ}
	for _, tl := range append(tilesOf(DenseTiles, wgmmaKinds...), tilesOf(SparseTiles, wgmmaKinds...)...) {
		if (tl.BM != 128 && tl.BM != 256) || tl.WarpsM != 8 || tl.BKBytes != 128 || (tl.BN != 128 && tl.BN != 192 && tl.BN != 256) ||
			tl.InFlight < 0 || tl.InFlight > 1 || tl.Stages-1-tl.InFlight < 2 {
			t.Errorf("wgmma tile %s: the kernel takes BM 128 or 256 (2 warpgroups of 1 or 2 m64 blocks), BN 128, 192 or 256, 128-byte stages, 0 or 1 groups in flight and two stages filling besides", tl.Name)
		}
	}
	for _, tl := range append(tilesOf(DenseTiles, kindMmaSync), tilesOf(SparseTiles, kindMmaSync)...) {
		if tl.InFlight != 0 {
			t.Errorf("mma.sync tile %s: INFLIGHT %d, which only the wgmma kernels read", tl.Name, tl.InFlight)
		}
	}
	// sm_90's opt-in shared memory per block is 227 KiB, the t shapes'
	// static mbarriers (8 bytes a stage) included (those of the shapes with
	// a producer are in the dynamic shared memory).
	const sm90Shared = 227 << 10
	static := func(tl Tile) int {
		if tl.TMA && !tl.Producer {
			return 8 * tl.Stages
		}
		return 0
	}
	for _, tl := range tilesOf(DenseTiles, kindWgmma, kindTMA, kindWS, kindMC) {
		if n := tl.DenseShared() + static(tl); n > sm90Shared {
			t.Errorf("wgmma tile %s needs %d bytes of shared memory, over sm_90's %d", tl.Name, n, sm90Shared)
		}
	}
	for _, tl := range tilesOf(SparseTiles, kindWgmma, kindTMA, kindWS, kindMC) {
		if n := max(tl.SparseShared(S8), tl.SparseShared(F16)) + static(tl); n > sm90Shared {
			t.Errorf("wgmma 2:4 tile %s needs %d bytes of shared memory, over sm_90's %d", tl.Name, n, sm90Shared)
		}
	}
	// A TMA shape's twin, which runs its empty launches, is a cp.async
	// wgmma shape of the same output tile.
	for _, list := range [][]Tile{DenseTiles, SparseTiles} {
		for _, tl := range tilesOf(list, kindTMA, kindWS, kindMC) {
			if tw := tileNamed(list, tl.twin()); tw.kind() != kindWgmma || tw.BM != tl.BM || tw.BN != tl.BN {
				t.Errorf("TMA tile %s: its twin %q is not a wgmma shape of the same tile", tl.Name, tl.twin())
			}
		}
	}
	for _, tl := range SparseTiles {
		if tl.BKBytes != SpBBytes {
			t.Errorf("sparse tile %s covers %d bytes of K per stage, the kernel %d", tl.Name, tl.BKBytes, SpBBytes)
		}
	}
	for name, v := range want {
		if got, ok := defs[name]; !ok || got != v {
			t.Errorf("gemm_config.h %s = %d (present %v), Go has %d", name, got, ok, v)
		}
	}
	// The sparse stage sizes follow from the format's K alignment.
	if SpMetaBytesS8 != ref.FormatSparse24S8.KAlign/8 || SpMetaBytesF16 != ref.FormatSparse24F16.KAlign/8 ||
		SpBBytes != ref.FormatSparse24S8.KAlign || SpBBytes != ref.FormatSparse24F16.KAlign*2 ||
		SpABytes != ref.FormatSparse24S8.ValueTileBytes() || SpABytes != ref.FormatSparse24F16.ValueTileBytes() ||
		SpABytes != ref.FormatSparse24BF16.ValueTileBytes() {
		t.Error("sparse stage sizes disagree with the 2:4 formats' K alignment")
	}
}

// TestKernelTableMatchesSources checks that every kernel of the table is
// defined in its module's source, with the parameter count the launchers
// pass, and that every entry point of the sources is in the table.
func TestKernelTableMatchesSources(t *testing.T) {
	files, err := filepath.Glob("../kernels/*.cu")
	if err != nil || len(files) == 0 {
		t.Fatalf("kernel sources: %v", err)
	}
	defined := map[string]string{} // name -> module
	params := map[string]int{}
	entry := regexp.MustCompile(`(?s)extern "C" __global__ void(?:[\s\\]+GC_CLUSTER_DIMS\(\w+\))?(?:[\s\\]+__launch_bounds__\([^)]*\))?[\s\\]+([\w#]+)\(([^)]*)\)`)
	// The tile lists the sources instantiate (GC_<list>_TILES(GC_..._KERNEL,
	// base, ...)): their rows and their entry points' parameter counts.
	type tileList struct {
		tiles  []Tile
		params int
	}
	lists := map[string]tileList{
		"DENSE": {tilesOf(DenseTiles, kindMmaSync), denseParams}, "WGMMA": {tilesOf(DenseTiles, kindWgmma), denseParams},
		"WGMMA_TMA": {tilesOf(DenseTiles, kindTMA), denseParams + 2}, "WGMMA_WS": {tilesOf(DenseTiles, kindWS), denseParams + 2},
		"WGMMA_MC": {tilesOf(DenseTiles, kindMC), denseParams + 2}, "WGMMA_MQ": {tilesOf(DenseTiles, kindMQ), denseParams + 2},
		"SPARSE": {tilesOf(SparseTiles, kindMmaSync), sparseParams}, "WGMMA_SPARSE": {tilesOf(SparseTiles, kindWgmma), sparseParams},
		"WGMMA_SPARSE_TMA": {tilesOf(SparseTiles, kindTMA), sparseParams + 2},
		"WGMMA_SPARSE_WS":  {tilesOf(SparseTiles, kindWS), sparseParams + 2},
		"WGMMA_SPARSE_MC":  {tilesOf(SparseTiles, kindMC), sparseParams + 2},
		"WGMMA_SPARSE_MQ":  {tilesOf(SparseTiles, kindMQ), sparseParams + 2},
	}
	macro := regexp.MustCompile(`(?m)^GC_(\w+)_TILES\(GC_\w+_KERNEL, (\w+),`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mod := strings.TrimSuffix(filepath.Base(f), ".cu")
		for _, m := range entry.FindAllStringSubmatch(string(src), -1) {
			if strings.Contains(m[1], "##") {
				continue // the macro bodies (BASE##_##TILE)
			}
			defined[m[1]] = mod
			params[m[1]] = strings.Count(m[2], ",") + 1
		}
		for _, m := range macro.FindAllStringSubmatch(string(src), -1) {
			list, ok := lists[m[1]]
			if !ok {
				t.Errorf("%s: GC_%s_TILES is not a tile list the test knows", f, m[1])
			}
			for _, tl := range list.tiles {
				name := m[2] + "_" + tl.Name
				defined[name] = mod
				params[name] = list.params
			}
		}
	}
	// The macros' own parameter lists must match the constants.
	macroParams := map[string]int{"GC_DENSE_ENTRY": denseParams, "GC_SPARSE_ENTRY": sparseParams,
		"GC_TMA_ENTRY": denseParams + 2, "GC_SPARSE_TMA_ENTRY": sparseParams + 2}
	seen := map[string]bool{}
	for _, f := range []string{"../kernels/gemm_dense.cuh", "../kernels/sp24_meta.cuh", "../kernels/gemm_wgmma.cu"} {
		src, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`(?s)#define (GC_\w+_ENTRY)\(.*?BASE##_##TILE\(([^)]*)\)`).FindAllStringSubmatch(string(src), -1) {
			seen[m[1]] = true
			if want, ok := macroParams[m[1]]; !ok || strings.Count(m[2], ",")+1 != want {
				t.Errorf("%s: %s's entry point does not take %d parameters", f, m[1], want)
			}
		}
	}
	for name := range macroParams {
		if !seen[name] {
			t.Errorf("no #define %s in the kernel sources", name)
		}
	}
	var names []string
	for _, k := range Kernels {
		names = append(names, k.Name)
		mod, ok := defined[k.Name]
		switch {
		case !ok:
			t.Errorf("%s is in the table but not in kernels/*.cu", k.Name)
		case mod != k.Module:
			t.Errorf("%s is in %s.cu, the table says %s", k.Name, mod, k.Module)
		case params[k.Name] != k.Params:
			t.Errorf("%s takes %d parameters, the table says %d", k.Name, params[k.Name], k.Params)
		}
	}
	sort.Strings(names)
	for name := range defined {
		if i := sort.SearchStrings(names, name); i == len(names) || names[i] != name {
			t.Errorf("%s is defined in kernels/%s.cu but missing from the table", name, defined[name])
		}
	}
	if got := strings.Join(Modules(), ","); got != "gemm_s8,gemm_wgmma,gemm_f16,gemm_sp24,elementwise" {
		t.Errorf("modules %s", got)
	}
}

// TestTileKernels: a shape's entry points per input type are the table's
// kernels of that shape, input type and kind, one per output type.
func TestTileKernels(t *testing.T) {
	for _, c := range []struct {
		sparse bool
		tiles  []Tile
	}{{false, DenseTiles}, {true, SparseTiles}} {
		for _, tl := range c.tiles {
			for in, want := range map[Elem]int{S8: 3, F16: 2, BF16: 2} {
				got := TileKernels(c.sparse, in, tl.Name)
				if len(got) != want {
					t.Errorf("TileKernels(%v, %v, %s) = %v, want %d entry points", c.sparse, in, tl.Name, got, want)
				}
				prefix := map[bool]string{false: "gc_gemm_", true: "gc_spgemm_"}[c.sparse] + in.String() + "_"
				for _, name := range got {
					if _, ok := lookup(name); !ok || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, "_"+tl.Name) {
						t.Errorf("TileKernels(%v, %v, %s): %s is not a kernel of the table with prefix %s", c.sparse, in, tl.Name, name, prefix)
					}
				}
			}
		}
	}
}
