package train

import (
	"fmt"
	"sort"
	"strings"

	// gorgonia's dependencies refuse to start on Go >= 1.21 unless a 2023+
	// version of this package says the GC does not move objects.
	_ "go4.org/unsafe/assume-no-moving-gc"
	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// Mode selects the semantics of Dropout and BatchNormalization.
type Mode int

const (
	// Training: Dropout multiplies by a fresh random mask each batch and
	// BatchNormalization normalises with batch statistics, updating the
	// running statistics.
	Training Mode = iota
	// Inference: Dropout is the identity and BatchNormalization uses the
	// running statistics (ONNX inference semantics, as the runtime).
	Inference
)

// TrainableOps lists the ONNX op types Build lowers to gorgonia.
var TrainableOps = []string{"AveragePool", "Add", "BatchNormalization", "Conv", "Dropout", "Flatten",
	"Gemm", "GlobalAveragePool", "Identity", "LogSoftmax", "MatMul", "MaxPool", "Relu", "Reshape", "Softmax"}

// weightSlots lists, per op, the input slots whose float32 initializers
// become trainable parameters.
var weightSlots = map[string][]int{
	"Gemm": {0, 1, 2}, "MatMul": {0, 1}, "Conv": {1, 2}, "BatchNormalization": {1, 2}, "Add": {0, 1},
}

// BuildOptions configure Build.
type BuildOptions struct {
	// Batch is the fixed batch size of the graph (gorgonia graphs have
	// static shapes).
	Batch int
	Mode  Mode
	// Frozen reports whether the initializer called name stays fixed: it
	// is a graph constant without a gradient. nil freezes nothing.
	Frozen func(name string) bool
	// ParamHook, if set, is applied once to each parameter node; the
	// consumers read what it returns (a fake-quantized weight, ...).
	ParamHook func(name string, w *G.Node) (*G.Node, error)
	// ActivationHook, if set, is applied to the first output of every
	// lowered node (named by its IR value); consumers read its result.
	ActivationHook func(value string, x *G.Node) (*G.Node, error)
}

// Param is a trainable (or frozen) float32 initializer of the model.
type Param struct {
	Name  string
	Value *graph.Value // the IR initializer
	Node  *G.Node
	// Data is the backing array of Node's value: solvers update it in
	// place and the next run sees the update.
	Data   []float32
	Shape  []int
	Frozen bool
}

// Buffer is a non-trainable state tensor updated by training: the running
// mean and variance of BatchNormalization.
type Buffer struct {
	Name  string
	Value *graph.Value
	Data  []float32
}

// bnState links a training-mode BatchNormalization kernel to its running
// statistics.
type bnState struct {
	k              *bnKernel
	mean, variance *Buffer
	momentum       float32
}

// dropoutSlot is the mask input of one Dropout node in training mode.
type dropoutSlot struct {
	name  string
	ratio float32
	node  *G.Node
	data  []float32
	dense *gt.Dense
}

// Net is a model lowered to a gorgonia expression graph of fixed batch
// size. Its parameters share memory with the gorgonia values; WriteBack
// copies them into the IR.
type Net struct {
	Model *graph.Model
	G     *G.ExprGraph
	Batch int
	Mode  Mode
	// InputName and InputShape describe the image input ([Batch, ...]).
	InputName  string
	InputShape []int
	Input      *G.Node
	inputData  []float32
	inputDense *gt.Dense
	// Output is graph output 0; Logits is the same node, or the input of a
	// final Softmax/LogSoftmax (losses want logits).
	Output  *G.Node
	Logits  *G.Node
	Params  []*Param
	Buffers []*Buffer

	dropouts []*dropoutSlot
	bns      []*bnState
	vals     map[*graph.Value]*G.Node
	params   map[*graph.Value]*Param
	hooked   map[*graph.Value]*G.Node
	buffers  map[*graph.Value]*Buffer
	opts     BuildOptions
	fwd      G.VM
}

// Build lowers the model to gorgonia. The model must have one non-constant
// float32 input (the images) with a declared shape whose first dimension
// is the batch; every node must be one of TrainableOps (all unsupported ops
// are listed in the error). The model itself is not modified.
func Build(m *graph.Model, opts BuildOptions) (*Net, error) {
	if opts.Batch <= 0 {
		return nil, fmt.Errorf("train: batch size %d must be positive", opts.Batch)
	}
	g := m.Graph
	if err := g.TopoSort(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if err := checkTrainable(g); err != nil {
		return nil, err
	}
	net := &Net{Model: m, G: G.NewGraph(), Batch: opts.Batch, Mode: opts.Mode, opts: opts,
		vals: map[*graph.Value]*G.Node{}, params: map[*graph.Value]*Param{},
		hooked: map[*graph.Value]*G.Node{}, buffers: map[*graph.Value]*Buffer{}}
	if err := net.addInput(g); err != nil {
		return nil, err
	}
	if err := net.collectParams(g); err != nil {
		return nil, err
	}
	for _, n := range g.Nodes {
		if err := net.lower(n); err != nil {
			return nil, fmt.Errorf("train: node %v: %w", n, err)
		}
	}
	if len(g.Outputs) == 0 {
		return nil, fmt.Errorf("train: model has no outputs")
	}
	out, ok := net.vals[g.Outputs[0]]
	if !ok {
		return nil, fmt.Errorf("train: output %q is not computed from the input", g.Outputs[0].Name)
	}
	net.Output, net.Logits = out, out
	if p := g.Outputs[0].Producer; p != nil && (p.OpType == "Softmax" || p.OpType == "LogSoftmax") {
		if l, ok := net.vals[p.Inputs[0]]; ok {
			net.Logits = l
		}
	}
	return net, nil
}

func checkTrainable(g *graph.Graph) error {
	ok := map[string]bool{}
	for _, op := range TrainableOps {
		ok[op] = true
	}
	bad := map[string]bool{}
	for _, n := range g.Nodes {
		if (n.Domain != "" && n.Domain != "ai.onnx") || !ok[n.OpType] {
			bad[n.OpType] = true
		}
	}
	if len(bad) == 0 {
		return nil
	}
	var names []string
	for op := range bad {
		names = append(names, op)
	}
	sort.Strings(names)
	return fmt.Errorf("train: op(s) not supported for training: %s (trainable: %s)",
		strings.Join(names, ", "), strings.Join(TrainableOps, ", "))
}

func (net *Net) addInput(g *graph.Graph) error {
	var in *graph.Value
	for _, v := range g.Inputs {
		if v.Const != nil {
			continue
		}
		if in != nil {
			return fmt.Errorf("train: model has several inputs (%q, %q); want one image input", in.Name, v.Name)
		}
		in = v
	}
	if in == nil || !in.HasShape || len(in.Shape) < 2 {
		return fmt.Errorf("train: the model input must declare a shape [batch, ...]")
	}
	if in.DType != tensor.Float32 {
		return fmt.Errorf("train: input %q is %v; want float32", in.Name, in.DType)
	}
	shape := []int{net.Batch}
	if d := in.Shape[0]; d.Known() && int(d.Size) != net.Batch {
		return fmt.Errorf("train: input %q has a fixed batch of %d, not %d", in.Name, d.Size, net.Batch)
	}
	for i, d := range in.Shape[1:] {
		if !d.Known() {
			return fmt.Errorf("train: input %q: dimension %d must be fixed", in.Name, i+1)
		}
		shape = append(shape, int(d.Size))
	}
	net.InputName, net.InputShape = in.Name, shape
	net.inputDense, net.inputData = newDense(shape)
	net.Input = G.NewTensor(net.G, gt.Float32, len(shape), G.WithShape(shape...), G.WithName(in.Name),
		G.WithValue(net.inputDense))
	net.vals[in] = net.Input
	return nil
}

// collectParams creates the parameter and buffer nodes, in initializer
// order.
func (net *Net) collectParams(g *graph.Graph) error {
	want := map[*graph.Value]bool{}
	buffers := map[*graph.Value]bool{}
	for _, n := range g.Nodes {
		for _, slot := range weightSlots[n.OpType] {
			if v := n.Input(slot); v != nil && v.Const != nil && v.Const.DType() == tensor.Float32 && v.Const.Rank() > 0 {
				want[v] = true
			}
		}
		if n.OpType == "BatchNormalization" {
			for _, slot := range []int{3, 4} {
				if v := n.Input(slot); v != nil && v.Const != nil {
					buffers[v] = true
				}
			}
		}
	}
	for _, v := range g.Initializers {
		switch {
		case buffers[v]:
			if want[v] {
				return fmt.Errorf("train: initializer %q is both a weight and a running statistic", v.Name)
			}
			if v.Const.DType() != tensor.Float32 {
				return fmt.Errorf("train: running statistic %q is %v; want float32", v.Name, v.Const.DType())
			}
			b := &Buffer{Name: v.Name, Value: v, Data: append([]float32(nil), v.Const.F32()...)}
			net.Buffers = append(net.Buffers, b)
			net.buffers[v] = b
		case want[v]:
			shape := append([]int(nil), v.Const.Shape()...)
			d, data := newDense(shape)
			copy(data, v.Const.F32())
			p := &Param{Name: v.Name, Value: v, Data: data, Shape: shape,
				Frozen: net.opts.Frozen != nil && net.opts.Frozen(v.Name)}
			p.Node = G.NewTensor(net.G, gt.Float32, len(shape), G.WithShape(shape...), G.WithName(v.Name), G.WithValue(d))
			net.Params = append(net.Params, p)
			net.params[v] = p
		}
	}
	return nil
}

// value returns the gorgonia node of an IR value: a computed value, the
// (hooked) parameter, or a constant for another float32 initializer.
func (net *Net) value(v *graph.Value) (*G.Node, error) {
	if v == nil {
		return nil, fmt.Errorf("missing input")
	}
	if n, ok := net.vals[v]; ok {
		return n, nil
	}
	if p, ok := net.params[v]; ok {
		if h, ok := net.hooked[v]; ok {
			return h, nil
		}
		n := p.Node
		if net.opts.ParamHook != nil {
			var err error
			if n, err = net.opts.ParamHook(p.Name, n); err != nil {
				return nil, fmt.Errorf("parameter hook on %q: %w", p.Name, err)
			}
		}
		net.hooked[v] = n
		return n, nil
	}
	if v.Const != nil {
		if v.Const.DType() != tensor.Float32 {
			return nil, fmt.Errorf("constant %q is %v; train computes in float32", v.Name, v.Const.DType())
		}
		shape := v.Const.Shape()
		var n *G.Node
		if len(shape) == 0 {
			n = G.NewConstant(v.Const.F32()[0], G.WithName(v.Name))
		} else {
			d, data := newDense(shape)
			copy(data, v.Const.F32())
			n = G.NewConstant(d, G.WithName(v.Name))
		}
		net.vals[v] = n
		return n, nil
	}
	return nil, fmt.Errorf("value %q is not computed", v.Name)
}

// set records the node computing IR value v, applying the activation hook.
func (net *Net) set(v *graph.Value, n *G.Node) error {
	if net.opts.ActivationHook != nil {
		h, err := net.opts.ActivationHook(v.Name, n)
		if err != nil {
			return fmt.Errorf("activation hook on %q: %w", v.Name, err)
		}
		n = h
	}
	net.vals[v] = n
	return nil
}

func (net *Net) lower(n *graph.Node) error {
	for i, o := range n.Outputs {
		if i > 0 && o != nil && len(o.Consumers) > 0 {
			return fmt.Errorf("output %d (%q) is read by another node; train supports only the first output", i, o.Name)
		}
	}
	var y *G.Node
	var err error
	switch n.OpType {
	case "Gemm":
		y, err = net.gemm(n)
	case "MatMul":
		y, err = net.matMul(n)
	case "Conv":
		y, err = net.conv(n)
	case "BatchNormalization":
		y, err = net.batchNorm(n)
	case "Relu":
		var x *G.Node
		if x, err = net.value(n.Input(0)); err == nil {
			y, err = G.Rectify(x)
		}
	case "MaxPool", "AveragePool":
		y, err = net.pool(n)
	case "GlobalAveragePool":
		var x *G.Node
		if x, err = net.value(n.Input(0)); err == nil {
			y, err = ApplyKernel(globalAvgPoolKernel{}, x)
		}
	case "Flatten":
		y, err = net.flatten(n)
	case "Reshape":
		y, err = net.reshape(n)
	case "Add":
		var a, b *G.Node
		if a, err = net.value(n.Input(0)); err == nil {
			if b, err = net.value(n.Input(1)); err == nil {
				y, err = broadcastBinary(a, b, false)
			}
		}
	case "Dropout":
		y, err = net.dropout(n)
	case "Softmax", "LogSoftmax":
		var x *G.Node
		if x, err = net.value(n.Input(0)); err == nil {
			axis := int(n.AttrInt("axis", -1))
			if axis < 0 {
				axis += x.Dims()
			}
			if axis < 0 || axis >= x.Dims() {
				return fmt.Errorf("axis %d out of range for rank %d", n.AttrInt("axis", -1), x.Dims())
			}
			y, err = ApplyKernel(&softmaxKernel{axis: axis, log: n.OpType == "LogSoftmax"}, x)
		}
	case "Identity":
		y, err = net.value(n.Input(0))
	default:
		return fmt.Errorf("op %s is not trainable", n.OpType)
	}
	if err != nil {
		return err
	}
	return net.set(n.Outputs[0], y)
}

func constScalar(v float32) *G.Node { return G.NewConstant(v) }

func (net *Net) gemm(n *graph.Node) (*G.Node, error) {
	a, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	b, err := net.value(n.Input(1))
	if err != nil {
		return nil, err
	}
	if a.Dims() != 2 || b.Dims() != 2 {
		return nil, fmt.Errorf("Gemm needs rank-2 A and B, got %v and %v", a.Shape(), b.Shape())
	}
	y, err := ApplyKernel(gemmKernel{transA: n.AttrInt("transA", 0) != 0, transB: n.AttrInt("transB", 0) != 0}, a, b)
	if err != nil {
		return nil, err
	}
	if alpha := n.AttrFloat("alpha", 1); alpha != 1 {
		if y, err = G.HadamardProd(y, constScalar(alpha)); err != nil {
			return nil, err
		}
	}
	if cv := n.Input(2); cv != nil {
		c, err := net.value(cv)
		if err != nil {
			return nil, err
		}
		if beta := n.AttrFloat("beta", 1); beta != 1 {
			if c, err = G.HadamardProd(c, constScalar(beta)); err != nil {
				return nil, err
			}
		}
		return broadcastBinary(y, c, false)
	}
	return y, nil
}

func (net *Net) matMul(n *graph.Node) (*G.Node, error) {
	a, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	b, err := net.value(n.Input(1))
	if err != nil {
		return nil, err
	}
	if a.Dims() < 2 || b.Dims() != 2 {
		return nil, fmt.Errorf("MatMul: train supports A of rank >= 2 times a matrix B, got %v and %v", a.Shape(), b.Shape())
	}
	as := a.Shape()
	k := as[len(as)-1]
	if k != b.Shape()[0] {
		return nil, fmt.Errorf("MatMul: A %v and B %v do not multiply", as, b.Shape())
	}
	lead := []int(as[:len(as)-1])
	if a.Dims() > 2 {
		if a, err = G.Reshape(a, gt.Shape{prod(lead), k}); err != nil {
			return nil, err
		}
	}
	y, err := ApplyKernel(gemmKernel{}, a, b)
	if err != nil {
		return nil, err
	}
	if len(lead) > 1 {
		return G.Reshape(y, gt.Shape(append(append([]int{}, lead...), b.Shape()[1])))
	}
	return y, nil
}

func prod(s []int) int {
	p := 1
	for _, d := range s {
		p *= d
	}
	return p
}

func (net *Net) conv(n *graph.Node) (*G.Node, error) {
	x, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	w, err := net.value(n.Input(1))
	if err != nil {
		return nil, err
	}
	if x.Dims() != 4 || w.Dims() != 4 {
		return nil, fmt.Errorf("train supports 2-D convolutions (rank-4 input and weight), got %v and %v", x.Shape(), w.Shape())
	}
	if g := n.AttrInt("group", 1); g != 1 {
		return nil, fmt.Errorf("train does not support grouped convolutions (group %d)", g)
	}
	ws := w.Shape()
	if ws[1] != x.Shape()[1] {
		return nil, fmt.Errorf("weight %v does not match %d input channels", ws, x.Shape()[1])
	}
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil, err
	}
	if win, err = win.Spatial(2, []int{ws[2], ws[3]}); err != nil {
		return nil, err
	}
	pads := make([]int, 2)
	for i := 0; i < 2; i++ {
		_, pb, pe, err := win.Axis(i, x.Shape()[2+i])
		if err != nil {
			return nil, err
		}
		if pb != pe {
			return nil, fmt.Errorf("train supports symmetric convolution padding only (axis %d pads %d, %d)", i, pb, pe)
		}
		pads[i] = pb
	}
	y, err := G.Conv2d(x, w, gt.Shape{ws[2], ws[3]}, pads, win.Strides, win.Dilations)
	if err != nil {
		return nil, err
	}
	if bv := n.Input(2); bv != nil {
		b, err := net.value(bv)
		if err != nil {
			return nil, err
		}
		if b.Dims() != 1 || b.Shape()[0] != ws[0] {
			return nil, fmt.Errorf("bias %v does not match %d filters", b.Shape(), ws[0])
		}
		if b, err = G.Reshape(b, gt.Shape{1, ws[0], 1, 1}); err != nil {
			return nil, err
		}
		return broadcastBinary(y, b, false)
	}
	return y, nil
}

func (net *Net) batchNorm(n *graph.Node) (*G.Node, error) {
	x, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	var in [2]*G.Node
	for i := range in {
		if in[i], err = net.value(n.Input(1 + i)); err != nil {
			return nil, err
		}
	}
	var bufs [2]*Buffer
	for i := range bufs {
		v := n.Input(3 + i)
		b, ok := net.buffers[v]
		if !ok {
			return nil, fmt.Errorf("running statistic %d must be an initializer", i)
		}
		if x.Dims() < 2 || len(b.Data) != x.Shape()[1] {
			return nil, fmt.Errorf("running statistic %q has %d values for input %v", b.Name, len(b.Data), x.Shape())
		}
		bufs[i] = b
	}
	k := &bnKernel{node: n.Name + "/" + n.Outputs[0].Name, eps: float64(n.AttrFloat("epsilon", 1e-5)),
		training: net.Mode == Training, runMean: bufs[0].Data, runVar: bufs[1].Data}
	if k.training {
		net.bns = append(net.bns, &bnState{k: k, mean: bufs[0], variance: bufs[1], momentum: n.AttrFloat("momentum", 0.9)})
	}
	return ApplyKernel(k, x, in[0], in[1])
}

func (net *Net) pool(n *graph.Node) (*G.Node, error) {
	x, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil, err
	}
	if win, err = win.Spatial(2, nil); err != nil {
		return nil, err
	}
	if n.OpType == "AveragePool" {
		for _, d := range win.Dilations {
			if d != 1 {
				return nil, fmt.Errorf("AveragePool with dilations is not supported")
			}
		}
	}
	k := &poolKernel{max: n.OpType == "MaxPool", win: win, includePad: n.AttrInt("count_include_pad", 0) != 0}
	return ApplyKernel(k, x)
}

func (net *Net) flatten(n *graph.Node) (*G.Node, error) {
	x, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	s := []int(x.Shape())
	axis := int(n.AttrInt("axis", 1))
	if axis < 0 {
		axis += len(s)
	}
	if axis < 0 || axis > len(s) {
		return nil, fmt.Errorf("axis %d out of range for rank %d", n.AttrInt("axis", 1), len(s))
	}
	return G.Reshape(x, gt.Shape{prod(s[:axis]), prod(s[axis:])})
}

func (net *Net) reshape(n *graph.Node) (*G.Node, error) {
	x, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	dims, ok := graph.ConstInt64s(n.Input(1))
	if !ok {
		return nil, fmt.Errorf("the target shape must be a constant")
	}
	in := []int(x.Shape())
	allowZero := n.AttrInt("allowzero", 0) != 0
	out := make([]int, len(dims))
	infer := -1
	for i, d := range dims {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has two -1 dimensions", dims)
			}
			infer = i
			out[i] = 1
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d of a rank-%d input", dims, i, len(in))
			}
			out[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("invalid dimension %d in shape %v", d, dims)
		default:
			out[i] = int(d)
		}
	}
	total := prod(in)
	if infer >= 0 {
		rest := prod(out)
		if rest == 0 || total%rest != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", in, dims)
		}
		out[infer] = total / rest
	}
	if prod(out) != total {
		return nil, fmt.Errorf("cannot reshape %v to %v", in, dims)
	}
	return G.Reshape(x, gt.Shape(out))
}

func (net *Net) dropout(n *graph.Node) (*G.Node, error) {
	x, err := net.value(n.Input(0))
	if err != nil {
		return nil, err
	}
	ratio := n.AttrFloat("ratio", 0.5) // opsets < 12
	if rv := n.Input(1); rv != nil {
		t := graph.ConstTensor(rv)
		if t == nil || t.Len() != 1 || !t.DType().IsFloat() {
			return nil, fmt.Errorf("the ratio must be a constant float scalar")
		}
		ratio = float32(t.Float64At(0))
	}
	if ratio < 0 || ratio >= 1 {
		return nil, fmt.Errorf("ratio %v outside [0, 1)", ratio)
	}
	if net.Mode != Training || ratio == 0 {
		return x, nil
	}
	shape := []int(x.Shape())
	d, data := newDense(shape)
	name := n.Outputs[0].Name + "/mask"
	mask := G.NewTensor(net.G, gt.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(d))
	net.dropouts = append(net.dropouts, &dropoutSlot{name: name, ratio: ratio, node: mask, data: data, dense: d})
	return ApplyKernel(maskKernel{tag: name}, x, mask)
}

// broadcastBinary returns a + b with NumPy broadcasting (or a - b when sub
// is set): the lower-rank operand is reshaped with leading ones, and the
// axes where one operand has size 1 are broadcast.
func broadcastBinary(a, b *G.Node, sub bool) (*G.Node, error) {
	op, bop := G.Add, G.BroadcastAdd
	if sub {
		op, bop = G.Sub, G.BroadcastSub
	}
	if a.IsScalar() || b.IsScalar() {
		return op(a, b)
	}
	sa, sb := []int(a.Shape()), []int(b.Shape())
	var err error
	for len(sa) < len(sb) {
		sa = append([]int{1}, sa...)
	}
	for len(sb) < len(sa) {
		sb = append([]int{1}, sb...)
	}
	if len(sa) != a.Dims() {
		if a, err = G.Reshape(a, gt.Shape(sa)); err != nil {
			return nil, err
		}
	}
	if len(sb) != b.Dims() {
		if b, err = G.Reshape(b, gt.Shape(sb)); err != nil {
			return nil, err
		}
	}
	var left, right []byte
	for i := range sa {
		switch {
		case sa[i] == sb[i]:
		case sa[i] == 1:
			left = append(left, byte(i))
		case sb[i] == 1:
			right = append(right, byte(i))
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a.Shape(), b.Shape())
		}
	}
	if left == nil && right == nil {
		return op(a, b)
	}
	return bop(a, b, left, right)
}

// SetInput copies one batch of images (Batch x per-sample elements, in the
// input's layout) into the input node.
func (net *Net) SetInput(x []float32) error {
	if len(x) != len(net.inputData) {
		return fmt.Errorf("train: batch of %d values, the input %v holds %d", len(x), net.InputShape, len(net.inputData))
	}
	copy(net.inputData, x)
	return nil
}

// Trainable returns the parameters that are not frozen.
func (net *Net) Trainable() []*Param {
	var out []*Param
	for _, p := range net.Params {
		if !p.Frozen {
			out = append(out, p)
		}
	}
	return out
}

// updateRunningStats folds the last batch statistics into the running
// statistics (ONNX BatchNormalization training semantics):
//
//	running = running * momentum + batch * (1 - momentum)
//
// with the population (biased) batch variance.
func (net *Net) updateRunningStats() {
	for _, s := range net.bns {
		if s.k.lastMean == nil {
			continue
		}
		m := float64(s.momentum)
		for c := range s.mean.Data {
			s.mean.Data[c] = float32(float64(s.mean.Data[c])*m + s.k.lastMean[c]*(1-m))
			s.variance.Data[c] = float32(float64(s.variance.Data[c])*m + s.k.lastVar[c]*(1-m))
		}
	}
}

// WriteBack copies the current parameters and running statistics into the
// model's initializers (as new tensors, so earlier snapshots and sessions
// keep their values).
func (net *Net) WriteBack() {
	for _, p := range net.Params {
		p.Value.Const = tensor.FromSlice(p.Shape, append([]float32(nil), p.Data...))
	}
	for _, b := range net.Buffers {
		b.Value.Const = tensor.FromSlice(b.Value.Const.Shape(), append([]float32(nil), b.Data...))
	}
}

// Forward runs the net once on a batch (Batch x per-sample values, in the
// input's layout) and returns graph output 0 and its shape. It is meant
// for nets without a loss attached (the agreement tests, evaluation of a
// training-mode graph); Dropout masks keep whatever they hold (zeros until
// filled), so use it in Inference mode unless the masks were set.
func (net *Net) Forward(x []float32) ([]float32, []int, error) {
	if err := net.SetInput(x); err != nil {
		return nil, nil, err
	}
	if net.fwd == nil {
		net.fwd = G.NewTapeMachine(net.G)
	}
	defer net.fwd.Reset()
	if err := net.fwd.RunAll(); err != nil {
		return nil, nil, fmt.Errorf("train: forward: %w", err)
	}
	out, shape, err := denseF32(net.Output.Value())
	if err != nil {
		return nil, nil, err
	}
	return append([]float32(nil), out...), append([]int(nil), shape...), nil
}
