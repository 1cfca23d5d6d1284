package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// qgemmNode is a com.microsoft QGemm whose inputs but A (of type aDT) are
// the initializers in (nil: absent).
func qgemmNode(aDT tensor.DType, in []*tensor.Tensor, attrs map[string]*graph.Attr) *graph.Node {
	return constInputsNode("QGemm", passes.MSDomain, aDT, in, attrs)
}

// constInputsNode is a node of op whose first input is a graph input of
// type xDT and whose other inputs are the initializers in (nil: absent).
func constInputsNode(op, domain string, xDT tensor.DType, in []*tensor.Tensor, attrs map[string]*graph.Attr) *graph.Node {
	n := &graph.Node{OpType: op, Domain: domain, Attrs: attrs, Outputs: []*graph.Value{{Name: "y"}}}
	n.Inputs = append(n.Inputs, &graph.Value{Name: "x", DType: xDT})
	for i, t := range in {
		if t == nil {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		n.Inputs = append(n.Inputs, &graph.Value{Name: fmt.Sprint("in", i+1), DType: t.DType(), Const: t})
	}
	return n
}

// gpuQGemm is what qgemmOp.run computes, with the kernel's int8 GEMM and
// epilogue replaced by their reference (kerneltest.HostGemm, which the
// kernels match bit for bit).
func gpuQGemm(t *testing.T, p *qgemmPlan, a *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	m, k, n := a.Shape()[0], p.w.Shape()[0], p.w.Shape()[1]
	prob := &kerneltest.GemmProblem{In: ref.S8, M: m, N: n, K: k, A: p.signedA(a.RawBytes()), LdA: k,
		B: tensor.TransposeInt8Matrix(p.w).RawBytes(), LdB: k, Out: ref.OutS32, LdCM: n, LdCN: 1}
	y := tensor.MustNew(p.yDT, m, n)
	if p.yDT == tensor.Float32 {
		acc := tensor.MustNew(tensor.Int32, m, n)
		prob.C = acc.RawBytes()
		if err := kerneltest.HostGemm(prob); err != nil {
			t.Fatal(err)
		}
		p.floatOut(tensor.Data[int32](acc), y.F32())
		return y
	}
	prob.Out, prob.C = ref.OutS8, y.RawBytes()
	prob.Epi = &ref.Epilogue{Scale: p.scale, BiasS32: p.bias, ZeroPoint: int32(p.zp)}
	if err := kerneltest.HostGemm(prob); err != nil {
		t.Fatal(err)
	}
	if p.yDT == tensor.Uint8 {
		unsignedOut(y.RawBytes())
	}
	return y
}

// TestQGemmPlan: QGemm as the GPU runs it (A shifted to int8, the zero
// points and C folded into an int32 bias, the requantization in the int8
// epilogue, a uint8 output shifted back) gives the CPU backend's QGemm:
// float outputs bit for bit, quantized ones within one (the CPU multiplies
// in float64), for uint8 and int8 A and outputs, per-tensor and per-column
// weight scales, transB, with and without C and a_zero_point; the nodes the
// GPU cannot take get no plan.
func TestQGemmPlan(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	randT := func(dt tensor.DType, shape ...int) *tensor.Tensor { return randBytes(r, dt, shape...) }
	scales := func(n int) *tensor.Tensor { return randScales(r, n) }
	for i, c := range []struct {
		aDT, yDT        tensor.DType
		m, k, n         int
		perColumn, bias bool
		aZP, transB     bool
	}{
		{tensor.Uint8, tensor.Int8, 7, 100, 12, true, true, true, true},
		{tensor.Int8, tensor.Uint8, 5, 64, 9, false, true, true, false},
		{tensor.Uint8, tensor.Uint8, 33, 130, 20, true, false, true, false},
		{tensor.Uint8, tensor.Float32, 6, 50, 11, true, true, true, true},
		{tensor.Int8, tensor.Float32, 4, 40, 8, false, false, false, false},
	} {
		wShape := []int{c.k, c.n}
		if c.transB {
			wShape = []int{c.n, c.k}
		}
		nb := 1
		if c.perColumn {
			nb = c.n
		}
		in := []*tensor.Tensor{tensor.Scalar(float32(0.03)), nil, randT(tensor.Int8, wShape...), scales(nb), nil, nil}
		if c.aZP {
			in[1] = randT(c.aDT)
		}
		if c.bias {
			bias := make([]int32, c.n)
			for j := range bias {
				bias[j] = int32(r.IntN(20001) - 10000)
			}
			in[5] = tensor.FromSlice([]int{c.n}, bias)
		}
		if c.yDT != tensor.Float32 {
			in = append(in, tensor.Scalar(float32(0.05+0.5*r.Float32())), randT(c.yDT))
		}
		attrs := map[string]*graph.Attr{"alpha": graph.FloatAttr(0.75)}
		if c.transB {
			attrs["transB"] = graph.IntAttr(1)
		}
		n := qgemmNode(c.aDT, in, attrs)
		a := randT(c.aDT, c.m, c.k)
		op, err := cpu.Backend().Factory(passes.MSDomain, "QGemm")(n, runtime.NodeInfo{Opset: 21})
		if err != nil {
			t.Fatal(err)
		}
		want, err := op.Run(runtime.NewContext(1), append([]*tensor.Tensor{a}, in...))
		if err != nil {
			t.Fatalf("case %d: CPU: %v", i, err)
		}
		p := planQGemm(n)
		if p == nil {
			t.Fatalf("case %d: no plan", i)
		}
		got := gpuQGemm(t, p, a)
		if got.DType() != want[0].DType() {
			t.Fatalf("case %d: %v output, want %v", i, got.DType(), want[0].DType())
		}
		tol, off := 0.0, 0
		if c.yDT != tensor.Float32 {
			tol = 1
		}
		for e := 0; e < got.Len(); e++ {
			d := math.Abs(got.Float64At(e) - want[0].Float64At(e))
			if !(d <= tol) {
				t.Fatalf("case %d: element %d: %v, CPU %v", i, e, got.Float64At(e), want[0].Float64At(e))
			}
			if d != 0 {
				off++
			}
		}
		t.Logf("case %d: %d of %d outputs off by one", i, off, got.Len())
	}

	// What the GPU leaves to the CPU: a weight zero point, a 2-D C.
	base := []*tensor.Tensor{tensor.Scalar(float32(0.03)), tensor.Scalar(uint8(3)), randT(tensor.Int8, 8, 4), scales(1)}
	if planQGemm(qgemmNode(tensor.Uint8, append(base, tensor.Scalar(int8(2))), nil)) != nil {
		t.Error("a non-zero weight zero point got a plan")
	}
	if planQGemm(qgemmNode(tensor.Uint8, append(base, nil, randT(tensor.Int32, 5, 4)), nil)) != nil {
		t.Error("a 2-D C got a plan")
	}
}
