package gemmbench

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gcompress/gcompress/cuda/nvml"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
)

// Kernel family names; shared with kernels/bench/vendor_bench.py's results.
const (
	Int8Dense  = "int8_dense"
	F16Dense   = "f16_dense"
	BF16Dense  = "bf16_dense"
	Int8Sparse = "int8_sparse24"
	F16Sparse  = "f16_sparse24"
	BF16Sparse = "bf16_sparse24"
)

// Family is one kind of GEMM: its input type and whether A is 2:4 sparse.
type Family struct {
	Name   string
	In     ref.Elem
	Sparse bool
}

// Families are the GEMM families gemmbench times.
var Families = []Family{
	{Int8Dense, ref.S8, false}, {F16Dense, ref.F16, false}, {BF16Dense, ref.BF16, false},
	{Int8Sparse, ref.S8, true}, {F16Sparse, ref.F16, true}, {BF16Sparse, ref.BF16, true},
}

// FamilyNamed returns the family called name.
func FamilyNamed(name string) (Family, error) {
	var names []string
	for _, f := range Families {
		if f.Name == name {
			return f, nil
		}
		names = append(names, f.Name)
	}
	return Family{}, fmt.Errorf("unknown GEMM family %q (want one of %s)", name, strings.Join(names, ", "))
}

// FamilyOf returns the family of dtype ("int8", "f16" or "bf16" inputs),
// dense or 2:4.
func FamilyOf(dtype string, sparse bool) (Family, error) {
	in, ok := map[string]ref.Elem{"int8": ref.S8, "f16": ref.F16, "bf16": ref.BF16}[dtype]
	for _, f := range Families {
		if ok && f.In == in && f.Sparse == sparse {
			return f, nil
		}
	}
	return Family{}, fmt.Errorf("no GPU GEMM takes %q inputs (want int8, f16 or bf16)", dtype)
}

// Out is the output type of a family's timed GEMMs: int32 for int8 inputs,
// the half type itself for halves (as torch.matmul returns).
func (f Family) Out() ref.Out {
	switch f.In {
	case ref.F16:
		return ref.OutF16
	case ref.BF16:
		return ref.OutBF16
	}
	return ref.OutS32
}

// KAlign is the multiple of K the family's GEMMs take: the 2:4 format's
// alignment, 1 for dense.
func (f Family) KAlign() int {
	if !f.Sparse {
		return 1
	}
	return ref.Sparse24Format(f.In).KAlign
}

// PersistentSuffix marks a timing of persistent blocks (Bencher.Persistent)
// after its tile shape's name.
const PersistentSuffix = "/persistent"

// SparseLayout is how a 2:4 timing lays out A in memory: its values and
// its metadata each k tile by k tile (ref.ByKTile, what the CUDA backend
// uploads; the zero value) or row by row (ref.Compress24's layout).
type SparseLayout struct{ ValuesRows, MetaRows bool }

// sparseLayoutNames names the layouts other than the default.
var sparseLayoutNames = map[SparseLayout]string{
	{ValuesRows: true, MetaRows: true}: "rows", {ValuesRows: true}: "values-rows", {MetaRows: true}: "meta-rows",
}

// Suffix marks a timing in layout l after its tile shape's name: "" for
// the default, else "/" and its name (ParseSparseLayouts).
func (l SparseLayout) Suffix() string {
	if n, ok := sparseLayoutNames[l]; ok {
		return "/" + n
	}
	return ""
}

// ParseSparseLayouts reads a comma-separated list of layout names: rows
// (values and metadata row by row, the layout before session 27),
// values-rows (the values row by row, as session 27 had it), meta-rows
// (the metadata row by row).
func ParseSparseLayouts(s string) ([]SparseLayout, error) {
	var ls []SparseLayout
next:
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		for l, n := range sparseLayoutNames {
			if n == name {
				ls = append(ls, l)
				continue next
			}
		}
		return nil, fmt.Errorf("2:4 layout %q: want rows, values-rows or meta-rows", name)
	}
	return ls, nil
}

// Persistable reports whether f's GEMMs in tile shape tile can run in
// persistent blocks: the p, m and q shapes (gobind.Tile.Producer).
func Persistable(f Family, tile string) bool { return gobind.TileNamed(f.Sparse, tile).Producer }

// Timing is one family's GEMM timed at one size in one tile shape.
type Timing struct {
	Kernel string `json:"kernel"`
	// Tile is the tile shape timed; Default whether launches that name
	// none use it on this device.
	Tile     string  `json:"tile"`
	Default  bool    `json:"default"`
	Impl     string  `json:"impl"`
	M        int     `json:"m"`
	N        int     `json:"n"`
	K        int     `json:"k"`
	Reps     int     `json:"reps"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	// TOPS is 2·M·N·K / median time (dense-equivalent operations for the
	// 2:4 kernels, as vendors count them).
	TOPS float64 `json:"tops"`
	// Check is "pass", or what the sampled-row comparison with the
	// reference found, before timing.
	Check string `json:"check"`
	// Grid is the launch's blocks; Resident how many of them the device
	// can run at once (the driver's occupancy calculator: blocks per SM
	// times the SMs, for cluster shapes the clusters it can place times
	// their size), 0 where the driver could not say. Grid / Resident is
	// the launch's waves.
	Grid     int `json:"grid"`
	Resident int `json:"resident_blocks,omitempty"`
	// SMClockMHz and ClockLimits are NVML's reading of the GPU right after
	// the timed launches: its SM clock and the reasons it gave for holding
	// the clocks down (sw_power_cap, ...); absent where NVML could not say.
	SMClockMHz  uint32   `json:"sm_clock_mhz_after,omitempty"`
	ClockLimits []string `json:"clock_limits_after,omitempty"`
	// During is what NVML's sampler saw of this GPU every DuringInterval
	// from the start of the timed launches (the warm-ups still running, or
	// an idle GPU without them) to their end, the L2 flushes between them
	// included: its SM clock, the samples in which each clocks-event
	// reason held the clocks down, and NVML's power reading (on Ampere and
	// later GPUs an average over the last second, so more the GPU's
	// recent draw than this kernel's); nil where NVML could not sample. A
	// kernel that draws the GPU to its power cap runs at a lower clock
	// than the one read after it, when the GPU is idle again.
	During *nvml.DeviceReport `json:"during,omitempty"`
	// Samples are the timed launches' times in milliseconds, in order.
	Samples []float64 `json:"-"`
}

// DuringInterval is how often NVML is sampled while a GEMM is timed.
const DuringInterval = 2 * time.Millisecond

// DuringText summarises a Timing's During in a few words: "20 samples:
// SM 1755-1980 MHz (median 1905), 612 W max (1 s avg), sw_power_cap
// 7/20", or "" without samples.
func DuringText(d *nvml.DeviceReport) string {
	if d == nil || d.Samples == 0 {
		return ""
	}
	s := fmt.Sprintf("%d samples", d.Samples)
	if c := d.SMClockMHz; c.N > 0 {
		s += fmt.Sprintf(": SM %.0f-%.0f MHz (median %.0f)", c.Min, c.Max, c.Median)
	}
	if d.PowerW.N > 0 {
		s += fmt.Sprintf(", %.0f W max (1 s avg)", d.PowerW.Max)
	}
	for _, name := range slices.Sorted(maps.Keys(d.ClockLimits)) {
		s += fmt.Sprintf(", %s %d/%d", name, d.ClockLimits[name], d.Samples)
	}
	return s
}

// compareRow checks sampled output row row of family f against the
// reference's (kerneltest.CompareRow: bit for bit for int8 inputs, by NMSE
// for halves).
func compareRow(f Family, row int, got, want []byte) error {
	if err := kerneltest.CompareRow(f.In, f.Out(), got, want); err != nil {
		return fmt.Errorf("row %d: %w", row, err)
	}
	return nil
}
