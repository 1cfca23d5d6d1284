//go:build gcompress_cuda

package cuda

/*
#include <string.h>
#include <cuda.h>

// gc_encode_tiled is cuTensorMapEncodeTiled (CUDA 12.0 and later; the CUDA
// 11.8 headers this builds with lack it, so its type is spelled out here
// and the driver is asked for it by name).
typedef CUresult (*gc_encode_tiled)(void* map, int dtype, cuuint32_t rank, void* base, const cuuint64_t* dims,
                                    const cuuint64_t* strides, const cuuint32_t* box, const cuuint32_t* elem_strides,
                                    int interleave, int swizzle, int l2_promotion, int oob_fill);

// gc_encode_tensor_map encodes the 2-D byte array at device address base (rows of
// row_bytes, pitch apart) with a box of box_bytes x box_rows and swizzle
// mode swizzle into out (128 bytes). Enumerations (cuda.h of CUDA 12):
// data type UINT8 = 0, interleave NONE = 0, L2 promotion 128B = 2, out of
// bounds fill NONE (zeros) = 0.
static CUresult gc_encode_tensor_map(unsigned long long* out, unsigned long long base, cuuint64_t row_bytes, cuuint64_t rows,
                                     cuuint64_t pitch, cuuint32_t box_bytes, cuuint32_t box_rows, int swizzle) {
	// Looked up once; calls may come from several threads (atomics).
	static gc_encode_tiled cached = NULL;
	gc_encode_tiled encode = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
	if (encode == NULL) {
		void* fn = NULL;
		CUresult r = cuGetProcAddress("cuTensorMapEncodeTiled", &fn, 12000, CU_GET_PROC_ADDRESS_DEFAULT);
		if (r != CUDA_SUCCESS) return r;
		if (fn == NULL) return CUDA_ERROR_NOT_SUPPORTED;
		encode = (gc_encode_tiled)fn;
		__atomic_store_n(&cached, encode, __ATOMIC_RELEASE);
	}
	struct { _Alignas(64) unsigned long long w[16]; } map;
	const cuuint64_t dims[2] = {row_bytes, rows}, strides[1] = {pitch};
	const cuuint32_t box[2] = {box_bytes, box_rows}, elem_strides[2] = {1, 1};
	CUresult r = encode(&map, 0, 2, (void*)base, dims, strides, box, elem_strides, 0, swizzle, 2, 0);
	if (r == CUDA_SUCCESS) memcpy(out, map.w, sizeof map.w);
	return r;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// TensorMap is an encoded CUtensorMap (kernels/tma.cuh): 128 opaque
// bytes, passed to a kernel by value (Function.LaunchMaps).
type TensorMap [16]uint64

// EncodeTensorMap asks the driver (CUDA 12 or later) for the tensor map of
// the 2-D byte array at base, rows of rowBytes pitch bytes apart, copied in
// boxes of boxBytes x boxRows with a swizzle span of swizzle bytes (0, 32,
// 64 or 128). Bytes outside the array read as zeros.
func (d *Device) EncodeTensorMap(base Mem, rowBytes, rows, pitch int64, boxBytes, boxRows, swizzle int) (TensorMap, error) {
	mode := map[int]C.int{0: 0, 32: 1, 64: 2, 128: 3}
	sw, ok := mode[swizzle]
	if !ok {
		return TensorMap{}, fmt.Errorf("cuda: tensor map swizzle %d, want 0, 32, 64 or 128", swizzle)
	}
	var m TensorMap
	err := d.Do(func() error {
		r := C.gc_encode_tensor_map((*C.ulonglong)(unsafe.Pointer(&m[0])), C.ulonglong(base.Ptr), C.cuuint64_t(rowBytes),
			C.cuuint64_t(rows), C.cuuint64_t(pitch), C.cuuint32_t(boxBytes), C.cuuint32_t(boxRows), sw)
		if r != C.CUDA_SUCCESS {
			return resultError(fmt.Sprintf("cuTensorMapEncodeTiled(%d x %d bytes, pitch %d, box %d x %d, swizzle %d)",
				rows, rowBytes, pitch, boxRows, boxBytes, swizzle), r)
		}
		return nil
	})
	return m, err
}
