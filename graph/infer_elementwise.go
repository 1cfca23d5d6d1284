// Shape inference for the elementwise ops (unary math and activations,
// broadcasting arithmetic, comparisons and logic, Where, Cast), the
// softmax family, the Reduce* ops and ArgMax/ArgMin.

package graph

import (
	"fmt"

	"github.com/gcompress/gcompress/tensor"
)

func init() {
	for _, op := range []string{
		"Sqrt", "Exp", "Log", "Erf", "Neg", "Abs", "Reciprocal", "Floor", "Ceil", "Round", "Sign",
		"Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
		"Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Sigmoid", "HardSigmoid", "HardSwish",
		"Tanh", "Softplus", "Softsign", "Gelu", "Mish", "ThresholdedRelu", "Shrink", "Clip", "Not",
		"Softmax", "LogSoftmax", "Hardmax",
	} {
		RegisterShapeFunc(op, sameAsInput)
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "Sum", "Max", "Min", "Mean"} {
		RegisterShapeFunc(op, broadcastOp(tensor.Undefined))
	}
	for _, op := range []string{"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"} {
		RegisterShapeFunc(op, broadcastOp(tensor.Bool))
	}
	RegisterShapeFunc("IsNaN", boolLikeInput)
	RegisterShapeFunc("IsInf", boolLikeInput)
	RegisterShapeFunc("Where", inferWhere)
	RegisterShapeFunc("Cast", inferCast)
	RegisterShapeFunc("CastLike", inferCastLike)
	for _, op := range []string{"ReduceSum", "ReduceMean", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceL1",
		"ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"} {
		RegisterShapeFunc(op, inferReduce)
	}
	RegisterShapeFunc("ArgMax", inferArgReduce)
	RegisterShapeFunc("ArgMin", inferArgReduce)
}

// boolLikeInput: a bool output of input 0's shape (IsNaN, IsInf).
func boolLikeInput(n *Node) error {
	if x := n.Input(0); x != nil {
		setOutput(n, 0, tensor.Bool, x.Shape, x.HasShape)
	}
	return nil
}

// inferWhere: the dtype of X, the broadcast shape of cond, X and Y.
func inferWhere(n *Node) error {
	x := n.Input(1)
	if x == nil {
		return nil
	}
	return broadcastOp(x.DType)(n)
}

// inferCast: the dtype of attribute `to`, the shape of the input.
func inferCast(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	to := tensor.DType(n.AttrInt("to", 0))
	if !to.Valid() {
		to = tensor.Undefined
	}
	setOutput(n, 0, to, x.Shape, x.HasShape)
	return nil
}

// inferCastLike: the dtype of input 1, the shape of input 0.
func inferCastLike(n *Node) error {
	x, like := n.Input(0), n.Input(1)
	if x == nil || like == nil {
		return nil
	}
	setOutput(n, 0, like.DType, x.Shape, x.HasShape)
	return nil
}

// inferReduce: reduced axes from the `axes` attribute or a constant second
// input (all axes when there are none, unless noop_with_empty_axes); they
// become 1 with keepdims (default 1) and are dropped without. With axes
// that are not constant, keepdims gives the rank with unknown sizes.
func inferReduce(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	if !x.HasShape {
		setOutput(n, 0, x.DType, nil, false)
		return nil
	}
	keep := n.AttrInt("keepdims", 1) != 0
	axes, known := n.AttrInts("axes", nil), true
	if v := n.Input(1); v != nil {
		axes, known = ConstInt64s(v)
	}
	rank := len(x.Shape)
	if !known {
		if !keep {
			setOutput(n, 0, x.DType, nil, false)
			return nil
		}
		dims := make([]Dim, rank)
		for i, d := range x.Shape {
			dims[i] = Dim{Size: -1}
			if d.Known() && d.Size == 1 {
				dims[i] = d
			}
		}
		setOutput(n, 0, x.DType, dims, true)
		return nil
	}
	red := make([]bool, rank)
	if len(axes) == 0 && n.AttrInt("noop_with_empty_axes", 0) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		ax, err := tensor.NormAxis(int(a), rank)
		if err != nil {
			return fmt.Errorf("axes %v: %w", axes, err)
		}
		if rank > 0 {
			red[ax] = true
		}
	}
	var dims []Dim
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			dims = append(dims, d)
		case keep:
			dims = append(dims, Dim{Size: 1})
		}
	}
	setOutput(n, 0, x.DType, dims, true)
	return nil
}

// inferArgReduce: int64 indices; `axis` (default 0) becomes 1 with keepdims
// (default 1) or is dropped.
func inferArgReduce(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	if !x.HasShape {
		setOutput(n, 0, tensor.Int64, nil, false)
		return nil
	}
	rank := len(x.Shape)
	ax, err := tensor.NormAxis(int(n.AttrInt("axis", 0)), rank)
	if err != nil || rank == 0 {
		return fmt.Errorf("axis %d out of range for rank %d", n.AttrInt("axis", 0), rank)
	}
	dims := append([]Dim{}, x.Shape[:ax]...)
	if n.AttrInt("keepdims", 1) != 0 {
		dims = append(dims, Dim{Size: 1})
	}
	dims = append(dims, x.Shape[ax+1:]...)
	setOutput(n, 0, tensor.Int64, dims, true)
	return nil
}
