package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/compress/distill"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/train"
)

// distillSummary is the JSON document of `distill --json`.
type distillSummary struct {
	trainSummary
	Teacher         string  `json:"teacher"`
	StudentArch     string  `json:"student_arch,omitempty"`
	Student         string  `json:"student,omitempty"`
	Temperature     float64 `json:"temperature"`
	Alpha           float64 `json:"alpha"`
	TeacherAccuracy float64 `json:"teacher_accuracy,omitempty"`
	TeacherLogits   string  `json:"teacher_logits"`
	TeacherSeconds  float64 `json:"teacher_seconds"`
	TeacherSamples  int     `json:"teacher_samples"`
}

func newDistillCmd(g *globals) *cobra.Command {
	o := &trainOpts{}
	var teacher, student, studentArch string
	var temperature, alpha float64
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "cpu"},
		Use:         "distill --teacher T.onnx (--student S.onnx | --student-arch NAME) --data DIR -o OUT.onnx",
		Short:       "Train a student model to match a teacher's softened outputs (knowledge distillation)",
		Long: `Knowledge distillation (Hinton et al., 2015): trains the student on

  L = alpha T^2 KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) CE(s, y)

with teacher logits t, student logits s, temperature T and labels y. The
teacher runs on gcompress's runtime (any ONNX model it can run); the student
trains on gorgonia, as in 'gcompress train' (same flags, checkpoints and
resume). Without augmentation (--shift 0, the default for the zoo students)
the teacher's logits for the training set are computed once; with it they
are computed for every batch on the shifted images.

The student is a zoo architecture (--student-arch, seeded) or an ONNX model
(--student).

Tuning on --val-fraction: the held-out digits depend on --seed, and a teacher
trained on the whole training split has seen them, so its soft targets leak
them into the student and the validation error looks better than the test
error will. Train the teacher with the same --val-fraction and --seed.`,
		Example: `  gcompress distill --teacher teacher.onnx --student-arch mlp-800-800 --data data/mnist -o student.onnx
  gcompress distill --teacher lenet5.onnx --student-arch mlp-30-30 --data data/mnist --temperature 4 --alpha 0.9 --seed 2 -o s.onnx --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			yieldToFlags(cmd.Flags(), "student-arch", &studentArch, "student")
			yieldToFlags(cmd.Flags(), "student", &student, "student-arch")
			return runDistill(cmd.OutOrStdout(), g, o, teacher, student, studentArch, temperature, alpha)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&teacher, "teacher", "", "teacher ONNX model")
	fl.StringVar(&student, "student", "", "student ONNX model (initial weights)")
	fl.StringVar(&studentArch, "student-arch", "", "student zoo architecture")
	fl.Float64Var(&temperature, "temperature", 4, "softmax temperature T")
	fl.Float64Var(&alpha, "alpha", 0.9, "weight of the soft-target term")
	addTrainFlags(fl, o)
	return cmd
}

func runDistill(w io.Writer, g *globals, o *trainOpts, teacherPath, studentPath, arch string, temperature, alpha float64) error {
	start := time.Now()
	switch {
	case teacherPath == "":
		return usagef("--teacher T.onnx is required")
	case (studentPath == "") == (arch == ""):
		return usagef("give exactly one of --student S.onnx and --student-arch NAME")
	case o.out == "":
		return usagef("-o OUT.onnx is required")
	case !(temperature > 0) || math.IsInf(temperature, 0):
		return usagef("--temperature must be positive")
	case !(alpha >= 0 && alpha <= 1):
		return usagef("--alpha must be in [0, 1]")
	}
	if err := checkOutputs([]string{teacherPath, studentPath}, o.out); err != nil {
		return err
	}
	teacher, err := loadModel(teacherPath)
	if err != nil {
		return err
	}
	var student *graph.Model
	r := genericRecipe
	if arch != "" {
		if rr, ok := recipes[arch]; ok {
			r = rr
		}
		if student, err = models.Build(arch, o.seed); err != nil {
			return usageError{err}
		}
	} else if student, err = loadModel(studentPath); err != nil {
		return err
	}
	cfg, err := o.config(r)
	if err != nil {
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
	s := &distillSummary{Teacher: teacherPath, StudentArch: arch, Student: studentPath, Temperature: temperature, Alpha: alpha}
	label := arch
	if label == "" {
		label = filepath.Base(studentPath)
	}
	gpu := startGPUMonitor()
	pr := newProgress("distill " + label)
	res, err := distill.Run(teacher, student, d, cfg, distill.Options{T: temperature, Alpha: alpha,
		Threads: cfg.Threads, Hooks: train.Hooks{Progress: pr}})
	pr.done()
	gs := gpu.stop()
	if err != nil {
		return err
	}
	if err := o.finish(student, cfg); err != nil {
		return err
	}
	s.trainSummary = trainSummary{Arch: arch, Output: o.out, Seed: o.seed, Config: cfg, TrainSamples: d.Train.Len(),
		TestSplit: o.testSplit, SamplesPerSec: res.SamplesPerSec, TrainSeconds: res.TrainSeconds,
		Threads: cfg.Threads, Result: res.Result, GPU: gs, Params: paramCount(student.Graph)}
	if d.Val != nil {
		s.ValSamples = d.Val.Len()
	}
	if res.TeacherAccuracy != nil {
		s.TeacherAccuracy = *res.TeacherAccuracy
	}
	s.TeacherLogits, s.TeacherSeconds, s.TeacherSamples = res.TeacherLogits, res.TeacherSeconds, res.TeacherSamples
	if err := finalTest(&s.trainSummary, student, d, cfg.Threads); err != nil {
		return err
	}
	s.WallSeconds = time.Since(start).Seconds()
	if o.asJSON {
		return printJSON(w, s)
	}
	if err := printSummary(w, &s.trainSummary, false, "distill"); err != nil {
		return err
	}
	fmt.Fprintf(w, "teacher %s: test accuracy %.2f%%; T = %g, alpha = %g; teacher logits %s (%.1f s)\n",
		teacherPath, 100*s.TeacherAccuracy, temperature, alpha, s.TeacherLogits, s.TeacherSeconds)
	return nil
}
