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

// TestFusedConvIntegerEveryLevel: FusedConvInteger equals the chain it
// replaces (ConvInteger, int32 bias, Cast, Mul by the scale, Add of the
// float bias, Add of the summand, the activation; each step rounded to
// float32 in that order) bit for bit, at every level and thread count,
// through the INT8 GEMM (1x1) and the direct kernel (3x3, 5x5), with and
// without each optional input.
func TestFusedConvIntegerEveryLevel(t *testing.T) {
	withParallelism(t)
	rng := rand.New(rand.NewPCG(61, 62))
	type conv struct {
		x, w          []int
		group         int64
		strides, pads []int64
	}
	for i, c := range []conv{
		{x: []int{2, 64, 9, 11}, w: []int{32, 64, 1, 1}, group: 1, strides: []int64{1, 1}, pads: []int64{0, 0, 0, 0}},
		{x: []int{1, 16, 14, 14}, w: []int{24, 16, 3, 3}, group: 1, strides: []int64{1, 1}, pads: []int64{1, 1, 1, 1}},
		{x: []int{1, 6, 13, 12}, w: []int{10, 3, 5, 5}, group: 2, strides: []int64{2, 2}, pads: []int64{2, 1, 2, 1}},
	} {
		attrs := map[string]*graph.Attr{"group": graph.IntAttr(c.group), "strides": graph.IntsAttr(c.strides...), "pads": graph.IntsAttr(c.pads...)}
		x, w := qRandom(rng, true, c.x...), qRandom(rng, false, c.w...)
		xzp, wzp := qRandom(rng, true), tensor.FromSlice([]int{}, []int8{0})
		m := c.w[0]
		scale := qScale(rng, m)
		bq := make([]int32, m)
		for j := range bq {
			bq[j] = int32(rng.IntN(20000) - 10000)
		}
		bf := nntRandom(rng, m)
		acc, err := qOp(t, "ConvInteger", attrs, []*tensor.Tensor{x, w, xzp, wzp}, -1).Run(runtime.NewContext(1), []*tensor.Tensor{x, w, xzp, wzp})
		if err != nil {
			t.Fatal(err)
		}
		shape := acc[0].Shape()
		z := nntRandom(rng, shape...)
		for v, variant := range []struct {
			bq, bf, z bool
			act       string
		}{{true, true, true, "Relu"}, {false, false, false, ""}, {true, false, true, "Clip"}, {false, true, false, "Relu"}} {
			a := map[string]*graph.Attr{}
			for k, val := range attrs {
				a[k] = val
			}
			lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
			switch variant.act {
			case "Relu":
				a["activation"], lo = graph.StringAttr("Relu"), 0
			case "Clip":
				a["activation"], lo, hi = graph.StringAttr("Clip"), -0.5, 0.75
				a["activation_params"] = graph.FloatsAttr(lo, hi)
			}
			in := []*tensor.Tensor{x, w, xzp, wzp, scale, nil, nil, nil}
			if variant.bq {
				in[5] = tensor.FromSlice([]int{m}, bq)
			}
			if variant.bf {
				in[6] = bf
			}
			if variant.z {
				in[7] = z
			}
			// the chain, step by step
			want := make([]float32, acc[0].Len())
			per := tensor.Product(shape[2:])
			for j, s := range tensor.Data[int32](acc[0]) {
				ch := j / per % m
				if variant.bq {
					s += bq[ch]
				}
				f := float32(float32(s) * scale.F32()[ch])
				if variant.bf {
					f = float32(f + bf.F32()[ch])
				}
				if variant.z {
					f = float32(f + z.F32()[j])
				}
				if variant.act != "" {
					f = min(max(f, lo), hi)
				}
				want[j] = f
			}
			name := fmt.Sprintf("case %d variant %d", i, v)
			got, err := qOp(t, FusedDomain+":FusedConvInteger", a, in, 1).Run(runtime.NewContext(1), in)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			sameTensor(t, name+" against the chain", got[0], tensor.FromSlice(shape, want))
			checkLevels(t, name, FusedDomain+":FusedConvInteger", a, in, 1)
		}
	}
}

// TestFusedConvIntegerErrors: inputs of the wrong type or length are
// errors, not panics.
func TestFusedConvIntegerErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	x, w := qRandom(rng, true, 1, 4, 5, 5), qRandom(rng, false, 3, 4, 3, 3)
	xzp, wzp := qRandom(rng, true), tensor.FromSlice([]int{}, []int8{0})
	scale := qScale(rng, 3)
	for i, in := range [][]*tensor.Tensor{
		{x, w, xzp, wzp},                                              // no scale
		{x, w, xzp, wzp, qScale(rng, 2)},                              // scale of 2 for 3 channels
		{x, w, xzp, wzp, scale, nntRandom(rng, 3)},                    // float B_q
		{x, w, xzp, wzp, scale, nil, qScale(rng, 4)},                  // B of 4
		{x, w, xzp, wzp, scale, nil, nil, nntRandom(rng, 1, 3, 2, 2)}, // Z of the wrong shape
	} {
		if _, err := qOp(t, FusedDomain+":FusedConvInteger", nil, in, -1).Run(runtime.NewContext(1), in); err == nil {
			t.Errorf("case %d: want an error", i)
		}
	}
}
