// Reductions over a set of axes, and ArgMax/ArgMin over one axis.
//
//	ReduceSum Σx   ReduceMean Σx/n   ReduceProd Πx   ReduceMax   ReduceMin
//	ReduceL1 Σ|x|   ReduceL2 sqrt(Σx²)   ReduceSumSquare Σx²   ReduceLogSum log(Σx)
//	ReduceLogSumExp log(Σ e^(x-m)) + m, m the max (0 when the max is infinite)
//
// The axes come from the `axes` attribute (ONNX before opset 18, or 13 for
// ReduceSum) or the optional second input (from then on); both forms are
// accepted at any opset. Without axes every axis is reduced, unless
// noop_with_empty_axes=1: then none is, and the op is its per-element
// transform (x, |x|, x², log x, ...), as in the ONNX reference. keepdims
// (default 1) keeps reduced axes with size 1. A reduction over no elements
// gives the identity: 0 for the sums, 1 for Prod, -inf (the lowest value of
// an integer type) for Max, +inf (the highest) for Min, NaN for Mean, -inf
// for LogSum and LogSumExp.
//
// Accumulation is in float64 for float inputs (so float32 sums of millions
// of elements stay accurate), int64 for signed and uint64 for unsigned
// integers, wrapping into the output type like NumPy; Mean, L2, LogSum and
// LogSumExp of integers accumulate in float64 and truncate. ReduceMax and
// ReduceMin also take bool. A NaN input makes Max/Min NaN.
//
// ArgMax/ArgMin return the int64 index of the first extreme value along
// `axis` (default 0), the last one with select_last_index=1; keepdims
// (default 1) as above. NaN counts as the extreme, as in NumPy.
package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// reduceKind selects a Reduce* op.
type reduceKind int

const (
	redSum reduceKind = iota
	redMean
	redProd
	redMax
	redMin
	redL1
	redL2
	redSumSquare
	redLogSum
	redLogSumExp
)

func init() {
	for op, k := range map[string]reduceKind{
		"ReduceSum": redSum, "ReduceMean": redMean, "ReduceProd": redProd, "ReduceMax": redMax,
		"ReduceMin": redMin, "ReduceL1": redL1, "ReduceL2": redL2, "ReduceSumSquare": redSumSquare,
		"ReduceLogSum": redLogSum, "ReduceLogSumExp": redLogSumExp,
	} {
		register(op, newReduce(op, k))
	}
	register("ArgMax", newArgReduce("ArgMax", true))
	register("ArgMin", newArgReduce("ArgMin", false))
}

func newReduce(name string, kind reduceKind) runtime.OpFactory {
	return func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		keep := n.AttrInt("keepdims", 1) != 0
		noop := n.AttrInt("noop_with_empty_axes", 0) != 0
		attrAxes := n.AttrInts("axes", nil)
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := needInputs(in, 1); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			axes := attrAxes
			if t := ewOptional(in, 1); t != nil {
				var err error
				if axes, err = t.Int64s(); err != nil {
					return nil, fmt.Errorf("%s: axes: %w", name, err)
				}
			}
			out, err := reduceRun(ctx, kind, in[0], axes, keep, noop)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	}
}

// reducedAxes marks the axes to reduce; no axes means all unless noop.
func reducedAxes(axes []int64, rank int, noop bool) ([]bool, error) {
	red := make([]bool, rank)
	if len(axes) == 0 && !noop {
		for i := range red {
			red[i] = true
		}
		return red, nil
	}
	for _, a := range axes {
		ax, err := tensor.NormAxis(int(a), rank)
		if err != nil {
			return nil, err
		}
		if rank == 0 {
			continue
		}
		if red[ax] {
			return nil, fmt.Errorf("axis %d repeated in %v", a, axes)
		}
		red[ax] = true
	}
	return red, nil
}

// reduceDomain says how a dtype accumulates for a reduction kind.
type reduceDomain int

const (
	domFloat reduceDomain = iota
	domSigned
	domUnsigned
)

// domainFor picks the accumulation domain of kind for dtype dt.
func domainFor(kind reduceKind, dt tensor.DType) (reduceDomain, error) {
	switch {
	case dt.IsFloat():
		return domFloat, nil
	case dt == tensor.Bool && kind != redMax && kind != redMin, dt == tensor.String:
		return 0, fmt.Errorf("unsupported dtype %v", dt)
	case kind == redMean || kind == redL2 || kind == redLogSum || kind == redLogSumExp:
		return domFloat, nil
	case dtypeSigned(dt):
		return domSigned, nil
	}
	return domUnsigned, nil
}

func reduceRun(ctx *runtime.Context, kind reduceKind, x *tensor.Tensor, axes []int64, keep, noop bool) (*tensor.Tensor, error) {
	red, err := reducedAxes(axes, x.Rank(), noop)
	if err != nil {
		return nil, err
	}
	dom, err := domainFor(kind, x.DType())
	if err != nil {
		return nil, err
	}
	var outShape []int
	for d, size := range x.Shape() {
		switch {
		case !red[d]:
			outShape = append(outShape, size)
		case keep:
			outShape = append(outShape, 1)
		}
	}
	out, err := ctx.Alloc(x.DType(), outShape...)
	if err != nil {
		return nil, err
	}
	p := newRedPlan(x.Shape(), red)
	switch dom {
	case domFloat:
		if fin, ok := sumFinisher(kind, p.count); ok && x.DType() == tensor.Float32 {
			// float32 sums accumulate in float64 without widening the input.
			storeF64(out, reduceWith(ctx, p, x.F32(), sumReducer[float32](fin)), 64)
			break
		}
		xs := toF64(x)
		storeF64(out, reduceWith(ctx, p, xs, reducerF64(ctx, kind, p, xs)), 64)
	case domSigned:
		lo, hi := signedBounds(x.DType())
		storeI64(out, reduceWith(ctx, p, toI64(x), reducerBasic(kind, lo, hi)))
	default:
		storeU64(out, reduceWith(ctx, p, toU64(x), reducerBasic(kind, 0, unsignedMax(x.DType()))))
	}
	return out, nil
}

// signedBounds returns the lowest and highest value of a signed integer dtype.
func signedBounds(dt tensor.DType) (int64, int64) {
	bits := dt.Size() * 8
	return -1 << (bits - 1), 1<<(bits-1) - 1
}

// unsignedMax returns the highest value of an unsigned integer dtype or bool.
func unsignedMax(dt tensor.DType) uint64 {
	if dt == tensor.Bool {
		return 1
	}
	return math.MaxUint64 >> (64 - dt.Size()*8)
}

// redPlan describes a reduction of a contiguous input: its dims of size > 1
// are merged into alternating kept and reduced groups.
type redPlan struct {
	keptDims, keptSt []int // kept groups, outer to inner, with input strides
	redDims, redSt   []int // reduced groups
	innerReduced     bool  // the innermost group is reduced (else kept)
	inner            int   // size of the innermost group: a contiguous run
	count            int   // input elements per output
	nOut             int   // output elements
	empty            bool  // the input has no elements
}

// newRedPlan plans the reduction of a contiguous tensor of shape over the
// axes marked in red.
func newRedPlan(shape []int, red []bool) *redPlan {
	p := &redPlan{count: 1, nOut: 1, inner: 1}
	st := tensor.Strides(shape)
	lastRed := -1 // -1: no group yet, else whether the last group is reduced
	for d, size := range shape {
		if red[d] {
			p.count *= size
		} else {
			p.nOut *= size
		}
		if size == 0 {
			p.empty = true
		}
		if size <= 1 {
			continue
		}
		r := 0
		if red[d] {
			r = 1
		}
		dims, sts := &p.keptDims, &p.keptSt
		if red[d] {
			dims, sts = &p.redDims, &p.redSt
		}
		if r == lastRed { // merge with the previous group of the same kind
			(*dims)[len(*dims)-1] *= size
			(*sts)[len(*sts)-1] = st[d]
		} else {
			*dims = append(*dims, size)
			*sts = append(*sts, st[d])
		}
		lastRed = r
	}
	p.innerReduced = lastRed == 1
	switch {
	case p.innerReduced:
		p.inner = p.redDims[len(p.redDims)-1]
	case lastRed == 0:
		p.inner = p.keptDims[len(p.keptDims)-1]
	}
	return p
}

// runOffsets lists the input offsets of the contiguous runs that feed one
// output (or one row of outputs), relative to its base offset: every
// combination of the reduced groups, without the innermost one when that is
// reduced (it is the run itself).
func (p *redPlan) runOffsets() []int {
	dims, st := p.redDims, p.redSt
	if p.innerReduced {
		dims, st = dims[:len(dims)-1], st[:len(st)-1]
	}
	offs := []int{0}
	for g := range dims {
		next := make([]int, 0, len(offs)*dims[g])
		for _, o := range offs {
			for i := 0; i < dims[g]; i++ {
				next = append(next, o+i*st[g])
			}
		}
		offs = next
	}
	return offs
}

// baseOffset is the input offset of unit u, decomposed over the kept groups
// (without the innermost one when that is kept: a unit is then a row).
func (p *redPlan) baseOffset(u int) int {
	n := len(p.keptDims)
	if !p.innerReduced {
		n--
	}
	off := 0
	for g := n - 1; g >= 0; g-- {
		off += (u % p.keptDims[g]) * p.keptSt[g]
		u /= p.keptDims[g]
	}
	return off
}

// reducer is one reduction kind from input elements T to accumulator
// domain D. fold and foldRow get the output index o (of acc, or of acc[0])
// for kinds that need it.
type reducer[T float32 | float64 | int64 | uint64, D float64 | int64 | uint64] struct {
	init    D
	fold    func(o int, acc D, xs []T) D // fold a contiguous run into one output
	foldRow func(o int, acc []D, xs []T) // acc[j] = acc[j] op xs[j]
	fin     func(o int, acc D) D         // the final value
}

// stepReducer builds a reducer from a per-element step.
func stepReducer[D float64 | int64 | uint64](init D, step func(acc, x D) D, fin func(o int, acc D) D) reducer[D, D] {
	return reducer[D, D]{
		init: init,
		fold: func(_ int, acc D, xs []D) D {
			for _, x := range xs {
				acc = step(acc, x)
			}
			return acc
		},
		foldRow: func(_ int, acc, xs []D) {
			for j, x := range xs[:len(acc)] {
				acc[j] = step(acc[j], x)
			}
		},
		fin: fin,
	}
}

// keepAcc is the final step of kinds whose accumulator is the result.
func keepAcc[D float64 | int64 | uint64](_ int, acc D) D { return acc }

// sumReducer adds with tight loops (four partial sums over a run, to keep
// the adder busy); fin finishes the sum.
func sumReducer[T float32 | float64 | int64 | uint64, D float64 | int64 | uint64](fin func(o int, acc D) D) reducer[T, D] {
	return reducer[T, D]{
		fold: func(_ int, acc D, xs []T) D {
			var s0, s1, s2, s3 D
			for len(xs) >= 4 {
				s0, s1, s2, s3 = s0+D(xs[0]), s1+D(xs[1]), s2+D(xs[2]), s3+D(xs[3])
				xs = xs[4:]
			}
			for _, x := range xs {
				s0 += D(x)
			}
			return acc + (s0 + s1) + (s2 + s3)
		},
		foldRow: func(_ int, acc []D, xs []T) {
			for j, x := range xs[:len(acc)] {
				acc[j] += D(x)
			}
		},
		fin: fin,
	}
}

// sumFinisher is the final step of the kinds that are a plain sum (Sum,
// Mean, LogSum) over count elements; ok is false for the other kinds.
func sumFinisher(kind reduceKind, count int) (fin func(o int, acc float64) float64, ok bool) {
	n := float64(count)
	switch kind {
	case redSum:
		return keepAcc[float64], true
	case redMean:
		return func(_ int, acc float64) float64 { return acc / n }, true
	case redLogSum:
		return func(_ int, acc float64) float64 { return math.Log(acc) }, true
	}
	return nil, false
}

// extremeReducer is Max (max=true) or Min, propagating NaN.
func extremeReducer[D float64 | int64 | uint64](init D, isMax bool) reducer[D, D] {
	step := func(acc, x D) D {
		if x < acc || x != x {
			return x
		}
		return acc
	}
	if isMax {
		step = func(acc, x D) D {
			if x > acc || x != x {
				return x
			}
			return acc
		}
	}
	return stepReducer(init, step, keepAcc[D])
}

// reducerBasic is Sum, Prod, Max, Min, L1 or SumSquare (other kinds: Sum)
// over any domain; lo and hi are the dtype's bounds. The steps hold for
// floats too: |x| via x < 0, and NaN propagation via x != x.
func reducerBasic[D float64 | int64 | uint64](kind reduceKind, lo, hi D) reducer[D, D] {
	switch kind {
	case redProd:
		return stepReducer(1, func(acc, x D) D { return acc * x }, keepAcc[D])
	case redMax:
		return extremeReducer(lo, true)
	case redMin:
		return extremeReducer(hi, false)
	case redL1:
		return stepReducer(0, func(acc, x D) D {
			if x < 0 {
				x = -x
			}
			return acc + x
		}, keepAcc[D])
	case redSumSquare:
		return stepReducer(0, func(acc, x D) D { return acc + x*x }, keepAcc[D])
	}
	return sumReducer[D](keepAcc[D])
}

// reducerF64 is a kind over float64; LogSumExp first reduces x to its max.
func reducerF64(ctx *runtime.Context, kind reduceKind, p *redPlan, x []float64) reducer[float64, float64] {
	if fin, ok := sumFinisher(kind, p.count); ok {
		return sumReducer[float64](fin)
	}
	switch kind {
	case redL2:
		return stepReducer(0, func(acc, x float64) float64 { return acc + x*x },
			func(_ int, acc float64) float64 { return math.Sqrt(acc) })
	case redLogSumExp:
		return logSumExpReducer(ctx, p, x)
	}
	return reducerBasic(kind, math.Inf(-1), math.Inf(1))
}

// logSumExpReducer sums e^(x - m) with m the (finite) max of each output.
func logSumExpReducer(ctx *runtime.Context, p *redPlan, x []float64) reducer[float64, float64] {
	shift := reduceWith(ctx, p, x, extremeReducer(math.Inf(-1), true))
	for i, m := range shift {
		if math.IsInf(m, 0) {
			shift[i] = 0
		}
	}
	return reducer[float64, float64]{
		fold: func(o int, acc float64, xs []float64) float64 {
			for _, v := range xs {
				acc += math.Exp(v - shift[o])
			}
			return acc
		},
		foldRow: func(o int, acc, xs []float64) {
			for j, v := range xs[:len(acc)] {
				acc[j] += math.Exp(v - shift[o+j])
			}
		},
		fin: func(o int, acc float64) float64 { return math.Log(acc) + shift[o] },
	}
}

// reduceGrain is the number of input elements a goroutine should get.
const reduceGrain = 1 << 15

// reduceWith applies r to x as planned by p and returns the p.nOut results.
func reduceWith[T float32 | float64 | int64 | uint64, D float64 | int64 | uint64](ctx *runtime.Context, p *redPlan, x []T, r reducer[T, D]) []D {
	out := make([]D, p.nOut)
	if p.empty {
		for o := range out {
			out[o] = r.fin(o, r.init)
		}
		return out
	}
	offs := p.runOffsets()
	if p.innerReduced {
		grain := max(1, reduceGrain/p.count)
		ewParallel(ctx, p.nOut, grain, func(lo, hi int) {
			for o := lo; o < hi; o++ {
				base, acc := p.baseOffset(o), r.init
				for _, off := range offs {
					acc = r.fold(o, acc, x[base+off:base+off+p.inner])
				}
				out[o] = r.fin(o, acc)
			}
		})
		return out
	}
	// Rows of p.inner outputs; split each row into column chunks when there
	// are fewer rows than threads (a reduction over leading axes).
	rows := p.nOut / p.inner
	chunks := 1
	if rows < ctx.Threads {
		chunks = max(1, min(ctx.Threads, p.inner/256))
	}
	grain := max(1, reduceGrain/max(1, p.count*p.inner/chunks))
	ewParallel(ctx, rows*chunks, grain, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			row, c := u/chunks, u%chunks
			j0, j1 := c*p.inner/chunks, (c+1)*p.inner/chunks
			base, o0 := p.baseOffset(row)+j0, row*p.inner+j0
			acc := out[o0 : o0+j1-j0]
			for j := range acc {
				acc[j] = r.init
			}
			for _, off := range offs {
				r.foldRow(o0, acc, x[base+off:])
			}
			for j := range acc {
				acc[j] = r.fin(o0+j, acc[j])
			}
		}
	})
	return out
}

func newArgReduce(name string, isMax bool) runtime.OpFactory {
	return func(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
		axis := int(n.AttrInt("axis", 0))
		keep := n.AttrInt("keepdims", 1) != 0
		last := n.AttrInt("select_last_index", 0) != 0
		return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			if err := needInputs(in, 1); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out, err := argReduce(ctx, in[0], axis, keep, isMax, last)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return []*tensor.Tensor{out}, nil
		}), nil
	}
}

// axisOuterInner views shape as [outer, shape[axis], inner].
func axisOuterInner(shape []int, axis int) (outer, n, inner int) {
	return tensor.Product(shape[:axis]), shape[axis], tensor.Product(shape[axis+1:])
}

func argReduce(ctx *runtime.Context, x *tensor.Tensor, axis int, keep, isMax, last bool) (*tensor.Tensor, error) {
	dt := x.DType()
	if x.Rank() == 0 {
		return nil, fmt.Errorf("input must have rank >= 1")
	}
	if dt == tensor.String || dt == tensor.Bool {
		return nil, fmt.Errorf("unsupported dtype %v", dt)
	}
	ax, err := tensor.NormAxis(axis, x.Rank())
	if err != nil {
		return nil, err
	}
	shape := x.Shape()
	outer, n, inner := axisOuterInner(shape, ax)
	if n == 0 {
		return nil, fmt.Errorf("axis %d has size 0", axis)
	}
	outShape := append([]int{}, shape[:ax]...)
	if keep {
		outShape = append(outShape, 1)
	}
	out, err := ctx.Alloc(tensor.Int64, append(outShape, shape[ax+1:]...)...)
	if err != nil {
		return nil, err
	}
	idx := out.I64()
	switch {
	case dt.IsFloat():
		argT(ctx, toF64(x), idx, outer, n, inner, isMax, last)
	case dtypeSigned(dt):
		argT(ctx, toI64(x), idx, outer, n, inner, isMax, last)
	default:
		argT(ctx, toU64(x), idx, outer, n, inner, isMax, last)
	}
	return out, nil
}

// argT writes the index of the extreme of each lane x[o, :, i] into
// idx[o*inner+i]. A NaN beats everything (the first or, with last, the last NaN).
func argT[D float64 | int64 | uint64](ctx *runtime.Context, x []D, idx []int64, outer, n, inner int, isMax, last bool) {
	better := func(v, best D) bool {
		if isMax {
			return v > best || (last && v == best)
		}
		return v < best || (last && v == best)
	}
	grain := max(1, reduceGrain/n)
	ewParallel(ctx, outer*inner, grain, func(lo, hi int) {
		for lane := lo; lane < hi; lane++ {
			o, i := lane/inner, lane%inner
			base := o*n*inner + i
			best, bi := x[base], 0
			for k := 1; k < n; k++ {
				v := x[base+k*inner]
				nan, bestNaN := v != v, best != best
				if (nan && (last || !bestNaN)) || (!bestNaN && better(v, best)) {
					best, bi = v, k
				}
			}
			idx[lane] = int64(bi)
		}
	})
}
