//go:build gcompress_emu

package emu

/*
#cgo CXXFLAGS: -std=c++17 -O2 -fno-strict-aliasing -w -Wno-psabi
#cgo CXXFLAGS: -I/usr/local/cuda/include
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int gc_emu_params(const char* name);
void* gc_emu_tensor_map(uint64_t base, long long row_bytes, long long rows, long long pitch, int box_bytes, int box_rows,
                        int swizzle);
int gc_emu_launch(const char* name, int grid, int block, int shared, int cluster, const uint64_t* params, char* err,
                  int errlen);
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
)

// guard is the band of known bytes around every allocation; a kernel that
// writes into it wrote out of bounds.
const (
	guard     = 256
	guardByte = 0xEE
)

// Runner runs launches on the emulator (gobind.Runner). Memory is C heap:
// a cuda.Mem's Ptr is a host address. Safe for concurrent use (launches are
// serialised: the emulator has one scheduler).
type Runner struct {
	mu   sync.Mutex
	bufs map[uintptr]unsafe.Pointer // data address -> malloc base
	size map[uintptr]int64
	err  error
}

// NewRunner returns an emulator runner.
func NewRunner() *Runner {
	return &Runner{bufs: map[uintptr]unsafe.Pointer{}, size: map[uintptr]int64{}}
}

// Harness returns the kerneltest adapter running on the emulator.
func (r *Runner) Harness() gobind.Harness { return gobind.Harness{R: r} }

// Upload copies host into new C memory surrounded by guard bands.
func (r *Runner) Upload(host []byte) (cuda.Mem, error) {
	n := int64(max(len(host), 1))
	base := C.malloc(C.size_t(n + 2*guard))
	if base == nil {
		return cuda.Mem{}, errors.New("emulator: out of memory")
	}
	all := unsafe.Slice((*byte)(base), n+2*guard)
	for i := range all {
		all[i] = guardByte
	}
	copy(all[guard:], host)
	p := uintptr(base) + guard
	r.mu.Lock()
	r.bufs[p], r.size[p] = base, n
	r.mu.Unlock()
	return cuda.Mem{Ptr: p, Bytes: n}, nil
}

// checkGuards reports the first allocation whose guard bands changed.
func (r *Runner) checkGuards(p uintptr) error {
	n := r.size[p]
	all := unsafe.Slice((*byte)(r.bufs[p]), n+2*guard)
	for i := 0; i < guard; i++ {
		if all[i] != guardByte {
			return fmt.Errorf("emulator: a kernel wrote %d bytes before a %d-byte buffer", guard-i, n)
		}
		if all[guard+n+int64(i)] != guardByte {
			return fmt.Errorf("emulator: a kernel wrote %d bytes past the end of a %d-byte buffer", i+1, n)
		}
	}
	return nil
}

// Free checks the buffer's guards and releases it.
func (r *Runner) Free(m cuda.Mem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	base, ok := r.bufs[m.Ptr]
	if !ok {
		return
	}
	if err := r.checkGuards(m.Ptr); err != nil && r.err == nil {
		r.err = err
	}
	delete(r.bufs, m.Ptr)
	delete(r.size, m.Ptr)
	C.free(base)
}

// Launch runs a launch spec on the emulator.
func (r *Runner) Launch(spec gobind.LaunchSpec) error {
	if spec.Grid == 0 {
		return nil
	}
	name := C.CString(spec.Kernel)
	defer C.free(unsafe.Pointer(name))
	n := len(spec.Maps) + len(spec.Params)
	if want := int(C.gc_emu_params(name)); want != n {
		return fmt.Errorf("emulator: %s takes %d parameters, the launch passes %d", spec.Kernel, want, n)
	}
	params := (*C.uint64_t)(C.malloc(C.size_t(8 * max(n, 1))))
	defer C.free(unsafe.Pointer(params))
	all := unsafe.Slice((*uint64)(unsafe.Pointer(params)), n)
	// A tensor map is passed by value; the emulator's kernels take its
	// address (emu.cpp's conv).
	for i, m := range spec.Maps {
		p := C.gc_emu_tensor_map(C.uint64_t(m.Base.Ptr), C.longlong(m.RowBytes), C.longlong(m.Rows), C.longlong(m.Pitch),
			C.int(m.BoxBytes), C.int(m.BoxRows), C.int(m.Swizzle))
		if p == nil {
			return errors.New("emulator: out of memory")
		}
		defer C.free(p)
		all[i] = uint64(uintptr(p))
	}
	copy(all[len(spec.Maps):], spec.Params)
	var msg [256]C.char
	r.mu.Lock()
	defer r.mu.Unlock()
	if C.gc_emu_launch(name, C.int(spec.Grid), C.int(spec.Block), C.int(spec.Shared), C.int(spec.ClusterSize()), params,
		&msg[0], C.int(len(msg))) != 0 {
		return errors.New(C.GoString(&msg[0]))
	}
	return nil
}

// Download copies len(dst) bytes from m (a view into an Upload buffer).
func (r *Runner) Download(dst []byte, m cuda.Mem) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, base := range r.bufs {
		off := int64(m.Ptr) - int64(p)
		if off >= 0 && off+int64(len(dst)) <= r.size[p] {
			copy(dst, unsafe.Slice((*byte)(unsafe.Add(base, guard+off)), len(dst)))
			return nil
		}
	}
	return fmt.Errorf("emulator: download of %d bytes at %#x: not inside an uploaded buffer", len(dst), m.Ptr)
}

// Sync reports guard-band violations of live buffers (and of freed ones
// since the last Sync).
func (r *Runner) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.err
	r.err = nil
	for p := range r.bufs {
		if gerr := r.checkGuards(p); gerr != nil && err == nil {
			err = gerr
		}
	}
	return err
}
