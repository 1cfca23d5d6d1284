package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kernelSizes are the dimensions every kernel is tested on: 1, odd, prime,
// around the 64 boundary, beyond register tiles and cache blocks.
var kernelSizes = []int{1, 3, 17, 63, 64, 65, 255, 1000}

// withParallelism makes every product and copy big enough to split over
// threads, so that small test problems exercise the parallel paths.
func withParallelism(t *testing.T) {
	w, c, q, p, d := sgemmMinWork, copyMinWork, qconvSplitMinWork, pool8MinSplit, dequantMinWork
	sgemmMinWork, copyMinWork, qconvSplitMinWork, pool8MinSplit, dequantMinWork = 1, 1, 1, 1, 1
	t.Cleanup(func() { sgemmMinWork, copyMinWork, qconvSplitMinWork, pool8MinSplit, dequantMinWork = w, c, q, p, d })
}

// forEachLevel runs f with each CPU level this build and machine support
// forced in turn (SetCPULevel), restoring the level afterwards.
func forEachLevel(t *testing.T, f func(t *testing.T, l CPULevel)) {
	t.Helper()
	prev, _ := ActiveCPULevel()
	defer SetCPULevel(prev)
	for _, l := range SupportedCPULevels() {
		if _, err := SetCPULevel(l); err != nil {
			t.Fatal(err)
		}
		t.Run(l.String(), func(t *testing.T) { f(t, l) })
	}
}

// sgemmShapes returns (m, n, k) triples in which every kernelSizes value
// appears as m, as n and as k, next to small and odd partners.
func sgemmShapes(short bool) [][3]int {
	var out [][3]int
	for _, s := range kernelSizes {
		if short && s == 1000 {
			continue
		}
		out = append(out, [3]int{s, 17, 65}, [3]int{63, s, 255}, [3]int{65, 3, s})
		if s <= 255 {
			out = append(out, [3]int{s, s, s})
		}
	}
	return out
}

// TestSgemmEveryLevel checks the FP32 GEMM (C = alpha*op(A)*op(B) + beta*C)
// of every CPU level against GemmRef on all shapes and transposes, with
// NaN guard bands around C and A, B checked unchanged.
func TestSgemmEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(11, 12))
	type tc struct {
		g    *gemmCase
		want []float32
	}
	var cases []tc
	for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
		for i, s := range sgemmShapes(testing.Short()) {
			beta := []float32{0, 1, 0.5}[i%3]
			g := newGemmCase(rng, tr[0], tr[1], s[0], s[1], s[2], []float32{1, -0.75}[i%2], beta)
			cases = append(cases, tc{g, g.run(t, gemmRefKernel, 1)})
		}
	}
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for i, c := range cases {
			threads := 1 + i%3
			g := c.g
			name := fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,threads=%d", g.transA, g.transB, g.m, g.n, g.k, threads)
			t.Run(name, func(t *testing.T) { g.check(t, g.run(t, sgemm, threads), c.want) })
		}
	})
}

// withSmallBlocks shrinks the cache blocking of the SIMD kernels so that
// small problems cross every kc, mc and nc boundary, and restores it.
func withSmallBlocks(t *testing.T) {
	for _, k := range []*sgemmKernel{sgemmAVX512, sgemmAVX2} {
		if k == nil {
			continue
		}
		kc, mc, nc := k.kc, k.mc, k.nc
		k.kc, k.mc, k.nc = 8, 2*k.mr, 2*k.nr
		t.Cleanup(func() { k.kc, k.mc, k.nc = kc, mc, nc })
	}
}

func TestSgemmSmallBlocks(t *testing.T) {
	withSmallBlocks(t)
	withParallelism(t)
	rng := rand.New(rand.NewPCG(13, 14))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for _, s := range [][3]int{{37, 101, 29}, {130, 7, 65}, {9, 200, 3}} {
			for _, tr := range [][2]bool{{false, false}, {true, true}} {
				g := newGemmCase(rng, tr[0], tr[1], s[0], s[1], s[2], 1.25, 1)
				want := g.run(t, gemmRefKernel, 1)
				for _, threads := range []int{1, 2} {
					g.check(t, g.run(t, sgemm, threads), want)
				}
			}
		}
	})
}

// epilogueRef applies bias, residual and clamp to a reference product.
func epilogueRef(c []float32, ldc, m, n int, e *sgemmEpilogue) {
	sgemmEpilogueGo(c, ldc, m, n, e)
}

// TestSgemmEpilogueAndPacking checks pre-packed A or B and the fused
// epilogue (row bias, column bias, residual, clamp, accumulate) of every
// level against GemmRef plus a plain epilogue, with guard bands on C.
func TestSgemmEpilogueAndPacking(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(15, 16))
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		kern := sgemmISA()
		for i, s := range [][3]int{{1, 1000, 65}, {65, 17, 255}, {64, 63, 3}, {255, 64, 17}, {3, 255, 1000}} {
			m, n, k := s[0], s[1], s[2]
			for variant := 0; variant < 4; variant++ {
				g := newGemmCase(rng, variant&1 != 0, variant&2 != 0, m, n, k, 1, float32(variant%2))
				e := sgemmEpilogue{clamp: variant != 1, lo: -0.5, hi: 0.75}
				if variant != 2 {
					e.biasRow = gemmRandom(rng, m)
				}
				if variant != 3 {
					e.biasCol = gemmRandom(rng, n)
				}
				if variant >= 2 {
					e.ldr = n + 3
					e.resid = gemmRandom(rng, (m-1)*e.ldr+n)
				}
				want := g.run(t, gemmRefKernel, 1)
				epilogueRef(want[gemmGuard*g.ldc:], g.ldc, m, n, &e)
				call := sgemmCall{m: m, n: n, k: k, alpha: 1, a: g.a, lda: g.lda, transA: g.transA,
					b: g.b, ldb: g.ldb, transB: g.transB, ldc: g.ldc, accum: g.beta != 0, epi: e}
				if kern != nil && (i+variant)%2 == 0 {
					call.packedA = packSgemmA(kern, g.transA, m, k, 1, g.a, g.lda, 2)
				} else if kern != nil {
					call.packedB = packSgemmB(kern, g.transB, k, n, g.b, g.ldb, 2)
				}
				if call.packedA != nil {
					call.a = nil
				}
				if call.packedB != nil {
					call.b = nil
				}
				resid := append([]float32(nil), e.resid...)
				c := append([]float32(nil), g.c...)
				call.c = c[gemmGuard*g.ldc:]
				call.run(1 + variant%3)
				if !gemmSameBits(resid, e.resid) {
					t.Fatalf("residual modified")
				}
				checkEpilogue(t, g, c, want, &e, fmt.Sprintf("%dx%dx%d variant %d", m, n, k, variant))
			}
		}
	})
}

// checkEpilogue compares like gemmCase.check, with the bias and residual
// magnitudes added to each element's error scale.
func checkEpilogue(t *testing.T, g *gemmCase, got, want []float32, e *sgemmEpilogue, name string) {
	t.Helper()
	for idx := range got {
		i, j := idx/g.ldc-gemmGuard, idx%g.ldc
		if i < 0 || i >= g.m || j >= g.n {
			if !math.IsNaN(float64(got[idx])) {
				t.Fatalf("%s: element outside C written at row %d col %d", name, i, j)
			}
			continue
		}
		scale := math.Abs(float64(g.beta*g.c[idx])) + float64(g.magnitudes()[i*g.n+j]) + 3
		if d := math.Abs(float64(got[idx] - want[idx])); d > gemmTolF32*scale {
			t.Fatalf("%s: C[%d][%d] = %v, want %v", name, i, j, got[idx], want[idx])
		}
	}
}

// TestSgemmConvPacking checks op(B) = im2col(image) built while packing
// against an explicit im2col and GemmRef, over strides, pads, dilations
// and odd sizes, for every level.
func TestSgemmConvPacking(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(17, 18))
	geoms := []sgemmConv{
		{cin: 3, ih: 17, iw: 13, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1},
		{cin: 5, ih: 9, iw: 64, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3, dh: 1, dw: 1},
		{cin: 2, ih: 11, iw: 10, kh: 3, kw: 2, sh: 2, sw: 3, ph: 0, pw: 2, dh: 2, dw: 1},
		{cin: 4, ih: 7, iw: 7, kh: 1, kw: 1, sh: 2, sw: 2, ph: 0, pw: 0, dh: 1, dw: 1},
		{cin: 1, ih: 1, iw: 70, kh: 1, kw: 5, sh: 1, sw: 1, ph: 0, pw: 4, dh: 1, dw: 3},
		{cin: 9, ih: 3, iw: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 2, pw: 2, dh: 2, dw: 2},
	}
	for gi := range geoms {
		cv := geoms[gi]
		cv.oh = (cv.ih+2*cv.ph-cv.dh*(cv.kh-1)-1)/cv.sh + 1
		cv.ow = (cv.iw+2*cv.pw-cv.dw*(cv.kw-1)-1)/cv.sw + 1
		k, n := cv.cin*cv.kh*cv.kw, cv.oh*cv.ow
		for _, m := range []int{1, 17, 65} {
			img := gemmRandom(rng, cv.cin*cv.ih*cv.iw)
			w := gemmRandom(rng, m*k)
			col := im2colConv(&cv, img, 1)
			want := make([]float32, m*n)
			GemmRef(false, false, m, n, k, 1, w, k, col, n, 0, want, n)
			forEachLevel(t, func(t *testing.T, l CPULevel) {
				for _, threads := range []int{1, 2} {
					got := make([]float32, m*n+5)
					for i := range got {
						got[i] = float32(math.NaN())
					}
					call := sgemmCall{m: m, n: n, k: k, alpha: 1, a: w, lda: k, b: img, conv: &cv, c: got, ldc: n}
					call.run(threads)
					for i := range got {
						if i >= m*n {
							if !math.IsNaN(float64(got[i])) {
								t.Fatalf("geometry %d: written past C", gi)
							}
							continue
						}
						if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("geometry %d m=%d threads=%d: element %d = %v, want %v", gi, m, threads, i, got[i], want[i])
						}
					}
				}
			})
		}
	}
}

func TestCPULevels(t *testing.T) {
	levels := SupportedCPULevels()
	if levels[0] != LevelGeneric {
		t.Fatalf("generic level missing from %v", levels)
	}
	for _, l := range levels {
		p, err := ParseCPULevel(l.String())
		if err != nil || p != l {
			t.Fatalf("ParseCPULevel(%q) = %v, %v", l.String(), p, err)
		}
	}
	if _, err := ParseCPULevel("sse9"); err == nil {
		t.Fatal("ParseCPULevel accepted an unknown name")
	}
	if _, err := SetCPULevel(CPULevel(99)); err == nil {
		t.Fatal("SetCPULevel accepted an unknown level")
	}
	t.Logf("supported levels: %v", levels)
}

func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{256, 1024} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("n=%d/threads=%d", n, threads), func(b *testing.B) {
				x := gemmRandom(rand.New(rand.NewPCG(1, 1)), n*n)
				c := make([]float32, n*n)
				for b.Loop() {
					sgemm(false, false, n, n, n, 1, x, n, x, n, 0, c, n, threads)
				}
				b.ReportMetric(2*float64(n*n*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestSgemmConvPackLayout packs im2col(image) straight from the image and
// from an explicit im2col matrix and requires identical panels, with a NaN
// guard after the buffer left untouched (a run of padding must not spill
// past its segment).
func TestSgemmConvPackLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for _, kern := range []*sgemmKernel{sgemmAVX512, sgemmAVX2} {
		if kern == nil || !(map[*sgemmKernel]CPULevel{sgemmAVX512: LevelAVX512, sgemmAVX2: LevelAVX2}[kern]).Supported() {
			continue
		}
		for _, cv := range []sgemmConv{
			{cin: 2, ih: 31, iw: 29, kh: 7, kw: 7, sh: 1, sw: 1, ph: 3, pw: 3, dh: 1, dw: 1},
			{cin: 1, ih: 31, iw: 29, kh: 1, kw: 7, sh: 1, sw: 1, ph: 0, pw: 3, dh: 1, dw: 1},
			{cin: 3, ih: 9, iw: 5, kh: 3, kw: 5, sh: 2, sw: 1, ph: 2, pw: 4, dh: 1, dw: 2},
		} {
			cv.oh = (cv.ih+2*cv.ph-cv.dh*(cv.kh-1)-1)/cv.sh + 1
			cv.ow = (cv.iw+2*cv.pw-cv.dw*(cv.kw-1)-1)/cv.sw + 1
			k, n := cv.cin*cv.kh*cv.kw, cv.oh*cv.ow
			img := gemmRandom(rng, cv.cin*cv.ih*cv.iw)
			size := kern.npad(n) * k
			got := make([]float32, size+64)
			for i := range got {
				got[i] = float32(math.NaN())
			}
			args := gemmArgs{n: int64(n), k: int64(k), kc: int64(kern.kc), flags: gcBConv,
				cin: int64(cv.cin), ih: int64(cv.ih), iw: int64(cv.iw), kh: int64(cv.kh), kw: int64(cv.kw),
				sh: int64(cv.sh), sw: int64(cv.sw), ph: int64(cv.ph), pw: int64(cv.pw), dh: int64(cv.dh), dw: int64(cv.dw),
				oh: int64(cv.oh), ow: int64(cv.ow)}
			kern.packBInto(got[:size], &args, img, nil, 1)
			want := packSgemmB(kern, false, k, n, im2colConv(&cv, img, 1), n, 1).data
			if !gemmSameBits(got[:size], want) {
				t.Fatalf("%s %+v: packed panels differ from packing the explicit im2col", kern.name, cv)
			}
			for i := size; i < len(got); i++ {
				if !math.IsNaN(float64(got[i])) {
					t.Fatalf("%s %+v: packing wrote past its buffer", kern.name, cv)
				}
			}
		}
	}
}
