package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/train"
)

// recipe is the default training setup of a zoo architecture; flags
// override each field.
type recipe struct {
	Epochs      int
	Batch       int
	Optimizer   string
	LR          float64
	Momentum    float64
	WeightDecay float64
	Schedule    string
	Warmup      float64
	Shift       int
}

// recipes are the per-architecture defaults. The MLP students of the
// distillation experiment train without any regularisation (no weight
// decay, no jitter), as in Hinton et al. (2015); the teacher and the
// LeNets use +-2 px jitter.
var recipes = map[string]recipe{
	"lenet5":        {Epochs: 15, Batch: 64, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 5e-4, Schedule: "cosine", Warmup: 0.5, Shift: 2},
	"lenet-300-100": {Epochs: 30, Batch: 64, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, WeightDecay: 1e-4, Schedule: "cosine", Warmup: 0.5, Shift: 2},
	"mlp-1200-1200": {Epochs: 120, Batch: 100, Optimizer: "sgd", LR: 0.1, Momentum: 0.9, Schedule: "cosine", Warmup: 1, Shift: 2},
	"mlp-800-800":   {Epochs: 30, Batch: 100, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, Schedule: "cosine", Warmup: 1},
	"mlp-30-30":     {Epochs: 30, Batch: 100, Optimizer: "sgd", LR: 0.05, Momentum: 0.9, Schedule: "cosine", Warmup: 1},
}

// genericRecipe applies to models given as files.
var genericRecipe = recipe{Epochs: 10, Batch: 64, Optimizer: "sgd", LR: 0.01, Momentum: 0.9, Schedule: "cosine"}

// trainOpts are the flags shared by train and distill.
type trainOpts struct {
	data            string
	trainSplit      string
	testSplit       string
	limit           int
	epochs          int
	batch           int
	seed            uint64
	optimizer       string
	lr              float64
	momentum        float64
	weightDecay     float64
	schedule        string
	warmup          float64
	stepEpochs      int
	gamma           float64
	shift           int
	valFraction     float64
	patience        int
	checkpointDir   string
	checkpointEvery int
	fresh           bool
	out             string
	asJSON          bool
	// flags holds the command's flags, to tell a value given as 0 or -1
	// from the "recipe default" that those values mean when not given
	// (nil: nothing was given, as in the demo).
	flags *pflag.FlagSet
}

func addTrainFlags(fl *pflag.FlagSet, o *trainOpts) {
	o.flags = fl
	fl.StringVar(&o.data, "data", "", "dataset directory (<split>-images-idx3-ubyte[.gz], <split>-labels-idx1-ubyte[.gz])")
	fl.StringVar(&o.trainSplit, "train-split", "train", "split to train on")
	fl.StringVar(&o.testSplit, "split", "test", "split evaluated after every epoch (\"\" for none)")
	fl.IntVar(&o.limit, "limit", 0, "train on the first N samples only (0: all)")
	fl.IntVar(&o.epochs, "epochs", 0, "epochs (default: the architecture's recipe)")
	fl.IntVar(&o.batch, "batch", 0, "mini-batch size (default: the recipe's)")
	fl.Uint64Var(&o.seed, "seed", 1, "seed for initial weights, shuffling, augmentation and dropout")
	fl.StringVar(&o.optimizer, "optimizer", "", "sgd or adam (default: the recipe's)")
	fl.Float64Var(&o.lr, "lr", 0, "base learning rate (default: the recipe's)")
	fl.Float64Var(&o.momentum, "momentum", -1, "SGD momentum (default: the recipe's)")
	fl.Float64Var(&o.weightDecay, "weight-decay", -1, "L2 weight decay on weights of rank >= 2 (default: the recipe's)")
	fl.StringVar(&o.schedule, "schedule", "", "learning-rate schedule: constant, step or cosine (default: the recipe's)")
	fl.Float64Var(&o.warmup, "warmup-epochs", -1, "linear warm-up length in epochs (default: the recipe's)")
	fl.IntVar(&o.stepEpochs, "step-epochs", 10, "step schedule: epochs between decays")
	fl.Float64Var(&o.gamma, "gamma", 0.1, "step schedule: decay factor")
	fl.IntVar(&o.shift, "shift", -1, "random translation of training images by up to N pixels (default: the recipe's)")
	fl.Float64Var(&o.valFraction, "val-fraction", 0, "hold out this fraction of the training split for validation")
	fl.IntVar(&o.patience, "patience", 0, "early stopping: epochs without a better validation accuracy (needs --val-fraction)")
	fl.StringVar(&o.checkpointDir, "checkpoint-dir", "", "checkpoint directory, new or holding only a checkpoint (default: OUT.ckpt); a rerun of the same command resumes from it, and the finished run deletes the checkpoint's files")
	fl.IntVar(&o.checkpointEvery, "checkpoint-every", 50, "batches between mid-epoch checkpoints (0: epoch ends only)")
	fl.BoolVar(&o.fresh, "fresh", false, "delete the checkpoint's files in the checkpoint directory and start over")
	fl.StringVarP(&o.out, "output", "o", "", "where to write the trained ONNX model")
	fl.BoolVar(&o.asJSON, "json", false, "print a JSON summary on stdout")
	for _, name := range []string{"momentum", "weight-decay", "warmup-epochs", "shift"} {
		fl.Lookup(name).DefValue = "0" // the value -1 means "the recipe's": keep it out of --help
	}
}

// recipeHelp lists the zoo recipes for --help.
func recipeHelp() string {
	var b strings.Builder
	for _, arch := range models.Archs() {
		r, ok := recipes[arch]
		if !ok {
			r = genericRecipe
		}
		fmt.Fprintf(&b, "  %-14s %3d epochs, batch %d, %s lr %g", arch, r.Epochs, r.Batch, r.Optimizer, r.LR)
		if r.Momentum > 0 {
			fmt.Fprintf(&b, " momentum %g", r.Momentum)
		}
		if r.WeightDecay > 0 {
			fmt.Fprintf(&b, " wd %g", r.WeightDecay)
		}
		fmt.Fprintf(&b, ", %s", r.Schedule)
		if r.Warmup > 0 {
			fmt.Fprintf(&b, " (warm-up %g)", r.Warmup)
		}
		if r.Shift > 0 {
			fmt.Fprintf(&b, ", shift +-%d px", r.Shift)
		}
		if !ok {
			b.WriteString(" (the generic recipe)")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// config turns the flags and a recipe into a train.Config.
func (o *trainOpts) config(r recipe) (train.Config, error) {
	pick := func(v, def float64) float64 {
		if v < 0 {
			return def
		}
		return v
	}
	cfg := train.Config{Epochs: r.Epochs, Batch: r.Batch, Seed: o.seed, Shift: r.Shift, Patience: o.patience,
		CheckpointEvery: o.checkpointEvery}
	if o.epochs != 0 {
		cfg.Epochs = o.epochs
	}
	if o.batch != 0 {
		cfg.Batch = o.batch
	}
	if o.shift >= 0 {
		cfg.Shift = o.shift
	}
	opt := r.Optimizer
	if o.optimizer != "" {
		opt = o.optimizer
	}
	cfg.Solver = train.SolverConfig{Kind: opt, Momentum: pick(o.momentum, r.Momentum), WeightDecay: pick(o.weightDecay, r.WeightDecay)}
	if opt == "adam" {
		cfg.Solver.Momentum = 0
	}
	lr := r.LR
	if o.lr != 0 {
		lr = o.lr
	}
	sched := r.Schedule
	if o.schedule != "" {
		sched = o.schedule
	}
	cfg.Schedule = train.Schedule{Kind: sched, Base: lr, WarmupEpochs: pick(o.warmup, r.Warmup),
		StepEpochs: o.stepEpochs, Gamma: o.gamma}
	given := func(name string) bool { return o.flags != nil && o.flags.Changed(name) }
	switch {
	case given("epochs") && o.epochs < 1, cfg.Epochs <= 0:
		return cfg, usagef("--epochs must be positive")
	case given("batch") && o.batch < 1:
		return cfg, usagef("--batch must be positive")
	case given("lr") && !(o.lr > 0):
		return cfg, usagef("--lr must be positive")
	case given("shift") && o.shift < 0:
		return cfg, usagef("--shift must be >= 0")
	case !(o.valFraction >= 0 && o.valFraction < 1):
		return cfg, usagef("--val-fraction %v: want a fraction in [0, 1)", o.valFraction)
	case cfg.Batch <= 0:
		return cfg, usagef("--batch must be positive")
	case o.checkpointEvery < 0:
		return cfg, usagef("--checkpoint-every must be >= 0")
	case o.limit < 0:
		return cfg, usagef("--limit must be >= 0")
	case o.patience < 0:
		return cfg, usagef("--patience must be >= 0")
	case o.patience > 0 && o.valFraction == 0:
		return cfg, usagef("--patience needs --val-fraction")
	}
	for _, f := range []struct {
		name  string
		value float64
	}{{"momentum", o.momentum}, {"weight-decay", o.weightDecay}, {"warmup-epochs", o.warmup}, {"gamma", o.gamma}} {
		if given(f.name) && !(f.value >= 0 && !math.IsInf(f.value, 0)) {
			return cfg, usagef("--%s %v: want a finite value >= 0", f.name, f.value)
		}
	}
	if _, err := train.NewSolver(cfg.Solver); err != nil {
		return cfg, usageError{err}
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// checkFitsData refuses, as a usage error and before any training, settings
// the training data cannot take (train.Config.CheckData).
func checkFitsData(cfg train.Config, d train.Data) error {
	if err := cfg.CheckData(d); err != nil {
		return usagef("%v (--batch, --limit, --shift, --patience, --val-fraction)", err)
	}
	return nil
}

// loadData reads the training (optionally limited and split) and test
// splits of o.data.
func (o *trainOpts) loadData() (train.Data, error) {
	if o.data == "" {
		return train.Data{}, usagef("--data DIR is required")
	}
	tr, err := data.Load(o.data, o.trainSplit)
	if err == nil {
		err = tr.Labelled("training on split " + o.trainSplit)
	}
	if err != nil {
		return train.Data{}, fmt.Errorf("--data %s: %w", o.data, err)
	}
	if o.limit > 0 && o.limit < tr.Len() {
		idx := make([]int, o.limit)
		for i := range idx {
			idx[i] = i
		}
		if tr, err = train.Subset(tr, idx); err != nil {
			return train.Data{}, err
		}
	}
	d := train.Data{Train: tr}
	if d.Train, d.Val, err = train.SplitValidation(tr, o.valFraction, o.seed); err != nil {
		return train.Data{}, usageError{err}
	}
	if o.testSplit != "" {
		if d.Test, err = data.Load(o.data, o.testSplit); err == nil {
			err = d.Test.Labelled("testing on split " + o.testSplit)
		}
		if err != nil {
			return train.Data{}, fmt.Errorf("--data %s: %w", o.data, err)
		}
	}
	return d, nil
}

// prepareCheckpoint resolves the checkpoint directory (OUT.ckpt by default),
// refuses one that holds anything but checkpoint files or that cannot be
// made or written, and with --fresh deletes the checkpoint there.
func (o *trainOpts) prepareCheckpoint(cfg *train.Config) error {
	dir := o.checkpointDir
	if dir == "" {
		dir = o.out + ".ckpt"
	}
	if err := train.CheckCheckpointDir(dir); err != nil {
		if errors.Is(err, train.ErrNotCheckpointDir) {
			return usageError{err}
		}
		return err
	}
	probe := dir // a new directory: made where a file of its name could be
	if _, err := os.Stat(dir); err == nil {
		probe = filepath.Join(dir, "state.json")
	}
	if err := checkOutputs(nil, probe); err != nil {
		return fmt.Errorf("--checkpoint-dir: %w", err)
	}
	if o.fresh {
		if err := train.RemoveCheckpoint(dir, false); err != nil {
			return err
		}
	}
	cfg.CheckpointDir = dir
	hint := func() string {
		if _, err := os.Stat(dir); err != nil {
			return "" // stopped before the first checkpoint
		}
		again := "the same command resumes from it"
		if o.fresh {
			again = "the same command without --fresh resumes from it"
		}
		return fmt.Sprintf("the checkpoint in %s is kept: %s (--fresh starts over)", dir, again)
	}
	interruptHint.Store(&hint)
	return nil
}

// finish saves the trained model atomically and removes the checkpoint:
// its files, and the default directory OUT.ckpt when that leaves it empty
// (a --checkpoint-dir the user named stays).
func (o *trainOpts) finish(m *graph.Model, cfg train.Config) error {
	if err := onnx.Save(m, o.out, onnx.SaveOptions{}); err != nil {
		return err
	}
	interruptHint.Store(nil)
	return train.RemoveCheckpoint(cfg.CheckpointDir, o.checkpointDir == "")
}

// progress shows training progress: an mpb bar on a terminal (stderr),
// plain per-epoch log lines otherwise.
type progress struct {
	mu     sync.Mutex
	p      *mpb.Progress
	bar    *mpb.Bar
	w      io.Writer
	label  string
	status string
	epochs int
}

func newProgress(label string) *progress {
	pr := &progress{w: os.Stderr, label: label}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		pr.p = mpb.New(mpb.WithOutput(os.Stderr), mpb.WithWidth(30))
		pr.w = pr.p
	}
	return pr
}

func (pr *progress) StartEpoch(epoch, epochs, batches int) {
	pr.epochs = epochs
	if pr.p == nil {
		return
	}
	if pr.bar == nil {
		pr.bar = pr.p.AddBar(int64(epochs*batches),
			mpb.PrependDecorators(decor.Name(pr.label+" "), decor.Percentage(decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				pr.mu.Lock()
				defer pr.mu.Unlock()
				return pr.status
			})))
		pr.bar.SetCurrent(int64(epoch * batches))
	}
}

func (pr *progress) Batch(s train.BatchStats) {
	if pr.bar == nil {
		return
	}
	pr.mu.Lock()
	pr.status = fmt.Sprintf("epoch %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s", s.Epoch+1, pr.epochs,
		s.RunningLoss, 100*s.RunningAcc, s.SamplesPerSec)
	pr.mu.Unlock()
	pr.bar.SetCurrent(int64(s.Epoch*s.Batches + s.Batch + 1))
}

func (pr *progress) EndEpoch(s train.EpochStats) {
	line := fmt.Sprintf("%s epoch %d/%d: loss %.4f, train %.2f%%", pr.label, s.Epoch, pr.epochs, s.Loss, 100*s.TrainAcc)
	if s.ValAcc != nil {
		line += fmt.Sprintf(", val %.2f%%", 100**s.ValAcc)
	}
	if s.TestAcc != nil {
		line += fmt.Sprintf(", test %.2f%%", 100**s.TestAcc)
	}
	line += fmt.Sprintf(", %.0f samples/s, %.1f s\n", s.SamplesPerSec, s.Seconds)
	io.WriteString(pr.w, line)
}

func (pr *progress) done() {
	if pr.p == nil {
		return
	}
	if pr.bar != nil {
		pr.bar.Abort(false)
	}
	pr.p.Wait()
}

// trainSummary is the JSON document of `train --json` (and the base of
// distill's).
type trainSummary struct {
	Arch          string             `json:"arch,omitempty"`
	Output        string             `json:"output"`
	Seed          uint64             `json:"seed"`
	Config        train.Config       `json:"config"`
	TrainSamples  int                `json:"train_samples"`
	ValSamples    int                `json:"val_samples,omitempty"`
	TestSplit     string             `json:"test_split,omitempty"`
	TestSamples   int                `json:"test_samples,omitempty"`
	TestAccuracy  *float64           `json:"test_accuracy,omitempty"`
	TestError     *float64           `json:"test_error,omitempty"`
	SamplesPerSec float64            `json:"samples_per_sec"`
	TrainSeconds  float64            `json:"train_seconds"`
	WallSeconds   float64            `json:"wall_seconds"`
	Threads       int                `json:"threads"`
	Result        *train.Result      `json:"result"`
	GPU           gpuSummary         `json:"gpu"`
	Params        int64              `json:"params"`
	Extra         map[string]float64 `json:"extra,omitempty"`
}

// finalTest evaluates the saved weights on the test split.
func finalTest(s *trainSummary, m *graph.Model, d train.Data, threads int) error {
	if d.Test == nil {
		return nil
	}
	r, err := train.Evaluate(m, d.Test, threads)
	if err != nil {
		return fmt.Errorf("evaluating the trained model: %w", err)
	}
	acc, e := r.Accuracy, 1-r.Accuracy
	s.TestAccuracy, s.TestError, s.TestSamples = &acc, &e, r.Samples
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printSummary(w io.Writer, s *trainSummary, asJSON bool, what string) error {
	if asJSON {
		return printJSON(w, s)
	}
	fmt.Fprintf(w, "%s: wrote %s (%d parameters)\n", what, s.Output, s.Params)
	if s.TestAccuracy != nil {
		fmt.Fprintf(w, "test accuracy %.2f%% (error %.2f%%) on %d %s digits\n", 100**s.TestAccuracy, 100**s.TestError, s.TestSamples, s.TestSplit)
	}
	fmt.Fprintf(w, "training: %d samples x %d epochs, %.0f samples/s, %.1f s (wall %.1f s, seed %d)\n",
		s.TrainSamples, len(s.Result.Epochs), s.SamplesPerSec, s.TrainSeconds, s.WallSeconds, s.Seed)
	if s.Result.ResumedAt != "" {
		fmt.Fprintf(w, "resumed from the checkpoint at %s\n", s.Result.ResumedAt)
	}
	s.GPU.write(w)
	return nil
}

func newTrainCmd(g *globals) *cobra.Command {
	o := &trainOpts{}
	var arch, init string
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "cpu"},
		Use:         "train --arch NAME --data DIR -o OUT.onnx",
		Short:       "Train a zoo architecture (or fine-tune an ONNX model) on an image dataset with gorgonia",
		Long: `Trains a model on a labelled image dataset (MNIST-style IDX files) and writes
it as ONNX. The model is a zoo architecture (--arch; see the list below) with
seeded initial weights, or an existing ONNX model to fine-tune (--init).

Training runs on gorgonia (float32, mini-batch SGD or Adam, learning-rate
warm-up and cosine/step schedules, random +-N pixel translations, dropout);
the test split is evaluated by gcompress's runtime after every epoch.
Checkpoints (safetensors + state.json) are written to OUT.ckpt every
--checkpoint-every batches and at each epoch end: running the same command
again after an interruption resumes there and ends with the same weights as
an uninterrupted run. The checkpoint is removed when the model is written.

Architectures and their default recipes (flags override each setting):
` + recipeHelp(),
		Example: `  gcompress train --arch lenet5 --data data/mnist -o lenet5.onnx
  gcompress train --arch lenet-300-100 --data data/mnist --epochs 30 --seed 2 -o l300.onnx --json
  gcompress train --init model.onnx --data data/mnist --epochs 3 --lr 0.005 -o tuned.onnx`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			yieldToFlags(cmd.Flags(), "arch", &arch, "init")
			yieldToFlags(cmd.Flags(), "init", &init, "arch")
			return runTrain(cmd.OutOrStdout(), g, o, arch, init)
		},
	}
	cmd.Flags().StringVar(&arch, "arch", "", "zoo architecture to train")
	cmd.Flags().StringVar(&init, "init", "", "ONNX model to fine-tune instead of --arch")
	addTrainFlags(cmd.Flags(), o)
	return cmd
}

func runTrain(w io.Writer, g *globals, o *trainOpts, arch, init string) error {
	start := time.Now()
	if o.out == "" {
		return usagef("-o OUT.onnx is required")
	}
	var m *graph.Model
	var r recipe
	var err error
	switch {
	case arch != "" && init != "":
		return usagef("give --arch or --init, not both")
	case arch != "":
		var ok bool
		if r, ok = recipes[arch]; !ok {
			if _, err := models.Build(arch, 0); err != nil {
				return usageError{err}
			}
			r = genericRecipe
		}
		if m, err = models.Build(arch, o.seed); err != nil {
			return usageError{err}
		}
	case init != "":
		if m, err = loadModel(init); err != nil {
			return err
		}
		r = genericRecipe
	default:
		return usagef("--arch NAME or --init MODEL.onnx is required")
	}
	cfg, err := o.config(r)
	if err != nil {
		return err
	}
	if err := checkOutputs([]string{init}, o.out); err != nil {
		return err
	}
	d, err := o.loadData()
	if err != nil {
		return err
	}
	if err := checkFitsData(cfg, d); err != nil {
		return err
	}
	if err := o.prepareCheckpoint(&cfg); err != nil {
		return err
	}
	cfg.Threads = g.threadCount()
	label := arch
	if label == "" {
		label = filepath.Base(init)
	}
	gpu := startGPUMonitor()
	pr := newProgress(label)
	res, err := train.Train(m, d, cfg, train.Hooks{Progress: pr})
	pr.done()
	gs := gpu.stop()
	if err != nil {
		return err
	}
	if err := o.finish(m, cfg); err != nil {
		return err
	}
	s := &trainSummary{Arch: arch, Output: o.out, Seed: o.seed, Config: cfg, TrainSamples: d.Train.Len(),
		TestSplit: o.testSplit, SamplesPerSec: res.SamplesPerSec, TrainSeconds: res.TrainSeconds,
		Threads: cfg.Threads, Result: res, GPU: gs, Params: paramCount(m.Graph)}
	if d.Val != nil {
		s.ValSamples = d.Val.Len()
	}
	if err := finalTest(s, m, d, cfg.Threads); err != nil {
		return err
	}
	s.WallSeconds = time.Since(start).Seconds()
	return printSummary(w, s, o.asJSON, "train")
}
