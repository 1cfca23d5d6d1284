// Sparse weights (issue 7): the CSR and 2:4 formats of a pruned weight
// matrix, their reference products and the portable kernels.
//
// Both formats hold a weight matrix A of M rows (output channels) and K
// columns (the reduction axis: a Gemm's input features, a convolution's
// Cin*kh*kw taps). The products compute, for a dense B of K rows and N
// columns,
//
//	C[i][j] = act( Σ_p A[i][p]·B[p][j] + bias[i] + Z[i][j] )
//
// with B[p][j] at b[p*ldb + j] (the "KN" layout: a convolution's im2col
// matrix, or the transposed input of a Gemm), C[i][j] and Z[i][j] at
// c[i*ldcM + j*ldcN] (a convolution's output has (ldcM, ldcN) = (N, 1), a
// Gemm's [N, M] output (1, M)), bias and Z optional, and act the clamp
// min(max(v, lo), hi) when set. The references (SpMMRef, Sparse24Ref)
// accumulate in float64 and round once; the kernels accumulate in float32
// (the Go ones in increasing column order, the C ones with fused
// multiply-adds over a few interleaved partial sums), so they agree with
// the references to float32 rounding (sparse_test.go: spTol).
//
// Fast paths: sparse_amd64.c (AVX-512F; gathers for a single column,
// broadcast-FMA over 64-column blocks otherwise) for both formats; the Go
// kernels run elsewhere. Sparse ops (sparse_ops.go) pick a kernel from the
// measured break-even table (sparse_breakeven.go).

package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/kernels/ref"
)

// CSR is a sparse M x K float32 matrix in compressed sparse row form: the
// non-zeros of row i are Val[RowPtr[i]:RowPtr[i+1]], in columns
// Col[RowPtr[i]:RowPtr[i+1]] (increasing). Storage: 4 bytes per value, 4
// per column index and 4 per row.
type CSR struct {
	M, K   int
	RowPtr []int32
	Col    []int32
	Val    []float32
}

// NewCSR compresses the m x k row-major matrix a (row stride lda), keeping
// the entries that are not zero (+0 and -0 are dropped; NaN is kept).
func NewCSR(m, k int, a []float32, lda int) (*CSR, error) {
	if m < 0 || k < 0 || lda < k || (m > 0 && len(a) < (m-1)*lda+k) {
		return nil, fmt.Errorf("csr: %dx%d matrix with row stride %d does not fit %d values", m, k, lda, len(a))
	}
	if int64(m)*int64(k) > math.MaxInt32 {
		return nil, fmt.Errorf("csr: %dx%d matrix is too large for 32-bit indices", m, k)
	}
	s := &CSR{M: m, K: k, RowPtr: make([]int32, m+1)}
	for i := 0; i < m; i++ {
		for p, v := range a[i*lda : i*lda+k] {
			if v != 0 {
				s.Col = append(s.Col, int32(p))
				s.Val = append(s.Val, v)
			}
		}
		s.RowPtr[i+1] = int32(len(s.Val))
	}
	return s, nil
}

// NNZ is the number of stored values.
func (s *CSR) NNZ() int { return len(s.Val) }

// Density is NNZ / (M*K) (0 for an empty matrix).
func (s *CSR) Density() float64 {
	if s.M*s.K == 0 {
		return 0
	}
	return float64(s.NNZ()) / float64(s.M*s.K)
}

// Dense returns the M x K row-major matrix.
func (s *CSR) Dense() []float32 {
	out := make([]float32, s.M*s.K)
	for i := 0; i < s.M; i++ {
		for q := s.RowPtr[i]; q < s.RowPtr[i+1]; q++ {
			out[i*s.K+int(s.Col[q])] = s.Val[q]
		}
	}
	return out
}

// SparseEpilogue is what the sparse products add after the sum: a bias per
// row of C, a summand Z stored like C, and a clamp (see the file comment).
type SparseEpilogue struct {
	Bias   []float32
	Z      []float32
	Clamp  bool
	Lo, Hi float32
}

// apply finishes one output value.
func (e *SparseEpilogue) apply(v float32, i, at int) float32 {
	if e == nil {
		return v
	}
	if e.Bias != nil {
		v += e.Bias[i]
	}
	if e.Z != nil {
		v += e.Z[at]
	}
	if e.Clamp {
		v = min(max(v, e.Lo), e.Hi)
	}
	return v
}

// spCheck validates the operands of a sparse product of an m x k matrix
// with a k x n B.
func spCheck(m, k, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) error {
	if n < 0 || ldcM < 0 || ldcN < 0 {
		return fmt.Errorf("sparse product: negative size or stride")
	}
	if m == 0 || n == 0 {
		return nil
	}
	if k > 0 && (ldb < n || len(b) < (k-1)*ldb+n) {
		return fmt.Errorf("sparse product: B %dx%d with row stride %d does not fit %d values", k, n, ldb, len(b))
	}
	last := (m-1)*ldcM + (n-1)*ldcN
	if len(c) <= last {
		return fmt.Errorf("sparse product: C %dx%d with strides (%d, %d) does not fit %d values", m, n, ldcM, ldcN, len(c))
	}
	if e != nil && (e.Bias != nil && len(e.Bias) < m || e.Z != nil && len(e.Z) <= last) {
		return fmt.Errorf("sparse product: bias or Z too short for a %dx%d output", m, n)
	}
	return nil
}

// SpMMRef is the reference CSR product C = act(A·B + bias + Z) of the file
// comment, each sum accumulated in float64 and rounded once before the
// epilogue (which runs in float32, in the order bias, Z, clamp).
func SpMMRef(a *CSR, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) error {
	if err := spCheck(a.M, a.K, n, b, ldb, c, ldcM, ldcN, e); err != nil {
		return err
	}
	for i := 0; i < a.M; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for q := a.RowPtr[i]; q < a.RowPtr[i+1]; q++ {
				s += float64(a.Val[q]) * float64(b[int(a.Col[q])*ldb+j])
			}
			at := i*ldcM + j*ldcN
			c[at] = e.apply(float32(s), i, at)
		}
	}
	return nil
}

// spmmGo is the portable CSR kernel: rows [r0, r1) of C, float32
// accumulation in column order.
func spmmGo(a *CSR, r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	if n == 1 {
		for i := r0; i < r1; i++ {
			var s float32
			lo, hi := a.RowPtr[i], a.RowPtr[i+1]
			cols, vals := a.Col[lo:hi], a.Val[lo:hi]
			for q, v := range vals {
				s += v * b[int(cols[q])*ldb]
			}
			at := i * ldcM
			c[at] = e.apply(s, i, at)
		}
		return
	}
	acc := make([]float32, n)
	for i := r0; i < r1; i++ {
		clear(acc)
		for q := a.RowPtr[i]; q < a.RowPtr[i+1]; q++ {
			v := a.Val[q]
			row := b[int(a.Col[q])*ldb : int(a.Col[q])*ldb+n]
			for j, x := range row {
				acc[j] += v * x
			}
		}
		for j, s := range acc {
			at := i*ldcM + j*ldcN
			c[at] = e.apply(s, i, at)
		}
	}
}

// Sparse24F32 is a 2:4 sparse M x K float32 weight matrix (at most two
// non-zeros in each group of four consecutive columns of a row) in the
// layout of ref.Sparse24, the format the CUDA 2:4 kernel reads, with
// float32 values: Cols is K rounded up to a multiple of 8, Values holds
// Rows x Cols/2 kept values (two per group, increasing column order) and
// Meta Rows x Cols/8 bytes of 4-bit group metadata (see ref.Sparse24). The
// metadata is made by ref.Compress24 itself (from the non-zero pattern),
// so it is bit-identical to what the CUDA path is given. K is the logical
// width: columns >= K are padding.
type Sparse24F32 struct {
	ref.Sparse24[int8]
	K int
	// Vals are the float32 kept values (the int8 Values of the embedded
	// pattern are 1 where the weight is non-zero).
	Vals []float32
}

// NewSparse24F32 compresses the m x k row-major matrix a (row stride lda);
// it fails (naming the row and columns) unless a is 2:4 sparse along its
// rows.
func NewSparse24F32(m, k int, a []float32, lda int) (*Sparse24F32, error) {
	if m < 0 || k < 0 || lda < k || (m > 0 && len(a) < (m-1)*lda+k) {
		return nil, fmt.Errorf("2:4: %dx%d matrix with row stride %d does not fit %d values", m, k, lda, len(a))
	}
	pattern := make([]int8, m*k)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			if a[i*lda+p] != 0 {
				pattern[i*k+p] = 1
			}
		}
	}
	sp, err := ref.Compress24(m, k, pattern, k, 8)
	if err != nil {
		return nil, err
	}
	s := &Sparse24F32{Sparse24: *sp, K: k, Vals: make([]float32, len(sp.Values))}
	vs := sp.ValueStride()
	for i := 0; i < m; i++ {
		for g := 0; g < sp.Cols/4; g++ {
			f, sc := sp.Nibble(i, g)
			for t, col := range [2]int{4*g + f, 4*g + sc} {
				if col < k {
					s.Vals[i*vs+2*g+t] = a[i*lda+col]
				}
			}
		}
	}
	return s, nil
}

// Dense returns the M x K row-major matrix.
func (s *Sparse24F32) Dense() []float32 {
	out := make([]float32, s.Rows*s.K)
	vs := s.ValueStride()
	for i := 0; i < s.Rows; i++ {
		for g := 0; g < s.Cols/4; g++ {
			f, sc := s.Nibble(i, g)
			for t, col := range [2]int{4*g + f, 4*g + sc} {
				if col < s.K {
					out[i*s.K+col] = s.Vals[i*vs+2*g+t]
				}
			}
		}
	}
	return out
}

// Sparse24Ref is the reference 2:4 product C = act(A·B + bias + Z) of the
// file comment, reading A through its metadata:
//
//	Σ_p A[i][p]·B[p][j] = Σ_g V[i][2g]·B[4g+f(i,g)][j] + V[i][2g+1]·B[4g+s(i,g)][j]
//
// over the groups g (f, s = Nibble(i, g); terms with a column >= K are
// padding and skipped), accumulated in float64 and rounded once.
func Sparse24Ref(s *Sparse24F32, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) error {
	if err := spCheck(s.Rows, s.K, n, b, ldb, c, ldcM, ldcN, e); err != nil {
		return err
	}
	vs := s.ValueStride()
	for i := 0; i < s.Rows; i++ {
		for j := 0; j < n; j++ {
			var acc float64
			for g := 0; g < s.Cols/4; g++ {
				f, sc := s.Nibble(i, g)
				for t, col := range [2]int{4*g + f, 4*g + sc} {
					if col < s.K {
						acc += float64(s.Vals[i*vs+2*g+t]) * float64(b[col*ldb+j])
					}
				}
			}
			at := i*ldcM + j*ldcN
			c[at] = e.apply(float32(acc), i, at)
		}
	}
	return nil
}

// nibbleCols[b] are the in-group columns (first, second) of the two groups
// of metadata byte b: low nibble first.
var nibbleCols = func() (t [256][4]uint8) {
	for b := range t {
		t[b] = [4]uint8{uint8(b & 3), uint8(b >> 2 & 3), uint8(b >> 4 & 3), uint8(b >> 6 & 3)}
	}
	return
}()

// sparse24Go is the 2:4 kernel (pure Go; see Sparse24Ref): rows [r0, r1)
// of C. It decodes two groups per metadata byte with a table; the groups
// past K/4 (the partial group and padding) run with bounds checks.
func sparse24Go(s *Sparse24F32, r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	vs, ms := s.ValueStride(), s.MetaStride()
	full := s.K / 8 // metadata bytes whose two groups lie inside K
	var acc []float32
	if n > 1 {
		acc = make([]float32, n)
	}
	for i := r0; i < r1; i++ {
		vals := s.Vals[i*vs : (i+1)*vs]
		meta := s.Meta[i*ms : (i+1)*ms]
		if n == 1 {
			var sum float32
			for q, mb := range meta[:full] {
				t := &nibbleCols[mb]
				base := 8 * q
				v := vals[4*q : 4*q+4]
				sum += v[0]*b[(base+int(t[0]))*ldb] + v[1]*b[(base+int(t[1]))*ldb] +
					v[2]*b[(base+4+int(t[2]))*ldb] + v[3]*b[(base+4+int(t[3]))*ldb]
			}
			for g := 2 * full; g < s.Cols/4; g++ {
				f, sc := s.Nibble(i, g)
				if col := 4*g + f; col < s.K {
					sum += vals[2*g] * b[col*ldb]
				}
				if col := 4*g + sc; col < s.K {
					sum += vals[2*g+1] * b[col*ldb]
				}
			}
			at := i * ldcM
			c[at] = e.apply(sum, i, at)
			continue
		}
		clear(acc)
		axpy := func(v float32, col int) {
			if v == 0 {
				return
			}
			row := b[col*ldb : col*ldb+n]
			for j, x := range row {
				acc[j] += v * x
			}
		}
		for g := 0; g < s.Cols/4; g++ {
			f, sc := s.Nibble(i, g)
			if col := 4*g + f; col < s.K {
				axpy(vals[2*g], col)
			}
			if col := 4*g + sc; col < s.K {
				axpy(vals[2*g+1], col)
			}
		}
		for j, v := range acc {
			at := i*ldcM + j*ldcN
			c[at] = e.apply(v, i, at)
		}
	}
}
