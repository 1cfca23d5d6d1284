//go:build gcompress_cuda

package gemmbench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/cuda/nvml"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
)

// Bencher checks and times GEMMs on one device: Reps timed launches after
// Warmup untimed ones.
type Bencher struct {
	// Persistent runs the p, m and q shapes in persistent blocks: as many
	// as the device runs at once (GemmArgs.MaxBlocks: one per SM, or fewer
	// where the driver's occupancy calculator says a cluster shape's
	// clusters do not all fit), each looping over tiles; Timing.Tile then
	// ends in PersistentSuffix.
	Persistent bool
	// Layout lays out the 2:4 GEMMs' A; Timing.Tile then ends in its
	// Suffix.
	Layout SparseLayout

	dev          *cuda.Device
	l            *gobind.Launcher
	reps, warmup int
	flush        *cuda.Buffer
	start, end   *cuda.Event
	rng          *rand.Rand
}

// New prepares a Bencher on dev (its kernels loaded by l): the L2 flush
// buffer and the two events. The random operands and sampled rows come from
// seed, so runs with the same seed time the same data.
func New(dev *cuda.Device, l *gobind.Launcher, reps, warmup int, seed uint64) (*Bencher, error) {
	if reps < 1 || warmup < 0 {
		return nil, fmt.Errorf("gemmbench: %d timed and %d untimed launches (want >= 1 and >= 0)", reps, warmup)
	}
	b := &Bencher{dev: dev, l: l, reps: reps, warmup: warmup, rng: rand.New(rand.NewPCG(seed, 7))}
	var err error
	if b.flush, err = dev.Alloc(max(2*dev.L2Bytes, 64<<20)); err != nil {
		return nil, err
	}
	if b.start, err = dev.NewEvent(); err == nil {
		b.end, err = dev.NewEvent()
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Close frees the flush buffer and the events.
func (b *Bencher) Close() {
	for _, e := range []*cuda.Event{b.start, b.end} {
		if e != nil {
			e.Destroy()
		}
	}
	if b.flush != nil {
		b.flush.Free()
	}
}

// problem is one GEMM on the device: its launch, a check of sampled
// output rows, and the release of its buffers.
type problem struct {
	spec         func(tile string) (gobind.LaunchSpec, error) // the launch in a tile shape
	setMaxBlocks func(n int64)                                // caps the launch's grid (GemmArgs.MaxBlocks)
	launch       func() error
	check        func() error
	free         func()
}

// Time checks f's m x n x k GEMM in tile shape tile ("": the shape
// launches that name none use, which moves on to the next shape where the
// first fails to load, as theirs do) on sampled rows, then times it. A
// failed check is reported in Timing.Check and the timing still made; an
// error means it could not run.
func (b *Bencher) Time(f Family, tile string, m, n, k int) (Timing, error) {
	if m <= 0 || n <= 0 || k <= 0 {
		return Timing{}, fmt.Errorf("%s: size %d x %d x %d (want positive)", f.Name, m, n, k)
	}
	var maxBlocks int64
	if b.Persistent {
		if !Persistable(f, tile) {
			return Timing{}, fmt.Errorf("%s: tile shape %q: persistent blocks are for the p, m and q shapes, whose blocks loop over tiles", f.Name, tile)
		}
		maxBlocks = int64(b.dev.SMs)
	}
	var p *problem
	var err error
	if f.Sparse {
		p, err = b.sparse(f, tile, m, n, k, maxBlocks)
	} else {
		p, err = b.dense(f, tile, m, n, k, maxBlocks)
	}
	if err != nil {
		return Timing{}, err
	}
	defer p.free()
	t := Timing{Kernel: f.Name, Tile: tile, M: m, N: n, K: k, Reps: b.reps, Check: "pass"}
	// Check before timing (DESIGN.md §5: every version is checked against
	// the reference before it is timed).
	if err := p.launch(); err != nil {
		return t, err
	}
	if t.Default = tile == "" || tile == b.l.DefaultTile(f.Sparse, f.In); tile == "" {
		t.Tile = b.l.DefaultTile(f.Sparse, f.In) // after the launch: where it went
	}
	spec, err := p.spec(t.Tile)
	if err != nil {
		b.dev.Synchronize() // the launch done before p.free
		return t, err
	}
	t.Impl, t.Grid = spec.Kernel, spec.Grid
	if r, err := b.l.Resident(spec); err == nil {
		t.Resident = r
		// A persistent block that cannot start until others end would run
		// its whole share of the tiles after them: no more blocks than run
		// at once (the check launch above computed the same output).
		if b.Persistent && r > 0 && r < spec.Grid {
			p.setMaxBlocks(int64(r))
			if spec, err = p.spec(t.Tile); err != nil {
				b.dev.Synchronize()
				return t, err
			}
			t.Grid = spec.Grid
		}
	}
	if b.Persistent {
		t.Tile += PersistentSuffix
		t.Default = false
	}
	if f.Sparse && b.Layout != (SparseLayout{}) {
		t.Tile += b.Layout.Suffix()
		t.Default = false
	}
	if err := b.dev.Synchronize(); err != nil {
		return t, err
	}
	if err := p.check(); err != nil {
		t.Check = "FAIL: " + err.Error()
	}
	for i := 0; i < b.warmup; i++ {
		if err := p.launch(); err != nil {
			return t, err
		}
	}
	sampler, _ := nvml.StartSampler(DuringInterval) // nil where NVML cannot sample
	defer func() {
		if sampler != nil {
			sampler.Stop()
		}
	}()
	ms := make([]float64, 0, b.reps)
	for r := 0; r < b.reps; r++ {
		d, err := b.timeOne(p, byte(r))
		if err != nil {
			return t, err
		}
		ms = append(ms, float64(d)/float64(time.Millisecond))
	}
	if sampler != nil {
		t.During = b.thisDevice(sampler.Stop())
	}
	b.readClocks(&t)
	st := bench.Summarize(ms, b.warmup)
	t.Samples, t.MedianMS, t.MinMS, t.MaxMS = ms, st.MedianMS, st.MinMS, st.MaxMS
	t.TOPS = 2 * float64(m) * float64(n) * float64(k) / (t.MedianMS * 1e-3) / 1e12
	return t, nil
}

// thisDevice returns the sampler report's entry for this device (nil if
// it has none).
func (b *Bencher) thisDevice(r nvml.Report) *nvml.DeviceReport {
	for i, d := range r.Devices {
		if strings.EqualFold(d.PCIBusID, b.dev.PCIBusID) {
			return &r.Devices[i]
		}
	}
	return nil
}

// readClocks records in t NVML's reading of this device's SM clock and
// clock limits now (nothing where NVML cannot say).
func (b *Bencher) readClocks(t *Timing) {
	devs, err := nvml.Devices()
	if err != nil {
		return
	}
	for _, d := range devs {
		if strings.EqualFold(d.PCIBusID, b.dev.PCIBusID) {
			if d.SMClock != nil {
				t.SMClockMHz = *d.SMClock
			}
			t.ClockLimits = d.ClockLimits
		}
	}
}

// timeOne flushes the L2 cache (fill byte v) and times one launch of p.
func (b *Bencher) timeOne(p *problem, v byte) (time.Duration, error) {
	if err := b.dev.Memset(b.flush.Mem(), v); err != nil {
		return 0, err
	}
	if err := b.start.Record(nil); err != nil {
		return 0, err
	}
	if err := p.launch(); err != nil {
		return 0, err
	}
	if err := b.end.Record(nil); err != nil {
		return 0, err
	}
	return b.end.Since(b.start)
}

// dense builds f's dense m x n x k GEMM in tile shape tile, its grid
// capped at maxBlocks (0: none).
func (b *Bencher) dense(f Family, tile string, m, n, k int, maxBlocks int64) (*problem, error) {
	out, eb := f.Out(), int(f.In.Bytes())
	ha, hb := kerneltest.RandOperand(b.rng, f.In, m, k, k), kerneltest.RandOperand(b.rng, f.In, n, k, k)
	bufs, c, err := b.upload(int64(m*n*out.ElemBytes()), ha, hb)
	if err != nil {
		return nil, err
	}
	args := &gobind.GemmArgs{In: f.In, Tile: tile, M: int64(m), N: int64(n), K: int64(k), A: bufs[0].Mem(), LdA: int64(k),
		B: bufs[1].Mem(), LdB: int64(k), Epilogue: gobind.Epilogue{Out: out, C: c.Mem(), LdCM: int64(n), LdCN: 1}, MaxBlocks: maxBlocks}
	p := &problem{launch: func() error { return b.l.Gemm(nil, args) }, free: func() { freeAll(bufs) },
		setMaxBlocks: func(n int64) { args.MaxBlocks = n }}
	p.spec = func(tile string) (gobind.LaunchSpec, error) { a := *args; a.Tile = tile; return a.Spec() }
	p.check = b.rowCheck(f, c, m, n, func(row int, want []byte) error {
		return kerneltest.HostGemm(&kerneltest.GemmProblem{In: f.In, M: 1, N: n, K: k, A: ha[row*k*eb : (row+1)*k*eb], LdA: k,
			B: hb, LdB: k, Out: out, C: want, LdCM: n, LdCN: 1})
	})
	return p, nil
}

// sparse builds f's 2:4 m x n x k GEMM (A the 2:4 matrix) in tile shape
// tile, its grid capped at maxBlocks; k must be a multiple of the 2:4
// format's alignment.
func (b *Bencher) sparse(f Family, tile string, m, n, k int, maxBlocks int64) (*problem, error) {
	out, eb := f.Out(), int(f.In.Bytes())
	if a := f.KAlign(); k%a != 0 {
		return nil, fmt.Errorf("%s: K = %d is not a multiple of %d (the 2:4 format's)", f.Name, k, a)
	}
	vals, meta, _, err := kerneltest.Compress24(f.In, kerneltest.Random24(b.rng, f.In, m, k), m, k)
	if err != nil {
		return nil, err
	}
	fm := ref.Sparse24Format(f.In)
	devVals, ldv, ldvk := vals, k/2, 0
	if !b.Layout.ValuesRows {
		if devVals, ldv, ldvk, err = fm.ValuesByKTile(vals, m, k, k/2, m); err != nil {
			return nil, err
		}
	}
	devMeta, lde, ldek := meta, k/8, 0
	if !b.Layout.MetaRows {
		if devMeta, lde, ldek, err = fm.MetaByKTile(meta, m, k, k/8, m); err != nil {
			return nil, err
		}
	}
	hb := kerneltest.RandOperand(b.rng, f.In, n, k, k)
	bufs, c, err := b.upload(int64(m*n*out.ElemBytes()), devVals, devMeta, hb)
	if err != nil {
		return nil, err
	}
	args := &gobind.SparseGemmArgs{In: f.In, Tile: tile, M: int64(m), N: int64(n), K: int64(k), AValues: bufs[0].Mem(), LdV: int64(ldv),
		LdVK: int64(ldvk), AMeta: bufs[1].Mem(), LdE: int64(lde), LdEK: int64(ldek), B: bufs[2].Mem(), LdB: int64(k),
		Epilogue: gobind.Epilogue{Out: out, C: c.Mem(), LdCM: int64(n), LdCN: 1}, MaxBlocks: maxBlocks}
	p := &problem{launch: func() error { return b.l.SparseGemm(nil, args) }, free: func() { freeAll(bufs) },
		setMaxBlocks: func(n int64) { args.MaxBlocks = n }}
	p.spec = func(tile string) (gobind.LaunchSpec, error) { a := *args; a.Tile = tile; return a.Spec() }
	p.check = b.rowCheck(f, c, m, n, func(row int, want []byte) error {
		return kerneltest.HostSparse(&kerneltest.SparseProblem{In: f.In, M: 1, N: n, K: k, Values: vals[row*k/2*eb : (row+1)*k/2*eb], LdV: k / 2,
			Meta: meta[row*k/8 : (row+1)*k/8], LdE: k / 8, B: hb, LdB: k, Out: out, C: want, LdCM: n, LdCN: 1})
	})
	return p, nil
}

// upload copies the host operands hs to the device and allocates an output
// of outBytes; the returned buffers hold the operands then the output.
func (b *Bencher) upload(outBytes int64, hs ...[]byte) ([]*cuda.Buffer, *cuda.Buffer, error) {
	var bufs []*cuda.Buffer
	for _, h := range hs {
		buf, err := cuda.Upload(b.dev, h)
		if err != nil {
			freeAll(bufs)
			return nil, nil, err
		}
		bufs = append(bufs, buf)
	}
	c, err := b.dev.Alloc(outBytes)
	if err != nil {
		freeAll(bufs)
		return nil, nil, err
	}
	return append(bufs, c), c, nil
}

func freeAll(bufs []*cuda.Buffer) {
	for _, b := range bufs {
		b.Free()
	}
}

// rowCheck returns the pre-timing check of an m x n output c: sampled
// rows (the first, the last and six at random) downloaded and compared
// with the one host computes into want.
func (b *Bencher) rowCheck(f Family, c *cuda.Buffer, m, n int, host func(row int, want []byte) error) func() error {
	out := f.Out()
	return func() error {
		rows := []int{0, m - 1}
		for len(rows) < 8 {
			rows = append(rows, b.rng.IntN(m))
		}
		for _, row := range rows {
			got := make([]byte, n*out.ElemBytes())
			at, err := c.Mem().Slice(int64(row*len(got)), int64(len(got)))
			if err != nil {
				return err
			}
			if err := b.dev.CopyOut(got, at); err != nil {
				return err
			}
			want := make([]byte, len(got))
			if err := host(row, want); err != nil {
				return err
			}
			if err := compareRow(f, row, got, want); err != nil {
				return err
			}
		}
		return nil
	}
}
