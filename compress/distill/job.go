package distill

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/train"
)

// Options configure a distillation job.
type Options struct {
	// T is the softmax temperature, Alpha the weight of the soft targets.
	T, Alpha float64
	// Threads for the teacher's (and evaluation's) runtime sessions.
	Threads int
	// Hooks are passed to train.Train (their Loss is replaced by the KD
	// loss); Progress, masks, frozen layers and the rest work as there.
	Hooks train.Hooks
}

// Result reports a distillation job.
type Result struct {
	*train.Result
	// TeacherAccuracy is the teacher's test accuracy (when d.Test is set).
	TeacherAccuracy *float64 `json:"teacher_accuracy,omitempty"`
	// TeacherLogits says how the teacher's logits were produced.
	TeacherLogits  string  `json:"teacher_logits"`
	TeacherSeconds float64 `json:"teacher_seconds"`
	TeacherSamples int     `json:"teacher_samples"`
}

// Run distils teacher into student: the student (modified in place) trains
// with cfg on d under the KD loss, with teacher logits from gcompress's
// runtime, computed once when cfg.Shift is 0 (the transfer set is the
// fixed training set) and per batch otherwise.
func Run(teacher, student *graph.Model, d train.Data, cfg train.Config, opts Options) (*Result, error) {
	if d.Train == nil {
		return nil, fmt.Errorf("distill: no training data")
	}
	res := &Result{}
	if d.Test != nil {
		acc, err := train.Evaluate(teacher, d.Test, opts.Threads)
		if err != nil {
			return nil, fmt.Errorf("distill: teacher: %w", err)
		}
		res.TeacherAccuracy = &acc.Accuracy
	}
	t, err := NewTeacher(teacher, opts.Threads, d.Train.Sample())
	if err != nil {
		return nil, err
	}
	res.TeacherLogits = "per batch (augmented inputs change every epoch)"
	if cfg.Shift == 0 {
		if err := t.Precompute(d.Train); err != nil {
			return nil, err
		}
		res.TeacherLogits = "computed once for the training set (no augmentation)"
	}
	hooks := opts.Hooks
	hooks.Loss = &Loss{T: float32(opts.T), Alpha: float32(opts.Alpha), Teacher: t.Logits}
	tr, err := train.Train(student, d, cfg, hooks)
	if err != nil {
		return nil, err
	}
	res.Result = tr
	res.TeacherSeconds, res.TeacherSamples = t.Seconds, t.Samples
	return res, nil
}
