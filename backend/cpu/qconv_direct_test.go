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

// TestQConvDirectMatchesReference: the direct INT8 convolution kernel,
// called through its plan, equals the reference convolution on widened
// values (int32 mode) and the reference requantization (uint8 and int8
// modes), bit for bit, over the geometries its tiling has to get right:
// LeNet-5's two convolutions, kernel widths 1 to 9 (tap groups that
// overlap, kw < 4 reading a padded copy), strides, dilations up to the
// widest one a 64-byte window takes, asymmetric pads, output rows narrower
// than a tile (tiles spanning rows), wide rows, 1 to 40 output channels
// (every block width, several blocks), groups, uint8 and int8 images,
// batch 1 (tiles split over two threads) and batch 3.
func TestQConvDirectMatchesReference(t *testing.T) {
	if !qconvDirectCPU {
		t.Skip("no AVX-512 VBMI: the direct INT8 convolution is not used on this CPU")
	}
	withParallelism(t)
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	if _, err := SetCPULevel(LevelAVX512VNNI); err != nil {
		t.Skip(err)
	}
	type cs struct {
		x, w    []int // N C H W, M C/group KH KW
		group   int
		strides []int
		pads    []int // top, left, bottom, right
		dil     []int
		s8      bool
	}
	cases := []cs{
		{x: []int{1, 1, 28, 28}, w: []int{6, 1, 5, 5}, pads: []int{2, 2, 2, 2}}, // LeNet-5 conv1
		{x: []int{3, 6, 14, 14}, w: []int{16, 6, 5, 5}},                         // LeNet-5 conv2 (in place)
		{x: []int{2, 3, 9, 11}, w: []int{7, 3, 1, 1}},                           // 1x1: padded copy with slack
		{x: []int{1, 4, 13, 17}, w: []int{9, 4, 3, 3}, pads: []int{1, 1, 1, 1}}, // 3x3
		{x: []int{1, 2, 12, 12}, w: []int{5, 2, 4, 4}},                          // kw = 4, in place
		{x: []int{2, 3, 31, 29}, w: []int{17, 3, 7, 7}, strides: []int{2, 2}, pads: []int{3, 3, 3, 3}},
		{x: []int{1, 2, 10, 40}, w: []int{3, 2, 2, 9}, strides: []int{1, 3}, pads: []int{0, 4, 1, 0}},
		{x: []int{1, 3, 20, 20}, w: []int{12, 3, 5, 5}, dil: []int{2, 3}, pads: []int{0, 1, 2, 3}},
		{x: []int{1, 1, 9, 80}, w: []int{4, 1, 3, 4}, dil: []int{1, 21}},     // widest dilation
		{x: []int{1, 5, 8, 6}, w: []int{40, 5, 5, 5}},                        // ow 2: tiles span 8 rows; 3 blocks
		{x: []int{1, 2, 7, 70}, w: []int{33, 2, 3, 6}, strides: []int{2, 1}}, // wide rows
		{x: []int{3, 6, 9, 9}, w: []int{9, 2, 3, 5}, group: 3, pads: []int{1, 2, 1, 2}},
		{x: []int{2, 4, 12, 12}, w: []int{11, 4, 5, 5}, pads: []int{2, 2, 2, 2}, s8: true},
		{x: []int{1, 8, 15, 15}, w: []int{24, 8, 3, 3}, pads: []int{1, 1, 1, 1}, s8: true},
	}
	for m := 1; m <= 16; m++ { // every block width
		cases = append(cases, cs{x: []int{1, 2, 9, 10}, w: []int{m, 2, 5, 5}, pads: []int{2, 2, 2, 2}, s8: m%2 == 0})
	}
	rng := rand.New(rand.NewPCG(71, 72))
	for i, c := range cases {
		c.group = max(c.group, 1)
		if c.strides == nil {
			c.strides = []int{1, 1}
		}
		if c.pads == nil {
			c.pads = []int{0, 0, 0, 0}
		}
		if c.dil == nil {
			c.dil = []int{1, 1}
		}
		win := graph.Window{Kernel: c.w[2:], Strides: c.strides, Dilations: c.dil, Pads: c.pads}
		g, err := newConvGeom(win, c.group, c.x, c.w, false, nil, nil)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		x, w := qRandom(rng, !c.s8, c.x...), qRandom(rng, false, c.w...)
		zx := int32(rng.IntN(256))
		xzp := tensor.FromSlice([]int{}, []uint8{uint8(zx)})
		if c.s8 {
			zx -= 128
			xzp = tensor.FromSlice([]int{}, []int8{int8(zx)})
		}
		bias := make([]int32, g.m)
		for j := range bias {
			bias[j] = int32(rng.IntN(20000) - 10000)
		}
		x32, _ := quantSubZP(x, xzp, -1, "x")
		w32, _ := quantSubZP(w, nil, 0, "w")
		want := make([]int32, g.batch*g.m*g.outSize)
		convForward(runtime.NewContext(1), g, x32, w32, bias, want)

		xb, wb, xU8, _, _, ok := convIntOperands(x, w, xzp, nil)
		if !ok {
			t.Fatalf("case %d: operands refused", i)
		}
		p := newQconvPlan(qconvKeyOf(g, !xU8), wb)
		if p == nil {
			t.Fatalf("case %d (%v * %v): the direct kernel refused it", i, c.x, c.w)
		}
		mult := make([]float64, g.m)
		for j := range mult {
			mult[j] = 1 / float64(16+rng.IntN(2000))
		}
		for _, u8 := range []bool{true, false} {
			y := tensor.MustNew(tensor.Int8, g.outShape(2)...)
			if u8 {
				y = tensor.MustNew(tensor.Uint8, g.outShape(2)...)
			}
			zy := float64(rng.IntN(100))
			wantY := y.Clone()
			requantize(wantY, want, func(i int) (float64, float64) { return mult[i/g.outSize%g.m], zy })
			for threads := 1; threads <= 2; threads++ {
				ctx := runtime.NewContext(threads)
				name := fmt.Sprintf("case %d (%v * %v) threads=%d", i, c.x, c.w, threads)
				got := make([]int32, len(want))
				if !p.run(ctx, g, xb, zx, bias, qconvOut{acc: got}) {
					t.Fatalf("%s: run refused", name)
				}
				for j := range want {
					if got[j] != want[j] {
						t.Fatalf("%s: acc[%d] = %d, want %d", name, j, got[j], want[j])
					}
				}
				yb, _, _ := int8Bytes(y)
				out := qconvOut{y: yb, u8: u8, mult: mult, zp: zy, lo: math.MinInt8, hi: math.MaxInt8}
				if u8 {
					out.lo, out.hi = 0, math.MaxUint8
				}
				if !p.run(ctx, g, xb, zx, bias, out) {
					t.Fatalf("%s: requantizing run refused", name)
				}
				sameTensor(t, name+fmt.Sprintf(" requantized u8=%v", u8), y, wantY)
			}
		}
	}
	// The op leaves 1x1 kernels and many output channels to the INT8 GEMM.
	for _, w := range [][]int{{8, 4, 1, 1}, {8, 4, 2, 2}, {160, 4, 3, 3}} {
		g, err := newConvGeom(graph.Window{Kernel: w[2:], Strides: []int{1, 1}, Dilations: []int{1, 1}, Pads: []int{0, 0, 0, 0}},
			1, []int{1, 4, 9, 9}, w, false, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if (&convIntOp{}).directPlan(g, nil, make([]byte, tensor.Product(w)), true, false) != nil {
			t.Errorf("weights %v: the direct kernel was chosen over the INT8 GEMM", w)
		}
	}
	// A dilation whose four taps span more than 64 bytes is refused.
	key := qconvKey{cg: 1, mg: 1, group: 1, ih: 3, iw: 90, oh: 3, ow: 1, kh: 1, kw: 4, sh: 1, sw: 1, dh: 1, dw: 22}
	if newQconvPlan(key, make([]byte, 4)) != nil {
		t.Fatal("dilation 22 accepted: four taps span 67 bytes, more than one load")
	}
}

// BenchmarkQLinearConv times QLinearConv (uint8 x int8, constant weights,
// batch 1, one thread) with the INT8 GEMM path at the CPU's best level and,
// where the CPU has AVX-512 VNNI and VBMI, with the direct kernel (without
// VNNI, with weights halved into 7 bits too: the byte kernel), on
// LeNet-5's and ResNet-50's convolution shapes; GOP/s counts 2 per
// multiply-add.
//
//	go test ./backend/cpu -run '^$' -bench QLinearConv
func BenchmarkQLinearConv(b *testing.B) {
	kernels := []bool{false}
	if qconvDirectCPU {
		prev, _ := ActiveCPULevel()
		defer SetCPULevel(prev)
		if _, err := SetCPULevel(LevelAVX512VNNI); err == nil {
			kernels = []bool{true, false}
		}
	}
	rng := rand.New(rand.NewPCG(81, 82))
	for _, c := range []struct {
		name   string
		x, w   []int
		stride int64
		pad    int64
	}{
		{"lenet5-conv1", []int{1, 1, 28, 28}, []int{6, 1, 5, 5}, 1, 2},
		{"lenet5-conv2", []int{1, 6, 14, 14}, []int{16, 6, 5, 5}, 1, 0},
		{"resnet-stem-7x7s2", []int{1, 3, 224, 224}, []int{64, 3, 7, 7}, 2, 3},
		{"resnet-3x3-64", []int{1, 64, 56, 56}, []int{64, 64, 3, 3}, 1, 1},
		{"resnet-3x3-128", []int{1, 128, 28, 28}, []int{128, 128, 3, 3}, 1, 1},
		{"resnet-3x3-256", []int{1, 256, 14, 14}, []int{256, 256, 3, 3}, 1, 1},
		{"resnet-3x3-512", []int{1, 512, 7, 7}, []int{512, 512, 3, 3}, 1, 1},
		{"resnet-3x3s2-128", []int{1, 128, 56, 56}, []int{128, 128, 3, 3}, 2, 1},
		{"resnet-1x1-64-256", []int{1, 64, 56, 56}, []int{256, 64, 1, 1}, 1, 0},
		{"resnet-1x1-256-64", []int{1, 256, 56, 56}, []int{64, 256, 1, 1}, 1, 0},
	} {
		attrs := map[string]*graph.Attr{"strides": graph.IntsAttr(c.stride, c.stride), "pads": graph.IntsAttr(c.pad, c.pad, c.pad, c.pad)}
		x, w := qRandom(rng, true, c.x...), qRandom(rng, false, c.w...)
		in := []*tensor.Tensor{x, qScale(rng, 0), qRandom(rng, true), w, qScale(rng, c.w[0]), tensor.FromSlice([]int{}, []int8{0}),
			qScale(rng, 0), qRandom(rng, true)}
		oh := (c.x[2]+2*int(c.pad)-c.w[2])/int(c.stride) + 1
		ow := (c.x[3]+2*int(c.pad)-c.w[3])/int(c.stride) + 1
		ops := 2 * float64(c.w[0]*c.w[1]*c.w[2]*c.w[3]*oh*ow)
		for _, direct := range kernels {
			name := c.name + "/gemm"
			if direct {
				name = c.name + "/direct"
			}
			b.Run(name, func(b *testing.B) {
				qconvDirectUse = qconvNever
				if direct {
					qconvDirectUse = qconvAlways
				}
				defer func() { qconvDirectUse = qconvAuto }()
				op := qOp(b, "QLinearConv", attrs, in, 3)
				benchOp(b, op, 1, in)
				b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
			})
		}
		if igemmISA() != igemmAVX2 {
			continue
		}
		// 7-bit weights (quantize --reduce-range): the byte kernel
		w7 := make([]int8, w.Len())
		for i, v := range tensor.Data[int8](w) {
			w7[i] = v / 2
		}
		in7 := append([]*tensor.Tensor(nil), in...)
		in7[3] = tensor.FromSlice(c.w, w7)
		b.Run(c.name+"/gemm-7bit", func(b *testing.B) {
			op := qOp(b, "QLinearConv", attrs, in7, 3)
			benchOp(b, op, 1, in7)
			b.ReportMetric(ops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
		})
	}
}

// qconvGemmShape is a 2-D convolution for the INT8 GEMM path's tests.
type qconvGemmShape struct {
	x, w               []int
	group, stride, pad int
}

// qconvGemmShapes: 1x1 with one k block and with two (k = 600), an im2col
// 3x3 stride-2 convolution, stride-1 3x3 ones in the Toeplitz form (7x7:
// padded rows of 9 cut vectors of 16 into pieces; 64 channels: two k
// blocks), groups and a batch.
var qconvGemmShapes = []qconvGemmShape{
	{[]int{2, 64, 9, 11}, []int{40, 64, 1, 1}, 1, 1, 0},
	{[]int{1, 600, 5, 7}, []int{24, 600, 1, 1}, 1, 1, 0},
	{[]int{1, 64, 13, 12}, []int{20, 64, 3, 3}, 1, 2, 1},
	{[]int{2, 32, 8, 8}, []int{16, 16, 1, 1}, 2, 1, 0},
	{[]int{1, 64, 7, 7}, []int{24, 64, 3, 3}, 1, 1, 1},
	{[]int{1, 16, 14, 14}, []int{8, 16, 3, 3}, 1, 1, 1},
}

func (c qconvGemmShape) attrs() map[string]*graph.Attr {
	s, p := int64(c.stride), int64(c.pad)
	return map[string]*graph.Attr{"group": graph.IntAttr(int64(c.group)), "strides": graph.IntsAttr(s, s), "pads": graph.IntsAttr(p, p, p, p)}
}

func (c qconvGemmShape) convOp() convOp {
	return convOp{win: graph.Window{Kernel: c.w[2:], Strides: []int{c.stride, c.stride},
		Pads: []int{c.pad, c.pad, c.pad, c.pad}, Dilations: []int{1, 1}}, group: c.group}
}

// TestQLinearConvGemmRequant: QLinearConv through the INT8 GEMM (the
// direct kernel off) equals the generic level's result bit for bit at
// every level and thread count in qconvGemmShapes (with two k blocks the
// epilogue adds the earlier block's partial sums), uint8 and int8 images;
// where the kernel
// requantizes in its epilogue, requantInKernel must take each case (with
// the direct kernel off, through the GEMM). Weights in [-64, 64] (what
// quantize --reduce-range writes) take the AVX2 byte kernel at the AVX2
// level, full-range ones the int16 kernel.
func TestQLinearConvGemmRequant(t *testing.T) {
	withParallelism(t)
	qconvDirectUse = qconvNever
	defer func() { qconvDirectUse = qconvAuto }()
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	rng := rand.New(rand.NewPCG(91, 92))
	for _, c := range qconvGemmShapes {
		for _, v := range []struct{ u8, narrow bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
			u8 := v.u8
			attrs := c.attrs()
			x, w := qRandom(rng, u8, c.x...), qRandom(rng, false, c.w...)
			if v.narrow {
				wv := tensor.Data[int8](w)
				for i := range wv {
					wv[i] = int8(int(wv[i]) * igemmBytesLimit / 128)
				}
				wv[0] = -igemmBytesLimit
			}
			bias := make([]int32, c.w[0])
			for i := range bias {
				bias[i] = int32(rng.IntN(4000) - 2000)
			}
			// an output scale that saturates some values at both ends
			in := []*tensor.Tensor{x, tensor.Scalar(float32(0.02)), qRandom(rng, u8), w, qScale(rng, c.w[0]), tensor.FromSlice([]int{}, []int8{0}),
				tensor.Scalar(float32(0.05)), qRandom(rng, u8), tensor.FromSlice([]int{c.w[0]}, bias)}
			if _, err := SetCPULevel(LevelGeneric); err != nil {
				t.Fatal(err)
			}
			want, err := qOp(t, "QLinearConv", attrs, in, -1).Run(runtime.NewContext(1), in)
			if err != nil {
				t.Fatal(err)
			}
			forEachLevel(t, func(t *testing.T, _ CPULevel) {
				for _, threads := range []int{1, 2} {
					got, err := qOp(t, "QLinearConv", attrs, in, 3).Run(runtime.NewContext(threads), in)
					if err != nil {
						t.Fatal(err)
					}
					sameTensor(t, fmt.Sprintf("%v u8=%v narrow=%v threads %d", c.x, u8, v.narrow, threads), got[0], want[0])
				}
				if kern := igemmISA(); kern == nil || !kern.requant {
					return
				}
				// the epilogue path itself
				op := &convIntOp{conv: c.convOp(), linear: true}
				g, err := newConvGeom(op.conv.win, op.conv.group, x.Shape(), w.Shape(), false, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				prm, err := op.params(in, g.m)
				if err != nil {
					t.Fatal(err)
				}
				y := tensor.MustNew(want[0].DType(), want[0].Shape()...)
				yb, _, _ := int8Bytes(y)
				for i := range yb {
					yb[i] = 0xA5 // an element left unwritten shows
				}
				if !op.requantInKernel(runtime.NewContext(2), in, g, prm.bias, y, prm.mult, prm.zy[0]) {
					t.Fatalf("%v narrow=%v: requantInKernel did not apply", c.x, v.narrow)
				}
				sameTensor(t, fmt.Sprintf("%v u8=%v narrow=%v requantInKernel", c.x, u8, v.narrow), y, want[0])
			})
		}
	}
}

// TestConvIntegerBytesKernel: at the AVX2 level, a constant int8 weight
// within [-64, 64] is packed for the byte kernel (vpmaddubsw), and every
// convolution equals the generic reference
// bit for bit, with images of mostly 255 (and int8 images of mostly 127,
// flipped to 255), so that pairs of products reach 2*255*64 = 32640, next
// to vpmaddubsw's saturation; weights reaching 65 keep the int16 kernel.
func TestConvIntegerBytesKernel(t *testing.T) {
	withParallelism(t)
	if igemmAVX2Bytes == nil {
		t.Skip("no SIMD kernels in this build")
	}
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	rng := rand.New(rand.NewPCG(93, 94))
	for _, c := range qconvGemmShapes {
		for _, u8 := range []bool{true, false} {
			for _, limit := range []int{igemmBytesLimit, igemmBytesLimit + 1} {
				name := fmt.Sprintf("%v u8=%v limit %d", c.x, u8, limit)
				x := nearlySaturated(rng, qRandom(rng, u8, c.x...))
				w := pairedWeights(rng, limit, 1, c.w...) // K is contiguous
				in := []*tensor.Tensor{x, w, qRandom(rng, u8), tensor.FromSlice([]int{}, []int8{0})}
				attrs := c.attrs()
				if _, err := SetCPULevel(LevelGeneric); err != nil {
					t.Fatal(err)
				}
				want, err := qOp(t, "ConvInteger", attrs, in, -1).Run(runtime.NewContext(1), in)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := SetCPULevel(LevelAVX2); err != nil {
					t.Skip(err)
				}
				op := &convIntOp{conv: c.convOp(), constW: w}
				g, err := newConvGeom(op.conv.win, op.conv.group, x.Shape(), w.Shape(), false, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, threads := range []int{1, 2} {
					acc := make([]int32, tensor.Product(want[0].Shape()))
					if !op.convIntFast(runtime.NewContext(threads), g, x, w, in[2], in[3], nil, acc) {
						t.Fatalf("%s: the INT8 GEMM path did not run", name)
					}
					sameTensor(t, fmt.Sprintf("%s threads %d", name, threads), tensor.FromSlice(want[0].Shape(), acc), want[0])
				}
				if bytes := op.packed.key.kern == igemmAVX2Bytes; bytes != (limit == igemmBytesLimit) {
					t.Errorf("%s: packed for %s", name, op.packed.key.kern.name)
				}
			}
		}
	}
}
