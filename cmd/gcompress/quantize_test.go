package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
)

func quantMNIST() string { return filepath.Join(testdata.Root(), "data", "mnist") }

// saveZoo writes zoo architecture arch (seeded random weights) to dir.
func saveZoo(t *testing.T, dir, arch string) string {
	t.Helper()
	m, err := models.Build(arch, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, arch+".onnx")
	if err := onnx.Save(m, p, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// saveGraph writes a one-input model: x float32 [batch, width] through
// build's nodes.
func saveGraph(t *testing.T, dir, name string, width int, build func(g *graph.Graph, x *graph.Value) *graph.Value) string {
	t.Helper()
	g := graph.NewGraph(name)
	x := g.GetOrAddValue("x")
	x.DType, x.HasShape = tensor.Float32, true
	x.Shape = append([]graph.Dim{{Size: -1, Param: "batch"}}, graph.KnownDims(width)...)
	g.Inputs = []*graph.Value{x}
	g.Outputs = []*graph.Value{build(g, x)}
	p := filepath.Join(dir, name+".onnx")
	if err := onnx.Save(graph.NewModel(g, 13), p, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// onlyFiles lists the names in dir.
func onlyFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func TestQuantizeCommand(t *testing.T) {
	dir := t.TempDir()
	model := saveZoo(t, dir, "lenet5")
	out, rep, table := filepath.Join(dir, "q.onnx"), filepath.Join(dir, "q.md"), filepath.Join(dir, "q.json")
	stdout, stderr, code := gc(t, "quantize", model, "--calib", quantMNIST(), "--calib-samples", "200", "--eval-samples", "200",
		"--sensitivity", "--keep-float", "1", "-o", out, "--report", rep, "--calib-table", table, "--json", "--threads", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout)
	}
	for _, k := range []string{"model", "output", "layers_quantized", "layers_total", "method", "calib_samples", "layers", "eval", "lowering", "calib_table", "bytes_float", "bytes_quantized"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if doc["layers_quantized"].(float64) != 4 || doc["layers_total"].(float64) != 5 || doc["calib_samples"].(float64) != 200 {
		t.Errorf("layers %v of %v, %v samples", doc["layers_quantized"], doc["layers_total"], doc["calib_samples"])
	}
	ev := doc["eval"].(map[string]any)
	for _, k := range []string{"accuracy_fp32", "accuracy_quantized", "top1_agreement", "logits_nmse", "samples"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("eval lacks %q", k)
		}
	}
	// the QDQ output is refused as an input (it was quantized again and its
	// accuracy reported as FP32)
	_, stderr, code = gc(t, "quantize", out, "--calib", quantMNIST(), "--calib-samples", "32", "-o", filepath.Join(dir, "qq.onnx"))
	wantCleanError(t, stderr, code, "quantized already")
	q, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, n := range q.Graph.Nodes {
		counts[n.OpType]++
	}
	if counts["QuantizeLinear"] == 0 || counts["DequantizeLinear"] == 0 || q.Opset() < 13 {
		t.Errorf("output ops %v, opset %d", counts, q.Opset())
	}
	md, err := os.ReadFile(rep)
	if err != nil || !strings.Contains(string(md), "| conv1 | Conv |") || !strings.Contains(string(md), "kept float") {
		t.Errorf("report: %v\n%s", err, md)
	}
	var tab map[string]float64
	if b, err := os.ReadFile(table); err != nil || json.Unmarshal(b, &tab) != nil || tab["image"] != 1 {
		t.Errorf("calibration table %v: %v", tab, err)
	}
	// the text summary
	stdout, stderr, code = gc(t, "quantize", model, "--calib", quantMNIST(), "--calib-samples", "100", "--eval-samples", "100",
		"--method", "percentile", "-o", filepath.Join(dir, "p.onnx"))
	if code != 0 || !strings.Contains(stdout, "5 of 5 layers quantized") || !strings.Contains(stdout, "integer execution: ") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "calibrating 100/100") {
		t.Errorf("no progress lines on stderr: %q", stderr)
	}
	// run executes the QDQ file lowered: integer ops, no float
	// DequantizeLinear/QuantizeLinear pairs left around the layers
	stdout, stderr, code = gc(t, "run", filepath.Join(dir, "p.onnx"), "--random-inputs", "--dim", "batch=2", "--profile")
	prof := stdout + stderr
	if code != 0 || !strings.Contains(prof, "QLinearConv") || !strings.Contains(prof, "QGemm") || strings.Contains(prof, "DequantizeLinear") {
		t.Errorf("run on the QDQ file: exit %d, profile:\n%s", code, prof)
	}
}

// TestQuantizeReduceRange: --reduce-range writes every int8 weight within
// [-64, 64], reaching 64, and says so in the JSON report and the summary.
// With --ort, the full-range file is flagged saturating_kernels exactly on
// the CPUs where ONNX Runtime's 8-bit kernels saturate, and the 7-bit file
// never is: there ONNX Runtime agrees with gcompress on >= 99.5% of the
// samples on every CPU (all 200 on an AVX2-only EPYC, where the full-range
// file agreed on 96%; a float32 against float64 requantization tie could
// still flip one).
func TestQuantizeReduceRange(t *testing.T) {
	dir := t.TempDir()
	model := saveZoo(t, dir, "lenet5")
	out := filepath.Join(dir, "q.onnx")
	stdout, stderr, code := gc(t, "quantize", model, "--calib", quantMNIST(), "--calib-samples", "100", "--eval-samples", "100",
		"--reduce-range", "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || doc["reduce_range"] != true {
		t.Fatalf("JSON reduce_range %v (%v)", doc["reduce_range"], err)
	}
	q, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	weights, largest := 0, int8(0)
	for _, n := range q.Graph.Nodes {
		if w := n.Input(0); n.OpType == "DequantizeLinear" && w != nil && w.Const != nil && w.Const.DType() == tensor.Int8 {
			weights++
			for _, v := range tensor.Data[int8](w.Const) {
				largest = max(largest, v, -v)
			}
		}
	}
	if weights != 5 || largest != 64 {
		t.Errorf("%d int8 weights, largest magnitude %d; want 5 and 64", weights, largest)
	}
	stdout, stderr, code = gc(t, "quantize", model, "--calib", quantMNIST(), "--calib-samples", "100", "--eval-samples", "100",
		"--reduce-range", "-o", filepath.Join(dir, "q2.onnx"))
	if code != 0 || !strings.Contains(stdout, "weights int8 in 7 bits per-channel") || strings.Contains(stdout, "no VNNI") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// full-range weights: the hint on CPUs without VNNI only
	stdout, stderr, code = gc(t, "quantize", model, "--calib", quantMNIST(), "--calib-samples", "100", "--eval-samples", "100",
		"-o", filepath.Join(dir, "q3.onnx"))
	if code != 0 || strings.Contains(stdout, "this CPU has no VNNI") != ortpeer.Saturates8Bit() {
		t.Errorf("exit %d, stdout %q (CPU without VNNI: %v), stderr %q", code, stdout, ortpeer.Saturates8Bit(), stderr)
	}
	ortpeer.Require(t)
	lib, err := ortpeer.LibPath()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(ortpeer.LibEnv, lib) // the binary runs in a temporary directory
	for _, reduce := range []bool{false, true} {
		args := []string{"quantize", model, "--calib", quantMNIST(), "--calib-samples", "100", "--eval-samples", "200",
			"-o", filepath.Join(dir, fmt.Sprintf("ort-%v.onnx", reduce)), "--ort", "--json"}
		if reduce {
			args = append(args, "--reduce-range")
		}
		stdout, stderr, code := gc(t, args...)
		var doc struct {
			ORT struct {
				Agreement  float64 `json:"agreement_with_gcompress"`
				Saturating bool    `json:"saturating_kernels"`
			} `json:"ort"`
		}
		if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil {
			t.Fatalf("--ort (reduce %v): exit %d: %s", reduce, code, stderr)
		}
		t.Logf("reduce %v: ORT agreement %.4f, saturating %v", reduce, doc.ORT.Agreement, doc.ORT.Saturating)
		if want := !reduce && ortpeer.Saturates8Bit(); doc.ORT.Saturating != want {
			t.Errorf("reduce %v: saturating_kernels %v, want %v", reduce, doc.ORT.Saturating, want)
		}
		if reduce && doc.ORT.Agreement < 0.995 {
			t.Errorf("7-bit weights: ONNX Runtime agrees on %.4f of the samples, want >= 0.995", doc.ORT.Agreement)
		}
	}
}

// TestQuantizeEntropyFallback: entropy calibration (the default) reports
// which tensors fell back to their unclipped range, with the rejected
// TensorRT threshold; --entropy-fallback=false keeps those thresholds.
// On the random-weight LeNet-5, conv1's biases over MNIST's zero
// background put point masses into the first ReLU, as in trained ones.
func TestQuantizeEntropyFallback(t *testing.T) {
	dir := t.TempDir()
	model := saveZoo(t, dir, "lenet5")
	type layer struct {
		Name     string  `json:"name"`
		Act      string  `json:"activation_tensor"`
		Amax     float64 `json:"amax"`
		Fallback *struct {
			Amax float64 `json:"amax"`
			MSE  float64 `json:"mse"`
			Min  float64 `json:"minmax_mse"`
		} `json:"entropy_fallback"`
	}
	type doc struct {
		Fallback *bool              `json:"entropy_fallback"`
		Layers   []layer            `json:"layers"`
		Table    map[string]float64 `json:"calib_table"`
	}
	run := func(extra ...string) (doc, string) {
		args := append([]string{"quantize", model, "--calib", quantMNIST(), "--calib-samples", "200", "--eval-samples", "100",
			"-o", filepath.Join(dir, "q.onnx"), "--threads", "2"}, extra...)
		stdout, stderr, code := gc(t, append(args, "--json")...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		var d doc
		if err := json.Unmarshal([]byte(stdout), &d); err != nil {
			t.Fatalf("JSON: %v\n%s", err, stdout)
		}
		text, stderr, code := gc(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		return d, text
	}
	on, text := run()
	off, offText := run("--entropy-fallback=false")
	if on.Fallback == nil || !*on.Fallback || off.Fallback == nil || *off.Fallback {
		t.Fatalf("entropy_fallback %v / %v", on.Fallback, off.Fallback)
	}
	fell := 0
	for i, l := range on.Layers {
		if l.Fallback == nil {
			continue
		}
		fell++
		r := off.Layers[i]
		if r.Name != l.Name || r.Fallback != nil || r.Amax != l.Fallback.Amax || !(l.Fallback.Amax < l.Amax) || !(l.Fallback.MSE >= l.Fallback.Min) {
			t.Errorf("%s: with fallback %+v (amax %v), without: amax %v, fallback %v", l.Name, *l.Fallback, l.Amax, r.Amax, r.Fallback)
		}
		if on.Table[l.Act] != l.Amax || off.Table[l.Act] != l.Fallback.Amax {
			t.Errorf("%s: calibration tables %v / %v", l.Act, on.Table[l.Act], off.Table[l.Act])
		}
		if !strings.Contains(text, "entropy fallback: "+l.Act+" uses its unclipped range") {
			t.Errorf("summary does not name %s:\n%s", l.Act, text)
		}
	}
	t.Logf("%d of %d layers fell back", fell, len(on.Layers))
	if fell == 0 {
		t.Fatalf("no tensor fell back:\n%s", text)
	}
	if strings.Contains(offText, "entropy fallback") {
		t.Errorf("--entropy-fallback=false still reports a fallback:\n%s", offText)
	}
}

// TestQuantizeDeterministic: two runs write byte-identical files.
func TestQuantizeDeterministic(t *testing.T) {
	dir := t.TempDir()
	model := saveZoo(t, dir, "lenet5")
	var files [][]byte
	for i, threads := range []string{"1", "2"} {
		out := filepath.Join(dir, "q"+threads+".onnx")
		tab := filepath.Join(dir, "t"+threads+".cache")
		if _, stderr, code := gc(t, "quantize", model, "--calib", quantMNIST(), "--calib-samples", "300", "--eval-split", "",
			"-o", out, "--calib-table", tab, "--threads", threads); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		c, err := os.ReadFile(tab)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b, c)
	}
	if !bytes.Equal(files[0], files[2]) || !bytes.Equal(files[1], files[3]) {
		t.Error("two calibration runs wrote different files")
	}
	if !strings.HasPrefix(string(files[1]), "TRT-8600-EntropyCalibration2\n") {
		t.Errorf("TensorRT cache %q", files[1])
	}
}

// TestQuantizeBadInputs: each bad input is one clear line on stderr, a
// non-zero exit, and no output file (nor temporary file) left behind.
func TestQuantizeBadInputs(t *testing.T) {
	dir := t.TempDir()
	lenet := saveZoo(t, dir, "lenet5")
	empty := filepath.Join(dir, "empty")
	corrupt := filepath.Join(dir, "corrupt")
	for _, d := range []string{empty, corrupt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("this is not an IDX file at all"))
	zw.Close()
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"} {
		if err := os.WriteFile(filepath.Join(corrupt, name), gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	relu := saveGraph(t, dir, "relu", 784, func(g *graph.Graph, x *graph.Value) *graph.Value {
		y := g.NewValue("y")
		g.AddNode("Relu", []*graph.Value{x}, []*graph.Value{y}, nil)
		return y
	})
	wide := saveGraph(t, dir, "wide", 1024, func(g *graph.Graph, x *graph.Value) *graph.Value {
		y := g.NewValue("y")
		w := g.AddInitializer("w", tensor.MustNew(tensor.Float32, 1024, 10))
		g.AddNode("MatMul", []*graph.Value{x, w}, []*graph.Value{y}, nil)
		return y
	})
	qdq := saveGraph(t, dir, "qdq", 784, func(g *graph.Graph, x *graph.Value) *graph.Value {
		q, y := g.NewValue("q"), g.NewValue("y")
		s := g.AddInitializer("s", tensor.FromSlice([]int{}, []float32{0.1}))
		g.AddNode("QuantizeLinear", []*graph.Value{x, s}, []*graph.Value{q}, nil)
		g.AddNode("DequantizeLinear", []*graph.Value{q, s}, []*graph.Value{y}, nil)
		return y
	})
	// labels past the model's 10 classes (the accuracy was reported as 0%)
	badLabels := filepath.Join(dir, "badlabels")
	if err := os.Mkdir(badLabels, 0o755); err != nil {
		t.Fatal(err)
	}
	images := tensor.MustNew(tensor.Float32, 8, 1, 28, 28)
	labels := tensor.FromSlice([]int{8}, []int64{1, 2, 3, 50, 4, 5, 6, 7})
	for name, v := range map[string]*tensor.Tensor{"train.npy": images, "test.npy": images, "test-labels.npy": labels} {
		if err := tensor.SaveNpy(filepath.Join(badLabels, name), v); err != nil {
			t.Fatal(err)
		}
	}
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(outDir, "q.onnx")
	for _, tc := range []struct {
		name      string
		args      []string
		fragments []string
	}{
		{"empty calibration dir", []string{lenet, "--calib", empty}, []string{"--calib", "train-images-idx3-ubyte", "no such file"}},
		{"corrupt calibration dir", []string{lenet, "--calib", corrupt}, []string{"--calib", "train-images-idx3-ubyte", "idx"}},
		{"missing calibration dir", []string{lenet, "--calib", filepath.Join(dir, "nope")}, []string{"--calib"}},
		{"no quantizable op", []string{relu, "--calib", quantMNIST()}, []string{"relu.onnx", "no quantizable op"}},
		{"wrong sample shape", []string{wide, "--calib", quantMNIST()}, []string{"wide.onnx", "28x28", "1024"}},
		{"unknown ignore entry", []string{lenet, "--calib", quantMNIST(), "--ignore", "conv9"}, []string{"conv9"}},
		{"missing eval split", []string{lenet, "--calib", quantMNIST(), "--eval-split", "valid"}, []string{"valid"}},
		{"quantized already", []string{qdq, "--calib", quantMNIST()}, []string{"qdq.onnx", "quantized already", "QuantizeLinear"}},
		{"labels out of range", []string{lenet, "--calib", badLabels}, []string{"label 50", "10 outputs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"quantize"}, tc.args...)
			args = append(args, "--calib-samples", "64", "-o", out, "--report", filepath.Join(outDir, "r.md"))
			_, stderr, code := gc(t, args...)
			t.Log(strings.TrimSpace(stderr))
			wantCleanError(t, stderr, code, tc.fragments...)
			if left := onlyFiles(t, outDir); len(left) != 0 {
				t.Errorf("files left behind: %v", left)
			}
		})
	}
	// usage errors exit 2
	for _, args := range [][]string{
		{"quantize", lenet, "--calib", quantMNIST()},                                   // no -o
		{"quantize", lenet, "-o", out},                                                 // no --calib
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--method", "kl"},      // unknown method
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--activations", "u4"}, // unknown type
		{"quantize", lenet, "--weight-only", "int8", "--quantize-adds", "-o", out},     // adds need quantized activations
		{"quantize", lenet, "--weight-only", "int8", "--reduce-range", "-o", out},      // no int8 x int8 kernels
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--max-drop", "NaN"},   // -1 (off) or [0, 100]
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--max-drop", "-5"},
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--percentile", "50"}, // ignored by --method entropy
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--group-size", "32"}, // weight-only only
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--bins", "1"},
		{"quantize", lenet, "--weight-only", "int4", "--group-size", "7", "-o", out}, // a power of two >= 16
		{"quantize", lenet, "--weight-only", "int8", "--ort", "-o", out},             // nothing to compare on
		{"quantize", lenet, "--calib", quantMNIST(), "-o", out, "--method", "bogus", "--percentile", "99"},
	} {
		if _, stderr, code := gc(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}

func TestQuantizeWeightOnlyCommand(t *testing.T) {
	dir := t.TempDir()
	model := saveZoo(t, dir, "lenet-300-100")
	out := filepath.Join(dir, "w4.onnx")
	stdout, stderr, code := gc(t, "quantize", model, "--weight-only", "int4", "--group-size", "64", "-o", out, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"weight_only": "int4"`) || !strings.Contains(stdout, `"group_size": 64`) {
		t.Errorf("JSON %s", stdout)
	}
	// gcompress runs the MatMulNBits model it wrote
	if _, stderr, code := gc(t, "eval", out, "--data", quantMNIST(), "--json"); code != 0 {
		t.Errorf("eval of the int4 model: exit %d: %s", code, stderr)
	}
}

// TestQuantizeNpyCalibration: calibration samples from NumPy files give
// the same activation ranges as the same digits read from IDX files; a
// single .npy is unlabelled (the evaluation compares logits only), a
// directory with <split>.npy and <split>-labels.npy is labelled; bad
// files and options are clean errors.
func TestQuantizeNpyCalibration(t *testing.T) {
	dir := t.TempDir()
	model := saveZoo(t, dir, "lenet5")
	train, err := data.Load(quantMNIST(), "train")
	if err != nil {
		t.Fatal(err)
	}
	const n = 96
	samples := tensor.FromSlice([]int{n, 1, 28, 28}, append([]float32(nil), train.Images.F32()[:n*784]...))
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(train.Labels[i])
	}
	npyDir := filepath.Join(dir, "npy")
	if err := os.Mkdir(npyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "calib.npy")
	for _, f := range []struct {
		path string
		t    *tensor.Tensor
	}{{file, samples}, {filepath.Join(npyDir, "train.npy"), samples}, {filepath.Join(npyDir, "test.npy"), samples},
		{filepath.Join(npyDir, "test-labels.npy"), tensor.FromSlice([]int{n}, labels)}} {
		if err := tensor.SaveNpy(f.path, f.t); err != nil {
			t.Fatal(err)
		}
	}
	quantize := func(calib, name string, extra ...string) (map[string]any, map[string]float64) {
		t.Helper()
		table := filepath.Join(dir, name+".json")
		args := append([]string{"quantize", model, "--calib", calib, "--calib-samples", "64", "--method", "minmax",
			"-o", filepath.Join(dir, name+".onnx"), "--calib-table", table, "--json"}, extra...)
		stdout, stderr, code := gc(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		var doc map[string]any
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatalf("%s: JSON: %v\n%s", name, err, stdout)
		}
		var tab map[string]float64
		if b, err := os.ReadFile(table); err != nil || json.Unmarshal(b, &tab) != nil || len(tab) == 0 {
			t.Fatalf("%s: calibration table %v: %v", name, tab, err)
		}
		return doc, tab
	}
	_, fromIDX := quantize(quantMNIST(), "idx", "--eval-split", "")
	doc, fromFile := quantize(file, "file")
	if len(fromFile) != len(fromIDX) {
		t.Fatalf("tables %v and %v", fromFile, fromIDX)
	}
	for k, v := range fromIDX {
		if fromFile[k] != v {
			t.Errorf("%s: amax %v from the .npy, %v from IDX", k, fromFile[k], v)
		}
	}
	ev := doc["eval"].(map[string]any)
	if _, ok := ev["accuracy_fp32"]; ok || ev["top1_agreement"] == nil || ev["samples"].(float64) != 64 {
		t.Errorf("unlabelled eval: %v", ev)
	}
	doc, _ = quantize(npyDir, "dir")
	if ev := doc["eval"].(map[string]any); ev["accuracy_fp32"] == nil || ev["samples"].(float64) != n {
		t.Errorf("labelled eval on test.npy: %v", ev)
	}
	// bad inputs
	ints := filepath.Join(dir, "ints.npy")
	narrow := filepath.Join(dir, "narrow.npy")
	if tensor.SaveNpy(ints, tensor.FromSlice([]int{2, 784}, make([]int32, 2*784))) != nil ||
		tensor.SaveNpy(narrow, tensor.FromSlice([]int{2, 10}, make([]float32, 20))) != nil {
		t.Fatal("writing the bad files")
	}
	out := filepath.Join(dir, "bad.onnx")
	for _, tc := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"--calib", ints}, []string{"ints.npy", "int32", "float32"}},
		{[]string{"--calib", narrow}, []string{"lenet5.onnx", "samples of shape [10]"}},
	} {
		_, stderr, code := gc(t, append([]string{"quantize", model, "-o", out}, tc.args...)...)
		wantCleanError(t, stderr, code, tc.fragments...)
	}
	if _, stderr, code := gc(t, "quantize", model, "--calib", file, "--calib-split", "test", "-o", out); code != 2 {
		t.Errorf("--calib-split with a file: exit %d (%s), want 2", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run left its output")
	}
}

// npyDigits writes MNIST's first n training digits as <split>.npy [n, 784]
// in a new directory for each split, with <split>-labels.npy only for the
// splits in labelled.
func npyDigits(t *testing.T, n int, splits []string, labelled map[string]bool) string {
	t.Helper()
	tr, err := data.Load(quantMNIST(), "train")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "npy")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(tr.Labels[i])
	}
	for _, s := range splits {
		if err := tensor.SaveNpy(filepath.Join(dir, s+".npy"), tensor.FromSlice([]int{n, 784}, append([]float32(nil), tr.Images.F32()[:n*784]...))); err != nil {
			t.Fatal(err)
		}
		if labelled[s] {
			if err := tensor.SaveNpy(filepath.Join(dir, s+"-labels.npy"), tensor.FromSlice([]int{n}, labels)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// TestUnlabelledNpyData: commands that need labels refuse .npy samples
// without them with a clean error (train, and encode's test split), and
// calibration values spanning 1e-30 to 1e6 (a histogram whose bin count
// would overflow an int) quantize without a crash.
func TestUnlabelledNpyData(t *testing.T) {
	dir := npyDigits(t, 200, []string{"train"}, nil)
	_, stderr, code := gc(t, "train", "--arch", "mlp-30-30", "--data", dir, "--split", "", "--epochs", "1",
		"-o", filepath.Join(t.TempDir(), "m.onnx"))
	wantCleanError(t, stderr, code, "label")
	dir = npyDigits(t, 200, []string{"train", "test"}, map[string]bool{"train": true})
	model := saveZoo(t, t.TempDir(), "mlp-30-30")
	_, stderr, code = gc(t, "encode", model, "--data", dir, "--finetune-epochs", "1", "-o", filepath.Join(t.TempDir(), "m.gcz"))
	wantCleanError(t, stderr, code, "label")
	// eval: labelled .npy samples give an accuracy, unlabelled ones a clean error
	_, stderr, code = gc(t, "eval", model, "--data", dir, "--split", "test")
	wantCleanError(t, stderr, code, "label")
	stdout, stderr, code := gc(t, "eval", model, "--data", dir, "--split", "train", "--json")
	if code != 0 || !strings.Contains(stdout, `"samples":200`) {
		t.Errorf("eval on train.npy: exit %d, %s %s", code, stdout, stderr)
	}

	tmp := t.TempDir()
	lenet := saveZoo(t, tmp, "lenet5")
	v := make([]float32, 2*784)
	for i := range 784 {
		v[i], v[784+i] = 1e-30, 1e6
	}
	calib := filepath.Join(tmp, "wide.npy")
	if err := tensor.SaveNpy(calib, tensor.FromSlice([]int{2, 1, 28, 28}, v)); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := gc(t, "quantize", lenet, "--calib", calib, "--batch", "1", "-o", filepath.Join(tmp, "q.onnx")); code != 0 {
		t.Errorf("wide calibration values: exit %d: %s", code, stderr)
	}
}
