package passes

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// nchwcBlock is the channel block of the blocked layout.
const nchwcBlock = 16

// BlockChannels keeps the activations between convolutions in the
// channel-blocked layout [N, C/16, H, W, 16] (see backend/cpu/nchwc.go),
// so that each convolution reads its input as it is, instead of packing
// an im2col or Toeplitz matrix from NCHW planes:
//
//   - a float32 2-D Conv or FusedConv with group 1, constant weights and
//     at least 16 output channels (fewer would make a block mostly
//     padding: those stay NCHW, where the CPU backend runs them on its
//     narrow kernel, the output cells along the vector lanes, or, for a
//     pointwise one, on its GEMM)
//     becomes NCHWcConv(X', W, B, Z', s, b, mean, var) -> Y', with its
//     pre-activation if any when X's channels are whole blocks of 16;
//     when they are not (a 3-channel stem) X itself is read, as NCHW
//     planes, without a pre-activation; output channels that do not fill
//     the last block, such as a classifier's 1000, only without a
//     summand: then Y' has no twin, only its FromNCHWc;
//   - a FusedConvPool (a stem's convolution and max pool, fused by
//     FuseConvMaxPool) is split into NCHWcConv and NCHWcMaxPool;
//   - a plain MaxPool or AveragePool (plainPool) of a blocked value
//     becomes NCHWcMaxPool(X') or NCHWcAveragePool(X') -> Y';
//   - a Concat on the channel axis of blocked values concatenates them
//     blocked (axis 1 of [N, C/16, H, W, 16] is the blocks' axis);
//
// where X' is the blocked twin of X: the output of an op rewritten here,
// or else ToNCHWc(X), added once per value. Each rewritten op's original
// output Y becomes FromNCHWc(Y'), which the dead-node pass removes when
// every reader of Y was rewritten too (it stays for a graph output or an
// op left in NCHW, such as GlobalAveragePool). It returns how many
// convolutions were rewritten; nothing is rewritten when the graph has a
// cycle.
func BlockChannels(g *graph.Graph) int {
	if g.TopoSort() != nil {
		return 0
	}
	bl := &blocker{g: g, twins: map[*graph.Value]*graph.Value{}}
	convs := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		switch {
		case fusedOp(n, "FusedConvPool") && len(n.Inputs) <= 3 && n.AttrString("pre_activation", "") == "" && blockableConv(g, n):
			if bl.splitConvPool(n) {
				convs++
			}
		case blockableConv(g, n):
			ins := []*graph.Value{bl.convInput(n.Inputs[0]), n.Inputs[1], n.Input(2)}
			if z := n.Input(3); z != nil || len(n.Inputs) > 4 {
				if z != nil {
					z = bl.twin(z)
				}
				ins = append(append(ins, z), n.Inputs[4:]...) // the pre-activation's BatchNorm, if any
			}
			if bl.rewrite(n, Domain, "NCHWcConv", ins) != nil {
				convs++
			}
		case (n.IsONNX("MaxPool") || n.IsONNX("AveragePool")) && plainPool(n) && bl.twins[n.Inputs[0]] != nil && blockable(n.Outputs[0]):
			bl.rewrite(n, Domain, "NCHWc"+n.OpType, []*graph.Value{bl.twins[n.Inputs[0]]})
		case n.IsONNX("Concat") && blockableConcat(n, bl.twins):
			ins := make([]*graph.Value, len(n.Inputs))
			for i, v := range n.Inputs {
				ins[i] = bl.twins[v]
			}
			if c := bl.rewrite(n, "", "Concat", ins); c != nil {
				c.Attrs["axis"] = graph.IntAttr(1)
			}
		}
	}
	return convs
}

// blocker is BlockChannels' state: the graph and the blocked twin of each
// value that has one.
type blocker struct {
	g     *graph.Graph
	twins map[*graph.Value]*graph.Value
}

// twin returns v's blocked twin, adding ToNCHWc(v) the first time v has
// none.
func (bl *blocker) twin(v *graph.Value) *graph.Value {
	if t, ok := bl.twins[v]; ok {
		return t
	}
	s, _ := v.ConcreteShape()
	t := blockedValue(bl.g, v.Name, s)
	n := bl.g.AddNode("ToNCHWc", []*graph.Value{v}, []*graph.Value{t}, nil)
	n.Name, n.Domain = t.Name, Domain // value names are unique, node names need to be (profiles key on them)
	bl.twins[v] = t
	return t
}

// convInput returns what NCHWcConv reads for input x: its blocked twin
// when its channels are whole blocks, else x itself (NCHW planes).
func (bl *blocker) convInput(x *graph.Value) *graph.Value {
	if blockable(x) {
		return bl.twin(x)
	}
	return x
}

// replace puts nodes, whose last output yb is the blocked form of n's
// output y, and FromNCHWc(yb) -> y in n's place, and makes yb y's twin
// when y's channels are whole blocks. It reports whether n was replaced.
func (bl *blocker) replace(n *graph.Node, nodes []*graph.Node, yb *graph.Value) bool {
	y := n.Outputs[0]
	s, _ := y.ConcreteShape()
	from := &graph.Node{Name: y.Name + "_from_nchwc", OpType: "FromNCHWc", Domain: Domain,
		Inputs: []*graph.Value{yb}, Outputs: []*graph.Value{y}, Attrs: map[string]*graph.Attr{}}
	if s[1]%nchwcBlock != 0 {
		from.Attrs["channels"] = graph.IntAttr(int64(s[1]))
	}
	if bl.g.ReplaceNode(n, append(nodes, from), []*graph.Value{y}) != nil {
		return false
	}
	if s[1]%nchwcBlock == 0 {
		bl.twins[y] = yb
	}
	return true
}

// rewrite replaces n by the blocked op (domain, op) reading ins, with n's
// name and attributes, which it returns (nil: n is left as it was).
func (bl *blocker) rewrite(n *graph.Node, domain, op string, ins []*graph.Value) *graph.Node {
	y := n.Outputs[0]
	s, _ := y.ConcreteShape()
	b := &graph.Node{Name: n.Name, OpType: op, Domain: domain, Inputs: ins,
		Outputs: []*graph.Value{blockedValue(bl.g, y.Name, s)}, Attrs: attrsCopy(n.Attrs)}
	if !bl.replace(n, []*graph.Node{b}, b.Outputs[0]) {
		return nil
	}
	return b
}

// blockedValue returns a new blocked value named after name, for NCHW
// shape s (the channels rounded up to whole blocks).
func blockedValue(g *graph.Graph, name string, s []int) *graph.Value {
	t := g.NewValue(name + "_nchwc")
	t.DType = tensor.Float32
	t.SetShape([]int{s[0], (s[1] + nchwcBlock - 1) / nchwcBlock, s[2], s[3], nchwcBlock})
	return t
}

// plainImage reports whether v is a float32 [N, C, H, W] of known shape
// with C > 0.
func plainImage(v *graph.Value) bool {
	if v == nil || v.DType != tensor.Float32 {
		return false
	}
	s, ok := v.ConcreteShape()
	return ok && len(s) == 4 && s[1] > 0
}

// blockable reports whether v is a plain image whose channels fill whole
// blocks.
func blockable(v *graph.Value) bool {
	s, _ := v.ConcreteShape()
	return plainImage(v) && s[1]%nchwcBlock == 0
}

// blockableConv reports whether n is a Conv, FusedConv or FusedConvPool
// whose convolution NCHWcConv computes: group 1, constant 4-D weights of
// at least one block of output channels, the
// input a plain image (read blocked when its channels are whole blocks,
// else as NCHW planes, then without a pre-activation), the summand
// blockable, and the output a plain image, blockable when there is a
// summand.
func blockableConv(g *graph.Graph, n *graph.Node) bool {
	if !n.IsONNX("Conv") && !fusedOp(n, "FusedConv") && !fusedOp(n, "FusedConvPool") {
		return false
	}
	if len(n.Inputs) > 8 || n.AttrInt("group", 1) != 1 {
		return false
	}
	if len(n.Outputs) != 1 || len(n.Inputs) < 2 || n.Inputs[0] == nil || n.Inputs[1] == nil {
		return false
	}
	w := g.Constant(n.Inputs[1])
	if w == nil || w.Rank() != 4 || w.Shape()[0] < nchwcBlock {
		return false
	}
	if !plainImage(n.Inputs[0]) || !plainImage(n.Outputs[0]) {
		return false
	}
	if !blockable(n.Inputs[0]) && (len(n.Inputs) > 4 || n.AttrString("pre_activation", "") != "") {
		return false
	}
	if z := n.Input(3); z != nil && (!blockable(z) || !blockable(n.Outputs[0]) || !sameKnownShape(z, n.Outputs[0])) {
		return false
	}
	return true
}

// blockableConcat reports whether Concat n joins blocked values on the
// channel axis.
func blockableConcat(n *graph.Node, twins map[*graph.Value]*graph.Value) bool {
	if axis := n.AttrInt("axis", 0); (axis != 1 && axis != -3) || len(n.Outputs) != 1 || !blockable(n.Outputs[0]) {
		return false
	}
	for _, v := range n.Inputs {
		if v == nil || twins[v] == nil {
			return false
		}
	}
	return len(n.Inputs) > 0
}

// splitConvPool replaces FusedConvPool n (blockableConv) by NCHWcConv,
// NCHWcMaxPool with the pool's window and the FromNCHWc of n's output
// (replace). It reports whether n was replaced (not when the
// convolution's output shape cannot be resolved).
func (bl *blocker) splitConvPool(n *graph.Node) bool {
	x, y := n.Inputs[0], n.Outputs[0]
	xs, _ := x.ConcreteShape()
	ws := bl.g.Constant(n.Inputs[1]).Shape()
	win, err := graph.NodeWindow(n)
	if err != nil {
		return false
	}
	if win, err = win.Spatial(2, ws[2:]); err != nil {
		return false
	}
	convShape := []int{xs[0], ws[0], 0, 0}
	for i := range 2 {
		if convShape[2+i], _, _, err = win.Axis(i, xs[2+i]); err != nil {
			return false
		}
	}
	convAttrs, poolAttrs := attrsCopy(n.Attrs), map[string]*graph.Attr{}
	for conv, pool := range map[string]string{"pool_kernel_shape": "kernel_shape", "pool_strides": "strides", "pool_pads": "pads"} {
		if a, ok := convAttrs[conv]; ok {
			poolAttrs[pool] = a
			delete(convAttrs, conv)
		}
	}
	ys, _ := y.ConcreteShape()
	cb, pb := blockedValue(bl.g, y.Name+"_conv", convShape), blockedValue(bl.g, y.Name, ys)
	conv := &graph.Node{Name: n.Name, OpType: "NCHWcConv", Domain: Domain,
		Inputs: []*graph.Value{bl.convInput(x), n.Inputs[1], n.Input(2)}, Outputs: []*graph.Value{cb}, Attrs: convAttrs}
	pool := &graph.Node{Name: y.Name + "_pool", OpType: "NCHWcMaxPool", Domain: Domain, Inputs: []*graph.Value{cb},
		Outputs: []*graph.Value{pb}, Attrs: poolAttrs}
	return bl.replace(n, []*graph.Node{conv, pool}, pb)
}
