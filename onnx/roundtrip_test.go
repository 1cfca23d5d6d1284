package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/tensor"
)

// TestRoundTripConformanceModels loads every model of the ONNX conformance
// data, saves it, and loads the result: every initializer of the original
// file must come back bit-identical, the graph must be the same (nodes,
// attributes, edges, declared types), and the written opset must be >= 13.
func TestRoundTripConformanceModels(t *testing.T) {
	files := testdata.ModelFiles(t, "node", "pytorch-converted", "pytorch-operator", "simple")
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m1, err := Decode(raw, filepath.Dir(f))
		if err != nil {
			t.Errorf("%s: load: %v", name, err)
			continue
		}
		out, err := Encode(m1)
		if err != nil {
			t.Errorf("%s: save: %v", name, err)
			continue
		}
		mp := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(out, mp); err != nil {
			t.Errorf("%s: saved bytes do not parse: %v", name, err)
			continue
		}
		for _, o := range mp.OpsetImport {
			if o.GetDomain() == "" && o.GetVersion() < ExportOpset {
				t.Errorf("%s: exported opset %d < %d", name, o.GetVersion(), ExportOpset)
			}
		}
		m2, err := Decode(out, filepath.Dir(f))
		if err != nil {
			t.Errorf("%s: reload: %v", name, err)
			continue
		}
		checkInitializersKept(t, name, raw, filepath.Dir(f), m2)
		if err := sameGraph(m1.Graph, m2.Graph); err != nil {
			t.Errorf("%s: graph changed in round trip: %v", name, err)
		}
	}
}

func checkInitializersKept(t *testing.T, name string, raw []byte, dir string, m *graph.Model) {
	t.Helper()
	orig := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(raw, orig); err != nil {
		t.Fatal(err)
	}
	for _, tp := range orig.GetGraph().GetInitializer() {
		want, err := tensor.FromProto(tp, dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v := m.Graph.Value(tp.GetName())
		if v == nil || v.Const == nil {
			t.Errorf("%s: initializer %q lost", name, tp.GetName())
			continue
		}
		if !graph.TensorsEqual(v.Const, want) {
			t.Errorf("%s: initializer %q changed", name, tp.GetName())
		}
	}
}

// sameGraph compares two graphs structurally: node order, op types,
// attributes, input/output names; graph inputs, outputs and initializers.
func sameGraph(a, b *graph.Graph) error {
	if len(a.Nodes) != len(b.Nodes) {
		return errorf("%d nodes, then %d", len(a.Nodes), len(b.Nodes))
	}
	for i, na := range a.Nodes {
		nb := b.Nodes[i]
		if na.OpType != nb.OpType || na.Domain != nb.Domain || na.Name != nb.Name {
			return errorf("node %d: %v became %v", i, na, nb)
		}
		if !sameValues(na.Inputs, nb.Inputs) || !sameValues(na.Outputs, nb.Outputs) {
			return errorf("node %v: edges changed", na)
		}
		if len(na.Attrs) != len(nb.Attrs) {
			return errorf("node %v: %d attributes, then %d", na, len(na.Attrs), len(nb.Attrs))
		}
		for k, av := range na.Attrs {
			bv, ok := nb.Attrs[k]
			if !ok || !av.Equal(bv) {
				return errorf("node %v: attribute %q changed", na, k)
			}
		}
		if string(na.Opaque) != string(nb.Opaque) {
			return errorf("node %v: unmodelled fields changed", na)
		}
	}
	if !sameValues(a.Inputs, b.Inputs) || !sameValues(a.Outputs, b.Outputs) {
		return errorf("graph inputs or outputs changed")
	}
	for i, v := range a.Inputs {
		w := b.Inputs[i]
		if v.DType != w.DType || v.HasShape != w.HasShape || graph.FormatShape(v.Shape) != graph.FormatShape(w.Shape) {
			return errorf("input %q: %v became %v", v.Name, v, w)
		}
	}
	if len(a.Initializers) != len(b.Initializers) {
		return errorf("%d initializers, then %d", len(a.Initializers), len(b.Initializers))
	}
	for i, v := range a.Initializers {
		w := b.Initializers[i]
		if v.Name != w.Name || !graph.TensorsEqual(v.Const, w.Const) {
			return errorf("initializer %q changed", v.Name)
		}
	}
	if string(a.Opaque) != string(b.Opaque) {
		return errorf("unmodelled graph fields changed")
	}
	return nil
}

func sameValues(a, b []*graph.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || (a[i] != nil && a[i].Name != b[i].Name) {
			return false
		}
	}
	return true
}

// TestRoundTripSeesEveryModel guards the round-trip test against silently
// running on nothing.
func TestRoundTripSeesEveryModel(t *testing.T) {
	files := testdata.ModelFiles(t, "node", "pytorch-converted", "pytorch-operator", "simple")
	if len(files) < 1000 {
		t.Fatalf("found %d conformance models, want the >= 1000 of ONNX 1.12's data", len(files))
	}
}
