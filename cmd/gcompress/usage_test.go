package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/tensor"
)

// symbolicIdentityModel is y = Identity(x), x float32 [batch 3].
func symbolicIdentityModel() *onnxpb.ModelProto {
	mp := identityModel()
	for _, v := range []*onnxpb.ValueInfoProto{mp.Graph.Input[0], mp.Graph.Output[0]} {
		v.GetType().GetTensorType().GetShape().Dim[0] = &onnxpb.TensorShapeProto_Dimension{
			Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}}
	}
	return mp
}

// TestUsageErrors: mistakes in the command line exit 2 with one line that
// names the command or the flag.
func TestUsageErrors(t *testing.T) {
	model := writeModel(t, identityModel())
	for _, c := range []struct {
		args      []string
		fragments []string
	}{
		{[]string{"bogus"}, []string{`unknown command "bogus"`}},
		{[]string{"bench", "attention"}, []string{"bench:", `unknown command "attention"`, "conv, gemm, model"}},
		{[]string{"bench"}, []string{"bench needs a subcommand", "gemm, conv or model"}},
		{[]string{"bench", "gemm", "--sparse"}, []string{"--sparse, --vs-dense, --tile and --persistent", "--device cuda:N"}},
		{[]string{"bench", "gemm", "--tile", "w128x256t"}, []string{"--sparse, --vs-dense, --tile and --persistent", "--device cuda:N"}},
		{[]string{"bench", "gemm", "--vs-dense"}, []string{"--sparse, --vs-dense, --tile and --persistent", "--device cuda:N"}},
		{[]string{"bench", "gemm", "--dtype", "f16"}, []string{"f16"}},
		{[]string{"run"}, []string{"run:", "accepts 1 arg(s)", "gcompress run MODEL"}},
		{[]string{"conformance"}, []string{"conformance:"}},
		{[]string{"train", "--arch", "lenet5", "--data", "x", "--epochs", "0", "-o", "t.onnx"}, []string{"--epochs"}},
		{[]string{"train", "--arch", "lenet5", "--data", "x", "--batch", "0", "-o", "t.onnx"}, []string{"--batch"}},
		{[]string{"train", "--arch", "lenet5", "--data", "x", "--shift", "-2", "-o", "t.onnx"}, []string{"--shift"}},
		{[]string{"run", model, "--random-inputs", "--show", "-1"}, []string{"--show"}},
		{[]string{"--threads", "100000", "run", model}, []string{"--threads=100000"}},
		{[]string{"--device", "cuda:x", "run", model}, []string{"cuda:x", "ordinal"}},
		{[]string{"conformance", "--rtol", "-1", "."}, []string{"--rtol"}},
		{[]string{"run", model, "--input", "nosuch=x.npy"}, []string{`no input "nosuch"`, "inputs: x"}},
		{[]string{"run", model, "--input", "x="}, []string{"--input x=", "no file"}},
		{[]string{"run", model, "--input", "=x.npy"}, []string{"--input =x.npy", "no input name"}},
		{[]string{"--config", ".", "run", model}, []string{"is a directory"}},
		{[]string{"bench", "model", model, "--materialize", "-5"}, []string{"--materialize"}},
		{[]string{"run", model, "--random-inputs", "--dim", "batch=2"}, []string{"--dim batch", `symbolic dimension called "batch"`}},
		{[]string{"prune", model, "--method", "channel", "--sparsity", "0.5", "--flops-reduction", "0.5", "-o", "p.onnx"}, []string{"not both"}},
		{[]string{"prune", model, "--method", "magnitude", "--sparsity", "0.5", "--rounds", "3", "-o", "p.onnx"}, []string{"--retrain-epochs"}},
		{[]string{"quantize", model, "--calib", "a", "--data", "b", "-o", "q.onnx"}, []string{"--calib or --data"}},
	} {
		_, stderr, code := gc(t, c.args...)
		wantCleanError(t, stderr, code, c.fragments...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
	}
}

// TestOutputChecks: an output that would overwrite an input, names a
// directory or lies in a missing directory is refused before any work,
// and the input is left as it was.
func TestOutputChecks(t *testing.T) {
	model := writeModel(t, identityModel())
	before, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		args     []string
		fragment string
	}{
		{[]string{"train", "--init", model, "--data", "x", "-o", model}, "would be overwritten"},
		{[]string{"prune", model, "--method", "magnitude", "--sparsity", "0.5", "-o", model}, "would be overwritten"},
		{[]string{"encode", model, "-o", model}, "would be overwritten"},
		{[]string{"train", "--init", model, "--data", "x", "-o", dir}, "is a directory"},
		{[]string{"train", "--arch", "mlp-30-30", "--data", "x", "-o", filepath.Join(dir, "no", "m.onnx")}, "does not exist"},
		{[]string{"prune", model, "--method", "magnitude", "--sparsity", "0.5", "-o", filepath.Join(dir, "p.onnx"),
			"--report", filepath.Join(dir, "p.onnx")}, "two different outputs"},
	} {
		_, stderr, code := gc(t, c.args...)
		wantCleanError(t, stderr, code, c.fragment)
	}
	after, err := os.ReadFile(model)
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the input model changed (err %v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "no")); !os.IsNotExist(err) {
		t.Errorf("train created the missing output directory (stat: %v)", err)
	}
}

// TestDims: --dim sizes symbolic dimensions for run and bench model, and
// names that are not symbolic dimensions or sizes below 1 are refused.
func TestDims(t *testing.T) {
	model := writeModel(t, symbolicIdentityModel())
	stdout, stderr, code := gc(t, "run", model, "--random-inputs", "--dim", "batch=4")
	if code != 0 || !strings.Contains(stdout, "float32[4 3]") {
		t.Fatalf("run --dim batch=4: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, stderr, code := gc(t, "bench", "model", model, "--dim", "batch=2", "--runs", "2"); code != 0 {
		t.Errorf("bench model --dim batch=2: exit %d: %s", code, stderr)
	}
	_, stderr, code = gc(t, "bench", "model", model, "--runs", "2")
	wantCleanError(t, stderr, code, "--dim batch=SIZE")
	for _, bad := range []string{"batch=0", "nosuch=3", "batch"} {
		_, stderr, code := gc(t, "run", model, "--random-inputs", "--dim", bad)
		wantCleanError(t, stderr, code, "--dim")
	}
	_, stderr, code = gc(t, "inspect", "--dim", "batch=0", model)
	wantCleanError(t, stderr, code, "SIZE >= 1")
	stdout, _, code = gc(t, "inspect", model)
	if code != 0 || !strings.Contains(stdout, "with every symbolic input dimension set to 1") {
		t.Errorf("inspect of a symbolic model: exit %d, no per-sample FLOPs line in %q", code, stdout)
	}
}

// TestConfigChecks: a misspelt config key is an error; a bad value names
// the variable or file it came from; a config file must name its format.
func TestConfigChecks(t *testing.T) {
	model := writeModel(t, identityModel())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gcompress.yaml"), []byte("thraeds: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := gcIn(t, dir, nil, "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, `unknown key "thraeds"`)
	_, stderr, code = gcIn(t, t.TempDir(), []string{"GCOMPRESS_THREADS=abc"}, "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, "GCOMPRESS_THREADS")

	// a bad device names where it came from
	if err := os.WriteFile(filepath.Join(dir, "gcompress.yaml"), []byte("device: gpu\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = gcIn(t, dir, nil, "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, "gcompress.yaml: device=gpu", "cuda:N")
	_, stderr, code = gcIn(t, t.TempDir(), []string{"GCOMPRESS_DEVICE=gpu"}, "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, "GCOMPRESS_DEVICE=gpu")
	_, stderr, code = gc(t, "--device", "cuda:-1", "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, "--device=cuda:-1")

	// a config file whose name gives no format, or a directory
	noExt := filepath.Join(dir, "myconf")
	if err := os.WriteFile(noExt, []byte("threads: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = gc(t, "--config", noExt, "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, "myconf", ".yaml")
	_, stderr, code = gc(t, "--config", dir, "run", model, "--random-inputs")
	wantCleanError(t, stderr, code, "is a directory")
}

// TestConformanceFindsNothing: a directory without test cases, or a
// filter that matches none, is an error, not "0 passed".
func TestConformanceFindsNothing(t *testing.T) {
	_, stderr, code := gc(t, "conformance", t.TempDir())
	wantCleanError(t, stderr, code, "no test cases")
}

// TestArchiveGivenAsModel: a .gcz archive where a model is expected gets a
// pointer to decode.
func TestArchiveGivenAsModel(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gcz")
	if err := os.WriteFile(p, []byte("GCZ\x01 not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := gc(t, "inspect", p)
	wantCleanError(t, stderr, code, ".gcz archive", "gcompress decode")
}

// TestDeviceNote: a command that runs on the CPU whatever --device says
// tells the user so and goes on; inspect does not mention it.
func TestDeviceNote(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := gc(t, "--device", "cuda:0", "encode", saveZoo(t, dir, "mlp-30-30"), "-o", filepath.Join(dir, "m.gcz"))
	if code != 0 || !strings.Contains(stderr, "encode runs on the CPU") || strings.Contains(stderr, "cuda build") {
		t.Errorf("encode --device cuda:0: exit %d, stderr %q, want the note and encode's own work", code, stderr)
	}
	_, stderr, code = gc(t, "--device", "cuda:0", "inspect", writeModel(t, identityModel()))
	if code != 0 || stderr != "" {
		t.Errorf("inspect --device cuda:0: exit %d, stderr %q", code, stderr)
	}
}

// TestConfigYieldsToFlags: a configuration value does not count as a flag
// given on the command line when flags contradict each other, and gives
// way to the flag.
func TestConfigYieldsToFlags(t *testing.T) {
	model := writeModel(t, identityModel())
	_, stderr, code := gcIn(t, t.TempDir(), []string{"GCOMPRESS_METHOD=percentile"}, "quantize", model, "--weight-only", "int8", "-o", "q.onnx")
	if strings.Contains(stderr, "--method") {
		t.Errorf("a --method from the environment was taken for a flag: exit %d, %q", code, stderr)
	}
	_, stderr, code = gc(t, "quantize", model, "--weight-only", "int8", "--method", "percentile", "-o", "q.onnx")
	wantCleanError(t, stderr, code, "--method")

	// a configured weight-only, architecture or student gives way to the
	// flag that contradicts it (each was "give one, not both")
	dir := t.TempDir()
	mlp := saveZoo(t, dir, "mlp-30-30")
	lenet := saveZoo(t, dir, "lenet5")
	for _, c := range []struct {
		env  string
		args []string
	}{
		{"GCOMPRESS_WEIGHT_ONLY=int8", []string{"quantize", lenet, "--calib", quantMNIST(), "--method", "minmax", "--calib-samples", "32",
			"--eval-samples", "32", "-o", filepath.Join(dir, "q.onnx")}},
		{"GCOMPRESS_ARCH=lenet5", []string{"train", "--init", mlp, "--data", mnistDir(), "--epochs", "1", "--limit", "100",
			"-o", filepath.Join(dir, "t.onnx")}},
		{"GCOMPRESS_STUDENT_ARCH=lenet5", []string{"distill", "--teacher", lenet, "--student", mlp, "--data", mnistDir(), "--epochs", "1",
			"--limit", "100", "-o", filepath.Join(dir, "d.onnx")}},
	} {
		if _, stderr, code := gcIn(t, dir, []string{c.env}, c.args...); code != 0 {
			t.Errorf("%s %v: exit %d: %s", c.env, c.args[0], code, stderr)
		}
	}
}

// TestRunOutputDirChecks: run --output-dir refuses, before running, a
// file of that name and an output file that is one of the --input files.
func TestRunOutputDirChecks(t *testing.T) {
	model := writeModel(t, identityModel())
	dir := t.TempDir()
	in := filepath.Join(dir, "output_0.npy")
	if err := tensor.SaveNpy(in, tensor.FromSlice([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(in)
	_, stderr, code := gc(t, "run", model, "--input", "x="+in, "--output-dir", dir)
	wantCleanError(t, stderr, code, "would be overwritten")
	_, stderr, code = gc(t, "run", model, "--input", "x="+in, "--output-dir", in)
	wantCleanError(t, stderr, code, "a file of that name exists")
	if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
		t.Error("the input file changed")
	}
}
