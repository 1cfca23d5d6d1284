// Cast and CastLike convert every element of X to another dtype: the `to`
// attribute for Cast, the dtype of the second input for CastLike. The output
// has X's shape.
//
// Conversion rules follow NumPy's astype, which the ONNX reference uses:
//   - float -> integer truncates toward zero; out-of-range values (undefined
//     in ONNX) wrap as through int64, like C on x86;
//   - integer -> float rounds to nearest, ties to even;
//   - float64 -> float16/bfloat16 rounds once, with no double rounding
//     through float32 (round-to-odd in the intermediate);
//   - number -> bool is x != 0 (NaN is true); bool -> number is 0 or 1;
//   - string -> number parses decimal or scientific notation and "NaN",
//     "INF", "+INF", "-INF" (any case); string -> bool accepts "true"/"false"
//     or a number (non-zero is true);
//   - float -> string prints the shortest digits that round-trip (float16 and
//     bfloat16 as float32), positional for decimal exponents in [-4, 16) with
//     a trailing ".0" for integral values, scientific otherwise ("1e+16"),
//     and "NaN", "INF", "-INF"; integer -> string is decimal; bool -> string
//     is "True" or "False".
//
// The `saturate` attribute of opset 19 only concerns float8 types, which are
// not supported, so it is accepted and ignored.
package cpu

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("Cast", newCast)
	registerFunc("CastLike", func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("CastLike: %w", err)
		}
		return one(castTensor(ctx, in[0], in[1].DType()))
	})
}

func newCast(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	if !n.HasAttr("to") {
		return nil, fmt.Errorf("Cast: missing attribute 'to'")
	}
	to := tensor.DType(n.AttrInt("to", 0))
	if !to.Valid() {
		return nil, fmt.Errorf("Cast: unsupported target type %d", n.AttrInt("to", 0))
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("Cast: %w", err)
		}
		return one(castTensor(ctx, in[0], to))
	}), nil
}

// castTensor returns x converted to dtype to (x itself when it already is).
func castTensor(ctx *runtime.Context, x *tensor.Tensor, to tensor.DType) (*tensor.Tensor, error) {
	if x.DType() == to {
		return x, nil
	}
	out, err := ctx.Alloc(to, x.Shape()...)
	if err != nil {
		return nil, fmt.Errorf("cast to %v: %w", to, err)
	}
	if err := castInto(out, x); err != nil {
		return nil, fmt.Errorf("cast %v to %v: %w", x.DType(), to, err)
	}
	return out, nil
}

// castInto converts every element of src into dst (same length).
func castInto(dst, src *tensor.Tensor) error {
	sdt := src.DType()
	switch {
	case sdt == tensor.String:
		return parseStrings(dst, tensor.Data[string](src))
	case sdt == tensor.Bool && dst.DType() == tensor.String:
		d := tensor.Data[string](dst)
		for i, b := range tensor.Data[bool](src) {
			d[i] = "False"
			if b {
				d[i] = "True"
			}
		}
	case sdt.IsFloat():
		storeF64(dst, toF64(src), floatBits(sdt))
	case dtypeSigned(sdt):
		storeI64(dst, toI64(src))
	default: // unsigned integers and bool
		storeU64(dst, toU64(src))
	}
	return nil
}

// dtypeSigned reports whether dt is a signed integer type.
func dtypeSigned(dt tensor.DType) bool {
	return dt == tensor.Int8 || dt == tensor.Int16 || dt == tensor.Int32 || dt == tensor.Int64
}

// dtypeHalf reports whether dt is a 16-bit float type (computed in float32).
func dtypeHalf(dt tensor.DType) bool { return dt == tensor.Float16 || dt == tensor.BFloat16 }

// floatBits is the precision strconv uses to print a float dtype.
func floatBits(dt tensor.DType) int {
	if dt == tensor.Float64 {
		return 64
	}
	return 32
}

// convertSlice returns src converted element by element to D.
func convertSlice[D, S tensor.Numeric](src []S) []D {
	out := make([]D, len(src))
	for i, v := range src {
		out[i] = D(v)
	}
	return out
}

// boolsTo returns b as 0/1 values of type D.
func boolsTo[D tensor.Numeric](b []bool) []D {
	out := make([]D, len(b))
	for i, v := range b {
		if v {
			out[i] = 1
		}
	}
	return out
}

// toF64 returns the elements of a numeric or bool tensor as float64 (exact
// for every type but 64-bit integers beyond 2^53). A float64 tensor's own
// slice is returned, not a copy. Strings give nil.
func toF64(t *tensor.Tensor) []float64 {
	switch d := t.Data().(type) {
	case []float64:
		return d
	case []float32:
		return convertSlice[float64](d)
	case []tensor.F16:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
		return out
	case []tensor.BF16:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v.Float32())
		}
		return out
	case []int8:
		return convertSlice[float64](d)
	case []uint8:
		return convertSlice[float64](d)
	case []int16:
		return convertSlice[float64](d)
	case []uint16:
		return convertSlice[float64](d)
	case []int32:
		return convertSlice[float64](d)
	case []uint32:
		return convertSlice[float64](d)
	case []int64:
		return convertSlice[float64](d)
	case []uint64:
		return convertSlice[float64](d)
	case []bool:
		return boolsTo[float64](d)
	}
	return nil
}

// toI64 returns the elements of an integer or bool tensor as int64 (an int64
// tensor's own slice; unsigned 64-bit values wrap). Floats truncate.
func toI64(t *tensor.Tensor) []int64 {
	switch d := t.Data().(type) {
	case []int64:
		return d
	case []int8:
		return convertSlice[int64](d)
	case []uint8:
		return convertSlice[int64](d)
	case []int16:
		return convertSlice[int64](d)
	case []uint16:
		return convertSlice[int64](d)
	case []int32:
		return convertSlice[int64](d)
	case []uint32:
		return convertSlice[int64](d)
	case []uint64:
		return convertSlice[int64](d)
	case []bool:
		return boolsTo[int64](d)
	}
	f := toF64(t)
	if f == nil {
		return nil
	}
	out := make([]int64, len(f))
	for i, v := range f {
		out[i] = int64(v)
	}
	return out
}

// toU64 returns the elements of an integer or bool tensor as uint64 (a
// uint64 tensor's own slice; negative values wrap). Floats truncate.
func toU64(t *tensor.Tensor) []uint64 {
	switch d := t.Data().(type) {
	case []uint64:
		return d
	case []uint8:
		return convertSlice[uint64](d)
	case []uint16:
		return convertSlice[uint64](d)
	case []uint32:
		return convertSlice[uint64](d)
	case []bool:
		return boolsTo[uint64](d)
	}
	if dtypeSigned(t.DType()) {
		return convertSlice[uint64](toI64(t))
	}
	f := toF64(t)
	if f == nil {
		return nil
	}
	out := make([]uint64, len(f))
	for i, v := range f {
		out[i] = f64ToU64(v)
	}
	return out
}

// f64ToU64 truncates v toward zero; negative values wrap as through int64.
func f64ToU64(v float64) uint64 {
	if v >= 1<<63 {
		return uint64(v)
	}
	return uint64(int64(v))
}

// roundOddF32 rounds v to float32 toward zero and, when that is inexact,
// sets the last mantissa bit (round to odd). Rounding the result to a type
// with at least two fewer mantissa bits (float16, bfloat16) then gives the
// correctly rounded value of v, which rounding v to nearest float32 first
// would not.
func roundOddF32(v float64) float32 {
	f := float32(v)
	if float64(f) == v || math.IsNaN(v) || math.IsInf(float64(f), 0) {
		return f
	}
	b := math.Float32bits(f)
	if math.Abs(float64(f)) > math.Abs(v) {
		b-- // one step toward zero: the truncation of v
	}
	return math.Float32frombits(b | 1)
}

// f64ToF16 rounds v to the nearest float16, ties to even.
func f64ToF16(v float64) tensor.F16 { return tensor.NewF16(roundOddF32(v)) }

// f64ToBF16 rounds v to the nearest bfloat16, ties to even.
func f64ToBF16(v float64) tensor.BF16 { return tensor.NewBF16(roundOddF32(v)) }

// convertInto converts src into dst element by element with Go's conversion
// (integers wrap, floats round to nearest).
func convertInto[D, S tensor.Numeric](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

// storeF64 writes src into dst (any dtype, same length) with the rules of the
// file comment; bits is the precision of the source for string formatting.
func storeF64(dst *tensor.Tensor, src []float64, bits int) {
	switch d := dst.Data().(type) {
	case []float64:
		copy(d, src)
	case []float32:
		convertInto(d, src)
	case []tensor.F16:
		for i, v := range src {
			d[i] = f64ToF16(v)
		}
	case []tensor.BF16:
		for i, v := range src {
			d[i] = f64ToBF16(v)
		}
	case []uint64:
		for i, v := range src {
			d[i] = f64ToU64(v)
		}
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	case []string:
		for i, v := range src {
			d[i] = castFormatFloat(v, bits)
		}
	default: // narrower integers wrap through int64
		ints := make([]int64, len(src))
		for i, v := range src {
			ints[i] = int64(v)
		}
		storeI64(dst, ints)
	}
}

// storeI64 writes src into dst (any dtype, same length); integers wrap.
func storeI64(dst *tensor.Tensor, src []int64) {
	switch d := dst.Data().(type) {
	case []float64:
		convertInto(d, src)
	case []float32:
		convertInto(d, src)
	case []tensor.F16:
		for i, v := range src {
			d[i] = f64ToF16(float64(v))
		}
	case []tensor.BF16:
		for i, v := range src {
			d[i] = f64ToBF16(float64(v))
		}
	case []int8:
		convertInto(d, src)
	case []uint8:
		convertInto(d, src)
	case []int16:
		convertInto(d, src)
	case []uint16:
		convertInto(d, src)
	case []int32:
		convertInto(d, src)
	case []uint32:
		convertInto(d, src)
	case []int64:
		copy(d, src)
	case []uint64:
		convertInto(d, src)
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	case []string:
		for i, v := range src {
			d[i] = strconv.FormatInt(v, 10)
		}
	}
}

// storeU64 writes src into dst (any dtype, same length); integers wrap.
func storeU64(dst *tensor.Tensor, src []uint64) {
	switch d := dst.Data().(type) {
	case []float64:
		convertInto(d, src)
	case []float32:
		convertInto(d, src)
	case []tensor.F16:
		for i, v := range src {
			d[i] = f64ToF16(float64(v))
		}
	case []tensor.BF16:
		for i, v := range src {
			d[i] = f64ToBF16(float64(v))
		}
	case []uint64:
		copy(d, src)
	case []bool:
		for i, v := range src {
			d[i] = v != 0
		}
	case []string:
		for i, v := range src {
			d[i] = strconv.FormatUint(v, 10)
		}
	default:
		storeI64(dst, convertSlice[int64](src))
	}
}

// castFormatFloat prints v like NumPy's str() (see the file comment).
func castFormatFloat(v float64, bits int) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "INF"
	case math.IsInf(v, -1):
		return "-INF"
	}
	sci := strconv.FormatFloat(v, 'e', -1, bits)
	exp, _ := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	if v != 0 && (exp < -4 || exp >= 16) {
		return sci
	}
	s := strconv.FormatFloat(v, 'f', -1, bits)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// parseStrings converts decimal strings into dst (any non-string dtype).
func parseStrings(dst *tensor.Tensor, src []string) error {
	dt := dst.DType()
	switch {
	case dt == tensor.String:
		copy(tensor.Data[string](dst), src)
	case dt == tensor.Bool:
		d := tensor.Data[bool](dst)
		for i, s := range src {
			b, err := castParseBool(s)
			if err != nil {
				return err
			}
			d[i] = b
		}
	case dt.IsFloat():
		vals := make([]float64, len(src))
		for i, s := range src {
			v, err := castParseFloat(s, floatBits(dt))
			if err != nil {
				return err
			}
			vals[i] = v
		}
		storeF64(dst, vals, 64)
	case dtypeSigned(dt):
		vals := make([]int64, len(src))
		for i, s := range src {
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				f, ferr := castParseFloat(s, 64)
				if ferr != nil {
					return ferr
				}
				v = int64(f)
			}
			vals[i] = v
		}
		storeI64(dst, vals)
	default:
		vals := make([]uint64, len(src))
		for i, s := range src {
			v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
			if err != nil {
				f, ferr := castParseFloat(s, 64)
				if ferr != nil {
					return ferr
				}
				v = f64ToU64(f)
			}
			vals[i] = v
		}
		storeU64(dst, vals)
	}
	return nil
}

// castParseFloat parses s at the given precision (32: correctly rounded to
// float32); overflow gives ±Inf rather than an error.
func castParseFloat(s string, bits int) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), bits)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("cannot parse %q as a number", s)
	}
	return v, nil
}

// castParseBool accepts true/false in any case, or a number (non-zero: true).
func castParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	v, err := castParseFloat(s, 64)
	if err != nil {
		return false, fmt.Errorf("cannot parse %q as a bool", s)
	}
	return v != 0, nil
}

// halfToF32 returns a float32 copy of a float16/bfloat16 tensor; other
// tensors are returned as they are.
func halfToF32(t *tensor.Tensor) *tensor.Tensor {
	if t == nil || !dtypeHalf(t.DType()) {
		return t
	}
	out := make([]float32, t.Len())
	switch d := t.Data().(type) {
	case []tensor.F16:
		for i, v := range d {
			out[i] = v.Float32()
		}
	case []tensor.BF16:
		for i, v := range d {
			out[i] = v.Float32()
		}
	}
	return tensor.FromSlice(t.Shape(), out)
}

// f32ToHalf rounds src into dst, a float16 or bfloat16 tensor of the same length.
func f32ToHalf(dst *tensor.Tensor, src []float32) {
	switch d := dst.Data().(type) {
	case []tensor.F16:
		for i, v := range src {
			d[i] = tensor.NewF16(v)
		}
	case []tensor.BF16:
		for i, v := range src {
			d[i] = tensor.NewBF16(v)
		}
	}
}

// viaF32 computes a float16/bfloat16 result in float32: fn fills a float32
// tensor of out's shape, which is then rounded into out.
func viaF32(out *tensor.Tensor, fn func(out32 *tensor.Tensor) error) error {
	tmp, err := tensor.New(tensor.Float32, out.Shape()...)
	if err != nil {
		return err
	}
	if err := fn(tmp); err != nil {
		return err
	}
	f32ToHalf(out, tmp.F32())
	return nil
}
