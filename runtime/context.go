package runtime

import (
	"os"
	"sync/atomic"

	"github.com/gcompress/gcompress/tensor"
)

// PoisonEnv is the environment variable that, set to 1, makes AllocUninit
// fill every buffer it returns with 0xFF bytes (NaN for floats, -1 for
// integers): a test run with it shows any op that reads an output it did
// not write.
const PoisonEnv = "GCOMPRESS_POISON_UNINIT"

var poison atomic.Bool

func init() { poison.Store(os.Getenv(PoisonEnv) == "1") }

// PoisonUninit turns the poisoning of AllocUninit buffers on or off (see
// PoisonEnv) and returns the previous setting; tests use it.
func PoisonUninit(on bool) bool { return poison.Swap(on) }

// Context is what a running Op may use: the thread budget and the allocator.
type Context struct {
	// Threads is the number of goroutines an op may use (>= 1).
	Threads int
	arena   *Arena
	// allocs are the arena buffers handed out during the current op; the
	// session returns the ones the op did not output (scratch space).
	allocs []*tensor.Tensor
	// place, when set, is handed out by the op's first allocation of its
	// dtype and shape: the Session places the output of a Concat's input
	// producer in the Concat's buffer this way (see planConcats).
	place *tensor.Tensor
}

// NewContext returns a context without an arena (allocations are plain
// makes); tests and one-off kernel calls use it.
func NewContext(threads int) *Context {
	return &Context{Threads: max(threads, 1)}
}

// NewArenaContext returns a context whose allocations come from a (tests
// and benchmarks that run ops repeatedly use it; EndOp returns an op's
// scratch buffers to a, as a Session does after each node).
func NewArenaContext(threads int, a *Arena) *Context {
	return &Context{Threads: max(threads, 1), arena: a}
}

// Alloc returns a zero-filled tensor, recycled from the arena when one is
// free, or an error for an invalid or absurd shape. An op may use Alloc for
// scratch space too: buffers it does not return go back to the arena when
// the op finishes (so scratch must not be kept beyond Run).
func (c *Context) Alloc(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	return c.alloc(dt, shape, true)
}

// AllocUninit is Alloc without the zero fill of a recycled buffer: the
// contents are whatever the buffer held before (a fresh buffer is still
// zero). It is for outputs and scratch the op overwrites entirely before
// reading or returning them; anything else must use Alloc. String tensors
// are always cleared.
func (c *Context) AllocUninit(dt tensor.DType, shape ...int) (*tensor.Tensor, error) {
	return c.alloc(dt, shape, dt == tensor.String)
}

func (c *Context) alloc(dt tensor.DType, shape []int, zero bool) (*tensor.Tensor, error) {
	var t *tensor.Tensor
	var err error
	switch p := c.place; {
	case p != nil && p.DType() == dt && tensor.SameShape(p.Shape(), shape):
		// The arena counts a reference for a view starting where its
		// buffer does (the session holds the buffer itself).
		c.place, t = nil, p
		c.arena.Retain(t)
		c.allocs = append(c.allocs, t)
		if zero {
			clear(t.RawBytes())
		}
	case c.arena == nil:
		t, err = tensor.New(dt, shape...)
	default:
		if t, err = c.arena.alloc(dt, shape, zero); err == nil {
			c.allocs = append(c.allocs, t)
		}
	}
	if err == nil && !zero && poison.Load() {
		b := t.RawBytes()
		for i := range b {
			b[i] = 0xFF
		}
	}
	return t, err
}

// EndOp returns to the arena every buffer allocated since the last EndOp
// that is not one of out (what a Session does after each node). Without
// an arena it does nothing.
func (c *Context) EndOp(out []*tensor.Tensor) {
	if c.arena != nil {
		c.releaseScratch(out)
	}
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
// fn on each concurrently (ParallelChunks: the caller and pool workers),
// returning when all are done. Chunks are of nearly equal size; with one
// thread or n <= 1 it calls fn(0, n) directly.
func (c *Context) ParallelFor(n int, fn func(lo, hi int)) {
	ParallelChunks(n, c.Threads, fn)
}
