package backend

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// isZeroConst reports whether v is absent or a constant of zeros.
func isZeroConst(v *graph.Value) bool {
	if v == nil {
		return true
	}
	t := graph.ConstTensor(v)
	if t == nil {
		return false
	}
	for i := 0; i < t.Len(); i++ {
		if t.Float64At(i) != 0 {
			return false
		}
	}
	return true
}

// constWeight returns the constant 2-D weight input of a MatMul-like node.
func constWeight(n *graph.Node, i int, dt tensor.DType) *tensor.Tensor {
	w := graph.ConstTensor(n.Input(i))
	if w == nil || w.DType() != dt || w.Rank() != 2 || w.Len() == 0 {
		return nil
	}
	return w
}

// roundUp rounds x up to a multiple of m.
func roundUp(x, m int) int { return (x + m - 1) / m * m }

// rawCopy is the bytes of v (a copy), as the kernels read a vector.
func rawCopy[T tensor.Elem](v []T) []byte {
	return append([]byte(nil), tensor.FromSlice([]int{len(v)}, v).RawBytes()...)
}
