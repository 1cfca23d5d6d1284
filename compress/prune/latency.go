package prune

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// LatencyResult compares the run time of two models (a dense one and its
// pruned version) measured with the CPU runtime, runs alternating between
// the two so that load on the machine affects both alike.
type LatencyResult struct {
	Batch   int `json:"batch"`
	Threads int `json:"threads"`
	Runs    int `json:"runs"`
	// Medians over the timed runs, in milliseconds.
	BeforeMS float64 `json:"before_ms"`
	AfterMS  float64 `json:"after_ms"`
	// Ratio is AfterMS / BeforeMS.
	Ratio float64 `json:"ratio"`
	// LoadAvg is the 1-minute load average before and after the
	// measurement (the machine may be shared).
	LoadAvgBefore float64 `json:"loadavg_before"`
	LoadAvgAfter  float64 `json:"loadavg_after"`
	// PerNode are the medians of each node's time (optimized graphs, as the
	// runtime ran them), in microseconds, by node name.
	PerNodeBefore map[string]NodeLatency `json:"per_node_before"`
	PerNodeAfter  map[string]NodeLatency `json:"per_node_after"`
}

// NodeLatency is one node's median time and the op that ran it.
type NodeLatency struct {
	Op string  `json:"op"`
	US float64 `json:"us"`
}

// inputFor returns seeded uniform [0, 1) data for the single non-constant
// input of m, its symbolic batch dimension set to batch.
func inputFor(m *graph.Model, batch int, seed uint64) (map[string]*tensor.Tensor, error) {
	var in *graph.Value
	for _, v := range m.Graph.Inputs {
		if v.Const == nil {
			if in != nil {
				return nil, fmt.Errorf("latency: the model has several inputs")
			}
			in = v
		}
	}
	if in == nil || !in.HasShape || in.DType != tensor.Float32 {
		return nil, fmt.Errorf("latency: the model needs one float32 input with a declared shape")
	}
	shape := make([]int, len(in.Shape))
	for i, d := range in.Shape {
		switch {
		case d.Known():
			shape[i] = int(d.Size)
		case i == 0:
			shape[i] = batch
		default:
			return nil, fmt.Errorf("latency: input %q dimension %d is symbolic", in.Name, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 17))
	x := make([]float32, tensor.Product(shape))
	for i := range x {
		x[i] = rng.Float32()
	}
	return map[string]*tensor.Tensor{in.Name: tensor.FromSlice(shape, x)}, nil
}

// Latency times before and after at the given batch with the CPU backend
// (load-time passes on, so sparse weights run the kernels the break-even
// table picks): 10 warm-up runs each, then runs timed alternately, and a
// second pass with per-node profiling for the per-node medians.
func Latency(before, after *graph.Model, batch, threads, runs int) (*LatencyResult, error) {
	if runs < 1 || batch < 1 {
		return nil, fmt.Errorf("latency: need runs >= 1 and batch >= 1")
	}
	r := &LatencyResult{Batch: batch, Threads: max(threads, 1), Runs: runs, LoadAvgBefore: bench.LoadAvg1()}
	sessions := make([]*runtime.Session, 2)
	feeds := make([]map[string]*tensor.Tensor, 2)
	for i, m := range []*graph.Model{before, after} {
		s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: r.Threads})
		if err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
		if feeds[i], err = inputFor(m, batch, 1); err != nil {
			return nil, err
		}
		sessions[i] = s
	}
	times := [2][]float64{}
	for i := 0; i < 10; i++ {
		for j, s := range sessions {
			if _, err := s.Run(feeds[j]); err != nil {
				return nil, fmt.Errorf("latency: %w", err)
			}
		}
	}
	for i := 0; i < runs; i++ {
		for j, s := range sessions {
			t0 := time.Now()
			if _, err := s.Run(feeds[j]); err != nil {
				return nil, fmt.Errorf("latency: %w", err)
			}
			times[j] = append(times[j], float64(time.Since(t0).Nanoseconds())/1e6)
		}
	}
	r.BeforeMS, r.AfterMS = bench.Summarize(times[0], 0).MedianMS, bench.Summarize(times[1], 0).MedianMS
	if r.BeforeMS > 0 {
		r.Ratio = r.AfterMS / r.BeforeMS
	}
	var err error
	if r.PerNodeBefore, err = perNode(before, feeds[0], r.Threads, max(runs/2, 10)); err != nil {
		return nil, err
	}
	if r.PerNodeAfter, err = perNode(after, feeds[1], r.Threads, max(runs/2, 10)); err != nil {
		return nil, err
	}
	r.LoadAvgAfter = bench.LoadAvg1()
	return r, nil
}

// perNode runs m with profiling, one session per run so the profile holds
// one call per node, and returns each node's median.
func perNode(m *graph.Model, feed map[string]*tensor.Tensor, threads, runs int) (map[string]NodeLatency, error) {
	s, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: threads, Profile: true})
	if err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	samples := map[string][]float64{}
	ops := map[string]string{}
	var last map[string]time.Duration
	for i := 0; i < runs+5; i++ {
		if _, err := s.Run(feed); err != nil {
			return nil, fmt.Errorf("latency: %w", err)
		}
		cur := map[string]time.Duration{}
		for _, n := range s.Profile().Nodes {
			cur[n.Name] = n.Total
			ops[n.Name] = n.Op
			if i >= 5 {
				samples[n.Name] = append(samples[n.Name], float64((n.Total-last[n.Name]).Nanoseconds())/1e3)
			}
		}
		last = cur
	}
	out := map[string]NodeLatency{}
	for name, v := range samples {
		out[name] = NodeLatency{Op: ops[name], US: bench.Summarize(v, 0).MedianMS}
	}
	return out, nil
}
