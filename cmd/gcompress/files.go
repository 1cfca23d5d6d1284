package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gcompress/gcompress/compress/encode"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx"
)

// checkOutputs is run by every command that writes files, before any long
// work, so that a bad output path fails at once rather than after
// training or calibration. Each non-empty output must name a file (not a
// directory) in an existing directory this process can create files in,
// must not be one of the command's inputs (which it would overwrite), and
// must differ from the other outputs. inputs may hold empty names.
func checkOutputs(inputs []string, outputs ...string) error {
	var seen []string
	for _, out := range outputs {
		if out == "" {
			continue
		}
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			return usagef("cannot write %s: it is a directory; give a file name", out)
		}
		dir := filepath.Dir(out)
		if st, err := os.Stat(dir); err != nil {
			return usagef("cannot write %s: directory %s does not exist", out, dir)
		} else if !st.IsDir() {
			return usagef("cannot write %s: %s is a file, not a directory", out, dir)
		}
		probe, err := os.CreateTemp(dir, ".gcompress-probe*")
		if err != nil {
			reason := err
			if pe, ok := err.(*os.PathError); ok {
				reason = pe.Err
			}
			return fmt.Errorf("cannot write %s: cannot create files in directory %s: %v", out, dir, reason)
		}
		probe.Close()
		os.Remove(probe.Name())
		for _, in := range inputs {
			if in != "" && samePath(in, out) {
				return usagef("cannot write %s: it is the input %s, which would be overwritten; write elsewhere", out, in)
			}
		}
		for _, prev := range seen {
			if samePath(prev, out) {
				return usagef("%s is given as two different outputs", out)
			}
		}
		seen = append(seen, out)
	}
	return nil
}

// samePath reports whether a and b name the same file: the same file
// on disk when both exist (links and different spellings included), else
// the same cleaned absolute path.
func samePath(a, b string) bool {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// loadModel reads an ONNX model; a .gcz archive given instead gets an
// error that says how to turn it back into ONNX.
func loadModel(path string) (*graph.Model, error) {
	m, err := onnx.Load(path)
	if err == nil {
		return m, nil
	}
	if f, ferr := os.Open(path); ferr == nil {
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if encode.LooksLikeArchive(head[:n]) {
			return nil, fmt.Errorf("%s is a .gcz archive written by 'gcompress encode', not ONNX: 'gcompress decode %s -o model.onnx' turns it back", path, path)
		}
	}
	return nil, err
}
