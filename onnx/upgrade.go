package onnx

import (
	"fmt"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// upgrade rewrites default-domain nodes of a model older than opset 13 into
// their opset-13 form and sets the model's opset to 13. Nodes are visited in
// topological order and shape inference runs on each rewritten node, so a
// rewrite that needs an input's rank (legacy broadcasting, Softmax) sees it.
//
// The rewrites, by the opset that introduced the new form:
//   - 2..7: drop consumed_inputs, is_test; legacy broadcast/axis attributes on
//     binary ops become NumPy broadcasting (B is reshaped so its dimensions
//     line up at axis); Gemm loses broadcast; BatchNormalization loses
//     spatial; PRelu's per-channel slope [C] becomes [C,1,...,1]; Cast's
//     string 'to' becomes the dtype code; Concat gets its default axis 1.
//   - 5: Reshape's shape attribute becomes an input.
//   - 10: Slice's starts/ends/axes become inputs; Upsample becomes Resize.
//   - 11: Scatter becomes ScatterElements.
//   - 11: Pad's pads/value and Clip's min/max become inputs.
//   - 12: Dropout's ratio attribute goes (inference ignores it).
//   - 13: Squeeze/Unsqueeze/ReduceSum axes and Split's split become inputs;
//     Softmax/LogSoftmax/Hardmax with a non-last axis (which coerced the input
//     to 2-D) become Flatten -> op(axis=1) -> Reshape back.
func upgrade(m *graph.Model) error {
	v := m.Opsets[""]
	if v >= ExportOpset {
		return graph.InferShapes(m.Graph)
	}
	g := m.Graph
	u := &upgrader{g: g, from: v}
	nodes := append([]*graph.Node(nil), g.Nodes...)
	for _, n := range nodes {
		if n.Domain != "" {
			continue
		}
		if err := u.node(n); err != nil {
			return fmt.Errorf("upgrade node %v from opset %d: %w", n, v, err)
		}
	}
	m.Opsets[""] = ExportOpset
	if err := g.TopoSort(); err != nil {
		return err
	}
	return graph.InferShapes(g)
}

type upgrader struct {
	g    *graph.Graph
	from int64
}

var legacyBroadcastOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "And": true,
	"Or": true, "Xor": true, "Equal": true, "Greater": true, "Less": true,
}

func (u *upgrader) node(n *graph.Node) error {
	v := u.from
	if v < 7 {
		delete(n.Attrs, "consumed_inputs")
		delete(n.Attrs, "is_test")
	}
	var err error
	switch {
	case legacyBroadcastOps[n.OpType] && v < 7:
		err = u.legacyBroadcast(n)
	case n.OpType == "Gemm" && v < 7:
		delete(n.Attrs, "broadcast")
	case n.OpType == "BatchNormalization" && v < 9:
		if n.AttrInt("spatial", 1) != 1 {
			return fmt.Errorf("non-spatial BatchNormalization (spatial=0) is not supported")
		}
		delete(n.Attrs, "spatial")
	case n.OpType == "PRelu" && v < 7:
		err = u.preluSlope(n)
	case n.OpType == "Cast" && v < 6:
		err = castToCode(n)
	case n.OpType == "Concat" && v < 4:
		if !n.HasAttr("axis") {
			n.Attrs["axis"] = graph.IntAttr(1)
		}
	case n.OpType == "Reshape" && v < 5:
		err = u.attrsToInputs(n, []string{"shape"})
	case n.OpType == "Slice" && v < 10:
		err = u.attrsToInputs(n, []string{"starts", "ends", "axes"})
	case n.OpType == "Upsample":
		err = u.upsample(n)
	case n.OpType == "Resize" && v < 11:
		err = u.resize10(n)
	case n.OpType == "Pad" && v < 11:
		err = u.pad(n)
	case n.OpType == "Clip" && v < 11:
		err = u.clip(n)
	case n.OpType == "Dropout" && v < 12:
		delete(n.Attrs, "ratio")
	case (n.OpType == "Squeeze" || n.OpType == "Unsqueeze" || n.OpType == "ReduceSum") && v < 13:
		err = u.attrsToInputs(n, []string{"axes"})
	case n.OpType == "Split" && v < 13:
		if len(n.Inputs) < 2 || n.Inputs[1] == nil {
			err = u.attrsToInputs(n, []string{"split"})
		}
	case (n.OpType == "Softmax" || n.OpType == "LogSoftmax" || n.OpType == "Hardmax") && v < 13:
		return u.coercedSoftmax(n)
	case n.OpType == "Scatter" && v < 11:
		// Scatter-9 is ScatterElements-11 without the reduction attribute.
		n.OpType = "ScatterElements"
	case n.OpType == "TopK" && v < 10:
		err = u.attrsToInputs(n, []string{"k"})
	}
	if err != nil {
		return err
	}
	return graph.InferNode(n)
}

// constInput adds an int64 initializer for n and returns it.
func (u *upgrader) constInput(n *graph.Node, what string, t *tensor.Tensor) *graph.Value {
	base := n.Name
	if base == "" && len(n.Outputs) > 0 && n.Outputs[0] != nil {
		base = n.Outputs[0].Name
	}
	return u.g.AddInitializer(u.g.UniqueName(base+"_"+what), t)
}

// attrsToInputs moves the ints attributes names (in input order after the
// data input) to int64 initializer inputs; an absent attribute leaves its
// input slot omitted.
func (u *upgrader) attrsToInputs(n *graph.Node, names []string) error {
	for i, name := range names {
		a, ok := n.Attrs[name]
		slot := i + 1
		if !ok {
			continue
		}
		var vals []int64
		switch a.Type {
		case graph.AttrInts:
			vals = a.Ints
		case graph.AttrInt:
			vals = []int64{a.I}
		default:
			return fmt.Errorf("attribute %q has kind %d, want ints", name, a.Type)
		}
		delete(n.Attrs, name)
		var t *tensor.Tensor
		if a.Type == graph.AttrInt && name == "k" {
			t = tensor.FromSlice([]int{1}, []int64{vals[0]})
		} else {
			t = tensor.FromSlice([]int{len(vals)}, append([]int64(nil), vals...))
		}
		u.g.SetInput(n, slot, u.constInput(n, name, t))
	}
	return nil
}

// legacyBroadcast turns broadcast=1, axis=k into NumPy broadcasting by giving
// B trailing 1-dimensions so that its dimensions start at axis k of A.
func (u *upgrader) legacyBroadcast(n *graph.Node) error {
	bcast := n.AttrInt("broadcast", 0)
	axisAttr, hasAxis := n.Attrs["axis"]
	delete(n.Attrs, "broadcast")
	delete(n.Attrs, "axis")
	if bcast == 0 || !hasAxis || len(n.Inputs) < 2 {
		return nil
	}
	a, b := n.Inputs[0], n.Inputs[1]
	if !a.HasShape || !b.HasShape {
		return fmt.Errorf("legacy broadcast with axis needs the ranks of %q and %q", a.Name, b.Name)
	}
	ra, rb := len(a.Shape), len(b.Shape)
	axis := int(axisAttr.I)
	if axis < 0 {
		axis += ra
	}
	pad := ra - axis - rb
	if pad < 0 || axis < 0 {
		return fmt.Errorf("legacy broadcast: B of rank %d does not fit A of rank %d at axis %d", rb, ra, axisAttr.I)
	}
	if pad == 0 {
		return nil
	}
	return u.appendOnes(n, 1, pad)
}

// appendOnes gives input slot of n pad trailing 1-dimensions: a reshaped copy
// for an initializer, otherwise an Unsqueeze node.
func (u *upgrader) appendOnes(n *graph.Node, slot, pad int) error {
	b := n.Inputs[slot]
	if b.Const != nil {
		shape := append(append([]int(nil), b.Const.Shape()...), make([]int, pad)...)
		for i := len(shape) - pad; i < len(shape); i++ {
			shape[i] = 1
		}
		t, err := b.Const.Reshape(shape...)
		if err != nil {
			return err
		}
		u.g.SetInput(n, slot, u.constInput(n, b.Name+"_bcast", t))
		return nil
	}
	rb := len(b.Shape)
	axes := make([]int64, pad)
	for i := range axes {
		axes[i] = int64(rb + i)
	}
	out := u.g.NewValue(b.Name + "_bcast")
	axesV := u.constInput(n, "bcast_axes", tensor.FromSlice([]int{pad}, axes))
	un := u.g.AddNode("Unsqueeze", []*graph.Value{b, axesV}, []*graph.Value{out}, nil)
	if err := graph.InferNode(un); err != nil {
		return err
	}
	u.g.SetInput(n, slot, out)
	return nil
}

// preluSlope reshapes an opset-6 per-channel slope [C] to [C,1,...,1] so it
// broadcasts along axis 1 of X.
func (u *upgrader) preluSlope(n *graph.Node) error {
	if len(n.Inputs) < 2 {
		return nil
	}
	x, s := n.Inputs[0], n.Inputs[1]
	if !x.HasShape || !s.HasShape || len(s.Shape) != 1 || len(x.Shape) < 3 {
		return nil
	}
	if s.Shape[0].Known() && s.Shape[0].Size == 1 {
		return nil
	}
	return u.appendOnes(n, 1, len(x.Shape)-2)
}

var castNames = map[string]tensor.DType{
	"FLOAT": tensor.Float32, "UINT8": tensor.Uint8, "INT8": tensor.Int8, "UINT16": tensor.Uint16,
	"INT16": tensor.Int16, "INT32": tensor.Int32, "INT64": tensor.Int64, "STRING": tensor.String,
	"BOOL": tensor.Bool, "FLOAT16": tensor.Float16, "DOUBLE": tensor.Float64,
	"UINT32": tensor.Uint32, "UINT64": tensor.Uint64, "BFLOAT16": tensor.BFloat16,
}

func castToCode(n *graph.Node) error {
	a, ok := n.Attrs["to"]
	if !ok || a.Type != graph.AttrString {
		return nil
	}
	dt, ok := castNames[strings.ToUpper(a.S)]
	if !ok {
		return fmt.Errorf("Cast to unknown type %q", a.S)
	}
	n.Attrs["to"] = graph.IntAttr(int64(dt))
	return nil
}

// upsample turns Upsample (opset 7: scales attribute; 9: scales input) into
// Resize-13 with the asymmetric coordinate mapping Upsample defines
// (x_in = x_out / scale) and floor rounding for nearest.
func (u *upgrader) upsample(n *graph.Node) error {
	mode := n.AttrString("mode", "nearest")
	var scales *graph.Value
	if a, ok := n.Attrs["scales"]; ok {
		scales = u.constInput(n, "scales", tensor.FromSlice([]int{len(a.Floats)}, append([]float32(nil), a.Floats...)))
	} else if len(n.Inputs) > 1 {
		scales = n.Inputs[1]
	}
	if scales == nil {
		return fmt.Errorf("Upsample without scales")
	}
	n.OpType = "Resize"
	n.Attrs = map[string]*graph.Attr{
		"mode":                           graph.StringAttr(mode),
		"coordinate_transformation_mode": graph.StringAttr("asymmetric"),
	}
	if mode == "nearest" {
		n.Attrs["nearest_mode"] = graph.StringAttr("floor")
	}
	x := n.Inputs[0]
	for i := range n.Inputs {
		u.g.SetInput(n, i, nil)
	}
	n.Inputs = nil
	u.g.SetInput(n, 0, x)
	u.g.SetInput(n, 1, nil)
	u.g.SetInput(n, 2, scales)
	return nil
}

// resize10 turns Resize-10 (X, scales) into Resize-13 (X, roi, scales) with
// the asymmetric mapping of opset 10.
func (u *upgrader) resize10(n *graph.Node) error {
	if len(n.Inputs) < 2 {
		return fmt.Errorf("Resize-10 needs scales")
	}
	scales := n.Inputs[1]
	u.g.SetInput(n, 1, nil)
	u.g.SetInput(n, 2, scales)
	n.Attrs["coordinate_transformation_mode"] = graph.StringAttr("asymmetric")
	if n.AttrString("mode", "nearest") == "nearest" {
		n.Attrs["nearest_mode"] = graph.StringAttr("floor")
	}
	return nil
}

// pad moves Pad-2's pads (Pad-1's paddings) and value to inputs.
func (u *upgrader) pad(n *graph.Node) error {
	a, ok := n.Attrs["pads"]
	if !ok {
		a, ok = n.Attrs["paddings"]
	}
	if !ok {
		return fmt.Errorf("Pad without pads")
	}
	delete(n.Attrs, "pads")
	delete(n.Attrs, "paddings")
	u.g.SetInput(n, 1, u.constInput(n, "pads", tensor.FromSlice([]int{len(a.Ints)}, append([]int64(nil), a.Ints...))))
	if va, ok := n.Attrs["value"]; ok {
		delete(n.Attrs, "value")
		if va.F != 0 {
			t, err := scalarLike(n.Inputs[0].DType, float64(va.F))
			if err != nil {
				return err
			}
			u.g.SetInput(n, 2, u.constInput(n, "value", t))
		}
	}
	return nil
}

// clip moves Clip-6's min/max attributes to inputs of the input's dtype.
func (u *upgrader) clip(n *graph.Node) error {
	for i, name := range []string{"min", "max"} {
		a, ok := n.Attrs[name]
		if !ok {
			continue
		}
		delete(n.Attrs, name)
		t, err := scalarLike(n.Inputs[0].DType, float64(a.F))
		if err != nil {
			return err
		}
		u.g.SetInput(n, i+1, u.constInput(n, name, t))
	}
	return nil
}

// scalarLike returns a rank-0 tensor of dtype dt (float32 when unknown)
// holding v.
func scalarLike(dt tensor.DType, v float64) (*tensor.Tensor, error) {
	switch dt {
	case tensor.Undefined, tensor.Float32:
		return tensor.Scalar(float32(v)), nil
	case tensor.Float64:
		return tensor.Scalar(v), nil
	case tensor.Float16:
		return tensor.Scalar(tensor.NewF16(float32(v))), nil
	case tensor.Int32:
		return tensor.Scalar(int32(v)), nil
	case tensor.Int64:
		return tensor.Scalar(int64(v)), nil
	case tensor.Int8:
		return tensor.Scalar(int8(v)), nil
	case tensor.Uint8:
		return tensor.Scalar(uint8(v)), nil
	}
	return nil, fmt.Errorf("cannot make a %v constant", dt)
}

// coercedSoftmax rewrites an opset < 13 Softmax-family node. Those versions
// flatten the input to 2-D at axis (default 1) and normalise each row; when
// axis is the last dimension that equals the opset-13 op with axis -1,
// otherwise the node becomes Flatten(axis) -> op(axis=1) -> Reshape(Shape(x)).
func (u *upgrader) coercedSoftmax(n *graph.Node) error {
	axis := n.AttrInt("axis", 1)
	x := n.Inputs[0]
	if x.HasShape {
		r := int64(len(x.Shape))
		if axis < 0 {
			axis += r
		}
		if axis == r-1 {
			n.Attrs["axis"] = graph.IntAttr(-1)
			return graph.InferNode(n)
		}
	}
	out := n.Outputs[0]
	flat := u.g.NewValue(x.Name + "_2d")
	normed := u.g.NewValue(out.Name + "_2d")
	shape := u.g.NewValue(x.Name + "_shape")
	nodes := []*graph.Node{
		{Name: n.Name + "_flatten", OpType: "Flatten", Inputs: []*graph.Value{x}, Outputs: []*graph.Value{flat},
			Attrs: map[string]*graph.Attr{"axis": graph.IntAttr(axis)}},
		{Name: n.Name, OpType: n.OpType, Inputs: []*graph.Value{flat}, Outputs: []*graph.Value{normed},
			Attrs: map[string]*graph.Attr{"axis": graph.IntAttr(1)}, Opaque: n.Opaque},
		{Name: n.Name + "_shape", OpType: "Shape", Inputs: []*graph.Value{x}, Outputs: []*graph.Value{shape}},
		{Name: n.Name + "_reshape", OpType: "Reshape", Inputs: []*graph.Value{normed, shape}, Outputs: []*graph.Value{out}},
	}
	if n.Name == "" {
		for _, nn := range nodes {
			nn.Name = ""
		}
	}
	if err := u.g.ReplaceNode(n, nodes, []*graph.Value{out}); err != nil {
		return err
	}
	for _, nn := range nodes {
		if err := graph.InferNode(nn); err != nil {
			return err
		}
	}
	return nil
}
