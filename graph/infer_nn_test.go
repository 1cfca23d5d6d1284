package graph

import (
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

func TestWindowAxis(t *testing.T) {
	cases := []struct {
		name        string
		w           Window
		in          int
		out, pb, pe int
		wantErr     bool
	}{
		{"floor", Window{Kernel: []int{3}, Strides: []int{2}, Pads: []int{1, 0}}, 8, 4, 1, 0, false},
		{"ceil", Window{Kernel: []int{3}, Strides: []int{2}, Pads: []int{1, 0}, CeilMode: true}, 8, 4, 1, 0, false},
		{"ceil adds", Window{Kernel: []int{2}, Strides: []int{2}, CeilMode: true}, 5, 3, 0, 0, false},
		{"ceil drops window in end padding", Window{Kernel: []int{2}, Strides: []int{2}, Pads: []int{0, 1}, CeilMode: true}, 4, 2, 0, 1, false},
		{"dilation", Window{Kernel: []int{3}, Dilations: []int{3}}, 7, 1, 0, 0, false},
		{"valid ignores pads", Window{Kernel: []int{3}, Strides: []int{2}, Pads: []int{5, 5}, AutoPad: "VALID"}, 8, 3, 0, 0, false},
		{"same upper", Window{Kernel: []int{4}, Strides: []int{3}, AutoPad: "SAME_UPPER"}, 9, 3, 0, 1, false},
		{"same lower", Window{Kernel: []int{4}, Strides: []int{3}, AutoPad: "SAME_LOWER"}, 9, 3, 1, 0, false},
		{"same no padding needed", Window{Kernel: []int{1}, Strides: []int{4}, AutoPad: "SAME_UPPER"}, 9, 3, 0, 0, false},
		{"kernel too big", Window{Kernel: []int{5}}, 4, 0, 0, 0, true},
	}
	for _, c := range cases {
		w, err := c.w.Spatial(1, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out, pb, pe, err := w.Axis(0, c.in)
		if (err != nil) != c.wantErr || err == nil && (out != c.out || pb != c.pb || pe != c.pe) {
			t.Errorf("%s: got %d (pads %d, %d) err %v, want %d (pads %d, %d) err %v", c.name, out, pb, pe, err, c.out, c.pb, c.pe, c.wantErr)
		}
	}
}

func TestWindowTransposeAxis(t *testing.T) {
	w, _ := Window{Kernel: []int{3}, Strides: []int{2}, Pads: []int{1, 2}}.Spatial(1, nil)
	if out, pb, err := w.TransposeAxis(0, 4, 1, -1); err != nil || out != 2*3+1+3-3 || pb != 1 {
		t.Fatalf("pads: out %d pb %d err %v", out, pb, err)
	}
	if out, pb, err := w.TransposeAxis(0, 4, 0, 7); err != nil || out != 7 || pb != 1 { // total 2: 1 at the start
		t.Fatalf("output_shape: out %d pb %d err %v", out, pb, err)
	}
	if out, pb, err := w.TransposeAxis(0, 4, 0, 12); err != nil || out != 12 || pb != 0 {
		t.Fatalf("larger output_shape: out %d pb %d err %v", out, pb, err)
	}
	w.AutoPad = "SAME_UPPER"
	if out, pb, err := w.TransposeAxis(0, 4, 0, -1); err != nil || out != 8 || pb != 0 { // total 1, at the end
		t.Fatalf("same upper: out %d pb %d err %v", out, pb, err)
	}
	w.AutoPad, w.Pads = "NOTSET", []int{5, 5}
	if _, _, err := w.TransposeAxis(0, 2, 0, -1); err == nil {
		t.Fatal("pads larger than the output must fail")
	}
}

func TestWindowAttributes(t *testing.T) {
	bad := []map[string]*Attr{
		{"auto_pad": StringAttr("SAME")},
		{"strides": IntsAttr(0)},
		{"dilations": IntsAttr(-1)},
		{"pads": IntsAttr(-1, 0)},
		{"kernel_shape": IntsAttr(1 << 40)},
	}
	for _, a := range bad {
		if _, err := NodeWindow(&Node{OpType: "Conv", Attrs: a}); err == nil {
			t.Errorf("attributes %v: expected an error", a)
		}
	}
	w := Window{Strides: []int{1, 1}}
	if _, err := w.Spatial(3, []int{1, 1, 1}); err == nil {
		t.Error("strides of the wrong length must fail")
	}
	if _, err := (Window{Kernel: []int{2, 2}}).Spatial(2, []int{3, 3}); err == nil {
		t.Error("kernel_shape contradicting the weight must fail")
	}
	if _, err := (Window{}).Spatial(2, nil); err == nil {
		t.Error("a pool without kernel_shape must fail")
	}
}

// nnNode builds a node whose inputs have the given dtypes and shapes (nil
// shape: unknown) and nOut fresh outputs.
func nnNode(op string, attrs map[string]*Attr, nOut int, ins ...*Value) *Node {
	n := &Node{OpType: op, Attrs: attrs, Inputs: ins}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, &Value{Name: "y"})
	}
	return n
}

func nnVal(dt tensor.DType, dims ...Dim) *Value {
	return &Value{DType: dt, Shape: dims, HasShape: true}
}

func nnInfer(t *testing.T, n *Node) {
	t.Helper()
	if err := InferNode(n); err != nil {
		t.Fatalf("%v: %v", n.OpType, err)
	}
}

func nnWant(t *testing.T, v *Value, dt tensor.DType, shape string) {
	t.Helper()
	if v.DType != dt || !v.HasShape || FormatShape(v.Shape) != shape {
		t.Fatalf("got %v (has shape %v), want %v%s", v, v.HasShape, dt, shape)
	}
}

func TestInferConvAndPools(t *testing.T) {
	batch := Dim{Size: -1, Param: "N"}
	x := nnVal(tensor.Float32, batch, Dim{Size: 3}, Dim{Size: 224}, Dim{Size: -1})
	w := nnVal(tensor.Float32, KnownDims(64, 3, 7, 7)...)
	n := nnNode("Conv", map[string]*Attr{"strides": IntsAttr(2, 2), "pads": IntsAttr(3, 3, 3, 3)}, 1, x, w)
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float32, "[N 64 112 ?]")

	n = nnNode("Conv", map[string]*Attr{"group": IntAttr(2)}, 1, x, w)
	if err := InferNode(n); err == nil {
		t.Fatal("channel mismatch must fail")
	}

	n = nnNode("MaxPool", map[string]*Attr{"kernel_shape": IntsAttr(3, 3), "strides": IntsAttr(2, 2), "ceil_mode": IntAttr(1)}, 2,
		nnVal(tensor.Uint8, KnownDims(1, 8, 112, 112)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Uint8, "[1 8 56 56]")
	nnWant(t, n.Outputs[1], tensor.Int64, "[1 8 56 56]")

	n = nnNode("GlobalAveragePool", nil, 1, nnVal(tensor.Float64, batch, Dim{Size: 8}, Dim{Size: 7}, Dim{Size: 7}))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float64, "[N 8 1 1]")

	n = nnNode("ConvTranspose", map[string]*Attr{"strides": IntsAttr(3, 2), "output_padding": IntsAttr(1, 1), "group": IntAttr(2)}, 1,
		nnVal(tensor.Float32, KnownDims(1, 4, 3, 3)...), nnVal(tensor.Float32, KnownDims(4, 3, 3, 3)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float32, "[1 6 10 8]")

	n = nnNode("QLinearConv", nil, 1, nnVal(tensor.Uint8, KnownDims(1, 2, 5, 5)...), nil, nil,
		nnVal(tensor.Int8, KnownDims(4, 2, 3, 3)...), nil, nil, nil, nnVal(tensor.Int8))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Int8, "[1 4 3 3]")

	n = nnNode("ConvInteger", nil, 1, nnVal(tensor.Uint8, KnownDims(1, 2, 5, 5)...), nnVal(tensor.Uint8, KnownDims(4, 2, 3, 3)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Int32, "[1 4 3 3]")
}

func TestInferMatMulAndGemm(t *testing.T) {
	cases := []struct {
		a, b []Dim
		want string
	}{
		{KnownDims(3), KnownDims(3), "[]"},
		{KnownDims(3), KnownDims(2, 3, 4), "[2 4]"},
		{[]Dim{{Size: -1, Param: "B"}, {Size: 5}, {Size: 3}}, KnownDims(3, 4), "[B 5 4]"},
		{KnownDims(2, 1, 5, 3), KnownDims(7, 3, 4), "[2 7 5 4]"},
	}
	for _, c := range cases {
		n := nnNode("MatMul", nil, 1, nnVal(tensor.Float32, c.a...), nnVal(tensor.Float32, c.b...))
		nnInfer(t, n)
		nnWant(t, n.Outputs[0], tensor.Float32, c.want)
	}
	n := nnNode("MatMul", nil, 1, nnVal(tensor.Float32, KnownDims(2, 3)...), nnVal(tensor.Float32, KnownDims(2, 3)...))
	if err := InferNode(n); err == nil {
		t.Fatal("inner mismatch must fail")
	}
	n = nnNode("MatMulInteger", nil, 1, nnVal(tensor.Uint8, KnownDims(2, 3)...), nnVal(tensor.Uint8, KnownDims(3, 4)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Int32, "[2 4]")

	n = nnNode("Gemm", map[string]*Attr{"transA": IntAttr(1), "transB": IntAttr(1)}, 1,
		nnVal(tensor.Float32, KnownDims(3, 2)...), nnVal(tensor.Float32, KnownDims(5, 3)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float32, "[2 5]")
	n = nnNode("Gemm", nil, 1, nnVal(tensor.Float32, KnownDims(3, 2)...), nnVal(tensor.Float32, KnownDims(5, 3)...))
	if err := InferNode(n); err == nil {
		t.Fatal("Gemm inner mismatch must fail")
	}
}

func TestInferNormAndQuant(t *testing.T) {
	x := nnVal(tensor.Float16, KnownDims(2, 3, 4)...)
	n := nnNode("LayerNormalization", map[string]*Attr{"axis": IntAttr(-2)}, 3, x, nnVal(tensor.Float16, KnownDims(3, 4)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float16, "[2 3 4]")
	nnWant(t, n.Outputs[1], tensor.Float32, "[2 1 1]")
	nnWant(t, n.Outputs[2], tensor.Float32, "[2 1 1]")

	n = nnNode("BatchNormalization", map[string]*Attr{"training_mode": IntAttr(1)}, 3, x, nil, nil, nnVal(tensor.Float32, KnownDims(3)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float16, "[2 3 4]")
	nnWant(t, n.Outputs[2], tensor.Float32, "[3]")

	n = nnNode("QuantizeLinear", nil, 1, nnVal(tensor.Float32, KnownDims(2)...), nnVal(tensor.Float32), nnVal(tensor.Int8))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Int8, "[2]")
	n = nnNode("QuantizeLinear", map[string]*Attr{"output_dtype": IntAttr(int64(tensor.Uint16))}, 1, nnVal(tensor.Float32, KnownDims(2)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Uint16, "[2]")

	n = nnNode("DequantizeLinear", nil, 1, nnVal(tensor.Int8, KnownDims(2)...), nnVal(tensor.Float16))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Float16, "[2]")

	n = nnNode("DynamicQuantizeLinear", nil, 3, nnVal(tensor.Float32, KnownDims(5)...))
	nnInfer(t, n)
	nnWant(t, n.Outputs[0], tensor.Uint8, "[5]")
	nnWant(t, n.Outputs[1], tensor.Float32, "[]")
	nnWant(t, n.Outputs[2], tensor.Uint8, "[]")
}

// TestFlattenKeepsSymbol: Flatten of [batch, 16, 4, 4] at axis 1 is
// [batch, 256]; two symbols (or a symbol times 4) make an unknown.
func TestFlattenKeepsSymbol(t *testing.T) {
	for _, c := range []struct {
		axis int64
		in   []Dim
		want string
	}{
		{1, []Dim{{Size: -1, Param: "batch"}, {Size: 16}, {Size: 4}, {Size: 4}}, "[batch 256]"},
		{2, []Dim{{Size: -1, Param: "batch"}, {Size: 1}, {Size: 4}}, "[batch 4]"},
		{2, []Dim{{Size: -1, Param: "batch"}, {Size: -1, Param: "seq"}, {Size: 4}}, "[? 4]"},
		{2, []Dim{{Size: -1, Param: "batch"}, {Size: 3}, {Size: 4}}, "[? 4]"},
	} {
		g := NewGraph("flatten")
		x := g.GetOrAddValue("x")
		x.DType, x.Shape, x.HasShape = tensor.Float32, c.in, true
		g.Inputs = []*Value{x}
		y := g.GetOrAddValue("y")
		g.AddNode("Flatten", []*Value{x}, []*Value{y}, map[string]*Attr{"axis": IntAttr(c.axis)})
		g.Outputs = []*Value{y}
		if err := InferShapes(g); err != nil {
			t.Fatal(err)
		}
		if got := FormatShape(y.Shape); got != c.want {
			t.Errorf("Flatten(%s, axis %d) = %s, want %s", FormatShape(c.in), c.axis, got, c.want)
		}
	}
}
