package graph

import (
	"fmt"

	"github.com/gcompress/gcompress/tensor"
)

// ShapeFunc infers the DType and Shape of n's outputs from its inputs. Inputs
// may be partly unknown (DType Undefined, HasShape false, unknown dims); a
// ShapeFunc fills what it can and leaves the rest unknown. It returns an
// error only for a contradiction (shapes that cannot broadcast, an axis out
// of range), which means the model is invalid.
type ShapeFunc func(n *Node) error

var shapeFuncs = map[string]ShapeFunc{}

// RegisterShapeFunc sets the shape function of an ONNX-domain op type.
// Called from init functions in this package.
func RegisterShapeFunc(op string, f ShapeFunc) { shapeFuncs[op] = f }

// HasShapeFunc reports whether op has shape inference.
func HasShapeFunc(op string) bool { _, ok := shapeFuncs[op]; return ok }

// InferShapes runs shape inference over g in topological order. Values that
// already have a dtype or shape (graph inputs, initializers, value_info from
// the file) keep what they have unless inference finds a concrete shape where
// the file had symbols. Ops without a shape function leave their outputs as
// they are. The first contradiction is returned, naming the node.
func InferShapes(g *Graph) error {
	if err := g.TopoSort(); err != nil {
		return err
	}
	for _, n := range g.Nodes {
		if err := InferNode(n); err != nil {
			return err
		}
	}
	return nil
}

// InputDimName names dimension axis of graph input v for FixInputDims:
// its symbol, or "input#axis" when it has none.
func InputDimName(v *Value, axis int) string {
	if p := v.Shape[axis].Param; p != "" {
		return p
	}
	return fmt.Sprintf("%s#%d", v.Name, axis)
}

// FixInputDims sets each unknown dimension of g's inputs that sizes names
// (InputDimName) to its size, and infers the shapes computed from the
// inputs again, so that the values downstream have concrete shapes too; an
// error is a contradiction the sizes make (a Reshape to a fixed batch).
func FixInputDims(g *Graph, sizes map[string]int64) error {
	for _, v := range g.Inputs {
		shape := make([]Dim, len(v.Shape)) // a copy: inferred shapes may share v's slice
		for i, d := range v.Shape {
			shape[i] = d
			if size, ok := sizes[InputDimName(v, i)]; ok && !d.Known() {
				shape[i] = Dim{Size: size}
			}
		}
		v.Shape = shape
	}
	return InferShapes(g)
}

// InferNode runs the shape function of one node (if its op has one).
func InferNode(n *Node) error {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return nil
	}
	f, ok := shapeFuncs[n.OpType]
	if !ok {
		return nil
	}
	if err := f(n); err != nil {
		return fmt.Errorf("shape inference: node %v: %w", n, err)
	}
	return nil
}

// setOutput records an inferred dtype and shape on output i of n, when the
// output exists. A nil dims with known=false leaves the shape unknown.
func setOutput(n *Node, i int, dt tensor.DType, dims []Dim, known bool) {
	if i >= len(n.Outputs) || n.Outputs[i] == nil {
		return
	}
	v := n.Outputs[i]
	if dt != tensor.Undefined {
		v.DType = dt
	}
	if known {
		v.Shape = dims
		v.HasShape = true
	}
}

// sameAsInput is the shape function of ops whose single output has the dtype
// and shape of input 0 (unary elementwise ops, activations, normalisations).
func sameAsInput(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	setOutput(n, 0, x.DType, x.Shape, x.HasShape)
	return nil
}

// broadcastDims applies NumPy broadcasting to shapes that may hold unknown
// or symbolic dimensions.
func broadcastDims(shapes ...[]Dim) ([]Dim, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]Dim, rank)
	for i := range out {
		out[i] = Dim{Size: 1}
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d.Known() && d.Size == 1:
			case o.Known() && o.Size == 1:
				*o = d
			case d.Known() && o.Known():
				if d.Size != o.Size {
					return nil, fmt.Errorf("dimensions %d and %d do not broadcast", o.Size, d.Size)
				}
			case !o.Known() && d.Known():
				*o = d // the unknown one must be d or 1
			case !o.Known() && !d.Known() && o.Param != d.Param:
				*o = Dim{Size: -1}
			}
		}
	}
	return out, nil
}

// broadcastOp is the shape function of multi-input broadcasting ops whose
// output dtype is outDT (Undefined: that of input 0).
func broadcastOp(outDT tensor.DType) ShapeFunc {
	return func(n *Node) error {
		var shapes [][]Dim
		dt := outDT
		for _, in := range n.Inputs {
			if in == nil {
				continue
			}
			if dt == tensor.Undefined {
				dt = in.DType
			}
			if !in.HasShape {
				setOutput(n, 0, dt, nil, false)
				return nil
			}
			shapes = append(shapes, in.Shape)
		}
		dims, err := broadcastDims(shapes...)
		if err != nil {
			return err
		}
		setOutput(n, 0, dt, dims, true)
		return nil
	}
}

// ConstTensor returns the data of v when it is known before running: an
// initializer, or the output of a Constant node with a tensor value.
func ConstTensor(v *Value) *tensor.Tensor {
	if v == nil {
		return nil
	}
	if v.Const != nil {
		return v.Const
	}
	if p := v.Producer; p != nil && p.OpType == "Constant" && (p.Domain == "" || p.Domain == "ai.onnx") {
		return p.AttrTensor("value")
	}
	return nil
}

// ConstInt64s returns the values of a constant integer input, or nil, false
// when v is absent or not constant.
func ConstInt64s(v *Value) ([]int64, bool) {
	t := ConstTensor(v)
	if t == nil {
		return nil, false
	}
	vals, err := t.Int64s()
	if err != nil {
		return nil, false
	}
	return vals, true
}
