package runtime

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/tensor"
)

// Options configure a Session.
type Options struct {
	// Threads an op may use; <= 0 means 1.
	Threads int
	// Profile records per-node wall time.
	Profile bool
	// NoOptimize turns off the load-time graph passes (graph/passes.Optimize:
	// QDQ products to integer ops, constant folding, BatchNormalization
	// folding, Conv/Gemm prologue and epilogue fusion), which otherwise run
	// on a private copy of the model; Model() still returns the caller's.
	NoOptimize bool
}

// Session is a model prepared for execution on a backend. Run may be called
// many times; calls are serialised (one run at a time per session).
type Session struct {
	model   *graph.Model
	g       *graph.Graph
	backend Backend
	opts    Options
	ops     []Op
	// Values are numbered: a run keeps its tensors in a slice indexed by
	// slot rather than a map. consts holds the initializers at their
	// slots; nodeIn[i] and nodeOut[i] are node i's value slots (-1: absent).
	slot            map[*graph.Value]int
	consts          []*tensor.Tensor
	nodeIn, nodeOut [][]int
	// lastUse[i] lists the slots of the values whose last reader is node i.
	lastUse [][]int
	outputs map[*graph.Value]bool
	arena   *Arena
	// Concatenations computed in place (planConcats): place[i] is where
	// node i writes its output (nil: anywhere), concatOf[i] the group
	// node i is the Concat of (-1: none), concatBufs the groups' buffers
	// during a run.
	concats    []concatGroup
	place      []*placement
	concatOf   []int
	concatBufs []*tensor.Tensor
	mu         sync.Mutex
	prof       *Profile
	// optErr is why the load-time passes were skipped (nil when they ran
	// or were turned off).
	optErr error
	// spec, for a model with symbolic input dimensions, holds the
	// sessions specialised to the sizes runs gave them (specialize.go).
	spec *specials
}

// UnsupportedError lists the ops of a model that a backend cannot run.
type UnsupportedError struct {
	Backend string
	Ops     []string // sorted op types ("domain:op" outside ONNX)
	Nodes   []string // for each op, the name of a node that has it
}

func (e *UnsupportedError) Error() string {
	parts := make([]string, len(e.Ops))
	for i, op := range e.Ops {
		parts[i] = op
		if q := strconv.Quote(op); q != `"`+op+`"` { // a damaged file's bytes: quoted, escapes visible
			parts[i] = q
		}
		if i < len(e.Nodes) && e.Nodes[i] != "" {
			parts[i] += fmt.Sprintf(" (node %q)", e.Nodes[i])
		}
	}
	return fmt.Sprintf("%s backend does not support op(s): %s", e.Backend, strings.Join(parts, ", "))
}

// NewSession orders the graph, checks that the backend supports every op
// (listing all missing ones in an *UnsupportedError), and prepares each node.
func NewSession(m *graph.Model, b Backend, opts Options) (*Session, error) {
	g := m.Graph
	if err := g.TopoSort(); err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if opts.Threads <= 0 {
		opts.Threads = 1
	}
	var optErr error
	if !opts.NoOptimize {
		g, optErr = optimized(m, b)
	}
	s := &Session{model: m, g: g, backend: b, opts: opts, arena: NewArena(),
		outputs: map[*graph.Value]bool{}, optErr: optErr}
	missing := map[string]string{} // op -> first node with it
	for _, n := range g.Nodes {
		if b.Factory(n.Domain, n.OpType) != nil {
			continue
		}
		k := opKey(n.Domain, n.OpType)
		if _, seen := missing[k]; !seen {
			missing[k] = n.Name
		}
	}
	if len(missing) > 0 {
		e := &UnsupportedError{Backend: b.Name()}
		for op := range missing {
			e.Ops = append(e.Ops, op)
		}
		sort.Strings(e.Ops)
		for _, op := range e.Ops {
			e.Nodes = append(e.Nodes, missing[op])
		}
		return nil, e
	}
	s.ops = make([]Op, len(g.Nodes))
	for i, n := range g.Nodes {
		domain := n.Domain
		if domain == "ai.onnx" {
			domain = ""
		}
		op, err := b.Factory(n.Domain, n.OpType)(n, NodeInfo{Opset: m.Opsets[domain]})
		if err != nil {
			return nil, fmt.Errorf("node %v: %w", n, err)
		}
		s.ops[i] = op
	}
	for _, o := range g.Outputs {
		s.outputs[o] = true
	}
	s.numberValues()
	s.planReleases()
	s.planConcats()
	if opts.Profile {
		s.prof = &Profile{}
	}
	if !opts.NoOptimize && symbolicInputs(m.Graph) {
		// a copy: later changes to the caller's model do not reach the children
		s.spec = &specials{model: passes.Clone(m), children: map[string]*Session{}}
	}
	return s, nil
}

// optimized returns the graph of m after graph/passes.Optimize, with the
// fusions b supports and constant folding on b's kernels; m itself is not
// modified. Should a pass fail, the session runs m's graph as it is.
func optimized(m *graph.Model, b Backend) (*graph.Graph, error) {
	eval := func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		f := b.Factory(n.Domain, n.OpType)
		if f == nil {
			return nil, fmt.Errorf("no kernel for %v", n)
		}
		domain := n.Domain
		if domain == "ai.onnx" {
			domain = ""
		}
		op, err := f(n, NodeInfo{Opset: m.Opsets[domain]})
		if err != nil {
			return nil, err
		}
		return runOp(op, NewContext(1), in)
	}
	om, _, err := passes.Optimize(m, passes.Options{
		Supports: func(domain, op string) bool { return b.Factory(domain, op) != nil },
		Eval:     eval,
	})
	if err != nil {
		return m.Graph, err
	}
	return om.Graph, nil
}

// OptimizeError is the error that made the session run the model without
// its load-time passes (folding, fusion, integer lowering): the results
// are the same, only slower. For a model with symbolic input sizes it is
// also, once a run has met one, the first error that left the runs at
// some sizes without a specialised child or with an unoptimised one
// (specialize.go). It is nil when the passes ran or were turned off
// (Options.NoOptimize).
func (s *Session) OptimizeError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.optErr == nil && s.spec != nil {
		return s.spec.err
	}
	return s.optErr
}

// numberValues gives every value of the graph a slot and records the
// initializers' tensors and each node's input and output slots.
func (s *Session) numberValues() {
	s.slot = map[*graph.Value]int{}
	number := func(v *graph.Value) int {
		if v == nil {
			return -1
		}
		i, ok := s.slot[v]
		if !ok {
			i = len(s.slot)
			s.slot[v] = i
		}
		return i
	}
	for _, v := range s.g.Initializers {
		number(v)
	}
	for _, v := range s.g.Inputs {
		number(v)
	}
	s.nodeIn, s.nodeOut = make([][]int, len(s.g.Nodes)), make([][]int, len(s.g.Nodes))
	for i, n := range s.g.Nodes {
		for _, v := range n.Inputs {
			s.nodeIn[i] = append(s.nodeIn[i], number(v))
		}
		for _, v := range n.Outputs {
			s.nodeOut[i] = append(s.nodeOut[i], number(v))
		}
	}
	for _, v := range s.g.Outputs {
		number(v)
	}
	s.consts = make([]*tensor.Tensor, len(s.slot))
	for _, v := range s.g.Initializers {
		s.consts[s.slot[v]] = v.Const
	}
}

// planReleases finds, for every computed value that is not a graph output,
// the last node reading it.
func (s *Session) planReleases() {
	last := map[*graph.Value]int{}
	for i, n := range s.g.Nodes {
		for _, o := range n.Outputs {
			if o != nil {
				last[o] = i // a value nobody reads is released right away
			}
		}
		for _, in := range n.Inputs {
			if in != nil && in.Producer != nil {
				last[in] = i
			}
		}
	}
	s.lastUse = make([][]int, len(s.g.Nodes))
	for v, i := range last {
		if !s.outputs[v] {
			s.lastUse[i] = append(s.lastUse[i], s.slot[v])
		}
	}
}

// Model returns the model the session runs.
func (s *Session) Model() *graph.Model { return s.model }

// InputNames lists the inputs a caller must (or, for inputs with an
// initializer, may) provide.
func (s *Session) InputNames() []string {
	var out []string
	for _, v := range s.g.Inputs {
		out = append(out, v.Name)
	}
	return out
}

// Run executes the graph on the named inputs and returns the graph outputs
// in order. Errors in the inputs are *InputError.
func (s *Session) Run(inputs map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.specialFor(inputs); c != nil {
		return c.Run(inputs)
	}
	env := make([]*tensor.Tensor, len(s.consts))
	copy(env, s.consts)
	if err := s.bindInputs(inputs, env); err != nil {
		return nil, err
	}
	ctx := &Context{Threads: s.opts.Threads, arena: s.arena}
	in := make([]*tensor.Tensor, 0, 8)
	for i, n := range s.g.Nodes {
		in = in[:0]
		for j, sl := range s.nodeIn[i] {
			if sl < 0 {
				in = append(in, nil)
				continue
			}
			t := env[sl]
			if t == nil {
				return nil, fmt.Errorf("node %v: input %q was not computed", n, n.Inputs[j].Name)
			}
			in = append(in, t)
		}
		var start time.Time
		if s.prof != nil {
			start = time.Now()
		}
		if k := s.concatOf[i]; k >= 0 && s.concatInPlace(k, in) {
			// Every input was computed in its place in the output.
			env[s.nodeOut[i][0]], s.concatBufs[k] = s.concatBufs[k], nil
			if s.prof != nil {
				s.prof.add(n, time.Since(start))
			}
			s.releaseLastUses(i, env)
			continue
		}
		if pl := s.place[i]; pl != nil {
			view, err := s.placeFor(pl)
			if err != nil {
				return nil, fmt.Errorf("node %v: %w", n, err)
			}
			ctx.place = view
		}
		out, err := runOp(s.ops[i], ctx, in)
		ctx.place = nil
		if s.prof != nil {
			s.prof.add(n, time.Since(start))
		}
		ctx.releaseScratch(out)
		if k := s.concatOf[i]; k >= 0 && s.concatBufs[k] != nil {
			// The Concat copied: its inputs' buffer is not its output.
			s.arena.Release(s.concatBufs[k])
			s.concatBufs[k] = nil
		}
		if err != nil {
			var ie *InputError
			if errors.As(err, &ie) {
				return nil, err
			}
			return nil, fmt.Errorf("node %v: %w", n, err)
		}
		if len(out) > len(n.Outputs) {
			return nil, fmt.Errorf("node %v: op returned %d outputs, the node has %d", n, len(out), len(n.Outputs))
		}
		for j, sl := range s.nodeOut[i] {
			if sl < 0 {
				continue
			}
			if j >= len(out) || out[j] == nil {
				return nil, fmt.Errorf("node %v: op did not produce output %d (%q)", n, j, n.Outputs[j].Name)
			}
			// A view of an input shares its buffer: count the reference.
			if aliasesInput(out[j], in) {
				s.arena.Retain(out[j])
			}
			env[sl] = out[j]
		}
		s.releaseLastUses(i, env)
	}
	res := make([]*tensor.Tensor, len(s.g.Outputs))
	for i, o := range s.g.Outputs {
		t := env[s.slot[o]]
		if t == nil {
			return nil, fmt.Errorf("graph output %q was not computed", o.Name)
		}
		if o.Producer == nil || !s.owned(t) {
			t = t.Clone() // never hand out an initializer or the caller's input
		}
		s.arena.Forget(t)
		res[i] = t
	}
	return res, nil
}

// releaseLastUses releases the values whose last reader is node i.
func (s *Session) releaseLastUses(i int, env []*tensor.Tensor) {
	for _, sl := range s.lastUse[i] {
		if t := env[sl]; t != nil {
			s.arena.Release(t)
			env[sl] = nil
		}
	}
}

func (s *Session) owned(t *tensor.Tensor) bool {
	p := t.DataPointer()
	if p == nil {
		return true
	}
	_, ok := s.arena.refs[p]
	return ok
}

func aliasesInput(out *tensor.Tensor, in []*tensor.Tensor) bool {
	p := out.DataPointer()
	if p == nil {
		return false
	}
	for _, t := range in {
		if t != nil && t.DataPointer() == p {
			return true
		}
	}
	return false
}

// bindInputs checks caller inputs against the declared types and binds them.
func (s *Session) bindInputs(inputs map[string]*tensor.Tensor, env []*tensor.Tensor) error {
	known := map[string]bool{}
	symbols := map[string]int{}
	for _, v := range s.g.Inputs {
		known[v.Name] = true
		t, ok := inputs[v.Name]
		if !ok || t == nil {
			if v.Const != nil {
				continue
			}
			return inputErrorf("missing input %q (%s)", v.Name, describe(v))
		}
		if v.DType != tensor.Undefined && t.DType() != v.DType {
			return inputErrorf("input %q: dtype %v, the model declares %v", v.Name, t.DType(), v.DType)
		}
		if v.HasShape {
			if err := checkShape(v, t.Shape(), symbols); err != nil {
				return err
			}
		}
		env[s.slot[v]] = t
	}
	for name := range inputs {
		if !known[name] {
			return inputErrorf("the model has no input %q (inputs: %s)", name, strings.Join(s.InputNames(), ", "))
		}
	}
	return nil
}

func checkShape(v *graph.Value, shape []int, symbols map[string]int) error {
	if len(shape) != len(v.Shape) {
		return inputErrorf("input %q: shape %v has rank %d, the model declares %s", v.Name, shape, len(shape), graph.FormatShape(v.Shape))
	}
	for i, d := range v.Shape {
		switch {
		case d.Known() && int64(shape[i]) != d.Size:
			return inputErrorf("input %q: shape %v does not match the declared %s (dimension %d)", v.Name, shape, graph.FormatShape(v.Shape), i)
		case !d.Known() && d.Param != "":
			if prev, ok := symbols[d.Param]; ok && prev != shape[i] {
				return inputErrorf("input %q: dimension %d (%s) is %d, but %s is %d in another input", v.Name, i, d.Param, shape[i], d.Param, prev)
			}
			symbols[d.Param] = shape[i]
		}
	}
	return nil
}

func describe(v *graph.Value) string {
	s := v.DType.String()
	if v.HasShape {
		s += " " + graph.FormatShape(v.Shape)
	}
	return s
}

// Profile returns the accumulated per-node timings (nil unless
// Options.Profile was set).
func (s *Session) Profile() *Profile { return s.prof }

// runOp runs one op, turning a panic inside a kernel into an error so that
// callers (and the CLI) never crash on a kernel bug or unforeseen input.
func runOp(op Op, ctx *Context, in []*tensor.Tensor) (out []*tensor.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error (please report): %v", p)
		}
	}()
	return op.Run(ctx, in)
}
