package prune

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// logitsUnder runs the first n samples of ds through m (batch 1, so every
// layer sees the batch-1 shapes) with the sparse kernels under policy p.
func logitsUnder(m *graph.Model, ds *data.Dataset, n, threads int, p cpu.SparsePolicy) ([]*tensor.Tensor, [3]int64, error) {
	old := cpu.SetSparsePolicy(p)
	defer cpu.SetSparsePolicy(old)
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: max(threads, 1)})
	if err != nil {
		return nil, [3]int64{}, err
	}
	name, shape, err := eval.InputShape(m.Graph, 1, ds.Sample())
	if err != nil {
		return nil, [3]int64{}, err
	}
	before := cpu.SparseKernelCalls()
	var out []*tensor.Tensor
	for i := 0; i < min(n, ds.Len()); i++ {
		x, err := ds.Batch([]int{i}, shape)
		if err != nil {
			return nil, [3]int64{}, err
		}
		y, err := sess.Run(map[string]*tensor.Tensor{name: x})
		if err != nil {
			return nil, [3]int64{}, err
		}
		out = append(out, y[0])
	}
	after := cpu.SparseKernelCalls()
	var calls [3]int64
	for i := range calls {
		calls[i] = after[i] - before[i]
	}
	return out, calls, nil
}

// CompareKernels runs m on the first n samples of ds with every sparse
// layer forced onto the dense kernel, then onto the CSR kernel, then onto
// the 2:4 kernel (layers that are not 2:4 stay dense), and reports the
// largest logit difference of each sparse kernel against dense. A kernel
// that no layer can use is left out.
func CompareKernels(m *graph.Model, ds *data.Dataset, n, threads int) ([]KernelAgreement, error) {
	ref, _, err := logitsUnder(m, ds, n, threads, cpu.SparseForceDense)
	if err != nil {
		return nil, fmt.Errorf("kernel agreement: %w", err)
	}
	var out []KernelAgreement
	for _, k := range []struct {
		p    cpu.SparsePolicy
		kind cpu.SparseKernel
	}{{cpu.SparseForceCSR, cpu.KernelCSR}, {cpu.SparseForce24, cpu.Kernel24}} {
		got, calls, err := logitsUnder(m, ds, n, threads, k.p)
		if err != nil {
			return nil, fmt.Errorf("kernel agreement: %w", err)
		}
		if calls[k.kind] == 0 {
			continue
		}
		a := KernelAgreement{Kernel: k.kind.String(), Samples: len(got), SameTop1: true}
		for i := range got {
			for j := 0; j < got[i].Len(); j++ {
				g, r := got[i].Float64At(j), ref[i].Float64At(j)
				a.MaxAbsDiff = math.Max(a.MaxAbsDiff, math.Abs(g-r))
				a.MaxLogit = math.Max(a.MaxLogit, math.Abs(r))
			}
			pg, _ := eval.Argmax(got[i])
			pr, _ := eval.Argmax(ref[i])
			if len(pg) > 0 && len(pr) > 0 && pg[0] != pr[0] {
				a.SameTop1 = false
			}
		}
		out = append(out, a)
	}
	return out, nil
}
