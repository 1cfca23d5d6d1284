// Package conformance runs ONNX backend-test trees: directories holding a
// model.onnx and test_data_set_*/input_*.pb, output_*.pb (TensorProto files),
// as shipped in ONNX's backend test data (Debian libonnx-testdata). Each case
// passes, fails (a wrong value, shape, dtype, or an error from a model whose
// operators are all supported: a bug), or is skipped with a reason (operators
// the backend does not run, non-tensor inputs).
//
// Outputs are compared as numpy.testing.assert_allclose does, which is what
// ONNX's own backend tests use: |actual - expected| <= atol + rtol*|expected|
// element-wise, NaN matching NaN, with rtol 1e-3 and atol 1e-7 by default.
// Integer and bool outputs must match exactly.
package conformance
