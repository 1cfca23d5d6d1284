package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// igemmSentinel fills C outside the computed window: any other value
// there means the kernel wrote outside C.
const igemmSentinel = int32(0x7eadbeef)

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.IntN(256))
	}
	return b
}

// randZP returns a zero point: nil, one value, or one per row/column, in
// the range of the operand's type.
func randZP(rng *rand.Rand, kind, n int, u8 bool) []int32 {
	var out []int32
	switch kind {
	case 0:
		return nil
	case 1:
		out = make([]int32, 1)
	default:
		out = make([]int32, n)
	}
	for i := range out {
		if u8 {
			out[i] = int32(rng.IntN(256))
		} else {
			out[i] = int32(rng.IntN(256) - 128)
		}
	}
	return out
}

// runIgemmCase computes c with the active kernel (packing A or B first
// when asked) and checks it bit for bit against the reference, and that
// nothing outside the m x n window of C changed.
func runIgemmCase(t *testing.T, c igemmCall, pack int, threads int, name string) {
	t.Helper()
	ldc := c.n + 3
	want := make([]int32, (c.m+2)*ldc)
	got := make([]int32, (c.m+2)*ldc)
	for i := range got {
		got[i], want[i] = igemmSentinel, igemmSentinel
	}
	ref := c
	ref.c, ref.ldc = want[ldc:], ldc
	ref.ref()
	kern := igemmISA()
	c.c, c.ldc = got[ldc:], ldc
	if kern != nil {
		_, flipA, flipB, _, _ := c.form(kern)
		if pack == 1 {
			c.packedA = packIgemmA(kern, c.a, c.aU8, flipA, c.transA, c.m, c.k, c.lda, threads)
			c.a = nil
		}
		if pack == 2 && c.conv == nil {
			c.packedB = packIgemmB(kern, c.b, c.bU8, flipB, c.transB, c.k, c.n, c.ldb, threads)
			c.b = nil
		}
	}
	if !c.runSIMD(threads) {
		if kern != nil && c.conv == nil {
			t.Fatalf("%s: the SIMD kernel declined a matrix product", name)
		}
		return
	}
	for i := range got {
		if got[i] != want[i] {
			r, col := i/ldc-1, i%ldc
			t.Fatalf("%s: C[%d][%d] = %d, want %d", name, r, col, got[i], want[i])
		}
	}
}

// TestIgemmEveryLevel checks the INT8 GEMM of every level bit for bit
// against the reference over shapes, transposes, uint8/int8 operands,
// zero points (none, per tensor, per row/column), bias, pre-packed
// operands and threads.
func TestIgemmEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(41, 42))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, s := range sgemmShapes(testing.Short()) {
			m, n, k := s[0], s[1], s[2]
			c := igemmCall{m: m, n: n, k: k, aU8: i%2 == 0, bU8: i%4 < 2, transA: i%3 == 1, transB: i%5 == 2,
				preferFlipB: i%7 < 3}
			c.lda, c.ldb = k+1, n+2
			if c.transA {
				c.lda = m + 1
				c.a = randBytes(rng, (k-1)*c.lda+m)
			} else {
				c.a = randBytes(rng, (m-1)*c.lda+k)
			}
			if c.transB {
				c.ldb = k + 2
				c.b = randBytes(rng, (n-1)*c.ldb+k)
			} else {
				c.b = randBytes(rng, (k-1)*c.ldb+n)
			}
			c.za = randZP(rng, i%3, m, c.aU8)
			c.zb = randZP(rng, (i/3)%3, n, c.bU8)
			if i%2 == 1 {
				c.bias = make([]int32, m)
				for j := range c.bias {
					c.bias[j] = int32(rng.IntN(1<<20) - 1<<19)
				}
			}
			name := fmt.Sprintf("%dx%dx%d aU8=%v bU8=%v tA=%v tB=%v za=%d zb=%d", m, n, k, c.aU8, c.bU8, c.transA, c.transB, len(c.za), len(c.zb))
			runIgemmCase(t, c, i%3, 1+i%2, name)
		}
	})
}

// TestIgemmSmallBlocks crosses every k, m and n block boundary.
func TestIgemmSmallBlocks(t *testing.T) {
	for _, k := range []*igemmKernel{igemmVNNI512, igemmAVXVNNI, igemmAVX2} {
		if k == nil {
			continue
		}
		kc, mc, nc := k.kc, k.mc, k.nc
		k.kc, k.mc, k.nc = 8, 2*k.mr, 2*k.nr
		t.Cleanup(func() { k.kc, k.mc, k.nc = kc, mc, nc })
	}
	withParallelism(t)
	rng := rand.New(rand.NewPCG(43, 44))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, s := range [][3]int{{37, 101, 29}, {130, 7, 65}, {9, 200, 3}} {
			m, n, k := s[0], s[1], s[2]
			c := igemmCall{m: m, n: n, k: k, aU8: true, bU8: i == 1, lda: k, ldb: n,
				a: randBytes(rng, m*k), b: randBytes(rng, k*n), za: randZP(rng, 2, m, true), zb: randZP(rng, 1, n, i == 1)}
			for pack := 0; pack < 3; pack++ {
				runIgemmCase(t, c, pack, 2, fmt.Sprintf("%dx%dx%d pack %d", m, n, k, pack))
			}
		}
	})
}

// TestIgemmConv checks im2col packing of 8-bit images (padding reads as
// the image's zero point) bit for bit.
func TestIgemmConv(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(45, 46))
	geoms := []sgemmConv{
		{cin: 3, ih: 17, iw: 13, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1},
		{cin: 5, ih: 9, iw: 64, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3, dh: 1, dw: 1},
		{cin: 2, ih: 11, iw: 10, kh: 3, kw: 2, sh: 2, sw: 3, ph: 0, pw: 2, dh: 2, dw: 1},
		{cin: 64, ih: 7, iw: 7, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1},
		{cin: 3, ih: 31, iw: 29, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3, dh: 1, dw: 1},
	}
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for gi := range geoms {
			cv := geoms[gi]
			cv.oh = (cv.ih+2*cv.ph-cv.dh*(cv.kh-1)-1)/cv.sh + 1
			cv.ow = (cv.iw+2*cv.pw-cv.dw*(cv.kw-1)-1)/cv.sw + 1
			k, n := cv.cin*cv.kh*cv.kw, cv.oh*cv.ow
			for _, m := range []int{1, 17, 65} {
				for _, xU8 := range []bool{true, false} {
					c := igemmCall{m: m, n: n, k: k, aU8: false, bU8: xU8, lda: k, a: randBytes(rng, m*k),
						b: randBytes(rng, cv.cin*cv.ih*cv.iw), conv: &cv, zb: randZP(rng, 1, 1, xU8),
						bias: randZP(rng, 2, m, true), preferFlipB: true}
					runIgemmCase(t, c, 1, 1+m%2, fmt.Sprintf("geometry %d m=%d xU8=%v", gi, m, xU8))
				}
			}
		}
	})
}

func BenchmarkIgemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{256, 1024} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("n=%d/threads=%d", n, threads), func(b *testing.B) {
				c := igemmCall{m: n, n: n, k: n, aU8: true, lda: n, ldb: n, ldc: n,
					a: randBytes(rng, n*n), b: randBytes(rng, n*n), c: make([]int32, n*n)}
				for b.Loop() {
					if !c.runSIMD(threads) {
						b.Skip("no INT8 kernel at this level")
					}
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
			})
		}
	}
}
