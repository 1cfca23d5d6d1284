package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/onnx"
)

// TestPruneCommand runs each method on small zoo models with a short
// retraining and checks the outputs: sparsity, the report's tables and
// latency, the masks file, and that the channel-pruned model is smaller.
func TestPruneCommand(t *testing.T) {
	dir := t.TempDir()
	data := mnistDir()
	mlp := saveZoo(t, dir, "mlp-30-30")
	out := filepath.Join(dir, "p.onnx")
	report := filepath.Join(dir, "r.md")
	masks := filepath.Join(dir, "m.safetensors")
	stdout, stderr, code := gc(t, "prune", mlp, "--method", "magnitude", "--sparsity", "0.8", "--rounds", "2",
		"--retrain-epochs", "1", "--limit", "500", "--data", data, "-o", out, "--report", report, "--masks", masks,
		"--latency-runs", "20", "--json", "--threads", "2")
	if code != 0 {
		t.Fatalf("prune magnitude: %s", stderr)
	}
	j := decodeJSON(t, stdout)
	if s := j["sparsity"].(float64); s < 0.799 || s > 0.801 {
		t.Errorf("sparsity %v", s)
	}
	if lat := j["latency"].([]any); len(lat) != 1 || lat[0].(map[string]any)["after_ms"].(float64) <= 0 {
		t.Errorf("latency %v", j["latency"])
	}
	if len(j["rounds"].([]any)) != 2 || j["accuracy_after"] == nil {
		t.Errorf("rounds %v, accuracy %v", j["rounds"], j["accuracy_after"])
	}
	md, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(md), "| fc1 | fc1.weight |") || !strings.Contains(string(md), "## Latency") {
		t.Errorf("report:\n%s", md)
	}
	if st, err := os.Stat(masks); err != nil || st.Size() == 0 {
		t.Errorf("masks file: %v", err)
	}
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	zeros, total := 0, 0
	for _, name := range []string{"fc1.weight", "fc2.weight", "fc3.weight"} {
		for _, v := range m.Graph.Value(name).Const.F32() {
			total++
			if v == 0 {
				zeros++
			}
		}
	}
	if float64(zeros) < 0.79*float64(total) {
		t.Errorf("%d of %d weights are zero in the written model", zeros, total)
	}

	// 2:4 on LeNet-5: warnings for the small layers, kernel agreement.
	lenet := saveZoo(t, dir, "lenet5")
	stdout, stderr, code = gc(t, "prune", lenet, "--method", "2:4", "--retrain-epochs", "1", "--limit", "300",
		"--data", data, "-o", out, "--latency-runs", "5", "--agreement-samples", "20", "--json")
	if code != 0 {
		t.Fatalf("prune 2:4: %s", stderr)
	}
	j = decodeJSON(t, stdout)
	if w := j["warnings"]; w == nil || !strings.Contains(stdout, "conv1") {
		t.Errorf("no 2:4 warning for conv1: %v", w)
	}
	agree := j["kernel_agreement"].([]any)
	found24 := false
	for _, a := range agree {
		am := a.(map[string]any)
		if am["kernel"] == "2:4" {
			found24 = true
			if am["max_abs_diff"].(float64) > 1e-4 || am["same_top1"] != true {
				t.Errorf("2:4 kernel disagrees: %v", am)
			}
		}
	}
	if !found24 {
		t.Errorf("the 2:4 kernel did not run: %v", agree)
	}

	// Channel pruning to half the FLOPs.
	stdout, stderr, code = gc(t, "prune", lenet, "--method", "channel", "--flops-reduction", "0.5", "--criterion", "l2",
		"--data", data, "--split", "test", "-o", out, "--latency-runs", "5", "--json")
	if code != 0 {
		t.Fatalf("prune channel: %s", stderr)
	}
	j = decodeJSON(t, stdout)
	s := j["structured"].(map[string]any)
	if s["flops_after"].(float64) > 0.5*s["flops_before"].(float64) {
		t.Errorf("FLOPs %v -> %v", s["flops_before"], s["flops_after"])
	}
	pm, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if c := pm.Graph.Value("conv1.weight").Const.Shape()[0]; c >= 6 {
		t.Errorf("conv1 still has %d filters", c)
	}
}

func TestPruneBadInputs(t *testing.T) {
	dir := t.TempDir()
	mlp := saveZoo(t, dir, "mlp-30-30")
	out := filepath.Join(dir, "o.onnx")
	for _, c := range []struct {
		args []string
		frag string
	}{
		{[]string{"prune", mlp, "-o", out}, "--method"},
		{[]string{"prune", mlp, "--method", "magnitude", "-o", out}, "--sparsity"},
		{[]string{"prune", mlp, "--method", "bogus", "--sparsity", "0.5", "-o", out}, "bogus"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "1.5", "-o", out}, "below 1"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "0.5", "--retrain-epochs", "2", "-o", out}, "--data"},
		{[]string{"prune", mlp, "--method", "magnitude", "--layer-sparsity", "nope=0.5", "-o", out}, "nope"},
		{[]string{"prune", mlp, "--method", "2:4", "--sparsity", "0.7", "-o", out}, "half"},
		{[]string{"prune", filepath.Join(dir, "missing.onnx"), "--method", "2:4", "-o", out}, "missing.onnx"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "0.5", "-o", filepath.Join(dir, "no", "o.onnx")}, "does not exist"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "-0.5", "--layer-sparsity", "fc1=0.5", "-o", out}, "--sparsity"},
		{[]string{"prune", mlp, "--method", "magnitude", "--layer-sparsity", "fc1=1.5", "-o", out}, "1.5"},
		{[]string{"prune", mlp, "--method", "magnitude", "--layer-sparsity", "fc1=junk", "-o", out}, "--layer-sparsity"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sensitivity", "-2", "--data", "x", "-o", out}, "--sensitivity"},
		{[]string{"prune", mlp, "--method", "channel", "--flops-reduction", "-0.5", "-o", out}, "--flops-reduction"},
		{[]string{"prune", mlp, "--method", "channel", "--flops-reduction", "1.5", "-o", out}, "--flops-reduction"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "0.5", "--flops-reduction", "0.5", "-o", out}, "--method channel"},
		{[]string{"prune", mlp, "--method", "channel", "--sparsity", "0.5", "--round-channels", "0", "-o", out}, "--round-channels"},
		{[]string{"prune", mlp, "--method", "channel", "--sparsity", "0.5", "--masks", filepath.Join(dir, "m.st"), "-o", out}, "--masks"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "0.5", "--latency-runs", "-1", "-o", out}, "--latency-runs"},
	} {
		_, stderr, code := gc(t, c.args...)
		wantCleanError(t, stderr, code, c.frag)
	}
	// command-line mistakes found before any work exit 2
	for _, c := range []struct {
		args []string
		frag string
	}{
		{[]string{"prune", mlp, "--method", "magnitude", "--layer-sparsity", "fc1=2", "-o", out}, "fc1"},
		{[]string{"prune", mlp, "--method", "magnitude", "--layer-sparsity", "nosuch=0.5", "-o", out}, "nosuch"},
		{[]string{"prune", mlp, "--method", "gradual", "--sparsity", "0.5", "--gradual-every", "0", "--data", mnistDir(), "--retrain-epochs", "1", "-o", out}, "every 0"},
		{[]string{"prune", mlp, "--method", "gradual", "--sparsity", "0.5", "--gradual-start", "0.8", "--gradual-end", "0.2", "--data", mnistDir(), "--retrain-epochs", "1", "-o", out}, "start <= end"},
		{[]string{"prune", mlp, "--method", "magnitude", "--sparsity", "0.5", "--criterion", "l2", "-o", out}, "--criterion"},
	} {
		_, stderr, code := gc(t, c.args...)
		wantCleanError(t, stderr, code, c.frag)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", c.args, code)
		}
	}
}
