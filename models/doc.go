// Package models builds the reference models gcompress ships, emitted as
// graph IR (and so as ONNX, opset 13): the training zoo (Build: lenet5,
// lenet-300-100, mlp-1200-1200, mlp-800-800, mlp-30-30; He-initialised
// from a seed, trained by package train), a nearest-centroid classifier
// whose weights come from data without training, and weight
// materialisation for ONNX's "light" zoo files.
package models
