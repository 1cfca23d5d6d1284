package encode

import (
	"fmt"
	"io"
	"sort"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

// Eval is a top-1 / top-5 evaluation.
type Eval struct {
	Split     string  `json:"split"`
	Samples   int     `json:"samples"`
	Top1Error float64 `json:"top1_error"`
	Top5Error float64 `json:"top5_error"`
	// NonZero counts the non-zero values of the float32 initializers.
	NonZero int64 `json:"nonzero_params"`
}

// EvaluateTopK measures the top-1 and top-5 error of m on ds with the CPU
// runtime (batches of 250).
func EvaluateTopK(m *graph.Model, ds *data.Dataset, split string, threads int) (*Eval, error) {
	if err := ds.Labelled("top-k accuracy"); err != nil {
		return nil, err
	}
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: max(threads, 1)})
	if err != nil {
		return nil, err
	}
	e := &Eval{Split: split}
	for _, v := range m.Graph.Initializers {
		if v.Const != nil && v.Const.DType() == tensor.Float32 {
			for _, x := range v.Const.F32() {
				if x != 0 {
					e.NonZero++
				}
			}
		}
	}
	name, shape, err := eval.InputShape(m.Graph, 250, ds.Sample())
	if err != nil {
		return nil, err
	}
	var miss1, miss5 int
	for start := 0; start < ds.Len(); start += shape[0] {
		n := min(shape[0], ds.Len()-start)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = start + i
		}
		x, err := ds.Batch(idx, append([]int{n}, shape[1:]...))
		if err != nil {
			return nil, err
		}
		out, err := sess.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return nil, err
		}
		y := out[0]
		rows, c, ok := eval.ScoreShape(y)
		if !ok || rows != n {
			return nil, fmt.Errorf("output %v is not [batch, classes]", y.Shape())
		}
		for i := 0; i < n; i++ {
			label := ds.Labels[start+i]
			if label < 0 || label >= c {
				return nil, fmt.Errorf("label %d outside %d classes", label, c)
			}
			// Rank of the label's score (ties count against it).
			s := y.Float64At(i*c + label)
			above := 0
			for j := 0; j < c; j++ {
				if j != label && y.Float64At(i*c+j) >= s {
					above++
				}
			}
			if above >= 1 {
				miss1++
			}
			if above >= 5 {
				miss5++
			}
		}
		e.Samples += n
	}
	if e.Samples > 0 {
		e.Top1Error = float64(miss1) / float64(e.Samples)
		e.Top5Error = float64(miss5) / float64(e.Samples)
	}
	return e, nil
}

// Report is what `gcompress encode` prints and writes.
type Report struct {
	Model  string `json:"model"`
	Output string `json:"output"`
	// Options used (bits, gap bits, codebook precision, small tensors).
	Options Options `json:"options"`
	Size    *Size   `json:"size"`
	// ParamBytes, Ratio: see Size.ParamBytes and Size.Ratio.
	ParamBytes int     `json:"param_bytes"`
	Ratio      float64 `json:"compression_ratio"`
	// FileRatio is FP32Bytes / the whole file (graph included).
	FileRatio float64 `json:"file_ratio"`
	// Reference is the dense model (when given), Before the input model,
	// After the model decoded from the written archive.
	Reference *Eval         `json:"reference,omitempty"`
	Before    *Eval         `json:"before,omitempty"`
	After     *Eval         `json:"after,omitempty"`
	Finetune  *train.Result `json:"finetune,omitempty"`
	Machine   bench.Machine `json:"machine"`
	Seconds   float64       `json:"seconds"`
}

// WriteTables writes the per-layer table in the layout of Deep
// Compression's Tables 2-5 and, when there are evaluations, the summary in
// the layout of its Table 1.
func (r *Report) WriteTables(w io.Writer, network string) {
	s := r.Size
	if r.Reference != nil || r.After != nil {
		fmt.Fprintf(w, "| Network | Top-1 Error | Top-5 Error | Parameters | Compress Rate |\n|---|---:|---:|---:|---:|\n")
		if r.Reference != nil {
			fmt.Fprintf(w, "| %s Ref | %.2f%% | %.2f%% | %s | |\n", network, 100*r.Reference.Top1Error, 100*r.Reference.Top5Error, humanBytes(s.FP32Bytes))
		}
		if r.After != nil {
			fmt.Fprintf(w, "| %s Compressed | %.2f%% | %.2f%% | %s | **%.0fx** |\n", network, 100*r.After.Top1Error, 100*r.After.Top5Error, humanBytes(int64(s.ParamBytes())), s.Ratio())
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "| Layer | #Weights | Weights%% (P) | Weight bits (P+Q) | Weight bits (P+Q+H) | Index bits (P+Q) | Index bits (P+Q+H) | Compress rate (P+Q) | Compress rate (P+Q+H) |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var params, stored int
	var fixed int64
	for _, t := range s.Tensors {
		params += t.Params
		stored += t.Stored
		fixed += t.FixedBits()
		wb, wbh, ib, ibh := "32", "32", "-", "-"
		switch t.Encoding {
		case "raw16":
			wb, wbh = "16", "16"
		case "shared", "sparse":
			wb = fmt.Sprint(t.IndexBits)
			wbh = fmt.Sprintf("%.1f", float64(t.IndexHuffBits)/float64(max(t.Stored, 1)))
		}
		if t.Encoding == "sparse" {
			ib = fmt.Sprintf("%.1f", float64(t.GapBits*t.GapSymbols)/float64(max(t.Stored, 1)))
			ibh = fmt.Sprintf("%.1f", float64(t.GapHuffBits)/float64(max(t.Stored, 1)))
		}
		fmt.Fprintf(w, "| %s | %s | %.1f%% | %s | %s | %s | %s | %.2f%% | %.2f%% |\n", t.Name, human(int64(t.Params)),
			100*float64(t.Stored)/float64(max(t.Params, 1)), wb, wbh, ib, ibh,
			100*float64(t.FixedBits())/float64(32*t.Params), 100*float64(8*t.SectionBytes)/float64(32*t.Params))
	}
	fixed += 8 * int64(s.FramingBytes)
	fmt.Fprintf(w, "| Total | %s | %.1f%% | | | | | %.2f%% (%.0fx) | %.2f%% (%.0fx) |\n", human(int64(params)),
		100*float64(stored)/float64(max(params, 1)), 100*float64(fixed)/float64(32*params), float64(32*params)/float64(fixed),
		100*float64(8*s.ParamBytes())/float64(32*params), s.Ratio())
}

// humanBytes prints a size as the paper does (1070KB, 27KB).
func humanBytes(n int64) string {
	if n >= 10000 {
		return fmt.Sprintf("%.0fKB", float64(n)/1000)
	}
	return fmt.Sprintf("%.1fKB", float64(n)/1000)
}

func human(n int64) string {
	switch {
	case n >= 10000:
		return fmt.Sprintf("%.0fK", float64(n)/1000)
	case n >= 1000:
		return fmt.Sprintf("%.1fK", float64(n)/1000)
	}
	return fmt.Sprint(n)
}

// WriteMarkdown writes the whole report.
func (r *Report) WriteMarkdown(w io.Writer, network string) {
	s := r.Size
	fmt.Fprintf(w, "# Deep Compression report: %s\n\n", r.Model)
	fmt.Fprintf(w, "Archive `%s`: %d bytes (weights %d, graph %d); float32 weights %d bytes: **%.1fx** (%.1fx counting the graph).\n\n",
		r.Output, s.FileBytes, s.ParamBytes(), s.GraphBytes, s.FP32Bytes, s.Ratio(), r.FileRatio)
	if r.Before != nil && r.After != nil {
		fmt.Fprintf(w, "Test error (%s, %d samples): input model %.2f%%, decoded archive %.2f%%.\n\n", r.After.Split, r.After.Samples, 100*r.Before.Top1Error, 100*r.After.Top1Error)
	}
	if r.Finetune != nil && len(r.Finetune.Epochs) > 0 {
		fmt.Fprintf(w, "Centroid fine-tuning: %d epochs, %.1f s.\n\n", len(r.Finetune.Epochs), r.Finetune.TrainSeconds)
	}
	r.WriteTables(w, network)
	fmt.Fprintf(w, "\nP: pruning, Q: weight sharing (fixed-width indices), H: Huffman coding. Weight bits are bits per stored value;\n"+
		"index bits are the relative-index bits per stored value (fillers included); compress rates are the stored bits\n"+
		"over 32 bits per original weight, P+Q+H counting each tensor's whole section (codebook, Huffman tables,\n"+
		"header, framing, checksum); the total adds the file header and trailer (%d bytes).\n\n", s.FramingBytes)
	fmt.Fprintf(w, "| tensor | encoding | k | codebook B | streams B | tables B | header B | section B |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	ts := append([]TensorSize(nil), s.Tensors...)
	sort.SliceStable(ts, func(a, b int) bool { return ts[a].SectionBytes > ts[b].SectionBytes })
	for _, t := range ts {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %d |\n", t.Name, t.Encoding, t.K, t.CodebookBytes, t.StreamBytes, t.TableBytes, t.HeaderBytes, t.SectionBytes)
	}
	fmt.Fprintf(w, "\nMachine: %s, %d cores; %.1f s in all.\n", r.Machine.CPU, r.Machine.Cores, r.Seconds)
}
