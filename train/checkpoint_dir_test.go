package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsCheckpointFile(t *testing.T) {
	for name, want := range map[string]bool{
		"state.json": true, "ckpt-00000012.safetensors": true, ".state.json.tmp4711": true,
		".ckpt-00000012.safetensors.tmp1": true, "state.json.bak": false, "ckpt-1.onnx": false,
		"precious.txt": false, ".precious.txt.tmp1": false, ".state.json": false, "model.safetensors": false,
	} {
		if got := isCheckpointFile(name); got != want {
			t.Errorf("isCheckpointFile(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCheckpointDirChecks: CheckCheckpointDir takes a missing or
// checkpoint-only directory and refuses a file or a directory with
// anything else; RemoveCheckpoint deletes the checkpoint files only, and
// the directory only when that empties it.
func TestCheckpointDirChecks(t *testing.T) {
	root := t.TempDir()
	write := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ckpt := filepath.Join(root, "ckpt")
	if err := CheckCheckpointDir(ckpt); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
	if err := RemoveCheckpoint(ckpt); err != nil {
		t.Errorf("removing a missing directory: %v", err)
	}
	write(filepath.Join(ckpt, "state.json"))
	write(filepath.Join(ckpt, "ckpt-00000003.safetensors"))
	if err := CheckCheckpointDir(ckpt); err != nil {
		t.Errorf("a checkpoint: %v", err)
	}
	if err := RemoveCheckpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
		t.Errorf("the emptied directory is still there: %v", err)
	}

	mixed := filepath.Join(root, "mixed")
	write(filepath.Join(mixed, "state.json"))
	write(filepath.Join(mixed, "notes.txt"))
	if err := os.Mkdir(filepath.Join(mixed, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckCheckpointDir(mixed); err == nil || !strings.Contains(err.Error(), "notes.txt") && !strings.Contains(err.Error(), "sub") {
		t.Errorf("a directory with other files: %v", err)
	}
	if err := RemoveCheckpoint(mixed); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(mixed)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != "notes.txt,sub" {
		t.Errorf("after RemoveCheckpoint the directory holds %v, want notes.txt and sub", left)
	}
	if err := CheckCheckpointDir(filepath.Join(mixed, "notes.txt")); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("a file as the directory: %v", err)
	}
}
