package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
)

// gemmTol bounds |SGEMM - reference| / (1 + |reference|): gonum's SGEMM
// accumulates in float32 in blocked order, the reference in float64; for
// inner dimensions up to 67 the float32 error stays below ~1e-5.
const gemmTol = 1e-4

func randF32(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// gemmRef is Y = op(A) op(B) in float64 with A [ar, ac], B [br, bc].
func gemmRef(a, b []float32, ar, ac, br, bc int, ta, tb bool) ([]float64, int, int) {
	at := func(i, k int) float64 {
		if ta {
			return float64(a[k*ac+i])
		}
		return float64(a[i*ac+k])
	}
	bt := func(k, j int) float64 {
		if tb {
			return float64(b[j*bc+k])
		}
		return float64(b[k*bc+j])
	}
	m, kk := ar, ac
	if ta {
		m, kk = ac, ar
	}
	n := bc
	if tb {
		n = br
	}
	y := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for k := 0; k < kk; k++ {
				s += at(i, k) * bt(k, j)
			}
			y[i*n+j] = s
		}
	}
	return y, m, n
}

// TestGemmKernelAgainstReference checks the SGEMM-backed kernel's forward
// and both gradients against float64 loops for every transpose
// combination and awkward sizes (1, primes, sizes past gonum's 64-wide
// blocks).
func TestGemmKernelAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, sz := range [][3]int{{1, 1, 1}, {1, 7, 3}, {5, 1, 4}, {13, 17, 11}, {67, 65, 3}, {2, 130, 70}} {
		m, k, n := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				a, b := randF32(rng, ar*ac), randF32(rng, br*bc)
				kern := gemmKernel{transA: ta, transB: tb}
				shapes := [][]int{{ar, ac}, {br, bc}}
				out := make([]float32, m*n)
				if err := kern.Forward(out, [][]float32{a, b}, shapes); err != nil {
					t.Fatal(err)
				}
				want, _, _ := gemmRef(a, b, ar, ac, br, bc, ta, tb)
				check := func(what string, got []float32, want []float64) {
					for i := range want {
						if math.Abs(float64(got[i])-want[i]) > gemmTol*(1+math.Abs(want[i])) {
							t.Fatalf("%v tA=%v tB=%v %s[%d]: %v, want %v", sz, ta, tb, what, i, got[i], want[i])
						}
					}
				}
				check("Y", out, want)
				// With dY = G: dA = G op(B)^T (transposed back when tA), dB = op(A)^T G (likewise).
				g := randF32(rng, m*n)
				ga := make([]float32, ar*ac)
				gb := make([]float32, br*bc)
				if err := kern.Backward(0, ga, g, out, [][]float32{a, b}, shapes); err != nil {
					t.Fatal(err)
				}
				if err := kern.Backward(1, gb, g, out, [][]float32{a, b}, shapes); err != nil {
					t.Fatal(err)
				}
				// d op(A) [m,k] = G [m,n] op(B)^T: op(B)^T as a matrix product G x B^(tb ? no : T)
				dopA, _, _ := gemmRef(g, b, m, n, br, bc, false, !tb)
				dopB, _, _ := gemmRef(a, g, ar, ac, m, n, !ta, false)
				wantA := make([]float64, ar*ac)
				for i := 0; i < m; i++ {
					for kk := 0; kk < k; kk++ {
						if ta {
							wantA[kk*ac+i] = dopA[i*k+kk]
						} else {
							wantA[i*ac+kk] = dopA[i*k+kk]
						}
					}
				}
				wantB := make([]float64, br*bc)
				for kk := 0; kk < k; kk++ {
					for j := 0; j < n; j++ {
						if tb {
							wantB[j*bc+kk] = dopB[kk*n+j]
						} else {
							wantB[kk*bc+j] = dopB[kk*n+j]
						}
					}
				}
				check("dA", ga, wantA)
				check("dB", gb, wantB)
			}
		}
	}
}

// TestSoftmaxAndPoolGradients checks the gradients of Softmax and
// LogSoftmax used as inner ops (not folded into the loss), of MaxPool
// with padding, dilation and ceil mode, AveragePool counting the padding,
// a strided convolution and GlobalAveragePool.
func TestSoftmaxAndPoolGradients(t *testing.T) {
	b, x := newIR(90, 3, 2, 9, 9)
	h := b.op("Conv", []*graph.Value{x, b.init(b.rand(0.4, 3, 2, 3, 3)), b.init(b.rand(0.1, 3))},
		map[string]*graph.Attr{"strides": ints(2, 2), "dilations": ints(1, 2), "pads": ints(1, 2, 1, 2)})
	h = b.op("Softmax", []*graph.Value{h}, map[string]*graph.Attr{"axis": graph.IntAttr(1)})
	side := b.op("GlobalAveragePool", []*graph.Value{h}, nil)
	h = b.op("MaxPool", []*graph.Value{h}, map[string]*graph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2),
		"pads": ints(1, 0, 0, 1), "ceil_mode": graph.IntAttr(1)})
	h = b.op("AveragePool", []*graph.Value{h}, map[string]*graph.Attr{"kernel_shape": ints(2, 2), "pads": ints(1, 1, 1, 1),
		"count_include_pad": graph.IntAttr(1)})
	h = b.op("Flatten", []*graph.Value{h}, nil)
	f := b.op("Flatten", []*graph.Value{side}, nil)
	h = b.op("Gemm", []*graph.Value{h, b.init(b.rand(0.5, 5, 48))}, map[string]*graph.Attr{"transB": graph.IntAttr(1)})
	h = b.op("LogSoftmax", []*graph.Value{h}, map[string]*graph.Attr{"axis": graph.IntAttr(-1)})
	g2 := b.op("Gemm", []*graph.Value{f, b.init(b.rand(0.5, 3, 5))}, nil)
	h = b.op("Add", []*graph.Value{h, g2}, nil)
	y := b.op("Gemm", []*graph.Value{h, b.init(b.rand(0.5, 5, 4)), b.init(b.rand(0.1, 4))}, nil)
	m := b.model(y, 13)
	if err := graph.InferShapes(m.Graph); err != nil {
		t.Fatal(err)
	}
	xin := (&irBuilder{rng: rand.New(rand.NewPCG(91, 1))}).rand(1, 3, 2, 9, 9)
	checks, err := CheckGradients(m, &CrossEntropy{}, 3, &Batch{Labels: []int{1, 0, 3}}, xin.F32(), gradEps, gradFloor, 2)
	reportChecks(t, checks, err, 6)
}

func TestKernelShapeErrors(t *testing.T) {
	for _, c := range []struct {
		k  Kernel
		in [][]int
	}{
		{gemmKernel{}, [][]int{{2, 3}, {4, 5}}},
		{gemmKernel{}, [][]int{{2, 3, 1}, {3, 5}}},
		{&softmaxKernel{axis: 3}, [][]int{{2, 3}}},
		{globalAvgPoolKernel{}, [][]int{{2, 3}}},
		{maskKernel{}, [][]int{{2, 3}, {3, 2}}},
		{&bnKernel{}, [][]int{{2, 3, 4}, {2}, {3}}},
	} {
		if _, err := c.k.OutShape(c.in); err == nil {
			t.Errorf("%s accepted %v", c.k.Name(), c.in)
		}
	}
}
