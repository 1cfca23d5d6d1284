package kerneltest

import "fmt"

// TmaProbeCase is the problem of the TMA probe (gc_tma_probe,
// kernels/gemm_wgmma.cu): a byte array Src of Rows rows of RowBytes, Pitch
// bytes apart, random bytes that are never zero (so a zero in the output
// can only be the fill); a box of BoxRows x BoxBytes with a swizzle span of
// Swizzle bytes; and two box positions (byte, row). The probe returns both
// boxes as they landed in shared memory, and Check compares them with the
// layout kernels/tma.cuh states, written here the way the GEMMs address it:
// box row r at r BoxBytes, with 16-byte chunk c of a 128-byte row (128-byte
// swizzle) at chunk c ^ (r % 8) -- swz128 -- and of a 64-byte row (64-byte
// swizzle) at c ^ ((r / 2) % 4) -- swz64; elements outside the array zero.
type TmaProbeCase struct {
	Name                  string
	Src                   []byte
	RowBytes, Rows, Pitch int64
	BoxBytes, BoxRows     int
	Swizzle               int
	X0, Y0, X1, Y1        int64
}

// TmaProbeCases are the probes of the layouts the TMA GEMMs copy: 128-byte
// rows with the 128-byte swizzle (dense A and B, 2:4 B), 64-byte rows with
// the 64-byte swizzle (compressed 2:4 A), 16-byte rows unswizzled (int8
// metadata), each once inside the array and once over its right and
// bottom edges.
func TmaProbeCases() []*TmaProbeCase {
	cs := []*TmaProbeCase{
		{Name: "128-byte rows, 128-byte swizzle", Rows: 300, RowBytes: 200, Pitch: 208, BoxBytes: 128, BoxRows: 128,
			Swizzle: 128, X0: 16, Y0: 8, X1: 128, Y1: 250},
		{Name: "64-byte rows, 64-byte swizzle", Rows: 300, RowBytes: 200, Pitch: 224, BoxBytes: 64, BoxRows: 256,
			Swizzle: 64, X0: 0, Y0: 0, X1: 160, Y1: 100},
		{Name: "16-byte rows, no swizzle", Rows: 300, RowBytes: 200, Pitch: 208, BoxBytes: 16, BoxRows: 128,
			Swizzle: 0, X0: 32, Y0: 10, X1: 192, Y1: 200},
	}
	r := rng("tma probe")
	for _, c := range cs {
		c.Src = make([]byte, c.Rows*c.Pitch)
		for i := range c.Src {
			c.Src[i] = byte(1 + r.IntN(255))
		}
	}
	return cs
}

// BoxSize is the bytes of one box.
func (c *TmaProbeCase) BoxSize() int { return c.BoxBytes * c.BoxRows }

// at is the shared-memory offset, within a box, of byte b of box row r.
func (c *TmaProbeCase) at(r, b int) int {
	chunk, in := b/16, b%16
	switch {
	case c.Swizzle == 128 && c.BoxBytes == 128:
		chunk ^= r % 8
	case c.Swizzle == 64 && c.BoxBytes == 64:
		chunk ^= r / 2 % 4
	case c.Swizzle != 0:
		panic(fmt.Sprintf("kerneltest: no TMA probe layout for %d-byte rows with the %d-byte swizzle", c.BoxBytes, c.Swizzle))
	}
	return r*c.BoxBytes + chunk*16 + in
}

// Want is the expected output: the box at (X0, Y0), then the one at (X1, Y1).
func (c *TmaProbeCase) Want() []byte {
	return append(c.Boxes(c.X0, c.Y0, 1), c.Boxes(c.X1, c.Y1, 1)...)
}

// Boxes is n boxes as they land in shared memory, one after another: the
// one at byte x, row y, the one BoxRows rows below, and so on (the boxes of
// a cluster's blocks in gc_cluster_probe).
func (c *TmaProbeCase) Boxes(x, y int64, n int) []byte {
	out := make([]byte, n*c.BoxSize())
	for i := 0; i < n; i++ {
		box := out[i*c.BoxSize() : (i+1)*c.BoxSize()]
		y0 := y + int64(i*c.BoxRows)
		for r := 0; r < c.BoxRows; r++ {
			for b := 0; b < c.BoxBytes; b++ {
				gx, gy := x+int64(b), y0+int64(r)
				if gx >= 0 && gx < c.RowBytes && gy >= 0 && gy < c.Rows {
					box[c.at(r, b)] = c.Src[gy*c.Pitch+gx]
				}
			}
		}
	}
	return out
}

// Check compares the probe's output with Want and names the first byte
// that differs.
func (c *TmaProbeCase) Check(got []byte) error {
	return c.CheckBoxes("TMA probe "+c.Name, got, c.Want())
}

// CheckBoxes compares boxes got with want (both as Boxes lays them out)
// and names the first byte that differs.
func (c *TmaProbeCase) CheckBoxes(what string, got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			box, off := i/c.BoxSize(), i%c.BoxSize()
			return fmt.Errorf("%s: box %d, shared byte %d (row %d, chunk %d): got %#02x, want %#02x",
				what, box, off, off/c.BoxBytes, off%c.BoxBytes/16, got[i], want[i])
		}
	}
	return nil
}
