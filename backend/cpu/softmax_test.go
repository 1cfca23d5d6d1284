package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// smReference computes softmax (log: log-softmax) of x along axis lane by
// lane, straight from the definition.
func smReference(x *tensor.Tensor, axis int, log bool) []float64 {
	outer, n, inner := axisOuterInner(x.Shape(), axis)
	out := make([]float64, x.Len())
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			at := func(k int) int { return (o*n+k)*inner + i }
			m := math.Inf(-1)
			for k := 0; k < n; k++ {
				m = math.Max(m, x.Float64At(at(k)))
			}
			s := 0.0
			for k := 0; k < n; k++ {
				s += math.Exp(x.Float64At(at(k)) - m)
			}
			for k := 0; k < n; k++ {
				v := x.Float64At(at(k)) - m
				if log {
					out[at(k)] = v - math.Log(s)
				} else {
					out[at(k)] = math.Exp(v) / s
				}
			}
		}
	}
	return out
}

func TestSoftmaxMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		shape []int
		axis  int
	}{
		{[]int{5}, 0}, {[]int{3, 4, 5}, -1}, {[]int{3, 4, 5}, 0}, {[]int{3, 4, 5}, 1},
		{[]int{2, 1000, 3}, 1}, {[]int{1, 10, 4096}, 1}, {[]int{300, 100}, -1},
	}
	for _, tc := range cases {
		x := ewRandom(r, tc.shape...)
		ax, _ := tensor.NormAxis(tc.axis, len(tc.shape))
		attrs := map[string]*graph.Attr{"axis": graph.IntAttr(int64(tc.axis))}
		for _, op := range []string{"Softmax", "LogSoftmax"} {
			want := smReference(x, ax, op == "LogSoftmax")
			for _, threads := range []int{1, 4} {
				got, err := ewOp(op, attrs, 13, threads, x)
				if err != nil {
					t.Fatal(err)
				}
				ewCheck(t, fmt.Sprintf("%s %v axis %d threads %d", op, tc.shape, tc.axis, threads), got[0], tc.shape, want, 1e-12)
			}
		}
	}
}

func TestSoftmaxLargeAndHalf(t *testing.T) {
	x := tensor.FromSlice([]int{1, 3}, []float32{10000, 10001, 10002})
	e := []float64{math.Exp(-2), math.Exp(-1), 1}
	s := e[0] + e[1] + e[2]
	ewCheck(t, "Softmax large", ewMust(t, "Softmax", nil, x), []int{1, 3}, []float64{e[0] / s, e[1] / s, e[2] / s}, 1e-6)
	ewCheck(t, "LogSoftmax large", ewMust(t, "LogSoftmax", nil, x), []int{1, 3},
		[]float64{-2 - math.Log(s), -1 - math.Log(s), -math.Log(s)}, 1e-6)
	h := tensor.FromSlice([]int{2}, []tensor.F16{tensor.NewF16(0), tensor.NewF16(0)})
	out := ewMust(t, "Softmax", nil, h)
	if out.DType() != tensor.Float16 {
		t.Fatalf("dtype %v", out.DType())
	}
	ewCheck(t, "Softmax f16", out, []int{2}, []float64{0.5, 0.5}, 0)
	ewCheck(t, "Softmax empty", ewMust(t, "Softmax", nil, tensor.FromSlice([]int{0, 4}, []float32{})), []int{0, 4}, nil, 0)
}

func TestHardmax(t *testing.T) {
	x := tensor.FromSlice([]int{2, 3}, []float32{3, 1, 3, -1, 0, 2})
	ewCheck(t, "Hardmax", ewMust(t, "Hardmax", nil, x), []int{2, 3}, []float64{1, 0, 0, 0, 0, 1}, 0)
	ewCheck(t, "Hardmax axis 0", ewMust(t, "Hardmax", map[string]*graph.Attr{"axis": graph.IntAttr(0)}, x),
		[]int{2, 3}, []float64{1, 1, 1, 0, 0, 0}, 0)
	inf := float32(math.Inf(-1))
	ewCheck(t, "Hardmax all -inf", ewMust(t, "Hardmax", nil, tensor.FromSlice([]int{2}, []float32{inf, inf})),
		[]int{2}, []float64{1, 0}, 0)
}

func TestSoftmaxErrors(t *testing.T) {
	ewFails(t, "Softmax", nil, tensor.FromSlice([]int{2}, []int32{1, 2}))
	ewFails(t, "Softmax", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, tensor.FromSlice([]int{2}, []float32{1, 2}))
	ewFails(t, "LogSoftmax", nil, tensor.Scalar(float32(1)))
	ewFails(t, "Hardmax", nil)
}
