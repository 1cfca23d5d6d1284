package passes

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
)

// Options configure Optimize.
type Options struct {
	// Supports reports whether the backend that will run the model has an
	// op (domain "gcompress" for the fused ops); fusions into ops it lacks
	// are skipped. Nil: no fusion into gcompress ops.
	Supports func(domain, op string) bool
	// Eval evaluates nodes for constant folding; nil: no folding.
	Eval Evaluator
}

// Report counts what each pass did.
type Report struct {
	QDQFused          int `json:"qdq_fused"`               // nodes LowerQDQ rewrote into integer ops
	IntegerEpilogues  int `json:"integer_epilogues_fused"` // ConvInteger float epilogues made FusedConvInteger
	ConstantsFolded   int `json:"constants_folded"`
	IdentitiesRemoved int `json:"identities_removed"`
	GlobalPools       int `json:"global_pools"` // whole-input AveragePools made GlobalAveragePool
	AffinesFolded     int `json:"affines_folded"`
	PreActsFused      int `json:"pre_activations_fused"`
	AddsFused         int `json:"adds_fused"`
	ActivationsFused  int `json:"activations_fused"`
	PoolsFused        int `json:"pools_fused"` // MaxPools computed inside the convolution before them
	DeadNodesRemoved  int `json:"dead_nodes_removed"`
	SparseWeights     int `json:"sparse_weights"`
	ShufflesFused     int `json:"shuffles_fused"` // channel shuffles read in place by a depthwise convolution
	ConvsBlocked      int `json:"convs_blocked"`  // convolutions moved to the channel-blocked layout
}

func (r Report) String() string {
	return fmt.Sprintf("%d integer ops from QDQ (%d with float epilogues fused), %d constants folded, %d identities removed, %d whole-input average pools made global, %d BatchNorm/Mul/Add folded, %d pre-activations, %d adds, %d activations, %d max pools and %d channel shuffles fused, %d convolutions channel-blocked, %d dead nodes removed",
		r.QDQFused, r.IntegerEpilogues, r.ConstantsFolded, r.IdentitiesRemoved, r.GlobalPools, r.AffinesFolded, r.PreActsFused, r.AddsFused, r.ActivationsFused, r.PoolsFused, r.ShufflesFused, r.ConvsBlocked, r.DeadNodesRemoved)
}

// Optimize returns an optimized clone of m (m itself is not modified):
// a QDQ model lowered to integer ops (LowerQDQ, when the backend has
// them), constant folding, Identity/Dropout removal, whole-input average
// pools as global pools, BatchNorm and per-channel Mul/Add folding into
// Conv/Gemm, then (when the backend has the fused ops) integer
// convolutions' float epilogues, BatchNorm(+Relu) -> Conv
// pre-activation, Conv + Add, Conv/Gemm + Relu/Clip, Conv + MaxPool and
// channel shuffle + depthwise Conv fusion, the channel-blocked layout
// between convolutions (BlockChannels), dead-node removal and a
// topological sort.
func Optimize(m *graph.Model, opts Options) (*graph.Model, Report, error) {
	var r Report
	c := Clone(m)
	g := c.Graph
	if opts.Supports != nil && supportsLowering(opts.Supports) {
		// before folding turns DequantizeLinear(weights) into floats
		_, r.QDQFused = lowerQDQ(c)
		if r.QDQFused > 0 {
			g.RemoveDeadNodes() // the weights' DequantizeLinear, left unread
			if err := graph.InferShapes(g); err != nil {
				return nil, r, fmt.Errorf("optimize: lowering QDQ: %w", err)
			}
		}
	}
	r.ConstantsFolded = FoldConstants(g, opts.Eval)
	r.IdentitiesRemoved = RemoveIdentities(g)
	r.AffinesFolded = FoldBatchNorm(g)
	r.GlobalPools = GlobalPools(g)
	supports := func(op string) bool { return opts.Supports != nil && opts.Supports(Domain, op) }
	if supports("FusedConvInteger") {
		r.IntegerEpilogues = FuseIntegerEpilogue(g) // after folding: LowerQDQ reshapes a float bias
	}
	if supports("FusedConv") {
		r.PreActsFused = FusePreActivation(g)
		r.AddsFused = FuseConvAdd(g)
	}
	if supports("FusedConv") && supports("FusedGemm") {
		r.ActivationsFused = FuseActivation(g)
	}
	if supports("FusedConv") && supports("FusedConvPool") {
		r.PoolsFused = FuseConvMaxPool(g) // after FuseActivation: Conv+Relu+MaxPool is one node
	}
	if supports("SparseGemm") && supports("SparseConv") {
		r.SparseWeights = SparsifyWeights(g, SparseMinSparsity)
	}
	if supports("FusedConv") {
		r.ShufflesFused = FuseChannelShuffle(g) // after the fusions that make a FusedConv another op
	}
	if supports("NCHWcConv") && supports("NCHWcMaxPool") && supports("NCHWcAveragePool") && supports("ToNCHWc") && supports("FromNCHWc") {
		r.ConvsBlocked = BlockChannels(g) // last: the fusions above match NCHW ops
	}
	r.DeadNodesRemoved = g.RemoveDeadNodes()
	if err := g.TopoSort(); err != nil {
		return nil, r, fmt.Errorf("optimize: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, r, fmt.Errorf("optimize: %w", err)
	}
	return c, r, nil
}

// supportsLowering reports whether a backend runs every op LowerQDQ may
// emit.
func supportsLowering(supports func(domain, op string) bool) bool {
	for _, op := range []string{"QLinearConv", "ConvInteger", "MatMulInteger"} {
		if !supports("", op) {
			return false
		}
	}
	return supports(MSDomain, "QGemm") && supports(MSDomain, "QLinearAdd") && supports(MSDomain, "MatMulNBits")
}
