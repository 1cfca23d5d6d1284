//go:build !(cgo && amd64)

package cpu

// simdBuilt reports that the C kernels are not in this build (no cgo, or
// not amd64): every op runs its pure-Go path.
const simdBuilt = false

var sgemmAVX512, sgemmAVX2 *sgemmKernel

func pool2dF32(x, y, tmp []float32, geom *[14]int64, ylo, yhi, ycnt, xlo, xhi, xcnt []int64) {
	panic("pool2dF32 without the C kernels")
}

func maxPool2D8(x, y, tmp []byte, geom *[12]int64, ylo, yhi, xlo, xhi []int64) {
	panic("maxPool2D8 without the C kernels")
}

func dwconv2dF32(x, w, bias, z, y []float32, geom *[18]int64, lo, hi float32, avx512 bool) {
	panic("dwconv2dF32 without the C kernels")
}

const nnMaxTaps = 256

func convNarrowC(x, w, bias, z, y, scratch []float32, off []int64, geom *[28]int64, lo, hi float32) {
	panic("convNarrowC without the C kernels")
}

func convNarrowScratch(geom *[28]int64) int { panic("convNarrowScratch without the C kernels") }

func convNarrowOffsets(geom *[28]int64, off []int64) {
	panic("convNarrowOffsets without the C kernels")
}

func pool2dF32AVX512(x, y []float32, geom *[15]int64, ylo, yhi, ycnt, xlo, xhi, xcnt []int64) {
	panic("pool2dF32AVX512 without the C kernels")
}

func quantizeF32To8(x []float32, y []byte, scale float32, zp, lo, hi int32) {
	panic("quantizeF32To8 without the C kernels")
}

func clampF32(x, y []float32, lo, hi float32) {
	panic("clampF32 without the C kernels")
}

func rowMeansF32(x, y []float32, n int) {
	panic("rowMeansF32 without the C kernels")
}

var igemmVNNI512, igemmAVXVNNI, igemmAVX2, igemmAVX2Bytes *igemmKernel

func requantC(acc []int32, y []byte, m, n int, mult []float64, perCol bool, zpRow []float64, zp, lo, hi float64, outU8 bool) {
	panic("requantC without the C kernels")
}

func padPlanes(x, P []float32, geom *[12]int64, pre []float32) {
	panic("padPlanes without the C kernels")
}

func qconvPad(x, P []byte, geom *[10]int64) {
	panic("qconvPad without the C kernels")
}

func qconvC(P []byte, tiles []int32, idx []byte, w, init []int32, acc []int32, y []byte, first int, mult []float64, zp, lo, hi float64, geom *[qconvGeomFixed + qconvMaxGroups]int64) {
	panic("qconvC without the C kernels")
}

func maxPool3x3s2x8(x, y []byte, planes, ih, iw, oh, ow, ph, pw int, signed bool) {
	panic("maxPool3x3s2x8 without the C kernels")
}

func maxPool2x2x8(x, y []byte, planes, ih, iw, oh, ow int, signed bool) {
	panic("maxPool2x2x8 without the C kernels")
}

func nchwcTo(x, y []float32, hw, c, cb0, cb1 int) { panic("nchwcTo without the C kernels") }

func nchwcFrom(x, y []float32, hw, c, cb0, cb1 int) { panic("nchwcFrom without the C kernels") }

func nchwcConvC(P, w, bias, z, y []float32, geom *[21]int64, lo, hi float32) {
	panic("nchwcConvC without the C kernels")
}

func nchwcPoolC(x, y []float32, geom *[12]int64, count []float32) {
	panic("nchwcPoolC without the C kernels")
}

func nchwcDwconvC(x, w, bias, z, y []float32, geom *[17]int64, lo, hi float32, count []float32) {
	panic("nchwcDwconvC without the C kernels")
}

func nchwcPadC(x, P []float32, geom *[9]int64, pre []float32) {
	panic("nchwcPadC without the C kernels")
}

func lrnF32(x, y []float32, geom *[7]int64, bias, k float64) { panic("lrnF32 without the C kernels") }

func dequantC(acc []int32, y []float32, m, n int, scale, bias, z []float32, act fusedAct) {
	panic("dequantC without the C kernels")
}

func dequant8C(x []byte, y []float32, signed bool, zp, scale float32) {
	panic("dequant8C without the C kernels")
}

func qadd8C(a, b, y []byte, signed bool, za, ra, zb, rb, zy, lo, hi float32) {
	panic("qadd8C without the C kernels")
}

func f32ToI32C(x []float32, y []int32, planes, n int, bias []int32, m int) {
	panic("f32ToI32C without the C kernels")
}
