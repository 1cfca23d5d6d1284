package cuda

import (
	"errors"
	"fmt"
	"sync"
)

// Allocator is what a Pool draws device memory from (the driver's
// cuMemAlloc/cuMemFree on a GPU; a fake in tests).
type Allocator interface {
	Alloc(bytes int64) (uintptr, error)
	Free(ptr uintptr) error
}

// Pool is a caching device-memory allocator. Requests are rounded up to a
// size class; a freed block goes on its class's free list and is handed to
// the next request of that class instead of going back to the driver
// (cuMemAlloc/cuMemFree synchronise the device and cost tens of
// microseconds). When the driver reports out-of-memory, the pool frees every
// cached block and retries once.
//
// Size classes: requests up to 1 MiB round up to a power of two (at least
// 512 bytes, which keeps every block 512-byte aligned on top of the driver's
// own 256-byte alignment); larger ones round up to a multiple of 2 MiB, so
// the waste is under 2 MiB per block.
type Pool struct {
	mu    sync.Mutex
	a     Allocator
	free  map[int64][]uintptr
	inUse map[uintptr]int64
	stats PoolStats
}

// PoolStats describes a Pool's traffic and footprint.
type PoolStats struct {
	// DriverAllocs counts blocks obtained from the allocator, Reuses
	// requests served from a free list, DriverFrees blocks given back.
	DriverAllocs, Reuses, DriverFrees int64
	// InUseBytes and CachedBytes are the class sizes of the blocks handed
	// out and of those on free lists; PeakBytes the largest
	// InUseBytes+CachedBytes seen.
	InUseBytes, CachedBytes, PeakBytes int64
}

// NewPool returns an empty pool over a.
func NewPool(a Allocator) *Pool {
	return &Pool{a: a, free: map[int64][]uintptr{}, inUse: map[uintptr]int64{}}
}

// SizeClass returns the block size a request of n bytes gets.
func SizeClass(n int64) int64 {
	const small, big = 1 << 20, 2 << 20
	if n <= 512 {
		return 512
	}
	if n <= small {
		c := int64(512)
		for c < n {
			c <<= 1
		}
		return c
	}
	return (n + big - 1) / big * big
}

// Get returns a block of at least n > 0 bytes and its class size.
func (p *Pool) Get(n int64) (uintptr, int64, error) {
	if n <= 0 {
		return 0, 0, fmt.Errorf("cuda pool: allocation of %d bytes", n)
	}
	c := SizeClass(n)
	p.mu.Lock()
	defer p.mu.Unlock()
	if list := p.free[c]; len(list) > 0 {
		ptr := list[len(list)-1]
		p.free[c] = list[:len(list)-1]
		p.inUse[ptr] = c
		p.stats.Reuses++
		p.stats.CachedBytes -= c
		p.stats.InUseBytes += c
		return ptr, c, nil
	}
	ptr, err := p.a.Alloc(c)
	if errors.Is(err, ErrOutOfMemory) && p.stats.CachedBytes > 0 {
		if terr := p.trimLocked(); terr != nil {
			return 0, 0, errors.Join(err, terr)
		}
		ptr, err = p.a.Alloc(c)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("cuda pool: allocate %s: %w", FormatBytes(c), err)
	}
	p.inUse[ptr] = c
	p.stats.DriverAllocs++
	p.stats.InUseBytes += c
	p.stats.PeakBytes = max(p.stats.PeakBytes, p.stats.InUseBytes+p.stats.CachedBytes)
	return ptr, c, nil
}

// Put returns a block obtained from Get to its free list.
func (p *Pool) Put(ptr uintptr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.inUse[ptr]
	if !ok {
		return fmt.Errorf("cuda pool: free of %#x, which the pool did not hand out (or freed twice)", ptr)
	}
	delete(p.inUse, ptr)
	p.free[c] = append(p.free[c], ptr)
	p.stats.InUseBytes -= c
	p.stats.CachedBytes += c
	return nil
}

// Trim gives every cached block back to the allocator.
func (p *Pool) Trim() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.trimLocked()
}

func (p *Pool) trimLocked() error {
	var errs []error
	for c, list := range p.free {
		for _, ptr := range list {
			if err := p.a.Free(ptr); err != nil {
				errs = append(errs, err)
			}
			p.stats.DriverFrees++
			p.stats.CachedBytes -= c
		}
		delete(p.free, c)
	}
	return errors.Join(errs...)
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}
