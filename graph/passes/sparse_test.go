package passes_test

import (
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/conformance"
	"github.com/gcompress/gcompress/graph"
)

// zeroFraction zeroes the first fraction of every row of w's data.
func zeroFraction(w *graph.Value, frac float64) {
	d := w.Const.F32()
	rows := w.Const.Shape()[0]
	cols := len(d) / rows
	for i := 0; i < rows; i++ {
		for j := 0; j < int(frac*float64(cols)); j++ {
			d[i*cols+j] = 0
		}
	}
}

// TestSparsifyWeights: a 90%-sparse Gemm and Conv become the sparse ops,
// a 30%-sparse one stays dense, and the optimized model computes the same
// outputs (with whichever kernel the break-even table picks, and with the
// sparse kernels forced).
func TestSparsifyWeights(t *testing.T) {
	b := newBuilder(3)
	x := b.input("x", 2, 4, 10, 10)
	c1 := b.conv(x, 4, 16, 3, true)
	zeroFraction(c1.Producer.Inputs[1], 0.9)
	r := b.node("Relu", nil, c1)
	f := b.node("Flatten", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, r)
	w1 := b.init("w1", -0.1, 0.1, 64, 1600)
	zeroFraction(w1, 0.9)
	h := b.node("Gemm", map[string]*graph.Attr{"transB": graph.IntAttr(1)}, f, w1, b.init("b1", -0.1, 0.1, 64))
	w2 := b.init("w2", -0.1, 0.1, 10, 64)
	zeroFraction(w2, 0.3)
	y := b.node("Gemm", map[string]*graph.Attr{"transB": graph.IntAttr(1)}, b.node("Relu", nil, h), w2)
	m := b.model(y)
	feed := b.feed()
	rep := checkEquivalent(t, m, feed, map[string]int{"SparseConv": 1, "Flatten": 1, "SparseGemm": 1, "Gemm": 1})
	if rep.SparseWeights != 2 {
		t.Errorf("report counts %d sparse weights, want 2", rep.SparseWeights)
	}
	want := run(t, m, feed, true)
	for _, p := range []cpu.SparsePolicy{cpu.SparseForceCSR, cpu.SparseForceDense} {
		old := cpu.SetSparsePolicy(p)
		before := cpu.SparseKernelCalls()
		got := run(t, m, feed, false)
		after := cpu.SparseKernelCalls()
		cpu.SetSparsePolicy(old)
		k := cpu.KernelCSR
		if p == cpu.SparseForceDense {
			k = cpu.KernelDense
		}
		if after[k]-before[k] != 2 {
			t.Errorf("policy %d: kernel calls %v -> %v, want 2 %v calls", p, before, after, k)
		}
		if err := conformance.Compare(got[0], want[0], foldTol, foldTol); err != nil {
			t.Fatalf("policy %d: %v", p, err)
		}
	}
}
