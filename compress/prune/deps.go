package prune

import (
	"fmt"
	"sort"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// Channel dependency analysis for structured pruning.
//
// Every value of rank >= 2 with a known channel count (axis 1: NCHW
// feature maps, [N, F] features) contributes one node per channel to a
// union-find. Ops couple channels that must be removed together:
//
//	BatchNormalization, Relu & co., pools, Dropout, Identity:  X[c] = Y[c]
//	Add/Sub/Mul/Div/Max/Min (same channel count):              A[c] = B[c] = Y[c]
//	Concat on axis 1:                                          X_i[c] = Y[off_i + c]
//	Concat on another axis:                                    X_i[c] = Y[c]
//	depthwise Conv (group = Cin, Cout = k Cin):                X[c] = Y[kc .. kc+k-1]
//	grouped Conv (1 < group < Cin):                            all X and Y channels of a group
//	Flatten / Reshape [N, C, H, W] -> [N, C*H*W]:              X[c] = Y[c*HW .. c*HW+HW-1]
//
// Conv (group 1), Gemm and MatMul with constant weights decouple their
// input and output channels: they consume X's channels through the
// weight's input axis and produce Y's through its output axis (and bias).
// The equivalence classes are the units that are removed whole; the
// connected sets of values are the dependency groups. Channels of graph
// inputs and outputs, of values read or written by any other op, and of
// nodes whose weights are computed or shared are pinned: their units stay.

// depGraph holds the channel union-find of a graph.
type depGraph struct {
	g      *graph.Graph
	base   map[*graph.Value]int // first channel id of each channel-bearing value
	chans  map[*graph.Value]int
	owner  []*graph.Value // value of each channel id
	parent []int
	pinned map[int]string // channel id -> why (roots after finish)
	// vparent is the union-find over values (dependency groups).
	vparent map[*graph.Value]*graph.Value
}

// channels returns the channel count of v (axis 1) or false.
func channels(v *graph.Value) (int, bool) {
	if v == nil || !v.HasShape || len(v.Shape) < 2 || !v.Shape[1].Known() {
		return 0, false
	}
	return int(v.Shape[1].Size), true
}

func (d *depGraph) add(v *graph.Value) bool {
	if _, ok := d.base[v]; ok {
		return true
	}
	c, ok := channels(v)
	if !ok || v.Const != nil {
		return false
	}
	d.base[v], d.chans[v] = len(d.parent), c
	for i := 0; i < c; i++ {
		d.parent = append(d.parent, len(d.parent))
		d.owner = append(d.owner, v)
	}
	d.vparent[v] = v
	return true
}

func (d *depGraph) find(i int) int {
	for d.parent[i] != i {
		d.parent[i] = d.parent[d.parent[i]]
		i = d.parent[i]
	}
	return i
}

func (d *depGraph) vfind(v *graph.Value) *graph.Value {
	for d.vparent[v] != v {
		d.vparent[v] = d.vparent[d.vparent[v]]
		v = d.vparent[v]
	}
	return v
}

// union couples channel a of va with channel b of vb.
func (d *depGraph) union(va *graph.Value, a int, vb *graph.Value, b int) {
	ra, rb := d.find(d.base[va]+a), d.find(d.base[vb]+b)
	if ra != rb {
		d.parent[ra] = rb
	}
	if x, y := d.vfind(va), d.vfind(vb); x != y {
		d.vparent[x] = y
	}
}

// pin keeps every channel of v (if it has channels).
func (d *depGraph) pin(v *graph.Value, why string) {
	if v == nil {
		return
	}
	b, ok := d.base[v]
	if !ok {
		return
	}
	for i := 0; i < d.chans[v]; i++ {
		if _, done := d.pinned[b+i]; !done {
			d.pinned[b+i] = why
		}
	}
}

// pinNode pins all channel-bearing inputs and outputs of n.
func (d *depGraph) pinNode(n *graph.Node, why string) {
	for _, v := range n.Inputs {
		d.pin(v, why)
	}
	for _, v := range n.Outputs {
		d.pin(v, why)
	}
}

// sameChannels couples X[c] = Y[c] when both have channels and agree.
func (d *depGraph) sameChannels(n *graph.Node, x, y *graph.Value) {
	if !d.add(x) || !d.add(y) || d.chans[x] != d.chans[y] {
		d.pinNode(n, fmt.Sprintf("%v changes the channel count", n))
		return
	}
	for c := 0; c < d.chans[x]; c++ {
		d.union(x, c, y, c)
	}
}

// weightUsable reports whether w is a constant read by n alone (so it can
// be sliced for n).
func weightUsable(w *graph.Value) bool {
	return w != nil && w.Const != nil && len(w.Consumers) == 1
}

// elementwiseUnary are ops whose output has the input's shape and whose
// channel c depends on input channel c only.
var elementwiseUnary = map[string]bool{
	"Relu": true, "LeakyRelu": true, "PRelu": false, "Sigmoid": true, "Tanh": true, "Clip": true,
	"Identity": true, "Dropout": true, "HardSigmoid": true, "HardSwish": true, "Elu": true, "Selu": true,
	"Softplus": true, "Softsign": true, "Abs": true, "Neg": true, "Exp": true, "Log": true, "Sqrt": true,
	"Celu": true, "Gelu": true, "Mish": true, "Erf": true, "Floor": true, "Ceil": true, "Round": true,
	"Reciprocal": true, "ThresholdedRelu": true, "Sin": true, "Cos": true,
}

var poolOps = map[string]bool{"MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true, "LpPool": true}

var binaryOps = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true, "Max": true, "Min": true, "Sum": true}

// analyze builds the dependency graph of g (shapes must be inferred).
func analyze(g *graph.Graph) *depGraph {
	d := &depGraph{g: g, base: map[*graph.Value]int{}, chans: map[*graph.Value]int{}, pinned: map[int]string{},
		vparent: map[*graph.Value]*graph.Value{}}
	for _, n := range g.Nodes {
		for _, v := range n.Inputs {
			d.add(v)
		}
		for _, v := range n.Outputs {
			d.add(v)
		}
	}
	for _, n := range g.Nodes {
		d.node(n)
	}
	for _, v := range g.Inputs {
		d.pin(v, fmt.Sprintf("graph input %q", v.Name))
	}
	for _, v := range g.Outputs {
		d.pin(v, fmt.Sprintf("graph output %q", v.Name))
	}
	// Move the pins to the roots.
	roots := map[int]string{}
	ids := make([]int, 0, len(d.pinned))
	for id := range d.pinned {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		r := d.find(id)
		if _, ok := roots[r]; !ok {
			roots[r] = d.pinned[id]
		}
	}
	d.pinned = roots
	return d
}

func (d *depGraph) node(n *graph.Node) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		d.pinNode(n, fmt.Sprintf("%v is not in the ONNX domain", n))
		return
	}
	x, y := n.Input(0), (*graph.Value)(nil)
	if len(n.Outputs) > 0 {
		y = n.Outputs[0]
	}
	for i, o := range n.Outputs {
		if i > 0 && o != nil && len(o.Consumers) > 0 {
			d.pinNode(n, fmt.Sprintf("%v: its output %d is read", n, i))
			return
		}
	}
	switch {
	case n.OpType == "Conv":
		d.conv(n, x, y)
	case n.OpType == "Gemm" || n.OpType == "MatMul":
		d.gemm(n, x, y)
	case n.OpType == "BatchNormalization":
		for i := 1; i <= 4; i++ {
			if !weightUsable(n.Input(i)) {
				d.pinNode(n, fmt.Sprintf("%v: parameter %d is computed or shared", n, i))
				return
			}
		}
		d.sameChannels(n, x, y)
	case elementwiseUnary[n.OpType]:
		for _, v := range n.Inputs[1:] {
			if v != nil && v.Const == nil {
				d.pinNode(n, fmt.Sprintf("%v: input computed", n))
				return
			}
		}
		d.sameChannels(n, x, y)
	case poolOps[n.OpType]:
		d.sameChannels(n, x, y)
	case binaryOps[n.OpType]:
		d.binary(n, y)
	case n.OpType == "Concat":
		d.concat(n, y)
	case n.OpType == "Flatten" || n.OpType == "Reshape":
		d.flatten(n, x, y)
	default:
		d.pinNode(n, fmt.Sprintf("%v mixes or reshapes channels", n))
	}
}

func (d *depGraph) conv(n *graph.Node, x, y *graph.Value) {
	w := n.Input(1)
	if !weightUsable(w) || w.Const.Rank() < 3 || (n.Input(2) != nil && !weightUsable(n.Input(2))) || !d.add(x) || !d.add(y) {
		d.pinNode(n, fmt.Sprintf("%v: weights computed or shared, or shapes unknown", n))
		return
	}
	group := int(n.AttrInt("group", 1))
	cin, cout := d.chans[x], d.chans[y]
	switch {
	case group == 1:
	case group == cin && cin > 0 && cout%cin == 0: // depthwise, multiplier k
		k := cout / cin
		for c := 0; c < cin; c++ {
			for j := 0; j < k; j++ {
				d.union(x, c, y, c*k+j)
			}
		}
	case group > 1 && cin%group == 0 && cout%group == 0: // grouped: whole groups
		gi, gout := cin/group, cout/group
		for gr := 0; gr < group; gr++ {
			for c := 0; c < gi; c++ {
				d.union(x, gr*gi, x, gr*gi+c)
			}
			for c := 0; c < gout; c++ {
				d.union(x, gr*gi, y, gr*gout+c)
			}
		}
	default:
		d.pinNode(n, fmt.Sprintf("%v: group %d does not divide the channels", n, group))
	}
}

func (d *depGraph) gemm(n *graph.Node, a, y *graph.Value) {
	w := n.Input(1)
	ok := weightUsable(w) && w.Const.Rank() == 2 && d.add(a) && d.add(y) && len(a.Shape) == 2 && len(y.Shape) == 2
	if n.OpType == "Gemm" {
		ok = ok && n.AttrInt("transA", 0) == 0
		if c := n.Input(2); c != nil {
			m, _ := channels(y)
			cs := []int{}
			if c.Const != nil {
				cs = c.Const.Shape()
			}
			ok = ok && weightUsable(c) && (tensor.Product(cs) == 1 || len(cs) == 1 && cs[0] == m || len(cs) == 2 && cs[0] == 1 && cs[1] == m)
		}
	}
	if !ok {
		d.pinNode(n, fmt.Sprintf("%v: weights computed, shared or transposed input, or shapes unknown", n))
	}
}

func (d *depGraph) binary(n *graph.Node, y *graph.Value) {
	if !d.add(y) {
		d.pinNode(n, fmt.Sprintf("%v: output shape unknown", n))
		return
	}
	c := d.chans[y]
	for _, v := range n.Inputs {
		if v == nil {
			continue
		}
		if v.Const != nil {
			if len(v.Consumers) != 1 {
				d.pinNode(n, fmt.Sprintf("%v: constant operand %q is shared", n, v.Name))
				return
			}
			// A constant broadcast along the channel axis is sliced;
			// one of size 1 there is fine as it is.
			continue
		}
		if !d.add(v) || len(v.Shape) != len(y.Shape) {
			d.pinNode(n, fmt.Sprintf("%v: operand %q of another rank", n, v.Name))
			return
		}
		if d.chans[v] == c {
			for i := 0; i < c; i++ {
				d.union(v, i, y, i)
			}
		} else if d.chans[v] != 1 {
			d.pinNode(n, fmt.Sprintf("%v: operand channels differ", n))
			return
		} else {
			d.pin(y, fmt.Sprintf("%v broadcasts a single channel", n))
		}
	}
}

func (d *depGraph) concat(n *graph.Node, y *graph.Value) {
	if !d.add(y) {
		d.pinNode(n, fmt.Sprintf("%v: output shape unknown", n))
		return
	}
	axis := int(n.AttrInt("axis", 0))
	if axis < 0 {
		axis += len(y.Shape)
	}
	total := 0
	for _, v := range n.Inputs {
		if v == nil || !d.add(v) {
			d.pinNode(n, fmt.Sprintf("%v: an input has no known channels", n))
			return
		}
		total += d.chans[v]
	}
	if axis == 1 && total != d.chans[y] {
		d.pinNode(n, fmt.Sprintf("%v: channels do not add up", n))
		return
	}
	off := 0
	for _, v := range n.Inputs {
		for c := 0; c < d.chans[v]; c++ {
			if axis == 1 {
				d.union(v, c, y, off+c)
			} else if d.chans[v] == d.chans[y] {
				d.union(v, c, y, c)
			}
		}
		if axis != 1 && d.chans[v] != d.chans[y] {
			d.pinNode(n, fmt.Sprintf("%v: channel counts differ", n))
			return
		}
		off += d.chans[v]
	}
}

// flatten couples a Flatten(axis 1) or a Reshape to [N, C*rest] of an
// NC... value: channel c of X becomes features c*rest .. c*rest+rest-1.
func (d *depGraph) flatten(n *graph.Node, x, y *graph.Value) {
	xs, ok1 := tailShape(x)
	if !ok1 || !d.add(x) || !d.add(y) || len(y.Shape) != 2 {
		d.pinNode(n, fmt.Sprintf("%v: not a flatten of known shapes", n))
		return
	}
	if n.OpType == "Flatten" && n.AttrInt("axis", 1) != 1 {
		d.pinNode(n, fmt.Sprintf("%v: axis is not 1", n))
		return
	}
	if n.OpType == "Reshape" {
		dims, ok := graph.ConstInt64s(n.Input(1))
		batchOK := ok && len(dims) == 2 && (dims[0] == 0 || dims[0] == -1 && dims[1] != -1 ||
			dims[0] > 0 && x.Shape[0].Known() && dims[0] == x.Shape[0].Size)
		if !batchOK || dims[1] != -1 && len(n.Input(1).Consumers) != 1 {
			d.pinNode(n, fmt.Sprintf("%v: not a flatten to [N, -1] with its own shape constant", n))
			return
		}
	}
	c := d.chans[x]
	rest := 1
	for _, s := range xs[1:] {
		rest *= s
	}
	if c*rest != d.chans[y] {
		d.pinNode(n, fmt.Sprintf("%v: %d channels x %d do not make %d features", n, c, rest, d.chans[y]))
		return
	}
	for ch := 0; ch < c; ch++ {
		for k := 0; k < rest; k++ {
			d.union(x, ch, y, ch*rest+k)
		}
	}
}

// tailShape returns v's dimensions from axis 1 on, all known.
func tailShape(v *graph.Value) ([]int, bool) {
	if v == nil || !v.HasShape || len(v.Shape) < 2 {
		return nil, false
	}
	out := make([]int, len(v.Shape)-1)
	for i, dm := range v.Shape[1:] {
		if !dm.Known() {
			return nil, false
		}
		out[i] = int(dm.Size)
	}
	return out, true
}
