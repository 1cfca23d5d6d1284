// Package quant owns gcompress's quantization: the shared maths (Params,
// Choose, the QuantizeLinear/DequantizeLinear references and the
// fake-quant op QAT trains with, in qparams.go and fakequant.go) and INT8
// post-training quantization to QDQ ONNX:
//
//   - observers (observer.go, histogram.go): streaming running min/max and
//     |x| histograms of 2048 bins that widen by whole bins and merge across
//     batches and threads; raw activations are never kept;
//   - calibrators (calibrate.go): minmax, percentile, entropy (TensorRT's
//     KL-divergence method, EntropyBins, with a per-tensor fallback to the
//     unclipped range where its threshold quantizes worse) and mse,
//     deterministic bit for bit;
//   - preparation (prepare.go): constant folding, BatchNorm folding
//     (graph/passes) and Gemm alpha/beta folding before quantizing;
//   - the plan (plan.go): quantizable Conv/Gemm/MatMul layers, the ignore
//     list, and each layer's activation point (after a Relu, through
//     pass-through ops such as MaxPool and Flatten);
//   - QDQ insertion (qdq.go): int8 symmetric weights per output channel,
//     u8 asymmetric or s8 symmetric activations per tensor, int32 biases
//     with scale s_in*s_w; opset >= 13, which ONNX Runtime and TensorRT run;
//   - lowering (lower.go): the rewrite that makes gcompress's runtime
//     execute a QDQ model with integer kernels (QLinearConv, QGemm,
//     ConvInteger/MatMulInteger, int8 MaxPool) on a copy; the exported
//     file stays QDQ;
//   - weight-only int8/int4 (weightonly.go): ONNX Runtime's MatMulNBits,
//     packed by backend/cpu's PackNBits; the CPU backend runs it (and the
//     lowered models' QGemm) with its com.microsoft kernels;
//   - sensitivity analysis and mixed precision (sensitivity.go), the
//     report and the TensorRT calibration table (report.go);
//   - QuantizeModel (quantize.go), the whole job behind `gcompress
//     quantize`: model + calibration set + Options -> QDQ model + Report.
package quant
