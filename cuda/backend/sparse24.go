package backend

import (
	"math"

	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// Sparse24Env, set to "off", keeps 2:4 weights on the dense GEMMs (to
// compare the two paths).
const Sparse24Env = "GCOMPRESS_SPARSE24"

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
	c := compressedWeight{k: s.Cols}
	values, eb := tensor.FromSlice([]int{len(s.Values)}, s.Values).RawBytes(), f.ValueBytes
	c.values, c.ldv = values, s.ValueStride()*eb
	// The kernels reach a row's last k tile in 32 bits (gobind
	// SparseGemmArgs.LdVK): past that the values stay row by row.
	if tiles := s.Cols / f.KAlign; (tiles-1)*n*f.ValueTileBytes() <= math.MaxInt32 {
		if c.values, c.ldv, c.ldvk, err = ref.ByKTile(values, n, s.Cols/2*eb, c.ldv, f.ValueTileBytes(), n); err != nil {
			return compressedWeight{}, false
		}
	}
	c.ldv /= eb
	if c.meta, c.lde, c.ldek, err = ref.ByKTile(s.Meta, n, s.Cols/8, s.MetaStride(), f.MetaRowAlign, n); err != nil {
		return compressedWeight{}, false
	}
	return c, true
}
