package passes_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/conformance"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// foldTol is the tolerance of folded against unfolded outputs: folding
// changes the order of float32 roundings (weights scaled before, not after,
// the sum), a few ulps of the magnitudes involved.
const foldTol = 1e-4

// builder assembles small test graphs with random float32 initializers.
type builder struct {
	g   *graph.Graph
	rng *rand.Rand
}

func newBuilder(seed uint64) *builder {
	return &builder{g: graph.NewGraph("t"), rng: rand.New(rand.NewPCG(seed, 1))}
}

func (b *builder) input(name string, shape ...int) *graph.Value {
	v := b.g.GetOrAddValue(name)
	v.DType = tensor.Float32
	v.SetShape(shape)
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

// init adds an initializer with values uniform in [lo, hi).
func (b *builder) init(name string, lo, hi float64, shape ...int) *graph.Value {
	n := tensor.Product(shape)
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = float32(lo + (hi-lo)*b.rng.Float64())
	}
	return b.g.AddInitializer(name, tensor.FromSlice(shape, vals))
}

func (b *builder) node(op string, attrs map[string]*graph.Attr, ins ...*graph.Value) *graph.Value {
	out := b.g.NewValue(op)
	b.g.AddNode(op, ins, []*graph.Value{out}, attrs)
	return out
}

// bn adds an inference BatchNormalization over c channels.
func (b *builder) bn(x *graph.Value, c int) *graph.Value {
	return b.node("BatchNormalization", map[string]*graph.Attr{"epsilon": graph.FloatAttr(1e-3)}, x,
		b.init(b.g.UniqueName("s"), 0.5, 1.5, c), b.init(b.g.UniqueName("b"), -0.5, 0.5, c),
		b.init(b.g.UniqueName("mean"), -0.5, 0.5, c), b.init(b.g.UniqueName("var"), 0.5, 2, c))
}

func (b *builder) conv(x *graph.Value, cin, cout, k int, bias bool) *graph.Value {
	ins := []*graph.Value{x, b.init(b.g.UniqueName("w"), -0.5, 0.5, cout, cin, k, k)}
	if bias {
		ins = append(ins, b.init(b.g.UniqueName("cb"), -0.5, 0.5, cout))
	}
	return b.node("Conv", map[string]*graph.Attr{"pads": graph.IntsAttr(int64(k/2), int64(k/2), int64(k/2), int64(k/2))}, ins...)
}

func (b *builder) model(outs ...*graph.Value) *graph.Model {
	b.g.Outputs = outs
	if err := graph.InferShapes(b.g); err != nil {
		panic(err)
	}
	return graph.NewModel(b.g, 13)
}

func (b *builder) feed() map[string]*tensor.Tensor {
	f := map[string]*tensor.Tensor{}
	for _, v := range b.g.Inputs {
		shape, _ := v.ConcreteShape()
		t := tensor.FromSlice(shape, make([]float32, tensor.Product(shape)))
		for i := range t.F32() {
			t.F32()[i] = float32(b.rng.Float64()*2 - 1)
		}
		f[v.Name] = t
	}
	return f
}

// cpuSupports offers the fusions into every op of the CPU backend;
// nchwSupports leaves out the channel-blocked layout's ops, so that the
// tests of the other passes see their results in NCHW (TestBlockChannels
// covers the layout).
var (
	cpuSupports  = passes.Options{Supports: func(d, op string) bool { return cpu.Backend().Factory(d, op) != nil }}
	nchwSupports = passes.Options{Supports: func(d, op string) bool {
		switch op {
		case "NCHWcConv", "NCHWcMaxPool", "NCHWcAveragePool", "ToNCHWc", "FromNCHWc":
			return false
		}
		return cpu.Backend().Factory(d, op) != nil
	}}
)

func run(t *testing.T, m *graph.Model, feed map[string]*tensor.Tensor, noOpt bool) []*tensor.Tensor {
	t.Helper()
	s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 2, NoOptimize: noOpt})
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Run(feed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkEquivalent optimizes m (nchwSupports), checks the op counts of the
// result and that m itself is unchanged, and compares outputs of both on
// feed.
func checkEquivalent(t *testing.T, m *graph.Model, feed map[string]*tensor.Tensor, wantOps map[string]int) passes.Report {
	t.Helper()
	return checkEquivalentWith(t, m, feed, wantOps, nchwSupports)
}

// checkEquivalentWith is checkEquivalent with the options opts.
func checkEquivalentWith(t *testing.T, m *graph.Model, feed map[string]*tensor.Tensor, wantOps map[string]int, opts passes.Options) passes.Report {
	t.Helper()
	before := opCounts(m.Graph)
	om, rep, err := passes.Optimize(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := opCounts(m.Graph); !sameCounts(got, before) {
		t.Fatalf("Optimize modified its input: %v, was %v", got, before)
	}
	if got := opCounts(om.Graph); !sameCounts(got, wantOps) {
		t.Fatalf("optimized ops %v, want %v (report: %v)", got, wantOps, rep)
	}
	want := run(t, m, feed, true)
	got := run(t, om, feed, true)
	for i := range want {
		if err := conformance.Compare(got[i], want[i], foldTol, foldTol); err != nil {
			t.Fatalf("output %d: %v", i, err)
		}
	}
	return rep
}

func opCounts(g *graph.Graph) map[string]int {
	c := map[string]int{}
	for _, n := range g.Nodes {
		c[n.OpType]++
	}
	return c
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestFoldBatchNormIntoConv: Conv (with and without bias) -> BatchNorm ->
// Mul/Add by per-channel constants -> Relu become one FusedConv.
func TestFoldBatchNormIntoConv(t *testing.T) {
	for _, bias := range []bool{false, true} {
		b := newBuilder(1)
		x := b.input("x", 2, 3, 9, 8)
		y := b.bn(b.conv(x, 3, 5, 3, bias), 5)
		y = b.node("Mul", nil, y, b.init("mulc", 0.5, 1.5, 5, 1, 1))
		y = b.node("Add", nil, b.init("addc", -1, 1, 1, 5, 1, 1), y)
		y = b.node("Relu", nil, y)
		rep := checkEquivalent(t, b.model(y), b.feed(), map[string]int{"FusedConv": 1})
		if rep.AffinesFolded != 3 || rep.ActivationsFused != 1 {
			t.Fatalf("report %v", rep)
		}
	}
}

// TestFoldBatchNormIntoGemm: Gemm (transB both ways, with a C bias and
// beta) followed by BatchNorm.
func TestFoldBatchNormIntoGemm(t *testing.T) {
	for _, transB := range []int64{0, 1} {
		b := newBuilder(2)
		x := b.input("x", 4, 6)
		w := b.init("w", -1, 1, 6, 7)
		if transB == 1 {
			w = b.init("wt", -1, 1, 7, 6)
		}
		y := b.node("Gemm", map[string]*graph.Attr{"transB": graph.IntAttr(transB), "beta": graph.FloatAttr(0.5),
			"alpha": graph.FloatAttr(1.5)}, x, w, b.init("c", -1, 1, 7))
		y = b.bn(y, 7)
		checkEquivalent(t, b.model(y), b.feed(), map[string]int{"Gemm": 1})
	}
}

// TestConvAddReluFusion: a residual block, Relu(Add(Conv(x), x')), fuses
// the add and the activation into the convolution's epilogue; a Clip with
// constant bounds fuses too.
func TestConvAddReluFusion(t *testing.T) {
	b := newBuilder(3)
	x := b.input("x", 1, 4, 7, 7)
	skip := b.conv(x, 4, 4, 1, true)
	y := b.conv(x, 4, 4, 3, false)
	y = b.node("Relu", nil, b.node("Add", nil, skip, y))
	z := b.node("Clip", nil, b.conv(y, 4, 2, 3, true), b.g.AddInitializer("lo", tensor.FromSlice([]int{}, []float32{-0.25})),
		b.g.AddInitializer("hi", tensor.FromSlice([]int{}, []float32{0.3})))
	rep := checkEquivalent(t, b.model(z), b.feed(), map[string]int{"Conv": 1, "FusedConv": 2})
	if rep.AddsFused != 1 || rep.ActivationsFused != 2 {
		t.Fatalf("report %v", rep)
	}
}

// TestNoFusionAcrossSharedValues: a Conv output read twice (or a graph
// output) must not disappear into a fused node.
func TestNoFusionAcrossSharedValues(t *testing.T) {
	b := newBuilder(4)
	x := b.input("x", 1, 2, 5, 5)
	c := b.conv(x, 2, 3, 3, true)
	r := b.node("Relu", nil, c)
	n := b.bn(c, 3)
	checkEquivalent(t, b.model(r, n), b.feed(), map[string]int{"Conv": 1, "Relu": 1, "BatchNormalization": 1})
}

// TestOverridableInitializersNotFolded: an initializer that is also a graph
// input (IR >= 4) may be fed by the caller, so it is not folded.
func TestOverridableInitializersNotFolded(t *testing.T) {
	b := newBuilder(5)
	x := b.input("x", 1, 2, 5, 5)
	y := b.bn(b.conv(x, 2, 3, 3, false), 3)
	m := b.model(y)
	for _, v := range m.Graph.Initializers {
		m.Graph.Inputs = append(m.Graph.Inputs, v)
	}
	om, _, err := passes.Optimize(m, nchwSupports)
	if err != nil {
		t.Fatal(err)
	}
	if c := opCounts(om.Graph); c["BatchNormalization"] != 1 {
		t.Fatalf("folded an overridable initializer: %v", c)
	}
}

// TestConstantFoldingAndIdentities: Unsqueeze of a constant is folded (so
// that the Mul it feeds folds into the Conv), Identity and inference
// Dropout disappear.
func TestConstantFoldingAndIdentities(t *testing.T) {
	b := newBuilder(6)
	x := b.input("x", 1, 3, 6, 6)
	scale := b.node("Unsqueeze", nil, b.init("s", 0.5, 1.5, 4), b.g.AddInitializer("axes", tensor.FromSlice([]int{2}, []int64{1, 2})))
	y := b.node("Mul", nil, b.conv(x, 3, 4, 3, true), scale)
	y = b.node("Identity", nil, b.node("Dropout", nil, y))
	y = b.node("Sigmoid", nil, y)
	opts := nchwSupports
	opts.Eval = func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		op, err := cpu.Backend().Factory(n.Domain, n.OpType)(n, runtime.NodeInfo{Opset: 13})
		if err != nil {
			return nil, err
		}
		return op.Run(runtime.NewContext(1), in)
	}
	m := b.model(y)
	om, rep, err := passes.Optimize(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c := opCounts(om.Graph); !sameCounts(c, map[string]int{"Conv": 1, "Sigmoid": 1}) {
		t.Fatalf("ops %v (report %v)", c, rep)
	}
	feed := b.feed()
	want, got := run(t, m, feed, true), run(t, om, feed, true)
	if err := conformance.Compare(got[0], want[0], foldTol, foldTol); err != nil {
		t.Fatal(err)
	}
}

// TestFoldedZooModels runs zoo architectures with and without the passes
// (the session default vs NoOptimize) and requires the same outputs within
// 1e-4 relative (plus 1e-4 of the output scale).
func TestFoldedZooModels(t *testing.T) {
	names := []string{"squeezenet", "shufflenet", "resnet50"}
	if testing.Short() {
		names = names[:2]
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			z, err := models.LoadZoo(filepath.Join(testdata.Path("onnx-light"), "light_"+name+".onnx"), 1, cpu.Backend())
			if err != nil {
				t.Fatal(err)
			}
			want := run(t, z.Model, z.Feed, true)
			got := run(t, z.Model, z.Feed, false)
			for i := range want {
				scale := 0.0
				for _, v := range want[i].F32() {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				if err := conformance.Compare(got[i], want[i], 1e-4, 1e-4*scale); err != nil {
					t.Errorf("output %d: %v", i, err)
				}
			}
		})
	}
}

// TestLowerQDQ: in Optimize, a QDQ convolution (per-channel int8 weights,
// int32 bias, Relu before a uint8 Quantize with zero point 0), the Reshape
// between two Q/DQ pairs with the same parameters and a QDQ 2-D MatMul
// become QLinearConv, an 8-bit Reshape and com.microsoft QGemm, whose
// outputs differ from the float QDQ evaluation by at most one
// quantization step.
func TestLowerQDQ(t *testing.T) {
	b := newBuilder(7)
	x := b.input("x", 1, 4, 6, 6)
	f32 := func(name string, v ...float32) *graph.Value {
		shape := []int{len(v)}
		if len(v) == 1 {
			shape = []int{}
		}
		return b.g.AddInitializer(name, tensor.FromSlice(shape, v))
	}
	xs, xz := f32("xs", 0.01), b.g.AddInitializer("xz", tensor.FromSlice([]int{}, []uint8{128}))
	xq := b.node("QuantizeLinear", nil, x, xs, xz)
	xd := b.node("DequantizeLinear", nil, xq, xs, xz)
	wq := make([]int8, 3*4*3*3)
	for i := range wq {
		wq[i] = int8(b.rng.IntN(255) - 127)
	}
	ws := f32("ws", 0.002, 0.003, 0.004)
	wd := b.node("DequantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(0)},
		b.g.AddInitializer("wq", tensor.FromSlice([]int{3, 4, 3, 3}, wq)), ws)
	sx, sw := float32(0.01), []float32{0.002, 0.003, 0.004}
	bs := f32("bs", sx*sw[0], sx*sw[1], sx*sw[2]) // float32 products, as quantizers compute them
	bd := b.node("DequantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(0)},
		b.g.AddInitializer("bq", tensor.FromSlice([]int{3}, []int32{500, -300, 40})), bs)
	conv := b.node("Conv", map[string]*graph.Attr{"pads": graph.IntsAttr(1, 1, 1, 1)}, xd, wd, bd)
	ys, yz := f32("ys", 0.02), b.g.AddInitializer("yz", tensor.FromSlice([]int{}, []uint8{0}))
	yq := b.node("QuantizeLinear", nil, b.node("Relu", nil, conv), ys, yz)
	y := b.node("DequantizeLinear", nil, yq, ys, yz)
	// MatMul on the flattened output: [1, 108] x [108, 5].
	flat := b.node("Reshape", nil, y, b.g.AddInitializer("shape", tensor.FromSlice([]int{2}, []int64{1, 108})))
	fq := b.node("QuantizeLinear", nil, flat, ys, yz)
	fd := b.node("DequantizeLinear", nil, fq, ys, yz)
	mq := make([]int8, 108*5)
	for i := range mq {
		mq[i] = int8(b.rng.IntN(255) - 127)
	}
	md := b.node("DequantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(1)},
		b.g.AddInitializer("mq", tensor.FromSlice([]int{108, 5}, mq)), f32("ms", 0.01, 0.02, 0.01, 0.03, 0.01))
	zs, zz := f32("zs", 0.05), b.g.AddInitializer("zz", tensor.FromSlice([]int{}, []int8{3}))
	z := b.node("DequantizeLinear", nil, b.node("QuantizeLinear", nil, b.node("MatMul", nil, fd, md), zs, zz), zs, zz)
	m := b.model(y, z)
	om, rep, err := passes.Optimize(m, nchwSupports)
	if err != nil {
		t.Fatal(err)
	}
	c := opCounts(om.Graph)
	if rep.QDQFused != 3 || c["QLinearConv"] != 1 || c["QGemm"] != 1 || c["Conv"] != 0 || c["MatMul"] != 0 || c["DequantizeLinear"] != 2 {
		t.Fatalf("ops %v, report %v", c, rep)
	}
	feed := b.feed()
	want, got := run(t, m, feed, true), run(t, om, feed, true)
	for i, step := range []float64{0.02, 0.05} {
		if err := conformance.Compare(got[i], want[i], 0, step*1.001); err != nil {
			t.Errorf("output %d differs by more than one step: %v", i, err)
		}
	}
}

// TestFusePreActivation: BatchNorm -> Relu -> Conv (a DenseNet layer, with
// the BatchNorm input also read by a Concat) and BatchNorm -> Conv become
// FusedConv with a pre-activation; a BatchNorm read twice stays.
func TestFusePreActivation(t *testing.T) {
	b := newBuilder(8)
	x := b.input("x", 1, 6, 9, 9)
	act := b.node("Relu", nil, b.bn(x, 6))
	y1 := b.conv(act, 6, 4, 3, true)
	y2 := b.conv(b.bn(x, 6), 6, 5, 1, false)
	shared := b.bn(x, 6)
	y3 := b.conv(shared, 6, 2, 1, false)
	cat := b.node("Concat", map[string]*graph.Attr{"axis": graph.IntAttr(1)}, x, y1, y2, y3, shared)
	rep := checkEquivalent(t, b.model(cat), b.feed(), map[string]int{"FusedConv": 2, "Conv": 1, "BatchNormalization": 1, "Concat": 1})
	if rep.PreActsFused != 2 {
		t.Fatalf("report %v", rep)
	}
}

// TestConvMaxPoolFusion: a stem (Conv, Relu, MaxPool 3x3/2 with padding)
// and a Conv before a 2x2 MaxPool become FusedConvPool nodes with the same
// outputs; a MaxPool with ceil_mode, or after a convolution whose output
// is read twice, stays.
func TestConvMaxPoolFusion(t *testing.T) {
	b := newBuilder(9)
	x := b.input("x", 1, 3, 31, 29)
	pool := func(v *graph.Value, k, s, pad int64, ceil bool) *graph.Value {
		attrs := map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(k, k), "strides": graph.IntsAttr(s, s),
			"pads": graph.IntsAttr(pad, pad, pad, pad)}
		if ceil {
			attrs["ceil_mode"] = graph.IntAttr(1)
		}
		return b.node("MaxPool", attrs, v)
	}
	stem := pool(b.node("Relu", nil, b.conv(x, 3, 8, 7, true)), 3, 2, 1, false)
	y := pool(b.conv(stem, 8, 8, 3, false), 2, 2, 0, false)
	c := b.conv(y, 8, 4, 3, true)
	kept := pool(c, 3, 2, 0, true)
	shared := b.conv(y, 8, 4, 1, true)
	twice := b.node("Add", nil, pool(shared, 2, 2, 0, false), pool(shared, 2, 2, 0, false))
	rep := checkEquivalent(t, b.model(kept, twice), b.feed(),
		map[string]int{"FusedConvPool": 2, "Conv": 2, "MaxPool": 3, "Add": 1})
	if rep.PoolsFused != 2 || rep.ActivationsFused != 1 {
		t.Fatalf("report %v", rep)
	}
}

// TestFuseChannelShuffle: ShuffleNet's Reshape -> Transpose -> Reshape
// before a depthwise convolution becomes the convolution's shuffle_groups
// (24 channels in 3 groups: the last block of 16 channels half full; two
// images); a shuffle whose transposed value is also a graph output, one
// before a convolution that is not depthwise, and one whose result is also
// the convolution's residual summand stay as they are.
func TestFuseChannelShuffle(t *testing.T) {
	b := newBuilder(12)
	shuffle := func(x *graph.Value, groups, c, h, w int) (split, shuffled, out *graph.Value) {
		shape := func(dims ...int64) *graph.Value {
			return b.g.AddInitializer(b.g.UniqueName("shape"), tensor.FromSlice([]int{len(dims)}, dims))
		}
		split = b.node("Reshape", nil, x, shape(2, int64(groups), int64(c/groups), int64(h), int64(w)))
		shuffled = b.node("Transpose", map[string]*graph.Attr{"perm": graph.IntsAttr(0, 2, 1, 3, 4)}, split)
		return split, shuffled, b.node("Reshape", nil, shuffled, shape(2, int64(c), int64(h), int64(w)))
	}
	depthwise := func(x *graph.Value, c int, stride int64) *graph.Value {
		return b.node("Conv", map[string]*graph.Attr{"group": graph.IntAttr(int64(c)), "pads": graph.IntsAttr(1, 1, 1, 1),
			"strides": graph.IntsAttr(stride, stride)},
			x, b.init(b.g.UniqueName("w"), -0.5, 0.5, c, 1, 3, 3), b.init(b.g.UniqueName("cb"), -0.5, 0.5, c))
	}
	x := b.input("x", 2, 24, 9, 7)
	_, _, s := shuffle(x, 3, 24, 9, 7)
	fused := b.bn(depthwise(s, 24, 2), 24)
	_, kept, s2 := shuffle(x, 4, 24, 9, 7)
	shared := depthwise(s2, 24, 1)
	_, _, s3 := shuffle(x, 3, 24, 9, 7)
	dense := b.conv(s3, 24, 5, 3, false)
	_, _, s4 := shuffle(x, 2, 24, 9, 7)
	residual := b.node("Add", nil, depthwise(s4, 24, 1), s4) // the shuffled value is the summand too
	rep := checkEquivalent(t, b.model(fused, kept, shared, dense, residual), b.feed(),
		map[string]int{"FusedConv": 2, "Reshape": 6, "Transpose": 3, "Conv": 2})
	if rep.ShufflesFused != 1 || rep.AffinesFolded != 1 || rep.AddsFused != 1 {
		t.Fatalf("report %v", rep)
	}
}

// TestGlobalPools: an AveragePool whose window is the whole input becomes
// GlobalAveragePool; one with pads, one whose window is smaller than the
// input, a MaxPool over the whole input (it skips NaN, GlobalMaxPool does
// not) and a pool node without outputs stay.
func TestGlobalPools(t *testing.T) {
	b := newBuilder(13)
	x := b.input("x", 2, 5, 7, 6)
	whole := map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(7, 6), "strides": graph.IntsAttr(2, 2)}
	avg := b.node("AveragePool", whole, x)
	mx := b.node("MaxPool", whole, x)
	padded := b.node("AveragePool", map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(7, 6), "pads": graph.IntsAttr(1, 1, 1, 1),
		"count_include_pad": graph.IntAttr(1)}, x)
	part := b.node("AveragePool", map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(7, 5)}, x)
	rep := checkEquivalent(t, b.model(avg, mx, padded, part), b.feed(), map[string]int{"GlobalAveragePool": 1, "MaxPool": 1, "AveragePool": 2})
	if rep.GlobalPools != 1 {
		t.Fatalf("report %v", rep)
	}
	empty := newBuilder(14)
	empty.g.AddNode("AveragePool", []*graph.Value{empty.input("x", 1, 2, 3, 3)}, nil,
		map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(3, 3)})
	if n := passes.GlobalPools(empty.g); n != 0 {
		t.Fatalf("a pool without outputs rewritten (%d)", n)
	}
}

// TestBlockChannels: where the CPU has the blocked kernels, convolutions
// run channel-blocked: the 3-channel stem (read as NCHW planes) with the
// max pool fused to it split back into a blocked convolution and pool,
// residual sums, pre-activations (BatchNorm + Relu), the max pool, an
// average pool and the
// channel concatenation between them; FromNCHWc only before
// GlobalAveragePool and the graph outputs, one of them a 20-channel
// convolution (not whole blocks: its FromNCHWc keeps 20 channels), and
// before an 8-channel convolution, which stays NCHW (FusedConv: fewer
// output channels than a block); no ToNCHWc at all. The optimized graph
// computes what the original does.
func TestBlockChannels(t *testing.T) {
	if cpu.Backend().Factory(passes.Domain, "NCHWcConv") == nil {
		t.Skip("the CPU backend has no channel-blocked kernels on this CPU")
	}
	b := newBuilder(11)
	x := b.input("x", 1, 3, 40, 36)
	pool2 := map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(2, 2), "strides": graph.IntsAttr(2, 2)}
	stem := b.node("MaxPool", pool2, b.node("Relu", nil, b.conv(x, 3, 16, 3, true)))
	a := b.node("Relu", nil, b.conv(stem, 16, 32, 3, true))
	res := b.node("Relu", nil, b.node("Add", nil, b.conv(a, 32, 32, 1, true), a))
	cat := b.node("Concat", map[string]*graph.Attr{"axis": graph.IntAttr(1)},
		b.node("Relu", nil, b.conv(res, 32, 16, 1, true)), b.node("Relu", nil, b.conv(res, 32, 32, 3, false)))
	pool := b.node("MaxPool", map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(3, 3), "strides": graph.IntsAttr(2, 2)}, cat)
	side := b.conv(b.node("AveragePool", pool2, pool), 48, 16, 1, true) // a DenseNet transition's pool
	gap := b.node("GlobalAveragePool", nil, b.conv(pool, 48, 32, 3, true))
	odd := b.conv(pool, 48, 20, 1, true)
	pre := b.conv(b.node("Relu", nil, b.bn(pool, 48)), 48, 16, 3, true) // BatchNorm + Relu as the prologue
	narrow := b.node("Relu", nil, b.conv(pool, 48, 8, 3, true))         // fewer channels than a block: stays NCHW
	rep := checkEquivalentWith(t, b.model(side, gap, odd, pre, narrow), b.feed(), map[string]int{
		"NCHWcConv": 9, "FromNCHWc": 5, "Concat": 1, "NCHWcMaxPool": 2, "NCHWcAveragePool": 1, "GlobalAveragePool": 1,
		"FusedConv": 1}, cpuSupports)
	if rep.ConvsBlocked != 9 || rep.PreActsFused != 1 || rep.PoolsFused != 1 {
		t.Fatalf("report %v", rep)
	}
}

// TestFuseIntegerEpilogue: the float epilogue LowerQDQ writes after a
// ConvInteger (int32 bias Add, Cast, Mul by the scale, float bias Add),
// then a residual Sum and a Relu, becomes one FusedConvInteger with the
// summand and the activation, with bit-identical outputs; chains with an
// intermediate read twice or a scale that is not a constant stay.
func TestFuseIntegerEpilogue(t *testing.T) {
	b := newBuilder(12)
	x := b.input("x", 1, 4, 7, 7)
	short := b.input("short", 1, 6, 7, 7)
	sv := b.input("s", 1, 6, 1, 1) // a scale computed at run time
	xq := b.node("QuantizeLinear", nil, x, b.g.AddInitializer("xs", tensor.FromSlice([]int{}, []float32{0.01})),
		b.g.AddInitializer("xz", tensor.FromSlice([]int{}, []uint8{128})))
	wq := func(name string, shape ...int) *graph.Value {
		v := make([]int8, tensor.Product(shape))
		for i := range v {
			v[i] = int8(b.rng.IntN(255) - 127)
		}
		return b.g.AddInitializer(name, tensor.FromSlice(shape, v))
	}
	channel := func(name string, v ...float32) *graph.Value {
		return b.g.AddInitializer(name, tensor.FromSlice([]int{1, len(v), 1, 1}, v))
	}
	scale := []float32{1e-3, 2e-3, 3e-3, 1.5e-3, 2.5e-3, 4e-3}
	pads := map[string]*graph.Attr{"pads": graph.IntsAttr(1, 1, 1, 1)}
	toFloat := map[string]*graph.Attr{"to": graph.IntAttr(int64(tensor.Float32))}
	// fused: the whole chain, then Sum and Relu
	acc := b.node("ConvInteger", pads, xq, wq("w1", 6, 4, 3, 3))
	acc = b.node("Add", nil, acc, b.g.AddInitializer("bq", tensor.FromSlice([]int{1, 6, 1, 1}, []int32{500, -300, 40, 0, 7, -9000})))
	y := b.node("Mul", nil, b.node("Cast", toFloat, acc), channel("sc1", scale...))
	y = b.node("Add", nil, y, channel("bf", 0.5, -0.25, 0.125, 1, -1, 0))
	y1 := b.node("Relu", nil, b.node("Sum", nil, short, y))
	// kept: the Cast's output is read twice
	f2 := b.node("Cast", toFloat, b.node("ConvInteger", nil, xq, wq("w2", 6, 4, 1, 1)))
	y2 := b.node("Mul", nil, channel("sc2", scale...), f2)
	y3 := b.node("Neg", nil, f2)
	// kept: the scale is not a constant
	y4 := b.node("Mul", nil, b.node("Cast", toFloat, b.node("ConvInteger", nil, xq, wq("w3", 6, 4, 1, 1))), sv)
	m := b.model(y1, y2, y3, y4)
	om, rep, err := passes.Optimize(m, nchwSupports)
	if err != nil {
		t.Fatal(err)
	}
	c := opCounts(om.Graph)
	want := map[string]int{"QuantizeLinear": 1, "FusedConvInteger": 1, "ConvInteger": 2, "Cast": 2, "Mul": 2, "Neg": 1}
	if !sameCounts(c, want) || rep.IntegerEpilogues != 1 {
		t.Fatalf("ops %v, want %v (report %v)", c, want, rep)
	}
	for _, n := range om.Graph.Nodes {
		if n.OpType == "FusedConvInteger" && (n.AttrString("activation", "") != "Relu" || n.Input(7) == nil || n.Input(7).Name != "short") {
			t.Fatalf("fused node %v: want the Relu and the summand", n)
		}
	}
	feed := b.feed()
	wantOut, got := run(t, m, feed, true), run(t, om, feed, true)
	for i := range wantOut {
		if err := conformance.Compare(got[i], wantOut[i], 0, 0); err != nil {
			t.Errorf("output %d: %v", i, err)
		}
	}
}

// TestLowerQDQAbsentOutputs: a DQ -> Add whose output is absent (an
// ONNX output named "") and a Relu without outputs are left as they are,
// not dereferenced.
func TestLowerQDQAbsentOutputs(t *testing.T) {
	b := newBuilder(1)
	g, x := b.g, b.input("x", 1, 4)
	s := g.AddInitializer("s", tensor.Scalar(float32(0.1)))
	z := g.AddInitializer("z", tensor.Scalar(uint8(128)))
	q, d, sum := g.NewValue("q"), g.NewValue("d"), g.NewValue("sum")
	g.AddNode("QuantizeLinear", []*graph.Value{x, s, z}, []*graph.Value{q}, nil)
	g.AddNode("DequantizeLinear", []*graph.Value{q, s, z}, []*graph.Value{d}, nil)
	g.AddNode("Add", []*graph.Value{d, d}, []*graph.Value{nil}, nil)
	g.AddNode("Add", []*graph.Value{d, d}, []*graph.Value{sum}, nil)
	g.AddNode("Relu", []*graph.Value{sum}, nil, nil)
	y := g.NewValue("y")
	g.AddNode("Relu", []*graph.Value{d}, []*graph.Value{y}, nil)
	g.Outputs = []*graph.Value{y}
	_, r, err := passes.LowerQDQ(graph.NewModel(g, 13))
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops["QLinearAdd"] != 0 {
		t.Errorf("lowering %v", r.Ops)
	}
}
