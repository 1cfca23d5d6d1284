//go:build openblas

package main

/*
#cgo CFLAGS: -I/usr/include/x86_64-linux-gnu
#cgo LDFLAGS: -lopenblas
#include <stdlib.h>
#include <cblas.h>
*/
import "C"

import (
	"fmt"
	"math/rand/v2"
	"unsafe"

	"github.com/gcompress/gcompress/runtime"
)

// openblasInfo names the OpenBLAS build and the core its kernels are for.
func openblasInfo() string {
	return fmt.Sprintf("%s; core %s", C.GoString(C.openblas_get_config()), C.GoString(C.openblas_get_corename()))
}

// openblasSgemm prepares cblas_sgemm (row-major, no transposes) of seeded
// random data with the given thread count. The buffers live in C memory.
func openblasSgemm(m, n, k, threads int) func() error {
	runtime.ReserveSpareP() // OpenBLAS's threads spin beside ours
	alloc := func(count int) []float32 {
		p := C.malloc(C.size_t(count * 4))
		return unsafe.Slice((*float32)(p), count)
	}
	a, b, c := alloc(m*k), alloc(k*n), alloc(m*n)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range a {
		a[i] = rng.Float32()*2 - 1
	}
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	return func() error {
		C.openblas_set_num_threads(C.int(threads))
		C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans, C.blasint(m), C.blasint(n), C.blasint(k), 1,
			(*C.float)(&a[0]), C.blasint(k), (*C.float)(&b[0]), C.blasint(n), 0, (*C.float)(&c[0]), C.blasint(n))
		return nil
	}
}
