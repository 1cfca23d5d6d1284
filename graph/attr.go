package graph

import (
	"fmt"

	"github.com/gcompress/gcompress/tensor"
)

// AttrType is the kind of an attribute; values match ONNX AttributeProto.
type AttrType int32

// Attribute kinds (ONNX AttributeProto.AttributeType codes).
const (
	AttrFloat   AttrType = 1
	AttrInt     AttrType = 2
	AttrString  AttrType = 3
	AttrTensor  AttrType = 4
	AttrGraph   AttrType = 5
	AttrFloats  AttrType = 6
	AttrInts    AttrType = 7
	AttrStrings AttrType = 8
	AttrTensors AttrType = 9
	AttrGraphs  AttrType = 10
)

// Attr is a node attribute. Exactly the field matching Type is meaningful.
// Kinds the IR does not interpret (graphs, sparse tensors, type protos) keep
// their whole AttributeProto encoding in Raw so they survive a round trip.
type Attr struct {
	Type    AttrType
	F       float32
	I       int64
	S       string
	T       *tensor.Tensor
	Floats  []float32
	Ints    []int64
	Strings []string
	Tensors []*tensor.Tensor
	Raw     []byte
}

// IntAttr, FloatAttr, StringAttr, IntsAttr, FloatsAttr and TensorAttr build
// attributes for passes that create nodes.
func IntAttr(v int64) *Attr         { return &Attr{Type: AttrInt, I: v} }
func FloatAttr(v float32) *Attr     { return &Attr{Type: AttrFloat, F: v} }
func StringAttr(v string) *Attr     { return &Attr{Type: AttrString, S: v} }
func IntsAttr(v ...int64) *Attr     { return &Attr{Type: AttrInts, Ints: v} }
func FloatsAttr(v ...float32) *Attr { return &Attr{Type: AttrFloats, Floats: v} }
func TensorAttr(t *tensor.Tensor) *Attr {
	return &Attr{Type: AttrTensor, T: t}
}

// HasAttr reports whether n carries attribute name.
func (n *Node) HasAttr(name string) bool { _, ok := n.Attrs[name]; return ok }

// AttrInt returns integer attribute name, or def when absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrInt {
		return a.I
	}
	return def
}

// AttrFloat returns float attribute name, or def when absent.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrFloat {
		return a.F
	}
	return def
}

// AttrString returns string attribute name, or def when absent.
func (n *Node) AttrString(name string, def string) string {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrString {
		return a.S
	}
	return def
}

// AttrInts returns ints attribute name, or def when absent.
func (n *Node) AttrInts(name string, def []int64) []int64 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrInts {
		return a.Ints
	}
	return def
}

// AttrFloats returns floats attribute name, or def when absent.
func (n *Node) AttrFloats(name string, def []float32) []float32 {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrFloats {
		return a.Floats
	}
	return def
}

// AttrStrings returns strings attribute name, or nil when absent.
func (n *Node) AttrStrings(name string) []string {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrStrings {
		return a.Strings
	}
	return nil
}

// AttrTensor returns tensor attribute name, or nil when absent.
func (n *Node) AttrTensor(name string) *tensor.Tensor {
	if a, ok := n.Attrs[name]; ok && a.Type == AttrTensor {
		return a.T
	}
	return nil
}

// AttrIntsAsInts is AttrInts converted to []int.
func (n *Node) AttrIntsAsInts(name string, def []int) []int {
	a, ok := n.Attrs[name]
	if !ok || a.Type != AttrInts {
		return def
	}
	out := make([]int, len(a.Ints))
	for i, v := range a.Ints {
		out[i] = int(v)
	}
	return out
}

// Equal reports whether two attributes hold the same kind and value (tensors
// compared by dtype, shape and bytes).
func (a *Attr) Equal(b *Attr) bool {
	if a.Type != b.Type || a.I != b.I || a.S != b.S || string(a.Raw) != string(b.Raw) {
		return false
	}
	if !(a.F == b.F || (a.F != a.F && b.F != b.F)) {
		return false
	}
	if len(a.Floats) != len(b.Floats) || len(a.Ints) != len(b.Ints) ||
		len(a.Strings) != len(b.Strings) || len(a.Tensors) != len(b.Tensors) {
		return false
	}
	for i := range a.Floats {
		if a.Floats[i] != b.Floats[i] && (a.Floats[i] == a.Floats[i] || b.Floats[i] == b.Floats[i]) {
			return false
		}
	}
	for i := range a.Ints {
		if a.Ints[i] != b.Ints[i] {
			return false
		}
	}
	for i := range a.Strings {
		if a.Strings[i] != b.Strings[i] {
			return false
		}
	}
	if !TensorsEqual(a.T, b.T) {
		return false
	}
	for i := range a.Tensors {
		if !TensorsEqual(a.Tensors[i], b.Tensors[i]) {
			return false
		}
	}
	return true
}

// TensorsEqual reports bitwise equality of dtype, shape and data.
func TensorsEqual(a, b *tensor.Tensor) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.DType() != b.DType() || !tensor.SameShape(a.Shape(), b.Shape()) {
		return false
	}
	if a.DType() == tensor.String {
		as, bs := tensor.Data[string](a), tensor.Data[string](b)
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return string(a.RawBytes()) == string(b.RawBytes())
}

func (a *Attr) String() string {
	switch a.Type {
	case AttrFloat:
		return fmt.Sprint(a.F)
	case AttrInt:
		return fmt.Sprint(a.I)
	case AttrString:
		return fmt.Sprintf("%q", a.S)
	case AttrTensor:
		return a.T.String()
	case AttrFloats:
		return fmt.Sprint(a.Floats)
	case AttrInts:
		return fmt.Sprint(a.Ints)
	case AttrStrings:
		return fmt.Sprintf("%q", a.Strings)
	case AttrTensors:
		return fmt.Sprintf("%d tensors", len(a.Tensors))
	}
	return fmt.Sprintf("<attribute kind %d>", a.Type)
}
