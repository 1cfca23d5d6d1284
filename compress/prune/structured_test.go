package prune

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// gb builds small test graphs with random float32 weights.
type gb struct {
	g   *graph.Graph
	rng *rand.Rand
}

func newGB(seed uint64) *gb {
	return &gb{g: graph.NewGraph("t"), rng: rand.New(rand.NewPCG(seed, 9))}
}

func (b *gb) input(shape ...int) *graph.Value {
	x := b.g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.Shape = append([]graph.Dim{{Size: -1, Param: "batch"}}, graph.KnownDims(shape[1:]...)...)
	x.HasShape = true
	b.g.Inputs = []*graph.Value{x}
	return x
}

func (b *gb) init(lo, hi float64, shape ...int) *graph.Value {
	d := make([]float32, tensor.Product(shape))
	for i := range d {
		d[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	return b.g.AddInitializer(b.g.UniqueName("w"), tensor.FromSlice(shape, d))
}

func (b *gb) node(op string, attrs map[string]*graph.Attr, ins ...*graph.Value) *graph.Value {
	out := b.g.NewValue(op)
	n := b.g.AddNode(op, ins, []*graph.Value{out}, attrs)
	n.Name = out.Name
	return out
}

func (b *gb) conv(x *graph.Value, cin, cout, k, group int) *graph.Value {
	p := int64(k / 2)
	return b.node("Conv", map[string]*graph.Attr{"pads": graph.IntsAttr(p, p, p, p), "group": graph.IntAttr(int64(group))},
		x, b.init(-0.5, 0.5, cout, cin/group, k, k), b.init(-0.5, 0.5, cout))
}

func (b *gb) bn(x *graph.Value, c int) *graph.Value {
	return b.node("BatchNormalization", nil, x, b.init(0.5, 1.5, c), b.init(-0.5, 0.5, c), b.init(-0.5, 0.5, c), b.init(0.5, 2, c))
}

func (b *gb) model(out *graph.Value) *graph.Model {
	b.g.Outputs = []*graph.Value{out}
	if err := graph.InferShapes(b.g); err != nil {
		panic(err)
	}
	return graph.NewModel(b.g, 13)
}

// silence zeroes what produces channel c of a node's output: the filter
// and bias of a Conv, the scale and shift of a BatchNormalization.
func silence(n *graph.Node, c int) {
	switch n.OpType {
	case "Conv":
		w := n.Input(1).Const
		per := w.Len() / w.Shape()[0]
		clear(w.F32()[c*per : (c+1)*per])
		n.Input(2).Const.F32()[c] = 0
	case "BatchNormalization":
		n.Input(1).Const.F32()[c] = 0
		n.Input(2).Const.F32()[c] = 0
	}
}

func runModel(t *testing.T, m *graph.Model, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func randInput(seed uint64, shape ...int) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := make([]float32, tensor.Product(shape))
	for i := range d {
		d[i] = rng.Float32()*2 - 1
	}
	return tensor.FromSlice(shape, d)
}

func sameOutputs(t *testing.T, what string, got, want *tensor.Tensor, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	for i := 0; i < got.Len(); i++ {
		if d := math.Abs(got.Float64At(i) - want.Float64At(i)); d > tol*(1+math.Abs(want.Float64At(i))) {
			t.Fatalf("%s: element %d: %v, want %v", what, i, got.Float64At(i), want.Float64At(i))
		}
	}
}

// residualGraph is Conv-BN-Relu, Conv-BN, residual Add, Relu, then a
// depthwise Conv and a Conv concatenated, MaxPool, Flatten, Gemm:
// the residual couples 8 channels across four convolutions, the depthwise
// conv passes them through, the Concat stacks them with 6 more, and the
// Flatten spreads each over 9 features of the Gemm.
func residualGraph(seed uint64) (*graph.Model, map[string]*graph.Node) {
	b := newGB(seed)
	x := b.input(2, 3, 6, 6)
	c1 := b.conv(x, 3, 8, 3, 1)
	a := b.node("Relu", nil, b.bn(c1, 8))
	c2 := b.conv(a, 8, 8, 3, 1)
	bb := b.bn(c2, 8)
	r := b.node("Relu", nil, b.node("Add", nil, a, bb))
	dw := b.conv(r, 8, 8, 3, 8)
	c3 := b.conv(r, 8, 6, 1, 1)
	e := b.node("Relu", nil, c3)
	cat := b.node("Concat", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, b.node("Relu", nil, dw), e)
	p := b.node("MaxPool", map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(2, 2), "strides": graph.IntsAttr(2, 2)}, cat)
	f := b.node("Flatten", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, p)
	y := b.node("Gemm", map[string]*graph.Attr{"transB": graph.IntAttr(1)}, f, b.init(-0.3, 0.3, 10, 126), b.init(-0.3, 0.3, 10))
	m := b.model(y)
	return m, map[string]*graph.Node{"c1": c1.Producer, "bn1": a.Producer.Inputs[0].Producer, "c2": c2.Producer,
		"bn2": bb.Producer, "dw": dw.Producer, "c3": c3.Producer, "gemm": y.Producer}
}

// TestChannelsResidualConcatDepthwiseFlatten silences residual channels 1
// and 5 (in every producer) and Conv3 channel 2, prunes 3 of the 14
// units by L1, and checks those are the units removed, the tensors shrank
// consistently, and the outputs did not change.
func TestChannelsResidualConcatDepthwiseFlatten(t *testing.T) {
	m, n := residualGraph(1)
	for _, c := range []int{1, 5} {
		for _, k := range []string{"c1", "bn1", "c2", "bn2", "dw"} {
			silence(n[k], c)
		}
	}
	silence(n["c3"], 2)
	x := randInput(2, 2, 3, 6, 6)
	want := runModel(t, m, x)
	pm, res, err := Channels(m, ChannelOptions{Ratio: 3.5 / 14, Criterion: CriterionL1})
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "pruned model", runModel(t, pm, x), want, 1e-5)
	shapes := map[string][]int{}
	for _, v := range pm.Graph.Initializers {
		shapes[v.Name] = v.Const.Shape()
	}
	check := func(name string, want ...int) {
		if !tensor.SameShape(shapes[name], want) {
			t.Errorf("%s: %v, want %v", name, shapes[name], want)
		}
	}
	check(n["c1"].Input(1).Name, 6, 3, 3, 3)
	check(n["c2"].Input(1).Name, 6, 6, 3, 3)
	check(n["dw"].Input(1).Name, 6, 1, 3, 3)
	check(n["c3"].Input(1).Name, 5, 6, 1, 1)
	check(n["gemm"].Input(1).Name, 10, 99)
	check(n["bn2"].Input(3).Name, 6)
	var dw *graph.Node
	for _, nd := range pm.Graph.Nodes {
		if nd.Name == n["dw"].Name {
			dw = nd
		}
	}
	if dw.AttrInt("group", 1) != 6 {
		t.Errorf("depthwise group %d, want 6", dw.AttrInt("group", 1))
	}
	removed := 0
	for _, g := range res.Groups {
		removed += g.Removed
	}
	if removed != 3 || res.FLOPsAfter >= res.FLOPsBefore || res.ParamsAfter >= res.ParamsBefore {
		t.Errorf("removed %d units, FLOPs %d -> %d, params %d -> %d", removed, res.FLOPsBefore, res.FLOPsAfter, res.ParamsBefore, res.ParamsAfter)
	}
	// The original is untouched.
	if m.Graph.Value(n["c1"].Input(1).Name).Const.Shape()[0] != 8 {
		t.Error("Channels modified its input model")
	}
	// ONNX Runtime runs the smaller model and agrees.
	ortpeer.Require(t)
	b, err := onnx.Encode(pm)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ortpeer.NewSession(b, 1)
	if err != nil {
		t.Fatalf("ONNX Runtime rejects the pruned model: %v", err)
	}
	defer peer.Close()
	theirs, err := peer.Run(map[string]*tensor.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "ORT", theirs[0], want, 1e-5)
}

// TestChannelsGroupedConv: a grouped convolution couples its channels in
// whole groups; silencing group 1 and pruning one unit removes exactly it.
func TestChannelsGroupedConv(t *testing.T) {
	b := newGB(4)
	x := b.input(1, 4, 5, 5)
	c1 := b.conv(x, 4, 8, 3, 1)
	gc := b.conv(b.node("Relu", nil, c1), 8, 8, 3, 4)
	y := b.conv(b.node("Relu", nil, gc), 8, 3, 1, 1)
	m := b.model(y)
	for _, c := range []int{2, 3} {
		silence(c1.Producer, c)
		silence(gc.Producer, c)
	}
	in := randInput(5, 1, 4, 5, 5)
	want := runModel(t, m, in)
	pm, res, err := Channels(m, ChannelOptions{Ratio: 0.3, Criterion: CriterionL2})
	if err != nil {
		t.Fatal(err)
	}
	sameOutputs(t, "grouped", runModel(t, pm, in), want, 1e-5)
	var g *graph.Node
	for _, n := range pm.Graph.Nodes {
		if n.Name == gc.Producer.Name {
			g = n
		}
	}
	if g.AttrInt("group", 1) != 3 || g.Input(1).Const.Shape()[0] != 6 || g.Input(1).Const.Shape()[1] != 2 {
		t.Errorf("grouped conv now group %d, weight %v", g.AttrInt("group", 1), g.Input(1).Const.Shape())
	}
	units := 0
	for _, gr := range res.Groups {
		if gr.Removed > 0 {
			units = gr.Units
		}
	}
	if units != 4 {
		t.Errorf("the grouped conv's group has %d units, want its 4 groups", units)
	}
}

// TestChannelsPinned: channels reshaped by something other than a flatten
// stay, with the reason reported.
func TestChannelsPinned(t *testing.T) {
	b := newGB(6)
	x := b.input(1, 2, 4, 4)
	c1 := b.conv(x, 2, 6, 3, 1)
	shape := b.g.AddInitializer("shape", tensor.FromSlice([]int{3}, []int64{0, 3, -1}))
	y := b.node("Reshape", nil, b.node("Relu", nil, c1), shape)
	m := b.model(y)
	pm, res, err := Channels(m, ChannelOptions{Ratio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	pinned := false
	for _, g := range res.Groups {
		if g.Removed != 0 {
			t.Errorf("group %d removed %d units", g.ID, g.Removed)
		}
		if strings.Contains(g.Pinned, "Reshape") {
			pinned = true
		}
	}
	if !pinned || res.FLOPsAfter != res.FLOPsBefore {
		t.Errorf("groups %+v", res.Groups)
	}
	_ = pm
}

// TestChannelsZoo prunes LeNet-5 and ResNet-mini to half their FLOPs and
// checks the models run, the residual groups are coupled, and BN-scale
// ranking works.
func TestChannelsZoo(t *testing.T) {
	for _, arch := range []string{"lenet5", "resnet-mini"} {
		m := mustModel(t, arch, 1)
		for _, crit := range []ChannelCriterion{CriterionL1, CriterionBN} {
			pm, res, err := ChannelsForFLOPs(m, 0.5, ChannelOptions{Criterion: crit})
			if err != nil {
				t.Fatal(err)
			}
			if r := res.FLOPsReduction(); r < 0.5 || r > 0.7 {
				t.Errorf("%s %s: FLOPs reduction %v", arch, crit, r)
			}
			s, err := runtime.NewSession(pm, cpu.Backend(), runtime.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			out, err := s.Run(map[string]*tensor.Tensor{"image": randInput(3, 2, 1, 28, 28)})
			if err != nil {
				t.Fatalf("%s: %v", arch, err)
			}
			if !tensor.SameShape(out[0].Shape(), []int{2, 10}) {
				t.Errorf("%s: output %v", arch, out[0].Shape())
			}
			if arch == "resnet-mini" {
				// The stem, the first block's convolutions and its add share
				// one group (identity shortcut).
				found := false
				for _, g := range res.Groups {
					j := strings.Join(g.Values, " ")
					if strings.Contains(j, "add1 ") && strings.Contains(j, "bn1 ") && strings.Contains(j, "bn3 ") {
						found = true
					}
				}
				if !found {
					t.Errorf("no group couples the stem and the first block: %+v", res.Groups)
				}
			}
		}
	}
}

// TestChannelsConcatKeepsEveryInput: a Concat input whose only channel
// ranks lowest keeps it (a Conv with no filters is no model); the other
// units are removed instead and the model stays consistent.
func TestChannelsConcatKeepsEveryInput(t *testing.T) {
	b := newGB(7)
	x := b.input(1, 2, 4, 4)
	c1 := b.conv(x, 2, 1, 3, 1)
	silence(c1.Producer, 0)
	c2 := b.conv(x, 2, 8, 3, 1)
	cat := b.node("Concat", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, b.node("Relu", nil, c1), b.node("Relu", nil, c2))
	y := b.conv(cat, 9, 3, 1, 1)
	m := b.model(y)
	pm, res, err := Channels(m, ChannelOptions{Ratio: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if got := pm.Graph.Value(c1.Producer.Input(1).Name).Const.Shape()[0]; got != 1 {
		t.Errorf("the single-channel Concat input has %d filters, want 1", got)
	}
	if got := pm.Graph.Value(c2.Producer.Input(1).Name).Const.Shape()[0]; got != 4 {
		t.Errorf("the other Concat input has %d filters, want 4", got)
	}
	removed := 0
	for _, g := range res.Groups {
		removed += g.Removed
	}
	if removed != 4 {
		t.Errorf("removed %d units, want 4 of 9", removed)
	}
	if out := runModel(t, pm, randInput(5, 1, 2, 4, 4)); !tensor.SameShape(out.Shape(), []int{1, 3, 4, 4}) {
		t.Errorf("output %v", out.Shape())
	}
}

// TestLayerReportsSparsifyEligibility: a Gemm that SparsifyWeights leaves
// dense (alpha != 1) is reported with the dense kernel however sparse its
// weight.
func TestLayerReportsSparsifyEligibility(t *testing.T) {
	kernel := func(alpha float64) string {
		b := newGB(11)
		x := b.input(1, 784)
		w := b.init(-0.5, 0.5, 300, 784)
		d := w.Const.F32()
		for i := range d {
			if i%20 != 0 {
				d[i] = 0 // 95% sparse
			}
		}
		y := b.node("Gemm", map[string]*graph.Attr{"transB": graph.IntAttr(1), "alpha": graph.FloatAttr(float32(alpha))}, x, w, b.init(-0.5, 0.5, 300))
		r := LayerReports(b.model(y))
		if len(r) != 1 {
			t.Fatalf("%d layers", len(r))
		}
		return r[0].Kernel
	}
	if k := kernel(2); k != "dense" {
		t.Errorf("alpha 2: kernel %s, but SparsifyWeights keeps such a Gemm dense", k)
	}
	// The same layer with alpha 1 is eligible (the table decides; csr on
	// the AVX-512 machine the table was measured on).
	t.Logf("alpha 1: kernel %s", kernel(1))
}
