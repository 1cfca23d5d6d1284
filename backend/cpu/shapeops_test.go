package cpu

import (
	"math"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

func TestShapeAndSize(t *testing.T) {
	x := mvtIota(2, 3, 4)
	mvtCheck(t, mvtOne(t, "Shape", nil, x), []int{3}, []int64{2, 3, 4})
	mvtCheck(t, mvtOne(t, "Shape", mvtAttrs{"start": graph.IntAttr(-2)}, x), []int{2}, []int64{3, 4})
	mvtCheck(t, mvtOne(t, "Shape", mvtAttrs{"start": graph.IntAttr(1), "end": graph.IntAttr(-1)}, x), []int{1}, []int64{3})
	mvtCheck(t, mvtOne(t, "Shape", mvtAttrs{"start": graph.IntAttr(-10), "end": graph.IntAttr(10)}, x), []int{3}, []int64{2, 3, 4})
	mvtCheck(t, mvtOne(t, "Shape", mvtAttrs{"start": graph.IntAttr(2), "end": graph.IntAttr(1)}, x), []int{0}, []int64{})
	mvtCheck(t, mvtOne(t, "Shape", nil, tensor.Scalar(float32(1))), []int{0}, []int64{})
	mvtCheck(t, mvtOne(t, "Size", nil, x), []int{}, []int64{24})
	mvtCheck(t, mvtOne(t, "Size", nil, mvtIota(3, 0)), []int{}, []int64{0})
}

func TestReshape(t *testing.T) {
	x := mvtIota(2, 3, 4)
	cases := []struct {
		spec []int64
		want []int
	}{
		{[]int64{4, -1}, []int{4, 6}}, {[]int64{0, -1}, []int{2, 12}}, {[]int64{0, 0, 2, 2}, []int{2, 3, 2, 2}},
		{[]int64{-1}, []int{24}}, {[]int64{24, 1}, []int{24, 1}},
	}
	for _, c := range cases {
		got := mvtOne(t, "Reshape", nil, x, mvtI64(c.spec...))
		if !tensor.SameShape(got.Shape(), c.want) || got.DataPointer() != x.DataPointer() {
			t.Errorf("reshape %v: got %v, want a view of shape %v", c.spec, got, c.want)
		}
	}
	empty := mvtIota(0, 3)
	az := mvtAttrs{"allowzero": graph.IntAttr(1)}
	mvtCheck(t, mvtOne(t, "Reshape", az, empty, mvtI64(3, 0)), []int{3, 0}, []float32{})
	mvtCheck(t, mvtOne(t, "Reshape", nil, empty, mvtI64(0, -1)), []int{0, 0}, []float32{})
	mvtCheck(t, mvtOne(t, "Reshape", nil, tensor.Scalar(int64(5)), mvtI64(1, 1)), []int{1, 1}, []int64{5})
	mvtErr(t, "more than one -1", "Reshape", nil, 1, x, mvtI64(-1, -1))
	mvtErr(t, "cannot reshape", "Reshape", nil, 1, x, mvtI64(5, -1))
	mvtErr(t, "cannot reshape", "Reshape", nil, 1, x, mvtI64(2, 3))
	mvtErr(t, "invalid dimension", "Reshape", nil, 1, x, mvtI64(-2, 12))
	mvtErr(t, "copies dimension 3", "Reshape", nil, 1, x, mvtI64(1, 1, 1, 0))
	mvtErr(t, "allowzero", "Reshape", az, 1, empty, mvtI64(0, -1))
	mvtErr(t, "too large", "Reshape", nil, 1, x, mvtI64(1<<32, 1<<32, 0))
}

func TestFlattenSqueezeUnsqueeze(t *testing.T) {
	x := mvtIota(2, 1, 3, 1)
	for axis, want := range map[int64][]int{0: {1, 6}, 2: {2, 3}, 4: {6, 1}, -1: {6, 1}, -4: {1, 6}} {
		got := mvtOne(t, "Flatten", mvtAttrs{"axis": graph.IntAttr(axis)}, x)
		if !tensor.SameShape(got.Shape(), want) {
			t.Errorf("flatten axis %d: %v, want %v", axis, got.Shape(), want)
		}
	}
	mvtErr(t, "axis 5", "Flatten", mvtAttrs{"axis": graph.IntAttr(5)}, 1, x)
	shapeOf := func(op string, in ...*tensor.Tensor) []int { return mvtOne(t, op, nil, in...).Shape() }
	if s := shapeOf("Squeeze", x); !tensor.SameShape(s, []int{2, 3}) {
		t.Errorf("squeeze all: %v", s)
	}
	if s := shapeOf("Squeeze", x, mvtI64(-1)); !tensor.SameShape(s, []int{2, 1, 3}) {
		t.Errorf("squeeze -1: %v", s)
	}
	if s := shapeOf("Squeeze", tensor.FromSlice([]int{1}, []int64{3})); len(s) != 0 {
		t.Errorf("squeeze to scalar: %v", s)
	}
	if s := shapeOf("Unsqueeze", mvtIota(3), mvtI64(2, 0)); !tensor.SameShape(s, []int{1, 3, 1}) {
		t.Errorf("unsqueeze [2 0]: %v", s)
	}
	if s := shapeOf("Unsqueeze", tensor.Scalar(float32(1)), mvtI64(-1)); !tensor.SameShape(s, []int{1}) {
		t.Errorf("unsqueeze scalar: %v", s)
	}
	// Opset < 13 form: axes attribute.
	got := mvtOne(t, "Unsqueeze", mvtAttrs{"axes": graph.IntsAttr(1)}, mvtIota(2))
	if !tensor.SameShape(got.Shape(), []int{2, 1}) || got.DataPointer() == nil {
		t.Errorf("unsqueeze attr: %v", got)
	}
	mvtErr(t, "not 1", "Squeeze", nil, 1, x, mvtI64(0))
	mvtErr(t, "out of range", "Squeeze", nil, 1, x, mvtI64(4))
	mvtErr(t, "repeated", "Unsqueeze", nil, 1, x, mvtI64(0, -6))
	mvtErr(t, "axes input is required", "Unsqueeze", nil, 1, x)
}

func TestIdentityDropout(t *testing.T) {
	x := mvtIota(2, 2)
	if got := mvtOne(t, "Identity", nil, x); got != x {
		t.Error("identity should return its input")
	}
	s := tensor.FromSlice([]int{1}, []string{"a"})
	mvtCheck(t, mvtOne(t, "Identity", nil, s), []int{1}, []string{"a"})
	outs, err := mvtRun("Dropout", nil, 2, x, tensor.Scalar(float32(0.3)))
	if err != nil {
		t.Fatal(err)
	}
	if outs[0] != x {
		t.Error("dropout output should be the input")
	}
	mvtCheck(t, outs[1], []int{2, 2}, []bool{true, true, true, true})
	// training_mode with ratio 0 is allowed; with a ratio it is refused.
	if _, err := mvtRun("Dropout", nil, 1, x, tensor.Scalar(float32(0)), tensor.Scalar(true)); err != nil {
		t.Fatal(err)
	}
	mvtErr(t, "training_mode", "Dropout", nil, 1, x, nil, tensor.Scalar(true))
	mvtErr(t, "input 0", "Dropout", nil, 1, nil)
}

func TestConstant(t *testing.T) {
	val := mvtIota(2)
	cases := []struct {
		attrs mvtAttrs
		check func(*tensor.Tensor)
	}{
		{mvtAttrs{"value": graph.TensorAttr(val)}, func(g *tensor.Tensor) { mvtCheck(t, g, []int{2}, []float32{0, 1}) }},
		{mvtAttrs{"value_float": graph.FloatAttr(1.5)}, func(g *tensor.Tensor) { mvtCheck(t, g, []int{}, []float32{1.5}) }},
		{mvtAttrs{"value_floats": graph.FloatsAttr(1, 2)}, func(g *tensor.Tensor) { mvtCheck(t, g, []int{2}, []float32{1, 2}) }},
		{mvtAttrs{"value_int": graph.IntAttr(3)}, func(g *tensor.Tensor) { mvtCheck(t, g, []int{}, []int64{3}) }},
		{mvtAttrs{"value_ints": graph.IntsAttr(3, 4)}, func(g *tensor.Tensor) { mvtCheck(t, g, []int{2}, []int64{3, 4}) }},
		{mvtAttrs{"value_string": graph.StringAttr("s")}, func(g *tensor.Tensor) { mvtCheck(t, g, []int{}, []string{"s"}) }},
		{mvtAttrs{"value_strings": {Type: graph.AttrStrings, Strings: []string{"a", "b"}}},
			func(g *tensor.Tensor) { mvtCheck(t, g, []int{2}, []string{"a", "b"}) }},
	}
	for _, c := range cases {
		c.check(mvtOne(t, "Constant", c.attrs))
	}
	mvtErr(t, "sparse_value", "Constant", mvtAttrs{"sparse_value": {Type: 11}}, 1)
	mvtErr(t, "exactly one", "Constant", nil, 1)
	mvtErr(t, "exactly one", "Constant", mvtAttrs{"value_int": graph.IntAttr(1), "value_float": graph.FloatAttr(1)}, 1)
}

func TestConstantOfShape(t *testing.T) {
	mvtCheck(t, mvtOne(t, "ConstantOfShape", nil, mvtI64(2)), []int{2}, []float32{0, 0})
	v := mvtAttrs{"value": graph.TensorAttr(tensor.FromSlice([]int{1}, []int32{7}))}
	mvtCheck(t, mvtOne(t, "ConstantOfShape", v, mvtI64(1, 2)), []int{1, 2}, []int32{7, 7})
	mvtCheck(t, mvtOne(t, "ConstantOfShape", v, tensor.FromSlice([]int{0}, []int64{})), []int{}, []int32{7})
	mvtCheck(t, mvtOne(t, "ConstantOfShape", v, mvtI64(0)), []int{0}, []int32{})
	neg0 := mvtAttrs{"value": graph.TensorAttr(tensor.FromSlice([]int{1}, []float64{math.Copysign(0, -1)}))}
	got := mvtOne(t, "ConstantOfShape", neg0, mvtI64(2))
	if d := tensor.Data[float64](got); !math.Signbit(d[0]) || !math.Signbit(d[1]) {
		t.Errorf("-0 fill lost its sign: %v", d)
	}
	mvtErr(t, "invalid shape", "ConstantOfShape", nil, 1, mvtI64(-1))
	mvtErr(t, "one element", "ConstantOfShape", mvtAttrs{"value": graph.TensorAttr(mvtIota(2))}, 1, mvtI64(1))
}

func TestRange(t *testing.T) {
	mvtCheck(t, mvtOne(t, "Range", nil, tensor.Scalar(float32(1)), tensor.Scalar(float32(5)), tensor.Scalar(float32(1.5))),
		[]int{3}, []float32{1, 2.5, 4})
	mvtCheck(t, mvtOne(t, "Range", nil, tensor.Scalar(int32(10)), tensor.Scalar(int32(4)), tensor.Scalar(int32(-3))),
		[]int{2}, []int32{10, 7})
	mvtCheck(t, mvtOne(t, "Range", nil, tensor.Scalar(int64(0)), tensor.Scalar(int64(-3)), tensor.Scalar(int64(1))),
		[]int{0}, []int64{})
	big := int64(1) << 60
	mvtCheck(t, mvtOne(t, "Range", nil, tensor.Scalar(big), tensor.Scalar(big+3), tensor.Scalar(int64(2))),
		[]int{2}, []int64{big, big + 2})
	mvtCheck(t, mvtOne(t, "Range", nil, tensor.Scalar(int64(math.MaxInt64)), tensor.Scalar(int64(math.MinInt64)), tensor.Scalar(int64(math.MinInt64))),
		[]int{2}, []int64{math.MaxInt64, -1})
	mvtErr(t, "delta is zero", "Range", nil, 1, tensor.Scalar(int64(0)), tensor.Scalar(int64(1)), tensor.Scalar(int64(0)))
	mvtErr(t, "does not match", "Range", nil, 1, tensor.Scalar(int64(0)), tensor.Scalar(int32(1)), tensor.Scalar(int64(1)))
	mvtErr(t, "too long", "Range", nil, 1, tensor.Scalar(0.0), tensor.Scalar(math.Inf(1)), tensor.Scalar(1.0))
	mvtErr(t, "too long", "Range", nil, 1, tensor.Scalar(int64(math.MinInt64)), tensor.Scalar(int64(math.MaxInt64)), tensor.Scalar(int64(1)))
	mvtErr(t, "too long", "Range", nil, 1, tensor.Scalar(int64(math.MaxInt64)), tensor.Scalar(int64(math.MinInt64)), tensor.Scalar(int64(-1)))
	mvtErr(t, "unsupported dtype", "Range", nil, 1, tensor.Scalar(uint8(0)), tensor.Scalar(uint8(1)), tensor.Scalar(uint8(1)))
}

func TestEyeLike(t *testing.T) {
	x := tensor.MustNew(tensor.Int32, 2, 3)
	mvtCheck(t, mvtOne(t, "EyeLike", nil, x), []int{2, 3}, []int32{1, 0, 0, 0, 1, 0})
	mvtCheck(t, mvtOne(t, "EyeLike", mvtAttrs{"k": graph.IntAttr(1), "dtype": graph.IntAttr(int64(tensor.Float64))}, x),
		[]int{2, 3}, []float64{0, 1, 0, 0, 0, 1})
	mvtCheck(t, mvtOne(t, "EyeLike", mvtAttrs{"k": graph.IntAttr(-1), "dtype": graph.IntAttr(int64(tensor.Bool))}, x),
		[]int{2, 3}, []bool{false, false, false, true, false, false})
	mvtCheck(t, mvtOne(t, "EyeLike", mvtAttrs{"k": graph.IntAttr(5)}, x), []int{2, 3}, make([]int32, 6))
	mvtErr(t, "not 2-D", "EyeLike", nil, 1, mvtIota(3))
	mvtErr(t, "unsupported dtype", "EyeLike", mvtAttrs{"dtype": graph.IntAttr(int64(tensor.String))}, 1, x)
}

// ---- shape inference (graph/infer_shapeops.go) ------------------------------

// mvtInfer builds op(inputs) in a fresh graph with nOut outputs, runs shape
// inference on it and returns the node.
func mvtInfer(t *testing.T, op string, attrs mvtAttrs, nOut int, inputs ...*graph.Value) (*graph.Node, error) {
	t.Helper()
	g := graph.NewGraph("t")
	var outs []*graph.Value
	for i := 0; i < nOut; i++ {
		outs = append(outs, g.NewValue("y"))
	}
	n := g.AddNode(op, inputs, outs, attrs)
	return n, graph.InferNode(n)
}

// mvtVal is a value with a dtype and a shape (-1 = unknown dimension).
func mvtVal(dt tensor.DType, dims ...int64) *graph.Value {
	v := &graph.Value{Name: "x", DType: dt, HasShape: true, Shape: []graph.Dim{}}
	for _, d := range dims {
		v.Shape = append(v.Shape, graph.Dim{Size: d})
	}
	return v
}

// mvtConst is a constant int64 value.
func mvtConst(v ...int64) *graph.Value {
	return &graph.Value{Name: "c", Const: mvtI64(v...), DType: tensor.Int64, HasShape: true, Shape: graph.KnownDims(len(v))}
}

func mvtWantShape(t *testing.T, n *graph.Node, err error, i int, dt tensor.DType, want string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", n.OpType, err)
	}
	v := n.Outputs[i]
	got := "unknown"
	if v.HasShape {
		got = graph.FormatShape(v.Shape)
	}
	if v.DType != dt || got != want {
		t.Fatalf("%s output %d: %v %s, want %v %s", n.OpType, i, v.DType, got, dt, want)
	}
}

func TestInferShapeOps(t *testing.T) {
	f32 := tensor.Float32
	x := mvtVal(f32, 2, 3, 4)
	n, err := mvtInfer(t, "Reshape", nil, 1, x, mvtConst(0, -1))
	mvtWantShape(t, n, err, 0, f32, "[2 12]")
	n, err = mvtInfer(t, "Reshape", nil, 1, mvtVal(f32, -1, 3), mvtConst(0, 3, 1))
	mvtWantShape(t, n, err, 0, f32, "[? 3 1]")
	n, err = mvtInfer(t, "Reshape", nil, 1, x, mvtVal(tensor.Int64, 3))
	mvtWantShape(t, n, err, 0, f32, "[? ? ?]")
	n, err = mvtInfer(t, "Shape", mvtAttrs{"start": graph.IntAttr(1)}, 1, x)
	mvtWantShape(t, n, err, 0, tensor.Int64, "[2]")
	n, err = mvtInfer(t, "Transpose", mvtAttrs{"perm": graph.IntsAttr(2, 0, 1)}, 1, x)
	mvtWantShape(t, n, err, 0, f32, "[4 2 3]")
	n, err = mvtInfer(t, "Concat", mvtAttrs{"axis": graph.IntAttr(-1)}, 1, x, mvtVal(f32, 2, 3, 5))
	mvtWantShape(t, n, err, 0, f32, "[2 3 9]")
	n, err = mvtInfer(t, "Split", mvtAttrs{"axis": graph.IntAttr(2), "num_outputs": graph.IntAttr(3)}, 3, x)
	mvtWantShape(t, n, err, 2, f32, "[2 3 0]")
	n, err = mvtInfer(t, "Split", mvtAttrs{"axis": graph.IntAttr(1)}, 2, x, mvtConst(1, 2))
	mvtWantShape(t, n, err, 1, f32, "[2 2 4]")
	n, err = mvtInfer(t, "Slice", nil, 1, x, mvtConst(-1, 1), mvtConst(math.MinInt64, 100), mvtConst(2, 0), mvtConst(-1, 1))
	mvtWantShape(t, n, err, 0, f32, "[1 3 4]")
	n, err = mvtInfer(t, "Gather", mvtAttrs{"axis": graph.IntAttr(1)}, 1, x, mvtVal(tensor.Int64, 5, 6))
	mvtWantShape(t, n, err, 0, f32, "[2 5 6 4]")
	n, err = mvtInfer(t, "GatherND", mvtAttrs{"batch_dims": graph.IntAttr(1)}, 1, x, mvtVal(tensor.Int64, 2, 7, 1))
	mvtWantShape(t, n, err, 0, f32, "[2 7 4]")
	n, err = mvtInfer(t, "Unsqueeze", nil, 1, x, mvtConst(-1, 0))
	mvtWantShape(t, n, err, 0, f32, "[1 2 3 4 1]")
	n, err = mvtInfer(t, "Squeeze", nil, 1, mvtVal(f32, 1, 3, 1))
	mvtWantShape(t, n, err, 0, f32, "[3]")
	n, err = mvtInfer(t, "Squeeze", nil, 1, mvtVal(f32, -1, 3))
	mvtWantShape(t, n, err, 0, f32, "unknown")
	n, err = mvtInfer(t, "Expand", nil, 1, mvtVal(f32, 3, 1), mvtConst(2, 1, 6))
	mvtWantShape(t, n, err, 0, f32, "[2 3 6]")
	n, err = mvtInfer(t, "Tile", nil, 1, mvtVal(f32, 3, -1), mvtConst(2, 2))
	mvtWantShape(t, n, err, 0, f32, "[6 ?]")
	n, err = mvtInfer(t, "Pad", nil, 1, x, mvtConst(1, 0, 0, -1), nil, mvtConst(0, 2))
	mvtWantShape(t, n, err, 0, f32, "[3 3 3]")
	n, err = mvtInfer(t, "ConstantOfShape", nil, 1, mvtConst(4, 5))
	mvtWantShape(t, n, err, 0, f32, "[4 5]")
	n, err = mvtInfer(t, "DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2)}, 1, mvtVal(f32, 1, 8, 3, 4))
	mvtWantShape(t, n, err, 0, f32, "[1 2 6 8]")
	n, err = mvtInfer(t, "SpaceToDepth", mvtAttrs{"blocksize": graph.IntAttr(2)}, 1, mvtVal(f32, 1, 2, 6, -1))
	mvtWantShape(t, n, err, 0, f32, "[1 8 3 ?]")
	n, err = mvtInfer(t, "TopK", nil, 2, x, mvtConst(2))
	mvtWantShape(t, n, err, 1, tensor.Int64, "[2 3 2]")
	n, err = mvtInfer(t, "NonZero", nil, 1, x)
	mvtWantShape(t, n, err, 0, tensor.Int64, "[3 ?]")
	n, err = mvtInfer(t, "OneHot", mvtAttrs{"axis": graph.IntAttr(0)}, 1, mvtVal(tensor.Int64, 5),
		&graph.Value{Const: tensor.Scalar(float32(10))}, mvtVal(tensor.Int32, 2))
	mvtWantShape(t, n, err, 0, tensor.Int32, "[10 5]")
	n, err = mvtInfer(t, "Constant", mvtAttrs{"value_ints": graph.IntsAttr(1, 2, 3)}, 1)
	mvtWantShape(t, n, err, 0, tensor.Int64, "[3]")
	n, err = mvtInfer(t, "Flatten", mvtAttrs{"axis": graph.IntAttr(-1)}, 1, mvtVal(f32, -1, 3, 4))
	mvtWantShape(t, n, err, 0, f32, "[? 4]")
	n, err = mvtInfer(t, "Dropout", nil, 2, x)
	mvtWantShape(t, n, err, 1, tensor.Bool, "[2 3 4]")
	n, err = mvtInfer(t, "Range", nil, 1, &graph.Value{Const: tensor.Scalar(int64(0)), DType: tensor.Int64},
		&graph.Value{Const: tensor.Scalar(int64(7))}, &graph.Value{Const: tensor.Scalar(int64(3))})
	mvtWantShape(t, n, err, 0, tensor.Int64, "[3]")
}

func TestInferContradictions(t *testing.T) {
	x := mvtVal(tensor.Float32, 2, 3)
	for _, c := range []struct {
		op    string
		attrs mvtAttrs
		in    []*graph.Value
	}{
		{"Reshape", nil, []*graph.Value{x, mvtConst(4, 2)}},
		{"Transpose", mvtAttrs{"perm": graph.IntsAttr(0)}, []*graph.Value{x}},
		{"Concat", mvtAttrs{"axis": graph.IntAttr(0)}, []*graph.Value{x, mvtVal(tensor.Float32, 2, 4)}},
		{"Squeeze", nil, []*graph.Value{x, mvtConst(0)}},
		{"Gather", mvtAttrs{"axis": graph.IntAttr(2)}, []*graph.Value{x, mvtConst(0)}},
		{"DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2)}, []*graph.Value{mvtVal(tensor.Float32, 1, 6, 1, 1)}},
	} {
		if _, err := mvtInfer(t, c.op, c.attrs, 1, c.in...); err == nil {
			t.Errorf("%s: expected a shape inference error", c.op)
		}
	}
}
