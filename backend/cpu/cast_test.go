package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

func castTo(dt tensor.DType) map[string]*graph.Attr {
	return map[string]*graph.Attr{"to": graph.IntAttr(int64(dt))}
}

// castCheck casts x to dt and compares the elements printed with %v.
func castCheck(t *testing.T, x *tensor.Tensor, dt tensor.DType, want string) {
	t.Helper()
	got := ewMust(t, "Cast", castTo(dt), x)
	if got.DType() != dt || !tensor.SameShape(got.Shape(), x.Shape()) {
		t.Fatalf("cast %v to %v: got %v", x, dt, got)
	}
	if s := fmt.Sprint(got.Data()); s != want {
		t.Errorf("cast %v to %v = %s, want %s", x.DType(), dt, s, want)
	}
}

func TestCastNumeric(t *testing.T) {
	f := tensor.FromSlice([]int{2, 2}, []float32{-1.7, 2.9, 0, 300})
	castCheck(t, f, tensor.Int32, "[-1 2 0 300]")
	castCheck(t, f, tensor.Uint8, "[255 2 0 44]")
	castCheck(t, tensor.FromSlice([]int{3}, []float64{0, -0.5, math.NaN()}), tensor.Bool, "[false true true]")
	castCheck(t, tensor.FromSlice([]int{2}, []bool{true, false}), tensor.Float32, "[1 0]")
	castCheck(t, tensor.FromSlice([]int{2}, []bool{true, false}), tensor.Int8, "[1 0]")
	castCheck(t, tensor.FromSlice([]int{1}, []int64{1<<24 + 1}), tensor.Float32, "[1.6777216e+07]")
	castCheck(t, tensor.FromSlice([]int{2}, []int8{-1, 5}), tensor.Uint16, "[65535 5]")
	castCheck(t, tensor.FromSlice([]int{1}, []uint64{math.MaxUint64}), tensor.Float64, "[1.8446744073709552e+19]")
	castCheck(t, tensor.FromSlice([]int{2}, []uint32{7, math.MaxUint32}), tensor.Bool, "[true true]")
	castCheck(t, tensor.FromSlice([]int{1}, []float64{1e10}), tensor.Int64, "[10000000000]")
	castCheck(t, tensor.Scalar(int16(-3)), tensor.Float64, "[-3]")
}

func TestCastHalfRoundsOnce(t *testing.T) {
	// Rounding to float32 first would make these ties and round them down
	// to even (1.0); the correctly rounded results are one ulp up.
	x := tensor.FromSlice([]int{3}, []float64{1 + 0x1p-11 + 0x1p-40, 70000, -2.5})
	h := ewMust(t, "Cast", castTo(tensor.Float16), x)
	ewCheck(t, "float64->float16", h, []int{3}, []float64{1 + 0x1p-10, math.Inf(1), -2.5}, 0)
	b := ewMust(t, "Cast", castTo(tensor.BFloat16), tensor.FromSlice([]int{1}, []float64{1 + 0x1p-8 + 0x1p-40}))
	ewCheck(t, "float64->bfloat16", b, []int{1}, []float64{1 + 0x1p-7}, 0)
	back := ewMust(t, "Cast", castTo(tensor.Float32), h)
	ewCheck(t, "float16->float32", back, []int{3}, []float64{1 + 0x1p-10, math.Inf(1), -2.5}, 0)
	castCheck(t, tensor.FromSlice([]int{1}, []float32{3.5}), tensor.Float16, fmt.Sprint([]tensor.F16{tensor.NewF16(3.5)}))
}

func TestCastStrings(t *testing.T) {
	inf := float32(math.Inf(1))
	f := tensor.FromSlice([]int{9}, []float32{0.1, 1, 1e16, 1.5e-5, float32(math.Copysign(0, -1)),
		float32(math.NaN()), inf, -inf, 123456.78})
	castCheck(t, f, tensor.String, "[0.1 1.0 1e+16 1.5e-05 -0.0 NaN INF -INF 123456.78]")
	castCheck(t, tensor.FromSlice([]int{1}, []float64{0.1}), tensor.String, "[0.1]")
	castCheck(t, tensor.FromSlice([]int{2}, []int32{-7, 42}), tensor.String, "[-7 42]")
	castCheck(t, tensor.FromSlice([]int{1}, []uint64{math.MaxUint64}), tensor.String, "[18446744073709551615]")
	castCheck(t, tensor.FromSlice([]int{2}, []bool{true, false}), tensor.String, "[True False]")

	s := tensor.FromSlice([]int{6}, []string{" 1.5", "NaN", "+INF", "-inf", "1e3", "0.1"})
	castCheck(t, s, tensor.Float32, "[1.5 NaN +Inf -Inf 1000 0.1]")
	castCheck(t, tensor.FromSlice([]int{3}, []string{"42", "-7", "3.9"}), tensor.Int64, "[42 -7 3]")
	castCheck(t, tensor.FromSlice([]int{2}, []string{"255", "7"}), tensor.Uint8, "[255 7]")
	castCheck(t, tensor.FromSlice([]int{3}, []string{"true", "0", "2"}), tensor.Bool, "[true false true]")
	castCheck(t, tensor.FromSlice([]int{1}, []string{"0.1"}), tensor.Float16, fmt.Sprint([]tensor.F16{tensor.NewF16(0.1)}))
	ewFails(t, "Cast", castTo(tensor.Float32), tensor.FromSlice([]int{1}, []string{"abc"}))
	ewFails(t, "Cast", castTo(tensor.Bool), tensor.FromSlice([]int{1}, []string{"yes"}))
}

func TestCastLikeAndErrors(t *testing.T) {
	x := tensor.FromSlice([]int{2}, []float32{1.5, -2})
	if got := ewMust(t, "Cast", castTo(tensor.Float32), x); got != x {
		t.Error("a cast to the same dtype should return the input")
	}
	got := ewMust(t, "CastLike", nil, x, tensor.Scalar(int64(0)))
	if got.DType() != tensor.Int64 || fmt.Sprint(got.I64()) != "[1 -2]" {
		t.Errorf("CastLike = %v %v", got, got.Data())
	}
	ewFails(t, "Cast", nil, x)
	ewFails(t, "Cast", castTo(17), x)
	ewFails(t, "Cast", castTo(tensor.Int32))
	ewFails(t, "CastLike", nil, x)
}
