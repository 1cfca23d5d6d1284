package runtime

import (
	"errors"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// testBackend has three real ops: AddOne (y = x + 1, fresh buffer), View
// (returns a reshaped view of its input) and Boom (panics).
func testBackend() *Registry {
	r := NewRegistry("test")
	r.Register("", "AddOne", func(*graph.Node, NodeInfo) (Op, error) {
		return OpFunc(func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			out, err := ctx.Alloc(tensor.Float32, in[0].Shape()...)
			if err != nil {
				return nil, err
			}
			o, x := out.F32(), in[0].F32()
			for i := range x {
				o[i] = x[i] + 1
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	})
	r.Register("", "View", func(*graph.Node, NodeInfo) (Op, error) {
		return OpFunc(func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			v, err := in[0].Reshape(in[0].Len())
			return []*tensor.Tensor{v}, err
		}), nil
	})
	r.Register("", "Scratchy", func(*graph.Node, NodeInfo) (Op, error) {
		return OpFunc(func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			tmp, err := ctx.Alloc(tensor.Float32, 1000)
			if err != nil {
				return nil, err
			}
			tmp.F32()[0] = 1 // scratch: written, not returned
			v, err := in[0].Reshape(in[0].Shape()...)
			return []*tensor.Tensor{v}, err
		}), nil
	})
	r.Register("", "Boom", func(*graph.Node, NodeInfo) (Op, error) {
		return OpFunc(func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			var s []int
			_ = s[3]
			return nil, nil
		}), nil
	})
	return r
}

// linear builds x -> op1 -> op2 -> ... -> y with x float32 [2 2].
func linear(ops ...string) *graph.Model {
	g := graph.NewGraph("t")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.Shape = []graph.Dim{{Size: -1, Param: "n"}, {Size: 2}}
	x.HasShape = true
	g.Inputs = []*graph.Value{x}
	cur := x
	for i, op := range ops {
		next := g.GetOrAddValue(op + string(rune('a'+i)))
		g.AddNode(op, []*graph.Value{cur}, []*graph.Value{next}, nil)
		cur = next
	}
	g.Outputs = []*graph.Value{cur}
	return graph.NewModel(g, 13)
}

func TestArenaReusesBuffers(t *testing.T) {
	m := linear("AddOne", "AddOne", "AddOne", "AddOne", "AddOne")
	s, err := NewSession(m, testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := tensor.FromSlice([]int{2, 2}, []float32{1, 2, 3, 4})
	for run := 0; run < 3; run++ {
		out, err := s.Run(map[string]*tensor.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].F32(); got[0] != 6 || got[3] != 9 {
			t.Fatalf("run %d: %v, want x+5", run, got)
		}
	}
	// Five nodes per run; with reuse a chain needs only two live buffers.
	if s.arena.Allocs > 2*3 || s.arena.Reuses == 0 {
		t.Errorf("arena made %d buffers and reused %d over 15 node runs", s.arena.Allocs, s.arena.Reuses)
	}
	if x.F32()[0] != 1 {
		t.Error("input modified")
	}
}

// TestViewKeepsBufferAlive: a view of an intermediate must not be recycled
// while the view is still needed.
func TestViewKeepsBufferAlive(t *testing.T) {
	m := linear("AddOne", "View", "AddOne", "AddOne")
	s, err := NewSession(m, testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 3; run++ {
		out, err := s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{10, 20})})
		if err != nil {
			t.Fatal(err)
		}
		if got := out[0].F32(); len(got) != 2 || got[0] != 13 || got[1] != 23 {
			t.Fatalf("run %d: %v, want [13 23]", run, got)
		}
	}
}

// TestOutputsAreNotRecycled: tensors handed to the caller keep their values
// across later runs.
func TestOutputsAreNotRecycled(t *testing.T) {
	s, err := NewSession(linear("AddOne", "AddOne"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{0, 0})})
	s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{100, 100})})
	if first[0].F32()[0] != 2 {
		t.Errorf("an earlier output changed to %v", first[0].F32())
	}
}

func TestInputErrors(t *testing.T) {
	s, err := NewSession(linear("AddOne"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		in   map[string]*tensor.Tensor
		want string
	}{
		"missing": {map[string]*tensor.Tensor{}, `missing input "x"`},
		"dtype":   {map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []int64{1, 2})}, "dtype int64"},
		"rank":    {map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{2}, []float32{1, 2})}, "rank 1"},
		"dim":     {map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 3}, []float32{1, 2, 3})}, "dimension 1"},
		"unknown": {map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{1, 2}), "z": tensor.Scalar(float32(1))}, `no input "z"`},
	} {
		_, err := s.Run(tc.in)
		var ie *InputError
		if err == nil || !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want InputError containing %q", name, err, tc.want)
		}
	}
}

func TestUnsupportedOpsListed(t *testing.T) {
	_, err := NewSession(linear("AddOne", "Frobnicate", "Zap", "Frobnicate"), testBackend(), Options{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || strings.Join(ue.Ops, ",") != "Frobnicate,Zap" {
		t.Fatalf("got %v, want the two unsupported ops listed once each", err)
	}
}

// TestUnsupportedOpsNamed: the error names a node of each missing op, and
// an op name with bytes that are not printable (a damaged file) is quoted.
func TestUnsupportedOpsNamed(t *testing.T) {
	m := linear("AddOne", "Zap", "kernel\x00\xff")
	m.Graph.Nodes[1].Name = "zapper"
	_, err := NewSession(m, testBackend(), Options{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{`Zap (node "zapper")`, `"kernel\x00\xff"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not contain %q", msg, want)
		}
	}
}

func TestPanicBecomesError(t *testing.T) {
	s, err := NewSession(linear("AddOne", "Boom"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{1, 2})})
	if err == nil || !strings.Contains(err.Error(), "Boom") || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("panic not turned into an error naming the node: %v", err)
	}
}

func TestProfile(t *testing.T) {
	s, err := NewSession(linear("AddOne", "View", "AddOne"), testBackend(), Options{Profile: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{1, 2})})
	}
	ops := s.Profile().ByOp()
	calls := map[string]int{}
	for _, o := range ops {
		calls[o.Op] = o.Calls
	}
	if calls["AddOne"] != 8 || calls["View"] != 4 {
		t.Errorf("profile calls %v, want AddOne 8, View 4", calls)
	}
	// Slowest: every node once, sorted by total time, clipped to n.
	all := s.Profile().Slowest(10)
	if len(all) != 3 {
		t.Fatalf("Slowest(10) = %v, want the 3 nodes", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Total > all[i-1].Total || all[i].Calls != 4 {
			t.Fatalf("Slowest(10) = %v: not sorted slowest first, or not 4 calls each", all)
		}
	}
	if two := s.Profile().Slowest(2); len(two) != 2 || two[0] != all[0] || two[1] != all[1] {
		t.Errorf("Slowest(2) = %v, want the first two of %v", two, all)
	}
	if none := s.Profile().Slowest(-1); len(none) != 0 {
		t.Errorf("Slowest(-1) = %v", none)
	}
	// Unnamed nodes are named by the value they write.
	if all[0].Name == "" || !strings.HasPrefix(all[0].Name, "-> ") {
		t.Errorf("unnamed node profiled as %q, want \"-> <output>\"", all[0].Name)
	}
	// Reset: no calls and no time left, then the runs after it only, the
	// nodes in the same order. (Comparing one run's time with the four
	// runs' before it was flaky: a preempted run of a microsecond node can
	// take longer than four.)
	before := append([]NodeTime(nil), s.Profile().Nodes...)
	s.Profile().Reset()
	for i, n := range s.Profile().Nodes {
		if n.Calls != 0 || n.Total != 0 || n.Name != before[i].Name {
			t.Errorf("after Reset: %+v (before: %+v), want the same node with no calls and no time", n, before[i])
		}
	}
	s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{1, 2})})
	for i, n := range s.Profile().Nodes {
		if n.Calls != 1 || n.Name != before[i].Name {
			t.Errorf("after Reset and one run: %+v (before: %+v), want 1 call of the same node", n, before[i])
		}
	}
}

func TestParallelForCoversRange(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		ctx := NewContext(threads)
		seen := make([]int32, 101)
		ctx.ParallelFor(len(seen), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("threads %d: index %d visited %d times", threads, i, c)
			}
		}
	}
}

// TestScratchReturnsToArena: buffers an op allocates but does not output are
// recycled, so repeated runs do not grow the arena.
func TestScratchReturnsToArena(t *testing.T) {
	s, err := NewSession(linear("Scratchy", "AddOne"), testBackend(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{1, 2})}); err != nil {
			t.Fatal(err)
		}
	}
	if s.arena.Allocs > 2+5 || len(s.arena.refs) != 0 {
		t.Errorf("arena made %d buffers and still tracks %d after 5 runs; scratch is not recycled", s.arena.Allocs, len(s.arena.refs))
	}
}

// TestParallelProcs: a parallel section on k threads leaves the Go
// scheduler at least k Ps, and k+1 once ReserveSpareP was called (see
// ensureProcs), unless GOMAXPROCS is set by the user.
func TestParallelProcs(t *testing.T) {
	if userGOMAXPROCS {
		t.Skip("GOMAXPROCS is set in the environment")
	}
	threads := goruntime.GOMAXPROCS(0) + 2
	Parallel(threads, threads, func(int) {})
	if got := goruntime.GOMAXPROCS(0); got < threads {
		t.Fatalf("GOMAXPROCS %d after a section on %d threads, want >= %d", got, threads, threads)
	}
	ReserveSpareP()
	Parallel(threads, threads, func(int) {})
	if got := goruntime.GOMAXPROCS(0); got < threads+1 {
		t.Fatalf("GOMAXPROCS %d after a section on %d threads with a spare P, want >= %d", got, threads, threads+1)
	}
}

// TestPoolWorkersBounded: back-to-back parallel sections reuse the pool's
// workers. When a worker went back to the idle list only after its last
// chunk was counted, the caller, starting the next section at once, found
// none idle and started another: 10,000 sections of 4 chunks left about
// 1,900 workers, each spinning for SpinTime beside the others.
func TestPoolWorkersBounded(t *testing.T) {
	before := goruntime.NumGoroutine()
	var sum atomic.Int64
	for i := 0; i < 10000; i++ {
		Parallel(4, 2, func(c int) { sum.Add(int64(c)) })
	}
	if sum.Load() != 6*10000 {
		t.Fatalf("sum %d, want %d", sum.Load(), 6*10000)
	}
	if grown := goruntime.NumGoroutine() - before; grown > 4 {
		t.Errorf("%d more goroutines after 10,000 sections on 2 threads", grown)
	}
}

// concatBackend is testBackend with a counting Concat along axis 1 of
// [1, n] tensors.
func concatBackend(runs *int) *Registry {
	r := testBackend()
	r.Register("", "Concat", func(*graph.Node, NodeInfo) (Op, error) {
		return OpFunc(func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			*runs++
			n := 0
			for _, t := range in {
				n += t.Len()
			}
			out, err := ctx.AllocUninit(tensor.Float32, 1, n)
			if err != nil {
				return nil, err
			}
			at := 0
			for _, t := range in {
				at += copy(out.F32()[at:], t.F32())
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	})
	return r
}

// TestConcatInPlace: producers read only by a Concat of [1, n] tensors
// write into its output, which the Concat then does not copy; one whose
// output is elsewhere (a view of its input) makes the Concat copy. The
// results are right either way, over several runs, and the buffers are
// recycled (no buffer is held or allocated anew each run).
func TestConcatInPlace(t *testing.T) {
	build := func(viewSecond bool) *graph.Model {
		g := graph.NewGraph("t")
		val := func(name string, n int) *graph.Value {
			v := g.GetOrAddValue(name)
			v.DType = tensor.Float32
			v.SetShape([]int{1, n})
			return v
		}
		x := val("x", 2)
		g.Inputs = []*graph.Value{x}
		a, b, c := val("a", 2), val("b", 2), val("c", 2)
		g.AddNode("AddOne", []*graph.Value{x}, []*graph.Value{a}, nil)
		g.AddNode("AddOne", []*graph.Value{x}, []*graph.Value{b}, nil)
		if viewSecond {
			g.AddNode("View", []*graph.Value{b}, []*graph.Value{c}, nil)
			c.SetShape([]int{1, 2})
		} else {
			g.AddNode("AddOne", []*graph.Value{b}, []*graph.Value{c}, nil)
		}
		cat, y := val("cat", 4), val("y", 4)
		g.AddNode("Concat", []*graph.Value{a, c}, []*graph.Value{cat}, map[string]*graph.Attr{"axis": graph.IntAttr(1)})
		g.AddNode("AddOne", []*graph.Value{cat}, []*graph.Value{y}, nil)
		g.Outputs = []*graph.Value{y}
		return graph.NewModel(g, 13)
	}
	for _, viewSecond := range []bool{false, true} {
		runs := 0
		s, err := NewSession(build(viewSecond), concatBackend(&runs), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.concats) != 1 {
			t.Fatalf("view=%v: %d concatenations planned in place, want 1", viewSecond, len(s.concats))
		}
		want := []float32{12, 22, 13, 23} // [x+1, x+2] + 1, or [x+1, x+1] + 1 with the view
		if viewSecond {
			want = []float32{12, 22, 12, 22}
		}
		allocs := 0
		for run := 0; run < 4; run++ {
			out, err := s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{10, 20})})
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				if out[0].F32()[i] != w {
					t.Fatalf("view=%v run %d: %v, want %v", viewSecond, run, out[0].F32(), want)
				}
			}
			if run == 1 {
				allocs = s.arena.Allocs
			}
		}
		wantRuns := 0
		if viewSecond {
			wantRuns = 4
		}
		if runs != wantRuns {
			t.Errorf("view=%v: the Concat op ran %d times in 4 runs, want %d", viewSecond, runs, wantRuns)
		}
		// Each run hands out y (forgotten), so one new buffer per run.
		if grown := s.arena.Allocs - allocs; grown > 2 {
			t.Errorf("view=%v: %d buffers allocated in the last 2 runs: the concatenation's buffer is not recycled", viewSecond, grown)
		}
		if s.concatBufs[0] != nil {
			t.Errorf("view=%v: the concatenation's buffer is still held after the run", viewSecond)
		}
	}
}

// TestConcatChainInPlace: a dense-block chain (x1 = Concat(x0, y1), x2 =
// Concat(x1, y2), every x also read by the next layer) becomes one buffer
// that no Concat copies into; and a placed input read after the
// concatenation's output is gone (x0 below, the second part of c1, read
// by the last node) keeps its values: the arena holds the whole buffer for
// it, so the later allocation of c1's size does not reuse it.
func TestConcatChainInPlace(t *testing.T) {
	g := graph.NewGraph("t")
	val := func(name string, n int) *graph.Value {
		v := g.GetOrAddValue(name)
		v.DType = tensor.Float32
		v.SetShape([]int{1, n})
		return v
	}
	add := func(op string, in []*graph.Value, out *graph.Value) {
		var attrs map[string]*graph.Attr
		if op == "Concat" {
			attrs = map[string]*graph.Attr{"axis": graph.IntAttr(1)}
		}
		g.AddNode(op, in, []*graph.Value{out}, attrs)
	}
	x := val("x", 2)
	g.Inputs = []*graph.Value{x}
	x0, y1, c1 := val("x0", 2), val("y1", 2), val("c1", 4)
	y2, c2 := val("y2", 4), val("c2", 8)
	z, w, late := val("z", 8), val("w", 8), val("late", 2)
	add("AddOne", []*graph.Value{x}, x0)
	add("AddOne", []*graph.Value{x0}, y1)
	add("Concat", []*graph.Value{y1, x0}, c1) // x0 in the second half
	add("AddOne", []*graph.Value{c1}, y2)
	add("Concat", []*graph.Value{c1, y2}, c2)
	add("AddOne", []*graph.Value{c2}, z)
	add("AddOne", []*graph.Value{z}, w) // c2's buffer is free by now: w's allocation may reuse it
	add("AddOne", []*graph.Value{x0}, late)
	g.Outputs = []*graph.Value{w, late}
	runs := 0
	s, err := NewSession(graph.NewModel(g, 13), concatBackend(&runs), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.concats) != 2 || s.concats[0].in == nil {
		t.Fatalf("%d concatenations planned in place (the first nested: %v), want 2, nested", len(s.concats), len(s.concats) > 0 && s.concats[0].in != nil)
	}
	// x0 = 11, y1 = 12, c1 = [12 12 11 11], y2 = c1+1, c2 = [c1, y2], w = c2+2
	wantW := []float32{14, 14, 13, 13, 15, 15, 14, 14}
	for run := 0; run < 3; run++ {
		out, err := s.Run(map[string]*tensor.Tensor{"x": tensor.FromSlice([]int{1, 2}, []float32{10, 10})})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range wantW {
			if out[0].F32()[i] != v {
				t.Fatalf("run %d: w = %v, want %v", run, out[0].F32(), wantW)
			}
		}
		if l := out[1].F32(); l[0] != 12 || l[1] != 12 {
			t.Fatalf("run %d: late = %v, want [12 12]: x0's part of the buffer was reused", run, l)
		}
		if len(s.arena.refs) != 0 || len(s.arena.inside) != 0 || s.concatBufs[0] != nil || s.concatBufs[1] != nil {
			t.Fatalf("run %d: after the run the arena tracks %d buffers and %d views, groups hold %v", run, len(s.arena.refs), len(s.arena.inside), s.concatBufs)
		}
	}
	if runs != 0 {
		t.Errorf("the Concat op ran %d times in 3 runs, want 0", runs)
	}
}
