package graph

// Model is a graph plus the model-level facts of an ONNX file.
type Model struct {
	Graph     *Graph
	IRVersion int64
	// Opsets maps an operator domain ("" for the default ONNX domain) to the
	// opset version the model imports.
	Opsets          map[string]int64
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	// Metadata are the metadata_props key/value pairs in file order.
	Metadata [][2]string
	// Opaque holds ModelProto fields the IR does not model (functions,
	// training info, unknown fields) as protobuf bytes.
	Opaque []byte
}

// Opset returns the version of the default ONNX domain.
func (m *Model) Opset() int64 { return m.Opsets[""] }

// NewModel wraps g in a model importing the given default-domain opset.
func NewModel(g *Graph, opset int64) *Model {
	return &Model{Graph: g, IRVersion: 8, Opsets: map[string]int64{"": opset},
		ProducerName: "gcompress"}
}
