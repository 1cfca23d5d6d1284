package runtime

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/gcompress/gcompress/graph"
)

// Profile accumulates wall time per node over all runs of a session.
type Profile struct {
	Nodes []NodeTime
	index map[nodeKey]int
}

// nodeKey identifies a node in a profile.
type nodeKey struct{ name, op string }

// NodeTime is the total time spent in one node.
type NodeTime struct {
	Name  string        `json:"name"`
	Op    string        `json:"op"`
	Calls int           `json:"calls"`
	Total time.Duration `json:"total_ns"`
}

// OpTime is the total time spent in all nodes of one op type.
type OpTime struct {
	Op    string        `json:"op"`
	Nodes int           `json:"nodes"`
	Calls int           `json:"calls"`
	Total time.Duration `json:"total_ns"`
}

// add records one call of n. Nodes are keyed by name and op, so that the
// same node in the children a session specialises to its input sizes is
// one entry.
func (p *Profile) add(n *graph.Node, d time.Duration) {
	if p.index == nil {
		p.index = map[nodeKey]int{}
	}
	k := nodeKey{profileName(n), n.OpType}
	i, ok := p.index[k]
	if !ok {
		i = len(p.Nodes)
		p.index[k] = i
		p.Nodes = append(p.Nodes, NodeTime{Name: k.name, Op: k.op})
	}
	p.Nodes[i].Calls++
	p.Nodes[i].Total += d
}

// profileName names n in a profile: its name, or for an unnamed node the
// value it writes ("-> y").
func profileName(n *graph.Node) string {
	if n.Name != "" {
		return n.Name
	}
	for _, o := range n.Outputs {
		if o != nil {
			return "-> " + o.Name
		}
	}
	return ""
}

// Reset clears the calls and times recorded so far, keeping the nodes in
// their order, so that the profile covers only the runs after it. The
// first run of a session packs constant weights into each kernel's layout
// (once), which would otherwise weigh on the mean of the nodes with the
// largest weights.
func (p *Profile) Reset() {
	for i := range p.Nodes {
		p.Nodes[i].Calls, p.Nodes[i].Total = 0, 0
	}
}

// ByOp aggregates the node times per op type, slowest first.
func (p *Profile) ByOp() []OpTime {
	agg := map[string]*OpTime{}
	for _, n := range p.Nodes {
		t, ok := agg[n.Op]
		if !ok {
			t = &OpTime{Op: n.Op}
			agg[n.Op] = t
		}
		t.Nodes++
		t.Calls += n.Calls
		t.Total += n.Total
	}
	out := make([]OpTime, 0, len(agg))
	for _, t := range agg {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out
}

// WriteTable prints the per-op summary as an aligned text table.
func (p *Profile) WriteTable(w io.Writer) {
	ops := p.ByOp()
	var total time.Duration
	for _, o := range ops {
		total += o.Total
	}
	fmt.Fprintf(w, "%-24s %6s %8s %12s %7s\n", "op", "nodes", "calls", "total", "share")
	for _, o := range ops {
		share := 0.0
		if total > 0 {
			share = 100 * float64(o.Total) / float64(total)
		}
		fmt.Fprintf(w, "%-24s %6d %8d %12s %6.1f%%\n", o.Op, o.Nodes, o.Calls, o.Total.Round(time.Microsecond), share)
	}
}

// Slowest returns the n nodes with the largest total time, slowest first
// (all of them when n exceeds their number).
func (p *Profile) Slowest(n int) []NodeTime {
	out := append([]NodeTime(nil), p.Nodes...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Total > out[j].Total })
	return out[:min(max(n, 0), len(out))]
}

// WriteNodeTable prints the n slowest nodes as an aligned text table: the
// mean time per call and the share of all node time.
func (p *Profile) WriteNodeTable(w io.Writer, n int) {
	var total time.Duration
	for _, t := range p.Nodes {
		total += t.Total
	}
	fmt.Fprintf(w, "%-32s %-24s %8s %12s %7s\n", "node", "op", "calls", "mean", "share")
	for _, t := range p.Slowest(n) {
		share, mean := 0.0, time.Duration(0)
		if total > 0 {
			share = 100 * float64(t.Total) / float64(total)
		}
		if t.Calls > 0 {
			mean = t.Total / time.Duration(t.Calls)
		}
		fmt.Fprintf(w, "%-32s %-24s %8d %12s %6.1f%%\n", t.Name, t.Op, t.Calls, mean.Round(100*time.Nanosecond), share)
	}
}
