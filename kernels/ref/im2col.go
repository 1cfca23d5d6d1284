package ref

import "fmt"

// Im2col is the geometry of one image's im2col: a C x H x W image, a KH x
// KW kernel with strides SH, SW, dilations DH, DW and the top and left
// padding PH, PW, giving an OH x OW output.
type Im2col struct {
	C, H, W, KH, KW, SH, SW, DH, DW, PH, PW, OH, OW int
}

// K is the length of a patch, C·KH·KW.
func (g Im2col) K() int { return g.C * g.KH * g.KW }

// Check reports a geometry that describes no im2col: sizes, strides and
// dilations below 1, or negative padding or output sizes.
func (g Im2col) Check() error {
	if g.C < 1 || g.H < 1 || g.W < 1 || g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 ||
		g.PH < 0 || g.PW < 0 || g.OH < 0 || g.OW < 0 {
		return fmt.Errorf("im2col geometry %+v: sizes, strides and dilations must be >= 1, padding and output sizes >= 0", g)
	}
	return nil
}

// Im2colRef writes the im2col matrix of the 8-bit image x (C·H·W bytes)
// into cols, OH·OW rows of ld bytes (ld >= K): row p = oy·OW + ox, column
// k = (c·KH + ky)·KW + kx holds x[c][iy][ix] at iy = oy·SH − PH + ky·DH,
// ix = ox·SW − PW + kx·DW, or pad where that lies outside the image, each
// xor 0x80 where flip is set (uint8 data as int8: v − 128, the pad too);
// columns K..ld−1 are 0. Row p times a weight row is output cell p of a
// convolution (gc_im2col_s8).
func Im2colRef(g Im2col, x []byte, pad byte, flip bool, cols []byte, ld int) error {
	k := g.K()
	switch {
	case g.Check() != nil:
		return g.Check()
	case ld < k:
		return fmt.Errorf("im2col: rows of %d bytes for patches of %d", ld, k)
	case len(x) < g.C*g.H*g.W || len(cols) < g.OH*g.OW*ld:
		return fmt.Errorf("im2col: %d image and %d column bytes, want %d and %d", len(x), len(cols), g.C*g.H*g.W, g.OH*g.OW*ld)
	}
	var fl byte
	if flip {
		fl = 0x80
	}
	for p := 0; p < g.OH*g.OW; p++ {
		oy, ox := p/g.OW, p%g.OW
		row := cols[p*ld : (p+1)*ld]
		for c := 0; c < g.C; c++ {
			for ky := 0; ky < g.KH; ky++ {
				for kx := 0; kx < g.KW; kx++ {
					iy, ix := oy*g.SH-g.PH+ky*g.DH, ox*g.SW-g.PW+kx*g.DW
					v := pad
					if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
						v = x[(c*g.H+iy)*g.W+ix]
					}
					row[(c*g.KH+ky)*g.KW+kx] = v ^ fl
				}
			}
		}
		clear(row[k:])
	}
	return nil
}
