package gobind

import (
	"fmt"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/kernels/ref"
)

// LaunchSpec is a validated kernel launch: the kernel, a 1-D grid and block,
// the blocks per cluster (0 or 1: none; the kernels of cluster shapes have
// their cluster dimensions compiled in, so only the emulator takes it from
// here, and Grid is a multiple of it), the dynamic shared memory and the
// parameters in the order of the
// kernel's signature: first its tensor maps (Maps, which each runner
// encodes), then the rest (Params), each 8 bytes. A zero Grid means there
// is nothing to launch (an empty output). The CUDA launcher and the CPU
// emulator of the kernels (package kernels/emu) both launch from it, so
// both see the same ABI.
type LaunchSpec struct {
	Kernel      string
	Grid, Block int
	Cluster     int
	Shared      int
	Maps        []TensorMap
	Params      []uint64
}

// ClusterSize is the blocks per cluster of the launch (at least 1).
func (s LaunchSpec) ClusterSize() int { return max(s.Cluster, 1) }

func ptr(m cuda.Mem) uint64 { return uint64(m.Ptr) }
func i64(v int64) uint64    { return uint64(v) }

// check verifies the parameter count against the kernel table.
func (s LaunchSpec) check() (LaunchSpec, error) {
	k, ok := lookup(s.Kernel)
	if !ok {
		return s, argErr(s.Kernel, "not in the kernel table")
	}
	if len(s.Maps)+len(s.Params) != k.Params {
		return s, fmt.Errorf("gobind: %s takes %d parameters, the launcher passes %d (launcher bug)", s.Kernel, k.Params, len(s.Maps)+len(s.Params))
	}
	return s, nil
}

// Spec validates a and returns the launch of gc_gemm_<in>_<out>_<tile>.
func (a *GemmArgs) Spec() (LaunchSpec, error) {
	if err := a.Validate(); err != nil {
		return LaunchSpec{}, err
	}
	t := a.shape()
	if t.TMA && (a.M == 0 || a.N == 0 || a.K == 0) {
		twin := *a
		twin.Tile = t.twin()
		return twin.Spec()
	}
	s := LaunchSpec{Kernel: a.Kernel(), Block: t.Threads(), Cluster: t.Cluster, Shared: t.DenseShared(),
		Params: []uint64{ptr(a.A), ptr(a.B), ptr(a.C), ptr(a.Scale), ptr(a.Bias), i64(a.M), i64(a.N), i64(a.K),
			i64(a.LdA), i64(a.LdB), i64(a.LdCM), i64(a.LdCN), i64(int64(a.Axis)), i64(a.ZeroPoint)}}
	if a.M > 0 && a.N > 0 {
		s.Grid = int(t.Grid(a.M, a.N, a.MaxBlocks))
	}
	s, err := withMaps(s, a.tmaMaps(t))
	if err != nil {
		return LaunchSpec{}, err
	}
	return s.check()
}

// NaiveSpec validates a and returns the launch of the diagnostic naive GEMM
// (gc_gemm_s8_s32_naive for s8 -> s32, gc_gemm_f16_f32_naive for f16 ->
// f32, no epilogue).
func (a *GemmArgs) NaiveSpec() (LaunchSpec, error) {
	name, want := "gc_gemm_s8_s32_naive", ref.OutS32
	if a.In == ref.F16 {
		name, want = "gc_gemm_f16_f32_naive", ref.OutF32
	}
	if a.In == ref.BF16 || a.Out != want || !a.Scale.IsNull() || !a.Bias.IsNull() {
		return LaunchSpec{}, argErr(name, "the naive GEMMs are s8 -> s32 and f16 -> f32 without epilogue")
	}
	if err := a.Validate(); err != nil {
		return LaunchSpec{}, err
	}
	s := LaunchSpec{Kernel: name, Block: EltThreads,
		Params: []uint64{ptr(a.A), ptr(a.B), ptr(a.C), i64(a.M), i64(a.N), i64(a.K), i64(a.LdA), i64(a.LdB), i64(a.LdCM), i64(a.LdCN)}}
	if a.M > 0 && a.N > 0 {
		s.Grid = EltBlocks(a.M * a.N)
	}
	return s.check()
}

// Spec validates a and returns the launch of gc_spgemm_<in>_<out>_<tile>.
func (a *SparseGemmArgs) Spec() (LaunchSpec, error) {
	if err := a.Validate(); err != nil {
		return LaunchSpec{}, err
	}
	t := a.shape()
	if t.TMA && (a.M == 0 || a.N == 0 || a.K == 0) {
		twin := *a
		twin.Tile = t.twin()
		return twin.Spec()
	}
	s := LaunchSpec{Kernel: a.Kernel(), Block: t.Threads(), Cluster: t.Cluster, Shared: t.SparseShared(a.In),
		Params: []uint64{ptr(a.AValues), ptr(a.AMeta), ptr(a.B), ptr(a.C), ptr(a.Scale), ptr(a.Bias), i64(a.M), i64(a.N),
			i64(a.K), i64(a.LdV), i64(a.values(a.Format()).ldk), i64(a.LdE), i64(a.meta(a.Format()).ldk), i64(a.LdB), i64(a.LdCM),
			i64(a.LdCN), i64(int64(a.Axis)), i64(a.ZeroPoint)}}
	if a.M > 0 && a.N > 0 {
		s.Grid = int(t.Grid(a.M, a.N, a.MaxBlocks))
	}
	s, err := withMaps(s, a.tmaMaps(t))
	if err != nil {
		return LaunchSpec{}, err
	}
	return s.check()
}

// Spec validates a and returns the launch of gc_quantize_f32_s8 (quantize)
// or gc_dequantize_s8_f32.
func (a *QuantArgs) Spec(quantize bool) (LaunchSpec, error) {
	if err := a.Validate(quantize); err != nil {
		return LaunchSpec{}, err
	}
	name := "gc_dequantize_s8_f32"
	if quantize {
		name = "gc_quantize_f32_s8"
	}
	s := LaunchSpec{Kernel: name, Block: EltThreads,
		Params: []uint64{ptr(a.X), ptr(a.Y), ptr(a.Scale), ptr(a.ZeroPoint), i64(a.N), i64(a.Inner), i64(a.Channels)}}
	if a.N > 0 {
		s.Grid = EltBlocks(a.N)
	}
	return s.check()
}

// Spec validates a and returns the launch of gc_im2col_s8.
func (a *Im2colArgs) Spec() (LaunchSpec, error) {
	if err := a.Validate(); err != nil {
		return LaunchSpec{}, err
	}
	g := a.Geom
	flip := uint64(0)
	if a.Flip {
		flip = 1
	}
	s := LaunchSpec{Kernel: "gc_im2col_s8", Block: EltThreads, Params: []uint64{ptr(a.X), ptr(a.Cols),
		i64(int64(g.C)), i64(int64(g.H)), i64(int64(g.W)), i64(int64(g.KH)), i64(int64(g.KW)), i64(int64(g.SH)),
		i64(int64(g.SW)), i64(int64(g.DH)), i64(int64(g.DW)), i64(int64(g.PH)), i64(int64(g.PW)), i64(int64(g.OH)),
		i64(int64(g.OW)), i64(a.Ld), uint64(a.Pad), flip}}
	if n := int64(g.OH) * int64(g.OW) * a.Ld; n > 0 {
		s.Grid = EltBlocks(n)
	}
	return s.check()
}

// Spec validates a and returns the launch of gc_softmax_f32.
func (a *SoftmaxArgs) Spec() (LaunchSpec, error) {
	if err := a.Validate(); err != nil {
		return LaunchSpec{}, err
	}
	s := LaunchSpec{Kernel: "gc_softmax_f32", Block: SoftmaxThreads,
		Params: []uint64{ptr(a.X), ptr(a.Y), i64(a.Rows), i64(a.Cols)}}
	if a.Rows > 0 && a.Cols > 0 {
		s.Grid = SoftmaxBlocks(a.Rows)
	}
	return s.check()
}

// AddSpec validates and returns the launch of gc_add_f32: c = a + b over n
// float32.
func AddSpec(a, b, c cuda.Mem, n int64) (LaunchSpec, error) {
	const k = "gc_add_f32"
	if n < 0 {
		return LaunchSpec{}, argErr(k, "negative size %d", n)
	}
	for _, v := range []struct {
		name string
		m    cuda.Mem
	}{{"A", a}, {"B", b}, {"C", c}} {
		if err := flat(k, v.name, v.m, n, 4); err != nil {
			return LaunchSpec{}, err
		}
	}
	s := LaunchSpec{Kernel: k, Block: EltThreads, Params: []uint64{ptr(a), ptr(b), ptr(c), i64(n)}}
	if n > 0 {
		s.Grid = EltBlocks(n)
	}
	return s.check()
}

// Unary kernels: gc_relu_f32 and the casts.
const (
	Relu       = "gc_relu_f32"
	CastF32F16 = "gc_cast_f32_f16"
	CastF16F32 = "gc_cast_f16_f32"
	CastF32BF  = "gc_cast_f32_bf16"
	CastBF16F  = "gc_cast_bf16_f32"
)

// UnarySpec validates and returns the launch of one of the unary kernels.
func UnarySpec(kernel string, a *UnaryArgs) (LaunchSpec, error) {
	sizes := map[string][2]int64{Relu: {4, 4}, CastF32F16: {4, 2}, CastF16F32: {2, 4}, CastF32BF: {4, 2}, CastBF16F: {2, 4}}
	sz, ok := sizes[kernel]
	if !ok {
		return LaunchSpec{}, argErr(kernel, "not a unary kernel")
	}
	if err := a.validate(kernel, sz[0], sz[1]); err != nil {
		return LaunchSpec{}, err
	}
	s := LaunchSpec{Kernel: kernel, Block: EltThreads, Params: []uint64{ptr(a.X), ptr(a.Y), i64(a.N)}}
	if a.N > 0 {
		s.Grid = EltBlocks(a.N)
	}
	return s.check()
}

// ProbeSpec returns the launch of the mma.sp layout probe
// (gc_sp24_probe_s8 for S8, gc_sp24_probe_f16 otherwise) on one warp:
// values 16 x 32 bytes, meta 16 x K/8 bytes, b 8 x 64 bytes, d 16 x 8
// four-byte outputs; variant selects the metadata-register layout (0: the
// GEMMs'; 1 and 2: the int8 alternatives of load_meta in
// kernels/sp24_meta.cuh).
func ProbeSpec(in ref.Elem, values, meta, b, d cuda.Mem, variant int64) (LaunchSpec, error) {
	name, metaBytes := "gc_sp24_probe_s8", int64(16*8)
	if in != ref.S8 {
		name, metaBytes = "gc_sp24_probe_f16", 16*4
	}
	if err := probeBuffers(name, 4, probeBuffer{"values", values, 16 * 32}, probeBuffer{"meta", meta, metaBytes},
		probeBuffer{"B", b, 8 * 64}, probeBuffer{"D", d, 16 * 8 * 4}); err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Kernel: name, Grid: 1, Block: 32, Params: []uint64{ptr(values), ptr(meta), ptr(b), ptr(d), i64(variant)}}.check()
}

// probeBuffer is one buffer of a probe launch: at least bytes long.
type probeBuffer struct {
	name  string
	m     cuda.Mem
	bytes int64
}

// probeBuffers checks a probe's buffers: each non-null, long enough and
// align-byte aligned.
func probeBuffers(kernel string, align int, bufs ...probeBuffer) error {
	for _, v := range bufs {
		if err := flat(kernel, v.name, v.m, v.bytes, 1); err != nil {
			return err
		}
		if !v.m.Aligned(align) {
			return argErr(kernel, "%s must be %d-byte aligned", v.name, align)
		}
	}
	return nil
}

// WgmmaProbeShared is the dynamic shared memory of gc_wgmma_probe_*: A (64
// rows) and B (128 rows) of 128 bytes, plus the alignment slack.
const WgmmaProbeShared = (64+128)*128 + WgmmaAlign

// WgmmaProbeSpec returns the launch of gc_wgmma_probe_s8 / _f16: one wgmma
// k-step kk (0..3) of a 64 x 128 product, A 64 x 128 bytes and B 128 x 128
// bytes row-major, D the 128 threads' 64 accumulators (4 bytes each).
func WgmmaProbeSpec(in ref.Elem, a, b, d cuda.Mem, kk int64) (LaunchSpec, error) {
	name := wgmmaProbeKernel(in, false)
	if kk < 0 || kk > 3 {
		return LaunchSpec{}, argErr(name, "k-step %d outside 0..3", kk)
	}
	if err := probeBuffers(name, 16, probeBuffer{"A", a, 64 * 128}, probeBuffer{"B", b, 128 * 128},
		probeBuffer{"D", d, 128 * 64 * 4}); err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Kernel: name, Grid: 1, Block: 128, Shared: WgmmaProbeShared, Params: []uint64{ptr(a), ptr(b), ptr(d), i64(kk)}}.check()
}

// WgmmaSparseProbeShared is the dynamic shared memory of
// gc_wgmma_sp_probe_*: compressed A (64 rows of SpABytes), B (128 rows of
// SpBBytes), int8 metadata (64 rows, the larger), alignment slack.
const WgmmaSparseProbeShared = 64*SpABytes + 128*SpBBytes + 64*SpMetaBytesS8 + WgmmaAlign

// WgmmaSparseProbeSpec returns the launch of gc_wgmma_sp_probe_s8 / _f16:
// one sparse wgmma k-step kk (0..1) of a 64 x 128 product from one 2:4
// stage: values 64 x 64 bytes, metadata 64 x 16 (int8) or 8 (f16) bytes, B
// 128 x 128 bytes, D the 128 threads' 64 accumulators; variant the
// metadata layout (0: the GEMMs'; 1, 2: the int8 alternatives of load_meta).
func WgmmaSparseProbeSpec(in ref.Elem, values, meta, b, d cuda.Mem, kk, variant int64) (LaunchSpec, error) {
	name := wgmmaProbeKernel(in, true)
	if kk < 0 || kk > 1 {
		return LaunchSpec{}, argErr(name, "k-step %d outside 0..1", kk)
	}
	mb := int64(SpMetaBytesS8)
	if in != ref.S8 {
		mb = SpMetaBytesF16
	}
	if err := probeBuffers(name, 16, probeBuffer{"values", values, 64 * SpABytes}, probeBuffer{"meta", meta, 64 * mb},
		probeBuffer{"B", b, 128 * SpBBytes}, probeBuffer{"D", d, 128 * 64 * 4}); err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Kernel: name, Grid: 1, Block: 128, Shared: WgmmaSparseProbeShared,
		Params: []uint64{ptr(values), ptr(meta), ptr(b), ptr(d), i64(kk), i64(variant)}}.check()
}

// wgmmaProbeKernel is the dense (sparse) wgmma probe of input in (S8, else
// F16).
func wgmmaProbeKernel(in ref.Elem, sparse bool) string {
	name := "gc_wgmma_probe_"
	if sparse {
		name = "gc_wgmma_sp_probe_"
	}
	if in == ref.S8 {
		return name + "s8"
	}
	return name + "f16"
}

// ABISpec returns the launch of gc_abi_probe writing 7 uint64 to out (grid
// 3, block 64).
func ABISpec(out cuda.Mem, a int64, b uint64, p uintptr, c int64) (LaunchSpec, error) {
	if err := flat("gc_abi_probe", "out", out, 7, 8); err != nil {
		return LaunchSpec{}, err
	}
	return LaunchSpec{Kernel: "gc_abi_probe", Grid: 3, Block: 64, Params: []uint64{ptr(out), uint64(a), b, uint64(p), uint64(c)}}.check()
}
