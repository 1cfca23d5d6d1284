package conformance

import (
	"fmt"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// The installed conformance data stops at opset 17. These cases build
// models in the forms later opsets introduced (axes as inputs at 18,
// Split's num_outputs at 18, Pad's axes at 18, Gelu at 20, Resize's axes at
// 18) and check that gcompress imports them unchanged and agrees with ORT.
func TestLaterOpsetFormsAgreeWithORT(t *testing.T) {
	ortpeer.Require(t)
	x := tensor.FromSlice([]int{2, 3, 4}, seq(24))
	i64 := func(v ...int64) *tensor.Tensor { return tensor.FromSlice([]int{len(v)}, v) }
	cases := []struct {
		name    string
		opset   int64
		op      string
		consts  []*tensor.Tensor // extra constant inputs after x (nil = omitted)
		attrs   map[string]*graph.Attr
		outputs int
	}{
		{"ReduceMean axes input", 18, "ReduceMean", []*tensor.Tensor{i64(1)}, map[string]*graph.Attr{"keepdims": graph.IntAttr(0)}, 1},
		{"ReduceMax axes input", 18, "ReduceMax", []*tensor.Tensor{i64(-1, 0)}, nil, 1},
		{"ReduceL2 axes input", 18, "ReduceL2", []*tensor.Tensor{i64(2)}, nil, 1},
		{"ReduceLogSumExp axes input", 20, "ReduceLogSumExp", []*tensor.Tensor{i64(0, 2)}, nil, 1},
		{"Split num_outputs", 18, "Split", nil, map[string]*graph.Attr{"axis": graph.IntAttr(1), "num_outputs": graph.IntAttr(2)}, 2},
		{"Pad axes input", 18, "Pad", []*tensor.Tensor{i64(1, 2), nil, i64(2)}, map[string]*graph.Attr{"mode": graph.StringAttr("reflect")}, 1},
		{"Gelu tanh", 20, "Gelu", nil, map[string]*graph.Attr{"approximate": graph.StringAttr("tanh")}, 1},
		{"Gelu erf", 20, "Gelu", nil, nil, 1},
		{"Mish", 18, "Mish", nil, nil, 1},
		{"Resize axes", 19, "Resize", []*tensor.Tensor{nil, tensor.FromSlice([]int{1}, []float32{2})},
			map[string]*graph.Attr{"axes": graph.IntsAttr(2), "mode": graph.StringAttr("linear")}, 1},
		{"Identity at opset 21", 21, "Identity", nil, nil, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := graph.NewGraph("later")
			xv := g.GetOrAddValue("x")
			xv.DType = tensor.Float32
			xv.SetShape(x.Shape())
			g.Inputs = []*graph.Value{xv}
			ins := []*graph.Value{xv}
			for i, c := range tc.consts {
				if c == nil {
					ins = append(ins, nil)
					continue
				}
				ins = append(ins, g.AddInitializer(fmt.Sprintf("c%d", i), c))
			}
			var outs []*graph.Value
			for i := 0; i < tc.outputs; i++ {
				o := g.GetOrAddValue(fmt.Sprintf("y%d", i))
				outs = append(outs, o)
			}
			g.AddNode(tc.op, ins, outs, tc.attrs)
			g.Outputs = outs
			raw, err := onnx.Encode(graph.NewModel(g, tc.opset))
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.Decode(raw, "")
			if err != nil {
				t.Fatal(err)
			}
			if m.Opset() != tc.opset {
				t.Fatalf("opset %d after import, want %d", m.Opset(), tc.opset)
			}
			sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			feed := map[string]*tensor.Tensor{"x": x}
			ours, err := sess.Run(feed)
			if err != nil {
				t.Fatal(err)
			}
			peer, err := ortpeer.NewSession(raw, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			theirs, err := peer.Run(feed)
			if err != nil {
				t.Fatal(err)
			}
			for i := range ours {
				if err := Compare(ours[i], theirs[i], 1e-5, 1e-6); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

func seq(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i%7)*0.5 - 1.25
	}
	return out
}
