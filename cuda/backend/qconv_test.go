package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// gpuQConv is what qconvOp.run computes, with gc_im2col_s8 and the int8
// GEMM and epilogue replaced by their references (ref.Im2colRef,
// kerneltest.HostGemm), which the kernels match bit for bit.
func gpuQConv(t *testing.T, p *qconvPlan, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	g, ok := p.geometry(x.Shape())
	if !ok {
		t.Fatalf("no geometry for %v", x.Shape())
	}
	m, k, ld, pix := p.w.Shape()[0], g.K(), roundUp(g.K(), 16), g.OH*g.OW
	y := tensor.MustNew(p.yDT, x.Shape()[0], m, g.OH, g.OW)
	img := g.C * g.H * g.W
	cols := make([]byte, pix*ld)
	for i := 0; i < x.Shape()[0]; i++ {
		if err := ref.Im2colRef(g, x.RawBytes()[i*img:(i+1)*img], p.pad, p.xDT == tensor.Uint8, cols, ld); err != nil {
			t.Fatal(err)
		}
		prob := &kerneltest.GemmProblem{In: ref.S8, M: m, N: pix, K: k, A: p.w.RawBytes(), LdA: k, B: cols, LdB: ld,
			Out: ref.OutS8, C: y.RawBytes()[i*m*pix : (i+1)*m*pix], LdCM: pix, LdCN: 1,
			Epi: &ref.Epilogue{Scale: p.mult, BiasS32: p.bias, ZeroPoint: int32(p.zp), Axis: ref.PerRow}}
		if err := kerneltest.HostGemm(prob); err != nil {
			t.Fatal(err)
		}
	}
	if p.yDT == tensor.Uint8 {
		unsignedOut(y.RawBytes())
	}
	return y
}

// qconvCase is a QLinearConv node with an input for it and the CPU
// backend's output.
type qconvCase struct {
	n    *graph.Node
	x    *tensor.Tensor
	want *tensor.Tensor
}

// qconvCases: uint8 and int8 x and y, per-tensor and per-channel weight
// scales, with and without B, padding on every side, asymmetric pads,
// stride, dilation, auto_pad SAME_UPPER, a 1x1 kernel and two images, each
// with the CPU backend's output.
func qconvCases(t *testing.T, r *rand.Rand) []qconvCase {
	t.Helper()
	var cases []qconvCase
	for i, c := range []struct {
		xDT, yDT         tensor.DType
		x, w             []int
		perChannel, bias bool
		attrs            map[string]*graph.Attr
	}{
		{tensor.Uint8, tensor.Uint8, []int{2, 3, 9, 8}, []int{5, 3, 3, 3}, true, true,
			map[string]*graph.Attr{"pads": graph.IntsAttr(1, 1, 1, 1)}},
		{tensor.Int8, tensor.Int8, []int{1, 4, 11, 10}, []int{6, 4, 3, 2}, false, false,
			map[string]*graph.Attr{"pads": graph.IntsAttr(0, 1, 2, 1), "strides": graph.IntsAttr(2, 1), "dilations": graph.IntsAttr(1, 2)}},
		{tensor.Uint8, tensor.Int8, []int{1, 2, 7, 7}, []int{4, 2, 5, 5}, true, true,
			map[string]*graph.Attr{"auto_pad": graph.StringAttr("SAME_UPPER"), "strides": graph.IntsAttr(2, 2)}},
		{tensor.Int8, tensor.Uint8, []int{2, 8, 5, 6}, []int{16, 8, 1, 1}, true, true, nil},
	} {
		m := c.w[0]
		nb := 1
		if c.perChannel {
			nb = m
		}
		in := []*tensor.Tensor{tensor.Scalar(float32(0.02 + 0.02*r.Float32())), randBytes(r, c.xDT), randBytes(r, tensor.Int8, c.w...),
			randScales(r, nb), tensor.Scalar(int8(0)), tensor.Scalar(float32(0.05 + 0.3*r.Float32())), randBytes(r, c.yDT), nil}
		if c.bias {
			b := make([]int32, m)
			for j := range b {
				b[j] = int32(r.IntN(20001) - 10000)
			}
			in[7] = tensor.FromSlice([]int{m}, b)
		}
		n := constInputsNode("QLinearConv", "", c.xDT, in, c.attrs)
		x := randBytes(r, c.xDT, c.x...)
		op, err := cpu.Backend().Factory("", "QLinearConv")(n, runtime.NodeInfo{Opset: 21})
		if err != nil {
			t.Fatal(err)
		}
		want, err := op.Run(runtime.NewContext(1), append([]*tensor.Tensor{x}, in...))
		if err != nil {
			t.Fatalf("case %d: CPU: %v", i, err)
		}
		cases = append(cases, qconvCase{n, x, want[0]})
	}
	return cases
}

// randBytes is a tensor of dt (one byte per element) with random bytes.
func randBytes(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	x := tensor.MustNew(dt, shape...)
	for i, raw := 0, x.RawBytes(); i < len(raw); i++ {
		raw[i] = byte(r.IntN(256))
	}
	return x
}

// randScales is n float32 weight scales.
func randScales(r *rand.Rand, n int) *tensor.Tensor {
	s := make([]float32, n)
	for j := range s {
		s[j] = 0.002 + 0.01*r.Float32()
	}
	return tensor.FromSlice([]int{n}, s)
}

// compare checks element i of a and b within tol (absolute) and counts the
// elements that differ at all.
func compare(t *testing.T, a, b *tensor.Tensor, tol float64) int {
	t.Helper()
	if a.DType() != b.DType() || !tensor.SameShape(a.Shape(), b.Shape()) {
		t.Fatalf("cpu %v, gpu %v", a, b)
	}
	diff := 0
	for i := 0; i < a.Len(); i++ {
		x, y := a.Float64At(i), b.Float64At(i)
		if x != y {
			diff++
		}
		if !(math.Abs(x-y) <= tol) {
			t.Fatalf("element %d: cpu %v, gpu %v", i, x, y)
		}
	}
	return diff
}

// withinOne fails t unless got has want's type and shape, every element
// within one of it, and at most 1% of them off by one (the float32 and
// float64 requantizations disagree only near halves); it logs how many
// differ.
func withinOne(t *testing.T, name string, got, want *tensor.Tensor) {
	t.Helper()
	off := compare(t, want, got, 1)
	if 100*off > got.Len() {
		t.Fatalf("%s: %d of %d outputs off by one", name, off, got.Len())
	}
	t.Logf("%s: %d of %d outputs off by one", name, off, got.Len())
}

// TestQLinearConvPlan: QLinearConv as the GPU runs it (im2col of each
// image with the x zero point in the padding and uint8 shifted to int8, the
// zero points and B folded into an int32 bias per output channel, the
// requantization in the int8 GEMM's epilogue per row, a uint8 output
// shifted back) gives the CPU backend's QLinearConv within one (the CPU
// multiplies in float64) on qconvCases; the nodes the GPU cannot take get
// no plan.
func TestQLinearConvPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	for i, c := range qconvCases(t, r) {
		p := planQLinearConv(c.n)
		if p == nil {
			t.Fatalf("case %d: no plan", i)
		}
		withinOne(t, fmt.Sprint("case ", i), gpuQConv(t, p, c.x), c.want)
	}
	randT := func(dt tensor.DType, shape ...int) *tensor.Tensor { return randBytes(r, dt, shape...) }
	scales := func(n int) *tensor.Tensor { return randScales(r, n) }

	// What the GPU leaves to the CPU: two groups, a weight zero point, a
	// 1-D convolution.
	w := randT(tensor.Int8, 4, 2, 3, 3)
	base := func(w *tensor.Tensor, wzp *tensor.Tensor) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.Scalar(float32(0.02)), tensor.Scalar(uint8(3)), w, scales(1), wzp,
			tensor.Scalar(float32(0.1)), tensor.Scalar(uint8(5))}
	}
	if planQLinearConv(constInputsNode("QLinearConv", "", tensor.Uint8, base(w, tensor.Scalar(int8(0))),
		map[string]*graph.Attr{"group": graph.IntAttr(2)})) != nil {
		t.Error("two groups got a plan")
	}
	if planQLinearConv(constInputsNode("QLinearConv", "", tensor.Uint8, base(w, tensor.Scalar(int8(1))), nil)) != nil {
		t.Error("a non-zero weight zero point got a plan")
	}
	if planQLinearConv(constInputsNode("QLinearConv", "", tensor.Uint8, base(randT(tensor.Int8, 4, 2, 3), tensor.Scalar(int8(0))), nil)) != nil {
		t.Error("a 1-D convolution got a plan")
	}
}
