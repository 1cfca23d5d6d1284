package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/compress/distill"
	"github.com/gcompress/gcompress/compress/prune"
	"github.com/gcompress/gcompress/compress/quant"
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
	"github.com/gcompress/gcompress/train"
)

// demoStage is one row of the demo's summary table.
type demoStage struct {
	Stage     string  `json:"stage"`
	File      string  `json:"file"`
	Bytes     int64   `json:"bytes"`
	Params    int64   `json:"params"`
	Accuracy  float64 `json:"accuracy"`
	LatencyMS float64 `json:"latency_ms"`
	// Seconds is the time the stage took to produce its model (0 when it
	// came from the cache).
	Seconds float64 `json:"seconds"`
	Cached  bool    `json:"cached,omitempty"`
	Note    string  `json:"note,omitempty"`
}

type demoReport struct {
	Dataset string      `json:"dataset"`
	Threads int         `json:"threads"`
	Seed    uint64      `json:"seed"`
	Stages  []demoStage `json:"stages"`
	Skipped []string    `json:"skipped,omitempty"`
	// ORTMaxAbsDiff is the largest |ours - ORT| over the test logits of
	// the trained model, or null when ONNX Runtime is not installed.
	ORTMaxAbsDiff *float64 `json:"ort_max_abs_diff"`
	ORTNote       string   `json:"ort_note,omitempty"`
	Report        string   `json:"report"`
	Plot          string   `json:"plot"`
	WallSeconds   float64  `json:"wall_seconds"`
}

// demoContext is what every compression step of the demo gets: the trained
// base model, the data and the time budget.
type demoContext struct {
	base     string // path of the trained LeNet-5
	baseAcc  float64
	train    *data.Dataset
	test     *data.Dataset
	outDir   string
	cacheDir string
	threads  int
	seed     uint64
	start    time.Time
	budget   time.Duration
	logf     func(format string, args ...any)
	// epochs overrides the recipes' epochs when > 0 (tests).
	epochs int
	// retrain trains every model anew, replacing the cached one.
	retrain bool
}

// trainConfig is the training configuration of recipe r for the demo's
// seed and threads (checkpoints every 50 batches once a CheckpointDir is
// set).
func (c *demoContext) trainConfig(r recipe) (train.Config, error) {
	o := &trainOpts{seed: c.seed, momentum: -1, weightDecay: -1, warmup: -1, shift: -1, stepEpochs: 10, gamma: 0.1, checkpointEvery: 50}
	cfg, err := o.config(r)
	cfg.Threads = c.threads
	return cfg, err
}

// remaining is the time left in the demo's budget.
func (c *demoContext) remaining() time.Duration { return c.budget - time.Since(c.start) }

// demoStep is one compression step of the demo: it returns the table rows
// it adds. A step whose estimate exceeds what is left of the budget is
// skipped and listed as such in the report.
type demoStep struct {
	name string
	// estimate is the step's usual cost on 2 cores; the step is skipped
	// when less than that is left of the budget.
	estimate time.Duration
	run      func(c *demoContext) (rows []demoStage, err error)
}

var demoSteps = []demoStep{
	{name: "quantize LeNet-5 to INT8 (entropy calibration, per-channel)", estimate: 10 * time.Second, run: demoQuantize},
	{name: "distill LeNet-5 into mlp-30-30", estimate: 20 * time.Second, run: demoDistill},
	{name: "channel-prune LeNet-5 to a quarter of its FLOPs and retrain", estimate: 25 * time.Second, run: demoPrune},
}

// demoPruneFLOPs is the share of LeNet-5's FLOPs the demo's channel
// pruning removes; demoPruneEpochs its retraining epochs.
const (
	demoPruneFLOPs  = 0.75
	demoPruneEpochs = 15
)

// demoPrune removes whole channels of the trained LeNet-5 (the lowest L1
// norms of each dependency group, coupled layers sliced together) until
// demoPruneFLOPs of its FLOPs are gone, retrains the physically smaller
// model with LeNet-5's recipe and writes it.
func demoPrune(c *demoContext) ([]demoStage, error) {
	m, err := loadModel(c.base)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	out, res, err := prune.ChannelsForFLOPs(m, demoPruneFLOPs, prune.ChannelOptions{Criterion: prune.CriterionL1})
	if err != nil {
		return nil, err
	}
	r := recipes["lenet5"]
	r.Epochs = demoPruneEpochs
	if c.epochs > 0 {
		r.Epochs = c.epochs
	}
	cfg, err := c.trainConfig(r)
	if err != nil {
		return nil, err
	}
	pr := newProgress("retrain pruned LeNet-5")
	_, err = train.Train(out, train.Data{Train: c.train}, cfg, train.Hooks{Progress: pr})
	pr.done()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.outDir, "lenet5-channel-pruned.onnx")
	if err := onnx.Save(out, path, onnx.SaveOptions{}); err != nil {
		return nil, err
	}
	st, _, err := measureStage("channel-pruned LeNet-5", path, c.test, c.threads)
	if err != nil {
		return nil, err
	}
	st.Seconds = time.Since(start).Seconds()
	st.Note = fmt.Sprintf("%.0f%% of the FLOPs removed (L1 channel ranking), %d retraining epochs", 100*res.FLOPsReduction(), cfg.Epochs)
	return []demoStage{st}, nil
}

// demoQuantize calibrates the trained LeNet-5 on 500 training digits and
// writes it as a QDQ INT8 model (weights per channel, activations uint8),
// which the runtime executes with integer kernels.
func demoQuantize(c *demoContext) ([]demoStage, error) {
	m, err := loadModel(c.base)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	q, _, err := quant.QuantizeModel(m, c.train, quant.Options{Method: quant.MethodEntropy, PerChannel: true,
		Calib: quant.RunOptions{Samples: 500, Threads: c.threads}})
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.outDir, "lenet5-int8.onnx")
	if err := onnx.Save(q, path, onnx.SaveOptions{}); err != nil {
		return nil, err
	}
	st, _, err := measureStage("int8 LeNet-5 (QDQ)", path, c.test, c.threads)
	if err != nil {
		return nil, err
	}
	st.Seconds = time.Since(start).Seconds()
	st.Note = "500 calibration digits, entropy (KL) thresholds"
	return []demoStage{st}, nil
}

func newDemoCmd(g *globals) *cobra.Command {
	var outDir string
	var asJSON, retrain bool
	var seed uint64
	var budget time.Duration
	var epochs int
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "cpu"},
		Use:         "demo",
		Short:       "Run the built-in end-to-end job on the embedded MNIST digits",
		Long: `Runs gcompress end to end on the 8,000 MNIST digits embedded in the binary:
trains LeNet-5 on the 7,000 training digits with gorgonia (about a minute on 2
cores; the result is cached in OUT/cache keyed by architecture, seed and
epochs, so later runs start at once), then runs every compression step that
exists on it (today: INT8 post-training quantization with entropy
calibration; knowledge distillation into a 2.5x smaller student next to the
same student trained from scratch; channel pruning that removes 75% of
LeNet-5's FLOPs, then retraining), measures each model's size, test
accuracy and batch-1 latency with gcompress's runtime (the models timed in
turns at the end, so that the rows compare), cross-checks the trained model
in ONNX Runtime when it is installed (make peers), and writes a Markdown
report with an accuracy-vs-size plot.

Compression steps whose estimated time does not fit in what is left of
--budget are skipped and listed; the LeNet-5 training itself always runs.`,
		Example: `  gcompress demo
  gcompress demo --out /tmp/demo --json
  gcompress demo --retrain --seed 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if epochs < 0 {
				return usagef("--epochs must be >= 0")
			}
			if budget < 0 {
				return usagef("--budget must be >= 0 (0: train only, skip every compression step)")
			}
			return runDemo(cmd.OutOrStdout(), g, outDir, seed, budget, epochs, retrain, asJSON)
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "demo-out", "directory for the models, the cache and the report")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of every training run")
	cmd.Flags().BoolVar(&retrain, "retrain", false, "ignore cached models")
	cmd.Flags().DurationVar(&budget, "budget", 170*time.Second, "time budget; compression steps that would not fit are skipped")
	cmd.Flags().IntVar(&epochs, "epochs", 0, "override every training recipe's epochs (quick checks)")
	cmd.Flags().MarkHidden("epochs")
	return cmd
}

func runDemo(w io.Writer, g *globals, outDir string, seed uint64, budget time.Duration, epochs int, retrain, asJSON bool) error {
	start := time.Now()
	logf := func(format string, args ...any) {
		if !asJSON {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
	trainSet, err := mnist.Load("train")
	if err != nil {
		return err
	}
	test, err := mnist.Load("test")
	if err != nil {
		return err
	}
	cacheDir := filepath.Join(outDir, "cache")
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return err
	}
	threads := g.threadCount()
	rep := demoReport{Dataset: fmt.Sprintf("embedded MNIST: %d train, %d test digits", trainSet.Len(), test.Len()),
		Threads: threads, Seed: seed}
	logf("gcompress demo on %s (seed %d)", rep.Dataset, seed)
	c := &demoContext{train: trainSet, test: test, outDir: outDir, cacheDir: cacheDir, threads: threads,
		seed: seed, start: start, budget: budget, logf: logf, epochs: epochs, retrain: retrain}

	logf("[1/4] LeNet-5 on the training digits")
	base, secs, cached, err := demoTrained(c, "lenet5", nil)
	if err != nil {
		return err
	}
	stage, sess, err := measureStage("fp32 LeNet-5 (trained)", base, test, threads)
	if err != nil {
		return err
	}
	stage.Seconds, stage.Cached = secs, cached
	c.base, c.baseAcc = base, stage.Accuracy
	rep.Stages = append(rep.Stages, stage)

	logf("[2/4] cross-checking %s against ONNX Runtime", base)
	diff, err := crossCheckORT(base, sess, test, threads)
	if err != nil {
		rep.ORTNote = "skipped: " + oneLine(err)
	} else {
		rep.ORTMaxAbsDiff = &diff
	}

	logf("[3/4] compression steps")
	for _, step := range demoSteps {
		if left := c.remaining(); left < step.estimate {
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s (needs ~%s, %s left of the budget)", step.name, step.estimate, left.Round(time.Second)))
			logf("  skipped %s: not enough time left", step.name)
			continue
		}
		logf("  %s", step.name)
		rows, err := step.run(c)
		if err != nil {
			return fmt.Errorf("demo step %q: %w", step.name, err)
		}
		rep.Stages = append(rep.Stages, rows...)
	}

	logf("[4/4] timing the %d models in turns, writing the report", len(rep.Stages))
	if err := timeDemoStages(rep.Stages, test, threads); err != nil {
		return err
	}
	rep.Report = filepath.Join(outDir, "report.md")
	rep.Plot = filepath.Join(outDir, "accuracy_vs_size.png")
	if err := writeDemoPlot(rep.Plot, rep.Stages); err != nil {
		return err
	}
	rep.WallSeconds = time.Since(start).Seconds()
	if err := atomicfile.Write(rep.Report, func(f io.Writer) error { return writeDemoMarkdown(f, &rep) }); err != nil {
		return err
	}
	if asJSON {
		return printJSON(w, rep)
	}
	fmt.Fprintln(w)
	writeDemoTable(w, &rep)
	return nil
}

// demoTrained returns the path of a trained zoo model, training it with
// the architecture's recipe (and the given loss, for distillation) unless
// the cache holds it. The cache key is the architecture, seed and epochs
// (plus the loss's description).
func demoTrained(c *demoContext, arch string, loss train.Loss) (path string, secs float64, cached bool, err error) {
	r := recipes[arch]
	if c.epochs > 0 {
		r.Epochs = c.epochs
	}
	key := fmt.Sprintf("%s-seed%d-e%d", arch, c.seed, r.Epochs)
	if loss != nil {
		key += "-" + strings.NewReplacer("(", "-", ")", "", " ", "", ",", "-", "=", "").Replace(fmt.Sprint(loss))
	}
	path = filepath.Join(c.cacheDir, key+".onnx")
	ckpt := path + ".ckpt"
	if c.retrain {
		// Start over (an interrupted retraining then resumes without
		// --retrain, as the cached model is gone).
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", 0, false, err
		}
		if err := train.RemoveCheckpoint(ckpt, true); err != nil {
			return "", 0, false, err
		}
	} else if _, err := os.Stat(path); err == nil {
		c.logf("  using the cached %s", path)
		return path, 0, true, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", 0, false, err
	}
	m, err := models.Build(arch, c.seed)
	if err != nil {
		return "", 0, false, err
	}
	cfg, err := c.trainConfig(r)
	if err != nil {
		return "", 0, false, err
	}
	cfg.CheckpointDir = ckpt
	c.logf("  training %s: %d epochs of %d digits, batch %d (checkpoints in %s)", arch, cfg.Epochs, c.train.Len(), cfg.Batch, cfg.CheckpointDir)
	start := time.Now()
	pr := newProgress(arch)
	res, err := train.Train(m, train.Data{Train: c.train}, cfg, train.Hooks{Loss: loss, Progress: pr})
	pr.done()
	if err != nil {
		return "", 0, false, err
	}
	if err := onnx.Save(m, path, onnx.SaveOptions{}); err != nil {
		return "", 0, false, err
	}
	if err := train.RemoveCheckpoint(ckpt, true); err != nil {
		return "", 0, false, err
	}
	c.logf("  trained in %.1f s (%.0f samples/s)", time.Since(start).Seconds(), res.SamplesPerSec)
	return path, time.Since(start).Seconds(), false, nil
}

// demoDistill trains mlp-30-30 from scratch and distilled from the trained
// LeNet-5 (T = 4, alpha = 0.9), so the table shows what distillation adds.
func demoDistill(c *demoContext) ([]demoStage, error) {
	teacher, err := loadModel(c.base)
	if err != nil {
		return nil, err
	}
	var rows []demoStage
	for _, kd := range []bool{false, true} {
		var loss train.Loss
		name := "mlp-30-30 from scratch"
		if kd {
			tl, err := distill.NewTeacher(teacher, c.threads, c.train.Sample())
			if err != nil {
				return nil, err
			}
			if recipes["mlp-30-30"].Shift == 0 {
				if err := tl.Precompute(c.train); err != nil {
					return nil, err
				}
			}
			loss = &distill.Loss{T: 4, Alpha: 0.9, Teacher: tl.Logits}
			name = "mlp-30-30 distilled (T=4)"
		}
		path, secs, cached, err := demoTrained(c, "mlp-30-30", loss)
		if err != nil {
			return nil, err
		}
		st, _, err := measureStage(name, path, c.test, c.threads)
		if err != nil {
			return nil, err
		}
		st.Seconds, st.Cached = secs, cached
		if kd {
			st.Note = "teacher: the trained LeNet-5 (one seed; docs/RESULTS.md has means over seeds)"
		}
		rows = append(rows, st)
	}
	return rows, nil
}

// measureStage loads a saved model and measures its size and test
// accuracy (timeDemoStages times it at the end, with the other stages).
func measureStage(name, path string, test *data.Dataset, threads int) (demoStage, *runtime.Session, error) {
	st, err := os.Stat(path)
	if err != nil {
		return demoStage{}, nil, err
	}
	m, err := loadModel(path)
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
	return demoStage{Stage: name, File: path, Bytes: st.Size(), Params: paramCount(m.Graph),
		Accuracy: acc.Accuracy}, sess, nil
}

// demoLatencyRounds and demoLatencyRuns shape timeDemoStages: rounds that
// take the stages in turn, each a batch of timed runs per stage.
const (
	demoLatencyRounds = 5
	demoLatencyRuns   = 60
)

// timeDemoStages sets each stage's LatencyMS to the median, over
// demoLatencyRounds rounds that time the stages in turn, of the round's
// median of demoLatencyRuns batch-1 runs on the first test digit. Timed
// together at the end, the rows see the same machine: each timed just
// after the step that made it, they differed by what that step left
// running (the collector, other processes' load) as much as by the model.
func timeDemoStages(stages []demoStage, test *data.Dataset, threads int) error {
	sessions := make([]*runtime.Session, len(stages))
	feeds := make([]map[string]*tensor.Tensor, len(stages))
	for i, st := range stages {
		m, err := loadModel(st.File)
		if err != nil {
			return err
		}
		if sessions[i], err = runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads}); err != nil {
			return fmt.Errorf("%s: %w", st.File, err)
		}
		in, shape, err := eval.InputShape(m.Graph, 1, test.Sample())
		if err != nil {
			return fmt.Errorf("%s: %w", st.File, err)
		}
		x, err := test.Batch([]int{0}, shape)
		if err != nil {
			return fmt.Errorf("%s: %w", st.File, err)
		}
		feeds[i] = map[string]*tensor.Tensor{in: x}
	}
	medians := make([][]float64, len(stages))
	for round := range demoLatencyRounds {
		warmup := 5
		if round == 0 {
			warmup = 20
		}
		for i := range stages {
			b, err := benchSession(sessions[i], feeds[i], warmup, demoLatencyRuns)
			if err != nil {
				return fmt.Errorf("%s: %w", stages[i].File, err)
			}
			medians[i] = append(medians[i], b.MedianMS)
		}
	}
	for i := range stages {
		stages[i].LatencyMS = bench.Summarize(medians[i], 0).MedianMS
	}
	return nil
}

func paramCount(g *graph.Graph) int64 {
	var n int64
	for _, v := range g.Initializers {
		if v.Const.Rank() > 0 { // scalars are settings (a dropout ratio), not weights
			n += int64(v.Const.Len())
		}
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
	in, shape, err := eval.InputShape(sess.Model().Graph, test.Len(), test.Sample())
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
	fmt.Fprintf(w, "%-30s %10s %8s %9s %14s %9s\n", "stage", "size", "params", "accuracy", "latency (b=1)", "time")
	for _, s := range rep.Stages {
		t := fmt.Sprintf("%.1f s", s.Seconds)
		if s.Cached {
			t = "cached"
		}
		fmt.Fprintf(w, "%-30s %10s %8d %8.2f%% %11.3f ms %9s\n", s.Stage, humanBytes(s.Bytes), s.Params, 100*s.Accuracy, s.LatencyMS, t)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", s)
	}
	if rep.ORTMaxAbsDiff != nil {
		fmt.Fprintf(w, "ONNX Runtime agrees on all test logits of the trained LeNet-5: max |ours - ORT| = %.3g\n", *rep.ORTMaxAbsDiff)
	} else {
		fmt.Fprintf(w, "ONNX Runtime cross-check %s\n", rep.ORTNote)
	}
	fmt.Fprintf(w, "report: %s, plot: %s (%d threads, %.0f s)\n", rep.Report, rep.Plot, rep.Threads, rep.WallSeconds)
}

func writeDemoMarkdown(w io.Writer, rep *demoReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# gcompress demo\n\nDataset: %s. Threads: %d. Seed: %d. Wall time: %.0f s. "+
		"Latency: the median of %d rounds that time the models in turn, each round's median of %d runs on one digit.\n\n",
		rep.Dataset, rep.Threads, rep.Seed, rep.WallSeconds, demoLatencyRounds, demoLatencyRuns)
	b.WriteString("| stage | file | size | params | test accuracy | latency, batch 1 | time to make |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, s := range rep.Stages {
		t := fmt.Sprintf("%.1f s", s.Seconds)
		if s.Cached {
			t = "cached"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.2f%% | %.3f ms | %s |\n", s.Stage, filepath.Base(s.File), humanBytes(s.Bytes), s.Params, 100*s.Accuracy, s.LatencyMS, t)
	}
	for _, s := range rep.Stages {
		if s.Note != "" {
			fmt.Fprintf(&b, "\n%s: %s.", s.Stage, s.Note)
		}
	}
	if len(rep.Skipped) > 0 {
		b.WriteString("\n\nSkipped (time budget): " + strings.Join(rep.Skipped, "; ") + ".")
	}
	fmt.Fprintf(&b, "\n\n![accuracy vs size](%s)\n", filepath.Base(rep.Plot))
	if rep.ORTMaxAbsDiff != nil {
		fmt.Fprintf(&b, "\nONNX Runtime 1.30 ran the trained LeNet-5 file: max |ours - ORT| over all test logits = %.3g.\n", *rep.ORTMaxAbsDiff)
	} else {
		fmt.Fprintf(&b, "\nONNX Runtime cross-check %s\n", rep.ORTNote)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDemoPlot draws test accuracy against file size (log scale), one
// labelled point per stage, as a PNG.
func writeDemoPlot(path string, stages []demoStage) error {
	p := plot.New()
	p.Title.Text = "gcompress demo: accuracy vs size"
	p.X.Label.Text = "model file size (KiB, log scale)"
	p.Y.Label.Text = "test accuracy (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = sizeTicks{}
	pts := make(plotter.XYs, len(stages))
	labels := make([]string, len(stages))
	lo, hi := 100.0, 0.0
	for i, s := range stages {
		pts[i].X = float64(s.Bytes) / 1024
		pts[i].Y = 100 * s.Accuracy
		labels[i] = s.Stage
		lo, hi = math.Min(lo, pts[i].Y), math.Max(hi, pts[i].Y)
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Radius = vg.Points(4)
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: labels})
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].XAlign = -0.5
		lb.Offset = vg.Point{X: 6, Y: 2}
	}
	p.Add(sc, lb, plotter.NewGrid())
	p.Y.Min, p.Y.Max = math.Floor(lo-1), math.Min(100, math.Ceil(hi+1))
	xmin, xmax := math.Inf(1), 0.0
	for _, pt := range pts {
		xmin, xmax = math.Min(xmin, pt.X), math.Max(xmax, pt.X)
	}
	p.X.Min, p.X.Max = xmin/1.5, xmax*4
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(f io.Writer) error {
		_, err := wt.WriteTo(f)
		return err
	})
}

// sizeTicks marks a log axis at 1, 2 and 5 times powers of ten (labelled)
// and at the other integers times powers of ten (unlabelled).
type sizeTicks struct{}

func (sizeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	if !(lo > 0) || hi <= lo {
		return nil
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for m := 1.0; m < 10; m++ {
			v := m * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
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
