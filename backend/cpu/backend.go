package cpu

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

var registry = runtime.NewRegistry("cpu")

// Backend returns the CPU backend.
func Backend() runtime.Backend { return backend{registry} }

// backend is the registry, less the channel-blocked ops (nchwc.go) where
// their kernels do not run: the graph passes then keep the NCHW layout.
type backend struct{ *runtime.Registry }

// Factory implements runtime.Backend.
func (b backend) Factory(domain, op string) runtime.OpFactory {
	if domain == FusedDomain && nchwcOps[op] && !nchwcKernels() {
		return nil
	}
	return b.Registry.Factory(domain, op)
}

// Ops lists the operator types the CPU backend runs.
func Ops() []string { return registry.Ops() }

// register adds an ONNX-domain op; called from init functions.
func register(op string, f runtime.OpFactory) { registry.Register("", op, f) }

// registerFunc registers an op without attributes to validate: the same run
// function serves every node.
func registerFunc(op string, run func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)) {
	registerDomainFunc("", op, run)
}

// registerDomainFunc is registerFunc for an op of the given domain.
func registerDomainFunc(domain, op string, run func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)) {
	registry.Register(domain, op, func(*graph.Node, runtime.NodeInfo) (runtime.Op, error) {
		return runtime.OpFunc(run), nil
	})
}

// needInputs checks that in has at least min non-nil leading inputs.
func needInputs(in []*tensor.Tensor, min int) error {
	if len(in) < min {
		return fmt.Errorf("needs %d inputs, got %d", min, len(in))
	}
	for i := 0; i < min; i++ {
		if in[i] == nil {
			return fmt.Errorf("input %d is required", i)
		}
	}
	return nil
}

// one wraps a single output.
func one(t *tensor.Tensor, err error) ([]*tensor.Tensor, error) {
	if err != nil {
		return nil, err
	}
	return []*tensor.Tensor{t}, nil
}
