package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// ZooOpset is the ONNX opset the zoo builders emit.
const ZooOpset = 13

// ZooClasses is the number of classes of every zoo model (MNIST digits).
const ZooClasses = 10

// zoo maps an architecture name to its builder.
var zoo = map[string]struct {
	build func(seed uint64) (*graph.Model, error)
	about string
}{
	"lenet5":        {LeNet5, "LeNet-5: conv 6@5x5 (pad 2), max-pool, conv 16@5x5, max-pool, fc 120-84-10, ReLU"},
	"lenet-300-100": {LeNet300100, "LeNet-300-100: fully connected 784-300-100-10, ReLU"},
	"mlp-1200-1200": {MLP1200, "MLP 784-1200-1200-10, ReLU, dropout 0.2 on the input and 0.5 on hidden units (the distillation teacher)"},
	"mlp-800-800":   {MLP800, "MLP 784-800-800-10, ReLU, no regularisation (the distillation student)"},
	"mlp-30-30":     {MLP30, "MLP 784-30-30-10, ReLU (a tiny student)"},
}

// Archs lists the zoo architecture names, sorted.
func Archs() []string {
	out := make([]string, 0, len(zoo))
	for name := range zoo {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// About describes architecture name in one line ("" when unknown).
func About(name string) string { return zoo[name].about }

// Build returns the zoo architecture name with freshly initialised weights
// drawn from seed (see Init for the distributions). The model reads
// "image" float32 [batch, 1, 28, 28] (convolutional nets) or [batch, 784]
// (fully connected nets), pixels in [0, 1], and writes "logits" float32
// [batch, 10]. It fails for an unknown name, listing the known ones.
func Build(name string, seed uint64) (*graph.Model, error) {
	z, ok := zoo[name]
	if !ok {
		return nil, fmt.Errorf("unknown architecture %q (known: %s)", name, strings.Join(Archs(), ", "))
	}
	return z.build(seed)
}

// netBuilder appends layers to a graph, keeping the current value and its
// concrete per-sample shape, and draws initial weights from one seeded
// stream in layer order.
type netBuilder struct {
	g     *graph.Graph
	rng   *rand.Rand
	cur   *graph.Value
	shape []int // without the batch dimension
	count map[string]int
}

func newNetBuilder(name string, seed uint64, inShape []int) *netBuilder {
	g := graph.NewGraph(name)
	x := g.GetOrAddValue("image")
	x.DType = tensor.Float32
	x.Shape = append([]graph.Dim{{Size: -1, Param: "batch"}}, graph.KnownDims(inShape...)...)
	x.HasShape = true
	g.Inputs = []*graph.Value{x}
	return &netBuilder{g: g, rng: rand.New(rand.NewPCG(seed, 0x6c656e6574)), cur: x,
		shape: append([]int(nil), inShape...), count: map[string]int{}}
}

// name returns a fresh layer name kind<k> (fc1, conv2, ...).
func (b *netBuilder) name(kind string) string {
	b.count[kind]++
	return fmt.Sprintf("%s%d", kind, b.count[kind])
}

// node adds op reading the current value (plus extra inputs) and makes its
// output, with per-sample shape out, current.
func (b *netBuilder) node(name, op string, extra []*graph.Value, out []int, attrs map[string]*graph.Attr) {
	y := b.g.GetOrAddValue(name)
	y.DType = tensor.Float32
	y.Shape = append([]graph.Dim{{Size: -1, Param: "batch"}}, graph.KnownDims(out...)...)
	y.HasShape = true
	n := b.g.AddNode(op, append([]*graph.Value{b.cur}, extra...), []*graph.Value{y}, attrs)
	n.Name = name
	b.cur, b.shape = y, append([]int(nil), out...)
}

// Init fills a weight of the given shape whose fan-in is fanIn with
// He-normal values, w ~ N(0, 2 / fanIn), the usual initialisation for ReLU
// networks (He et al., 2015). Biases start at zero.
func (b *netBuilder) heNormal(shape []int, fanIn int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape...)
	std := math.Sqrt(2 / float64(fanIn))
	for i := range t.F32() {
		t.F32()[i] = float32(b.rng.NormFloat64() * std)
	}
	return t
}

// dense adds a fully connected layer y = x W^T + b (Gemm, transB = 1; W is
// [out, in], b is [out]).
func (b *netBuilder) dense(out int) {
	if len(b.shape) != 1 {
		b.flatten()
	}
	in := b.shape[0]
	name := b.name("fc")
	w := b.g.AddInitializer(name+".weight", b.heNormal([]int{out, in}, in))
	bias := b.g.AddInitializer(name+".bias", tensor.MustNew(tensor.Float32, out))
	b.node(name, "Gemm", []*graph.Value{w, bias}, []int{out}, map[string]*graph.Attr{"transB": graph.IntAttr(1)})
}

// conv adds a square convolution with outC filters of size k, stride 1 and
// symmetric zero padding pad, plus a bias.
func (b *netBuilder) conv(outC, k, pad int) {
	inC, h, w := b.shape[0], b.shape[1], b.shape[2]
	name := b.name("conv")
	wt := b.g.AddInitializer(name+".weight", b.heNormal([]int{outC, inC, k, k}, inC*k*k))
	bias := b.g.AddInitializer(name+".bias", tensor.MustNew(tensor.Float32, outC))
	p := int64(pad)
	b.node(name, "Conv", []*graph.Value{wt, bias}, []int{outC, h + 2*pad - k + 1, w + 2*pad - k + 1},
		map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(int64(k), int64(k)), "pads": graph.IntsAttr(p, p, p, p)})
}

func (b *netBuilder) relu() {
	b.node(b.name("relu"), "Relu", nil, b.shape, nil)
}

// maxPool adds a k x k max-pool with stride k.
func (b *netBuilder) maxPool(k int) {
	c, h, w := b.shape[0], b.shape[1], b.shape[2]
	kk := int64(k)
	b.node(b.name("pool"), "MaxPool", nil, []int{c, h / k, w / k},
		map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(kk, kk), "strides": graph.IntsAttr(kk, kk)})
}

func (b *netBuilder) flatten() {
	b.node(b.name("flatten"), "Flatten", nil, []int{tensor.Product(b.shape)}, map[string]*graph.Attr{"axis": graph.IntAttr(1)})
}

// dropout adds an (inference-time identity) Dropout with the given ratio,
// held in a scalar initializer as opset 12+ wants.
func (b *netBuilder) dropout(ratio float32) {
	name := b.name("dropout")
	r := b.g.AddInitializer(name+".ratio", tensor.Scalar(ratio))
	b.node(name, "Dropout", []*graph.Value{r}, b.shape, nil)
}

// finish names the current value "logits", makes it the graph output and
// wraps the graph in an opset-13 model.
func (b *netBuilder) finish(doc string) (*graph.Model, error) {
	last := b.cur
	if last.Producer == nil {
		return nil, fmt.Errorf("model %s has no layers", b.g.Name)
	}
	// Rename the last value to "logits".
	logits := b.g.GetOrAddValue("logits")
	logits.DType, logits.Shape, logits.HasShape = last.DType, last.Shape, true
	p := last.Producer
	p.Outputs[0] = logits
	logits.Producer = p
	b.g.Outputs = []*graph.Value{logits}
	b.g.RemoveDeadNodes()
	if err := b.g.Validate(); err != nil {
		return nil, fmt.Errorf("model %s: %w", b.g.Name, err)
	}
	m := graph.NewModel(b.g, ZooOpset)
	m.DocString = doc
	return m, nil
}
