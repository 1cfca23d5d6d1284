package models

import (
	"bytes"
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

// zooParams are the published parameter counts of the zoo architectures.
var zooParams = map[string]int{
	"lenet5":        61706,
	"lenet-300-100": 266610,
	"mlp-1200-1200": 2395210,
	"mlp-800-800":   1276810,
	"mlp-30-30":     24790,
}

func weightCount(g *graph.Graph) int {
	n := 0
	for _, v := range g.Initializers {
		if v.Const.Rank() > 0 {
			n += v.Const.Len()
		}
	}
	return n
}

func zooInput(m *graph.Model, batch int, seed uint64) *tensor.Tensor {
	shape := []int{batch}
	for _, d := range m.Graph.Inputs[0].Shape[1:] {
		shape = append(shape, int(d.Size))
	}
	t := tensor.MustNew(tensor.Float32, shape...)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range t.F32() {
		t.F32()[i] = rng.Float32()
	}
	return t
}

func TestZooBuilds(t *testing.T) {
	if len(Archs()) != len(zooParams) {
		t.Fatalf("Archs() = %v", Archs())
	}
	for _, arch := range Archs() {
		m, err := Build(arch, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := weightCount(m.Graph); got != zooParams[arch] {
			t.Errorf("%s: %d parameters, want %d", arch, got, zooParams[arch])
		}
		if About(arch) == "" || m.Opset() != ZooOpset {
			t.Errorf("%s: about %q, opset %d", arch, About(arch), m.Opset())
		}
		// ONNX round trip: the file decodes to the same weights and runs.
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatalf("%s: encode: %v", arch, err)
		}
		back, err := onnx.Decode(b, "")
		if err != nil {
			t.Fatalf("%s: decode: %v", arch, err)
		}
		for i, v := range m.Graph.Initializers {
			w := back.Graph.Value(v.Name)
			if w == nil || !graph.TensorsEqual(w.Const, v.Const) {
				t.Fatalf("%s: initializer %d (%s) changed in the round trip", arch, i, v.Name)
			}
		}
		sess, err := runtime.NewSession(back, cpu.Backend(), runtime.Options{Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		out, err := sess.Run(map[string]*tensor.Tensor{"image": zooInput(back, 3, 1)})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		if !tensor.SameShape(out[0].Shape(), []int{3, ZooClasses}) {
			t.Errorf("%s: output %v, want [3 10]", arch, out[0].Shape())
		}
		for _, v := range out[0].F32() {
			if math.IsNaN(float64(v)) || math.Abs(float64(v)) > 1e3 {
				t.Fatalf("%s: logit %v out of a sane range for He-initialised weights", arch, v)
			}
		}
		if m.Graph.Outputs[0].Name != "logits" || m.Graph.Inputs[0].Name != "image" {
			t.Errorf("%s: input %q output %q", arch, m.Graph.Inputs[0].Name, m.Graph.Outputs[0].Name)
		}
	}
}

func TestZooSeeds(t *testing.T) {
	enc := func(arch string, seed uint64) []byte {
		m, err := Build(arch, seed)
		if err != nil {
			t.Fatal(err)
		}
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, arch := range []string{"lenet5", "mlp-30-30"} {
		if !bytes.Equal(enc(arch, 4), enc(arch, 4)) {
			t.Errorf("%s: the same seed gave different files", arch)
		}
		if bytes.Equal(enc(arch, 4), enc(arch, 5)) {
			t.Errorf("%s: different seeds gave the same file", arch)
		}
	}
}

func TestZooHeInit(t *testing.T) {
	m, err := Build("mlp-800-800", 2)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Graph.Value("fc2.weight").Const.F32() // fan-in 800: std sqrt(2/800) = 0.05
	var s, q float64
	for _, v := range w {
		s += float64(v)
		q += float64(v) * float64(v)
	}
	mean, std := s/float64(len(w)), math.Sqrt(q/float64(len(w)))
	if math.Abs(mean) > 1e-3 || math.Abs(std-0.05) > 1e-3 {
		t.Errorf("fc2.weight mean %v std %v, want ~0 and 0.05", mean, std)
	}
	for _, v := range m.Graph.Value("fc2.bias").Const.F32() {
		if v != 0 {
			t.Fatal("biases must start at zero")
		}
	}
}

func TestZooErrors(t *testing.T) {
	if _, err := Build("resnet-9000", 1); err == nil || !strings.Contains(err.Error(), "lenet5") {
		t.Errorf("unknown architecture: %v", err)
	}
	if _, err := MLP("x", nil, 0, 0, 1); err == nil {
		t.Error("MLP without hidden layers accepted")
	}
	if _, err := MLP("x", []int{4}, 1, 0, 1); err == nil {
		t.Error("dropout ratio 1 accepted")
	}
}

// TestZooORT runs every zoo model in ONNX Runtime and compares its logits
// with gcompress's runtime.
func TestZooORT(t *testing.T) {
	ortpeer.Require(t)
	for _, arch := range Archs() {
		m, err := Build(arch, 3)
		if err != nil {
			t.Fatal(err)
		}
		b, err := onnx.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		peer, err := ortpeer.NewSession(b, 1)
		if err != nil {
			t.Fatalf("%s: ONNX Runtime rejects the model: %v", arch, err)
		}
		x := zooInput(m, 5, 9)
		theirs, err := peer.Run(map[string]*tensor.Tensor{"image": x})
		peer.Close()
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := sess.Run(map[string]*tensor.Tensor{"image": x})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range ours[0].F32() {
			w := theirs[0].F32()[i]
			if math.Abs(float64(v-w)) > 1e-4+1e-4*math.Abs(float64(w)) {
				t.Fatalf("%s: logit %d: ours %v, ORT %v", arch, i, v, w)
			}
		}
	}
}
