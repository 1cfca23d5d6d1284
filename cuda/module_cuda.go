//go:build gcompress_cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#cgo linux CFLAGS: -I/usr/local/cuda/include
#include <cuda.h>

// gc_func_set_max_dyn_smem raises how much dynamic shared memory a kernel
// may be launched with (needed above 48 KiB); gorgonia.org/cu v0.9.6 has no
// wrapper for cuFuncSetAttribute.
static CUresult gc_func_set_max_dyn_smem(CUfunction f, int bytes) {
	return cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}

// gc_launch launches f with nmaps tensor maps (128 bytes each, at maps)
// as its first parameters and nargs 8-byte ones (at args) after them:
// cuLaunchKernel copies each from the address it is given, by the size
// the kernel declares. gorgonia.org/cu's launch copies 8 bytes per
// parameter, which a tensor map is not.
static CUresult gc_launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                          unsigned shared, CUstream s, const unsigned long long* maps, int nmaps,
                          const unsigned long long* args, int nargs) {
	void* params[64];
	if (nmaps + nargs > 64) return CUDA_ERROR_INVALID_VALUE;
	for (int i = 0; i < nmaps; ++i) params[i] = (void*)(maps + 16 * i);
	for (int i = 0; i < nargs; ++i) params[nmaps + i] = (void*)(args + i);
	return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, s, params, NULL);
}

// gc_resident sets *out to how many blocks of block threads and shared
// bytes of dynamic shared memory, in clusters of cluster blocks (1: none),
// f can have resident on a device of sms SMs at once: the driver's
// occupancy calculator, blocks per SM times the SMs, or for clusters the
// clusters it can place times their size. cuOccupancyMaxActiveClusters
// (CUDA 11.8) is asked for by name, as tma_cuda.go asks for the tensor-map
// encoder, so that the binary still starts on an older driver.
typedef CUresult (*gc_max_active_clusters)(int* n, CUfunction f, const CUlaunchConfig* config);
static CUresult gc_resident(CUfunction f, int block, int shared, int cluster, int sms, int* out) {
	int n = 0;
	CUresult r;
	if (cluster <= 1) {
		r = cuOccupancyMaxActiveBlocksPerMultiprocessor(&n, f, block, (size_t)shared);
		*out = n * sms;
		return r;
	}
	// Looked up once; calls may come from several threads (atomics).
	static gc_max_active_clusters cached = NULL;
	gc_max_active_clusters clusters = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
	if (clusters == NULL) {
		void* fn = NULL;
		r = cuGetProcAddress("cuOccupancyMaxActiveClusters", &fn, 11080, CU_GET_PROC_ADDRESS_DEFAULT);
		if (r != CUDA_SUCCESS) return r;
		if (fn == NULL) return CUDA_ERROR_NOT_SUPPORTED;
		clusters = (gc_max_active_clusters)fn;
		__atomic_store_n(&cached, clusters, __ATOMIC_RELEASE);
	}
	CUlaunchAttribute attr = {0};
	attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
	attr.value.clusterDim.x = (unsigned)cluster;
	attr.value.clusterDim.y = 1;
	attr.value.clusterDim.z = 1;
	CUlaunchConfig config = {0};
	config.gridDimX = (unsigned)(cluster * sms);
	config.gridDimY = config.gridDimZ = 1;
	config.blockDimX = (unsigned)block;
	config.blockDimY = config.blockDimZ = 1;
	config.sharedMemBytes = (unsigned)shared;
	config.attrs = &attr;
	config.numAttrs = 1;
	r = clusters(&n, f, &config);
	*out = n * cluster;
	return r;
}
*/
import "C"

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"gorgonia.org/cu"
)

// Module is a loaded fatbin (or cubin/PTX) image.
type Module struct {
	dev  *Device
	name string
	m    cu.Module
}

// LoadModule loads an image (nvcc -fatbin output) into the device's context.
// name labels errors. A fatbin without code for this GPU fails with an error
// matching ErrNoKernelImage.
func (d *Device) LoadModule(name string, image []byte) (*Module, error) {
	if len(image) == 0 {
		return nil, fmt.Errorf("cuda: module %s: empty image (were the kernels built? make kernels)", name)
	}
	mod := &Module{dev: d, name: name}
	err := d.Do(func() error {
		var e error
		mod.m, e = cu.LoadData(string(image))
		return check("cuModuleLoadData("+name+")", e)
	})
	if err != nil {
		return nil, err
	}
	return mod, nil
}

// LoadPTX compiles PTX text for the device with the driver's JIT compiler
// (cuModuleLoadDataEx, verbose) and loads it. It returns the compiler's
// information log (registers, spills and performance notes per kernel); a
// failure carries the error log. The driver caches the result
// (~/.nv/ComputeCache), so a later load of the same PTX on the same driver
// is quick.
func (d *Device) LoadPTX(name string, ptx []byte) (*Module, string, error) {
	if len(ptx) == 0 {
		return nil, "", fmt.Errorf("cuda: module %s: empty PTX (were the kernels built? make kernels)", name)
	}
	mod := &Module{dev: d, name: name}
	errLog, infoLog := make([]byte, 16<<10), make([]byte, 256<<10)
	err := d.Do(func() error {
		var e error
		mod.m, e = cu.LoadDataEx(string(ptx), &cu.JITErrorLogBuffer{Buffer: errLog},
			&cu.JITInfoLogBuffer{Buffer: infoLog}, &cu.JITLogVerbose{Enabled: true})
		err := check("cuModuleLoadDataEx("+name+")", e)
		if msg := cString(errLog); err != nil && msg != "" {
			err = fmt.Errorf("%w; JIT log: %s", err, msg)
		}
		return err
	})
	if err != nil {
		return nil, cString(infoLog), err
	}
	return mod, cString(infoLog), nil
}

// cString is the text of a NUL-terminated log buffer.
func cString(b []byte) string {
	if n := bytes.IndexByte(b, 0); n >= 0 {
		b = b[:n]
	}
	return strings.TrimSpace(string(b))
}

// Function is a kernel of a loaded module.
type Function struct {
	dev  *Device
	Name string
	f    cu.Function
	// MaxDynamicShared is the dynamic shared memory limit set with
	// SetMaxDynamicShared (48 KiB by default).
	MaxDynamicShared int
}

// Function looks up a kernel by its (extern "C") name.
func (m *Module) Function(name string) (*Function, error) {
	f := &Function{dev: m.dev, Name: name, MaxDynamicShared: 48 << 10}
	err := m.dev.Do(func() error {
		var e error
		f.f, e = m.m.Function(name)
		return check(fmt.Sprintf("cuModuleGetFunction(%s, %s)", m.name, name), e)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// cuFunction returns the CUfunction handle inside a cu.Function. cu keeps it
// unexported; cu.Function is struct{ fn C.CUfunction }, a single pointer, so
// its memory is the handle (checked by the size assertion below).
func cuFunction(f *cu.Function) C.CUfunction { return *(*C.CUfunction)(unsafe.Pointer(f)) }

var _ = [1]struct{}{}[unsafe.Sizeof(cu.Function{})-unsafe.Sizeof(C.CUfunction(nil))]

// cuStream is cuFunction for the CUstream inside a cu.Stream (struct{ s
// C.CUstream }).
func cuStream(s *cu.Stream) C.CUstream { return *(*C.CUstream)(unsafe.Pointer(s)) }

var _ = [1]struct{}{}[unsafe.Sizeof(cu.Stream{})-unsafe.Sizeof(C.CUstream(nil))]

// Device is the device whose context the kernel was loaded into.
func (f *Function) Device() *Device { return f.dev }

// SetMaxDynamicShared lets the kernel be launched with up to bytes of
// dynamic shared memory (above the default 48 KiB; at most the device's
// SharedPerBlockOptin).
func (f *Function) SetMaxDynamicShared(bytes int) error {
	if bytes > f.dev.SharedPerBlockOptin {
		return fmt.Errorf("cuda: %s needs %d bytes of shared memory, %s allows %d per block", f.Name, bytes, f.dev.Name, f.dev.SharedPerBlockOptin)
	}
	err := f.dev.Do(func() error {
		if r := C.gc_func_set_max_dyn_smem(cuFunction(&f.f), C.int(bytes)); r != C.CUDA_SUCCESS {
			return resultError("cuFuncSetAttribute("+f.Name+")", r)
		}
		return nil
	})
	if err == nil {
		f.MaxDynamicShared = bytes
	}
	return err
}

// Resident is how many blocks of block threads with sharedBytes of dynamic
// shared memory, in clusters of cluster blocks (1: none), the device can
// run at once (the driver's occupancy calculator; clusters must also fit
// in one GPC each). A grid of more runs in waves of this many.
func (f *Function) Resident(block, sharedBytes, cluster int) (int, error) {
	var n C.int
	err := f.dev.Do(func() error {
		r := C.gc_resident(cuFunction(&f.f), C.int(block), C.int(sharedBytes), C.int(max(cluster, 1)), C.int(f.dev.SMs), &n)
		if r != C.CUDA_SUCCESS {
			return resultError(fmt.Sprintf("occupancy of %s (%d threads, %d bytes shared, clusters of %d)", f.Name, block, sharedBytes, cluster), r)
		}
		return nil
	})
	return int(n), err
}

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z int }

// Launch enqueues the kernel on stream s (nil: the NULL stream) with every
// parameter passed as 8 bytes: the kernels take pointers and 64-bit
// integers (DESIGN.md §3.2), and tensor maps (LaunchMaps). Errors of the
// launch itself are returned; faults while the kernel runs surface at the
// next synchronising call, or here when Device.SyncLaunches is set.
func (f *Function) Launch(grid, block Dim3, sharedBytes int, s *Stream, args ...uint64) error {
	return f.LaunchMaps(grid, block, sharedBytes, s, nil, args...)
}

// LaunchMaps is Launch for a kernel whose first parameters are tensor maps
// (by value, 128 bytes each: kernels/tma.cuh), maps, followed by args.
func (f *Function) LaunchMaps(grid, block Dim3, sharedBytes int, s *Stream, maps []TensorMap, args ...uint64) error {
	if sharedBytes > f.MaxDynamicShared {
		return fmt.Errorf("cuda: %s launched with %d bytes of shared memory, its limit is %d", f.Name, sharedBytes, f.MaxDynamicShared)
	}
	for _, d := range []int{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z} {
		if d <= 0 {
			return fmt.Errorf("cuda: %s launched with grid %+v, block %+v", f.Name, grid, block)
		}
	}
	// One word keeps the pointers valid when there are no maps or args.
	words := make([]uint64, 16*len(maps)+len(args)+1)
	for i, m := range maps {
		copy(words[16*i:], m[:])
	}
	copy(words[16*len(maps):], args)
	var stream C.CUstream
	if s != nil {
		stream = cuStream(&s.s)
	}
	return f.dev.Do(func() error {
		p := (*C.ulonglong)(unsafe.Pointer(&words[0]))
		a := (*C.ulonglong)(unsafe.Pointer(&words[16*len(maps)]))
		r := C.gc_launch(cuFunction(&f.f), C.uint(grid.X), C.uint(grid.Y), C.uint(grid.Z), C.uint(block.X), C.uint(block.Y),
			C.uint(block.Z), C.uint(sharedBytes), stream, p, C.int(len(maps)), a, C.int(len(args)))
		if r != C.CUDA_SUCCESS {
			return resultError("cuLaunchKernel("+f.Name+")", r)
		}
		if f.dev.SyncLaunches {
			return check("kernel "+f.Name, cu.Synchronize())
		}
		return nil
	})
}

// Ptr is a kernel argument for device memory (the null pointer for a null
// view).
func Ptr(m Mem) uint64 { return uint64(m.Ptr) }

// Int is a kernel argument for a 64-bit integer.
func Int(v int64) uint64 { return uint64(v) }

// Stream is a CUDA stream of the device. Streams are created blocking, so
// the synchronous copies (which run on the legacy NULL stream) are ordered
// with the work queued on them.
type Stream struct {
	dev *Device
	s   cu.Stream
}

// NewStream creates a stream.
func (d *Device) NewStream() (*Stream, error) {
	st := &Stream{dev: d}
	err := d.Do(func() error {
		var e error
		st.s, e = cu.MakeStream(cu.DefaultStream)
		return check("cuStreamCreate", e)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// Synchronize waits for the stream's work.
func (s *Stream) Synchronize() error {
	return s.dev.Do(func() error { return check("cuStreamSynchronize", s.s.Synchronize()) })
}

// Destroy releases the stream.
func (s *Stream) Destroy() error {
	return s.dev.Do(func() error { return check("cuStreamDestroy", s.s.Destroy()) })
}

// Event is a CUDA event for timing work on a stream.
type Event struct {
	dev *Device
	e   cu.Event
}

// NewEvent creates a timing event.
func (d *Device) NewEvent() (*Event, error) {
	ev := &Event{dev: d}
	err := d.Do(func() error {
		var e error
		ev.e, e = cu.MakeEvent(cu.DefaultEvent)
		return check("cuEventCreate", e)
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// Record enqueues the event on stream s (nil: the NULL stream).
func (e *Event) Record(s *Stream) error {
	stream := cu.Stream{}
	if s != nil {
		stream = s.s
	}
	return e.dev.Do(func() error { return check("cuEventRecord", e.e.Record(stream)) })
}

// Since waits for e and returns the device time from start to e.
func (e *Event) Since(start *Event) (time.Duration, error) {
	var ms float64
	err := e.dev.Do(func() error {
		if err := check("cuEventSynchronize", e.e.Synchronize()); err != nil {
			return err
		}
		var err error
		ms, err = start.e.Elapsed(e.e)
		return check("cuEventElapsedTime", err)
	})
	return time.Duration(ms * float64(time.Millisecond)), err
}

// Destroy releases the event.
func (e *Event) Destroy() error {
	return e.dev.Do(func() error { return check("cuEventDestroy", cu.DestroyEvent(&e.e)) })
}
