package backend

import (
	"strings"
	"testing"
	"time"
)

func TestReportWrite(t *testing.T) {
	r := &Report{Device: "cuda:0 test", Ops: []OpRuns{{Op: "Relu", CPU: 1, CPUNodes: 1}, {Op: "MatMulInteger", GPU: 4, GPUNodes: 2, Sparse24Nodes: 1}}}
	r.sortOps()
	var b strings.Builder
	r.Write(&b)
	out := b.String()
	if !strings.Contains(out, "cuda:0 test") || strings.Index(out, "MatMulInteger") > strings.Index(out, "Relu") {
		t.Fatalf("report:\n%s", out)
	}
	if !strings.Contains(out, "MatMulInteger  2 (1)") {
		t.Errorf("no 2:4 node count:\n%s", out)
	}
	if !strings.Contains(out, "0 host->device copies") {
		t.Fatalf("no transfer line:\n%s", out)
	}
	if strings.Contains(out, "2:4 auto") {
		t.Errorf("a 2:4 auto line without choices:\n%s", out)
	}
	r.Sparse24Auto = []Sparse24Choice{
		newSparse24Choice("QGemm", "fc1", 784, 300, 64, 30*time.Microsecond, 40*time.Microsecond),
		newSparse24Choice("MatMul", "proj", 4096, 4096, 4096, 2*time.Millisecond, 1500*time.Microsecond),
	}
	b.Reset()
	r.Write(&b)
	out = b.String()
	for _, want := range []string{`2:4 auto: QGemm "fc1", 784x300 weight, at 64 rows: 2:4 0.030 ms, dense 0.040 ms -> 2:4`,
		`2:4 auto: MatMul "proj", 4096x4096 weight, at 4096 rows: 2:4 2.000 ms, dense 1.500 ms -> dense`} {
		if !strings.Contains(out, want) {
			t.Errorf("no line %q:\n%s", want, out)
		}
	}
}

// TestSparse24Mode: the values of GCOMPRESS_SPARSE24 (any case), a tie
// going to the 2:4 GEMM, and the buckets of row counts.
func TestSparse24Mode(t *testing.T) {
	for v, want := range map[string]Sparse24Mode{"": Sparse24On, "on": Sparse24On, "off": Sparse24Off, "OFF": Sparse24Off,
		"auto": Sparse24Auto, " Auto": Sparse24Auto, "fast": Sparse24On} {
		if got := Sparse24ModeOf(v); got != want {
			t.Errorf("%q: mode %d, want %d", v, got, want)
		}
	}
	if c := newSparse24Choice("MatMulInteger", "mm", 256, 40, 15, time.Millisecond, time.Millisecond); !c.Sparse {
		t.Error("a tie went to the dense GEMM")
	}
	for m, want := range map[int]int{1: 1, 2: 2, 3: 4, 15: 16, 16: 16, 17: 32, 4096: 4096} {
		if got := rowBucket(m); got != want {
			t.Errorf("rowBucket(%d) = %d, want %d", m, got, want)
		}
	}
}
