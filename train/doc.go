// Package train trains gcompress models with gorgonia.org/gorgonia.
//
// Build lowers the trainable subset of the graph IR (Gemm, MatMul, Conv,
// BatchNormalization with batch statistics and running-statistics updates,
// Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Add,
// Dropout, Softmax, LogSoftmax, Identity) to a gorgonia expression graph of
// fixed batch size, in float32. Ops whose gorgonia versions differ from
// ONNX semantics are Kernels: plain-Go forward and backward functions
// wrapped as gorgonia ops (pooling, softmax, batch normalisation, the
// SGEMM-backed matrix product); ApplyKernel lets other packages add their
// own (compress/quant's fake-quant with a straight-through gradient).
// The forward agreement test checks every trainable op against the CPU
// runtime, and CheckGradients checks backpropagation numerically.
//
// Train runs mini-batch training on top: losses (CrossEntropy, or any Loss
// such as compress/distill's KD loss), solvers (SGD with momentum,
// Nesterov and weight decay; Adam), learning-rate schedules (warm-up,
// step, cosine), shuffling and +-N pixel shift augmentation, dropout,
// evaluation with the runtime after every epoch, early stopping on a
// validation split, and checkpoints (safetensors + state.json, written
// atomically) from which a killed run resumes bit-exactly. Hooks carry
// pruning masks (pruned weights stay zero through the solver step), frozen
// parameters, parameter and activation transforms (fake quantization), a
// custom loss, and per-step callbacks. The trained weights are written
// back into the IR, so onnx.Save exports the trained model.
//
// Determinism: every random choice (initial weights in models/, shuffling,
// shifts, dropout) comes from PCG streams keyed by the seed and the epoch,
// and gonum's SGEMM accumulates each output block in a fixed order
// whatever the thread count, so one seed gives one set of weights.
//
// Note for hook authors: gorgonia reuses the memory of intermediate values
// during a run, so a node's Value() read afterwards may hold another op's
// result. Read values through a kernel (as the trainer's taps do).
package train
