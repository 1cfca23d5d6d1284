package train

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// gradTol bounds |analytic - numeric| / max(|analytic|, |numeric|, gradFloor)
// for directional derivatives along a unit direction. The loss is computed
// in float32 (about 7 significant digits): with a central difference of
// step gradEps the rounding error is ~1e-7 |L| / gradEps ~ 1e-5 and the
// truncation error O(gradEps^2). Measured errors with gradEps = 1e-2 are
// below 0.3% (at 1e-3 rounding noise already reaches 2%); a wrong gradient
// formula is off by O(1). gradFloor covers gradients that are truly ~0
// (a convolution bias followed by batch normalisation).
const (
	gradEps   = 1e-2
	gradTol   = 1e-2
	gradFloor = 1e-2
)

// gradCheckNet is a small network through the trainable ops: Conv ->
// BatchNormalization (training) -> Relu -> MaxPool -> AveragePool -> Add
// (channel bias) -> Flatten -> Gemm -> Dropout (fixed mask) -> Relu ->
// MatMul -> Add, plus a GlobalAveragePool side branch from the Relu that
// joins the logits through Reshape and Gemm; a final Softmax, which the
// loss skips (it wants logits).
func gradCheckNet() *graph.Model {
	b, x := newIR(41, 4, 2, 6, 6)
	h := b.op("Conv", []*graph.Value{x, b.init(b.rand(0.4, 3, 2, 3, 3)), b.init(b.rand(0.1, 3))},
		map[string]*graph.Attr{"pads": ints(1, 1, 1, 1)})
	v := tensor.FromSlice([]int{3}, []float32{1, 1, 1})
	h = b.op("BatchNormalization", []*graph.Value{h, b.init(b.rand(0.5, 3)), b.init(b.rand(0.5, 3)),
		b.init(tensor.MustNew(tensor.Float32, 3)), b.init(v)}, nil)
	h = b.op("Relu", []*graph.Value{h}, nil)
	side := b.op("GlobalAveragePool", []*graph.Value{h}, nil)
	h = b.op("MaxPool", []*graph.Value{h}, map[string]*graph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2)})
	h = b.op("AveragePool", []*graph.Value{h}, map[string]*graph.Attr{"kernel_shape": ints(2, 2), "pads": ints(1, 1, 0, 0)})
	h = b.op("Add", []*graph.Value{h, b.init(b.rand(0.3, 3, 1, 1))}, nil)
	h = b.op("Flatten", []*graph.Value{h}, nil)
	h = b.op("Gemm", []*graph.Value{h, b.init(b.rand(0.5, 8, 27)), b.init(b.rand(0.1, 8))},
		map[string]*graph.Attr{"transB": graph.IntAttr(1)})
	h = b.op("Dropout", []*graph.Value{h, b.init(tensor.Scalar[float32](0.25))}, nil)
	h = b.op("Relu", []*graph.Value{h}, nil)
	h = b.op("MatMul", []*graph.Value{h, b.init(b.rand(0.5, 8, 5))}, nil)
	h = b.op("Add", []*graph.Value{h, b.init(b.rand(0.1, 5))}, nil)
	s := b.op("Reshape", []*graph.Value{side, b.init(tensor.FromSlice([]int{2}, []int64{4, 3}))}, nil)
	s = b.op("Gemm", []*graph.Value{s, b.init(b.rand(0.5, 3, 5))}, nil)
	y := b.op("Add", []*graph.Value{h, s}, nil)
	y = b.op("Softmax", []*graph.Value{y}, map[string]*graph.Attr{"axis": graph.IntAttr(1)})
	return b.model(y, 13)
}

func reportChecks(t *testing.T, checks []GradCheck, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != want {
		t.Fatalf("%d parameters checked, want %d", len(checks), want)
	}
	for _, c := range checks {
		if c.RelErr > gradTol {
			t.Errorf("%s: directional derivative %.6g, central difference %.6g (rel. error %.2g)", c.Param, c.Analytic, c.Numeric, c.RelErr)
		} else {
			t.Logf("%s: analytic %.6g numeric %.6g", c.Param, c.Analytic, c.Numeric)
		}
	}
}

func TestGradientCheck(t *testing.T) {
	m := gradCheckNet()
	net, err := Build(m, BuildOptions{Batch: 4, Mode: Training})
	if err != nil {
		t.Fatal(err)
	}
	if net.Logits == net.Output {
		t.Fatal("the final Softmax should be skipped for the loss")
	}
	x := (&irBuilder{rng: rand.New(rand.NewPCG(8, 8))}).rand(1, 4, 2, 6, 6)
	checks, err := CheckGradients(m, &CrossEntropy{}, 4, &Batch{Labels: []int{0, 3, 4, 1}}, x.F32(), gradEps, gradFloor, 1)
	reportChecks(t, checks, err, 10)
}

// TestGradientCheckGemmFlags covers every transA/transB combination of
// Gemm with both operands computed or trainable (the input enters through
// a first Gemm), plus alpha, beta and a matrix C.
func TestGradientCheckGemmFlags(t *testing.T) {
	for _, c := range [][2]int64{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
		b, x := newIR(80, 5, 3)
		h := b.op("Gemm", []*graph.Value{x, b.init(b.rand(0.5, 3, 4))}, nil) // [5, 4]
		rows, k := 5, 4
		if c[0] == 1 {
			rows, k = 4, 5 // op(A) = h^T [4, 5]
		}
		w := b.init(b.rand(0.5, k, 6))
		if c[1] == 1 {
			w = b.init(b.rand(0.5, 6, k))
		}
		y := b.op("Gemm", []*graph.Value{h, w, b.init(b.rand(0.1, rows, 6))}, map[string]*graph.Attr{
			"transA": graph.IntAttr(c[0]), "transB": graph.IntAttr(c[1]), "alpha": graph.FloatAttr(0.7), "beta": graph.FloatAttr(1.5)})
		m := b.model(y, 13)
		in := (&irBuilder{rng: rand.New(rand.NewPCG(81, 1))}).rand(1, 5, 3)
		labels := make([]int, rows)
		for i := range labels {
			labels[i] = (2 * i) % 6
		}
		t.Run(fmt.Sprintf("transA=%d transB=%d", c[0], c[1]), func(t *testing.T) {
			checks, err := CheckGradients(m, &CrossEntropy{}, 5, &Batch{Labels: labels}, in.F32(), gradEps, gradFloor, 1)
			reportChecks(t, checks, err, 3)
		})
	}
}
