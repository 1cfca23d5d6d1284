//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptedTraining: Ctrl-C during training leaves the checkpoint
// and no temporary or final file, says how to resume, and the process dies
// by SIGINT (so that a shell loop around it stops too).
func TestInterruptedTraining(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")
	cmd := exec.Command(gcBinary, "train", "--arch", "mlp-30-30", "--data", mnistDir(), "--epochs", "200",
		"--checkpoint-every", "1", "--threads", "1", "-o", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(out+".ckpt", "state.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint after 60 s; stderr %q", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("wait: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("process status %v, want death by SIGINT", ee)
	}
	for _, want := range []string{"stopped by interrupt", "the same command resumes"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", stderr.String(), want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "m.onnx.ckpt" {
			t.Errorf("left in the output directory: %s", e.Name())
		}
	}
}
