package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/tensor"
)

// maxSpecial is how many input sizes a session specialises for (the
// usual case is two: the batch, and a last shorter one); runs at further
// sizes take its symbolic graph. Each child holds its own prepared
// weights (folded, reordered for the blocked layout, packed for the
// kernels), so this bounds the memory they take.
const maxSpecial = 2

// specials holds a session's children specialised to input sizes, keyed
// by the sizes of its inputs' symbolic dimensions (a nil child: the sizes
// contradict the model, or its session could not be made).
//
// The load-time passes need concrete shapes (the channel-blocked layout,
// Conv + Add fusion): a model exported with a symbolic batch would run
// without them. So a session whose inputs have symbolic dimensions, on a
// Run at sizes it has not seen, makes a child session of the model with
// those sizes fixed and its shapes inferred again, and runs that.
type specials struct {
	model    *graph.Model // a copy of the caller's, taken by NewSession
	children map[string]*Session
	// err is the first reason a run's sizes got no optimised child: the
	// sizes contradict the model, its session could not be made, or its
	// load-time passes failed (see Session.OptimizeError)
	err error
}

// symbolicInputs reports whether a graph input (without an initializer)
// has a dimension of unknown size.
func symbolicInputs(g *graph.Graph) bool {
	for _, v := range g.Inputs {
		if v.Const != nil || !v.HasShape {
			continue
		}
		for _, d := range v.Shape {
			if !d.Known() {
				return true
			}
		}
	}
	return false
}

// inputSizes returns the sizes inputs give g's unknown input dimensions,
// by graph.InputDimName, and a key naming them all;
// ok is false where the inputs do not fit the declared types and shapes
// (a missing or unknown input, another dtype or rank, a known dimension
// of another size, a symbol of two sizes), which the symbolic graph's
// checks then report.
func inputSizes(g *graph.Graph, inputs map[string]*tensor.Tensor) (sizes map[string]int64, key string, ok bool) {
	sizes = map[string]int64{}
	known := 0
	for _, v := range g.Inputs {
		t := inputs[v.Name]
		if t == nil {
			if v.Const != nil {
				continue
			}
			return nil, "", false
		}
		known++
		if v.DType != tensor.Undefined && t.DType() != v.DType {
			return nil, "", false
		}
		if !v.HasShape {
			continue
		}
		if t.Rank() != len(v.Shape) {
			return nil, "", false
		}
		for i, d := range v.Shape {
			if d.Known() {
				if d.Size != int64(t.Shape()[i]) {
					return nil, "", false
				}
				continue
			}
			name := graph.InputDimName(v, i)
			size := int64(t.Shape()[i])
			if prev, seen := sizes[name]; seen && prev != size {
				return nil, "", false
			}
			sizes[name] = size
		}
	}
	if known != len(inputs) {
		return nil, "", false // a name the model does not have
	}
	parts := make([]string, 0, len(sizes))
	for name, size := range sizes {
		parts = append(parts, fmt.Sprintf("%q=%d", name, size))
	}
	sort.Strings(parts)
	return sizes, strings.Join(parts, ","), true
}

// specialFor returns the child of s for the sizes of inputs, making it
// the first time (nil: run s's own graph). Called with s.mu held.
func (s *Session) specialFor(inputs map[string]*tensor.Tensor) *Session {
	if s.spec == nil {
		return nil
	}
	sizes, key, ok := inputSizes(s.spec.model.Graph, inputs)
	if !ok {
		return nil
	}
	if c, seen := s.spec.children[key]; seen {
		return c
	}
	if len(s.spec.children) >= maxSpecial {
		return nil
	}
	c, err := s.specialize(sizes)
	if err == nil && c.optErr != nil {
		err = c.optErr
	}
	if err != nil && s.spec.err == nil {
		s.spec.err = fmt.Errorf("input sizes %s: %w", key, err)
	}
	s.spec.children[key] = c
	return c
}

// specialize makes the session of s's model with its inputs' unknown
// dimensions fixed to sizes (see inputSizes), sharing s's profile and
// arena (runs are serialised by s.mu; the arena reuses a buffer for an
// allocation of the same size); an error when the sizes contradict the
// model or the session cannot be made.
func (s *Session) specialize(sizes map[string]int64) (*Session, error) {
	m := passes.Clone(s.spec.model)
	if err := graph.FixInputDims(m.Graph, sizes); err != nil {
		return nil, err
	}
	c, err := NewSession(m, s.backend, s.opts)
	if err != nil {
		return nil, err
	}
	c.prof, c.arena = s.prof, s.arena // runs are serialised by s.mu
	return c, nil
}
