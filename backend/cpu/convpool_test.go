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

// convPoolRef is MaxPool(act(conv)) in float64: conv is [n, m, oh, ow]
// (nntConvRef's layout), k, s and pads ([top, left, bottom, right]) the
// pool's window.
func convPoolRef(conv []float64, n, m, oh, ow int, act string, k, s [2]int, pads [4]int) ([]float64, []int) {
	ph := (oh+pads[0]+pads[2]-k[0])/s[0] + 1
	pw := (ow+pads[1]+pads[3]-k[1])/s[1] + 1
	out := make([]float64, n*m*ph*pw)
	for plane := range n * m {
		src := conv[plane*oh*ow:]
		for py := range ph {
			for px := range pw {
				best := math.Inf(-1)
				for dy := range k[0] {
					for dx := range k[1] {
						iy, ix := py*s[0]-pads[0]+dy, px*s[1]-pads[1]+dx
						if iy < 0 || iy >= oh || ix < 0 || ix >= ow {
							continue
						}
						best = math.Max(best, fusedActRef(act, src[iy*ow+ix]))
					}
				}
				out[(plane*ph+py)*pw+px] = best
			}
		}
	}
	return out, []int{n, m, ph, pw}
}

// TestFusedConvPoolMatchesReference: the banded convolution + max pool
// equals the float64 reference of the unfused pair on stems (3x3/2 and
// 7x7/2 convolutions of 3 channels before 3x3/2 pools, with and without
// pool padding), stride-1 convolutions before 2x2/2 pools, asymmetric
// pool pads, groups, batch 2 and every activation, with the bands left to
// the cache rule (a convolution of 12 channels then runs on the narrow
// kernel) and forced down to 1, 2 and 3 pooled rows, on 1 and 2 threads,
// weights constant (packed once) or not.
func TestFusedConvPoolMatchesReference(t *testing.T) {
	type poolCase struct {
		conv nntConvCase
		k, s [2]int
		pads [4]int
	}
	cases := []poolCase{
		{nntConvCase{x: []int{1, 3, 33, 31}, w: []int{16, 3, 3, 3}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{16, 15}, bias: true},
			[2]int{3, 3}, [2]int{2, 2}, [4]int{}},
		{nntConvCase{x: []int{1, 3, 40, 37}, w: []int{64, 3, 7, 7}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{3, 3}, pe: []int{3, 3}, group: 1, wantOut: []int{20, 19}, bias: true},
			[2]int{3, 3}, [2]int{2, 2}, [4]int{1, 1, 1, 1}},
		{nntConvCase{x: []int{2, 8, 18, 20}, w: []int{12, 8, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{18, 20}},
			[2]int{2, 2}, [2]int{2, 2}, [4]int{}},
		{nntConvCase{x: []int{1, 6, 23, 17}, w: []int{10, 3, 3, 3}, strides: []int{1, 2}, dil: []int{1, 1}, pb: []int{1, 0}, pe: []int{0, 1}, group: 2, wantOut: []int{22, 8}, bias: true},
			[2]int{3, 2}, [2]int{2, 1}, [4]int{0, 0, 1, 1}},
		{nntConvCase{x: []int{1, 4, 29, 29}, w: []int{70, 4, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 2}, pe: []int{2, 2}, group: 1, wantOut: []int{29, 29}, bias: true},
			[2]int{3, 3}, [2]int{3, 3}, [4]int{1, 1, 1, 1}},
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for i, c := range cases {
		x, w := nntRandom(rng, c.conv.x...), nntRandom(rng, c.conv.w...)
		in := []*tensor.Tensor{x, w}
		var b *tensor.Tensor
		if c.conv.bias {
			b = nntRandom(rng, c.conv.w[0])
			in = append(in, b)
		}
		conv := nntConvRef(&c.conv, x, w, b)
		for _, act := range []string{"", "Relu", "Clip"} {
			want, shape := convPoolRef(conv, c.conv.x[0], c.conv.w[0], c.conv.wantOut[0], c.conv.wantOut[1], act, c.k, c.s, c.pads)
			attrs := c.conv.attrs()
			if act != "" {
				attrs["activation"] = graph.StringAttr(act)
				attrs["activation_params"] = graph.FloatsAttr(-0.5, 0.5)
			}
			attrs["pool_kernel_shape"] = nntInts(int64(c.k[0]), int64(c.k[1]))
			attrs["pool_strides"] = nntInts(int64(c.s[0]), int64(c.s[1]))
			attrs["pool_pads"] = nntInts(int64(c.pads[0]), int64(c.pads[1]), int64(c.pads[2]), int64(c.pads[3]))
			for _, constW := range []bool{false, true} {
				var cw *tensor.Tensor
				if constW {
					cw = w
				}
				op := fusedOpFor(t, FusedDomain, "FusedConvPool", attrs, cw)
				for _, band := range []int{0, 1, 2, 3} {
					for _, threads := range []int{1, 2} {
						t.Run(fmt.Sprintf("case%d/%q/const=%v/band=%d/threads=%d", i, act, constW, band, threads), func(t *testing.T) {
							convPoolBandForce = band
							maxM := narrowMaxM
							if band > 0 {
								narrowMaxM = 0 // forced bands: the few-channel cases banded too
							}
							defer func() { convPoolBandForce, narrowMaxM = 0, maxM }()
							out, err := op.Run(runtime.NewContext(threads), in)
							if err != nil {
								t.Fatal(err)
							}
							nntClose(t, out[0], shape, want, nntTol)
						})
					}
				}
			}
		}
	}
}

// TestFusedConvPoolBandRule: bands hold whole numbers of pooled rows,
// keep their convolution rows within half of L2 where a single row fits,
// give every thread work on one image, and are at least convPoolMinBand
// rows when the cache allows it.
func TestFusedConvPoolBandRule(t *testing.T) {
	l2 := cpuCaches.l2
	for _, c := range []struct{ rowFloats, ph, k, s, batch, threads int }{
		{64 * 111, 55, 3, 2, 1, 2}, // SqueezeNet 1.1 stem
		{64 * 112, 56, 3, 2, 1, 2}, // ResNet-50 stem
		{64 * 112, 56, 3, 2, 4, 2},
		{24 * 112, 56, 3, 2, 1, 16},
		{256 * 56, 28, 3, 2, 1, 1},
		{1 << 20, 10, 3, 2, 1, 2}, // a row larger than L2: one pooled row per band
	} {
		rows := convPoolBand(c.rowFloats, c.ph, c.k, c.s, c.batch, c.threads)
		bands := (c.ph + rows - 1) / rows
		convRows := (rows-1)*c.s + c.k
		fits := convRows*c.rowFloats*4 <= l2/2
		switch {
		case rows < 1 || rows > c.ph:
			t.Errorf("%+v: %d rows per band", c, rows)
		case !fits && rows > 1:
			t.Errorf("%+v: %d rows per band need %d conv rows of %d floats, over half of L2 (%d bytes)", c, rows, convRows, c.rowFloats, l2)
		case c.batch*bands < c.threads && rows > convPoolMinBand:
			t.Errorf("%+v: %d bands of %d rows leave threads idle", c, bands, rows)
		case rows < convPoolMinBand && rows < c.ph && (convPoolMinBand-1)*c.s+c.k <= (l2/2)/(4*c.rowFloats):
			t.Errorf("%+v: %d rows per band, below %d although they fit", c, rows, convPoolMinBand)
		}
	}
}

// BenchmarkConvPool times the stems of SqueezeNet 1.1 (3x3/2, 64
// channels, 224x224, then MaxPool 3x3/2) and ResNet-50 (7x7/2 with pads
// 3, then MaxPool 3x3/2 pads 1) as FusedConvPool ("fused") and as
// FusedConv then MaxPool ("unfused"), with Relu, on 1 and 2 threads.
func BenchmarkConvPool(b *testing.B) {
	stems := []struct {
		name      string
		k, s, p   int64
		poolP     int64
		cin, cout int
		inH, inW  int
	}{
		{"squeezenet", 3, 2, 0, 0, 3, 64, 224, 224},
		{"resnet50", 7, 2, 3, 1, 3, 64, 224, 224},
	}
	for _, st := range stems {
		rng := rand.New(rand.NewPCG(1, 2))
		x, w, bias := nntRandom(rng, 1, st.cin, st.inH, st.inW), nntRandom(rng, st.cout, st.cin, int(st.k), int(st.k)), nntRandom(rng, st.cout)
		convAttrs := func() map[string]*graph.Attr {
			return map[string]*graph.Attr{"kernel_shape": nntInts(st.k, st.k), "strides": nntInts(st.s, st.s),
				"pads": nntInts(st.p, st.p, st.p, st.p), "activation": graph.StringAttr("Relu")}
		}
		fusedAttrs := convAttrs()
		fusedAttrs["pool_kernel_shape"], fusedAttrs["pool_strides"] = nntInts(3, 3), nntInts(2, 2)
		fusedAttrs["pool_pads"] = nntInts(st.poolP, st.poolP, st.poolP, st.poolP)
		node := func(domain, op string, attrs map[string]*graph.Attr) runtime.Op {
			n := &graph.Node{OpType: op, Domain: domain, Attrs: attrs,
				Inputs:  []*graph.Value{{Name: "x"}, {Name: "w", Const: w}, {Name: "b", Const: bias}},
				Outputs: []*graph.Value{{Name: "y"}}}
			o, err := registry.Factory(domain, op)(n, runtime.NodeInfo{Opset: 13})
			if err != nil {
				b.Fatal(err)
			}
			return o
		}
		fused := node(FusedDomain, "FusedConvPool", fusedAttrs)
		conv := node(FusedDomain, "FusedConv", convAttrs())
		pool := node("", "MaxPool", map[string]*graph.Attr{"kernel_shape": nntInts(3, 3), "strides": nntInts(2, 2),
			"pads": nntInts(st.poolP, st.poolP, st.poolP, st.poolP)})
		in := []*tensor.Tensor{x, w, bias}
		for _, threads := range []int{1, 2} {
			arena := runtime.NewArena()
			ctx := runtime.NewArenaContext(threads, arena)
			step := func(op runtime.Op, in []*tensor.Tensor) *tensor.Tensor {
				out, err := op.Run(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				ctx.EndOp(out)
				return out[0]
			}
			b.Run(fmt.Sprintf("%s/fused/threads=%d", st.name, threads), func(b *testing.B) {
				for b.Loop() {
					arena.Release(step(fused, in))
				}
			})
			b.Run(fmt.Sprintf("%s/unfused/threads=%d", st.name, threads), func(b *testing.B) {
				for b.Loop() {
					c := step(conv, in)
					arena.Release(step(pool, []*tensor.Tensor{c}))
					arena.Release(c)
				}
			})
		}
	}
}
