//go:build gcompress_emu

package backend

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/kernels/emu"
	"github.com/gcompress/gcompress/tensor"
)

// TestEmulatedQLinearConv runs the launches qconvOp makes
// (qconvPlan.steps: gc_im2col_s8 and the int8 GEMM per image, the constants
// laid out as the op uploads them) on the CPU emulator of the kernels, in
// an mma.sync and a wgmma TMA tile shape, the output and column buffers
// poisoned first, and compares with the CPU backend's QLinearConv on
// qconvCases: within one, as on the GPU.
func TestEmulatedQLinearConv(t *testing.T) {
	r := emu.NewRunner()
	upload := func(b []byte) cuda.Mem {
		m, err := r.Upload(b)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Free(m) })
		return m
	}
	poisoned := func(n int) cuda.Mem { return upload(bytes.Repeat([]byte{0xA5}, n)) }
	cases := qconvCases(t, rand.New(rand.NewPCG(10, 10)))
	for _, tile := range []string{"t128x128k64", "w128x256t"} {
		for i, c := range cases {
			p := planQLinearConv(c.n)
			if p == nil {
				t.Fatalf("case %d: no plan", i)
			}
			g, ok := p.geometry(c.x.Shape())
			if !ok {
				t.Fatalf("case %d: no geometry", i)
			}
			d := qconvDevice{ld: roundUp(p.w.Shape()[1], 16)}
			d.w, d.mult, d.bias = upload(p.deviceWeight(d.ld)), upload(rawCopy(p.mult)), upload(rawCopy(p.bias))
			y := tensor.MustNew(p.yDT, c.want.Shape()...)
			ym := poisoned(y.Len())
			steps, err := p.steps(d, tile, g, c.x.Shape()[0], upload(c.x.RawBytes()), ym, poisoned(g.OH*g.OW*d.ld))
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			for _, s := range steps {
				for _, spec := range []func() (gobind.LaunchSpec, error){s.col.Spec, s.gemm.Spec} {
					ls, err := spec()
					if err == nil {
						err = r.Launch(ls)
					}
					if err != nil {
						t.Fatalf("case %d: %v", i, err)
					}
				}
			}
			if err := r.Download(y.RawBytes(), ym); err != nil {
				t.Fatal(err)
			}
			if p.yDT == tensor.Uint8 {
				unsignedOut(y.RawBytes())
			}
			withinOne(t, fmt.Sprintf("%s case %d", tile, i), y, c.want)
		}
	}
}
