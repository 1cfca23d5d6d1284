//go:build gcompress_cuda

package cuda

/*
#cgo LDFLAGS: -lcuda -ldl
#cgo linux CFLAGS: -I/usr/local/cuda/include
#cgo linux LDFLAGS: -L/usr/local/cuda/lib64 -L/usr/local/cuda/lib64/stubs
#include <cuda.h>

// gc_device_attr reads a device attribute that gorgonia.org/cu does not
// name (it returns the CUresult; the value goes to *v).
static CUresult gc_device_attr(int *v, int attr, int dev) {
	return cuDeviceGetAttribute(v, (CUdevice_attribute)attr, (CUdevice)dev);
}

// gc_driver_init_result: what the driver's cuInit returned (driver_init.c).
CUresult gc_driver_init_result(void);

// gc_error_name is the CUresult's name (CUDA_ERROR_NO_DEVICE), or NULL
// where the driver does not know the code.
static const char *gc_error_name(CUresult r) {
	const char *name = NULL;
	return cuGetErrorName(r, &name) == CUDA_SUCCESS ? name : NULL;
}
*/
import "C"

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"

	"gorgonia.org/cu"
)

// Device is one GPU with its primary context retained.
type Device struct {
	Ordinal int
	Name    string
	// CCMajor, CCMinor: compute capability (9.0 for H100).
	CCMajor, CCMinor int
	SMs              int
	L2Bytes          int64
	TotalMem         int64
	// SharedPerBlockOptin is the most dynamic shared memory a kernel can
	// ask for after raising its limit (cuFuncSetAttribute).
	SharedPerBlockOptin int
	// DriverVersion is cuDriverGetVersion (12040 = CUDA 12.4).
	DriverVersion int
	// PCIBusID is the device's PCI address as NVML writes it
	// ("00000000:17:00.0"), which names the same GPU there.
	PCIBusID string

	// Transfers counts every host<->device copy made through the device.
	Transfers TransferStats
	// SyncLaunches makes Launch wait for each kernel and report its fault
	// at once (for tests and debugging; slow).
	SyncLaunches bool

	dev    cu.Device
	ctx    cu.CUContext
	pool   *Pool
	closed bool
	mu     sync.Mutex
}

// check maps a cu error to *Error (nil stays nil).
func check(op string, err error) error {
	if err == nil {
		return nil
	}
	code := -1
	if v := reflect.ValueOf(err); v.Kind() == reflect.Int {
		code = int(v.Int())
	}
	return &Error{Op: op, Code: code, Name: err.Error()}
}

// driverInit is the result of the driver's initialisation (cuInit, called
// when the program started; driver_init.c): nil, or an *Error matching
// ErrNoDevice where the machine has no GPU.
func driverInit() error {
	if r := C.gc_driver_init_result(); r != C.CUDA_SUCCESS {
		return resultError(opInit, r)
	}
	return nil
}

// resultError is the *Error of a failed driver call op that returned r.
func resultError(op string, r C.CUresult) error {
	name := "unknown CUresult"
	if p := C.gc_error_name(r); p != nil {
		name = C.GoString(p)
	}
	return &Error{Op: op, Code: int(r), Name: name}
}

// Count returns the number of CUDA devices. Where the driver failed to
// initialise it returns that error (ErrNoDevice on a machine without a GPU).
func Count() (int, error) {
	if err := driverInit(); err != nil {
		return 0, err
	}
	n, err := cu.NumDevices()
	return n, check("cuDeviceGetCount", err)
}

// Open retains the primary context of device ordinal and reads its
// properties. Close releases it.
func Open(ordinal int) (*Device, error) {
	n, err := Count()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda:%d: %w (this machine has %d)", ordinal, ErrNoDevice, n)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, check("cuDeviceGet", err)
	}
	d := &Device{Ordinal: ordinal, dev: dev, DriverVersion: cu.Version()}
	if d.ctx, err = dev.RetainPrimaryCtx(); err != nil {
		return nil, check("cuDevicePrimaryCtxRetain", err)
	}
	d.pool = NewPool(driverAlloc{d})
	if err := d.readProperties(); err != nil {
		dev.ReleasePrimaryCtx()
		return nil, fmt.Errorf("cuda:%d: %w", ordinal, err)
	}
	return d, nil
}

func (d *Device) readProperties() error {
	var err error
	if d.Name, err = d.dev.Name(); err != nil {
		return check("cuDeviceGetName", err)
	}
	ints := []struct {
		attr cu.DeviceAttribute
		dst  *int
	}{
		{cu.ComputeCapabilityMajor, &d.CCMajor},
		{cu.ComputeCapabilityMinor, &d.CCMinor},
		{cu.MultiprocessorCount, &d.SMs},
	}
	for _, a := range ints {
		if *a.dst, err = d.dev.Attribute(a.attr); err != nil {
			return check("cuDeviceGetAttribute", err)
		}
	}
	var pci [3]int
	for i, a := range []cu.DeviceAttribute{cu.PciDomainID, cu.PciBusID, cu.PciDeviceID} {
		if pci[i], err = d.dev.Attribute(a); err != nil {
			return check("cuDeviceGetAttribute", err)
		}
	}
	d.PCIBusID = fmt.Sprintf("%08X:%02X:%02X.0", pci[0], pci[1], pci[2])
	l2, err := d.dev.Attribute(cu.L2CacheSize)
	if err != nil {
		return check("cuDeviceGetAttribute", err)
	}
	d.L2Bytes = int64(l2)
	if d.TotalMem, err = d.dev.TotalMem(); err != nil {
		return check("cuDeviceTotalMem", err)
	}
	const attrMaxSharedPerBlockOptin = 97 // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
	var v C.int
	if r := C.gc_device_attr(&v, attrMaxSharedPerBlockOptin, C.int(d.dev)); r != C.CUDA_SUCCESS {
		return resultError("cuDeviceGetAttribute(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)", r)
	}
	d.SharedPerBlockOptin = int(v)
	return nil
}

// String describes the device in one line.
func (d *Device) String() string {
	return fmt.Sprintf("cuda:%d %s (sm_%d%d, %d SMs, %s, L2 %s, driver CUDA %d.%d)", d.Ordinal, d.Name, d.CCMajor,
		d.CCMinor, d.SMs, FormatBytes(d.TotalMem), FormatBytes(d.L2Bytes), d.DriverVersion/1000, d.DriverVersion%1000/10)
}

// Do runs fn on a locked OS thread with the device's context current; every
// driver call of this package goes through it.
func (d *Device) Do(fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return fmt.Errorf("cuda:%d: device is closed", d.Ordinal)
	}
	if err := cu.SetCurrentContext(d.ctx); err != nil {
		return check("cuCtxSetCurrent", err)
	}
	return fn()
}

// Synchronize waits for all work on the device and returns the first
// asynchronous error (a faulting kernel).
func (d *Device) Synchronize() error {
	return d.Do(func() error { return check("cuCtxSynchronize", cu.Synchronize()) })
}

// MemInfo returns the free and total device memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) {
	err = d.Do(func() error {
		var e error
		free, total, e = cu.MemInfo()
		return check("cuMemGetInfo", e)
	})
	return free, total, err
}

// PoolStats reports the device memory pool.
func (d *Device) PoolStats() PoolStats { return d.pool.Stats() }

// Close frees the pool's cached memory and releases the primary context.
// Buffers still held become invalid.
func (d *Device) Close() error {
	err := d.pool.Trim()
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	if rerr := check("cuDevicePrimaryCtxRelease", d.dev.ReleasePrimaryCtx()); err == nil {
		err = rerr
	}
	return err
}

// driverAlloc is the Pool's Allocator on the driver.
type driverAlloc struct{ d *Device }

func (a driverAlloc) Alloc(n int64) (uintptr, error) {
	var p cu.DevicePtr
	err := a.d.Do(func() error {
		var e error
		p, e = cu.MemAlloc(n)
		return check("cuMemAlloc", e)
	})
	return uintptr(p), err
}

func (a driverAlloc) Free(p uintptr) error {
	return a.d.Do(func() error { return check("cuMemFree", cu.MemFree(cu.DevicePtr(p))) })
}
