package ortpeer

import (
	"os"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

// TestIdentityModel runs ONNX's own test_identity model in ORT and checks the
// output equals the input: the peer loads and computes.
func TestIdentityModel(t *testing.T) {
	Require(t)
	model, err := os.ReadFile("/usr/share/libonnx-testdata/data/node/test_identity/model.onnx")
	if err != nil {
		t.Skipf("conformance data not installed: %v", err)
	}
	s, err := NewSession(model, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x := tensor.FromSlice([]int{1, 1, 2, 2}, []float32{1, -2, 3.5, 4})
	out, err := s.Run(map[string]*tensor.Tensor{s.InputNames()[0]: x})
	if err != nil {
		t.Fatal(err)
	}
	got := out[0].F32()
	for i, v := range x.F32() {
		if got[i] != v {
			t.Fatalf("element %d: ORT gave %v, want %v", i, got[i], v)
		}
	}
}
