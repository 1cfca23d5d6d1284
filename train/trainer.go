package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// ErrStopped is returned when an AfterBatch hook asked the run to stop
// (the checkpoint, if any, lets a later run resume).
var ErrStopped = errors.New("training stopped by a hook")

// Config holds the hyperparameters of a run. Everything in it except
// Threads, CheckpointDir and CheckpointEvery enters the checkpoint
// fingerprint.
type Config struct {
	Epochs   int          `json:"epochs"`
	Batch    int          `json:"batch"`
	Seed     uint64       `json:"seed"`
	Solver   SolverConfig `json:"solver"`
	Schedule Schedule     `json:"schedule"`
	// Shift is the largest random translation (pixels, each axis) of the
	// training images; 0 disables the augmentation.
	Shift int `json:"shift"`
	// Patience stops training after this many epochs without a better
	// validation accuracy and restores the best weights (0: never; needs
	// a validation set).
	Patience int `json:"patience"`
	// Threads for evaluation with the runtime (0: 1).
	Threads int `json:"-"`
	// CheckpointDir enables checkpoints (and resuming from them) when set.
	CheckpointDir string `json:"-"`
	// CheckpointEvery writes a mid-epoch checkpoint every so many batches
	// (0: at the end of each epoch only).
	CheckpointEvery int `json:"-"`
}

// Data is what a run trains and evaluates on.
type Data struct {
	Train *data.Dataset
	// Val drives early stopping; Test is only reported. Either may be nil.
	Val, Test *data.Dataset
}

// BatchStats describe one finished optimisation step.
type BatchStats struct {
	Epoch, Batch, Batches int
	Step                  int
	Loss                  float64
	// RunningLoss and RunningAcc average the epoch so far.
	RunningLoss, RunningAcc float64
	LR                      float64
	SamplesPerSec           float64
}

// EpochStats summarise one epoch. Accuracies are nil when the set is
// absent.
type EpochStats struct {
	Epoch         int      `json:"epoch"`
	LR            float64  `json:"lr"`
	Loss          float64  `json:"loss"`
	TrainAcc      float64  `json:"train_accuracy"`
	ValAcc        *float64 `json:"val_accuracy,omitempty"`
	TestAcc       *float64 `json:"test_accuracy,omitempty"`
	Seconds       float64  `json:"seconds"`
	SamplesPerSec float64  `json:"samples_per_sec"`
}

// Progress receives training progress (a progress bar, log lines).
type Progress interface {
	StartEpoch(epoch, epochs, batches int)
	Batch(s BatchStats)
	EndEpoch(s EpochStats)
}

// Hooks customise a run; the zero value trains with cross-entropy.
type Hooks struct {
	// Loss replaces the default CrossEntropy.
	Loss Loss
	// Frozen, ParamHook and ActivationHook are passed to Build.
	Frozen         func(name string) bool
	ParamHook      func(name string, w *G.Node) (*G.Node, error)
	ActivationHook func(value string, x *G.Node) (*G.Node, error)
	// Masks keep pruned weights at zero: for each named parameter, a 0/1
	// mask of its size. Masked gradients are zeroed before the solver step
	// (so momentum stays zero there) and the weights multiplied by the mask
	// after it.
	Masks map[string][]float32
	// AfterStep runs after each solver step (QAT observers, schedules).
	AfterStep func(net *Net, s BatchStats) error
	// AfterBatch runs after each step and its checkpoint; returning
	// ErrStopped (or any error) ends the run with that error.
	AfterBatch func(s BatchStats) error
	Progress   Progress
}

// Result reports a run.
type Result struct {
	Epochs       []EpochStats `json:"history"`
	BestEpoch    int          `json:"best_epoch,omitempty"`
	StoppedEarly bool         `json:"stopped_early"`
	// ResumedAt is "epoch E, batch B" when the run continued a checkpoint.
	ResumedAt    string  `json:"resumed_at,omitempty"`
	TrainSamples int     `json:"train_samples"`
	Steps        int     `json:"steps"`
	TrainSeconds float64 `json:"train_seconds"`
	// SamplesPerSec is training throughput: samples through forward,
	// backward and solver step per second of training time (evaluation and
	// checkpoints excluded).
	SamplesPerSec float64 `json:"samples_per_sec"`
}

// CheckData reports the settings of cfg that d's training data cannot
// take: a batch larger than the data, a shift for samples that are not
// 2-D images or as wide as they are, early stopping without validation
// data. d.Train must be non-empty.
func (cfg Config) CheckData(d Data) error {
	if cfg.Batch <= 0 || cfg.Batch > d.Train.Len() {
		return fmt.Errorf("train: batch size %d must be in [1, %d], the training samples", cfg.Batch, d.Train.Len())
	}
	if cfg.Shift > 0 && !planar(d.Train.Sample()) {
		return fmt.Errorf("train: shift %d moves the pixels of 2-D images; samples of shape %v are not one (use shift 0)", cfg.Shift, d.Train.Sample())
	}
	if cfg.Shift < 0 || cfg.Shift >= min(d.Train.Rows, d.Train.Cols) {
		return fmt.Errorf("train: shift %d out of range: want 0 to %d for %s", cfg.Shift, min(d.Train.Rows, d.Train.Cols)-1, d.Train.Describe())
	}
	if cfg.Patience < 0 || (cfg.Patience > 0 && d.Val == nil) {
		return fmt.Errorf("train: early stopping (patience %d) needs a validation set", cfg.Patience)
	}
	return nil
}

// Train trains m in place: on return (nil error) its initializers hold the
// trained weights (the best ones when early stopping triggered).
func Train(m *graph.Model, d Data, cfg Config, hooks Hooks) (*Result, error) {
	if d.Train == nil || d.Train.Len() == 0 {
		return nil, fmt.Errorf("train: no training data")
	}
	if cfg.Epochs <= 0 {
		return nil, fmt.Errorf("train: epochs %d must be positive", cfg.Epochs)
	}
	if err := cfg.CheckData(d); err != nil {
		return nil, err
	}
	for _, split := range []struct {
		name string
		ds   *data.Dataset
	}{{"training", d.Train}, {"validation", d.Val}, {"test", d.Test}} {
		if split.ds != nil {
			if err := split.ds.Labelled("train: the " + split.name + " data"); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Schedule.Kind == "" {
		cfg.Schedule.Kind = "constant"
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	solver, err := NewSolver(cfg.Solver)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	loss := hooks.Loss
	if loss == nil {
		loss = &CrossEntropy{}
	}
	net, err := Build(m, BuildOptions{Batch: cfg.Batch, Mode: Training, Frozen: hooks.Frozen,
		ParamHook: hooks.ParamHook, ActivationHook: hooks.ActivationHook})
	if err != nil {
		return nil, err
	}
	if net.InputShape == nil || prod(net.InputShape[1:]) != d.Train.Rows*d.Train.Cols {
		return nil, fmt.Errorf("train: input %q %v does not take %dx%d images", net.InputName, net.InputShape, d.Train.Rows, d.Train.Cols)
	}
	if s := net.Logits.Shape(); len(s) == 2 {
		for _, split := range []struct {
			name string
			ds   *data.Dataset
		}{{"training", d.Train}, {"validation", d.Val}, {"test", d.Test}} {
			if split.ds == nil {
				continue
			}
			if err := split.ds.CheckLabels(s[1]); err != nil {
				return nil, fmt.Errorf("train: %s data: %w", split.name, err)
			}
		}
	}
	st, err := newStepper(net, loss)
	if err != nil {
		return nil, err
	}
	masks, err := checkMasks(net, hooks.Masks)
	if err != nil {
		return nil, err
	}
	applyMasks(net, masks)
	r := &run{m: m, d: d, cfg: cfg, hooks: hooks, net: net, st: st, solver: solver, masks: masks, loss: loss}
	r.fingerprint = fingerprint(cfg, net, loss, masks, hooks.Frozen, d)
	return r.loop()
}

// stepper is a net with its loss, gradients and machine.
type stepper struct {
	net       *Net
	logits    *tapKernel
	lossTap   *tapKernel
	gradTaps  []*tapKernel
	loss      Loss
	lossNode  *G.Node
	trainable []*Param
	grads     G.Nodes
	vm        G.VM
}

func newStepper(net *Net, loss Loss) (*stepper, error) {
	ln, err := loss.Build(net, net.Logits)
	if err != nil {
		return nil, fmt.Errorf("train: loss: %w", err)
	}
	if !ln.IsScalar() {
		return nil, fmt.Errorf("train: loss is %v, not a scalar", ln.Shape())
	}
	s := &stepper{net: net, loss: loss, lossNode: ln, trainable: net.Trainable(), logits: &tapKernel{tag: "logits"}}
	if _, err := ApplyKernel(s.logits, net.Logits); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	// Tap the loss too: node values are not safe to read after a run.
	flat, err := G.Reshape(ln, gt.Shape{1})
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	s.lossTap = &tapKernel{tag: "loss"}
	if _, err := ApplyKernel(s.lossTap, flat); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	if len(s.trainable) == 0 {
		return nil, fmt.Errorf("train: the model has no trainable parameters")
	}
	wrt := make(G.Nodes, len(s.trainable))
	for i, p := range s.trainable {
		wrt[i] = p.Node
	}
	if s.grads, err = G.Grad(ln, wrt...); err != nil {
		return nil, fmt.Errorf("train: gradients: %w", err)
	}
	for i, g := range s.grads {
		tap := &tapKernel{tag: "grad/" + s.trainable[i].Name}
		if g.Dims() == 0 {
			return nil, fmt.Errorf("train: gradient of %q is a scalar", s.trainable[i].Name)
		}
		if _, err := ApplyKernel(tap, g); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		s.gradTaps = append(s.gradTaps, tap)
	}
	s.vm = G.NewTapeMachine(net.G)
	return s, nil
}

// run executes forward and backward once and returns the loss.
func (s *stepper) run() (float64, error) {
	defer s.vm.Reset()
	if err := s.vm.RunAll(); err != nil {
		return 0, fmt.Errorf("train: step: %w", err)
	}
	if len(s.lossTap.buf) != 1 {
		return 0, fmt.Errorf("train: the loss was not computed")
	}
	return float64(s.lossTap.buf[0]), nil
}

// gradients returns dL/dp for each trainable parameter (copies taken when
// the gradients were computed, valid until the next run).
func (s *stepper) gradients() ([][]float32, error) {
	out := make([][]float32, len(s.gradTaps))
	for i, t := range s.gradTaps {
		if len(t.buf) != len(s.trainable[i].Data) {
			return nil, fmt.Errorf("train: gradient of %q has %d values, want %d", s.trainable[i].Name, len(t.buf), len(s.trainable[i].Data))
		}
		out[i] = t.buf
	}
	return out, nil
}

func checkMasks(net *Net, masks map[string][]float32) (map[*Param][]float32, error) {
	out := map[*Param][]float32{}
	byName := map[string]*Param{}
	for _, p := range net.Params {
		byName[p.Name] = p
	}
	for name, mk := range masks {
		p, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("train: mask for %q, which is not a parameter", name)
		}
		if len(mk) != len(p.Data) {
			return nil, fmt.Errorf("train: mask for %q has %d values, the parameter %d", name, len(mk), len(p.Data))
		}
		out[p] = mk
	}
	return out, nil
}

func applyMasks(net *Net, masks map[*Param][]float32) {
	for p, mk := range masks {
		for i, v := range mk {
			p.Data[i] *= v
		}
	}
}

// run is the state of one training run.
type run struct {
	m           *graph.Model
	d           Data
	cfg         Config
	hooks       Hooks
	net         *Net
	st          *stepper
	solver      Solver
	loss        Loss
	masks       map[*Param][]float32
	fingerprint string

	// position and bookkeeping (all checkpointed)
	epoch, batch, step int
	rng                *rand.PCG
	accum              epochAccum
	history            []EpochStats
	best               *snapshot
	bestEpoch          int
	bestVal            float64
	badEpochs          int
	trainSeconds       float64
	samples            int64
	resumedAt          string
	stopped            bool
}

// epochAccum accumulates the statistics of the current epoch.
type epochAccum struct {
	LossSum float64 `json:"loss_sum"`
	Correct int     `json:"correct"`
	Seen    int     `json:"seen"`
	Seconds float64 `json:"seconds"`
}

// snapshot is a copy of the parameters and buffers.
type snapshot struct {
	params, buffers [][]float32
}

func (r *run) snapshot() *snapshot {
	s := &snapshot{}
	for _, p := range r.net.Params {
		s.params = append(s.params, append([]float32(nil), p.Data...))
	}
	for _, b := range r.net.Buffers {
		s.buffers = append(s.buffers, append([]float32(nil), b.Data...))
	}
	return s
}

func (r *run) restore(s *snapshot) {
	for i, p := range r.net.Params {
		copy(p.Data, s.params[i])
	}
	for i, b := range r.net.Buffers {
		copy(b.Data, s.buffers[i])
	}
}

func (r *run) loop() (*Result, error) {
	nb := r.d.Train.Len() / r.cfg.Batch
	total := nb * r.cfg.Epochs
	if r.cfg.CheckpointDir != "" {
		if err := r.resume(); err != nil {
			return nil, err
		}
	}
	batch := &Batch{}
	for ; r.epoch < r.cfg.Epochs && !r.stopped; r.epoch++ {
		order := epochOrder(r.d.Train.Len(), r.cfg.Seed, r.epoch)
		if r.batch == 0 || r.rng == nil {
			r.rng = batchStream(r.cfg.Seed, r.epoch)
			r.accum = epochAccum{}
		}
		rng := rand.New(r.rng)
		if r.hooks.Progress != nil {
			r.hooks.Progress.StartEpoch(r.epoch, r.cfg.Epochs, nb)
		}
		var lr float64
		for ; r.batch < nb; r.batch++ {
			start := time.Now()
			batch.Epoch = r.epoch
			fillBatch(batch, r.d.Train, order, r.batch, r.cfg.Batch, r.cfg.Shift, rng)
			r.net.fillDropout(rng)
			if err := r.net.SetInput(batch.X); err != nil {
				return nil, err
			}
			if err := r.loss.Feed(batch); err != nil {
				return nil, fmt.Errorf("train: epoch %d batch %d: %w", r.epoch+1, r.batch, err)
			}
			lossVal, correct, err := r.forwardBackward(batch)
			if err != nil {
				return nil, err
			}
			lr = r.cfg.Schedule.LR(r.step, nb, total)
			if err := r.update(lr); err != nil {
				return nil, err
			}
			r.step++
			secs := time.Since(start).Seconds()
			r.accum.LossSum += lossVal * float64(r.cfg.Batch)
			r.accum.Correct += correct
			r.accum.Seen += r.cfg.Batch
			r.accum.Seconds += secs
			r.trainSeconds += secs
			r.samples += int64(r.cfg.Batch)
			bs := BatchStats{Epoch: r.epoch, Batch: r.batch, Batches: nb, Step: r.step, Loss: lossVal,
				RunningLoss: r.accum.LossSum / float64(r.accum.Seen),
				RunningAcc:  float64(r.accum.Correct) / float64(r.accum.Seen), LR: lr,
				SamplesPerSec: float64(r.accum.Seen) / max(r.accum.Seconds, 1e-9)}
			if r.hooks.AfterStep != nil {
				if err := r.hooks.AfterStep(r.net, bs); err != nil {
					return nil, err
				}
			}
			if r.hooks.Progress != nil {
				r.hooks.Progress.Batch(bs)
			}
			if r.cfg.CheckpointDir != "" && r.cfg.CheckpointEvery > 0 && (r.batch+1)%r.cfg.CheckpointEvery == 0 && r.batch+1 < nb {
				r.batch++ // the checkpoint resumes at the next batch
				err := r.save()
				r.batch--
				if err != nil {
					return nil, err
				}
			}
			if r.hooks.AfterBatch != nil {
				if err := r.hooks.AfterBatch(bs); err != nil {
					return nil, err
				}
			}
		}
		es, err := r.endEpoch(lr)
		if err != nil {
			return nil, err
		}
		r.history = append(r.history, es)
		if r.hooks.Progress != nil {
			r.hooks.Progress.EndEpoch(es)
		}
		if r.cfg.Patience > 0 && r.badEpochs >= r.cfg.Patience {
			r.stopped = true
		}
		r.batch, r.rng = 0, nil
		if r.cfg.CheckpointDir != "" {
			r.epoch++
			err := r.save()
			r.epoch--
			if err != nil {
				return nil, err
			}
		}
	}
	if r.best != nil && r.cfg.Patience > 0 {
		r.restore(r.best)
	}
	r.net.WriteBack()
	res := &Result{Epochs: r.history, BestEpoch: r.bestEpoch, StoppedEarly: r.stopped, ResumedAt: r.resumedAt,
		TrainSamples: r.d.Train.Len(), Steps: r.step, TrainSeconds: r.trainSeconds}
	if r.trainSeconds > 0 {
		res.SamplesPerSec = float64(r.samples) / r.trainSeconds
	}
	return res, nil
}

// forwardBackward runs the step graph and returns the loss and the number
// of correct predictions in the batch.
func (r *run) forwardBackward(b *Batch) (float64, int, error) {
	lossVal, err := r.st.run()
	if err != nil {
		return 0, 0, fmt.Errorf("train: epoch %d batch %d: %w", r.epoch+1, r.batch, err)
	}
	if math.IsNaN(lossVal) || math.IsInf(lossVal, 0) {
		return 0, 0, fmt.Errorf("train: epoch %d batch %d: loss is %v (learning rate too high?)", r.epoch+1, r.batch, lossVal)
	}
	logits, shape := r.st.logits.buf, r.st.logits.shape
	correct := 0
	c := shape[len(shape)-1]
	for i, l := range b.Labels {
		row := logits[i*c : (i+1)*c]
		best := 0
		for j := range row {
			if row[j] > row[best] {
				best = j
			}
		}
		if best == l {
			correct++
		}
	}
	return lossVal, correct, nil
}

// update applies masks to the gradients, the solver step, the masks to the
// weights, and the running-statistics update.
func (r *run) update(lr float64) error {
	grads, err := r.st.gradients()
	if err != nil {
		return err
	}
	for i, p := range r.st.trainable {
		if mk, ok := r.masks[p]; ok {
			for j, v := range mk {
				grads[i][j] *= v
			}
		}
	}
	if err := r.solver.Step(lr, r.st.trainable, grads); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	applyMasks(r.net, r.masks)
	r.net.updateRunningStats()
	return nil
}

// endEpoch writes the weights back, evaluates, and updates the early
// stopping state.
func (r *run) endEpoch(lr float64) (EpochStats, error) {
	es := EpochStats{Epoch: r.epoch + 1, LR: lr, Seconds: r.accum.Seconds}
	if r.accum.Seen > 0 {
		es.Loss = r.accum.LossSum / float64(r.accum.Seen)
		es.TrainAcc = float64(r.accum.Correct) / float64(r.accum.Seen)
		es.SamplesPerSec = float64(r.accum.Seen) / max(r.accum.Seconds, 1e-9)
	}
	for _, p := range r.net.Params {
		for _, v := range p.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return es, fmt.Errorf("train: epoch %d: parameter %q is %v (learning rate too high?)", r.epoch+1, p.Name, v)
			}
		}
	}
	r.net.WriteBack()
	if r.d.Val != nil {
		acc, err := Evaluate(r.m, r.d.Val, r.cfg.Threads)
		if err != nil {
			return es, fmt.Errorf("train: validation: %w", err)
		}
		es.ValAcc = &acc.Accuracy
		if r.best == nil || acc.Accuracy > r.bestVal {
			r.best, r.bestVal, r.bestEpoch, r.badEpochs = r.snapshot(), acc.Accuracy, r.epoch+1, 0
		} else {
			r.badEpochs++
		}
	}
	if r.d.Test != nil {
		acc, err := Evaluate(r.m, r.d.Test, r.cfg.Threads)
		if err != nil {
			return es, fmt.Errorf("train: test: %w", err)
		}
		es.TestAcc = &acc.Accuracy
	}
	return es, nil
}

// Evaluate measures the top-1 accuracy of m on ds with the CPU runtime.
func Evaluate(m *graph.Model, ds *data.Dataset, threads int) (eval.Result, error) {
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: max(threads, 1)})
	if err != nil {
		return eval.Result{}, err
	}
	return eval.Accuracy(sess, ds, 250)
}

// planar reports whether samples of this shape are one 2-D image (rows x
// cols, leading dimensions of 1), which the shift augmentation moves.
func planar(sample []int) bool {
	return len(sample) >= 2 && tensor.Product(sample[:len(sample)-2]) == 1
}
