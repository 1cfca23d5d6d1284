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

// nchwcGuard is the sentinel around the outputs the kernels write.
const nchwcGuard = float32(-12345.5)

// nchwcBlockedRef returns NCHW t blocked (padding channels zero), by the
// plain reference reorder.
func nchwcBlockedRef(t *tensor.Tensor) *tensor.Tensor {
	s := t.Shape()
	out := tensor.MustNew(tensor.Float32, blockedShape(s)...)
	plain, blocked := s[1]*s[2]*s[3], out.Len()/s[0]
	for img := range s[0] {
		nchwcReorderGo(t.F32()[img*plain:], out.F32()[img*blocked:], s[2]*s[3], s[1], 0, out.Shape()[1], true)
	}
	return out
}

// nchwcPlainRef returns the first c channels (0: all) of blocked t as
// NCHW, by the plain reference reorder.
func nchwcPlainRef(t *tensor.Tensor, c int) *tensor.Tensor {
	s := nchwShape(t.Shape(), c)
	out := tensor.MustNew(tensor.Float32, s...)
	plain, blocked := s[1]*s[2]*s[3], t.Len()/s[0]
	for img := range s[0] {
		nchwcReorderGo(t.F32()[img*blocked:], out.F32()[img*plain:], s[2]*s[3], s[1], 0, t.Shape()[1], false)
	}
	return out
}

// checkGuards fails when buf outside [lo, hi) is not the sentinel.
func checkGuards(t *testing.T, buf []float32, lo, hi int) {
	t.Helper()
	for i, v := range buf {
		if (i < lo || i >= hi) && v != nchwcGuard {
			t.Fatalf("element %d outside the output [%d, %d) was written: %v", i, lo, hi, v)
		}
	}
}

// withNCHWcKernels runs f at the AVX-512 and the AVX2 level (the blocked
// kernels' two builds) and, lowered to the generic level, on the
// fallbacks, skipping what the CPU cannot run.
func withNCHWcKernels(t *testing.T, f func(t *testing.T)) {
	for _, l := range []CPULevel{LevelAVX512, LevelAVX2, LevelGeneric} {
		t.Run(l.String(), func(t *testing.T) {
			prev, err := SetCPULevel(l)
			if err != nil {
				t.Skip(err)
			}
			defer SetCPULevel(prev)
			f(t)
		})
	}
}

// TestNCHWcReorder: ToNCHWc equals the reference reorder on pixel counts
// below, at and past a multiple of 16 and on channel counts that leave
// the last block partly padding (zeros), FromNCHWc inverts it exactly
// (keeping the given channels), and the kernels write nothing outside
// their channel blocks.
func TestNCHWcReorder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	withNCHWcKernels(t, func(t *testing.T) {
		for _, s := range [][]int{{1, 16, 1, 1}, {2, 32, 4, 4}, {1, 48, 13, 13}, {1, 16, 3, 5}, {3, 64, 17, 9},
			{1, 256, 56, 56}, {2, 20, 5, 7}, {1, 3, 4, 4}, {2, 1000, 13, 13}} {
			for _, threads := range []int{1, 2} {
				t.Run(fmt.Sprintf("%v/threads=%d", s, threads), func(t *testing.T) {
					x := nntRandom(rng, s...)
					ctx := runtime.NewContext(threads)
					b, err := reorderNCHWc(ctx, []*tensor.Tensor{x}, true, 0)
					if err != nil {
						t.Fatal(err)
					}
					want := nchwcBlockedRef(x)
					nntClose(t, b[0], want.Shape(), nntFloats(want), 0)
					back, err := reorderNCHWc(ctx, b, false, s[1])
					if err != nil {
						t.Fatal(err)
					}
					nntClose(t, back[0], s, nntFloats(x), 0)
					if !nchwcKernels() {
						return
					}
					// the kernels on the middle blocks (or all) of the first image
					hw, c, cb := s[2]*s[3], s[1], want.Shape()[1]
					b0, b1 := cb/3, cb-cb/3
					for _, to := range []bool{true, false} {
						src, n := x.F32()[:c*hw], cb*nchwcBlock*hw
						if !to {
							src, n = want.F32()[:cb*nchwcBlock*hw], c*hw
						}
						dst := make([]float32, n)
						for i := range dst {
							dst[i] = nchwcGuard
						}
						lo, hi := b0*nchwcBlock*hw, b1*nchwcBlock*hw
						if to {
							nchwcTo(src, dst, hw, c, b0, b1)
						} else {
							nchwcFrom(src, dst, hw, c, b0, b1)
							hi = min(hi, c*hw)
						}
						checkGuards(t, dst, lo, hi)
						ref := make([]float32, len(dst))
						nchwcReorderGo(src, ref, hw, c, b0, b1, to)
						for i := lo; i < hi; i++ {
							if dst[i] != ref[i] {
								t.Fatalf("to=%v: element %d = %v, want %v", to, i, dst[i], ref[i])
							}
						}
					}
				})
			}
		}
	})
	ctx := runtime.NewContext(1)
	if _, err := reorderNCHWc(ctx, []*tensor.Tensor{tensor.MustNew(tensor.Float32, 1, 2, 2, 2, 8)}, false, 0); err == nil {
		t.Error("FromNCHWc accepted blocks of 8")
	}
	for _, c := range []int{16, 33} {
		if _, err := reorderNCHWc(ctx, []*tensor.Tensor{tensor.MustNew(tensor.Float32, 1, 2, 2, 2, 16)}, false, c); err == nil {
			t.Errorf("FromNCHWc kept %d channels of 2 blocks", c)
		}
	}
}

// TestNCHWcConvMatchesReference: NCHWcConv equals the float64 definition
// of Conv (plus summand and activation) on 1x1 convolutions read as one
// row, strided 1x1 (batch 2, strides 2 and 3: gathered first, read in
// place from NCHW planes), padded, strided, dilated and
// non-square kernels, output channels that leave a partial group (16,
// 32, 48 or 80 = 64 + 16) or a partial block (104 = 6.5 blocks, 8; no
// summand there, which must be refused), stems whose 3 or 5 input
// channels are read as NCHW planes (the other cases run both ways), batch
// 2, a NaN input, with and without bias and summand,
// every activation, with no pre-activation, a BatchNorm or a BatchNorm and
// Relu before the convolution (FusedConv's pre-activation, applied while
// the input is copied), weights constant or not, the input blocks taken all
// at once, one or two per pass, on 1 and 2 threads; at the AVX-512 and
// the AVX2 level (the kernel's two builds, also called directly between
// guard bands) and lowered to the generic level (the NCHW fallback).
func TestNCHWcConvMatchesReference(t *testing.T) {
	cases := []nntConvCase{
		{x: []int{1, 32, 9, 11}, w: []int{64, 32, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{9, 11}, bias: true},
		{x: []int{2, 16, 10, 7}, w: []int{80, 16, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{10, 7}, bias: true},
		{x: []int{1, 48, 13, 13}, w: []int{32, 48, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{7, 7}},
		{x: []int{1, 32, 14, 14}, w: []int{48, 32, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{7, 7}, bias: true},
		{x: []int{1, 16, 12, 9}, w: []int{16, 16, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 1}, pe: []int{0, 2}, group: 1, wantOut: []int{10, 8}, bias: true},
		{x: []int{1, 32, 5, 6}, w: []int{128, 32, 5, 5}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{2, 2}, pe: []int{2, 2}, group: 1, wantOut: []int{5, 6}, bias: true},
		{x: []int{1, 64, 6, 30}, w: []int{64, 64, 1, 3}, strides: []int{1, 2}, dil: []int{1, 1}, pb: []int{0, 1}, pe: []int{0, 1}, group: 1, wantOut: []int{6, 15}},
		{x: []int{1, 32, 8, 8}, w: []int{32, 32, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{1, 1}, group: 1, wantOut: []int{7, 7}, bias: true},
		{x: []int{2, 32, 13, 11}, w: []int{32, 32, 1, 1}, strides: []int{2, 3}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{7, 4}, bias: true},
		{x: []int{1, 32, 6, 7}, w: []int{104, 32, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{6, 7}, bias: true},
		{x: []int{2, 16, 9, 9}, w: []int{8, 16, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{5, 5}, bias: true},
		// stems: input channels that are not whole blocks, read as NCHW planes
		{x: []int{1, 3, 23, 21}, w: []int{64, 3, 7, 7}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{3, 3}, pe: []int{3, 3}, group: 1, wantOut: []int{12, 11}, bias: true},
		{x: []int{2, 3, 17, 17}, w: []int{96, 3, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{8, 8}, bias: true},
		{x: []int{1, 5, 6, 9}, w: []int{24, 5, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{6, 9}},
	}
	rng := rand.New(rand.NewPCG(17, 19))
	withNCHWcKernels(t, func(t *testing.T) {
		for i, c := range cases {
			x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
			if i == 1 {
				x.F32()[7] = float32(math.NaN()) // propagates through the pre-activation's Relu too
			}
			var b *tensor.Tensor
			in := []*tensor.Tensor{nil, w} // X: blocked, or NCHW planes (bs 1)
			if c.bias {
				b = nntRandom(rng, c.w[0])
				in = append(in, b)
			} else {
				in = append(in, nil)
			}
			outShape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
			zPlain := nntRandom(rng, outShape...)
			layouts := []int{nchwcBlock, 1}
			if c.x[1]%nchwcBlock != 0 {
				layouts = layouts[1:]
			}
			for _, bs := range layouts {
				in[0] = x
				if bs == nchwcBlock {
					in[0] = nchwcBlockedRef(x)
				}
				for _, preKind := range []string{"", "bn", "bn-relu"} {
					if bs == 1 && preKind != "" {
						continue // a pre-activation needs blocked X
					}
					xe, bn, pre := x, []*tensor.Tensor(nil), []float32(nil) // no pre-activation
					if preKind != "" {
						xe, bn, pre = nchwcPreActRef(t, rng, x, preKind == "bn-relu")
					}
					conv := nntConvRef(&c, xe, w, b)
					for _, act := range []string{"", "Relu", "Clip"} {
						for _, withZ := range []bool{false, true} {
							if withZ && c.w[0]%nchwcBlock != 0 {
								// a summand needs whole output blocks
								op := fusedOpFor(t, FusedDomain, "NCHWcConv", c.attrs(), nil)
								if _, err := op.Run(runtime.NewContext(1), append(append([]*tensor.Tensor(nil), in...), nchwcBlockedRef(zPlain))); err == nil {
									t.Errorf("case%d: summand accepted with %d output channels", i, c.w[0])
								}
								continue
							}
							want := make([]float64, len(conv))
							for j, v := range conv {
								if withZ {
									v += float64(zPlain.F32()[j])
								}
								want[j] = fusedActRef(act, v)
							}
							attrs := c.attrs()
							if act != "" {
								attrs["activation"] = graph.StringAttr(act)
								attrs["activation_params"] = graph.FloatsAttr(-0.5, 0.5)
							}
							if preKind == "bn-relu" {
								attrs["pre_activation"] = graph.StringAttr("Relu")
							}
							args := append([]*tensor.Tensor(nil), in...)
							if withZ || bn != nil {
								var zb *tensor.Tensor
								if withZ {
									zb = nchwcBlockedRef(zPlain)
								}
								args = append(append(args, zb), bn...)
							}
							for _, constW := range []bool{false, true} {
								var cw *tensor.Tensor
								if constW {
									cw = w
								}
								op := fusedOpFor(t, FusedDomain, "NCHWcConv", attrs, cw)
								for _, perPass := range []int{0, 1, 2} {
									for _, threads := range []int{1, 2} {
										name := fmt.Sprintf("case%d/bs=%d/pre=%q/%q/z=%v/const=%v/pass=%d/threads=%d", i, bs, preKind, act, withZ, constW, perPass, threads)
										t.Run(name, func(t *testing.T) {
											nchwcPassBlocksForce = perPass
											defer func() { nchwcPassBlocksForce = 0 }()
											out, err := op.Run(runtime.NewContext(threads), args)
											if err != nil {
												t.Fatal(err)
											}
											nntClose(t, nchwcPlainRef(out[0], c.w[0]), outShape, want, nntTol)
										})
									}
								}
							}
							if !nchwcKernels() {
								continue
							}
							t.Run(fmt.Sprintf("case%d/bs=%d/pre=%q/%q/z=%v/guards", i, bs, preKind, act, withZ), func(t *testing.T) {
								g, err := newConvGeom(fusedConvWindow(t, attrs), 1, c.x, c.w, false, nil, nil)
								if err != nil {
									t.Fatal(err)
								}
								n := tensor.Product(blockedShape(outShape))
								buf := make([]float32, n+64)
								for j := range buf {
									buf[j] = nchwcGuard
								}
								var zd, bd []float32
								if withZ {
									zd = args[3].F32()
								}
								if b != nil {
									bd = b.F32()
								}
								fa, err := parseFusedAct(&graph.Node{Attrs: attrs})
								if err != nil {
									t.Fatal(err)
								}
								nchwcConvF32(runtime.NewContext(2), g, packNCHWcWeights(w.F32(), g, bs), in[0].F32(), bd, zd, buf[32:32+n], fa, pre, preKind == "bn-relu", bs)
								checkGuards(t, buf, 32, 32+n)
								got := tensor.MustNew(tensor.Float32, blockedShape(outShape)...)
								copy(got.F32(), buf[32:32+n])
								nntClose(t, nchwcPlainRef(got, c.w[0]), outShape, want, nntTol)
							})
						}
					}
				}
			}
		}
	})
}

// nchwcPreActRef draws a BatchNormalization over x's channels (positive
// variances) and returns x after it (and Relu when relu), computed in
// float64, with the BatchNorm's inputs and their prologue (preActParams).
func nchwcPreActRef(t *testing.T, rng *rand.Rand, x *tensor.Tensor, relu bool) (*tensor.Tensor, []*tensor.Tensor, []float32) {
	t.Helper()
	s := x.Shape()
	c, size := s[1], s[2]*s[3]
	v := nntRandom(rng, c)
	for j, f := range v.F32() {
		v.F32()[j] = float32(math.Abs(float64(f))) + 0.5
	}
	bn := []*tensor.Tensor{nntRandom(rng, c), nntRandom(rng, c), nntRandom(rng, c), v}
	pre, err := preActParams(bn, c, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	xe := tensor.MustNew(tensor.Float32, s...)
	for j, f := range x.F32() {
		ch := j / size % c
		e := float64(f)*float64(pre[ch]) + float64(pre[c+ch])
		if relu {
			e = math.Max(e, 0)
		}
		xe.F32()[j] = float32(e)
	}
	return xe, bn, pre
}

// fusedConvWindow returns the window of a convolution with attrs.
func fusedConvWindow(t *testing.T, attrs map[string]*graph.Attr) graph.Window {
	t.Helper()
	win, err := graph.NodeWindow(&graph.Node{OpType: "Conv", Attrs: attrs})
	if err != nil {
		t.Fatal(err)
	}
	return win
}

// TestNCHWcConvRejects: bad inputs are errors, not panics.
func TestNCHWcConvRejects(t *testing.T) {
	attrs := map[string]*graph.Attr{"kernel_shape": nntInts(1, 1)}
	op := fusedOpFor(t, FusedDomain, "NCHWcConv", attrs, nil)
	x := tensor.MustNew(tensor.Float32, 1, 2, 3, 3, 16)
	for name, in := range map[string][]*tensor.Tensor{
		"rank-3 X":                {tensor.MustNew(tensor.Float32, 32, 3, 3), tensor.MustNew(tensor.Float32, 16, 32, 1, 1)},
		"plain X, pre-activation": {tensor.MustNew(tensor.Float32, 1, 32, 3, 3), tensor.MustNew(tensor.Float32, 16, 32, 1, 1), nil, nil, tensor.MustNew(tensor.Float32, 32), tensor.MustNew(tensor.Float32, 32), tensor.MustNew(tensor.Float32, 32), tensor.MustNew(tensor.Float32, 32)},
		"12 outputs and Z":        {x, tensor.MustNew(tensor.Float32, 12, 32, 1, 1), nil, tensor.MustNew(tensor.Float32, 1, 1, 3, 3, 16)},
		"channels differ":         {x, tensor.MustNew(tensor.Float32, 16, 16, 1, 1)},
		"bad summand":             {x, tensor.MustNew(tensor.Float32, 16, 32, 1, 1), nil, tensor.MustNew(tensor.Float32, 1, 1, 3, 3, 8)},
		"no weights":              {x},
		"half a pre-activation":   {x, tensor.MustNew(tensor.Float32, 16, 32, 1, 1), nil, nil, tensor.MustNew(tensor.Float32, 32), tensor.MustNew(tensor.Float32, 32)},
		"no channels":             {tensor.MustNew(tensor.Float32, 1, 0, 3, 3, 16), tensor.MustNew(tensor.Float32, 16, 0, 1, 1)},
	} {
		if _, err := op.Run(runtime.NewContext(1), in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	n := &graph.Node{OpType: "NCHWcConv", Domain: FusedDomain, Attrs: map[string]*graph.Attr{"group": graph.IntAttr(2)},
		Inputs: []*graph.Value{{Name: "x"}, {Name: "w"}}, Outputs: []*graph.Value{{Name: "y"}}}
	if _, err := registry.Factory(FusedDomain, "NCHWcConv")(n, runtime.NodeInfo{Opset: 21}); err == nil {
		t.Error("group 2 accepted")
	}
	n.Attrs = map[string]*graph.Attr{"pre_activation": graph.StringAttr("Sigmoid")}
	if _, err := registry.Factory(FusedDomain, "NCHWcConv")(n, runtime.NodeInfo{Opset: 21}); err == nil {
		t.Error("pre_activation Sigmoid accepted")
	}
	n = &graph.Node{OpType: "NCHWcMaxPool", Domain: FusedDomain, Attrs: map[string]*graph.Attr{"kernel_shape": nntInts(2, 2)},
		Inputs: []*graph.Value{{Name: "x"}}, Outputs: []*graph.Value{{Name: "y"}, {Name: "indices"}}}
	if _, err := registry.Factory(FusedDomain, "NCHWcMaxPool")(n, runtime.NodeInfo{Opset: 21}); err == nil {
		t.Error("NCHWcMaxPool with Indices accepted")
	}
}

// TestNCHWcPoolsMatchPools: NCHWcMaxPool equals MaxPool bit for bit and
// NCHWcAveragePool equals AveragePool to rounding, on the same values
// (SqueezeNet's 3x3/2, ceil_mode, padded 3x3/1 as in Inception, 2x2/2 as
// in DenseNet's transitions, batch 2; the averages with and without
// count_include_pad; NaN inputs skipped by the max), at every level of
// withNCHWcKernels, the plain pools run at the generic level (at AVX2 and
// up the NCHW AveragePool of 16 or more planes takes the blocked depthwise
// kernel, built from the same template as the blocked pools).
func TestNCHWcPoolsMatchPools(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 29))
	cases := []struct {
		x     []int
		attrs map[string]*graph.Attr
	}{
		{[]int{1, 32, 55, 55}, map[string]*graph.Attr{"kernel_shape": nntInts(3, 3), "strides": nntInts(2, 2)}},
		{[]int{1, 16, 14, 14}, map[string]*graph.Attr{"kernel_shape": nntInts(3, 3), "strides": nntInts(2, 2), "ceil_mode": graph.IntAttr(1)}},
		{[]int{2, 48, 7, 9}, map[string]*graph.Attr{"kernel_shape": nntInts(3, 3), "pads": nntInts(1, 1, 1, 1)}},
		{[]int{1, 16, 8, 6}, map[string]*graph.Attr{"kernel_shape": nntInts(2, 2), "strides": nntInts(2, 2)}},
		{[]int{1, 32, 9, 8}, map[string]*graph.Attr{"kernel_shape": nntInts(3, 2), "strides": nntInts(2, 2), "pads": nntInts(1, 0, 2, 1),
			"ceil_mode": graph.IntAttr(1), "count_include_pad": graph.IntAttr(1)}},
	}
	withNCHWcKernels(t, func(t *testing.T) {
		for _, kind := range []string{"MaxPool", "AveragePool"} {
			for i, c := range cases {
				x := nntRandom(rng, c.x...)
				if kind == "MaxPool" {
					x.F32()[5] = float32(math.NaN())
				}
				ref, err := nntOp(t, kind, c.attrs, 13, 1)
				if err != nil {
					t.Fatal(err)
				}
				level, _ := SetCPULevel(LevelGeneric)
				want, err := ref.Run(runtime.NewContext(1), []*tensor.Tensor{x})
				SetCPULevel(level)
				if err != nil {
					t.Fatal(err)
				}
				n := &graph.Node{OpType: "NCHWc" + kind, Domain: FusedDomain, Attrs: c.attrs,
					Inputs: []*graph.Value{{Name: "x"}}, Outputs: []*graph.Value{{Name: "y"}}}
				op, err := registry.Factory(FusedDomain, "NCHWc"+kind)(n, runtime.NodeInfo{Opset: 13})
				if err != nil {
					t.Fatal(err)
				}
				for _, threads := range []int{1, 2} {
					t.Run(fmt.Sprintf("%s/case%d/threads=%d", kind, i, threads), func(t *testing.T) {
						got, err := op.Run(runtime.NewContext(threads), []*tensor.Tensor{nchwcBlockedRef(x)})
						if err != nil {
							t.Fatal(err)
						}
						tol := 0.0 // the max is exact; AveragePool's NCHW kernel sums separably, in another order
						if kind == "AveragePool" {
							tol = 1e-6
						}
						nntClose(t, nchwcPlainRef(got[0], 0), want[0].Shape(), nntFloats(want[0]), tol)
					})
				}
			}
		}
	})
}

// TestNCHWcOpsOnlyWithKernels: the backend offers the blocked ops from the
// AVX2 level up only, so the layout pass leaves other CPUs in NCHW.
func TestNCHWcOpsOnlyWithKernels(t *testing.T) {
	for _, l := range []CPULevel{LevelGeneric, LevelAVX2, LevelAVX512} {
		prev, err := SetCPULevel(l)
		if err != nil {
			continue
		}
		for op := range nchwcOps {
			if got := Backend().Factory(FusedDomain, op) != nil; got != (l >= LevelAVX2) {
				t.Errorf("level %v: %s offered = %v", l, op, got)
			}
		}
		if Backend().Factory(FusedDomain, "FusedConv") == nil {
			t.Errorf("level %v: FusedConv not offered", l)
		}
		SetCPULevel(prev)
	}
}

// BenchmarkNCHWcConv compares NCHWcConv ("nchwc", blocked in and out)
// with FusedConv on NCHW ("nchw", the GEMM paths) on convolutions of
// ResNet-50 and SqueezeNet 1.1, with Relu and constant weights, on 1 and
// 2 threads; GFLOP/s counts 2 per multiply-add.
func BenchmarkNCHWcConv(b *testing.B) {
	shapes := []struct {
		name          string
		c, m, hw, k   int
		stride, pad   int
		residualInput bool
	}{
		{"r50-56-1x1-64-64", 64, 64, 56, 1, 1, 0, false},
		{"r50-56-3x3-64-64", 64, 64, 56, 3, 1, 1, false},
		{"r50-56-1x1-64-256", 64, 256, 56, 1, 1, 0, true},
		{"r50-56-1x1-256-64", 256, 64, 56, 1, 1, 0, false},
		{"r50-28-3x3-128-128", 128, 128, 28, 3, 1, 1, false},
		{"r50-28-1x1-128-512", 128, 512, 28, 1, 1, 0, true},
		{"r50-28-1x1-512-128", 512, 128, 28, 1, 1, 0, false},
		{"r50-14-3x3-256-256", 256, 256, 14, 3, 1, 1, false},
		{"r50-14-1x1-256-1024", 256, 1024, 14, 1, 1, 0, true},
		{"r50-14-1x1-1024-256", 1024, 256, 14, 1, 1, 0, false},
		{"r50-7-3x3-512-512", 512, 512, 7, 3, 1, 1, false},
		{"r50-7-1x1-512-2048", 512, 2048, 7, 1, 1, 0, true},
		{"r50-7-1x1-2048-512", 2048, 512, 7, 1, 1, 0, false},
		{"sq-55-1x1-16-64", 16, 64, 55, 1, 1, 0, false},
		{"sq-55-3x3-16-64", 16, 64, 55, 3, 1, 1, false},
		{"sq-13-1x1-512-64", 512, 64, 13, 1, 1, 0, false},
		{"sq-13-3x3-64-256", 64, 256, 13, 3, 1, 1, false},
	}
	for _, s := range shapes {
		rng := rand.New(rand.NewPCG(1, 2))
		oh := (s.hw+2*s.pad-s.k)/s.stride + 1
		x, w, bias := nntRandom(rng, 1, s.c, s.hw, s.hw), nntRandom(rng, s.m, s.c, s.k, s.k), nntRandom(rng, s.m)
		z := nntRandom(rng, 1, s.m, oh, oh)
		attrs := map[string]*graph.Attr{"kernel_shape": nntInts(int64(s.k), int64(s.k)), "strides": nntInts(int64(s.stride), int64(s.stride)),
			"pads": nntInts(int64(s.pad), int64(s.pad), int64(s.pad), int64(s.pad)), "activation": graph.StringAttr("Relu")}
		flops := 2 * float64(s.m*s.c*s.k*s.k*oh*oh)
		for _, variant := range []string{"nchw", "nchwc"} {
			op, in := "FusedConv", []*tensor.Tensor{x, w, bias}
			if variant == "nchwc" {
				op, in = "NCHWcConv", []*tensor.Tensor{nchwcBlockedRef(x), w, bias}
			}
			if s.residualInput {
				if variant == "nchwc" {
					in = append(in, nchwcBlockedRef(z))
				} else {
					in = append(in, z)
				}
			}
			n := &graph.Node{OpType: op, Domain: FusedDomain, Attrs: attrs,
				Inputs:  []*graph.Value{{Name: "x"}, {Name: "w", Const: w}, {Name: "b", Const: bias}},
				Outputs: []*graph.Value{{Name: "y"}}}
			o, err := registry.Factory(FusedDomain, op)(n, runtime.NodeInfo{Opset: 13})
			if err != nil {
				b.Fatal(err)
			}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/threads=%d", s.name, variant, threads), func(b *testing.B) {
					benchOp(b, o, threads, in)
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestNCHWcGatherThreads runs strided 1x1 convolutions (whose input pixels
// nchwcGather copies into the scratch image first) split over 1 to 3
// threads with the work threshold lowered so that the gather and the
// convolution are cut into parts: batches, strides that differ per axis,
// one output row, and an end pad the kernel never reads.
func TestNCHWcGatherThreads(t *testing.T) {
	if !nchwcKernels() {
		t.Skip("no blocked kernels at this level")
	}
	minWork := convMinTaskWork
	defer func() { convMinTaskWork = minWork }()
	cases := []nntConvCase{
		{x: []int{3, 64, 28, 28}, w: []int{80, 64, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{14, 14}, bias: true},
		{x: []int{2, 48, 17, 23}, w: []int{64, 48, 1, 1}, strides: []int{3, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{6, 12}, bias: true},
		{x: []int{2, 48, 23, 17}, w: []int{64, 48, 1, 1}, strides: []int{1, 4}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{23, 5}},
		{x: []int{1, 32, 13, 13}, w: []int{32, 32, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{1, 1}, group: 1, wantOut: []int{7, 7}},
		{x: []int{1, 32, 1, 9}, w: []int{16, 32, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{1, 5}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, c := range cases {
		for _, mw := range []int{1, minWork} {
			for _, threads := range []int{1, 2, 3} {
				convMinTaskWork = mw
				x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
				var b *tensor.Tensor
				if c.bias {
					b = nntRandom(rng, c.w[0])
				}
				want := nntConvRef(&c, x, w, b)
				op := fusedOpFor(t, FusedDomain, "NCHWcConv", c.attrs(), nil)
				out, err := op.Run(runtime.NewContext(threads), []*tensor.Tensor{nchwcBlockedRef(x), w, b})
				if err != nil {
					t.Fatal(err)
				}
				t.Run(fmt.Sprintf("case%d/minwork=%d/threads=%d", i, mw, threads), func(t *testing.T) {
					nntClose(t, nchwcPlainRef(out[0], c.w[0]), append([]int{c.x[0], c.w[0]}, c.wantOut...), want, nntTol)
				})
			}
		}
	}
}
