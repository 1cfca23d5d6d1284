package cpu

// Data-movement operators: Transpose, Concat, Split, Slice, Gather,
// GatherElements, GatherND, ScatterElements (and the deprecated Scatter),
// ScatterND, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, OneHot, Trilu,
// NonZero, TopK and CumSum (ONNX opsets 13..21).
//
// Most of these ops only move elements. They work on bit patterns: a tensor's
// storage is viewed as unsigned integers of the element's size (or strings),
// so one generic kernel covers every dtype. The workhorse is mvGather, an
// "offset table" gather: for an output of shape [n_0, ..., n_k] and tables
// T_d of length n_d,
//
//	out[i_0, ..., i_k] = in[T_0[i_0] + ... + T_k[i_k]]   (fill if any T_d[i_d] < 0)
//
// Transpose, Slice, Tile, Expand, Pad, Gather, DepthToSpace/SpaceToDepth and
// nearest Resize are all such gathers with different tables; rows whose last
// table is a contiguous run are copied as blocks.

import (
	"cmp"
	"fmt"
	"slices"
	"unsafe"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	register("Transpose", newTranspose)
	register("Concat", newConcat)
	register("Split", newSplit)
	registerFunc("Slice", runSlice)
	register("Gather", newGather)
	register("GatherElements", newGatherElements)
	register("GatherND", newGatherND)
	register("ScatterElements", newScatterElements)
	register("Scatter", newScatterElements)
	register("ScatterND", newScatterND)
	registerFunc("Expand", runExpand)
	registerFunc("Tile", runTile)
	register("Pad", newPad)
	register("DepthToSpace", newDepthToSpace)
	register("SpaceToDepth", newSpaceToDepth)
	register("OneHot", newOneHot)
	register("Trilu", newTrilu)
	registerFunc("NonZero", runNonZero)
	register("TopK", newTopK)
	register("CumSum", newCumSum)
}

// mvParallelMin is the element count below which kernels run on one thread:
// smaller jobs finish faster than goroutines start.
const mvParallelMin = 1 << 15

// mvParallel runs fn over [0, n) split across ctx's threads when the total
// work (in elements) is large enough to pay for it.
func mvParallel(ctx *runtime.Context, n, work int, fn func(lo, hi int)) {
	if work < mvParallelMin || ctx.Threads <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	ctx.ParallelFor(n, fn)
}

// mvWord is the element type of a dtype-agnostic kernel: an unsigned integer
// of the element's byte size, or a string.
type mvWord interface {
	uint8 | uint16 | uint32 | uint64 | string
}

// mvWords returns t's storage as []uint8, []uint16, []uint32 or []uint64 (by
// element size), sharing memory with t, or as []string for strings.
func mvWords(t *tensor.Tensor) any {
	if t.DType() == tensor.String {
		return tensor.Data[string](t)
	}
	n, p := t.Len(), t.DataPointer()
	switch t.DType().Size() {
	case 1:
		return unsafe.Slice((*uint8)(p), n)
	case 2:
		return unsafe.Slice((*uint16)(p), n)
	case 4:
		return unsafe.Slice((*uint32)(p), n)
	case 8:
		return unsafe.Slice((*uint64)(p), n)
	}
	panic(fmt.Sprintf("mvWords: dtype %v", t.DType()))
}

// mvFirst returns the first element of t viewed as T, or T's zero value when
// t is nil or empty.
func mvFirst[T mvWord](t *tensor.Tensor) T {
	var z T
	if t == nil || t.Len() == 0 {
		return z
	}
	return mvWords(t).([]T)[0]
}

// mvGather fills dst, seen as row-major over the shape [len(tabs[0]), ...],
// with dst[i_0..i_k] = src[Σ_d tabs[d][i_d]], or with the first element of
// fill (zero when fill is nil) where any entry used is negative. dst and src
// have the same dtype.
func mvGather(ctx *runtime.Context, dst, src *tensor.Tensor, tabs [][]int, fill *tensor.Tensor) {
	// Tables of length 1 only shift the base offset.
	var kept [][]int
	base, neg := 0, false
	for _, t := range tabs {
		switch {
		case len(t) != 1:
			kept = append(kept, t)
		case t[0] < 0:
			neg = true
		default:
			base += t[0]
		}
	}
	if neg {
		base = -1
	}
	if len(kept) == 0 {
		kept = [][]int{{0}}
	}
	switch d := mvWords(dst).(type) {
	case []uint8:
		mvGatherT(ctx, d, mvWords(src).([]uint8), base, kept, mvFirst[uint8](fill))
	case []uint16:
		mvGatherT(ctx, d, mvWords(src).([]uint16), base, kept, mvFirst[uint16](fill))
	case []uint32:
		mvGatherT(ctx, d, mvWords(src).([]uint32), base, kept, mvFirst[uint32](fill))
	case []uint64:
		mvGatherT(ctx, d, mvWords(src).([]uint64), base, kept, mvFirst[uint64](fill))
	case []string:
		mvGatherT(ctx, d, mvWords(src).([]string), base, kept, mvFirst[string](fill))
	}
}

// mvIsRun reports whether t is t[0], t[0]+1, ... with t[0] >= 0.
func mvIsRun(t []int) bool {
	if len(t) == 0 || t[0] < 0 {
		return false
	}
	for i, v := range t {
		if v != t[0]+i {
			return false
		}
	}
	return true
}

func mvGatherT[T mvWord](ctx *runtime.Context, dst, src []T, base int, tabs [][]int, fill T) {
	k := len(tabs)
	last := tabs[k-1]
	n := len(last)
	if n == 0 || len(dst) == 0 {
		return
	}
	if p, s, ok := mvTilePlan(base, tabs); ok {
		mvGatherTiled(ctx, dst, src, base, tabs, p, s)
		return
	}
	rows := len(dst) / n
	run := mvIsRun(last)
	outer := tabs[:k-1]
	mvParallel(ctx, rows, len(dst), func(lo, hi int) {
		idx := make([]int, len(outer))
		r := lo
		for d := len(outer) - 1; d >= 0; d-- {
			idx[d] = r % len(outer[d])
			r /= len(outer[d])
		}
		for row := lo; row < hi; row++ {
			off, ok := base, base >= 0
			for d, t := range outer {
				v := t[idx[d]]
				ok = ok && v >= 0
				off += v
			}
			out := dst[row*n : row*n+n]
			switch {
			case !ok:
				for i := range out {
					out[i] = fill
				}
			case run:
				copy(out, src[off+last[0]:off+last[0]+n])
			default:
				for i, t := range last {
					if t < 0 {
						out[i] = fill
					} else {
						out[i] = src[off+t]
					}
				}
			}
			for d := len(outer) - 1; d >= 0; d-- {
				idx[d]++
				if idx[d] < len(outer[d]) {
					break
				}
				idx[d] = 0
			}
		}
	})
}

// mvTileMin is the shortest axis worth a tiled transpose.
const mvTileMin = 8

// mvTilePlan recognises a gather that is a batch of 2-D transposes: the last
// table steps by s > 1 and an earlier table p is a contiguous run, with no
// fill anywhere. Such gathers read the input in cache-friendly tiles.
func mvTilePlan(base int, tabs [][]int) (p, s int, ok bool) {
	last := tabs[len(tabs)-1]
	if base < 0 || len(last) < mvTileMin || last[0] < 0 {
		return 0, 0, false
	}
	s = last[1] - last[0]
	for i, v := range last {
		if v != last[0]+i*s {
			return 0, 0, false
		}
	}
	p = -1
	for d, t := range tabs[:len(tabs)-1] {
		if slices.Min(t) < 0 {
			return 0, 0, false
		}
		if len(t) >= mvTileMin && mvIsRun(t) {
			p = d
		}
	}
	return p, s, p >= 0 && s > 1
}

// mvGatherTiled runs mvGatherT for a plan from mvTilePlan: for every
// combination of the other axes it copies the [P, Q] block (P = table p,
// Q = the last table) in square tiles, so that both the strided reads and
// the contiguous writes stay in cache.
func mvGatherTiled[T mvWord](ctx *runtime.Context, dst, src []T, base int, tabs [][]int, p, s int) {
	const tile = 32
	k := len(tabs)
	P, Q := len(tabs[p]), len(tabs[k-1])
	ostride := make([]int, k)
	acc := 1
	for d := k - 1; d >= 0; d-- {
		ostride[d] = acc
		acc *= len(tabs[d])
	}
	var others []int
	for d := 0; d < k-1; d++ {
		if d != p {
			others = append(others, d)
		}
	}
	pBlocks := (P + tile - 1) / tile
	jobs := len(dst) / (P * Q) * pBlocks
	mvParallel(ctx, jobs, len(dst), func(lo, hi int) {
		for job := lo; job < hi; job++ {
			c, pb := job/pBlocks, job%pBlocks
			in, out := base+tabs[p][0]+tabs[k-1][0], 0
			for j := len(others) - 1; j >= 0; j-- {
				d := others[j]
				i := c % len(tabs[d])
				c /= len(tabs[d])
				in += tabs[d][i]
				out += i * ostride[d]
			}
			p0, p1 := pb*tile, min(pb*tile+tile, P)
			for q0 := 0; q0 < Q; q0 += tile {
				q1 := min(q0+tile, Q)
				for ip := p0; ip < p1; ip++ {
					row := dst[out+ip*ostride[p]+q0 : out+ip*ostride[p]+q1]
					i := in + ip + q0*s
					for x := range row {
						row[x] = src[i+x*s]
					}
				}
			}
		}
	})
}

// mvTable returns the table of an output axis of length n whose element i
// reads input coordinate f(i) (negative: fill) along an axis of the given
// stride.
func mvTable(n, stride int, f func(i int) int) []int {
	t := make([]int, n)
	for i := range t {
		c := f(i)
		if c < 0 {
			t[i] = -1
		} else {
			t[i] = c * stride
		}
	}
	return t
}

// mvTransposeTables returns the gather tables of out = transpose(in, perm)
// for an input of the given shape. Unit axes are dropped and output axes
// that are adjacent in the input too are merged, so channel shuffles and
// NCHW<->NHWC become few, long tables. identity reports that the transpose
// keeps the element order (a reshape).
func mvTransposeTables(shape, perm []int) (tabs [][]int, identity bool) {
	newAxis := make([]int, len(shape))
	var dims []int
	for a, d := range shape {
		newAxis[a] = -1
		if d != 1 {
			newAxis[a] = len(dims)
			dims = append(dims, d)
		}
	}
	type group struct{ first, last int }
	var groups []group
	for _, a := range perm {
		a = newAxis[a]
		if a < 0 {
			continue
		}
		if g := len(groups) - 1; g >= 0 && groups[g].last+1 == a {
			groups[g].last = a
			continue
		}
		groups = append(groups, group{a, a})
	}
	st := tensor.Strides(dims)
	for _, g := range groups {
		tabs = append(tabs, mvTable(tensor.Product(dims[g.first:g.last+1]), st[g.last], func(i int) int { return i }))
	}
	return tabs, len(groups) <= 1
}

// mvRaw is a tensor's storage for block copies: bytes with an element size,
// or strings.
type mvRaw struct {
	b   []byte
	s   []string
	sz  int
	str bool
}

func mvRawOf(t *tensor.Tensor) mvRaw {
	if t.DType() == tensor.String {
		return mvRaw{s: tensor.Data[string](t), sz: 1, str: true}
	}
	return mvRaw{b: t.RawBytes(), sz: t.DType().Size()}
}

// copyFrom copies n elements of src starting at element so to r at element o.
func (r mvRaw) copyFrom(o int, src mvRaw, so, n int) {
	if r.str {
		copy(r.s[o:o+n], src.s[so:so+n])
		return
	}
	copy(r.b[o*r.sz:(o+n)*r.sz], src.b[so*r.sz:(so+n)*r.sz])
}

// mvTake copies blocks of blk elements: dst block j is src[offs[j]:offs[j]+blk].
func mvTake(dst, src *tensor.Tensor, offs []int, blk int) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		mvTakeT(d, mvWords(src).([]uint8), offs, blk)
	case []uint16:
		mvTakeT(d, mvWords(src).([]uint16), offs, blk)
	case []uint32:
		mvTakeT(d, mvWords(src).([]uint32), offs, blk)
	case []uint64:
		mvTakeT(d, mvWords(src).([]uint64), offs, blk)
	case []string:
		mvTakeT(d, mvWords(src).([]string), offs, blk)
	}
}

func mvTakeT[T mvWord](dst, src []T, offs []int, blk int) {
	if blk == 1 {
		for j, o := range offs {
			dst[j] = src[o]
		}
		return
	}
	for j, o := range offs {
		copy(dst[j*blk:(j+1)*blk], src[o:o+blk])
	}
}

// mvPut is the inverse of mvTake: dst[offs[j]:offs[j]+blk] = src block j
// (later blocks win where offsets repeat).
func mvPut(dst, src *tensor.Tensor, offs []int, blk int) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		mvPutT(d, mvWords(src).([]uint8), offs, blk)
	case []uint16:
		mvPutT(d, mvWords(src).([]uint16), offs, blk)
	case []uint32:
		mvPutT(d, mvWords(src).([]uint32), offs, blk)
	case []uint64:
		mvPutT(d, mvWords(src).([]uint64), offs, blk)
	case []string:
		mvPutT(d, mvWords(src).([]string), offs, blk)
	}
}

func mvPutT[T mvWord](dst, src []T, offs []int, blk int) {
	for j, o := range offs {
		copy(dst[o:o+blk], src[j*blk:(j+1)*blk])
	}
}

// mvCopy returns a fresh copy of t.
func mvCopy(ctx *runtime.Context, t *tensor.Tensor) (*tensor.Tensor, error) {
	out, err := ctx.Alloc(t.DType(), t.Shape()...)
	if err != nil {
		return nil, err
	}
	mvRawOf(out).copyFrom(0, mvRawOf(t), 0, t.Len())
	return out, nil
}

// mvInts returns the values of an int32/int64 input named what.
func mvInts(t *tensor.Tensor, what string) ([]int64, error) {
	if t == nil {
		return nil, fmt.Errorf("%s input is missing", what)
	}
	v, err := t.Int64s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// mvAxes normalises axes (each in [-rank, rank)) and rejects repeats.
func mvAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		if a < int64(-rank) || a >= int64(rank) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", a, rank)
		}
		ax := int(a)
		if ax < 0 {
			ax += rank
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d repeated in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// mvIndices converts an int32/int64 index tensor into offsets idx*stride,
// after mapping negative indices (i + dim) and checking each is in
// [-dim, dim).
func mvIndices(t *tensor.Tensor, dim, stride int) ([]int, error) {
	vals, err := t.Int64s()
	if err != nil {
		return nil, fmt.Errorf("indices: %w", err)
	}
	out := make([]int, len(vals))
	for i, v := range vals {
		if v < int64(-dim) || v >= int64(dim) {
			return nil, fmt.Errorf("index %d out of range [%d, %d)", v, -dim, dim)
		}
		if v < 0 {
			v += int64(dim)
		}
		out[i] = int(v) * stride
	}
	return out, nil
}

// mvSameDType checks that every non-nil tensor has dtype dt.
func mvSameDType(dt tensor.DType, ts ...*tensor.Tensor) error {
	for _, t := range ts {
		if t != nil && t.DType() != dt {
			return fmt.Errorf("dtype %v does not match %v", t.DType(), dt)
		}
	}
	return nil
}

// ---- Transpose -------------------------------------------------------------

// newTranspose: out[i_perm[0], ..., i_perm[r-1]] = in[i_0, ..., i_{r-1}], that
// is out.shape[j] = in.shape[perm[j]]; perm defaults to reversing the axes.
func newTranspose(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	perm := n.AttrIntsAsInts("perm", nil)
	if len(perm) == 0 {
		perm = nil // an empty perm means the default, like an absent one
	}
	seen := make([]bool, len(perm))
	for _, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			return nil, fmt.Errorf("transpose: perm %v is not a permutation", perm)
		}
		seen[p] = true
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("transpose: %w", err)
		}
		return one(mvTranspose(ctx, in[0], perm))
	}), nil
}

// mvTranspose permutes the axes of x (perm nil: reverse them).
func mvTranspose(ctx *runtime.Context, x *tensor.Tensor, perm []int) (*tensor.Tensor, error) {
	r := x.Rank()
	if perm == nil {
		perm = make([]int, r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	if len(perm) != r {
		return nil, fmt.Errorf("transpose: perm %v for a rank-%d input", perm, r)
	}
	shape := make([]int, r)
	for j, p := range perm {
		shape[j] = x.Shape()[p]
	}
	if x.Len() == 0 {
		return ctx.Alloc(x.DType(), shape...)
	}
	tabs, identity := mvTransposeTables(x.Shape(), perm)
	if identity {
		return x.Reshape(shape...)
	}
	out, err := ctx.AllocUninit(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return out, err
	}
	mvGather(ctx, out, x, tabs, nil)
	return out, nil
}

// ---- Concat / Split --------------------------------------------------------

// newConcat joins its inputs along axis; all other dimensions must agree.
func newConcat(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	if !n.HasAttr("axis") {
		return nil, fmt.Errorf("concat: attribute axis is required")
	}
	axis := int(n.AttrInt("axis", 0))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := mvConcat(ctx, in, axis)
		if err != nil {
			return nil, fmt.Errorf("concat: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

func mvConcat(ctx *runtime.Context, in []*tensor.Tensor, axis int) (*tensor.Tensor, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("needs at least one input")
	}
	first := in[0]
	r := first.Rank()
	ax, err := tensor.NormAxis(axis, r)
	if err != nil || r == 0 {
		return nil, fmt.Errorf("axis %d for rank-%d inputs", axis, r)
	}
	shape := append([]int(nil), first.Shape()...)
	shape[ax] = 0
	for i, t := range in {
		if t == nil {
			return nil, fmt.Errorf("input %d is missing", i)
		}
		if t.DType() != first.DType() {
			return nil, fmt.Errorf("input %d is %v, input 0 is %v", i, t.DType(), first.DType())
		}
		if t.Rank() != r {
			return nil, fmt.Errorf("input %d has shape %v, input 0 %v", i, t.Shape(), first.Shape())
		}
		for d, s := range t.Shape() {
			if d != ax && s != first.Shape()[d] {
				return nil, fmt.Errorf("input %d has shape %v, input 0 %v (only axis %d may differ)", i, t.Shape(), first.Shape(), ax)
			}
		}
		shape[ax] += t.Shape()[ax]
	}
	out, err := ctx.AllocUninit(first.DType(), shape...)
	if err != nil {
		return nil, err
	}
	outer := tensor.Product(shape[:ax])
	inner := tensor.Product(shape[ax+1:])
	row := shape[ax] * inner
	dst := mvRawOf(out)
	srcs := make([]mvRaw, len(in))
	for i, t := range in {
		srcs[i] = mvRawOf(t)
	}
	if outer >= ctx.Threads || dst.str {
		mvParallel(ctx, outer, out.Len(), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				at := o * row
				for i, t := range in {
					blk := t.Shape()[ax] * inner
					dst.copyFrom(at, srcs[i], o*blk, blk)
					at += blk
				}
			}
		})
		return out, nil
	}
	// Few outer rows (Concat of NCHW channels at batch 1): split the output
	// elements evenly over the threads, each copying the parts of the input
	// blocks that fall in its range.
	total := out.Len()
	parts := 1
	if total >= mvParallelMin {
		parts = min(ctx.Threads, max(1, total/copyMinWork))
	}
	parallelChunks(total, parts, func(lo, hi int) {
		for o := 0; o < outer; o++ {
			at := o * row
			for i, t := range in {
				blk := t.Shape()[ax] * inner
				a, b := max(at, lo), min(at+blk, hi)
				if a < b {
					dst.copyFrom(a, srcs[i], o*blk+a-at, b-a)
				}
				at += blk
			}
		}
	})
	return out, nil
}

// newSplit cuts the input along axis into len(outputs) parts: sizes from the
// split input, else num_outputs (opset 18: chunks of ceil(dim/n), the last
// smaller), else equal parts.
func newSplit(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", 0))
	outs := len(n.Outputs)
	numOutputs := int(n.AttrInt("num_outputs", 0))
	if n.HasAttr("num_outputs") && numOutputs != outs {
		return nil, fmt.Errorf("split: num_outputs %d but the node has %d outputs", numOutputs, outs)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("split: %w", err)
		}
		x := in[0]
		ax, err := tensor.NormAxis(axis, x.Rank())
		if err != nil || x.Rank() == 0 {
			return nil, fmt.Errorf("split: axis %d for input %v", axis, x.Shape())
		}
		var split []int64
		if len(in) > 1 && in[1] != nil {
			if split, err = mvInts(in[1], "split"); err != nil {
				return nil, fmt.Errorf("split: %w", err)
			}
		}
		sizes, err := mvSplitSizes(x.Shape()[ax], outs, split, numOutputs > 0)
		if err != nil {
			return nil, fmt.Errorf("split: %w", err)
		}
		return mvSplit(ctx, x, ax, sizes)
	}), nil
}

// mvSplitSizes returns the part sizes of a dimension dim split into outs
// parts (see newSplit).
func mvSplitSizes(dim, outs int, split []int64, chunked bool) ([]int, error) {
	if outs < 1 {
		return nil, fmt.Errorf("no outputs")
	}
	sizes := make([]int, outs)
	switch {
	case split != nil:
		if len(split) != outs {
			return nil, fmt.Errorf("split has %d entries for %d outputs", len(split), outs)
		}
		sum := int64(0)
		for i, s := range split {
			if s < 0 || s > int64(dim) {
				return nil, fmt.Errorf("split %v: size %d out of range", split, s)
			}
			sizes[i] = int(s)
			sum += s
		}
		if sum != int64(dim) {
			return nil, fmt.Errorf("split %v sums to %d, dimension is %d", split, sum, dim)
		}
	case chunked:
		chunk := (dim + outs - 1) / outs
		lastSize := dim - chunk*(outs-1)
		if lastSize < 0 {
			return nil, fmt.Errorf("dimension %d cannot be split into %d chunks of %d", dim, outs, chunk)
		}
		for i := range sizes {
			sizes[i] = chunk
		}
		sizes[outs-1] = lastSize
	default:
		if dim%outs != 0 {
			return nil, fmt.Errorf("dimension %d is not divisible into %d equal parts", dim, outs)
		}
		for i := range sizes {
			sizes[i] = dim / outs
		}
	}
	return sizes, nil
}

func mvSplit(ctx *runtime.Context, x *tensor.Tensor, ax int, sizes []int) ([]*tensor.Tensor, error) {
	outer := tensor.Product(x.Shape()[:ax])
	inner := tensor.Product(x.Shape()[ax+1:])
	row := x.Shape()[ax] * inner
	src := mvRawOf(x)
	outs := make([]*tensor.Tensor, len(sizes))
	at := 0
	for i, s := range sizes {
		shape := append([]int(nil), x.Shape()...)
		shape[ax] = s
		out, err := ctx.Alloc(x.DType(), shape...)
		if err != nil {
			return nil, err
		}
		dst, blk, start := mvRawOf(out), s*inner, at
		mvParallel(ctx, outer, out.Len(), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				dst.copyFrom(o*blk, src, o*row+start, blk)
			}
		})
		outs[i] = out
		at += blk
	}
	return outs, nil
}

// ---- Slice -----------------------------------------------------------------

// runSlice: for each sliced axis, out[i] = in[start + i*step] for
// i < ceil((end-start)/step), after ONNX's clamping (negative starts/ends
// count from the end; starts clamp to [0, dim] for positive steps and to
// [0, dim-1] for negative ones, ends to [0, dim] and [-1, dim-1]).
func runSlice(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	out, err := mvSlice(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("slice: %w", err)
	}
	return []*tensor.Tensor{out}, nil
}

func mvSlice(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 3); err != nil {
		return nil, err
	}
	x := in[0]
	r := x.Rank()
	starts, err := mvInts(in[1], "starts")
	if err != nil {
		return nil, err
	}
	ends, err := mvInts(in[2], "ends")
	if err != nil {
		return nil, err
	}
	if len(ends) != len(starts) {
		return nil, fmt.Errorf("%d starts but %d ends", len(starts), len(ends))
	}
	axes64 := make([]int64, len(starts))
	for i := range axes64 {
		axes64[i] = int64(i)
	}
	if len(in) > 3 && in[3] != nil {
		if axes64, err = mvInts(in[3], "axes"); err != nil {
			return nil, err
		}
	}
	steps := make([]int64, len(starts))
	for i := range steps {
		steps[i] = 1
	}
	if len(in) > 4 && in[4] != nil {
		if steps, err = mvInts(in[4], "steps"); err != nil {
			return nil, err
		}
	}
	if len(axes64) != len(starts) || len(steps) != len(starts) {
		return nil, fmt.Errorf("starts, ends, axes and steps have lengths %d, %d, %d, %d", len(starts), len(ends), len(axes64), len(steps))
	}
	axes, err := mvAxes(axes64, r)
	if err != nil {
		return nil, err
	}
	first := make([]int, r)
	step := make([]int, r)
	shape := append([]int(nil), x.Shape()...)
	for d := range step {
		step[d] = 1
	}
	for i, ax := range axes {
		if steps[i] == 0 {
			return nil, fmt.Errorf("step 0 on axis %d", ax)
		}
		first[ax], shape[ax] = mvSliceRange(starts[i], ends[i], steps[i], int64(x.Shape()[ax]))
		step[ax] = int(steps[i])
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return out, err
	}
	st := tensor.Strides(x.Shape())
	tabs := make([][]int, r)
	for d := range tabs {
		f, s := first[d], step[d]
		tabs[d] = mvTable(shape[d], st[d], func(i int) int { return f + i*s })
	}
	mvGather(ctx, out, x, tabs, nil)
	return out, nil
}

// mvSliceRange clamps a slice of an axis of length dim and returns its
// first index and element count.
func mvSliceRange(start, end, step, dim int64) (first, count int) {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
		end = min(max(end, 0), dim)
		if end <= start {
			return int(start), 0
		}
		return int(start), int((end - start + step - 1) / step)
	}
	start = min(max(start, -1), dim-1)
	end = min(max(end, -1), dim-1)
	if start <= end {
		return 0, 0
	}
	return int(start), int((start - end + (-step) - 1) / (-step))
}

// ---- Gather family ---------------------------------------------------------

// newGather: out[a..., j..., b...] = data[a..., indices[j...], b...] with the
// indices axis at axis; negative indices count from the end.
func newGather(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", 0))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("gather: %w", err)
		}
		out, err := mvGatherAxis(ctx, in[0], in[1], axis)
		if err != nil {
			return nil, fmt.Errorf("gather: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

func mvGatherAxis(ctx *runtime.Context, x, indices *tensor.Tensor, axis int) (*tensor.Tensor, error) {
	ax, err := tensor.NormAxis(axis, x.Rank())
	if err != nil || x.Rank() == 0 {
		return nil, fmt.Errorf("axis %d for data %v", axis, x.Shape())
	}
	dim := x.Shape()[ax]
	inner := tensor.Product(x.Shape()[ax+1:])
	idx, err := mvIndices(indices, dim, inner)
	if err != nil {
		return nil, err
	}
	shape := append(append(append([]int(nil), x.Shape()[:ax]...), indices.Shape()...), x.Shape()[ax+1:]...)
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return out, err
	}
	outer := tensor.Product(x.Shape()[:ax])
	tabs := [][]int{
		mvTable(outer, dim*inner, func(i int) int { return i }),
		idx,
		mvTable(inner, 1, func(i int) int { return i }),
	}
	mvGather(ctx, out, x, tabs, nil)
	return out, nil
}

// mvElementOffsets returns, for every element position p of an index tensor
// of the same rank as data, the data offset Σ_{d≠axis} p_d*stride_d +
// idx[p]*stride_axis (idx already scaled by stride_axis). Positions must lie
// inside data along the other axes.
func mvElementOffsets(dataShape, idxShape []int, axis int, idx []int) ([]int, error) {
	for d, s := range idxShape {
		if d != axis && s > dataShape[d] {
			return nil, fmt.Errorf("indices shape %v exceeds data shape %v on axis %d", idxShape, dataShape, d)
		}
	}
	st := tensor.Strides(dataShape)
	offs := make([]int, len(idx))
	pos := make([]int, len(idxShape))
	base := 0
	for j := range offs {
		offs[j] = base + idx[j]
		for d := len(pos) - 1; d >= 0; d-- {
			pos[d]++
			if d != axis {
				base += st[d]
			}
			if pos[d] < idxShape[d] {
				break
			}
			if d != axis {
				base -= st[d] * idxShape[d]
			}
			pos[d] = 0
		}
	}
	return offs, nil
}

// newGatherElements: out[p] = data[p with p_axis replaced by indices[p]];
// the output has the indices' shape.
func newGatherElements(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", 0))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("gather_elements: %w", err)
		}
		x, indices := in[0], in[1]
		offs, err := mvAxisOffsets(x.Shape(), indices, axis)
		if err != nil {
			return nil, fmt.Errorf("gather_elements: %w", err)
		}
		out, err := ctx.Alloc(x.DType(), indices.Shape()...)
		if err != nil {
			return nil, err
		}
		mvTake(out, x, offs, 1)
		return []*tensor.Tensor{out}, nil
	}), nil
}

// mvAxisOffsets validates an element-wise index tensor against data of the
// given shape and returns the data offset of each index (see
// mvElementOffsets).
func mvAxisOffsets(dataShape []int, indices *tensor.Tensor, axis int) ([]int, error) {
	r := len(dataShape)
	ax, err := tensor.NormAxis(axis, r)
	if err != nil || r == 0 {
		return nil, fmt.Errorf("axis %d for data %v", axis, dataShape)
	}
	if indices.Rank() != r {
		return nil, fmt.Errorf("indices %v and data %v differ in rank", indices.Shape(), dataShape)
	}
	idx, err := mvIndices(indices, dataShape[ax], tensor.Strides(dataShape)[ax])
	if err != nil {
		return nil, err
	}
	return mvElementOffsets(dataShape, indices.Shape(), ax, idx)
}

// mvNDOffsets resolves GatherND/ScatterND index tuples: indices has shape
// [b..., n..., k] where b are the batch_dims leading dims shared with data;
// each k-tuple selects the block data[b..., i_1..i_k, :] of blk elements.
// It returns the block offsets (one per tuple, row-major) and blk.
func mvNDOffsets(dataShape []int, indices *tensor.Tensor, batch int) (offs []int, blk int, err error) {
	q, r := indices.Rank(), len(dataShape)
	if q < 1 || r < 1 {
		return nil, 0, fmt.Errorf("data %v and indices %v need rank >= 1", dataShape, indices.Shape())
	}
	k := indices.Shape()[q-1]
	if batch < 0 || batch >= min(q, r) {
		return nil, 0, fmt.Errorf("batch_dims %d for data %v, indices %v", batch, dataShape, indices.Shape())
	}
	if k < 1 || batch+k > r {
		return nil, 0, fmt.Errorf("index tuples of length %d for data %v with batch_dims %d", k, dataShape, batch)
	}
	for d := 0; d < batch; d++ {
		if indices.Shape()[d] != dataShape[d] {
			return nil, 0, fmt.Errorf("batch dimension %d: indices %v, data %v", d, indices.Shape(), dataShape)
		}
	}
	vals, err := indices.Int64s()
	if err != nil {
		return nil, 0, fmt.Errorf("indices: %w", err)
	}
	st := tensor.Strides(dataShape)
	blk = tensor.Product(dataShape[batch+k:])
	batchStride := tensor.Product(dataShape[batch:])
	tuples := len(vals) / k
	perBatch := tensor.Product(indices.Shape()[batch : q-1])
	offs = make([]int, tuples)
	for t := range offs {
		off := 0
		if perBatch > 0 {
			off = t / perBatch * batchStride
		}
		for j, v := range vals[t*k : (t+1)*k] {
			dim := int64(dataShape[batch+j])
			if v < -dim || v >= dim {
				return nil, 0, fmt.Errorf("index %d out of range [%d, %d) on data axis %d", v, -dim, dim, batch+j)
			}
			if v < 0 {
				v += dim
			}
			off += int(v) * st[batch+j]
		}
		offs[t] = off
	}
	return offs, blk, nil
}

// newGatherND: out[b..., n...] = data[b..., indices[b..., n..., :], ...];
// the output shape is indices.shape[:-1] + data.shape[batch_dims+k:].
func newGatherND(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	batch := int(n.AttrInt("batch_dims", 0))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("gather_nd: %w", err)
		}
		x, indices := in[0], in[1]
		offs, blk, err := mvNDOffsets(x.Shape(), indices, batch)
		if err != nil {
			return nil, fmt.Errorf("gather_nd: %w", err)
		}
		q, k := indices.Rank(), indices.Shape()[indices.Rank()-1]
		shape := append(append([]int(nil), indices.Shape()[:q-1]...), x.Shape()[batch+k:]...)
		out, err := ctx.Alloc(x.DType(), shape...)
		if err != nil {
			return nil, err
		}
		mvTake(out, x, offs, blk)
		return []*tensor.Tensor{out}, nil
	}), nil
}

// ---- Scatter family --------------------------------------------------------

// mvReductions are the scatter reductions: none (assign), add, mul, max, min.
var mvReductions = map[string]bool{"none": true, "add": true, "mul": true, "max": true, "min": true}

// newScatterElements: out = copy(data); out[p with p_axis = indices[p]] =
// reduce(out[...], updates[p]) for every position p of indices/updates.
// It also serves the deprecated Scatter (opsets 9-10), which has no
// reduction.
func newScatterElements(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", 0))
	red := n.AttrString("reduction", "none")
	if !mvReductions[red] {
		return nil, fmt.Errorf("scatter_elements: unknown reduction %q", red)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 3); err != nil {
			return nil, fmt.Errorf("scatter_elements: %w", err)
		}
		x, indices, upd := in[0], in[1], in[2]
		if !tensor.SameShape(indices.Shape(), upd.Shape()) {
			return nil, fmt.Errorf("scatter_elements: indices %v and updates %v differ in shape", indices.Shape(), upd.Shape())
		}
		offs, err := mvAxisOffsets(x.Shape(), indices, axis)
		if err != nil {
			return nil, fmt.Errorf("scatter_elements: %w", err)
		}
		out, err := mvScatter(ctx, x, upd, offs, 1, red)
		if err != nil {
			return nil, fmt.Errorf("scatter_elements: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// newScatterND: out = copy(data); out[indices[n..., :], ...] =
// reduce(out[...], updates[n..., ...]); updates has shape indices.shape[:-1]
// + data.shape[k:].
func newScatterND(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	red := n.AttrString("reduction", "none")
	if !mvReductions[red] {
		return nil, fmt.Errorf("scatter_nd: unknown reduction %q", red)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 3); err != nil {
			return nil, fmt.Errorf("scatter_nd: %w", err)
		}
		x, indices, upd := in[0], in[1], in[2]
		offs, blk, err := mvNDOffsets(x.Shape(), indices, 0)
		if err != nil {
			return nil, fmt.Errorf("scatter_nd: %w", err)
		}
		q, k := indices.Rank(), indices.Shape()[indices.Rank()-1]
		want := append(append([]int(nil), indices.Shape()[:q-1]...), x.Shape()[k:]...)
		if !tensor.SameShape(upd.Shape(), want) {
			return nil, fmt.Errorf("scatter_nd: updates %v, want %v", upd.Shape(), want)
		}
		out, err := mvScatter(ctx, x, upd, offs, blk, red)
		if err != nil {
			return nil, fmt.Errorf("scatter_nd: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// mvScatter copies x and folds the update blocks into it at offs.
func mvScatter(ctx *runtime.Context, x, upd *tensor.Tensor, offs []int, blk int, red string) (*tensor.Tensor, error) {
	if err := mvSameDType(x.DType(), upd); err != nil {
		return nil, fmt.Errorf("updates: %w", err)
	}
	out, err := mvCopy(ctx, x)
	if err != nil {
		return nil, err
	}
	if red == "none" {
		mvPut(out, upd, offs, blk)
		return out, nil
	}
	if err := mvScatterReduce(out, upd, offs, blk, red); err != nil {
		return nil, err
	}
	return out, nil
}

func mvScatterReduce(out, upd *tensor.Tensor, offs []int, blk int, red string) error {
	switch o := out.Data().(type) {
	case []float32:
		mvReduceT(o, upd.F32(), offs, blk, red)
	case []float64:
		mvReduceT(o, tensor.Data[float64](upd), offs, blk, red)
	case []int8:
		mvReduceT(o, tensor.Data[int8](upd), offs, blk, red)
	case []uint8:
		mvReduceT(o, tensor.Data[uint8](upd), offs, blk, red)
	case []int16:
		mvReduceT(o, tensor.Data[int16](upd), offs, blk, red)
	case []uint16:
		mvReduceT(o, tensor.Data[uint16](upd), offs, blk, red)
	case []int32:
		mvReduceT(o, tensor.Data[int32](upd), offs, blk, red)
	case []uint32:
		mvReduceT(o, tensor.Data[uint32](upd), offs, blk, red)
	case []int64:
		mvReduceT(o, tensor.Data[int64](upd), offs, blk, red)
	case []uint64:
		mvReduceT(o, tensor.Data[uint64](upd), offs, blk, red)
	case []tensor.F16, []tensor.BF16:
		wide, wu := mvWiden(out), mvWiden(upd)
		mvReduceT(wide, wu, offs, blk, red)
		mvNarrow(out, wide)
	default:
		return fmt.Errorf("reduction %q on %v data", red, out.DType())
	}
	return nil
}

func mvReduceT[T tensor.Numeric](dst, upd []T, offs []int, blk int, red string) {
	for j, o := range offs {
		d, u := dst[o:o+blk], upd[j*blk:(j+1)*blk]
		switch red {
		case "add":
			for i := range d {
				d[i] += u[i]
			}
		case "mul":
			for i := range d {
				d[i] *= u[i]
			}
		case "max":
			for i := range d {
				d[i] = max(d[i], u[i])
			}
		case "min":
			for i := range d {
				d[i] = min(d[i], u[i])
			}
		}
	}
}

// mvWiden returns a float16/bfloat16 tensor's values as float32.
func mvWiden(t *tensor.Tensor) []float32 {
	out := make([]float32, t.Len())
	switch d := t.Data().(type) {
	case []tensor.F16:
		for i, v := range d {
			out[i] = v.Float32()
		}
	case []tensor.BF16:
		for i, v := range d {
			out[i] = v.Float32()
		}
	}
	return out
}

// mvNarrow stores float32 values into a float16/bfloat16 tensor, rounding to
// nearest even.
func mvNarrow(t *tensor.Tensor, v []float32) {
	switch d := t.Data().(type) {
	case []tensor.F16:
		for i, x := range v {
			d[i] = tensor.NewF16(x)
		}
	case []tensor.BF16:
		for i, x := range v {
			d[i] = tensor.NewBF16(x)
		}
	}
}

// ---- Expand / Tile ---------------------------------------------------------

// runExpand broadcasts the input to broadcast(input.shape, shape) (NumPy
// rules in both directions, so a 1 in shape keeps the input's dimension).
func runExpand(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("expand: %w", err)
	}
	x := in[0]
	dims, err := mvInts(in[1], "shape")
	if err != nil {
		return nil, fmt.Errorf("expand: %w", err)
	}
	want := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > tensor.MaxElements {
			return nil, fmt.Errorf("expand: bad shape %v", dims)
		}
		want[i] = int(d)
	}
	shape, err := tensor.BroadcastShapes(x.Shape(), want)
	if err != nil {
		return nil, fmt.Errorf("expand: input %v to shape %v: %w", x.Shape(), dims, err)
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return one(out, err)
	}
	st := tensor.BroadcastStrides(x.Shape(), shape)
	tabs := make([][]int, len(shape))
	for d := range tabs {
		tabs[d] = mvTable(shape[d], st[d], func(i int) int { return i })
	}
	mvGather(ctx, out, x, tabs, nil)
	return []*tensor.Tensor{out}, nil
}

// runTile repeats the input repeats[d] times along each axis d:
// out[i] = in[i mod in.shape] per axis.
func runTile(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("tile: %w", err)
	}
	x := in[0]
	reps, err := mvInts(in[1], "repeats")
	if err != nil {
		return nil, fmt.Errorf("tile: %w", err)
	}
	if len(reps) != x.Rank() {
		return nil, fmt.Errorf("tile: %d repeats for a rank-%d input", len(reps), x.Rank())
	}
	shape := make([]int, x.Rank())
	for d, r := range reps {
		dim := int64(x.Shape()[d])
		if r < 0 || (dim > 0 && r > tensor.MaxElements/dim) {
			return nil, fmt.Errorf("tile: repeats %v for input %v", reps, x.Shape())
		}
		shape[d] = int(dim * r)
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return one(out, err)
	}
	// Viewed as [r_0, d_0, r_1, d_1, ...] the output is a plain gather.
	st := tensor.Strides(x.Shape())
	var tabs [][]int
	for d, r := range reps {
		tabs = append(tabs, make([]int, r),
			mvTable(x.Shape()[d], st[d], func(i int) int { return i }))
	}
	mvGather(ctx, out, x, tabs, nil)
	return []*tensor.Tensor{out}, nil
}

// ---- Pad -------------------------------------------------------------------

// newPad pads (or, with negative pads, crops) each axis: output coordinate i
// reads input coordinate j = i - pad_begin when 0 <= j < dim, otherwise
// constant: constant_value (default 0); edge: clamp(j, 0, dim-1); reflect:
// mirror without repeating the edge (period 2*(dim-1)); wrap: j mod dim.
func newPad(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	mode := n.AttrString("mode", "constant")
	switch mode {
	case "constant", "edge", "reflect", "wrap":
	default:
		return nil, fmt.Errorf("pad: unknown mode %q", mode)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := mvPad(ctx, in, mode)
		if err != nil {
			return nil, fmt.Errorf("pad: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

func mvPad(ctx *runtime.Context, in []*tensor.Tensor, mode string) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	r := x.Rank()
	pads, err := mvInts(in[1], "pads")
	if err != nil {
		return nil, err
	}
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if len(in) > 3 && in[3] != nil {
		a, err := mvInts(in[3], "axes")
		if err != nil {
			return nil, err
		}
		if axes, err = mvAxes(a, r); err != nil {
			return nil, err
		}
	}
	if len(pads) != 2*len(axes) {
		return nil, fmt.Errorf("%d pads for %d axes", len(pads), len(axes))
	}
	var fill *tensor.Tensor
	if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
		fill = in[2]
		if err := mvSameDType(x.DType(), fill); err != nil {
			return nil, fmt.Errorf("constant_value: %w", err)
		}
	}
	for _, p := range pads {
		if p < -tensor.MaxElements || p > tensor.MaxElements {
			return nil, fmt.Errorf("pad %d out of range", p)
		}
	}
	begin, end := make([]int64, r), make([]int64, r)
	for i, ax := range axes {
		begin[ax], end[ax] = pads[i], pads[i+len(axes)]
	}
	shape := make([]int, r)
	for d := range shape {
		s := int64(x.Shape()[d]) + begin[d] + end[d]
		if s < 0 {
			return nil, fmt.Errorf("pads %v crop more than input %v holds", pads, x.Shape())
		}
		if x.Shape()[d] == 0 && s > 0 && mode != "constant" {
			return nil, fmt.Errorf("mode %q cannot pad the empty axis %d", mode, d)
		}
		shape[d] = int(s)
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil || out.Len() == 0 {
		return out, err
	}
	st := tensor.Strides(x.Shape())
	tabs := make([][]int, r)
	for d := range tabs {
		dim, b := x.Shape()[d], int(begin[d])
		tabs[d] = mvTable(shape[d], st[d], func(i int) int { return mvPadIndex(i-b, dim, mode) })
	}
	mvGather(ctx, out, x, tabs, fill)
	return out, nil
}

// mvPadIndex maps a coordinate j outside [0, dim) into it per pad mode, or
// returns -1 for constant padding.
func mvPadIndex(j, dim int, mode string) int {
	if j >= 0 && j < dim {
		return j
	}
	switch mode {
	case "edge":
		return min(max(j, 0), dim-1)
	case "wrap":
		return ((j % dim) + dim) % dim
	case "reflect":
		if dim == 1 {
			return 0
		}
		p := 2 * (dim - 1)
		m := ((j % p) + p) % p
		if m >= dim {
			m = p - m
		}
		return m
	}
	return -1
}

// ---- DepthToSpace / SpaceToDepth -------------------------------------------

// newDepthToSpace rearranges [N, C, H, W] into [N, C/b², H*b, W*b]:
// DCR mode views the input as [N, b, b, C/b², H, W] and transposes it by
// (0, 3, 4, 1, 5, 2); CRD mode views it as [N, C/b², b, b, H, W] and
// transposes by (0, 1, 4, 2, 5, 3).
func newDepthToSpace(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	b := int(n.AttrInt("blocksize", 0))
	mode := n.AttrString("mode", "DCR")
	if b < 1 {
		return nil, fmt.Errorf("depth_to_space: blocksize %d must be >= 1", b)
	}
	if mode != "DCR" && mode != "CRD" {
		return nil, fmt.Errorf("depth_to_space: unknown mode %q", mode)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("depth_to_space: %w", err)
		}
		x := in[0]
		if x.Rank() != 4 || x.Shape()[1]%(b*b) != 0 {
			return nil, fmt.Errorf("depth_to_space: input %v is not [N, C, H, W] with C divisible by %d", x.Shape(), b*b)
		}
		nn, c, h, w := x.Shape()[0], x.Shape()[1]/(b*b), x.Shape()[2], x.Shape()[3]
		view, perm := []int{nn, b, b, c, h, w}, []int{0, 3, 4, 1, 5, 2}
		if mode == "CRD" {
			view, perm = []int{nn, c, b, b, h, w}, []int{0, 1, 4, 2, 5, 3}
		}
		return mvBlockShuffle(ctx, x, view, perm, []int{nn, c, h * b, w * b})
	}), nil
}

// newSpaceToDepth is the inverse of DepthToSpace in DCR mode: [N, C, H, W]
// viewed as [N, C, H/b, b, W/b, b] is transposed by (0, 3, 5, 1, 2, 4) into
// [N, C*b², H/b, W/b].
func newSpaceToDepth(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	b := int(n.AttrInt("blocksize", 0))
	if b < 1 {
		return nil, fmt.Errorf("space_to_depth: blocksize %d must be >= 1", b)
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("space_to_depth: %w", err)
		}
		x := in[0]
		if x.Rank() != 4 || x.Shape()[2]%b != 0 || x.Shape()[3]%b != 0 {
			return nil, fmt.Errorf("space_to_depth: input %v is not [N, C, H, W] with H and W divisible by %d", x.Shape(), b)
		}
		nn, c, h, w := x.Shape()[0], x.Shape()[1], x.Shape()[2]/b, x.Shape()[3]/b
		return mvBlockShuffle(ctx, x, []int{nn, c, h, b, w, b}, []int{0, 3, 5, 1, 2, 4}, []int{nn, c * b * b, h, w})
	}), nil
}

// mvBlockShuffle reshapes x to view, transposes by perm, and reshapes to out.
func mvBlockShuffle(ctx *runtime.Context, x *tensor.Tensor, view, perm, shape []int) ([]*tensor.Tensor, error) {
	v, err := x.Reshape(view...)
	if err != nil {
		return nil, err
	}
	t, err := mvTranspose(ctx, v, perm)
	if err != nil {
		return nil, err
	}
	return one(t.Reshape(shape...))
}

// ---- OneHot ----------------------------------------------------------------

// newOneHot: out has the indices' shape with a new axis of length depth at
// axis; out[..., j, ...] = values[1] where j == indices[...] (negative
// indices count from depth) and values[0] elsewhere. Indices outside
// [-depth, depth) give an all-off row.
func newOneHot(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", -1))
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := mvOneHot(ctx, in, axis)
		if err != nil {
			return nil, fmt.Errorf("onehot: %w", err)
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

func mvOneHot(ctx *runtime.Context, in []*tensor.Tensor, axis int) (*tensor.Tensor, error) {
	if err := needInputs(in, 3); err != nil {
		return nil, err
	}
	indices, depthT, values := in[0], in[1], in[2]
	if depthT.Len() != 1 || depthT.DType() == tensor.String {
		return nil, fmt.Errorf("depth must be one number, got %v", depthT)
	}
	if values.Len() != 2 {
		return nil, fmt.Errorf("values must hold [off, on], got %v", values)
	}
	if indices.DType() == tensor.String {
		return nil, fmt.Errorf("indices cannot be strings")
	}
	df := depthT.Float64At(0)
	if !(df >= 1 && df <= tensor.MaxElements) {
		return nil, fmt.Errorf("depth %v must be a positive count", df)
	}
	depth := int(df)
	r := indices.Rank()
	ax := axis
	if ax < 0 {
		ax += r + 1
	}
	if ax < 0 || ax > r {
		return nil, fmt.Errorf("axis %d out of range for rank-%d output", axis, r+1)
	}
	shape := append(append(append([]int(nil), indices.Shape()[:ax]...), depth), indices.Shape()[ax:]...)
	out, err := ctx.Alloc(values.DType(), shape...)
	if err != nil {
		return nil, err
	}
	inner := tensor.Product(indices.Shape()[ax:])
	// Every output element starts "off"; then one per index turns "on".
	offs := make([]int, 0, indices.Len())
	for e := 0; e < indices.Len(); e++ {
		v := int64(indices.Float64At(e))
		if v < 0 {
			v += int64(depth)
		}
		if v < 0 || v >= int64(depth) {
			continue
		}
		o, i := e/inner, e%inner
		offs = append(offs, (o*depth+int(v))*inner+i)
	}
	mvSet(out, values, 0, nil)
	mvSet(out, values, 1, offs)
	return out, nil
}

// mvSet sets dst[o] = src[k] for every o in offs, or every element of dst
// when offs is nil.
func mvSet(dst, src *tensor.Tensor, k int, offs []int) {
	switch d := mvWords(dst).(type) {
	case []uint8:
		mvSetT(d, mvWords(src).([]uint8)[k], offs)
	case []uint16:
		mvSetT(d, mvWords(src).([]uint16)[k], offs)
	case []uint32:
		mvSetT(d, mvWords(src).([]uint32)[k], offs)
	case []uint64:
		mvSetT(d, mvWords(src).([]uint64)[k], offs)
	case []string:
		mvSetT(d, mvWords(src).([]string)[k], offs)
	}
}

func mvSetT[T mvWord](dst []T, v T, offs []int) {
	if offs == nil {
		for i := range dst {
			dst[i] = v
		}
		return
	}
	for _, o := range offs {
		dst[o] = v
	}
}

// ---- Trilu -----------------------------------------------------------------

// newTrilu keeps the upper (upper=1: j - i >= k) or lower (j - i <= k)
// triangle of the last two axes and zeroes the rest; k defaults to 0.
func newTrilu(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	upper := n.AttrInt("upper", 1) != 0
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 1); err != nil {
			return nil, fmt.Errorf("trilu: %w", err)
		}
		x := in[0]
		if x.Rank() < 2 {
			return nil, fmt.Errorf("trilu: input %v needs rank >= 2", x.Shape())
		}
		k := int64(0)
		if len(in) > 1 && in[1] != nil {
			ks, err := mvInts(in[1], "k")
			if err != nil || len(ks) != 1 {
				return nil, fmt.Errorf("trilu: k must be one int64, got %v", in[1])
			}
			k = ks[0]
		}
		rows, cols := x.Shape()[x.Rank()-2], x.Shape()[x.Rank()-1]
		k = min(max(k, -int64(rows)-1), int64(cols)+1)
		// The input is copied and then cleared outside the kept band: row i
		// keeps columns [i+k, cols) when upper, [0, i+k] when lower.
		out, err := mvCopy(ctx, x)
		if err != nil {
			return nil, err
		}
		mvTriluClear(out, rows, cols, int(k), upper)
		return []*tensor.Tensor{out}, nil
	}), nil
}

// mvTriluClear zeroes, in every rows×cols matrix of t, the elements outside
// the band kept by Trilu.
func mvTriluClear(t *tensor.Tensor, rows, cols, k int, upper bool) {
	switch d := mvWords(t).(type) {
	case []uint8:
		mvTriluT(d, rows, cols, k, upper)
	case []uint16:
		mvTriluT(d, rows, cols, k, upper)
	case []uint32:
		mvTriluT(d, rows, cols, k, upper)
	case []uint64:
		mvTriluT(d, rows, cols, k, upper)
	case []string:
		mvTriluT(d, rows, cols, k, upper)
	}
}

func mvTriluT[T mvWord](d []T, rows, cols, k int, upper bool) {
	var zero T
	if rows == 0 || cols == 0 {
		return
	}
	for m := 0; m < len(d); m += rows * cols {
		for i := 0; i < rows; i++ {
			row := d[m+i*cols : m+(i+1)*cols]
			if upper {
				end := min(max(i+k, 0), cols) // columns [0, i+k) go
				for j := 0; j < end; j++ {
					row[j] = zero
				}
			} else {
				from := min(max(i+k+1, 0), cols) // columns (i+k, cols) go
				for j := from; j < cols; j++ {
					row[j] = zero
				}
			}
		}
	}
}

// ---- NonZero ---------------------------------------------------------------

// runNonZero returns the coordinates of the non-zero elements as int64
// [rank, count], in row-major order (NaN counts as non-zero, -0 as zero,
// a string is non-zero when not empty).
func runNonZero(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 1); err != nil {
		return nil, fmt.Errorf("nonzero: %w", err)
	}
	x := in[0]
	var hits []int
	switch d := x.Data().(type) {
	case []float32:
		hits = mvNonZeroT(d)
	case []float64:
		hits = mvNonZeroT(d)
	case []tensor.F16:
		hits = mvNonZeroHalf(d)
	case []tensor.BF16:
		hits = mvNonZeroHalf(d)
	case []string:
		for i, s := range d {
			if s != "" {
				hits = append(hits, i)
			}
		}
	default:
		switch w := mvWords(x).(type) {
		case []uint8:
			hits = mvNonZeroT(w)
		case []uint16:
			hits = mvNonZeroT(w)
		case []uint32:
			hits = mvNonZeroT(w)
		case []uint64:
			hits = mvNonZeroT(w)
		}
	}
	// A scalar input has one (zero) coordinate per hit, like ONNX Runtime.
	r := x.Rank()
	out, err := ctx.Alloc(tensor.Int64, max(r, 1), len(hits))
	if err != nil || r == 0 {
		return one(out, err)
	}
	o := out.I64()
	for j, h := range hits {
		for d := r - 1; d >= 0; d-- {
			o[d*len(hits)+j] = int64(h % x.Shape()[d])
			h /= x.Shape()[d]
		}
	}
	return []*tensor.Tensor{out}, nil
}

func mvNonZeroT[T float32 | float64 | uint8 | uint16 | uint32 | uint64](d []T) []int {
	var hits []int
	for i, v := range d {
		if v != 0 {
			hits = append(hits, i)
		}
	}
	return hits
}

func mvNonZeroHalf[T tensor.F16 | tensor.BF16](d []T) []int {
	var hits []int
	for i, v := range d {
		if v&0x7fff != 0 {
			hits = append(hits, i)
		}
	}
	return hits
}

// ---- TopK ------------------------------------------------------------------

// newTopK returns the k largest (largest=1) or smallest elements along axis
// and their int64 indices, ordered best first; equal values keep the lower
// index first. NaN ranks below every number (last in either order).
func newTopK(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	axis := int(n.AttrInt("axis", -1))
	largest := n.AttrInt("largest", 1) != 0
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		outs, err := mvTopK(ctx, in, axis, largest)
		if err != nil {
			return nil, fmt.Errorf("topk: %w", err)
		}
		return outs, nil
	}), nil
}

func mvTopK(ctx *runtime.Context, in []*tensor.Tensor, axis int, largest bool) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	ks, err := mvInts(in[1], "k")
	if err != nil || len(ks) != 1 {
		return nil, fmt.Errorf("k must be one int64, got %v", in[1])
	}
	ax, err := tensor.NormAxis(axis, x.Rank())
	if err != nil || x.Rank() == 0 {
		return nil, fmt.Errorf("axis %d for input %v", axis, x.Shape())
	}
	dim := x.Shape()[ax]
	if ks[0] < 0 || ks[0] > int64(dim) {
		return nil, fmt.Errorf("k %d out of range for axis of length %d", ks[0], dim)
	}
	k := int(ks[0])
	shape := append([]int(nil), x.Shape()...)
	shape[ax] = k
	vals, err := ctx.Alloc(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	idx, err := ctx.Alloc(tensor.Int64, shape...)
	if err != nil {
		return nil, err
	}
	outer, inner := tensor.Product(x.Shape()[:ax]), tensor.Product(x.Shape()[ax+1:])
	var order func(o, i int, pos []int)
	switch d := x.Data().(type) {
	case []float32:
		order = mvTopKOrder(d, dim, inner, largest)
	case []float64:
		order = mvTopKOrder(d, dim, inner, largest)
	case []int8:
		order = mvTopKOrder(d, dim, inner, largest)
	case []uint8:
		order = mvTopKOrder(d, dim, inner, largest)
	case []int16:
		order = mvTopKOrder(d, dim, inner, largest)
	case []uint16:
		order = mvTopKOrder(d, dim, inner, largest)
	case []int32:
		order = mvTopKOrder(d, dim, inner, largest)
	case []uint32:
		order = mvTopKOrder(d, dim, inner, largest)
	case []int64:
		order = mvTopKOrder(d, dim, inner, largest)
	case []uint64:
		order = mvTopKOrder(d, dim, inner, largest)
	case []tensor.F16, []tensor.BF16:
		order = mvTopKOrder(mvWiden(x), dim, inner, largest)
	default:
		return nil, fmt.Errorf("unsupported dtype %v", x.DType())
	}
	// offs[j] is the source offset of output element j.
	offs := make([]int, vals.Len())
	ix := idx.I64()
	mvParallel(ctx, outer*inner, x.Len(), func(lo, hi int) {
		pos := make([]int, dim)
		for r := lo; r < hi; r++ {
			o, i := r/inner, r%inner
			order(o, i, pos)
			for j := 0; j < k; j++ {
				at := (o*k+j)*inner + i
				ix[at] = int64(pos[j])
				offs[at] = (o*dim+pos[j])*inner + i
			}
		}
	})
	mvTake(vals, x, offs, 1)
	return []*tensor.Tensor{vals, idx}, nil
}

// mvTopKOrder returns a function that sorts the positions 0..dim-1 of row
// (o, i) of d (viewed as [outer, dim, inner]) best first.
func mvTopKOrder[T cmp.Ordered](d []T, dim, inner int, largest bool) func(o, i int, pos []int) {
	return func(o, i int, pos []int) {
		base := o*dim*inner + i
		for j := range pos {
			pos[j] = j
		}
		slices.SortFunc(pos, func(a, b int) int {
			va, vb := d[base+a*inner], d[base+b*inner]
			if na, nb := va != va, vb != vb; na || nb { // NaNs go last
				switch {
				case na && nb:
					return a - b
				case na:
					return 1
				}
				return -1
			}
			c := cmp.Compare(va, vb)
			if largest {
				c = -c
			}
			if c == 0 {
				return a - b
			}
			return c
		})
	}
}

// ---- CumSum ----------------------------------------------------------------

// newCumSum: out[..., i, ...] = Σ x[..., j, ...] over j <= i along axis (j < i
// when exclusive; j >= i / j > i when reverse). The axis is input 1.
func newCumSum(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	exclusive := n.AttrInt("exclusive", 0) != 0
	reverse := n.AttrInt("reverse", 0) != 0
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := needInputs(in, 2); err != nil {
			return nil, fmt.Errorf("cumsum: %w", err)
		}
		x := in[0]
		a, err := mvInts(in[1], "axis")
		if err != nil || len(a) != 1 {
			return nil, fmt.Errorf("cumsum: axis must be one integer, got %v", in[1])
		}
		ax, err := tensor.NormAxis(int(a[0]), x.Rank())
		if err != nil || x.Rank() == 0 {
			return nil, fmt.Errorf("cumsum: axis %d for input %v", a[0], x.Shape())
		}
		out, err := ctx.Alloc(x.DType(), x.Shape()...)
		if err != nil {
			return nil, err
		}
		sc := mvScan{outer: tensor.Product(x.Shape()[:ax]), dim: x.Shape()[ax],
			inner: tensor.Product(x.Shape()[ax+1:]), exclusive: exclusive, reverse: reverse}
		switch d := x.Data().(type) {
		case []float32:
			mvCumSumT(d, out.F32(), sc)
		case []float64:
			mvCumSumT(d, tensor.Data[float64](out), sc)
		case []int8:
			mvCumSumT(d, tensor.Data[int8](out), sc)
		case []uint8:
			mvCumSumT(d, tensor.Data[uint8](out), sc)
		case []int16:
			mvCumSumT(d, tensor.Data[int16](out), sc)
		case []uint16:
			mvCumSumT(d, tensor.Data[uint16](out), sc)
		case []int32:
			mvCumSumT(d, tensor.Data[int32](out), sc)
		case []uint32:
			mvCumSumT(d, tensor.Data[uint32](out), sc)
		case []int64:
			mvCumSumT(d, tensor.Data[int64](out), sc)
		case []uint64:
			mvCumSumT(d, tensor.Data[uint64](out), sc)
		case []tensor.F16, []tensor.BF16:
			w := make([]float32, x.Len())
			mvCumSumT(mvWiden(x), w, sc)
			mvNarrow(out, w)
		default:
			return nil, fmt.Errorf("cumsum: unsupported dtype %v", x.DType())
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// mvScan describes a scan along the middle axis of [outer, dim, inner].
type mvScan struct {
	outer, dim, inner  int
	exclusive, reverse bool
}

func mvCumSumT[T tensor.Numeric](x, y []T, sc mvScan) {
	acc := make([]T, sc.inner)
	for o := 0; o < sc.outer; o++ {
		clear(acc)
		for s := 0; s < sc.dim; s++ {
			j := s
			if sc.reverse {
				j = sc.dim - 1 - s
			}
			at := (o*sc.dim + j) * sc.inner
			xs, ys := x[at:at+sc.inner], y[at:at+sc.inner]
			for i := range acc {
				if sc.exclusive {
					ys[i] = acc[i]
					acc[i] += xs[i]
				} else {
					acc[i] += xs[i]
					ys[i] = acc[i]
				}
			}
		}
	}
}
