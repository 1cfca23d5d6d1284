package backend

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// TestCompressWeight: a K x N int8 weight that is 2:4 along K, compressed
// transposed (k tile by k tile: 64 bytes of values and 16 of metadata of
// each of the N rows per k tile), multiplies as the GPU op uses it (the weight as the 2:4
// operand A of an N x M x kp GEMM whose B is the activation, K padded with
// zeros to kp, the output written transposed) to exactly X·W, by the 2:4
// reference; a weight with three non-zeros in one group of four is not
// taken.
func TestCompressWeight(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const k, n, m = 200, 12, 7 // two k tiles of 128
	w := make([]int8, k*n)
	for j := 0; j < n; j++ {
		for g := 0; g < k; g += 4 {
			for _, c := range r.Perm(4)[:2] {
				if p := g + c; p < k {
					w[p*n+j] = int8(r.IntN(255) - 127)
				}
			}
		}
	}
	c, ok := compressWeight(tensor.FromSlice([]int{k, n}, w), ref.S8)
	kp := c.k
	if !ok || kp != 256 || len(c.values) != n*kp/2 || len(c.meta) != n*kp/8 || c.ldv != 64 || c.ldvk != 64*n || c.lde != 16 || c.ldek != 16*n {
		t.Fatalf("ok %v, kp %d, %d values, %d metadata bytes, strides %d, %d, %d, %d; want K padded to 256, strides 64, %d, 16, %d",
			ok, kp, len(c.values), len(c.meta), c.ldv, c.ldvk, c.lde, c.ldek, 64*n, 16*n)
	}
	x := make([]byte, m*kp) // rows padded with zeros to kp, as gemmOp.run uploads them
	want := make([]byte, 4*m*n)
	for i := 0; i < m; i++ {
		for p := 0; p < k; p++ {
			x[i*kp+p] = byte(r.IntN(256))
		}
		for j := 0; j < n; j++ {
			var acc int32
			for p := 0; p < k; p++ {
				acc += int32(int8(x[i*kp+p])) * int32(w[p*n+j])
			}
			binary.LittleEndian.PutUint32(want[4*(i*n+j):], uint32(acc))
		}
	}
	got := make([]byte, len(want))
	err := kerneltest.HostSparse(&kerneltest.SparseProblem{In: ref.S8, M: n, N: m, K: kp, Values: c.values, LdV: c.ldv, LdVK: c.ldvk,
		Meta: c.meta, LdE: c.lde, LdEK: c.ldek, B: x, LdB: kp, Out: ref.OutS32, C: got, LdCM: 1, LdCN: n})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("the compressed, transposed weight does not multiply to X·W")
	}
	// The same weight in float16: a k tile is 64 columns, 64 bytes of
	// values (32 elements: LdV counts elements) and 8 of metadata a row.
	h := make([]tensor.F16, len(w))
	for i, v := range w {
		h[i] = tensor.NewF16(float32(v))
	}
	if c, ok := compressWeight(tensor.FromSlice([]int{k, n}, h), ref.F16); !ok || c.k != 256 || c.ldv != 32 || c.ldvk != 64*n ||
		c.lde != 8 || c.ldek != 8*n {
		t.Errorf("f16: ok %v, kp %d, strides %d, %d, %d, %d; want K padded to 256, strides 32, %d, 8, %d", ok, c.k, c.ldv, c.ldvk,
			c.lde, c.ldek, 64*n, 8*n)
	}
	w[4*n+3], w[5*n+3], w[6*n+3], w[7*n+3] = 1, 2, 3, 0 // three non-zeros in column 3's group 1
	if _, ok := compressWeight(tensor.FromSlice([]int{k, n}, w), ref.S8); ok {
		t.Error("a weight with three non-zeros in a group was taken as 2:4")
	}
}
