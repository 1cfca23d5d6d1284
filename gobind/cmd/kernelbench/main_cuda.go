//go:build gcompress_cuda

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/cuda/nvml"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/gobind/gemmbench"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/kernels/kerneltest"
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

// variant is one way to time a GEMM in one tile shape.
type variant struct {
	persistent bool
	layout     gemmbench.SparseLayout
}

// variants lists how f's GEMM in tile is timed: as launches make it, then
// with persistent the p, m and q shapes in persistent blocks, then the 2:4
// GEMMs in each of layouts (each way once).
func variants(f gemmbench.Family, tile string, persistent bool, layouts []gemmbench.SparseLayout) []variant {
	vs := []variant{{}}
	if persistent && gemmbench.Persistable(f, tile) {
		vs = append(vs, variant{persistent: true})
	}
	if f.Sparse {
		for _, l := range layouts {
			vs = append(vs, variant{layout: l})
		}
	}
	return vs
}

func run() error {
	device := flag.Int("device", 0, "CUDA device ordinal")
	check := flag.Bool("check", false, "run every kernel's test suite against its reference")
	short := flag.Bool("short", false, "with -check: skip the largest shapes")
	doBench := flag.Bool("bench", false, "time the GEMMs")
	sizes := flag.String("sizes", "4096,8192", "with -bench: comma-separated cube sizes M=N=K")
	kernels := flag.String("kernels", strings.Join([]string{gemmbench.Int8Dense, gemmbench.F16Dense, gemmbench.BF16Dense, gemmbench.Int8Sparse, gemmbench.F16Sparse}, ","), "with -bench: kernel families")
	reps := flag.Int("reps", 20, "timed repeats")
	warmup := flag.Int("warmup", 3, "untimed launches before timing")
	vendor := flag.String("vendor", "", "vendor_bench.py JSON to put beside our timings")
	persistent := flag.Bool("persistent", false, "with -bench: time the p, m and q shapes also in persistent blocks (as many as the GPU runs at once, each looping over tiles)")
	layoutList := flag.String("layouts", "", "with -bench: time the 2:4 GEMMs also with A laid out in each of these ways: rows (values and metadata row by row), values-rows, meta-rows (by default both k tile by k tile, as the CUDA backend uploads them)")
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
	layouts, err := gemmbench.ParseSparseLayouts(*layoutList)
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
	var families []gemmbench.Family
	if *doBench {
		for _, name := range strings.Split(*kernels, ",") {
			f, err := gemmbench.FamilyNamed(strings.TrimSpace(name))
			if err != nil {
				return fmt.Errorf("-kernels: %w", err)
			}
			families = append(families, f)
		}
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
	if n := l.Precompile(runKernels(l, *check, families, tileNames), runtime.NumCPU()); n > 0 {
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
		b, err := gemmbench.New(dev, l, *reps, *warmup, 42)
		if err != nil {
			return err
		}
		defer b.Close()
		for _, s := range ss {
			for _, f := range families {
				for _, tile := range shapes(l, f, tileNames) {
					for _, v := range variants(f, tile, *persistent, layouts) {
						b.Persistent, b.Layout = v.persistent, v.layout
						t, err := b.Time(f, tile, s, s, s)
						if err != nil {
							// One shape that fails to launch (a candidate the
							// device refuses) costs its own timing, not the
							// run's; a fault that ends the context fails
							// every launch after it, each reported.
							e := fmt.Sprintf("%s (%s, %+v) at %d: %v", f.Name, tile, v, s, err)
							fmt.Fprintln(os.Stderr, "kernelbench:", e)
							rep.BenchErrors = append(rep.BenchErrors, e)
							continue
						}
						during := ""
						if d := gemmbench.DuringText(t.During); d != "" {
							during = "  during: " + d
						}
						fmt.Printf("%-16s %-35s %dx%dx%d  %9.3f ms  %7.1f TOP/s  check %s  SM %d MHz after %v  blocks %d, %d resident%s\n", t.Kernel, t.Tile, s, s, s,
							t.MedianMS, t.TOPS, t.Check, t.SMClockMHz, t.ClockLimits, t.Grid, t.Resident, during)
						rep.Timings = append(rep.Timings, Timing{Timing: t})
					}
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
	if rep.NVML != nil {
		rep.NVML.Write(os.Stdout)
	}
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

// shapes lists the tile shapes to time for a family: its default shape on
// this device when names is nil, else those of names that are shapes of the
// family's kind (dense or 2:4) and that the device loaded (a named shape it
// could not load is reported and skipped).
func shapes(l *gobind.Launcher, f gemmbench.Family, names []string) []string {
	if names == nil {
		return []string{l.DefaultTile(f.Sparse, f.In)}
	}
	var out []string
	for _, t := range gobind.Tiles(f.Sparse) {
		if !slices.Contains(names, t.Name) {
			continue
		}
		if !l.TileLoaded(f.Sparse, f.In, t.Name) {
			fmt.Fprintf(os.Stderr, "kernelbench: %s: tile shape %s not loaded on this device (shared memory, or wgmma off sm_90), skipped\n", f.Name, t.Name)
			continue
		}
		out = append(out, t.Name)
	}
	return out
}

// runKernels names the kernels a run uses: with check every kernel, with
// bench the entry points of each family in the shapes that tiles names,
// else in its default shape.
func runKernels(l *gobind.Launcher, check bool, families []gemmbench.Family, tiles []string) []string {
	var names []string
	if check {
		for _, k := range gobind.Kernels {
			names = append(names, k.Name)
		}
	}
	for _, f := range families {
		shapes := tiles
		if shapes == nil {
			shapes = []string{l.DefaultTile(f.Sparse, f.In)}
		}
		for _, tile := range shapes {
			names = append(names, gobind.TileKernels(f.Sparse, f.In, tile)...)
		}
	}
	return names
}
