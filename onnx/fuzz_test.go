package onnx

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gcompress/gcompress/internal/testdata"
)

// FuzzDecode feeds arbitrary bytes to the ONNX importer: it must return a
// model or an error, never panic, and a model it accepts must survive
// Encode and Decode again.
func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob(testdata.Path("onnx-seeds", "*.onnx"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	if b, err := Encode(tinyModel()); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, t.TempDir())
		if err != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("accepted model does not encode: %v", err)
		}
		if _, err := Decode(out, ""); err != nil {
			t.Fatalf("re-encoded model does not decode: %v", err)
		}
	})
}
