package conformance

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/onnx/onnxpb"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// Default tolerances of ONNX's backend tests (onnx/backend/test/runner).
const (
	DefaultRtol = 1e-3
	DefaultAtol = 1e-7
)

// Status of a case.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Errata lists cases of ONNX 1.12's test data (Debian libonnx-testdata)
// whose expected outputs no correct implementation reproduces; they are
// reported as skipped with the reason instead of being run.
var Errata = map[string]string{
	"test_cast_FLOAT_to_BFLOAT16": "ONNX 1.12 made the expected bfloat16 values by truncating float32; " +
		"the ONNX spec and ONNX Runtime round to nearest even (as gcompress does)",
	"test_castlike_FLOAT_to_BFLOAT16": "ONNX 1.12 made the expected bfloat16 values by truncating float32; " +
		"the ONNX spec and ONNX Runtime round to nearest even (as gcompress does)",
	"test_castlike_FLOAT_to_BFLOAT16_expanded": "ONNX 1.12 made the expected bfloat16 values by truncating float32; " +
		"the ONNX spec and ONNX Runtime round to nearest even (as gcompress does)",
	"test_castlike_BFLOAT16_to_FLOAT": "the test data feeds input \"like\" with shape [1] where the model " +
		"declares [3 4]; gcompress and ONNX Runtime both reject inputs that contradict the declared shape",
	"test_castlike_BFLOAT16_to_FLOAT_expanded": "the test data feeds input \"like\" with shape [1] where the model " +
		"declares [3 4]; gcompress and ONNX Runtime both reject inputs that contradict the declared shape",
	"test_training_dropout": "training-mode dropout draws a random mask; the expected output " +
		"comes from NumPy's generator state, which no other runtime reproduces",
	"test_training_dropout_default": "training-mode dropout draws a random mask; the expected output " +
		"comes from NumPy's generator state, which no other runtime reproduces",
	"test_training_dropout_mask": "training-mode dropout draws a random mask; the expected output " +
		"comes from NumPy's generator state, which no other runtime reproduces",
	"test_training_dropout_default_mask": "training-mode dropout draws a random mask; the expected output " +
		"comes from NumPy's generator state, which no other runtime reproduces",
}

// Options configure a run.
type Options struct {
	Backend runtime.Backend
	Threads int
	Rtol    float64
	Atol    float64
	// Filter, when set, keeps only cases whose name matches.
	Filter *regexp.Regexp
	// Progress, when set, is called after each case.
	Progress func(done, total int, r Result)
}

// Result is the outcome of one case.
type Result struct {
	Name   string `json:"name"`
	Dir    string `json:"dir"`
	Status string `json:"status"`
	// Reason explains a skip or failure (unsupported ops, first mismatch).
	Reason string `json:"reason,omitempty"`
	// UnsupportedOps lists the op types that made a case skip.
	UnsupportedOps []string `json:"unsupported_ops,omitempty"`
	Millis         float64  `json:"ms"`
}

// Summary is the outcome of a run.
type Summary struct {
	Passed  int      `json:"passed"`
	Failed  int      `json:"failed"`
	Skipped int      `json:"skipped"`
	Results []Result `json:"results"`
}

// Discover returns the case directories under each root: a root holding
// model.onnx is one case; otherwise every directory below it that holds one.
func Discover(roots ...string) ([]string, error) {
	var cases []string
	for _, root := range roots {
		st, err := os.Stat(root)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("%s: not a directory", root)
		}
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && d.Name() == "model.onnx" {
				cases = append(cases, filepath.Dir(p))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(cases)
	return cases, nil
}

// Run discovers and runs the cases under roots.
func Run(roots []string, opts Options) (*Summary, error) {
	if opts.Rtol == 0 {
		opts.Rtol = DefaultRtol
	}
	if opts.Atol == 0 {
		opts.Atol = DefaultAtol
	}
	dirs, err := Discover(roots...)
	if err != nil {
		return nil, err
	}
	var keep []string
	for _, d := range dirs {
		if opts.Filter == nil || opts.Filter.MatchString(filepath.Base(d)) {
			keep = append(keep, d)
		}
	}
	s := &Summary{}
	for i, d := range keep {
		r := RunCase(d, opts)
		switch r.Status {
		case Passed:
			s.Passed++
		case Failed:
			s.Failed++
		default:
			s.Skipped++
		}
		s.Results = append(s.Results, r)
		if opts.Progress != nil {
			opts.Progress(i+1, len(keep), r)
		}
	}
	return s, nil
}

// RunCase runs one case directory.
func RunCase(dir string, opts Options) (res Result) {
	res = Result{Name: filepath.Base(dir), Dir: dir}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			res.Status = Failed
			res.Reason = fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
		}
		res.Millis = float64(time.Since(start).Microseconds()) / 1000
	}()
	if opts.Rtol == 0 {
		opts.Rtol = DefaultRtol
	}
	if opts.Atol == 0 {
		opts.Atol = DefaultAtol
	}
	if why, ok := Errata[res.Name]; ok {
		res.Status = Skipped
		res.Reason = "expected output not comparable: " + why
		return res
	}
	modelPath := filepath.Join(dir, "model.onnx")
	raw, err := os.ReadFile(modelPath)
	if err != nil {
		return fail(res, err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(raw, mp); err != nil {
		return fail(res, fmt.Errorf("model.onnx: %w", err))
	}
	if ops := unsupportedOps(mp.GetGraph(), opts.Backend); len(ops) > 0 {
		res.Status = Skipped
		res.UnsupportedOps = ops
		res.Reason = "unsupported op(s): " + strings.Join(ops, ", ")
		return res
	}
	m, err := onnx.FromProto(mp, dir)
	if err != nil {
		return fail(res, err)
	}
	for _, v := range append(append([]*graph.Value(nil), m.Graph.Inputs...), m.Graph.Outputs...) {
		if v.RawType != nil {
			res.Status = Skipped
			res.Reason = fmt.Sprintf("value %q is not a tensor (sequence/map/optional types are not supported)", v.Name)
			return res
		}
	}
	sess, err := runtime.NewSession(m, opts.Backend, runtime.Options{Threads: opts.Threads})
	if err != nil {
		var ue *runtime.UnsupportedError
		if errors.As(err, &ue) {
			res.Status = Skipped
			res.UnsupportedOps = ue.Ops
			res.Reason = err.Error()
			return res
		}
		return fail(res, err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	sort.Strings(sets)
	if len(sets) == 0 {
		return fail(res, errors.New("no test_data_set_* directories"))
	}
	for _, set := range sets {
		if err := runSet(sess, m.Graph, set, opts); err != nil {
			return fail(res, fmt.Errorf("%s: %w", filepath.Base(set), err))
		}
	}
	res.Status = Passed
	return res
}

func fail(r Result, err error) Result {
	r.Status = Failed
	r.Reason = err.Error()
	return r
}

// unsupportedOps lists the op types of gp (not of subgraphs) the backend
// lacks, as "domain:op" outside the default domain.
func unsupportedOps(gp *onnxpb.GraphProto, b runtime.Backend) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range gp.GetNode() {
		d := n.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if b.Factory(d, n.GetOpType()) != nil {
			continue
		}
		key := n.GetOpType()
		if d != "" {
			key = d + ":" + key
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

// LoadTensorPB reads a TensorProto file.
func LoadTensorPB(path string) (*tensor.Tensor, string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(raw, tp); err != nil {
		return nil, "", fmt.Errorf("%s: not a TensorProto: %w", path, err)
	}
	t, err := tensor.FromProto(tp, filepath.Dir(path))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return t, tp.GetName(), nil
}

// SetInputs loads a test set's input_*.pb files keyed by graph input name:
// a file's TensorProto name when it names an input, else its position among
// the graph inputs that have no initializer.
func SetInputs(g *graph.Graph, set string) (map[string]*tensor.Tensor, error) {
	files, _ := filepath.Glob(filepath.Join(set, "input_*.pb"))
	sortNumbered(files)
	var free []*graph.Value
	for _, v := range g.Inputs {
		if v.Const == nil {
			free = append(free, v)
		}
	}
	inputs := map[string]*tensor.Tensor{}
	for i, f := range files {
		t, name, err := LoadTensorPB(f)
		if err != nil {
			return nil, err
		}
		if name == "" || g.Value(name) == nil {
			if i >= len(free) {
				return nil, fmt.Errorf("%s: more input files than graph inputs", filepath.Base(f))
			}
			name = free[i].Name
		}
		if v := g.Value(name); v != nil {
			t = asBFloat16(t, v.DType)
		}
		inputs[name] = t
	}
	return inputs, nil
}

// asBFloat16 reinterprets a uint16 tensor as bfloat16 bit patterns when the
// model wants bfloat16: ONNX 1.12's test data stores bfloat16 tensors with
// the UINT16 data type.
func asBFloat16(t *tensor.Tensor, want tensor.DType) *tensor.Tensor {
	if want != tensor.BFloat16 || t.DType() != tensor.Uint16 {
		return t
	}
	bf, err := tensor.FromBytes(tensor.BFloat16, t.Shape(), t.RawBytes())
	if err != nil {
		return t
	}
	return bf
}

func runSet(sess *runtime.Session, g *graph.Graph, set string, opts Options) error {
	inputs, err := SetInputs(g, set)
	if err != nil {
		return err
	}
	outFiles, _ := filepath.Glob(filepath.Join(set, "output_*.pb"))
	sortNumbered(outFiles)
	got, err := sess.Run(inputs)
	if err != nil {
		return err
	}
	if len(outFiles) != len(got) {
		return fmt.Errorf("%d outputs, the case has %d", len(got), len(outFiles))
	}
	for i, f := range outFiles {
		want, _, err := LoadTensorPB(f)
		if err != nil {
			return err
		}
		want = asBFloat16(want, got[i].DType())
		if err := Compare(got[i], want, opts.Rtol, opts.Atol); err != nil {
			return fmt.Errorf("output %d (%s): %w", i, g.Outputs[i].Name, err)
		}
	}
	return nil
}

// sortNumbered orders input_0.pb, input_1.pb, ..., input_10.pb numerically.
func sortNumbered(files []string) {
	num := func(f string) int {
		b := filepath.Base(f)
		b = b[strings.LastIndex(b, "_")+1 : len(b)-len(".pb")]
		n := 0
		fmt.Sscan(b, &n)
		return n
	}
	sort.Slice(files, func(i, j int) bool { return num(files[i]) < num(files[j]) })
}

// Compare checks got against want: same dtype and shape, and values within
// |got-want| <= atol + rtol*|want| (exact for integers, bools and strings;
// NaN must meet NaN, and infinities must match in sign). The error names the
// first mismatching element.
func Compare(got, want *tensor.Tensor, rtol, atol float64) error {
	if got.DType() != want.DType() {
		return fmt.Errorf("dtype %v, want %v", got.DType(), want.DType())
	}
	if !tensor.SameShape(got.Shape(), want.Shape()) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	if got.DType() == tensor.String {
		gs, ws := tensor.Data[string](got), tensor.Data[string](want)
		for i := range ws {
			if gs[i] != ws[i] {
				return fmt.Errorf("element %d: %q, want %q", i, gs[i], ws[i])
			}
		}
		return nil
	}
	exact := !got.DType().IsFloat()
	bad, first := 0, -1
	var fg, fw float64
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float64At(i), want.Float64At(i)
		ok := false
		switch {
		case exact:
			ok = g == w
			if got.DType() == tensor.Int64 || got.DType() == tensor.Uint64 {
				ok = exactEqual(got, want, i)
			}
		case math.IsNaN(w):
			ok = math.IsNaN(g)
		case math.IsInf(w, 0):
			ok = g == w
		default:
			ok = math.Abs(g-w) <= atol+rtol*math.Abs(w)
		}
		if !ok {
			if first < 0 {
				first, fg, fw = i, g, w
			}
			bad++
		}
	}
	if bad > 0 {
		idx := unravel(first, want.Shape())
		return fmt.Errorf("%d of %d elements differ; first at %v: got %v, want %v (rtol %g, atol %g)",
			bad, want.Len(), idx, fg, fw, rtol, atol)
	}
	return nil
}

func exactEqual(a, b *tensor.Tensor, i int) bool {
	switch a.DType() {
	case tensor.Int64:
		return tensor.Data[int64](a)[i] == tensor.Data[int64](b)[i]
	case tensor.Uint64:
		return tensor.Data[uint64](a)[i] == tensor.Data[uint64](b)[i]
	}
	return a.Float64At(i) == b.Float64At(i)
}

func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for k := len(shape) - 1; k >= 0; k-- {
		if shape[k] > 0 {
			idx[k] = i % shape[k]
			i /= shape[k]
		}
	}
	return idx
}
