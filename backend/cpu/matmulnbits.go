package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// MSDomain is ONNX Runtime's contrib-op domain, where MatMulNBits and
// QGemm live.
const MSDomain = passes.MSDomain

func init() {
	registry.Register(MSDomain, "MatMulNBits", newMatMulNBits)
	registry.Register(MSDomain, "QGemm", newQGemm)
}

// NBitsLayout describes the packed weight of ONNX Runtime's MatMulNBits
// (com.microsoft): B^T, that is N rows of K values, quantized in blocks of
// BlockSize consecutive values along K (the last block padded), Bits bits
// per value packed little-end first (for 4 bits: element 2i in the low
// nibble, 2i+1 in the high nibble of byte i of the block), stored as
// uint8 [N, KBlocks, BlobSize] with BlobSize = BlockSize*Bits/8. Scales
// are float32 [N*KBlocks]; without zero points a value q dequantizes to
// (q - 2^(Bits-1)) * scale.
type NBitsLayout struct {
	K, N, Bits, BlockSize int
}

// KBlocks is the number of blocks per row.
func (l NBitsLayout) KBlocks() int { return (l.K + l.BlockSize - 1) / l.BlockSize }

// BlobSize is the bytes per block.
func (l NBitsLayout) BlobSize() int { return l.BlockSize * l.Bits / 8 }

// At returns the stored (unsigned) value of row n, position k.
func (l NBitsLayout) At(b []uint8, n, k int) int32 {
	blk, i := k/l.BlockSize, k%l.BlockSize
	off := (n*l.KBlocks()+blk)*l.BlobSize() + i*l.Bits/8
	switch l.Bits {
	case 8:
		return int32(b[off])
	case 4:
		return int32(b[off]>>(4*(i%2))) & 0xF
	}
	return int32(b[off]>>(2*(i%4))) & 0x3
}

// nbitsOp executes MatMulNBits: Y[..., n] = sum_k A[..., k] * W[n, k]
// (+ bias[n]), W[n, k] = (q[n, k] - zp[n, k/BlockSize]) * scale[n,
// k/BlockSize], zp = 2^(Bits-1) unless zero_points (uint8, packed like B,
// one per block) are given.
type nbitsOp struct {
	l NBitsLayout
}

func newMatMulNBits(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	l := NBitsLayout{K: int(n.AttrInt("K", 0)), N: int(n.AttrInt("N", 0)), Bits: int(n.AttrInt("bits", 4)),
		BlockSize: int(n.AttrInt("block_size", 0))}
	if l.K <= 0 || l.N <= 0 {
		return nil, fmt.Errorf("MatMulNBits: K=%d and N=%d must be positive", l.K, l.N)
	}
	if l.Bits != 2 && l.Bits != 4 && l.Bits != 8 {
		return nil, fmt.Errorf("MatMulNBits: bits=%d (want 2, 4 or 8)", l.Bits)
	}
	if l.BlockSize <= 0 || l.BlockSize*l.Bits%8 != 0 {
		return nil, fmt.Errorf("MatMulNBits: block_size %d must be positive and fill whole bytes", l.BlockSize)
	}
	if len(n.Inputs) > 4 && n.Inputs[4] != nil {
		return nil, fmt.Errorf("MatMulNBits: g_idx is not supported")
	}
	op := &nbitsOp{l: l}
	return runtime.OpFunc(op.run), nil
}

// check validates the inputs and returns A's rows, the packed weights,
// scales, per-block zero points and bias.
func (op *nbitsOp) check(in []*tensor.Tensor) (rows int, b []uint8, scale []float32, zp []int32, bias []float32, err error) {
	l := op.l
	if len(in) < 3 || in[0] == nil || in[1] == nil || in[2] == nil {
		return 0, nil, nil, nil, nil, fmt.Errorf("needs A, B and scales")
	}
	a := in[0]
	if a.DType() != tensor.Float32 || a.Rank() < 1 || a.Shape()[a.Rank()-1] != l.K {
		return 0, nil, nil, nil, nil, fmt.Errorf("A is %v; want float32 [..., %d]", a, l.K)
	}
	blocks := l.N * l.KBlocks()
	if in[1].DType() != tensor.Uint8 || in[1].Len() != blocks*l.BlobSize() {
		return 0, nil, nil, nil, nil, fmt.Errorf("B is %v; want uint8 [%d, %d, %d]", in[1], l.N, l.KBlocks(), l.BlobSize())
	}
	if in[2].DType() != tensor.Float32 || in[2].Len() != blocks {
		return 0, nil, nil, nil, nil, fmt.Errorf("scales are %v; want float32 [%d]", in[2], blocks)
	}
	zp = make([]int32, blocks)
	if len(in) > 3 && in[3] != nil {
		z := in[3]
		perRow := (l.KBlocks()*l.Bits + 7) / 8
		if z.DType() != tensor.Uint8 || z.Len() != l.N*perRow {
			return 0, nil, nil, nil, nil, fmt.Errorf("zero points are %v; want uint8 [%d]", z, l.N*perRow)
		}
		zd := tensor.Data[uint8](z)
		mask := int32(1)<<l.Bits - 1
		for n := 0; n < l.N; n++ {
			for k := 0; k < l.KBlocks(); k++ {
				bit := k * l.Bits
				zp[n*l.KBlocks()+k] = int32(zd[n*perRow+bit/8]>>(bit%8)) & mask
			}
		}
	} else {
		for i := range zp {
			zp[i] = 1 << (l.Bits - 1)
		}
	}
	if len(in) > 5 && in[5] != nil {
		if in[5].DType() != tensor.Float32 || in[5].Len() != l.N {
			return 0, nil, nil, nil, nil, fmt.Errorf("bias is %v; want float32 [%d]", in[5], l.N)
		}
		bias = in[5].F32()
	}
	return a.Len() / l.K, tensor.Data[uint8](in[1]), in[2].F32(), zp, bias, nil
}

func (op *nbitsOp) run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	rows, b, scale, zp, bias, err := op.check(in)
	if err != nil {
		return nil, fmt.Errorf("MatMulNBits: %w", err)
	}
	shape := append(append([]int(nil), in[0].Shape()[:in[0].Rank()-1]...), op.l.N)
	y, err := ctx.Alloc(tensor.Float32, shape...)
	if err != nil {
		return nil, fmt.Errorf("MatMulNBits: %w", err)
	}
	MatMulNBits(ctx, op.l, in[0].F32(), rows, b, scale, zp, bias, y.F32())
	return []*tensor.Tensor{y}, nil
}

// MatMulNBitsRef is the reference: dequantize all of W to float32, then
// Y[m, n] = sum_k A[m, k] * W[n, k] accumulated in float32 in k order,
// plus bias[n].
func MatMulNBitsRef(l NBitsLayout, a []float32, rows int, b []uint8, scale []float32, zp []int32, bias []float32, y []float32) {
	w := make([]float32, l.N*l.K)
	for n := 0; n < l.N; n++ {
		for k := 0; k < l.K; k++ {
			blk := n*l.KBlocks() + k/l.BlockSize
			w[n*l.K+k] = float32(l.At(b, n, k)-zp[blk]) * scale[blk]
		}
	}
	for m := 0; m < rows; m++ {
		for n := 0; n < l.N; n++ {
			var s float32
			for k := 0; k < l.K; k++ {
				s += a[m*l.K+k] * w[n*l.K+k]
			}
			if bias != nil {
				s += bias[n]
			}
			y[m*l.N+n] = s
		}
	}
}

// MatMulNBits is the dequant-in-GEMM kernel: output columns are split
// across ctx's threads; each thread dequantizes one row of W (K values)
// into a float32 buffer and takes its dot product with every row of A
// (four partial sums), so W is read once in its packed form and never
// materialised whole. Results match MatMulNBitsRef up to float32
// summation order.
func MatMulNBits(ctx *runtime.Context, l NBitsLayout, a []float32, rows int, b []uint8, scale []float32, zp []int32, bias []float32, y []float32) {
	ctx.ParallelFor(l.N, func(lo, hi int) {
		w := make([]float32, l.K)
		for n := lo; n < hi; n++ {
			dequantRow(l, b, scale, zp, n, w)
			bn := float32(0)
			if bias != nil {
				bn = bias[n]
			}
			for m := 0; m < rows; m++ {
				y[m*l.N+n] = dot(a[m*l.K:(m+1)*l.K], w) + bn
			}
		}
	})
}

// dequantRow writes row n of W into w.
func dequantRow(l NBitsLayout, b []uint8, scale []float32, zp []int32, n int, w []float32) {
	kb := l.KBlocks()
	for blk := 0; blk < kb; blk++ {
		s, z := scale[n*kb+blk], zp[n*kb+blk]
		k0, k1 := blk*l.BlockSize, min((blk+1)*l.BlockSize, l.K)
		off := (n*kb + blk) * l.BlobSize()
		switch l.Bits {
		case 8:
			for k := k0; k < k1; k++ {
				w[k] = float32(int32(b[off+k-k0])-z) * s
			}
		case 4:
			for k := k0; k < k1; k++ {
				i := k - k0
				w[k] = float32(int32(b[off+i/2]>>(4*(i%2))&0xF)-z) * s
			}
		default:
			for k := k0; k < k1; k++ {
				w[k] = float32(l.At(b, n, k)-z) * s
			}
		}
	}
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// PackNBits quantizes W^T (w is [N, K] row-major: row n holds output n's
// weights) symmetrically per block of blockSize values along K: scale =
// max|w| / (2^(bits-1) - 1) (1 for an all-zero block), q = round half to
// even of w/scale in [-(2^(bits-1)-1), 2^(bits-1)-1], stored as q +
// 2^(bits-1) (the default zero point, so no zero-point input is needed);
// padding stores the zero point.
func PackNBits(w []float32, n, k, bits, blockSize int) (NBitsLayout, []uint8, []float32, error) {
	l := NBitsLayout{K: k, N: n, Bits: bits, BlockSize: blockSize}
	if bits != 4 && bits != 8 {
		return l, nil, nil, fmt.Errorf("weight-only: %d bits (want 4 or 8)", bits)
	}
	if blockSize <= 0 || blockSize*bits%8 != 0 {
		return l, nil, nil, fmt.Errorf("weight-only: block size %d", blockSize)
	}
	if len(w) != n*k {
		return l, nil, nil, fmt.Errorf("weight-only: %d values for [%d, %d]", len(w), n, k)
	}
	kb := l.KBlocks()
	qmax := float64(int(1)<<(bits-1) - 1)
	zp := int(1) << (bits - 1)
	b := make([]uint8, n*kb*l.BlobSize())
	scales := make([]float32, n*kb)
	for r := 0; r < n; r++ {
		for blk := 0; blk < kb; blk++ {
			k0, k1 := blk*blockSize, min((blk+1)*blockSize, k)
			amax := 0.0
			for _, v := range w[r*k+k0 : r*k+k1] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			s := float32(amax / qmax)
			if s == 0 {
				s = 1
			}
			scales[r*kb+blk] = s
			off := (r*kb + blk) * l.BlobSize()
			for i := 0; i < blockSize; i++ {
				q := zp
				if k0+i < k1 {
					v := math.RoundToEven(float64(w[r*k+k0+i]) / float64(s))
					q = int(math.Max(-qmax, math.Min(qmax, v))) + zp
				}
				switch bits {
				case 8:
					b[off+i] = uint8(q)
				case 4:
					b[off+i/2] |= uint8(q) << (4 * (i % 2))
				}
			}
		}
	}
	return l, b, scales, nil
}
