package passes

import (
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// affine is a per-channel map y = x*scale[c] + shift[c] applied by a node
// to its input x.
type affine struct {
	x            *graph.Value
	scale, shift []float64
}

// batchNormAffine returns the inference-mode BatchNormalization n as an
// affine map:
//
//	y = (x - mean) / sqrt(var + epsilon) * scale + B
//	  = x * s + (B - mean*s),  s = scale / sqrt(var + epsilon)
//
// or ok false when n is in training mode, uses its statistics outputs, or
// has non-constant parameters.
func batchNormAffine(g *graph.Graph, n *graph.Node) (affine, bool) {
	if !n.IsONNX("BatchNormalization") || len(n.Inputs) != 5 || n.AttrInt("training_mode", 0) != 0 ||
		usedOutputs(g, n) != 1 || n.Outputs[0] == nil || (len(n.Outputs[0].Consumers) == 0 && !g.IsOutput(n.Outputs[0])) {
		return affine{}, false
	}
	var p [4][]float64
	for i := range p {
		if p[i] = floats(g.Constant(n.Inputs[i+1])); p[i] == nil || len(p[i]) != len(p[0]) {
			return affine{}, false
		}
	}
	eps := float64(n.AttrFloat("epsilon", 1e-5))
	a := affine{x: n.Inputs[0], scale: make([]float64, len(p[0])), shift: make([]float64, len(p[0]))}
	for c := range a.scale {
		s := p[0][c] / math.Sqrt(p[3][c]+eps)
		a.scale[c], a.shift[c] = s, p[1][c]-p[2][c]*s
	}
	return a, true
}

// mulAddAffine returns a Mul or Add of n's data input by a constant that is
// per channel for an output of the given rank and channel count.
func mulAddAffine(g *graph.Graph, n *graph.Node, rank, channels int) (affine, bool) {
	if (!n.IsONNX("Mul") && !n.IsONNX("Add")) || len(n.Inputs) != 2 || n.Outputs[0] == nil {
		return affine{}, false
	}
	for i := 0; i < 2; i++ {
		c := g.Constant(n.Inputs[1-i])
		if c == nil || n.Inputs[i] == nil || n.Inputs[i].Const != nil {
			continue
		}
		vals, ok := perChannel(c, rank, channels)
		if !ok {
			continue
		}
		a := affine{x: n.Inputs[i], scale: make([]float64, channels), shift: make([]float64, channels)}
		for ch := range vals {
			if n.OpType == "Mul" {
				a.scale[ch] = vals[ch]
			} else {
				a.scale[ch], a.shift[ch] = 1, vals[ch]
			}
		}
		return a, true
	}
	return affine{}, false
}

// FoldBatchNorm folds per-channel affine nodes into the node before them:
// an inference-mode BatchNormalization, or a Mul/Add by a per-channel
// constant, that follows a Conv or Gemm with constant weights (and whose
// input nothing else reads) becomes part of the Conv/Gemm weights and bias:
//
//	Conv:  W'[m, ...] = W[m, ...] * s[m],  B'[m] = B[m]*s[m] + t[m]
//	Gemm:  op(B)'[:, j] = op(B)[:, j] * s[j],  C'[j] = beta*C[j]*s[j] + t[j], beta' = 1
//
// and a per-channel Mul/Add after a BatchNormalization merges into its
// scale and bias. It returns the number of nodes removed.
func FoldBatchNorm(g *graph.Graph) int {
	folded := 0
	for changed := true; changed; {
		changed = false
		for _, n := range append([]*graph.Node(nil), g.Nodes...) {
			if foldOne(g, n) {
				folded++
				changed = true
			}
		}
	}
	return folded
}

// foldOne folds n into its producer if it can.
func foldOne(g *graph.Graph, n *graph.Node) bool {
	switch {
	case n.IsONNX("BatchNormalization"):
		return len(n.Inputs) > 0 && foldInto(g, n, n.Inputs[0])
	case n.IsONNX("Mul"), n.IsONNX("Add"):
		for _, x := range n.Inputs {
			if x != nil && x.Producer != nil && g.Constant(x) == nil && foldInto(g, n, x) {
				return true
			}
		}
	}
	return false
}

// foldInto folds n, reading data input x, into x's producer.
func foldInto(g *graph.Graph, n *graph.Node, x *graph.Value) bool {
	if x == nil || x.Producer == nil || !soleUse(g, x, n) {
		return false
	}
	p := x.Producer
	switch {
	case p.IsONNX("Conv"):
		w := g.Constant(p.Input(1))
		if w == nil || w.Rank() < 3 {
			return false
		}
		a, ok := nodeAffine(g, n, w.Rank(), w.Shape()[0])
		return ok && a.x == x && foldIntoConv(g, p, n, w, a)
	case p.IsONNX("Gemm"):
		b := g.Constant(p.Input(1))
		if b == nil || b.Rank() != 2 {
			return false
		}
		cols := b.Shape()[1]
		if p.AttrInt("transB", 0) != 0 {
			cols = b.Shape()[0]
		}
		a, ok := nodeAffine(g, n, 2, cols)
		return ok && a.x == x && foldIntoGemm(g, p, n, b, a)
	case p.IsONNX("BatchNormalization") && !n.IsONNX("BatchNormalization"):
		bn, ok := batchNormAffine(g, p)
		if !ok || !p.Inputs[0].HasShape {
			return false
		}
		a, ok := mulAddAffine(g, n, len(p.Inputs[0].Shape), len(bn.scale))
		return ok && a.x == x && mergeIntoBatchNorm(g, p, n, a)
	}
	return false
}

// nodeAffine classifies n (BatchNormalization, Mul or Add) as an affine
// map for an output of the given rank and channel count.
func nodeAffine(g *graph.Graph, n *graph.Node, rank, channels int) (affine, bool) {
	if n.IsONNX("BatchNormalization") {
		a, ok := batchNormAffine(g, n)
		return a, ok && len(a.scale) == channels
	}
	return mulAddAffine(g, n, rank, channels)
}

// foldIntoConv rewrites Conv p to compute n(p(x)) and removes n.
func foldIntoConv(g *graph.Graph, p, n *graph.Node, w *tensor.Tensor, a affine) bool {
	dt := w.DType()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return false
	}
	m := w.Shape()[0]
	bias := make([]float64, m)
	if len(p.Inputs) > 2 && p.Inputs[2] != nil {
		b := floats(g.Constant(p.Inputs[2]))
		if len(b) != m {
			return false
		}
		copy(bias, b)
	}
	wv := floats(w)
	per := len(wv) / m
	for o := 0; o < m; o++ {
		for i := o * per; i < (o+1)*per; i++ {
			wv[i] *= a.scale[o]
		}
		bias[o] = bias[o]*a.scale[o] + a.shift[o]
	}
	g.SetInput(p, 1, newConst(g, p.Inputs[1].Name+"_folded", dt, w.Shape(), wv))
	g.SetInput(p, 2, newConst(g, p.Inputs[1].Name+"_folded_bias", dt, []int{m}, bias))
	out := n.Outputs[0]
	g.RemoveNode(n)
	replaceOutput(p, out)
	return true
}

// foldIntoGemm rewrites Gemm p to compute n(p(a, b, c)) and removes n.
func foldIntoGemm(g *graph.Graph, p, n *graph.Node, b *tensor.Tensor, a affine) bool {
	dt := b.DType()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return false
	}
	cols := len(a.scale)
	c := make([]float64, cols)
	if len(p.Inputs) > 2 && p.Inputs[2] != nil {
		ct := g.Constant(p.Inputs[2])
		if ct == nil {
			return false
		}
		vals, ok := perChannel(ct, 2, cols)
		if !ok {
			return false
		}
		beta := float64(p.AttrFloat("beta", 1))
		for j := range c {
			c[j] = beta * vals[j]
		}
	}
	bv := floats(b)
	transB := p.AttrInt("transB", 0) != 0
	rows, width := b.Shape()[0], b.Shape()[1]
	for r := 0; r < rows; r++ {
		for j := 0; j < width; j++ {
			col := j
			if transB {
				col = r
			}
			bv[r*width+j] *= a.scale[col]
		}
	}
	for j := range c {
		c[j] = c[j]*a.scale[j] + a.shift[j]
	}
	g.SetInput(p, 1, newConst(g, p.Inputs[1].Name+"_folded", dt, b.Shape(), bv))
	g.SetInput(p, 2, newConst(g, p.Inputs[1].Name+"_folded_bias", dt, []int{cols}, c))
	p.Attrs = attrsCopy(p.Attrs)
	p.Attrs["beta"] = graph.FloatAttr(1)
	out := n.Outputs[0]
	g.RemoveNode(n)
	replaceOutput(p, out)
	return true
}

// mergeIntoBatchNorm rewrites BatchNormalization p to also apply the
// affine map of n (scale' = scale*s, B' = B*s + t) and removes n.
func mergeIntoBatchNorm(g *graph.Graph, p, n *graph.Node, a affine) bool {
	scale, bias := g.Constant(p.Inputs[1]), g.Constant(p.Inputs[2])
	dt := scale.DType()
	if (dt != tensor.Float32 && dt != tensor.Float64) || bias.DType() != dt {
		return false
	}
	s, b := floats(scale), floats(bias)
	for c := range s {
		s[c] *= a.scale[c]
		b[c] = b[c]*a.scale[c] + a.shift[c]
	}
	g.SetInput(p, 1, newConst(g, p.Inputs[1].Name+"_merged", dt, scale.Shape(), s))
	g.SetInput(p, 2, newConst(g, p.Inputs[2].Name+"_merged", dt, bias.Shape(), b))
	out := n.Outputs[0]
	g.RemoveNode(n)
	replaceOutput(p, out)
	return true
}
