package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/tensor"
)

// gcBinary is the gcompress executable built once for the end-to-end tests,
// with the build tags of the test binary (buildTags): the CPU build, or the
// cuda build under -tags gcompress_cuda.
var gcBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gcompress-cli")
	if err != nil {
		panic(err)
	}
	gcBinary = filepath.Join(dir, "gcompress")
	build := exec.Command("go", "build", "-tags", buildTags, "-o", gcBinary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building gcompress: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gc runs the gcBinary in an empty directory and returns stdout, stderr
// and the exit code.
func gc(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return gcIn(t, t.TempDir(), nil, args...)
}

// gcIn is gc in directory dir with the variables env added to the
// environment.
func gcIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(gcBinary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// wantCleanError asserts a non-zero exit with exactly one stderr line that
// contains every fragment, and no Go panic trace.
func wantCleanError(t *testing.T, stderr string, code int, fragments ...string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit code 0, want failure; stderr %q", stderr)
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
		t.Fatalf("panic trace on stderr:\n%s", stderr)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one stderr line, got %d:\n%s", len(lines), stderr)
	}
	for _, f := range fragments {
		if !strings.Contains(stderr, f) {
			t.Errorf("stderr %q does not mention %q", stderr, f)
		}
	}
}

func writeModel(t *testing.T, mp *onnxpb.ModelProto) string {
	t.Helper()
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func floatInfo(name string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1), Shape: shape}}}}
}

// identityModel is y = Identity(x), x float32 [2 3], as a ModelProto.
func identityModel() *onnxpb.ModelProto {
	return &onnxpb.ModelProto{IrVersion: proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("g"),
			Node:   []*onnxpb.NodeProto{{Name: proto.String("id"), OpType: proto.String("Identity"), Input: []string{"x"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{floatInfo("x", 2, 3)},
			Output: []*onnxpb.ValueInfoProto{floatInfo("y", 2, 3)}}}
}

func TestRunIdentityWritesOutputs(t *testing.T) {
	model := writeModel(t, identityModel())
	dir := t.TempDir()
	in := filepath.Join(dir, "x.npy")
	if err := tensor.SaveNpy(in, tensor.FromSlice([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	stdout, stderr, code := gc(t, "run", model, "--input", "x="+in, "--output-dir", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	y, err := tensor.LoadNpy(filepath.Join(out, "output_0.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if got := y.F32(); got[5] != 6 || !tensor.SameShape(y.Shape(), []int{2, 3}) {
		t.Errorf("output %v %v", y.Shape(), got)
	}
	if !strings.Contains(stdout, "y: float32[2 3]") {
		t.Errorf("stdout %q lacks the output summary", stdout)
	}
}

// TestRunOutputDirAndNaN: --output-dir is made only when the run succeeds
// and only inside an existing directory; the JSON report carries NaN and
// infinite outputs as strings (a JSON number cannot be NaN).
func TestRunOutputDirAndNaN(t *testing.T) {
	model := writeModel(t, identityModel())
	dir := t.TempDir()
	in := filepath.Join(dir, "x.npy")
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	if err := tensor.SaveNpy(in, tensor.FromSlice([]int{2, 3}, []float32{nan, inf, -inf, 1.5, 0, -2})); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "new")
	stdout, stderr, code := gc(t, "run", model, "--input", "x="+in, "--output-dir", out, "--show", "6", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	first := decodeJSON(t, stdout)["outputs"].([]any)[0].(map[string]any)["first"].([]any)
	if fmt.Sprint(first) != "[NaN +Inf -Inf 1.5 0 -2]" {
		t.Errorf("first %v, want [NaN +Inf -Inf 1.5 0 -2]", first)
	}
	if _, err := os.Stat(filepath.Join(out, "output_0.npy")); err != nil {
		t.Errorf("the new --output-dir holds no output: %v", err)
	}

	nested := filepath.Join(dir, "missing", "sub")
	_, stderr, code = gc(t, "run", model, "--input", "x="+in, "--output-dir", nested)
	wantCleanError(t, stderr, code, "does not exist")
	if code != 2 {
		t.Errorf("--output-dir in a missing directory: exit %d, want 2", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("a refused --output-dir was made: %v", err)
	}

	// y = Reshape(x, shape): a shape of 7 values fails at run time
	reshape := identityModel()
	g := reshape.Graph
	g.Node[0] = &onnxpb.NodeProto{Name: proto.String("r"), OpType: proto.String("Reshape"), Input: []string{"x", "shape"}, Output: []string{"y"}}
	shapeInfo := floatInfo("shape", 1)
	shapeInfo.Type.GetTensorType().ElemType = proto.Int32(7) // int64
	g.Input = append(g.Input, shapeInfo)
	g.Output[0] = floatInfo("y", 6)
	bad := filepath.Join(dir, "shape.npy")
	if err := tensor.SaveNpy(bad, tensor.FromSlice([]int{1}, []int64{7})); err != nil {
		t.Fatal(err)
	}
	failed := filepath.Join(dir, "failed")
	_, stderr, code = gc(t, "run", writeModel(t, reshape), "--input", "x="+in, "--input", "shape="+bad, "--output-dir", failed)
	wantCleanError(t, stderr, code)
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("a failed run left its --output-dir behind: %v", err)
	}
}

// TestRunProfileNodes: --profile-nodes lists the slowest nodes in the JSON
// (and implies --profile), over the --bench runs only; a negative count is
// a usage error.
func TestRunProfileNodes(t *testing.T) {
	model := writeModel(t, identityModel())
	stdout, stderr, code := gc(t, "run", model, "--random-inputs", "--bench", "3", "--profile-nodes", "5", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeJSON(t, stdout)
	nodes, ok := rep["slowest_nodes"].([]any)
	if !ok || len(nodes) != 1 || rep["profile"] == nil {
		t.Fatalf("slowest_nodes %v, profile %v", rep["slowest_nodes"], rep["profile"])
	}
	// the profile covers the 3 timed runs, not the first run or the warm-up
	if n := nodes[0].(map[string]any); n["op"] != "Identity" || n["calls"].(float64) != 3 {
		t.Errorf("slowest node %v, want the Identity node with 3 calls", n)
	}
	if _, _, code := gc(t, "run", model, "--random-inputs", "--profile-nodes", "-1"); code != 2 {
		t.Errorf("--profile-nodes -1: exit %d, want 2", code)
	}
}

// TestBenchReportsGPU: the timed commands' JSON reports carry the NVML
// sampler's summary under "gpu": the GPUs' utilisation, memory and power
// over the runs, or why there are none (this machine: no driver or GPU).
func TestBenchReportsGPU(t *testing.T) {
	model := writeModel(t, identityModel())
	for _, args := range [][]string{
		{"run", model, "--random-inputs", "--bench", "2", "--json"},
		{"bench", "model", model, "--runs", "5", "--warmup", "1", "--json"},
		{"bench", "gemm", "--m", "16", "--n", "16", "--k", "16", "--runs", "2", "--json"},
	} {
		stdout, stderr, code := gc(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		gpu, _ := decodeJSON(t, stdout)["gpu"].(map[string]any)
		note, _ := gpu["note"].(string)
		report, _ := gpu["report"].(map[string]any)
		if note == "" && report["devices"] == nil {
			t.Errorf("%v: \"gpu\" is %v, want the sampled GPUs or a note saying why there are none", args, gpu)
		}
	}
}

// TestMalformedInputs covers each bad-input case of the CLI contract: a
// non-zero exit and one line naming the file, node or op.
func TestMalformedInputs(t *testing.T) {
	good, err := proto.Marshal(identityModel())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	npy := func(name string, x *tensor.Tensor) string {
		p := filepath.Join(dir, name)
		if err := tensor.SaveNpy(p, x); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("truncated protobuf", func(t *testing.T) {
		p := write("truncated.onnx", good[:len(good)-7])
		_, stderr, code := gc(t, "run", p)
		wantCleanError(t, stderr, code, "truncated.onnx", "not an ONNX model")
	})
	t.Run("corrupt protobuf", func(t *testing.T) {
		p := write("garbage.onnx", []byte("\xff\xff\xff\xff this is not protobuf"))
		_, stderr, code := gc(t, "inspect", p)
		wantCleanError(t, stderr, code, "garbage.onnx", "not an ONNX model")
	})
	t.Run("missing file", func(t *testing.T) {
		_, stderr, code := gc(t, "run", filepath.Join(dir, "nope.onnx"))
		wantCleanError(t, stderr, code, "nope.onnx", "no such file")
	})
	t.Run("unknown op", func(t *testing.T) {
		mp := identityModel()
		mp.Graph.Node[0].OpType = proto.String("FluxCapacitor")
		_, stderr, code := gc(t, "run", writeModel(t, mp), "--random-inputs")
		wantCleanError(t, stderr, code, "bad.onnx", "FluxCapacitor")
	})
	t.Run("input overriding an initializer", func(t *testing.T) {
		mp := identityModel() // y = Identity(x), x also an initializer (as older exporters wrote)
		mp.Graph.Initializer = []*onnxpb.TensorProto{{Name: proto.String("x"), DataType: proto.Int32(1), Dims: []int64{2, 3}, RawData: make([]byte, 24)}}
		x := npy("override.npy", tensor.FromSlice([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}))
		stdout, stderr, code := gc(t, "run", writeModel(t, mp), "--input", "x="+x)
		if code != 0 || !strings.Contains(stdout, "first [1 2 3 4 5]") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("missing input", func(t *testing.T) {
		_, stderr, code := gc(t, "run", writeModel(t, identityModel()))
		wantCleanError(t, stderr, code, "missing input x:float32[2 3]", "--input x=FILE", "--random-inputs")
		if code != 2 {
			t.Errorf("exit %d, want 2 (a usage error)", code)
		}
	})
	t.Run("wrong input shape", func(t *testing.T) {
		x := npy("wrongshape.npy", tensor.FromSlice([]int{3, 2}, make([]float32, 6)))
		_, stderr, code := gc(t, "run", writeModel(t, identityModel()), "--input", "x="+x)
		wantCleanError(t, stderr, code, `input "x"`, "[3 2]", "[2 3]")
	})
	t.Run("wrong input dtype", func(t *testing.T) {
		x := npy("wrongdtype.npy", tensor.FromSlice([]int{2, 3}, make([]int32, 6)))
		_, stderr, code := gc(t, "run", writeModel(t, identityModel()), "--input", "x="+x)
		wantCleanError(t, stderr, code, `input "x"`, "int32", "float32")
	})
	t.Run("inconsistent initializer", func(t *testing.T) {
		mp := identityModel()
		mp.Graph.Initializer = []*onnxpb.TensorProto{{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{4}, RawData: make([]byte, 12)}}
		_, stderr, code := gc(t, "run", writeModel(t, mp))
		wantCleanError(t, stderr, code, "bad.onnx", `initializer tensor "w"`, "12 bytes")
	})
	t.Run("absurd tensor size", func(t *testing.T) {
		mp := identityModel()
		mp.Graph.Initializer = []*onnxpb.TensorProto{{Name: proto.String("huge"), DataType: proto.Int32(1),
			Dims: []int64{1000000, 1000000, 1000000}, RawData: make([]byte, 16)}}
		_, stderr, code := gc(t, "run", writeModel(t, mp))
		wantCleanError(t, stderr, code, "bad.onnx", `"huge"`, "more than")
	})
	t.Run("cycle", func(t *testing.T) {
		mp := identityModel()
		// a = Identity(b), b = Identity(a), y = Identity(a)
		mp.Graph.Node = []*onnxpb.NodeProto{
			{Name: proto.String("n1"), OpType: proto.String("Identity"), Input: []string{"b"}, Output: []string{"a"}},
			{Name: proto.String("n2"), OpType: proto.String("Identity"), Input: []string{"a"}, Output: []string{"b"}},
			{Name: proto.String("n3"), OpType: proto.String("Identity"), Input: []string{"a"}, Output: []string{"y"}},
		}
		_, stderr, code := gc(t, "run", writeModel(t, mp))
		wantCleanError(t, stderr, code, "bad.onnx", "cycle", "Identity")
	})
	t.Run("undefined value", func(t *testing.T) {
		mp := identityModel()
		mp.Graph.Node[0].Input = []string{"nowhere"}
		_, stderr, code := gc(t, "run", writeModel(t, mp))
		wantCleanError(t, stderr, code, "bad.onnx", `"nowhere"`, "Identity")
	})
	t.Run("bad npy", func(t *testing.T) {
		x := write("bad.npy", []byte("\x93NUMPY\x01\x00garbage"))
		_, stderr, code := gc(t, "run", writeModel(t, identityModel()), "--input", "x="+x)
		wantCleanError(t, stderr, code, "bad.npy")
	})
}

// TestConformanceCommand runs the conformance command on a small real
// suite and checks its summary line.
func TestConformanceCommand(t *testing.T) {
	root := testdata.RequireONNX(t)
	stdout, stderr, code := gc(t, "conformance", "--filter", "^test_identity$", filepath.Join(root, "node"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "1 passed, 0 failed, 0 skipped") {
		t.Errorf("summary missing: %q", stdout)
	}
}

// TestConfigPrecedence: a flag beats GCOMPRESS_THREADS, which beats
// gcompress.yaml.
func TestConfigPrecedence(t *testing.T) {
	model := writeModel(t, identityModel())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gcompress.yaml"), []byte("threads: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	threads := func(env []string, args ...string) string {
		cmd := exec.Command(gcBinary, append([]string{"run", model, "--random-inputs", "--json"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		i := strings.Index(string(out), `"threads": `)
		return strings.TrimRight(strings.Fields(string(out)[i+len(`"threads": `):])[0], ",")
	}
	if got := threads(nil); got != "3" {
		t.Errorf("from gcompress.yaml: threads %s, want 3", got)
	}
	if got := threads([]string{"GCOMPRESS_THREADS=5"}); got != "5" {
		t.Errorf("from env: threads %s, want 5", got)
	}
	if got := threads([]string{"GCOMPRESS_THREADS=5"}, "--threads", "7"); got != "7" {
		t.Errorf("from flag: threads %s, want 7", got)
	}
}

// TestBenchModelVsORT: bench model --vs-ort reports both runtimes, the
// ratio of the medians and one ratio per block of turns.
func TestBenchModelVsORT(t *testing.T) {
	ortpeer.Require(t)
	lib, err := ortpeer.LibPath()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(ortpeer.LibEnv, lib) // the binary runs in a temporary directory
	model := writeModel(t, identityModel())
	stdout, stderr, code := gc(t, "bench", "model", model, "--vs-ort", "--runs", "10", "--warmup", "1", "--threads", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeJSON(t, stdout)
	ratio, _ := rep["ratio_ours_over_ort"].(float64)
	blocks, _ := rep["block_ratios"].([]any)
	if ratio <= 0 || rep["ort"] == nil || len(blocks) != 5 {
		t.Fatalf("ratio %v, ort %v, block ratios %v: want a ratio, ORT's timing and 5 block ratios", ratio, rep["ort"], blocks)
	}
	for i, b := range blocks {
		if v, _ := b.(float64); v <= 0 {
			t.Errorf("block %d ratio %v", i, b)
		}
	}
}

// TestBenchConv: bench conv times the convolution it describes (the output
// shape and FLOPs follow from the flags: 2 * 2x8x5x4 outputs * 4x3x3 taps
// for a stride-2, group-2 convolution of 2x8x9x8 with 8 filters),
// beside ONNX Runtime when it is there, whose outputs must agree; bad
// sizes are usage errors that name the flag.
func TestBenchConv(t *testing.T) {
	args := []string{"bench", "conv", "--input", "2,8,9,8", "--out", "8", "--kernel", "3", "--strides", "2", "--group", "2",
		"--relu", "--runs", "5", "--warmup", "1", "--threads", "1", "--json"}
	if lib, err := ortpeer.LibPath(); err == nil {
		t.Setenv(ortpeer.LibEnv, lib)
		args = append(args, "--vs-ort")
	}
	stdout, stderr, code := gc(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rep := decodeJSON(t, stdout)
	conv, _ := rep["conv"].(map[string]any)
	if out := fmt.Sprint(conv["output"]); out != "[2 8 5 4]" {
		t.Errorf("output %s, want [2 8 5 4]", out)
	}
	if f, _ := rep["flops"].(float64); f != 2*2*8*5*4*4*9 {
		t.Errorf("flops %v, want %d", rep["flops"], 2*2*8*5*4*4*9)
	}
	if g, _ := rep["gflops"].(float64); g <= 0 {
		t.Errorf("gflops %v", rep["gflops"])
	}
	if slices.Contains(args, "--vs-ort") {
		if e, ok := rep["max_err_vs_ort_rel_to_max"].(float64); !ok || e > 1e-5 {
			t.Errorf("ours against ONNX Runtime: largest difference %v of the largest value", rep["max_err_vs_ort_rel_to_max"])
		}
	}
	for _, bad := range [][]string{
		{"--input", "1,8,9"}, {"--group", "3"}, {"--kernel", "0"}, {"--pads", "1,1,1"}, {"--kernel", "11", "--pads", "0"}, {"--out", "0"},
		{"--out", "9223372036854775807"}, {"--out", "4000000"}, {"--out", "1000000", "--kernel", "7"}, {"--pads", "30000"},
	} {
		_, stderr, code := gc(t, append([]string{"bench", "conv", "--runs", "1", "--input", "1,8,9,8"}, bad...)...)
		if code != 2 || !strings.Contains(stderr, bad[0]) {
			t.Errorf("%v: exit %d, %q: want a usage error naming %s", bad, code, stderr, bad[0])
		}
	}
}
