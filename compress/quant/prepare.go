package quant

import (
	"fmt"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// PrepareReport counts what Prepare changed.
type PrepareReport struct {
	ConstantsFolded   int `json:"constants_folded"`
	IdentitiesRemoved int `json:"identities_removed"`
	BatchNormsFolded  int `json:"batchnorms_folded"`
	GemmsNormalised   int `json:"gemms_normalised"`
	SumsAsAdds        int `json:"sums_as_adds"`
}

// Prepare returns the float model quantization starts from: a clone of m
// (m is not modified) with the graph/passes rewrites that change where
// quantization happens applied first:
//
//   - constant folding (evaluated on the CPU backend's kernels), so that
//     weights computed from constants become initializers;
//   - Identity and inference-mode Dropout removal;
//   - BatchNormalization (and per-channel Mul/Add) folded into the Conv or
//     Gemm before it, so the folded weights are what gets quantized;
//   - Gemm alpha and beta folded into B and C (alpha*A*B + beta*C with
//     alpha = beta = 1), so that the weight and bias scales are the ones
//     applied;
//   - a Sum of two tensors written as the Add it is (older exporters write
//     residual connections so), which the quantizer's residual adds and
//     ONNX Runtime's QDQ fusions recognise.
//
// Conv/Gemm + Relu are not fused into one node (the exported model stays
// plain ONNX); the quantization plan instead places the activation's
// quantization after the Relu (see Plan). IR < 4 models, which list every
// initializer as an input, get those inputs frozen into constants as ONNX
// Runtime treats them.
func Prepare(m *graph.Model) (*graph.Model, PrepareReport, error) {
	var r PrepareReport
	c := passes.Clone(m)
	g := c.Graph
	if m.IRVersion < 4 {
		inputs := g.Inputs[:0]
		for _, v := range g.Inputs {
			if v.Const == nil {
				inputs = append(inputs, v)
			}
		}
		g.Inputs = inputs
	}
	r.ConstantsFolded = passes.FoldConstants(g, evaluator(c))
	r.IdentitiesRemoved = passes.RemoveIdentities(g)
	r.BatchNormsFolded = passes.FoldBatchNorm(g)
	g.RemoveDeadNodes()
	if err := g.TopoSort(); err != nil {
		return nil, r, fmt.Errorf("prepare: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, r, fmt.Errorf("prepare: %w", err)
	}
	if err := graph.InferShapes(g); err != nil {
		return nil, r, fmt.Errorf("prepare: %w", err)
	}
	for _, n := range g.Nodes {
		if normaliseGemm(g, n) {
			r.GemmsNormalised++
		}
		if n.IsONNX("Sum") && len(n.Inputs) == 2 && n.Inputs[0] != nil && n.Inputs[1] != nil {
			n.OpType = "Add"
			r.SumsAsAdds++
		}
	}
	return c, r, nil
}

// evaluator runs single nodes on the CPU backend (for constant folding).
func evaluator(m *graph.Model) passes.Evaluator {
	b := cpu.Backend()
	return func(n *graph.Node, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		f := b.Factory(n.Domain, n.OpType)
		if f == nil {
			return nil, fmt.Errorf("no kernel for %v", n)
		}
		domain := n.Domain
		if domain == "ai.onnx" {
			domain = ""
		}
		op, err := f(n, runtime.NodeInfo{Opset: m.Opsets[domain]})
		if err != nil {
			return nil, err
		}
		return op.Run(runtime.NewContext(1), in)
	}
}

// normaliseGemm rewrites a float32 Gemm with constant B (and constant or
// absent C) and alpha != 1 or beta != 1 into alpha = beta = 1 by scaling
// new copies of B and C.
func normaliseGemm(g *graph.Graph, n *graph.Node) bool {
	if !n.IsONNX("Gemm") {
		return false
	}
	alpha, beta := n.AttrFloat("alpha", 1), n.AttrFloat("beta", 1)
	if alpha == 1 && (beta == 1 || n.Input(2) == nil) {
		return false
	}
	b := g.Constant(n.Input(1))
	if b == nil || b.DType() != tensor.Float32 {
		return false
	}
	var c *tensor.Tensor
	if n.Input(2) != nil {
		if c = g.Constant(n.Input(2)); c == nil || c.DType() != tensor.Float32 {
			return false
		}
	}
	attrs := make(map[string]*graph.Attr, len(n.Attrs))
	for k, a := range n.Attrs {
		attrs[k] = a
	}
	if alpha != 1 {
		g.SetInput(n, 1, g.AddInitializer(g.UniqueName(n.Inputs[1].Name+"_alpha"), scaled(b, alpha)))
		delete(attrs, "alpha")
	}
	if c != nil && beta != 1 {
		g.SetInput(n, 2, g.AddInitializer(g.UniqueName(n.Inputs[2].Name+"_beta"), scaled(c, beta)))
	}
	delete(attrs, "beta")
	n.Attrs = attrs
	return true
}

func scaled(t *tensor.Tensor, s float32) *tensor.Tensor {
	src := t.F32()
	out := make([]float32, len(src))
	for i, v := range src {
		out[i] = v * s
	}
	return tensor.FromSlice(t.Shape(), out)
}
