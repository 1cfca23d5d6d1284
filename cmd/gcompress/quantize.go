package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/gcompress/gcompress/compress/quant"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
)

// quantizeFlags are the options of `gcompress quantize`.
type quantizeFlags struct {
	calib        string
	calibSplit   string
	calibSamples int
	method       string
	percentile   float64
	fallback     bool
	bins         int
	perChannel   bool
	reduceRange  bool
	activations  string
	ignore       []string
	quantizeAdds bool // false: Options.FloatAdds
	evalSplit    string
	evalSamples  int
	batch        int
	sensitivity  bool
	keepFloat    int
	maxDrop      float64
	weightOnly   string
	groupSize    int
	out          string
	report       string
	calibTable   string
	lowered      string
	ort          bool
	asJSON       bool
}

func newQuantizeCmd(g *globals) *cobra.Command {
	f := &quantizeFlags{}
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "cpu"},
		Use:         "quantize MODEL --calib DIR|FILE.npy -o OUT.onnx",
		Short:       "INT8 post-training quantization with calibration; writes QDQ ONNX",
		Long: `Quantizes MODEL to INT8 and writes it as QDQ ONNX (QuantizeLinear /
DequantizeLinear around each quantized op, opset >= 13), which ONNX Runtime and
TensorRT run. BatchNorm and constants are folded first; weights are int8
symmetric per output channel (--per-channel=false: per tensor), activations
uint8 asymmetric (--activations s8: int8 symmetric) per tensor, biases int32
with scale s_in * s_w. Activation ranges come from streaming observers run over
the first --calib-samples samples of the calibration data: minmax, percentile
(--percentile), entropy (TensorRT's KL-divergence method) or mse.

Calibration data (--calib):
  DIR        a dataset directory: the --calib-split split as MNIST-style IDX
             files (<split>-images-idx3-ubyte[.gz] and labels), or as NumPy
             files <split>.npy ([N, sample...]) with <split>-labels.npy
             (optional; class indices) for models of any input shape
  FILE.npy   samples [N, sample...] of any model's input, float32 or float64,
             exactly as the model takes them (preprocessed, nothing scaled);
             unlabelled: the evaluation then compares logits only
A model input's symbolic dimensions other than the batch are taken from the
sample shape.

Entropy fallback: KL divergence misjudges histograms with point masses (a ReLU
after a convolution over a constant background: every background pixel of a
channel equals its bias), and can then clip several percent of the values.
So, per tensor, the entropy threshold is kept only when it quantizes the
calibration values with a smaller squared error than the unclipped range (the
error --method mse minimises); otherwise the tensor gets the minmax range and
the report lists the rejected threshold with both errors.
--entropy-fallback=false keeps TensorRT's thresholds as they are.

The quantized model is then run by gcompress with integer kernels (QDQ patterns
lowered to QLinearConv / QGemm / QLinearAdd / int8 MaxPool) on the --eval-split split
of DIR (when present; else on the calibration samples) and compared with the
float model: accuracy (when labelled), top-1 agreement, logits NMSE, and a
per-layer table (scale, zero point, clipped %, NMSE) in --report. --ort runs
the written QDQ file in ONNX Runtime as well.

ONNX Runtime on x86-64 CPUs without VNNI (AVX2 only, or AVX-512 without VNNI)
multiplies uint8 by int8 with an instruction that adds pairs of products in 16
bits with saturation, so with full-range int8 weights its results can differ
from exact integer arithmetic (gcompress computes exactly everywhere; --ort says
when it runs such a file on such a CPU). --reduce-range quantizes weights to 7
bits, [-64, 64], where no pair saturates, at the cost of one bit of weight
precision (twice the step); on such CPUs gcompress then runs its
convolutions and matrix products with the same instruction, exactly.

Residual adds: every Add of two computed tensors of one shape (ResNet's and
MobileNet v2's skip connections; a two-input Sum counts as one) is quantized
too: Q/DQ on both inputs and on the output (after its Relu), so ONNX Runtime
and TensorRT run the add as an INT8 add and the convolutions before it with
INT8 output (ResNet-50 in ONNX Runtime: about 1.8x faster than with float
adds), at the cost of one more rounding of the residual sum.
--quantize-adds=false keeps them float, and with them the output of each
convolution before one; --ignore Add (or an add's name) does so for some.

Mixed precision: --sensitivity quantizes one layer at a time and ranks the
layers by logits NMSE and accuracy drop; --keep-float N keeps the N most
sensitive in float; --max-drop P keeps layers in float until the accuracy drop
is at most P points. These choose among Conv/Gemm/MatMul layers only: the
residual adds stay quantized (--quantize-adds=false keeps them float), and a
layer kept float still reads a quantized add's dequantized output.

Weight-only: --weight-only int8 (per channel, DequantizeLinear on int8
weights) or int4 (--group-size 32/64/128, ONNX Runtime's MatMulNBits) quantizes
MatMul/Gemm weights and keeps activations float; --calib is then optional.

With --json it prints the report as JSON.`,
		Example: `  gcompress quantize lenet5.onnx --calib data/mnist -o lenet5-int8.onnx
  gcompress quantize lenet5.onnx --calib data/mnist --method percentile --calib-samples 500 -o q.onnx --report q.md
  gcompress quantize model.onnx --calib data/mnist --sensitivity --keep-float 1 -o q.onnx --json
  gcompress quantize resnet50.onnx --calib calib.npy --calib-samples 64 -o resnet50-int8.onnx --ort
  gcompress quantize resnet50.onnx --calib calib.npy --quantize-adds=false -o resnet50-int8-float-adds.onnx
  gcompress quantize lenet5.onnx --calib data/mnist --reduce-range --ort -o lenet5-int8-7bit.onnx
  gcompress quantize mlp.onnx --weight-only int4 --group-size 32 -o mlp-int4.onnx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if onCommandLine(cmd.Flags(), "calib") && onCommandLine(cmd.Flags(), "data") {
				return usagef("give --calib or --data (the same option), not both")
			}
			calibration := []string{"method", "percentile", "bins", "activations", "calib-samples", "sensitivity", "keep-float", "quantize-adds"}
			yieldToFlags(cmd.Flags(), "weight-only", &f.weightOnly, append(calibration, "reduce-range")...)
			if f.weightOnly != "" {
				for _, name := range calibration {
					if onCommandLine(cmd.Flags(), name) {
						return usagef("--%s is about activation calibration, which --weight-only does not do", name)
					}
				}
				if onCommandLine(cmd.Flags(), "reduce-range") {
					return usagef("--reduce-range is for the 8-bit integer kernels (uint8 x int8); --weight-only dequantizes its weights to float")
				}
			}
			return runQuantize(cmd, g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.calib, "calib", "", "calibration data: a dataset directory (IDX files or <split>.npy) or a .npy file of samples [N, ...]")
	fl.StringVar(&f.calib, "data", "", "the same as --calib (the name the other commands use)")
	fl.StringVar(&f.calibSplit, "calib-split", "train", "split of --calib to calibrate on")
	fl.IntVar(&f.calibSamples, "calib-samples", 1000, "calibration samples (the first N of the split; 0: all)")
	fl.StringVar(&f.method, "method", "entropy", "calibration method: minmax, percentile, entropy (see --entropy-fallback) or mse")
	fl.Float64Var(&f.percentile, "percentile", quant.DefaultPercentile, "percentile of |x| kept by --method percentile")
	fl.BoolVar(&f.fallback, "entropy-fallback", true, "entropy: use the minmax range for a tensor whose entropy threshold quantizes worse than no clipping (false: TensorRT's thresholds as they are)")
	fl.IntVar(&f.bins, "bins", quant.DefaultBins, "histogram bins per activation")
	fl.BoolVar(&f.perChannel, "per-channel", true, "quantize weights per output channel (false: per tensor)")
	fl.BoolVar(&f.reduceRange, "reduce-range", false, "quantize weights to 7 bits, [-64, 64], so that ONNX Runtime's 8-bit kernels compute exactly on x86-64 CPUs without VNNI")
	fl.StringVar(&f.activations, "activations", "u8", "activation type: u8 (asymmetric) or s8 (symmetric)")
	fl.StringSliceVar(&f.ignore, "ignore", nil, "node names or op types to keep in float (repeatable or comma-separated)")
	fl.BoolVar(&f.quantizeAdds, "quantize-adds", true, "quantize residual adds (inputs and output INT8), so ONNX Runtime and TensorRT run them and the convolutions before them in INT8 (false: keep them float)")
	fl.StringVar(&f.evalSplit, "eval-split", "test", `split of --calib to evaluate on (skipped when absent; "" for none)`)
	fl.IntVar(&f.evalSamples, "eval-samples", 0, "evaluation samples (0: all)")
	fl.IntVar(&f.batch, "batch", quant.DefaultBatch, "samples per run")
	fl.BoolVar(&f.sensitivity, "sensitivity", false, "rank layers by the error quantizing each alone causes")
	fl.IntVar(&f.keepFloat, "keep-float", 0, "keep the N most sensitive layers in float")
	fl.Float64Var(&f.maxDrop, "max-drop", -1, "keep sensitive layers in float until the accuracy drop is at most P points (-1: off)")
	fl.StringVar(&f.weightOnly, "weight-only", "", "quantize only MatMul/Gemm weights: int8 or int4")
	fl.IntVar(&f.groupSize, "group-size", 0, "weight-only block size along K (int4 default 32; int8 default per channel)")
	fl.StringVarP(&f.out, "output", "o", "", "where to write the quantized QDQ ONNX model")
	fl.StringVar(&f.report, "report", "", "write a Markdown report (per-layer table) here")
	fl.StringVar(&f.calibTable, "calib-table", "", "write the calibration table (tensor -> amax): .json, else TensorRT cache text")
	fl.StringVar(&f.lowered, "lowered", "", "also write the integer-op model gcompress executes to `FILE` (gcompress run lowers the QDQ output the same way when it loads it; this file is for ONNX Runtime or inspection)")
	fl.BoolVar(&f.ort, "ort", false, "also run the QDQ model in ONNX Runtime and compare")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	return cmd
}

// quantizeSummary is the JSON document of `quantize --json`.
type quantizeSummary struct {
	Model           string `json:"model"`
	Output          string `json:"output"`
	LayersQuantized int    `json:"layers_quantized"`
	LayersTotal     int    `json:"layers_total"`
	*quant.Report
	ORT     *ortComparison `json:"ort,omitempty"`
	Seconds float64        `json:"seconds"`
}

// ortComparison is the QDQ file run by ONNX Runtime against gcompress's
// integer execution.
type ortComparison struct {
	Samples  int      `json:"samples"`
	Accuracy *float64 `json:"accuracy,omitempty"`
	// Agreement is the fraction of samples on which ORT's top-1 class
	// equals gcompress's integer execution.
	Agreement  float64 `json:"agreement_with_gcompress"`
	LogitsNMSE float64 `json:"logits_nmse_vs_gcompress"`
	// Saturating says that ONNX Runtime's 8-bit kernels may saturate on
	// this CPU (ortpeer.Saturates8Bit) with this file's full-range weights.
	Saturating bool `json:"saturating_kernels,omitempty"`
}

// check refuses, before any work, flags that are missing, out of range or
// that the chosen method would ignore (those given on the command line:
// a configured default may not apply to every run).
func (f *quantizeFlags) check(fl *pflag.FlagSet, model string) error {
	if f.out == "" {
		return usagef("-o OUT.onnx is required")
	}
	if f.calib == "" && f.weightOnly == "" {
		return usagef("--calib DIR is required (calibration images)")
	}
	if _, err := quant.ParseMethod(f.method); err != nil {
		return usageError{err}
	}
	if f.ort && f.calib == "" {
		return usagef("--ort needs --calib for the samples to compare on")
	}
	if onCommandLine(fl, "percentile") && f.method != string(quant.MethodPercentile) {
		return usagef("--percentile applies to --method percentile (the method is %s)", f.method)
	}
	if onCommandLine(fl, "group-size") && f.weightOnly == "" {
		return usagef("--group-size applies to --weight-only (activation quantization has no groups)")
	}
	if f.weightOnly != "" {
		if err := quant.CheckGroupSize(f.groupSize); err != nil {
			return usagef("%s: %v", flagSource(fl, "group-size"), err)
		}
	}
	if !(f.maxDrop == -1 || f.maxDrop >= 0 && f.maxDrop <= 100) {
		return usagef("%s %v: want accuracy points in [0, 100], or -1 for off", flagSource(fl, "max-drop"), f.maxDrop)
	}
	if f.activations != "u8" && f.activations != "s8" {
		return usagef("--activations %q: want u8 or s8", f.activations)
	}
	if err := checkIntFlags(intFlag{"calib-samples", f.calibSamples, 0}, intFlag{"eval-samples", f.evalSamples, 0},
		intFlag{"keep-float", f.keepFloat, 0}, intFlag{"batch", f.batch, 1}, intFlag{"bins", f.bins, 128}); err != nil {
		return err
	}
	if !(f.percentile > 0 && f.percentile <= 100) {
		return usagef("--percentile %v: want a value in (0, 100]", f.percentile)
	}
	if f.weightOnly != "" && f.weightOnly != "int8" && f.weightOnly != "int4" {
		return usagef("--weight-only %q: want int8 or int4", f.weightOnly)
	}
	return checkOutputs([]string{model}, f.out, f.report, f.calibTable, f.lowered)
}

func runQuantize(cmd *cobra.Command, g *globals, f *quantizeFlags, model string) error {
	if err := f.check(cmd.Flags(), model); err != nil {
		return err
	}
	start := time.Now()
	if f.ort {
		// before calibration and evaluation, which take minutes on big models
		if err := ortpeer.Init(); err != nil {
			return fmt.Errorf("--ort: %w", err)
		}
	}
	m, err := loadModel(model)
	if err != nil {
		return err
	}
	var calib, test *data.Dataset
	if f.calib != "" {
		// a file of samples has no splits: say so before reading it
		st, serr := os.Stat(f.calib)
		samplesFile := serr == nil && !st.IsDir()
		if samplesFile && (onCommandLine(cmd.Flags(), "calib-split") || onCommandLine(cmd.Flags(), "eval-split")) {
			return usagef("--calib %s is a file of samples: --calib-split and --eval-split name the splits of a dataset directory", f.calib)
		}
		if calib, err = data.Open(f.calib, f.calibSplit); err != nil {
			if samplesFile {
				return fmt.Errorf("--calib %s: %w", f.calib, err)
			}
			return fmt.Errorf("--calib %s (split %q): %w", f.calib, f.calibSplit, err)
		}
		if calib.Len() == 0 {
			return fmt.Errorf("--calib %s: split %q has no samples", f.calib, f.calibSplit)
		}
		if !samplesFile && f.evalSplit != "" {
			test, err = data.Load(f.calib, f.evalSplit)
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) || cmd.Flags().Changed("eval-split") {
					return fmt.Errorf("--calib %s (eval split %q): %w", f.calib, f.evalSplit, err)
				}
				test = nil
			}
		}
	}
	act := tensor.Uint8
	if f.activations == "s8" {
		act = tensor.Int8
	}
	pr := newQuantProgress(!f.asJSON || term.IsTerminal(int(os.Stderr.Fd())))
	opts := quant.Options{
		Method: quant.Method(f.method), Percentile: f.percentile, NoFallback: !f.fallback, Bins: f.bins, PerChannel: f.perChannel, ReduceRange: f.reduceRange,
		Activations: act, Ignore: f.ignore, FloatAdds: !f.quantizeAdds,
		Calib: quant.RunOptions{Samples: f.calibSamples, Batch: f.batch, Threads: g.threadCount()},
		Eval:  test, EvalSamples: f.evalSamples, EvalSplit: f.evalSplit,
		Sensitivity: f.sensitivity, KeepFloat: f.keepFloat,
		WeightOnly: f.weightOnly, GroupSize: f.groupSize,
		Stage: pr.stage,
	}
	if f.maxDrop >= 0 {
		opts.MaxDrop = &f.maxDrop
	}
	q, rep, err := quant.QuantizeModel(m, calib, opts)
	pr.done()
	if err != nil {
		return fmt.Errorf("%s: %w", model, err)
	}
	sum := &quantizeSummary{Model: model, Output: f.out, Report: rep}
	for _, l := range rep.Layers {
		sum.LayersTotal++
		if l.Quantized {
			sum.LayersQuantized++
		}
	}
	if f.ort {
		evalSet, n := test, f.evalSamples
		if evalSet == nil {
			evalSet, n = calib, rep.CalibSamples
		}
		if sum.ORT, err = compareWithORT(q, evalSet, n, test != nil && test.Labels != nil, f.batch, g.threadCount()); err != nil {
			return fmt.Errorf("--ort: %w", err)
		}
		sum.ORT.Saturating = ortMaySaturate(rep)
	}
	if err := writeQuantizeOutputs(f, model, q, rep); err != nil {
		return err
	}
	sum.Seconds = time.Since(start).Seconds()
	if f.asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	return printQuantize(cmd.OutOrStdout(), sum)
}

// writeQuantizeOutputs writes the model and the optional files; on any
// failure the files this run wrote are removed again.
func writeQuantizeOutputs(f *quantizeFlags, model string, q *graph.Model, rep *quant.Report) error {
	var written []string
	fail := func(err error) error {
		for _, p := range written {
			os.Remove(p)
		}
		return err
	}
	if err := onnx.Save(q, f.out, onnx.SaveOptions{}); err != nil {
		return fail(err)
	}
	written = append(written, f.out)
	if f.lowered != "" {
		low, _, err := quant.Lower(q)
		if err != nil {
			return fail(err)
		}
		if err := onnx.Save(low, f.lowered, onnx.SaveOptions{}); err != nil {
			return fail(err)
		}
		written = append(written, f.lowered)
	}
	if f.calibTable != "" {
		if len(rep.CalibTable) == 0 {
			return fail(fmt.Errorf("--calib-table: weight-only quantization has no activation ranges"))
		}
		asJSON := strings.EqualFold(filepath.Ext(f.calibTable), ".json")
		err := atomicfile.Write(f.calibTable, func(w io.Writer) error { return quant.WriteCalibTable(w, rep.CalibTable, asJSON) })
		if err != nil {
			return fail(err)
		}
		written = append(written, f.calibTable)
	}
	if f.report != "" {
		md := rep.Markdown(model, f.out)
		if err := atomicfile.Write(f.report, func(w io.Writer) error { _, err := io.WriteString(w, md); return err }); err != nil {
			return fail(err)
		}
	}
	return nil
}

// compareWithORT runs the QDQ model in ONNX Runtime on the first n samples
// (all when 0) and compares ORT's logits with gcompress's integer
// execution of the same model.
func compareWithORT(q *graph.Model, ds *data.Dataset, n int, withLabels bool, batch, threads int) (*ortComparison, error) {
	if err := ortpeer.Init(); err != nil {
		return nil, err
	}
	b, err := onnx.Encode(q)
	if err != nil {
		return nil, err
	}
	s, err := ortpeer.NewSession(b, threads)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if n <= 0 || n > ds.Len() {
		n = ds.Len()
	}
	name, shape, err := eval.InputShape(q.Graph, batch, ds.Sample())
	if err != nil {
		return nil, err
	}
	var ol []float32
	classes := 0
	for start := 0; start < n; start += shape[0] {
		k := min(shape[0], n-start)
		idx := make([]int, k)
		for i := range idx {
			idx[i] = start + i
		}
		x, err := ds.Batch(idx, append([]int{k}, shape[1:]...))
		if err != nil {
			return nil, err
		}
		res, err := s.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return nil, err
		}
		_, c, ok := eval.ScoreShape(res[0])
		if res[0].DType() != tensor.Float32 || !ok {
			return nil, fmt.Errorf("ORT output 0 is %v, want float32 [batch, classes]", res[0])
		}
		classes = c
		ol = append(ol, res[0].F32()...)
	}
	low, _, err := quant.Lower(q)
	if err != nil {
		return nil, err
	}
	ll, _, err := quant.Logits(low, ds, quant.RunOptions{Samples: n, Batch: batch, Threads: threads})
	if err != nil {
		return nil, err
	}
	c := &ortComparison{Samples: n, Agreement: quant.Agreement(ol, ll, classes), LogitsNMSE: quant.NMSE(ll, ol)}
	if withLabels {
		p, err := eval.Argmax(tensor.FromSlice([]int{n, classes}, ol))
		if err != nil {
			return nil, err
		}
		ok := 0
		for i, c := range p {
			if c == ds.Labels[i] {
				ok++
			}
		}
		a := float64(ok) / float64(n)
		c.Accuracy = &a
	}
	return c, nil
}

// ortMaySaturate reports whether ONNX Runtime's 8-bit kernels may saturate
// on this CPU with r's model: int8 x int8 layers with full-range weights.
func ortMaySaturate(r *quant.Report) bool {
	return r.WeightOnly == "" && !r.ReduceRange && ortpeer.Saturates8Bit()
}

func printQuantize(w io.Writer, s *quantizeSummary) error {
	r := s.Report
	bits := ""
	if r.ReduceRange {
		bits = " in 7 bits"
	}
	what := fmt.Sprintf("%s calibration on %d samples (%.2f s), weights int8%s per-%s, activations %s",
		r.Method, r.CalibSamples, r.CalibSeconds, bits, map[bool]string{true: "channel", false: "tensor"}[r.PerChannel], r.Activations)
	if r.WeightOnly != "" {
		what = "weight-only " + r.WeightOnly
		if r.GroupSize > 0 {
			what += fmt.Sprintf(", group size %d", r.GroupSize)
		}
	}
	adds := ""
	if len(r.Adds) > 0 {
		adds = fmt.Sprintf(" and %d residual adds", len(r.Adds))
	}
	fmt.Fprintf(w, "%s -> %s: %d of %d layers%s quantized (%s)\n", s.Model, s.Output, s.LayersQuantized, s.LayersTotal, adds, what)
	for _, l := range r.Fallbacks() {
		fb := l.EntropyFallback
		fmt.Fprintf(w, "entropy fallback: %s uses its unclipped range %.4g (entropy amax %.4g would clip %.3f%%; MSE %.3g vs %.3g unclipped)\n",
			l.ActTensor, l.Amax, fb.Amax, 100*fb.Clipped, fb.MSE, fb.MinMaxMSE)
	}
	fmt.Fprintf(w, "initializers %s -> %s\n", humanBytes(r.BytesFloat), humanBytes(r.BytesQuant))
	if e := r.Eval; e != nil {
		where := fmt.Sprintf("%d samples", e.Samples)
		if e.Split != "" {
			where += " of " + e.Split
		}
		line := fmt.Sprintf("%s: ", where)
		if e.AccuracyFloat != nil {
			line += fmt.Sprintf("accuracy FP32 %.2f%%, quantized %.2f%%; ", 100**e.AccuracyFloat, 100**e.AccuracyQuant)
		}
		line += fmt.Sprintf("top-1 agreement %.2f%%, logits NMSE %.3g\n", 100*e.Agreement, e.LogitsNMSE)
		io.WriteString(w, line)
	}
	ops := make([]string, 0, len(r.Lowering.Ops))
	for op, n := range r.Lowering.Ops {
		ops = append(ops, fmt.Sprintf("%s x%d", op, n))
	}
	sort.Strings(ops)
	if len(ops) > 0 {
		fmt.Fprintf(w, "integer execution: %s\n", strings.Join(ops, ", "))
	}
	for _, l := range r.Layers {
		if !l.Quantized {
			fmt.Fprintf(w, "float: %s (%s)\n", l.Name, l.Float)
		}
	}
	var sens []quant.LayerReport
	for _, l := range r.Layers {
		if l.SensitivityNMSE != nil {
			sens = append(sens, l)
		}
	}
	if len(sens) > 0 {
		sort.SliceStable(sens, func(i, j int) bool {
			a, b := sens[i], sens[j]
			if a.SensitivityAccDrop != nil && b.SensitivityAccDrop != nil && *a.SensitivityAccDrop != *b.SensitivityAccDrop {
				return *a.SensitivityAccDrop > *b.SensitivityAccDrop
			}
			return *a.SensitivityNMSE > *b.SensitivityNMSE
		})
		io.WriteString(w, "sensitivity (only this layer quantized), most sensitive first:\n")
		for i, l := range sens {
			drop := ""
			if l.SensitivityAccDrop != nil {
				drop = fmt.Sprintf(", accuracy drop %.2f points", *l.SensitivityAccDrop)
			}
			fmt.Fprintf(w, "  %d. %s (%s): logits NMSE %.3g%s\n", i+1, l.Name, l.Op, *l.SensitivityNMSE, drop)
		}
	}
	if o := s.ORT; o != nil {
		line := fmt.Sprintf("ONNX Runtime on the QDQ file (%d samples): ", o.Samples)
		if o.Accuracy != nil {
			line += fmt.Sprintf("accuracy %.2f%%, ", 100**o.Accuracy)
		}
		line += fmt.Sprintf("top-1 agreement with gcompress %.2f%%, logits NMSE %.3g\n", 100*o.Agreement, o.LogitsNMSE)
		io.WriteString(w, line)
		if o.Saturating {
			io.WriteString(w, "note: this CPU has no VNNI, so ONNX Runtime's 8-bit kernels add pairs of products in 16 bits with saturation here and can differ from exact integer arithmetic; --reduce-range (7-bit weights) keeps them exact\n")
		}
	} else if ortMaySaturate(r) {
		io.WriteString(w, "note: this CPU has no VNNI: on such CPUs ONNX Runtime's 8-bit kernels can saturate with full-range weights; 7-bit ones (--reduce-range) keep them exact, and run gcompress's convolutions faster\n")
	}
	return nil
}

// quantProgress shows one mpb bar per stage on a terminal (stderr), and a
// log line per stage at 0, 50 and 100% otherwise.
type quantProgress struct {
	mu     sync.Mutex
	enable bool
	p      *mpb.Progress
	bars   map[string]*mpb.Bar
	logged map[string]int
}

func newQuantProgress(enable bool) *quantProgress {
	qp := &quantProgress{enable: enable, bars: map[string]*mpb.Bar{}, logged: map[string]int{}}
	if enable && term.IsTerminal(int(os.Stderr.Fd())) {
		qp.p = mpb.New(mpb.WithOutput(os.Stderr), mpb.WithWidth(30))
	}
	return qp
}

func (qp *quantProgress) stage(name string, done, total int) {
	if !qp.enable || total <= 0 {
		return
	}
	qp.mu.Lock()
	defer qp.mu.Unlock()
	if qp.p != nil {
		b := qp.bars[name]
		if b == nil {
			b = qp.p.AddBar(int64(total), mpb.PrependDecorators(decor.Name(fmt.Sprintf("%-16s", name)), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
				mpb.AppendDecorators(decor.Percentage()))
			qp.bars[name] = b
		}
		b.SetCurrent(int64(done))
		return
	}
	step := 2 * done / total // 0, 1 (half) or 2 (done)
	if last, ok := qp.logged[name]; ok && step <= last {
		return
	}
	qp.logged[name] = step
	fmt.Fprintf(os.Stderr, "quantize: %s %d/%d\n", name, done, total)
}

func (qp *quantProgress) done() {
	if qp.p == nil {
		return
	}
	for _, b := range qp.bars {
		if !b.Completed() {
			b.Abort(false)
		}
	}
	qp.p.Wait()
}
