package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestRemovePending: the temporary file of a write in progress is deleted
// by RemovePending (what a signal handler calls), the final file is never
// created, the interrupted Write reports an error, and a later Write
// fails without creating anything.
func TestRemovePending(t *testing.T) {
	t.Cleanup(func() { pending.stopped = false })
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- Write(path, func(w io.Writer) error {
			close(started)
			<-release
			_, err := w.Write([]byte("data"))
			return err
		})
	}()
	<-started
	if n := len(entries(t, dir)); n != 1 {
		t.Fatalf("%d files while writing, want the temporary one", n)
	}
	RemovePending()
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("left after RemovePending: %v", names)
	}
	close(release)
	if err := <-done; err == nil {
		t.Error("the interrupted Write reported no error")
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("left after the interrupted Write: %v", names)
	}
	if !Stopping() {
		t.Error("Stopping() is false after RemovePending")
	}
	err := Write(path, func(w io.Writer) error { return nil })
	if !errors.Is(err, ErrStopped) {
		t.Errorf("a Write after RemovePending: %v, want ErrStopped", err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("left after a Write once stopped: %v", names)
	}
}

// TestWriteKeepsMode: a new file is 0644; a replaced one keeps its mode.
func TestWriteKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	write := func() {
		if err := Write(path, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); err != nil {
			t.Fatal(err)
		}
	}
	write()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("new file mode %v (%v), want 0644", st.Mode().Perm(), err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	write()
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("replaced file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
