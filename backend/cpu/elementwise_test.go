package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// ewOp builds a node of type op with attrs and runs it once at the given
// opset with the given thread count.
func ewOp(op string, attrs map[string]*graph.Attr, opset int64, threads int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	f := registry.Factory("", op)
	if f == nil {
		return nil, fmt.Errorf("op %s is not registered", op)
	}
	o, err := f(&graph.Node{OpType: op, Attrs: attrs}, runtime.NodeInfo{Opset: opset})
	if err != nil {
		return nil, err
	}
	return o.Run(runtime.NewContext(threads), in)
}

// ewMust runs op at opset 13 on one thread and fails the test on error; it
// also checks that the inputs were not modified.
func ewMust(t *testing.T, op string, attrs map[string]*graph.Attr, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	saved := make([]*tensor.Tensor, len(in))
	for i, x := range in {
		if x != nil {
			saved[i] = x.Clone()
		}
	}
	out, err := ewOp(op, attrs, 13, 1, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	for i, x := range in {
		if x != nil && !graph.TensorsEqual(x, saved[i]) {
			t.Fatalf("%s modified input %d", op, i)
		}
	}
	return out[0]
}

// ewFails checks that op returns an error (and does not panic).
func ewFails(t *testing.T, op string, attrs map[string]*graph.Attr, in ...*tensor.Tensor) {
	t.Helper()
	if _, err := ewOp(op, attrs, 13, 1, in...); err == nil {
		t.Errorf("%s: want an error for inputs %v", op, in)
	}
}

// ewCheck compares got with the expected shape and values: within relative
// tolerance tol (absolute below 1), NaN matching NaN, infinities exactly.
func ewCheck(t *testing.T, name string, got *tensor.Tensor, shape []int, want []float64, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), shape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape(), shape)
	}
	if got.Len() != len(want) {
		t.Fatalf("%s: %d elements, want %d", name, got.Len(), len(want))
	}
	for i, w := range want {
		if g := got.Float64At(i); !ewClose(g, w, tol) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, g, w)
		}
	}
}

func ewClose(g, w, tol float64) bool {
	switch {
	case math.IsNaN(w):
		return math.IsNaN(g)
	case math.IsInf(w, 0):
		return g == w
	}
	return math.Abs(g-w) <= tol*max(1, math.Abs(w))
}

// ewRandom returns a float64 tensor of shape with values in [-2, 2).
func ewRandom(r *rand.Rand, shape ...int) *tensor.Tensor {
	n := tensor.Product(shape)
	d := make([]float64, n)
	for i := range d {
		d[i] = r.Float64()*4 - 2
	}
	return tensor.FromSlice(shape, d)
}

// ewBroadcastRef computes f over the broadcast of a and b with the tensor
// package's Broadcaster, as an oracle for ewPlan.
func ewBroadcastRef(a, b *tensor.Tensor, f func(x, y float64) float64) ([]int, []float64) {
	shape, _ := tensor.BroadcastShapes(a.Shape(), b.Shape())
	n := tensor.Product(shape)
	out := make([]float64, n)
	br := tensor.NewBroadcaster(shape, a.Shape(), b.Shape())
	for i := 0; i < n; i++ {
		out[i] = f(a.Float64At(br.Off[0]), b.Float64At(br.Off[1]))
		br.Next()
	}
	return shape, out
}

func TestEwPlanCoalesces(t *testing.T) {
	p := newEwPlan([]int{2, 3, 4}, []int{2, 3, 4}, []int{3, 4})
	if fmt.Sprint(p.dims, p.st) != "[2 12] [[12 1] [0 1]]" {
		t.Errorf("plan dims %v strides %v", p.dims, p.st)
	}
	p = newEwPlan([]int{2, 3, 4}, []int{2, 3, 4}, []int{1, 3, 1})
	if fmt.Sprint(p.dims, p.st) != "[2 3 4] [[12 4 1] [0 1 0]]" {
		t.Errorf("plan dims %v strides %v", p.dims, p.st)
	}
	p = newEwPlan([]int{}, []int{}, []int{1})
	if fmt.Sprint(p.dims, p.st) != "[1] [[0] [0]]" {
		t.Errorf("scalar plan dims %v strides %v", p.dims, p.st)
	}
}

// TestArithBroadcastMatchesReference runs the four arithmetic ops over many
// broadcast shape pairs, small and large (parallel), in float32 and float64.
func TestArithBroadcastMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pairs := [][2][]int{
		{{}, {}}, {{5}, {}}, {{}, {5}}, {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}},
		{{2, 3, 4}, {3, 1}}, {{2, 1, 4, 1}, {1, 3, 1, 5}}, {{0, 3}, {3}}, {{2, 0}, {1}},
		{{1, 64, 33, 17}, {64, 1, 1}}, {{257, 129}, {257, 129}}, {{3, 40000}, {40000}},
		{{70000}, {}}, {{4, 1, 9000}, {4, 7, 1}},
	}
	ops := map[string]func(x, y float64) float64{
		"Add": func(x, y float64) float64 { return x + y },
		"Sub": func(x, y float64) float64 { return x - y },
		"Mul": func(x, y float64) float64 { return x * y },
		"Div": func(x, y float64) float64 { return x / y },
	}
	for _, pr := range pairs {
		a, b := ewRandom(r, pr[0]...), ewRandom(r, pr[1]...)
		for op, f := range ops {
			shape, want := ewBroadcastRef(a, b, f)
			for _, threads := range []int{1, 3} {
				for _, dt := range []tensor.DType{tensor.Float64, tensor.Float32} {
					ca, _ := castTensor(runtime.NewContext(1), a, dt)
					cb, _ := castTensor(runtime.NewContext(1), b, dt)
					out, err := ewOp(op, nil, 13, threads, ca, cb)
					if err != nil {
						t.Fatalf("%s %v %v: %v", op, pr[0], pr[1], err)
					}
					if out[0].DType() != dt {
						t.Fatalf("%s: dtype %v, want %v", op, out[0].DType(), dt)
					}
					tol := 1e-12
					if dt == tensor.Float32 {
						tol = 1e-4 // float32 operands and result
					}
					ewCheck(t, fmt.Sprintf("%s %v %v %v t=%d", op, dt, pr[0], pr[1], threads), out[0], shape, want, tol)
				}
			}
		}
	}
}

func TestIntegerArithmetic(t *testing.T) {
	a := tensor.FromSlice([]int{4}, []int32{7, -7, 7, -7})
	b := tensor.FromSlice([]int{4}, []int32{2, 2, -2, 0})
	ewCheck(t, "Div int32", ewMust(t, "Div", nil, a, b), []int{4}, []float64{3, -3, -3, 0}, 0)
	i8 := tensor.FromSlice([]int{2}, []int8{100, -128})
	ewCheck(t, "Add int8 wraps", ewMust(t, "Add", nil, i8, tensor.Scalar(int8(100))), []int{2}, []float64{-56, -28}, 0)
	u8 := tensor.FromSlice([]int{2}, []uint8{3, 250})
	ewCheck(t, "Sub uint8 wraps", ewMust(t, "Sub", nil, u8, tensor.Scalar(uint8(5))), []int{2}, []float64{254, 245}, 0)
	big := tensor.FromSlice([]int{1}, []int64{1 << 60})
	if got := ewMust(t, "Mul", nil, big, tensor.Scalar(int64(3))).I64()[0]; got != 3<<60 {
		t.Errorf("Mul int64 = %d, want exact %d", got, int64(3<<60))
	}
}

func TestMod(t *testing.T) {
	a := tensor.FromSlice([]int{6}, []int64{-4, 7, 5, 4, -7, 8})
	b := tensor.FromSlice([]int{6}, []int64{2, -3, 8, -2, 3, 0})
	ewCheck(t, "Mod", ewMust(t, "Mod", nil, a, b), []int{6}, []float64{0, -2, 5, 0, 2, 0}, 0)
	fm := map[string]*graph.Attr{"fmod": graph.IntAttr(1)}
	ewCheck(t, "Mod fmod", ewMust(t, "Mod", fm, a, b), []int{6}, []float64{0, 1, 5, 0, -1, 0}, 0)
	f := tensor.FromSlice([]int{3}, []float32{-4.3, 7.2, 5})
	g := tensor.FromSlice([]int{3}, []float32{2.1, -3.4, 8.5})
	ewCheck(t, "Mod float fmod", ewMust(t, "Mod", fm, f, g), []int{3},
		[]float64{math.Mod(-4.3, 2.1), math.Mod(7.2, -3.4), 5}, 1e-5)
	u := tensor.FromSlice([]int{2}, []uint32{7, 9})
	ewCheck(t, "Mod uint", ewMust(t, "Mod", nil, u, tensor.Scalar(uint32(4))), []int{2}, []float64{3, 1}, 0)
	ewFails(t, "Mod", nil, f, g) // floats need fmod=1
	ewFails(t, "Mod", map[string]*graph.Attr{"fmod": graph.IntAttr(2)}, a, b)
}

func TestPow(t *testing.T) {
	x := tensor.FromSlice([]int{3}, []float32{2, 4, -2})
	ewCheck(t, "Pow f32^i64", ewMust(t, "Pow", nil, x, tensor.FromSlice([]int{3}, []int64{3, -1, 2})),
		[]int{3}, []float64{8, 0.25, 4}, 1e-7)
	ewCheck(t, "Pow f32^f32 bcast", ewMust(t, "Pow", nil, x, tensor.Scalar(float32(0.5))),
		[]int{3}, []float64{math.Sqrt2, 2, math.NaN()}, 1e-6)
	b := tensor.FromSlice([]int{4}, []int64{3, 2, -1, 1})
	e := tensor.FromSlice([]int{4}, []int64{39, -1, -3, -5})
	got := ewMust(t, "Pow", nil, b, e).I64()
	if want := []int64{4052555153018976267, 0, -1, 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Pow int64 = %v, want %v", got, want)
	}
	ewCheck(t, "Pow i32^f32", ewMust(t, "Pow", nil, tensor.FromSlice([]int{2}, []int32{2, 3}),
		tensor.FromSlice([]int{2}, []float32{0.5, 2})), []int{2}, []float64{1, 9}, 0)
	ewFails(t, "Pow", nil, x, tensor.FromSlice([]int{2}, []float32{1, 2}))
	ewFails(t, "Pow", nil, x, tensor.Scalar(true))
}

func TestCompareAndLogic(t *testing.T) {
	a := tensor.FromSlice([]int{2, 2}, []float32{1, float32(math.NaN()), 3, 4})
	b := tensor.FromSlice([]int{2}, []float32{1, 4})
	cases := map[string][]float64{
		"Equal": {1, 0, 0, 1}, "Less": {0, 0, 0, 0}, "LessOrEqual": {1, 0, 0, 1},
		"Greater": {0, 0, 1, 0}, "GreaterOrEqual": {1, 0, 1, 1},
	}
	for op, want := range cases {
		got := ewMust(t, op, nil, a, b)
		if got.DType() != tensor.Bool {
			t.Fatalf("%s dtype %v", op, got.DType())
		}
		ewCheck(t, op, got, []int{2, 2}, want, 0)
	}
	s := tensor.FromSlice([]int{2}, []string{"a", "b"})
	ewCheck(t, "Equal string", ewMust(t, "Equal", nil, s, tensor.Scalar("b")), []int{2}, []float64{0, 1}, 0)
	p := tensor.FromSlice([]int{4}, []bool{true, true, false, false})
	q := tensor.FromSlice([]int{4}, []bool{true, false, true, false})
	ewCheck(t, "Equal bool", ewMust(t, "Equal", nil, p, q), []int{4}, []float64{1, 0, 0, 1}, 0)
	ewCheck(t, "And", ewMust(t, "And", nil, p, q), []int{4}, []float64{1, 0, 0, 0}, 0)
	ewCheck(t, "Or", ewMust(t, "Or", nil, p, q), []int{4}, []float64{1, 1, 1, 0}, 0)
	ewCheck(t, "Xor", ewMust(t, "Xor", nil, p, tensor.Scalar(true)), []int{4}, []float64{0, 0, 1, 1}, 0)
	ewFails(t, "Less", nil, p, q)
	ewFails(t, "And", nil, a, a)
	ewFails(t, "Less", nil, a, tensor.FromSlice([]int{2}, []float64{1, 2}))
	ewFails(t, "Less", nil, a, tensor.FromSlice([]int{3}, []float32{1, 2, 3}))
}

func TestBitShift(t *testing.T) {
	x := tensor.FromSlice([]int{3}, []uint8{16, 4, 1})
	y := tensor.FromSlice([]int{3}, []uint8{1, 2, 8})
	left := map[string]*graph.Attr{"direction": graph.StringAttr("LEFT")}
	right := map[string]*graph.Attr{"direction": graph.StringAttr("RIGHT")}
	ewCheck(t, "left", ewMust(t, "BitShift", left, x, y), []int{3}, []float64{32, 16, 0}, 0)
	ewCheck(t, "right", ewMust(t, "BitShift", right, x, y), []int{3}, []float64{8, 1, 0}, 0)
	ewFails(t, "BitShift", nil, x, y)
	ewFails(t, "BitShift", left, tensor.FromSlice([]int{1}, []int32{1}), tensor.FromSlice([]int{1}, []int32{1}))
}

func TestWhere(t *testing.T) {
	c := tensor.FromSlice([]int{2, 1}, []bool{true, false})
	x := tensor.FromSlice([]int{3}, []string{"a", "b", "c"})
	y := tensor.Scalar("z")
	got := ewMust(t, "Where", nil, c, x, y)
	if want := "[a b c z z z]"; fmt.Sprint(tensor.Data[string](got)) != want || !tensor.SameShape(got.Shape(), []int{2, 3}) {
		t.Errorf("Where = %v %v, want [2 3] %s", got.Shape(), tensor.Data[string](got), want)
	}
	xf := tensor.FromSlice([]int{2, 2}, []float32{1, 2, 3, 4})
	ewCheck(t, "Where float", ewMust(t, "Where", nil, tensor.FromSlice([]int{2}, []bool{false, true}), xf, tensor.Scalar(float32(-1))),
		[]int{2, 2}, []float64{-1, 2, -1, 4}, 0)
	ewFails(t, "Where", nil, xf, xf, xf)
	ewFails(t, "Where", nil, c, xf, tensor.Scalar(1.0))
	ewFails(t, "Where", nil, c, xf)
}

func TestPRelu(t *testing.T) {
	x := tensor.FromSlice([]int{1, 2, 2}, []float32{-1, 2, -3, 4})
	slope := tensor.FromSlice([]int{2, 1}, []float32{0.5, 0.1})
	ewCheck(t, "PRelu", ewMust(t, "PRelu", nil, x, slope), []int{1, 2, 2}, []float64{-0.5, 2, -0.3, 4}, 1e-6)
	xi := tensor.FromSlice([]int{2}, []int32{-4, 4})
	ewCheck(t, "PRelu int", ewMust(t, "PRelu", nil, xi, tensor.Scalar(int32(2))), []int{2}, []float64{-8, 4}, 0)
	ewFails(t, "PRelu", nil, tensor.FromSlice([]int{2}, []float32{1, 2}), tensor.FromSlice([]int{2, 2}, []float32{1, 2, 3, 4}))
}

func TestVariadic(t *testing.T) {
	a := tensor.FromSlice([]int{3}, []float32{1, 5, float32(math.NaN())})
	b := tensor.FromSlice([]int{2, 1}, []float32{2, 4})
	c := tensor.Scalar(float32(3))
	shape := []int{2, 3}
	nan := math.NaN()
	ewCheck(t, "Sum", ewMust(t, "Sum", nil, a, b, c), shape, []float64{6, 10, nan, 8, 12, nan}, 1e-6)
	ewCheck(t, "Max", ewMust(t, "Max", nil, a, b, c), shape, []float64{3, 5, nan, 4, 5, nan}, 0)
	ewCheck(t, "Min", ewMust(t, "Min", nil, a, b, c), shape, []float64{1, 2, nan, 1, 3, nan}, 0)
	ewCheck(t, "Mean", ewMust(t, "Mean", nil, a, b, c), shape, []float64{2, 10.0 / 3, nan, 8.0 / 3, 4, nan}, 1e-6)
	if got := ewMust(t, "Max", nil, a); got != a {
		t.Error("Max of one input should return it")
	}
	i := tensor.FromSlice([]int{2}, []int64{-3, 9})
	ewCheck(t, "Max int64", ewMust(t, "Max", nil, i, tensor.Scalar(int64(0))), []int{2}, []float64{0, 9}, 0)
	ewFails(t, "Mean", nil, i, i)
	ewFails(t, "Sum", nil, a, i)
	ewFails(t, "Sum", nil, a, nil)
	ewFails(t, "Max", nil)
}

func TestHalfArithmetic(t *testing.T) {
	h := tensor.FromSlice([]int{2}, []tensor.F16{tensor.NewF16(1.5), tensor.NewF16(-2)})
	out := ewMust(t, "Mul", nil, h, tensor.Scalar(tensor.NewF16(3)))
	if out.DType() != tensor.Float16 {
		t.Fatalf("dtype %v", out.DType())
	}
	ewCheck(t, "Mul f16", out, []int{2}, []float64{4.5, -6}, 0)
	bf := tensor.FromSlice([]int{2}, []tensor.BF16{tensor.NewBF16(1), tensor.NewBF16(2)})
	ewCheck(t, "Sum bf16", ewMust(t, "Sum", nil, bf, bf, bf), []int{2}, []float64{3, 6}, 0)
}

func TestArithErrors(t *testing.T) {
	a := tensor.FromSlice([]int{2, 3}, make([]float32, 6))
	ewFails(t, "Add", nil, a, tensor.FromSlice([]int{2}, []float32{1, 2}))
	ewFails(t, "Add", nil, a, tensor.FromSlice([]int{3}, []float64{1, 2, 3}))
	ewFails(t, "Add", nil, a)
	ewFails(t, "Add", nil, a, nil)
	ewFails(t, "Add", nil, tensor.Scalar(true), tensor.Scalar(true))
	ewFails(t, "Mul", nil, tensor.Scalar("x"), tensor.Scalar("y"))
}

// TestEwShapeInference checks the shape functions of graph/infer_elementwise.go.
func TestEwShapeInference(t *testing.T) {
	g := graph.NewGraph("t")
	x := g.GetOrAddValue("x")
	x.DType, x.Shape, x.HasShape = tensor.Float32, []graph.Dim{{Size: -1, Param: "N"}, {Size: 3}, {Size: 4}}, true
	b := g.GetOrAddValue("b")
	b.DType, b.Shape, b.HasShape = tensor.Float32, graph.KnownDims(4), true
	c := g.GetOrAddValue("c")
	c.DType, c.Shape, c.HasShape = tensor.Bool, graph.KnownDims(3, 1), true
	axes := g.AddInitializer("axes", tensor.FromSlice([]int{2}, []int64{-1, 1}))
	cases := []struct {
		op    string
		in    []*graph.Value
		attrs map[string]*graph.Attr
		want  string
	}{
		{"Add", []*graph.Value{x, b}, nil, "float32[N 3 4]"},
		{"Less", []*graph.Value{x, b}, nil, "bool[N 3 4]"},
		{"Where", []*graph.Value{c, b, x}, nil, "float32[N 3 4]"},
		{"Relu", []*graph.Value{x}, nil, "float32[N 3 4]"},
		{"IsNaN", []*graph.Value{x}, nil, "bool[N 3 4]"},
		{"Cast", []*graph.Value{x}, map[string]*graph.Attr{"to": graph.IntAttr(int64(tensor.Int64))}, "int64[N 3 4]"},
		{"CastLike", []*graph.Value{x, c}, nil, "bool[N 3 4]"},
		{"ReduceSum", []*graph.Value{x, axes}, nil, "float32[N 1 1]"},
		{"ReduceMean", []*graph.Value{x}, map[string]*graph.Attr{"axes": graph.IntsAttr(0), "keepdims": graph.IntAttr(0)}, "float32[3 4]"},
		{"ReduceMax", []*graph.Value{x}, map[string]*graph.Attr{"keepdims": graph.IntAttr(0)}, "float32[]"},
		{"ReduceL2", []*graph.Value{x, b}, nil, "float32[? ? ?]"},
		{"ArgMax", []*graph.Value{x}, map[string]*graph.Attr{"axis": graph.IntAttr(-2), "keepdims": graph.IntAttr(0)}, "int64[N 4]"},
	}
	for _, tc := range cases {
		y := g.NewValue("y")
		n := g.AddNode(tc.op, tc.in, []*graph.Value{y}, tc.attrs)
		if err := graph.InferNode(n); err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		if got := y.DType.String() + graph.FormatShape(y.Shape); got != tc.want || !y.HasShape {
			t.Errorf("%s: inferred %s, want %s", tc.op, got, tc.want)
		}
	}
	y := g.NewValue("y")
	bad := g.AddNode("ReduceSum", []*graph.Value{x}, []*graph.Value{y}, map[string]*graph.Attr{"axes": graph.IntsAttr(3)})
	bad.Inputs = []*graph.Value{x, g.AddInitializer("bad", tensor.FromSlice([]int{1}, []int64{3}))}
	if err := graph.InferNode(bad); err == nil {
		t.Error("ReduceSum with axis 3 of a rank-3 input: want an error")
	}
	five := g.GetOrAddValue("five")
	five.DType, five.Shape, five.HasShape = tensor.Float32, graph.KnownDims(5), true
	sum := g.AddNode("Add", []*graph.Value{x, five}, []*graph.Value{g.NewValue("y")}, nil)
	if err := graph.InferNode(sum); err == nil {
		t.Error("Add of [N 3 4] and [5]: want a broadcast error")
	}
}

// ewBench runs op on inputs b.N times with the given thread count.
func ewBench(b *testing.B, op string, attrs map[string]*graph.Attr, threads int, in ...*tensor.Tensor) {
	f := registry.Factory("", op)
	o, err := f(&graph.Node{OpType: op, Attrs: attrs}, runtime.NodeInfo{Opset: 18})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(in[0].Len()) * 4)
	benchOp(b, o, threads, in)
}

func ewBenchF32(shape ...int) *tensor.Tensor {
	x, _ := castTensor(runtime.NewContext(1), ewRandom(rand.New(rand.NewPCG(1, 1)), shape...), tensor.Float32)
	return x
}

func BenchmarkAddSameShape(b *testing.B) {
	x := ewBenchF32(1, 64, 112, 112)
	ewBench(b, "Add", nil, 1, x, x)
}

func BenchmarkAddChannelBias(b *testing.B) {
	ewBench(b, "Add", nil, 1, ewBenchF32(1, 64, 112, 112), ewBenchF32(64, 1, 1))
}

func BenchmarkMulRowBroadcast(b *testing.B) {
	ewBench(b, "Mul", nil, 1, ewBenchF32(128, 6272), ewBenchF32(6272))
}

func BenchmarkRelu(b *testing.B) { ewBench(b, "Relu", nil, 1, ewBenchF32(1, 64, 112, 112)) }

func BenchmarkSigmoid(b *testing.B) { ewBench(b, "Sigmoid", nil, 1, ewBenchF32(1, 64, 112, 112)) }

func BenchmarkReduceMeanSpatial(b *testing.B) {
	ewBench(b, "ReduceMean", map[string]*graph.Attr{"axes": graph.IntsAttr(2, 3)}, 1, ewBenchF32(8, 256, 28, 28))
}

func BenchmarkSoftmaxRows(b *testing.B) { ewBench(b, "Softmax", nil, 1, ewBenchF32(64, 1000)) }

// BenchmarkSoftmaxClassifier is a classifier's output: one row of 1000
// logits, on 2 threads.
func BenchmarkSoftmaxClassifier(b *testing.B) { ewBench(b, "Softmax", nil, 2, ewBenchF32(1, 1000)) }
