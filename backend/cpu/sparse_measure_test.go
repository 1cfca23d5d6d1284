package cpu

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// measureDensities are the CSR densities timed per shape.
var measureDensities = []float64{0.02, 0.05, 0.1, 0.2, 0.35, 0.5}

// measureShape is one product shape of the break-even measurement.
type measureShape struct {
	Op      string // "gemm" or "conv"
	M, K, N int
	// conv: input channels, kernel size, input height = width, padding
	// (stride 1: N = (HW+2*Pad-KS+1)^2, K = C*KS*KS)
	C, KS, HW, Pad int
}

// convShape is a stride-1 convolution shape.
func convShape(c, m, ks, hw, pad int) measureShape {
	o := hw + 2*pad - ks + 1
	return measureShape{Op: "conv", M: m, K: c * ks * ks, N: o * o, C: c, KS: ks, HW: hw, Pad: pad}
}

func measureShapes() []measureShape {
	var out []measureShape
	for _, m := range []int{10, 64, 300, 1024} {
		for _, k := range []int{64, 400, 784, 2048} {
			for _, n := range []int{1, 8, 64} {
				out = append(out, measureShape{Op: "gemm", M: m, K: k, N: n})
			}
		}
	}
	for _, c := range []int{1, 6, 16, 64} {
		for _, m := range []int{8, 32, 128} {
			for _, hw := range []int{7, 14, 28} {
				for _, ks := range []int{3, 5} {
					if c == 1 && ks == 3 || c == 64 && ks == 5 {
						continue
					}
					out = append(out, convShape(c, m, ks, hw, ks/2))
				}
			}
		}
	}
	// The layers of the models the pruning experiments run (LeNet-300-100,
	// LeNet-5 at batch 1 and 64, ResNet-mini's stride-1 convolutions), so
	// that their entries are measured, not the nearest neighbour's.
	for _, g := range [][2]int{{300, 784}, {100, 300}, {10, 100}, {120, 400}, {84, 120}, {10, 84}} {
		for _, n := range []int{1, 64} {
			out = append(out, measureShape{Op: "gemm", M: g[0], K: g[1], N: n})
		}
	}
	out = append(out, convShape(1, 6, 5, 28, 2), convShape(6, 16, 5, 14, 0),
		convShape(1, 8, 3, 28, 1), convShape(8, 8, 3, 28, 1), convShape(16, 16, 3, 14, 1), convShape(32, 32, 3, 7, 1))
	seen := map[measureShape]bool{}
	uniq := out[:0]
	for _, s := range out {
		if !seen[s] {
			seen[s] = true
			uniq = append(uniq, s)
		}
	}
	return uniq
}

// measureModel builds the one-node model of s with weight w.
func (s measureShape) model(w []float32) *graph.Model {
	if s.Op == "gemm" {
		return sparseGemmNode(w, s.M, s.K, make([]float32, s.M), "Relu")
	}
	g := graph.NewGraph("conv")
	x := g.GetOrAddValue("x")
	x.DType, x.Shape, x.HasShape = tensor.Float32, graph.KnownDims(1, s.C, s.HW, s.HW), true
	g.Inputs = []*graph.Value{x}
	wv := g.AddInitializer("w", tensor.FromSlice([]int{s.M, s.C, s.KS, s.KS}, w))
	bv := g.AddInitializer("b", tensor.MustNew(tensor.Float32, s.M))
	y := g.GetOrAddValue("y")
	p := int64(s.Pad)
	n := g.AddNode("SparseConv", []*graph.Value{x, wv, bv}, []*graph.Value{y}, map[string]*graph.Attr{
		"kernel_shape": graph.IntsAttr(int64(s.KS), int64(s.KS)), "pads": graph.IntsAttr(p, p, p, p),
		"activation": graph.StringAttr("Relu")})
	n.Domain = FusedDomain
	g.Outputs = []*graph.Value{y}
	return graph.NewModel(g, 13)
}

func (s measureShape) input(rng *rand.Rand) *tensor.Tensor {
	if s.Op == "gemm" {
		return tensor.FromSlice([]int{s.N, s.K}, randDense(rng, s.N*s.K))
	}
	return tensor.FromSlice([]int{1, s.C, s.HW, s.HW}, randDense(rng, s.C*s.HW*s.HW))
}

// timeSession returns the median run time in microseconds: 5 warm-up runs,
// then runs until 40 ms have passed (at least 15, at most 5000).
func timeSession(t *testing.T, m *graph.Model, p SparsePolicy, x *tensor.Tensor, want SparseKernel) float64 {
	t.Helper()
	old := SetSparsePolicy(p)
	defer SetSparsePolicy(old)
	sess, err := runtime.NewSession(m, Backend(), runtime.Options{Threads: 2, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]*tensor.Tensor{"x": x}
	before := SparseKernelCalls()
	for i := 0; i < 5; i++ {
		if _, err := sess.Run(in); err != nil {
			t.Fatal(err)
		}
	}
	if after := SparseKernelCalls(); after[want]-before[want] != 5 {
		t.Fatalf("policy %d did not run the %v kernel (%v -> %v)", p, want, before, after)
	}
	var us []float64
	start := time.Now()
	for len(us) < 15 || (time.Since(start) < 40*time.Millisecond && len(us) < 5000) {
		t0 := time.Now()
		if _, err := sess.Run(in); err != nil {
			t.Fatal(err)
		}
		us = append(us, float64(time.Since(t0).Nanoseconds())/1e3)
	}
	sort.Float64s(us)
	return us[len(us)/2]
}

// measuredShape is one row of the JSON record.
type measuredShape struct {
	Op        string             `json:"op"`
	M         int                `json:"m"`
	K         int                `json:"k"`
	N         int                `json:"n"`
	DenseUS   float64            `json:"dense_us"`
	CSRUS     map[string]float64 `json:"csr_us_by_density"`
	Sp24US    float64            `json:"sparse24_us"`
	Fixed     float64            `json:"csr_fixed"`
	Slope     float64            `json:"csr_slope"`
	BreakEven float64            `json:"break_even_sparsity"`
	R24       float64            `json:"r24"`
}

// TestMeasureSparseBreakEven measures the break-even table (see
// sparse_breakeven.go) when GCOMPRESS_MEASURE_SPARSE names the Go file to
// write (and GCOMPRESS_MEASURE_SPARSE_JSON, optionally, a JSON record).
func TestMeasureSparseBreakEven(t *testing.T) {
	out := os.Getenv("GCOMPRESS_MEASURE_SPARSE")
	if out == "" {
		t.Skip("set GCOMPRESS_MEASURE_SPARSE=FILE.go to measure the break-even table")
	}
	if !LevelAVX512.Supported() {
		t.Skip("the table is for the AVX-512 kernels")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	load0 := bench.LoadAvg1()
	var rows []measuredShape
	var table []BreakEven
	for _, s := range measureShapes() {
		x := s.input(rng)
		dense := timeSession(t, s.model(randSparse(rng, s.M, s.K, 0.5)), SparseForceDense, x, KernelDense)
		r := measuredShape{Op: s.Op, M: s.M, K: s.K, N: s.N, DenseUS: dense, CSRUS: map[string]float64{}}
		var xs, ys []float64
		for _, d := range measureDensities {
			us := timeSession(t, s.model(randSparse(rng, s.M, s.K, d)), SparseForceCSR, x, KernelCSR)
			r.CSRUS[fmt.Sprint(d)] = us
			xs, ys = append(xs, d), append(ys, us/dense)
		}
		r.Fixed, r.Slope = fitLine(xs, ys)
		r.Sp24US = timeSession(t, s.model(rand24(rng, s.M, s.K)), SparseForce24, x, Kernel24)
		r.R24 = r.Sp24US / dense
		e := BreakEven{Conv: s.Op == "conv", M: s.M, K: s.K, N: s.N, DenseUS: round3(dense), CSRFixed: round3(r.Fixed), CSRSlope: round3(r.Slope), R24: round3(r.R24)}
		r.BreakEven = e.BreakEvenSparsity()
		if math.IsInf(r.BreakEven, 1) {
			r.BreakEven = -1 // never (JSON has no infinity)
		}
		t.Logf("%s M=%d K=%d N=%d: dense %.1f us, csr/dense = %.2f + %.2f d (break-even sparsity %.2f), 2:4/dense %.2f",
			s.Op, s.M, s.K, s.N, dense, r.Fixed, r.Slope, r.BreakEven, r.R24)
		rows = append(rows, r)
		table = append(table, e)
	}
	load1 := bench.LoadAvg1()
	var src bytes.Buffer
	fmt.Fprintf(&src, "// Code generated by TestMeasureSparseBreakEven on %s (%s, 2 threads, load average %.2f -> %.2f); DO NOT EDIT.\n\n",
		time.Now().UTC().Format("2006-01-02"), bench.ThisMachine().CPU, load0, load1)
	src.WriteString("package cpu\n\nfunc init() {\n\tbreakEvenTable = []BreakEven{\n")
	for _, e := range table {
		fmt.Fprintf(&src, "\t\t{Conv: %v, M: %d, K: %d, N: %d, DenseUS: %g, CSRFixed: %g, CSRSlope: %g, R24: %g},\n", e.Conv, e.M, e.K, e.N, e.DenseUS, e.CSRFixed, e.CSRSlope, e.R24)
	}
	src.WriteString("\t}\n}\n")
	code, err := format.Source(src.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(out, func(w io.Writer) error { _, err := w.Write(code); return err }); err != nil {
		t.Fatal(err)
	}
	if js := os.Getenv("GCOMPRESS_MEASURE_SPARSE_JSON"); js != "" {
		doc := map[string]any{"machine": bench.ThisMachine(), "threads": 2, "loadavg_before": load0, "loadavg_after": load1,
			"densities": measureDensities, "command": "GCOMPRESS_MEASURE_SPARSE=sparse_breakeven_table.go go test ./backend/cpu -run TestMeasureSparseBreakEven -v -timeout 30m",
			"shapes": rows}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.Write(js, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
			t.Fatal(err)
		}
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// fitLine returns the least-squares a, b of y = a + b x.
func fitLine(xs, ys []float64) (float64, float64) {
	n := float64(len(xs))
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	b := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return (sy - b*sx) / n, b
}
