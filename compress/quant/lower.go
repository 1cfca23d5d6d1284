package quant

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
)

// LowerReport says what Lower rewrote (passes.LowerReport).
type LowerReport = passes.LowerReport

// Lower rewrites a QDQ model into the integer ops gcompress's runtime
// executes with its INT8 kernels (and ONNX Runtime runs too); m is not
// modified. It is passes.LowerQDQ, which the runtime's load-time passes
// also apply: see there for the patterns.
func Lower(m *graph.Model) (*graph.Model, LowerReport, error) { return passes.LowerQDQ(m) }
