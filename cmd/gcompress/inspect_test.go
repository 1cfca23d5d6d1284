package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
)

// runCLI runs gcompress in-process with args and returns what it printed on
// stdout and the error RunE returned.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// inspectJSON runs `inspect --json` on model and decodes the report.
func inspectJSON(t *testing.T, model string, extra ...string) *inspectReport {
	t.Helper()
	out, err := runCLI(t, append([]string{"inspect", "--json", model}, extra...)...)
	if err != nil {
		t.Fatalf("inspect %s: %v", model, err)
	}
	r := &inspectReport{}
	if err := json.Unmarshal([]byte(out), r); err != nil {
		t.Fatalf("inspect --json output is not JSON: %v\n%s", err, out)
	}
	return r
}

// TestInspectConvStridesPadding: ONNX's node test, Conv of x [1 1 7 5] with
// W [1 1 3 3] (a graph input, so no initializers), strides 2, pads 1 ->
// y [1 1 4 3]. Each of the 12 outputs is a 1*3*3 = 9-term dot product:
// 108 MACs = 216 FLOPs.
func TestInspectConvStridesPadding(t *testing.T) {
	model := filepath.Join(testdata.RequireONNX(t), "node", "test_conv_with_strides_padding", "model.onnx")
	r := inspectJSON(t, model)
	if r.FLOPs != 216 || !r.FLOPsComplete || r.Params != 0 || r.ParamBytes != 0 {
		t.Errorf("flops %d (complete %v), params %d (%d bytes); want 216, true, 0, 0", r.FLOPs, r.FLOPsComplete, r.Params, r.ParamBytes)
	}
	if !reflect.DeepEqual(r.OpHistogram, map[string]int{"Conv": 1}) || r.NodeCount != 1 {
		t.Errorf("histogram %v, %d nodes", r.OpHistogram, r.NodeCount)
	}
	if len(r.Inputs) != 2 || r.Inputs[0].Name != "x" || r.Inputs[1].Name != "W" {
		t.Errorf("inputs %+v, want x and W", r.Inputs)
	}
	if len(r.Outputs) != 1 || !reflect.DeepEqual(r.Outputs[0].Shape, []int64{1, 1, 4, 3}) || r.Outputs[0].DType != "float32" {
		t.Errorf("outputs %+v, want y float32 [1 1 4 3]", r.Outputs)
	}
	if r.FileOpset != 11 || r.Opset != 13 || r.IRVersion <= 0 || r.ProducerName != "backend-test" {
		t.Errorf("file opset %d, opset %d, ir %d, producer %q", r.FileOpset, r.Opset, r.IRVersion, r.ProducerName)
	}
	st, err := os.Stat(model)
	if err != nil || r.FileBytes != st.Size() {
		t.Errorf("file_bytes %d, want the file size (%v)", r.FileBytes, err)
	}
	if n := r.Nodes[0]; n.FLOPs == nil || *n.FLOPs != 216 || n.Op != "Conv" {
		t.Errorf("node %+v", n)
	}
}

// TestInspectPytorchConv: torch.nn.Conv2d(4, 6, kernel_size=(3, 2),
// groups=2) on x [2 4 6 5] -> y [2 6 4 4] (6-3+1, 5-2+1). Weight
// [6, 4/2, 3, 2] = 72 floats plus bias 6 = 78 params (312 bytes); each of
// the 2*6*4*4 = 192 outputs is a 2*3*2 = 12-term dot product: 2304 MACs =
// 4608 FLOPs (the bias addition is not counted).
func TestInspectPytorchConv(t *testing.T) {
	model := filepath.Join(testdata.RequireONNX(t), "pytorch-converted", "test_Conv2d_groups", "model.onnx")
	r := inspectJSON(t, model)
	if r.Params != 78 || r.ParamBytes != 312 || r.ParamsByDType["float32"] != (graph.ParamTotal{Params: 78, Bytes: 312}) {
		t.Errorf("params %d, %d bytes, by dtype %v; want 78, 312", r.Params, r.ParamBytes, r.ParamsByDType)
	}
	if r.FLOPs != 4608 || !r.FLOPsComplete {
		t.Errorf("flops %d (complete %v), want 4608", r.FLOPs, r.FLOPsComplete)
	}
	if n := r.Nodes[0]; n.Params != 78 || n.ParamBytes != 312 || !reflect.DeepEqual(n.Outputs[0].Shape, []int64{2, 6, 4, 4}) {
		t.Errorf("node %+v", n)
	}
	if r.ProducerName != "pytorch" || r.FileOpset != 6 {
		t.Errorf("producer %q, file opset %d", r.ProducerName, r.FileOpset)
	}
}

// TestInspectPytorchLinear: torch.nn.Linear(10, 8) on x [4 10] is a Gemm:
// 4*8*10 = 320 MACs = 640 FLOPs; W [8 10] + b [8] = 88 params.
func TestInspectPytorchLinear(t *testing.T) {
	r := inspectJSON(t, filepath.Join(testdata.RequireONNX(t), "pytorch-converted", "test_Linear", "model.onnx"))
	if r.FLOPs != 640 || r.Params != 88 || r.OpHistogram["Gemm"] != 1 {
		t.Errorf("flops %d params %d histogram %v; want 640, 88, Gemm 1", r.FLOPs, r.Params, r.OpHistogram)
	}
}

// TestInspectText checks the human-readable report's sections and that the
// per-layer table is aligned.
func TestInspectText(t *testing.T) {
	model := filepath.Join(testdata.RequireONNX(t), "pytorch-converted", "test_Conv2d_groups", "model.onnx")
	out, err := runCLI(t, "inspect", model)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"file:", "(601 B on disk)", "producer:    pytorch 0.3", "opset:       13 (file declares 6",
		"ir version:  3", "inputs:      0 float32 [2 4 6 5]", "outputs:     3 float32 [2 6 4 4]",
		"params:      78 (312 B; float32 78)", "FLOPs:       4.61K (4,608)", "nodes:       1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	lines := strings.Split(out, "\n")
	var header, row string
	for i, l := range lines {
		if strings.HasPrefix(l, "NAME") && i+1 < len(lines) {
			header, row = l, lines[i+1]
		}
	}
	if header == "" {
		t.Fatalf("no layer table:\n%s", out)
	}
	if strings.Index(header, "OUTPUT") != strings.Index(row, "[2 6 4 4]") ||
		strings.Index(header, "FLOPS") != strings.Index(row, "4.61K") {
		t.Errorf("layer table not aligned:\n%s\n%s", header, row)
	}
}

// inspectSymbolicModel writes y = Relu(x), x float32 [batch 4], and returns
// its path.
func inspectSymbolicModel(t *testing.T) string {
	t.Helper()
	g := graph.NewGraph("sym")
	x := g.GetOrAddValue("x")
	x.DType, x.Shape, x.HasShape = tensor.Float32, []graph.Dim{{Size: -1, Param: "batch"}, {Size: 4}}, true
	y := g.GetOrAddValue("y")
	y.DType = tensor.Float32
	g.Inputs, g.Outputs = []*graph.Value{x}, []*graph.Value{y}
	g.AddNode("Relu", []*graph.Value{x}, []*graph.Value{y}, nil).Name = "relu"
	p := filepath.Join(t.TempDir(), "sym.onnx")
	if err := onnx.Save(graph.NewModel(g, 13), p, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInspectSymbolic: a symbolic batch leaves the FLOPs unknown (null, the
// total marked incomplete) until --dim fixes it.
func TestInspectSymbolic(t *testing.T) {
	model := inspectSymbolicModel(t)
	r := inspectJSON(t, model)
	if r.FLOPsComplete || r.FLOPsUnknownNodes != 1 || !reflect.DeepEqual(r.FLOPsUnknownOps, []string{"Relu"}) || r.Nodes[0].FLOPs != nil {
		t.Errorf("complete %v, unknown %d %v, node flops %v; want the Relu unknown", r.FLOPsComplete, r.FLOPsUnknownNodes, r.FLOPsUnknownOps, r.Nodes[0].FLOPs)
	}
	if in := r.Inputs[0]; !reflect.DeepEqual(in.Shape, []int64{-1, 4}) || in.ShapeText != "[batch 4]" {
		t.Errorf("input %+v", in)
	}
	out, err := runCLI(t, "inspect", model)
	if err != nil || !strings.Contains(out, "unknown: 1 node(s) have no count: Relu") {
		t.Errorf("text report (err %v) does not say the FLOPs are incomplete:\n%s", err, out)
	}

	r = inspectJSON(t, model, "--dim", "batch=3")
	if !reflect.DeepEqual(r.Inputs[0].Shape, []int64{3, 4}) {
		t.Errorf("--dim batch=3: input shape %v", r.Inputs[0].Shape)
	}
	if graph.HasShapeFunc("Relu") && (r.FLOPs != 12 || !r.FLOPsComplete) {
		t.Errorf("--dim batch=3: flops %d (complete %v), want 12", r.FLOPs, r.FLOPsComplete)
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sym := inspectSymbolicModel(t)
	for _, tc := range []struct {
		name  string
		args  []string
		want  string
		usage bool
	}{
		{"missing file", []string{filepath.Join(dir, "nope.onnx")}, "no such file", false},
		{"corrupt file", []string{write("garbage.onnx", []byte("\xff\xff\xff\xff not protobuf"))}, "not an ONNX model", false},
		{"empty file", []string{write("empty.onnx", nil)}, "empty", false},
		{"directory", []string{dir}, "directory", false},
		{"no model", nil, "arg", true},
		{"bad --dim", []string{sym, "--dim", "batch"}, "NAME=SIZE", true},
		{"unknown --dim", []string{sym, "--dim", "seq=3"}, `"seq"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCLI(t, append([]string{"inspect", "--json"}, tc.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if got := errors.As(err, new(usageError)); got != tc.usage {
				t.Errorf("usage error %v, want %v (%v)", got, tc.usage, err)
			}
		})
	}
}

func TestInspectHumanNumbers(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1.00K", 4608: "4.61K", 99949: "99.9K",
		999499: "999K", 999500: "1.00M", 8_205_000_000: "8.21G"} {
		if got := inspectCount(n); got != want {
			t.Errorf("inspectCount(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 12: "12", 1234: "1,234", 1234567: "1,234,567", 100000: "100,000"} {
		if got := inspectCommas(n); got != want {
			t.Errorf("inspectCommas(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{312: "312 B", 2048: "2.0 KiB", 44 << 20: "44.0 MiB"} {
		if got := inspectBytes(n); got != want {
			t.Errorf("inspectBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestInspectDimContradiction: --dim sizes the model contradicts (x [batch
// 4] reshaped to [2 4], at batch 3) are the report's shape error, not a
// failure: inspect still reports the rest.
func TestInspectDimContradiction(t *testing.T) {
	g := graph.NewGraph("contra")
	x := g.GetOrAddValue("x")
	x.DType, x.Shape, x.HasShape = tensor.Float32, []graph.Dim{{Size: -1, Param: "batch"}, {Size: 4}}, true
	shape := g.GetOrAddValue("shape")
	shape.Const = tensor.FromSlice([]int{2}, []int64{2, 4})
	shape.DType = tensor.Int64
	shape.SetShape([]int{2})
	g.Initializers = []*graph.Value{shape}
	y := g.GetOrAddValue("y")
	g.Inputs, g.Outputs = []*graph.Value{x}, []*graph.Value{y}
	g.AddNode("Reshape", []*graph.Value{x, shape}, []*graph.Value{y}, nil).Name = "reshape"
	p := filepath.Join(t.TempDir(), "contra.onnx")
	if err := onnx.Save(graph.NewModel(g, 13), p, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	r := inspectJSON(t, p, "--dim", "batch=3")
	if r.ShapeError == "" || r.NodeCount != 1 {
		t.Errorf("shape error %q, %d nodes; want the contradiction reported and the node counted", r.ShapeError, r.NodeCount)
	}
}
