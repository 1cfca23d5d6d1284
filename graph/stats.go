package graph

// Model statistics for reports (gcompress inspect): parameter counts and
// bytes, operation counts (FLOPs) and shapes, per node and for the whole
// model. Everything is computed from the IR after shape inference; a
// quantity that depends on a shape inference could not determine is
// reported as unknown, never estimated.

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/gcompress/gcompress/tensor"
)

// ValueStats describes one tensor edge (a graph input or output, a node
// output).
type ValueStats struct {
	Name string `json:"name"`
	// DType is the element type ("float32", ...), "unknown" if not inferred.
	DType string `json:"dtype"`
	// Shape lists the dimensions, -1 for a dimension that is symbolic or
	// unknown; it is null when even the rank is unknown ([] for a scalar).
	Shape []int64 `json:"shape"`
	// ShapeText prints the shape with symbol names, e.g. "[batch 3 224 224]",
	// or "?" when the rank is unknown.
	ShapeText string `json:"shape_text"`
}

// NodeStats are the statistics of one node.
type NodeStats struct {
	// Name is the node's name in the file (may be empty).
	Name string `json:"name"`
	// Op is the op type, prefixed with its domain outside the default ONNX
	// domain ("com.microsoft.FusedConv").
	Op      string       `json:"op"`
	Outputs []ValueStats `json:"outputs"`
	// Params is the number of elements of the initializers the node reads
	// (each distinct initializer once); ParamBytes their size in memory.
	Params     int64 `json:"params"`
	ParamBytes int64 `json:"param_bytes"`
	// FLOPs is the operation count defined by NodeFLOPs; null when unknown.
	FLOPs *int64 `json:"flops"`
}

// ParamTotal counts the initializers of one dtype.
type ParamTotal struct {
	Params int64 `json:"params"`
	Bytes  int64 `json:"bytes"`
}

// ModelStats are the statistics of a whole model.
type ModelStats struct {
	Graph           string `json:"graph"`
	ProducerName    string `json:"producer_name"`
	ProducerVersion string `json:"producer_version"`
	IRVersion       int64  `json:"ir_version"`
	// Opset is the default-domain opset of the IR (the importer upgrades
	// models older than 13 to 13); Opsets lists every domain, the default
	// one as "ai.onnx".
	Opset  int64            `json:"opset"`
	Opsets map[string]int64 `json:"opsets"`
	// Inputs are the graph inputs the caller feeds (inputs that are also
	// initializers are left out); Outputs the graph outputs.
	Inputs  []ValueStats `json:"inputs"`
	Outputs []ValueStats `json:"outputs"`
	// NodeCount is the number of nodes; OpHistogram counts them by Op.
	NodeCount   int            `json:"node_count"`
	OpHistogram map[string]int `json:"op_histogram"`
	// Params and ParamBytes count every initializer of the graph once (also
	// one read by several nodes, or by none); ParamsByDType splits them by
	// element type.
	Params        int64                 `json:"params"`
	ParamBytes    int64                 `json:"param_bytes"`
	ParamsByDType map[string]ParamTotal `json:"params_by_dtype"`
	// FLOPs sums the FLOPs of the nodes where they are known. FLOPsComplete
	// is false when some node's count is unknown; FLOPsUnknownNodes counts
	// those nodes and FLOPsUnknownOps names their ops (sorted).
	FLOPs             int64    `json:"flops"`
	FLOPsComplete     bool     `json:"flops_complete"`
	FLOPsUnknownNodes int      `json:"flops_unknown_nodes"`
	FLOPsUnknownOps   []string `json:"flops_unknown_ops"`
	// ShapeError is the contradiction shape inference stopped at, if any;
	// shapes after that node may then be unknown.
	ShapeError string `json:"shape_error,omitempty"`
	// Nodes are in execution (topological) order.
	Nodes []NodeStats `json:"nodes"`
}

// ComputeStats sorts m's graph topologically, runs shape inference (it
// modifies the graph: inferred dtypes and shapes are recorded on its
// values) and returns the model's statistics. It fails only when the graph
// cannot be ordered (a cycle, an input nothing provides); a shape-inference
// contradiction is reported in ShapeError.
func ComputeStats(m *Model) (*ModelStats, error) {
	g := m.Graph
	if g == nil {
		return nil, fmt.Errorf("stats: model has no graph")
	}
	if err := g.TopoSort(); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	s := &ModelStats{
		Graph:           g.Name,
		ProducerName:    m.ProducerName,
		ProducerVersion: m.ProducerVersion,
		IRVersion:       m.IRVersion,
		Opset:           m.Opset(),
		Opsets:          map[string]int64{},
		NodeCount:       len(g.Nodes),
		OpHistogram:     map[string]int{},
		ParamsByDType:   map[string]ParamTotal{},
		FLOPsComplete:   true,
		FLOPsUnknownOps: []string{},
		Nodes:           make([]NodeStats, 0, len(g.Nodes)),
	}
	if err := InferShapes(g); err != nil {
		s.ShapeError = err.Error()
	}
	for d, v := range m.Opsets {
		if d == "" {
			d = "ai.onnx"
		}
		s.Opsets[d] = v
	}
	s.Inputs, s.Outputs = graphIO(g)
	s.addParams(g.Initializers)
	for _, n := range g.Nodes {
		s.addNode(NodeStatsOf(n))
	}
	return s, nil
}

// graphIO describes the fed inputs and the outputs of g.
func graphIO(g *Graph) (ins, outs []ValueStats) {
	ins, outs = []ValueStats{}, []ValueStats{}
	for _, v := range g.Inputs {
		if v.Const == nil {
			ins = append(ins, ValueStatsOf(v))
		}
	}
	for _, v := range g.Outputs {
		outs = append(outs, ValueStatsOf(v))
	}
	return ins, outs
}

// addParams totals the initializers, by dtype.
func (s *ModelStats) addParams(inits []*Value) {
	for _, v := range inits {
		n, b := int64(v.Const.Len()), v.Const.Bytes()
		s.Params += n
		s.ParamBytes += b
		t := s.ParamsByDType[v.Const.DType().String()]
		t.Params += n
		t.Bytes += b
		s.ParamsByDType[v.Const.DType().String()] = t
	}
}

// addNode appends ns and adds it to the histogram and the FLOPs total.
func (s *ModelStats) addNode(ns NodeStats) {
	s.Nodes = append(s.Nodes, ns)
	s.OpHistogram[ns.Op]++
	if ns.FLOPs != nil {
		s.FLOPs += *ns.FLOPs
		return
	}
	s.FLOPsComplete = false
	s.FLOPsUnknownNodes++
	if i, found := slices.BinarySearch(s.FLOPsUnknownOps, ns.Op); !found {
		s.FLOPsUnknownOps = slices.Insert(s.FLOPsUnknownOps, i, ns.Op)
	}
}

// NodeStatsOf returns the statistics of one node from the dtypes and shapes
// currently recorded on its values (run InferShapes first).
func NodeStatsOf(n *Node) NodeStats {
	ns := NodeStats{Name: n.Name, Op: qualifiedOp(n), Outputs: []ValueStats{}}
	for _, o := range n.Outputs {
		if o != nil {
			ns.Outputs = append(ns.Outputs, ValueStatsOf(o))
		}
	}
	seen := map[*Value]bool{}
	for _, in := range n.Inputs {
		if in == nil || in.Const == nil || seen[in] {
			continue
		}
		seen[in] = true
		ns.Params += int64(in.Const.Len())
		ns.ParamBytes += in.Const.Bytes()
	}
	if f, ok := NodeFLOPs(n); ok {
		ns.FLOPs = &f
	}
	return ns
}

// qualifiedOp names n's op, prefixed with its domain outside ONNX's.
func qualifiedOp(n *Node) string {
	if n.Domain == "" || n.Domain == "ai.onnx" {
		return n.OpType
	}
	return n.Domain + "." + n.OpType
}

// ValueStatsOf describes v as far as its dtype and shape are known.
func ValueStatsOf(v *Value) ValueStats {
	vs := ValueStats{Name: v.Name, DType: "unknown", ShapeText: "?"}
	if v.DType != tensor.Undefined {
		vs.DType = v.DType.String()
	}
	if v.HasShape {
		vs.Shape = make([]int64, len(v.Shape))
		for i, d := range v.Shape {
			vs.Shape[i] = max(d.Size, -1)
		}
		vs.ShapeText = FormatShape(v.Shape)
	}
	return vs
}

// numel returns the number of elements of v when its whole shape is known.
func numel(v *Value) (int64, bool) {
	if v == nil || !v.HasShape {
		return 0, false
	}
	return dimProduct(v.Shape)
}

// dimProduct multiplies known dimensions; false if one is unknown or the
// product overflows int64.
func dimProduct(dims []Dim) (int64, bool) {
	p := int64(1)
	for _, d := range dims {
		if !d.Known() {
			return 0, false
		}
		var ok bool
		if p, ok = mulChecked(p, d.Size); !ok {
			return 0, false
		}
	}
	return p, true
}

// mulChecked multiplies non-negative a and b; false on int64 overflow.
func mulChecked(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > 1<<63-1 {
		return 0, false
	}
	return int64(lo), true
}

// NodeFLOPs counts the operations of one execution of n, from the shapes
// recorded on its values; false when the count is unknown (a needed shape
// is not fully known, or the op has no rule below). Bias additions and
// scaling factors (Conv's B, Gemm's alpha, beta and C) are not counted.
//
//   - Matrix and convolution ops count 2 per multiply-accumulate (FLOPs =
//     2*MACs):
//     Conv, ConvInteger, QLinearConv: MACs = |Y| * |W|/W[0], each output
//     element being a dot product over C/group input channels and the
//     kernel window (W is [M, C/group, k1, k2, ...]).
//     ConvTranspose: MACs = |X| * |W|/W[0], each input element scattering
//     to M/group channels over the kernel window (W is [C, M/group, k...]).
//     Gemm: MACs = M*N*K from the shapes of A and B (after transA/transB).
//     MatMul, MatMulInteger, QLinearMatMul: MACs = |Y| * K, K the last
//     dimension of A.
//   - Elementwise ops (arithmetic, comparisons, logic, unary maths,
//     activations, QuantizeLinear/DequantizeLinear): 1 per output element
//     (|Y|), whatever the number of inputs.
//   - BatchNormalization: 2 per output element (inference form x*a + b).
//   - Softmax, LogSoftmax: 3 per output element (the exponential, its
//     share of the sum, the division or logarithm); the subtraction of
//     the maximum that keeps them stable is not counted.
//   - LRN: 2*size + 3 per output element (size multiply-accumulates for
//     the sum of squares across channels, then scale, power and divide).
//   - MaxPool, AveragePool, LpPool: 1 per window element per output element
//     (|Y| * prod(kernel_shape)).
//   - Global pools, Reduce*, ArgMax, ArgMin: 1 per input element (|X|).
//   - Data movement and shape ops (Reshape, Transpose, Concat, Slice,
//     Gather, Pad, Cast, Constant, Identity, Dropout, ...): 0.
//
// Every other op (LayerNormalization, Resize, LSTM, ...) is
// unknown. |T| is the number of elements of T.
func NodeFLOPs(n *Node) (int64, bool) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return 0, false
	}
	rule, ok := flopRules[n.OpType]
	if !ok {
		return 0, false
	}
	return rule(n)
}

// flopRule counts the operations of a node; false when unknown.
type flopRule func(n *Node) (int64, bool)

var flopRules = map[string]flopRule{
	"Conv":               convFLOPs(1),
	"ConvInteger":        convFLOPs(1),
	"QLinearConv":        convFLOPs(3),
	"ConvTranspose":      convTransposeFLOPs,
	"Gemm":               gemmFLOPs,
	"MatMul":             matMulFLOPs,
	"MatMulInteger":      matMulFLOPs,
	"QLinearMatMul":      matMulFLOPs,
	"BatchNormalization": perOutputElement(2),
	"Softmax":            perOutputElement(3),
	"LogSoftmax":         perOutputElement(3),
	"LRN":                lrnFLOPs,
	"MaxPool":            poolFLOPs,
	"AveragePool":        poolFLOPs,
	"LpPool":             poolFLOPs,
}

var (
	elementwiseOps = []string{
		"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean",
		"Neg", "Abs", "Reciprocal", "Sqrt", "Exp", "Log", "Floor", "Ceil", "Round",
		"Sign", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh",
		"Asinh", "Acosh", "Atanh", "Relu", "LeakyRelu", "PRelu", "Sigmoid",
		"HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Celu", "Softplus",
		"Softsign", "Gelu", "Mish", "ThresholdedRelu", "Shrink", "Clip",
		"QuantizeLinear", "DequantizeLinear", "Equal", "Less", "Greater",
		"LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where",
		"IsNaN", "IsInf", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
		"BitwiseNot",
	}
	inputReductionOps = []string{
		"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceSum",
		"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
		"ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
		"ArgMax", "ArgMin",
	}
	dataMovementOps = []string{
		"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat",
		"Split", "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Tile",
		"Pad", "Identity", "Dropout", "Shape", "Size", "Constant",
		"ConstantOfShape", "Cast", "CastLike", "DepthToSpace", "SpaceToDepth",
		"Range", "NonZero", "ScatterND", "ScatterElements", "OneHot", "EyeLike",
		"Trilu", "ReverseSequence", "Compress",
	}
)

func init() {
	for _, op := range elementwiseOps {
		flopRules[op] = perOutputElement(1)
	}
	for _, op := range inputReductionOps {
		flopRules[op] = perInputElement
	}
	for _, op := range dataMovementOps {
		flopRules[op] = func(*Node) (int64, bool) { return 0, true }
	}
}

// perOutputElement counts k operations per element of output 0.
func perOutputElement(k int64) flopRule {
	return func(n *Node) (int64, bool) {
		y, ok := numel(outputValue(n, 0))
		if !ok {
			return 0, false
		}
		return mulChecked(y, k)
	}
}

// lrnFLOPs counts 2*size + 3 per output element (see NodeFLOPs).
func lrnFLOPs(n *Node) (int64, bool) {
	size := n.AttrInt("size", 0)
	if size < 1 {
		return 0, false
	}
	return perOutputElement(2*size + 3)(n)
}

// perInputElement counts one operation per element of input 0.
func perInputElement(n *Node) (int64, bool) { return numel(n.Input(0)) }

// convFLOPs counts 2*|Y|*|W|/W[0] for a convolution whose weight is
// input w.
func convFLOPs(w int) flopRule {
	return func(n *Node) (int64, bool) {
		y, ok := numel(outputValue(n, 0))
		if !ok {
			return 0, false
		}
		return twoMACs(y, perRowOfWeight(n.Input(w)))
	}
}

// convTransposeFLOPs counts 2*|X|*|W|/W[0].
func convTransposeFLOPs(n *Node) (int64, bool) {
	x, ok := numel(n.Input(0))
	if !ok {
		return 0, false
	}
	return twoMACs(x, perRowOfWeight(n.Input(1)))
}

// perRowOfWeight returns |W|/W[0], the MACs each output (Conv) or input
// (ConvTranspose) element contributes; -1 when W's shape is unknown.
func perRowOfWeight(w *Value) int64 {
	if w == nil || !w.HasShape || len(w.Shape) < 1 {
		return -1
	}
	k, ok := dimProduct(w.Shape[1:])
	if !ok {
		return -1
	}
	return k
}

// gemmFLOPs counts 2*M*N*K from A [M,K] and B [K,N] (transposed as the
// transA/transB attributes say).
func gemmFLOPs(n *Node) (int64, bool) {
	a, b := n.Input(0), n.Input(1)
	if a == nil || b == nil || !a.HasShape || !b.HasShape || len(a.Shape) != 2 || len(b.Shape) != 2 {
		return 0, false
	}
	m, k := a.Shape[0], a.Shape[1]
	if n.AttrInt("transA", 0) != 0 {
		m, k = k, m
	}
	nn := b.Shape[1]
	if n.AttrInt("transB", 0) != 0 {
		nn = b.Shape[0]
	}
	mn, ok := dimProduct([]Dim{m, nn})
	if !ok || !k.Known() {
		return 0, false
	}
	return twoMACs(mn, k.Size)
}

// matMulFLOPs counts 2*|Y|*K, K the last dimension of A (input 0).
func matMulFLOPs(n *Node) (int64, bool) {
	a := n.Input(0)
	y, ok := numel(outputValue(n, 0))
	if !ok || a == nil || !a.HasShape || len(a.Shape) == 0 {
		return 0, false
	}
	k := a.Shape[len(a.Shape)-1]
	if !k.Known() {
		return 0, false
	}
	return twoMACs(y, k.Size)
}

// poolFLOPs counts |Y| * prod(kernel_shape).
func poolFLOPs(n *Node) (int64, bool) {
	y, ok := numel(outputValue(n, 0))
	ks := n.AttrInts("kernel_shape", nil)
	if !ok || len(ks) == 0 {
		return 0, false
	}
	dims := make([]Dim, len(ks))
	for i, k := range ks {
		dims[i] = Dim{Size: k}
	}
	k, ok := dimProduct(dims)
	if !ok {
		return 0, false
	}
	return mulChecked(y, k)
}

// twoMACs returns 2*a*b; false if b is negative (unknown) or on overflow.
func twoMACs(a, b int64) (int64, bool) {
	if b < 0 {
		return 0, false
	}
	p, ok := mulChecked(a, b)
	if !ok {
		return 0, false
	}
	return mulChecked(p, 2)
}

// outputValue returns output i of n, or nil.
func outputValue(n *Node, i int) *Value {
	if i < len(n.Outputs) {
		return n.Outputs[i]
	}
	return nil
}
