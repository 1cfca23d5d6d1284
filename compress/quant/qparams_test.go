package quant

import (
	"math"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

func TestChooseKnownValues(t *testing.T) {
	cases := []struct {
		name   string
		lo, hi float32
		cfg    Config
		scale  float32
		zp     int32
	}{
		// asymmetric uint8 over [-1, 3]: scale 4/255, zp = round(0 + 1/(4/255)) = round(63.75) = 64
		{"uint8 asym", -1, 3, Config{DType: tensor.Uint8}, 4.0 / 255, 64},
		// the range always includes 0: [2, 6] becomes [0, 6]
		{"uint8 positive", 2, 6, Config{DType: tensor.Uint8}, 6.0 / 255, 0},
		// asymmetric int8 over [-1, 3]: scale 4/255, zp = round(-128 + 63.75) = -64
		{"int8 asym", -1, 3, Config{DType: tensor.Int8}, 4.0 / 255, -64},
		// symmetric int8: [-127, 127], scale = 2*3/254 = 3/127, zp 0
		{"int8 sym", -1, 3, Config{DType: tensor.Int8, Symmetric: true}, 3.0 / 127, 0},
		// symmetric uint8: scale 6/255, zp = round(127.5) = 128 (half to even)
		{"uint8 sym", -1, 3, Config{DType: tensor.Uint8, Symmetric: true}, 6.0 / 255, 128},
		// an all-zero tensor round-trips with scale 1
		{"zero range", 0, 0, Config{DType: tensor.Int8}, 1, -128},
		// an all-zero channel of symmetric weights keeps zero point 0 (and
		// uint8's midpoint 128)
		{"int8 sym zero range", 0, 0, Config{DType: tensor.Int8, Symmetric: true}, 1, 0},
		{"int8 sym reduced zero range", 0, 0, Config{DType: tensor.Int8, Symmetric: true, ReduceRange: true}, 1, 0},
		{"uint8 sym zero range", 0, 0, Config{DType: tensor.Uint8, Symmetric: true}, 1, 128},
		// reduced (7-bit) symmetric int8: [-64, 64], scale = 2*3/128 = 3/64
		{"int8 sym reduced", -1, 3, Config{DType: tensor.Int8, Symmetric: true, ReduceRange: true}, 3.0 / 64, 0},
		// reduced uint8 [0, 127] over [-1, 3]: scale 4/127, zp = round(31.75) = 32
		{"uint8 asym reduced", -1, 3, Config{DType: tensor.Uint8, ReduceRange: true}, 4.0 / 127, 32},
	}
	for _, c := range cases {
		p, err := Choose([]float32{c.lo}, []float32{c.hi}, c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if math.Abs(float64(p.Scale[0]-c.scale)) > 1e-7 || p.ZeroPoint[0] != c.zp {
			t.Errorf("%s: scale %v zp %d, want %v %d", c.name, p.Scale[0], p.ZeroPoint[0], c.scale, c.zp)
		}
		// 0 is exactly representable.
		q, _ := QuantizeRef([]float32{0}, []int{1}, p)
		d, _ := DequantizeRef(q, []int{1}, p)
		if d[0] != 0 {
			t.Errorf("%s: 0 round-trips to %v", c.name, d[0])
		}
	}
}

func TestQuantizeRoundHalfEvenAndSaturate(t *testing.T) {
	p := &Params{Scale: []float32{0.5}, ZeroPoint: []int32{0}, Axis: -1, DType: tensor.Int8}
	x := []float32{1.25, 1.75, -1.25, 0.25, 0.75, 100, -100, float32(math.NaN())}
	// x/s = 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.5 -> 0, 1.5 -> 2, saturate 127 / -128, NaN -> zp
	want := []int32{2, 4, -2, 0, 2, 127, -128, 0}
	q, err := QuantizeRef(x, []int{len(x)}, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if q[i] != want[i] {
			t.Errorf("quantize(%v) = %d, want %d", x[i], q[i], want[i])
		}
	}
	u := &Params{Scale: []float32{1}, ZeroPoint: []int32{10}, Axis: -1, DType: tensor.Uint8}
	q, _ = QuantizeRef([]float32{-20, 300, 0.5}, []int{3}, u)
	if q[0] != 0 || q[1] != 255 || q[2] != 10 {
		t.Errorf("uint8 saturation/rounding: %v", q)
	}
}

func TestPerChannel(t *testing.T) {
	// weights [2 out channels, 3]: channel 0 in [-1, 1], channel 1 in [-4, 2]
	w := []float32{-1, 0.5, 1, -4, 2, 1}
	lo, hi, err := MinMax(w, []int{2, 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if lo[0] != -1 || hi[0] != 1 || lo[1] != -4 || hi[1] != 2 {
		t.Fatalf("MinMax per channel: %v %v", lo, hi)
	}
	p, err := Choose(lo, hi, Config{DType: tensor.Int8, Symmetric: true, PerChannel: true, Axis: 0})
	if err != nil {
		t.Fatal(err)
	}
	if p.Scale[0] != 1.0/127 || p.Scale[1] != 4.0/127 {
		t.Fatalf("scales %v", p.Scale)
	}
	q, err := QuantizeRef(w, []int{2, 3}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{-127, 64, 127, -127, 64, 32} // 0.5*127 = 63.5 -> 64; 2/(4/127) = 63.5 -> 64; 31.75 -> 32
	for i := range want {
		if q[i] != want[i] {
			t.Errorf("q[%d] = %d, want %d", i, q[i], want[i])
		}
	}
	// an inner axis: shape [2, 3] per channel along axis 1
	lo, hi, _ = MinMax(w, []int{2, 3}, 1)
	if lo[0] != -4 || hi[0] != -1 || lo[2] != 1 || hi[2] != 1 {
		t.Fatalf("MinMax axis 1: %v %v", lo, hi)
	}
	if _, err := QuantizeRef(w, []int{2, 3}, &Params{Scale: []float32{1, 1, 1}, ZeroPoint: []int32{0, 0, 0}, Axis: 0, DType: tensor.Int8}); err == nil {
		t.Error("3 scales for 2 channels accepted")
	}
}

func TestDequantizeInvertsWithinHalfStep(t *testing.T) {
	x := []float32{-0.9, -0.31, 0, 0.02, 0.5, 1.7}
	lo, hi, _ := MinMax(x, []int{6}, -1)
	for _, cfg := range []Config{{DType: tensor.Int8}, {DType: tensor.Uint8}, {DType: tensor.Int8, Symmetric: true}} {
		p, err := Choose(lo, hi, cfg)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := QuantizeRef(x, []int{6}, p)
		d, _ := DequantizeRef(q, []int{6}, p)
		for i := range x {
			if math.Abs(float64(d[i]-x[i])) > float64(p.Scale[0])/2+1e-7 {
				t.Errorf("%+v: %v -> %v, more than half a step (%v)", cfg, x[i], d[i], p.Scale[0])
			}
		}
		fq, _ := FakeQuantRef(x, []int{6}, p)
		for i := range d {
			if fq[i] != d[i] {
				t.Errorf("FakeQuantRef(%v) = %v, dequantize(quantize) = %v", x[i], fq[i], d[i])
			}
		}
	}
}

func TestInvalid(t *testing.T) {
	bad := []*Params{
		{Scale: []float32{0}, ZeroPoint: []int32{0}, Axis: -1, DType: tensor.Int8},
		{Scale: []float32{float32(math.Inf(1))}, ZeroPoint: []int32{0}, Axis: -1, DType: tensor.Int8},
		{Scale: []float32{1}, ZeroPoint: []int32{200}, Axis: -1, DType: tensor.Int8},
		{Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: -1, DType: tensor.Float32},
		{Scale: []float32{1, 2}, ZeroPoint: []int32{0, 0}, Axis: -1, DType: tensor.Int8},
		{Scale: []float32{1}, ZeroPoint: []int32{}, Axis: -1, DType: tensor.Int8},
	}
	for i, p := range bad {
		if err := p.Validate(); err == nil {
			t.Errorf("case %d accepted", i)
		}
	}
	if _, err := Choose([]float32{1}, []float32{0}, Config{DType: tensor.Int8}); err == nil {
		t.Error("inverted range accepted")
	}
	if _, err := Choose([]float32{float32(math.NaN())}, []float32{0}, Config{DType: tensor.Int8}); err == nil {
		t.Error("NaN range accepted")
	}
}

func TestTensors(t *testing.T) {
	p := &Params{Scale: []float32{0.5, 0.25}, ZeroPoint: []int32{-3, 4}, Axis: 0, DType: tensor.Int8}
	s, z, err := p.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	if s.Rank() != 1 || z.DType() != tensor.Int8 || tensor.Data[int8](z)[0] != -3 {
		t.Errorf("tensors %v %v", s, z)
	}
	p = &Params{Scale: []float32{0.5}, ZeroPoint: []int32{200}, Axis: -1, DType: tensor.Uint8}
	s, z, _ = p.Tensors()
	if s.Rank() != 0 || tensor.Data[uint8](z)[0] != 200 {
		t.Errorf("per-tensor tensors %v %v", s, z)
	}
}

// TestQuantizeWeightReduceRange: with ReduceRange every weight lies in
// [-64, 64] (so that a pair of uint8 x int8 products, at most 2*255*64 =
// 32640, fits vpmaddubsw's int16 without saturating), each channel's
// largest magnitude maps to 64 with scale max|w|/64, and dequantizing is
// within half a step; without it the same channel reaches 127.
func TestQuantizeWeightReduceRange(t *testing.T) {
	shape := []int{4, 3, 3, 3}
	n := 4 * 27
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*1.7)) * float32(1+i/27)
	}
	wt := tensor.FromSlice(shape, w)
	for _, reduce := range []bool{false, true} {
		p, q, err := QuantizeWeight(wt, 0, WeightFormat{PerChannel: true, ReduceRange: reduce})
		if err != nil {
			t.Fatal(err)
		}
		limit := int8(127)
		if reduce {
			limit = 64
		}
		if p.Reduced != reduce || p.QMax() != int32(limit) {
			t.Fatalf("reduce %v: Params.Reduced %v, QMax %d", reduce, p.Reduced, p.QMax())
		}
		qs := tensor.Data[int8](q)
		for c := 0; c < 4; c++ {
			var amax float64
			var qmax int8
			for i := c * 27; i < (c+1)*27; i++ {
				amax = math.Max(amax, math.Abs(float64(w[i])))
				v := qs[i]
				if v < -limit || v > limit {
					t.Fatalf("reduce %v: weight %d quantized to %d, outside [-%d, %d]", reduce, i, v, limit, limit)
				}
				qmax = max(qmax, v, -v)
				if d := math.Abs(float64(v)*float64(p.Scale[c]) - float64(w[i])); d > float64(p.Scale[c])/2*(1+1e-6) {
					t.Errorf("reduce %v: weight %d dequantizes %g from %g (scale %g)", reduce, i, d, w[i], p.Scale[c])
				}
			}
			if qmax != limit || p.Scale[c] != float32(amax/float64(limit)) {
				t.Errorf("reduce %v channel %d: largest |q| %d, scale %g; want %d, %g", reduce, c, qmax, p.Scale[c], limit, amax/float64(limit))
			}
		}
	}
}
