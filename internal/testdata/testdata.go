// Package testdata locates the data tests need: the ONNX conformance data
// (Debian libonnx-testdata), the project's testdata/ folder, and the shared
// MNIST and onnx-light sets copied there. Tests call Require* helpers, which
// skip when data is missing, or fail when GCOMPRESS_REQUIRE_PEERS=1 (CI).
package testdata

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// ONNXData is where libonnx-testdata installs the backend test trees.
const ONNXData = "/usr/share/libonnx-testdata/data"

// RequireONNX returns ONNXData, or skips/fails the test when it is absent.
func RequireONNX(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(ONNXData, "node")); err != nil {
		if os.Getenv("GCOMPRESS_REQUIRE_PEERS") == "1" {
			t.Fatalf("ONNX conformance data required: %v (apt-get install libonnx-testdata)", err)
		}
		t.Skipf("ONNX conformance data not installed (apt-get install libonnx-testdata): %v", err)
	}
	return ONNXData
}

// Root returns the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Path joins elems under the repository's testdata/ folder.
func Path(elems ...string) string {
	return filepath.Join(append([]string{Root(), "testdata"}, elems...)...)
}

// ModelFiles lists every model.onnx under the given subdirectories of
// ONNXData.
func ModelFiles(t testing.TB, subdirs ...string) []string {
	t.Helper()
	root := RequireONNX(t)
	var out []string
	for _, s := range subdirs {
		files, err := filepath.Glob(filepath.Join(root, s, "*", "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, files...)
	}
	if len(out) == 0 {
		t.Fatalf("no models under %s/%v", root, subdirs)
	}
	return out
}
