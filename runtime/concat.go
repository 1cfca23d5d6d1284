package runtime

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// A Concat whose output is one contiguous run per input (every axis
// before the concatenation axis of size 1: channels at batch 1) and whose
// inputs are each read only by it is computed in place: its output
// buffer is allocated when the first of its producers runs, each
// producer's first allocation of its output's dtype and shape is a view
// of its part of that buffer (Context.place), and when the Concat's turn
// comes and every input is found in its place, the buffer becomes its
// output and the Concat does not run. A producer that allocated its
// output some other way leaves it elsewhere; the Concat then runs as
// usual, copying. (SqueezeNet's expand convolutions write into their
// fire module's output so.)

// concatGroup is a Concat computed in place.
type concatGroup struct {
	dt    tensor.DType
	shape []int // its output shape
	// offsets are where its inputs start in the output (elements).
	offsets []int
}

// placement is where a node's output 0 goes: elements [offset, offset +
// len) of group's buffer, as shape.
type placement struct {
	group, offset int
	shape         []int
}

// planConcats finds the concatenations to compute in place.
func (s *Session) planConcats() {
	n := len(s.g.Nodes)
	s.place, s.concatOf = make([]*placement, n), make([]int, n)
	index := make(map[*graph.Node]int, n)
	for i, node := range s.g.Nodes {
		index[node] = i
		s.concatOf[i] = -1
	}
	for ci, c := range s.g.Nodes {
		if !c.IsONNX("Concat") || len(c.Outputs) != 1 || c.Outputs[0] == nil || len(c.Inputs) < 2 {
			continue
		}
		out := c.Outputs[0]
		shape, ok := out.ConcreteShape()
		axis := int(c.AttrInt("axis", 0))
		if axis < 0 {
			axis += len(shape)
		}
		if !ok || axis < 0 || axis >= len(shape) || tensor.Product(shape[:axis]) != 1 || out.DType == tensor.String {
			continue
		}
		var offsets []int
		at := 0
		for _, v := range c.Inputs {
			if v == nil || v.DType != out.DType || v.Producer == nil || v.Producer.Outputs[0] != v ||
				len(v.Consumers) != 1 || v.Consumers[0] != c || s.outputs[v] {
				offsets = nil
				break
			}
			in, ok := v.ConcreteShape()
			if !ok || tensor.Product(in) == 0 {
				offsets = nil
				break
			}
			offsets = append(offsets, at)
			at += tensor.Product(in)
		}
		if offsets == nil || at != tensor.Product(shape) {
			continue
		}
		k := len(s.concats)
		s.concats = append(s.concats, concatGroup{dt: out.DType, shape: shape, offsets: offsets})
		s.concatOf[ci] = k
		for j, v := range c.Inputs {
			in, _ := v.ConcreteShape()
			s.place[index[v.Producer]] = &placement{group: k, offset: offsets[j], shape: in}
		}
	}
	s.concatBufs = make([]*tensor.Tensor, len(s.concats))
}

// placeFor returns the view of its group's buffer where pl's node is to
// write, allocating the buffer for the group's first producer.
func (s *Session) placeFor(pl *placement) (*tensor.Tensor, error) {
	buf := s.concatBufs[pl.group]
	if buf == nil {
		g := &s.concats[pl.group]
		var err error
		if buf, err = s.arena.allocWhole(g.dt, g.shape); err != nil {
			return nil, err
		}
		s.concatBufs[pl.group] = buf
	}
	return buf.View(pl.offset, pl.shape...)
}

// concatInPlace reports whether group k's inputs in are all in their
// places in its buffer.
func (s *Session) concatInPlace(k int, in []*tensor.Tensor) bool {
	buf := s.concatBufs[k]
	if buf == nil || len(in) != len(s.concats[k].offsets) {
		return false
	}
	base, size := uintptr(buf.DataPointer()), uintptr(buf.DType().Size())
	for j, t := range in {
		if t == nil || uintptr(t.DataPointer()) != base+uintptr(s.concats[k].offsets[j])*size {
			return false
		}
	}
	return true
}
