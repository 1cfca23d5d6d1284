package kerneltest

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/kernels/ref"
)

// recorder is a Reporter that keeps the failures instead of failing.
type recorder struct{ errs []string }

func (r *recorder) Helper()             {}
func (r *recorder) Logf(string, ...any) {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

// The suites pass against the references themselves (run short: the large
// shapes are for the GPU).
func TestSuitesPassOnReferences(t *testing.T) {
	var all []Result
	all = append(all, Int8GEMM(t, HostGemm, Short)...)
	all = append(all, HalfGEMM(t, ref.F16, HostGemm, Short)...)
	all = append(all, HalfGEMM(t, ref.BF16, HostGemm, Short)...)
	all = append(all, SparseGEMM(t, ref.S8, HostSparse, Short)...)
	all = append(all, SparseGEMM(t, ref.F16, HostSparse, Short)...)
	all = append(all, SparseGEMM(t, ref.BF16, HostSparse, Short)...)
	all = append(all, Elementwise(t, HostElementwise, Short)...)
	var buf bytes.Buffer
	if fails := WriteTable(&buf, all); fails != 0 || len(all) < 200 {
		t.Fatalf("%d failures in %d cases:\n%s", fails, len(all), buf.String())
	}
	for _, p := range []ref.Elem{ref.S8, ref.F16} {
		pc, err := NewProbeCase(p, "self")
		if err != nil {
			t.Fatal(err)
		}
		if err := pc.Check(pc.Want); err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(pc.Want)
		bad[4*37] ^= 1
		if err := pc.Check(bad); err == nil || !strings.Contains(err.Error(), "(4, 5)") {
			t.Fatalf("probe check of a wrong element: %v", err)
		}
	}
}

func smallGemm(in ref.Elem, out ref.Out, transposed bool) *GemmProblem {
	r := rng("small")
	m, n, k := 9, 11, 40
	lda := stride(in, k)
	ldm, ldn := outLayout(m, n, transposed)
	cfg := epiConfig{out: out, withEpi: out != ref.OutS32}
	return &GemmProblem{In: in, M: m, N: n, K: k, A: RandOperand(r, in, m, k, lda), LdA: lda,
		B: RandOperand(r, in, n, k, lda), LdB: lda, Out: out, LdCM: ldm, LdCN: ldn, Epi: makeEpilogue(r, cfg, in, m, n, k)}
}

// TestSuitesCatchBrokenKernels runs the comparison machinery against
// implementations with typical kernel bugs: each must be reported.
func TestSuitesCatchBrokenKernels(t *testing.T) {
	broken := map[string]struct {
		p    *GemmProblem
		impl GemmImpl
	}{
		"short K": {smallGemm(ref.S8, ref.OutS32, false), func(p *GemmProblem) error {
			q := *p
			q.K--
			return HostGemm(&q)
		}},
		"unwritten element": {smallGemm(ref.S8, ref.OutS8, false), func(p *GemmProblem) error {
			poison := p.C[0]
			err := HostGemm(p)
			p.C[p.COff+3*p.LdCM+4] = poison
			return err
		}},
		"write past the window": {smallGemm(ref.S8, ref.OutF32, true), func(p *GemmProblem) error {
			err := HostGemm(p)
			p.C[4*p.COff-1] ^= 0xff
			return err
		}},
		"write into a row gap": {smallGemm(ref.S8, ref.OutS32, false), func(p *GemmProblem) error {
			err := HostGemm(p)
			p.C[4*(p.COff+p.N)] ^= 0xff // the padding column after row 0
			return err
		}},
		"modified input": {smallGemm(ref.S8, ref.OutS32, false), func(p *GemmProblem) error {
			err := HostGemm(p)
			p.A[0]++
			return err
		}},
		"half noise": {smallGemm(ref.F16, ref.OutF32, false), func(p *GemmProblem) error {
			err := HostGemm(p)
			c := view[float32](p.C)
			for i := 0; i < p.M; i++ {
				for j := 0; j < p.N; j++ {
					c[p.COff+i*p.LdCM+j] *= 1.001
				}
			}
			return err
		}},
		"half one wrong element": {smallGemm(ref.BF16, ref.OutBF16, false), func(p *GemmProblem) error {
			err := HostGemm(p)
			c := view[uint16](p.C)
			c[p.COff+2*p.LdCM+2] ^= 0x4000 // exponent bit: a big error in one of 99 outputs
			return err
		}},
		"device error": {smallGemm(ref.S8, ref.OutS32, false), func(p *GemmProblem) error {
			return fmt.Errorf("CUDA_ERROR_ILLEGAL_ADDRESS")
		}},
	}
	for name, b := range broken {
		if _, err := runDense(b.p, b.impl); err == nil {
			t.Errorf("%s: not detected", name)
		}
	}

	// Sparse: metadata read with the nibbles of each byte swapped.
	rec := &recorder{}
	res := SparseGEMM(rec, ref.S8, func(p *SparseProblem) error {
		q := *p
		q.Meta = bytes.Clone(p.Meta)
		for i, v := range q.Meta {
			q.Meta[i] = v>>4 | v<<4
		}
		return HostSparse(&q)
	}, Short)
	if len(rec.errs) == 0 || len(res) == 0 {
		t.Error("sparse suite: swapped metadata nibbles not detected")
	}

	// Elementwise: round half away from zero instead of to even, a softmax
	// off by 1e-4 relative, and an im2col whose padding is not flipped with
	// the data.
	rec = &recorder{}
	Elementwise(rec, func(p *ElemProblem) error {
		if p.Op == OpIm2col && p.Flip {
			q := *p
			q.Flip = false
			x := bytes.Clone(p.X)
			for i := range x {
				x[i] ^= 0x80
			}
			q.X = x
			return HostElementwise(&q)
		}
		if err := HostElementwise(p); err != nil {
			return err
		}
		switch p.Op {
		case OpQuantize:
			x, y := view[float32](p.X), view[int8](p.Y[p.YOff:])
			for i := 0; i < p.N; i++ {
				v := float64(x[i]) / float64(p.Scale[p.Ch.Of(i)])
				if v == math.Trunc(v)+0.5 && v >= 0 && v < 100 && p.ZeroPoint == nil {
					y[i] = int8(math.Round(v))
				}
			}
		case OpSoftmax:
			y := view[float32](p.Y[p.YOff:])
			for i := 0; i < p.N; i++ {
				y[i] *= 1.0001
			}
		}
		return nil
	}, Short)
	var quant, soft, im2col bool
	for _, e := range rec.errs {
		quant = quant || strings.Contains(e, "quantize")
		soft = soft || strings.Contains(e, "softmax")
		im2col = im2col || strings.Contains(e, "im2col")
	}
	if !quant || !soft || !im2col {
		t.Errorf("elementwise suite: ties rounded away detected %v, softmax error detected %v, unflipped padding detected %v", quant, soft, im2col)
	}
}

// The wgmma probe's check passes its own expectation and tells the three
// kinds of fault apart: two accumulators swapped (other elements of the same
// k-step), the wrong k-step (the same element of another) and operands read
// in the wrong layout (no product at all).
func TestWgmmaProbeCheck(t *testing.T) {
	for _, in := range []ref.Elem{ref.S8, ref.F16} {
		pc := NewWgmmaProbeCase(in, 2, "self")
		want := pc.Want()
		if err := pc.Check(want); err != nil {
			t.Fatal(err)
		}
		swapped := bytes.Clone(want)
		copy(swapped[0:4], want[4:8])
		copy(swapped[4:8], want[0:4])
		if err := pc.Check(swapped); err == nil || !strings.Contains(err.Error(), "2 of 8192") ||
			!strings.Contains(err.Error(), "holds k-step 2 (0, 1)") {
			t.Fatalf("%v swapped registers: %v", in, err)
		}
		other := NewWgmmaProbeCase(in, 3, "self").Want()
		if err := pc.Check(other); err == nil || !strings.Contains(err.Error(), "thread 0 reg 0") ||
			!strings.Contains(err.Error(), "holds k-step 3 (0, 0)") {
			t.Fatalf("%v wrong k-step: %v", in, err)
		}
		garbled := bytes.Clone(want)
		pc.put(garbled[4*100:], 1e9)
		if err := pc.Check(garbled); err == nil || !strings.Contains(err.Error(), "no product of any k-step") {
			t.Fatalf("%v garbled register: %v", in, err)
		}
		// The sparse case: compressed operands whose reference expands them
		// again, two k-steps.
		sp, err := NewWgmmaSparseProbeCase(in, 1, "self")
		if err != nil {
			t.Fatal(err)
		}
		mb := map[ref.Elem]int{ref.S8: 16, ref.F16: 8}[in]
		if len(sp.A) != 64*64 || len(sp.Meta) != 64*mb || len(sp.B) != 128*128 || len(sp.prod) != 2 {
			t.Fatalf("%v sparse probe operands: %d %d %d, %d k-steps", in, len(sp.A), len(sp.Meta), len(sp.B), len(sp.prod))
		}
		if err := sp.Check(sp.Want()); err != nil {
			t.Fatal(err)
		}
		sp0, _ := NewWgmmaSparseProbeCase(in, 0, "self")
		if err := sp.Check(sp0.Want()); err == nil || !strings.Contains(err.Error(), "holds k-step 0 (0, 0)") {
			t.Fatalf("%v sparse wrong k-step: %v", in, err)
		}
	}
}

// TestTmaProbeCheck: the TMA probe's check accepts its own expectation and
// refuses a box landed without the swizzle or without the zero fill.
func TestTmaProbeCheck(t *testing.T) {
	for _, c := range TmaProbeCases() {
		if err := c.Check(c.Want()); err != nil {
			t.Fatalf("%s: Want fails its own check: %v", c.Name, err)
		}
		// Unswizzled: box row r's bytes in order, as a plain 2-D copy lands them.
		plain := make([]byte, 2*c.BoxSize())
		edge := false
		for i, xy := range [2][2]int64{{c.X0, c.Y0}, {c.X1, c.Y1}} {
			for r := 0; r < c.BoxRows; r++ {
				for b := 0; b < c.BoxBytes; b++ {
					x, y := xy[0]+int64(b), xy[1]+int64(r)
					if x < c.RowBytes && y < c.Rows {
						plain[i*c.BoxSize()+r*c.BoxBytes+b] = c.Src[y*c.Pitch+x]
					} else {
						edge = true
					}
				}
			}
		}
		if err := c.Check(plain); (err == nil) != (c.Swizzle == 0) {
			t.Errorf("%s: an unswizzled copy: check returned %v", c.Name, err)
		}
		if !edge {
			t.Errorf("%s: neither box crosses the array's edge", c.Name)
		}
		// No zero fill: the bytes past the edge are not zero.
		dirty := c.Want()
		for i := c.BoxSize(); i < len(dirty); i++ {
			if dirty[i] == 0 {
				dirty[i] = 0x5a
			}
		}
		if c.Check(dirty) == nil {
			t.Errorf("%s: a box without zero fill passes", c.Name)
		}
	}
}
