package models

import (
	"testing"

	"github.com/gcompress/gcompress/graph"
)

func init() {
	// TestZooBuilds checks every zoo architecture's parameter count.
	zooParams["resnet-mini"] = resNetMiniParams
}

// resNetMiniParams: convolutions 72 + 2*576 + 1152 + 2304 + 128 + 4608 +
// 9216 + 512, nine BatchNorms (8, 8, 8, 16, 16, 16, 32, 32, 32 channels)
// with four tensors each, and the classifier 320 + 10: 20,146.
const resNetMiniParams = 72 + 2*576 + 1152 + 2304 + 128 + 4608 + 9216 + 512 + 4*(3*8+3*16+3*32) + 330

// TestResNetMini checks the structure: one identity and two projection
// shortcuts, every Conv followed by a BatchNormalization, and the shapes
// the doc comment gives.
func TestResNetMini(t *testing.T) {
	m, err := Build("resnet-mini", 1)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, n := range m.Graph.Nodes {
		ops[n.OpType]++
		if n.OpType == "Conv" {
			if len(n.Outputs[0].Consumers) != 1 || n.Outputs[0].Consumers[0].OpType != "BatchNormalization" {
				t.Errorf("%v is not followed by a BatchNormalization", n)
			}
		}
	}
	want := map[string]int{"Conv": 9, "BatchNormalization": 9, "Relu": 7, "Add": 3, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
	for op, c := range want {
		if ops[op] != c {
			t.Errorf("%d %s nodes, want %d", ops[op], op, c)
		}
	}
	if err := graph.InferShapes(m.Graph); err != nil {
		t.Fatal(err)
	}
	for name, shape := range map[string]string{"add1": "[batch 8 28 28]", "add2": "[batch 16 14 14]", "add3": "[batch 32 7 7]"} {
		v := m.Graph.Value(name)
		if v == nil || graph.FormatShape(v.Shape) != shape {
			t.Errorf("%s: %v, want %s", name, v, shape)
		}
	}
	if l := m.Graph.Outputs[0]; len(l.Shape) != 2 || l.Shape[1].Size != 10 {
		t.Errorf("logits %v", l)
	}
	// The projection shortcuts read the block input: add2's inputs are a
	// BatchNormalization of a 1x1 Conv and one of a 3x3 Conv.
	add := m.Graph.Value("add2").Producer
	k := map[int64]bool{}
	for _, in := range add.Inputs {
		conv := in.Producer.Inputs[0].Producer
		k[conv.AttrInts("kernel_shape", nil)[0]] = true
	}
	if !k[1] || !k[3] {
		t.Errorf("add2 does not sum a projection and a 3x3 branch: kernels %v", k)
	}
}
