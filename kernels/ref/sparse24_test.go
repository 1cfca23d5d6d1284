package ref

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/tensor"
)

// random24 makes a rows×cols int8 matrix with at most 2 non-zeros in every
// group of 4 (sometimes fewer, to exercise the fill rules).
func random24(rng *rand.Rand, rows, cols int) []int8 {
	a := make([]int8, rows*cols)
	for r := 0; r < rows; r++ {
		for g := 0; g < cols; g += 4 {
			keep := rng.IntN(3) // 0, 1 or 2 non-zeros
			perm := rng.Perm(4)
			for _, c := range perm[:keep] {
				if g+c < cols {
					v := int8(rng.IntN(255) - 127)
					if v == 0 {
						v = 1
					}
					a[r*cols+g+c] = v
				}
			}
		}
	}
	return a
}

func TestCompress24KnownLayout(t *testing.T) {
	// Every group keeps columns 0 and 2 (the pattern of the MLIR mma.sp
	// integration test, metadata 0x8888 per 16 columns): each nibble is
	// 0b1000 (first = 0, second = 2), so every metadata byte is 0x88.
	row := []int8{1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0}
	s, err := Compress24(1, 16, row, 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	if s.Cols != 16 || len(s.Meta) != 2 || s.Meta[0] != 0x88 || s.Meta[1] != 0x88 {
		t.Fatalf("meta %x (cols %d), want 88 88", s.Meta, s.Cols)
	}
	for i, v := range s.Values {
		if v != int8(i+1) {
			t.Fatalf("values %v, want 1..8", s.Values)
		}
	}
	// A little-endian uint16 at byte 2t holds groups 4t..4t+3: the 16-bit
	// half of an mma.sp metadata register.
	if got := binary.LittleEndian.Uint16(s.Meta); got != 0x8888 {
		t.Fatalf("uint16 metadata %#x, want 0x8888", got)
	}

	// Fill rules: empty group -> (0,1) = 0x4; lone non-zero at 3 -> (0,3) =
	// 0xc; lone at 0 -> (0,1); two at 1,3 -> 0b1101 = 0xd; padding 4 -> 8
	// columns adds an empty group.
	row2 := []int8{0, 0, 0, 0, 0, 0, 0, 9, 5, 0, 0, 0, 0, 6, 0, 7}
	s2, err := Compress24(1, 16, row2, 16, 8)
	if err != nil {
		t.Fatal(err)
	}
	wantNib := [][2]int{{0, 1}, {0, 3}, {0, 1}, {1, 3}}
	for g, w := range wantNib {
		if a, b := s2.Nibble(0, g); a != w[0] || b != w[1] {
			t.Errorf("group %d: nibble (%d,%d), want %v", g, a, b, w)
		}
	}
	if s2.Meta[0] != 0xc4 || s2.Meta[1] != 0xd4 {
		t.Errorf("meta bytes %x, want c4 d4", s2.Meta)
	}
	wantVals := []int8{0, 0, 0, 9, 5, 0, 6, 7}
	for i := range wantVals {
		if s2.Values[i] != wantVals[i] {
			t.Fatalf("values %v, want %v", s2.Values, wantVals)
		}
	}
	padded, err := Compress24(1, 5, []int8{1, 2, 0, 0, 3}, 5, 16)
	if err != nil {
		t.Fatal(err)
	}
	if padded.Cols != 16 || padded.ValueStride() != 8 || padded.MetaStride() != 2 {
		t.Fatalf("padded to %d cols, strides %d/%d", padded.Cols, padded.ValueStride(), padded.MetaStride())
	}
	if d := padded.Decompress(); d[4] != 3 || d[5] != 0 || d[15] != 0 {
		t.Fatalf("padded decompress %v", d)
	}
}

func TestCompress24Errors(t *testing.T) {
	_, err := Compress24(1, 8, []int8{1, 2, 3, 0, 0, 0, 0, 0}, 8, 8)
	if err == nil || !strings.Contains(err.Error(), "row 0, columns 0..3") {
		t.Fatalf("3 non-zeros in a group: err %v", err)
	}
	if _, err := Compress24(1, 8, make([]int8, 8), 8, 6); err == nil {
		t.Fatal("padding 6 accepted")
	}
	if _, err := Compress24(2, 8, make([]int8, 8), 8, 8); err == nil {
		t.Fatal("short input accepted")
	}
	s := &Sparse24[int8]{Rows: 1, Cols: 8, Values: make([]int8, 4), Meta: []byte{0x45}}
	if err := s.Validate(); err == nil {
		t.Fatal("nibble 0b0101 (same column twice) accepted")
	}
	s.Meta = []byte{0x41} // nibble 0b0001: first 1, second 0 (decreasing)
	if err := s.Validate(); err == nil {
		t.Fatal("decreasing nibble accepted")
	}
	s.Meta = []byte{}
	if err := s.Validate(); err == nil {
		t.Fatal("short metadata accepted")
	}
}

func TestCompress24RoundTripAndGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range [][3]int{{1, 1, 4}, {3, 5, 12}, {17, 9, 128}, {8, 16, 200}} {
		m, n, k := sh[0], sh[1], sh[2]
		a := random24(rng, m, k)
		s, err := Compress24(m, k, a, k, 128)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		d := s.Decompress()
		for r := 0; r < m; r++ {
			for c := 0; c < s.Cols; c++ {
				want := int8(0)
				if c < k {
					want = a[r*k+c]
				}
				if d[r*s.Cols+c] != want {
					t.Fatalf("%v: decompress (%d,%d) = %d, want %d", sh, r, c, d[r*s.Cols+c], want)
				}
			}
		}
		// B padded to s.Cols with zeros: the sparse GEMM through metadata
		// equals the dense GEMM on the decompressed matrix.
		b := make([]int8, n*s.Cols)
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				b[j*s.Cols+p] = int8(rng.IntN(256) - 128)
			}
		}
		got := make([]int32, m*n)
		want := make([]int32, m*n)
		if err := SparseGemmRef(s, n, b, s.Cols, OutS32, got, n, 1, nil); err != nil {
			t.Fatal(err)
		}
		if err := Int8GemmRef(m, n, s.Cols, d, s.Cols, b, s.Cols, OutS32, want, n, 1, nil); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: sparse %d != dense %d at %d", sh, got[i], want[i], i)
			}
		}
	}
}

func TestSparseGemmRefHalf(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, n, k := 6, 5, 64
	a8 := random24(rng, m, k)
	a := make([]tensor.F16, len(a8))
	for i, v := range a8 {
		a[i] = tensor.NewF16(float32(v) / 16)
	}
	if !Is24(m, k, a, k) {
		t.Fatal("Is24 false on a 2:4 matrix")
	}
	s, err := Compress24(m, k, a, k, 64)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]tensor.F16, n*k)
	for i := range b {
		b[i] = tensor.NewF16(float32(rng.IntN(200)-100) / 32)
	}
	got := make([]float32, m*n)
	want := make([]float32, m*n)
	if err := SparseGemmRef(s, n, b, k, OutF32, got, n, 1, nil); err != nil {
		t.Fatal(err)
	}
	if err := HalfGemmRef(m, n, k, s.Decompress(), k, b, k, OutF32, want, n, 1, nil); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] { // small dyadic values: both sums exact
			t.Fatalf("half sparse %v != dense %v at %d", got[i], want[i], i)
		}
	}
	if err := SparseGemmRef(s, n, b, k, OutS8, make([]int8, m*n), n, 1, nil); err == nil {
		t.Fatal("s8 output of a half sparse gemm accepted")
	}
	dense := []tensor.F16{1, 1, 1, 0}
	if Is24(1, 4, dense, 4) {
		t.Fatal("Is24 true with 3 non-zeros")
	}
	negZero := []tensor.F16{0x8000, 0x8000, 0x8000, 0x3c00}
	if !Is24(1, 4, negZero, 4) {
		t.Fatal("-0 counted as non-zero")
	}
}

// TestByKTile: every byte of a row-major matrix (with a row stride past its
// bytes) lands at its k tile's run, the padding rows are zero, and bad
// shapes fail.
func TestByKTile(t *testing.T) {
	const rows, rowBytes, lde, tile, pad = 3, 32, 40, 16, 4 // two k tiles of 16 bytes a row
	meta := make([]byte, (rows-1)*lde+rowBytes)
	for i := range meta {
		meta[i] = byte(i + 1)
	}
	got, rowStride, tileStride, err := ByKTile(meta, rows, rowBytes, lde, tile, pad)
	if err != nil {
		t.Fatal(err)
	}
	if rowStride != tile || tileStride != pad*tile {
		t.Fatalf("strides %d, %d; want %d, %d", rowStride, tileStride, tile, pad*tile)
	}
	if len(got) != 2*pad*tile {
		t.Fatalf("%d bytes, want %d", len(got), 2*pad*tile)
	}
	for kt := 0; kt < 2; kt++ {
		for r := 0; r < pad; r++ {
			for b := 0; b < tile; b++ {
				want := byte(0)
				if r < rows {
					want = meta[r*lde+kt*tile+b]
				}
				if g := got[(kt*pad+r)*tile+b]; g != want {
					t.Fatalf("k tile %d row %d byte %d: %d, want %d", kt, r, b, g, want)
				}
			}
		}
	}
	for _, c := range []struct{ rows, rowBytes, lde, tile, pad int }{
		{rows, rowBytes, lde, tile, rows - 1}, {rows, rowBytes + 1, lde, tile, pad}, {rows, rowBytes, rowBytes - 1, tile, pad},
		{rows + 1, rowBytes, lde, tile, pad + 1}, {rows, rowBytes, lde, 0, pad},
	} {
		if _, _, _, err := ByKTile(meta, c.rows, c.rowBytes, c.lde, c.tile, c.pad); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	// The format's two: strides of the values in elements (f16: 64 bytes
	// of a k tile are 32 elements), of the metadata in bytes.
	f := FormatSparse24F16
	vals := make([]byte, 3*128) // 3 rows of 128 columns: 64 halves, two k tiles
	if _, ldv, ldvk, err := f.ValuesByKTile(vals, 3, 128, 64, 4); err != nil || ldv != 32 || ldvk != 4*64 {
		t.Errorf("f16 values: strides %d, %d, %v; want 32 elements, 256 bytes", ldv, ldvk, err)
	}
	if _, lde, ldek, err := f.MetaByKTile(make([]byte, 3*16), 3, 128, 16, 4); err != nil || lde != 8 || ldek != 4*8 {
		t.Errorf("f16 metadata: strides %d, %d, %v; want 8, 32 bytes", lde, ldek, err)
	}
}
