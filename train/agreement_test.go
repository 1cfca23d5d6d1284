package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// agreeAbs and agreeRel bound |gorgonia - runtime| <= agreeAbs + agreeRel
// |runtime| elementwise. Both engines compute in float32 but sum in
// different orders (gorgonia: im2col + gonum SGEMM; the runtime: its own
// GEMM), which moves results by a few ulps per accumulated term; 1e-4 is
// ~1000 float32 ulps at 1.0 and holds with margin for the sizes here.
const (
	agreeAbs = 1e-4
	agreeRel = 1e-4
)

// irBuilder assembles small single-input test graphs.
type irBuilder struct {
	g   *graph.Graph
	rng *rand.Rand
	n   int
}

func newIR(seed uint64, inShape ...int) (*irBuilder, *graph.Value) {
	g := graph.NewGraph("t")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.SetShape(inShape)
	g.Inputs = []*graph.Value{x}
	return &irBuilder{g: g, rng: rand.New(rand.NewPCG(seed, 7))}, x
}

func (b *irBuilder) rand(scale float64, shape ...int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = float32(b.rng.NormFloat64() * scale)
	}
	return t
}

func (b *irBuilder) init(t *tensor.Tensor) *graph.Value {
	b.n++
	return b.g.AddInitializer(fmt.Sprintf("w%d", b.n), t)
}

func (b *irBuilder) op(op string, in []*graph.Value, attrs map[string]*graph.Attr) *graph.Value {
	b.n++
	y := b.g.GetOrAddValue(fmt.Sprintf("y%d", b.n))
	y.DType = tensor.Float32
	n := b.g.AddNode(op, in, []*graph.Value{y}, attrs)
	n.Name = fmt.Sprintf("%s_%d", op, b.n)
	return y
}

func (b *irBuilder) model(out *graph.Value, opset int64) *graph.Model {
	b.g.Outputs = []*graph.Value{out}
	return graph.NewModel(b.g, opset)
}

func ints(v ...int64) *graph.Attr { return graph.IntsAttr(v...) }

type agreeCase struct {
	name  string
	ops   []string // the trainable ops the case covers
	build func() *graph.Model
}

func agreementCases() []agreeCase {
	return []agreeCase{
		{"gemm transB bias", []string{"Gemm"}, func() *graph.Model {
			b, x := newIR(1, 3, 4)
			y := b.op("Gemm", []*graph.Value{x, b.init(b.rand(1, 5, 4)), b.init(b.rand(1, 5))},
				map[string]*graph.Attr{"transB": graph.IntAttr(1)})
			return b.model(y, 13)
		}},
		{"gemm transA alpha beta matrix C", []string{"Gemm"}, func() *graph.Model {
			b, x := newIR(2, 3, 4)
			y := b.op("Gemm", []*graph.Value{x, b.init(b.rand(1, 3, 6)), b.init(b.rand(1, 4, 6))},
				map[string]*graph.Attr{"transA": graph.IntAttr(1), "alpha": graph.FloatAttr(0.5), "beta": graph.FloatAttr(2)})
			return b.model(y, 13)
		}},
		{"gemm row C no bias path", []string{"Gemm"}, func() *graph.Model {
			b, x := newIR(3, 3, 4)
			h := b.op("Gemm", []*graph.Value{x, b.init(b.rand(1, 4, 5))}, nil)
			y := b.op("Gemm", []*graph.Value{h, b.init(b.rand(1, 5, 2)), b.init(b.rand(1, 1, 2))}, nil)
			return b.model(y, 13)
		}},
		{"matmul 2d and 3d, add bias", []string{"MatMul", "Add"}, func() *graph.Model {
			b, x := newIR(4, 3, 2, 4)
			h := b.op("MatMul", []*graph.Value{x, b.init(b.rand(1, 4, 5))}, nil)
			h = b.op("Add", []*graph.Value{h, b.init(b.rand(1, 5))}, nil)
			s := b.op("Reshape", []*graph.Value{h, b.init(tensor.FromSlice([]int{2}, []int64{3, -1}))}, nil)
			y := b.op("MatMul", []*graph.Value{s, b.init(b.rand(1, 10, 3))}, nil)
			return b.model(y, 13)
		}},
		{"conv stride pad bias, relu", []string{"Conv", "Relu"}, func() *graph.Model {
			b, x := newIR(5, 2, 3, 7, 7)
			h := b.op("Conv", []*graph.Value{x, b.init(b.rand(0.5, 4, 3, 3, 3)), b.init(b.rand(1, 4))},
				map[string]*graph.Attr{"pads": ints(1, 1, 1, 1), "strides": ints(2, 2)})
			return b.model(b.op("Relu", []*graph.Value{h}, nil), 13)
		}},
		{"conv dilation no bias, rectangular kernel", []string{"Conv"}, func() *graph.Model {
			b, x := newIR(6, 2, 2, 9, 8)
			y := b.op("Conv", []*graph.Value{x, b.init(b.rand(0.5, 3, 2, 3, 2))},
				map[string]*graph.Attr{"dilations": ints(2, 1), "pads": ints(2, 0, 2, 0)})
			return b.model(y, 13)
		}},
		{"conv auto_pad SAME_UPPER odd", []string{"Conv"}, func() *graph.Model {
			b, x := newIR(7, 1, 2, 6, 6)
			y := b.op("Conv", []*graph.Value{x, b.init(b.rand(0.5, 2, 2, 3, 3))},
				map[string]*graph.Attr{"auto_pad": graph.StringAttr("SAME_UPPER")})
			return b.model(y, 13)
		}},
		{"batchnorm inference 4d", []string{"BatchNormalization"}, func() *graph.Model {
			b, x := newIR(8, 2, 3, 4, 4)
			v := b.rand(0.3, 3)
			for i := range v.F32() {
				v.F32()[i] = 0.5 + float32(math.Abs(float64(v.F32()[i])))
			}
			y := b.op("BatchNormalization", []*graph.Value{x, b.init(b.rand(1, 3)), b.init(b.rand(1, 3)),
				b.init(b.rand(1, 3)), b.init(v)}, map[string]*graph.Attr{"epsilon": graph.FloatAttr(1e-3)})
			return b.model(y, 13)
		}},
		{"batchnorm inference 2d", []string{"BatchNormalization"}, func() *graph.Model {
			b, x := newIR(9, 3, 5)
			v := tensor.FromSlice([]int{5}, []float32{1, 2, 0.5, 3, 0.25})
			y := b.op("BatchNormalization", []*graph.Value{x, b.init(b.rand(1, 5)), b.init(b.rand(1, 5)),
				b.init(b.rand(1, 5)), b.init(v)}, nil)
			return b.model(y, 13)
		}},
		{"maxpool pads strides", []string{"MaxPool"}, func() *graph.Model {
			b, x := newIR(10, 2, 3, 7, 7)
			y := b.op("MaxPool", []*graph.Value{x}, map[string]*graph.Attr{"kernel_shape": ints(3, 3),
				"strides": ints(2, 2), "pads": ints(1, 1, 1, 1)})
			return b.model(y, 13)
		}},
		{"maxpool ceil dilation", []string{"MaxPool"}, func() *graph.Model {
			b, x := newIR(11, 1, 2, 8, 9)
			y := b.op("MaxPool", []*graph.Value{x}, map[string]*graph.Attr{"kernel_shape": ints(2, 3),
				"strides": ints(2, 2), "dilations": ints(2, 1), "ceil_mode": graph.IntAttr(1)})
			return b.model(y, 13)
		}},
		{"averagepool exclude pad", []string{"AveragePool"}, func() *graph.Model {
			b, x := newIR(12, 2, 3, 7, 7)
			y := b.op("AveragePool", []*graph.Value{x}, map[string]*graph.Attr{"kernel_shape": ints(3, 3),
				"strides": ints(2, 2), "pads": ints(1, 1, 1, 1)})
			return b.model(y, 13)
		}},
		{"averagepool include pad ceil", []string{"AveragePool"}, func() *graph.Model {
			b, x := newIR(13, 1, 2, 6, 7)
			y := b.op("AveragePool", []*graph.Value{x}, map[string]*graph.Attr{"kernel_shape": ints(2, 2),
				"strides": ints(2, 2), "pads": ints(1, 0, 0, 1), "count_include_pad": graph.IntAttr(1),
				"ceil_mode": graph.IntAttr(1)})
			return b.model(y, 13)
		}},
		{"global average pool, flatten", []string{"GlobalAveragePool", "Flatten"}, func() *graph.Model {
			b, x := newIR(14, 2, 3, 5, 4)
			h := b.op("GlobalAveragePool", []*graph.Value{x}, nil)
			return b.model(b.op("Flatten", []*graph.Value{h}, nil), 13)
		}},
		{"flatten axis 2, reshape 0 -1", []string{"Flatten", "Reshape"}, func() *graph.Model {
			b, x := newIR(15, 2, 3, 4, 5)
			h := b.op("Flatten", []*graph.Value{x}, map[string]*graph.Attr{"axis": graph.IntAttr(2)})
			y := b.op("Reshape", []*graph.Value{h, b.init(tensor.FromSlice([]int{3}, []int64{0, -1, 4}))}, nil)
			return b.model(y, 13)
		}},
		{"add broadcast channel bias and residual", []string{"Add", "Relu"}, func() *graph.Model {
			b, x := newIR(16, 2, 3, 4, 4)
			h := b.op("Add", []*graph.Value{x, b.init(b.rand(1, 3, 1, 1))}, nil)
			r := b.op("Relu", []*graph.Value{h}, nil)
			return b.model(b.op("Add", []*graph.Value{r, x}, nil), 13)
		}},
		{"add scalar-like and leading broadcast", []string{"Add"}, func() *graph.Model {
			b, x := newIR(17, 3, 4)
			h := b.op("Add", []*graph.Value{b.init(b.rand(1, 1, 4)), x}, nil)
			return b.model(b.op("Add", []*graph.Value{h, b.init(b.rand(1, 3, 1))}, nil), 13)
		}},
		{"dropout and identity at inference", []string{"Dropout", "Identity"}, func() *graph.Model {
			b, x := newIR(18, 3, 6)
			h := b.op("Dropout", []*graph.Value{x, b.init(tensor.Scalar[float32](0.5))}, nil)
			return b.model(b.op("Identity", []*graph.Value{h}, nil), 13)
		}},
		{"softmax axis 1", []string{"Softmax"}, func() *graph.Model {
			b, x := newIR(19, 3, 5)
			return b.model(b.op("Softmax", []*graph.Value{x}, map[string]*graph.Attr{"axis": graph.IntAttr(1)}), 13)
		}},
		{"softmax middle axis 3d", []string{"Softmax"}, func() *graph.Model {
			b, x := newIR(20, 2, 3, 4)
			return b.model(b.op("Softmax", []*graph.Value{x}, map[string]*graph.Attr{"axis": graph.IntAttr(1)}), 13)
		}},
		{"logsoftmax default axis", []string{"LogSoftmax"}, func() *graph.Model {
			b, x := newIR(21, 2, 3, 4)
			return b.model(b.op("LogSoftmax", []*graph.Value{x}, nil), 13)
		}},
	}
}

func runtimeOutput(t *testing.T, m *graph.Model, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Run(map[string]*tensor.Tensor{m.Graph.Inputs[0].Name: x})
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func compareOutputs(t *testing.T, what string, got []float32, gotShape []int, want *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(gotShape, want.Shape()) {
		t.Fatalf("%s: gorgonia shape %v, runtime %v", what, gotShape, want.Shape())
	}
	worst := 0.0
	for i, w := range want.F32() {
		d := math.Abs(float64(got[i]) - float64(w))
		if d > agreeAbs+agreeRel*math.Abs(float64(w)) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d: gorgonia %v, runtime %v", what, i, got[i], w)
		}
		worst = math.Max(worst, d)
	}
	t.Logf("%s: %d values agree, max |diff| %.2g", what, len(got), worst)
}

// TestForwardAgreement runs every trainable op through gcompress's runtime
// and through the gorgonia graph Build makes (inference mode), same
// weights and inputs, and compares the outputs.
func TestForwardAgreement(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range agreementCases() {
		t.Run(c.name, func(t *testing.T) {
			m := c.build()
			if err := graph.InferShapes(m.Graph); err != nil {
				t.Fatal(err)
			}
			in, _ := m.Graph.Inputs[0].ConcreteShape()
			b := &irBuilder{rng: rand.New(rand.NewPCG(99, 1))}
			x := b.rand(1, in...)
			want := runtimeOutput(t, m, x)
			net, err := Build(m, BuildOptions{Batch: in[0], Mode: Inference})
			if err != nil {
				t.Fatal(err)
			}
			got, shape, err := net.Forward(x.F32())
			if err != nil {
				t.Fatal(err)
			}
			compareOutputs(t, c.name, got, shape, want)
			for _, op := range c.ops {
				covered[op] = true
			}
		})
	}
	t.Run("zoo models", func(t *testing.T) {
		for _, arch := range models.Archs() {
			m, err := models.Build(arch, 3)
			if err != nil {
				t.Fatal(err)
			}
			shape := []int{4}
			for _, d := range m.Graph.Inputs[0].Shape[1:] {
				shape = append(shape, int(d.Size))
			}
			b := &irBuilder{rng: rand.New(rand.NewPCG(5, 5))}
			x := b.rand(1, shape...)
			want := runtimeOutput(t, m, x)
			net, err := Build(m, BuildOptions{Batch: 4, Mode: Inference})
			if err != nil {
				t.Fatal(err)
			}
			got, gs, err := net.Forward(x.F32())
			if err != nil {
				t.Fatal(err)
			}
			compareOutputs(t, arch, got, gs, want)
		}
	})
	var missing []string
	for _, op := range TrainableOps {
		if !covered[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 && !t.Failed() {
		t.Errorf("trainable ops without an agreement case: %v", missing)
	}
}

// TestBatchNormTrainingAgreement compares training-mode BatchNormalization
// (batch statistics, running-statistics update) with the runtime's
// training_mode=1 (opset 14).
func TestBatchNormTrainingAgreement(t *testing.T) {
	for _, shape := range [][]int{{4, 3, 5, 5}, {6, 4}} {
		c := shape[1]
		b, x := newIR(30, shape...)
		scale, bias := b.init(b.rand(1, c)), b.init(b.rand(1, c))
		mean := b.init(b.rand(1, c))
		v := b.rand(0.1, c)
		for i := range v.F32() {
			v.F32()[i] = 1 + float32(math.Abs(float64(v.F32()[i])))
		}
		variance := b.init(v)
		y := b.g.GetOrAddValue("y")
		rm, rv := b.g.GetOrAddValue("rm"), b.g.GetOrAddValue("rv")
		for _, o := range []*graph.Value{y, rm, rv} {
			o.DType = tensor.Float32
		}
		b.g.AddNode("BatchNormalization", []*graph.Value{x, scale, bias, mean, variance}, []*graph.Value{y, rm, rv},
			map[string]*graph.Attr{"training_mode": graph.IntAttr(1), "momentum": graph.FloatAttr(0.8)})
		b.g.Outputs = []*graph.Value{y, rm, rv}
		m := graph.NewModel(b.g, 14)
		in := (&irBuilder{rng: rand.New(rand.NewPCG(31, 1))}).rand(2, shape...)
		sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		want, err := sess.Run(map[string]*tensor.Tensor{"x": in})
		if err != nil {
			t.Fatal(err)
		}
		// train supports only the first output being read by other nodes;
		// the running statistics come from updateRunningStats.
		b.g.Outputs = []*graph.Value{y}
		net, err := Build(m, BuildOptions{Batch: shape[0], Mode: Training})
		if err != nil {
			t.Fatal(err)
		}
		got, gs, err := net.Forward(in.F32())
		if err != nil {
			t.Fatal(err)
		}
		compareOutputs(t, fmt.Sprintf("bn train %v", shape), got, gs, want[0])
		net.updateRunningStats()
		compareOutputs(t, "running mean", net.Buffers[0].Data, []int{c}, want[1])
		compareOutputs(t, "running var", net.Buffers[1].Data, []int{c}, want[2])
	}
}
