//go:build gcompress_cuda

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/cuda/nvml"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kernelbench:", err)
		os.Exit(1)
	}
}

// printer is a kerneltest.Reporter that prints failures as they happen.
type printer struct{}

func (printer) Helper()             {}
func (printer) Logf(string, ...any) {}
func (printer) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
}

func run() error {
	device := flag.Int("device", 0, "CUDA device ordinal")
	check := flag.Bool("check", false, "run every kernel's test suite against its reference")
	short := flag.Bool("short", false, "with -check: skip the largest shapes")
	doBench := flag.Bool("bench", false, "time the GEMMs")
	sizes := flag.String("sizes", "4096,8192", "with -bench: comma-separated cube sizes M=N=K")
	kernels := flag.String("kernels", strings.Join([]string{Int8Dense, F16Dense, BF16Dense, Int8Sparse, F16Sparse}, ","), "with -bench: kernel families")
	reps := flag.Int("reps", 20, "timed repeats")
	warmup := flag.Int("warmup", 3, "untimed launches before timing")
	vendor := flag.String("vendor", "", "vendor_bench.py JSON to put beside our timings")
	tiles := flag.String("tiles", "default", "with -bench: GEMM tile shapes to time: default (the shape launches use on this device), all, or a comma-separated list of names (gobind.DenseTiles, gobind.SparseTiles)")
	out := flag.String("out", "kernelbench.json", "JSON report")
	flag.Parse()
	if !*check && !*doBench {
		return fmt.Errorf("nothing to do: give -check and/or -bench")
	}
	// The flags are checked before any work (a -check run takes minutes).
	tileNames, err := parseTiles(*tiles)
	if err != nil {
		return err
	}
	var ss []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n%128 != 0 {
			return fmt.Errorf("-sizes %q: want positive multiples of 128", *sizes)
		}
		ss = append(ss, n)
	}

	dev, err := cuda.Open(*device)
	if err != nil {
		return err
	}
	defer dev.Close()
	l, err := gobind.Load(dev)
	if err != nil {
		return err
	}
	rep := &Report{Command: strings.Join(os.Args, " "), Machine: bench.ThisMachine(), Device: deviceInfo(dev, l)}
	fmt.Printf("device: %s, fatbin code %d, driver %s\n", dev, rep.Device.Arch, rep.Device.DriverVersion)
	if rep.Device.WgmmaCode != "" {
		fmt.Printf("wgmma kernels: %s\n", rep.Device.WgmmaCode)
	}
	// A wgmma kernel is loaded on its first use, and where the build has
	// no cubin for it the driver compiles it then (1.2 s each on an H100,
	// session 21): those this run uses are loaded first, one per CPU at a
	// time.
	load := time.Now()
	if n := l.Precompile(runKernels(l, *check, *doBench, strings.Split(*kernels, ","), tileNames), runtime.NumCPU()); n > 0 {
		cubins, compiled := l.WgmmaLoaded()
		fmt.Printf("wgmma load: %d kernels in %v, %d at a time; %d from cubins, %d compiled by the driver (code: %s)\n",
			n, time.Since(load).Round(time.Millisecond), runtime.NumCPU(), cubins, compiled, l.WgmmaCode())
	}
	sampler, err := nvml.StartSampler(200 * time.Millisecond)
	if err != nil {
		rep.NVMLError = err.Error()
	}

	if *check {
		dev.SyncLaunches = true
		start := time.Now()
		size := kerneltest.Full
		if *short {
			size = kerneltest.Short
		}
		h := l.Harness()
		rep.Checks = append(rep.Checks, h.Diagnostics()...)
		rep.Checks = append(rep.Checks, h.ClusterDiagnostics()...)
		rep.Checks = append(rep.Checks, h.GemmSuites(printer{}, size)...)
		rep.Checks = append(rep.Checks, kerneltest.Elementwise(printer{}, h.ElemImpl, size)...)
		fmt.Println("\n== kernel checks (full table in the JSON report) ==")
		rep.CheckFailures = kerneltest.WriteSummary(os.Stdout, rep.Checks)
		fmt.Printf("checks took %v\n", time.Since(start).Round(time.Second))
		dev.SyncLaunches = false
	}

	if *doBench {
		b := &bencher{dev: dev, l: l, reps: *reps, warmup: *warmup}
		if err := b.init(); err != nil {
			return err
		}
		for _, s := range ss {
			for _, k := range strings.Split(*kernels, ",") {
				k = strings.TrimSpace(k)
				shapes, err := b.shapes(k, tileNames)
				if err != nil {
					return err
				}
				for _, tile := range shapes {
					t, err := b.time(k, tile, s)
					if err != nil {
						// One shape that fails to launch (a candidate the
						// device refuses) costs its own timing, not the
						// run's; a fault that ends the context fails
						// every launch after it, each reported.
						e := fmt.Sprintf("%s (%s) at %d: %v", k, tile, s, err)
						fmt.Fprintln(os.Stderr, "kernelbench:", e)
						rep.BenchErrors = append(rep.BenchErrors, e)
						continue
					}
					fmt.Printf("%-16s %-13s %dx%dx%d  %9.3f ms  %7.1f TOP/s  check %s\n", t.Kernel, t.Tile, s, s, s, t.MedianMS, t.TOPS, t.Check)
					rep.Timings = append(rep.Timings, t)
				}
			}
		}
		if *vendor != "" {
			if rep.Vendor, err = readVendor(*vendor); err != nil {
				return err
			}
			attachVendor(rep.Timings, rep.Vendor)
		}
		rep.Acceptance = acceptance(rep.Timings, ss[len(ss)-1])
	}
	if sampler != nil {
		r := sampler.Stop()
		rep.NVML = &r
	}
	if err := atomicfile.Write(*out, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}); err != nil {
		return err
	}
	fmt.Println("\n== summary ==")
	writeSummary(os.Stdout, rep)
	fmt.Println("report:", *out)
	if rep.CheckFailures > 0 {
		return fmt.Errorf("%d kernel check(s) failed", rep.CheckFailures)
	}
	if len(rep.BenchErrors) > 0 {
		return fmt.Errorf("%d kernel(s) not timed", len(rep.BenchErrors))
	}
	return nil
}

func deviceInfo(dev *cuda.Device, l *gobind.Launcher) DeviceInfo {
	d := DeviceInfo{Name: dev.Name, CC: fmt.Sprintf("%d.%d", dev.CCMajor, dev.CCMinor), SMs: dev.SMs, L2Bytes: dev.L2Bytes,
		MemoryBytes: dev.TotalMem, CUDADriver: fmt.Sprintf("%d.%d", dev.DriverVersion/1000, dev.DriverVersion%1000/10)}
	if devs, err := nvml.Devices(); err == nil && len(devs) > 0 {
		d.DriverVersion = devs[0].DriverVersion
	}
	if got, err := l.ABIProbe(0, 0, 0, 0); err == nil {
		d.Arch = int(got[6])
	}
	d.WgmmaCode = l.WgmmaCode()
	return d
}

// bencher times one kernel family at a time with CUDA events, the L2 cache
// flushed (a buffer of twice its size overwritten) before every repeat.
type bencher struct {
	dev          *cuda.Device
	l            *gobind.Launcher
	reps, warmup int
	flush        *cuda.Buffer
	start, end   *cuda.Event
	rng          *rand.Rand
}

func (b *bencher) init() error {
	var err error
	if b.flush, err = b.dev.Alloc(max(2*b.dev.L2Bytes, 64<<20)); err != nil {
		return err
	}
	if b.start, err = b.dev.NewEvent(); err != nil {
		return err
	}
	b.end, err = b.dev.NewEvent()
	b.rng = rand.New(rand.NewPCG(42, 7))
	return err
}

// problem is one benchmark GEMM on the device: a launch closure and a
// checker of sampled output rows.
type problem struct {
	impl   string
	launch func() error
	check  func() error
	free   func()
}

// families maps each kernel family to its input type and whether it is
// 2:4 sparse.
var families = map[string]struct {
	in     ref.Elem
	sparse bool
}{
	Int8Dense: {ref.S8, false}, F16Dense: {ref.F16, false}, BF16Dense: {ref.BF16, false},
	Int8Sparse: {ref.S8, true}, F16Sparse: {ref.F16, true},
}

// shapes lists the tile shapes to time for a family: its default shape on
// this device when names is nil, else those of names that are shapes of the
// family's kind (dense or 2:4) and that the device loaded (a named shape it
// could not load is reported and skipped).
func (b *bencher) shapes(kernel string, names []string) ([]string, error) {
	f, ok := families[kernel]
	if !ok {
		return nil, fmt.Errorf("unknown kernel family %q", kernel)
	}
	if names == nil {
		return []string{b.l.DefaultTile(f.sparse, f.in)}, nil
	}
	tiles := gobind.DenseTiles
	if f.sparse {
		tiles = gobind.SparseTiles
	}
	var out []string
	for _, t := range tiles {
		if !slices.Contains(names, t.Name) {
			continue
		}
		if !b.l.TileLoaded(f.sparse, f.in, t.Name) {
			fmt.Fprintf(os.Stderr, "kernelbench: %s: tile shape %s not loaded on this device (shared memory, or wgmma off sm_90), skipped\n", kernel, t.Name)
			continue
		}
		out = append(out, t.Name)
	}
	return out, nil
}

// runKernels names the kernels a run uses: with check every kernel, with
// bench the entry points of each family (unknown names aside: shapes
// reports them) in the shapes that tiles names, else in its default shape.
func runKernels(l *gobind.Launcher, check, bench bool, kernels, tiles []string) []string {
	var names []string
	if check {
		for _, k := range gobind.Kernels {
			names = append(names, k.Name)
		}
	}
	if !bench {
		return names
	}
	for _, k := range kernels {
		f, ok := families[strings.TrimSpace(k)]
		if !ok {
			continue
		}
		shapes := tiles
		if shapes == nil {
			shapes = []string{l.DefaultTile(f.sparse, f.in)}
		}
		for _, tile := range shapes {
			names = append(names, gobind.TileKernels(f.sparse, f.in, tile)...)
		}
	}
	return names
}

// benchOut is the output type of the timed GEMMs: int32 for int8, the half
// type for halves (as torch.matmul returns).
var benchOut = map[ref.Elem]ref.Out{ref.S8: ref.OutS32, ref.F16: ref.OutF16, ref.BF16: ref.OutBF16}

func (b *bencher) time(kernel, tile string, s int) (Timing, error) {
	f := families[kernel]
	var p *problem
	var err error
	if f.sparse {
		p, err = b.sparse(f.in, tile, s)
	} else {
		p, err = b.dense(f.in, tile, s)
	}
	if err != nil {
		return Timing{}, err
	}
	defer p.free()
	t := Timing{Kernel: kernel, Tile: tile, Default: tile == b.l.DefaultTile(f.sparse, f.in), Impl: p.impl, M: s, N: s, K: s, Reps: b.reps, Check: "pass"}
	// Check before timing (DESIGN.md §5: every version is checked against
	// the reference before it is timed).
	if err := p.launch(); err != nil {
		return t, err
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
	ms := make([]float64, 0, b.reps)
	for r := 0; r < b.reps; r++ {
		if err := b.dev.Memset(b.flush.Mem(), byte(r)); err != nil {
			return t, err
		}
		if err := b.start.Record(nil); err != nil {
			return t, err
		}
		if err := p.launch(); err != nil {
			return t, err
		}
		if err := b.end.Record(nil); err != nil {
			return t, err
		}
		d, err := b.end.Since(b.start)
		if err != nil {
			return t, err
		}
		ms = append(ms, float64(d)/float64(time.Millisecond))
	}
	sort.Float64s(ms)
	t.MinMS, t.MaxMS = ms[0], ms[len(ms)-1]
	t.MedianMS = ms[len(ms)/2]
	if len(ms)%2 == 0 {
		t.MedianMS = (ms[len(ms)/2-1] + ms[len(ms)/2]) / 2
	}
	t.TOPS = 2 * float64(s) * float64(s) * float64(s) / (t.MedianMS * 1e-3) / 1e12
	return t, nil
}

// randBytes fills n elements of type in: int8 uniform over [-128, 127],
// halves uniform over [-1, 1].
func (b *bencher) randBytes(in ref.Elem, n int) []byte {
	out := make([]byte, n*int(in.Bytes()))
	switch in {
	case ref.S8:
		for i := 0; i+8 <= len(out); i += 8 {
			v := b.rng.Uint64()
			for j := 0; j < 8; j++ {
				out[i+j] = byte(v >> (8 * j))
			}
		}
	default:
		for i := 0; i < n; i++ {
			var h uint16
			f := float32(b.rng.Float64()*2 - 1)
			if in == ref.F16 {
				h = uint16(tensor.NewF16(f))
			} else {
				h = uint16(tensor.NewBF16(f))
			}
			out[2*i], out[2*i+1] = byte(h), byte(h>>8)
		}
	}
	return out
}

// sampleRows are the output rows the pre-timing check compares.
func sampleRows(r *rand.Rand, m int) []int {
	rows := []int{0, m - 1}
	for len(rows) < 8 {
		rows = append(rows, r.IntN(m))
	}
	return rows
}

// dense builds an s x s x s dense GEMM in tile shape tile, output benchOut.
func (b *bencher) dense(in ref.Elem, tile string, s int) (*problem, error) {
	out := benchOut[in]
	ha, hb := b.randBytes(in, s*s), b.randBytes(in, s*s)
	bufs, err := b.uploadAll(ha, hb)
	if err != nil {
		return nil, err
	}
	c, err := b.dev.Alloc(int64(s*s) * int64(out.ElemBytes()))
	if err != nil {
		freeAll(bufs)
		return nil, err
	}
	bufs = append(bufs, c)
	args := &gobind.GemmArgs{In: in, Tile: tile, M: int64(s), N: int64(s), K: int64(s), A: bufs[0].Mem(), LdA: int64(s), B: bufs[1].Mem(), LdB: int64(s),
		Epilogue: gobind.Epilogue{Out: out, C: c.Mem(), LdCM: int64(s), LdCN: 1}}
	p := &problem{impl: args.Kernel(), launch: func() error { return b.l.Gemm(nil, args) }, free: func() { freeAll(bufs) }}
	p.check = b.rowCheck(in, out, c, s, func(row int, want []byte) error {
		return kerneltest.HostGemm(&kerneltest.GemmProblem{In: in, M: 1, N: s, K: s, A: ha[row*s*int(in.Bytes()) : (row+1)*s*int(in.Bytes())], LdA: s,
			B: hb, LdB: s, Out: out, C: want, LdCM: s, LdCN: 1})
	})
	return p, nil
}

// rowCheck returns the pre-timing check of an s x s output c: each
// sampled row downloaded and compared with the one host computes into
// want.
func (b *bencher) rowCheck(in ref.Elem, out ref.Out, c *cuda.Buffer, s int, host func(row int, want []byte) error) func() error {
	return func() error {
		for _, row := range sampleRows(b.rng, s) {
			got := make([]byte, s*out.ElemBytes())
			m, _ := c.Mem().Slice(int64(row*s*out.ElemBytes()), int64(len(got)))
			if err := b.dev.CopyOut(got, m); err != nil {
				return err
			}
			want := make([]byte, len(got))
			if err := host(row, want); err != nil {
				return err
			}
			if err := compareRow(in, out, row, got, want); err != nil {
				return err
			}
		}
		return nil
	}
}

// sparse builds an s x s x s 2:4 GEMM (A the 2:4 weight) in tile shape
// tile, with outputs as for dense.
func (b *bencher) sparse(in ref.Elem, tile string, s int) (*problem, error) {
	out := benchOut[in]
	dense := b.randBytes(in, s*s)
	// Zero two of every four along K.
	for i := 0; i < s*s; i += 4 {
		perm := b.rng.Perm(4)
		for _, c := range perm[:2] {
			for j := 0; j < int(in.Bytes()); j++ {
				dense[(i+c)*int(in.Bytes())+j] = 0
			}
		}
	}
	vals, meta, _, err := kerneltest.Compress24(in, dense, s, s)
	if err != nil {
		return nil, err
	}
	hb := b.randBytes(in, s*s)
	bufs, err := b.uploadAll(vals, meta, hb)
	if err != nil {
		return nil, err
	}
	c, err := b.dev.Alloc(int64(s*s) * int64(out.ElemBytes()))
	if err != nil {
		freeAll(bufs)
		return nil, err
	}
	bufs = append(bufs, c)
	args := &gobind.SparseGemmArgs{In: in, Tile: tile, M: int64(s), N: int64(s), K: int64(s), AValues: bufs[0].Mem(), LdV: int64(s / 2),
		AMeta: bufs[1].Mem(), LdE: int64(s / 8), B: bufs[2].Mem(), LdB: int64(s),
		Epilogue: gobind.Epilogue{Out: out, C: c.Mem(), LdCM: int64(s), LdCN: 1}}
	p := &problem{impl: args.Kernel(), launch: func() error { return b.l.SparseGemm(nil, args) }, free: func() { freeAll(bufs) }}
	eb := int(in.Bytes())
	p.check = b.rowCheck(in, out, c, s, func(row int, want []byte) error {
		return kerneltest.HostSparse(&kerneltest.SparseProblem{In: in, M: 1, N: s, K: s, Values: vals[row*s/2*eb : (row+1)*s/2*eb], LdV: s / 2,
			Meta: meta[row*s/8 : (row+1)*s/8], LdE: s / 8, B: hb, LdB: s, Out: out, C: want, LdCM: s, LdCN: 1})
	})
	return p, nil
}

// compareRow checks one sampled output row: bit for bit for int8 inputs, by
// NMSE for the half types.
func compareRow(in ref.Elem, out ref.Out, row int, got, want []byte) error {
	if in == ref.S8 {
		for i := 0; i < len(got); i += 4 {
			if string(got[i:i+4]) != string(want[i:i+4]) {
				return fmt.Errorf("row %d column %d differs", row, i/4)
			}
		}
		return nil
	}
	var num, den float64
	for i := 0; i < len(got); i += 2 {
		g, w := half(out, got[i:]), half(out, want[i:])
		num += (g - w) * (g - w)
		den += w * w
	}
	tol := kerneltest.NMSEHalfGemmF16
	if out == ref.OutBF16 {
		tol = kerneltest.NMSEHalfGemmBF16
	}
	if nmse := num / den; !(nmse <= tol) {
		return fmt.Errorf("row %d: NMSE %.3g above %.0g", row, nmse, tol)
	}
	return nil
}

func half(out ref.Out, b []byte) float64 {
	h := uint16(b[0]) | uint16(b[1])<<8
	if out == ref.OutBF16 {
		return float64(tensor.BF16(h).Float32())
	}
	v := float64(tensor.F16(h).Float32())
	if math.IsInf(v, 0) {
		return math.NaN()
	}
	return v
}

func (b *bencher) uploadAll(hs ...[]byte) ([]*cuda.Buffer, error) {
	var bufs []*cuda.Buffer
	for _, h := range hs {
		buf, err := cuda.Upload(b.dev, h)
		if err != nil {
			freeAll(bufs)
			return nil, err
		}
		bufs = append(bufs, buf)
	}
	return bufs, nil
}

func freeAll(bufs []*cuda.Buffer) {
	for _, b := range bufs {
		b.Free()
	}
}
