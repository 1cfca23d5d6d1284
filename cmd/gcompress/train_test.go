package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/onnx"
)

func mnistDir() string { return filepath.Join(testdata.Root(), "data", "mnist") }

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, s)
	}
	return m
}

// TestTrainEvalDistill trains a tiny model, evaluates it with eval (the
// accuracy must match train's own final evaluation) and distils it into
// another student.
func TestTrainEvalDistill(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.onnx")
	stdout, stderr, code := gc(t, "train", "--arch", "mlp-30-30", "--data", mnistDir(), "--epochs", "2",
		"--limit", "2000", "--seed", "3", "-o", model, "--json")
	if code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	s := decodeJSON(t, stdout)
	for _, k := range []string{"test_accuracy", "test_error", "samples_per_sec", "train_seconds", "result", "gpu", "config", "params"} {
		if _, ok := s[k]; !ok {
			t.Errorf("train JSON lacks %q", k)
		}
	}
	if gpu := s["gpu"].(map[string]any); gpu["note"] == nil && gpu["report"] == nil {
		t.Errorf("gpu summary %v has neither a report nor a note", gpu)
	}
	if s["train_samples"].(float64) != 2000 || s["params"].(float64) != 24790 {
		t.Errorf("train_samples %v params %v", s["train_samples"], s["params"])
	}
	if _, err := os.Stat(model + ".ckpt"); !os.IsNotExist(err) {
		t.Errorf("the checkpoint directory was not removed: %v", err)
	}
	acc := s["test_accuracy"].(float64)
	if acc < 0.8 {
		t.Errorf("test accuracy %v after 2 epochs on 2,000 digits", acc)
	}

	stdout, stderr, code = gc(t, "eval", model, "--data", mnistDir(), "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	e := decodeJSON(t, stdout)
	if len(e) != 2 || e["samples"].(float64) != 1000 || e["accuracy"].(float64) != acc {
		t.Errorf("eval JSON %v; want accuracy %v on 1000 samples and nothing else", e, acc)
	}
	stdout, _, code = gc(t, "eval", model, "--data", mnistDir(), "--split", "train")
	if code != 0 || !strings.Contains(stdout, "7000 train samples") {
		t.Errorf("eval text output %q", stdout)
	}

	student := filepath.Join(dir, "s.onnx")
	stdout, stderr, code = gc(t, "distill", "--teacher", model, "--student-arch", "mlp-30-30", "--data", mnistDir(),
		"--epochs", "1", "--limit", "1000", "--temperature", "2", "--alpha", "0.5", "-o", student, "--json")
	if code != 0 {
		t.Fatalf("distill: exit %d: %s", code, stderr)
	}
	d := decodeJSON(t, stdout)
	if d["temperature"].(float64) != 2 || d["alpha"].(float64) != 0.5 || d["teacher_accuracy"].(float64) != acc ||
		d["teacher_samples"].(float64) != 1000 || !strings.Contains(d["teacher_logits"].(string), "once") {
		t.Errorf("distill JSON: T %v alpha %v teacher acc %v samples %v logits %v", d["temperature"], d["alpha"],
			d["teacher_accuracy"], d["teacher_samples"], d["teacher_logits"])
	}
	// The distilled student from an ONNX file (rather than an arch) works too.
	stdout, stderr, code = gc(t, "distill", "--teacher", model, "--student", student, "--data", mnistDir(),
		"--epochs", "1", "--limit", "500", "--shift", "1", "-o", filepath.Join(dir, "s2.onnx"))
	if code != 0 || !strings.Contains(stdout, "per batch") {
		t.Fatalf("distill --student: exit %d: %s\n%s", code, stderr, stdout)
	}
}

func TestTrainDistillEvalErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "o.onnx")
	cases := []struct {
		args      []string
		code      int
		fragments []string
	}{
		{[]string{"train", "--arch", "resnet-9000", "--data", mnistDir(), "-o", out}, 2, []string{"resnet-9000", "lenet5"}},
		{[]string{"train", "--arch", "lenet5", "-o", out}, 2, []string{"--data"}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir()}, 2, []string{"-o"}},
		{[]string{"train", "--arch", "lenet5", "--data", dir, "-o", out}, 1, []string{dir}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--patience", "2", "-o", out}, 2, []string{"--val-fraction"}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--optimizer", "lbfgs", "-o", out}, 2, []string{"lbfgs"}},
		{[]string{"train", "--init", filepath.Join(dir, "missing.onnx"), "--data", mnistDir(), "-o", out}, 1, []string{"missing.onnx"}},
		{[]string{"eval", filepath.Join(dir, "missing.onnx"), "--data", mnistDir()}, 1, []string{"missing.onnx"}},
		{[]string{"eval", out}, 2, []string{"--data"}},
		{[]string{"distill", "--student-arch", "mlp-30-30", "--data", mnistDir(), "-o", out}, 2, []string{"--teacher"}},
		{[]string{"distill", "--teacher", "t.onnx", "--data", mnistDir(), "-o", out}, 2, []string{"--student"}},
		{[]string{"distill", "--teacher", "t.onnx", "--student-arch", "mlp-30-30", "--temperature", "0", "--data", mnistDir(), "-o", out}, 2, []string{"--temperature"}},
		// NaN passes a "< 0" check: each must be refused by name, never reach a slice bound
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--val-fraction", "NaN", "-o", out}, 2, []string{"--val-fraction"}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--momentum", "NaN", "-o", out}, 2, []string{"--momentum"}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--weight-decay", "Inf", "-o", out}, 2, []string{"--weight-decay"}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--warmup-epochs", "NaN", "-o", out}, 2, []string{"--warmup-epochs"}},
		{[]string{"train", "--arch", "lenet5", "--data", mnistDir(), "--schedule", "step", "--gamma", "NaN", "-o", out}, 2, []string{"--gamma"}},
		// settings the data cannot take are usage errors, found before training
		{[]string{"train", "--arch", "mlp-30-30", "--data", mnistDir(), "--limit", "300", "--batch", "100000", "-o", out}, 2, []string{"batch size 100000", "300"}},
		{[]string{"train", "--arch", "mlp-30-30", "--data", mnistDir(), "--shift", "100", "-o", out}, 2, []string{"shift 100", "28x28"}},
		{[]string{"train", "--arch", "mlp-30-30", "--data", mnistDir(), "--patience", "-1", "-o", out}, 2, []string{"--patience"}},
	}
	for _, c := range cases {
		_, stderr, code := gc(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, stderr)
			continue
		}
		wantCleanError(t, stderr, code, c.fragments...)
	}
}

// TestTrainCheckpointDirKeepsOtherFiles: a checkpoint directory that holds
// anything but checkpoint files, is a file or a symbolic link is refused
// before any work, with --fresh too, and nothing in it is touched; a
// directory holding a stale checkpoint is cleared by --fresh, and the
// finished run removes the checkpoint files from it but keeps the
// directory the user named.
func TestTrainCheckpointDirKeepsOtherFiles(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")
	results := filepath.Join(dir, "results")
	precious := filepath.Join(results, "precious.txt")
	if err := os.Mkdir(results, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "--arch", "mlp-30-30", "--data", mnistDir(), "--epochs", "1", "--limit", "200", "-o", out}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(results, link); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--checkpoint-dir", results}, {"--checkpoint-dir", results, "--fresh"},
		{"--checkpoint-dir", precious}, {"--checkpoint-dir", link, "--fresh"}} {
		_, stderr, code := gc(t, append(args, extra...)...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", extra, code, stderr)
			continue
		}
		wantCleanError(t, stderr, code, "checkpoint directory", extra[1])
		if b, err := os.ReadFile(precious); err != nil || string(b) != "keep me" {
			t.Fatalf("%v: %s is gone or changed: %q %v", extra, precious, b, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v: refused, yet %s was written", extra, out)
		}
	}

	stale := filepath.Join(dir, "stale")
	if err := os.Mkdir(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"state.json", "ckpt-00000007.safetensors", ".state.json.tmp123"} {
		if err := os.WriteFile(filepath.Join(stale, f), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, stderr, code := gc(t, append(args, "--checkpoint-dir", stale)...); code == 0 || !strings.Contains(stderr, "checkpoint") {
		t.Errorf("resuming from a broken checkpoint: exit %d (%s)", code, stderr)
	}
	if _, stderr, code := gc(t, append(args, "--checkpoint-dir", stale, "--fresh")...); code != 0 {
		t.Fatalf("--fresh over a stale checkpoint: exit %d: %s", code, stderr)
	}
	if es, err := os.ReadDir(stale); err != nil || len(es) != 0 {
		t.Errorf("the named checkpoint directory should stay, emptied: %v %v", es, err)
	}
}

// TestTrainKilledAndResumed kills a training process with SIGKILL after
// its first mid-epoch checkpoint, runs the same command again, and
// requires the result to equal an uninterrupted run's, weight for weight.
func TestTrainKilledAndResumed(t *testing.T) {
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"train", "--arch", "lenet-300-100", "--data", mnistDir(), "--epochs", "3", "--limit", "3000",
			"--checkpoint-every", "5", "--seed", "4", "-o", out}
	}
	ref := filepath.Join(dir, "ref.onnx")
	if _, stderr, code := gc(t, args(ref)...); code != 0 {
		t.Fatalf("reference run: exit %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "killed.onnx")
	cmd := exec.Command(gcBinary, args(out)...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(out+".ckpt", "state.json")
	deadline := time.Now().Add(60 * time.Second)
	killed := false
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(state); err == nil {
			var st struct{ Epoch, Batch int }
			if json.Unmarshal(b, &st) == nil && (st.Epoch > 0 || st.Batch > 0) && st.Epoch < 2 {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Wait()
	if !killed {
		t.Fatal("no mid-run checkpoint appeared to kill the run at")
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("the killed run wrote its output")
	}
	stdout, stderr, code := gc(t, append(args(out), "--json")...)
	if code != 0 {
		t.Fatalf("resumed run: exit %d: %s", code, stderr)
	}
	res := decodeJSON(t, stdout)["result"].(map[string]any)
	if res["resumed_at"] == nil {
		t.Fatal("the second run did not resume from the checkpoint")
	}
	a, err := onnx.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range a.Graph.Initializers {
		if !bytes.Equal(v.Const.RawBytes(), b.Graph.Initializers[i].Const.RawBytes()) {
			t.Fatalf("resumed after a kill (%v): %s differs from the uninterrupted run", res["resumed_at"], v.Name)
		}
	}
	t.Logf("killed, resumed at %v: identical weights", res["resumed_at"])
}

// TestDemoQuick runs the demo with 1-epoch recipes: the table, the JSON,
// the Markdown report and the PNG plot, then again from the cache.
func TestDemoQuick(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	stdout, stderr, code := gc(t, "demo", "--out", out, "--epochs", "1", "--json")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	var rep demoReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	want := []string{"fp32 LeNet-5 (trained)", "int8 LeNet-5 (QDQ)", "mlp-30-30 from scratch", "mlp-30-30 distilled (T=4)", "channel-pruned LeNet-5"}
	if len(rep.Stages) != len(want) || rep.Stages[0].Cached || rep.Stages[0].Accuracy < 0.8 {
		t.Fatalf("stages %+v", rep.Stages)
	}
	for i, st := range rep.Stages {
		if st.Stage != want[i] || st.Accuracy < 0.5 || st.Bytes <= 0 || st.LatencyMS <= 0 {
			t.Errorf("stage %d: want %q with accuracy >= 0.5, got %+v", i, want[i], st)
		}
	}
	if pruned := rep.Stages[4]; pruned.Params*2 > rep.Stages[0].Params {
		t.Errorf("the channel-pruned LeNet-5 has %d parameters, the dense one %d", pruned.Params, rep.Stages[0].Params)
	}
	md, err := os.ReadFile(rep.Report)
	if err != nil || !strings.Contains(string(md), "mlp-30-30 distilled") || !strings.Contains(string(md), "accuracy_vs_size.png") ||
		!strings.Contains(string(md), "rounds that time the models in turn") {
		t.Fatalf("report: %v\n%s", err, md)
	}
	f, err := os.Open(rep.Plot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() < 300 {
		t.Fatalf("plot: %v", err)
	}
	stdout, stderr, code = gc(t, "demo", "--out", out, "--epochs", "1")
	if code != 0 {
		t.Fatalf("second demo: exit %d: %s", code, stderr)
	}
	if strings.Count(stdout, "cached") < 3 || !strings.Contains(stdout, "fp32 LeNet-5") {
		t.Errorf("second run did not use the cache:\n%s", stdout)
	}
	// --retrain trains anew over the cache and leaves other files alone
	notes := filepath.Join(out, "cache", "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = gc(t, "demo", "--out", out, "--epochs", "1", "--budget", "0", "--retrain", "--json")
	if code != 0 {
		t.Fatalf("demo --retrain: exit %d: %s", code, stderr)
	}
	rep = demoReport{}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Stages) == 0 || rep.Stages[0].Cached {
		t.Errorf("demo --retrain used the cached model: %v %+v", err, rep.Stages)
	}
	if _, err := os.Stat(notes); err != nil {
		t.Errorf("demo --retrain deleted a file of the cache directory it did not write: %v", err)
	}
}
