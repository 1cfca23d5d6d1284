package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// TestConvGemmBlocking runs the convolution GEMM driver (convGemmF32) with
// its blocking shrunk so that small images cross every boundary: k blocks
// of 8 or 16, column chunks of one or two register panels, one task per
// panel on 1 to 3 threads, and both ways of splitting (columns, or rows
// after packing B once); Toeplitz (stride 1 and 2, dilation, strided
// 1x1; with few channels also transposed with the input read in place,
// convDirectT, and with that turned off), im2col and pointwise products,
// groups, with and without bias, summand, activation and pre-activation,
// against the direct definition.
func TestConvGemmBlocking(t *testing.T) {
	kcMax, ncForce, minWork, directM, rowsMin, narrowM := convKCMax, convNCForce, convMinTaskWork, convDirectMaxM, convRowsMinWeights, narrowMaxM
	t.Cleanup(func() {
		convKCMax, convNCForce, convMinTaskWork, convDirectMaxM, convRowsMinWeights, narrowMaxM = kcMax, ncForce, minWork, directM, rowsMin, narrowM
	})
	narrowMaxM = 0 // the few-channel cases on the GEMM too, not the narrow kernel
	rng := rand.New(rand.NewPCG(41, 42))
	cases := []nntConvCase{
		// Toeplitz, stride 1, few and many (> 64) output channels
		{x: []int{1, 5, 13, 20}, w: []int{7, 5, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{13, 20}, bias: true},
		{x: []int{1, 4, 9, 30}, w: []int{70, 4, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{9, 30}},
		// more output channels than padded cells (the rows split)
		{x: []int{1, 8, 9, 9}, w: []int{100, 8, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{9, 9}, bias: true},
		// Toeplitz, stride 2 with a 7x7 kernel (phases), dilation
		{x: []int{2, 3, 30, 40}, w: []int{9, 3, 7, 7}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{3, 3}, pe: []int{3, 3}, group: 1, wantOut: []int{15, 20}, bias: true},
		{x: []int{1, 6, 12, 40}, w: []int{10, 3, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 2}, pe: []int{2, 2}, group: 2, wantOut: []int{12, 40}},
		// transposed with the padded input read in place (few channels, k >= 64)
		{x: []int{1, 8, 10, 23}, w: []int{40, 8, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{10, 23}, bias: true},
		{x: []int{2, 16, 9, 31}, w: []int{20, 8, 3, 3}, strides: []int{1, 1}, dil: []int{2, 2}, pb: []int{2, 2}, pe: []int{2, 2}, group: 2, wantOut: []int{9, 31}},
		// im2col (padded width too wasteful)
		{x: []int{1, 8, 6, 6}, w: []int{12, 8, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{6, 6}, bias: true},
		// pointwise, groups
		{x: []int{1, 12, 10, 11}, w: []int{20, 3, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 4, wantOut: []int{10, 11}, bias: true},
		{x: []int{2, 40, 7, 9}, w: []int{90, 40, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{7, 9}},
		// strided 1x1 (one stride phase), with and without padding
		{x: []int{1, 6, 11, 13}, w: []int{50, 6, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{6, 7}, bias: true},
		{x: []int{1, 6, 11, 13}, w: []int{9, 6, 1, 1}, strides: []int{2, 2}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{7, 8}},
	}
	forEachLevel(t, func(t *testing.T, l CPULevel) {
		for _, blk := range [][5]int{{8, 48, 1, 64, 0}, {16, 96, 1, 0, 1 << 30}, {256, 0, 1 << 18, 64, rowsMin}, {256, 0, 1, 0, 0}} {
			convKCMax, convNCForce, convMinTaskWork, convDirectMaxM, convRowsMinWeights = blk[0], blk[1], blk[2], blk[3], blk[4]
			for i, c := range cases {
				x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
				var b *tensor.Tensor
				if c.bias {
					b = nntRandom(rng, c.w[0])
				}
				shape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
				z := nntRandom(rng, shape...)
				ch := c.x[1]
				scale, shift, mean, vr := nntRandom(rng, ch), nntRandom(rng, ch), nntRandom(rng, ch), nntRandom(rng, ch)
				for j := range vr.F32() {
					vr.F32()[j] = 0.5 + vr.F32()[j]*vr.F32()[j]
				}
				const eps = 1e-3
				for variant := 0; variant < 3; variant++ {
					// 0: plain Conv; 1: bias + Z + Relu; 2: pre-activation + Clip
					xin := x
					attrs := c.attrs()
					in := []*tensor.Tensor{x, w, b}
					op, domain := "Conv", ""
					act := ""
					if variant > 0 {
						op, domain = "FusedConv", FusedDomain
					}
					switch variant {
					case 1:
						act = "Relu"
						in = append(in, z)
					case 2:
						act = "Clip"
						attrs["activation_params"] = graph.FloatsAttr(-0.5, 0.5)
						attrs["pre_epsilon"] = graph.FloatAttr(eps)
						attrs["pre_activation"] = graph.StringAttr("Relu")
						in = append(in, nil, scale, shift, mean, vr)
						xin = tensor.MustNew(tensor.Float32, c.x...)
						plane := tensor.Product(c.x[2:])
						for j := range xin.F32() {
							cc := j / plane % ch
							k := float64(scale.F32()[cc]) / math.Sqrt(float64(vr.F32()[cc])+eps)
							xin.F32()[j] = float32(math.Max(float64(x.F32()[j])*k+float64(shift.F32()[cc])-float64(mean.F32()[cc])*k, 0))
						}
					}
					if act != "" {
						attrs["activation"] = graph.StringAttr(act)
					}
					want := nntConvRef(&c, xin, w, b)
					for j := range want {
						if variant == 1 {
							want[j] = math.Max(want[j]+float64(z.F32()[j]), 0)
						}
						if variant == 2 {
							want[j] = math.Min(math.Max(want[j], -0.5), 0.5)
						}
					}
					for _, constW := range []bool{false, true} {
						var cw *tensor.Tensor
						if constW {
							cw = w
						}
						o := fusedOpFor(t, domain, op, attrs, cw)
						for threads := 1; threads <= 3; threads++ {
							name := fmt.Sprintf("blocking %v case %d variant %d const %v threads %d", blk, i, variant, constW, threads)
							out, err := o.Run(runtime.NewContext(threads), in)
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							if !tensor.SameShape(out[0].Shape(), shape) {
								t.Fatalf("%s: shape %v, want %v", name, out[0].Shape(), shape)
							}
							for j, v := range out[0].F32() {
								if d := math.Abs(float64(v) - want[j]); !(d <= nntTol*(1+math.Abs(want[j]))) {
									t.Fatalf("%s: element %d = %v, want %v", name, j, v, want[j])
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestSgemmCompactGuard runs a Toeplitz product compacted into an output
// whose rows are further apart than the output plane (ldy > oh*ow), with
// NaN everywhere else: the compaction must write exactly the valid cells,
// equal to the generic path's, and leave the gaps, the padded image and
// the residual untouched.
func TestSgemmCompactGuard(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, kern := range []*sgemmKernel{sgemmAVX512, sgemmAVX2} {
		if kern == nil || !(map[*sgemmKernel]CPULevel{sgemmAVX512: LevelAVX512, sgemmAVX2: LevelAVX2}[kern]).Supported() {
			continue
		}
		for _, nc := range []int{kern.nr, 2 * kern.nr, 0} {
			cv := sgemmConv{cin: 3, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, oh: 11, ow: 17}
			hq, wq := cv.oh+2, cv.ow+2
			cv.ih, cv.iw = hq, wq
			m, k, n := 13, cv.cin*9, cv.oh*wq
			p := gemmRandom(rng, cv.cin*hq*wq+2)
			a := gemmRandom(rng, m*k)
			bias := gemmRandom(rng, m)
			ldy := cv.oh*cv.ow + 5
			resid := gemmRandom(rng, m*ldy)
			pCopy, rCopy := append([]float32(nil), p...), append([]float32(nil), resid...)
			run := func(level CPULevel) []float32 {
				prev, _ := SetCPULevel(level)
				defer SetCPULevel(prev)
				y := make([]float32, m*ldy+7)
				for i := range y {
					y[i] = float32(math.NaN())
				}
				call := sgemmCall{m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: p, conv: &cv, toeplitz: true,
					compactY: y, ldy: ldy, nc: nc, kc: 8,
					epi: sgemmEpilogue{biasRow: bias, resid: resid, ldr: ldy, clamp: true, lo: -0.7, hi: 0.9}}
				call.run(2)
				return y
			}
			want := run(LevelGeneric)
			level := map[*sgemmKernel]CPULevel{sgemmAVX512: LevelAVX512, sgemmAVX2: LevelAVX2}[kern]
			got := run(level)
			for i := range got {
				inside := i < m*ldy && i%ldy < cv.oh*cv.ow
				switch {
				case !inside && !math.IsNaN(float64(got[i])):
					t.Fatalf("%s nc %d: wrote %v outside the output at %d", kern.name, nc, got[i], i)
				case inside && !(math.Abs(float64(got[i]-want[i])) <= 1e-5*(1+math.Abs(float64(want[i])))):
					t.Fatalf("%s nc %d: element %d = %v, want %v", kern.name, nc, i, got[i], want[i])
				}
			}
			if !gemmSameBits(p, pCopy) || !gemmSameBits(resid, rCopy) {
				t.Fatalf("%s: inputs were written", kern.name)
			}
		}
	}
}
