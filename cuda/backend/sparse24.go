package backend

import (
	"strings"
	"time"

	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// Sparse24Env picks where GEMMs with a 2:4 weight run (Sparse24ModeOf):
// "off" keeps them on the dense GEMMs, "auto" times the 2:4 and the dense
// GEMM the first time a node runs at a row count and keeps the faster
// (Report.Sparse24Auto lists the choices; both weights stay on the
// device), anything else runs them on the 2:4 GEMMs.
const Sparse24Env = "GCOMPRESS_SPARSE24"

// Sparse24Mode is where GEMMs with a 2:4 weight run.
type Sparse24Mode int

const (
	Sparse24On   Sparse24Mode = iota // the 2:4 GEMMs (the default)
	Sparse24Off                      // the dense GEMMs
	Sparse24Auto                     // the faster of the two, timed at each row count
)

// Sparse24ModeOf reads Sparse24Env's value (any case).
func Sparse24ModeOf(v string) Sparse24Mode {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off":
		return Sparse24Off
	case "auto":
		return Sparse24Auto
	}
	return Sparse24On
}

// Sparse24Choice is one choice of Sparse24Auto: the GEMM of a node with a
// K x N 2:4 weight, timed at Rows rows on the 2:4 and the dense kernels
// (the mean of a few launches each, after one to warm up), and whether the
// 2:4 one runs (it does unless it was slower) in Rows' bucket of row
// counts (rowBucket).
type Sparse24Choice struct {
	Op       string  `json:"op"`
	Node     string  `json:"node"`
	K        int     `json:"k"`
	N        int     `json:"n"`
	Rows     int     `json:"rows"`
	SparseMS float64 `json:"sparse_ms"`
	DenseMS  float64 `json:"dense_ms"`
	Sparse   bool    `json:"sparse"`
}

// newSparse24Choice records a timing of both GEMMs.
func newSparse24Choice(op, node string, k, n, rows int, sparse, dense time.Duration) Sparse24Choice {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return Sparse24Choice{Op: op, Node: node, K: k, N: n, Rows: rows, SparseMS: ms(sparse), DenseMS: ms(dense),
		Sparse: sparse <= dense}
}

// rowBucket is the bucket of row counts that share a Sparse24Auto choice:
// m rounded up to a power of two, so a dynamic batch or sequence length
// times each GEMM a few times, not at every length.
func rowBucket(m int) int {
	b := 1
	for b < m {
		b <<= 1
	}
	return b
}

// compressedWeight is Wᵀ in the 2:4 layout on the host, K padded to k: the
// values (N rows of k/2) and the metadata, each k tile by k tile
// (ref.ByKTile: for each k tile the format's ValueTileBytes, or
// MetaRowAlign, of all N rows, so a GEMM block's rows for a stage are one
// contiguous run; the values row by row, ldvk 0, where a row's last k
// tile would start past 2^31-1 bytes), with their row strides (ldv in
// elements, lde in bytes) and k-tile strides (bytes):
// gobind.SparseGemmArgs's LdV, LdVK, LdE and LdEK.
type compressedWeight struct {
	values, meta            []byte
	k, ldv, ldvk, lde, ldek int
}

// compressWeight returns Wᵀ (w is K x N) compressed for input type in; ok
// is false where some group of four consecutive elements along K of a
// column of w holds more than two non-zeros.
func compressWeight(w *tensor.Tensor, in ref.Elem) (c compressedWeight, ok bool) {
	switch in {
	case ref.S8:
		return compressTransposed(tensor.Data[int8](w), w.Shape()[0], w.Shape()[1], in)
	case ref.F16:
		return compressTransposed(tensor.Data[tensor.F16](w), w.Shape()[0], w.Shape()[1], in)
	}
	return compressTransposed(tensor.Data[tensor.BF16](w), w.Shape()[0], w.Shape()[1], in)
}

func compressTransposed[T ref.Elem24](w []T, k, n int, in ref.Elem) (compressedWeight, bool) {
	wt := make([]T, n*k)
	for p := 0; p < k; p++ {
		for j := 0; j < n; j++ {
			wt[j*k+p] = w[p*n+j]
		}
	}
	f := ref.Sparse24Format(in)
	s, err := ref.Compress24(n, k, wt, k, f.KAlign)
	if err != nil {
		return compressedWeight{}, false
	}
	c := compressedWeight{k: s.Cols, ldv: s.ValueStride()}
	c.values = tensor.FromSlice([]int{len(s.Values)}, s.Values).RawBytes()
	// The kernels reach a row's last k tile in 32 bits (gobind
	// MaxKTileOffset): past that the values stay row by row.
	if tiles := s.Cols / f.KAlign; (tiles-1)*n*f.ValueTileBytes() <= gobind.MaxKTileOffset {
		if c.values, c.ldv, c.ldvk, err = f.ValuesByKTile(c.values, n, s.Cols, c.ldv, n); err != nil {
			return compressedWeight{}, false
		}
	}
	if c.meta, c.lde, c.ldek, err = f.MetaByKTile(s.Meta, n, s.Cols, s.MetaStride(), n); err != nil {
		return compressedWeight{}, false
	}
	return c, true
}
