package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	cudabackend "github.com/gcompress/gcompress/cuda/backend"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark kernels (GEMM on the CPU or a GPU, convolution) and models (against ONNX Runtime)",
		Long: `bench times gcompress's kernels and models. Every result carries the
machine (CPU model, cores, Go version, date) and the CPU dispatch level
(GCOMPRESS_CPU caps it: generic, avx2, avxvnni, avx512, avx512vnni).

  gemm   one matrix product: float32 or uint8 x int8 -> int32 on the CPU;
         int8, f16 or bf16, dense or 2:4 sparse, on a GPU's tensor cores
         (--device cuda:N, cuda build)
  conv   one 2-D convolution of a given shape, optionally beside ONNX
         Runtime (--vs-ort)
  model  a model end to end, optionally beside ONNX Runtime in the same
         process with the same thread count (--vs-ort)`,
		Example: `  gcompress bench gemm --dtype int8 --threads 2
  gcompress --device cuda:0 bench gemm --m 8192 --n 8192 --k 8192 --sparse
  gcompress bench conv --input 1,256,14,14 --out 256 --kernel 3 --vs-ort
  gcompress bench model resnet50.onnx --vs-ort --threads 2 --runs 30`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("bench needs a subcommand: gemm, conv or model (see gcompress bench --help)")
		},
	}
	cmd.AddCommand(newBenchGemmCmd(g), newBenchConvCmd(g), newBenchModelCmd(g))
	return cmd
}

// gemmReport is the JSON document of `bench gemm --json`.
type gemmReport struct {
	Machine  bench.Machine `json:"machine"`
	Level    string        `json:"cpu_level"`
	DType    string        `json:"dtype"`
	M        int           `json:"m"`
	N        int           `json:"n"`
	K        int           `json:"k"`
	Threads  int           `json:"threads"`
	Timing   bench.Stats   `json:"timing"`
	GOPS     float64       `json:"gops"` // 2*m*n*k / median time, in 1e9 per second
	LoadAvg1 float64       `json:"loadavg_1m,omitempty"`
	GPU      gpuSummary    `json:"gpu"`
}

// gemmFlags are the options of bench gemm.
type gemmFlags struct {
	m, n, k, runs, warmup int
	dtype, tile           string
	sparse, vsDense       bool
	persistent, asJSON    bool
	seed                  uint64
}

func newBenchGemmCmd(g *globals) *cobra.Command {
	var f gemmFlags
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "yes"},
		Use:         "gemm",
		Short:       "Time one matrix product on the CPU, or on a GPU's tensor cores (--device cuda:N)",
		Long: `On the CPU, times C = A*B for A m x k and B k x n of seeded random data,
row-major, on the kernels of the active CPU level (--dtype f32, or int8:
uint8 x int8 -> int32). The result is checked against a reference on
sampled elements before timing.

With --device cuda:N (the cuda build), times the GPU GEMM D = A*B^T for A
m x k and B n x k (both K-contiguous, as the tensor-core kernels take
them) with CUDA events, the L2 cache flushed before every timed launch:
--dtype int8 (int8 x int8 -> int32; the default there), f16 (-> f16) or
bf16 (-> bf16). --sparse makes A 2:4 sparse (two of every four along K
zero, passed compressed: values and metadata), run by the sparse
tensor-core kernels; k must then be a multiple of 128 (int8) or 64
(halves). --tile picks a tile shape (default: the one launches use on
this GPU; 'gcompress --device cuda:0 bench gemm --tile list' lists them).
Sampled rows are checked against the Go reference before timing, and a
mismatch fails the command. The report names the kernel and tile shape,
the launch's blocks and how many the GPU runs at once (the driver's
occupancy calculator: the launch runs in waves of that many), and the SM
clock that NVML read right after the timed launches.

gops is 2*m*n*k divided by the median time (GFLOP/s for floats, giga
integer multiply-adds x2 for int8); for --sparse it counts the dense
work, as vendors do, so the ratio of the sparse and dense gops is the
speed-up, which --vs-dense measures in the same run.`,
		Example: `  gcompress bench gemm --m 1024 --n 1024 --k 1024 --threads 2
  gcompress bench gemm --dtype int8 --threads 2 --json
  gcompress --device cuda:0 bench gemm --m 8192 --n 8192 --k 8192            # int8 tensor cores
  gcompress --device cuda:0 bench gemm --m 8192 --n 8192 --k 8192 --sparse   # the same, A 2:4 sparse
  gcompress --device cuda:0 bench gemm --m 8192 --n 8192 --k 8192 --sparse --vs-dense   # and its speed-up over dense
  gcompress --device cuda:0 bench gemm --dtype f16 --m 4096 --n 4096 --k 4096 --tile w128x256t --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIntFlags(intFlag{"runs", f.runs, 1}, intFlag{"warmup", f.warmup, 0}); err != nil {
				return err
			}
			if g.device != "cpu" {
				return benchGemmDevice(cmd.OutOrStdout(), g, &f)
			}
			if f.sparse || f.vsDense || f.persistent || f.tile != "" {
				return usagef("--sparse, --vs-dense, --tile and --persistent choose among the GPU GEMMs: give --device cuda:N (cuda build)")
			}
			return benchGemmCPU(cmd.OutOrStdout(), g, &f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.m, "m", 1024, "rows of A and C")
	fl.IntVar(&f.n, "n", 1024, "columns of C: columns of B (CPU), rows of B (GPU)")
	fl.IntVar(&f.k, "k", 1024, "the summed dimension: columns of A")
	fl.StringVar(&f.dtype, "dtype", "", "input type: f32 (the CPU's default) or int8 on the CPU; int8 (the GPU's default), f16 or bf16 on a GPU")
	fl.BoolVar(&f.sparse, "sparse", false, "GPU: A 2:4 sparse, on the sparse tensor-core kernels")
	fl.BoolVar(&f.vsDense, "vs-dense", false, "GPU, with --sparse: time the dense GEMM of the same type and size too, and print the 2:4 speed-up")
	fl.StringVar(&f.tile, "tile", "", "GPU: tile shape of the kernel (default: this GPU's; list: print them)")
	fl.BoolVar(&f.persistent, "persistent", false, "GPU, with a --tile of the p, m and q shapes: as many blocks as run at once, each looping over tiles")
	fl.IntVar(&f.runs, "runs", 20, "timed runs")
	fl.IntVar(&f.warmup, "warmup", 3, "untimed runs first (the CPU checks the first; the GPU one more before them)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the random operands")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON report")
	return cmd
}

// benchGemmCPU times bench gemm on the CPU kernels.
func benchGemmCPU(w io.Writer, g *globals, f *gemmFlags) error {
	dtype := cmp.Or(f.dtype, "f32")
	if dtype == "f16" || dtype == "bf16" {
		return usagef("--dtype %s: the CPU GEMMs take f32 or int8; %s runs on a GPU (--device cuda:N, cuda build)", dtype, dtype)
	}
	b, err := cpu.NewGEMMBench(dtype, f.m, f.n, f.k, g.threadCount(), f.seed)
	if err != nil {
		return usagef("%v", err)
	}
	gpu := startGPUMonitor()
	defer gpu.stop() // on an error return; a second stop is harmless
	for i := 0; i < max(f.warmup, 1); i++ {
		if err := b.Run(); err != nil {
			return err
		}
	}
	ms := make([]float64, f.runs)
	for i := range ms {
		start := time.Now()
		if err := b.Run(); err != nil {
			return err
		}
		ms[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	lvl, _ := cpu.ActiveCPULevel()
	rep := gemmReport{Machine: bench.ThisMachine(), Level: lvl.String(), DType: dtype, M: f.m, N: f.n, K: f.k,
		Threads: g.threadCount(), Timing: bench.Summarize(ms, f.warmup), LoadAvg1: bench.LoadAvg1(), GPU: gpu.stop()}
	rep.GOPS = b.Ops() / (rep.Timing.MedianMS * 1e6)
	return writeBench(w, f.asJSON, rep, func(w io.Writer) {
		unit := "GFLOP/s"
		if dtype == "int8" {
			unit = "GOP/s"
		}
		fmt.Fprintf(w, "gemm %s %dx%dx%d, %d threads, level %s: median %.3f ms (min %.3f), %.1f %s\n",
			dtype, f.m, f.n, f.k, rep.Threads, rep.Level, rep.Timing.MedianMS, rep.Timing.MinMS, rep.GOPS, unit)
		rep.GPU.writeDevices(w)
	})
}

// modelReport is the JSON document of `bench model --json`.
type modelReport struct {
	Machine   bench.Machine `json:"machine"`
	Level     string        `json:"cpu_level"`
	Model     string        `json:"model"`
	Threads   int           `json:"threads"`
	Optimized bool          `json:"graph_optimized"`
	Ours      bench.Stats   `json:"ours"`
	ORT       *bench.Stats  `json:"ort,omitempty"`
	// OursCPU and ORTCPU are the process CPU times of the same runs: with
	// --threads 1 on a busy machine they measure the work of each runtime
	// without the time other jobs took.
	OursCPU  bench.Stats  `json:"ours_cpu"`
	ORTCPU   *bench.Stats `json:"ort_cpu,omitempty"`
	CPURatio float64      `json:"cpu_ratio_ours_over_ort,omitempty"`
	Ratio    float64      `json:"ratio_ours_over_ort,omitempty"`
	// BlockRatios is the ratio of the medians in each block of turns: on
	// a machine whose speed drifts, their spread shows how far one
	// run's ratio can be trusted.
	BlockRatios []float64 `json:"block_ratios,omitempty"`
	MaxRelErr   *float64  `json:"max_err_vs_ort_rel_to_max,omitempty"`
	LoadAvg1    float64   `json:"loadavg_1m,omitempty"`
	// GPU is what NVML sampled over the warm-up and timed runs.
	GPU gpuSummary `json:"gpu"`
	// Placement says, with --device cuda:N, which ops ran on the GPU and
	// what the host<->device copies cost.
	Placement *cudabackend.Report `json:"device_placement,omitempty"`
}

func newBenchModelCmd(g *globals) *cobra.Command {
	var runs, warmup int
	var materialize int64
	var dims []string
	var vsORT, asJSON, noOpt bool
	var seed uint64
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "yes"},
		Use:         "model MODEL",
		Short:       "Time a model end to end, optionally beside ONNX Runtime (--vs-ort)",
		Long: `Times MODEL on seeded random inputs (uniform [0,1); a symbolic dimension
such as a batch needs --dim NAME=SIZE) with gcompress's runtime. With --vs-ort the same
serialized model runs in ONNX Runtime in this process with the same thread
count; the runtimes take turns in five blocks of runs (a pause before each
block lets ONNX Runtime's spinning pool threads settle) so that both see
the same machine load, and the report gives both latencies, their ratio
(overall and per block: their spread shows the machine's drift) and the
largest difference of the outputs. It also records the process CPU time of
each run: with --threads 1 on a machine shared with other jobs, that is the
work each runtime did, which wall time overstates by the time others took.

--materialize SEED prepares one of ONNX's "light" zoo files (weights stored
as ConstantOfShape) the way the zoo tests do: seeded weights, logits exposed,
BatchNormalization calibrated (models.LoadZoo); both runtimes then run the
materialized model.`,
		Example: `  gcompress bench model testdata/onnx-light/light_resnet50.onnx --materialize 1 --vs-ort --threads 2
  gcompress bench model resnet50.onnx --runs 50 --json
  gcompress bench model lenet5.onnx --dim batch=64 --vs-ort`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIntFlags(intFlag{"runs", runs, 1}, intFlag{"warmup", warmup, 0}); err != nil {
				return err
			}
			if materialize < -1 {
				return usagef("--materialize %d: want a seed >= 0, or -1 for off", materialize)
			}
			if materialize >= 0 && len(dims) > 0 {
				return usagef("--dim applies to models without --materialize (a light zoo model's inputs are fixed)")
			}
			return benchModel(cmd.OutOrStdout(), g, args[0], runs, warmup, materialize, seed, dims, vsORT, noOpt, asJSON)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&runs, "runs", 20, "timed runs (per runtime)")
	fl.IntVar(&warmup, "warmup", 3, "untimed runs first (per runtime)")
	fl.Int64Var(&materialize, "materialize", -1, "fill a light zoo model's ConstantOfShape weights with this seed (-1: off)")
	fl.Uint64Var(&seed, "seed", 1, "seed of the random inputs")
	fl.StringArrayVar(&dims, "dim", nil, "size of a symbolic input dimension, NAME=SIZE (repeatable)")
	fl.BoolVar(&vsORT, "vs-ort", false, "also run ONNX Runtime (needs 'make peers' or GCOMPRESS_ORT_LIB)")
	fl.BoolVar(&noOpt, "no-optimize", false, "skip the load-time graph passes (BatchNorm folding, fusion)")
	fl.BoolVar(&asJSON, "json", false, "print a JSON report")
	return cmd
}

func benchModel(w io.Writer, g *globals, path string, runs, warmup int, materialize int64, seed uint64, dimSpecs []string,
	vsORT, noOpt, asJSON bool) error {
	var m *graph.Model
	var raw []byte
	var feed func() (map[string]*tensor.Tensor, error)
	if materialize >= 0 {
		z, err := models.LoadZoo(path, uint64(materialize), cpu.Backend())
		if err != nil {
			return err
		}
		m, raw = z.Model, z.ONNX
		feed = func() (map[string]*tensor.Tensor, error) { return z.Feed, nil }
	} else {
		var err error
		if m, err = loadModel(path); err != nil {
			return err
		}
		if raw, err = os.ReadFile(path); err != nil {
			return err
		}
		dims, err := parseDims(m.Graph, dimSpecs)
		if err != nil {
			return err
		}
		if err := fixDims(m.Graph, dims); err != nil { // before the session: its passes see concrete shapes
			return err
		}
		feed = randomFeed(m.Graph, seed)
	}
	rep, err := runModelBench(g, path, m, raw, feed, dimSpecs, runs, warmup, vsORT, noOpt)
	if err != nil {
		return err
	}
	return writeBench(w, asJSON, rep, func(w io.Writer) {
		fmt.Fprintf(w, "%s (%d threads, level %s): ", path, rep.Threads, rep.Level)
		rep.writeTimes(w, nil)
	})
}

// randomFeed makes the seeded random inputs of g (see addRandomInputs).
func randomFeed(g *graph.Graph, seed uint64) func() (map[string]*tensor.Tensor, error) {
	return func() (map[string]*tensor.Tensor, error) {
		feed := map[string]*tensor.Tensor{}
		return feed, addRandomInputs(g, seed, feed)
	}
}

// runModelBench times m (name in messages and the report; raw its ONNX
// serialization, for ONNX Runtime) on the inputs makeFeed makes once the
// session is known to fit in memory (dims: the --dim flags, for that
// message): warm-up runs, then runs timed in five blocks, taking turns
// with ONNX Runtime when vsORT (see `bench model --help`).
func runModelBench(g *globals, path string, m *graph.Model, raw []byte, makeFeed func() (map[string]*tensor.Tensor, error),
	dims []string, runs, warmup int, vsORT, noOpt bool) (modelReport, error) {
	threads := g.threadCount()
	sess, err := runtime.NewSession(m, backendFor(g), runtime.Options{Threads: threads, NoOptimize: noOpt})
	if err != nil {
		return modelReport{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := checkPeakMemory(path, sess, dims); err != nil {
		return modelReport{}, err
	}
	feed, err := makeFeed()
	if err != nil {
		return modelReport{}, err
	}
	runners := []func() ([]*tensor.Tensor, error){func() ([]*tensor.Tensor, error) { return sess.Run(feed) }}
	if vsORT {
		peer, err := ortpeer.NewSession(raw, threads)
		if err != nil {
			return modelReport{}, fmt.Errorf("--vs-ort: %w", err)
		}
		defer peer.Close()
		runners = append(runners, func() ([]*tensor.Tensor, error) { return peer.Run(feed) })
	}
	outs := make([][]*tensor.Tensor, len(runners))
	gpu := startGPUMonitor()
	defer gpu.stop() // on an error return; a second stop is harmless
	for i := 0; i < max(warmup, 1); i++ {
		for r, run := range runners {
			if outs[r], err = run(); err != nil {
				return modelReport{}, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	warnUnoptimized(path, sess) // after a run: a model of symbolic sizes specialises in its first
	// The runtimes take turns in blocks of runs, with a pause before each
	// block: ONNX Runtime's pool threads spin for a while after a run, and
	// would otherwise compete with the next runs of ours (in this process:
	// also in its CPU time).
	ms := make([][]float64, len(runners))
	cpuMS := make([][]float64, len(runners))
	const blocks = 5
	for b := 0; b < blocks; b++ {
		for r, run := range runners {
			time.Sleep(150 * time.Millisecond)
			for i := b * runs / blocks; i < (b+1)*runs/blocks; i++ {
				start, c0 := time.Now(), processCPUMS()
				if _, err := run(); err != nil {
					return modelReport{}, fmt.Errorf("%s: %w", path, err)
				}
				ms[r] = append(ms[r], float64(time.Since(start).Nanoseconds())/1e6)
				cpuMS[r] = append(cpuMS[r], processCPUMS()-c0)
			}
		}
	}
	lvl, _ := cpu.ActiveCPULevel()
	rep := modelReport{Machine: bench.ThisMachine(), Level: lvl.String(), Model: path, Threads: threads,
		Optimized: !noOpt, Ours: bench.Summarize(ms[0], warmup), OursCPU: bench.Summarize(cpuMS[0], warmup), LoadAvg1: bench.LoadAvg1(),
		GPU: gpu.stop(), Placement: devicePlacement(g)}
	if vsORT {
		t, tc := bench.Summarize(ms[1], warmup), bench.Summarize(cpuMS[1], warmup)
		rep.ORT, rep.ORTCPU = &t, &tc
		rep.Ratio = rep.Ours.MedianMS / t.MedianMS
		for b := 0; b < blocks; b++ {
			lo, hi := b*runs/blocks, (b+1)*runs/blocks
			if lo < hi {
				rep.BlockRatios = append(rep.BlockRatios, bench.Summarize(ms[0][lo:hi], 0).MedianMS/bench.Summarize(ms[1][lo:hi], 0).MedianMS)
			}
		}
		if tc.MedianMS > 0 {
			rep.CPURatio = rep.OursCPU.MedianMS / tc.MedianMS
		}
		worst := 0.0
		for i := range outs[0] {
			if i < len(outs[1]) {
				worst = math.Max(worst, relErr(outs[0][i], outs[1][i]))
			}
		}
		rep.MaxRelErr = &worst
	}
	return rep, nil
}

// writeTimes prints the report's latencies (each with rate(median ms),
// such as GFLOP/s, when rate is not nil), the ratio to ONNX Runtime per
// block, and the process CPU times.
func (rep *modelReport) writeTimes(w io.Writer, rate func(ms float64) string) {
	fmt.Fprintf(w, "ours median %.3f ms (min %.3f)%s", rep.Ours.MedianMS, rep.Ours.MinMS, rateOf(rate, rep.Ours.MedianMS))
	if rep.ORT != nil {
		fmt.Fprintf(w, ", ONNX Runtime median %.3f ms (min %.3f)%s, ratio %.2f, max output difference %.2g of the largest value",
			rep.ORT.MedianMS, rep.ORT.MinMS, rateOf(rate, rep.ORT.MedianMS), rep.Ratio, *rep.MaxRelErr)
		fmt.Fprintf(w, "\n  ratio of each block's medians:")
		for _, r := range rep.BlockRatios {
			fmt.Fprintf(w, " %.2f", r)
		}
	}
	fmt.Fprintf(w, "\n  process CPU time per run: ours median %.3f ms", rep.OursCPU.MedianMS)
	if rep.ORTCPU != nil {
		fmt.Fprintf(w, ", ONNX Runtime median %.3f ms, ratio %.2f", rep.ORTCPU.MedianMS, rep.CPURatio)
	}
	fmt.Fprintln(w)
	rep.GPU.writeDevices(w)
	if rep.Placement != nil {
		rep.Placement.Write(w)
	}
}

// rateOf is ", " + rate(ms), or "" without rate.
func rateOf(rate func(ms float64) string, ms float64) string {
	if rate == nil {
		return ""
	}
	return ", " + rate(ms)
}

// relErr is max |a - b| over the elements, relative to max |b|.
func relErr(a, b *tensor.Tensor) float64 {
	var worst, scale float64
	for i := 0; i < min(a.Len(), b.Len()); i++ {
		worst = math.Max(worst, math.Abs(a.Float64At(i)-b.Float64At(i)))
		scale = math.Max(scale, math.Abs(b.Float64At(i)))
	}
	return worst / math.Max(scale, 1e-30)
}

// writeBench prints rep as indented JSON, or as text with text.
func writeBench(w io.Writer, asJSON bool, rep any, text func(io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	text(w)
	return nil
}
