package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// TestDepthwiseExactCases runs depthwiseExact on the cases
// TestQuantOpsEveryLevel leaves out: channel multiplier > 1 with a zero
// weight zero point, int8 and uint8 w, int8 x, dilation, batch > 1,
// asymmetric pads, 1-D, kernel sizes near the 2^24 bound, extreme values.
func TestDepthwiseExactCases(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(7, 8))
	type conv struct {
		x, w          []int
		group         int64
		strides, pads []int64
		dil           []int64
		xU8, wU8      bool
	}
	for i, c := range []conv{
		{x: []int{2, 6, 9, 9}, w: []int{12, 1, 5, 5}, group: 6, strides: []int64{1, 1}, pads: []int64{2, 2, 2, 2}, xU8: false, wU8: true},
		{x: []int{3, 5, 10, 7}, w: []int{15, 1, 3, 3}, group: 5, strides: []int64{2, 1}, pads: []int64{0, 1, 2, 0}, dil: []int64{2, 3}, xU8: true},
		{x: []int{2, 20, 13, 11}, w: []int{20, 1, 3, 3}, group: 20, strides: []int64{1, 1}, pads: []int64{1, 2, 1, 0}, dil: []int64{2, 2}, xU8: false},
		{x: []int{2, 17, 30}, w: []int{34, 1, 7}, group: 17, strides: []int64{3}, pads: []int64{3, 1}, xU8: true, wU8: true},
		{x: []int{1, 18, 20, 20}, w: []int{18, 1, 16, 16}, group: 18, strides: []int64{1, 1}, pads: []int64{8, 8, 7, 7}, xU8: true, wU8: true},
		{x: []int{1, 3, 3, 70}, w: []int{3, 1, 1, 65}, group: 3, strides: []int64{1, 1}, pads: []int64{0, 32, 0, 32}, xU8: true},
	} {
		attrs := map[string]*graph.Attr{"group": graph.IntAttr(c.group), "strides": graph.IntsAttr(c.strides...), "pads": graph.IntsAttr(c.pads...)}
		if c.dil != nil {
			attrs["dilations"] = graph.IntsAttr(c.dil...)
		}
		x, w := qRandom(rng, c.xU8, c.x...), qRandom(rng, c.wU8, c.w...)
		xzp := qRandom(rng, c.xU8)
		wzp := tensor.FromSlice([]int{}, make([]int8, 1))
		if c.wU8 {
			wzp = tensor.FromSlice([]int{}, make([]uint8, 1))
		}
		checkLevels(t, fmt.Sprintf("ConvInteger dw %d", i), "ConvInteger", attrs, []*tensor.Tensor{x, w, xzp, wzp}, 1)
		bias := make([]int32, c.w[0])
		for j := range bias {
			bias[j] = int32(rng.IntN(2000000) - 1000000)
		}
		in := []*tensor.Tensor{x, qScale(rng, 0), xzp, w, qScale(rng, c.w[0]), wzp, qScale(rng, 0), qRandom(rng, true), tensor.FromSlice([]int{c.w[0]}, bias)}
		checkLevels(t, fmt.Sprintf("QLinearConv dw %d", i), "QLinearConv", attrs, in, 3)
	}
}
