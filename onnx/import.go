package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/tensor"
)

// MaxModelBytes bounds the size of a model file read into memory. Protobuf
// itself cannot encode messages above 2 GiB; larger weights go to external
// data files, which are read tensor by tensor.
const MaxModelBytes = 2<<30 - 1

// MinOpset and MaxOpset bound the default-domain opsets Load accepts.
const (
	MinOpset = 1
	MaxOpset = 21
)

// Load reads an ONNX model file. External data is resolved relative to the
// file's directory.
func Load(path string) (*graph.Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not an ONNX file", path)
	}
	if st.Size() > MaxModelBytes {
		return nil, fmt.Errorf("%s: %d bytes is above the protobuf limit of 2 GiB", path, st.Size())
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := Decode(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode parses a serialized ModelProto; baseDir locates external data.
func Decode(data []byte, baseDir string) (*graph.Model, error) {
	if len(data) == 0 {
		return nil, errors.New("not an ONNX model: empty file")
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("not an ONNX model (protobuf: %v)", err)
	}
	return FromProto(mp, baseDir)
}

// FromProto converts a ModelProto to the IR and upgrades it to opset >= 13.
func FromProto(mp *onnxpb.ModelProto, baseDir string) (*graph.Model, error) {
	if mp.Graph == nil {
		return nil, errors.New("not an ONNX model: no graph")
	}
	if mp.GetIrVersion() <= 0 {
		return nil, fmt.Errorf("not an ONNX model: ir_version %d", mp.GetIrVersion())
	}
	m := &graph.Model{
		IRVersion:       mp.GetIrVersion(),
		Opsets:          map[string]int64{},
		ProducerName:    mp.GetProducerName(),
		ProducerVersion: mp.GetProducerVersion(),
		Domain:          mp.GetDomain(),
		ModelVersion:    mp.GetModelVersion(),
		DocString:       mp.GetDocString(),
	}
	for _, o := range mp.OpsetImport {
		d := o.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		m.Opsets[d] = o.GetVersion()
	}
	if len(mp.OpsetImport) == 0 {
		m.Opsets[""] = 1 // IR version 2 models did not declare opsets
	}
	opset, ok := m.Opsets[""]
	if !ok {
		// A model using only other domains; give it the export baseline.
		opset = ExportOpset
		m.Opsets[""] = opset
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("default-domain opset %d is outside the supported %d..%d", opset, MinOpset, MaxOpset)
	}
	for _, kv := range mp.MetadataProps {
		m.Metadata = append(m.Metadata, [2]string{kv.GetKey(), kv.GetValue()})
	}
	rest := &onnxpb.ModelProto{Functions: mp.Functions, TrainingInfo: mp.TrainingInfo}
	rest.ProtoReflect().SetUnknown(mp.ProtoReflect().GetUnknown())
	var err error
	if m.Opaque, err = marshalOpaque(rest); err != nil {
		return nil, err
	}
	g, err := graphFromProto(mp.Graph, baseDir)
	if err != nil {
		return nil, err
	}
	if m.IRVersion < 4 {
		constantInitializers(g)
	}
	m.Graph = g
	if err := upgrade(m); err != nil {
		return nil, err
	}
	return m, nil
}

// constantInitializers drops initializers from the graph inputs. Before IR
// version 4 every initializer had to be listed as an input, which did not
// make it something a caller overrides; from IR 4 on, a listed initializer
// is an overridable default, and export writes IR >= 7. ONNX Runtime treats
// IR < 4 initializers as constants too.
func constantInitializers(g *graph.Graph) {
	inputs := g.Inputs[:0]
	for _, v := range g.Inputs {
		if v.Const == nil {
			inputs = append(inputs, v)
		}
	}
	g.Inputs = inputs
}

func marshalOpaque(msg proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("keep unmodelled fields: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

func graphFromProto(gp *onnxpb.GraphProto, baseDir string) (*graph.Graph, error) {
	g := graph.NewGraph(gp.GetName())
	rest := &onnxpb.GraphProto{DocString: gp.DocString, SparseInitializer: gp.SparseInitializer,
		QuantizationAnnotation: gp.QuantizationAnnotation}
	rest.ProtoReflect().SetUnknown(gp.ProtoReflect().GetUnknown())
	var err error
	if g.Opaque, err = marshalOpaque(rest); err != nil {
		return nil, err
	}
	for _, tp := range gp.Initializer {
		name := tp.GetName()
		if name == "" {
			return nil, errors.New("initializer without a name")
		}
		if g.Value(name) != nil && g.Value(name).Const != nil {
			return nil, fmt.Errorf("initializer %q appears twice", name)
		}
		t, err := tensor.FromProto(tp, baseDir)
		if err != nil {
			return nil, fmt.Errorf("initializer %w", err)
		}
		g.AddInitializer(name, t)
	}
	for _, vi := range gp.Input {
		v, err := valueFromInfo(g, vi)
		if err != nil {
			return nil, fmt.Errorf("graph input: %w", err)
		}
		g.Inputs = append(g.Inputs, v)
	}
	for _, vi := range gp.ValueInfo {
		v, err := valueFromInfo(g, vi)
		if err != nil {
			return nil, fmt.Errorf("value_info: %w", err)
		}
		v.Annotated = true
	}
	for i, np := range gp.Node {
		n, err := nodeFromProto(g, np, baseDir)
		if err != nil {
			name := np.GetName()
			if name == "" {
				name = fmt.Sprintf("#%d", i)
			}
			return nil, fmt.Errorf("node %s (%s): %w", name, np.GetOpType(), err)
		}
		g.Nodes = append(g.Nodes, n)
	}
	for _, vi := range gp.Output {
		v, err := valueFromInfo(g, vi)
		if err != nil {
			return nil, fmt.Errorf("graph output: %w", err)
		}
		g.Outputs = append(g.Outputs, v)
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := g.TopoSort(); err != nil {
		return nil, err
	}
	return g, nil
}

// valueFromInfo returns the value named by vi, recording its declared type.
// An initializer's own dtype and shape win over a declaration.
func valueFromInfo(g *graph.Graph, vi *onnxpb.ValueInfoProto) (*graph.Value, error) {
	name := vi.GetName()
	if name == "" {
		return nil, errors.New("value without a name")
	}
	v := g.GetOrAddValue(name)
	tp := vi.GetType()
	if tp == nil {
		return v, nil
	}
	tt := tp.GetTensorType()
	if tt == nil {
		raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(tp)
		if err != nil {
			return nil, err
		}
		v.RawType = raw
		return v, nil
	}
	if v.Const != nil {
		return v, nil
	}
	if dt := tensor.DType(tt.GetElemType()); dt != tensor.Undefined {
		if !dt.Valid() {
			return nil, fmt.Errorf("value %q: unsupported element type %d", name, tt.GetElemType())
		}
		v.DType = dt
	}
	if sh := tt.GetShape(); sh != nil {
		v.Shape = make([]graph.Dim, len(sh.Dim))
		for i, d := range sh.Dim {
			switch {
			case d.GetDimParam() != "":
				v.Shape[i] = graph.Dim{Size: -1, Param: d.GetDimParam()}
			case d.Value != nil && d.GetDimValue() >= 0:
				if _, isVal := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); isVal {
					v.Shape[i] = graph.Dim{Size: d.GetDimValue()}
				} else {
					v.Shape[i] = graph.Dim{Size: -1}
				}
			default:
				v.Shape[i] = graph.Dim{Size: -1}
			}
		}
		v.HasShape = true
	}
	return v, nil
}

func nodeFromProto(g *graph.Graph, np *onnxpb.NodeProto, baseDir string) (*graph.Node, error) {
	if np.GetOpType() == "" {
		return nil, errors.New("node without an op_type")
	}
	n := &graph.Node{Name: np.GetName(), OpType: np.GetOpType(), Domain: np.GetDomain(),
		Attrs: map[string]*graph.Attr{}}
	if n.Domain == "ai.onnx" {
		n.Domain = ""
	}
	rest := &onnxpb.NodeProto{DocString: np.DocString}
	rest.ProtoReflect().SetUnknown(np.ProtoReflect().GetUnknown())
	var err error
	if n.Opaque, err = marshalOpaque(rest); err != nil {
		return nil, err
	}
	for _, name := range np.Input {
		if name == "" {
			n.Inputs = append(n.Inputs, nil)
			continue
		}
		n.Inputs = append(n.Inputs, g.GetOrAddValue(name))
	}
	for _, name := range np.Output {
		if name == "" {
			n.Outputs = append(n.Outputs, nil)
			continue
		}
		v := g.GetOrAddValue(name)
		if v.Producer != nil {
			return nil, fmt.Errorf("output %q is already produced by node %v", name, v.Producer)
		}
		if v.Const != nil {
			return nil, fmt.Errorf("output %q is also an initializer", name)
		}
		n.Outputs = append(n.Outputs, v)
	}
	for _, ap := range np.Attribute {
		name := ap.GetName()
		if name == "" {
			return nil, errors.New("attribute without a name")
		}
		if _, dup := n.Attrs[name]; dup {
			return nil, fmt.Errorf("attribute %q appears twice", name)
		}
		a, err := attrFromProto(ap, baseDir)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		n.Attrs[name] = a
	}
	for _, v := range n.Inputs {
		if v != nil {
			addConsumerOnce(v, n)
		}
	}
	for _, v := range n.Outputs {
		if v != nil {
			v.Producer = n
		}
	}
	return n, nil
}

func addConsumerOnce(v *graph.Value, n *graph.Node) {
	for _, c := range v.Consumers {
		if c == n {
			return
		}
	}
	v.Consumers = append(v.Consumers, n)
}

// attrKind returns the declared kind, or infers it from the populated field
// for files that predate the type field.
func attrKind(ap *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	if ap.Type != nil {
		return ap.GetType()
	}
	switch {
	case ap.F != nil:
		return onnxpb.AttributeProto_FLOAT
	case ap.I != nil:
		return onnxpb.AttributeProto_INT
	case ap.S != nil:
		return onnxpb.AttributeProto_STRING
	case ap.T != nil:
		return onnxpb.AttributeProto_TENSOR
	case ap.G != nil:
		return onnxpb.AttributeProto_GRAPH
	case len(ap.Floats) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(ap.Ints) > 0:
		return onnxpb.AttributeProto_INTS
	case len(ap.Strings) > 0:
		return onnxpb.AttributeProto_STRINGS
	case len(ap.Tensors) > 0:
		return onnxpb.AttributeProto_TENSORS
	case len(ap.Graphs) > 0:
		return onnxpb.AttributeProto_GRAPHS
	}
	return onnxpb.AttributeProto_UNDEFINED
}

func attrFromProto(ap *onnxpb.AttributeProto, baseDir string) (*graph.Attr, error) {
	a := &graph.Attr{Type: graph.AttrType(attrKind(ap))}
	if ap.RefAttrName != nil {
		// A reference to a function attribute: keep it whole.
		return rawAttr(ap, a)
	}
	switch a.Type {
	case graph.AttrFloat:
		a.F = ap.GetF()
	case graph.AttrInt:
		a.I = ap.GetI()
	case graph.AttrString:
		a.S = string(ap.S)
	case graph.AttrTensor:
		if ap.T == nil {
			return nil, errors.New("tensor attribute without a tensor")
		}
		t, err := tensor.FromProto(ap.T, baseDir)
		if err != nil {
			return nil, err
		}
		a.T = t
	case graph.AttrFloats:
		a.Floats = ap.Floats
	case graph.AttrInts:
		a.Ints = ap.Ints
	case graph.AttrStrings:
		for _, s := range ap.Strings {
			a.Strings = append(a.Strings, string(s))
		}
	case graph.AttrTensors:
		for _, tp := range ap.Tensors {
			t, err := tensor.FromProto(tp, baseDir)
			if err != nil {
				return nil, err
			}
			a.Tensors = append(a.Tensors, t)
		}
	default:
		// Graphs, sparse tensors, type protos: not interpreted, preserved.
		return rawAttr(ap, a)
	}
	return a, nil
}

func rawAttr(ap *onnxpb.AttributeProto, a *graph.Attr) (*graph.Attr, error) {
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(ap)
	if err != nil {
		return nil, err
	}
	a.Raw = raw
	return a, nil
}
