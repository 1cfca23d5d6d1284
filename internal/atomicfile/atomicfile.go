// Package atomicfile writes files so that an interrupted run never leaves a
// half-written file under the final name: data goes to a temporary file in the
// same directory, which is synced and then renamed into place.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// pending holds the temporary files being written, for RemovePending;
// stopped is set by RemovePending, after which no write starts.
var pending struct {
	sync.Mutex
	names   map[string]bool
	stopped bool
}

// ErrStopped is the error of a Write asked for after RemovePending.
var ErrStopped = errors.New("the program is stopping")

// createTracked creates the temporary file for path and registers it, in
// one step under the lock, so that RemovePending sees every temporary
// file that exists.
func createTracked(path string) (*os.File, error) {
	pending.Lock()
	defer pending.Unlock()
	if pending.stopped {
		return nil, ErrStopped
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	if pending.names == nil {
		pending.names = map[string]bool{}
	}
	pending.names[f.Name()] = true
	return f, nil
}

func untrack(name string) {
	pending.Lock()
	defer pending.Unlock()
	delete(pending.names, name)
}

// RemovePending deletes the temporary files of the writes in progress and
// makes later writes fail with ErrStopped. A program calls it when it is
// stopped by a signal, just before it exits, so that an interrupted write
// leaves nothing behind (the final files are untouched either way).
func RemovePending() {
	pending.Lock()
	defer pending.Unlock()
	pending.stopped = true
	for name := range pending.names {
		os.Remove(name)
	}
	pending.names = nil
}

// Stopping reports whether RemovePending has been called.
func Stopping() bool {
	pending.Lock()
	defer pending.Unlock()
	return pending.stopped
}

// Write creates or replaces path with what write produces. On any error the
// temporary file is removed and path is left as it was. A new file gets
// mode 0644, a replaced one keeps its permission bits.
func Write(path string, write func(io.Writer) error) error {
	f, err := createTracked(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer untrack(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		mode := os.FileMode(0o644)
		if st, serr := os.Stat(path); serr == nil && st.Mode().IsRegular() {
			mode = st.Mode().Perm()
		}
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
