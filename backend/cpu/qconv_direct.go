// Direct INT8 convolution (gc_qconv_vnni512, simd_qconv_amd64.c): for
// 2-D convolutions with 8-bit activations and int8 weights on CPUs with
// AVX-512 VNNI and VBMI. The kernel reads the image in place (or a padded
// copy) through per-tile vpermb indices instead of packing im2col or
// Toeplitz panels, which is what dominates small convolutions such as
// LeNet-5's (6 and 16 output channels, K = 25 and 150), and QLinearConv
// requantizes inside it. Results equal the reference: the products are
// exact integers and the requantization is gc_requant's float64
// arithmetic.

package cpu

import (
	"math"
	"sync"

	"golang.org/x/sys/cpu"

	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// Layout constants of gc_qconv_vnni512's geom (checked against the C
// header at init): fixed entries, then at most qconvMaxGroups tap-group
// offsets.
const (
	qconvGeomFixed = 10
	qconvMaxGroups = 8
)

// qconvSplitMinWork is the least work (output channels x K dwords x
// pixels) for which one image's tiles split over the threads: a parallel
// section costs about a microsecond.
var qconvSplitMinWork = 1 << 18

// qconvDirectCPU reports that this build and CPU have the direct kernel's
// instructions; it runs at the avx512vnni level only.
var qconvDirectCPU = simdBuilt && cpu.X86.HasAVX512VBMI

// qconvDirectUse overrides the choice between the direct kernel and the
// INT8 GEMM (BenchmarkQLinearConv times both on every shape).
var qconvDirectUse = qconvAuto

const (
	qconvAuto   = iota // the direct kernel where it is faster (directPlan)
	qconvAlways        // wherever it applies
	qconvNever
)

// qconvDirectOn reports whether the direct kernel is active now.
func qconvDirectOn() bool {
	return qconvDirectCPU && qconvDirectUse != qconvNever && CPULevel(level.Load()) == LevelAVX512VNNI
}

// qconvKey is what a qconvPlan depends on.
type qconvKey struct {
	cg, mg, group          int
	ih, iw, oh, ow, kh, kw int
	sh, sw, ph, pw, dh, dw int
	flip                   bool // int8 activations, read as x XOR 0x80
	w                      *tensor.Tensor
}

// qconvPlan is one geometry of the direct kernel: the tiles of output
// pixels with their permutation indices, the image the kernel reads (x in
// place, or a padded copy) and the weights packed for it.
type qconvPlan struct {
	key     qconvKey
	copyIn  bool
	padGeom [10]int64 // gc_qconv_pad's geom for one group image
	padLen  int       // bytes of the padded copy
	geom    [qconvGeomFixed + qconvMaxGroups]int64
	tiles   []int32 // 4 per tile, see simd_amd64.h
	idx     []byte  // 64 per tile
	wpk     []int32 // group g's packed weights at g*mg*K
	k       int     // K = cg*kh*ngroups dwords per output channel
	sumW    []int32 // per output channel: sum of its weights
}

// qconvCache holds the plan of the last geometry an op ran.
type qconvCache struct {
	mu   sync.Mutex
	plan *qconvPlan
}

// get returns the plan for key, building it when the key changed; nil
// when the kernel does not take the geometry.
func (c *qconvCache) get(key qconvKey, w []byte) *qconvPlan {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plan != nil && c.plan.key == key {
		return c.plan
	}
	p := newQconvPlan(key, w)
	if p != nil && key.w != nil {
		c.plan = p
	}
	return p
}

// newQconvPlan builds the plan, or returns nil for what the kernel does
// not take: more than qconvMaxGroups tap groups per kernel row, or a
// dilation so wide that one pixel's four taps span more than 64 bytes.
func newQconvPlan(key qconvKey, w []byte) *qconvPlan {
	ngroups := max(1, (key.kw+3)/4)
	if ngroups > qconvMaxGroups || 3*key.dw+1 > 64 {
		return nil
	}
	p := &qconvPlan{key: key, k: key.cg * key.kh * ngroups}
	// The padded image: hp x wp cells cover every tap of every output.
	hp := (key.oh-1)*key.sh + (key.kh-1)*key.dh + 1
	wp := (key.ow-1)*key.sw + (key.kw-1)*key.dw + 1
	rowBytes, plane := key.iw, key.ih*key.iw
	// A group of taps starts at s_g = min(4g, kw-4) so it never reads past
	// the row's last tap; with kw < 4 it reads (4-kw)*dw bytes past it,
	// which only a padded copy with slack can give.
	p.copyIn = key.flip || key.ph != 0 || key.pw != 0 || hp > key.ih || wp > key.iw || key.kw < 4
	if p.copyIn {
		rowBytes, plane = wp, hp*wp
	}
	goff := p.geom[qconvGeomFixed:]
	for g := 0; g < ngroups; g++ {
		s := 0
		if key.kw >= 4 {
			s = min(4*g, key.kw-4)
		}
		goff[g] = int64(s * key.dw)
	}
	// Tiles: runs of up to 16 consecutive output pixels whose windows fit
	// one 64-byte load.
	npix := key.oh * key.ow
	pixOff := func(q int) int { return q/key.ow*key.sh*rowBytes + q%key.ow*key.sw }
	maxRead := 0
	for q0 := 0; q0 < npix; {
		base := pixOff(q0)
		n := 1
		for n < 16 && q0+n < npix && pixOff(q0+n)-base+3*key.dw+1 <= 64 {
			n++
		}
		span := pixOff(q0+n-1) - base + 3*key.dw + 1
		p.tiles = append(p.tiles, int32(base), int32(q0), int32(n), int32(span))
		var idx [64]byte
		for j := 0; j < n; j++ {
			for b := 0; b < 4; b++ {
				idx[4*j+b] = byte(pixOff(q0+j) - base + b*key.dw)
			}
		}
		p.idx = append(p.idx, idx[:]...)
		maxRead = max(maxRead, base+span)
		q0 += n
	}
	maxRead += (key.cg-1)*plane + (key.kh-1)*key.dh*rowBytes + int(goff[ngroups-1])
	if p.copyIn {
		p.padLen = max(key.cg*plane, maxRead)
		fill := int64(0)
		if key.flip {
			fill = 1
		}
		p.padGeom = [10]int64{int64(key.cg), int64(key.ih), int64(key.iw), int64(key.ph), int64(key.pw),
			int64(hp), int64(wp), int64(p.padLen), 0, fill}
	} else if maxRead > key.cg*plane {
		return nil // cannot happen for a valid geometry; never read past the image
	}
	copy(p.geom[:], []int64{int64(key.cg), int64(key.kh), int64(ngroups), int64(plane), int64(key.dh * rowBytes),
		int64(key.mg), int64(npix)})
	p.packWeights(w, ngroups)
	return p
}

// packWeights lays w (M x cg x kh x kw int8) out as gc_qconv_vnni512 reads
// it, group by group, and sums each output channel's weights.
func (p *qconvPlan) packWeights(w []byte, ngroups int) {
	key := p.key
	m := key.mg * key.group
	p.wpk = make([]int32, m*p.k)
	p.sumW = make([]int32, m)
	taps := key.kh * key.kw
	for grp := 0; grp < key.group; grp++ {
		for oc0 := 0; oc0 < key.mg; oc0 += 16 {
			ob := min(16, key.mg-oc0)
			dst := p.wpk[(grp*key.mg+oc0)*p.k:]
			for o := 0; o < ob; o++ {
				oc := grp*key.mg + oc0 + o
				src := w[oc*key.cg*taps:]
				for c := 0; c < key.cg; c++ {
					for r := 0; r < key.kh; r++ {
						for g := 0; g < ngroups; g++ {
							s := int(p.geom[qconvGeomFixed+g]) / key.dw
							var word uint32
							for b := 0; b < 4; b++ {
								// tap s+b belongs to this group unless an
								// earlier group covered it
								t := s + b
								if t >= 4*g && t < key.kw {
									v := int8(src[(c*key.kh+r)*key.kw+t])
									word |= uint32(uint8(v)) << (8 * b)
									p.sumW[oc] += int32(v)
								}
							}
							dst[((c*key.kh+r)*ngroups+g)*ob+o] = int32(word)
						}
					}
				}
			}
		}
	}
}

// qconvOut is where the direct kernel writes: int32 accumulators (acc), or
// 8-bit values requantized with per-channel multipliers mult, zero point zp
// and saturation [lo, hi] (y, u8 or int8).
type qconvOut struct {
	acc        []int32
	y          []byte
	u8         bool
	mult       []float64
	zp, lo, hi float64
}

// run computes the convolution of xb (N x C x ih x iw bytes; int8 when
// the plan flips) with x zero point zx and bias (nil: none) into out.
func (p *qconvPlan) run(ctx *runtime.Context, g *convGeom, xb []byte, zx int32, bias []int32, out qconvOut) bool {
	key := p.key
	zpad := zx
	padByte := byte(zx)
	if key.flip {
		zpad, padByte = zx+128, byte(zx)^0x80
	}
	// acc0[o] starts channel o's accumulators: the bias, less the padding
	// byte's (or the int8 offset's) share of every product.
	acc0Buf := getI32(g.m)
	defer putI32(acc0Buf)
	acc0 := *acc0Buf
	for o := range acc0 {
		acc0[o] = -zpad * p.sumW[o]
		if bias != nil {
			acc0[o] += bias[o]
		}
	}
	mode := int64(0)
	if out.y != nil {
		mode = 2
		if out.u8 {
			mode = 1
		}
	}
	ntiles := len(p.tiles) / 4
	job := func(j, threads int) bool {
		n, grp := j/g.group, j%g.group
		src := xb[(n*g.c+grp*g.cg)*g.inSize : (n*g.c+(grp+1)*g.cg)*g.inSize]
		img := src
		if p.copyIn {
			buf := getI32((p.padLen + 3) / 4)
			defer putI32(buf)
			img = int32Bytes(*buf)[:p.padLen]
			geom := p.padGeom
			geom[8] = int64(padByte)
			qconvPad(src, img, &geom)
		}
		first := (n*g.m + grp*g.mg) * g.outSize
		oc := grp * g.mg
		call := func(lo, hi int) {
			geom := p.geom
			geom[7], geom[8], geom[9] = int64(lo), int64(hi), mode
			var mult []float64
			if mode != 0 {
				mult = out.mult[oc:]
			}
			qconvC(img, p.tiles, p.idx, p.wpk[oc*p.k:], acc0[oc:], out.acc, out.y, first, mult, out.zp, out.lo, out.hi, &geom)
		}
		if threads > 1 && ntiles >= 2*threads && g.mg*p.k*g.outSize >= qconvSplitMinWork {
			parallelChunks(ntiles, threads, call)
		} else {
			call(0, ntiles)
		}
		return true
	}
	return runIntJobs(ctx, g.batch*g.group, job)
}

// requantInKernel computes QLinearConv (inputs in, geometry g) into y with
// a kernel that requantizes as it stores, with per-channel multipliers mult
// and zero point zy: the direct kernel where directPlan picks it, else the
// INT8 GEMM, requantizing in its epilogue (igemmRequant), so that the int32
// product never goes through memory; false when neither applies (no such
// kernel, a depthwise convolution).
func (op *convIntOp) requantInKernel(ctx *runtime.Context, in []*tensor.Tensor, g *convGeom, bias []int32, y *tensor.Tensor, mult []float64, zy float64) bool {
	if igemmISA() == nil || !g.planar() {
		return false
	}
	xb, wb, xU8, wU8, zx, ok := convIntOperands(in[0], in[3], nnOptional(in, 2), nnOptional(in, 5))
	if !ok {
		return false
	}
	yb, u8, _ := int8Bytes(y)
	lo, hi := float64(math.MinInt8), float64(math.MaxInt8)
	if u8 {
		lo, hi = 0, math.MaxUint8
	}
	if p := op.directPlan(g, in[3], wb, xU8, wU8); p != nil {
		return p.run(ctx, g, xb, zeroPoint(zx), bias, qconvOut{y: yb, u8: u8, mult: mult, zp: zy, lo: lo, hi: hi})
	}
	if g.cg == 1 && g.group > 1 {
		return false
	}
	return op.convGemm(ctx, g, in[3], xb, wb, xU8, wU8, zx, bias, nil, &igemmRequant{y: yb, u8: u8, mult: mult, zp: zy, lo: lo, hi: hi})
}
