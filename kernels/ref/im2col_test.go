package ref

import (
	"bytes"
	"testing"
)

// TestIm2colRef: a 1 x 3 x 3 image, 2 x 2 kernel, stride 1, padding 1 on
// top and left (so the first row and column of patches reach outside),
// worked out by hand; then the flip of uint8 data and the zero columns
// past K.
func TestIm2colRef(t *testing.T) {
	x := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}
	g := Im2col{C: 1, H: 3, W: 3, KH: 2, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, PH: 1, PW: 1, OH: 2, OW: 2}
	got := make([]byte, 4*5)
	if err := Im2colRef(g, x, 200, false, got, 5); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		200, 200, 200, 1, 0, // (0,0): rows -1..0, cols -1..0
		200, 200, 1, 2, 0, // (0,1)
		200, 1, 200, 4, 0, // (1,0)
		1, 2, 4, 5, 0, // (1,1)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("im2col\n got %v\nwant %v", got, want)
	}
	if err := Im2colRef(g, x, 200, true, got, 5); err != nil {
		t.Fatal(err)
	}
	if got[0] != 200^0x80 || got[3] != 1^0x80 || got[4] != 0 {
		t.Errorf("flipped: % x, want pad and data xor 0x80 and a zero past K", got[:5])
	}
	// Stride 2 and dilation 2 on a 2-channel 5 x 5 image: one patch.
	x2 := make([]byte, 50)
	for i := range x2 {
		x2[i] = byte(i)
	}
	g2 := Im2col{C: 2, H: 5, W: 5, KH: 2, KW: 2, SH: 2, SW: 2, DH: 2, DW: 2, OH: 1, OW: 1}
	got2 := make([]byte, 8)
	if err := Im2colRef(g2, x2, 0, false, got2, 8); err != nil {
		t.Fatal(err)
	}
	if want2 := []byte{0, 2, 10, 12, 25, 27, 35, 37}; !bytes.Equal(got2, want2) {
		t.Errorf("dilated: got %v, want %v", got2, want2)
	}
	if Im2colRef(g, x, 0, false, got, 3) == nil {
		t.Error("rows shorter than a patch were accepted")
	}
}
