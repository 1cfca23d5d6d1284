package main

import (
	"fmt"
	"io"

	"github.com/gcompress/gcompress/compress/quant"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx"
)

// loadForRun reads an ONNX model that run, eval, bench and demo execute. A
// QDQ model (what 'gcompress quantize' or ONNX Runtime's quantizer writes)
// is lowered to integer ops first (quant.Lower: QLinearConv, QGemm, 8-bit
// pooling), so it runs on the INT8 kernels rather than through float
// DequantizeLinear/QuantizeLinear pairs; the runtime's own load-time
// passes only make QDQ convolutions and MatMuls integer. Should lowering
// fail, a warning goes to warn and the model runs as read.
func loadForRun(path string, warn io.Writer) (*graph.Model, error) {
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	qdq := false
	for _, n := range m.Graph.Nodes {
		qdq = qdq || n.OpType == "DequantizeLinear" && (n.Domain == "" || n.Domain == "ai.onnx")
	}
	if !qdq {
		return m, nil
	}
	lowered, rep, err := quant.Lower(m)
	if err != nil {
		fmt.Fprintf(warn, "gcompress: warning: %s: integer lowering failed (%v); running the QDQ graph as it is\n", path, err)
		return m, nil
	}
	if len(rep.Ops) == 0 {
		return m, nil
	}
	return lowered, nil
}
