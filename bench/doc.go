// Package bench holds gcompress's macro benchmarks: harnesses that run whole
// models in gcompress and in a peer (ONNX Runtime) in the same process and
// record both, with machine information, under bench/results/.
package bench
