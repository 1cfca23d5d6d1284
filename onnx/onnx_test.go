package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/tensor"
)

// tinyModel builds y = Relu(x + w) in the IR.
func tinyModel() *graph.Model {
	g := graph.NewGraph("tiny")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.Shape = []graph.Dim{{Size: -1, Param: "batch"}, {Size: 3}}
	x.HasShape = true
	g.Inputs = append(g.Inputs, x)
	w := g.AddInitializer("w", tensor.FromSlice([]int{3}, []float32{1, -2, 0.5}))
	s := g.GetOrAddValue("s")
	y := g.GetOrAddValue("y")
	y.DType = tensor.Float32
	g.AddNode("Add", []*graph.Value{x, w}, []*graph.Value{s}, nil).Name = "add"
	g.AddNode("Relu", []*graph.Value{s}, []*graph.Value{y}, nil).Name = "relu"
	g.Outputs = append(g.Outputs, y)
	return graph.NewModel(g, 13)
}

// appendUnknown adds a length-delimited field with a number no ONNX version
// uses to an encoded message.
func appendUnknown(b []byte, num protowire.Number, payload string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, payload)
}

// TestUnknownFieldsSurvive plants unknown fields in the model, graph and a
// node, and checks a load/save round trip keeps all three.
func TestUnknownFieldsSurvive(t *testing.T) {
	mp, err := ToProto(tinyModel())
	if err != nil {
		t.Fatal(err)
	}
	node := mp.Graph.Node[0]
	node.ProtoReflect().SetUnknown(appendUnknown(nil, 900, "node-extra"))
	mp.Graph.ProtoReflect().SetUnknown(appendUnknown(nil, 901, "graph-extra"))
	mp.ProtoReflect().SetUnknown(appendUnknown(nil, 902, "model-extra"))
	mp.Functions = []*onnxpb.FunctionProto{{Name: proto.String("myfn"), Domain: proto.String("custom")}}
	raw, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"node-extra", "graph-extra", "model-extra", "myfn"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("round trip lost %q", want)
		}
	}
}

// TestExternalDataRoundTrip saves with external data and loads it back.
func TestExternalDataRoundTrip(t *testing.T) {
	m := tinyModel()
	big := make([]float32, 4096)
	for i := range big {
		big[i] = float32(i) * 0.25
	}
	m.Graph.AddInitializer("big", tensor.FromSlice([]int{64, 64}, big))
	dir := t.TempDir()
	path := filepath.Join(dir, "m.onnx")
	if err := Save(m, path, SaveOptions{ExternalData: true}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path + ".data")
	if err != nil {
		t.Fatal("no external data file:", err)
	}
	if st.Size() != 4096*4 {
		t.Errorf("external data file has %d bytes, want %d", st.Size(), 4096*4)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !graph.TensorsEqual(back.Graph.Value("big").Const, m.Graph.Value("big").Const) {
		t.Error("external tensor changed")
	}
	if !graph.TensorsEqual(back.Graph.Value("w").Const, m.Graph.Value("w").Const) {
		t.Error("inline tensor changed")
	}
}

// TestExternalDataOutsideModelDir rejects locations that escape the model's
// directory and lengths that disagree with the shape.
func TestExternalDataChecks(t *testing.T) {
	for _, tc := range []struct {
		loc, length, want string
	}{
		{"../secret", "16", "leaves the model directory"},
		{"/etc/passwd", "16", "leaves the model directory"},
		{"w.bin", "12", "length 12"},
		{"missing.bin", "16", "no such file"},
		{"w.bin", "", "needs bytes"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "w.bin"), []byte("12345678"), 0o644)
		loc := onnxpb.TensorProto_EXTERNAL
		tp := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{4}, DataType: proto.Int32(1),
			DataLocation: &loc, ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(tc.loc)}}}
		if tc.length != "" {
			tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String("length"), Value: proto.String(tc.length)})
		}
		_, err := tensor.FromProto(tp, dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("location %q length %q: got %v, want error containing %q", tc.loc, tc.length, err, tc.want)
		}
	}
}

// TestUpgradeOldOpsets checks the opset < 13 rewrites on hand-built models.
func TestUpgradeOldOpsets(t *testing.T) {
	g := graph.NewGraph("old")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.SetShape([]int{2, 3, 4})
	g.Inputs = []*graph.Value{x}
	sq := g.GetOrAddValue("sq")
	un := g.GetOrAddValue("un")
	sm := g.GetOrAddValue("sm")
	cl := g.GetOrAddValue("cl")
	g.AddNode("Unsqueeze", []*graph.Value{x}, []*graph.Value{un}, map[string]*graph.Attr{"axes": graph.IntsAttr(0)})
	g.AddNode("Squeeze", []*graph.Value{un}, []*graph.Value{sq}, map[string]*graph.Attr{"axes": graph.IntsAttr(0)})
	g.AddNode("Softmax", []*graph.Value{sq}, []*graph.Value{sm}, map[string]*graph.Attr{"axis": graph.IntAttr(1)})
	g.AddNode("Clip", []*graph.Value{sm}, []*graph.Value{cl}, map[string]*graph.Attr{"min": graph.FloatAttr(0.1)})
	g.Outputs = []*graph.Value{cl}
	m := graph.NewModel(g, 9)
	raw, err := Encode(m) // writes opset 13 header but keeps the old node forms
	if err != nil {
		t.Fatal(err)
	}
	mp := &onnxpb.ModelProto{}
	proto.Unmarshal(raw, mp)
	mp.OpsetImport[0].Version = proto.Int64(9)
	m2, err := FromProto(mp, "")
	if err != nil {
		t.Fatal(err)
	}
	if m2.Opset() != 13 {
		t.Errorf("opset %d after upgrade, want 13", m2.Opset())
	}
	var ops []string
	for _, n := range m2.Graph.Nodes {
		ops = append(ops, n.OpType)
		if n.HasAttr("axes") || n.HasAttr("min") {
			t.Errorf("node %v still has an attribute that became an input", n)
		}
	}
	want := "Unsqueeze Squeeze Flatten Softmax Shape Reshape Clip"
	if strings.Join(ops, " ") != want {
		t.Errorf("nodes after upgrade: %v, want %s", ops, want)
	}
	clip := m2.Graph.Nodes[len(m2.Graph.Nodes)-1]
	if mn := graph.ConstTensor(clip.Input(1)); mn == nil || mn.F32()[0] != 0.1 {
		t.Errorf("Clip min input = %v, want constant 0.1", mn)
	}
	if clip.Input(2) != nil {
		t.Error("Clip max should stay omitted")
	}
}

// TestIRv3InitializersAreConstants: an IR 3 file lists every initializer
// as a graph input; on import they become plain constants, and the export
// (IR >= 7) no longer offers them as overridable inputs.
func TestIRv3InitializersAreConstants(t *testing.T) {
	mp, err := ToProto(tinyModel())
	if err != nil {
		t.Fatal(err)
	}
	mp.IrVersion = proto.Int64(3)
	mp.Graph.Input = append(mp.Graph.Input, &onnxpb.ValueInfoProto{Name: proto.String("w")})
	raw, _ := proto.Marshal(mp)
	m, err := Decode(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Graph.Inputs) != 1 || m.Graph.Inputs[0].Name != "x" {
		t.Errorf("IR 3 inputs %v, want only x", m.Graph.Inputs)
	}
	mp.IrVersion = proto.Int64(8)
	raw, _ = proto.Marshal(mp)
	if m, _ = Decode(raw, ""); len(m.Graph.Inputs) != 2 {
		t.Errorf("IR 8: an initializer listed as input must stay an (overridable) input")
	}
}
