package encode

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/compress/prune"
	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

func TestHuffman(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 3, 17, 64, 256} {
		for _, skew := range []float64{0, 1, 3} {
			freq := make([]int64, n)
			var syms []int
			for i := 0; i < 3000; i++ {
				// Geometric-ish skew: small symbols more frequent.
				s := int(float64(n) * math.Pow(rng.Float64(), 1+skew))
				freq[s]++
				syms = append(syms, s)
			}
			lens := HuffmanLengths(freq)
			code, err := NewCode(lens)
			if err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			// Entropy bound: H <= bits/sym < H + 1 (without the length limit).
			var h float64
			for _, f := range freq {
				if f > 0 {
					p := float64(f) / 3000
					h -= p * math.Log2(p)
				}
			}
			bits := float64(code.Bits(freq)) / 3000
			if used := countUsed(freq); used > 1 && (bits < h-1e-9 || bits >= h+1) {
				t.Errorf("n=%d skew %v: %.3f bits/symbol, entropy %.3f", n, skew, bits, h)
			}
			w := &BitWriter{}
			for _, s := range syms {
				if err := code.Put(w, s); err != nil {
					t.Fatal(err)
				}
			}
			back, err := ReadLengths(WriteLengths(lens), n)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := NewCode(back)
			if err != nil {
				t.Fatal(err)
			}
			r := NewBitReader(w.Bytes())
			for i, s := range syms {
				got, err := dc.Get(r)
				if err != nil || got != s {
					t.Fatalf("n=%d: symbol %d decoded as %d (%v), want %d", n, i, got, err, s)
				}
			}
		}
	}
	// The length limit holds for a Fibonacci distribution (which gives
	// unlimited Huffman codes lengths up to n-1).
	fib := []int64{1, 1}
	for len(fib) < 30 {
		fib = append(fib, fib[len(fib)-1]+fib[len(fib)-2])
	}
	lens := HuffmanLengths(fib)
	for _, l := range lens {
		if l > MaxCodeLen || l == 0 {
			t.Fatalf("Fibonacci lengths %v", lens)
		}
	}
	if _, err := NewCode(lens); err != nil {
		t.Fatalf("limited lengths are not a complete code: %v", err)
	}
	if _, err := NewCode([]uint8{1, 1, 1}); err == nil {
		t.Error("an over-subscribed code was accepted")
	}
	if _, err := NewCode([]uint8{2, 2, 2}); err == nil {
		t.Error("an incomplete code was accepted")
	}
}

func countUsed(freq []int64) int {
	n := 0
	for _, f := range freq {
		if f > 0 {
			n++
		}
	}
	return n
}

func TestKMeans(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	vals := make([]float32, 5000)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64() * 0.1)
	}
	s, err := KMeans(vals, 16, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Codebook) != 16 || len(s.Index) != len(vals) {
		t.Fatalf("codebook %d, indices %d", len(s.Codebook), len(s.Index))
	}
	for j := 1; j < 16; j++ {
		if s.Codebook[j] < s.Codebook[j-1] {
			t.Fatalf("codebook not increasing: %v", s.Codebook)
		}
	}
	// Lloyd's fixed point: each value is at its nearest centroid and each
	// centroid is its cluster's mean.
	sum := make([]float64, 16)
	cnt := make([]int, 16)
	var mse float64
	for i, v := range vals {
		c := s.Index[i]
		for j, cj := range s.Codebook {
			if math.Abs(float64(cj-v)) < math.Abs(float64(s.Codebook[c]-v))-1e-7 {
				t.Fatalf("value %v assigned to %v, %d (%v) is nearer", v, s.Codebook[c], j, cj)
			}
		}
		sum[c] += float64(v)
		cnt[c]++
		mse += math.Pow(float64(v-s.Codebook[c]), 2)
	}
	for j := range sum {
		if cnt[j] > 0 && math.Abs(sum[j]/float64(cnt[j])-float64(s.Codebook[j])) > 1e-6 {
			t.Errorf("centroid %d is %v, its mean %v", j, s.Codebook[j], sum[j]/float64(cnt[j]))
		}
	}
	// 16 levels over a Gaussian: the MSE is far below the variance.
	if mse/float64(len(vals)) > 0.01*0.01 {
		t.Errorf("MSE %v", mse/float64(len(vals)))
	}
	few, err := KMeans([]float32{1, 2, 2, 1}, 64, 10, false)
	if err != nil || len(few.Codebook) != 2 {
		t.Fatalf("two distinct values: %v, %v", few, err)
	}
	h, err := KMeans(vals, 8, 50, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range h.Codebook {
		if c != float32(float64(c)) || math.Abs(float64(c)) > 1 {
			t.Fatal(c)
		}
	}
	if _, err := KMeans([]float32{float32(math.NaN())}, 2, 10, false); err == nil {
		t.Error("NaN accepted")
	}
}

// prunedModel returns an untrained arch with the given fraction of each
// weight pruned.
func prunedModel(t *testing.T, arch string, sparsity float64) *graph.Model {
	t.Helper()
	m, err := models.Build(arch, 4)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := prune.Magnitude(prune.Layers(m), prune.Ratios{Default: sparsity}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Apply(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEncodeDecode: the decoded model equals the plan's quantized model
// bit for bit, the accounting adds up to the file size, and the model
// survives ONNX export.
func TestEncodeDecode(t *testing.T) {
	for _, opt := range []Options{{}, {Half: true, Small: "raw16", GapBits: 5}, {Bits: 4, Small: "shared", SparseMin: 0.95}} {
		m := prunedModel(t, "lenet5", 0.9)
		plan, err := MakePlan(m, opt)
		if err != nil {
			t.Fatal(err)
		}
		b, size, err := Encode(m, plan, opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := plan.Apply(m); err != nil {
			t.Fatal(err)
		}
		got, dsize, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range m.Graph.Initializers {
			w := got.Graph.Value(v.Name)
			if w == nil || !graph.TensorsEqual(w.Const, v.Const) {
				t.Fatalf("opt %+v: %s differs after decoding", opt, v.Name)
			}
		}
		for i, v := range m.Graph.Initializers {
			if got.Graph.Initializers[i].Name != v.Name {
				t.Fatalf("initializer %d is %s, want %s", i, got.Graph.Initializers[i].Name, v.Name)
			}
		}
		if len(got.Graph.Inputs) != 1 || got.Graph.Inputs[0].Name != "image" {
			t.Fatalf("inputs %v", got.Graph.Inputs)
		}
		total := size.GraphBytes + size.ParamBytes()
		if total != len(b) || dsize.ParamBytes() != size.ParamBytes() || size.FileBytes != len(b) {
			t.Errorf("accounting: graph %d + params %d = %d, file %d (decoded params %d)", size.GraphBytes, size.ParamBytes(), total, len(b), dsize.ParamBytes())
		}
		for i, ts := range size.Tensors {
			parts := ts.CodebookBytes + ts.StreamBytes + ts.TableBytes + ts.HeaderBytes
			if parts != ts.SectionBytes {
				t.Errorf("%s: parts %d != section %d", ts.Name, parts, ts.SectionBytes)
			}
			d := dsize.Tensors[i]
			if d.SectionBytes != ts.SectionBytes || d.HeaderBytes != ts.HeaderBytes || d.IndexHuffBits != ts.IndexHuffBits ||
				d.GapHuffBits != ts.GapHuffBits || d.StreamBytes != ts.StreamBytes || d.CodebookBytes != ts.CodebookBytes {
				t.Errorf("%s: decoded accounting %+v, encoded %+v", ts.Name, d, ts)
			}
		}
		if _, err := onnx.Encode(got); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTamper: truncating the archive anywhere, appending to it, or
// flipping any single byte fails to decode with a checksum error.
func TestTamper(t *testing.T) {
	m := prunedModel(t, "lenet-300-100", 0.92)
	plan, err := MakePlan(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Encode(m, plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Decode(b); err != nil {
		t.Fatal(err)
	}
	step := max(1, len(b)/500)
	for n := 0; n < len(b); n += step {
		if _, _, err := Decode(b[:n]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: decoded", n, len(b))
		} else if n > 4 && !errors.Is(err, ErrChecksum) {
			t.Fatalf("truncated to %d bytes: %v (not a checksum error)", n, err)
		}
	}
	if _, _, err := Decode(append(append([]byte(nil), b...), 0)); !errors.Is(err, ErrChecksum) {
		t.Fatalf("extended: %v", err)
	}
	for i := 0; i < len(b); i += step {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		_, _, err := Decode(c)
		if err == nil {
			t.Fatalf("byte %d flipped: decoded", i)
		}
		if i >= 5 && !errors.Is(err, ErrChecksum) {
			t.Fatalf("byte %d flipped: %v (not a checksum error)", i, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	m, err := models.Build("mlp-30-30", 1)
	if err != nil {
		f.Fatal(err)
	}
	ms, _ := prune.Magnitude(prune.Layers(m), prune.Ratios{Default: 0.8}, nil)
	ms.Apply(m)
	plan, err := MakePlan(m, Options{Bits: 3})
	if err != nil {
		f.Fatal(err)
	}
	b, _, err := Encode(m, plan, Options{Bits: 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:100])
	f.Fuzz(func(t *testing.T, data []byte) {
		Decode(data) // must not panic
	})
}

// FuzzTensorPayload feeds tensor payloads past the checksums (as a file
// with valid framing but hostile contents would).
func FuzzTensorPayload(f *testing.F) {
	m := prunedModelF(f)
	for _, opt := range []Options{{Bits: 3}, {Bits: 2, Small: "raw16", Half: true}} {
		plan, err := MakePlan(m, opt)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range plan.Names() {
			payload, _, err := encodeTensor(plan[name], m.Graph.Value(name).Const.F32(), opt)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(payload)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &reader{b: data, payloadStart: data, what: "fuzz"}
		r.tensor(maxElems) // must not panic
	})
}

func prunedModelF(f *testing.F) *graph.Model {
	m, err := models.Build("mlp-30-30", 1)
	if err != nil {
		f.Fatal(err)
	}
	ms, _ := prune.Magnitude(prune.Layers(m), prune.Ratios{Default: 0.8}, nil)
	ms.Apply(m)
	return m
}

// TestFinetuneCentroids: after fine-tuning, every weight is one of its
// tensor's (moved) centroids, pruned positions are still zero, and the
// model still classifies.
func TestFinetuneCentroids(t *testing.T) {
	m := prunedModel(t, "mlp-30-30", 0.7)
	tr, err := mnist.Load("train")
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, 1000)
	for i := range idx {
		idx[i] = i
	}
	d, err := train.Subset(tr, idx)
	if err != nil {
		t.Fatal(err)
	}
	// Train the pruned model briefly so the centroids have something to
	// keep.
	ms := prune.FromZeros(prune.Layers(m))
	cfg := train.Config{Epochs: 3, Batch: 50, Seed: 1, Solver: train.SolverConfig{Kind: "sgd", Momentum: 0.9}, Schedule: train.Schedule{Kind: "constant", Base: 0.05}}
	if _, err := prune.Finetune(m, ms, prune.Retrain{Data: train.Data{Train: d}, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(m, Options{Bits: 3})
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), plan["fc1.weight"].Shared.Codebook...)
	q := passes.Clone(m)
	if err := plan.Apply(q); err != nil {
		t.Fatal(err)
	}
	accQ, err := train.Evaluate(q, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Epochs, cfg.Schedule.Base = 2, 0.0005
	if _, err := FinetuneCentroids(m, plan, Finetune{Data: train.Data{Train: d}, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	moved := false
	for i, c := range plan["fc1.weight"].Shared.Codebook {
		moved = moved || c != before[i]
	}
	if !moved {
		t.Error("fine-tuning did not move any centroid")
	}
	for _, name := range plan.Names() {
		tp := plan[name]
		if tp.Shared == nil {
			continue
		}
		cb := map[float32]bool{}
		for _, c := range tp.Shared.Codebook {
			cb[c] = true
		}
		w := m.Graph.Value(name).Const.F32()
		for i, v := range w {
			if !ms[name].Keep[i] && v != 0 {
				t.Fatalf("%s[%d] is pruned but %v", name, i, v)
			}
			if ms[name].Keep[i] && !cb[v] {
				t.Fatalf("%s[%d] = %v is not a centroid", name, i, v)
			}
		}
	}
	acc, err := train.Evaluate(m, d, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("training accuracy: quantized %.3f, fine-tuned %.3f", accQ.Accuracy, acc.Accuracy)
	if acc.Accuracy < accQ.Accuracy-0.01 || acc.Accuracy < 0.6 {
		t.Errorf("accuracy %v after fine-tuning, %v before", acc.Accuracy, accQ.Accuracy)
	}
	if _, err := FinetuneCentroids(m, plan, Finetune{Data: train.Data{Train: d}, Config: train.Config{Epochs: 1, Batch: 50, Solver: train.SolverConfig{Kind: "adam"}, Schedule: train.Schedule{Base: 0.001}}}); err == nil {
		t.Error("Adam accepted for centroid fine-tuning")
	}
}

// TestEncodeAllZeroTensor: a weight tensor with no non-zero value (a fully
// pruned layer) is stored sparse with nothing coded, and decodes to zeros.
func TestEncodeAllZeroTensor(t *testing.T) {
	m := prunedModel(t, "mlp-30-30", 0.5)
	v := m.Graph.Value("fc1.weight")
	if v == nil || v.Const == nil {
		t.Fatal("no fc1.weight")
	}
	v.Const = tensor.FromSlice(v.Const.Shape(), make([]float32, v.Const.Len()))
	opt := Options{Bits: 3}
	plan, err := MakePlan(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	if plan["fc1.weight"].Encoding != encSparse {
		t.Fatalf("fc1.weight stored as %d", plan["fc1.weight"].Encoding)
	}
	b, _, err := Encode(m, plan, opt)
	if err != nil {
		t.Fatalf("encoding an all-zero weight: %v", err)
	}
	got, _, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !graph.TensorsEqual(got.Graph.Value("fc1.weight").Const, v.Const) {
		t.Fatal("the all-zero weight did not decode to zeros")
	}
}

// TestCodedTooManySymbols: more used symbols than 15-bit codes can index
// (k-means with --bits 16 on a large dense tensor) is an error, not a
// panic in the length limiting.
func TestCodedTooManySymbols(t *testing.T) {
	syms := make([]int, 1<<15+1)
	for i := range syms {
		syms[i] = i
	}
	if _, _, err := appendCoded(nil, syms, 1<<16); err == nil {
		t.Fatal("2^15+1 distinct symbols coded")
	}
	if _, _, err := appendCoded(nil, syms[:1<<15], 1<<16); err != nil {
		t.Fatalf("2^15 distinct symbols: %v", err)
	}
}

// TestDecodeElementBudget: a tensor payload larger than what is left of
// the archive's element budget is refused before its values are decoded.
func TestDecodeElementBudget(t *testing.T) {
	m := prunedModel(t, "mlp-30-30", 0.8)
	plan, err := MakePlan(m, Options{Bits: 3})
	if err != nil {
		t.Fatal(err)
	}
	tp := plan["fc1.weight"]
	payload, _, err := encodeTensor(tp, m.Graph.Value("fc1.weight").Const.F32(), Options{Bits: 3})
	if err != nil {
		t.Fatal(err)
	}
	n := tensor.Product(tp.Shape)
	if _, _, _, err := (&reader{b: payload, payloadStart: payload, what: "t"}).tensor(n); err != nil {
		t.Fatalf("room %d: %v", n, err)
	}
	if _, _, _, err := (&reader{b: payload, payloadStart: payload, what: "t"}).tensor(n - 1); err == nil {
		t.Fatalf("a tensor of %d elements decoded with room for %d", n, n-1)
	}
}
