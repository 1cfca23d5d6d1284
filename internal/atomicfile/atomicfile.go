// Package atomicfile writes files so that an interrupted run never leaves a
// half-written file under the final name: data goes to a temporary file in the
// same directory, which is synced and then renamed into place.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// pending holds the temporary files being written, for RemovePending.
var pending struct {
	sync.Mutex
	names map[string]bool
}

func track(name string, on bool) {
	pending.Lock()
	defer pending.Unlock()
	if pending.names == nil {
		pending.names = map[string]bool{}
	}
	if on {
		pending.names[name] = true
	} else {
		delete(pending.names, name)
	}
}

// RemovePending deletes the temporary files of the writes in progress. A
// program calls it when it is stopped by a signal, just before it exits,
// so that an interrupted write leaves nothing behind (the final files
// are untouched either way).
func RemovePending() {
	pending.Lock()
	defer pending.Unlock()
	for name := range pending.names {
		os.Remove(name)
	}
	pending.names = nil
}

// Write creates or replaces path with what write produces. On any error the
// temporary file is removed and path is left as it was. A new file gets
// mode 0644, a replaced one keeps its permission bits.
func Write(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	track(tmp, true)
	defer track(tmp, false)
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
