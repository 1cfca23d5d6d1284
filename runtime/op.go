package runtime

import (
	"fmt"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// Op runs one prepared node. Run receives the input tensors in the node's
// input order (nil for omitted optional inputs) and returns one tensor per
// node output (nil for omitted optional outputs). It must not modify inputs.
// Outputs are either fresh tensors from ctx.Alloc or whole-buffer views of an
// input (tensor.Reshape); never a sub-slice of an input.
type Op interface {
	Run(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// OpFunc adapts a function to Op.
type OpFunc func(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)

// Run calls f.
func (f OpFunc) Run(ctx *Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return f(ctx, in)
}

// NodeInfo is what an OpFactory may use besides the node: the opset of the
// node's domain (attributes and semantics differ by version).
type NodeInfo struct {
	Opset int64
}

// OpFactory validates the attributes of n once and returns the Op that
// executes it. Constant inputs (n.Inputs[i].Const) may be pre-processed here
// (for example weights packed for a fast kernel).
type OpFactory func(n *graph.Node, info NodeInfo) (Op, error)

// Backend maps operator types to factories.
type Backend interface {
	// Name identifies the backend ("cpu").
	Name() string
	// Factory returns the factory for op type op in domain ("" for ONNX),
	// or nil if the backend cannot run it.
	Factory(domain, op string) OpFactory
}

// Registry is a Backend built from a map; backends embed or wrap one.
type Registry struct {
	name string
	ops  map[string]OpFactory
}

// NewRegistry returns an empty registry called name.
func NewRegistry(name string) *Registry {
	return &Registry{name: name, ops: map[string]OpFactory{}}
}

// Name implements Backend.
func (r *Registry) Name() string { return r.name }

// Register adds (or replaces) the factory for domain/op.
func (r *Registry) Register(domain, op string, f OpFactory) {
	r.ops[opKey(domain, op)] = f
}

// Factory implements Backend.
func (r *Registry) Factory(domain, op string) OpFactory { return r.ops[opKey(domain, op)] }

// Ops lists the registered "domain:op" keys ("Conv" for the ONNX domain).
func (r *Registry) Ops() []string {
	out := make([]string, 0, len(r.ops))
	for k := range r.ops {
		out = append(out, k)
	}
	return out
}

func opKey(domain, op string) string {
	if domain == "" || domain == "ai.onnx" {
		return op
	}
	return domain + ":" + op
}

// InputError marks an error in what the caller fed to Run (missing input,
// wrong dtype or shape), as opposed to a failure inside the graph.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}
