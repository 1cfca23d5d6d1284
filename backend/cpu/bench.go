// Kernel benchmarks for `gcompress bench gemm` and bench/: a GEMM of
// seeded random data, checked against its reference before it is timed.

package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GEMMBench is one prepared product C = A*B (A m x k, B k x n, row-major):
// float32, or uint8 x int8 -> int32 for "int8".
type GEMMBench struct {
	DType   string
	M, N, K int
	Threads int
	run     func()
	check   func() error
}

// NewGEMMBench prepares a product of seeded random data on the kernels of
// the active CPU level (ActiveCPULevel). dtype is "f32" or "int8"; for
// int8 the level's INT8 kernel runs, or at the generic level the int32
// reference GEMM on widened values (what the quantized ops fall back to).
func NewGEMMBench(dtype string, m, n, k, threads int, seed uint64) (*GEMMBench, error) {
	if m <= 0 || n <= 0 || k <= 0 || threads <= 0 {
		return nil, fmt.Errorf("gemm bench: sizes and threads must be positive, got m=%d n=%d k=%d threads=%d", m, n, k, threads)
	}
	if int64(m)*int64(n)+int64(m)*int64(k)+int64(k)*int64(n) > 1<<31 {
		return nil, fmt.Errorf("gemm bench: %dx%dx%d is too large", m, n, k)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	b := &GEMMBench{DType: dtype, M: m, N: n, K: k, Threads: threads}
	switch dtype {
	case "f32":
		a, bm, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a {
			a[i] = rng.Float32()*2 - 1
		}
		for i := range bm {
			bm[i] = rng.Float32()*2 - 1
		}
		b.run = func() { sgemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n, threads) }
		b.check = func() error {
			return sampleCheck(m, n, func(i, j int) (got, want, scale float64) {
				var s, mag float64
				for p := 0; p < k; p++ {
					s += float64(a[i*k+p]) * float64(bm[p*n+j])
					mag += math.Abs(float64(a[i*k+p]) * float64(bm[p*n+j]))
				}
				return float64(c[i*n+j]), s, 1e-5 * (mag + 1e-30)
			}, rng)
		}
	case "int8":
		a, bm, c := randBytes8(rng, m*k), randBytes8(rng, k*n), make([]int32, m*n)
		call := igemmCall{m: m, n: n, k: k, aU8: true, a: a, lda: k, b: bm, ldb: n, c: c, ldc: n}
		var a32, b32 []int32
		b.run = func() {
			if call.runSIMD(threads) {
				return
			}
			if a32 == nil {
				a32, b32 = make([]int32, m*k), make([]int32, k*n)
				for i, v := range a {
					a32[i] = int32(v)
				}
				for i, v := range bm {
					b32[i] = int32(int8(v))
				}
			}
			igemm(false, false, m, n, k, 1, a32, k, b32, n, 0, c, n, threads)
		}
		b.check = func() error {
			return sampleCheck(m, n, func(i, j int) (got, want, scale float64) {
				var s int32
				for p := 0; p < k; p++ {
					s += int32(a[i*k+p]) * int32(int8(bm[p*n+j]))
				}
				return float64(c[i*n+j]), float64(s), 0
			}, rng)
		}
	default:
		return nil, fmt.Errorf("gemm bench: dtype %q: want f32 or int8", dtype)
	}
	return b, nil
}

func randBytes8(rng *rand.Rand, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(rng.IntN(256))
	}
	return out
}

// sampleCheck compares 256 random elements of a result with their
// reference value within scale.
func sampleCheck(m, n int, elem func(i, j int) (got, want, scale float64), rng *rand.Rand) error {
	for s := 0; s < 256; s++ {
		i, j := rng.IntN(m), rng.IntN(n)
		got, want, scale := elem(i, j)
		if math.Abs(got-want) > scale {
			return fmt.Errorf("gemm bench: C[%d][%d] = %v, reference %v", i, j, got, want)
		}
	}
	return nil
}

// Run computes the product once; the first call also checks it.
func (b *GEMMBench) Run() error {
	b.run()
	if b.check != nil {
		err := b.check()
		b.check = nil
		return err
	}
	return nil
}

// Ops is the operation count of one product: 2*m*n*k (a multiply and an
// add per term).
func (b *GEMMBench) Ops() float64 { return 2 * float64(b.M) * float64(b.N) * float64(b.K) }
