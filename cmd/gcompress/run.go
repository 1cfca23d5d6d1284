package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/conformance"
	cudabackend "github.com/gcompress/gcompress/cuda/backend"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

type runFlags struct {
	inputs    []string
	outDir    string
	bench     int
	warmup    int
	asJSON    bool
	profile   bool
	nodes     int
	random    bool
	seed      uint64
	dims      []string
	showFirst int
}

func newRunCmd(g *globals) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "yes"},
		Use:         "run MODEL",
		Short:       "Run a model on inputs from .npy/.pb files (or random data) and save or time the outputs",
		Long: `Runs MODEL with gcompress's runtime. Inputs come from --input NAME=FILE
(NumPy .npy or ONNX TensorProto .pb; NAME may be left out when the model has one
input), or from --random-inputs (seeded uniform [0,1) data; symbolic dimensions
need --dim NAME=SIZE). Outputs are written as DIR/output_<i>.npy in graph-output
order with --output-dir (DIR is made when the run succeeds, if its parent
exists), and summarised on stdout; with --json a NaN or infinite output value
is the string "NaN", "+Inf" or "-Inf".

--bench N times N runs after --warmup runs and reports median/min/max/mean
latency; --profile adds a per-op time table, --profile-nodes N the N
slowest nodes. With --bench the profile covers the timed runs only;
without it, the one run, which includes packing the constant weights
into each kernel's layout (once per session).

Before any input is made, the tensors a run must hold at once (from the
model's shapes, at the --dim sizes) are compared with the memory this
process can still use (available memory and swap, the memory cgroup's
limit, ulimit -v); a run that cannot fit is refused with the sizes.`,
		Example: `  gcompress run lenet5.onnx --input image=digit.npy --output-dir out/
  gcompress run resnet50.onnx --random-inputs --bench 20 --threads 2 --json
  gcompress run lenet5.onnx --random-inputs --dim batch=8 --profile
  gcompress run lenet5.onnx --random-inputs --dim batch=1 --bench 50 --profile-nodes 10`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runModel(cmd.OutOrStdout(), g, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.inputs, "input", nil, "input as NAME=FILE.npy|FILE.pb (repeatable)")
	fl.StringVar(&f.outDir, "output-dir", "", "write outputs as DIR/output_<i>.npy")
	fl.IntVar(&f.bench, "bench", 0, "time N runs after warm-up and report latency")
	fl.IntVar(&f.warmup, "warmup", 1, "untimed runs before --bench")
	fl.BoolVar(&f.asJSON, "json", false, "print a JSON report")
	fl.BoolVar(&f.profile, "profile", false, "report time per op type")
	fl.IntVar(&f.nodes, "profile-nodes", 0, "also report the N slowest nodes (implies --profile)")
	fl.BoolVar(&f.random, "random-inputs", false, "feed seeded random data to inputs not given with --input")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for --random-inputs")
	fl.StringArrayVar(&f.dims, "dim", nil, "size of a symbolic input dimension, NAME=SIZE (repeatable): for --random-inputs, and checked against --input files")
	fl.IntVar(&f.showFirst, "show", 5, "how many leading output values to print")
	return cmd
}

// runReport is the JSON document `run --json` prints.
type runReport struct {
	Model   string          `json:"model"`
	Threads int             `json:"threads"`
	Outputs []outputSummary `json:"outputs"`
	Bench   *bench.Stats    `json:"bench,omitempty"`
	// GPU is what NVML sampled over the --bench runs.
	GPU     *gpuSummary      `json:"gpu,omitempty"`
	Profile []runtime.OpTime `json:"profile,omitempty"`
	// Slowest are the --profile-nodes slowest nodes.
	Slowest []runtime.NodeTime `json:"slowest_nodes,omitempty"`
	// Placement says, with --device cuda:N, which ops ran on the GPU and
	// what the host<->device copies cost.
	Placement *cudabackend.Report `json:"device_placement,omitempty"`
}

type outputSummary struct {
	Name  string        `json:"name"`
	DType string        `json:"dtype"`
	Shape []int         `json:"shape"`
	File  string        `json:"file,omitempty"`
	First []reportValue `json:"first"`
}

// reportValue is an output value in the JSON report: a number, or the
// string "NaN", "+Inf" or "-Inf", which JSON numbers cannot express (a
// model's NaN output is what a report most needs to show).
type reportValue float64

func (v reportValue) MarshalJSON() ([]byte, error) {
	if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
		return json.Marshal(fmt.Sprint(f))
	}
	return json.Marshal(float64(v))
}

func runModel(w io.Writer, g *globals, f *runFlags, path string) (err error) {
	if err := checkIntFlags(intFlag{"bench", f.bench, 0}, intFlag{"warmup", f.warmup, 0},
		intFlag{"profile-nodes", f.nodes, 0}, intFlag{"show", f.showFirst, 0}); err != nil {
		return err
	}
	m, err := loadModel(path)
	if err != nil {
		return err
	}
	// Fixed before the session is made: its load-time passes then see
	// concrete shapes (the fusions and the blocked layout need them).
	dims, err := parseDims(m.Graph, f.dims)
	if err != nil {
		return err
	}
	if err := fixDims(m.Graph, dims); err != nil {
		return err
	}
	sess, err := runtime.NewSession(m, backendFor(g), runtime.Options{Threads: g.threadCount(), Profile: f.profile || f.nodes > 0})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := checkPeakMemory(path, sess, f.dims); err != nil {
		return err
	}
	inputs, err := gatherInputs(m.Graph, f)
	if err != nil {
		return err
	}
	if err := f.checkOutputDir(len(m.Graph.Outputs)); err != nil {
		return err
	}
	outs, err := sess.Run(inputs)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	warnUnoptimized(path, sess) // after the run: a model of symbolic sizes specialises in its first
	rep := runReport{Model: path, Threads: g.threadCount()}
	if f.outDir != "" {
		if _, serr := os.Stat(f.outDir); errors.Is(serr, fs.ErrNotExist) {
			if merr := os.Mkdir(f.outDir, 0o755); merr != nil {
				return fmt.Errorf("--output-dir: %w", merr)
			}
			// the directory this run made goes again if the run fails
			defer func() {
				if err != nil {
					os.RemoveAll(f.outDir)
				}
			}()
		}
	}
	for i, t := range outs {
		o := outputSummary{Name: m.Graph.Outputs[i].Name, DType: t.DType().String(), Shape: t.Shape()}
		for j := 0; j < min(f.showFirst, t.Len()); j++ {
			o.First = append(o.First, reportValue(t.Float64At(j)))
		}
		if f.outDir != "" {
			o.File = outputFile(f.outDir, i)
			if err := tensor.SaveNpy(o.File, t); err != nil {
				return err
			}
		}
		rep.Outputs = append(rep.Outputs, o)
	}
	if f.bench > 0 {
		gpu := startGPUMonitor()
		rep.Bench, err = benchSession(sess, inputs, f.warmup, f.bench)
		gs := gpu.stop()
		if err != nil {
			return err
		}
		rep.GPU = &gs
	}
	if p := sess.Profile(); p != nil {
		rep.Profile = p.ByOp()
		if f.nodes > 0 {
			rep.Slowest = p.Slowest(f.nodes)
		}
	}
	if f.asJSON {
		rep.Placement = devicePlacement(g)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	for _, o := range rep.Outputs {
		fmt.Fprintf(w, "%s: %s%v first %v", o.Name, o.DType, o.Shape, o.First)
		if o.File != "" {
			fmt.Fprintf(w, " -> %s", o.File)
		}
		fmt.Fprintln(w)
	}
	if b := rep.Bench; b != nil {
		fmt.Fprintf(w, "latency over %d runs (%d threads): median %.3f ms, min %.3f, max %.3f, mean %.3f\n",
			b.Runs, rep.Threads, b.MedianMS, b.MinMS, b.MaxMS, b.MeanMS)
		rep.GPU.writeDevices(w)
	}
	if p := sess.Profile(); p != nil {
		p.WriteTable(w)
		if f.nodes > 0 {
			fmt.Fprintln(w)
			p.WriteNodeTable(w, f.nodes)
		}
		writeDeviceReport(w)
	}
	return nil
}

// outputFile is where --output-dir puts output i.
func outputFile(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("output_%d.npy", i)) }

// checkOutputDir checks --output-dir before the model runs: an existing
// directory whose output files pass checkOutputs (none of them an --input
// file), or a new one in an existing, writable directory (made when the
// run has succeeded); a file of that name is refused.
func (f *runFlags) checkOutputDir(outputs int) error {
	if f.outDir == "" {
		return nil
	}
	st, err := os.Stat(f.outDir)
	if err == nil && !st.IsDir() {
		return usagef("--output-dir %s: a file of that name exists", f.outDir)
	}
	var in []string
	for _, spec := range f.inputs {
		_, file := inputSpec(spec)
		in = append(in, file)
	}
	if err != nil {
		// A new directory, made once the run has succeeded: it must be
		// creatable where a file of its name could be.
		return checkOutputs(in, filepath.Clean(f.outDir))
	}
	files := make([]string, outputs)
	for i := range files {
		files[i] = outputFile(f.outDir, i)
	}
	return checkOutputs(in, files...)
}

// benchSession runs warmup untimed and n timed runs; a profile then
// covers the timed runs only.
func benchSession(sess *runtime.Session, inputs map[string]*tensor.Tensor, warmup, n int) (*bench.Stats, error) {
	for i := 0; i < warmup; i++ {
		if _, err := sess.Run(inputs); err != nil {
			return nil, err
		}
	}
	if p := sess.Profile(); p != nil {
		p.Reset()
	}
	ms := make([]float64, n)
	for i := range ms {
		start := time.Now()
		if _, err := sess.Run(inputs); err != nil {
			return nil, err
		}
		ms[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	st := bench.Summarize(ms, warmup)
	return &st, nil
}

// gatherInputs reads --input files and fills the rest with random data when
// asked. Every --input names one of the model's inputs, once. (The --dim
// sizes are in g's input shapes already, which the session checks the
// files against.)
func gatherInputs(g *graph.Graph, f *runFlags) (map[string]*tensor.Tensor, error) {
	var required []*graph.Value
	byName := map[string]*graph.Value{} // every input, those with an initializer too (--input overrides it)
	for _, v := range g.Inputs {
		byName[v.Name] = v
		if v.Const == nil {
			required = append(required, v)
		}
	}
	inputs := map[string]*tensor.Tensor{}
	for _, spec := range f.inputs {
		name, file := inputSpec(spec)
		switch {
		case spec == "":
			return nil, usagef("--input needs NAME=FILE, or FILE alone for a model of one input")
		case strings.HasPrefix(spec, "="):
			return nil, usagef("--input %s: no input name before '=' (NAME=FILE, or FILE alone for a model of one input)", spec)
		case file == "":
			return nil, usagef("--input %s: no file after '=' (NAME=FILE.npy or NAME=FILE.pb)", spec)
		}
		if name == "" {
			if len(required) != 1 {
				return nil, usagef("--input %s: name the input (NAME=FILE); the model has %d inputs (%s)", spec, len(required), valueNames(required))
			}
			name, file = required[0].Name, spec
		}
		v := byName[name]
		if v == nil {
			return nil, usagef("--input %s: the model has no input %q (inputs: %s)", spec, name, valueNames(g.Inputs))
		}
		if _, dup := inputs[name]; dup {
			return nil, usagef("--input %s: input %q is given twice", spec, name)
		}
		t, err := loadTensorFile(file)
		if err != nil {
			return nil, err
		}
		inputs[name] = t
	}
	if f.random {
		return inputs, addRandomInputs(g, f.seed, inputs)
	}
	for _, v := range required {
		if inputs[v.Name] == nil {
			return nil, usagef("missing input %v: give --input %s=FILE (.npy or .pb), or --random-inputs", v, v.Name)
		}
	}
	return inputs, nil
}

// inputSpec splits an --input value NAME=FILE; name is "" for a bare FILE.
func inputSpec(spec string) (name, file string) {
	if name, file, ok := strings.Cut(spec, "="); ok {
		return name, file
	}
	return "", spec
}

// addRandomInputs puts seeded random data (randomInput) into inputs for
// every input of g without an initializer that inputs does not hold yet.
func addRandomInputs(g *graph.Graph, seed uint64, inputs map[string]*tensor.Tensor) error {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, v := range g.Inputs {
		if _, ok := inputs[v.Name]; ok || v.Const != nil {
			continue
		}
		t, err := randomInput(v, rng)
		if err != nil {
			return err
		}
		inputs[v.Name] = t
	}
	return nil
}

// valueNames lists the names of vs, comma-separated.
func valueNames(vs []*graph.Value) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

// loadTensorFile reads a .npy or a TensorProto .pb file.
func loadTensorFile(file string) (*tensor.Tensor, error) {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".npy":
		return tensor.LoadNpy(file)
	case ".pb":
		t, _, err := conformance.LoadTensorPB(file)
		return t, err
	}
	return nil, usagef("%s: want a .npy or .pb file", file)
}

// randomInput makes seeded data for a declared input: uniform [0,1) for
// floats, 0/1 for bools, [0,10) for integers.
func randomInput(v *graph.Value, rng *rand.Rand) (*tensor.Tensor, error) {
	if !v.HasShape {
		return nil, usagef("input %q has no declared shape; pass it with --input", v.Name)
	}
	shape := make([]int, len(v.Shape))
	for i, d := range v.Shape {
		if !d.Known() {
			return nil, usagef("input %q: dimension %d (%s) is not fixed; pass --dim %s=SIZE", v.Name, i, d, dimName(d))
		}
		shape[i] = int(d.Size)
	}
	dt := v.DType
	if dt == tensor.Undefined {
		dt = tensor.Float32
	}
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", v.Name, err)
	}
	switch d := t.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = rng.Float32()
		}
	case []float64:
		for i := range d {
			d[i] = rng.Float64()
		}
	case []bool:
		for i := range d {
			d[i] = rng.IntN(2) == 1
		}
	case []int64:
		for i := range d {
			d[i] = int64(rng.IntN(10))
		}
	case []int32:
		for i := range d {
			d[i] = int32(rng.IntN(10))
		}
	case []uint8:
		for i := range d {
			d[i] = uint8(rng.IntN(256))
		}
	case []int8:
		for i := range d {
			d[i] = int8(rng.IntN(256) - 128)
		}
	default:
		return nil, usagef("input %q: --random-inputs cannot make %v data", v.Name, dt)
	}
	return t, nil
}

func dimName(d graph.Dim) string {
	if d.Param != "" {
		return d.Param
	}
	return "NAME"
}

// warnUnoptimized says on stderr when a session runs its model without the
// load-time passes because one of them failed, or, for a model of
// symbolic input sizes, could not specialise to the sizes it ran at: the
// results stand, the speed does not.
func warnUnoptimized(path string, sess *runtime.Session) {
	if err := sess.OptimizeError(); err != nil {
		fmt.Fprintf(os.Stderr, "gcompress: warning: %s runs without graph optimizations (slower, same results): %s\n", path, oneLine(err))
	}
}
