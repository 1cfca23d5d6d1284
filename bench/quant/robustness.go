package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/compress/quant"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/onnx"
)

// noFallback names entropy calibration without the minmax fallback
// (TensorRT's thresholds as they are) in -methods.
const noFallback = "entropy-nofallback"

// RobustRow is one model quantized with one method on one calibration
// set size (the -robustness mode).
type RobustRow struct {
	Model        string  `json:"model"`
	CalibSamples int     `json:"calib_samples"`
	Method       string  `json:"method"`
	FP32         float64 `json:"accuracy_fp32"`
	INT8         float64 `json:"accuracy_int8"`
	DropPoints   float64 `json:"drop_points"`
	Agreement    float64 `json:"top1_agreement_vs_fp32"`
	LogitsNMSE   float64 `json:"logits_nmse"`
	// MaxClippedPct is the largest fraction of calibration values clipped
	// on one activation, and MaxClippedTensor that activation.
	MaxClippedPct    float64 `json:"max_clipped_pct"`
	MaxClippedTensor string  `json:"max_clipped_tensor"`
	// Fallbacks are the activations whose entropy threshold was rejected
	// for the unclipped range.
	Fallbacks []string `json:"entropy_fallbacks,omitempty"`
}

// RobustReport is the JSON file of the -robustness mode.
type RobustReport struct {
	Machine   bench.Machine `json:"machine"`
	Threads   int           `json:"threads"`
	Rows      []RobustRow   `json:"rows"`
	Generated string        `json:"generated_by"`
}

// robustness quantizes every model with every method on every
// calibration set size (the first N training digits), evaluates on the
// test split with gcompress's integer execution, prints a Markdown table
// and writes the JSON report to out (when set).
func robustness(modelsFlag, methods, samples string, calib, test *data.Dataset, threads int, out string) {
	var sizes []int
	for _, s := range strings.Split(samples, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			check(fmt.Errorf("-calib-samples %q: want positive integers separated by commas", samples))
		}
		sizes = append(sizes, n)
	}
	rep := RobustReport{Machine: bench.ThisMachine(), Threads: threads, Generated: "go run ./bench/quant " + strings.Join(os.Args[1:], " ")}
	fmt.Println("| model | calib samples | method | FP32 | INT8 | drop (points) | agreement | logits NMSE | most clipped activation | entropy fallbacks |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, spec := range strings.Split(modelsFlag, ",") {
		name, file, ok := strings.Cut(spec, "=")
		if !ok {
			check(fmt.Errorf("-models entry %q: want NAME=FILE", spec))
		}
		m, err := onnx.Load(file)
		check(err)
		for _, n := range sizes {
			for _, meth := range strings.Split(methods, ",") {
				o := quant.Options{Method: quant.Method(meth), PerChannel: true, Eval: test, EvalSplit: "test",
					Calib: quant.RunOptions{Samples: n, Threads: threads}}
				if meth == noFallback {
					o.Method, o.NoFallback = quant.MethodEntropy, true
				}
				_, r, err := quant.QuantizeModel(m, calib, o)
				check(err)
				row := RobustRow{Model: name, CalibSamples: r.CalibSamples, Method: meth, FP32: *r.Eval.AccuracyFloat,
					INT8: *r.Eval.AccuracyQuant, Agreement: r.Eval.Agreement, LogitsNMSE: r.Eval.LogitsNMSE}
				row.DropPoints = 100 * (row.FP32 - row.INT8)
				for _, l := range r.Layers {
					if l.ActTensor != "" && (row.MaxClippedTensor == "" || l.ClippedPct > row.MaxClippedPct) {
						row.MaxClippedPct, row.MaxClippedTensor = l.ClippedPct, l.ActTensor
					}
				}
				for _, l := range r.Fallbacks() {
					row.Fallbacks = append(row.Fallbacks, l.ActTensor)
				}
				sort.Strings(row.Fallbacks)
				clipped := "none"
				if row.MaxClippedPct > 0 {
					clipped = fmt.Sprintf("%s %.3f%%", row.MaxClippedTensor, row.MaxClippedPct)
				}
				fmt.Printf("| %s | %d | %s | %.2f%% | %.2f%% | %.2f | %.2f%% | %.3g | %s | %s |\n", name, row.CalibSamples, meth,
					100*row.FP32, 100*row.INT8, row.DropPoints, 100*row.Agreement, row.LogitsNMSE, clipped, strings.Join(row.Fallbacks, ", "))
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	if out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		check(err)
		check(atomicfile.Write(out, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }))
	}
}
