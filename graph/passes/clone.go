package passes

import "github.com/gcompress/gcompress/graph"

// Clone returns a copy of m whose graph structure (nodes, values, attribute
// maps, input/output lists) is new, so that passes can rewrite it; constant
// tensors and attribute values are shared (passes never modify them, they
// add new initializers instead).
func Clone(m *graph.Model) *graph.Model {
	c := *m
	c.Opsets = make(map[string]int64, len(m.Opsets))
	for k, v := range m.Opsets {
		c.Opsets[k] = v
	}
	c.Metadata = append([][2]string(nil), m.Metadata...)
	c.Graph = CloneGraph(m.Graph)
	return &c
}

// CloneGraph copies g (see Clone).
func CloneGraph(g *graph.Graph) *graph.Graph {
	out := graph.NewGraph(g.Name)
	out.Opaque = g.Opaque
	vmap := map[*graph.Value]*graph.Value{}
	val := func(v *graph.Value) *graph.Value {
		if v == nil {
			return nil
		}
		if nv, ok := vmap[v]; ok {
			return nv
		}
		nv := out.GetOrAddValue(v.Name)
		nv.DType, nv.HasShape, nv.Const = v.DType, v.HasShape, v.Const
		nv.Shape = append([]graph.Dim(nil), v.Shape...)
		nv.Annotated, nv.RawType = v.Annotated, v.RawType
		vmap[v] = nv
		return nv
	}
	for _, v := range g.Values() {
		val(v)
	}
	for _, v := range g.Initializers {
		out.Initializers = append(out.Initializers, val(v))
	}
	for _, v := range g.Inputs {
		out.Inputs = append(out.Inputs, val(v))
	}
	for _, v := range g.Outputs {
		out.Outputs = append(out.Outputs, val(v))
	}
	for _, n := range g.Nodes {
		ins := make([]*graph.Value, len(n.Inputs))
		for i, v := range n.Inputs {
			ins[i] = val(v)
		}
		outs := make([]*graph.Value, len(n.Outputs))
		for i, v := range n.Outputs {
			outs[i] = val(v)
		}
		attrs := make(map[string]*graph.Attr, len(n.Attrs))
		for k, a := range n.Attrs {
			attrs[k] = a
		}
		nn := out.AddNode(n.OpType, ins, outs, attrs)
		nn.Name, nn.Domain, nn.Opaque = n.Name, n.Domain, n.Opaque
	}
	return out
}
