package runtime

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// A Concat whose output is one contiguous run per input (every axis
// before the concatenation axis of size 1: channels at batch 1) is
// computed in place: its output buffer is allocated when the first of its
// producers runs, each producer's first allocation of its output's dtype
// and shape is a view of its part of that buffer (Context.place), and when
// the Concat's turn comes and every input is found in its place, the
// buffer becomes its output and the Concat does not run. A producer that
// allocated its output some other way leaves it elsewhere; the Concat
// then runs as usual, copying. (SqueezeNet's expand convolutions write
// into their fire module's output so.)
//
// An input may have other readers: ops never write into their inputs, so
// a part of the buffer is fixed once written, and the arena counts every
// view's references on the whole buffer (Arena.view), which lives until
// the last of them is released. An input that is itself the output of a
// Concat computed in place nests that group: its buffer is its part of
// this one's. A dense block (DenseNet: x1 = Concat(x0, y1), x2 =
// Concat(x1, y2), ..., each x also read by the next layer) so becomes one
// buffer that every layer's output is written into, and no Concat copies.
// A value is placed in one group only.

// concatGroup is a Concat computed in place.
type concatGroup struct {
	dt    tensor.DType
	shape []int // its output shape
	// parts are where its inputs go, in input order.
	parts []*placement
	// in is where its output goes in another group's buffer (nil: a
	// buffer of its own).
	in *placement
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
		k := len(s.concats)
		var parts []*placement
		at := 0
		for _, v := range c.Inputs {
			if v == nil || v.DType != out.DType || v.Producer == nil || v.Producer.Outputs[0] != v || s.outputs[v] {
				break
			}
			if pi := index[v.Producer]; s.place[pi] != nil || s.concatOf[pi] >= 0 && s.concats[s.concatOf[pi]].in != nil {
				break // placed in another concatenation already
			}
			in, ok := v.ConcreteShape()
			if !ok || tensor.Product(in) == 0 {
				break
			}
			parts = append(parts, &placement{group: k, offset: at, shape: in})
			at += tensor.Product(in)
		}
		if len(parts) != len(c.Inputs) || at != tensor.Product(shape) {
			continue
		}
		s.concats = append(s.concats, concatGroup{dt: out.DType, shape: shape, parts: parts})
		s.concatOf[ci] = k
		for j, v := range c.Inputs {
			if pi := index[v.Producer]; s.concatOf[pi] >= 0 {
				s.concats[s.concatOf[pi]].in = parts[j]
			} else {
				s.place[pi] = parts[j]
			}
		}
	}
	s.concatBufs = make([]*tensor.Tensor, len(s.concats))
}

// placeFor returns the view of its group's buffer where pl's node is to
// write.
func (s *Session) placeFor(pl *placement) (*tensor.Tensor, error) {
	buf, err := s.groupBuffer(pl.group)
	if err != nil {
		return nil, err
	}
	return s.arena.view(buf, pl.offset, pl.shape)
}

// groupBuffer returns group k's buffer, making it for the group's first
// producer: a whole arena buffer, or, for a group nested in another, its
// part of that group's buffer (the session holding a reference to it).
func (s *Session) groupBuffer(k int) (*tensor.Tensor, error) {
	if buf := s.concatBufs[k]; buf != nil {
		return buf, nil
	}
	g := &s.concats[k]
	var buf *tensor.Tensor
	var err error
	if g.in != nil {
		if buf, err = s.placeFor(g.in); err == nil {
			s.arena.Retain(buf)
		}
	} else {
		buf, err = s.arena.allocWhole(g.dt, g.shape)
	}
	if err != nil {
		return nil, err
	}
	s.concatBufs[k] = buf
	return buf, nil
}

// concatInPlace reports whether group k's inputs in are all in their
// places in its buffer.
func (s *Session) concatInPlace(k int, in []*tensor.Tensor) bool {
	buf := s.concatBufs[k]
	parts := s.concats[k].parts
	if buf == nil || len(in) != len(parts) {
		return false
	}
	base, size := uintptr(buf.DataPointer()), uintptr(buf.DType().Size())
	for j, t := range in {
		if t == nil || uintptr(t.DataPointer()) != base+uintptr(parts[j].offset)*size {
			return false
		}
	}
	return true
}
