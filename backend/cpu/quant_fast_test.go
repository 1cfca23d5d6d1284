package cpu

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// qRandom returns a random uint8 or int8 tensor.
func qRandom(rng *rand.Rand, u8 bool, shape ...int) *tensor.Tensor {
	n := tensor.Product(shape)
	if u8 {
		v := make([]uint8, n)
		for i := range v {
			v[i] = uint8(rng.IntN(256))
		}
		return tensor.FromSlice(shape, v)
	}
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(rng.IntN(256) - 128)
	}
	return tensor.FromSlice(shape, v)
}

func qScale(rng *rand.Rand, n int) *tensor.Tensor {
	v := make([]float32, n)
	for i := range v {
		v[i] = 0.001 + 0.02*rng.Float32()
	}
	if n == 0 {
		return tensor.FromSlice([]int{}, []float32{0.01})
	}
	return tensor.FromSlice([]int{n}, v)
}

// qOp prepares op with the constant input constIdx (-1: none) marked as an
// initializer holding constT.
// allButFirst as qOp's constIdx makes every input but the first an
// initializer (QGemm's prepared path).
const allButFirst = -2

// qNode is the node qOp prepares.
func qNode(op string, attrs map[string]*graph.Attr, in []*tensor.Tensor, constIdx int) *graph.Node {
	domain := "" // "com.microsoft:QGemm" names an op outside the default domain
	if d, name, ok := strings.Cut(op, ":"); ok {
		domain, op = d, name
	}
	n := &graph.Node{OpType: op, Domain: domain, Attrs: attrs, Outputs: []*graph.Value{{Name: "y"}}}
	for i := range in {
		v := &graph.Value{Name: fmt.Sprint("in", i)}
		if i == constIdx || constIdx == allButFirst && i > 0 {
			v.Const = in[i]
		}
		n.Inputs = append(n.Inputs, v)
	}
	return n
}

// qOp prepares op with inputs like in: constIdx names the one input that
// is an initializer (-1: none; allButFirst: every input but the first).
func qOp(t testing.TB, op string, attrs map[string]*graph.Attr, in []*tensor.Tensor, constIdx int) runtime.Op {
	t.Helper()
	n := qNode(op, attrs, in, constIdx)
	o, err := registry.Factory(n.Domain, n.OpType)(n, runtime.NodeInfo{Opset: 21})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// sameTensor requires identical dtype, shape and bits.
func sameTensor(t *testing.T, name string, got, want *tensor.Tensor) {
	t.Helper()
	if got.DType() != want.DType() || !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: got %v, want %v", name, got, want)
	}
	for i := 0; i < got.Len(); i++ {
		if got.Float64At(i) != want.Float64At(i) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, got.Float64At(i), want.Float64At(i))
		}
	}
}

// checkLevels runs op on in at the generic level (the reference) and at
// every other level, prepared three times (no initializer, constIdx's
// input one, every input but the first one), and requires bit-identical
// outputs.
func checkLevels(t *testing.T, name, op string, attrs map[string]*graph.Attr, in []*tensor.Tensor, constIdx int) {
	t.Helper()
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	SetCPULevel(LevelGeneric)
	want, err := qOp(t, op, attrs, in, -1).Run(runtime.NewContext(1), in)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, l := range SupportedCPULevels()[1:] {
		SetCPULevel(l)
		for _, ci := range []int{-1, constIdx, allButFirst} {
			o := qOp(t, op, attrs, in, ci)
			for threads := 1; threads <= 2; threads++ {
				got, err := o.Run(runtime.NewContext(threads), in)
				if err != nil {
					t.Fatalf("%s at %v: %v", name, l, err)
				}
				sameTensor(t, fmt.Sprintf("%s at %v const=%d threads=%d", name, l, ci, threads), got[0], want[0])
			}
		}
	}
}

// TestQuantOpsEveryLevel: QLinearConv, ConvInteger, MatMulInteger and
// QLinearMatMul give bit-identical results at every level.
func TestQuantOpsEveryLevel(t *testing.T) {
	withParallelism(t)
	t.Cleanup(func() { qconvDirectUse = qconvAuto })
	rng := rand.New(rand.NewPCG(51, 52))
	type conv struct {
		x, w          []int
		group         int64
		strides, pads []int64
		xU8, wU8, wzp bool
		perChannel    bool
		dil           []int64
	}
	for i, c := range []conv{
		// stride 1 with the padded (Toeplitz) form: int8 and uint8 x, grouped,
		// asymmetric pads, dilation, batch 2, LeNet's unpadded 5x5
		{x: []int{2, 6, 12, 12}, w: []int{8, 3, 5, 5}, group: 2, strides: []int64{1, 1}, pads: []int64{2, 1, 0, 2}, xU8: false, perChannel: true},
		{x: []int{1, 4, 13, 17}, w: []int{9, 4, 3, 3}, group: 1, strides: []int64{1, 1}, pads: []int64{2, 2, 2, 2}, xU8: true, dil: []int64{2, 2}},
		{x: []int{3, 1, 28, 28}, w: []int{6, 1, 5, 5}, group: 1, strides: []int64{1, 1}, pads: []int64{0, 0, 0, 0}, xU8: true, perChannel: true},
		{x: []int{1, 6, 12, 12}, w: []int{16, 6, 5, 5}, group: 1, strides: []int64{1, 1}, pads: []int64{0, 0, 0, 0}, xU8: true},
		{x: []int{1, 16, 14, 14}, w: []int{33, 16, 3, 3}, group: 1, strides: []int64{1, 1}, pads: []int64{1, 1, 1, 1}, xU8: true, perChannel: true},
		{x: []int{2, 8, 9, 11}, w: []int{12, 4, 1, 1}, group: 2, strides: []int64{2, 1}, pads: []int64{0, 0, 0, 0}, xU8: false, perChannel: true},
		{x: []int{1, 3, 31, 29}, w: []int{17, 3, 7, 7}, group: 1, strides: []int64{2, 2}, pads: []int64{3, 3, 3, 3}, xU8: true},
		// non-square kernels in the Toeplitz form (its rows step kx, then ky, then c)
		{x: []int{1, 4, 11, 13}, w: []int{10, 4, 3, 5}, group: 1, strides: []int64{1, 1}, pads: []int64{1, 2, 1, 2}, xU8: true, perChannel: true},
		{x: []int{2, 3, 12, 9}, w: []int{7, 3, 5, 1}, group: 1, strides: []int64{1, 1}, pads: []int64{2, 0, 2, 0}, xU8: false, dil: []int64{2, 1}},
		// stride 2 along rows long enough for the 16-wide even-byte copy
		// (and its scalar tail): the stem's 7x7 with padding, a 3x3 and a
		// 1x1 of odd widths
		{x: []int{1, 3, 12, 75}, w: []int{8, 3, 7, 7}, group: 1, strides: []int64{2, 2}, pads: []int64{3, 3, 3, 3}, xU8: true, perChannel: true},
		{x: []int{1, 5, 7, 69}, w: []int{6, 5, 3, 3}, group: 1, strides: []int64{2, 2}, pads: []int64{1, 0, 1, 2}, xU8: false},
		{x: []int{1, 8, 5, 71}, w: []int{12, 8, 1, 1}, group: 1, strides: []int64{2, 2}, pads: []int64{0, 0, 0, 0}, xU8: true},
		{x: []int{1, 4, 8, 8}, w: []int{4, 1, 3, 3}, group: 4, strides: []int64{1, 1}, pads: []int64{1, 1, 1, 1}, xU8: true}, // depthwise: float32 kernels, exact
		// depthwise over 20 channels (the blocked kernel's 16 and 4 more), stride 2, batch 2; a channel multiplier of 2 with uint8 weights and a zero point
		{x: []int{2, 20, 13, 11}, w: []int{20, 1, 3, 3}, group: 20, strides: []int64{2, 2}, pads: []int64{1, 1, 1, 1}, xU8: true, perChannel: true},
		{x: []int{1, 6, 9, 9}, w: []int{12, 1, 5, 5}, group: 6, strides: []int64{1, 1}, pads: []int64{2, 2, 2, 2}, xU8: false, wU8: true, wzp: true},
		{x: []int{1, 5, 6, 6}, w: []int{7, 5, 3, 3}, group: 1, strides: []int64{1, 1}, pads: []int64{1, 0, 0, 1}, xU8: true, wU8: true, wzp: true}, // weight zero point: reference path
		// 3-D of depth 1 with depth padding (output depth 3): not a 2-D convolution
		{x: []int{1, 4, 1, 5, 5}, w: []int{6, 4, 1, 3, 3}, group: 1, strides: []int64{1, 1, 1}, pads: []int64{1, 1, 1, 1, 1, 1}, xU8: true},
	} {
		attrs := map[string]*graph.Attr{"group": graph.IntAttr(c.group), "strides": graph.IntsAttr(c.strides...), "pads": graph.IntsAttr(c.pads...)}
		if c.dil != nil {
			attrs["dilations"] = graph.IntsAttr(c.dil...)
		}
		x, w := qRandom(rng, c.xU8, c.x...), qRandom(rng, c.wU8, c.w...)
		xzp, wzp := qRandom(rng, c.xU8), qRandom(rng, c.wU8)
		if !c.wzp {
			wzp = tensor.FromSlice([]int{}, make([]int8, 1))
			if c.wU8 {
				wzp = tensor.FromSlice([]int{}, make([]uint8, 1))
			}
		}
		nw := 0
		if c.perChannel {
			nw = c.w[0]
		}
		bias := make([]int32, c.w[0])
		for j := range bias {
			bias[j] = int32(rng.IntN(20000) - 10000)
		}
		yzp := qRandom(rng, i%2 == 0)
		in := []*tensor.Tensor{x, qScale(rng, 0), xzp, w, qScale(rng, nw), wzp, qScale(rng, 0), yzp, tensor.FromSlice([]int{c.w[0]}, bias)}
		// each shape through the op's own choice and through the INT8 GEMM
		// (what CPUs with VNNI but without VBMI run at the avx512vnni level)
		for _, use := range []int{qconvAuto, qconvNever} {
			qconvDirectUse = use
			checkLevels(t, fmt.Sprintf("ConvInteger %d (direct kernel mode %d)", i, use), "ConvInteger", attrs, []*tensor.Tensor{x, w, xzp, wzp}, 1)
			checkLevels(t, fmt.Sprintf("QLinearConv %d (direct kernel mode %d)", i, use), "QLinearConv", attrs, in, 3)
		}
	}
	for i, s := range [][2][]int{{{17, 65}, {65, 63}}, {{2, 3, 255}, {255, 1000}}, {{1, 64}, {64, 1}}, {{3, 4, 5, 6}, {6, 7}}, {{2, 5, 17}, {2, 17, 3}}} {
		aU8, bU8 := i%2 == 0, i%3 == 0
		a, b := qRandom(rng, aU8, s[0]...), qRandom(rng, bU8, s[1]...)
		rows, cols := s[0][len(s[0])-2], s[1][len(s[1])-1]
		azp := qRandom(rng, aU8)
		bzp := qRandom(rng, bU8)
		if i%2 == 1 {
			azp, bzp = qRandom(rng, aU8, rows), qRandom(rng, bU8, cols)
		}
		checkLevels(t, fmt.Sprintf("MatMulInteger %d", i), "MatMulInteger", nil, []*tensor.Tensor{a, b, azp, bzp}, 1)
		sa, sb, sy := qScale(rng, 0), qScale(rng, cols), qScale(rng, 0)
		if i%2 == 1 {
			sa, sb, sy = qScale(rng, rows), qScale(rng, 0), qScale(rng, rows)
		}
		in := []*tensor.Tensor{a, sa, azp, b, sb, bzp, sy, qRandom(rng, i%2 == 0)}
		checkLevels(t, fmt.Sprintf("QLinearMatMul %d", i), "QLinearMatMul", nil, in, 3)
	}
}

// TestQGemmEveryLevel: ONNX Runtime's com.microsoft QGemm (the lowered
// quantized Gemm) gives bit-identical results at every level: the C
// requantization from avx2 against the Go loop of the generic level, with
// per-column and 2-D biases, per-column and per-tensor weight scales,
// uint8 and int8 outputs, transB.
func TestQGemmEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(61, 62))
	for i, c := range []struct {
		rows, k, n       int
		biasRows, yU8    bool
		perColumn, trans bool
	}{
		{rows: 64, k: 784, n: 300, yU8: true, perColumn: true},
		{rows: 1, k: 300, n: 100, yU8: true, perColumn: true, trans: true},
		{rows: 7, k: 33, n: 17, biasRows: true, yU8: false},
		{rows: 3, k: 100, n: 10, yU8: false, perColumn: true},
	} {
		a := qRandom(rng, true, c.rows, c.k)
		bShape := []int{c.k, c.n}
		if c.trans {
			bShape = []int{c.n, c.k}
		}
		b := qRandom(rng, false, bShape...)
		nb := 1
		if c.perColumn {
			nb = c.n
		}
		bs := make([]float32, nb)
		for j := range bs {
			bs[j] = 0.002 + 0.01*rng.Float32()
		}
		biasShape := []int{c.n}
		if c.biasRows {
			biasShape = []int{c.rows, c.n}
		}
		bias := make([]int32, tensor.Product(biasShape))
		for j := range bias {
			bias[j] = int32(rng.IntN(20001) - 10000)
		}
		var yzp *tensor.Tensor
		if c.yU8 {
			yzp = tensor.FromSlice([]int{}, []uint8{uint8(rng.IntN(256))})
		} else {
			yzp = tensor.FromSlice([]int{}, []int8{int8(rng.IntN(256) - 128)})
		}
		in := []*tensor.Tensor{a, tensor.FromSlice([]int{}, []float32{0.02}), tensor.FromSlice([]int{}, []uint8{uint8(rng.IntN(256))}),
			b, tensor.FromSlice([]int{nb}, bs), tensor.FromSlice([]int{}, []int8{0}), tensor.FromSlice(biasShape, bias),
			tensor.FromSlice([]int{}, []float32{0.05 + 0.5*rng.Float32()}), yzp}
		attrs := map[string]*graph.Attr{}
		if c.trans {
			attrs["transB"] = graph.IntAttr(1)
		}
		checkLevels(t, fmt.Sprintf("QGemm %d", i), MSDomain+":QGemm", attrs, in, 3)
		// without y_scale: float output
		checkLevels(t, fmt.Sprintf("QGemm %d float", i), MSDomain+":QGemm", attrs, in[:7], 3)
	}
}

// TestGemmBytesKernel: MatMulInteger and QGemm with a constant int8 B
// within [-64, 64] run the AVX2 byte kernel (B packed for it) and equal the
// generic reference at every level; A is mostly 255 (uint8) or 127 (int8,
// flipped to 255), and B's pairs along k share their sign, so that pairs
// of products reach 2*255*64 = 32640. A B reaching 65 keeps the int16
// kernel, where the byte kernel would saturate; so does QGemm's prepared
// path with int8 A, which the byte kernel would have to offset.
func TestGemmBytesKernel(t *testing.T) {
	withParallelism(t)
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	rng := rand.New(rand.NewPCG(95, 96))
	const rows, k, n = 9, 70, 37
	for _, aU8 := range []bool{true, false} {
		for _, limit := range []int{igemmBytesLimit, igemmBytesLimit + 1} {
			name := fmt.Sprintf("uint8 A %v, limit %d", aU8, limit)
			a := nearlySaturated(rng, qRandom(rng, aU8, rows, k))
			b := pairedWeights(rng, limit, n, k, n) // rows 2j and 2j+1 of B: one sign
			azp := qRandom(rng, aU8)
			mmIn := []*tensor.Tensor{a, b, azp, tensor.FromSlice([]int{}, []int8{0})}
			checkLevels(t, "MatMulInteger "+name, "MatMulInteger", nil, mmIn, 1)
			qgIn := []*tensor.Tensor{a, tensor.FromSlice([]int{}, []float32{0.02}), azp,
				b, tensor.FromSlice([]int{}, []float32{0.01}), tensor.FromSlice([]int{}, []int8{0}), qBias(rng, n),
				tensor.FromSlice([]int{}, []float32{0.9}), tensor.FromSlice([]int{}, []uint8{128})}
			checkLevels(t, "QGemm "+name, MSDomain+":QGemm", nil, qgIn, 3)

			// the kernel each packs B for, at the AVX2 level
			if igemmAVX2Bytes == nil {
				continue
			}
			if _, err := SetCPULevel(LevelAVX2); err != nil {
				t.Skip(err)
			}
			mm := &quantMatMulOp{constB: b}
			plan, err := newMatMulPlan(a.Shape(), b.Shape())
			if err != nil {
				t.Fatal(err)
			}
			if !mm.matMulIntFast(runtime.NewContext(2), plan, a, azp, b, mmIn[3], make([]int32, rows*n)) {
				t.Fatalf("%s: MatMulInteger's INT8 GEMM did not run", name)
			}
			qg, err := newQGemmOp(qNode(MSDomain+":QGemm", nil, qgIn, allButFirst))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := qg.run(runtime.NewContext(2), qgIn); err != nil {
				t.Fatal(err)
			}
			fits := limit == igemmBytesLimit
			if kern := mm.packed.key.kern; kern == nil || (kern == igemmAVX2Bytes) != fits {
				t.Errorf("%s: MatMulInteger packed B for %v", name, kern)
			}
			if qg.prep == nil || !qg.prep.ok || (qg.prep.kern == igemmAVX2Bytes) != (fits && aU8) {
				t.Errorf("%s: QGemm prepared %+v", name, qg.prep)
			}
		}
	}
}

// qBias is n random int32 biases in [-10000, 10000].
func qBias(rng *rand.Rand, n int) *tensor.Tensor {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(rng.IntN(20001) - 10000)
	}
	return tensor.FromSlice([]int{n}, v)
}

// nearlySaturated sets three in four of x's values to the largest a byte
// kernel operand reaches: 255 (uint8), or 127 (int8, flipped to 255).
func nearlySaturated(rng *rand.Rand, x *tensor.Tensor) *tensor.Tensor {
	b, u8, _ := int8Bytes(x)
	top := byte(127)
	if u8 {
		top = 255
	}
	for i := range b {
		if rng.IntN(4) != 0 {
			b[i] = top
		}
	}
	return x
}

// pairedWeights is an int8 tensor of the given shape with values in
// [-igemmBytesLimit, igemmBytesLimit], a third of them set to +-limit with
// one sign for the elements 2j*stride+r and (2j+1)*stride+r (the pairs
// that vpmaddubsw sums along k, stride elements apart), so that against
// nearlySaturated operands a pair reaches 2*255*limit.
func pairedWeights(rng *rand.Rand, limit, stride int, shape ...int) *tensor.Tensor {
	v := make([]int8, tensor.Product(shape))
	for i := range v {
		v[i] = int8(rng.IntN(2*igemmBytesLimit+1) - igemmBytesLimit)
		if rng.IntN(3) == 0 {
			v[i] = int8(limit * (1 - 2*(i/stride/2%2)))
		}
	}
	return tensor.FromSlice(shape, v)
}
