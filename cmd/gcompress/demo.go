package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// demoStage is one row of the demo's summary table.
type demoStage struct {
	Stage     string  `json:"stage"`
	File      string  `json:"file"`
	Bytes     int64   `json:"bytes"`
	Params    int64   `json:"params"`
	Accuracy  float64 `json:"accuracy"`
	LatencyMS float64 `json:"latency_ms"`
}

type demoReport struct {
	Dataset string      `json:"dataset"`
	Threads int         `json:"threads"`
	Stages  []demoStage `json:"stages"`
	// ORTMaxAbsDiff is the largest |ours - ORT| over the test logits, or
	// null when ONNX Runtime is not installed.
	ORTMaxAbsDiff *float64 `json:"ort_max_abs_diff"`
	ORTNote       string   `json:"ort_note,omitempty"`
	Report        string   `json:"report"`
}

func newDemoCmd(g *globals) *cobra.Command {
	var outDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the built-in end-to-end job on the embedded MNIST digits",
		Long: `Runs gcompress end to end on the 8,000 MNIST digits embedded in the binary:
builds a model, writes it as ONNX, loads it back, measures size, accuracy and
latency with gcompress's runtime, cross-checks the outputs in ONNX Runtime when
it is installed (make peers), and writes a Markdown report.

Each compression capability adds its stage to this table as it lands.`,
		Example: `  gcompress demo
  gcompress demo --out /tmp/demo --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.OutOrStdout(), g, outDir, asJSON)
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "demo-out", "directory for the models and the report")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func runDemo(w io.Writer, g *globals, outDir string, asJSON bool) error {
	logf := func(format string, args ...any) {
		if !asJSON {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
	train, err := mnist.Load("train")
	if err != nil {
		return err
	}
	test, err := mnist.Load("test")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	rep := demoReport{Dataset: fmt.Sprintf("embedded MNIST: %d train, %d test digits", train.Len(), test.Len()),
		Threads: g.threadCount()}
	logf("gcompress demo on %s", rep.Dataset)

	logf("[1/3] building a nearest-class-mean classifier from the training digits")
	m, err := models.NearestCentroid(train, 10)
	if err != nil {
		return err
	}
	path := filepath.Join(outDir, "centroid.onnx")
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		return err
	}
	logf("[2/3] measuring %s with the gcompress runtime", path)
	stage, sess, err := measureStage("fp32 nearest-centroid", path, test, g.threadCount())
	if err != nil {
		return err
	}
	rep.Stages = append(rep.Stages, stage)

	logf("[3/3] cross-checking against ONNX Runtime")
	diff, err := crossCheckORT(path, sess, test, g.threadCount())
	if err != nil {
		rep.ORTNote = "skipped: " + oneLine(err)
	} else {
		rep.ORTMaxAbsDiff = &diff
	}
	rep.Report = filepath.Join(outDir, "report.md")
	if err := atomicfile.Write(rep.Report, func(f io.Writer) error { return writeDemoMarkdown(f, &rep) }); err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintln(w)
	writeDemoTable(w, &rep)
	return nil
}

// measureStage loads a saved model and measures size, test accuracy and the
// median batch-1 latency over 200 runs.
func measureStage(name, path string, test *data.Dataset, threads int) (demoStage, *runtime.Session, error) {
	st, err := os.Stat(path)
	if err != nil {
		return demoStage{}, nil, err
	}
	m, err := onnx.Load(path)
	if err != nil {
		return demoStage{}, nil, err
	}
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads})
	if err != nil {
		return demoStage{}, nil, err
	}
	acc, err := eval.Accuracy(sess, test, 100)
	if err != nil {
		return demoStage{}, nil, err
	}
	in, shape, err := eval.InputShape(m.Graph, 1, test.Rows, test.Cols)
	if err != nil {
		return demoStage{}, nil, err
	}
	x, err := test.Batch([]int{0}, shape)
	if err != nil {
		return demoStage{}, nil, err
	}
	b, err := benchSession(sess, map[string]*tensor.Tensor{in: x}, 20, 200)
	if err != nil {
		return demoStage{}, nil, err
	}
	return demoStage{Stage: name, File: path, Bytes: st.Size(), Params: paramCount(m.Graph),
		Accuracy: acc.Accuracy, LatencyMS: b.MedianMS}, sess, nil
}

func paramCount(g *graph.Graph) int64 {
	var n int64
	for _, v := range g.Initializers {
		n += int64(v.Const.Len())
	}
	return n
}

// crossCheckORT runs the test digits through ONNX Runtime and our session
// and returns the largest absolute difference of the outputs.
func crossCheckORT(path string, sess *runtime.Session, test *data.Dataset, threads int) (float64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	peer, err := ortpeer.NewSession(raw, threads)
	if err != nil {
		return 0, err
	}
	defer peer.Close()
	in, shape, err := eval.InputShape(sess.Model().Graph, test.Len(), test.Rows, test.Cols)
	if err != nil {
		return 0, err
	}
	idx := make([]int, test.Len())
	for i := range idx {
		idx[i] = i
	}
	x, err := test.Batch(idx, shape)
	if err != nil {
		return 0, err
	}
	ours, err := sess.Run(map[string]*tensor.Tensor{in: x})
	if err != nil {
		return 0, err
	}
	theirs, err := peer.Run(map[string]*tensor.Tensor{in: x})
	if err != nil {
		return 0, err
	}
	var worst float64
	a, b := ours[0].F32(), theirs[0].F32()
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst, nil
}

func writeDemoTable(w io.Writer, rep *demoReport) {
	fmt.Fprintf(w, "%-24s %10s %8s %9s %14s\n", "stage", "size", "params", "accuracy", "latency (b=1)")
	for _, s := range rep.Stages {
		fmt.Fprintf(w, "%-24s %10s %8d %8.2f%% %11.3f ms\n", s.Stage, humanBytes(s.Bytes), s.Params, 100*s.Accuracy, s.LatencyMS)
	}
	if rep.ORTMaxAbsDiff != nil {
		fmt.Fprintf(w, "ONNX Runtime agrees on all test logits: max |ours - ORT| = %.3g\n", *rep.ORTMaxAbsDiff)
	} else {
		fmt.Fprintf(w, "ONNX Runtime cross-check %s\n", rep.ORTNote)
	}
	fmt.Fprintf(w, "report: %s (%d threads)\n", rep.Report, rep.Threads)
}

func writeDemoMarkdown(w io.Writer, rep *demoReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# gcompress demo\n\nDataset: %s. Threads: %d.\n\n", rep.Dataset, rep.Threads)
	b.WriteString("| stage | file | size | params | accuracy | latency, batch 1 |\n|---|---|---:|---:|---:|---:|\n")
	for _, s := range rep.Stages {
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2f%% | %.3f ms |\n", s.Stage, filepath.Base(s.File), humanBytes(s.Bytes), s.Params, 100*s.Accuracy, s.LatencyMS)
	}
	if rep.ORTMaxAbsDiff != nil {
		fmt.Fprintf(&b, "\nONNX Runtime 1.30 ran the same file: max |ours - ORT| over all test logits = %.3g.\n", *rep.ORTMaxAbsDiff)
	} else {
		fmt.Fprintf(&b, "\nONNX Runtime cross-check %s\n", rep.ORTNote)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// humanBytes prints a byte count with a binary unit.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
