// Package data reads the datasets gcompress trains, calibrates and
// evaluates on: IDX files (the MNIST format, optionally gzipped) in a
// dataset directory holding <split>-images-idx3-ubyte[.gz] and
// <split>-labels-idx1-ubyte[.gz], pixels scaled to [0,1] float32; or, for
// any model, NumPy files of samples as the model takes them: a single
// .npy of [N, sample...] (unlabelled), or <split>.npy with optional
// <split>-labels.npy in a dataset directory.
package data
