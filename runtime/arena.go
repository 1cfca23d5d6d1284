package runtime

import (
	"unsafe"

	"github.com/gcompress/gcompress/tensor"
)

// Arena recycles tensor buffers. Alloc takes a free buffer of the same dtype
// and element count when there is one; Release drops a reference and, when
// the last reference to an arena-made buffer goes, puts it on the free list.
// Buffers the arena did not make (constants, caller inputs) are never pooled.
type Arena struct {
	free map[arenaKey][]*tensor.Tensor
	refs map[unsafe.Pointer]int
	// whole holds the buffers handed out in parts (Session's in-place
	// concatenations): the last reference, through whichever view of its
	// start, returns the whole buffer.
	whole map[unsafe.Pointer]*tensor.Tensor
	// inside maps a view of a whole buffer that does not start where the
	// buffer does to the buffer's start: references through the view count
	// on the whole buffer (see view).
	inside map[unsafe.Pointer]unsafe.Pointer
	// Stats for tests and profiles.
	Allocs, Reuses int
}

type arenaKey struct {
	dt tensor.DType
	n  int
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{free: map[arenaKey][]*tensor.Tensor{}, refs: map[unsafe.Pointer]int{},
		whole: map[unsafe.Pointer]*tensor.Tensor{}, inside: map[unsafe.Pointer]unsafe.Pointer{}}
}

// Alloc returns a zeroed tensor of the given dtype and shape.
func (a *Arena) Alloc(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	return a.alloc(dt, shape, true)
}

// alloc is Alloc; zero false leaves a recycled buffer's old contents.
func (a *Arena) alloc(dt tensor.DType, shape []int, zero bool) (*tensor.Tensor, error) {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, err
	}
	k := arenaKey{dt, n}
	if list := a.free[k]; len(list) > 0 && n > 0 {
		buf := list[len(list)-1]
		a.free[k] = list[:len(list)-1]
		if zero {
			clear(buf.RawBytes())
		}
		t, err := buf.Reshape(shape...)
		if err != nil {
			return nil, err
		}
		a.refs[t.DataPointer()] = 1
		a.Reuses++
		return t, nil
	}
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, err
	}
	if p := t.DataPointer(); p != nil && dt != tensor.String {
		a.refs[p] = 1
	}
	a.Allocs++
	return t, nil
}

// start returns the pointer whose count holds t's references: the start
// of the whole buffer for a view inside one, else t's own.
func (a *Arena) start(t *tensor.Tensor) unsafe.Pointer {
	p := t.DataPointer()
	if w, ok := a.inside[p]; ok {
		return w
	}
	return p
}

// Retain records one more reference to t's buffer if the arena made it.
func (a *Arena) Retain(t *tensor.Tensor) {
	if p := a.start(t); p != nil {
		if _, ok := a.refs[p]; ok {
			a.refs[p]++
		}
	}
}

// Release drops one reference to t's buffer; the last one returns it to the
// free list.
func (a *Arena) Release(t *tensor.Tensor) {
	p := a.start(t)
	if p == nil {
		return
	}
	c, ok := a.refs[p]
	if !ok {
		return
	}
	if c > 1 {
		a.refs[p] = c - 1
		return
	}
	delete(a.refs, p)
	if w, ok := a.whole[p]; ok {
		t = w
		a.dropWhole(p)
	}
	k := arenaKey{t.DType(), t.Len()}
	a.free[k] = append(a.free[k], t)
}

// dropWhole stops treating the buffer starting at p as one handed out in
// parts (its views' pointers may start other buffers later).
func (a *Arena) dropWhole(p unsafe.Pointer) {
	delete(a.whole, p)
	for v, w := range a.inside {
		if w == p {
			delete(a.inside, v)
		}
	}
}

// Forget stops tracking t's buffer (it is handed to the caller as a graph
// output and must never be recycled).
func (a *Arena) Forget(t *tensor.Tensor) {
	if p := a.start(t); p != nil {
		delete(a.refs, p)
		a.dropWhole(p)
	}
}

// view returns elements [offset, offset + len) of w (a whole buffer from
// allocWhole, or a view of one) as shape; references through it count on
// the whole buffer. It does not count one itself.
func (a *Arena) view(w *tensor.Tensor, offset int, shape []int) (*tensor.Tensor, error) {
	v, err := w.View(offset, shape...)
	if err != nil {
		return nil, err
	}
	if p, root := v.DataPointer(), a.start(w); p != nil && p != root {
		a.inside[p] = root
	}
	return v, nil
}

// allocWhole is alloc (uninitialized) for a buffer that will be handed
// out in parts (see whole).
func (a *Arena) allocWhole(dt tensor.DType, shape []int) (*tensor.Tensor, error) {
	t, err := a.alloc(dt, shape, false)
	if err == nil && t.DataPointer() != nil {
		a.whole[t.DataPointer()] = t
	}
	return t, err
}
