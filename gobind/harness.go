package gobind

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
)

// Runner is where kernels run: the GPU (Launcher, cuda build) or the CPU
// emulator of the kernels (package kernels/emu). Memory views are device
// addresses for the GPU and host addresses for the emulator.
type Runner interface {
	// Upload copies host bytes into new memory (at least one byte).
	Upload(host []byte) (cuda.Mem, error)
	// Free releases memory from Upload.
	Free(m cuda.Mem)
	// Launch runs a validated launch (a zero grid launches nothing).
	Launch(spec LaunchSpec) error
	// Download copies len(dst) bytes from m once all launched work is done.
	Download(dst []byte, m cuda.Mem) error
	// Sync waits for launched work and returns its first error.
	Sync() error
}

// Harness adapts a Runner to the host-buffer interfaces of
// kernels/kerneltest: upload every operand and the poisoned output buffer,
// launch, wait, download the output buffer, and check that the inputs were
// left untouched. The GPU tests, `kernelbench -check` and the emulator's
// tests run the shared suites through it. DenseTile and SparseTile name the
// tile shape of its GEMM launches (empty: GemmArgs' default); Tiles, when
// set, the shapes GemmSuites runs.
type Harness struct {
	R                     Runner
	DenseTile, SparseTile string
	Tiles                 []string
	// MaxBlocks is the GEMM launches' GemmArgs.MaxBlocks (for the p and m
	// shapes only).
	MaxBlocks int64
}

// GemmSuites runs the dense suites (int8, f16, bf16) in every shape of
// DenseTiles and the 2:4 suites (s8, f16, bf16) in every shape of
// SparseTiles (of those named in Tiles, if set); each result's suite and
// each reported failure name the shape.
func (h Harness) GemmSuites(t kerneltest.Reporter, size kerneltest.Size) []kerneltest.Result {
	t.Helper()
	var all []kerneltest.Result
	for _, tl := range DenseTiles {
		h.DenseTile = tl.Name
		r := tagReporter{t, tl.Name}
		for _, in := range []ref.Elem{ref.S8, ref.F16, ref.BF16} {
			if !h.runs(t, false, in, tl.Name) {
				continue
			}
			if in == ref.S8 {
				all = append(all, tagged(tl.Name, kerneltest.Int8GEMM(r, h.GemmImpl, size))...)
			} else {
				all = append(all, tagged(tl.Name, kerneltest.HalfGEMM(r, in, h.GemmImpl, size))...)
			}
		}
	}
	for _, tl := range SparseTiles {
		h.SparseTile = tl.Name
		r := tagReporter{t, tl.Name}
		for _, in := range []ref.Elem{ref.S8, ref.F16, ref.BF16} {
			if h.runs(t, true, in, tl.Name) {
				all = append(all, tagged(tl.Name, kerneltest.SparseGEMM(r, in, h.SparseImpl, size))...)
			}
		}
	}
	return all
}

// runs reports whether the suites of a tile shape and input type run: the
// shape is among Tiles (if set) and loaded. A GPU loads only the shapes its
// shared memory allows, and the wgmma ones only on sm_90 (TestWgmmaLoaded
// there checks that they are).
func (h Harness) runs(t kerneltest.Reporter, sparse bool, in Elem, tile string) bool {
	t.Helper()
	if h.Tiles != nil && !slices.Contains(h.Tiles, tile) {
		return false
	}
	l, ok := h.R.(interface{ TileLoaded(bool, Elem, string) bool })
	if ok && !l.TileLoaded(sparse, in, tile) {
		t.Logf("%v GEMMs (2:4: %v) in tile shape %s: not loaded on this device (shared memory, or wgmma off sm_90), suites skipped", in, sparse, tile)
		return false
	}
	return true
}

// tagged appends a tile shape's name to the suite of each result.
func tagged(tile string, rs []kerneltest.Result) []kerneltest.Result {
	for i := range rs {
		rs[i].Suite += " " + tile
	}
	return rs
}

// InteriorSuites runs, for every tile shape larger than 128 x 128 (of those
// that run: Tiles, loaded), one int8 and one f16 GEMM, dense and 2:4, of exactly one
// block's M x N and 256 bytes of K: every block inside the matrix, every
// stage whole. The kernels take a path without bounds logic there, which
// the Tiny shapes of the emulator (up to 2^22 multiply-adds) reach only for
// 128 x 128 tiles; the GPU's full suites reach it for every shape.
func (h Harness) InteriorSuites(t kerneltest.Reporter) []kerneltest.Result {
	t.Helper()
	var all []kerneltest.Result
	everyTile(func(sparse bool, tl Tile) {
		if tl.BM*tl.BN <= 128*128 {
			return
		}
		for _, in := range []ref.Elem{ref.S8, ref.F16} {
			if h.runs(t, sparse, in, tl.Name) {
				all = append(all, h.one(tagReporter{t, tl.Name}, sparse, in, tl.Name, tl.BM, tl.BN, 256/int(in.Bytes()))...)
			}
		}
	})
	return all
}

// PersistentSuites runs, for every p and m shape (Tile.Producer), GEMMs,
// dense or 2:4 as the shape, of 2 x 2 tiles (of whole clusters; the last
// row and column partial, and in clusters one block past M) and STAGES + 2
// k tiles, with the grid capped (MaxBlocks) at one block (cluster), so that
// it computes every tile with its ring running on across them (int8 and
// f16), and at three (uneven shares; int8).
func (h Harness) PersistentSuites(t kerneltest.Reporter) []kerneltest.Result {
	t.Helper()
	var all []kerneltest.Result
	everyTile(func(sparse bool, tl Tile) {
		if !tl.Producer {
			return
		}
		c := tl.ClusterSize()
		for _, blocks := range []int{c, 3 * c} {
			h.MaxBlocks = int64(blocks)
			r := tagReporter{t, fmt.Sprintf("%s in %d blocks", tl.Name, blocks)}
			for _, in := range []ref.Elem{ref.S8, ref.F16} {
				if in == ref.F16 && blocks > c || !h.runs(t, sparse, in, tl.Name) {
					continue
				}
				all = append(all, h.one(r, sparse, in, tl.Name, c*tl.BM+5, tl.BN+7, (tl.Stages+2)*128/int(in.Bytes()))...)
			}
		}
	})
	return all
}

// everyTile calls f with every dense tile shape, then every 2:4 one.
func everyTile(f func(sparse bool, tl Tile)) {
	for _, sparse := range []bool{false, true} {
		for _, tl := range Tiles(sparse) {
			f(sparse, tl)
		}
	}
}

// one runs one m x n x k GEMM of input type in, dense or 2:4, in tile shape
// tile (the first configuration of its suite), its results tagged r.tag.
func (h Harness) one(r tagReporter, sparse bool, in Elem, tile string, m, n, k int) []kerneltest.Result {
	if sparse {
		h.SparseTile = tile
		return tagged(r.tag, kerneltest.InteriorSparseGEMM(r, in, h.SparseImpl, m, n, k))
	}
	h.DenseTile = tile
	return tagged(r.tag, kerneltest.InteriorGEMM(r, in, h.GemmImpl, m, n, k))
}

// tagReporter prefixes every failure with a tile shape's name.
type tagReporter struct {
	kerneltest.Reporter
	tag string
}

func (r tagReporter) Errorf(format string, args ...any) {
	r.Reporter.Helper()
	r.Reporter.Errorf("[%s] "+format, append([]any{r.tag}, args...)...)
}

// session tracks the buffers of one test call.
type session struct {
	r    Runner
	bufs []cuda.Mem
	ins  []struct {
		m    cuda.Mem
		host []byte
	}
}

func (s *session) free() {
	for _, b := range s.bufs {
		s.r.Free(b)
	}
}

// upload copies host to new memory (a null view for nil).
func (s *session) upload(host []byte, input bool) (cuda.Mem, error) {
	if host == nil {
		return cuda.Mem{}, nil
	}
	m, err := s.r.Upload(host)
	if err != nil {
		return cuda.Mem{}, err
	}
	s.bufs = append(s.bufs, m)
	if input {
		s.ins = append(s.ins, struct {
			m    cuda.Mem
			host []byte
		}{m, host})
	}
	return m, nil
}

// launch validates nothing more (specs are validated) and runs.
func (s *session) launch(spec LaunchSpec, err error) error {
	if err != nil {
		return err
	}
	return s.r.Launch(spec)
}

// f32Bytes encodes a float32 vector little-endian (nil stays nil: absent).
func f32Bytes(v []float32) []byte {
	if v == nil {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// i32Bytes encodes an int32 vector little-endian (nil stays nil).
func i32Bytes(v []int32) []byte {
	if v == nil {
		return nil
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}

// finish waits for the work, downloads the output and checks the inputs.
func (s *session) finish(out cuda.Mem, host []byte) error {
	if err := s.r.Sync(); err != nil {
		return err
	}
	if err := s.r.Download(host, out); err != nil {
		return err
	}
	for _, in := range s.ins {
		got := make([]byte, len(in.host))
		if err := s.r.Download(got, in.m); err != nil {
			return err
		}
		if !bytes.Equal(got, in.host) {
			return errors.New("the kernel wrote into an input buffer")
		}
	}
	return nil
}

// epilogue uploads the epilogue vectors of a suite problem.
func (s *session) epilogue(out ref.Out, e *ref.Epilogue, c cuda.Mem, off, ldm, ldn int) (Epilogue, error) {
	ep := Epilogue{Out: out, LdCM: int64(ldm), LdCN: int64(ldn)}
	size := int64(out.ElemBytes())
	var err error
	if ep.C, err = c.Slice(int64(off)*size, c.Bytes-int64(off)*size); err != nil {
		return ep, err
	}
	if e == nil {
		return ep, nil
	}
	ep.Axis, ep.ZeroPoint = e.Axis, int64(e.ZeroPoint)
	if ep.Scale, err = s.upload(f32Bytes(e.Scale), true); err != nil {
		return ep, err
	}
	bias := f32Bytes(e.Bias)
	if e.BiasS32 != nil {
		bias = i32Bytes(e.BiasS32)
	}
	ep.Bias, err = s.upload(bias, true)
	return ep, err
}

// GemmImpl runs a dense suite problem on the GPU.
func (h Harness) GemmImpl(p *kerneltest.GemmProblem) error {
	return h.dense(p, func(a *GemmArgs) (LaunchSpec, error) {
		a.Tile, a.MaxBlocks = h.DenseTile, h.MaxBlocks
		return a.Spec()
	})
}

// NaiveGemmImpl runs a dense suite problem (s8 -> s32 or f16 -> f32 without
// epilogue) on the diagnostic naive kernels.
func (h Harness) NaiveGemmImpl(p *kerneltest.GemmProblem) error {
	return h.dense(p, (*GemmArgs).NaiveSpec)
}

// dense runs a dense suite problem through the launch spec makes of its
// arguments.
func (h Harness) dense(p *kerneltest.GemmProblem, spec func(*GemmArgs) (LaunchSpec, error)) error {
	s := &session{r: h.R}
	defer s.free()
	a, err := s.upload(p.A, true)
	if err != nil {
		return err
	}
	b, err := s.upload(p.B, true)
	if err != nil {
		return err
	}
	c, err := s.upload(p.C, false)
	if err != nil {
		return err
	}
	ep, err := s.epilogue(p.Out, p.Epi, c, p.COff, p.LdCM, p.LdCN)
	if err != nil {
		return err
	}
	args := &GemmArgs{In: p.In, M: int64(p.M), N: int64(p.N), K: int64(p.K), A: a, LdA: int64(p.LdA), B: b, LdB: int64(p.LdB), Epilogue: ep}
	if err := s.launch(spec(args)); err != nil {
		return err
	}
	return s.finish(c, p.C)
}

// SparseImpl runs a 2:4 suite problem on the GPU.
func (h Harness) SparseImpl(p *kerneltest.SparseProblem) error {
	s := &session{r: h.R}
	defer s.free()
	v, err := s.upload(p.Values, true)
	if err != nil {
		return err
	}
	e, err := s.upload(p.Meta, true)
	if err != nil {
		return err
	}
	b, err := s.upload(p.B, true)
	if err != nil {
		return err
	}
	c, err := s.upload(p.C, false)
	if err != nil {
		return err
	}
	ep, err := s.epilogue(p.Out, p.Epi, c, p.COff, p.LdCM, p.LdCN)
	if err != nil {
		return err
	}
	args := &SparseGemmArgs{In: p.In, Tile: h.SparseTile, M: int64(p.M), N: int64(p.N), K: int64(p.K), AValues: v, LdV: int64(p.LdV), LdVK: int64(p.LdVK),
		AMeta: e, LdE: int64(p.LdE), LdEK: int64(p.LdEK), B: b, LdB: int64(p.LdB), Epilogue: ep, MaxBlocks: h.MaxBlocks}
	if err := s.launch(args.Spec()); err != nil {
		return err
	}
	return s.finish(c, p.C)
}

// ElemImpl runs an elementwise suite problem on the GPU.
func (h Harness) ElemImpl(p *kerneltest.ElemProblem) error {
	s := &session{r: h.R}
	defer s.free()
	x, err := s.upload(p.X, true)
	if err != nil {
		return err
	}
	x2, err := s.upload(p.X2, true)
	if err != nil {
		return err
	}
	yAll, err := s.upload(p.Y, false)
	if err != nil {
		return err
	}
	y, err := yAll.Slice(int64(p.YOff), yAll.Bytes-int64(p.YOff))
	if err != nil {
		return err
	}
	n := int64(p.N)
	switch p.Op {
	case kerneltest.OpQuantize, kerneltest.OpDequantize:
		scale, err := s.upload(f32Bytes(p.Scale), true)
		if err != nil {
			return err
		}
		zp, err := s.upload(i32Bytes(p.ZeroPoint), true)
		if err != nil {
			return err
		}
		qa := &QuantArgs{X: x, Y: y, Scale: scale, ZeroPoint: zp, N: n, Inner: int64(p.Ch.Inner), Channels: int64(p.Ch.Count)}
		err = s.launch(qa.Spec(p.Op == kerneltest.OpQuantize))
	case kerneltest.OpSoftmax:
		sa := &SoftmaxArgs{X: x, Y: y, Rows: int64(p.Rows), Cols: int64(p.Cols)}
		err = s.launch(sa.Spec())
	case kerneltest.OpAdd:
		err = s.launch(AddSpec(x, x2, y, n))
	case kerneltest.OpIm2col:
		ia := &Im2colArgs{X: x, Cols: y, Geom: p.Conv, Ld: int64(p.Ld), Pad: p.Pad, Flip: p.Flip}
		err = s.launch(ia.Spec())
	default:
		err = s.launch(UnarySpec("gc_"+p.Op, &UnaryArgs{X: x, Y: y, N: n}))
	}
	if err != nil {
		return err
	}
	return s.finish(yAll, p.Y)
}

// RunProbe runs the mma.sp layout probe for pc with a metadata variant and
// compares with the expectation.
func (h Harness) RunProbe(pc *kerneltest.ProbeCase, variant int64) error {
	if len(pc.B) < 8*64 {
		return fmt.Errorf("probe B has %d bytes, want %d", len(pc.B), 8*64)
	}
	return h.runProbe([][]byte{pc.Values, pc.Meta, pc.B}, len(pc.Want), func(in []cuda.Mem, d cuda.Mem) (LaunchSpec, error) {
		return ProbeSpec(pc.In, in[0], in[1], in[2], d, variant)
	}, pc.Check)
}

// RunWgmmaProbe runs gc_wgmma_probe_* (gc_wgmma_sp_probe_* for a sparse
// case) for pc and checks its registers.
func (h Harness) RunWgmmaProbe(pc *kerneltest.WgmmaProbeCase) error {
	const out = 128 * 64 * 4 // 64 accumulators of each of 128 threads
	if pc.Sparse {
		return h.runProbe([][]byte{pc.A, pc.Meta, pc.B}, out, func(in []cuda.Mem, d cuda.Mem) (LaunchSpec, error) {
			return WgmmaSparseProbeSpec(pc.In, in[0], in[1], in[2], d, int64(pc.KK), int64(pc.Variant))
		}, pc.Check)
	}
	return h.runProbe([][]byte{pc.A, pc.B}, out, func(in []cuda.Mem, d cuda.Mem) (LaunchSpec, error) {
		return WgmmaProbeSpec(pc.In, in[0], in[1], d, int64(pc.KK))
	}, pc.Check)
}

// RunTmaProbe runs gc_tma_probe for pc and checks the boxes it landed.
func (h Harness) RunTmaProbe(pc *kerneltest.TmaProbeCase) error {
	return h.runProbe([][]byte{pc.Src}, 2*pc.BoxSize(), func(in []cuda.Mem, d cuda.Mem) (LaunchSpec, error) {
		m := TensorMap{Base: in[0], RowBytes: pc.RowBytes, Rows: pc.Rows, Pitch: pc.Pitch, BoxBytes: pc.BoxBytes,
			BoxRows: pc.BoxRows, Swizzle: pc.Swizzle}
		return TmaProbeSpec(m, d, pc.X0, pc.Y0, pc.X1, pc.Y1)
	}, pc.Check)
}

// RunClusterProbe runs gc_cluster_probe on pc's first box position: every
// block of the cluster must hold the GemmCluster boxes at (X0, Y0 + i
// BoxRows), landed as gc_tma_probe lands them.
func (h Harness) RunClusterProbe(pc *kerneltest.TmaProbeCase) error {
	want := pc.Boxes(pc.X0, pc.Y0, GemmCluster)
	return h.runProbe([][]byte{pc.Src}, GemmCluster*len(want), func(in []cuda.Mem, d cuda.Mem) (LaunchSpec, error) {
		m := TensorMap{Base: in[0], RowBytes: pc.RowBytes, Rows: pc.Rows, Pitch: pc.Pitch, BoxBytes: pc.BoxBytes,
			BoxRows: pc.BoxRows, Swizzle: pc.Swizzle}
		return ClusterProbeSpec(m, d, pc.X0, pc.Y0)
	}, func(got []byte) error {
		for r := 0; r < GemmCluster; r++ {
			if err := pc.CheckBoxes(fmt.Sprintf("cluster probe, block %d", r), got[r*len(want):(r+1)*len(want)], want); err != nil {
				return err
			}
		}
		return nil
	})
}

// runProbe uploads a probe's inputs and a poisoned output of outBytes,
// launches spec(inputs, output), and checks what the kernel wrote.
func (h Harness) runProbe(inputs [][]byte, outBytes int, spec func(in []cuda.Mem, d cuda.Mem) (LaunchSpec, error),
	check func([]byte) error) error {
	s := &session{r: h.R}
	defer s.free()
	in := make([]cuda.Mem, len(inputs))
	for i, host := range inputs {
		var err error
		if in[i], err = s.upload(host, true); err != nil {
			return err
		}
	}
	out := bytes.Repeat([]byte{0xA5}, outBytes)
	d, err := s.upload(out, false)
	if err != nil {
		return err
	}
	if err := s.launch(spec(in, d)); err != nil {
		return err
	}
	if err := s.finish(d, out); err != nil {
		return err
	}
	return check(out)
}

// alternative is the verdict on a probe of an alternative layout, which
// must fail: its error is swallowed, and passing is the error (hint says
// what to switch).
func alternative(err error, hint string) error {
	if err == nil {
		return fmt.Errorf("the alternative layout matches the hardware: %s", hint)
	}
	return nil
}

// ClusterDiagnostics runs the cluster probe (RunClusterProbe) on the TMA
// probe's cases where the runner has it (sm_90, emulator), apart from
// Diagnostics because a cluster whose multicast or remote arrivals do not
// reach the other block never ends: run it after them, so that such a
// hang costs only itself.
func (h Harness) ClusterDiagnostics() []kerneltest.Result {
	if !h.loaded("gc_cluster_probe") {
		return nil
	}
	var out []kerneltest.Result
	for _, pc := range kerneltest.TmaProbeCases() {
		out = append(out, probeResult("cluster probe", pc.Name, h.RunClusterProbe(pc), ""))
	}
	return out
}

// loaded reports whether the runner has kernel: a runner that can lack
// some (the Launcher, whose wgmma kernels load on sm_90 only) says so by
// Absent; the others have them all.
func (h Harness) loaded(kernel string) bool {
	absent, ok := h.R.(interface{ Absent(string) error })
	return !ok || absent.Absent(kernel) == nil
}

// probeResult is a diagnostics table row: passed unless err.
func probeResult(suite, name string, err error, metric string) kerneltest.Result {
	r := kerneltest.Result{Suite: suite, Case: name, Pass: err == nil, Metric: metric}
	if err != nil {
		r.Detail = err.Error()
	}
	return r
}

// Diagnostics runs the launch-path probes and returns them as table rows:
// the ABI probe (8-byte parameters arrive intact; which fatbin code ran),
// the mma.sp layout probes (the metadata layout the sparse GEMMs use, and
// the two alternatives for int8, which are expected to fail), the wgmma
// and wgmma.sp layout probes and the TMA probes where the runner has the
// wgmma kernels (sm_90, emulator),
// and the naive GEMMs (if they pass while a tensor-core GEMM fails, the
// fault is in that kernel's fragment handling, not in the launch path).
func (h Harness) Diagnostics() []kerneltest.Result {
	var out []kerneltest.Result
	add := func(suite, name string, err error, metric string) {
		out = append(out, probeResult(suite, name, err, metric))
	}
	a, b, c := int64(-2), uint64(0xdeadbeefcafef00d), int64(1)<<40
	p := uintptr(0x123456789abc)
	got, err := h.ABIProbe(a, b, p, c)
	if err == nil && [6]uint64(got[:6]) != [6]uint64{uint64(a), b, uint64(p), uint64(c), 3, 64} {
		err = fmt.Errorf("kernel read %v", got[:6])
	}
	add("abi", "8-byte params", err, fmt.Sprintf("arch %d", got[6]))
	for _, pr := range []struct {
		in      ref.Elem
		variant int64
	}{{ref.S8, 0}, {ref.F16, 0}, {ref.S8, 1}, {ref.S8, 2}} {
		pc, err := kerneltest.NewProbeCase(pr.in, "diagnostics")
		if err == nil {
			err = h.RunProbe(pc, pr.variant)
		}
		name := fmt.Sprintf("%v metadata layout %d", pr.in, pr.variant)
		if pr.variant != 0 {
			// An alternative must not match; if it does, the GEMMs use the
			// wrong layout.
			err = alternative(err, fmt.Sprintf("switch load_meta (kernels/sp24_meta.cuh) to variant %d", pr.variant))
			name += " (alternative, must fail)"
		}
		add("mma.sp probe", name, err, "")
	}
	// The wgmma probes, where the runner has the wgmma kernels.
	for _, in := range []ref.Elem{ref.S8, ref.F16} {
		for _, kk := range []int{0, 3} {
			if h.loaded(wgmmaProbeKernel(in, false)) {
				pc := kerneltest.NewWgmmaProbeCase(in, kk, "diagnostics")
				add("wgmma probe", fmt.Sprintf("%v k-step %d", in, kk), h.RunWgmmaProbe(pc), "")
			}
		}
		// k-steps 0 and 1 with the GEMMs' metadata layout; for int8 also the
		// two alternatives, which must fail (as in the mma.sp probes).
		for _, pr := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {0, 2}} {
			if !h.loaded(wgmmaProbeKernel(in, true)) || (in != ref.S8 && pr[1] != 0) {
				continue
			}
			pc, err := kerneltest.NewWgmmaSparseProbeCase(in, pr[0], "diagnostics")
			if err == nil {
				pc.Variant = pr[1]
				err = h.RunWgmmaProbe(pc)
			}
			name := fmt.Sprintf("%v k-step %d", in, pr[0])
			if pr[1] != 0 {
				err = alternative(err, fmt.Sprintf("switch the wgmma.sp kernels to metadata layout %d", pr[1]))
				name += fmt.Sprintf(" metadata layout %d (alternative, must fail)", pr[1])
			}
			add("wgmma.sp probe", name, err, "")
		}
	}
	if h.loaded("gc_tma_probe") {
		for _, pc := range kerneltest.TmaProbeCases() {
			add("tma probe", pc.Name, h.RunTmaProbe(pc), "")
		}
	}
	for _, in := range []ref.Elem{ref.S8, ref.F16} {
		out32 := ref.OutS32
		if in == ref.F16 {
			out32 = ref.OutF32
		}
		for _, sh := range [][3]int{{7, 13, 48}, {129, 131, 200}} {
			pb := kerneltest.NewGemmProblem(in, out32, sh[0], sh[1], sh[2], ref.PerCol, false, false)
			metric, err := kerneltest.CheckGemm(pb, h.NaiveGemmImpl)
			add("naive gemm", fmt.Sprintf("%v %dx%dx%d", in, sh[0], sh[1], sh[2]), err, metric)
		}
	}
	return out
}

// ABIProbe launches gc_abi_probe with known values and returns what the
// kernel read: [a, b, p, c, gridDim.x, blockDim.x, __CUDA_ARCH__].
func (h Harness) ABIProbe(a int64, b uint64, p uintptr, c int64) ([7]uint64, error) {
	var out [7]uint64
	s := &session{r: h.R}
	defer s.free()
	raw := make([]byte, 8*7)
	m, err := s.upload(raw, false)
	if err != nil {
		return out, err
	}
	if err := s.launch(ABISpec(m, a, b, p, c)); err != nil {
		return out, err
	}
	if err := s.finish(m, raw); err != nil {
		return out, err
	}
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return out, nil
}
