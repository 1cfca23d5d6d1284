//go:build gcompress_cuda

package cuda

import (
	"fmt"
	"time"
	"unsafe"

	"gorgonia.org/cu"
)

// Buffer is a block of device memory from the device's pool. Free returns it
// to the pool (not to the driver).
type Buffer struct {
	dev   *Device
	ptr   uintptr
	bytes int64
}

// Alloc returns a buffer of n > 0 bytes (contents undefined).
func (d *Device) Alloc(n int64) (*Buffer, error) {
	p, _, err := d.pool.Get(n)
	if err != nil {
		return nil, fmt.Errorf("cuda:%d: %w", d.Ordinal, err)
	}
	return &Buffer{dev: d, ptr: p, bytes: n}, nil
}

// Mem returns the buffer's address and length as a view.
func (b *Buffer) Mem() Mem { return Mem{Ptr: b.ptr, Bytes: b.bytes} }

// Bytes is the requested length.
func (b *Buffer) Bytes() int64 { return b.bytes }

// Free returns the buffer to the pool; calling it twice is an error.
func (b *Buffer) Free() error {
	if b == nil || b.ptr == 0 {
		return nil
	}
	err := b.dev.pool.Put(b.ptr)
	b.ptr = 0
	return err
}

// bytesOf views a slice of plain values as bytes (no copy).
func bytesOf[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}

// CopyIn copies src to the device memory m (len(src) <= m.Bytes). It is
// synchronous and ordered after all earlier work on the device (the legacy
// NULL stream), and counted in d.Transfers.
func (d *Device) CopyIn(m Mem, src []byte) error {
	if int64(len(src)) > m.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes into a %d-byte buffer", len(src), m.Bytes)
	}
	if len(src) == 0 {
		return nil
	}
	start := time.Now()
	err := d.Do(func() error {
		return check("cuMemcpyHtoD", cu.MemcpyHtoD(cu.DevicePtr(m.Ptr), unsafe.Pointer(&src[0]), int64(len(src))))
	})
	if err == nil {
		d.Transfers.AddHostToDevice(int64(len(src)), time.Since(start))
	}
	return err
}

// CopyOut copies len(dst) bytes from device memory m to dst, after all
// earlier work on the device has finished; counted in d.Transfers.
func (d *Device) CopyOut(dst []byte, m Mem) error {
	if int64(len(dst)) > m.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes out of a %d-byte buffer", len(dst), m.Bytes)
	}
	if len(dst) == 0 {
		return nil
	}
	start := time.Now()
	err := d.Do(func() error {
		return check("cuMemcpyDtoH", cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), cu.DevicePtr(m.Ptr), int64(len(dst))))
	})
	if err == nil {
		d.Transfers.AddDeviceToHost(int64(len(dst)), time.Since(start))
	}
	return err
}

// Memset sets every byte of m to v.
func (d *Device) Memset(m Mem, v byte) error {
	if m.Bytes == 0 {
		return nil
	}
	return d.Do(func() error { return check("cuMemsetD8", cu.MemsetD8(cu.DevicePtr(m.Ptr), v, m.Bytes)) })
}

// Upload allocates a buffer and copies s into it.
func Upload[T any](d *Device, s []T) (*Buffer, error) {
	b := bytesOf(s)
	buf, err := d.Alloc(max(int64(len(b)), 1))
	if err != nil {
		return nil, err
	}
	if err := d.CopyIn(buf.Mem(), b); err != nil {
		buf.Free()
		return nil, err
	}
	return buf, nil
}

// Download copies len(dst) elements from the start of m into dst.
func Download[T any](d *Device, dst []T, m Mem) error { return d.CopyOut(bytesOf(dst), m) }

// CopyInto copies s into the start of m.
func CopyInto[T any](d *Device, m Mem, s []T) error { return d.CopyIn(m, bytesOf(s)) }
