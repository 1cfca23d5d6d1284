package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gemmTolF32 bounds |fast - ref| / (sum_p |a_ip*b_pj| + |beta*c_ij|): the
// blocked kernel sums in a different order than GemmRef, so each result may
// differ by a few float32 ulps of the magnitude of its terms (k <= 255 here).
const gemmTolF32 = 1e-5

// gemmSizes are the m, n, k values tested: 1, odd, prime, around a power of
// two and beyond one register tile / cache block.
var gemmSizes = []int{1, 3, 17, 63, 64, 65, 255}

// gemmGuard is the number of NaN sentinel elements around the C window.
const gemmGuard = 7

// gemmCase is one GEMM problem laid out in buffers with padding: C is a
// window inside a NaN-filled buffer (guard rows above/below, guard columns to
// the right through ldc > n).
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b           []float32
	lda, ldb, ldc  int
	c              []float32 // the whole buffer; the window starts at gemmGuard*ldc
	mag            []float32 // see magnitudes
}

func newGemmCase(rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32) *gemmCase {
	g := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	rowsA, colsA := m, k
	if transA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if transB {
		rowsB, colsB = n, k
	}
	g.lda, g.ldb, g.ldc = colsA+2, colsB+1, n+gemmGuard
	g.a = gemmRandom(rng, rowsA*g.lda)
	g.b = gemmRandom(rng, rowsB*g.ldb)
	g.c = make([]float32, (m+2*gemmGuard)*g.ldc)
	for i := range g.c {
		g.c[i] = float32(math.NaN())
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			g.c[g.off(i, j)] = rng.Float32()*2 - 1
		}
	}
	return g
}

func gemmRandom(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = rng.Float32()*2 - 1
	}
	return out
}

func (g *gemmCase) off(i, j int) int { return (gemmGuard+i)*g.ldc + j }

func (g *gemmCase) window() []float32 { return g.c[gemmGuard*g.ldc:] }

// run applies kernel to a copy of the case and returns the C buffer, checking
// that A and B were not written.
func (g *gemmCase) run(t *testing.T, kernel gemmFunc[float32], threads int) []float32 {
	t.Helper()
	a, b := append([]float32(nil), g.a...), append([]float32(nil), g.b...)
	c := append([]float32(nil), g.c...)
	kernel(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, c[gemmGuard*g.ldc:], g.ldc, threads)
	if !gemmSameBits(a, g.a) || !gemmSameBits(b, g.b) {
		t.Fatalf("kernel modified its A or B input")
	}
	return c
}

func gemmSameBits(x, y []float32) bool {
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

// check compares got against the reference result want: inside the window
// within gemmTolF32 of the term magnitudes, outside it bit-identical NaNs.
func (g *gemmCase) check(t *testing.T, got, want []float32) {
	t.Helper()
	inside := func(idx int) (int, int, bool) {
		r, col := idx/g.ldc-gemmGuard, idx%g.ldc
		return r, col, r >= 0 && r < g.m && col < g.n
	}
	for idx := range got {
		i, j, in := inside(idx)
		if !in {
			if !math.IsNaN(float64(got[idx])) {
				t.Fatalf("element outside C written at buffer index %d (row %d col %d): %v", idx, i, j, got[idx])
			}
			continue
		}
		scale := math.Abs(float64(g.beta*g.c[idx])) + float64(g.magnitudes()[i*g.n+j])
		if d := math.Abs(float64(got[idx] - want[idx])); d > gemmTolF32*(scale+1e-30) {
			t.Fatalf("C[%d][%d] = %v, want %v (scale %g)", i, j, got[idx], want[idx], scale)
		}
	}
}

// magnitudes returns (computed once) |alpha| * |op(A)| * |op(B)|, m x n:
// the scale of the rounding error of each result.
func (g *gemmCase) magnitudes() []float32 {
	if g.mag == nil {
		abs := func(v []float32) []float32 {
			out := make([]float32, len(v))
			for i, x := range v {
				out[i] = float32(math.Abs(float64(x)))
			}
			return out
		}
		g.mag = make([]float32, g.m*g.n)
		alpha := float32(math.Abs(float64(g.alpha)))
		GemmRef(g.transA, g.transB, g.m, g.n, g.k, alpha, abs(g.a), g.lda, abs(g.b), g.ldb, 0, g.mag, g.n)
	}
	return g.mag
}

func gemmRefKernel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int, _ int) {
	GemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func TestSgemmAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		for _, m := range gemmSizes {
			for _, n := range gemmSizes {
				for _, k := range []int{1, 17, 255} {
					g := newGemmCase(rng, tr[0], tr[1], m, n, k, 1.5, 0.5)
					want := g.run(t, gemmRefKernel, 1)
					for _, threads := range []int{1, 3} {
						name := fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d threads=%d", tr[0], tr[1], m, n, k, threads)
						t.Run(name, func(t *testing.T) { g.check(t, g.run(t, sgemm, threads), want) })
					}
				}
			}
		}
	}
}

// TestSgemmLargeK crosses the KC, NC and MC block boundaries with sizes that
// are not multiples of any block, split by columns and by rows.
func TestSgemmLargeK(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		tr      [2]bool
		m, n, k int
	}{{[2]bool{false, false}, 9, 1030, 517}, {[2]bool{true, true}, 131, 5, 300}} {
		g := newGemmCase(rng, c.tr[0], c.tr[1], c.m, c.n, c.k, -0.75, 1)
		want := g.run(t, gemmRefKernel, 1)
		g.check(t, g.run(t, sgemm, 2), want)
	}
}

// TestSgemmBetaZeroIgnoresNaN: beta == 0 overwrites C without reading it.
func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	g := newGemmCase(rng, false, false, 17, 9, 5, 1, 0)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			g.c[g.off(i, j)] = float32(math.NaN())
		}
	}
	want := g.run(t, gemmRefKernel, 1)
	got := g.run(t, sgemm, 2)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			if v := got[g.off(i, j)]; math.IsNaN(float64(v)) {
				t.Fatalf("C[%d][%d] is NaN with beta 0", i, j)
			}
		}
	}
	g.c = append([]float32(nil), want...) // reference scale uses C only via beta (0)
	g.check(t, got, want)
}

// TestSgemmAlphaZeroOrEmptyK: C = beta*C without reading A or B.
func TestSgemmAlphaZeroOrEmptyK(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	sgemm(false, false, 2, 2, 0, 1, nil, 0, nil, 0, 2, c, 2, 1)
	if c[0] != 2 || c[3] != 8 {
		t.Fatalf("k=0: got %v", c)
	}
	a := []float32{float32(math.NaN()), 1, 1, 1}
	sgemm(false, false, 2, 2, 2, 0, a, 2, a, 2, 0.5, c, 2, 1)
	if c[0] != 1 || c[3] != 4 {
		t.Fatalf("alpha=0: got %v", c)
	}
}

// TestGemmIntegerExact checks the int32 kernel (used by the quantized ops)
// against GemmRef exactly, including wrap-around free large sums.
func TestGemmIntegerExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 19, 23, 300
	a := make([]int32, m*k)
	b := make([]int32, k*n)
	for i := range a {
		a[i] = int32(rng.IntN(511) - 255)
	}
	for i := range b {
		b[i] = int32(rng.IntN(255) - 127)
	}
	want := make([]int32, m*n)
	got := make([]int32, m*n)
	GemmRef(false, true, m, n, k, 1, a, k, b, k, 0, want, n)
	igemm(false, true, m, n, k, 1, a, k, b, k, 0, got, n, 2)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: got %d, want %d", i, got[i], want[i])
		}
	}
}

func TestDgemmAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m, n, k := 37, 29, 70
	a := make([]float64, k*m)
	b := make([]float64, k*n)
	for i := range a {
		a[i] = rng.Float64()
	}
	for i := range b {
		b[i] = rng.Float64()
	}
	want := make([]float64, m*n)
	got := make([]float64, m*n)
	GemmRef(true, false, m, n, k, 2, a, m, b, n, 0, want, n)
	dgemm(true, false, m, n, k, 2, a, m, b, n, 0, got, n, 2)
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12*float64(k) {
			t.Fatalf("element %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func BenchmarkSgemm256(b *testing.B) {
	const n = 256
	x := make([]float32, n*n)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	c := make([]float32, n*n)
	for b.Loop() {
		sgemm(false, false, n, n, n, 1, x, n, x, n, 0, c, n, 1)
	}
	b.ReportMetric(2*n*n*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}
