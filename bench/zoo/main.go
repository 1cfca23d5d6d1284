// Command zoo runs ONNX's zoo architectures (the "light" files in
// testdata/onnx-light, with their ConstantOfShape weights materialised as
// seeded random initializers) in gcompress and in ONNX Runtime, checks that
// the outputs agree, and times both with the same thread count.
//
//	go run ./bench/zoo -threads 2 -runs 10 -out bench/results/zoo-baseline.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/conformance"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/internal/ortpeer"
	"github.com/gcompress/gcompress/models"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// Result is one model's row.
type Result struct {
	Model     string  `json:"model"`
	Params    int64   `json:"params"`
	OursMS    float64 `json:"ours_median_ms"`
	ORTMS     float64 `json:"ort_median_ms"`
	Ratio     float64 `json:"ratio_ours_over_ort"`
	MaxRelErr float64 `json:"max_err_vs_ort_rel_to_max"`
	Agrees    bool    `json:"agrees_rtol_1e-4"`
}

// Report is the JSON file the harness writes.
type Report struct {
	Machine bench.Machine `json:"machine"`
	Threads int           `json:"threads"`
	Runs    int           `json:"runs"`
	Seed    uint64        `json:"seed"`
	ORT     string        `json:"ort"`
	Results []Result      `json:"results"`
}

func main() {
	threads := flag.Int("threads", 2, "threads for both runtimes")
	runs := flag.Int("runs", 10, "timed runs per model and runtime (after 2 warm-ups)")
	seed := flag.Uint64("seed", 1, "seed for weights and input")
	dir := flag.String("dir", "testdata/onnx-light", "directory of light_*.onnx files")
	only := flag.String("models", "", "comma-separated subset (e.g. resnet50,squeezenet)")
	out := flag.String("out", "", "write the JSON report here")
	flag.Parse()
	rep := Report{Machine: bench.ThisMachine(), Threads: *threads, Runs: *runs, Seed: *seed, ORT: "onnxruntime-node 1.30.0 (libonnxruntime.so.1)"}
	files, _ := filepath.Glob(filepath.Join(*dir, "light_*.onnx"))
	sort.Strings(files)
	failed := false
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "light_"), ".onnx")
		if *only != "" && !contains(strings.Split(*only, ","), name) {
			continue
		}
		r, err := runModel(f, name, *threads, *runs, *seed)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			failed = true
			continue
		}
		fmt.Printf("%-14s params %9d  ours %9.2f ms  ort %9.2f ms  ratio %5.2f  max rel err %.2g  agrees %v\n",
			r.Model, r.Params, r.OursMS, r.ORTMS, r.Ratio, r.MaxRelErr, r.Agrees)
		rep.Results = append(rep.Results, r)
		failed = failed || !r.Agrees
	}
	if *out != "" {
		err := atomicfile.Write(*out, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if failed {
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Tolerances for agreement with ORT, as in models.TestZooModelsAgreeWithORT:
// 1e-4 relative plus 1e-4 of the output's largest magnitude (both float32
// runtimes differ from a float64 evaluation by about that much).
const (
	agreeRtol      = 1e-4
	agreeScaleAtol = 1e-4
)

func runModel(path, name string, threads, runs int, seed uint64) (Result, error) {
	z, err := models.LoadZoo(path, seed, cpu.Backend())
	if err != nil {
		return Result{}, err
	}
	m, raw, inputs := z.Model, z.ONNX, z.Feed
	res := Result{Model: name}
	for _, v := range m.Graph.Initializers {
		res.Params += int64(v.Const.Len())
	}
	ours, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads})
	if err != nil {
		return res, err
	}
	peer, err := ortpeer.NewSession(raw, threads)
	if err != nil {
		return res, err
	}
	defer peer.Close()
	a, err := ours.Run(inputs)
	if err != nil {
		return res, err
	}
	b, err := peer.Run(inputs)
	if err != nil {
		return res, err
	}
	res.Agrees = true
	for i := range a {
		res.MaxRelErr = math.Max(res.MaxRelErr, maxRelErr(a[i], b[i]))
		if compareErr := conformance.Compare(a[i], b[i], agreeRtol, agreeScaleAtol*maxAbs(b[i])); compareErr != nil {
			res.Agrees = false
			fmt.Fprintf(os.Stderr, "%s output %d: %v\n", name, i, compareErr)
		}
	}
	if res.OursMS, err = median(runs, func() error { _, err := ours.Run(inputs); return err }); err != nil {
		return res, err
	}
	if res.ORTMS, err = median(runs, func() error { _, err := peer.Run(inputs); return err }); err != nil {
		return res, err
	}
	res.Ratio = res.OursMS / res.ORTMS
	return res, nil
}

func median(runs int, f func() error) (float64, error) {
	for i := 0; i < 2; i++ {
		if err := f(); err != nil {
			return 0, err
		}
	}
	ms := make([]float64, runs)
	for i := range ms {
		start := time.Now()
		if err := f(); err != nil {
			return 0, err
		}
		ms[i] = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	sort.Float64s(ms)
	return ms[len(ms)/2], nil
}

// maxRelErr is max |a-b| over the elements, relative to max |b|.
func maxRelErr(a, b *tensor.Tensor) float64 {
	var worst float64
	for i := 0; i < min(a.Len(), b.Len()); i++ {
		worst = math.Max(worst, math.Abs(a.Float64At(i)-b.Float64At(i)))
	}
	return worst / math.Max(maxAbs(b), 1e-30)
}

func maxAbs(t *tensor.Tensor) float64 {
	var m float64
	for i := 0; i < t.Len(); i++ {
		m = math.Max(m, math.Abs(t.Float64At(i)))
	}
	return m
}
