package main

import (
	"sort"
	"strconv"
	"strings"

	"github.com/gcompress/gcompress/graph"
)

// parseDims reads --dim NAME=SIZE flags (SIZE >= 1, each NAME once) and
// checks that every NAME is a symbolic dimension of one of g's inputs.
func parseDims(g *graph.Graph, specs []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, s := range specs {
		name, size, ok := strings.Cut(s, "=")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
		if !ok || name == "" || err != nil || n < 1 {
			return nil, usagef("--dim %q: want NAME=SIZE with SIZE >= 1", s)
		}
		if _, dup := out[name]; dup {
			return nil, usagef("--dim %s is given twice", name)
		}
		out[name] = n
	}
	syms := symbolicDims(g)
	for name := range out {
		if !syms[name] {
			have := "none"
			if len(syms) > 0 {
				names := make([]string, 0, len(syms))
				for s := range syms {
					names = append(names, s)
				}
				sort.Strings(names)
				have = strings.Join(names, ", ")
			}
			return nil, usagef("--dim %s: no model input has a symbolic dimension called %q (symbolic: %s)", name, name, have)
		}
	}
	return out, nil
}

// symbolicDims returns the names of the symbolic dimensions of g's inputs.
func symbolicDims(g *graph.Graph) map[string]bool {
	out := map[string]bool{}
	for _, v := range g.Inputs {
		if v.Const != nil {
			continue
		}
		for _, d := range v.Shape {
			if !d.Known() && d.Param != "" {
				out[d.Param] = true
			}
		}
	}
	return out
}

// fixDims fixes the symbolic dimensions of g's inputs named in fixed to
// their sizes and infers the other values' shapes again
// (graph.FixInputDims), so that the load-time passes and the memory check
// see concrete sizes; an error is a contradiction those sizes make.
func fixDims(g *graph.Graph, fixed map[string]int64) error {
	if len(fixed) == 0 {
		return nil
	}
	if err := graph.FixInputDims(g, fixed); err != nil {
		return usagef("--dim: %v", err)
	}
	return nil
}
