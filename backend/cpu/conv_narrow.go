package cpu

import "github.com/gcompress/gcompress/runtime"

// narrowMaxM is the most output channels a convolution may have to run on
// the narrow kernel (gc_conv_narrow_f32), which puts output cells along
// the vector lanes. Below one block of 16 channels the blocked kernel's
// tiles (16 channels by up to 6 pixels on AVX2) and the GEMM's (6 rows)
// are mostly padding: a LeNet-5 first convolution has 6 channels, a
// channel-pruned one 2.
var narrowMaxM = 15

// narrowMaxScratch bounds the narrow kernel's scratch per task (floats:
// the padded planes of every input channel, then the output rows as
// computed): 16 MB.
const narrowMaxScratch = 1 << 22

// narrowPool is the max pool the narrow kernel applies to a convolution's
// output (FusedConvPool): its kernel, strides, leading pads and output
// size, each (rows, columns).
type narrowPool struct {
	kernel, strides, pads, out [2]int
}

// convNarrowF32 runs group-1 2-D float32 convolution g of at most
// narrowMaxM output channels, other than a pointwise one (1x1, unit
// strides, no pads: the GEMM reads its input in place and was as fast or
// faster in BenchmarkConvNarrow, 2-3x at 512 input channels), on the
// narrow kernel, with bias, z and op's activation in its store, the
// pre-activation pre (or nil) applied to a copy of x first, and then,
// when pool is not nil, the max pool (y is then the pooled output, and z
// nil); each task is a run of whole images, or, when there are fewer
// images than threads, a part of one image's output rows. It reports
// false when the convolution is not one it handles or the kernels are
// not built.
func convNarrowF32(ctx *runtime.Context, op *convOp, g *convGeom, x, w, bias, z, y, pre []float32, pool *narrowPool) bool {
	if !simdBuilt || CPULevel(level.Load()) < LevelAVX2 || g.group != 1 || g.m > narrowMaxM || !g.planar() || g.pointwise() {
		return false // a pointwise convolution is a GEMM that reads X as it is
	}
	oh := g.out[1] // the rows of y
	if pool != nil {
		oh = pool.out[0]
	}
	geom := [28]int64{0, 0, int64(g.m), int64(g.c), 1, int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]),
		int64(g.kernel[1]), int64(g.kernel[2]), int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]),
		int64(g.dil[1]), int64(g.dil[2]), 0, 0, int64(oh)}
	if op.act.clamp {
		geom[17] = 1
	}
	if pool != nil {
		copy(geom[20:], []int64{int64(pool.kernel[0]), int64(pool.kernel[1]), int64(pool.strides[0]), int64(pool.strides[1]),
			int64(pool.pads[0]), int64(pool.pads[1]), int64(pool.out[0]), int64(pool.out[1])})
	}
	scratch := convNarrowScratch(&geom)
	if scratch > narrowMaxScratch {
		return false
	}
	if pre != nil {
		x = preApplyTensor(x, pre, op.preRelu, g.batch, g.c, g.inSize)
	}
	off := make([]int64, g.kernel[1]*g.kernel[2])
	convNarrowOffsets(&geom, off)
	threads := min(ctx.Threads, max(1, g.batch*g.m*g.outSize*g.c*g.kSize/convMinTaskWork))
	parts := 1 // row parts per image
	if g.batch < threads {
		parts = min(oh, (threads+g.batch-1)/g.batch)
	}
	tasks := g.batch * parts
	if parts == 1 {
		tasks = min(g.batch, threads) // runs of images
	}
	runtime.Parallel(tasks, threads, func(t int) {
		geom := geom
		if parts == 1 {
			geom[0], geom[1] = int64(t*g.batch/tasks), int64((t+1)*g.batch/tasks)
		} else {
			img, part := t/parts, t%parts
			geom[0], geom[1] = int64(img), int64(img+1)
			geom[18], geom[19] = int64(part*oh/parts), int64((part+1)*oh/parts)
		}
		if geom[0] == geom[1] || geom[18] == geom[19] {
			return
		}
		buf := getF32(scratch)
		defer putF32(buf)
		convNarrowC(x, w, bias, z, y, (*buf)[:scratch], off, &geom, op.act.lo, op.act.hi)
	})
	return true
}
