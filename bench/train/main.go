// Command train runs the training and distillation experiments of
// docs/RESULTS.md ("Training and distillation (issue 5)") by invoking the
// gcompress binary, one `gcompress train` / `gcompress distill` command per
// run, and aggregates their JSON summaries:
//
//   - LeNet-5 and LeNet-300-100 trained on the 7,000-digit split, per seed;
//   - the distillation experiment of Hinton et al. (2015) scaled to our
//     data: a teacher mlp-1200-1200 (dropout, +-2 px jitter), and students
//     mlp-800-800 and mlp-30-30 trained from scratch and distilled at each
//     temperature (alpha fixed), per seed; errors as mean +- sd over the
//     seeds and the share of the scratch-to-teacher gap each T closes.
//
// Finished runs are kept in the work directory (one JSON file each), so an
// interrupted grid continues where it stopped. The result goes to -out as
// JSON with machine information, plus a Markdown table next to it.
//
//	go run ./bench/train -bin bin/gcompress -data data/mnist -out bench/results/train-distill.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/internal/atomicfile"
)

// runResult is what the grid keeps of one command.
type runResult struct {
	Name          string    `json:"name"`
	Command       string    `json:"command"`
	TestError     float64   `json:"test_error"`
	SamplesPerSec float64   `json:"samples_per_sec"`
	TrainSeconds  float64   `json:"train_seconds"`
	WallSeconds   float64   `json:"wall_seconds"`
	Epochs        int       `json:"epochs"`
	Params        int64     `json:"params"`
	Curve         []float64 `json:"test_error_per_epoch"`
}

// stat is mean +- sample standard deviation over seeds.
type stat struct {
	Mean float64   `json:"mean"`
	SD   float64   `json:"sd"`
	N    int       `json:"n"`
	Runs []float64 `json:"runs"`
}

func summarize(v []float64) stat {
	s := stat{N: len(v), Runs: v}
	for _, x := range v {
		s.Mean += x
	}
	s.Mean /= float64(len(v))
	if len(v) > 1 {
		var q float64
		for _, x := range v {
			q += (x - s.Mean) * (x - s.Mean)
		}
		s.SD = math.Sqrt(q / float64(len(v)-1))
	}
	return s
}

type studentRow struct {
	Student     string  `json:"student"`
	Method      string  `json:"method"` // "scratch" or "distilled T=<T>"
	Temperature float64 `json:"temperature,omitempty"`
	Error       stat    `json:"test_error"`
	// GapClosed is (scratch mean - this mean) / (scratch mean - teacher),
	// absent when the scratch student is already as good as the teacher.
	GapClosed *float64 `json:"gap_closed,omitempty"`
}

type report struct {
	Machine      bench.Machine         `json:"machine"`
	Binary       string                `json:"binary"`
	Data         string                `json:"data"`
	Seeds        []uint64              `json:"seeds"`
	Alpha        float64               `json:"alpha"`
	Temperatures []float64             `json:"temperatures"`
	Baselines    map[string]stat       `json:"baselines"` // test error per arch
	Throughput   map[string]float64    `json:"samples_per_sec"`
	Teacher      *runResult            `json:"teacher"`
	Students     []studentRow          `json:"students"`
	Runs         map[string]*runResult `json:"runs"`
	WallSeconds  float64               `json:"wall_seconds"`
	// RunSeconds sums the wall time of every run (the grid's cost when
	// nothing was cached).
	RunSeconds float64                `json:"run_seconds"`
	Extra      map[string]interface{} `json:"extra,omitempty"`
}

type grid struct {
	bin, data, work string
	runs            map[string]*runResult
}

// run executes one gcompress command (unless its result is already in the
// work directory) and returns its summary.
func (g *grid) run(name string, args ...string) (*runResult, error) {
	resPath := filepath.Join(g.work, name+".result.json")
	if b, err := os.ReadFile(resPath); err == nil {
		var r runResult
		if json.Unmarshal(b, &r) == nil && r.Name == name {
			log.Printf("%s: done earlier (test error %.2f%%)", name, 100*r.TestError)
			g.runs[name] = &r
			return &r, nil
		}
	}
	args = append(args, "--json")
	cmdline := "gcompress " + strings.Join(args, " ")
	log.Printf("%s: %s", name, cmdline)
	cmd := exec.Command(g.bin, args...)
	logf, err := os.Create(filepath.Join(g.work, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd.Stderr = logf
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v (see %s)", name, err, logf.Name())
	}
	var s struct {
		TestError     *float64 `json:"test_error"`
		SamplesPerSec float64  `json:"samples_per_sec"`
		TrainSeconds  float64  `json:"train_seconds"`
		WallSeconds   float64  `json:"wall_seconds"`
		Params        int64    `json:"params"`
		Result        struct {
			History []struct {
				TestAcc *float64 `json:"test_accuracy"`
			} `json:"history"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &s); err != nil || s.TestError == nil {
		return nil, fmt.Errorf("%s: unreadable summary %q: %v", name, out, err)
	}
	r := &runResult{Name: name, Command: cmdline, TestError: *s.TestError, SamplesPerSec: s.SamplesPerSec,
		TrainSeconds: s.TrainSeconds, WallSeconds: s.WallSeconds, Epochs: len(s.Result.History), Params: s.Params}
	for _, h := range s.Result.History {
		if h.TestAcc != nil {
			r.Curve = append(r.Curve, 1-*h.TestAcc)
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := atomicfile.Write(resPath, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return nil, err
	}
	log.Printf("%s: test error %.2f%%, %.0f samples/s, %.0f s", name, 100*r.TestError, r.SamplesPerSec, r.WallSeconds)
	g.runs[name] = r
	return r, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func main() {
	bin := flag.String("bin", "bin/gcompress", "gcompress binary")
	dataDir := flag.String("data", "data/mnist", "dataset directory")
	out := flag.String("out", "bench/results/train-distill.json", "result JSON (a .md table is written beside it)")
	work := flag.String("work", filepath.Join(os.TempDir(), "gcompress-repro-train"), "directory for models, logs and per-run results")
	seedsFlag := flag.String("seeds", "1,2,3", "seeds")
	tempsFlag := flag.String("temperatures", "2,4,8,20", "distillation temperatures")
	alpha := flag.Float64("alpha", 0.9, "weight of the soft targets")
	teacherSeed := flag.Uint64("teacher-seed", 1, "seed of the teacher")
	teacherEpochs := flag.Int("teacher-epochs", 0, "teacher epochs (0: the recipe's)")
	teacherLR := flag.Float64("teacher-lr", 0, "teacher learning rate (0: the recipe's)")
	studentEpochs := flag.Int("student-epochs", 0, "student epochs (0: the recipe's)")
	skipLeNet := flag.Bool("skip-lenet", false, "skip the LeNet runs")
	jitter := flag.Bool("jitter", true, "also train every student with +-2 px jitter (scratch, and distilled on the jittered transfer set with per-batch teacher logits)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	start := time.Now()
	seedF, err := parseFloats(*seedsFlag)
	if err != nil {
		log.Fatalf("-seeds: %v", err)
	}
	var seeds []uint64
	for _, s := range seedF {
		seeds = append(seeds, uint64(s))
	}
	temps, err := parseFloats(*tempsFlag)
	if err != nil {
		log.Fatalf("-temperatures: %v", err)
	}
	if err := os.MkdirAll(*work, 0o755); err != nil {
		log.Fatal(err)
	}
	absBin, _ := filepath.Abs(*bin)
	g := &grid{bin: absBin, data: *dataDir, work: *work, runs: map[string]*runResult{}}
	rep := &report{Machine: bench.ThisMachine(), Binary: *bin, Data: *dataDir, Seeds: seeds, Alpha: *alpha,
		Temperatures: temps, Baselines: map[string]stat{}, Throughput: map[string]float64{}, Runs: g.runs}
	model := func(name string) string { return filepath.Join(*work, name+".onnx") }
	seedArg := func(s uint64) string { return strconv.FormatUint(s, 10) }
	epochArgs := func(n int) []string {
		if n > 0 {
			return []string{"--epochs", strconv.Itoa(n)}
		}
		return nil
	}

	if !*skipLeNet {
		for _, arch := range []string{"lenet5", "lenet-300-100"} {
			var errs []float64
			for _, s := range seeds {
				name := fmt.Sprintf("%s-s%d", arch, s)
				r, err := g.run(name, "train", "--arch", arch, "--data", *dataDir, "--seed", seedArg(s), "-o", model(name))
				if err != nil {
					log.Fatal(err)
				}
				errs = append(errs, r.TestError)
				rep.Throughput[arch] = r.SamplesPerSec
			}
			rep.Baselines[arch] = summarize(errs)
		}
	}

	tName := fmt.Sprintf("teacher-mlp-1200-1200-s%d", *teacherSeed)
	targs := []string{"train", "--arch", "mlp-1200-1200", "--data", *dataDir, "--seed", seedArg(*teacherSeed), "-o", model(tName)}
	targs = append(targs, epochArgs(*teacherEpochs)...)
	if *teacherLR > 0 {
		targs = append(targs, "--lr", strconv.FormatFloat(*teacherLR, 'g', -1, 64))
	}
	teacher, err := g.run(tName, targs...)
	if err != nil {
		log.Fatal(err)
	}
	rep.Teacher = teacher
	rep.Throughput["mlp-1200-1200"] = teacher.SamplesPerSec

	variants := []struct {
		suffix, label string
		extra         []string
	}{{"", "", nil}}
	if *jitter {
		variants = append(variants, struct {
			suffix, label string
			extra         []string
		}{"-jitter", ", +-2 px jitter", []string{"--shift", "2"}})
	}
	for _, student := range []string{"mlp-800-800", "mlp-30-30"} {
		for _, v := range variants {
			var scratch []float64
			for _, s := range seeds {
				name := fmt.Sprintf("%s-scratch%s-s%d", student, v.suffix, s)
				args := append([]string{"train", "--arch", student, "--data", *dataDir, "--seed", seedArg(s), "-o", model(name)}, epochArgs(*studentEpochs)...)
				r, err := g.run(name, append(args, v.extra...)...)
				if err != nil {
					log.Fatal(err)
				}
				scratch = append(scratch, r.TestError)
				if v.suffix == "" {
					rep.Throughput[student] = r.SamplesPerSec
				}
			}
			sc := summarize(scratch)
			rep.Students = append(rep.Students, studentRow{Student: student, Method: "scratch" + v.label, Error: sc})
			for _, T := range temps {
				var errs []float64
				for _, s := range seeds {
					name := fmt.Sprintf("%s-distill%s-T%g-s%d", student, v.suffix, T, s)
					args := append([]string{"distill", "--teacher", model(tName), "--student-arch", student, "--data", *dataDir,
						"--temperature", strconv.FormatFloat(T, 'g', -1, 64), "--alpha", strconv.FormatFloat(*alpha, 'g', -1, 64),
						"--seed", seedArg(s), "-o", model(name)}, epochArgs(*studentEpochs)...)
					r, err := g.run(name, append(args, v.extra...)...)
					if err != nil {
						log.Fatal(err)
					}
					errs = append(errs, r.TestError)
				}
				st := summarize(errs)
				row := studentRow{Student: student, Method: fmt.Sprintf("distilled T=%g%s", T, v.label), Temperature: T, Error: st}
				// The gap is defined only when the teacher beats the scratch student.
				if gap := sc.Mean - teacher.TestError; gap > 0 {
					closed := (sc.Mean - st.Mean) / gap
					row.GapClosed = &closed
				}
				rep.Students = append(rep.Students, row)
			}
		}
	}
	rep.WallSeconds = time.Since(start).Seconds()
	for _, r := range g.runs {
		rep.RunSeconds += r.WallSeconds
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := atomicfile.Write(*out, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		log.Fatal(err)
	}
	md := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".md"
	if err := atomicfile.Write(md, func(w io.Writer) error { return writeMarkdown(w, rep) }); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s and %s (%.0f s)", *out, md, rep.WallSeconds)
}

func pct(s stat) string { return fmt.Sprintf("%.2f +- %.2f %%", 100*s.Mean, 100*s.SD) }

func writeMarkdown(w io.Writer, rep *report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s, %d cores. Seeds %v. %d runs, %.0f s of run wall time.\n\n", rep.Machine.CPU, rep.Machine.Cores, rep.Seeds, len(rep.Runs), rep.RunSeconds)
	if len(rep.Baselines) > 0 {
		b.WriteString("| model | test error (mean +- sd) | runs | training samples/s |\n|---|---:|---|---:|\n")
		for _, arch := range []string{"lenet5", "lenet-300-100"} {
			if s, ok := rep.Baselines[arch]; ok {
				fmt.Fprintf(&b, "| %s | %s | %v | %.0f |\n", arch, pct(s), fmtRuns(s.Runs), rep.Throughput[arch])
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Teacher mlp-1200-1200: test error %.2f %% (%d epochs, %.0f samples/s).\n\n", 100*rep.Teacher.TestError, rep.Teacher.Epochs, rep.Teacher.SamplesPerSec)
	fmt.Fprintf(&b, "| student | training | test error (mean +- sd) | runs | gap closed |\n|---|---|---:|---|---:|\n")
	for _, r := range rep.Students {
		gap := ""
		switch {
		case r.GapClosed != nil:
			gap = fmt.Sprintf("%.0f %%", 100**r.GapClosed)
		case r.Temperature > 0:
			gap = "n/a (scratch <= teacher)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %v | %s |\n", r.Student, r.Method, pct(r.Error), fmtRuns(r.Error.Runs), gap)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtRuns(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", 100*x)
	}
	return strings.Join(parts, ", ")
}
