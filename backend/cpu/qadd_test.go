package cpu

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// TestQLinearAddEveryLevel: QLinearAdd equals its per-element reference
// bit for bit at every level and thread count, for uint8 and int8, equal
// shapes (whole AVX2 steps and tails) and broadcast ones; and the
// reference is within one step of the exact DequantizeLinear -> Add ->
// QuantizeLinear (in float64), with saturation at both ends.
func TestQLinearAddEveryLevel(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	shapes := [][2][]int{
		{{2, 64, 16, 17}, {2, 64, 16, 17}}, // 34,816 values: split across threads
		{{3, 5, 7}, {3, 5, 7}},             // 105: a tail after the vector steps
		{{2, 64, 16, 17}, {2, 64, 1, 1}},   // per-channel broadcast
		{{1}, {4, 9}},                      // a scalar A
	}
	// every pair of 8-bit values, with scales for which a fused
	// multiply-add in place of either product changes some results
	type fullCase struct {
		a, b       *tensor.Tensor
		sa, sb, sy float32
	}
	full := func(u8 bool) fullCase {
		av, bv := make([]int, 1<<16), make([]int, 1<<16)
		for i := range av {
			av[i], bv[i] = i>>8, i&255
			if !u8 {
				av[i], bv[i] = av[i]-128, bv[i]-128
			}
		}
		for try := 1; ; try++ {
			sa, sb, sy := float32(0.02+0.05*rng.Float32()), float32(0.01+0.05*rng.Float32()), float32(0.03+0.05*rng.Float32())
			ra, rb := sa/sy, sb/sy
			differs := [2]bool{}
			for i := range av {
				x, y := float32(av[i]), float32(bv[i])
				v := float32(x*ra) + float32(y*rb)
				fa := float32(float64(x)*float64(ra) + float64(float32(y*rb)))
				fb := float32(float64(y)*float64(rb) + float64(float32(x*ra)))
				differs[0] = differs[0] || math.RoundToEven(float64(fa)) != math.RoundToEven(float64(v))
				differs[1] = differs[1] || math.RoundToEven(float64(fb)) != math.RoundToEven(float64(v))
			}
			if differs[0] && differs[1] {
				return fullCase{pairs(u8, av), pairs(u8, bv), sa, sb, sy}
			}
			if try == 1000 {
				t.Fatal("no scales found for which a fused multiply-add changes a result")
			}
		}
	}
	fulls := map[bool]fullCase{true: full(true), false: full(false)}
	forEachLevel(t, func(t *testing.T, _ CPULevel) {
		for _, u8 := range []bool{true, false} {
			for k, sh := range append(shapes, [2][]int{{256, 256}, {256, 256}}) {
				a, b := qRandom(rng, u8, sh[0]...), qRandom(rng, u8, sh[1]...)
				// an output scale small enough that some sums saturate
				sa, sb, sy := float32(0.02+0.05*rng.Float32()), float32(0.01+0.05*rng.Float32()), float32(0.03+0.05*rng.Float32())
				za, zb, zy := qRandom(rng, u8), qRandom(rng, u8), qRandom(rng, u8)
				if k == len(shapes) {
					f := fulls[u8]
					a, b, sa, sb, sy = f.a, f.b, f.sa, f.sb, f.sy
					za, zb, zy = pairs(u8, []int{0}), pairs(u8, []int{0}), pairs(u8, []int{0})
				}
				in := []*tensor.Tensor{a, tensor.Scalar(sa), za, b, tensor.Scalar(sb), zb, tensor.Scalar(sy), zy}
				p := qaddParams{za: float32(za.Float64At(0)), ra: sa / sy, zb: float32(zb.Float64At(0)), rb: sb / sy, zy: float32(zy.Float64At(0))}
				p.lo, p.hi = 0, 255
				if !u8 {
					p.lo, p.hi = -128, 127
				}
				out, _ := tensor.BroadcastShapes(a.Shape(), b.Shape())
				as, bs := tensor.BroadcastStrides(a.Shape(), out), tensor.BroadcastStrides(b.Shape(), out)
				want := make([]float64, tensor.Product(out))
				off, saturated := 0, 0
				for i := range want {
					ia, ib := broadcastIndex(i, out, as), broadcastIndex(i, out, bs)
					if u8 {
						want[i] = float64(qaddRef(p, tensor.Data[uint8](a)[ia], tensor.Data[uint8](b)[ib]))
					} else {
						want[i] = float64(qaddRef(p, tensor.Data[int8](a)[ia], tensor.Data[int8](b)[ib]))
					}
					x := float64(sa)*(a.Float64At(ia)-float64(p.za)) + float64(sb)*(b.Float64At(ib)-float64(p.zb))
					exact := math.Min(math.Max(math.RoundToEven(x/float64(sy))+float64(p.zy), float64(p.lo)), float64(p.hi))
					if d := math.Abs(exact - want[i]); d > 1 {
						t.Fatalf("%v+%v u8=%v [%d]: reference %v, exact QDQ %v", sh[0], sh[1], u8, i, want[i], exact)
					} else if d == 1 {
						off++
					}
					if exact == float64(p.lo) || exact == float64(p.hi) {
						saturated++
					}
				}
				if off > len(want)/100+1 || (k == 0 && saturated == 0) {
					t.Fatalf("%v+%v: %d of %d values one step off the exact QDQ result, %d saturated", sh[0], sh[1], off, len(want), saturated)
				}
				for _, threads := range []int{1, 2} {
					y, err := qOp(t, "com.microsoft:QLinearAdd", nil, in, -1).Run(runtime.NewContext(threads), in)
					if err != nil {
						t.Fatal(err)
					}
					if !tensor.SameShape(y[0].Shape(), out) || y[0].DType() != a.DType() {
						t.Fatalf("output %v, want %v %v", y[0], a.DType(), out)
					}
					for i, w := range want {
						if got := y[0].Float64At(i); got != w {
							t.Fatalf("%v+%v u8=%v threads %d [%d]: got %v, want %v", sh[0], sh[1], u8, threads, i, got, w)
						}
					}
				}
			}
		}
	})
}

// pairs returns v as a uint8 or int8 tensor ([256, 256] for 65,536
// values, else a scalar).
func pairs(u8 bool, v []int) *tensor.Tensor {
	shape := []int{256, 256}
	if len(v) == 1 {
		shape = nil
	}
	if u8 {
		d := make([]uint8, len(v))
		for i, x := range v {
			d[i] = uint8(x)
		}
		return tensor.FromSlice(shape, d)
	}
	d := make([]int8, len(v))
	for i, x := range v {
		d[i] = int8(x)
	}
	return tensor.FromSlice(shape, d)
}

// broadcastIndex is the input offset of output element i (strides from
// tensor.BroadcastStrides).
func broadcastIndex(i int, shape, strides []int) int {
	off := 0
	for d := len(shape) - 1; d >= 0; d-- {
		off += i % shape[d] * strides[d]
		i /= shape[d]
	}
	return off
}

// TestQLinearAddErrors: inputs QLinearAdd cannot take are errors, not
// panics or wrong results.
func TestQLinearAddErrors(t *testing.T) {
	u := tensor.FromSlice([]int{4}, []uint8{1, 2, 3, 4})
	s := tensor.FromSlice([]int{4}, []int8{1, 2, 3, 4})
	one, zu := tensor.Scalar(float32(0.1)), tensor.Scalar(uint8(3))
	for _, c := range []struct {
		name string
		in   []*tensor.Tensor
		want string
	}{
		{"no C_scale", []*tensor.Tensor{u, one, zu, u, one, zu}, "input 6 is missing"},
		{"mixed types", []*tensor.Tensor{u, one, zu, s, one, nil, one}, "B is int8"},
		{"zero point type", []*tensor.Tensor{u, one, tensor.Scalar(int8(0)), u, one, zu, one}, "A_zero_point is int8"},
		{"zero scale", []*tensor.Tensor{u, one, zu, u, tensor.Scalar(float32(0)), zu, one}, "B_scale 0"},
		{"per-channel scale", []*tensor.Tensor{u, one, zu, u, one, zu, tensor.FromSlice([]int{2}, []float32{1, 2})}, "C_scale [2]"},
		{"scale ratio overflow", []*tensor.Tensor{u, tensor.Scalar(float32(1e30)), zu, u, one, zu, tensor.Scalar(float32(1e-10))}, "overflow"},
		{"float input", []*tensor.Tensor{tensor.FromSlice([]int{1}, []float32{1}), one, nil, u, one, nil, one}, "want uint8 or int8"},
		{"shapes", []*tensor.Tensor{u, one, zu, tensor.FromSlice([]int{3}, []uint8{1, 2, 3}), one, zu, one}, "broadcast"},
	} {
		_, err := runQLinearAdd(runtime.NewContext(1), c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
