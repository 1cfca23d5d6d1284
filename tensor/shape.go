package tensor

import (
	"fmt"
	"math/bits"
)

// NumElements returns the product of shape, or an error for a negative
// dimension or a product above MaxElements (checked without overflow).
func NumElements(shape []int) (int, error) {
	n := uint64(1)
	zero := false
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d == 0 {
			zero = true
			continue
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > MaxElements {
			if !zeroLater(shape) {
				return 0, fmt.Errorf("shape %v has more than %d elements", shape, MaxElements)
			}
			return 0, nil
		}
		n = lo
	}
	if zero {
		return 0, nil
	}
	return int(n), nil
}

func zeroLater(shape []int) bool {
	for _, d := range shape {
		if d == 0 {
			return true
		}
	}
	return false
}

// Product returns the product of dims (1 for an empty list). Use it only on
// shapes already validated by NumElements.
func Product(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Strides returns the row-major element strides of shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// NormAxis maps a possibly negative axis into [0, rank), or errors.
func NormAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank || (rank == 0 && axis != 0 && axis != -1) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

// BroadcastShapes returns the NumPy-style broadcast of the given shapes.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case o == d || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast", shapes)
			}
		}
	}
	return out, nil
}

// BroadcastStrides returns strides for reading a tensor of shape in as if it
// had shape out (rank(out) >= rank(in), in broadcastable to out): broadcast
// dimensions get stride 0.
func BroadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	inSt := Strides(in)
	off := len(out) - len(in)
	for i := range in {
		if in[i] != 1 {
			st[off+i] = inSt[i]
		}
	}
	return st
}

// SameShape reports whether a and b are equal dimension by dimension.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func cloneInts(s []int) []int {
	out := make([]int, len(s))
	copy(out, s)
	return out
}

// Broadcaster walks the elements of an output shape in row-major order and
// tracks, for each input shape broadcast to it (NumPy rules), the offset of
// the input element that feeds the current output element.
//
//	b := NewBroadcaster(outShape, aShape, bShape)
//	for o := 0; o < n; o++ { out[o] = a[b.Off[0]] + c[b.Off[1]]; b.Next() }
type Broadcaster struct {
	// Off[k] is the element offset into input k for the current position.
	Off     []int
	shape   []int
	idx     []int
	strides [][]int
}

// NewBroadcaster prepares a walk over out for inputs ins, each broadcastable
// to out (checked by BroadcastShapes beforehand).
func NewBroadcaster(out []int, ins ...[]int) *Broadcaster {
	b := &Broadcaster{Off: make([]int, len(ins)), shape: out, idx: make([]int, len(out))}
	for _, in := range ins {
		b.strides = append(b.strides, BroadcastStrides(in, out))
	}
	return b
}

// Next advances to the following output element.
func (b *Broadcaster) Next() {
	for d := len(b.shape) - 1; d >= 0; d-- {
		b.idx[d]++
		for k, st := range b.strides {
			b.Off[k] += st[d]
		}
		if b.idx[d] < b.shape[d] {
			return
		}
		for k, st := range b.strides {
			b.Off[k] -= st[d] * b.shape[d]
		}
		b.idx[d] = 0
	}
}
