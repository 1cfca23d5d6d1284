// Package prune removes weights from gcompress models and keeps them
// removed through retraining.
//
// Masks are first-class data: a Mask per initializer (Keep[i] is false
// where weight i is pruned), saved and loaded as safetensors, applied to a
// model (pruned weights become exact zeros, which the runtime's sparse
// kernels exploit: backend/cpu SparseGemm/SparseConv, picked by
// graph/passes.SparsifyWeights above a measured break-even sparsity) and
// handed to the training engine (train.Hooks.Masks zeroes their gradients
// and weights around every solver step).
//
// Unstructured criteria: magnitude (|w|, the L1 criterion of Han et al.,
// 2015) with per-layer ratios (Magnitude with a ratio per layer) or one
// global threshold over all layers (GlobalMagnitude), and Han et al.'s
// sensitivity scan (Sensitivity: prune one layer at a time at increasing
// ratios and pick, per layer, the largest ratio whose accuracy drop stays
// within a budget). N:M semi-structured masks (NM; 2:4 is what sparse
// tensor cores run) keep the N largest of every M consecutive weights
// along the reduction axis, the layout kernels/ref.Sparse24 stores.
//
// Schedules: one-shot (prune, then retrain), iterative (Iterative: R
// rounds of prune + retrain, the kept fraction shrinking geometrically)
// and gradual (Gradual: Zhu & Gupta's cubic schedule
// s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n Δt))^3, applied every Δt steps
// during training).
//
// Structured pruning (structured.go, deps.go) removes whole channels:
// channels are coupled into dependency groups by walking the graph
// (Conv -> BN -> activation -> Conv, residual Add, Concat, depthwise and
// grouped Conv, Flatten -> Gemm), ranked by L1 or L2 filter norms or BN
// scales, and the model is rewritten with physically smaller tensors.
//
// Reports (report.go) give per-layer tables (weights kept, storage bits)
// and latency measured with the runtime before and after (Latency).
package prune
