// Fused ops of gcompress's own domain ("gcompress"), produced at load time
// by graph/passes and never exported:
//
//	FusedConv(X, W, B?, Z?, s?, b?, mean?, var?) = act(Conv(pre(X), W, B) + Z)
//	FusedGemm(A, B, C?)                         = act(Gemm(A, B, C))
//
// with Conv's and Gemm's attributes plus activation = "" | "Relu" | "Clip"
// and, for Clip, activation_params = [min, max] (the convention of ONNX
// Runtime's com.microsoft FusedConv). Z has the output's shape. pre is a
// BatchNormalization of X's channels with inputs s, b, mean, var and
// attribute pre_epsilon, followed by Relu when pre_activation = "Relu":
// pre(X) = relu(X*k + (b - mean*k)), k = s/sqrt(var + pre_epsilon) (the
// pre-activation of DenseNet-style blocks); without those inputs pre is
// the identity. With shuffle_groups = G (not with pre), X's channels are
// read through ShuffleNet's channel shuffle: channel c of the convolution's
// input is X's channel (c % G)*(C/G) + c/G (graph/passes.FuseChannelShuffle;
// the blocked depthwise kernel reads the planes in that order, other paths
// shuffle a copy). The FP32 kernels apply pre while packing the input (the
// padding stays 0, as the convolution pads pre(X)), and bias, Z and the
// activation in the GEMM's store (one pass over the output); other dtypes
// apply them before and after the product.
//
// Constant weights are packed once per kernel (packCache) and reused.

package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// FusedDomain is the operator domain of the fused ops.
const FusedDomain = "gcompress"

func init() {
	registry.Register(FusedDomain, "FusedConv", newFusedConv)
	registry.Register(FusedDomain, "FusedGemm", newFusedGemm)
}

// fusedAct is an activation fused into an epilogue: y = min(max(y, lo), hi)
// when clamp is set (Relu: lo = 0, hi = +Inf). NaN stays NaN.
type fusedAct struct {
	clamp  bool
	lo, hi float32
}

// parseFusedAct reads the activation attributes of a fused node.
func parseFusedAct(n *graph.Node) (fusedAct, error) {
	switch a := n.AttrString("activation", ""); a {
	case "":
		return fusedAct{}, nil
	case "Relu":
		return fusedAct{clamp: true, lo: 0, hi: float32(math.Inf(1))}, nil
	case "Clip":
		p := n.AttrFloats("activation_params", nil)
		if len(p) != 2 || !(p[0] <= p[1]) {
			return fusedAct{}, fmt.Errorf("activation Clip needs activation_params [min, max], got %v", p)
		}
		return fusedAct{clamp: true, lo: p[0], hi: p[1]}, nil
	default:
		return fusedAct{}, fmt.Errorf("unsupported fused activation %q (Relu, Clip)", a)
	}
}

// epilogueGo adds z (nil: nothing) to y element-wise and applies act.
func epilogueGo[T gemmElem](y []T, z []T, act fusedAct) {
	if z == nil && !act.clamp {
		return
	}
	lo, hi := T(act.lo), T(act.hi)
	for i := range y {
		v := y[i]
		if z != nil {
			v += z[i]
		}
		if act.clamp {
			v = min(max(v, lo), hi)
		}
		y[i] = v
	}
}

// packCache holds a constant operand packed for the active FP32 kernel
// (one pack per group), rebuilt when the kernel changes.
type packCache = constPack[*sgemmKernel, []*sgemmPacked]

// ---- FusedConv ----

// newFusedConvOp is newConvOp with n's fused activation (FusedConv,
// FusedConvPool, SparseConv).
func newFusedConvOp(n *graph.Node) (*convOp, error) {
	op, err := newConvOp(n)
	if err != nil {
		return nil, err
	}
	if op.act, err = parseFusedAct(n); err != nil {
		return nil, err
	}
	return op, nil
}

func newFusedConv(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	op, err := newFusedConvOp(n)
	if err != nil {
		return nil, fmt.Errorf("FusedConv: %w", err)
	}
	if op.preRelu, err = parsePreRelu(n); err != nil {
		return nil, fmt.Errorf("FusedConv: %w", err)
	}
	shuffle := n.AttrInt("shuffle_groups", 0)
	if shuffle < 0 || shuffle > math.MaxInt32 {
		return nil, fmt.Errorf("FusedConv: shuffle_groups %d out of range", shuffle)
	}
	op.shuffle = int(shuffle)
	preEps := float64(n.AttrFloat("pre_epsilon", 1e-5))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		var z *tensor.Tensor
		var pre []float32
		if len(in) > 3 {
			z = in[3]
		}
		if len(in) > 4 && in[4] != nil {
			if err := needInputs(in, 2); err != nil {
				return nil, fmt.Errorf("FusedConv: %w", err)
			}
			if op.shuffle > 0 {
				return nil, fmt.Errorf("FusedConv: a pre-activation and shuffle_groups together are not supported")
			}
			var err error
			if in[0].Rank() < 2 {
				return nil, fmt.Errorf("FusedConv: X %v needs a channel axis", in[0].Shape())
			}
			if pre, err = preActParams(in[4:], in[0].Shape()[1], preEps); err != nil {
				return nil, fmt.Errorf("FusedConv: pre-activation: %w", err)
			}
		}
		y, err := op.conv(ctx, in[:min(len(in), 3)], z, pre)
		if err != nil {
			return nil, fmt.Errorf("FusedConv: %w", err)
		}
		return []*tensor.Tensor{y}, nil
	}), nil
}

// parsePreRelu reads a fused convolution's pre_activation attribute:
// whether its prologue ends with Relu ("Relu") or not (absent or "").
func parsePreRelu(n *graph.Node) (bool, error) {
	switch a := n.AttrString("pre_activation", ""); a {
	case "":
		return false, nil
	case "Relu":
		return true, nil
	default:
		return false, fmt.Errorf("unsupported pre_activation %q (Relu)", a)
	}
}

// preActParams turns BatchNormalization inputs (scale, B, mean, var) for
// c channels into the prologue [k..., b - mean*k...], k computed in
// float64 and rounded to float32 as BatchNormalization does.
func preActParams(bn []*tensor.Tensor, c int, eps float64) ([]float32, error) {
	if len(bn) < 4 {
		return nil, fmt.Errorf("needs scale, B, mean and var inputs")
	}
	var p [4][]float64
	for i, name := range []string{"scale", "B", "input_mean", "input_var"} {
		if bn[i] == nil {
			return nil, fmt.Errorf("%s is missing", name)
		}
		var err error
		if p[i], err = normParam(bn[i], name, c); err != nil {
			return nil, err
		}
	}
	out := make([]float32, 2*c)
	for i := 0; i < c; i++ {
		k := p[0][i] / math.Sqrt(p[3][i]+eps)
		out[i], out[c+i] = float32(k), float32(p[1][i]-p[2][i]*k)
	}
	return out, nil
}

// preApplyTensor returns x (N x C x size) with the prologue applied.
func preApplyTensor[T gemmElem](x []T, pre []float32, relu bool, n, c, size int) []T {
	out := make([]T, len(x))
	for img := 0; img < n; img++ {
		for ch := 0; ch < c; ch++ {
			k, b := T(pre[ch]), T(pre[c+ch])
			off := (img*c + ch) * size
			for i, v := range x[off : off+size] {
				v = v*k + b
				if relu {
					v = max(v, 0)
				}
				out[off+i] = v
			}
		}
	}
	return out
}

// convFastF32 runs a float32 convolution on the SIMD kernels: a depthwise
// one on the depthwise kernels, one of few output channels on the narrow
// kernel (convNarrowF32), others on the GEMM, one product per image and
// group: Y_g = W_g * im2col(X_g) with im2col built while packing (a
// pointwise convolution reads X_g as it is), and bias, Z and the
// activation in the store. It reports false when the active level has no
// SIMD kernel or the convolution is not one it handles (depthwise, 3-D).
func convFastF32(ctx *runtime.Context, op *convOp, g *convGeom, w *tensor.Tensor, x, bias, z, y, pre []float32) bool {
	kern := sgemmISA()
	if kern == nil || !g.planar() {
		return false
	}
	if g.cg == 1 && g.group > 1 {
		if pre != nil {
			x = preApplyTensor(x, pre, op.preRelu, g.batch, g.c, g.inSize)
		}
		return convDepthwiseF32(ctx, op, g, x, w, bias, z, y)
	}
	if convNarrowF32(ctx, op, g, x, w.F32(), bias, z, y, pre, nil) {
		return true
	}
	kdim := g.cg * g.kSize
	wd := w.F32()
	var cv *sgemmConv
	if !g.pointwise() {
		cv = &sgemmConv{cin: g.cg, ih: g.in[1], iw: g.in[2], kh: g.kernel[1], kw: g.kernel[2],
			sh: g.strides[1], sw: g.strides[2], ph: g.pad[1], pw: g.pad[2], dh: g.dil[1], dw: g.dil[2],
			oh: g.out[1], ow: g.out[2]}
	}
	// Few output cells and many channels: compute Y^T = im2col(X)^T W^T,
	// channels along the vector lanes, and store the tile transposed.
	// The output cells then fill the register tile's rows (8 of 49 wasted
	// at 7x7 rather than 15 of 64 columns), and each weight is streamed
	// once instead of once per column panel.
	if g.outSize <= sgemmTransposeMaxN && g.mg >= kern.nr {
		packsT := op.packedT.get(w, op.constW, kern, func() []*sgemmPacked {
			out := make([]*sgemmPacked, g.group)
			for grp := range out {
				out[grp] = packSgemmB(kern, true, kdim, g.mg, wd[grp*g.mg*kdim:], kdim, ctx.Threads)
			}
			return out
		})
		jobT := func(j, threads int) {
			n, grp := j/g.group, j%g.group
			call := sgemmCall{m: g.outSize, n: g.mg, k: kdim, alpha: 1,
				a: x[(n*g.c+grp*g.cg)*g.inSize : (n*g.c+(grp+1)*g.cg)*g.inSize], lda: g.inSize, transA: true, aConv: cv,
				ct: y[(n*g.m+grp*g.mg)*g.outSize:], ldct: g.outSize,
				epi: sgemmEpilogue{clamp: op.act.clamp, lo: op.act.lo, hi: op.act.hi}}
			if packsT != nil {
				call.packedB = packsT[grp]
			} else {
				call.b, call.ldb, call.transB = wd[grp*g.mg*kdim:], kdim, true
			}
			if bias != nil {
				call.epi.biasCol = bias[grp*g.mg : (grp+1)*g.mg]
			}
			if z != nil {
				call.epi.resid, call.epi.ldr = z[(n*g.m+grp*g.mg)*g.outSize:], g.outSize
			}
			call.pre, call.preRelu, call.preOnA = g.groupPre(pre, grp), op.preRelu, true
			call.run(threads)
		}
		runConvJobs(ctx, g.batch*g.group, jobT)
		return true
	}
	convGemmF32(ctx, op, g, cv, kern, w, x, bias, z, y, pre)
	return true
}

// toeplitzMaxWaste bounds the padded width of the Toeplitz convolution
// relative to the output width (the extra columns are computed and
// dropped).
const toeplitzMaxWaste = 1.15

// sgemmTransposeMaxN is the largest output size (cells per image) for
// which a convolution computes its transpose (see convFastF32).
var sgemmTransposeMaxN = 64

// runConvJobs runs jobs (one per image and group) in parallel with one
// thread each when there are enough of them, else one after the other
// with all threads.
func runConvJobs(ctx *runtime.Context, jobs int, job func(j, threads int)) {
	if jobs >= ctx.Threads && ctx.Threads > 1 {
		parallelChunks(jobs, ctx.Threads, func(lo, hi int) {
			for j := lo; j < hi; j++ {
				job(j, 1)
			}
		})
		return
	}
	for j := 0; j < jobs; j++ {
		job(j, ctx.Threads)
	}
}

// dwMinWork is the least multiply-adds per thread of a depthwise
// convolution (or pool): below it fewer threads run.
var dwMinWork = 1 << 15

// convDepthwiseF32 runs a 2-D depthwise convolution (one input channel per
// group) with the direct C kernels, bias, z and the activation applied in
// the kernel: through the blocked layout, 16 channels per vector, when
// each group has one output channel and the blocked kernels run (parallel
// over groups of 16 channels), else plane by plane (parallel over planes).
func convDepthwiseF32(ctx *runtime.Context, op *convOp, g *convGeom, x []float32, w *tensor.Tensor, bias, z, y []float32) bool {
	if g.kernel[2] > 64 {
		return false
	}
	clamp := int64(0)
	if op.act.clamp {
		clamp = 1
	}
	if g.dwBlocked() {
		taps := g.kernel[1] * g.kernel[2]
		wb := op.dwPacked.form(w, op.constW, taps, func() []float32 { return packDepthwise(w.F32(), g.m, taps) })
		groups := g.batch * ((g.m + nchwcBlock - 1) / nchwcBlock)
		parts := min(ctx.Threads, groups, max(1, g.batch*g.m*g.outSize*g.kSize/dwMinWork))
		parallelChunks(groups, parts, func(lo, hi int) {
			geom := [17]int64{int64(lo), int64(hi), int64(g.m), int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]),
				int64(g.kernel[1]), int64(g.kernel[2]), int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]),
				int64(g.dil[1]), int64(g.dil[2]), clamp, int64(g.shuffle)}
			nchwcDwconvC(x, wb, bias, z, y, &geom, op.act.lo, op.act.hi, nil)
		})
		return true
	}
	avx512 := CPULevel(level.Load()) >= LevelAVX512 && g.kernel[1]*g.kernel[2] <= nnMaxTaps
	planes := g.batch * g.m
	parts := min(ctx.Threads, max(1, planes*g.outSize*g.kSize/dwMinWork))
	parallelChunks(planes, parts, func(lo, hi int) {
		geom := [18]int64{int64(lo), int64(hi), int64(g.m), int64(g.c), int64(g.mg),
			int64(g.in[1]), int64(g.in[2]), int64(g.out[1]), int64(g.out[2]), int64(g.kernel[1]), int64(g.kernel[2]),
			int64(g.strides[1]), int64(g.strides[2]), int64(g.pad[1]), int64(g.pad[2]), int64(g.dil[1]), int64(g.dil[2]), clamp}
		dwconv2dF32(x, w.F32(), bias, z, y, &geom, op.act.lo, op.act.hi, avx512)
	})
	return true
}

// packDepthwise lays depthwise weights w (c channels x taps) out as the
// blocked depthwise kernel reads them: per group of 16 channels and tap a
// vector of 16, W[ch/16][t][ch%16] = w[ch][t], zeros past c.
func packDepthwise(w []float32, c, taps int) []float32 {
	out := make([]float32, (c+nchwcBlock-1)/nchwcBlock*taps*nchwcBlock)
	for ch := range c {
		for t := range taps {
			out[(ch/nchwcBlock*taps+t)*nchwcBlock+ch%nchwcBlock] = w[ch*taps+t]
		}
	}
	return out
}

// ---- FusedGemm ----

func newFusedGemm(n *graph.Node, info runtime.NodeInfo) (runtime.Op, error) {
	g, err := newGemmOp(n)
	if err != nil {
		return nil, fmt.Errorf("FusedGemm: %w", err)
	}
	if g.act, err = parseFusedAct(n); err != nil {
		return nil, fmt.Errorf("FusedGemm: %w", err)
	}
	return runtime.OpFunc(g.run), nil
}

// groupPre returns the part of a convolution's prologue (pre: C scales
// then C shifts, as preApplyTensor reads them) that applies to group grp's input
// channels, in the same layout; nil without a prologue.
func (g *convGeom) groupPre(pre []float32, grp int) []float32 {
	if pre == nil {
		return nil
	}
	out := make([]float32, 2*g.cg)
	copy(out, pre[grp*g.cg:(grp+1)*g.cg])
	copy(out[g.cg:], pre[g.c+grp*g.cg:g.c+(grp+1)*g.cg])
	return out
}
