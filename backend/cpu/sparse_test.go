package cpu

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// spTol is the tolerance of a float32-accumulated sparse product against
// the float64 reference: a few float32 ulps of the sum of |terms| (the
// error bound of recursive summation is K*eps*Σ|terms|; the sums here are
// short and the observed errors far below that).
const spTol = 4e-6

// randSparse returns an m x k matrix with about density non-zeros.
func randSparse(rng *rand.Rand, m, k int, density float64) []float32 {
	a := make([]float32, m*k)
	for i := range a {
		if rng.Float64() < density {
			a[i] = float32(rng.NormFloat64())
		}
	}
	return a
}

func randDense(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// absSums returns Σ_p |A[i][p] B[p][j]| for the tolerance.
func absSums(a []float32, m, k, n int, b []float32, ldb int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				out[i*n+j] += math.Abs(float64(a[i*k+p]) * float64(b[p*ldb+j]))
			}
		}
	}
	return out
}

type spKernel func(r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue)

// checkSparseKernel runs kern and want on the same problem with the
// output between NaN guard bands, in both output layouts, and compares.
func checkSparseKernel(t *testing.T, name string, a []float32, m, k, n int, kern spKernel,
	want func(n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) error, rng *rand.Rand) {
	t.Helper()
	ldb := n + 3
	b := randDense(rng, k*ldb)
	bCopy := append([]float32(nil), b...)
	sums := absSums(a, m, k, n, b, ldb)
	for _, layout := range []struct {
		name       string
		ldcM, ldcN int
	}{{"MN", n, 1}, {"NM", 1, m}} {
		for _, epi := range []*SparseEpilogue{nil, {Bias: randDense(rng, m), Z: randDense(rng, m*n), Clamp: true, Lo: 0, Hi: float32(math.Inf(1))},
			{Clamp: true, Lo: -0.5, Hi: 0.5}} {
			const guard = 7
			got := make([]float32, m*n+2*guard)
			exp := make([]float32, m*n)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			if err := want(n, b, ldb, exp, layout.ldcM, layout.ldcN, epi); err != nil {
				t.Fatalf("%s: reference: %v", name, err)
			}
			// Split the rows in two calls to check r0/r1.
			half := m / 2
			kern(0, half, n, b, ldb, got[guard:], layout.ldcM, layout.ldcN, epi)
			kern(half, m, n, b, ldb, got[guard:], layout.ldcM, layout.ldcN, epi)
			for i := 0; i < guard; i++ {
				if !math.IsNaN(float64(got[i])) || !math.IsNaN(float64(got[len(got)-1-i])) {
					t.Fatalf("%s %dx%dx%d %s: wrote outside the output", name, m, k, n, layout.name)
				}
			}
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					at := i*layout.ldcM + j*layout.ldcN
					g, w := float64(got[guard+at]), float64(exp[at])
					tol := spTol * (sums[i*n+j] + 1)
					if epi != nil && epi.Z != nil {
						tol += spTol * math.Abs(float64(epi.Z[at]))
					}
					if !(math.Abs(g-w) <= tol) {
						t.Fatalf("%s %dx%dx%d %s: C[%d][%d] = %v, want %v", name, m, k, n, layout.name, i, j, g, w)
					}
				}
			}
		}
	}
	for i := range b {
		if b[i] != bCopy[i] && !(math.IsNaN(float64(b[i])) && math.IsNaN(float64(bCopy[i]))) {
			t.Fatalf("%s: B was modified", name)
		}
	}
}

var spShapes = [][3]int{{1, 1, 1}, {1, 7, 1}, {5, 3, 2}, {13, 31, 1}, {17, 64, 17}, {8, 100, 64}, {33, 129, 65}, {64, 300, 1}, {3, 784, 130}}

func TestSpMMKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range spShapes {
		m, k, n := s[0], s[1], s[2]
		for _, d := range []float64{0, 0.1, 0.5, 1} {
			a := randSparse(rng, m, k, d)
			csr, err := NewCSR(m, k, a, k)
			if err != nil {
				t.Fatal(err)
			}
			if dense := csr.Dense(); !slices.Equal(dense, a) {
				t.Fatalf("CSR round trip of %dx%d differs", m, k)
			}
			want := func(n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) error {
				return SpMMRef(csr, n, b, ldb, c, ldcM, ldcN, e)
			}
			checkSparseKernel(t, "spmmGo", a, m, k, n, func(r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
				spmmGo(csr, r0, r1, n, b, ldb, c, ldcM, ldcN, e)
			}, want, rng)
			if LevelAVX512.Supported() {
				checkSparseKernel(t, "spmmC", a, m, k, n, func(r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
					spmmC(csr, r0, r1, n, b, ldb, c, ldcM, ldcN, e)
				}, want, rng)
			}
		}
	}
}

// rand24 returns an m x k matrix that is 2:4 sparse along its rows (some
// groups with fewer than two non-zeros), with values exact in float16.
func rand24(rng *rand.Rand, m, k int) []float32 {
	a := make([]float32, m*k)
	for i := 0; i < m; i++ {
		for g := 0; g < k; g += 4 {
			w := min(4, k-g)
			keep := rng.IntN(3) // 0, 1 or 2 non-zeros
			for _, c := range rng.Perm(w)[:min(keep, w)] {
				a[i*k+g+c] = float32(rng.IntN(64)-32) / 16
			}
		}
	}
	return a
}

func TestSparse24(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range spShapes {
		m, k, n := s[0], s[1], s[2]
		a := rand24(rng, m, k)
		s24, err := NewSparse24F32(m, k, a, k)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s24.Dense(), a) {
			t.Fatalf("2:4 round trip of %dx%d differs", m, k)
		}
		// The metadata is what ref.Compress24 makes for the same values in
		// float16 (the CUDA kernel's input).
		h := make([]tensor.F16, len(a))
		for i, v := range a {
			h[i] = tensor.NewF16(v)
		}
		sh, err := ref.Compress24(m, k, h, k, 8)
		if err != nil {
			t.Fatal(err)
		}
		if string(sh.Meta) != string(s24.Meta) {
			t.Fatalf("%dx%d: metadata differs from ref.Compress24's", m, k)
		}
		want := func(n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) error {
			return Sparse24Ref(s24, n, b, ldb, c, ldcM, ldcN, e)
		}
		checkSparseKernel(t, "sparse24Go", a, m, k, n, func(r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
			sparse24Go(s24, r0, r1, n, b, ldb, c, ldcM, ldcN, e)
		}, want, rng)
		if LevelAVX512.Supported() {
			checkSparseKernel(t, "sparse24C", a, m, k, n, func(r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
				sparse24C(s24, r0, r1, n, b, ldb, c, ldcM, ldcN, e)
			}, want, rng)
		}
	}
	if _, err := NewSparse24F32(1, 4, []float32{1, 2, 3, 0}, 4); err == nil {
		t.Error("a group with three non-zeros was accepted as 2:4")
	}
}

// TestSparse24AgainstCUDAReference checks Sparse24Ref against the CUDA
// kernels' oracle, ref.SparseGemmRef, on float16-exact data: the same
// values and metadata give the same products.
func TestSparse24AgainstCUDAReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, k, n := 24, 70, 9
	a := rand24(rng, m, k)
	s24, err := NewSparse24F32(m, k, a, k)
	if err != nil {
		t.Fatal(err)
	}
	ah := make([]tensor.F16, m*k)
	for i, v := range a {
		ah[i] = tensor.NewF16(v)
	}
	sh, err := ref.Compress24(m, k, ah, k, ref.FormatSparse24F16.KAlign)
	if err != nil {
		t.Fatal(err)
	}
	// B for the CUDA oracle is N x Kpad (TN layout); ours is K x N.
	bt := make([]tensor.F16, n*sh.Cols)
	b := make([]float32, k*n)
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			v := float32(rng.IntN(64)-32) / 8
			bt[j*sh.Cols+p] = tensor.NewF16(v)
			b[p*n+j] = v
		}
	}
	want := make([]float32, m*n)
	if err := ref.SparseGemmRef(sh, n, bt, sh.Cols, ref.OutF32, want, n, 1, nil); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, m*n)
	if err := Sparse24Ref(s24, n, b, n, got, n, 1, nil); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v, ref.SparseGemmRef %v", i, got[i], want[i])
		}
	}
}

// sparseModel builds Y = act(X W^T + b) (Gemm, transB 1) or a 3x3 Conv in
// the gcompress sparse domain with the given weights.
func sparseGemmNode(w []float32, m, k int, bias []float32, act string) *graph.Model {
	g := graph.NewGraph("sp")
	x := g.GetOrAddValue("x")
	x.DType, x.Shape, x.HasShape = tensor.Float32, []graph.Dim{{Size: -1, Param: "batch"}, {Size: int64(k)}}, true
	g.Inputs = []*graph.Value{x}
	wv := g.AddInitializer("w", tensor.FromSlice([]int{m, k}, w))
	bv := g.AddInitializer("b", tensor.FromSlice([]int{m}, bias))
	y := g.GetOrAddValue("y")
	attrs := map[string]*graph.Attr{"transB": graph.IntAttr(1)}
	if act != "" {
		attrs["activation"] = graph.StringAttr(act)
	}
	n := g.AddNode("SparseGemm", []*graph.Value{x, wv, bv}, []*graph.Value{y}, attrs)
	n.Domain = FusedDomain
	g.Outputs = []*graph.Value{y}
	return graph.NewModel(g, 13)
}

func sparseConvNode(w []float32, m, c int, bias []float32) *graph.Model {
	g := graph.NewGraph("spc")
	x := g.GetOrAddValue("x")
	x.DType, x.Shape, x.HasShape = tensor.Float32, graph.KnownDims(2, c, 9, 11), true
	g.Inputs = []*graph.Value{x}
	wv := g.AddInitializer("w", tensor.FromSlice([]int{m, c, 3, 3}, w))
	bv := g.AddInitializer("b", tensor.FromSlice([]int{m}, bias))
	y := g.GetOrAddValue("y")
	n := g.AddNode("SparseConv", []*graph.Value{x, wv, bv}, []*graph.Value{y}, map[string]*graph.Attr{
		"kernel_shape": graph.IntsAttr(3, 3), "pads": graph.IntsAttr(1, 1, 1, 1), "strides": graph.IntsAttr(1, 2),
		"activation": graph.StringAttr("Relu")})
	n.Domain = FusedDomain
	g.Outputs = []*graph.Value{y}
	return graph.NewModel(g, 13)
}

// runPolicy runs the model under a sparse policy and returns output 0.
func runPolicy(t *testing.T, m *graph.Model, p SparsePolicy, in *tensor.Tensor) (*tensor.Tensor, [3]int64) {
	t.Helper()
	old := SetSparsePolicy(p)
	defer SetSparsePolicy(old)
	sess, err := runtime.NewSession(m, Backend(), runtime.Options{Threads: 2, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	before := SparseKernelCalls()
	out, err := sess.Run(map[string]*tensor.Tensor{m.Graph.Inputs[0].Name: in})
	if err != nil {
		t.Fatal(err)
	}
	after := SparseKernelCalls()
	var d [3]int64
	for i := range d {
		d[i] = after[i] - before[i]
	}
	return out[0], d
}

func closeTensors(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	for i := 0; i < got.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		if math.Abs(g-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, g, w)
		}
	}
}

// TestSparseOpsMatchDense runs the sparse ops under every policy and
// checks each kernel ran and gave the dense result.
func TestSparseOpsMatchDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, k := 37, 68
	w := rand24(rng, m, k)
	bias := randDense(rng, m)
	for _, batch := range []int{1, 5, 40} {
		model := sparseGemmNode(w, m, k, bias, "Relu")
		x := tensor.FromSlice([]int{batch, k}, randDense(rng, batch*k))
		want, calls := runPolicy(t, model, SparseForceDense, x)
		if calls[KernelDense] != 1 {
			t.Fatalf("dense policy ran %v", calls)
		}
		for _, p := range []struct {
			p    SparsePolicy
			kind SparseKernel
		}{{SparseForceCSR, KernelCSR}, {SparseForce24, Kernel24}} {
			got, calls := runPolicy(t, model, p.p, x)
			if calls[p.kind] != 1 {
				t.Fatalf("batch %d: policy %d ran %v, want one %v call", batch, p.p, calls, p.kind)
			}
			closeTensors(t, "SparseGemm "+p.kind.String(), got, want, 1e-5)
		}
	}
	c := 5
	wc := rand24(rng, 6, c*9)
	cm := sparseConvNode(wc, 6, c, randDense(rng, 6))
	x := tensor.FromSlice([]int{2, c, 9, 11}, randDense(rng, 2*c*9*11))
	want, _ := runPolicy(t, cm, SparseForceDense, x)
	for _, p := range []SparsePolicy{SparseForceCSR, SparseForce24} {
		got, calls := runPolicy(t, cm, p, x)
		if calls[KernelDense] != 0 {
			t.Fatalf("policy %d fell back to dense: %v", p, calls)
		}
		closeTensors(t, "SparseConv", got, want, 1e-5)
	}
}

// TestChooseSparseKernel checks the choice follows the table: dense below
// the break-even sparsity, CSR above it.
func TestChooseSparseKernel(t *testing.T) {
	if !LevelAVX512.Supported() {
		t.Skip("the table applies to the AVX-512 kernels")
	}
	old := breakEvenTable
	defer func() { breakEvenTable = old }()
	breakEvenTable = []BreakEven{{M: 300, K: 784, N: 1, CSRFixed: 0.1, CSRSlope: 4, R24: 1.5}}
	if _, ok := LookupBreakEven(true, 300, 784, 1); ok {
		t.Error("a conv lookup found a gemm entry")
	}
	e, _ := LookupBreakEven(false, 290, 800, 1)
	if be := e.BreakEvenSparsity(); math.Abs(be-0.8) > 1e-9 {
		t.Fatalf("break-even sparsity %v, want 0.8", be)
	}
	if k := ChooseSparseKernel(false, 300, 784, 1, 0.3, false); k != KernelDense {
		t.Errorf("70%% sparse: %v, want dense", k)
	}
	if k := ChooseSparseKernel(false, 300, 784, 1, 0.1, false); k != KernelCSR {
		t.Errorf("90%% sparse: %v, want csr", k)
	}
	if k := ChooseSparseKernel(false, 300, 784, 1, 0.5, true); k != KernelDense {
		t.Errorf("2:4 with R24 1.5: %v, want dense", k)
	}
}
