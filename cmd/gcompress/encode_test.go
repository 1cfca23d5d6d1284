package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/onnx"
)

// TestEncodeDecodeCommands prunes a small MLP, encodes it with centroid
// fine-tuning, decodes the archive, and checks the decoded model is the
// one encode evaluated; then a tampered and a truncated archive are
// refused with one clear line.
func TestEncodeDecodeCommands(t *testing.T) {
	dir := t.TempDir()
	mlp := saveZoo(t, dir, "mlp-30-30")
	pruned := filepath.Join(dir, "p.onnx")
	if _, stderr, code := gc(t, "prune", mlp, "--method", "magnitude", "--sparsity", "0.7", "-o", pruned, "--latency-runs", "0"); code != 0 {
		t.Fatal(stderr)
	}
	gcz := filepath.Join(dir, "m.gcz")
	report := filepath.Join(dir, "r.md")
	stdout, stderr, code := gc(t, "encode", pruned, "--data", mnistDir(), "--limit", "300", "--finetune-epochs", "1",
		"--bits", "5", "--reference", mlp, "-o", gcz, "--report", report, "--json")
	if code != 0 {
		t.Fatalf("encode: %s", stderr)
	}
	j := decodeJSON(t, stdout)
	st, err := os.Stat(gcz)
	if err != nil || float64(st.Size()) != j["size"].(map[string]any)["file_bytes"].(float64) {
		t.Fatalf("archive size %v vs report %v (%v)", st, j["size"], err)
	}
	if r := j["compression_ratio"].(float64); r < 5 {
		t.Errorf("ratio %v for a 70%%-sparse 5-bit model", r)
	}
	md, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(md), "| Layer | #Weights | Weights% (P) |") || !strings.Contains(string(md), "Ref |") {
		t.Errorf("report:\n%s", md)
	}
	back := filepath.Join(dir, "back.onnx")
	if _, stderr, code := gc(t, "decode", gcz, "-o", back); code != 0 {
		t.Fatalf("decode: %s", stderr)
	}
	m, err := onnx.Load(back)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[float32]bool{}
	for _, v := range m.Graph.Value("fc1.weight").Const.F32() {
		distinct[v] = true
	}
	if len(distinct) > 33 { // 32 shared values and zero
		t.Errorf("fc1 has %d distinct values after 5-bit sharing", len(distinct))
	}
	// The decoded model evaluates as encode reported.
	out, stderr, code := gc(t, "eval", back, "--data", mnistDir(), "--json")
	if code != 0 {
		t.Fatal(stderr)
	}
	acc := decodeJSON(t, out)["accuracy"].(float64)
	if after := j["after"].(map[string]any)["top1_error"].(float64); absf(1-acc-after) > 1e-9 {
		t.Errorf("eval accuracy %v, encode reported error %v", acc, after)
	}
	raw, err := os.ReadFile(gcz)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.gcz")
	flipped := append([]byte(nil), raw...)
	flipped[len(raw)/2] ^= 1
	os.WriteFile(bad, flipped, 0o644)
	_, stderr, code = gc(t, "decode", bad, "-o", filepath.Join(dir, "x.onnx"))
	wantCleanError(t, stderr, code, "bad.gcz", "checksum")
	os.WriteFile(bad, raw[:len(raw)-7], 0o644)
	_, stderr, code = gc(t, "decode", bad, "-o", filepath.Join(dir, "x.onnx"))
	wantCleanError(t, stderr, code, "bad.gcz", "truncated")
	if _, err := os.Stat(filepath.Join(dir, "x.onnx")); err == nil {
		t.Error("a failed decode left an output file")
	}
	_, stderr, code = gc(t, "encode", pruned, "--bits", "40", "-o", gcz)
	wantCleanError(t, stderr, code, "bits")
}

func absf(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestEncodeBadFlags: flag values the encoder would silently replace by
// its defaults (0), and a --bits that k-means fills beyond what a 15-bit
// Huffman code can index, and a --reference that is missing or has no
// data to be evaluated on, fail with one clear line and no output.
func TestEncodeBadFlags(t *testing.T) {
	dir := t.TempDir()
	mlp := saveZoo(t, dir, "mlp-30-30")
	l300 := saveZoo(t, dir, "lenet-300-100")
	out := filepath.Join(dir, "o.gcz")
	for _, c := range []struct {
		args []string
		frag string
	}{
		{[]string{"encode", mlp, "--bits", "0", "-o", out}, "--bits"},
		{[]string{"encode", mlp, "--small", "shared", "--small-bits", "0", "-o", out}, "--small-bits"},
		{[]string{"encode", mlp, "--sparse-min", "0", "-o", out}, "--sparse-min"},
		{[]string{"encode", mlp, "--sparse-min", "-1", "-o", out}, "--sparse-min"},
		{[]string{"encode", mlp, "--gap-bits", "9", "-o", out}, "gap bits"},
		{[]string{"encode", mlp, "--layer-bits", "fc1.weight=x", "-o", out}, "--layer-bits"},
		{[]string{"encode", l300, "--bits", "16", "-o", out}, "distinct symbols"},
		// the reference is read before any work (it was read after writing the archive)
		{[]string{"encode", mlp, "--reference", filepath.Join(dir, "nosuch.onnx"), "--data", mnistDir(), "-o", out}, "nosuch.onnx"},
		{[]string{"encode", mlp, "--reference", mlp, "-o", out}, "--data"},
		{[]string{"encode", mlp, "--momentum", "NaN", "--data", mnistDir(), "-o", out}, "--momentum"},
	} {
		_, stderr, code := gc(t, c.args...)
		wantCleanError(t, stderr, code, c.frag)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed encode left an output file")
	}
}
