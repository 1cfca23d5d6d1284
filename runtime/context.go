package runtime

import (
	"sync"

	"github.com/gcompress/gcompress/tensor"
)

// Context is what a running Op may use: the thread budget and the allocator.
type Context struct {
	// Threads is the number of goroutines an op may use (>= 1).
	Threads int
	arena   *Arena
	// allocs are the arena buffers handed out during the current op; the
	// session returns the ones the op did not output (scratch space).
	allocs []*tensor.Tensor
}

// NewContext returns a context without an arena (allocations are plain
// makes); tests and one-off kernel calls use it.
func NewContext(threads int) *Context {
	return &Context{Threads: max(threads, 1)}
}

// Alloc returns a zero-filled tensor, recycled from the arena when one is
// free, or an error for an invalid or absurd shape. An op may use Alloc for
// scratch space too: buffers it does not return go back to the arena when
// the op finishes (so scratch must not be kept beyond Run).
func (c *Context) Alloc(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	if c.arena == nil {
		return tensor.New(dt, shape...)
	}
	t, err := c.arena.Alloc(dt, shape)
	if err == nil {
		c.allocs = append(c.allocs, t)
	}
	return t, err
}

// releaseScratch returns to the arena every buffer allocated during the op
// that is not one of its outputs.
func (c *Context) releaseScratch(out []*tensor.Tensor) {
	for _, a := range c.allocs {
		p := a.DataPointer()
		kept := p == nil
		for _, o := range out {
			if o != nil && o.DataPointer() == p {
				kept = true
				break
			}
		}
		if !kept {
			c.arena.Release(a)
		}
	}
	c.allocs = c.allocs[:0]
}

// ParallelFor splits [0, n) into at most c.Threads contiguous chunks and runs
// fn on each concurrently, returning when all are done. Chunks are of nearly
// equal size; with one thread or n <= 1 it calls fn(0, n) directly.
func (c *Context) ParallelFor(n int, fn func(lo, hi int)) {
	t := min(c.Threads, n)
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
