package onnx

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/tensor"
)

// ExportOpset is the lowest default-domain opset gcompress writes (per-axis
// QuantizeLinear/DequantizeLinear need 13).
const ExportOpset = 13

// exportIRVersion is the lowest IR version written (opset 13 needs IR 7).
const exportIRVersion = 7

// SaveOptions control how Save lays out a model.
type SaveOptions struct {
	// ExternalData writes initializers of at least ExternalThreshold bytes to
	// a side file "<model file name>.data" next to the model. It is switched
	// on automatically when the initializers would not fit in 2 GiB.
	ExternalData      bool
	ExternalThreshold int64
}

// Save writes m to path atomically (and its external data file, if any).
func Save(m *graph.Model, path string, opts SaveOptions) error {
	var total int64
	for _, v := range m.Graph.Initializers {
		total += v.Const.Bytes()
	}
	if total > MaxModelBytes-(64<<20) {
		opts.ExternalData = true
	}
	if !opts.ExternalData {
		mp, err := ToProto(m)
		if err != nil {
			return err
		}
		return writeProto(path, mp)
	}
	if opts.ExternalThreshold <= 0 {
		opts.ExternalThreshold = 1024
	}
	location := filepath.Base(path) + ".data"
	var mp *onnxpb.ModelProto
	err := atomicfile.Write(filepath.Join(filepath.Dir(path), location), func(w io.Writer) error {
		var err error
		mp, err = toProto(m, &externalSink{w: w, location: location, threshold: opts.ExternalThreshold})
		return err
	})
	if err != nil {
		return err
	}
	return writeProto(path, mp)
}

func writeProto(path string, mp *onnxpb.ModelProto) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// Encode serializes m as a ModelProto with all data inline.
func Encode(m *graph.Model) ([]byte, error) {
	mp, err := ToProto(m)
	if err != nil {
		return nil, err
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(mp)
}

// ToProto converts m to a ModelProto with all data inline.
func ToProto(m *graph.Model) (*onnxpb.ModelProto, error) { return toProto(m, nil) }

// externalSink appends large tensors to an external data file.
type externalSink struct {
	w         io.Writer
	location  string
	threshold int64
	offset    int64
}

func (s *externalSink) tensor(t *tensor.Tensor, name string) (*onnxpb.TensorProto, error) {
	if s == nil || t.Bytes() < s.threshold || t.DType() == tensor.String {
		return tensor.ToProto(t, name), nil
	}
	p, n, err := tensor.ToProtoExternal(t, name, s.w, s.location, s.offset)
	if err != nil {
		return nil, err
	}
	s.offset += n
	return p, nil
}

func toProto(m *graph.Model, ext *externalSink) (*onnxpb.ModelProto, error) {
	mp := &onnxpb.ModelProto{}
	if len(m.Opaque) > 0 {
		if err := proto.Unmarshal(m.Opaque, mp); err != nil {
			return nil, fmt.Errorf("restore model fields: %w", err)
		}
	}
	ir := max(m.IRVersion, exportIRVersion)
	mp.IrVersion = &ir
	mp.ProducerName = strPtr(m.ProducerName)
	mp.ProducerVersion = strPtr(m.ProducerVersion)
	mp.Domain = strPtr(m.Domain)
	mp.DocString = strPtr(m.DocString)
	if m.ModelVersion != 0 {
		mv := m.ModelVersion
		mp.ModelVersion = &mv
	}
	domains := make([]string, 0, len(m.Opsets))
	for d := range m.Opsets {
		domains = append(domains, d)
	}
	sort.Strings(domains)
	hasDefault := false
	for _, d := range domains {
		v := m.Opsets[d]
		if d == "" {
			v = max(v, ExportOpset)
			hasDefault = true
		}
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: strPtr(d), Version: &v})
	}
	if !hasDefault {
		v := int64(ExportOpset)
		mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: strPtr(""), Version: &v})
	}
	for _, kv := range m.Metadata {
		k, v := kv[0], kv[1]
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: &k, Value: &v})
	}
	gp, err := graphToProto(m.Graph, ext)
	if err != nil {
		return nil, err
	}
	mp.Graph = gp
	return mp, nil
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func graphToProto(g *graph.Graph, ext *externalSink) (*onnxpb.GraphProto, error) {
	gp := &onnxpb.GraphProto{}
	if len(g.Opaque) > 0 {
		if err := proto.Unmarshal(g.Opaque, gp); err != nil {
			return nil, fmt.Errorf("restore graph fields: %w", err)
		}
	}
	name := g.Name
	gp.Name = &name
	for _, v := range g.Initializers {
		tp, err := ext.tensor(v.Const, v.Name)
		if err != nil {
			return nil, err
		}
		gp.Initializer = append(gp.Initializer, tp)
	}
	declared := map[*graph.Value]bool{}
	for _, v := range g.Inputs {
		gp.Input = append(gp.Input, valueInfo(v))
		declared[v] = true
	}
	for _, v := range g.Outputs {
		gp.Output = append(gp.Output, valueInfo(v))
		declared[v] = true
	}
	for _, n := range g.Nodes {
		np, err := nodeToProto(n)
		if err != nil {
			return nil, err
		}
		gp.Node = append(gp.Node, np)
	}
	for _, v := range g.Values() {
		if v.Annotated && !declared[v] && v.Const == nil {
			gp.ValueInfo = append(gp.ValueInfo, valueInfo(v))
		}
	}
	return gp, nil
}

func valueInfo(v *graph.Value) *onnxpb.ValueInfoProto {
	name := v.Name
	vi := &onnxpb.ValueInfoProto{Name: &name}
	if v.RawType != nil {
		tp := &onnxpb.TypeProto{}
		if proto.Unmarshal(v.RawType, tp) == nil {
			vi.Type = tp
		}
		return vi
	}
	if v.DType == tensor.Undefined && !v.HasShape {
		return vi
	}
	elem := int32(v.DType)
	tt := &onnxpb.TypeProto_Tensor{ElemType: &elem}
	if v.HasShape {
		tt.Shape = &onnxpb.TensorShapeProto{Dim: make([]*onnxpb.TensorShapeProto_Dimension, len(v.Shape))}
		for i, d := range v.Shape {
			dim := &onnxpb.TensorShapeProto_Dimension{}
			switch {
			case d.Known():
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d.Size}
			case d.Param != "":
				dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d.Param}
			}
			tt.Shape.Dim[i] = dim
		}
	}
	vi.Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}
	return vi
}

func nodeToProto(n *graph.Node) (*onnxpb.NodeProto, error) {
	np := &onnxpb.NodeProto{}
	if len(n.Opaque) > 0 {
		if err := proto.Unmarshal(n.Opaque, np); err != nil {
			return nil, fmt.Errorf("node %v: restore fields: %w", n, err)
		}
	}
	np.Name = strPtr(n.Name)
	op := n.OpType
	np.OpType = &op
	np.Domain = strPtr(n.Domain)
	for _, v := range n.Inputs {
		np.Input = append(np.Input, valueName(v))
	}
	for _, v := range n.Outputs {
		np.Output = append(np.Output, valueName(v))
	}
	names := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		ap, err := attrToProto(k, n.Attrs[k])
		if err != nil {
			return nil, fmt.Errorf("node %v: attribute %q: %w", n, k, err)
		}
		np.Attribute = append(np.Attribute, ap)
	}
	return np, nil
}

func valueName(v *graph.Value) string {
	if v == nil {
		return ""
	}
	return v.Name
}

func attrToProto(name string, a *graph.Attr) (*onnxpb.AttributeProto, error) {
	if a.Raw != nil {
		ap := &onnxpb.AttributeProto{}
		if err := proto.Unmarshal(a.Raw, ap); err != nil {
			return nil, err
		}
		ap.Name = &name
		return ap, nil
	}
	kind := onnxpb.AttributeProto_AttributeType(a.Type)
	ap := &onnxpb.AttributeProto{Name: &name, Type: &kind}
	switch a.Type {
	case graph.AttrFloat:
		f := a.F
		ap.F = &f
	case graph.AttrInt:
		i := a.I
		ap.I = &i
	case graph.AttrString:
		ap.S = []byte(a.S)
	case graph.AttrTensor:
		ap.T = tensor.ToProto(a.T, "")
		ap.T.Name = nil
	case graph.AttrFloats:
		ap.Floats = a.Floats
	case graph.AttrInts:
		ap.Ints = a.Ints
	case graph.AttrStrings:
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case graph.AttrTensors:
		for _, t := range a.Tensors {
			tp := tensor.ToProto(t, "")
			tp.Name = nil
			ap.Tensors = append(ap.Tensors, tp)
		}
	default:
		return nil, fmt.Errorf("attribute kind %d has no value", a.Type)
	}
	return ap, nil
}
