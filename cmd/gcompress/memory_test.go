package main

import (
	"strings"
	"testing"

	"github.com/gcompress/gcompress/internal/sysmem"
)

// TestRefusesRunsPastMemory: run and bench model at a batch whose tensors
// cannot fit (x [1e15 4] float32 and the Relu's output of the same size:
// 28.4 PiB, the output counted because --dim's sizes reach it through
// shape inference) refuse before allocating anything, naming the size,
// the node and the --dim to lower, with exit status 1; the same model at
// batch 2 runs.
func TestRefusesRunsPastMemory(t *testing.T) {
	if _, ok := sysmem.Available(); !ok {
		t.Skip("no memory bound readable on this system")
	}
	model := inspectSymbolicModel(t)
	for _, args := range [][]string{
		{"run", model, "--random-inputs", "--dim", "batch=1000000000000000"},
		{"bench", "model", model, "--dim", "batch=1000000000000000"},
	} {
		stdout, stderr, code := gc(t, args...)
		if code != 1 || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q; want 1 and nothing", args, code, stdout)
		}
		for _, want := range []string{"holds at least 28.4 PiB of tensors at once", `node "relu"`, "--dim batch=1000000000000000"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr does not say %q:\n%s", args, want, stderr)
			}
		}
	}
	if _, stderr, code := gc(t, "run", model, "--random-inputs", "--dim", "batch=2"); code != 0 {
		t.Errorf("batch 2: exit %d\n%s", code, stderr)
	}
}
