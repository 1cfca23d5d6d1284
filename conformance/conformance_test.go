package conformance

import (
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/internal/testdata"
	"github.com/gcompress/gcompress/tensor"
)

// minNodePasses is the foundation issue's bar for ONNX's node tests.
const minNodePasses = 450

// runSuite runs one conformance directory with the CPU backend.
func runSuite(t *testing.T, sub string) *Summary {
	t.Helper()
	root := testdata.RequireONNX(t)
	s, err := Run([]string{filepath.Join(root, sub)}, Options{Backend: cpu.Backend(), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d passed, %d failed, %d skipped", sub, s.Passed, s.Failed, s.Skipped)
	return s
}

// TestConformanceNoFailures: in every suite, a case whose ops are all
// supported must pass; a failure is a bug, never a skip.
func TestConformanceNoFailures(t *testing.T) {
	for _, sub := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		t.Run(sub, func(t *testing.T) {
			s := runSuite(t, sub)
			for _, r := range s.Results {
				if r.Status == Failed {
					t.Errorf("%s: %s", r.Name, firstLine(r.Reason))
				}
			}
			if sub == "node" && s.Passed < minNodePasses {
				t.Errorf("node: %d cases pass, want >= %d", s.Passed, minNodePasses)
			}
			if strings.HasPrefix(sub, "pytorch") {
				for _, r := range s.Results {
					if r.Status == Skipped && !onlyUnlistedOps(r) {
						t.Errorf("%s skipped for a reason other than an op outside the supported list: %s", r.Name, r.Reason)
					}
				}
			}
		})
	}
}

// issueOps are the operators the foundation issue requires; a pytorch case
// may only be skipped for ops outside this list.
var issueOps = strings.Fields(`Conv ConvTranspose Gemm MatMul Add Sub Mul Div Pow Sqrt Exp Log
Erf Neg Abs Relu LeakyRelu PRelu Elu Selu Sigmoid Tanh HardSigmoid Softplus Softsign Gelu Clip
Softmax LogSoftmax MaxPool AveragePool GlobalAveragePool GlobalMaxPool BatchNormalization
LayerNormalization InstanceNormalization Dropout Flatten Reshape Transpose Concat Split Slice
Gather Squeeze Unsqueeze Expand Tile Pad Shape Size Constant ConstantOfShape Identity Cast Where
Equal Less Greater Not And Sum Max Min Mean ReduceMean ReduceSum ReduceMax ReduceMin ArgMax
Range Upsample Resize DepthToSpace QuantizeLinear DequantizeLinear QLinearConv QLinearMatMul
MatMulInteger ConvInteger DynamicQuantizeLinear`)

func onlyUnlistedOps(r Result) bool {
	if len(r.UnsupportedOps) == 0 {
		return false
	}
	for _, op := range r.UnsupportedOps {
		for _, want := range issueOps {
			if op == want {
				return false
			}
		}
	}
	return true
}

// TestIssueOpsRegistered: every operator the issue lists has a CPU kernel.
func TestIssueOpsRegistered(t *testing.T) {
	have := map[string]bool{}
	for _, op := range cpu.Ops() {
		have[op] = true
	}
	var missing []string
	for _, op := range issueOps {
		if op == "Upsample" { // imported as Resize
			continue
		}
		if !have[op] {
			missing = append(missing, op)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no CPU kernel for: %s", strings.Join(missing, " "))
	}
}

// TestCompare checks the allclose rule and its messages.
func TestCompare(t *testing.T) {
	want := tensor.FromSlice([]int{3}, []float32{1, 100, float32(math.NaN())})
	ok := tensor.FromSlice([]int{3}, []float32{1.0005, 100.09, float32(math.NaN())})
	if err := Compare(ok, want, 1e-3, 1e-7); err != nil {
		t.Errorf("within tolerance: %v", err)
	}
	bad := tensor.FromSlice([]int{3}, []float32{1, 100.2, 0})
	err := Compare(bad, want, 1e-3, 1e-7)
	if err == nil || !strings.Contains(err.Error(), "2 of 3 elements differ") || !strings.Contains(err.Error(), "[1]") {
		t.Errorf("mismatch message: %v", err)
	}
	if err := Compare(tensor.FromSlice([]int{1}, []int64{1 << 60}), tensor.FromSlice([]int{1}, []int64{1<<60 + 1}), 1, 1); err == nil {
		t.Error("int64 compared inexactly")
	}
	if err := Compare(tensor.FromSlice([]int{1, 3}, make([]float32, 3)), want, 1, 1); err == nil {
		t.Error("shape mismatch accepted")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
