package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// redRefKinds computes each reduction of a list of values directly.
var redRefKinds = map[string]func(v []float64) float64{
	"ReduceSum":  redRefSum,
	"ReduceMean": func(v []float64) float64 { return redRefSum(v) / float64(len(v)) },
	"ReduceProd": func(v []float64) float64 { return redRefFold(v, 1, func(a, x float64) float64 { return a * x }) },
	"ReduceMax":  func(v []float64) float64 { return redRefFold(v, math.Inf(-1), math.Max) },
	"ReduceMin":  func(v []float64) float64 { return redRefFold(v, math.Inf(1), math.Min) },
	"ReduceL1": func(v []float64) float64 {
		return redRefFold(v, 0, func(a, x float64) float64 { return a + math.Abs(x) })
	},
	"ReduceL2": func(v []float64) float64 {
		return math.Sqrt(redRefFold(v, 0, func(a, x float64) float64 { return a + x*x }))
	},
	"ReduceSumSquare": func(v []float64) float64 { return redRefFold(v, 0, func(a, x float64) float64 { return a + x*x }) },
	"ReduceLogSum":    func(v []float64) float64 { return math.Log(redRefSum(v)) },
	"ReduceLogSumExp": func(v []float64) float64 {
		return math.Log(redRefFold(v, 0, func(a, x float64) float64 { return a + math.Exp(x) }))
	},
}

func redRefSum(v []float64) float64 {
	return redRefFold(v, 0, func(a, x float64) float64 { return a + x })
}

func redRefFold(v []float64, init float64, f func(a, x float64) float64) float64 {
	for _, x := range v {
		init = f(init, x)
	}
	return init
}

// redReference reduces x over the marked axes by gathering the values of
// every output index.
func redReference(x *tensor.Tensor, red []bool, keep bool, f func([]float64) float64) ([]int, []float64) {
	shape := x.Shape()
	var outShape, full []int
	for d, s := range shape {
		k := s
		if red[d] {
			k = 1
		}
		full = append(full, k)
		if !red[d] || keep {
			outShape = append(outShape, k)
		}
	}
	groups := make([][]float64, tensor.Product(full))
	st := tensor.Strides(full)
	idx := make([]int, len(shape))
	for i := 0; i < x.Len(); i++ {
		o := 0
		for d := range shape {
			if !red[d] {
				o += idx[d] * st[d]
			}
		}
		groups[o] = append(groups[o], x.Float64At(i))
		for d := len(shape) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	out := make([]float64, len(groups))
	for o, g := range groups {
		out[o] = f(g)
	}
	return outShape, out
}

func TestReduceMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := []struct {
		shape []int
		axes  []int64
	}{
		{[]int{3, 4, 5}, nil}, {[]int{3, 4, 5}, []int64{0}}, {[]int{3, 4, 5}, []int64{1}},
		{[]int{3, 4, 5}, []int64{-1}}, {[]int{3, 4, 5}, []int64{0, 2}}, {[]int{3, 4, 5}, []int64{2, 0, 1}},
		{[]int{2, 1, 3, 1, 4}, []int64{1, 3}}, {[]int{2, 1, 3, 1, 4}, []int64{0, 3, 4}}, {[]int{7}, []int64{0}},
		{[]int{2, 3, 4, 5}, []int64{1, 3}}, {[]int{2, 3, 4, 5}, []int64{0, 2}},
		{[]int{4, 64, 300}, []int64{2}}, {[]int{300, 200}, []int64{0}}, {[]int{8, 5, 3000}, []int64{1}},
		{[]int{2000, 3}, []int64{1}}, {[]int{3, 3000}, []int64{0}},
	}
	for _, tc := range cases {
		x := ewRandom(r, tc.shape...)
		red, err := reducedAxes(tc.axes, len(tc.shape), false)
		if err != nil {
			t.Fatal(err)
		}
		for op, f := range redRefKinds {
			xin := x
			if op == "ReduceLogSum" { // positive inputs
				xin = ewMust(t, "Abs", nil, x)
			}
			for _, keep := range []bool{true, false} {
				shape, want := redReference(xin, red, keep, f)
				attrs := map[string]*graph.Attr{"keepdims": graph.IntAttr(map[bool]int64{true: 1, false: 0}[keep])}
				in := []*tensor.Tensor{xin}
				if tc.axes != nil {
					in = append(in, tensor.FromSlice([]int{len(tc.axes)}, tc.axes))
				}
				for _, threads := range []int{1, 3} {
					got, err := ewOp(op, attrs, 18, threads, in...)
					if err != nil {
						t.Fatalf("%s %v %v: %v", op, tc.shape, tc.axes, err)
					}
					ewCheck(t, fmt.Sprintf("%s %v axes %v keep %v threads %d", op, tc.shape, tc.axes, keep, threads),
						got[0], shape, want, 1e-9)
				}
			}
		}
	}
}

func TestReduceAxesForms(t *testing.T) {
	x := tensor.FromSlice([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	attr := map[string]*graph.Attr{"axes": graph.IntsAttr(-1), "keepdims": graph.IntAttr(0)}
	out, err := ewOp("ReduceMean", attr, 13, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "attribute axes", out[0], []int{2}, []float64{2, 5}, 1e-7)
	out, err = ewOp("ReduceSum", nil, 13, 1, x, tensor.FromSlice([]int{1}, []int64{0}))
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "input axes", out[0], []int{1, 3}, []float64{5, 7, 9}, 0)
	noAxes := tensor.FromSlice([]int{0}, []int64{})
	out, err = ewOp("ReduceSum", nil, 13, 1, x, noAxes)
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "empty axes reduce all", out[0], []int{1, 1}, []float64{21}, 0)
	noop := map[string]*graph.Attr{"noop_with_empty_axes": graph.IntAttr(1)}
	out, err = ewOp("ReduceSumSquare", noop, 18, 1, x, noAxes)
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "noop", out[0], []int{2, 3}, []float64{1, 4, 9, 16, 25, 36}, 0)
	out, err = ewOp("ReduceMax", noop, 18, 1, x)
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "noop without axes input", out[0], []int{2, 3}, []float64{1, 2, 3, 4, 5, 6}, 0)
	s := ewMust(t, "ReduceSum", map[string]*graph.Attr{"keepdims": graph.IntAttr(0)}, tensor.Scalar(2.5))
	ewCheck(t, "rank 0", s, []int{}, []float64{2.5}, 0)

	ewFails(t, "ReduceSum", nil, x, tensor.FromSlice([]int{1}, []int64{2}))
	ewFails(t, "ReduceSum", nil, x, tensor.FromSlice([]int{2}, []int64{1, -1}))
	ewFails(t, "ReduceSum", nil, x, tensor.FromSlice([]int{1}, []float32{0}))
	ewFails(t, "ReduceMean", map[string]*graph.Attr{"axes": graph.IntsAttr(-3)}, x)
	ewFails(t, "ReduceSum", nil, tensor.Scalar("a"))
	ewFails(t, "ReduceSum", nil, tensor.Scalar(true))
	ewFails(t, "ReduceSum", nil)
}

func TestReduceEmpty(t *testing.T) {
	x := tensor.FromSlice([]int{2, 0, 3}, []float32{})
	axis := tensor.FromSlice([]int{1}, []int64{1})
	inf := math.Inf(1)
	want := map[string]float64{
		"ReduceSum": 0, "ReduceProd": 1, "ReduceMax": -inf, "ReduceMin": inf, "ReduceMean": math.NaN(),
		"ReduceL1": 0, "ReduceL2": 0, "ReduceSumSquare": 0, "ReduceLogSum": -inf, "ReduceLogSumExp": -inf,
	}
	for op, w := range want {
		out, err := ewOp(op, nil, 18, 1, x, axis)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		ewCheck(t, op, out[0], []int{2, 1, 3}, []float64{w, w, w, w, w, w}, 0)
	}
	xi := tensor.FromSlice([]int{0, 2}, []int32{})
	out, err := ewOp("ReduceMax", map[string]*graph.Attr{"keepdims": graph.IntAttr(0)}, 18, 1, xi, tensor.FromSlice([]int{1}, []int64{0}))
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "int32 empty max", out[0], []int{2}, []float64{math.MinInt32, math.MinInt32}, 0)
	out, err = ewOp("ReduceSum", nil, 18, 1, xi, tensor.FromSlice([]int{1}, []int64{1}))
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "no outputs", out[0], []int{0, 1}, nil, 0)
}

func TestReduceIntegersAndPrecision(t *testing.T) {
	i8 := tensor.FromSlice([]int{3}, []int8{100, 100, 100})
	ewCheck(t, "int8 sum wraps", ewMust(t, "ReduceSum", nil, i8), []int{1}, []float64{44}, 0)
	i64 := tensor.FromSlice([]int{2}, []int64{1<<62 + 1, 1})
	if got := ewMust(t, "ReduceSum", nil, i64).I64()[0]; got != 1<<62+2 {
		t.Errorf("int64 sum = %d, want exact %d", got, int64(1<<62+2))
	}
	u := tensor.FromSlice([]int{3}, []uint64{math.MaxUint64, 3, 1 << 63})
	if got := tensor.Data[uint64](ewMust(t, "ReduceMax", nil, u))[0]; got != math.MaxUint64 {
		t.Errorf("uint64 max = %d", got)
	}
	ewCheck(t, "int32 mean truncates", ewMust(t, "ReduceMean", nil, tensor.FromSlice([]int{2}, []int32{2, 5})),
		[]int{1}, []float64{3}, 0)
	ewCheck(t, "int32 L1", ewMust(t, "ReduceL1", nil, tensor.FromSlice([]int{2}, []int32{-2, 5})), []int{1}, []float64{7}, 0)
	b := tensor.FromSlice([]int{2, 2}, []bool{false, true, false, false})
	out, err := ewOp("ReduceMax", map[string]*graph.Attr{"keepdims": graph.IntAttr(0)}, 20, 1, b, tensor.FromSlice([]int{1}, []int64{1}))
	if err != nil {
		t.Fatal(err)
	}
	ewCheck(t, "bool max", out[0], []int{2}, []float64{1, 0}, 0)
	nan := tensor.FromSlice([]int{3}, []float64{1, math.NaN(), 3})
	ewCheck(t, "max NaN", ewMust(t, "ReduceMax", nil, nan), []int{1}, []float64{math.NaN()}, 0)
	ewCheck(t, "min NaN", ewMust(t, "ReduceMin", nil, nan), []int{1}, []float64{math.NaN()}, 0)

	// A float32 accumulator would drift far from 100000 here.
	big := make([]float32, 1_000_000)
	for i := range big {
		big[i] = 0.1
	}
	ewCheck(t, "float32 sum", ewMust(t, "ReduceSum", nil, tensor.FromSlice([]int{len(big)}, big)),
		[]int{1}, []float64{100000}, 1e-6)
	lse := tensor.FromSlice([]int{2}, []float32{1000, 1000})
	ewCheck(t, "LogSumExp large", ewMust(t, "ReduceLogSumExp", nil, lse), []int{1}, []float64{1000 + math.Ln2}, 1e-7)
	h := tensor.FromSlice([]int{2}, []tensor.F16{tensor.NewF16(1.5), tensor.NewF16(2)})
	ewCheck(t, "float16 prod", ewMust(t, "ReduceProd", nil, h), []int{1}, []float64{3}, 0)
}

func TestArgMaxArgMin(t *testing.T) {
	x := tensor.FromSlice([]int{2, 3}, []float32{1, 5, 5, 7, 2, 7})
	last := map[string]*graph.Attr{"axis": graph.IntAttr(-1), "select_last_index": graph.IntAttr(1)}
	ewCheck(t, "argmax axis 0", ewMust(t, "ArgMax", nil, x), []int{1, 3}, []float64{1, 0, 1}, 0)
	ewCheck(t, "argmax last", ewMust(t, "ArgMax", last, x), []int{2, 1}, []float64{2, 2}, 0)
	ewCheck(t, "argmax first", ewMust(t, "ArgMax", map[string]*graph.Attr{"axis": graph.IntAttr(1), "keepdims": graph.IntAttr(0)}, x),
		[]int{2}, []float64{1, 0}, 0)
	ewCheck(t, "argmin", ewMust(t, "ArgMin", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, x), []int{2, 1}, []float64{0, 1}, 0)
	ewCheck(t, "argmin last", ewMust(t, "ArgMin", map[string]*graph.Attr{"axis": graph.IntAttr(0), "select_last_index": graph.IntAttr(1)}, x),
		[]int{1, 3}, []float64{0, 1, 0}, 0)
	n := tensor.FromSlice([]int{4}, []float64{1, math.NaN(), 9, math.NaN()})
	ewCheck(t, "argmax NaN", ewMust(t, "ArgMax", nil, n), []int{1}, []float64{1}, 0)
	ewCheck(t, "argmin NaN last", ewMust(t, "ArgMin", map[string]*graph.Attr{"select_last_index": graph.IntAttr(1)}, n),
		[]int{1}, []float64{3}, 0)
	u := tensor.FromSlice([]int{3}, []uint64{1, math.MaxUint64, 2})
	ewCheck(t, "argmax uint64", ewMust(t, "ArgMax", nil, u), []int{1}, []float64{1}, 0)
	if got := ewMust(t, "ArgMax", nil, x); got.DType() != tensor.Int64 {
		t.Errorf("dtype %v, want int64", got.DType())
	}
	ewFails(t, "ArgMax", nil, tensor.Scalar(float32(1)))
	ewFails(t, "ArgMax", map[string]*graph.Attr{"axis": graph.IntAttr(2)}, x)
	ewFails(t, "ArgMax", nil, tensor.FromSlice([]int{0, 2}, []float32{}))
	ewFails(t, "ArgMin", nil, tensor.FromSlice([]int{1}, []bool{true}))
}
