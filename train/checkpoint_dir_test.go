package train

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsCheckpointFile(t *testing.T) {
	for name, want := range map[string]bool{
		"state.json": true, "ckpt-00000012.safetensors": true, "ckpt-123456789.safetensors": true,
		".state.json.tmp4711": true, ".ckpt-00000012.safetensors.tmp1": true,
		"ckpt-best.safetensors": false, "ckpt-0012.safetensors": false, "12345678.safetensors": false,
		"ckpt-00000012.safetensors.bak": false, ".ckpt-best.safetensors.tmp1": false,
		"state.json.bak": false, "precious.txt": false, ".precious.txt.tmp1": false, ".state.json": false,
	} {
		if got := isCheckpointFile(name); got != want {
			t.Errorf("isCheckpointFile(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCheckpointDirChecks: CheckCheckpointDir takes a missing or
// checkpoint-only directory and refuses a file, a symbolic link or a
// directory with anything else; RemoveCheckpoint deletes the checkpoint
// files only, the directory only when asked and empty, and nothing
// through a symbolic link.
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
	refused := func(dir, fragment string) {
		t.Helper()
		err := CheckCheckpointDir(dir)
		if !errors.Is(err, ErrNotCheckpointDir) || !strings.Contains(err.Error(), fragment) {
			t.Errorf("CheckCheckpointDir(%s) = %v, want a refusal naming %q", dir, err, fragment)
		}
	}
	ckpt := filepath.Join(root, "ckpt")
	if err := CheckCheckpointDir(ckpt); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
	if err := RemoveCheckpoint(ckpt, true); err != nil {
		t.Errorf("removing a missing directory: %v", err)
	}
	write(filepath.Join(ckpt, "state.json"))
	write(filepath.Join(ckpt, "ckpt-00000003.safetensors"))
	if err := CheckCheckpointDir(ckpt); err != nil {
		t.Errorf("a checkpoint: %v", err)
	}
	if err := RemoveCheckpoint(ckpt, false); err != nil {
		t.Fatal(err)
	}
	if es, err := os.ReadDir(ckpt); err != nil || len(es) != 0 {
		t.Errorf("without removeDir: the directory should stay, empty: %v %v", es, err)
	}
	if err := RemoveCheckpoint(ckpt, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ckpt); !os.IsNotExist(err) {
		t.Errorf("with removeDir the emptied directory is still there: %v", err)
	}

	mixed := filepath.Join(root, "mixed")
	write(filepath.Join(mixed, "state.json"))
	write(filepath.Join(mixed, "ckpt-best.safetensors"))
	refused(mixed, "ckpt-best.safetensors")
	if err := RemoveCheckpoint(mixed, true); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(mixed); len(es) != 1 || es[0].Name() != "ckpt-best.safetensors" {
		t.Errorf("after RemoveCheckpoint the directory holds %v, want ckpt-best.safetensors alone", es)
	}
	sub := filepath.Join(root, "withsub")
	if err := os.MkdirAll(filepath.Join(sub, "state.json"), 0o755); err != nil { // a directory of that name
		t.Fatal(err)
	}
	refused(sub, "state.json")

	refused(filepath.Join(mixed, "ckpt-best.safetensors"), "is a file")
	target := filepath.Join(root, "target")
	write(filepath.Join(target, "state.json"))
	link := filepath.Join(root, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	refused(link, "symbolic link")
	if err := os.Symlink(filepath.Join(root, "nowhere"), filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
	refused(filepath.Join(root, "dangling"), "symbolic link")
	if err := RemoveCheckpoint(link, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("the link was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "state.json")); err != nil {
		t.Errorf("a checkpoint file was deleted through a link: %v", err)
	}
}
