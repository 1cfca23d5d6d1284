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

// needNarrow skips t where the narrow kernel does not run (below AVX2)
// and, with split, sets convMinTaskWork to 1 for t, so that every
// convolution is split among the threads.
func needNarrow(t *testing.T, split bool) {
	t.Helper()
	if !simdBuilt || CPULevel(level.Load()) < LevelAVX2 {
		t.Skip("no narrow kernel below AVX2")
	}
	if split {
		minWork := convMinTaskWork
		t.Cleanup(func() { convMinTaskWork = minWork })
		convMinTaskWork = 1
	}
}

// TestConvNarrow runs convolutions of 1 to 15 output channels (each way
// the narrow kernel groups them: fours, then 3 + 2 or 3 + 3) at the AVX2
// level and up against the direct definition: FusedConv with bias, a
// summand and each activation, and FusedConvPool with a 2x2/2 pool (the
// vector path and its masked last vector; with an end pad, the last row
// of windows clipped to one row; with a top pad) and a padded 3x3/2 one
// (the scalar path); strides, dilation (with strides too), asymmetric
// pads and a padded 1x1 convolution of fewer cells than a tile; one image
// on 1 to 3 threads (parts of its rows) and 3 images (runs of images).
func TestConvNarrow(t *testing.T) {
	needNarrow(t, true)
	type poolCase struct {
		k, s [2]int
		pads [4]int
	}
	shapes := []struct {
		conv  nntConvCase
		pools []poolCase
	}{
		{nntConvCase{x: []int{1, 1, 28, 28}, w: []int{0, 1, 5, 5}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{2, 2}, pe: []int{2, 2}, group: 1, wantOut: []int{28, 28}, bias: true},
			[]poolCase{{[2]int{2, 2}, [2]int{2, 2}, [4]int{}}, {[2]int{3, 3}, [2]int{2, 2}, [4]int{1, 1, 1, 1}}}},
		{nntConvCase{x: []int{3, 5, 13, 11}, w: []int{0, 5, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 0}, pe: []int{0, 1}, group: 1, wantOut: []int{6, 5}, bias: true},
			[]poolCase{{[2]int{2, 2}, [2]int{2, 2}, [4]int{}}}},
		{nntConvCase{x: []int{1, 4, 9, 37}, w: []int{0, 4, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 2}, pe: []int{2, 2}, group: 1, wantOut: []int{9, 37}},
			[]poolCase{{[2]int{2, 2}, [2]int{2, 2}, [4]int{0, 0, 1, 1}}}},
		{nntConvCase{x: []int{2, 3, 4, 5}, w: []int{0, 3, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{6, 7}, bias: true}, nil},
		{nntConvCase{x: []int{1, 7, 20, 41}, w: []int{0, 7, 7, 7}, strides: []int{2, 3}, dil: []int{1, 1}, pb: []int{3, 3}, pe: []int{3, 3}, group: 1, wantOut: []int{10, 14}},
			[]poolCase{{[2]int{3, 3}, [2]int{2, 2}, [4]int{1, 1, 1, 1}}}},
		{nntConvCase{x: []int{1, 3, 21, 40}, w: []int{0, 3, 3, 3}, strides: []int{2, 2}, dil: []int{2, 3}, pb: []int{2, 1}, pe: []int{1, 3}, group: 1, wantOut: []int{10, 19}, bias: true},
			[]poolCase{{[2]int{2, 2}, [2]int{2, 2}, [4]int{1, 0, 0, 0}}}},
	}
	rng := rand.New(rand.NewPCG(71, 72))
	for i, sh := range shapes {
		for _, m := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15} {
			c := sh.conv
			c.w = append([]int{m}, c.w[1:]...)
			x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
			var b *tensor.Tensor
			if c.bias {
				b = nntRandom(rng, m)
			}
			ref := nntConvRef(&c, x, w, b)
			shape := append([]int{c.x[0], m}, c.wantOut...)
			z := nntRandom(rng, shape...)
			for _, act := range []string{"", "Relu", "Clip"} {
				attrs := c.attrs()
				if act != "" {
					attrs["activation"] = graph.StringAttr(act)
					attrs["activation_params"] = graph.FloatsAttr(-0.5, 0.5)
				}
				want := make([]float64, len(ref))
				for k, v := range ref {
					want[k] = fusedActRef(act, v+float64(z.F32()[k]))
				}
				conv := fusedOpFor(t, FusedDomain, "FusedConv", attrs, w)
				var pools []runtime.Op
				for _, p := range sh.pools {
					pa := c.attrs()
					for k, v := range attrs {
						pa[k] = v
					}
					pa["pool_kernel_shape"] = nntInts(int64(p.k[0]), int64(p.k[1]))
					pa["pool_strides"] = nntInts(int64(p.s[0]), int64(p.s[1]))
					pa["pool_pads"] = nntInts(int64(p.pads[0]), int64(p.pads[1]), int64(p.pads[2]), int64(p.pads[3]))
					pools = append(pools, fusedOpFor(t, FusedDomain, "FusedConvPool", pa, w))
				}
				for _, threads := range []int{1, 2, 3} {
					name := fmt.Sprintf("shape %d M=%d act=%q threads=%d", i, m, act, threads)
					out, err := conv.Run(runtime.NewContext(threads), []*tensor.Tensor{x, w, b, z})
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					nntClose(t, out[0], shape, want, nntTol)
					for k, p := range sh.pools {
						pwant, pshape := convPoolRef(ref, c.x[0], m, c.wantOut[0], c.wantOut[1], act, p.k, p.s, p.pads)
						out, err := pools[k].Run(runtime.NewContext(threads), []*tensor.Tensor{x, w, b})
						if err != nil {
							t.Fatalf("%s pool %d: %v", name, k, err)
						}
						nntClose(t, out[0], pshape, pwant, nntTol)
					}
				}
			}
		}
	}
}

// TestConvNarrowRandomGeometries runs 400 random few-channel
// convolutions (kernels 1-5, strides and dilations 1-3, pads up to the
// kernel on each side, images 1x1 to 20x40, 1-9 input and 1-15 output
// channels, 1-3 images on 1-3 threads, bias or none), and where a max pool
// fits after it a FusedConvPool with a random window (1-3, strides 1-3,
// pads) and activation, against the direct definitions. Run with -asan and
// getF32 allocating exactly (no pooled, rounded-up capacity), it checks
// that the kernel stays within its scratch and tensors.
func TestConvNarrowRandomGeometries(t *testing.T) {
	needNarrow(t, true)
	rng := rand.New(rand.NewPCG(5, 9))
	n := 0
	for n < 400 {
		kh, kw := 1+rng.IntN(5), 1+rng.IntN(5)
		sh, sw := 1+rng.IntN(3), 1+rng.IntN(3)
		dh, dw := 1+rng.IntN(3), 1+rng.IntN(3)
		ih, iw := 1+rng.IntN(20), 1+rng.IntN(40)
		pt, pl, pb, pr := rng.IntN(kh), rng.IntN(kw), rng.IntN(kh), rng.IntN(kw)
		ekh, ekw := (kh-1)*dh+1, (kw-1)*dw+1
		oh, ow := (ih+pt+pb-ekh)/sh+1, (iw+pl+pr-ekw)/sw+1
		if ih+pt+pb < ekh || iw+pl+pr < ekw || oh < 1 || ow < 1 {
			continue
		}
		n++
		c := nntConvCase{x: []int{1 + rng.IntN(3), 1 + rng.IntN(9), ih, iw}, w: []int{1 + rng.IntN(15), 0, kh, kw},
			strides: []int{sh, sw}, dil: []int{dh, dw}, pb: []int{pt, pl}, pe: []int{pb, pr}, group: 1, wantOut: []int{oh, ow}, bias: rng.IntN(2) == 0}
		c.w[1] = c.x[1]
		x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
		var b *tensor.Tensor
		if c.bias {
			b = nntRandom(rng, c.w[0])
		}
		ref := nntConvRef(&c, x, w, b)
		shape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
		threads := 1 + rng.IntN(3)
		out, err := fusedOpFor(t, FusedDomain, "FusedConv", c.attrs(), w).Run(runtime.NewContext(threads), []*tensor.Tensor{x, w, b})
		if err != nil {
			t.Fatalf("%+v on %d threads: %v", c, threads, err)
		}
		t.Run(fmt.Sprintf("conv%d", n), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("case %+v on %d threads", c, threads)
				}
			}()
			nntClose(t, out[0], shape, ref, nntTol)
		})
		pk := [2]int{1 + rng.IntN(3), 1 + rng.IntN(3)}
		ps := [2]int{1 + rng.IntN(3), 1 + rng.IntN(3)}
		pp := [4]int{rng.IntN(pk[0]), rng.IntN(pk[1]), rng.IntN(pk[0]), rng.IntN(pk[1])}
		if oh+pp[0]+pp[2] < pk[0] || ow+pp[1]+pp[3] < pk[1] {
			continue
		}
		act := []string{"", "Relu", "Clip"}[rng.IntN(3)]
		pa := c.attrs()
		if act != "" {
			pa["activation"] = graph.StringAttr(act)
			pa["activation_params"] = graph.FloatsAttr(-0.5, 0.5)
		}
		pa["pool_kernel_shape"] = nntInts(int64(pk[0]), int64(pk[1]))
		pa["pool_strides"] = nntInts(int64(ps[0]), int64(ps[1]))
		pa["pool_pads"] = nntInts(int64(pp[0]), int64(pp[1]), int64(pp[2]), int64(pp[3]))
		pwant, pshape := convPoolRef(ref, c.x[0], c.w[0], oh, ow, act, pk, ps, pp)
		pout, err := fusedOpFor(t, FusedDomain, "FusedConvPool", pa, w).Run(runtime.NewContext(threads), []*tensor.Tensor{x, w, b})
		if err != nil {
			t.Fatalf("pool %+v %v %v %v: %v", c, pk, ps, pp, err)
		}
		t.Run(fmt.Sprintf("pool%d", n), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("case %+v, pool %v strides %v pads %v, %q, on %d threads", c, pk, ps, pp, act, threads)
				}
			}()
			nntClose(t, pout[0], pshape, pwant, nntTol)
		})
	}
}

// TestConvNarrowPoolSpecialValues: the narrow kernel's max pool treats
// NaN, +Inf and -Inf as the runtime's MaxPool does after FusedConv (the
// activation first; a NaN skipped; -inf for a window of padding only),
// on the 2x2/2 vector path (a window of NaN cells in it), padded 2x2 and
// 3x3 scalar ones and a pool whose left pad leaves a column of windows
// without cells, with Relu and without.
func TestConvNarrowPoolSpecialValues(t *testing.T) {
	needNarrow(t, false)
	rng := rand.New(rand.NewPCG(81, 82))
	x := nntRandom(rng, 1, 2, 9, 40)
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for i := range x.F32() {
		if rng.IntN(6) == 0 {
			x.F32()[i] = special[rng.IntN(3)]
		}
	}
	// The convolution picks every other pixel (1x1, strides 2: not a
	// pointwise one, which the GEMM runs); output channel 0 is input
	// channel 0 plus 0 times channel 1. A 2x2 window of NaN cells at
	// pooled (1, 1) of channel 0: input rows 4 and 6, columns 4 and 6.
	for _, at := range []int{4*40 + 4, 4*40 + 6, 6*40 + 4, 6*40 + 6} {
		x.F32()[at], x.F32()[9*40+at] = float32(math.NaN()), 1
	}
	w := tensor.MustNew(tensor.Float32, 3, 2, 1, 1)
	copy(w.F32(), []float32{1, 0, 0, 1, 1, 1})
	for _, act := range []string{"", "Relu"} {
		for _, p := range []struct{ k, s, pads []int64 }{
			{[]int64{2, 2}, []int64{2, 2}, []int64{0, 0, 0, 0}},
			{[]int64{2, 2}, []int64{2, 2}, []int64{1, 1, 1, 1}},
			{[]int64{3, 3}, []int64{1, 1}, []int64{0, 0, 0, 0}},
			{[]int64{2, 2}, []int64{2, 2}, []int64{0, 2, 0, 0}},
		} {
			conv := map[string]*graph.Attr{"kernel_shape": nntInts(1, 1), "strides": nntInts(2, 2)}
			if act != "" {
				conv["activation"] = graph.StringAttr(act)
			}
			fused := map[string]*graph.Attr{"pool_kernel_shape": nntInts(p.k...), "pool_strides": nntInts(p.s...), "pool_pads": nntInts(p.pads...)}
			for k, v := range conv {
				fused[k] = v
			}
			ctx := runtime.NewContext(1)
			c, err := fusedOpFor(t, FusedDomain, "FusedConv", conv, w).Run(ctx, []*tensor.Tensor{x, w})
			if err != nil {
				t.Fatal(err)
			}
			want, err := fusedOpFor(t, "", "MaxPool", map[string]*graph.Attr{"kernel_shape": nntInts(p.k...), "strides": nntInts(p.s...),
				"pads": nntInts(p.pads...)}, nil).Run(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fusedOpFor(t, FusedDomain, "FusedConvPool", fused, w).Run(ctx, []*tensor.Tensor{x, w})
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.SameShape(got[0].Shape(), want[0].Shape()) {
				t.Fatalf("%q pool %v: shape %v, want %v", act, p, got[0].Shape(), want[0].Shape())
			}
			for i, v := range want[0].F32() {
				g := got[0].F32()[i]
				if g != v && !(math.IsNaN(float64(g)) && math.IsNaN(float64(v))) {
					t.Fatalf("%q pool %v: element %d = %v, MaxPool after FusedConv gives %v", act, p, i, g, v)
				}
			}
		}
	}
}

// BenchmarkConvNarrow times convolutions with few output channels (LeNet-5's
// two and their channel-pruned forms, 12 and 8 channels of 3x3 over 16
// and 64) as FusedConv with Relu on the narrow kernel ("narrow", allowed
// up to 16 channels here so that LeNet-5's second convolution shows the
// limit), on the GEMM ("gemm", narrowMaxM 0) and as NCHWcConv of NCHW
// planes into the blocked layout ("blocked", which pads the channels to
// 16), at batch 1 and 64 on 2 threads.
func BenchmarkConvNarrow(b *testing.B) {
	shapes := []struct {
		name     string
		c, m     int
		k, pad   int64
		inH, inW int
	}{
		{"lenet5-conv1", 1, 6, 5, 2, 28, 28},
		{"lenet5-conv1-pruned", 1, 2, 5, 2, 28, 28},
		{"lenet5-conv2", 6, 16, 5, 0, 14, 14},
		{"lenet5-conv2-pruned", 2, 6, 5, 0, 14, 14},
		{"c16-m12-3x3", 16, 12, 3, 1, 14, 14},
		{"c64-m8-3x3", 64, 8, 3, 1, 28, 28},
		{"c8-m8-1x1", 8, 8, 1, 0, 28, 28},
		{"c64-m8-1x1", 64, 8, 1, 0, 28, 28},
		{"c512-m15-1x1", 512, 15, 1, 0, 14, 14},
	}
	maxM := narrowMaxM
	defer func() { narrowMaxM = maxM }()
	for _, sh := range shapes {
		for _, batch := range []int{1, 64} {
			rng := rand.New(rand.NewPCG(1, 2))
			x, w, bias := nntRandom(rng, batch, sh.c, sh.inH, sh.inW), nntRandom(rng, sh.m, sh.c, int(sh.k), int(sh.k)), nntRandom(rng, sh.m)
			attrs := map[string]*graph.Attr{"kernel_shape": nntInts(sh.k, sh.k), "pads": nntInts(sh.pad, sh.pad, sh.pad, sh.pad),
				"activation": graph.StringAttr("Relu")}
			node := func(op string) runtime.Op {
				n := &graph.Node{OpType: op, Domain: FusedDomain, Attrs: attrs,
					Inputs:  []*graph.Value{{Name: "x"}, {Name: "w", Const: w}, {Name: "b", Const: bias}},
					Outputs: []*graph.Value{{Name: "y"}}}
				o, err := registry.Factory(FusedDomain, op)(n, runtime.NodeInfo{Opset: 13})
				if err != nil {
					b.Fatal(err)
				}
				return o
			}
			in := []*tensor.Tensor{x, w, bias}
			fused, blocked := node("FusedConv"), node("NCHWcConv")
			for _, path := range []string{"narrow", "gemm", "blocked"} {
				b.Run(fmt.Sprintf("%s/batch=%d/%s", sh.name, batch, path), func(b *testing.B) {
					op := fused
					switch path {
					case "narrow":
						narrowMaxM = 16
					case "gemm":
						narrowMaxM = 0
					case "blocked":
						op = blocked
					}
					benchOp(b, op, 2, in)
					narrowMaxM = maxM
				})
			}
		}
	}
}
