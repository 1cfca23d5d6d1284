package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/onnx/onnxpb"
)

// inspectReport is the JSON document `inspect --json` prints: the file facts
// followed by graph.ModelStats' fields.
type inspectReport struct {
	File      string `json:"file"`
	FileBytes int64  `json:"file_bytes"`
	// FileOpset is the default-domain opset the file declares (Opset is the
	// one after the importer's upgrade to >= 13); 0 if it could not be read.
	FileOpset int64 `json:"file_opset"`
	// FLOPsOnes is the FLOPs total with every symbolic input dimension set
	// to 1 (per sample, for a batch dimension); only for a model with
	// symbolic input dimensions inspected without --dim.
	FLOPsOnes         *int64 `json:"flops_symbolic_dims_1,omitempty"`
	FLOPsOnesComplete *bool  `json:"flops_symbolic_dims_1_complete,omitempty"`
	*graph.ModelStats
}

func newInspectCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		dims   []string
	)
	cmd := &cobra.Command{
		Use:   "inspect MODEL",
		Short: "Describe a model: inputs, outputs, ops, parameters, FLOPs, per-layer table",
		Long: `Loads an ONNX model, infers its shapes and prints a header (file, producer,
opset, IR version, inputs, outputs, parameters, size on disk, FLOPs), a histogram
of op types and a per-layer table (name, op, output shape, parameters, FLOPs).

Parameters are the elements of the initializers (weights, biases and constant
shape tensors alike). FLOPs count 2 per multiply-accumulate for Conv, Gemm and
MatMul (and their integer/QLinear forms), 1 per output element for elementwise
ops and activations, 3 for Softmax, 2*size+3 for LRN, 0 for data movement;
bias additions are not counted (graph.NodeFLOPs lists every rule).
Where a shape is symbolic or unknown the count is shown as "?" and the total
is marked incomplete; --dim batch=1 fixes a symbolic input dimension. Without
--dim, a model with symbolic input dimensions also gets a second total with
every one of them set to 1 (per sample, for a batch dimension; JSON key
flops_symbolic_dims_1).`,
		Example: `  gcompress inspect model.onnx
  gcompress inspect --dim batch=1 lenet5.onnx
  gcompress inspect --json --dim batch=1 lenet5.onnx | jq .flops
  gcompress inspect --json lenet5.onnx | jq .flops_symbolic_dims_1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := inspectModel(args[0], dims)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			return printInspect(cmd.OutOrStdout(), r)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the statistics as JSON")
	f.StringArrayVar(&dims, "dim", nil, "fix a symbolic input dimension before shape inference, NAME=SIZE (repeatable)")
	return cmd
}

// inspectModel loads the model at path, fixes the symbolic input
// dimensions named by the --dim specs and computes its statistics. Without
// --dim, a model with symbolic input dimensions also gets its FLOPs with
// each of them set to 1 (per sample, for a batch dimension).
func inspectModel(path string, dimSpecs []string) (*inspectReport, error) {
	m, err := loadModel(path)
	if err != nil {
		return nil, err
	}
	fixed, err := parseDims(m.Graph, dimSpecs)
	if err != nil {
		return nil, err
	}
	var ones *graph.Model // the model with every symbolic input dimension 1
	if syms := symbolicDims(m.Graph); len(fixed) == 0 && len(syms) > 0 {
		all := map[string]int64{}
		for name := range syms {
			all[name] = 1
		}
		ones = passes.Clone(m)
		if fixDims(ones.Graph, all) != nil {
			ones = nil // no FLOPs at size 1 where 1 contradicts the model
		}
	}
	// A contradiction the sizes make is the report's shape error (ComputeStats
	// infers again and records it), not a failure of inspect.
	_ = fixDims(m.Graph, fixed)
	s, err := graph.ComputeStats(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	r := &inspectReport{File: path, FileBytes: st.Size(), ModelStats: s}
	if ones != nil {
		if so, err := graph.ComputeStats(ones); err == nil && so.ShapeError == "" {
			r.FLOPsOnes, r.FLOPsOnesComplete = &so.FLOPs, &so.FLOPsComplete
		}
	}
	r.FileOpset, _ = inspectFileOpset(path)
	return r, nil
}

// inspectFileOpset reads the default-domain opset that the model file at path
// declares, skipping the graph without decoding it (the importer upgrades
// older models to opset 13, so the IR no longer knows the original).
// A file without opset_import is opset 1, as the importer assumes; 0 means
// the file imports only other domains.
func inspectFileOpset(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	opset := int64(1)
	for {
		num, body, err := inspectNextField(r, 8)
		if err == io.EOF {
			return opset, nil
		}
		if err != nil {
			return 0, err
		}
		if num != 8 {
			continue
		}
		var op onnxpb.OperatorSetIdProto
		if err := proto.Unmarshal(body, &op); err != nil {
			return 0, err
		}
		if d := op.GetDomain(); d == "" || d == "ai.onnx" {
			return op.GetVersion(), nil
		}
		opset = 0
	}
}

// inspectNextField reads one top-level protobuf field from r. It returns the body
// of a length-delimited field numbered want and skips every other field.
func inspectNextField(r *bufio.Reader, want protowire.Number) (protowire.Number, []byte, error) {
	tag, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, nil, err
	}
	num, typ := protowire.DecodeTag(tag)
	var skip uint64
	switch typ {
	case protowire.VarintType:
		_, err = binary.ReadUvarint(r)
		return num, nil, inspectUnexpectedEOF(err)
	case protowire.Fixed64Type:
		skip = 8
	case protowire.Fixed32Type:
		skip = 4
	case protowire.BytesType:
		if skip, err = binary.ReadUvarint(r); err != nil {
			return 0, nil, inspectUnexpectedEOF(err)
		}
		if num == want && skip <= 1<<20 {
			body := make([]byte, skip)
			_, err = io.ReadFull(r, body)
			return num, body, inspectUnexpectedEOF(err)
		}
	default:
		return 0, nil, fmt.Errorf("unexpected protobuf wire type %d", typ)
	}
	if n, err := r.Discard(int(min(skip, 1<<62))); err != nil || uint64(n) != skip {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return num, nil, nil
}

// inspectUnexpectedEOF turns io.EOF inside a field into io.ErrUnexpectedEOF.
func inspectUnexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// printInspect writes the human-readable report: header, op histogram,
// per-layer table.
func printInspect(w io.Writer, r *inspectReport) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	printInspectHeader(tw, r)
	fmt.Fprintln(tw)
	printInspectOps(tw, r.OpHistogram)
	fmt.Fprintln(tw)
	printInspectLayers(tw, r.Nodes)
	return tw.Flush()
}

func printInspectHeader(w io.Writer, r *inspectReport) {
	s := r.ModelStats
	fmt.Fprintf(w, "file:\t%s (%s on disk)\n", r.File, inspectBytes(r.FileBytes))
	if s.Graph != "" {
		fmt.Fprintf(w, "graph:\t%s\n", s.Graph)
	}
	fmt.Fprintf(w, "producer:\t%s\n", inspectOrDash(strings.TrimSpace(s.ProducerName+" "+s.ProducerVersion)))
	opset := strconv.FormatInt(s.Opset, 10)
	if r.FileOpset != 0 && r.FileOpset != s.Opset {
		opset += fmt.Sprintf(" (file declares %d; upgraded on import)", r.FileOpset)
	}
	fmt.Fprintf(w, "opset:\t%s\n", opset)
	fmt.Fprintf(w, "ir version:\t%d\n", s.IRVersion)
	printInspectValues(w, "inputs:", s.Inputs)
	printInspectValues(w, "outputs:", s.Outputs)
	fmt.Fprintf(w, "params:\t%s\n", inspectParamsLine(s))
	fmt.Fprintf(w, "FLOPs:\t%s\n", inspectFLOPsLine(s.FLOPs, s.FLOPsComplete, s))
	if r.FLOPsOnes != nil {
		fmt.Fprintf(w, "\t%s with every symbolic input dimension set to 1 (per sample; --dim NAME=SIZE for others)\n",
			inspectFLOPsLine(*r.FLOPsOnes, *r.FLOPsOnesComplete, nil))
	}
	fmt.Fprintf(w, "nodes:\t%d\n", s.NodeCount)
	if s.ShapeError != "" {
		fmt.Fprintf(w, "warning:\t%s\n", s.ShapeError)
	}
}

// printInspectValues writes one line per value, the first one after label.
func printInspectValues(w io.Writer, label string, vs []graph.ValueStats) {
	if len(vs) == 0 {
		fmt.Fprintf(w, "%s\t-\n", label)
	}
	for i, v := range vs {
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%s\t%s %s %s\n", label, v.Name, v.DType, v.ShapeText)
	}
}

// inspectParamsLine prints the parameter total and its split by dtype:
// "11,689,512 (44.6 MiB; float32 11,689,512)".
func inspectParamsLine(s *graph.ModelStats) string {
	dts := make([]string, 0, len(s.ParamsByDType))
	for dt := range s.ParamsByDType {
		dts = append(dts, dt)
	}
	sort.Strings(dts)
	parts := make([]string, len(dts))
	for i, dt := range dts {
		parts[i] = dt + " " + inspectCommas(s.ParamsByDType[dt].Params)
	}
	line := fmt.Sprintf("%s (%s", inspectCommas(s.Params), inspectBytes(s.ParamBytes))
	if len(parts) > 0 {
		line += "; " + strings.Join(parts, ", ")
	}
	return line + ")"
}

// inspectFLOPsLine prints a FLOPs total, marked incomplete when some nodes'
// counts are unknown (which, with s, it names).
func inspectFLOPsLine(flops int64, complete bool, s *graph.ModelStats) string {
	line := inspectCount(flops)
	if flops >= 1000 {
		line += " (" + inspectCommas(flops) + ")"
	}
	switch {
	case complete:
	case s != nil && flops == 0:
		line = fmt.Sprintf("unknown: %d node(s) have no count: %s", s.FLOPsUnknownNodes, strings.Join(s.FLOPsUnknownOps, ", "))
	case flops == 0:
		line = "unknown"
	case s != nil:
		line = fmt.Sprintf("at least %s; unknown for %d node(s): %s",
			line, s.FLOPsUnknownNodes, strings.Join(s.FLOPsUnknownOps, ", "))
	default:
		line = "at least " + line
	}
	return line
}

// printInspectOps lists op types by decreasing count.
func printInspectOps(w io.Writer, h map[string]int) {
	ops := make([]string, 0, len(h))
	for op := range h {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if h[ops[i]] != h[ops[j]] {
			return h[ops[i]] > h[ops[j]]
		}
		return ops[i] < ops[j]
	})
	fmt.Fprintln(w, "OP\tCOUNT")
	for _, op := range ops {
		fmt.Fprintf(w, "%s\t%d\n", op, h[op])
	}
}

// printInspectLayers writes the per-node table.
func printInspectLayers(w io.Writer, nodes []graph.NodeStats) {
	fmt.Fprintln(w, "NAME\tOP\tOUTPUT\tPARAMS\tFLOPS")
	for _, n := range nodes {
		shapes := make([]string, len(n.Outputs))
		for i, o := range n.Outputs {
			shapes[i] = o.ShapeText
		}
		name := n.Name
		if name == "" && len(n.Outputs) > 0 {
			name = "(" + n.Outputs[0].Name + ")"
		}
		flops := "?"
		if n.FLOPs != nil {
			flops = inspectCount(*n.FLOPs)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", name, n.Op, strings.Join(shapes, ", "), inspectCount(n.Params), flops)
	}
}

// inspectCount prints n with an SI suffix: 950, 12.3K, 4.56M, 7.89G, 1.23T.
func inspectCount(n int64) string {
	const units = "KMGTPE"
	if n < 1000 {
		return strconv.FormatInt(n, 10)
	}
	f, i := float64(n)/1000, 0
	for f >= 999.5 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'f', inspectPrecision(f), 64) + units[i:i+1]
}

// inspectBytes prints a byte count in B, KiB, MiB, GiB or TiB.
func inspectBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n)/1024, 0
	for f >= 1023.95 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i:i+1] + "iB"
}

// inspectPrecision keeps three significant digits.
func inspectPrecision(f float64) int {
	switch {
	case f >= 99.95:
		return 0
	case f >= 9.995:
		return 1
	}
	return 2
}

// inspectCommas prints a count (n >= 0) with thousands separators: 1,234,567.
func inspectCommas(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func inspectOrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
