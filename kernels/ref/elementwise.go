package ref

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

// Channels describes per-channel parameters of an elementwise kernel over a
// tensor of n elements: element i belongs to channel (i / Inner) % Count
// (Inner = product of the dimensions after the channel axis). Count == 1 is
// per-tensor.
type Channels struct {
	Count, Inner int
}

// Of returns the channel of element i.
func (c Channels) Of(i int) int {
	if c.Count <= 1 {
		return 0
	}
	return i / c.Inner % c.Count
}

func (c Channels) check(nScale, nZP int, zp bool) error {
	if c.Count < 1 || c.Inner < 1 {
		return fmt.Errorf("channels %d, inner %d: both must be >= 1", c.Count, c.Inner)
	}
	if nScale < c.Count {
		return fmt.Errorf("%d scales for %d channels", nScale, c.Count)
	}
	if zp && nZP < c.Count {
		return fmt.Errorf("%d zero points for %d channels", nZP, c.Count)
	}
	return nil
}

// QuantizeRef computes q[i] = saturate(roundHalfEven(fl(x[i] / scale[c])) +
// zp[c]) into int8 for c = ch.Of(i) (ONNX QuantizeLinear with an int8
// output): the division is one float32 operation (the kernel's __fdiv_rn),
// the rounded value plus the zero point is formed in float32 and clamped to
// [-128, 127] with NaN going to -128, as on the GPU. zp may be nil (zero).
func QuantizeRef(x []float32, scale []float32, zp []int32, ch Channels, q []int8) error {
	if len(q) < len(x) {
		return fmt.Errorf("quantize: %d outputs for %d inputs", len(q), len(x))
	}
	if err := ch.check(len(scale), len(zp), zp != nil); err != nil {
		return fmt.Errorf("quantize: %w", err)
	}
	for i, v := range x {
		c := ch.Of(i)
		r := float32(math.RoundToEven(float64(float32(v / scale[c]))))
		if zp != nil {
			r = float32(r + float32(zp[c]))
		}
		q[i] = SaturateS8(r)
	}
	return nil
}

// DequantizeRef computes y[i] = fl(float32(q[i] - zp[c]) · scale[c]) (ONNX
// DequantizeLinear from int8; the subtraction is exact in int32 and its
// conversion exact in float32). zp may be nil.
func DequantizeRef(q []int8, scale []float32, zp []int32, ch Channels, y []float32) error {
	if len(y) < len(q) {
		return fmt.Errorf("dequantize: %d outputs for %d inputs", len(y), len(q))
	}
	if err := ch.check(len(scale), len(zp), zp != nil); err != nil {
		return fmt.Errorf("dequantize: %w", err)
	}
	for i, v := range q {
		c := ch.Of(i)
		d := int32(v)
		if zp != nil {
			d -= zp[c]
		}
		y[i] = float32(float32(d) * scale[c])
	}
	return nil
}

// SoftmaxRef computes, for each of rows rows of cols elements (row stride
// cols), y[j] = exp(x[j] - max) / Σ_k exp(x[k] - max), in float64 and rounded
// to float32 once. The GPU computes in float32 with expf, so the two are
// compared with a relative tolerance.
func SoftmaxRef(rows, cols int, x, y []float32) error {
	if rows < 0 || cols < 0 || len(x) < rows*cols || len(y) < rows*cols {
		return fmt.Errorf("softmax: %dx%d needs %d elements, have %d in and %d out", rows, cols, rows*cols, len(x), len(y))
	}
	for r := 0; r < rows; r++ {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		mx := math.Inf(-1)
		for _, v := range xr {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range xr {
			s += math.Exp(float64(v) - mx)
		}
		for j, v := range xr {
			yr[j] = float32(math.Exp(float64(v)-mx) / s)
		}
	}
	return nil
}

// AddRef computes c[i] = fl(a[i] + b[i]).
func AddRef(a, b, c []float32) {
	for i := range a {
		c[i] = a[i] + b[i]
	}
}

// ReluRef computes y[i] = x[i] if x[i] > 0, else 0 (so NaN maps to 0, as the
// kernel's x > 0 ? x : 0 does).
func ReluRef(x, y []float32) {
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = 0
		}
	}
}

// CastF32ToF16Ref rounds to binary16 (nearest even; overflow to ±Inf).
func CastF32ToF16Ref(x []float32, y []tensor.F16) {
	for i, v := range x {
		y[i] = tensor.NewF16(v)
	}
}

// CastF16ToF32Ref widens binary16 exactly.
func CastF16ToF32Ref(x []tensor.F16, y []float32) {
	for i, v := range x {
		y[i] = v.Float32()
	}
}

// CastF32ToBF16Ref rounds to bfloat16 (nearest even).
func CastF32ToBF16Ref(x []float32, y []tensor.BF16) {
	for i, v := range x {
		y[i] = tensor.NewBF16(v)
	}
}

// CastBF16ToF32Ref widens bfloat16 exactly.
func CastBF16ToF32Ref(x []tensor.BF16, y []float32) {
	for i, v := range x {
		y[i] = v.Float32()
	}
}
