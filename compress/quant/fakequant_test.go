package quant

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"github.com/gcompress/gcompress/tensor"
)

// TestFakeQuantSTE builds y = sum(fakequant(w) * c) in gorgonia and checks
// the forward value against FakeQuantRef and the gradient against the
// clipped straight-through estimator: dy/dw = c where w is inside the
// quantization range, 0 where it saturates.
func TestFakeQuantSTE(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 64
	w := make([]float32, n)
	c := make([]float32, n)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 2)
		c[i] = float32(rng.NormFloat64())
	}
	// per channel over [2, 32] with narrow ranges so that some values saturate
	p, err := Choose([]float32{-1, -0.5}, []float32{1, 2}, Config{DType: tensor.Int8, PerChannel: true, Axis: 0})
	if err != nil {
		t.Fatal(err)
	}
	g := G.NewGraph()
	wn := G.NewMatrix(g, gt.Float32, G.WithShape(2, 32), G.WithName("w"), G.WithValue(gt.New(gt.WithShape(2, 32), gt.WithBacking(w))))
	cn := G.NewConstant(gt.New(gt.WithShape(2, 32), gt.WithBacking(c)))
	fq, err := FakeQuant(wn, p)
	if err != nil {
		t.Fatal(err)
	}
	y := G.Must(G.Sum(G.Must(G.HadamardProd(fq, cn)), 0, 1))
	grads, err := G.Grad(y, wn)
	if err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	want, err := FakeQuantRef(w, []int{2, 32}, p)
	if err != nil {
		t.Fatal(err)
	}
	got := fq.Value().Data().([]float32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("forward %d: %v, want %v", i, got[i], want[i])
		}
	}
	gw := grads[0].Value().Data().([]float32)
	clipped := 0
	for i := range w {
		ch := i / 32
		q := roundHalfEven(float64(w[i])/float64(p.Scale[ch])) + float64(p.ZeroPoint[ch])
		wantG := c[i]
		if q < float64(p.QMin()) || q > float64(p.QMax()) {
			wantG = 0
			clipped++
		}
		if gw[i] != wantG {
			t.Errorf("gradient %d (w=%v): %v, want %v", i, w[i], gw[i], wantG)
		}
	}
	if clipped == 0 || clipped == n {
		t.Fatalf("%d of %d values clipped; the test needs both kinds", clipped, n)
	}
}
