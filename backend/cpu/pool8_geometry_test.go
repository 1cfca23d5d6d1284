package cpu

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// TestMaxPoolIntGeometries sweeps 1-D geometries (lifted to 2-D) through
// the 8-bit MaxPool's sliding maxima and tap-by-tap paths, against the
// general path: widths 1-9, kernels 1-6, strides 1-4, dilations 1-2, pads
// up to the kernel plus one, ceil_mode on and off.
func TestMaxPoolIntGeometries(t *testing.T) {
	forEachLevel(t, func(t *testing.T, _ CPULevel) {
		rng := rand.New(rand.NewPCG(1, 2))
		for iw := 1; iw <= 9; iw++ {
			for k := int64(1); k <= 6; k++ {
				for s := int64(1); s <= 4; s++ {
					for d := int64(1); d <= 2; d++ {
						for pl := int64(0); pl < k+2; pl++ {
							for pr := int64(0); pr < k+2; pr++ {
								for ceil := int64(0); ceil <= 1; ceil++ {
									if (int64(iw) + pl + pr - d*(k-1) - 1) < 0 {
										continue
									}
									attrs := map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(k), "strides": graph.IntsAttr(s),
										"dilations": graph.IntsAttr(d), "pads": graph.IntsAttr(pl, pr), "ceil_mode": graph.IntAttr(ceil)}
									shape := []int{1, 2, iw}
									n := tensor.Product(shape)
									i8 := make([]int8, n)
									for j := range i8 {
										i8[j] = int8(rng.IntN(256) - 128)
									}
									x := tensor.FromSlice(shape, i8)
									fast, err := nntOp(t, "MaxPool", attrs, 21, 1)
									if err != nil {
										continue
									}
									general, _ := nntOp(t, "MaxPool", attrs, 21, 2)
									got, err1 := fast.Run(runtime.NewContext(1), []*tensor.Tensor{x})
									want, err2 := general.Run(runtime.NewContext(1), []*tensor.Tensor{x})
									if (err1 == nil) != (err2 == nil) {
										t.Fatalf("iw %d k %d s %d d %d pads %d,%d ceil %d: errors %v / %v", iw, k, s, d, pl, pr, ceil, err1, err2)
									}
									if err1 != nil {
										continue
									}
									if !bytes.Equal(got[0].RawBytes(), want[0].RawBytes()) {
										t.Fatalf("iw %d k %d s %d d %d pads %d,%d ceil %d: %v want %v", iw, k, s, d, pl, pr, ceil, got[0], want[0])
									}
								}
							}
						}
					}
				}
			}
		}
	})
}
