package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/compress/prune"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

// pruneRecipe is the default retraining recipe of `prune` (fine-tuning a
// trained model: a lower rate than training from scratch).
var pruneRecipe = recipe{Epochs: 10, Batch: 64, Optimizer: "sgd", LR: 0.01, Momentum: 0.9, WeightDecay: 1e-4, Schedule: "cosine", Shift: 2}

type pruneFlags struct {
	method         string
	sparsity       float64
	sparsitySet    bool // --sparsity given (its default, -1, means not given)
	sensitivitySet bool
	layerSparsity  []string
	scope          string
	sensitivity    float64
	rounds         int
	criterion      string
	roundChannels  int
	flopsReduction float64
	gradStart      float64
	gradEnd        float64
	gradEvery      int
	recipe         string
	retrainEpochs  int
	masks          string
	latencyRuns    int
	latencyBatches []int
	ort            bool
	agreeSamples   int
	train          trainOpts
	report         string
}

func newPruneCmd(g *globals) *cobra.Command {
	f := &pruneFlags{}
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "cpu"},
		Use:         "prune MODEL --method magnitude|gradual|2:4|channel --sparsity S -o OUT.onnx",
		Short:       "Prune weights (magnitude, gradual, 2:4) or channels, retrain, and measure the speed",
		Long: `Prunes MODEL and writes the pruned ONNX model.

Methods:
  magnitude  zero the smallest |w| of every Conv/Gemm/MatMul weight: the
             fraction --sparsity of each layer (--scope layer, with
             --layer-sparsity NODE=S overrides), or of all weights with one
             threshold (--scope global). --sensitivity P first scans each
             layer alone (Han et al. 2015) and picks per-layer ratios that
             lose at most P accuracy points. --rounds R prunes and retrains
             R times, the kept fraction shrinking geometrically.
  gradual    prune during retraining with Zhu & Gupta's cubic schedule
             s_t = s_f (1 - (1 - (t - t0)/(n dt))^3), from --gradual-start
             to --gradual-end (fractions of the steps), every
             --gradual-every steps.
  2:4        keep the 2 largest of every 4 consecutive weights along each
             layer's reduction axis (the sparse tensor-core pattern; at
             load the CPU runtime compresses such weights into the 2:4
             layout the CUDA kernel reads, and runs its 2:4 kernel where
             the break-even table says it pays off) and retrain; warns
             about layers too small for the CUDA 2:4 kernel to pay off.
  channel    remove whole channels: dependency groups couple the channels
             of Conv->BN->Act->Conv chains, residual Adds, Concats,
             depthwise/grouped convolutions and Flatten->Gemm; the lowest
             --sparsity of each group's channels (or the ratio that removes
             --flops-reduction of the FLOPs) by --criterion (l1, l2, bn)
             go, and the model is rewritten with smaller tensors.

Pruned weights stay zero while retraining (--retrain-epochs N on --data
DIR). The report gives per-layer tables (weights kept, the kernel the
runtime picks and its storage bits) and latency measured before and after
with gcompress's CPU runtime (--latency-batch, --latency-runs; medians,
runs alternating between the two models).`,
		Example: `  gcompress prune l300.onnx --method magnitude --sparsity 0.92 --rounds 3 --retrain-epochs 10 --data data/mnist -o l300-p.onnx --report r.md
  gcompress prune lenet5.onnx --method 2:4 --retrain-epochs 15 --recipe lenet5 --data data/mnist -o lenet5-24.onnx
  gcompress prune resnet.onnx --method channel --flops-reduction 0.5 --retrain-epochs 8 --data data/mnist -o r-half.onnx --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.sparsitySet, f.sensitivitySet = cmd.Flags().Changed("sparsity"), cmd.Flags().Changed("sensitivity")
			return runPrune(cmd.OutOrStdout(), g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.method, "method", "", "magnitude, gradual, 2:4 or channel")
	fl.Float64Var(&f.sparsity, "sparsity", -1, "fraction pruned: of each layer's weights (magnitude, gradual), of all weights (--scope global), of each dependency group's channels (channel)")
	fl.StringSliceVar(&f.layerSparsity, "layer-sparsity", nil, "per-layer sparsity NODE=S (node or weight name; repeatable)")
	fl.StringVar(&f.scope, "scope", "layer", "magnitude: layer (a ratio per layer) or global (one threshold)")
	fl.Float64Var(&f.sensitivity, "sensitivity", -1, "magnitude/gradual: pick per-layer ratios by a sensitivity scan losing at most P accuracy points per layer")
	fl.IntVar(&f.rounds, "rounds", 1, "magnitude: prune+retrain rounds (iterative pruning)")
	fl.StringVar(&f.criterion, "criterion", "l1", "channel: ranking criterion l1, l2 or bn (BatchNorm scale)")
	fl.IntVar(&f.roundChannels, "round-channels", 1, "channel: keep a multiple of N units per group (when more than N are kept), to fill the kernels' tiles")
	fl.Float64Var(&f.flopsReduction, "flops-reduction", 0, "channel: remove at least this fraction of the FLOPs (instead of --sparsity)")
	fl.Float64Var(&f.gradStart, "gradual-start", 0, "gradual: first pruning step, as a fraction of the training steps")
	fl.Float64Var(&f.gradEnd, "gradual-end", 0.6, "gradual: last pruning step, as a fraction of the training steps")
	fl.IntVar(&f.gradEvery, "gradual-every", 25, "gradual: steps between pruning steps")
	fl.StringVar(&f.recipe, "recipe", "", "retrain with this zoo architecture's training recipe (lr, schedule, ...) instead of the fine-tuning default")
	fl.IntVar(&f.retrainEpochs, "retrain-epochs", 0, "epochs of retraining (per round with --rounds; needs --data)")
	fl.StringVar(&f.masks, "masks", "", "also write the pruning masks (safetensors, uint8 per weight) here")
	fl.IntVar(&f.latencyRuns, "latency-runs", 300, "timed runs per model for the latency comparison (0: skip)")
	fl.IntSliceVar(&f.latencyBatches, "latency-batch", []int{1}, "batch sizes of the latency comparison")
	fl.BoolVar(&f.ort, "ort", false, "run the pruned ONNX in ONNX Runtime and compare its outputs with gcompress's")
	fl.IntVar(&f.agreeSamples, "agreement-samples", 200, "test samples on which the sparse kernels are compared with the dense kernel")
	fl.StringVar(&f.report, "report", "", "write a Markdown report here")
	o := &f.train
	o.flags = fl
	fl.StringVar(&o.data, "data", "", "dataset directory for retraining and evaluation")
	fl.StringVar(&o.trainSplit, "train-split", "train", "split to retrain on")
	fl.StringVar(&o.testSplit, "split", "test", "split to evaluate before and after (\"\" for none)")
	fl.IntVar(&o.limit, "limit", 0, "retrain on the first N samples only (0: all)")
	fl.IntVar(&o.batch, "batch", 0, "retraining mini-batch (default: the recipe's)")
	fl.Uint64Var(&o.seed, "seed", 1, "seed for retraining (shuffling, augmentation, dropout)")
	fl.Float64Var(&o.lr, "lr", 0, "retraining learning rate (default: the recipe's)")
	fl.Float64Var(&o.momentum, "momentum", -1, "SGD momentum (default: the recipe's)")
	fl.Float64Var(&o.weightDecay, "weight-decay", -1, "weight decay (default: the recipe's)")
	fl.StringVar(&o.schedule, "schedule", "", "learning-rate schedule constant, step or cosine (default: the recipe's)")
	fl.Float64Var(&o.warmup, "warmup-epochs", -1, "warm-up epochs (default: the recipe's)")
	fl.IntVar(&o.shift, "shift", -1, "random +-N pixel shifts while retraining (default: the recipe's)")
	fl.Float64Var(&o.valFraction, "val-fraction", 0, "hold out this fraction of the training split (the sensitivity scan evaluates on it)")
	fl.StringVarP(&o.out, "output", "o", "", "where to write the pruned ONNX model")
	fl.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	for _, name := range []string{"momentum", "weight-decay", "warmup-epochs", "shift", "sparsity", "sensitivity"} {
		fl.Lookup(name).DefValue = "0"
	}
	o.stepEpochs, o.gamma = 10, 0.1
	return cmd
}

// parseLayerSparsity reads NODE=S pairs.
func parseLayerSparsity(pairs []string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if !ok || err != nil || k == "" {
			return nil, usagef("--layer-sparsity %q: want NODE=S", p)
		}
		out[strings.TrimSpace(k)] = s
	}
	return out, nil
}

func (f *pruneFlags) check(model string) error {
	o := &f.train
	if o.out == "" {
		return usagef("-o OUT.onnx is required")
	}
	if f.sparsitySet && !(f.sparsity >= 0) {
		return usagef("--sparsity %v must be >= 0", f.sparsity)
	}
	if f.sensitivitySet && !(f.sensitivity >= 0) {
		return usagef("--sensitivity %v must be >= 0 (accuracy points)", f.sensitivity)
	}
	switch f.method {
	case "magnitude", "gradual", "channel":
		if f.sparsity < 0 && f.sensitivity < 0 && len(f.layerSparsity) == 0 && f.flopsReduction == 0 {
			return usagef("--method %s needs --sparsity S", f.method)
		}
	case "2:4":
		if f.sparsity >= 0 && f.sparsity != 0.5 {
			return usagef("--method 2:4 prunes exactly half (--sparsity 0.5)")
		}
	case "":
		return usagef("--method is required (magnitude, gradual, 2:4, channel)")
	default:
		return usagef("--method %q: want magnitude, gradual, 2:4 or channel", f.method)
	}
	if f.sparsity >= 1 {
		return usagef("--sparsity %v must be below 1", f.sparsity)
	}
	yieldToFlags(o.flags, "flops-reduction", &f.flopsReduction, "sparsity")
	if f.method != "channel" {
		yieldToFlags(o.flags, "flops-reduction", &f.flopsReduction, "method")
	}
	if f.flopsReduction != 0 {
		if f.method != "channel" {
			return usagef("--flops-reduction applies to --method channel")
		}
		if !(f.flopsReduction > 0 && f.flopsReduction < 1) {
			return usagef("--flops-reduction %v must be in (0, 1)", f.flopsReduction)
		}
		if onCommandLine(f.train.flags, "sparsity") {
			return usagef("give --sparsity or --flops-reduction, not both")
		}
	}
	if onCommandLine(f.train.flags, "criterion") && f.method != "channel" {
		return usagef("--criterion ranks channels: it applies to --method channel")
	}
	if f.roundChannels < 1 {
		return usagef("--round-channels %d must be >= 1", f.roundChannels)
	}
	if f.masks != "" && f.method == "channel" {
		return usagef("--masks applies to magnitude, gradual and 2:4 (channel pruning removes channels and has no masks)")
	}
	if f.scope != "layer" && f.scope != "global" {
		return usagef("--scope %q: want layer or global", f.scope)
	}
	if f.method == "gradual" {
		if err := (prune.GradualSchedule{Start: f.gradStart, End: f.gradEnd, Every: f.gradEvery}).Validate(); err != nil {
			return usagef("--gradual-start, --gradual-end, --gradual-every: %v", err)
		}
	}
	if f.rounds < 1 {
		return usagef("--rounds must be >= 1")
	}
	if f.rounds > 1 && f.method != "magnitude" {
		return usagef("--rounds applies to --method magnitude")
	}
	if f.rounds > 1 && f.retrainEpochs == 0 {
		return usagef("--rounds %d prunes and retrains in rounds: give --retrain-epochs N", f.rounds)
	}
	if err := checkIntFlags(intFlag{"retrain-epochs", f.retrainEpochs, 0}, intFlag{"latency-runs", f.latencyRuns, 0},
		intFlag{"agreement-samples", f.agreeSamples, 0}); err != nil {
		return err
	}
	if (f.retrainEpochs > 0 || f.method == "gradual" || f.sensitivity >= 0) && o.data == "" {
		return usagef("retraining, gradual pruning and the sensitivity scan need --data DIR")
	}
	if f.method == "gradual" && f.retrainEpochs == 0 {
		return usagef("--method gradual prunes while retraining: give --retrain-epochs N")
	}
	for _, b := range f.latencyBatches {
		if b < 1 {
			return usagef("--latency-batch %d must be >= 1", b)
		}
	}
	if f.recipe != "" {
		if _, ok := recipes[f.recipe]; !ok {
			return usagef("--recipe %q: no such recipe (%s)", f.recipe, strings.Join(recipeNames(), ", "))
		}
	}
	return checkOutputs([]string{model}, o.out, f.report, f.masks)
}

func recipeNames() []string {
	var out []string
	for n := range recipes {
		out = append(out, n)
	}
	return out
}

// evalSplit evaluates m on ds (nil: no result).
func evalSplit(m *graph.Model, ds *data.Dataset, split string, threads int) (*prune.Accuracy, error) {
	if ds == nil {
		return nil, nil
	}
	r, err := train.Evaluate(m, ds, threads)
	if err != nil {
		return nil, fmt.Errorf("evaluating on %s: %w", split, err)
	}
	return &prune.Accuracy{Split: split, Samples: r.Samples, Accuracy: r.Accuracy, Error: 1 - r.Accuracy}, nil
}

func runPrune(w io.Writer, g *globals, f *pruneFlags, path string) error {
	start := time.Now()
	if err := f.check(path); err != nil {
		return err
	}
	if f.ort {
		if err := ortpeer.Init(); err != nil {
			return fmt.Errorf("--ort: %w", err)
		}
	}
	m, err := loadModel(path)
	if err != nil {
		return err
	}
	layers := prune.Layers(m)
	if len(layers) == 0 && f.method != "channel" {
		return fmt.Errorf("%s has no Conv/Gemm/MatMul with a constant float32 weight to prune", path)
	}
	per, err := parseLayerSparsity(f.layerSparsity)
	if err != nil {
		return err
	}
	ratios := prune.Ratios{Default: max(f.sparsity, 0), PerLayer: per}
	if f.method != "channel" {
		if err := ratios.Check(layers); err != nil {
			return usagef("--layer-sparsity: %v", err)
		}
	}
	dense := passes.Clone(m)
	threads := g.threadCount()
	o := &f.train
	r := pruneRecipe
	if f.recipe != "" {
		r = recipes[f.recipe]
	}
	o.epochs = max(f.retrainEpochs, 1)
	cfg, err := o.config(r)
	if err != nil {
		return err
	}
	cfg.Epochs = f.retrainEpochs
	cfg.Threads = threads
	var d train.Data
	if o.data != "" {
		if d, err = o.loadData(); err != nil {
			return err
		}
		if cfg.Epochs > 0 {
			if err := checkFitsData(cfg, d); err != nil {
				return err
			}
		}
	}
	pr := newProgress("prune " + f.method)
	rt := prune.Retrain{Data: d, Config: cfg, Progress: pr}
	rep := &prune.Report{Model: path, Output: o.out, Method: f.method, Machine: bench.ThisMachine()}
	if f.sparsity > 0 {
		rep.Target = f.sparsity
	}
	if rep.Before, err = evalSplit(dense, d.Test, o.testSplit, threads); err != nil {
		return err
	}
	if f.sensitivity >= 0 && (f.method == "magnitude" || f.method == "gradual") {
		scan := d.Val
		if scan == nil {
			scan = d.Test
			rep.Warnings = append(rep.Warnings, "the sensitivity scan evaluated on the test split (give --val-fraction to hold out training data instead)")
		}
		_, curves, chosen, err := prune.Sensitivity(m, layers, scan, prune.DefaultSensitivityGrid, f.sensitivity/100, threads)
		if err != nil {
			return err
		}
		rep.Sensitivity = curves
		for k, v := range per {
			chosen.PerLayer[k] = v // explicit ratios win
		}
		ratios = chosen
	}
	var ms prune.Masks
	out := m
	switch f.method {
	case "magnitude":
		crit := prune.Criterion(prune.LayerwiseMagnitude)
		if f.scope == "global" {
			crit = prune.GlobalCriterion
		}
		if ms, rep.Rounds, err = prune.Iterative(m, layers, ratios, f.rounds, crit, rt); err != nil {
			return err
		}
		if f.rounds == 1 && len(rep.Rounds) == 1 {
			rep.Retrain = rep.Rounds[0].Result
			rep.Rounds = nil
		}
	case "gradual":
		sched := prune.GradualSchedule{Start: f.gradStart, End: f.gradEnd, Every: f.gradEvery}
		if ms, rep.Gradual, rep.Retrain, err = prune.Gradual(m, layers, ratios, sched, rt); err != nil {
			return err
		}
	case "2:4":
		if ms, err = prune.NM(layers, 2, 4); err != nil {
			return err
		}
		rep.Target = 0.5
		rep.Warnings = append(rep.Warnings, prune.NMWarnings(layers, 64)...)
		if rep.Retrain, err = prune.Finetune(m, ms, rt); err != nil {
			return err
		}
	case "channel":
		crit, err := prune.ParseChannelCriterion(f.criterion)
		if err != nil {
			return usageError{err}
		}
		opt := prune.ChannelOptions{Ratio: max(f.sparsity, 0), Criterion: crit, Round: f.roundChannels}
		if f.flopsReduction > 0 {
			out, rep.Structured, err = prune.ChannelsForFLOPs(m, f.flopsReduction, opt)
		} else {
			out, rep.Structured, err = prune.Channels(m, opt)
		}
		if err != nil {
			return err
		}
		if cfg.Epochs > 0 {
			if rep.Retrain, err = train.Train(out, d, cfg, train.Hooks{Progress: pr}); err != nil {
				return err
			}
		}
	}
	pr.done()
	if ms != nil {
		rep.Kept, rep.Params = ms.Counts()
		rep.Sparsity = ms.Sparsity()
		if f.masks != "" {
			if err := ms.Save(f.masks); err != nil {
				return err
			}
		}
	}
	if _, pb, err := prune.FLOPsPerSample(dense); err == nil {
		rep.TotalParamsBefore = pb
	}
	if _, pa, err := prune.FLOPsPerSample(out); err == nil {
		rep.TotalParamsAfter = pa
	}
	if rep.After, err = evalSplit(out, d.Test, o.testSplit, threads); err != nil {
		return err
	}
	if err := onnx.Save(out, o.out, onnx.SaveOptions{}); err != nil {
		return err
	}
	if f.method == "channel" {
		rep.Layers = prune.ChannelLayerReports(dense, out)
		for _, l := range rep.Layers {
			rep.Params += l.Params
			rep.Kept += l.Kept
		}
		rep.Sparsity = 1 - float64(rep.Kept)/float64(max(rep.Params, 1))
	} else {
		rep.Layers = prune.LayerReports(out)
	}
	if f.latencyRuns > 0 {
		for _, b := range f.latencyBatches {
			lat, err := prune.Latency(dense, out, b, threads, f.latencyRuns)
			if err != nil {
				return err
			}
			rep.Latency = append(rep.Latency, lat)
			if b == 1 {
				prune.AttachLatency(rep.Layers, lat)
			}
		}
	}
	if ms != nil && d.Test != nil && f.agreeSamples > 0 {
		if rep.Agreement, err = prune.CompareKernels(out, d.Test, f.agreeSamples, threads); err != nil {
			return err
		}
	}
	if f.ort {
		if rep.ORT, err = ortCheck(out, d.Test, threads); err != nil {
			return err
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if f.report != "" {
		if err := atomicfile.Write(f.report, func(w io.Writer) error { rep.WriteMarkdown(w); return nil }); err != nil {
			return err
		}
	}
	if o.asJSON {
		return printJSON(w, rep)
	}
	printPruneSummary(w, rep)
	return nil
}

// ortCheck runs m in ONNX Runtime and in gcompress on up to 100 samples of
// ds (seeded random inputs when there is no dataset) and compares outputs.
func ortCheck(m *graph.Model, ds *data.Dataset, threads int) (*prune.ORTCheck, error) {
	if err := ortpeer.Init(); err != nil {
		return nil, fmt.Errorf("--ort: %w", err)
	}
	b, err := onnx.Encode(m)
	if err != nil {
		return nil, err
	}
	peer, err := ortpeer.NewSession(b, threads)
	if err != nil {
		return nil, fmt.Errorf("--ort: ONNX Runtime rejects the pruned model: %w", err)
	}
	defer peer.Close()
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads})
	if err != nil {
		return nil, err
	}
	sample, n := []int{28, 28}, 100
	if ds != nil {
		sample, n = ds.Sample(), min(n, ds.Len())
	}
	name, shape, err := eval.InputShape(m.Graph, n, sample)
	if err != nil {
		return nil, err
	}
	var x *tensor.Tensor
	if ds != nil {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		if x, err = ds.Batch(idx, shape); err != nil {
			return nil, err
		}
	} else {
		x = tensor.MustNew(tensor.Float32, shape...)
		for i := range x.F32() {
			x.F32()[i] = float32(i%97) / 97
		}
	}
	theirs, err := peer.Run(map[string]*tensor.Tensor{name: x})
	if err != nil {
		return nil, fmt.Errorf("--ort: %w", err)
	}
	ours, err := sess.Run(map[string]*tensor.Tensor{name: x})
	if err != nil {
		return nil, err
	}
	c := &prune.ORTCheck{Samples: n}
	for i := 0; i < ours[0].Len(); i++ {
		c.MaxAbsDiff = math.Max(c.MaxAbsDiff, math.Abs(ours[0].Float64At(i)-theirs[0].Float64At(i)))
		c.MaxLogit = math.Max(c.MaxLogit, math.Abs(theirs[0].Float64At(i)))
	}
	return c, nil
}

func printPruneSummary(w io.Writer, r *prune.Report) {
	fmt.Fprintf(w, "prune %s: wrote %s\n", r.Method, r.Output)
	if r.Params > 0 {
		fmt.Fprintf(w, "kept %d of %d prunable weights (%.2f%%, sparsity %.2f%%)\n", r.Kept, r.Params, 100*float64(r.Kept)/float64(r.Params), 100*r.Sparsity)
	}
	if s := r.Structured; s != nil {
		fmt.Fprintf(w, "FLOPs per sample %d -> %d (%.1f%% removed); parameters %d -> %d\n", s.FLOPsBefore, s.FLOPsAfter, 100*s.FLOPsReduction(), s.ParamsBefore, s.ParamsAfter)
	}
	if r.Before != nil && r.After != nil {
		fmt.Fprintf(w, "test error %.2f%% -> %.2f%% on %d %s samples\n", 100*r.Before.Error, 100*r.After.Error, r.After.Samples, r.After.Split)
	}
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "%-10s %-14s %9s %9s %8s %8s %9s %9s\n", "layer", "shape after", "weights", "kept", "kernel", "bits/w", "before_us", "after_us")
		for _, l := range r.Layers {
			fmt.Fprintf(w, "%-10s %-14s %9d %9d %8s %8.1f %9s %9s\n", l.Node, fmt.Sprint(l.Shape), l.Params, l.Kept, l.Kernel, l.Bits, fmtUS(l.BeforeUS), fmtUS(l.AfterUS))
		}
	}
	for _, l := range r.Latency {
		fmt.Fprintf(w, "latency batch %d (%d threads, %d runs): %.4f ms -> %.4f ms (x%.3f; load %.2f)\n", l.Batch, l.Threads, l.Runs, l.BeforeMS, l.AfterMS, l.Ratio, l.LoadAvgBefore)
	}
	for _, a := range r.Agreement {
		fmt.Fprintf(w, "%s kernel vs dense: max |dlogit| %.3g on %d samples, same top-1: %v\n", a.Kernel, a.MaxAbsDiff, a.Samples, a.SameTop1)
	}
	if r.ORT != nil {
		fmt.Fprintf(w, "ONNX Runtime: max |dlogit| %.3g on %d samples\n", r.ORT.MaxAbsDiff, r.ORT.Samples)
	}
	for _, s := range r.Warnings {
		stderrf("gcompress: warning: %s\n", s)
	}
}

func fmtUS(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}
