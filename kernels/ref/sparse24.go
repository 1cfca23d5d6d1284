package ref

import (
	"fmt"

	"github.com/gcompress/gcompress/tensor"
)

// Elem24 is an element type the 2:4 sparse kernels take.
type Elem24 interface {
	int8 | tensor.F16 | tensor.BF16
}

// Sparse24 is a 2:4 semi-structured sparse Rows×Cols matrix: in every group
// of 4 consecutive elements of a row (columns 4g..4g+3) at most 2 are
// non-zero. It is the operand A of the mma.sp tensor-core instructions, and
// its layout is what the sparse kernels read (see FormatSparse24 for the
// table and kernels/sp24.h for the C declaration):
//
//   - Values: Rows × Cols/2 elements, row-major with row stride Cols/2. Group
//     g of row r keeps two elements, stored at Values[r*Cols/2 + 2g] and
//     [... + 2g+1] in increasing column order.
//   - Meta: Rows × Cols/8 bytes, row-major with row stride Cols/8. Group g
//     of row r has one 4-bit nibble: byte Meta[r*Cols/8 + g/2], low nibble
//     for even g, high nibble for odd g. Bits [1:0] of the nibble are the
//     column (0..3, within the group) of the first kept element, bits [3:2]
//     that of the second; the first is always smaller than the second (the
//     order mma.sp::ordered_metadata requires, and which plain mma.sp
//     accepts). So a little-endian uint16 read at byte 2t of a row holds the
//     nibbles of groups 4t..4t+3 (the 16-bit half of an f16 mma.sp metadata
//     register), and a uint32 read at byte 4t those of groups 8t..8t+7 (an
//     int8 one; see kernels/gemm_sp24.cu).
//   - Cols is a multiple of the kernel's K alignment (FormatSparse24.KAlign);
//     Compress24 pads with zero columns, whose groups keep columns 0 and 1
//     (nibble 0b0100).
//
// A group with fewer than 2 non-zeros keeps its non-zero (if any) and fills
// up with the lowest zero columns, so every nibble names two distinct columns
// (0b0000, 0b0101, 0b1010, 0b1111 are invalid metadata for mma.sp).
type Sparse24[T Elem24] struct {
	Rows, Cols int
	Values     []T
	Meta       []byte
}

// ValueStride is the number of stored values per row (Cols/2).
func (s *Sparse24[T]) ValueStride() int { return s.Cols / 2 }

// MetaStride is the number of metadata bytes per row (Cols/8).
func (s *Sparse24[T]) MetaStride() int { return s.Cols / 8 }

// ByKTile lays out k tile by k tile a matrix that a 2:4 kernel reads one
// k tile of every row at a time: rows rows of rowBytes bytes (row stride ld
// bytes; the compressed values or the metadata of a Sparse24 as Compress24
// writes them), cut into k tiles of tileBytes bytes (the values'
// gobind.SpABytes, the metadata's MetaRowAlign: KAlign logical columns
// either way). The result holds k tile 0 of every row, then k tile 1, and
// so on, each k tile's rows padded with zeros to padRows (at least rows),
// so a kernel stage's rows are one contiguous run. Row r's bytes of k tile
// t are at r*rowStride + t*tileStride: the strides the kernels take
// (gobind.SparseGemmArgs.LdV and LdVK for the values, LdE and LdEK for the
// metadata), tileBytes and padRows*tileBytes.
func ByKTile(data []byte, rows, rowBytes, ld, tileBytes, padRows int) (out []byte, rowStride, tileStride int, err error) {
	switch {
	case rows < 0 || rowBytes < 0 || tileBytes <= 0 || rowBytes%tileBytes != 0:
		return nil, 0, 0, fmt.Errorf("k tile by k tile: %d rows of %d bytes in tiles of %d bytes", rows, rowBytes, tileBytes)
	case padRows < rows:
		return nil, 0, 0, fmt.Errorf("k tile by k tile: %d rows padded to %d", rows, padRows)
	case rows > 0 && (ld < rowBytes || len(data) < (rows-1)*ld+rowBytes):
		return nil, 0, 0, fmt.Errorf("k tile by k tile: %d bytes with row stride %d for %d rows of %d bytes", len(data), ld, rows, rowBytes)
	}
	tiles, tileStride := rowBytes/tileBytes, padRows*tileBytes
	out = make([]byte, tiles*tileStride)
	for t := 0; t < tiles; t++ {
		for r := 0; r < rows; r++ {
			copy(out[t*tileStride+r*tileBytes:t*tileStride+(r+1)*tileBytes], data[r*ld+t*tileBytes:])
		}
	}
	return out, tileBytes, tileStride, nil
}

// ValuesByKTile is ByKTile for a Sparse24's compressed values in format f:
// rows rows of cols/2 elements, row stride ldv elements; the row stride
// it returns is in elements too (SparseGemmArgs.LdV), the k-tile stride in
// bytes (LdVK).
func (f Format) ValuesByKTile(values []byte, rows, cols, ldv, padRows int) (out []byte, rowStride, tileStride int, err error) {
	eb := f.ValueBytes
	out, rowStride, tileStride, err = ByKTile(values, rows, cols/2*eb, ldv*eb, f.ValueTileBytes(), padRows)
	return out, rowStride / eb, tileStride, err
}

// MetaByKTile is ByKTile for a Sparse24's metadata in format f: rows rows
// of cols/8 bytes, row stride lde bytes (SparseGemmArgs.LdE, LdEK).
func (f Format) MetaByKTile(meta []byte, rows, cols, lde, padRows int) (out []byte, rowStride, tileStride int, err error) {
	return ByKTile(meta, rows, cols/8, lde, f.MetaRowAlign, padRows)
}

// isZero reports whether v is zero (either sign for the float types).
func isZero[T Elem24](v T) bool {
	switch x := any(v).(type) {
	case int8:
		return x == 0
	case tensor.F16:
		return x&0x7fff == 0
	case tensor.BF16:
		return x&0x7fff == 0
	}
	return false
}

// Is24 reports whether the rows×cols matrix a (row stride lda) is 2:4 sparse
// along its rows (a trailing partial group counts as padded with zeros).
func Is24[T Elem24](rows, cols int, a []T, lda int) bool {
	for r := 0; r < rows; r++ {
		for g := 0; g < cols; g += 4 {
			nz := 0
			for c := g; c < min(g+4, cols); c++ {
				if !isZero(a[r*lda+c]) {
					nz++
				}
			}
			if nz > 2 {
				return false
			}
		}
	}
	return true
}

// Compress24 packs the rows×cols matrix a (row stride lda) into the Sparse24
// format with Cols = cols rounded up to a multiple of padK (padK a positive
// multiple of 8). It fails, naming the row and columns, if a group holds more
// than two non-zeros.
func Compress24[T Elem24](rows, cols int, a []T, lda, padK int) (*Sparse24[T], error) {
	if rows < 0 || cols < 0 {
		return nil, fmt.Errorf("2:4 compress: negative size %dx%d", rows, cols)
	}
	if padK <= 0 || padK%8 != 0 {
		return nil, fmt.Errorf("2:4 compress: padding %d must be a positive multiple of 8", padK)
	}
	if err := checkOperand("A", len(a), rows, cols, lda); err != nil {
		return nil, fmt.Errorf("2:4 compress: %w", err)
	}
	k := (cols + padK - 1) / padK * padK
	s := &Sparse24[T]{Rows: rows, Cols: k, Values: make([]T, rows*k/2), Meta: make([]byte, rows*k/8)}
	var zero T
	for r := 0; r < rows; r++ {
		for g := 0; g < k/4; g++ {
			var grp [4]T
			var nz [4]int
			cnt := 0
			for c := 0; c < 4; c++ {
				col := 4*g + c
				if col < cols {
					grp[c] = a[r*lda+col]
				} else {
					grp[c] = zero
				}
				if !isZero(grp[c]) {
					if cnt < 4 {
						nz[cnt] = c
					}
					cnt++
				}
			}
			if cnt > 2 {
				return nil, fmt.Errorf("2:4 compress: row %d, columns %d..%d hold %d non-zeros (at most 2 of every 4 may be)", r, 4*g, 4*g+3, cnt)
			}
			i0, i1 := keptPair(nz[:cnt])
			s.Values[r*k/2+2*g] = grp[i0]
			s.Values[r*k/2+2*g+1] = grp[i1]
			s.setNibble(r, g, byte(i0)|byte(i1)<<2)
		}
	}
	return s, nil
}

// keptPair chooses the two columns a group keeps: its non-zeros, filled up
// with the lowest other columns, in increasing order.
func keptPair(nz []int) (int, int) {
	switch len(nz) {
	case 2:
		return nz[0], nz[1]
	case 1:
		if nz[0] == 0 {
			return 0, 1
		}
		return 0, nz[0]
	}
	return 0, 1
}

func (s *Sparse24[T]) setNibble(r, g int, v byte) {
	at := r*s.MetaStride() + g/2
	if g%2 == 0 {
		s.Meta[at] = s.Meta[at]&0xf0 | v
	} else {
		s.Meta[at] = s.Meta[at]&0x0f | v<<4
	}
}

// Nibble returns the metadata of group g of row r: the columns (0..3) of the
// first and second kept element.
func (s *Sparse24[T]) Nibble(r, g int) (first, second int) {
	b := s.Meta[r*s.MetaStride()+g/2]
	if g%2 == 1 {
		b >>= 4
	}
	return int(b & 3), int(b>>2) & 3
}

// Validate checks sizes and that every nibble names two distinct columns in
// increasing order.
func (s *Sparse24[T]) Validate() error {
	if s.Rows < 0 || s.Cols < 0 || s.Cols%8 != 0 {
		return fmt.Errorf("2:4 matrix: bad size %dx%d (columns must be a multiple of 8)", s.Rows, s.Cols)
	}
	if len(s.Values) != s.Rows*s.Cols/2 || len(s.Meta) != s.Rows*s.Cols/8 {
		return fmt.Errorf("2:4 matrix %dx%d: %d values and %d metadata bytes, want %d and %d",
			s.Rows, s.Cols, len(s.Values), len(s.Meta), s.Rows*s.Cols/2, s.Rows*s.Cols/8)
	}
	for r := 0; r < s.Rows; r++ {
		for g := 0; g < s.Cols/4; g++ {
			if a, b := s.Nibble(r, g); a >= b {
				return fmt.Errorf("2:4 matrix: row %d group %d: metadata names columns %d and %d (want two, increasing)", r, g, a, b)
			}
		}
	}
	return nil
}

// Decompress returns the dense Rows×Cols matrix (row stride Cols).
func (s *Sparse24[T]) Decompress() []T {
	out := make([]T, s.Rows*s.Cols)
	for r := 0; r < s.Rows; r++ {
		for g := 0; g < s.Cols/4; g++ {
			i0, i1 := s.Nibble(r, g)
			out[r*s.Cols+4*g+i0] = s.Values[r*s.ValueStride()+2*g]
			out[r*s.Cols+4*g+i1] = s.Values[r*s.ValueStride()+2*g+1]
		}
	}
	return out
}

// SparseGemmRef computes D = epilogue(A·Bᵀ) with A the 2:4 matrix s (M = Rows,
// K = Cols) and B dense N×K (row stride ldb), reading A through its metadata:
//
//	ACC[i][j] = Σ_g  V[i][2g]·B[j][4g+f(i,g)] + V[i][2g+1]·B[j][4g+s(i,g)]
//
// where (f, s) = Nibble(i, g). For int8 the accumulation and epilogue are
// those of Int8GemmRef (bit-exact; out OutS32, OutF32 or OutS8); for the half
// types those of HalfGemmRef (out OutF32, OutF16 or OutBF16). Output storage
// is c[i*ldcM + j*ldcN] as for the dense GEMMs.
func SparseGemmRef[T Elem24](s *Sparse24[T], n int, b []T, ldb int, out Out, c any, ldcM, ldcN int, e *Epilogue) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("sparse gemm: %w", err)
	}
	m, k := s.Rows, s.Cols
	var zero T
	_, isInt := any(zero).(int8)
	if isInt && out != OutS32 && out != OutF32 && out != OutS8 || !isInt && out != OutF32 && out != OutF16 && out != OutBF16 {
		return fmt.Errorf("sparse gemm: output %v not supported for %T", out, zero)
	}
	o, err := prepareGemm(m, n, k, m*k, k, len(b), ldb, out, c, ldcM, ldcN, e)
	if err != nil {
		return fmt.Errorf("sparse gemm: %w", err)
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc int32
			var facc float64
			for g := 0; g < k/4; g++ {
				f, sc := s.Nibble(i, g)
				v0, v1 := s.Values[i*s.ValueStride()+2*g], s.Values[i*s.ValueStride()+2*g+1]
				b0, b1 := b[j*ldb+4*g+f], b[j*ldb+4*g+sc]
				if isInt {
					acc += int32(any(v0).(int8))*int32(any(b0).(int8)) + int32(any(v1).(int8))*int32(any(b1).(int8))
				} else {
					facc += halfF64(v0)*halfF64(b0) + halfF64(v1)*halfF64(b1)
				}
			}
			if isInt {
				o.storeInt(i, j, acc, e)
			} else {
				o.storeFloat(i, j, float32(facc), e)
			}
		}
	}
	return nil
}

// halfF64 widens a half element exactly.
func halfF64[T Elem24](v T) float64 {
	switch x := any(v).(type) {
	case tensor.F16:
		return float64(x.Float32())
	case tensor.BF16:
		return float64(x.Float32())
	case int8:
		return float64(x)
	}
	return 0
}
