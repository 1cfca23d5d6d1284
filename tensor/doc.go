// Package tensor owns gcompress's dense tensor: a data type, a row-major shape
// and one contiguous Go slice of elements. It also reads and writes the two
// tensor file formats the project meets: NumPy .npy and ONNX TensorProto
// (typed fields, raw_data, and external data files).
//
// A Tensor is always contiguous in row-major (C) order: the element at index
// (i0, ..., i{r-1}) lives at offset sum_k i_k * stride_k with
// stride_{r-1} = 1 and stride_k = stride_{k+1} * shape_{k+1}. Views that share
// storage are whole-buffer views only (Reshape); there are no strided views.
package tensor
