// Package models builds the reference models gcompress ships: small
// architectures emitted as graph IR (and so as ONNX), with weights computed
// from data where that needs no training.
package models
