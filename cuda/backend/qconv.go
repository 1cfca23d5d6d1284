package backend

import (
	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// qconvPlan is an ONNX QLinearConv rewritten for the GPU's im2col and
// signed int8 GEMM, one image at a time, for a 2-D convolution of one
// group whose weight, scales, zero points and bias are initializers, the
// weight int8 with zero zero points. With m the output channel, k = (c·KH
// + ky)·KW + kx the patch index and p = oy·OW + ox the output cell:
//
//	acc[m][p] = Σ_k (cols[p][k] − x_zp)·W[m][k] + B[m]
//	          = Σ_k cols'[p][k]·W[m][k] + bias[m],
//	cols' = cols − shift (int8: shift 128 for uint8 x, 0 for int8; taps
//	        outside the image hold x_zp, so they add nothing),
//	bias[m] = B[m] + (shift − x_zp)·Σ_k W[m][k]        (int32, wrapping),
//	y[m][p] = saturate(round_half_even(float32(acc)·mult[m]) + zp),
//	mult[m] = float32(x_scale)·float32(w_scale[m]) / float32(y_scale)   (float32, as the CPU's),
//
// zp = y_zp, or y_zp − 128 for a uint8 y, whose bytes are then shifted
// back. cols is gc_im2col_s8's matrix (ref.Im2colRef) and the product the
// GEMM's A = W (M x K) times its B = cols' (P x K), stored as y's M x P
// plane of the image: NCHW. The CPU computes mult·acc in float64, the
// epilogue in float32, so an output may differ from the CPU backend's by
// one near a half.
type qconvPlan struct {
	w        *tensor.Tensor // M x K, int8
	win      graph.Window   // completed for two spatial axes
	xDT, yDT tensor.DType   // uint8 or int8 each
	pad      byte           // x's zero point as stored: the padding taps
	bias     []int32
	mult     []float32
	zp       int64
}

// planQLinearConv returns n's plan, or nil where the GPU cannot run it
// (the CPU then does).
func planQLinearConv(n *graph.Node) *qconvPlan {
	c := func(i int) *tensor.Tensor { return graph.ConstTensor(n.Input(i)) }
	if n.AttrInt("group", 1) != 1 || len(n.Inputs) < 8 {
		return nil
	}
	w, sx, zx, sw, sy, zy := c(3), c(1), c(2), c(4), c(6), c(7)
	if w == nil || w.DType() != tensor.Int8 || w.Rank() != 4 || w.Len() == 0 || !isZeroConst(n.Input(5)) ||
		sx == nil || sx.Len() != 1 || zx == nil || zx.Len() != 1 || sy == nil || sy.Len() != 1 || zy == nil || zy.Len() != 1 {
		return nil
	}
	m := w.Shape()[0]
	if sw == nil || sw.Len() != 1 && sw.Len() != m {
		return nil
	}
	win, err := graph.NodeWindow(n)
	if err != nil {
		return nil
	}
	if win, err = win.Spatial(2, w.Shape()[2:]); err != nil || win.CeilMode {
		return nil
	}
	p := &qconvPlan{win: win, xDT: zx.DType(), yDT: zy.DType(), zp: int64(zy.Float64At(0))}
	if !eightBit(p.xDT) || !eightBit(p.yDT) {
		return nil
	}
	p.pad = zx.RawBytes()[0]
	var b *tensor.Tensor
	if n.Input(8) != nil {
		if b = c(8); b == nil || b.DType() != tensor.Int32 || b.Len() != m {
			return nil
		}
	}
	k := w.Len() / m
	p.w = tensor.FromSlice([]int{m, k}, tensor.Data[int8](w))
	shift, xzp := unsignedShift(p.xDT), int32(zx.Float64At(0))
	wd := tensor.Data[int8](w)
	p.bias = make([]int32, m)
	p.mult = make([]float32, m)
	for o := range p.bias {
		var sum int32
		for _, v := range wd[o*k : (o+1)*k] {
			sum += int32(v)
		}
		p.bias[o] = (shift - xzp) * sum
		if b != nil {
			p.bias[o] += tensor.Data[int32](b)[o]
		}
		ws := sw.Float64At(min(o, sw.Len()-1))
		p.mult[o] = float32(sx.Float64At(0)) * float32(ws) / float32(sy.Float64At(0))
	}
	p.zp -= int64(unsignedShift(p.yDT))
	return p
}

func eightBit(dt tensor.DType) bool { return dt == tensor.Uint8 || dt == tensor.Int8 }

// geometry is the im2col of one image of x's shape [N, C, H, W] (false
// where the shape does not fit the weight or the window leaves no
// output).
func (p *qconvPlan) geometry(xShape []int) (ref.Im2col, bool) {
	if len(xShape) != 4 || xShape[1]*p.win.Kernel[0]*p.win.Kernel[1] != p.w.Shape()[1] {
		return ref.Im2col{}, false
	}
	oh, ph, _, err := p.win.Axis(0, xShape[2])
	if err != nil {
		return ref.Im2col{}, false
	}
	ow, pw, _, err := p.win.Axis(1, xShape[3])
	if err != nil || oh < 1 || ow < 1 {
		return ref.Im2col{}, false
	}
	return ref.Im2col{C: xShape[1], H: xShape[2], W: xShape[3], KH: p.win.Kernel[0], KW: p.win.Kernel[1],
		SH: p.win.Strides[0], SW: p.win.Strides[1], DH: p.win.Dilations[0], DW: p.win.Dilations[1],
		PH: ph, PW: pw, OH: oh, OW: ow}, true
}

// qconvDevice is a plan's constants on the device: the weight (M rows of
// ld bytes, zero past K), the multipliers and the bias (float32 and int32
// per output channel).
type qconvDevice struct {
	w, mult, bias cuda.Mem
	ld            int
}

// deviceWeight is the weight as qconvDevice holds it: M rows of ld bytes.
func (p *qconvPlan) deviceWeight(ld int) []byte {
	return padRows(p.w.RawBytes(), p.w.Shape()[0], p.w.Shape()[1], ld, 1)
}

// qconvStep is one image's two launches: its im2col and the GEMM.
type qconvStep struct {
	col  *gobind.Im2colArgs
	gemm *gobind.GemmArgs
}

// steps are the launches of the convolution of batch images at x
// (geometry g each, C·H·W bytes apart) into y (int8 bytes, NCHW), through
// the column matrix cols (OH·OW rows of d.ld bytes): per image
// gc_im2col_s8, then the int8 GEMM in tile shape tile ("": the device's
// default) of the weight by the columns, requantized per row (output
// channel) into the image's M x OH·OW plane. Launched in order on one
// stream, images share cols.
func (p *qconvPlan) steps(d qconvDevice, tile string, g ref.Im2col, batch int, x, y, cols cuda.Mem) ([]qconvStep, error) {
	m, pix, img, ld := p.w.Shape()[0], g.OH*g.OW, int64(g.C*g.H*g.W), int64(d.ld)
	var steps []qconvStep
	for i := 0; i < batch; i++ {
		xi, err := x.Slice(int64(i)*img, img)
		if err != nil {
			return nil, err
		}
		yi, err := y.Slice(int64(i*m*pix), int64(m*pix))
		if err != nil {
			return nil, err
		}
		steps = append(steps, qconvStep{
			col: &gobind.Im2colArgs{X: xi, Cols: cols, Geom: g, Ld: ld, Pad: p.pad, Flip: p.xDT == tensor.Uint8},
			gemm: &gobind.GemmArgs{In: gobind.S8, Tile: tile, M: int64(m), N: int64(pix), K: ld, A: d.w, LdA: ld, B: cols, LdB: ld,
				Epilogue: gobind.Epilogue{Out: ref.OutS8, C: yi, LdCM: int64(pix), LdCN: 1, Scale: d.mult, Bias: d.bias,
					Axis: ref.PerRow, ZeroPoint: p.zp}},
		})
	}
	return steps, nil
}
