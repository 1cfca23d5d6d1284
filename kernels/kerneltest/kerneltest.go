package kerneltest

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
)

// Reporter receives failures; *testing.T and *testing.B satisfy it.
type Reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
}

// Result is the outcome of one case.
type Result struct {
	Suite string `json:"suite"`
	Case  string `json:"case"`
	Pass  bool   `json:"pass"`
	// Metric is the comparison measure ("exact", "nmse=3.1e-12", ...).
	Metric string `json:"metric,omitempty"`
	// Detail says what went wrong (empty on success).
	Detail string `json:"detail,omitempty"`
}

// Named tolerances. Where they come from: the inputs are exact in float32
// and every product of two halves is exact in float32 (11+11 or 8+8
// significand bits), so the only error of a float32-output GEMM is the
// tensor cores' float32 accumulation: for K terms of random sign its
// relative size is about sqrt(K)*2^-24 (4e-6 at K = 4096, NMSE ~2e-11);
// 1e-8 leaves three orders of magnitude for the hardware's internal
// alignment. A half output adds its rounding, uniform within half an ulp:
// NMSE ~ (2^-11)^2/3 = 8e-8 for f16 and (2^-8)^2/3 = 5e-6 for bf16, under
// the bounds below by ~10x. Softmax: expf is within 2 ulp and the row sum of
// n terms adds ~sqrt(n) ulp, far under 2e-5 relative for n <= 10^4.
const (
	NMSEHalfGemmF32  = 1e-8
	NMSEHalfGemmF16  = 1e-6
	NMSEHalfGemmBF16 = 5e-5
	SoftmaxRTol      = 2e-5
	SoftmaxATol      = 1e-7
)

// Size selects how large the cases of a suite may be.
type Size int

const (
	// Full runs every shape (the GPU tests).
	Full Size = iota
	// Short skips cases above 2^28 multiply-adds (CPU self-tests, -short).
	Short
	// Tiny keeps cases up to 2^22 multiply-adds (the CPU emulator of the
	// kernels, which runs every GPU thread as a fiber).
	Tiny
)

// allows reports whether a case of work multiply-adds (or elements) runs.
func (s Size) allows(work int) bool {
	switch s {
	case Short:
		return work <= 1<<28
	case Tiny:
		return work <= 1<<22
	}
	return true
}

// poisons are the two output fills of every case.
var poisons = [2]byte{0xA5, 0x5A}

// guardBytes is the guard band on each side of an output window.
const guardBytes = 64

// suite collects the results of one suite run.
type suite struct {
	t       Reporter
	name    string
	results []Result
}

func (s *suite) record(name string, metric string, err error) {
	s.t.Helper()
	r := Result{Suite: s.name, Case: name, Pass: err == nil, Metric: metric}
	if err != nil {
		r.Detail = err.Error()
		s.t.Errorf("%s %s: %v", s.name, name, err)
	}
	s.results = append(s.results, r)
}

// WriteTable prints results as an aligned pass/fail table with a summary
// line, and returns the number of failures.
func WriteTable(w io.Writer, results []Result) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tCASE\tRESULT\tMETRIC\tDETAIL")
	fails := 0
	for _, r := range results {
		status := "PASS"
		if !r.Pass {
			status = "FAIL"
			fails++
		}
		detail := r.Detail
		if len(detail) > 120 {
			detail = detail[:117] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Suite, r.Case, status, r.Metric, detail)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d cases, %d passed, %d failed\n", len(results), len(results)-fails, fails)
	return fails
}

// window describes where a result lies in an output buffer.
type window struct {
	off        int // first element
	rows, cols int
	ldm, ldn   int
	elem       int // bytes per element
}

// elems returns the number of elements from off to the last window element.
func (w window) span() int { return (w.rows-1)*w.ldm + (w.cols-1)*w.ldn + 1 }

// inWindow reports whether element index e (from the buffer start) is part
// of the result.
func (w window) inWindow(e int) bool {
	rel := e - w.off
	if rel < 0 || w.rows == 0 || w.cols == 0 {
		return false
	}
	// Strides are (ld, 1) or (1, ld): decompose accordingly.
	if w.ldn == 1 {
		i, j := rel/w.ldm, rel%w.ldm
		return i < w.rows && j < w.cols
	}
	j, i := rel/w.ldn, rel%w.ldn
	return i < w.rows && j < w.cols
}

// newOutput allocates an output buffer with guard bands for the window and
// returns it with the window's element offset.
func newOutput(rows, cols, ldm, ldn, elem int) ([]byte, window) {
	w := window{rows: rows, cols: cols, ldm: ldm, ldn: ldn, elem: elem}
	w.off = guardBytes / elem
	n := guardBytes + w.span()*elem + guardBytes
	if rows == 0 || cols == 0 {
		n = 2 * guardBytes
	}
	return make([]byte, n), w
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// checkGuard reports the first byte outside the window that is not poison.
func checkGuard(buf []byte, w window, poison byte) error {
	for i, v := range buf {
		if v != poison && !w.inWindow(i/w.elem) {
			return fmt.Errorf("byte %d outside the result window was written (%#x, poison %#x)", i, v, poison)
		}
	}
	return nil
}

// parallelRows runs fn over [0, rows) split in contiguous chunks on all
// CPUs (the references are plain loops; large cases need the cores).
func parallelRows(rows int, fn func(lo, hi int)) {
	parts := min(runtime.NumCPU(), max(rows, 1))
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		lo, hi := p*rows/parts, (p+1)*rows/parts
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// rng returns the deterministic generator of a case.
func rng(seed string) *rand.Rand {
	var h uint64 = 1469598103934665603
	for i := 0; i < len(seed); i++ {
		h = (h ^ uint64(seed[i])) * 1099511628211
	}
	return rand.New(rand.NewPCG(h, 0x9e3779b97f4a7c15))
}

// nmse returns Σ(got-want)² / Σ want² (+Inf when want is all zero and got
// is not; NaN when got has a NaN).
func nmse(got, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := got[i] - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return num / den
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// caseName formats a case label.
func caseName(parts ...any) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, " ")
}

// WriteSummary prints one line per suite (cases, passed, failed) and every
// failing case, and returns the number of failures: the short form of
// WriteTable for logs whose tail is what gets read.
func WriteSummary(w io.Writer, results []Result) int {
	type count struct{ n, fail int }
	var order []string
	per := map[string]*count{}
	fails := 0
	for _, r := range results {
		c, ok := per[r.Suite]
		if !ok {
			c = &count{}
			per[r.Suite] = c
			order = append(order, r.Suite)
		}
		c.n++
		if !r.Pass {
			c.fail++
			fails++
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUITE\tCASES\tPASSED\tFAILED")
	for _, s := range order {
		c := per[s]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", s, c.n, c.n-c.fail, c.fail)
	}
	tw.Flush()
	if fails > 0 {
		var bad []Result
		for _, r := range results {
			if !r.Pass {
				bad = append(bad, r)
			}
		}
		fmt.Fprintln(w, "failing cases:")
		WriteTable(w, bad)
	}
	fmt.Fprintf(w, "%d cases, %d passed, %d failed\n", len(results), len(results)-fails, fails)
	return fails
}
