package ref

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

// Out names the output element type of a GEMM epilogue.
type Out int

// Output kinds. OutS32 and OutS8 exist for integer GEMMs only, OutF16 and
// OutBF16 for half-precision GEMMs only; OutF32 for both.
const (
	OutS32  Out = iota // the raw int32 accumulator
	OutF32             // float32: optional per-channel scale, then bias
	OutS8              // int8 requantized: int32 bias, scale, round, zero point, saturate
	OutF16             // IEEE binary16, from the float32 epilogue value (round to nearest even)
	OutBF16            // bfloat16, from the float32 epilogue value (round to nearest even)
)

// String names the kind as the kernels do ("s32", "f32", ...).
func (o Out) String() string {
	switch o {
	case OutS32:
		return "s32"
	case OutF32:
		return "f32"
	case OutS8:
		return "s8"
	case OutF16:
		return "f16"
	case OutBF16:
		return "bf16"
	}
	return fmt.Sprintf("Out(%d)", int(o))
}

// ElemBytes is the size of one output element.
func (o Out) ElemBytes() int {
	switch o {
	case OutS32, OutF32:
		return 4
	case OutF16, OutBF16:
		return 2
	}
	return 1
}

// Axis says which output index a per-channel epilogue vector follows.
type Axis int

const (
	// PerCol: vectors have length N and entry j applies to column j (the
	// output channel when the weight is operand B, [N,K]).
	PerCol Axis = iota
	// PerRow: vectors have length M and entry i applies to row i (the output
	// channel when the weight is operand A, as in the 2:4 sparse GEMM).
	PerRow
)

// Epilogue turns an accumulator into an output element. With c the channel
// index (j for PerCol, i for PerRow):
//
//	OutS32:          D = acc
//	OutF32:          v = float32(acc); v = fl(v*Scale[c]) if Scale != nil;
//	                 v = fl(v+Bias[c]) if Bias != nil; D = v
//	OutF16, OutBF16: v as for OutF32, then rounded to the half type
//	                 (nearest, ties to even)
//	OutS8:           a = acc + BiasS32[c] (int32, wrapping) if BiasS32 != nil;
//	                 v = float32(a); v = fl(v*Scale[c]) if Scale != nil;
//	                 r = roundHalfEven(v); r = fl(r + float32(ZeroPoint));
//	                 D = clamp(r, -128, 127) where NaN clamps to -128
//
// fl(·) is one IEEE float32 operation rounded to nearest even: the kernels use
// __fmul_rn/__fadd_rn so that nvcc cannot contract them into an FMA, which is
// why the result is reproducible bit for bit. For OutS8 the float32
// conversion of the int32 accumulator rounds to nearest even (exact below
// 2^24), as the int8 -> float conversion of the kernels does.
type Epilogue struct {
	Scale     []float32
	Bias      []float32
	BiasS32   []int32
	ZeroPoint int32
	Axis      Axis
}

// channel returns the vector index for output element (i, j).
func (e *Epilogue) channel(i, j int) int {
	if e != nil && e.Axis == PerRow {
		return i
	}
	return j
}

// check verifies that the epilogue's vectors have the length the axis needs.
func (e *Epilogue) check(m, n int) error {
	if e == nil {
		return nil
	}
	want := n
	if e.Axis == PerRow {
		want = m
	}
	for _, v := range []struct {
		name string
		n    int
		set  bool
	}{{"scale", len(e.Scale), e.Scale != nil}, {"bias", len(e.Bias), e.Bias != nil}, {"int32 bias", len(e.BiasS32), e.BiasS32 != nil}} {
		if v.set && v.n < want {
			return fmt.Errorf("epilogue %s has %d entries, the output needs %d", v.name, v.n, want)
		}
	}
	return nil
}

// EpilogueF32 applies the float epilogue (scale then bias) to v for channel c.
func EpilogueF32(v float32, e *Epilogue, c int) float32 {
	if e == nil {
		return v
	}
	if e.Scale != nil {
		v = float32(v * e.Scale[c])
	}
	if e.Bias != nil {
		v = float32(v + e.Bias[c])
	}
	return v
}

// RequantS8 applies the OutS8 epilogue to an int32 accumulator for channel c.
func RequantS8(acc int32, e *Epilogue, c int) int8 {
	var scale []float32
	zp := int32(0)
	if e != nil {
		if e.BiasS32 != nil {
			acc += e.BiasS32[c]
		}
		scale, zp = e.Scale, e.ZeroPoint
	}
	v := float32(acc)
	if scale != nil {
		v = float32(v * scale[c])
	}
	r := float32(math.RoundToEven(float64(v)))
	r = float32(r + float32(zp))
	return SaturateS8(r)
}

// SaturateS8 clamps v to [-128, 127] and converts it; NaN becomes -128 (as
// fminf(fmaxf(v, -128), 127) does on the GPU). v must already be integral.
func SaturateS8(v float32) int8 {
	if !(v >= -128) {
		return -128
	}
	if v > 127 {
		return 127
	}
	return int8(v)
}

// gemmOut holds a typed output slice and its strides.
type gemmOut struct {
	kind       Out
	s32        []int32
	f32        []float32
	s8         []int8
	f16        []tensor.F16
	bf16       []tensor.BF16
	ldcM, ldcN int
}

func newGemmOut(kind Out, c any, m, n, ldcM, ldcN int) (*gemmOut, error) {
	o := &gemmOut{kind: kind, ldcM: ldcM, ldcN: ldcN}
	var l int
	ok := false
	switch kind {
	case OutS32:
		o.s32, ok = c.([]int32)
		l = len(o.s32)
	case OutF32:
		o.f32, ok = c.([]float32)
		l = len(o.f32)
	case OutS8:
		o.s8, ok = c.([]int8)
		l = len(o.s8)
	case OutF16:
		o.f16, ok = c.([]tensor.F16)
		l = len(o.f16)
	case OutBF16:
		o.bf16, ok = c.([]tensor.BF16)
		l = len(o.bf16)
	default:
		return nil, fmt.Errorf("unknown output kind %v", kind)
	}
	if !ok {
		return nil, fmt.Errorf("output kind %v needs a matching slice, got %T", kind, c)
	}
	if m > 0 && n > 0 {
		if ldcM < 0 || ldcN < 0 {
			return nil, fmt.Errorf("negative output strides (%d, %d)", ldcM, ldcN)
		}
		if last := (m-1)*ldcM + (n-1)*ldcN; last >= l {
			return nil, fmt.Errorf("output slice of %d elements too short for %dx%d with strides (%d, %d)", l, m, n, ldcM, ldcN)
		}
	}
	return o, nil
}

// storeInt writes the integer-GEMM epilogue of acc at (i, j).
func (o *gemmOut) storeInt(i, j int, acc int32, e *Epilogue) {
	at := i*o.ldcM + j*o.ldcN
	c := e.channel(i, j)
	switch o.kind {
	case OutS32:
		o.s32[at] = acc
	case OutF32:
		o.f32[at] = EpilogueF32(float32(acc), e, c)
	case OutS8:
		o.s8[at] = RequantS8(acc, e, c)
	}
}

// storeFloat writes the float epilogue of v at (i, j).
func (o *gemmOut) storeFloat(i, j int, v float32, e *Epilogue) {
	at := i*o.ldcM + j*o.ldcN
	v = EpilogueF32(v, e, e.channel(i, j))
	switch o.kind {
	case OutF32:
		o.f32[at] = v
	case OutF16:
		o.f16[at] = tensor.NewF16(v)
	case OutBF16:
		o.bf16[at] = tensor.NewBF16(v)
	}
}

// checkOperand verifies that x holds a rows×k matrix with row stride ld.
func checkOperand(name string, l, rows, k, ld int) error {
	if rows <= 0 || k <= 0 {
		return nil
	}
	if ld < k {
		return fmt.Errorf("operand %s: row stride %d < K = %d", name, ld, k)
	}
	if need := (rows-1)*ld + k; l < need {
		return fmt.Errorf("operand %s: %d elements, %dx%d with stride %d needs %d", name, l, rows, k, ld, need)
	}
	return nil
}

// Int8GemmRef computes D = epilogue(A·Bᵀ) for int8 A (M×K, stride lda) and
// B (N×K, stride ldb): ACC[i][j] = Σ_p int32(A[i][p])·int32(B[j][p]) with
// int32 wrap-around, then D[i][j] = Epilogue(ACC[i][j]) stored at
// c[i*ldcM + j*ldcN]; c is []int32 (OutS32), []float32 (OutF32) or []int8
// (OutS8). Elements of c outside the M×N window are not touched. K == 0
// gives ACC = 0.
func Int8GemmRef(m, n, k int, a []int8, lda int, b []int8, ldb int, out Out, c any, ldcM, ldcN int, e *Epilogue) error {
	if out != OutS32 && out != OutF32 && out != OutS8 {
		return fmt.Errorf("int8 gemm: output %v not supported", out)
	}
	o, err := prepareGemm(m, n, k, len(a), lda, len(b), ldb, out, c, ldcM, ldcN, e)
	if err != nil {
		return fmt.Errorf("int8 gemm: %w", err)
	}
	for i := 0; i < m; i++ {
		ar := a[i*lda:]
		for j := 0; j < n; j++ {
			br := b[j*ldb:]
			var acc int32
			for p := 0; p < k; p++ {
				acc += int32(ar[p]) * int32(br[p])
			}
			o.storeInt(i, j, acc, e)
		}
	}
	return nil
}

func prepareGemm(m, n, k, la, lda, lb, ldb int, out Out, c any, ldcM, ldcN int, e *Epilogue) (*gemmOut, error) {
	if m < 0 || n < 0 || k < 0 {
		return nil, fmt.Errorf("negative size %dx%dx%d", m, n, k)
	}
	if err := checkOperand("A", la, m, k, lda); err != nil {
		return nil, err
	}
	if err := checkOperand("B", lb, n, k, ldb); err != nil {
		return nil, err
	}
	if err := e.check(m, n); err != nil {
		return nil, err
	}
	return newGemmOut(out, c, m, n, ldcM, ldcN)
}

// Half is a 16-bit float element: IEEE binary16 or bfloat16.
type Half interface {
	tensor.F16 | tensor.BF16
	Float32() float32
}

// HalfGemmRef computes D = epilogue(A·Bᵀ) for half-precision A (M×K) and B
// (N×K): ACC[i][j] = Σ_p A[i][p]·B[j][p] evaluated exactly in float64 (each
// product of two halves is exact in float64, and so is the sum for the sizes
// tested here to within 2^-53 relative) and rounded once to float32; then the
// float epilogue (OutF32, OutF16 or OutBF16). The GPU accumulates in float32
// on the tensor cores, so it is compared against this by NMSE, not bit for
// bit.
func HalfGemmRef[T Half](m, n, k int, a []T, lda int, b []T, ldb int, out Out, c any, ldcM, ldcN int, e *Epilogue) error {
	if out != OutF32 && out != OutF16 && out != OutBF16 {
		return fmt.Errorf("half gemm: output %v not supported", out)
	}
	o, err := prepareGemm(m, n, k, len(a), lda, len(b), ldb, out, c, ldcM, ldcN, e)
	if err != nil {
		return fmt.Errorf("half gemm: %w", err)
	}
	af := widen(a)
	bf := widen(b)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += af[i*lda+p] * bf[j*ldb+p]
			}
			o.storeFloat(i, j, float32(s), e)
		}
	}
	return nil
}

// widen converts halves to float64 (exactly).
func widen[T Half](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v.Float32())
	}
	return out
}

// Elem is the element type of GEMM operands.
type Elem int

// Operand element types.
const (
	S8 Elem = iota
	F16
	BF16
)

func (e Elem) String() string {
	switch e {
	case S8:
		return "s8"
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	}
	return fmt.Sprintf("Elem(%d)", int(e))
}

// Bytes is the element size.
func (e Elem) Bytes() int64 {
	if e == S8 {
		return 1
	}
	return 2
}
