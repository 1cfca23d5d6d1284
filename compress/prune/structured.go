package prune

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/tensor"
)

// ChannelCriterion ranks channel units for structured pruning.
type ChannelCriterion string

// The criteria: the L1 or L2 norm of the weights producing a channel (a
// Conv filter, a Gemm row; summed over the coupled producers of a unit,
// the L2 norms combined as sqrt(Σ ||w||²)), or |gamma| of the
// BatchNormalization scales of its channels (network slimming, Liu et al.
// 2017; units without a BatchNormalization fall back to L1).
const (
	CriterionL1 ChannelCriterion = "l1"
	CriterionL2 ChannelCriterion = "l2"
	CriterionBN ChannelCriterion = "bn"
)

// ParseChannelCriterion checks a criterion name.
func ParseChannelCriterion(s string) (ChannelCriterion, error) {
	switch c := ChannelCriterion(strings.ToLower(s)); c {
	case CriterionL1, CriterionL2, CriterionBN:
		return c, nil
	}
	return "", fmt.Errorf("unknown channel criterion %q (l1, l2, bn)", s)
}

// ChannelOptions configure Channels.
type ChannelOptions struct {
	// Ratio is the fraction of each dependency group's units removed
	// (rounded down).
	Ratio     float64
	Criterion ChannelCriterion
	// MinKeep units stay in every group (at least 1).
	MinKeep int
	// Round, when > 1, rounds the number of units a group keeps down to a
	// multiple of Round (groups with fewer than Round units left as the
	// ratio leaves them), so that the smaller layers fill the kernels'
	// register tiles (8 rows for the AVX-512 SGEMM) and the FLOPs removed
	// turn into time saved.
	Round int
}

// GroupReport describes one dependency group.
type GroupReport struct {
	ID int `json:"id"`
	// Values are the coupled feature maps (with their channel counts
	// before and after); Layers the nodes whose weights were sliced.
	Values []string `json:"values"`
	Layers []string `json:"layers"`
	// Units are the sets of channels removed together; Removed of them
	// were removed.
	Units   int `json:"units"`
	Removed int `json:"removed"`
	// Pinned says why the group (or some of its units) cannot be pruned.
	Pinned string `json:"pinned,omitempty"`
}

// StructuredResult summarises a structured pruning.
type StructuredResult struct {
	Criterion    ChannelCriterion `json:"criterion"`
	Ratio        float64          `json:"ratio"`
	Groups       []GroupReport    `json:"groups"`
	FLOPsBefore  int64            `json:"flops_before"`
	FLOPsAfter   int64            `json:"flops_after"`
	ParamsBefore int64            `json:"params_before"`
	ParamsAfter  int64            `json:"params_after"`
}

// FLOPsReduction is 1 - after/before.
func (r *StructuredResult) FLOPsReduction() float64 {
	if r.FLOPsBefore == 0 {
		return 0
	}
	return 1 - float64(r.FLOPsAfter)/float64(r.FLOPsBefore)
}

// unit is one set of channels removed together.
type unit struct {
	root  int
	ids   []int
	score float64
}

// Channels removes whole channels from a copy of m: the dependency groups
// of deps.go are built, each group's units are ranked by opt.Criterion,
// the lowest opt.Ratio of them (at most units - MinKeep) are removed from
// every coupled tensor, skipping any unit whose removal would leave a
// tensor without channels (a Concat input), and the copy is returned with
// physically smaller weights and re-inferred shapes. m is not modified.
func Channels(m *graph.Model, opt ChannelOptions) (*graph.Model, *StructuredResult, error) {
	if !(opt.Ratio >= 0 && opt.Ratio < 1) {
		return nil, nil, fmt.Errorf("channel pruning: ratio %v outside [0, 1)", opt.Ratio)
	}
	if opt.Criterion == "" {
		opt.Criterion = CriterionL1
	}
	opt.MinKeep = max(opt.MinKeep, 1)
	c := passes.Clone(m)
	g := c.Graph
	if err := graph.InferShapes(g); err != nil {
		return nil, nil, fmt.Errorf("channel pruning needs every shape: %w", err)
	}
	fb, pb, err := FLOPsPerSample(c)
	if err != nil {
		return nil, nil, fmt.Errorf("channel pruning: %w", err)
	}
	d := analyze(g)
	res := &StructuredResult{Criterion: opt.Criterion, Ratio: opt.Ratio, FLOPsBefore: fb, ParamsBefore: pb}
	score := d.scores()
	// Units by root, groups by value component.
	units := map[int]*unit{}
	var roots []int
	for id := range d.parent {
		r := d.find(id)
		u, ok := units[r]
		if !ok {
			u = &unit{root: r}
			units[r] = u
			roots = append(roots, r)
		}
		u.ids = append(u.ids, id)
	}
	for _, r := range roots {
		u := units[r]
		switch opt.Criterion {
		case CriterionL2:
			var s float64
			for _, id := range u.ids {
				s += score.l2[id]
			}
			u.score = math.Sqrt(s)
		case CriterionBN:
			var s float64
			has := false
			for _, id := range u.ids {
				if v, ok := score.bn[id]; ok {
					s += v
					has = true
				}
			}
			if !has {
				for _, id := range u.ids {
					s += score.l1[id]
				}
			}
			u.score = s
		default:
			for _, id := range u.ids {
				u.score += score.l1[id]
			}
		}
	}
	groupOf := map[*graph.Value][]int{}
	var comps []*graph.Value
	for _, r := range roots {
		comp := d.vfind(d.owner[r])
		if _, ok := groupOf[comp]; !ok {
			comps = append(comps, comp)
		}
		groupOf[comp] = append(groupOf[comp], r)
	}
	removed := map[int]bool{}
	// left counts the channels each value keeps: a unit whose removal
	// would leave a value with none (a Concat input all of whose channels
	// rank lowest) is skipped, as no tensor may lose its last channel.
	left := map[*graph.Value]int{}
	for gi, comp := range comps {
		gr := GroupReport{ID: gi + 1}
		var free []*unit
		for _, r := range groupOf[comp] {
			if why, ok := d.pinned[r]; ok {
				if gr.Pinned == "" {
					gr.Pinned = why
				}
				continue
			}
			free = append(free, units[r])
		}
		gr.Units = len(groupOf[comp])
		sort.SliceStable(free, func(a, b int) bool {
			if free[a].score != free[b].score {
				return free[a].score < free[b].score
			}
			return free[a].root < free[b].root
		})
		k := min(int(opt.Ratio*float64(len(free))), len(free)-opt.MinKeep)
		if keep := len(free) - k; opt.Round > 1 && keep >= opt.Round && keep%opt.Round != 0 && k > 0 {
			k = len(free) - keep/opt.Round*opt.Round
		}
		for _, u := range free {
			if gr.Removed >= k {
				break
			}
			if !d.removable(u, left) {
				continue
			}
			for _, id := range u.ids {
				removed[id] = true
				left[d.owner[id]]--
			}
			gr.Removed++
		}
		res.Groups = append(res.Groups, gr)
	}
	layers, err := d.rewrite(removed)
	if err != nil {
		return nil, nil, err
	}
	for i := range res.Groups {
		comp := comps[i]
		for _, v := range d.valuesOf(comp) {
			kept := 0
			for ch := 0; ch < d.chans[v]; ch++ {
				if !removed[d.base[v]+ch] {
					kept++
				}
			}
			res.Groups[i].Values = append(res.Groups[i].Values, fmt.Sprintf("%s %d->%d", v.Name, d.chans[v], kept))
			for _, n := range append([]*graph.Node{v.Producer}, v.Consumers...) {
				if n != nil && layers[n] && !contains(res.Groups[i].Layers, n.Name) {
					res.Groups[i].Layers = append(res.Groups[i].Layers, n.Name)
				}
			}
		}
	}
	if err := graph.InferShapes(g); err != nil {
		return nil, nil, fmt.Errorf("channel pruning: the rewritten model is inconsistent: %w", err)
	}
	if err := g.Validate(); err != nil {
		return nil, nil, fmt.Errorf("channel pruning: %w", err)
	}
	if res.FLOPsAfter, res.ParamsAfter, err = FLOPsPerSample(c); err != nil {
		return nil, nil, fmt.Errorf("channel pruning: %w", err)
	}
	return c, res, nil
}

// FLOPsPerSample returns the FLOPs of one sample through m (graph.NodeFLOPs
// summed with every symbolic input dimension set to 1) and its parameter
// count (elements of all initializers). It fails when a node's count is
// unknown.
func FLOPsPerSample(m *graph.Model) (int64, int64, error) {
	c := passes.Clone(m)
	g := c.Graph
	for _, v := range g.Inputs {
		for i, d := range v.Shape {
			if !d.Known() {
				v.Shape[i] = graph.Dim{Size: 1}
			}
		}
	}
	for _, n := range g.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				v.Shape, v.HasShape = nil, false
			}
		}
	}
	if err := graph.InferShapes(g); err != nil {
		return 0, 0, err
	}
	var flops, params int64
	for _, n := range g.Nodes {
		f, ok := graph.NodeFLOPs(n)
		if !ok {
			return 0, 0, fmt.Errorf("FLOPs of %v unknown", n)
		}
		flops += f
	}
	for _, v := range g.Initializers {
		params += int64(v.Const.Len())
	}
	return flops, params, nil
}

// removable reports whether removing u leaves every value it touches at
// least one channel (left: the channels kept so far, filled in here).
func (d *depGraph) removable(u *unit, left map[*graph.Value]int) bool {
	take := map[*graph.Value]int{}
	for _, id := range u.ids {
		v := d.owner[id]
		if _, ok := left[v]; !ok {
			left[v] = d.chans[v]
		}
		take[v]++
	}
	for v, n := range take {
		if left[v]-n < 1 {
			return false
		}
	}
	return true
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// valuesOf lists the channel-bearing values of a component, in graph
// order.
func (d *depGraph) valuesOf(comp *graph.Value) []*graph.Value {
	var out []*graph.Value
	seen := map[*graph.Value]bool{}
	visit := func(v *graph.Value) {
		if v == nil || seen[v] {
			return
		}
		if _, ok := d.base[v]; ok && d.vfind(v) == comp {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, n := range d.g.Nodes {
		for _, v := range n.Inputs {
			visit(v)
		}
		for _, v := range n.Outputs {
			visit(v)
		}
	}
	return out
}

// ChannelsForFLOPs searches (bisection on the ratio) for the smallest
// uniform channel ratio whose pruned model has at most (1 - reduction)
// of m's FLOPs, and returns that model.
func ChannelsForFLOPs(m *graph.Model, reduction float64, opt ChannelOptions) (*graph.Model, *StructuredResult, error) {
	if !(reduction > 0 && reduction < 1) {
		return nil, nil, fmt.Errorf("channel pruning: FLOPs reduction %v outside (0, 1)", reduction)
	}
	lo, hi := 0.0, 0.95
	opt.Ratio = hi
	bm, br, err := Channels(m, opt)
	if err != nil {
		return nil, nil, err
	}
	if br.FLOPsReduction() < reduction {
		return nil, nil, fmt.Errorf("channel pruning: even ratio %v removes only %.1f%% of the FLOPs (< %.1f%%)", hi, 100*br.FLOPsReduction(), 100*reduction)
	}
	for i := 0; i < 14; i++ {
		mid := (lo + hi) / 2
		opt.Ratio = mid
		pm, pr, err := Channels(m, opt)
		if err != nil {
			return nil, nil, err
		}
		if pr.FLOPsReduction() >= reduction {
			hi, bm, br = mid, pm, pr
		} else {
			lo = mid
		}
	}
	return bm, br, nil
}

// channelScores are per-channel-id contributions to the unit scores.
type channelScores struct {
	l1, l2, bn map[int]float64
}

// scores computes, for every produced channel, the L1 and squared L2 norm
// of its producing weights (Conv filter and bias, Gemm/MatMul row and
// bias) and |gamma| of BatchNormalization channels.
func (d *depGraph) scores() channelScores {
	s := channelScores{l1: map[int]float64{}, l2: map[int]float64{}, bn: map[int]float64{}}
	addRow := func(y *graph.Value, ch int, vals []float64) {
		b, ok := d.base[y]
		if !ok {
			return
		}
		for _, v := range vals {
			s.l1[b+ch] += math.Abs(v)
			s.l2[b+ch] += v * v
		}
	}
	for _, n := range d.g.Nodes {
		if len(n.Outputs) == 0 {
			continue
		}
		y := n.Outputs[0]
		switch n.OpType {
		case "Conv":
			w := n.Input(1)
			if w == nil || w.Const == nil {
				continue
			}
			rows := w.Const.Shape()[0]
			per := w.Const.Len() / max(rows, 1)
			for ch := 0; ch < rows; ch++ {
				vals := make([]float64, per)
				for i := range vals {
					vals[i] = w.Const.Float64At(ch*per + i)
				}
				addRow(y, ch, vals)
			}
		case "Gemm", "MatMul":
			w := n.Input(1)
			if w == nil || w.Const == nil || w.Const.Rank() != 2 {
				continue
			}
			sh := w.Const.Shape()
			trans := n.OpType == "Gemm" && n.AttrInt("transB", 0) != 0
			rows, cols := sh[1], sh[0]
			if trans {
				rows, cols = sh[0], sh[1]
			}
			for j := 0; j < rows; j++ {
				vals := make([]float64, cols)
				for p := range vals {
					if trans {
						vals[p] = w.Const.Float64At(j*cols + p)
					} else {
						vals[p] = w.Const.Float64At(p*rows + j)
					}
				}
				addRow(y, j, vals)
			}
		case "BatchNormalization":
			gm := n.Input(1)
			b, ok := d.base[y]
			if gm == nil || gm.Const == nil || !ok {
				continue
			}
			for ch := 0; ch < gm.Const.Len(); ch++ {
				s.bn[b+ch] += math.Abs(gm.Const.Float64At(ch))
			}
		}
	}
	return s
}

// sliceAxis returns t with only the indices keep along axis.
func sliceAxis(t *tensor.Tensor, axis int, keep []int) (*tensor.Tensor, error) {
	shape := t.Shape()
	if axis < 0 || axis >= len(shape) {
		return nil, fmt.Errorf("axis %d out of range for %v", axis, shape)
	}
	if len(keep) == shape[axis] {
		return t, nil
	}
	outer := tensor.Product(shape[:axis])
	inner := tensor.Product(shape[axis+1:]) * t.DType().Size()
	src := t.RawBytes()
	out := make([]byte, 0, outer*len(keep)*inner)
	for o := 0; o < outer; o++ {
		for _, k := range keep {
			at := (o*shape[axis] + k) * inner
			out = append(out, src[at:at+inner]...)
		}
	}
	ns := append([]int(nil), shape...)
	ns[axis] = len(keep)
	return tensor.FromBytes(t.DType(), ns, out)
}

// keepOf lists the kept channels of v (all for values without channels).
func (d *depGraph) keepOf(v *graph.Value, removed map[int]bool) ([]int, bool) {
	b, ok := d.base[v]
	if !ok {
		return nil, false
	}
	var out []int
	for ch := 0; ch < d.chans[v]; ch++ {
		if !removed[b+ch] {
			out = append(out, ch)
		}
	}
	return out, true
}

// sliceInit replaces initializer w by its slice along axis (no-op when
// nothing is removed).
func sliceInit(w *graph.Value, axis int, keep []int) error {
	if w == nil || w.Const == nil || keep == nil {
		return nil
	}
	t, err := sliceAxis(w.Const, axis, keep)
	if err != nil {
		return fmt.Errorf("slicing %q: %w", w.Name, err)
	}
	if t != w.Const {
		w.Const = t
		w.SetShape(t.Shape())
	}
	return nil
}

// rewrite slices every parameter along the removed channels, fixes group
// attributes and flatten shapes, and re-infers the shapes of computed
// values. It returns the nodes whose weights changed.
func (d *depGraph) rewrite(removed map[int]bool) (map[*graph.Node]bool, error) {
	changed := map[*graph.Node]bool{}
	if len(removed) == 0 {
		return changed, nil
	}
	for _, n := range d.g.Nodes {
		if len(n.Outputs) == 0 || len(n.Inputs) == 0 {
			continue
		}
		x, y := n.Input(0), n.Outputs[0]
		kx, hasX := d.keepOf(x, removed)
		ky, hasY := d.keepOf(y, removed)
		fullX := !hasX || len(kx) == d.chans[x]
		fullY := !hasY || len(ky) == d.chans[y]
		if fullX && fullY {
			continue
		}
		var errs []error
		switch n.OpType {
		case "Conv":
			changed[n] = true
			group := int(n.AttrInt("group", 1))
			errs = append(errs, sliceInit(n.Input(1), 0, ky), sliceInit(n.Input(2), 0, ky))
			if group == 1 {
				errs = append(errs, sliceInit(n.Input(1), 1, kx))
			} else {
				n.Attrs["group"] = graph.IntAttr(int64(group * len(kx) / d.chans[x]))
			}
		case "Gemm", "MatMul":
			changed[n] = true
			if n.OpType == "Gemm" && n.AttrInt("transB", 0) != 0 {
				errs = append(errs, sliceInit(n.Input(1), 0, ky), sliceInit(n.Input(1), 1, kx))
			} else {
				errs = append(errs, sliceInit(n.Input(1), 0, kx), sliceInit(n.Input(1), 1, ky))
			}
			if c := n.Input(2); c != nil && c.Const != nil && c.Const.Len() > 1 {
				errs = append(errs, sliceInit(c, c.Const.Rank()-1, ky))
			}
		case "BatchNormalization":
			changed[n] = true
			for i := 1; i <= 4; i++ {
				errs = append(errs, sliceInit(n.Input(i), 0, kx))
			}
		case "Reshape":
			if dims, ok := graph.ConstInt64s(n.Input(1)); ok && len(dims) == 2 && dims[1] > 0 {
				n.Input(1).Const = tensor.FromSlice([]int{2}, []int64{dims[0], int64(len(ky))})
			}
		default:
			if binaryOps[n.OpType] {
				for _, v := range n.Inputs {
					if v == nil || v.Const == nil {
						continue
					}
					axis := 1 - (len(y.Shape) - v.Const.Rank())
					if axis >= 0 && v.Const.Shape()[axis] == d.chans[y] && d.chans[y] > 1 {
						changed[n] = true
						errs = append(errs, sliceInit(v, axis, ky))
					}
				}
			}
		}
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("channel pruning: %v: %w", n, err)
			}
		}
	}
	for _, n := range d.g.Nodes {
		for _, v := range n.Outputs {
			if v != nil {
				v.Shape, v.HasShape = nil, false
			}
		}
	}
	return changed, nil
}
