// Command gemm times gcompress's GEMM kernels (float32 and INT8) and, when
// built with the openblas tag, OpenBLAS's cblas_sgemm on the same shape
// and thread count in the same process. The runtimes take turns in blocks
// (with a pause between blocks, so that OpenBLAS's spinning worker threads
// are asleep when ours run), and each reports its median.
//
//	go run ./bench/gemm -threads 1,2 -out bench/results/cpu-gemm.json
//	go run -tags openblas ./bench/gemm -threads 1,2 -out bench/results/cpu-gemm.json
//	OPENBLAS_CORETYPE=SkylakeX go run -tags openblas ./bench/gemm ...
//
// Debian's OpenBLAS 0.3.21 picks its kernels by CPU model; on CPUs newer
// than it knows it falls back to an older core (Haswell: AVX2) unless
// OPENBLAS_CORETYPE names one; the report records the core it used.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/internal/atomicfile"
)

// Result is one (implementation, dtype, threads) measurement.
type Result struct {
	Impl     string  `json:"impl"`
	DType    string  `json:"dtype"`
	M        int     `json:"m"`
	N        int     `json:"n"`
	K        int     `json:"k"`
	Threads  int     `json:"threads"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	GOPS     float64 `json:"gops"`
}

// Report is the JSON file.
type Report struct {
	Machine  bench.Machine `json:"machine"`
	Level    string        `json:"cpu_level"`
	OpenBLAS string        `json:"openblas,omitempty"`
	LoadAvg  []float64     `json:"loadavg_1m_before_after"`
	Blocks   int           `json:"blocks"`
	PerBlock int           `json:"runs_per_block"`
	Results  []Result      `json:"results"`
	// Ratios compares implementations measured in the same run.
	Ratios map[string]float64 `json:"ratios"`
}

func main() {
	size := flag.String("size", "1024,1024,1024", "m,n,k")
	threadList := flag.String("threads", "1,2", "comma-separated thread counts")
	blocks := flag.Int("blocks", 5, "blocks of runs per implementation (they alternate)")
	perBlock := flag.Int("runs", 5, "timed runs per block")
	out := flag.String("out", "", "write the JSON report here")
	flag.Parse()
	dims, err := ints(*size)
	if err != nil || len(dims) != 3 {
		fail(fmt.Errorf("-size %q: want m,n,k", *size))
	}
	threads, err := ints(*threadList)
	if err != nil {
		fail(fmt.Errorf("-threads: %v", err))
	}
	m, n, k := dims[0], dims[1], dims[2]
	lvl, _ := cpu.ActiveCPULevel()
	rep := Report{Machine: bench.ThisMachine(), Level: lvl.String(), OpenBLAS: openblasInfo(),
		Blocks: *blocks, PerBlock: *perBlock, Ratios: map[string]float64{}, LoadAvg: []float64{bench.LoadAvg1()}}
	for _, t := range threads {
		type impl struct {
			name, dtype string
			run         func() error
		}
		var impls []impl
		for _, dt := range []string{"f32", "int8"} {
			b, err := cpu.NewGEMMBench(dt, m, n, k, t, 1)
			if err != nil {
				fail(err)
			}
			impls = append(impls, impl{"gcompress", dt, b.Run})
		}
		if run := openblasSgemm(m, n, k, t); run != nil {
			impls = append(impls, impl{"openblas", "f32", run})
		}
		times := make([][]float64, len(impls))
		for _, im := range impls { // warm up (and check) each once
			if err := im.run(); err != nil {
				fail(err)
			}
		}
		for b := 0; b < *blocks; b++ {
			for i, im := range impls {
				time.Sleep(200 * time.Millisecond)
				for r := 0; r < *perBlock; r++ {
					start := time.Now()
					if err := im.run(); err != nil {
						fail(err)
					}
					times[i] = append(times[i], float64(time.Since(start).Nanoseconds())/1e6)
				}
			}
		}
		med := map[string]float64{}
		for i, im := range impls {
			s := append([]float64(nil), times[i]...)
			sort.Float64s(s)
			r := Result{Impl: im.name, DType: im.dtype, M: m, N: n, K: k, Threads: t, MedianMS: s[len(s)/2], MinMS: s[0]}
			r.GOPS = 2 * float64(m) * float64(n) * float64(k) / (r.MedianMS * 1e6)
			rep.Results = append(rep.Results, r)
			med[im.name+"/"+im.dtype] = r.GOPS
			fmt.Printf("%-9s %-4s %dx%dx%d threads %d: median %8.3f ms (min %8.3f)  %7.1f GOP/s\n",
				im.name, im.dtype, m, n, k, t, r.MedianMS, r.MinMS, r.GOPS)
		}
		if o := med["openblas/f32"]; o > 0 {
			rep.Ratios[fmt.Sprintf("f32_gcompress_over_openblas_threads%d", t)] = med["gcompress/f32"] / o
		}
		rep.Ratios[fmt.Sprintf("int8_over_f32_gcompress_threads%d", t)] = med["gcompress/int8"] / med["gcompress/f32"]
	}
	rep.LoadAvg = append(rep.LoadAvg, bench.LoadAvg1())
	for k, v := range rep.Ratios {
		fmt.Printf("%s = %.2f\n", k, v)
	}
	if *out != "" {
		err := atomicfile.Write(*out, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		})
		if err != nil {
			fail(err)
		}
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gemm:", err)
	os.Exit(1)
}
