package cpu

import (
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// TestDequantizeBlockedAxisOne: a blocked DequantizeLinear over an axis of
// length 1 (nothing before it) has one scale and zero point per element;
// the per-tensor fast path must not take it (quantParams.perTensor).
func TestDequantizeBlockedAxisOne(t *testing.T) {
	x := tensor.FromSlice([]int{1, 4}, []uint8{10, 10, 10, 10})
	s := nntF32([]int{1, 4}, 1, 2, 3, 4)
	z := tensor.FromSlice([]int{1, 4}, []uint8{0, 1, 2, 3})
	got := nntMust(t, "DequantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(0), "block_size": graph.IntAttr(1)}, x, s, z)
	nntClose(t, got, []int{1, 4}, []float64{10, 18, 24, 28}, 0)
}

// TestQuantizeBlockedAxisOne: the same for QuantizeLinear's per-tensor
// path.
func TestQuantizeBlockedAxisOne(t *testing.T) {
	x := nntF32([]int{1, 4}, 8, 8, 8, 8)
	s := nntF32([]int{1, 4}, 1, 2, 4, 8)
	got := nntMust(t, "QuantizeLinear", map[string]*graph.Attr{"axis": graph.IntAttr(0), "block_size": graph.IntAttr(1)}, x, s, tensor.FromSlice([]int{1, 4}, []uint8{0, 0, 0, 0}))
	nntClose(t, got, []int{1, 4}, []float64{8, 4, 2, 1}, 0)
}
