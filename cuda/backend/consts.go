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

// padRows copies a rows x cols matrix of esize-byte elements into rows of ld
// elements (zero padding), as the GEMM kernels need 16-byte row strides.
func padRows(src []byte, rows, cols, ld, esize int) []byte {
	if ld == cols {
		return src
	}
	out := make([]byte, rows*ld*esize)
	for r := 0; r < rows; r++ {
		copy(out[r*ld*esize:], src[r*cols*esize:(r+1)*cols*esize])
	}
	return out
}

// unsignedShift is what an operand of type dt loses on the int8 kernels:
// 128 for uint8 (v − 128, flipping the top bit), 0 for int8.
func unsignedShift(dt tensor.DType) int32 {
	if dt == tensor.Uint8 {
		return 128
	}
	return 0
}
