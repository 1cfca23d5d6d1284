package cuda

import "fmt"

// Mem is a view of device memory: a device address and a length in bytes.
// It is what kernel launchers validate arguments against (bounds and
// alignment) before anything crosses into the driver. The zero Mem is the
// null pointer (an omitted optional argument).
type Mem struct {
	Ptr   uintptr
	Bytes int64
}

// IsNull reports whether m is the null pointer.
func (m Mem) IsNull() bool { return m.Ptr == 0 }

// Slice returns the view of n bytes starting off bytes into m.
func (m Mem) Slice(off, n int64) (Mem, error) {
	if off < 0 || n < 0 || off+n > m.Bytes {
		return Mem{}, fmt.Errorf("cuda: slice [%d:%d] of a %d-byte buffer", off, off+n, m.Bytes)
	}
	return Mem{Ptr: m.Ptr + uintptr(off), Bytes: n}, nil
}

// Aligned reports whether the address is a multiple of n bytes.
func (m Mem) Aligned(n int) bool { return n <= 1 || m.Ptr%uintptr(n) == 0 }
