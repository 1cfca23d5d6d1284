package passes

import (
	"math"
	"slices"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// toFused turns an ONNX Conv or Gemm into the equivalent FusedConv or
// FusedGemm (no activation, no summand yet); fused nodes are returned as
// they are. It returns nil for any other node.
func toFused(g *graph.Graph, n *graph.Node) *graph.Node {
	var op string
	switch {
	case fusedOp(n, "FusedConv"), fusedOp(n, "FusedGemm"), fusedOp(n, "FusedConvInteger"):
		return n
	case n.IsONNX("Conv"):
		op = "FusedConv"
	case n.IsONNX("Gemm"):
		op = "FusedGemm"
	default:
		return nil
	}
	f := &graph.Node{Name: n.Name, OpType: op, Domain: Domain, Inputs: append([]*graph.Value(nil), n.Inputs...),
		Outputs: append([]*graph.Value(nil), n.Outputs...), Attrs: attrsCopy(n.Attrs)}
	if err := g.ReplaceNode(n, []*graph.Node{f}, f.Outputs); err != nil {
		return nil
	}
	return f
}

// FuseConvAdd turns Add(Conv(...), Z) (or Sum with two inputs) into
// FusedConv(X, W, B, Z) when the Conv's output is read only by the Add and
// Z has the output's shape: the residual sum then happens in the
// convolution's epilogue. Either operand order is accepted; when both are
// convolutions the one computed later absorbs the other. A
// FusedConvInteger takes Z the same way (its input 7).
func FuseConvAdd(g *graph.Graph) int {
	fused := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if (!n.IsONNX("Add") && !n.IsONNX("Sum")) || len(n.Inputs) != 2 || len(n.Outputs) != 1 {
			continue
		}
		out := n.Outputs[0]
		best := -1
		for i, in := range n.Inputs {
			if in == nil || !soleUse(g, in, n) || !convWithoutEpilogue(in.Producer) {
				continue
			}
			z := n.Inputs[1-i]
			if z == nil || z == in || !sameKnownShape(in, z) || !sameKnownShape(in, out) || in.DType != z.DType {
				continue
			}
			if best < 0 || nodeIndex(g, in.Producer) > nodeIndex(g, n.Inputs[best].Producer) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		conv := toFused(g, n.Inputs[best].Producer)
		if conv == nil {
			continue
		}
		z := n.Inputs[1-best]
		at := summandInput(conv)
		for len(conv.Inputs) < at {
			conv.Inputs = append(conv.Inputs, nil)
		}
		g.RemoveNode(n)
		g.SetInput(conv, at, z)
		replaceOutput(conv, out)
		fused++
	}
	return fused
}

// convWithoutEpilogue reports whether n is a Conv, or a FusedConv or
// FusedConvInteger with neither summand nor activation yet.
func convWithoutEpilogue(n *graph.Node) bool {
	if n.IsONNX("Conv") {
		return true
	}
	return (fusedOp(n, "FusedConv") || fusedOp(n, "FusedConvInteger")) && n.AttrString("activation", "") == "" &&
		n.Input(summandInput(n)) == nil
}

// summandInput is the input index of a fused convolution's summand Z.
func summandInput(n *graph.Node) int {
	if fusedOp(n, "FusedConvInteger") {
		return 7
	}
	return 3
}

func sameKnownShape(a, b *graph.Value) bool {
	sa, ok1 := a.ConcreteShape()
	sb, ok2 := b.ConcreteShape()
	return ok1 && ok2 && tensor.SameShape(sa, sb)
}

func nodeIndex(g *graph.Graph, n *graph.Node) int {
	for i, m := range g.Nodes {
		if m == n {
			return i
		}
	}
	return -1
}

// FuseActivation folds a Relu, or a Clip with constant bounds, that is the
// only reader of a Conv/Gemm (or fused) output into that node's epilogue:
// FusedConv/FusedGemm (or FusedConvInteger) with activation "Relu" or
// "Clip" and activation_params [min, max].
func FuseActivation(g *graph.Graph) int {
	fused := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		var lo, hi float32
		switch {
		case n.IsONNX("Relu") && len(n.Inputs) == 1:
		case n.IsONNX("Clip") && len(n.Inputs) >= 1:
			var ok bool
			if lo, hi, ok = clipBounds(g, n); !ok {
				continue
			}
		default:
			continue
		}
		x := n.Inputs[0]
		if x == nil || !soleUse(g, x, n) || len(n.Outputs) != 1 {
			continue
		}
		p := x.Producer
		if !p.IsONNX("Conv") && !p.IsONNX("Gemm") && !((fusedOp(p, "FusedConv") || fusedOp(p, "FusedGemm") || fusedOp(p, "FusedConvInteger")) && p.AttrString("activation", "") == "") {
			continue
		}
		f := toFused(g, p)
		if f == nil {
			continue
		}
		if n.OpType == "Relu" {
			f.Attrs["activation"] = graph.StringAttr("Relu")
		} else {
			f.Attrs["activation"] = graph.StringAttr("Clip")
			f.Attrs["activation_params"] = graph.FloatsAttr(lo, hi)
		}
		out := n.Outputs[0]
		g.RemoveNode(n)
		replaceOutput(f, out)
		fused++
	}
	return fused
}

// clipBounds returns Clip's constant scalar bounds (absent: -Inf / +Inf).
func clipBounds(g *graph.Graph, n *graph.Node) (lo, hi float32, ok bool) {
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	for i, dst := range []*float32{&lo, &hi} {
		v := n.Input(i + 1)
		if v == nil {
			continue
		}
		t := g.Constant(v)
		vals := floats(t)
		if len(vals) != 1 || t.DType() != tensor.Float32 {
			return 0, 0, false
		}
		*dst = float32(vals[0])
	}
	return lo, hi, lo <= hi
}

// RemoveIdentities drops Identity nodes and inference-mode Dropout nodes
// (whose mask output nothing reads): their readers read the input instead.
// A node whose output is a graph output stays (the output keeps its name).
func RemoveIdentities(g *graph.Graph) int {
	removed := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		ok := n.IsONNX("Identity") && len(n.Inputs) == 1
		if n.IsONNX("Dropout") && len(n.Inputs) >= 1 {
			training := n.Input(2)
			ok = (training == nil || constFalse(g, training)) && (len(n.Outputs) < 2 || n.Outputs[1] == nil ||
				(len(n.Outputs[1].Consumers) == 0 && !g.IsOutput(n.Outputs[1])))
		}
		if !ok || n.Inputs[0] == nil || len(n.Outputs) == 0 || n.Outputs[0] == nil || g.IsOutput(n.Outputs[0]) {
			continue
		}
		out, in := n.Outputs[0], n.Inputs[0]
		g.RemoveNode(n)
		g.ReplaceAllUses(out, in)
		removed++
	}
	return removed
}

// constFalse reports whether v is a constant boolean false.
func constFalse(g *graph.Graph, v *graph.Value) bool {
	t := g.Constant(v)
	return t != nil && t.Len() == 1 && t.Float64At(0) == 0
}

// FusePreActivation folds an inference BatchNormalization, optionally
// followed by Relu, whose result only a convolution reads, into that
// convolution: FusedConv(x, W, B, Z, scale, bias, mean, var) with
// pre_activation "Relu" (or "") and pre_epsilon, which applies the
// normalization while packing its input (DenseNet-style pre-activation;
// the parameters may be computed, not only constants). The convolution
// pads the activated tensor, so padding stays 0.
func FusePreActivation(g *graph.Graph) int {
	fused := 0
	for _, c := range append([]*graph.Node(nil), g.Nodes...) {
		if !c.IsONNX("Conv") && !(fusedOp(c, "FusedConv") && c.Input(4) == nil) || c.Input(0) == nil {
			continue
		}
		x := c.Inputs[0]
		if !soleUse(g, x, c) {
			continue
		}
		var relu *graph.Node
		bn := x.Producer
		if bn.IsONNX("Relu") && len(bn.Inputs) == 1 && bn.Inputs[0] != nil && soleUse(g, bn.Inputs[0], bn) {
			relu, bn = bn, bn.Inputs[0].Producer
		}
		if !bn.IsONNX("BatchNormalization") || len(bn.Inputs) != 5 || bn.AttrInt("training_mode", 0) != 0 ||
			usedOutputs(g, bn) != 1 || bn.Inputs[0] == nil {
			continue
		}
		f := toFused(g, c)
		if f == nil {
			continue
		}
		g.SetInput(f, 0, bn.Inputs[0])
		for i := 1; i <= 4; i++ {
			g.SetInput(f, 3+i, bn.Inputs[i])
		}
		f.Attrs["pre_epsilon"] = graph.FloatAttr(bn.AttrFloat("epsilon", 1e-5))
		if relu != nil {
			f.Attrs["pre_activation"] = graph.StringAttr("Relu")
			g.RemoveNode(relu)
		}
		g.RemoveNode(bn)
		fused++
	}
	return fused
}

// FuseConvMaxPool turns MaxPool(Conv(...)) into FusedConvPool(X, W, B)
// when the convolution (a Conv, or a FusedConv with at most an
// activation) is 2-D and its output is read only by the MaxPool: the
// backend then computes the convolution in bands of rows and pools each
// band while it is in cache, so the full-resolution activation (the stem
// of most CNNs: 64 channels at 112x112, 3.2 MB) is never written out and
// read back. The pool's attributes become pool_kernel_shape,
// pool_strides and pool_pads; only plain max pools are taken (explicit
// pads, ceil_mode 0, no dilations, no Indices output, row-major storage).
func FuseConvMaxPool(g *graph.Graph) int {
	fused := 0
	for _, n := range append([]*graph.Node(nil), g.Nodes...) {
		if !n.IsONNX("MaxPool") || len(n.Inputs) != 1 || len(n.Outputs) < 1 || n.Outputs[0] == nil || usedOutputs(g, n) != 1 || !plainPool(n) {
			continue
		}
		x := n.Inputs[0]
		if x == nil || !soleUse(g, x, n) || x.Producer == nil {
			continue
		}
		p := x.Producer
		if !p.IsONNX("Conv") && !(fusedOp(p, "FusedConv") && p.Input(3) == nil && p.Input(4) == nil) {
			continue
		}
		if shape, ok := x.ConcreteShape(); !ok || len(shape) != 4 {
			continue
		}
		f := toFused(g, p)
		if f == nil {
			continue
		}
		f.OpType = "FusedConvPool"
		f.Inputs = f.Inputs[:min(len(f.Inputs), 3)]
		pads := n.AttrInts("pads", []int64{0, 0, 0, 0})
		f.Attrs["pool_kernel_shape"] = graph.IntsAttr(n.AttrInts("kernel_shape", nil)...)
		f.Attrs["pool_strides"] = graph.IntsAttr(n.AttrInts("strides", []int64{1, 1})...)
		f.Attrs["pool_pads"] = graph.IntsAttr(pads...)
		out := n.Outputs[0]
		g.RemoveNode(n)
		replaceOutput(f, out)
		fused++
	}
	return fused
}

// plainPool reports whether MaxPool or AveragePool n is 2-D with explicit
// pads, ceil_mode 0, unit dilations, no Indices output and row-major
// storage.
func plainPool(n *graph.Node) bool {
	if len(n.Outputs) > 1 && n.Outputs[1] != nil {
		return false
	}
	if a := n.AttrString("auto_pad", "NOTSET"); a != "NOTSET" && a != "" {
		return false
	}
	if n.AttrInt("ceil_mode", 0) != 0 || n.AttrInt("storage_order", 0) != 0 {
		return false
	}
	for _, d := range n.AttrInts("dilations", nil) {
		if d != 1 {
			return false
		}
	}
	k := n.AttrInts("kernel_shape", nil)
	return len(k) == 2 && len(n.AttrInts("strides", []int64{1, 1})) == 2 && len(n.AttrInts("pads", []int64{0, 0, 0, 0})) == 4
}

// FuseChannelShuffle absorbs ShuffleNet's channel shuffle into the
// depthwise convolution that reads it: for X of shape [N, C, H, W],
//
//	Reshape(X, [N, G, C/G, H, W]) -> Transpose(perm 0,2,1,3,4) -> Reshape([N, C, H, W]) -> Conv
//
// becomes FusedConv(X, ...) with shuffle_groups = G: channel c of the
// convolution's input is X's channel (c % G)*(C/G) + c/G, which the
// depthwise kernel reads in place instead of a shuffled copy being
// written. Only a depthwise 2-D convolution (group = C, one output
// channel per group) without a pre-activation takes it, and only when
// each intermediate value has that single reader (the shuffled value in
// the convolution's X only: not also its summand); run it after the
// fusions that turn a FusedConv into another op.
func FuseChannelShuffle(g *graph.Graph) int {
	fused := 0
	for _, conv := range append([]*graph.Node(nil), g.Nodes...) {
		if !conv.IsONNX("Conv") && !(fusedOp(conv, "FusedConv") && conv.Input(4) == nil && conv.AttrInt("shuffle_groups", 0) == 0) {
			continue
		}
		in := conv.Input(0)
		if in == nil || conv.Input(1) == nil {
			continue
		}
		back := in.Producer
		if back == nil || !back.IsONNX("Reshape") || !soleUse(g, in, conv) || slices.Index(conv.Inputs[1:], in) >= 0 || back.Input(0) == nil {
			continue
		}
		shuffled := back.Input(0)
		tr := shuffled.Producer
		if tr == nil || !tr.IsONNX("Transpose") || !soleUse(g, shuffled, back) || tr.Input(0) == nil ||
			!slices.Equal(tr.AttrInts("perm", nil), []int64{0, 2, 1, 3, 4}) {
			continue
		}
		split := tr.Input(0)
		fwd := split.Producer
		if fwd == nil || !fwd.IsONNX("Reshape") || !soleUse(g, split, tr) || fwd.Input(0) == nil {
			continue
		}
		x := fwd.Input(0)
		xs, ok1 := x.ConcreteShape()
		ss, ok2 := split.ConcreteShape()
		cs, ok3 := in.ConcreteShape()
		if !ok1 || !ok2 || !ok3 || len(xs) != 4 || len(ss) != 5 || !slices.Equal(xs, cs) ||
			ss[0] != xs[0] || ss[1]*ss[2] != xs[1] || ss[3] != xs[2] || ss[4] != xs[3] || ss[1] < 2 {
			continue
		}
		if ws, ok := conv.Input(1).ConcreteShape(); !ok || len(ws) != 4 || ws[0] != xs[1] || ws[1] != 1 ||
			conv.AttrInt("group", 1) != int64(xs[1]) {
			continue
		}
		f := toFused(g, conv)
		if f == nil {
			continue
		}
		g.SetInput(f, 0, x)
		f.Attrs["shuffle_groups"] = graph.IntAttr(int64(ss[1]))
		g.RemoveNode(back)
		g.RemoveNode(tr)
		g.RemoveNode(fwd)
		fused++
	}
	return fused
}
