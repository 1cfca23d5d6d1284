package prune

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/train"
)

// LayerReport is one prunable layer after pruning: Params weights of
// shape ShapeBefore before (channel pruning only; others keep the shape),
// Kept weights of shape Shape after.
type LayerReport struct {
	Node        string  `json:"node"`
	Weight      string  `json:"weight"`
	Op          string  `json:"op"`
	Shape       []int   `json:"shape"`
	ShapeBefore []int   `json:"shape_before,omitempty"`
	Params      int     `json:"params"`
	Kept        int     `json:"kept"`
	Sparsity    float64 `json:"sparsity"`
	// Kernel is what the runtime runs the layer with at batch 1 (dense,
	// csr or 2:4, from the measured break-even table) and Bits the storage
	// of that format per original weight (dense 32; CSR 64 per non-zero
	// plus 32 per row pointer, rows + 1 of them; 2:4, over K padded to a
	// multiple of 8, 32 per kept value slot plus 4 per group of four).
	Kernel string  `json:"kernel_batch1"`
	Bits   float64 `json:"bits_per_weight"`
	// BeforeUS and AfterUS are the layer's measured median time at batch 1
	// (0 when not measured).
	BeforeUS float64 `json:"before_us,omitempty"`
	AfterUS  float64 `json:"after_us,omitempty"`
}

// Accuracy is a test-set evaluation.
type Accuracy struct {
	Split    string  `json:"split"`
	Samples  int     `json:"samples"`
	Accuracy float64 `json:"accuracy"`
	Error    float64 `json:"error"`
}

// Report is what `gcompress prune` prints and writes.
type Report struct {
	Model    string  `json:"model"`
	Output   string  `json:"output"`
	Method   string  `json:"method"`
	Target   float64 `json:"target_sparsity"`
	Sparsity float64 `json:"sparsity"`
	// Params and Kept count the weights of the prunable layers.
	Params int `json:"params"`
	Kept   int `json:"kept"`
	// TotalParams counts every initializer element before and after.
	TotalParamsBefore int64              `json:"total_params_before"`
	TotalParamsAfter  int64              `json:"total_params_after"`
	Layers            []LayerReport      `json:"layers"`
	Structured        *StructuredResult  `json:"structured,omitempty"`
	Sensitivity       []LayerSensitivity `json:"sensitivity,omitempty"`
	Rounds            []RoundResult      `json:"rounds,omitempty"`
	Gradual           []GradualEvent     `json:"gradual,omitempty"`
	Retrain           *train.Result      `json:"retrain,omitempty"`
	Before            *Accuracy          `json:"accuracy_before,omitempty"`
	After             *Accuracy          `json:"accuracy_after,omitempty"`
	// Agreement compares the pruned model's logits under the sparse
	// kernels with the dense path (2:4 and CSR against dense).
	Agreement []KernelAgreement `json:"kernel_agreement,omitempty"`
	ORT       *ORTCheck         `json:"ort,omitempty"`
	Latency   []*LatencyResult  `json:"latency"`
	Warnings  []string          `json:"warnings,omitempty"`
	Machine   bench.Machine     `json:"machine"`
	Seconds   float64           `json:"seconds"`
}

// KernelAgreement is the largest logit difference between a sparse kernel
// and the dense kernel on the same inputs.
type KernelAgreement struct {
	Kernel     string  `json:"kernel"`
	Samples    int     `json:"samples"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	MaxLogit   float64 `json:"max_abs_logit"`
	SameTop1   bool    `json:"same_top1"`
}

// ORTCheck is the pruned ONNX run in ONNX Runtime against gcompress.
type ORTCheck struct {
	Samples    int     `json:"samples"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	MaxLogit   float64 `json:"max_abs_logit"`
}

// LayerReports describes the prunable layers of m (after pruning): kept
// weights, the kernel the runtime picks at batch 1 and its storage.
func LayerReports(m *graph.Model) []LayerReport {
	c := passes.Clone(m)
	for _, v := range c.Graph.Inputs {
		for i, d := range v.Shape {
			if !d.Known() {
				v.Shape[i] = graph.Dim{Size: 1}
			}
		}
	}
	for _, n := range c.Graph.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				v.Shape, v.HasShape = nil, false
			}
		}
	}
	_ = graph.InferShapes(c.Graph)
	var out []LayerReport
	for _, l := range Layers(c) {
		w := l.Weight.Const.F32()
		kept := 0
		for _, v := range w {
			if v != 0 {
				kept++
			}
		}
		r := LayerReport{Node: l.Node.Name, Weight: l.Name(), Op: l.Node.OpType, Shape: l.Weight.Const.Shape(),
			Params: l.Params(), Kept: kept, Kernel: "dense", Bits: 32}
		if r.Params > 0 {
			r.Sparsity = 1 - float64(kept)/float64(r.Params)
		}
		n := 1
		if l.Node.OpType == "Conv" {
			if s, ok := l.Node.Outputs[0].ConcreteShape(); ok && len(s) > 2 {
				n = 1
				for _, d := range s[2:] {
					n *= d
				}
			}
		}
		// The nodes graph/passes.SparsifyWeights turns into sparse ops.
		eligible := r.Sparsity >= passes.SparseMinSparsity && l.Node.AttrInt("group", 1) == 1 &&
			(l.Node.OpType != "Gemm" || l.Node.AttrInt("transA", 0) == 0 && l.Node.AttrFloat("alpha", 1) == 1) &&
			(l.Node.OpType != "Conv" || l.Weight.Const.Rank() == 4) && l.Node.OpType != "MatMul"
		dense := make([]float32, l.Rows*l.Cols)
		for i := 0; i < l.Rows; i++ {
			for p := 0; p < l.Cols; p++ {
				dense[i*l.Cols+p] = w[l.Index(i, p)]
			}
		}
		_, err24 := cpu.NewSparse24F32(l.Rows, l.Cols, dense, l.Cols)
		if eligible {
			switch cpu.ChooseSparseKernel(l.Node.OpType == "Conv", l.Rows, l.Cols, n, 1-r.Sparsity, err24 == nil) {
			case cpu.KernelCSR:
				r.Kernel = "csr"
				r.Bits = (64*float64(kept) + 32*float64(l.Rows+1)) / float64(r.Params)
			case cpu.Kernel24:
				r.Kernel = "2:4"
				cols8 := (l.Cols + 7) / 8 * 8
				r.Bits = float64(l.Rows*(cols8/2*32+cols8/4*4)) / float64(r.Params)
			}
		}
		out = append(out, r)
	}
	return out
}

// AttachLatency fills the per-layer times from a batch-1 measurement.
func AttachLatency(layers []LayerReport, lat *LatencyResult) {
	if lat == nil {
		return
	}
	for i := range layers {
		if v, ok := lat.PerNodeBefore[layers[i].Node]; ok {
			layers[i].BeforeUS = v.US
		}
		if v, ok := lat.PerNodeAfter[layers[i].Node]; ok {
			layers[i].AfterUS = v.US
		}
	}
}

// WriteMarkdown writes the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# Pruning report: %s\n\n", r.Model)
	fmt.Fprintf(w, "Method **%s**", r.Method)
	if r.Target > 0 {
		fmt.Fprintf(w, ", target %.1f%%", 100*r.Target)
	}
	fmt.Fprintf(w, "; output `%s`.\n\n", r.Output)
	if r.Params > 0 {
		fmt.Fprintf(w, "- Prunable weights kept: %d of %d (%.2f%%, sparsity %.2f%%)\n", r.Kept, r.Params,
			100*float64(r.Kept)/float64(r.Params), 100*r.Sparsity)
	}
	fmt.Fprintf(w, "- All parameters: %d -> %d\n", r.TotalParamsBefore, r.TotalParamsAfter)
	if r.Before != nil && r.After != nil {
		fmt.Fprintf(w, "- Test error (%s, %d samples): %.2f%% -> %.2f%% (%+.2f points)\n", r.After.Split, r.After.Samples,
			100*r.Before.Error, 100*r.After.Error, 100*(r.After.Error-r.Before.Error))
	}
	if r.Structured != nil {
		s := r.Structured
		fmt.Fprintf(w, "- FLOPs per sample: %d -> %d (%.1f%% removed), criterion %s, channel ratio %.3f\n",
			s.FLOPsBefore, s.FLOPsAfter, 100*s.FLOPsReduction(), s.Criterion, s.Ratio)
	}
	if r.Retrain != nil && len(r.Retrain.Epochs) > 0 {
		fmt.Fprintf(w, "- Retraining: %d epochs, %.0f samples/s, %.1f s\n", len(r.Retrain.Epochs), r.Retrain.SamplesPerSec, r.Retrain.TrainSeconds)
	}
	fmt.Fprintf(w, "- Machine: %s, %d cores; %.1f s in all\n\n", r.Machine.CPU, r.Machine.Cores, r.Seconds)
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "## Layers\n\n| layer | weight | shape (after) | weights | kept | kept %% | runtime kernel (batch 1) | bits/weight | before µs | after µs |\n|---|---|---|---:|---:|---:|---|---:|---:|---:|\n")
		for _, l := range r.Layers {
			fmt.Fprintf(w, "| %s | %s | %v | %d | %d | %.2f | %s | %.1f | %s | %s |\n", l.Node, l.Weight, l.Shape, l.Params, l.Kept,
				100*float64(l.Kept)/float64(max(l.Params, 1)), l.Kernel, l.Bits, us(l.BeforeUS), us(l.AfterUS))
		}
		fmt.Fprintln(w)
	}
	if len(r.Latency) > 0 {
		fmt.Fprintf(w, "## Latency (CPU runtime, medians)\n\n| batch | threads | runs | before ms | after ms | after/before | load avg |\n|---:|---:|---:|---:|---:|---:|---|\n")
		for _, l := range r.Latency {
			fmt.Fprintf(w, "| %d | %d | %d | %.4f | %.4f | %.3f | %.2f -> %.2f |\n", l.Batch, l.Threads, l.Runs, l.BeforeMS, l.AfterMS, l.Ratio, l.LoadAvgBefore, l.LoadAvgAfter)
		}
		fmt.Fprintln(w)
	}
	if len(r.Agreement) > 0 {
		fmt.Fprintf(w, "## Sparse kernels against the dense kernel\n\n| kernel | samples | max |Δlogit| | max |logit| | same top-1 |\n|---|---:|---:|---:|---|\n")
		for _, a := range r.Agreement {
			fmt.Fprintf(w, "| %s | %d | %.3g | %.3g | %v |\n", a.Kernel, a.Samples, a.MaxAbsDiff, a.MaxLogit, a.SameTop1)
		}
		fmt.Fprintln(w)
	}
	if r.ORT != nil {
		fmt.Fprintf(w, "ONNX Runtime runs the output: max |Δlogit| %.3g over %d samples (max |logit| %.3g).\n\n", r.ORT.MaxAbsDiff, r.ORT.Samples, r.ORT.MaxLogit)
	}
	if s := r.Structured; s != nil {
		fmt.Fprintf(w, "## Dependency groups\n\n| group | units | removed | values (channels before->after) | layers sliced | pinned |\n|---:|---:|---:|---|---|---|\n")
		for _, g := range s.Groups {
			fmt.Fprintf(w, "| %d | %d | %d | %s | %s | %s |\n", g.ID, g.Units, g.Removed, strings.Join(g.Values, ", "), strings.Join(g.Layers, ", "), g.Pinned)
		}
		fmt.Fprintln(w)
	}
	if len(r.Sensitivity) > 0 {
		grid := map[float64]bool{}
		for _, ls := range r.Sensitivity {
			for _, p := range ls.Points {
				grid[p.Sparsity] = true
			}
		}
		var ratios []float64
		for s := range grid {
			ratios = append(ratios, s)
		}
		sort.Float64s(ratios)
		fmt.Fprintf(w, "## Sensitivity (accuracy with one layer pruned)\n\n| layer |")
		for _, s := range ratios {
			fmt.Fprintf(w, " %.0f%% |", 100*s)
		}
		fmt.Fprintf(w, " chosen |\n|---|")
		for range ratios {
			fmt.Fprintf(w, "---:|")
		}
		fmt.Fprintf(w, "---:|\n")
		for _, ls := range r.Sensitivity {
			fmt.Fprintf(w, "| %s |", ls.Node)
			acc := map[float64]float64{}
			for _, p := range ls.Points {
				acc[p.Sparsity] = p.Accuracy
			}
			for _, s := range ratios {
				fmt.Fprintf(w, " %.2f |", 100*acc[s])
			}
			fmt.Fprintf(w, " %.0f%% |\n", 100*ls.Chosen)
		}
		fmt.Fprintln(w)
	}
	if len(r.Rounds) > 0 {
		fmt.Fprintf(w, "## Iterative rounds\n\n| round | sparsity | test accuracy after retraining |\n|---:|---:|---:|\n")
		for _, rd := range r.Rounds {
			acc := "-"
			if rd.Result != nil && len(rd.Result.Epochs) > 0 {
				if a := rd.Result.Epochs[len(rd.Result.Epochs)-1].TestAcc; a != nil {
					acc = fmt.Sprintf("%.2f%%", 100**a)
				}
			}
			fmt.Fprintf(w, "| %d | %.2f%% | %s |\n", rd.Round, 100*rd.Sparsity, acc)
		}
		fmt.Fprintln(w)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "## Warnings\n\n")
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "- %s\n", s)
		}
		fmt.Fprintln(w)
	}
}

func us(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// ChannelLayerReports describes the prunable layers of a dense model and
// their channel-pruned version (matched by node name): Shape is the new
// weight shape, Params the weights before and Kept those left.
func ChannelLayerReports(dense, pruned *graph.Model) []LayerReport {
	after := map[string]*Layer{}
	for _, l := range Layers(pruned) {
		after[l.Node.Name] = l
	}
	var out []LayerReport
	for _, l := range Layers(dense) {
		r := LayerReport{Node: l.Node.Name, Weight: l.Name(), Op: l.Node.OpType, Shape: l.Weight.Const.Shape(),
			Params: l.Params(), Kernel: "dense", Bits: 32}
		if a, ok := after[l.Node.Name]; ok {
			r.ShapeBefore = r.Shape
			r.Shape, r.Kept = a.Weight.Const.Shape(), a.Params()
		}
		r.Sparsity = 1 - float64(r.Kept)/float64(max(r.Params, 1))
		out = append(out, r)
	}
	return out
}
