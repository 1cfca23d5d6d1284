//go:build !(cgo && amd64)

package cpu

func spmmC(a *CSR, r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	panic("spmmC without the C kernels")
}

func sparse24C(s *Sparse24F32, r0, r1, n int, b []float32, ldb int, c []float32, ldcM, ldcN int, e *SparseEpilogue) {
	panic("sparse24C without the C kernels")
}
