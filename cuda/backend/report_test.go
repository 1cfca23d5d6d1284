package backend

import (
	"strings"
	"testing"
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
}
