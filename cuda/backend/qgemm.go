package backend

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// qgemmPlan is a com.microsoft QGemm (what `gcompress quantize` lowers Gemm
// and 2-D MatMul layers to; the CPU backend's qgemmOp has the full
// definition) rewritten for the GPU's signed int8 GEMM, for a node whose
// inputs other than A are initializers, B int8 with zero zero points, C
// absent or per column:
//
//	acc[i][j] = Σ_k (A[i][k] - a_zp)·B[k][j] + C[j]
//	          = Σ_k A'[i][k]·B[k][j] + bias[j],
//	A' = A - shift (int8; shift 128 for uint8 A, 0 for int8),
//	bias[j] = C[j] + (shift - a_zp)·Σ_k B[k][j]          (int32, wrapping as the CPU's)
//
// With a float output Y = float32(acc)·scale[j], scale[j] = alpha·a_scale·
// b_scale[j] (float32): the kernel returns Σ A'·B and the host adds bias
// and scales, the CPU's own arithmetic. With a quantized output the
// kernel's int8 epilogue does it: saturate(round_half_even(float32(acc)·
// m[j]) + zp), m[j] = scale[j] / y_scale (float32), zp = y_zp, or y_zp - 128
// for a uint8 output, which is then shifted back by 128 (exactly, the
// saturation bounds moving with it). The CPU multiplies in float64, so a
// quantized output may differ from the CPU backend's by one where the
// product lies near a half.
type qgemmPlan struct {
	w     *tensor.Tensor // B as K x N
	aDT   tensor.DType   // A's type (a_zero_point's): Int8 or Uint8
	bias  []int32
	scale []float32 // scale[j], or m[j] for a quantized output
	yDT   tensor.DType
	zp    int64
}

// planQGemm returns n's plan, or nil where the GPU cannot run it (the CPU
// then does).
func planQGemm(n *graph.Node) *qgemmPlan {
	c := func(i int) *tensor.Tensor { return graph.ConstTensor(n.Input(i)) }
	if n.AttrInt("transA", 0) != 0 || len(n.Inputs) < 5 {
		return nil
	}
	w, sa, za, sb := c(3), c(1), c(2), c(4)
	if w == nil || w.DType() != tensor.Int8 || w.Rank() != 2 || w.Len() == 0 || sa == nil || sa.Len() != 1 || sb == nil {
		return nil
	}
	if n.AttrInt("transB", 0) != 0 {
		w = tensor.TransposeInt8Matrix(w)
	}
	k, cols := w.Shape()[0], w.Shape()[1]
	if sb.Len() != 1 && sb.Len() != cols || !isZeroConst(n.Input(5)) {
		return nil
	}
	// A's type is its zero point's, or the graph's where there is none.
	p := &qgemmPlan{w: w, aDT: n.Input(0).DType, yDT: tensor.Float32}
	var aZP int32
	if n.Input(2) != nil {
		if za == nil || za.Len() != 1 {
			return nil
		}
		p.aDT, aZP = za.DType(), int32(za.Float64At(0))
	}
	if !eightBit(p.aDT) {
		return nil
	}
	shift := unsignedShift(p.aDT)
	var bias *tensor.Tensor
	if n.Input(6) != nil {
		if bias = c(6); bias == nil || bias.DType() != tensor.Int32 || bias.Len() != cols || bias.Rank() == 2 && bias.Shape()[0] != 1 {
			return nil
		}
	}
	wd := tensor.Data[int8](w)
	p.bias = make([]int32, cols)
	for j := range p.bias {
		var sum int32
		for q := 0; q < k; q++ {
			sum += int32(wd[q*cols+j])
		}
		p.bias[j] = (shift - aZP) * sum
		if bias != nil {
			p.bias[j] += tensor.Data[int32](bias)[j]
		}
	}
	alpha := float32(n.AttrFloat("alpha", 1))
	p.scale = make([]float32, cols)
	for j := range p.scale {
		bj := sb.Float64At(0)
		if sb.Len() > 1 {
			bj = sb.Float64At(j)
		}
		p.scale[j] = alpha * float32(sa.Float64At(0)) * float32(bj)
	}
	if n.Input(7) == nil {
		return p
	}
	ys, yz := c(7), c(8)
	if ys == nil || ys.Len() != 1 || yz == nil || yz.Len() != 1 || !eightBit(yz.DType()) {
		return nil
	}
	p.yDT, p.zp = yz.DType(), int64(yz.Float64At(0))-int64(unsignedShift(yz.DType()))
	for j := range p.scale {
		p.scale[j] /= float32(ys.Float64At(0))
	}
	return p
}

// signedA returns A's bytes as the kernel's int8 A': a copy less 128 for
// uint8 A (flipping the top bit is exactly that), A itself for int8.
func (p *qgemmPlan) signedA(a []byte) []byte {
	if p.aDT != tensor.Uint8 {
		return a
	}
	out := make([]byte, len(a))
	for i, v := range a {
		out[i] = v ^ 0x80
	}
	return out
}

// floatOut writes the float output from the kernel's Σ A'·B (m x N, in
// acc): y = float32(acc + bias[j])·scale[j].
func (p *qgemmPlan) floatOut(acc []int32, y []float32) {
	n := len(p.bias)
	for i := range acc {
		j := i % n
		y[i] = float32(acc[i]+p.bias[j]) * p.scale[j]
	}
}

// unsignedOut turns the kernel's int8 outputs into the uint8 ones in
// place (adding 128 is flipping the top bit).
func unsignedOut(y []byte) {
	for i := range y {
		y[i] ^= 0x80
	}
}
