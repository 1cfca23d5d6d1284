//go:build gcompress_cuda

package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/cuda/nvml"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/gobind/gemmbench"
)

// deviceGemmReport is the JSON document of `bench gemm --device cuda:N
// --json`: the keys of the CPU's gemmReport where they mean the same.
type deviceGemmReport struct {
	Machine bench.Machine `json:"machine"`
	Device  string        `json:"device"`
	CC      string        `json:"compute_capability"`
	DType   string        `json:"dtype"`
	Sparse  bool          `json:"sparse24"`
	M       int           `json:"m"`
	N       int           `json:"n"`
	K       int           `json:"k"`
	deviceGemmTiming
	// Dense is the dense GEMM of the same type and size (--vs-dense), and
	// SpeedupOverDense its median time over the 2:4 one's.
	Dense            *deviceGemmTiming `json:"dense,omitempty"`
	SpeedupOverDense float64           `json:"speedup_over_dense,omitempty"`
	// WgmmaCode says where the Hopper kernels' code came from (sm_90 only).
	WgmmaCode string `json:"wgmma_code,omitempty"`
	// GPU is what NVML sampled while the operands were made, checked and
	// timed.
	GPU gpuSummary `json:"gpu"`
}

// deviceGemmTiming is one timed GEMM of the report.
type deviceGemmTiming struct {
	// Kernel is the entry point timed, Tile its tile shape, DefaultTile
	// whether launches that name none use that shape on this GPU.
	Kernel      string      `json:"kernel"`
	Tile        string      `json:"tile"`
	DefaultTile bool        `json:"default_tile"`
	Timing      bench.Stats `json:"timing"`
	GOPS        float64     `json:"gops"` // 2*m*n*k / median time, in 1e9 per second
	// Check is "pass" or how the sampled rows differ from the reference.
	Check string `json:"check"`
	// SMClockMHz and ClockLimits: NVML's reading right after the timed
	// launches (gemmbench.Timing).
	SMClockMHz  uint32   `json:"sm_clock_mhz_after,omitempty"`
	ClockLimits []string `json:"clock_limits_after,omitempty"`
	// During is NVML's sampling while the launches ran (gemmbench.Timing).
	During *nvml.DeviceReport `json:"during,omitempty"`
	// Grid and Resident: the launch's blocks and how many the device runs
	// at once (gemmbench.Timing).
	Grid     int `json:"grid"`
	Resident int `json:"resident_blocks,omitempty"`
}

// benchGemmDevice times bench gemm on the GPU that openDevice opened.
func benchGemmDevice(w io.Writer, g *globals, f *gemmFlags) error {
	dtype := cmp.Or(f.dtype, "int8")
	fam, err := gemmbench.FamilyOf(dtype, f.sparse)
	if err != nil {
		return usagef("--dtype %s: %v", dtype, err)
	}
	l := cudaBackend.K
	if f.tile == "list" {
		return listTiles(w, l, fam)
	}
	if err := checkDeviceGemm(fam, f, cudaBackend.Dev.TotalMem); err != nil {
		return err
	}
	if f.tile != "" && !l.TileLoaded(fam.Sparse, fam.In, f.tile) {
		return fmt.Errorf("bench gemm: tile shape %s of the %s GEMMs does not load on %s (its shared memory, or wgmma kernels off sm_90; --tile list names them)",
			f.tile, fam.Name, cudaBackend.Dev.Name)
	}
	b, err := gemmbench.New(cudaBackend.Dev, l, f.runs, f.warmup, f.seed)
	if err != nil {
		return err
	}
	defer b.Close()
	gpu := startGPUMonitor()
	defer gpu.stop() // on an error return; a second stop is harmless
	timeGemm := func(fam gemmbench.Family, tile string) (*deviceGemmTiming, error) {
		t, err := b.Time(fam, tile, f.m, f.n, f.k)
		if errors.Is(err, gobind.ErrArgs) {
			return nil, usagef("%v", err)
		}
		if err != nil {
			return nil, fmt.Errorf("bench gemm on %s: %w", g.device, err)
		}
		return &deviceGemmTiming{Kernel: t.Impl, Tile: t.Tile, DefaultTile: t.Default, Timing: bench.Summarize(t.Samples, f.warmup),
			GOPS: t.TOPS * 1e3, Check: t.Check, SMClockMHz: t.SMClockMHz, ClockLimits: t.ClockLimits,
			During: t.During, Grid: t.Grid, Resident: t.Resident}, nil
	}
	b.Persistent = f.persistent
	t, err := timeGemm(fam, f.tile)
	if err != nil {
		return err
	}
	b.Persistent = false // the dense twin in its default shape
	dev := cudaBackend.Dev
	rep := deviceGemmReport{Machine: bench.ThisMachine(), Device: fmt.Sprintf("%s (%s)", dev.Name, g.device),
		CC: fmt.Sprintf("%d.%d", dev.CCMajor, dev.CCMinor), DType: dtype, Sparse: f.sparse, M: f.m, N: f.n, K: f.k,
		deviceGemmTiming: *t, WgmmaCode: l.WgmmaCode()}
	if f.vsDense {
		dense, _ := gemmbench.FamilyOf(dtype, false)
		if rep.Dense, err = timeGemm(dense, ""); err != nil {
			return err
		}
		rep.SpeedupOverDense = rep.Dense.Timing.MedianMS / t.Timing.MedianMS
	}
	rep.GPU = gpu.stop()
	if err := writeBench(w, f.asJSON, rep, func(w io.Writer) {
		kind := dtype
		if f.sparse {
			kind += " 2:4"
		}
		t.write(w, fmt.Sprintf("gemm %s %dx%dx%d on %s", kind, f.m, f.n, f.k, rep.Device))
		if d := rep.Dense; d != nil {
			d.write(w, "dense "+dtype)
			fmt.Fprintf(w, "2:4 speed-up over dense: %.2fx\n", rep.SpeedupOverDense)
		}
		rep.GPU.writeDevices(w)
	}); err != nil {
		return err
	}
	for _, t := range []*deviceGemmTiming{t, rep.Dense} {
		if t != nil && t.Check != "pass" {
			return fmt.Errorf("bench gemm: %s disagrees with the reference: %s", t.Kernel, strings.TrimPrefix(t.Check, "FAIL: "))
		}
	}
	return nil
}

// write prints the timing on a line that starts with what, then the
// launch's blocks and how many run at once, and NVML's clock readings
// after and during the timed launches.
func (t *deviceGemmTiming) write(w io.Writer, what string) {
	fmt.Fprintf(w, "%s, %s (tile %s): median %.3f ms (min %.3f), %.1f TOP/s; sampled rows %s\n",
		what, t.Kernel, t.Tile, t.Timing.MedianMS, t.Timing.MinMS, t.GOPS/1e3, t.Check)
	if t.Resident > 0 {
		fmt.Fprintf(w, "  %d blocks, %d resident at once: %.1f waves\n", t.Grid, t.Resident, float64(t.Grid)/float64(t.Resident))
	}
	if t.SMClockMHz > 0 {
		fmt.Fprintf(w, "  SM clock right after the timed launches: %d MHz", t.SMClockMHz)
		if len(t.ClockLimits) > 0 {
			fmt.Fprintf(w, ", held by %s", strings.Join(t.ClockLimits, ", "))
		}
		fmt.Fprintln(w)
	}
	if s := gemmbench.DuringText(t.During); s != "" {
		fmt.Fprintf(w, "  while timed (NVML every %v): %s\n", gemmbench.DuringInterval, s)
	}
}

// checkDeviceGemm checks bench gemm's sizes and tile for family fam before
// any operand is made: what the kernels take (16-byte rows; a 2:4 K of
// whole stages), operands and output that fit in half the device's memory
// (deviceMem bytes; the host holds them too; with --vs-dense the dense
// GEMM's are smaller), a tile shape of fam's kind, --vs-dense only with a
// 2:4 family and --persistent only with a p, m or q shape.
func checkDeviceGemm(fam gemmbench.Family, f *gemmFlags, deviceMem int64) error {
	if f.m <= 0 || f.n <= 0 || f.k <= 0 {
		return usagef("--m, --n and --k must be positive")
	}
	if f.vsDense && !fam.Sparse {
		return usagef("--vs-dense compares a 2:4 GEMM with the dense one: give --sparse too")
	}
	if f.persistent && !gemmbench.Persistable(fam, f.tile) {
		return usagef("--persistent: the blocks of the p, m and q shapes loop over tiles; give one of theirs as --tile (--tile list names them)")
	}
	m, n, k := float64(f.m), float64(f.n), float64(f.k)
	a := m * k * float64(fam.In.Bytes())
	if fam.Sparse {
		a = a/2 + m*k/8 // values and metadata
	}
	need := a + n*k*float64(fam.In.Bytes()) + m*n*float64(fam.Out().ElemBytes())
	if need > float64(deviceMem)/2 {
		return usagef("%dx%dx%d needs %.3g GB for its operands and output; this GPU has %.3g GB (at most half of it is used)",
			f.m, f.n, f.k, need/1e9, float64(deviceMem)/1e9)
	}
	if per := 16 / int(fam.In.Bytes()); f.k%per != 0 {
		return usagef("--k %d: the GPU GEMMs read rows of whole 16-byte units, so k must be a multiple of %d for %s", f.k, per, fam.In)
	}
	if a := fam.KAlign(); f.k%a != 0 {
		return usagef("--k %d: the 2:4 %s GEMMs need k a multiple of %d", f.k, fam.In, a)
	}
	if f.tile != "" && !slices.Contains(tileNames(fam), f.tile) {
		return usagef("--tile %s: not a tile shape of the %s GEMMs (--tile list names them)", f.tile, fam.Name)
	}
	return nil
}

// tileNames are the tile shapes of fam's kind (dense or 2:4); every one
// has kernels for every input type (gobind.TileKernels).
func tileNames(fam gemmbench.Family) []string {
	var names []string
	for _, t := range gobind.Tiles(fam.Sparse) {
		names = append(names, t.Name)
	}
	return names
}

// listTiles prints fam's tile shapes, marking this GPU's default (which
// kernels a shape takes is in gobind's geometry; whether this GPU loads
// them shows when one is timed).
func listTiles(w io.Writer, l *gobind.Launcher, fam gemmbench.Family) error {
	def := l.DefaultTile(fam.Sparse, fam.In)
	fmt.Fprintf(w, "tile shapes of the %s GEMMs (* this GPU's default):\n", fam.Name)
	for _, name := range tileNames(fam) {
		mark := " "
		if name == def {
			mark = "*"
		}
		fmt.Fprintf(w, "%s %s\n", mark, name)
	}
	return nil
}
