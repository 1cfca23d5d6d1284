// Package data reads the datasets gcompress trains, calibrates and
// evaluates on: IDX files (the MNIST format, optionally gzipped) in a
// dataset directory holding <split>-images-idx3-ubyte[.gz] and
// <split>-labels-idx1-ubyte[.gz]. Pixels are scaled to [0,1] float32.
package data
