package backend

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/gcompress/gcompress/cuda"
)

// OpRuns counts where the runs of one operator type went.
type OpRuns struct {
	Op  string `json:"op"`
	GPU int64  `json:"gpu_runs"`
	CPU int64  `json:"cpu_runs"`
	// GPUNodes and CPUNodes count the nodes placed on each at preparation;
	// Sparse24Nodes those of GPUNodes whose constant weight is 2:4 sparse
	// and runs on the sparse tensor-core GEMMs (with GCOMPRESS_SPARSE24=auto,
	// those that may: Report.Sparse24Auto says which GEMM each ran).
	GPUNodes      int `json:"gpu_nodes"`
	CPUNodes      int `json:"cpu_nodes"`
	Sparse24Nodes int `json:"gpu_nodes_2_4,omitempty"`
}

// Report is the placement and transfer summary of a CUDA session.
type Report struct {
	Device    string         `json:"device"`
	Ops       []OpRuns       `json:"ops"`
	Transfers cuda.Transfers `json:"transfers"`
	Pool      cuda.PoolStats `json:"pool"`
	Constants int64          `json:"constant_bytes"`
	// Sparse24Auto lists the choices GCOMPRESS_SPARSE24=auto made, in the
	// order they were made.
	Sparse24Auto []Sparse24Choice `json:"sparse24_auto,omitempty"`
}

// sortOps orders the per-op rows by total runs, then name.
func (r *Report) sortOps() {
	sort.Slice(r.Ops, func(i, j int) bool {
		a, b := r.Ops[i].GPU+r.Ops[i].CPU, r.Ops[j].GPU+r.Ops[j].CPU
		if a != b {
			return a > b
		}
		return r.Ops[i].Op < r.Ops[j].Op
	})
}

// Write prints the report as a short table.
func (r *Report) Write(w io.Writer) {
	fmt.Fprintf(w, "%s: placement per op type (runs on GPU / CPU)\n", r.Device)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "op\tGPU nodes (2:4)\tCPU nodes\tGPU runs\tCPU runs")
	for _, o := range r.Ops {
		fmt.Fprintf(tw, "%s\t%d (%d)\t%d\t%d\t%d\n", o.Op, o.GPUNodes, o.Sparse24Nodes, o.CPUNodes, o.GPU, o.CPU)
	}
	tw.Flush()
	fmt.Fprintf(w, "transfers: %s; constants on the device: %s\n", r.Transfers, cuda.FormatBytes(r.Constants))
	for _, c := range r.Sparse24Auto {
		kind := "dense"
		if c.Sparse {
			kind = "2:4"
		}
		fmt.Fprintf(w, "2:4 auto: %s %q, %dx%d weight, at %d rows: 2:4 %.3f ms, dense %.3f ms -> %s\n", c.Op, c.Node, c.K, c.N,
			c.Rows, c.SparseMS, c.DenseMS, kind)
	}
}
