package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// fusedOpFor prepares domain:op with attrs; constW (may be nil) is set as
// fusedActRef applies the tests' fused activation to v: "Relu", "Clip"
// with bounds [-0.5, 0.5], or none ("").
func fusedActRef(act string, v float64) float64 {
	switch act {
	case "Relu":
		return math.Max(v, 0)
	case "Clip":
		return math.Min(math.Max(v, -0.5), 0.5)
	}
	return v
}

// the constant value of input 1, as an initializer would be.
func fusedOpFor(t *testing.T, domain, op string, attrs map[string]*graph.Attr, constW *tensor.Tensor) runtime.Op {
	t.Helper()
	n := &graph.Node{OpType: op, Domain: domain, Attrs: attrs,
		Inputs:  []*graph.Value{{Name: "x"}, {Name: "w", Const: constW}},
		Outputs: []*graph.Value{{Name: "y"}}}
	o, err := registry.Factory(domain, op)(n, runtime.NodeInfo{Opset: 21})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// moreConvCases adds sizes where the SIMD path's blocking and threading
// matter (K beyond one block, N not a multiple of the panel width, small
// spatial outputs, groups).
func moreConvCases() []nntConvCase {
	return append(nntConvCases(),
		nntConvCase{x: []int{1, 64, 14, 14}, w: []int{65, 64, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{14, 14}, bias: true},
		nntConvCase{x: []int{2, 17, 7, 7}, w: []int{255, 17, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{7, 7}, bias: true},
		nntConvCase{x: []int{1, 3, 33, 31}, w: []int{8, 3, 7, 7}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{3, 3}, pe: []int{3, 3}, group: 1, wantOut: []int{17, 16}},
		nntConvCase{x: []int{1, 6, 9, 11}, w: []int{12, 1, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 1}, pe: []int{1, 2}, group: 6, wantOut: []int{8, 10}, bias: true},
		nntConvCase{x: []int{2, 5, 4, 3}, w: []int{5, 1, 5, 5}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{2, 2}, pe: []int{2, 2}, group: 5, wantOut: []int{4, 3}},
		nntConvCase{x: []int{1, 32, 7, 7}, w: []int{96, 32, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{7, 7}, bias: true},
		nntConvCase{x: []int{1, 16, 9, 9}, w: []int{64, 8, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 0}, pe: []int{0, 1}, group: 2, wantOut: []int{4, 4}, bias: true},
		nntConvCase{x: []int{2, 300, 3, 5}, w: []int{50, 300, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{3, 5}},
		nntConvCase{x: []int{1, 5, 12, 40}, w: []int{7, 5, 3, 3}, strides: []int{1, 1}, dil: []int{1, 2}, pb: []int{1, 2}, pe: []int{0, 2}, group: 1, wantOut: []int{11, 40}, bias: true},
		nntConvCase{x: []int{2, 8, 6, 30}, w: []int{6, 4, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 2, wantOut: []int{6, 30}},
		nntConvCase{x: []int{1, 3, 20, 64}, w: []int{8, 3, 7, 7}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{3, 3}, pe: []int{3, 3}, group: 1, wantOut: []int{10, 32}, bias: true},
		nntConvCase{x: []int{1, 4, 11, 70}, w: []int{6, 4, 3, 3}, strides: []int{2, 2}, dil: []int{1, 2}, pb: []int{1, 2}, pe: []int{0, 2}, group: 1, wantOut: []int{5, 35}},
		nntConvCase{x: []int{1, 8, 10, 64}, w: []int{16, 8, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{5, 32}, bias: true},
		nntConvCase{x: []int{1, 12, 9, 9}, w: []int{24, 3, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 4, wantOut: []int{9, 9}, bias: true},
		// depthwise through the blocked kernel: a last block of 8 channels,
		// uneven pads with stride 2, tiles of 8 pixels (AVX-512; 4 with AVX2)
		// overlapping at the end; a block of 1 channel and dilation 2; fewer
		// than 8 output pixels (6; AVX2: one overlapping tile of 4); 3 output
		// pixels (tiles of 2 and 1)
		nntConvCase{x: []int{1, 40, 11, 13}, w: []int{40, 1, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 0}, pe: []int{0, 1}, group: 40, wantOut: []int{5, 6}, bias: true},
		nntConvCase{x: []int{2, 17, 5, 6}, w: []int{17, 1, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 2}, pe: []int{2, 2}, group: 17, wantOut: []int{5, 6}},
		nntConvCase{x: []int{1, 20, 3, 2}, w: []int{20, 1, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 20, wantOut: []int{3, 2}, bias: true},
		nntConvCase{x: []int{1, 20, 3, 7}, w: []int{20, 1, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 20, wantOut: []int{1, 3}, bias: true},
		// more taps than the AVX-512 depthwise kernels take (17x17 = 289)
		nntConvCase{x: []int{1, 32, 20, 22}, w: []int{32, 1, 17, 17}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{8, 8}, pe: []int{8, 8}, group: 32, wantOut: []int{20, 22}},
		// 3-D of depth 1 with depth padding: the output has depth 3, so
		// these are no 2-D convolutions (depthwise and dense)
		nntConvCase{x: []int{1, 16, 1, 5, 5}, w: []int{16, 1, 1, 3, 3}, strides: []int{1, 1, 1}, dil: []int{1, 1, 1}, pb: []int{1, 1, 1}, pe: []int{1, 1, 1}, group: 16, wantOut: []int{3, 5, 5}},
		nntConvCase{x: []int{1, 4, 1, 5, 5}, w: []int{6, 4, 1, 3, 3}, strides: []int{1, 1, 1}, dil: []int{1, 1, 1}, pb: []int{1, 1, 1}, pe: []int{1, 1, 1}, group: 1, wantOut: []int{3, 5, 5}, bias: true},
	)
}

// TestConvEveryLevel runs Conv and FusedConv (summand Z, Relu or Clip) at
// every CPU level, with the weights constant (packed once) or computed,
// against the direct definition plus a plain epilogue.
func TestConvEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(31, 32))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, c := range moreConvCases() {
			if c.autoPad != "" {
				continue
			}
			x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
			var b *tensor.Tensor
			in := []*tensor.Tensor{x, w}
			if c.bias {
				b = nntRandom(rng, c.w[0])
				in = append(in, b)
			} else {
				in = append(in, nil)
			}
			ref := nntConvRef(&c, x, w, b)
			shape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
			z := nntRandom(rng, shape...)
			act := []string{"", "Relu", "Clip"}[i%3]
			attrs := c.attrs()
			if act != "" {
				attrs["activation"] = graph.StringAttr(act)
				attrs["activation_params"] = graph.FloatsAttr(-0.5, 0.5)
			}
			want := make([]float64, len(ref))
			for j, v := range ref {
				want[j] = fusedActRef(act, v+float64(z.F32()[j]))
			}
			for _, constW := range []bool{false, true} {
				var cw *tensor.Tensor
				if constW {
					cw = w
				}
				name := fmt.Sprintf("case %d const=%v act=%q", i, constW, act)
				conv := fusedOpFor(t, "", "Conv", c.attrs(), cw)
				fused := fusedOpFor(t, FusedDomain, "FusedConv", attrs, cw)
				for _, threads := range []int{1, 2} {
					for run := 0; run < 2; run++ { // the second run reuses packed weights
						out, err := conv.Run(runtime.NewContext(threads), in)
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						nntClose(t, out[0], shape, ref, nntTol)
						out, err = fused.Run(runtime.NewContext(threads), append(append([]*tensor.Tensor(nil), in...), z))
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						nntClose(t, out[0], shape, want, nntTol)
					}
				}
			}
		}
	})
}

// TestFusedConvShuffleEveryLevel runs FusedConv with shuffle_groups (the
// channel shuffle ShuffleNet applies before its depthwise convolutions) at
// every CPU level, where the blocked depthwise kernel reads the planes
// shuffled and where a shuffled copy is made, against the shuffle written
// out (x viewed as [N, G, C/G, ...], the two channel axes swapped) and the
// direct convolution. A shuffle_groups that does not divide the channels,
// and one with a pre-activation, are errors.
func TestFusedConvShuffleEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(41, 42))
	cases := []struct {
		c      nntConvCase
		groups int
	}{
		{nntConvCase{x: []int{2, 24, 9, 7}, w: []int{24, 1, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 24, wantOut: []int{9, 7}, bias: true}, 3},
		{nntConvCase{x: []int{1, 136, 14, 14}, w: []int{136, 1, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 136, wantOut: []int{7, 7}, bias: true}, 4},
		{nntConvCase{x: []int{1, 32, 6, 5}, w: []int{32, 1, 5, 5}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{2, 2}, pe: []int{2, 2}, group: 32, wantOut: []int{6, 5}}, 8},
	}
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, tc := range cases {
			c := tc.c
			x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
			// the shuffle written out: xs[n][j*G + i] = x[n][i*(C/G) + j]
			xs := tensor.MustNew(tensor.Float32, c.x...)
			ch, size, per := c.x[1], tensor.Product(c.x[2:]), c.x[1]/tc.groups
			for n := 0; n < c.x[0]; n++ {
				for gi := 0; gi < tc.groups; gi++ {
					for j := 0; j < per; j++ {
						copy(xs.F32()[(n*ch+j*tc.groups+gi)*size:][:size], x.F32()[(n*ch+gi*per+j)*size:][:size])
					}
				}
			}
			var b *tensor.Tensor
			if c.bias {
				b = nntRandom(rng, c.w[0])
			}
			ref := nntConvRef(&c, xs, w, b)
			shape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
			z := nntRandom(rng, shape...)
			want := make([]float64, len(ref))
			for j, v := range ref {
				want[j] = fusedActRef("Relu", v+float64(z.F32()[j]))
			}
			attrs := c.attrs()
			attrs["activation"] = graph.StringAttr("Relu")
			attrs["shuffle_groups"] = graph.IntAttr(int64(tc.groups))
			fused := fusedOpFor(t, FusedDomain, "FusedConv", attrs, w)
			for _, threads := range []int{1, 2} {
				out, err := fused.Run(runtime.NewContext(threads), []*tensor.Tensor{x, w, b, z})
				if err != nil {
					t.Fatalf("case %d: %v", i, err)
				}
				t.Logf("case %d, %d threads", i, threads)
				nntClose(t, out[0], shape, want, nntTol)
			}
		}
	})
	attrs := map[string]*graph.Attr{"group": graph.IntAttr(24), "shuffle_groups": graph.IntAttr(5)}
	x, w := nntRandom(rng, 1, 24, 4, 4), nntRandom(rng, 24, 1, 3, 3)
	if _, err := fusedOpFor(t, FusedDomain, "FusedConv", attrs, w).Run(runtime.NewContext(1), []*tensor.Tensor{x, w}); err == nil {
		t.Error("shuffle_groups 5 of 24 channels: want an error")
	}
	attrs["shuffle_groups"] = graph.IntAttr(4)
	bn := nntRandom(rng, 24)
	if _, err := fusedOpFor(t, FusedDomain, "FusedConv", attrs, w).Run(runtime.NewContext(1), []*tensor.Tensor{x, w, nil, nil, bn, bn, bn, bn}); err == nil {
		t.Error("shuffle_groups with a pre-activation: want an error")
	}
}

// TestFusedGemmEveryLevel checks Gemm/FusedGemm with a constant or
// computed B, C of shape [N], [1, N], [M, 1], [M, N] or scalar, and Relu.
func TestFusedGemmEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(33, 34))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, s := range [][3]int{{1, 1000, 255}, {17, 63, 64}, {65, 3, 1000}, {255, 65, 17}} {
			m, n, k := s[0], s[1], s[2]
			transA, transB := i%2 == 1, i < 2
			a := nntRandom(rng, m, k)
			if transA {
				a = nntRandom(rng, k, m)
			}
			b := nntRandom(rng, k, n)
			if transB {
				b = nntRandom(rng, n, k)
			}
			for ci, cShape := range [][]int{{n}, {1, n}, {m, 1}, {m, n}, {}} {
				c := nntRandom(rng, cShape...)
				attrs := map[string]*graph.Attr{"transA": graph.IntAttr(int64(i % 2)), "transB": graph.IntAttr(int64(btoi(transB))),
					"alpha": graph.FloatAttr(0.5), "beta": graph.FloatAttr(float32(ci) - 1.5)}
				ref := gemmOpRef(a, b, c, transA, transB, 0.5, float64(ci)-1.5)
				fattrs := map[string]*graph.Attr{"activation": graph.StringAttr("Relu")}
				for k, v := range attrs {
					fattrs[k] = v
				}
				relu := make([]float64, len(ref))
				for j, v := range ref {
					relu[j] = math.Max(v, 0)
				}
				for _, constB := range []bool{false, true} {
					var cb *tensor.Tensor
					if constB {
						cb = b
					}
					for j, op := range []runtime.Op{fusedOpFor(t, "", "Gemm", attrs, cb), fusedOpFor(t, FusedDomain, "FusedGemm", fattrs, cb)} {
						want := [][]float64{ref, relu}[j]
						for run := 0; run < 2; run++ {
							out, err := op.Run(runtime.NewContext(1+run), []*tensor.Tensor{a, b, c})
							if err != nil {
								t.Fatal(err)
							}
							nntClose(t, out[0], []int{m, n}, want, 1e-4)
						}
					}
				}
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// gemmOpRef is Gemm's definition in float64.
func gemmOpRef(a, b, c *tensor.Tensor, transA, transB bool, alpha, beta float64) []float64 {
	m, k := a.Shape()[0], a.Shape()[1]
	if transA {
		m, k = k, m
	}
	n := b.Shape()[1]
	if transB {
		n = b.Shape()[0]
	}
	out := make([]float64, m*n)
	bc := tensor.NewBroadcaster([]int{m, n}, c.Shape())
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := 0.0
			for p := 0; p < k; p++ {
				ai, bi := i*k+p, p*n+j
				if transA {
					ai = p*m + i
				}
				if transB {
					bi = j*k + p
				}
				s += a.Float64At(ai) * b.Float64At(bi)
			}
			out[i*n+j] = alpha*s + beta*c.Float64At(bc.Off[0])
			bc.Next()
		}
	}
	return out
}

// TestPoolEveryLevel compares 2-D MaxPool and AveragePool at every level
// with the generic (pure Go) level, including NaN inputs, pads, strides,
// dilations, ceil_mode and count_include_pad.
func TestPoolEveryLevel(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	type pc struct {
		x                []int
		k, s, d, pads    []int64
		ceil, includePad int64
	}
	cases := []pc{
		{x: []int{1, 3, 112, 112}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 1}},
		{x: []int{2, 5, 13, 17}, k: []int64{2, 3}, s: []int64{1, 2}, d: []int64{2, 1}, pads: []int64{0, 1, 1, 2}, ceil: 1},
		{x: []int{1, 4, 7, 7}, k: []int64{3, 3}, s: []int64{1, 1}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 1}, includePad: 1},
		{x: []int{1, 2, 1, 9}, k: []int64{1, 4}, s: []int64{1, 3}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 3}, ceil: 1, includePad: 1},
		// rows of several vectors: the register taps of 2- and 3-wide windows
		{x: []int{1, 3, 9, 131}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
		{x: []int{1, 2, 6, 111}, k: []int64{2, 2}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{0, 1, 1, 0}, ceil: 1},
		{x: []int{1, 2, 5, 70}, k: []int64{3, 2}, s: []int64{1, 1}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 0}},
		{x: []int{1, 2, 5, 49}, k: []int64{3, 3}, s: []int64{1, 2}, d: []int64{1, 1}, pads: []int64{2, 2, 2, 2}, includePad: 1},
		// many planes (the blocked average: 40 planes, a last block of 8), as
		// ShuffleNet's shortcut pools, with and without the padding counted
		{x: []int{2, 20, 14, 14}, k: []int64{3, 3}, s: []int64{2, 2}, d: []int64{1, 1}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 40, 9, 11}, k: []int64{3, 2}, s: []int64{2, 1}, d: []int64{1, 1}, pads: []int64{1, 0, 1, 1}, ceil: 1, includePad: 1},
		// one output pixel per plane (a global 7x7 average: the blocked
		// kernel's one-pixel tile)
		{x: []int{1, 32, 7, 7}, k: []int64{7, 7}, s: []int64{1, 1}, d: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
	}
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	for i, c := range cases {
		x := nntRandom(rng, c.x...)
		for j := 0; j < x.Len(); j += 97 {
			x.F32()[j] = float32(math.NaN())
		}
		for _, op := range []string{"MaxPool", "AveragePool"} {
			attrs := map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(c.k...), "strides": graph.IntsAttr(c.s...),
				"pads": graph.IntsAttr(c.pads...), "ceil_mode": graph.IntAttr(c.ceil), "count_include_pad": graph.IntAttr(c.includePad)}
			if op == "MaxPool" {
				attrs["dilations"] = graph.IntsAttr(c.d...)
			}
			SetCPULevel(LevelGeneric)
			want := nntMust(t, op, attrs, x)
			for _, l := range SupportedCPULevels()[1:] {
				SetCPULevel(l)
				got := nntMust(t, op, attrs, x)
				wf := nntFloats(want)
				for j := range wf {
					if g := got.Float64At(j); math.IsNaN(g) != math.IsNaN(wf[j]) || math.Abs(g-wf[j]) > 1e-6*(1+math.Abs(wf[j])) {
						t.Fatalf("case %d %s at %v: element %d = %v, want %v", i, op, l, j, g, wf[j])
					}
				}
			}
		}
	}
}

// TestFusedConvPreActivationEveryLevel: FusedConv with a BatchNorm (+Relu)
// pre-activation, at every level, constant weights or not, against the
// direct convolution of the explicitly normalized input.
func TestFusedConvPreActivationEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(37, 38))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, c := range moreConvCases() {
			if c.autoPad != "" {
				continue
			}
			x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
			ch := c.x[1]
			scale, shift, mean, vr := nntRandom(rng, ch), nntRandom(rng, ch), nntRandom(rng, ch), nntRandom(rng, ch)
			for j := range vr.F32() {
				vr.F32()[j] = 0.5 + vr.F32()[j]*vr.F32()[j]
			}
			relu := i%2 == 0
			const eps = 1e-3
			xn := tensor.MustNew(tensor.Float32, c.x...)
			plane := tensor.Product(c.x[2:])
			for j := range xn.F32() {
				cc := j / plane % ch
				k := float64(scale.F32()[cc]) / math.Sqrt(float64(vr.F32()[cc])+eps)
				v := float64(x.F32()[j])*k + float64(shift.F32()[cc]) - float64(mean.F32()[cc])*k
				if relu {
					v = math.Max(v, 0)
				}
				xn.F32()[j] = float32(v)
			}
			want := nntConvRef(&c, xn, w, nil)
			shape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
			attrs := c.attrs()
			attrs["pre_epsilon"] = graph.FloatAttr(eps)
			if relu {
				attrs["pre_activation"] = graph.StringAttr("Relu")
			}
			for _, cw := range []*tensor.Tensor{nil, w} {
				op := fusedOpFor(t, FusedDomain, "FusedConv", attrs, cw)
				for _, threads := range []int{1, 2} {
					out, err := op.Run(runtime.NewContext(threads), []*tensor.Tensor{x, w, nil, nil, scale, shift, mean, vr})
					if err != nil {
						t.Fatalf("case %d: %v", i, err)
					}
					nntClose(t, out[0], shape, want, nntTol)
				}
			}
		}
	})
}
