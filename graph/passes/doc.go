// Package passes holds load-time graph rewrites: a QDQ model lowered to
// integer ops (LowerQDQ: QLinearConv, ONNX Runtime's QGemm, integer
// pooling and reshapes), constant folding, a whole-input AveragePool as
// GlobalAveragePool (GlobalPools),
// BatchNormalization (and per-channel Mul/Add) folded into the preceding
// Conv or Gemm, BatchNorm(+Relu) before a Conv applied while the Conv
// packs its input, Conv/Gemm + bias + Relu/Clip epilogue fusion, Conv + Add
// (residual) fusion, Conv + MaxPool fusion, a channel shuffle read in
// place by the depthwise Conv after it (FuseChannelShuffle), removal of
// inference no-ops (Identity, Dropout), and last the channel-blocked
// layout between convolutions (BlockChannels).
//
// Every pass works in place on a graph and returns how many rewrites it
// made; Optimize clones a model first and runs them all, so the caller's
// model (the one exported) is never touched. The runtime applies Optimize
// in runtime.NewSession (runtime.Options.NoOptimize turns it off).
//
// Fused nodes use gcompress's own operator domain ("gcompress"):
//
//	FusedConv(X, W, B?, Z?, s?, b?, mean?, var?) = act(Conv(pre(X), W, B) + Z)
//	FusedGemm(A, B, C?)                         = act(Gemm(A, B, C))
//	FusedConvPool(X, W, B?)                     = MaxPool(act(Conv(X, W, B)))
//	ToNCHWc(X), FromNCHWc(X)                    NCHW <-> [N, C/16, H, W, 16]
//	NCHWcConv(X, W, B?, Z?, s?, b?, mean?, var?) = FusedConv, Z and Y blocked,
//	                                              X blocked or NCHW
//	NCHWcMaxPool(X), NCHWcAveragePool(X)        = MaxPool, AveragePool on
//	                                              blocked X, Y
//
// with activation = "Relu" | "Clip" and activation_params = [min, max] for
// Clip; pre is the BatchNormalization (s, b, mean, var, pre_epsilon)
// followed by Relu when pre_activation = "Relu" (identity without them);
// FusedConv's shuffle_groups = G reads X's channel (c % G)*(C/G) + c/G as
// channel c. They exist only inside a session: backends that lack them are
// asked first (Options.Supports) and then get the unfused graph.
//
// Folding is exact algebra computed in float64 and rounded once to the
// weights' dtype, so a folded model differs from the original only by
// float rounding (the tests check equivalence numerically).
package passes
