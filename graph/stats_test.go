package graph

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

// statsValue makes a float32 value with the given shape (nil dims: rank
// unknown); -1 is an unknown dimension.
func statsValue(g *Graph, name string, dims ...int64) *Value {
	v := g.GetOrAddValue(name)
	v.DType = tensor.Float32
	if dims != nil {
		v.HasShape = true
		v.Shape = make([]Dim, len(dims))
		for i, d := range dims {
			v.Shape[i] = Dim{Size: d}
		}
	}
	return v
}

// statsInit adds a zero float32 initializer of the given shape.
func statsInit(g *Graph, name string, shape ...int) *Value {
	return g.AddInitializer(name, tensor.MustNew(tensor.Float32, shape...))
}

// statsNode builds a node of op over computed values of the given shapes:
// ins[i] and outs[i] are shapes (nil: rank unknown, -1: dimension unknown).
func statsNode(op string, attrs map[string]*Attr, ins, outs [][]int64) *Node {
	g := NewGraph("t")
	var in, out []*Value
	for i, s := range ins {
		in = append(in, statsValue(g, "in"+string(rune('0'+i)), s...))
	}
	for i, s := range outs {
		out = append(out, statsValue(g, "out"+string(rune('0'+i)), s...))
	}
	return g.AddNode(op, in, out, attrs)
}

func TestNodeFLOPs(t *testing.T) {
	const unknown = -1
	ints := func(v ...int64) *Attr { return IntsAttr(v...) }
	for _, tc := range []struct {
		name  string
		op    string
		attrs map[string]*Attr
		ins   [][]int64
		outs  [][]int64
		want  int64
	}{
		// Conv: |Y| = 1*4*8*8 = 256 outputs, each 3*3*3 = 27 MACs.
		{"Conv", "Conv", nil, [][]int64{{1, 3, 8, 8}, {4, 3, 3, 3}, {4}}, [][]int64{{1, 4, 8, 8}}, 2 * 256 * 27},
		// Grouped: W [6, 2, 3, 2]: 12 MACs per output, |Y| = 192.
		{"Conv groups", "Conv", map[string]*Attr{"group": IntAttr(2)}, [][]int64{{2, 4, 6, 5}, {6, 2, 3, 2}}, [][]int64{{2, 6, 4, 4}}, 2 * 192 * 12},
		{"Conv unknown Y", "Conv", nil, [][]int64{{1, 3, 8, 8}, {4, 3, 3, 3}}, [][]int64{nil}, unknown},
		{"Conv unknown W", "Conv", nil, [][]int64{{1, 3, 8, 8}, nil}, [][]int64{{1, 4, 8, 8}}, unknown},
		{"ConvInteger", "ConvInteger", nil, [][]int64{{1, 1, 3, 3}, {1, 1, 2, 2}}, [][]int64{{1, 1, 2, 2}}, 2 * 4 * 4},
		// QLinearConv: x, x_scale, x_zp, w [2, 1, 3, 3], ...: 9 MACs per output.
		{"QLinearConv", "QLinearConv", nil, [][]int64{{1, 1, 5, 5}, {}, {}, {2, 1, 3, 3}, {}, {}, {}, {}}, [][]int64{{1, 2, 3, 3}}, 2 * 18 * 9},
		// ConvTranspose: |X| = 126 inputs, each scattered to 4*3*3 = 36 outputs.
		{"ConvTranspose", "ConvTranspose", nil, [][]int64{{1, 3, 7, 6}, {3, 4, 3, 3}}, [][]int64{{1, 4, 9, 8}}, 2 * 126 * 36},
		{"Gemm", "Gemm", nil, [][]int64{{2, 256}, {256, 10}, {10}}, [][]int64{{2, 10}}, 2 * 2 * 10 * 256},
		{"Gemm transposed", "Gemm", map[string]*Attr{"transA": IntAttr(1), "transB": IntAttr(1)},
			[][]int64{{256, 2}, {10, 256}}, [][]int64{nil}, 2 * 2 * 10 * 256},
		{"Gemm unknown K", "Gemm", nil, [][]int64{{2, -1}, {-1, 10}}, [][]int64{{2, 10}}, unknown},
		{"MatMul batched", "MatMul", nil, [][]int64{{2, 3, 4, 5}, {5, 6}}, [][]int64{{2, 3, 4, 6}}, 2 * 144 * 5},
		{"MatMul vector", "MatMul", nil, [][]int64{{5}, {5, 6}}, [][]int64{{6}}, 2 * 6 * 5},
		{"MatMulInteger", "MatMulInteger", nil, [][]int64{{4, 3}, {3, 2}}, [][]int64{{4, 2}}, 2 * 8 * 3},
		{"QLinearMatMul", "QLinearMatMul", nil, [][]int64{{4, 3}, {}, {}, {3, 2}, {}, {}, {}, {}}, [][]int64{{4, 2}}, 2 * 8 * 3},
		{"MatMul symbolic", "MatMul", nil, [][]int64{{-1, 5}, {5, 6}}, [][]int64{{-1, 6}}, unknown},
		{"Add broadcast", "Add", nil, [][]int64{{2, 3}, {3}}, [][]int64{{2, 3}}, 6},
		{"Relu", "Relu", nil, [][]int64{{2, 3, 4}}, [][]int64{{2, 3, 4}}, 24},
		{"Relu unknown", "Relu", nil, [][]int64{nil}, [][]int64{nil}, unknown},
		{"Relu scalar", "Relu", nil, [][]int64{{}}, [][]int64{{}}, 1},
		{"Relu empty", "Relu", nil, [][]int64{{0, 3}}, [][]int64{{0, 3}}, 0},
		{"BatchNormalization", "BatchNormalization", nil, [][]int64{{2, 3, 4}, {3}, {3}, {3}, {3}}, [][]int64{{2, 3, 4}}, 48},
		{"MaxPool", "MaxPool", map[string]*Attr{"kernel_shape": ints(2, 2)}, [][]int64{{1, 1, 4, 4}}, [][]int64{{1, 1, 2, 2}}, 16},
		{"AveragePool no kernel", "AveragePool", nil, [][]int64{{1, 1, 4, 4}}, [][]int64{{1, 1, 2, 2}}, unknown},
		{"GlobalAveragePool", "GlobalAveragePool", nil, [][]int64{{1, 3, 4, 4}}, [][]int64{{1, 3, 1, 1}}, 48},
		{"ReduceMean", "ReduceMean", nil, [][]int64{{2, 5}}, [][]int64{{2, 1}}, 10},
		{"Reshape", "Reshape", nil, [][]int64{nil, {2}}, [][]int64{nil}, 0},
		{"Softmax", "Softmax", nil, [][]int64{{2, 3}}, [][]int64{{2, 3}}, 18},
		{"LogSoftmax", "LogSoftmax", nil, [][]int64{{2, 3}}, [][]int64{{2, 3}}, 18},
		// LRN size 5: 10 multiply-adds of the window plus 3, per element.
		{"LRN", "LRN", map[string]*Attr{"size": IntAttr(5)}, [][]int64{{1, 8, 2, 2}}, [][]int64{{1, 8, 2, 2}}, 32 * 13},
		{"LRN no size", "LRN", nil, [][]int64{{1, 8, 2, 2}}, [][]int64{{1, 8, 2, 2}}, unknown},
		{"Hardmax", "Hardmax", nil, [][]int64{{2, 3}}, [][]int64{{2, 3}}, unknown},
		{"overflow", "Relu", nil, [][]int64{{1 << 40, 1 << 40}}, [][]int64{{1 << 40, 1 << 40}}, unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := statsNode(tc.op, tc.attrs, tc.ins, tc.outs)
			got, ok := NodeFLOPs(n)
			if tc.want == unknown {
				if ok {
					t.Errorf("NodeFLOPs = %d, want unknown", got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Errorf("NodeFLOPs = %d, %v; want %d", got, ok, tc.want)
			}
		})
	}
}

func TestNodeFLOPsOtherDomain(t *testing.T) {
	n := statsNode("Relu", nil, [][]int64{{2}}, [][]int64{{2}})
	n.Domain = "com.microsoft"
	if _, ok := NodeFLOPs(n); ok {
		t.Error("an op of another domain got a FLOP count")
	}
	if ns := NodeStatsOf(n); ns.Op != "com.microsoft.Relu" || ns.FLOPs != nil {
		t.Errorf("NodeStatsOf = %+v", ns)
	}
}

// TestNodeStatsParams: a node reading the same initializer twice counts it
// once; computed inputs are not parameters.
func TestNodeStatsParams(t *testing.T) {
	g := NewGraph("t")
	w := statsInit(g, "w", 2, 3)
	x := statsValue(g, "x", 2, 3)
	y := statsValue(g, "y", 2, 3)
	n := g.AddNode("Mul", []*Value{w, w}, []*Value{y}, nil)
	n.Name = "sq"
	ns := NodeStatsOf(n)
	if ns.Params != 6 || ns.ParamBytes != 24 || ns.Name != "sq" || ns.Op != "Mul" {
		t.Errorf("NodeStatsOf(w*w) = %+v, want 6 params, 24 bytes", ns)
	}
	n2 := g.AddNode("Add", []*Value{x, w}, []*Value{g.GetOrAddValue("z")}, nil)
	if ns := NodeStatsOf(n2); ns.Params != 6 || ns.FLOPs != nil {
		t.Errorf("NodeStatsOf(x+w) = %+v, want 6 params and unknown FLOPs (z has no shape)", ns)
	}
}

func TestValueStatsOf(t *testing.T) {
	g := NewGraph("t")
	sym := g.GetOrAddValue("x")
	sym.DType, sym.HasShape = tensor.Int8, true
	sym.Shape = []Dim{{Size: -1, Param: "batch"}, {Size: 4}, {Size: -1}}
	scalar := statsValue(g, "s")
	scalar.HasShape, scalar.Shape = true, []Dim{}
	for _, tc := range []struct {
		v    *Value
		want ValueStats
	}{
		{sym, ValueStats{Name: "x", DType: "int8", Shape: []int64{-1, 4, -1}, ShapeText: "[batch 4 ?]"}},
		{scalar, ValueStats{Name: "s", DType: "float32", Shape: []int64{}, ShapeText: "[]"}},
		{g.GetOrAddValue("u"), ValueStats{Name: "u", DType: "unknown", ShapeText: "?"}},
	} {
		if got := ValueStatsOf(tc.v); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ValueStatsOf(%s) = %+v, want %+v", tc.v.Name, got, tc.want)
		}
	}
	b, _ := json.Marshal(ValueStatsOf(scalar))
	if !strings.Contains(string(b), `"shape":[]`) {
		t.Errorf("scalar JSON %s, want \"shape\":[]", b)
	}
	b, _ = json.Marshal(ValueStatsOf(g.GetOrAddValue("u")))
	if !strings.Contains(string(b), `"shape":null`) {
		t.Errorf("unknown-rank JSON %s, want \"shape\":null", b)
	}
}

// statsModel builds
//
//	x [1 3 8 8] -Conv(W [4 3 3 3], B [4], pads 1)-> c [1 4 8 8] -Relu-> r
//	-Flatten-> f [1 256] -Gemm(W2 [10 256] transB, B2 [10])-> o [1 10]
//	-Hardmax-> p [1 10] -Reshape(shape int64 [2])-> y [10 1]
//
// plus an initializer no node reads (5 floats).
func statsModel() *Model {
	g := NewGraph("small")
	x := statsValue(g, "x", 1, 3, 8, 8)
	g.Inputs = []*Value{x}
	shape := g.AddInitializer("shape", tensor.FromSlice([]int{2}, []int64{10, 1}))
	statsInit(g, "unused", 5)
	conv := g.AddNode("Conv", []*Value{x, statsInit(g, "W", 4, 3, 3, 3), statsInit(g, "B", 4)},
		[]*Value{statsValue(g, "c", 1, 4, 8, 8)}, map[string]*Attr{"pads": IntsAttr(1, 1, 1, 1), "kernel_shape": IntsAttr(3, 3)})
	conv.Name = "conv1"
	g.AddNode("Relu", []*Value{g.Value("c")}, []*Value{statsValue(g, "r", 1, 4, 8, 8)}, nil)
	g.AddNode("Flatten", []*Value{g.Value("r")}, []*Value{statsValue(g, "f", 1, 256)}, nil)
	g.AddNode("Gemm", []*Value{g.Value("f"), statsInit(g, "W2", 10, 256), statsInit(g, "B2", 10)},
		[]*Value{statsValue(g, "o", 1, 10)}, map[string]*Attr{"transB": IntAttr(1)})
	g.AddNode("Hardmax", []*Value{g.Value("o")}, []*Value{statsValue(g, "p", 1, 10)}, nil)
	y := statsValue(g, "y", 10, 1)
	g.AddNode("Reshape", []*Value{g.Value("p"), shape}, []*Value{y}, nil)
	g.Outputs = []*Value{y}
	m := NewModel(g, 17)
	m.ProducerName, m.ProducerVersion, m.IRVersion = "test", "1.0", 8
	m.Opsets["com.example"] = 1
	return m
}

func TestComputeStats(t *testing.T) {
	s, err := ComputeStats(statsModel())
	if err != nil {
		t.Fatal(err)
	}
	if s.ShapeError != "" {
		t.Fatalf("shape error %s", s.ShapeError)
	}
	// Conv 2*256*27 + Relu 256 + Gemm 2*1*10*256; Hardmax unknown.
	const flops = 2*256*27 + 256 + 2*10*256
	if s.FLOPs != flops || s.FLOPsComplete || s.FLOPsUnknownNodes != 1 || !reflect.DeepEqual(s.FLOPsUnknownOps, []string{"Hardmax"}) {
		t.Errorf("flops %d complete %v unknown %d %v; want %d, false, 1 [Hardmax]", s.FLOPs, s.FLOPsComplete, s.FLOPsUnknownNodes, s.FLOPsUnknownOps, flops)
	}
	// Floats: W 108 + B 4 + W2 2560 + B2 10 + unused 5; int64: shape 2.
	wantBy := map[string]ParamTotal{"float32": {Params: 2687, Bytes: 2687 * 4}, "int64": {Params: 2, Bytes: 16}}
	if s.Params != 2689 || s.ParamBytes != 2687*4+16 || !reflect.DeepEqual(s.ParamsByDType, wantBy) {
		t.Errorf("params %d bytes %d by dtype %v", s.Params, s.ParamBytes, s.ParamsByDType)
	}
	wantHist := map[string]int{"Conv": 1, "Relu": 1, "Flatten": 1, "Gemm": 1, "Hardmax": 1, "Reshape": 1}
	if s.NodeCount != 6 || !reflect.DeepEqual(s.OpHistogram, wantHist) {
		t.Errorf("%d nodes, histogram %v", s.NodeCount, s.OpHistogram)
	}
	if s.Opset != 17 || !reflect.DeepEqual(s.Opsets, map[string]int64{"ai.onnx": 17, "com.example": 1}) ||
		s.ProducerName != "test" || s.ProducerVersion != "1.0" || s.IRVersion != 8 || s.Graph != "small" {
		t.Errorf("model facts %+v", s)
	}
	if len(s.Inputs) != 1 || s.Inputs[0].ShapeText != "[1 3 8 8]" || len(s.Outputs) != 1 || s.Outputs[0].ShapeText != "[10 1]" {
		t.Errorf("inputs %+v outputs %+v", s.Inputs, s.Outputs)
	}
	conv := s.Nodes[0]
	if conv.Name != "conv1" || conv.Params != 112 || conv.ParamBytes != 448 || conv.FLOPs == nil || *conv.FLOPs != 2*256*27 {
		t.Errorf("conv stats %+v", conv)
	}
	if rs := s.Nodes[5]; rs.Op != "Reshape" || rs.Params != 2 || rs.FLOPs == nil || *rs.FLOPs != 0 {
		t.Errorf("reshape stats %+v", rs)
	}
}

// TestComputeStatsJSONKeys pins the snake_case keys scripts read.
func TestComputeStatsJSONKeys(t *testing.T) {
	s, err := ComputeStats(statsModel())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"producer_name"`, `"ir_version"`, `"opset"`, `"node_count"`, `"op_histogram"`,
		`"params"`, `"param_bytes"`, `"params_by_dtype"`, `"flops"`, `"flops_complete"`, `"flops_unknown_ops"`,
		`"nodes"`, `"shape_text"`, `"flops":null`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestComputeStatsErrors(t *testing.T) {
	if _, err := ComputeStats(&Model{}); err == nil {
		t.Error("a model without a graph gave no error")
	}
	g := NewGraph("cycle")
	a, b := g.GetOrAddValue("a"), g.GetOrAddValue("b")
	g.AddNode("Identity", []*Value{b}, []*Value{a}, nil)
	g.AddNode("Identity", []*Value{a}, []*Value{b}, nil)
	g.Outputs = []*Value{a}
	if _, err := ComputeStats(NewModel(g, 13)); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cyclic graph: err = %v, want a cycle error", err)
	}
}

// TestComputeStatsShapeContradiction: shapes that cannot broadcast are
// reported in ShapeError, not as a failure.
func TestComputeStatsShapeContradiction(t *testing.T) {
	if !HasShapeFunc("Add") {
		t.Skip("no shape function for Add yet")
	}
	g := NewGraph("bad")
	x, y := statsValue(g, "x", 2, 3), statsValue(g, "y", 4, 3)
	g.Inputs = []*Value{x, y}
	z := g.GetOrAddValue("z")
	g.AddNode("Add", []*Value{x, y}, []*Value{z}, nil)
	g.Outputs = []*Value{z}
	s, err := ComputeStats(NewModel(g, 13))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.ShapeError, "broadcast") || s.FLOPsComplete {
		t.Errorf("shape error %q, flops complete %v", s.ShapeError, s.FLOPsComplete)
	}
}
