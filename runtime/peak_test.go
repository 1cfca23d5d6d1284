package runtime

import (
	"math"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// TestPeakBytes: x -> a -> b -> d, a -> c (c and d are outputs), each
// [250 4] float32 (4000 bytes) but d [1000 4] (16000): x is held
// throughout, a until its last reader (the third node), b until the
// fourth, c and d to the end, so the peak is during the fourth node: x, b,
// c and d, 28000 bytes (32000 if a were kept). A value of unknown shape
// counts zero, and a size past int64 saturates.
func TestPeakBytes(t *testing.T) {
	build := func(xRows int64, cKnown bool) *Session {
		g := graph.NewGraph("t")
		val := func(name string, rows int64, known bool) *graph.Value {
			v := g.GetOrAddValue(name)
			v.DType = tensor.Float32
			v.Shape = []graph.Dim{{Size: rows}, {Size: 4}}
			v.HasShape = known
			return v
		}
		x, a, b, c := val("x", xRows, true), val("a", 250, true), val("b", 250, true), val("c", 250, cKnown)
		g.Inputs = []*graph.Value{x}
		g.AddNode("AddOne", []*graph.Value{x}, []*graph.Value{a}, nil)
		g.AddNode("AddOne", []*graph.Value{a}, []*graph.Value{b}, nil)
		g.AddNode("AddOne", []*graph.Value{a}, []*graph.Value{c}, nil)
		d := val("d", 1000, true)
		g.AddNode("AddOne", []*graph.Value{b}, []*graph.Value{d}, nil)
		g.Outputs = []*graph.Value{c, d}
		s, err := NewSession(graph.NewModel(g, 13), testBackend(), Options{NoOptimize: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := build(250, true)
	peak, at := s.PeakBytes()
	if peak != 28000 || at != s.g.Nodes[3] {
		t.Errorf("peak %d at %v, want 28000 at %v", peak, at, s.g.Nodes[3])
	}
	s = build(250, false)
	if peak, at = s.PeakBytes(); peak != 24000 || at != s.g.Nodes[3] {
		t.Errorf("c unknown: peak %d at %v, want 24000 at %v", peak, at, s.g.Nodes[3])
	}
	s = build(1<<61, true)
	if peak, _ = s.PeakBytes(); peak != math.MaxInt64 {
		t.Errorf("x of 2^61 x 4 float32: peak %d, want saturation at %d", peak, int64(math.MaxInt64))
	}
}

// TestPeakBytesViews: a Reshape returns a view of its input, so x -> a ->
// Reshape -> b holds x and a at most (8000 bytes), not a and b besides.
func TestPeakBytesViews(t *testing.T) {
	r := testBackend()
	r.Register("", "Reshape", func(*graph.Node, NodeInfo) (Op, error) {
		return OpFunc(func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			v, err := in[0].Reshape(in[0].Len())
			return []*tensor.Tensor{v}, err
		}), nil
	})
	g := graph.NewGraph("t")
	val := func(name string, shape ...int) *graph.Value {
		v := g.GetOrAddValue(name)
		v.DType = tensor.Float32
		v.SetShape(shape)
		return v
	}
	x, a, b := val("x", 250, 4), val("a", 250, 4), val("b", 1000)
	g.Inputs, g.Outputs = []*graph.Value{x}, []*graph.Value{b}
	g.AddNode("AddOne", []*graph.Value{x}, []*graph.Value{a}, nil)
	g.AddNode("Reshape", []*graph.Value{a}, []*graph.Value{b}, nil)
	s, err := NewSession(graph.NewModel(g, 13), r, Options{NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	if peak, at := s.PeakBytes(); peak != 8000 || at != s.g.Nodes[0] {
		t.Errorf("peak %d at %v, want 8000 at %v", peak, at, s.g.Nodes[0])
	}
}
