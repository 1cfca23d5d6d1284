//go:build gcompress_cuda

// The CUDA driver binding, gorgonia.org/cu, calls cuInit in its package init
// and ends the process when that fails, so without this file a cuda build
// could not even print its help on a machine without an NVIDIA GPU or
// driver. This cuInit, defined in the executable, is the one that cu's call
// (and every other call in the program) links to: it calls the driver's
// own, the next definition in link order (libcuda.so.1), keeps the result
// for gc_driver_init_result and reports success. The program then starts
// anywhere libcuda.so.1 loads, and a failed initialisation becomes an
// ordinary error at the first device call (cuda.Count).

#define _GNU_SOURCE
#include <dlfcn.h>
#include <cuda.h>

// driver_init_result is CUDA_ERROR_NOT_INITIALIZED until cuInit is called.
static CUresult driver_init_result = CUDA_ERROR_NOT_INITIALIZED;

CUresult CUDAAPI cuInit(unsigned int flags) {
	CUresult (*driver_init)(unsigned int) =
		(CUresult (*)(unsigned int))dlsym(RTLD_NEXT, "cuInit");
	driver_init_result = driver_init == NULL ? CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND : driver_init(flags);
	return CUDA_SUCCESS;
}

CUresult gc_driver_init_result(void) { return driver_init_result; }
