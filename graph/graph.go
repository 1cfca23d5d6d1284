package graph

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gcompress/gcompress/tensor"
)

// Dim is one dimension of a value's shape: a known size (Size >= 0), a named
// symbolic size (Size < 0, Param set, e.g. "batch"), or unknown (Size < 0,
// Param empty).
type Dim struct {
	Size  int64
	Param string
}

// Known reports whether the dimension has a concrete size.
func (d Dim) Known() bool { return d.Size >= 0 }

func (d Dim) String() string {
	switch {
	case d.Size >= 0:
		return strconv.FormatInt(d.Size, 10)
	case d.Param != "":
		return d.Param
	}
	return "?"
}

// KnownDims returns a shape of concrete sizes.
func KnownDims(sizes ...int) []Dim {
	out := make([]Dim, len(sizes))
	for i, s := range sizes {
		out[i] = Dim{Size: int64(s)}
	}
	return out
}

// FormatShape prints dims as "[1 3 224 224]" ("[batch 10]" with symbols).
func FormatShape(dims []Dim) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Value is a tensor edge of the graph.
type Value struct {
	Name string
	// DType is the element type, tensor.Undefined when not known.
	DType tensor.DType
	// Shape is meaningful only when HasShape is set (a rank-0 shape is empty).
	Shape    []Dim
	HasShape bool
	// Const holds the data of an initializer; nil for computed values.
	Const *tensor.Tensor
	// Producer is the node computing the value; nil for inputs and initializers.
	Producer *Node
	// Consumers lists the nodes reading the value, once per node.
	Consumers []*Node
	// Annotated marks values that the source file described in value_info;
	// the exporter writes value_info back for them.
	Annotated bool
	// RawType holds the encoded ONNX TypeProto of a value whose type is not
	// a plain tensor (sequence, map, optional, sparse tensor); such values
	// cannot be computed by the runtime but survive a round trip.
	RawType []byte
}

// ConcreteShape returns the shape as ints if every dimension is known.
func (v *Value) ConcreteShape() ([]int, bool) {
	if !v.HasShape {
		return nil, false
	}
	out := make([]int, len(v.Shape))
	for i, d := range v.Shape {
		if !d.Known() {
			return nil, false
		}
		out[i] = int(d.Size)
	}
	return out, true
}

// SetShape records a concrete shape.
func (v *Value) SetShape(shape []int) {
	v.Shape = KnownDims(shape...)
	v.HasShape = true
}

func (v *Value) String() string {
	s := v.Name + ":" + v.DType.String()
	if v.HasShape {
		s += FormatShape(v.Shape)
	}
	return s
}

// Node is one operator application.
type Node struct {
	Name   string
	OpType string
	// Domain is "" for the default ONNX domain (also spelled "ai.onnx").
	Domain  string
	Inputs  []*Value
	Outputs []*Value
	Attrs   map[string]*Attr
	// Opaque holds the NodeProto fields the IR does not model (doc_string,
	// unknown fields), as protobuf bytes to be merged back on export.
	Opaque []byte
}

// Input returns input i, or nil if it is absent or omitted.
func (n *Node) Input(i int) *Value {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return nil
}

// IsONNX reports whether n is op type op of the default ONNX domain (false
// for a nil n).
func (n *Node) IsONNX(op string) bool {
	return n != nil && n.OpType == op && (n.Domain == "" || n.Domain == "ai.onnx")
}

// String names the node for messages: `Conv "conv1"`, or for an unnamed node
// `Conv (output "y")`.
func (n *Node) String() string {
	if n.Name != "" {
		return fmt.Sprintf("%s %q", n.OpType, n.Name)
	}
	for _, o := range n.Outputs {
		if o != nil {
			return fmt.Sprintf("%s (output %q)", n.OpType, o.Name)
		}
	}
	return n.OpType
}

// Graph is a computation graph.
type Graph struct {
	Name string
	// Nodes in the order they are stored; TopoSort makes it an execution order.
	Nodes []*Node
	// Inputs are the graph inputs in declaration order. An input that also
	// has an initializer (Const != nil) may be overridden by the caller.
	Inputs  []*Value
	Outputs []*Value
	// Initializers are the constant values in file order.
	Initializers []*Value
	// Opaque holds GraphProto fields not modelled (doc_string, sparse
	// initializers, quantization annotations, unknown fields).
	Opaque []byte

	values map[string]*Value
}

// NewGraph returns an empty graph.
func NewGraph(name string) *Graph {
	return &Graph{Name: name, values: map[string]*Value{}}
}

// Value returns the value with the given name, or nil.
func (g *Graph) Value(name string) *Value { return g.values[name] }

// Constant returns v's data when v is a constant no caller can override:
// an initializer that is not a graph input, or a Constant node's value
// (nil otherwise).
func (g *Graph) Constant(v *Value) *tensor.Tensor {
	if v == nil {
		return nil
	}
	if v.Const != nil {
		for _, in := range g.Inputs {
			if in == v {
				return nil
			}
		}
	}
	return ConstTensor(v)
}

// Values returns every value of the graph sorted by name.
func (g *Graph) Values() []*Value {
	out := make([]*Value, 0, len(g.values))
	for _, v := range g.values {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// GetOrAddValue returns the value called name, creating it if needed.
func (g *Graph) GetOrAddValue(name string) *Value {
	if v, ok := g.values[name]; ok {
		return v
	}
	v := &Value{Name: name}
	g.values[name] = v
	return v
}

// NewValue creates a value with a fresh name starting with prefix.
func (g *Graph) NewValue(prefix string) *Value {
	return g.GetOrAddValue(g.UniqueName(prefix))
}

// UniqueName returns prefix, or prefix_N, whichever is not yet a value name.
func (g *Graph) UniqueName(prefix string) string {
	if _, taken := g.values[prefix]; !taken && prefix != "" {
		return prefix
	}
	for i := 1; ; i++ {
		name := prefix + "_" + strconv.Itoa(i)
		if _, taken := g.values[name]; !taken {
			return name
		}
	}
}

// AddInitializer adds a constant value called name.
func (g *Graph) AddInitializer(name string, t *tensor.Tensor) *Value {
	v := g.GetOrAddValue(name)
	v.Const = t
	v.DType = t.DType()
	v.SetShape(t.Shape())
	g.Initializers = append(g.Initializers, v)
	return v
}

// AddNode appends a node reading inputs and producing outputs (nil entries
// are omitted optional slots) and links producers and consumers.
func (g *Graph) AddNode(op string, inputs []*Value, outputs []*Value, attrs map[string]*Attr) *Node {
	if attrs == nil {
		attrs = map[string]*Attr{}
	}
	n := &Node{OpType: op, Inputs: inputs, Outputs: outputs, Attrs: attrs}
	g.link(n)
	g.Nodes = append(g.Nodes, n)
	return n
}

func (g *Graph) link(n *Node) {
	for _, v := range n.Inputs {
		if v != nil {
			addConsumer(v, n)
		}
	}
	for _, v := range n.Outputs {
		if v != nil {
			v.Producer = n
		}
	}
}

func (g *Graph) unlink(n *Node) {
	for _, v := range n.Inputs {
		if v != nil {
			removeConsumer(v, n)
		}
	}
	for _, v := range n.Outputs {
		if v != nil && v.Producer == n {
			v.Producer = nil
		}
	}
}

func addConsumer(v *Value, n *Node) {
	for _, c := range v.Consumers {
		if c == n {
			return
		}
	}
	v.Consumers = append(v.Consumers, n)
}

// removeConsumer drops n from v's consumer list.
func removeConsumer(v *Value, n *Node) {
	for i, c := range v.Consumers {
		if c == n {
			v.Consumers = append(v.Consumers[:i], v.Consumers[i+1:]...)
			return
		}
	}
}

// SetInput replaces input slot i of n (growing Inputs as needed) with v.
func (g *Graph) SetInput(n *Node, i int, v *Value) {
	for len(n.Inputs) <= i {
		n.Inputs = append(n.Inputs, nil)
	}
	old := n.Inputs[i]
	n.Inputs[i] = v
	if old != nil && old != v && !reads(n, old) {
		removeConsumer(old, n)
	}
	if v != nil {
		addConsumer(v, n)
	}
}

func reads(n *Node, v *Value) bool {
	for _, in := range n.Inputs {
		if in == v {
			return true
		}
	}
	return false
}

// IsOutput reports whether v is one of g's outputs.
func (g *Graph) IsOutput(v *Value) bool {
	return slices.Contains(g.Outputs, v)
}

// ReplaceAllUses makes every consumer of old (and the graph outputs) read nv
// instead.
func (g *Graph) ReplaceAllUses(old, nv *Value) {
	for _, c := range append([]*Node(nil), old.Consumers...) {
		for i, in := range c.Inputs {
			if in == old {
				g.SetInput(c, i, nv)
			}
		}
	}
	for i, o := range g.Outputs {
		if o == old {
			g.Outputs[i] = nv
		}
	}
}

// InsertAfter inserts a node of type op on the edge leaving v: the new node
// reads v (plus extra inputs), produces a fresh value, and every former
// consumer of v (and graph output use) reads that value instead. It returns
// the node; its output is node.Outputs[0]. The node is placed right after v's
// producer so the node list stays topologically ordered.
func (g *Graph) InsertAfter(v *Value, op string, extra []*Value, attrs map[string]*Attr) *Node {
	out := g.NewValue(v.Name + "_" + strings.ToLower(op))
	consumers := append([]*Node(nil), v.Consumers...)
	n := &Node{OpType: op, Inputs: append([]*Value{v}, extra...), Outputs: []*Value{out}, Attrs: attrs}
	if n.Attrs == nil {
		n.Attrs = map[string]*Attr{}
	}
	for _, c := range consumers {
		for i, in := range c.Inputs {
			if in == v {
				g.SetInput(c, i, out)
			}
		}
	}
	for i, o := range g.Outputs {
		if o == v {
			g.Outputs[i] = out
		}
	}
	g.link(n)
	pos := 0
	if v.Producer != nil {
		pos = g.indexOf(v.Producer) + 1
	}
	g.Nodes = append(g.Nodes, nil)
	copy(g.Nodes[pos+1:], g.Nodes[pos:])
	g.Nodes[pos] = n
	return n
}

func (g *Graph) indexOf(n *Node) int {
	for i, m := range g.Nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// RemoveNode deletes n and unlinks its edges. Its outputs stay in the graph
// without a producer: callers rewire them first (ReplaceAllUses).
func (g *Graph) RemoveNode(n *Node) {
	i := g.indexOf(n)
	if i < 0 {
		return
	}
	g.unlink(n)
	g.Nodes = append(g.Nodes[:i], g.Nodes[i+1:]...)
}

// ReplaceNode substitutes the nodes repl (already built with NewValue values,
// not yet added) for old: old's outputs are rewired to outs (same length),
// old is removed, and repl is inserted where old was.
func (g *Graph) ReplaceNode(old *Node, repl []*Node, outs []*Value) error {
	if len(outs) != len(old.Outputs) {
		return fmt.Errorf("replace %v: %d replacement outputs for %d outputs", old, len(outs), len(old.Outputs))
	}
	for i, o := range old.Outputs {
		if o != nil && outs[i] != nil && o != outs[i] {
			g.ReplaceAllUses(o, outs[i])
		}
	}
	pos := g.indexOf(old)
	if pos < 0 {
		return fmt.Errorf("replace %v: node is not in the graph", old)
	}
	g.unlink(old)
	for _, n := range repl {
		if n.Attrs == nil {
			n.Attrs = map[string]*Attr{}
		}
		g.link(n)
	}
	nodes := append([]*Node{}, g.Nodes[:pos]...)
	nodes = append(nodes, repl...)
	g.Nodes = append(nodes, g.Nodes[pos+1:]...)
	return nil
}

// RemoveDeadNodes deletes nodes none of whose outputs reaches a graph output,
// and values no longer referenced by anything. It returns how many nodes went.
func (g *Graph) RemoveDeadNodes() int {
	live := map[*Node]bool{}
	var stack []*Node
	for _, o := range g.Outputs {
		if o.Producer != nil && !live[o.Producer] {
			live[o.Producer] = true
			stack = append(stack, o.Producer)
		}
	}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, in := range n.Inputs {
			if in != nil && in.Producer != nil && !live[in.Producer] {
				live[in.Producer] = true
				stack = append(stack, in.Producer)
			}
		}
	}
	removed := 0
	kept := g.Nodes[:0]
	for _, n := range g.Nodes {
		if live[n] {
			kept = append(kept, n)
		} else {
			g.unlink(n)
			removed++
		}
	}
	for i := len(kept); i < len(g.Nodes); i++ {
		g.Nodes[i] = nil
	}
	g.Nodes = kept
	g.pruneValues()
	return removed
}

// pruneValues forgets values that nothing references any more and drops
// initializers nobody reads.
func (g *Graph) pruneValues() {
	used := map[*Value]bool{}
	for _, v := range g.Inputs {
		used[v] = true
	}
	for _, v := range g.Outputs {
		used[v] = true
	}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			used[v] = true
		}
		for _, v := range n.Outputs {
			used[v] = true
		}
	}
	inits := g.Initializers[:0]
	for _, v := range g.Initializers {
		if used[v] {
			inits = append(inits, v)
		}
	}
	g.Initializers = inits
	for name, v := range g.values {
		if !used[v] {
			delete(g.values, name)
		}
	}
}

// TopoSort orders g.Nodes so that every node follows the producers of its
// inputs, keeping the stored order among independent nodes (a stable Kahn
// sort). It fails on a cycle, naming a node on it, or on an input that
// nothing provides.
func (g *Graph) TopoSort() error {
	index := make(map[*Node]int, len(g.Nodes))
	for i, n := range g.Nodes {
		index[n] = i
	}
	indeg := make([]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		seen := map[*Node]bool{}
		for _, in := range n.Inputs {
			if in == nil || in.Producer == nil || seen[in.Producer] {
				continue
			}
			p, ok := index[in.Producer]
			if !ok {
				return fmt.Errorf("node %v reads %q, produced by a node outside the graph", n, in.Name)
			}
			seen[in.Producer] = true
			indeg[i]++
			users[p] = append(users[p], i)
		}
	}
	// A min-heap by original position keeps the order stable.
	var ready intHeap
	for i, d := range indeg {
		if d == 0 {
			ready.push(i)
		}
	}
	order := make([]*Node, 0, len(g.Nodes))
	for ready.len() > 0 {
		i := ready.pop()
		order = append(order, g.Nodes[i])
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 {
				ready.push(u)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		for i, d := range indeg {
			if d > 0 {
				return fmt.Errorf("graph %q has a cycle through node %v", g.Name, g.Nodes[i])
			}
		}
	}
	g.Nodes = order
	return nil
}

type intHeap []int

func (h *intHeap) len() int { return len(*h) }
func (h *intHeap) push(x int) {
	*h = append(*h, x)
	i := len(*h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if (*h)[p] <= (*h)[i] {
			break
		}
		(*h)[p], (*h)[i] = (*h)[i], (*h)[p]
		i = p
	}
}
func (h *intHeap) pop() int {
	old := *h
	x := old[0]
	last := len(old) - 1
	old[0] = old[last]
	*h = old[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && (*h)[l] < (*h)[m] {
			m = l
		}
		if r < last && (*h)[r] < (*h)[m] {
			m = r
		}
		if m == i {
			break
		}
		(*h)[i], (*h)[m] = (*h)[m], (*h)[i]
		i = m
	}
	return x
}

// Validate checks the structural invariants: every node input is a graph
// input, an initializer, or the output of exactly one node; no value has two
// producers; graph outputs are defined.
func (g *Graph) Validate() error {
	defined := map[*Value]bool{}
	for _, v := range g.Inputs {
		defined[v] = true
	}
	for _, v := range g.Initializers {
		defined[v] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == nil {
				continue
			}
			if defined[o] {
				return fmt.Errorf("value %q is produced twice (again by node %v)", o.Name, n)
			}
			defined[o] = true
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != nil && !defined[in] {
				return fmt.Errorf("node %v reads %q, which no node, input or initializer defines", n, in.Name)
			}
		}
	}
	for _, o := range g.Outputs {
		if !defined[o] {
			return fmt.Errorf("graph output %q is not defined", o.Name)
		}
	}
	return nil
}
