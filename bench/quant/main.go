// Command quant measures INT8 post-training quantization (compress/quant)
// on trained MNIST models: for every calibration method, the FP32 and
// INT8 accuracy on the test split, INT8-vs-FP32 top-1 agreement, the same
// QDQ file run by ONNX Runtime (accuracy, agreement with gcompress's
// integer execution), and latency of the FP32 model and of the lowered
// INT8 model in gcompress's runtime (same process, same threads), plus
// weight-only int8/int4 for the fully connected models.
//
//	gcompress train --arch lenet5 --data data/mnist --seed 1 -o /tmp/lenet5.onnx
//	gcompress train --arch lenet-300-100 --data data/mnist --seed 1 -o /tmp/mlp.onnx
//	go run ./bench/quant -models lenet5=/tmp/lenet5.onnx,lenet-300-100=/tmp/mlp.onnx \
//	    -out bench/results/quant-mnist.json
//
// With -robustness it measures only accuracy, for many models, methods
// (entropy-nofallback: entropy with TensorRT's thresholds as they are,
// see quant.Calibrate) and calibration set sizes; docs/RESULTS.md has the
// command and the table.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/compress/quant"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// Accuracy is one quantization of one model.
type Accuracy struct {
	Model        string  `json:"model"`
	Method       string  `json:"method"`
	CalibSamples int     `json:"calib_samples"`
	FP32         float64 `json:"accuracy_fp32"`
	INT8         float64 `json:"accuracy_int8"`
	DropPoints   float64 `json:"drop_points"`
	Agreement    float64 `json:"top1_agreement_vs_fp32"`
	LogitsNMSE   float64 `json:"logits_nmse"`
	ORTAccuracy  float64 `json:"ort_accuracy"`
	ORTAgreement float64 `json:"ort_agreement_with_gcompress"`
	ORTNMSE      float64 `json:"ort_logits_nmse_vs_gcompress"`
	CalibSeconds float64 `json:"calib_seconds"`
	BytesFP32    int64   `json:"bytes_fp32"`
	BytesQuant   int64   `json:"bytes_quantized"`
	// IntegerOps are the ops gcompress runs the INT8 model with.
	IntegerOps map[string]int `json:"integer_ops"`
}

// Latency is one model at one batch size.
type Latency struct {
	Model  string  `json:"model"`
	Batch  int     `json:"batch"`
	FP32MS float64 `json:"fp32_median_ms"`
	INT8MS float64 `json:"int8_median_ms"`
	Ratio  float64 `json:"ratio_int8_over_fp32"`
	// Profiles are the time per op type (ms per run) of each model.
	Profile     map[string]float64 `json:"int8_ms_per_op"`
	FP32Profile map[string]float64 `json:"fp32_ms_per_op"`
}

// Report is the JSON file the harness writes.
type Report struct {
	Machine   bench.Machine `json:"machine"`
	Threads   int           `json:"threads"`
	Runs      int           `json:"runs"`
	ORT       string        `json:"ort"`
	Accuracy  []Accuracy    `json:"accuracy"`
	Latency   []Latency     `json:"latency"`
	Commands  []string      `json:"commands"`
	Generated string        `json:"generated_by"`
}

func main() {
	modelsFlag := flag.String("models", "", "NAME=FILE.onnx,... trained models (see the package comment)")
	dataDir := flag.String("data", "data/mnist", "MNIST directory (train and test splits)")
	samples := flag.Int("calib-samples", 1000, "calibration samples")
	threads := flag.Int("threads", 2, "threads")
	runs := flag.Int("runs", 200, "timed runs per latency point (after 10 warm-ups)")
	methods := flag.String("methods", "minmax,percentile,entropy,mse", "calibration methods")
	out := flag.String("out", "", "write the JSON report here")
	robust := flag.Bool("robustness", false, "accuracy only: every model x method x -robust-samples, as a Markdown table")
	robustSamples := flag.String("robust-samples", "500,1000", "-robustness: calibration set sizes")
	flag.Parse()
	if *modelsFlag == "" {
		fmt.Fprintln(os.Stderr, "quant: -models NAME=FILE,... is required")
		os.Exit(2)
	}
	calib, err := data.Load(*dataDir, "train")
	check(err)
	test, err := data.Load(*dataDir, "test")
	check(err)
	check(test.Labelled("the accuracy table"))
	if *robust {
		robustness(*modelsFlag, *methods, *robustSamples, calib, test, *threads, *out)
		return
	}
	rep := Report{Machine: bench.ThisMachine(), Threads: *threads, Runs: *runs,
		ORT: "onnxruntime-node 1.30.0 (libonnxruntime.so.1)", Generated: "go run ./bench/quant " + strings.Join(os.Args[1:], " ")}
	haveORT := ortpeer.Init() == nil
	if !haveORT {
		fmt.Fprintln(os.Stderr, "quant: ONNX Runtime not found; ORT columns stay 0")
	}
	for _, spec := range strings.Split(*modelsFlag, ",") {
		name, file, ok := strings.Cut(spec, "=")
		if !ok {
			check(fmt.Errorf("-models entry %q: want NAME=FILE", spec))
		}
		m, err := onnx.Load(file)
		check(err)
		var entropyQ *graph.Model
		for _, meth := range strings.Split(*methods, ",") {
			o := quant.Options{Method: quant.Method(meth), PerChannel: true, Eval: test, EvalSplit: "test",
				Calib: quant.RunOptions{Samples: *samples, Threads: *threads}}
			q, r, err := quant.QuantizeModel(m, calib, o)
			check(err)
			a := Accuracy{Model: name, Method: meth, CalibSamples: r.CalibSamples, FP32: *r.Eval.AccuracyFloat, INT8: *r.Eval.AccuracyQuant,
				Agreement: r.Eval.Agreement, LogitsNMSE: r.Eval.LogitsNMSE, CalibSeconds: r.CalibSeconds,
				BytesFP32: r.BytesFloat, BytesQuant: r.BytesQuant, IntegerOps: r.Lowering.Ops}
			a.DropPoints = 100 * (a.FP32 - a.INT8)
			if haveORT {
				a.ORTAccuracy, a.ORTAgreement, a.ORTNMSE = ortCompare(q, test, *threads)
			}
			fmt.Printf("%-14s %-10s FP32 %.2f%%  INT8 %.2f%%  drop %+.2f  agree %.2f%%  NMSE %.3g | ORT %.2f%%  agree %.2f%%\n",
				name, meth, 100*a.FP32, 100*a.INT8, a.DropPoints, 100*a.Agreement, a.LogitsNMSE, 100*a.ORTAccuracy, 100*a.ORTAgreement)
			rep.Accuracy = append(rep.Accuracy, a)
			if meth == "entropy" || entropyQ == nil {
				entropyQ = q
			}
		}
		if hasMatMul(m) {
			for _, wo := range []struct {
				kind  string
				group int
			}{{"int8", 0}, {"int4", 32}, {"int4", 128}} {
				q, r, err := quant.QuantizeModel(m, nil, quant.Options{WeightOnly: wo.kind, GroupSize: wo.group, PerChannel: true,
					Eval: test, EvalSplit: "test", Calib: quant.RunOptions{Threads: *threads}})
				check(err)
				meth := fmt.Sprintf("weight-only %s", wo.kind)
				if wo.group > 0 {
					meth += fmt.Sprintf(" g%d", wo.group)
				}
				a := Accuracy{Model: name, Method: meth, FP32: *r.Eval.AccuracyFloat, INT8: *r.Eval.AccuracyQuant,
					Agreement: r.Eval.Agreement, LogitsNMSE: r.Eval.LogitsNMSE, BytesFP32: r.BytesFloat, BytesQuant: r.BytesQuant,
					IntegerOps: r.Lowering.Ops}
				a.DropPoints = 100 * (a.FP32 - a.INT8)
				if haveORT {
					a.ORTAccuracy, a.ORTAgreement, a.ORTNMSE = ortCompare(q, test, *threads)
				}
				fmt.Printf("%-14s %-22s FP32 %.2f%%  quantized %.2f%%  agree %.2f%%  %d -> %d bytes | ORT %.2f%%  agree %.2f%%\n",
					name, meth, 100*a.FP32, 100*a.INT8, 100*a.Agreement, a.BytesFP32, a.BytesQuant, 100*a.ORTAccuracy, 100*a.ORTAgreement)
				rep.Accuracy = append(rep.Accuracy, a)
			}
		}
		low, _, err := quant.Lower(entropyQ)
		check(err)
		for _, batch := range []int{1, 64} {
			l := Latency{Model: name, Batch: batch}
			l.FP32MS, l.FP32Profile = timeModel(m, batch, *threads, *runs)
			var prof map[string]float64
			l.INT8MS, prof = timeModel(low, batch, *threads, *runs)
			l.Ratio, l.Profile = l.INT8MS/l.FP32MS, prof
			fmt.Printf("%-14s batch %2d  FP32 %.3f ms  INT8 %.3f ms  ratio %.2f\n  INT8 profile %s\n  FP32 profile %s\n",
				name, batch, l.FP32MS, l.INT8MS, l.Ratio, profileString(prof), profileString(l.FP32Profile))
			rep.Latency = append(rep.Latency, l)
		}
	}
	if *out != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		check(err)
		check(atomicfile.Write(*out, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "quant:", err)
		os.Exit(1)
	}
}

func hasMatMul(m *graph.Model) bool {
	for _, n := range m.Graph.Nodes {
		if n.OpType == "Gemm" || n.OpType == "MatMul" {
			return true
		}
	}
	return false
}

// ortCompare runs q in ONNX Runtime on ds and compares with gcompress's
// integer execution: ORT's accuracy, top-1 agreement and logits NMSE.
func ortCompare(q *graph.Model, ds *data.Dataset, threads int) (acc, agree, nmse float64) {
	b, err := onnx.Encode(q)
	check(err)
	s, err := ortpeer.NewSession(b, threads)
	check(err)
	defer s.Close()
	name, shape, err := eval.InputShape(q.Graph, 100, ds.Sample())
	check(err)
	var theirs []float32
	classes := 0
	for start := 0; start < ds.Len(); start += 100 {
		k := min(100, ds.Len()-start)
		idx := make([]int, k)
		for i := range idx {
			idx[i] = start + i
		}
		x, err := ds.Batch(idx, append([]int{k}, shape[1:]...))
		check(err)
		res, err := s.Run(map[string]*tensor.Tensor{name: x})
		check(err)
		classes = res[0].Shape()[1]
		theirs = append(theirs, res[0].F32()...)
	}
	low, _, err := quant.Lower(q)
	check(err)
	ours, _, err := quant.Logits(low, ds, quant.RunOptions{Threads: threads})
	check(err)
	p, err := eval.Argmax(tensor.FromSlice([]int{ds.Len(), classes}, theirs))
	check(err)
	ok := 0
	for i, c := range p {
		if c == ds.Labels[i] {
			ok++
		}
	}
	return float64(ok) / float64(ds.Len()), quant.Agreement(ours, theirs, classes), quant.NMSE(ours, theirs)
}

// timeModel returns the median latency of m at the batch size over runs
// runs (after 10 warm-ups) and the per-op-type time per run.
func timeModel(m *graph.Model, batch, threads, runs int) (float64, map[string]float64) {
	in := m.Graph.Inputs[0]
	shape := []int{batch}
	for _, d := range in.Shape[1:] {
		shape = append(shape, int(d.Size))
	}
	x := tensor.MustNew(tensor.Float32, shape...)
	for i := range x.F32() {
		x.F32()[i] = float32(i%255) / 255
	}
	feed := map[string]*tensor.Tensor{in.Name: x}
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads})
	check(err)
	for i := 0; i < 10; i++ {
		_, err := sess.Run(feed)
		check(err)
	}
	times := make([]float64, runs)
	for i := range times {
		start := time.Now()
		_, err := sess.Run(feed)
		check(err)
		times[i] = float64(time.Since(start).Microseconds()) / 1000
	}
	sort.Float64s(times)
	psess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads, Profile: true})
	check(err)
	for i := 0; i < 10; i++ { // warm-up (weights packed on first use)
		_, err := psess.Run(feed)
		check(err)
	}
	before := map[string]time.Duration{}
	for _, e := range psess.Profile().ByOp() {
		before[e.Op] = e.Total
	}
	const profRuns = 50
	for i := 0; i < profRuns; i++ {
		_, err := psess.Run(feed)
		check(err)
	}
	prof := map[string]float64{}
	for _, e := range psess.Profile().ByOp() {
		prof[e.Op] = float64((e.Total - before[e.Op]).Microseconds()) / 1000 / profRuns
	}
	return times[len(times)/2], prof
}

func profileString(p map[string]float64) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return p[keys[i]] > p[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, p[k]))
	}
	return strings.Join(parts, ", ")
}
