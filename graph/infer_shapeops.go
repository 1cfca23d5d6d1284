package graph

// Shape inference for the shape, constant and data-movement operators
// (Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout,
// Constant, ConstantOfShape, Range, EyeLike, Transpose, Concat, Split, Slice,
// Gather*, Scatter*, Expand, Tile, Pad, DepthToSpace, SpaceToDepth, OneHot,
// Trilu, NonZero, TopK, CumSum, Resize, Upsample). Where an output shape
// depends on data (Reshape's shape, Slice's starts, Resize's scales, ...)
// the data is read from constant inputs; when it is not constant the rank is
// kept (where known) with unknown dimensions.

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

func init() {
	for op, f := range map[string]ShapeFunc{
		"Shape": shapeShape, "Size": sizeShape, "Reshape": reshapeShape,
		"Flatten": flattenShape, "Squeeze": squeezeShape, "Unsqueeze": unsqueezeShape,
		"Identity": sameAsInput, "Dropout": dropoutShape, "Constant": constantShape,
		"ConstantOfShape": constantOfShapeShape, "Range": rangeShape, "EyeLike": eyeLikeShape,
		"Transpose": transposeShape, "Concat": concatShape, "Split": splitShape,
		"Slice": sliceShape, "Gather": gatherShape, "GatherElements": gatherElementsShape,
		"GatherND": gatherNDShape, "ScatterElements": sameAsInput, "Scatter": sameAsInput,
		"ScatterND": sameAsInput, "Expand": expandShape, "Tile": tileShape, "Pad": padShape,
		"DepthToSpace": depthToSpaceShape, "SpaceToDepth": spaceToDepthShape,
		"OneHot": oneHotShape, "Trilu": sameAsInput, "NonZero": nonZeroShape,
		"TopK": topKShape, "CumSum": sameAsInput, "Resize": resizeShape, "Upsample": resizeShape,
	} {
		RegisterShapeFunc(op, f)
	}
}

var soUnknown = Dim{Size: -1}

// soUnknownDims returns r unknown dimensions.
func soUnknownDims(r int) []Dim {
	d := make([]Dim, r)
	for i := range d {
		d[i] = soUnknown
	}
	return d
}

// soInts returns the values of a constant integer input: an initializer, or a
// Constant node's value, value_int or value_ints.
func soInts(v *Value) ([]int64, bool) {
	if vals, ok := ConstInt64s(v); ok {
		return vals, true
	}
	if v == nil || v.Producer == nil || v.Producer.OpType != "Constant" {
		return nil, false
	}
	p := v.Producer
	if a, ok := p.Attrs["value_ints"]; ok && a.Type == AttrInts {
		return a.Ints, true
	}
	if a, ok := p.Attrs["value_int"]; ok && a.Type == AttrInt {
		return []int64{a.I}, true
	}
	return nil, false
}

// soFloats returns the values of a constant floating-point input.
func soFloats(v *Value) ([]float64, bool) {
	t := ConstTensor(v)
	if t == nil || !t.DType().IsFloat() {
		return nil, false
	}
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out, true
}

// soAxes normalises axes against rank r, failing on out-of-range or repeated
// axes.
func soAxes(axes []int64, r int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		if a < int64(-r) || a >= int64(r) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", a, r)
		}
		ax := int(a)
		if ax < 0 {
			ax += r
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d repeated in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// soAxis normalises one axis against rank r.
func soAxis(a int64, r int) (int, error) {
	axes, err := soAxes([]int64{a}, r)
	if err != nil {
		return 0, err
	}
	return axes[0], nil
}

// soProduct multiplies dims, returning an unknown Dim if any is unknown (a
// known zero wins), except that one symbolic dimension times known ones
// is that dimension.
func soProduct(dims []Dim) Dim {
	p := int64(1)
	for _, d := range dims {
		if d.Known() && d.Size == 0 {
			return Dim{Size: 0}
		}
	}
	var sym []Dim
	for _, d := range dims {
		if !d.Known() {
			sym = append(sym, d)
			continue
		}
		p *= d.Size
	}
	switch {
	case len(sym) == 0:
		return Dim{Size: p}
	case len(sym) == 1 && p == 1:
		return sym[0] // a symbol times ones keeps its name (Flatten of [batch, ...] at axis 1)
	}
	return soUnknown
}

// soInput returns input i when it is present with a known shape.
func soInput(n *Node, i int) (*Value, bool) {
	v := n.Input(i)
	return v, v != nil && v.HasShape
}

func shapeShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		setOutput(n, 0, tensor.Int64, []Dim{soUnknown}, true)
		return nil
	}
	r := int64(len(x.Shape))
	clamp := func(a int64) int64 {
		if a < 0 {
			a += r
		}
		return min(max(a, 0), r)
	}
	lo, hi := clamp(n.AttrInt("start", 0)), clamp(n.AttrInt("end", r))
	setOutput(n, 0, tensor.Int64, []Dim{{Size: max(hi-lo, 0)}}, true)
	return nil
}

func sizeShape(n *Node) error {
	setOutput(n, 0, tensor.Int64, []Dim{}, true)
	return nil
}

func reshapeShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	spec, ok := soInts(n.Input(1))
	if !ok {
		if s, known := soInput(n, 1); known && len(s.Shape) == 1 && s.Shape[0].Known() {
			setOutput(n, 0, x.DType, soUnknownDims(int(s.Shape[0].Size)), true)
		} else {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	dims, err := soReshapeDims(x, spec, n.AttrInt("allowzero", 0) != 0)
	if err != nil {
		return err
	}
	setOutput(n, 0, x.DType, dims, true)
	return nil
}

// soReshapeDims resolves a Reshape shape spec against x's (possibly partly
// unknown) shape.
func soReshapeDims(x *Value, spec []int64, allowZero bool) ([]Dim, error) {
	out := make([]Dim, len(spec))
	infer := -1
	for i, s := range spec {
		switch {
		case s == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("reshape: shape %v has more than one -1", spec)
			}
			infer = i
			out[i] = soUnknown
		case s < -1:
			return nil, fmt.Errorf("reshape: invalid dimension %d in shape %v", s, spec)
		case s == 0 && !allowZero:
			switch {
			case !x.HasShape:
				out[i] = soUnknown
			case i < len(x.Shape):
				out[i] = x.Shape[i]
			default:
				return nil, fmt.Errorf("reshape: shape %v copies dimension %d of a rank-%d input", spec, i, len(x.Shape))
			}
		default:
			out[i] = Dim{Size: s}
		}
	}
	if !x.HasShape {
		return out, nil
	}
	total := soProduct(x.Shape)
	rest := make([]Dim, 0, len(out))
	for i, d := range out {
		if i != infer {
			rest = append(rest, d)
		}
	}
	known := soProduct(rest)
	if !total.Known() || !known.Known() {
		return out, nil
	}
	switch {
	case infer >= 0 && known.Size != 0:
		if total.Size%known.Size != 0 {
			return nil, fmt.Errorf("reshape: cannot reshape %s to %v", FormatShape(x.Shape), spec)
		}
		out[infer] = Dim{Size: total.Size / known.Size}
	case infer >= 0:
		if total.Size != 0 {
			return nil, fmt.Errorf("reshape: cannot reshape %s to %v", FormatShape(x.Shape), spec)
		}
		out[infer] = Dim{Size: 0}
	case known.Size != total.Size:
		return nil, fmt.Errorf("reshape: cannot reshape %s (%d elements) to %v", FormatShape(x.Shape), total.Size, spec)
	}
	return out, nil
}

func flattenShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, soUnknownDims(2), true)
		}
		return nil
	}
	r := len(x.Shape)
	axis := int(n.AttrInt("axis", 1))
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis > r {
		return fmt.Errorf("flatten: axis %d out of range for rank %d", n.AttrInt("axis", 1), r)
	}
	setOutput(n, 0, x.DType, []Dim{soProduct(x.Shape[:axis]), soProduct(x.Shape[axis:])}, true)
	return nil
}

// soAxesOf returns the axes of Squeeze/Unsqueeze: a constant input 1, else
// the axes attribute; given reports whether a non-empty list was set, ok
// whether the values are known.
func soAxesOf(n *Node) (axes []int64, given, ok bool) {
	ok = true
	if v := n.Input(1); v != nil {
		axes, ok = soInts(v)
	} else if a, has := n.Attrs["axes"]; has && a.Type == AttrInts {
		axes = a.Ints
	}
	return axes, len(axes) > 0, ok
}

func squeezeShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	axes, given, known := soAxesOf(n)
	drop := make([]bool, len(x.Shape))
	switch {
	case !known:
		setOutput(n, 0, x.DType, nil, false)
		return nil
	case !given:
		for d, s := range x.Shape {
			if !s.Known() {
				setOutput(n, 0, x.DType, nil, false) // might be a 1
				return nil
			}
			drop[d] = s.Size == 1
		}
	default:
		norm, err := soAxes(axes, len(x.Shape))
		if err != nil {
			return fmt.Errorf("squeeze: %w", err)
		}
		for _, a := range norm {
			if s := x.Shape[a]; s.Known() && s.Size != 1 {
				return fmt.Errorf("squeeze: axis %d has size %d, not 1", a, s.Size)
			}
			drop[a] = true
		}
	}
	out := []Dim{}
	for d, s := range x.Shape {
		if !drop[d] {
			out = append(out, s)
		}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func unsqueezeShape(n *Node) error {
	x, ok := soInput(n, 0)
	axes, _, known := soAxesOf(n)
	if !ok || !known {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	r := len(x.Shape) + len(axes)
	norm, err := soAxes(axes, r)
	if err != nil {
		return fmt.Errorf("unsqueeze: %w", err)
	}
	ones := make([]bool, r)
	for _, a := range norm {
		ones[a] = true
	}
	out := make([]Dim, r)
	j := 0
	for d := range out {
		if ones[d] {
			out[d] = Dim{Size: 1}
			continue
		}
		out[d] = x.Shape[j]
		j++
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func dropoutShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	setOutput(n, 0, x.DType, x.Shape, x.HasShape)
	setOutput(n, 1, tensor.Bool, x.Shape, x.HasShape)
	return nil
}

func constantShape(n *Node) error {
	var dt tensor.DType
	var dims []Dim
	for name, a := range n.Attrs {
		switch {
		case name == "value" && a.Type == AttrTensor && a.T != nil:
			dt, dims = a.T.DType(), KnownDims(a.T.Shape()...)
		case name == "value_float":
			dt, dims = tensor.Float32, []Dim{}
		case name == "value_int":
			dt, dims = tensor.Int64, []Dim{}
		case name == "value_string":
			dt, dims = tensor.String, []Dim{}
		case name == "value_floats":
			dt, dims = tensor.Float32, KnownDims(len(a.Floats))
		case name == "value_ints":
			dt, dims = tensor.Int64, KnownDims(len(a.Ints))
		case name == "value_strings":
			dt, dims = tensor.String, KnownDims(len(a.Strings))
		}
	}
	setOutput(n, 0, dt, dims, dims != nil)
	return nil
}

func constantOfShapeShape(n *Node) error {
	dt := tensor.Float32
	if t := n.AttrTensor("value"); t != nil {
		dt = t.DType()
	}
	if dims, ok := soInts(n.Input(0)); ok {
		for _, d := range dims {
			if d < 0 {
				return fmt.Errorf("constant_of_shape: negative dimension in %v", dims)
			}
		}
		out := make([]Dim, len(dims))
		for i, d := range dims {
			out[i] = Dim{Size: d}
		}
		setOutput(n, 0, dt, out, true)
		return nil
	}
	if s, ok := soInput(n, 0); ok && len(s.Shape) == 1 && s.Shape[0].Known() {
		setOutput(n, 0, dt, soUnknownDims(int(s.Shape[0].Size)), true)
		return nil
	}
	setOutput(n, 0, dt, nil, false)
	return nil
}

func rangeShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	dim := soUnknown
	var v [3]float64
	known := true
	for i := range v {
		t := ConstTensor(n.Input(i))
		if t == nil || t.Len() != 1 {
			known = false
			break
		}
		v[i] = t.Float64At(0)
	}
	if known && v[2] != 0 {
		count := math.Ceil((v[1] - v[0]) / v[2])
		if count < 0 || math.IsNaN(count) {
			count = 0
		}
		if count <= tensor.MaxElements {
			dim = Dim{Size: int64(count)}
		}
	}
	setOutput(n, 0, x.DType, []Dim{dim}, true)
	return nil
}

func eyeLikeShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	dt := x.DType
	if n.HasAttr("dtype") {
		dt = tensor.DType(n.AttrInt("dtype", 0))
	}
	setOutput(n, 0, dt, x.Shape, x.HasShape)
	return nil
}

func transposeShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	r := len(x.Shape)
	perm := n.AttrInts("perm", nil)
	if len(perm) == 0 {
		for i := r - 1; i >= 0; i-- {
			perm = append(perm, int64(i))
		}
	}
	if len(perm) != r {
		return fmt.Errorf("transpose: perm %v for a rank-%d input", perm, r)
	}
	out := make([]Dim, r)
	seen := make([]bool, r)
	for j, p := range perm {
		if p < 0 || p >= int64(r) || seen[p] {
			return fmt.Errorf("transpose: perm %v is not a permutation", perm)
		}
		seen[p] = true
		out[j] = x.Shape[p]
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func concatShape(n *Node) error {
	var first *Value
	for _, v := range n.Inputs {
		if v != nil {
			first = v
			break
		}
	}
	if first == nil {
		return nil
	}
	var out []Dim
	axis := -1
	for _, v := range n.Inputs {
		if v == nil || !v.HasShape {
			continue
		}
		if out == nil {
			ax, err := soAxis(n.AttrInt("axis", 0), len(v.Shape))
			if err != nil {
				return fmt.Errorf("concat: %w", err)
			}
			axis, out = ax, append([]Dim(nil), v.Shape...)
			out[axis] = Dim{Size: 0}
		}
		if len(v.Shape) != len(out) {
			return fmt.Errorf("concat: inputs of ranks %d and %d", len(out), len(v.Shape))
		}
		for d, s := range v.Shape {
			if d == axis {
				continue
			}
			switch {
			case s.Known() && out[d].Known() && s.Size != out[d].Size:
				return fmt.Errorf("concat: dimension %d differs (%v vs %v)", d, out[d], s)
			case !out[d].Known() && s.Known():
				out[d] = s
			}
		}
	}
	if out == nil {
		setOutput(n, 0, first.DType, nil, false)
		return nil
	}
	for _, v := range n.Inputs {
		switch {
		case v == nil:
		case !v.HasShape || !v.Shape[axis].Known() || !out[axis].Known():
			out[axis] = soUnknown
		default:
			out[axis].Size += v.Shape[axis].Size
		}
	}
	setOutput(n, 0, first.DType, out, true)
	return nil
}

func splitShape(n *Node) error {
	x, ok := soInput(n, 0)
	if x == nil {
		return nil
	}
	outs := len(n.Outputs)
	if !ok {
		for i := 0; i < outs; i++ {
			setOutput(n, i, x.DType, nil, false)
		}
		return nil
	}
	axis, err := soAxis(n.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	sizes := make([]Dim, outs)
	for i := range sizes {
		sizes[i] = soUnknown
	}
	dim := x.Shape[axis]
	if split, known := soInts(n.Input(1)); known {
		if len(split) != outs {
			return fmt.Errorf("split: %d sizes for %d outputs", len(split), outs)
		}
		for i, s := range split {
			sizes[i] = Dim{Size: s}
		}
	} else if n.Input(1) == nil && dim.Known() && outs > 0 {
		chunk, last := dim.Size/int64(outs), dim.Size/int64(outs)
		if n.HasAttr("num_outputs") {
			chunk = (dim.Size + int64(outs) - 1) / int64(outs)
			last = dim.Size - chunk*int64(outs-1)
		}
		if last >= 0 && chunk*int64(outs-1)+last == dim.Size {
			for i := range sizes {
				sizes[i] = Dim{Size: chunk}
			}
			sizes[outs-1] = Dim{Size: last}
		}
	}
	for i, s := range sizes {
		d := append([]Dim(nil), x.Shape...)
		d[axis] = s
		setOutput(n, i, x.DType, d, true)
	}
	return nil
}

func sliceShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	r := len(x.Shape)
	out := append([]Dim(nil), x.Shape...)
	starts, ok1 := soInts(n.Input(1))
	ends, ok2 := soInts(n.Input(2))
	axes, ok3 := soInts(n.Input(3))
	steps, ok4 := soInts(n.Input(4))
	if n.Input(3) == nil && ok1 {
		axes, ok3 = nil, true
		for i := range starts {
			axes = append(axes, int64(i))
		}
	}
	if n.Input(4) == nil && ok1 {
		steps, ok4 = nil, true
		for range starts {
			steps = append(steps, 1)
		}
	}
	if !ok1 || !ok2 || !ok3 || !ok4 || len(ends) != len(starts) || len(axes) != len(starts) || len(steps) != len(starts) {
		// Unknown slicing: only the axes that are certainly untouched keep
		// their size, and we cannot tell which those are.
		setOutput(n, 0, x.DType, soUnknownDims(r), true)
		return nil
	}
	norm, err := soAxes(axes, r)
	if err != nil {
		return fmt.Errorf("slice: %w", err)
	}
	for i, ax := range norm {
		if steps[i] == 0 {
			return fmt.Errorf("slice: step 0 on axis %d", ax)
		}
		if !x.Shape[ax].Known() {
			out[ax] = soUnknown
			continue
		}
		out[ax] = Dim{Size: soSliceCount(starts[i], ends[i], steps[i], x.Shape[ax].Size)}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

// soSliceCount is the element count of a clamped ONNX slice of an axis of
// length dim.
func soSliceCount(start, end, step, dim int64) int64 {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start, end = min(max(start, 0), dim), min(max(end, 0), dim)
		if end <= start {
			return 0
		}
		return (end - start + step - 1) / step
	}
	start, end = min(max(start, -1), dim-1), min(max(end, -1), dim-1)
	if start <= end {
		return 0
	}
	return (start - end - step - 1) / -step
}

func gatherShape(n *Node) error {
	x, ok := soInput(n, 0)
	idx, ok2 := soInput(n, 1)
	if x == nil {
		return nil
	}
	if !ok || !ok2 {
		setOutput(n, 0, x.DType, nil, false)
		return nil
	}
	axis, err := soAxis(n.AttrInt("axis", 0), len(x.Shape))
	if err != nil {
		return fmt.Errorf("gather: %w", err)
	}
	out := append(append(append([]Dim{}, x.Shape[:axis]...), idx.Shape...), x.Shape[axis+1:]...)
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func gatherElementsShape(n *Node) error {
	x, idx := n.Input(0), n.Input(1)
	if x == nil || idx == nil {
		return nil
	}
	setOutput(n, 0, x.DType, idx.Shape, idx.HasShape)
	return nil
}

func gatherNDShape(n *Node) error {
	x, ok := soInput(n, 0)
	idx, ok2 := soInput(n, 1)
	if x == nil {
		return nil
	}
	if !ok || !ok2 || len(idx.Shape) == 0 || !idx.Shape[len(idx.Shape)-1].Known() {
		setOutput(n, 0, x.DType, nil, false)
		return nil
	}
	q := len(idx.Shape)
	k := int(idx.Shape[q-1].Size)
	b := int(n.AttrInt("batch_dims", 0))
	if b < 0 || k < 1 || b+k > len(x.Shape) {
		return fmt.Errorf("gather_nd: tuples of length %d, batch_dims %d for data of rank %d", k, b, len(x.Shape))
	}
	out := append(append([]Dim{}, idx.Shape[:q-1]...), x.Shape[b+k:]...)
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func expandShape(n *Node) error {
	x := n.Input(0)
	if x == nil {
		return nil
	}
	dims, known := soInts(n.Input(1))
	if !known || !x.HasShape {
		if s, ok := soInput(n, 1); ok && len(s.Shape) == 1 && s.Shape[0].Known() && x.HasShape {
			setOutput(n, 0, x.DType, soUnknownDims(max(int(s.Shape[0].Size), len(x.Shape))), true)
		} else {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	want := make([]Dim, len(dims))
	for i, d := range dims {
		want[i] = Dim{Size: d}
	}
	out, err := broadcastDims(x.Shape, want)
	if err != nil {
		return fmt.Errorf("expand: %w", err)
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func tileShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	out := soUnknownDims(len(x.Shape))
	if reps, known := soInts(n.Input(1)); known {
		if len(reps) != len(x.Shape) {
			return fmt.Errorf("tile: %d repeats for rank %d", len(reps), len(x.Shape))
		}
		for d, r := range reps {
			if x.Shape[d].Known() {
				out[d] = Dim{Size: x.Shape[d].Size * r}
			}
		}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func padShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	r := len(x.Shape)
	pads, ok1 := soInts(n.Input(1))
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	ok2 := true
	if v := n.Input(3); v != nil {
		var a []int64
		if a, ok2 = soInts(v); ok2 {
			var err error
			if axes, err = soAxes(a, r); err != nil {
				return fmt.Errorf("pad: %w", err)
			}
		}
	}
	if !ok1 || !ok2 {
		setOutput(n, 0, x.DType, soUnknownDims(r), true)
		return nil
	}
	if len(pads) != 2*len(axes) {
		return fmt.Errorf("pad: %d pads for %d axes", len(pads), len(axes))
	}
	out := append([]Dim(nil), x.Shape...)
	for i, ax := range axes {
		if out[ax].Known() {
			out[ax].Size += pads[i] + pads[i+len(axes)]
		}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func depthToSpaceShape(n *Node) error { return soBlockShape(n, true) }
func spaceToDepthShape(n *Node) error { return soBlockShape(n, false) }

// soBlockShape infers DepthToSpace ([N, C/b², H*b, W*b]) and SpaceToDepth
// ([N, C*b², H/b, W/b]).
func soBlockShape(n *Node, toSpace bool) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	b := n.AttrInt("blocksize", 0)
	if len(x.Shape) != 4 || b < 1 {
		return fmt.Errorf("%s: input %s with blocksize %d", n.OpType, FormatShape(x.Shape), b)
	}
	mul := func(d Dim, k int64) Dim {
		if !d.Known() {
			return soUnknown
		}
		return Dim{Size: d.Size * k}
	}
	div := func(d Dim, k int64) (Dim, error) {
		if !d.Known() {
			return soUnknown, nil
		}
		if d.Size%k != 0 {
			return d, fmt.Errorf("%s: dimension %d is not divisible by %d", n.OpType, d.Size, k)
		}
		return Dim{Size: d.Size / k}, nil
	}
	out := append([]Dim(nil), x.Shape...)
	var errs [3]error
	if toSpace {
		out[1], errs[0] = div(x.Shape[1], b*b)
		out[2], out[3] = mul(x.Shape[2], b), mul(x.Shape[3], b)
	} else {
		out[1] = mul(x.Shape[1], b*b)
		out[2], errs[1] = div(x.Shape[2], b)
		out[3], errs[2] = div(x.Shape[3], b)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

func oneHotShape(n *Node) error {
	idx, vals := n.Input(0), n.Input(2)
	if idx == nil || vals == nil {
		return nil
	}
	if !idx.HasShape {
		setOutput(n, 0, vals.DType, nil, false)
		return nil
	}
	r := len(idx.Shape)
	axis := n.AttrInt("axis", -1)
	if axis < 0 {
		axis += int64(r) + 1
	}
	if axis < 0 || axis > int64(r) {
		return fmt.Errorf("onehot: axis %d out of range for output rank %d", n.AttrInt("axis", -1), r+1)
	}
	depth := soUnknown
	if t := ConstTensor(n.Input(1)); t != nil && t.Len() == 1 && t.DType() != tensor.String {
		if d := t.Float64At(0); d >= 1 && d <= tensor.MaxElements {
			depth = Dim{Size: int64(d)}
		}
	}
	out := append(append(append([]Dim{}, idx.Shape[:axis]...), depth), idx.Shape[axis:]...)
	setOutput(n, 0, vals.DType, out, true)
	return nil
}

func nonZeroShape(n *Node) error {
	x := n.Input(0)
	rank := soUnknown
	if x != nil && x.HasShape {
		rank = Dim{Size: int64(max(len(x.Shape), 1))}
	}
	setOutput(n, 0, tensor.Int64, []Dim{rank, soUnknown}, true)
	return nil
}

func topKShape(n *Node) error {
	x, ok := soInput(n, 0)
	if x == nil {
		return nil
	}
	if !ok {
		setOutput(n, 0, x.DType, nil, false)
		setOutput(n, 1, tensor.Int64, nil, false)
		return nil
	}
	axis, err := soAxis(n.AttrInt("axis", -1), len(x.Shape))
	if err != nil {
		return fmt.Errorf("topk: %w", err)
	}
	out := append([]Dim(nil), x.Shape...)
	out[axis] = soUnknown
	if k, known := soInts(n.Input(1)); known && len(k) == 1 {
		out[axis] = Dim{Size: k[0]}
	}
	setOutput(n, 0, x.DType, out, true)
	setOutput(n, 1, tensor.Int64, out, true)
	return nil
}

// resizeShape infers Resize (and Upsample, whose scales are input 1 or an
// attribute): floor(dim*scale) with constant scales, or constant sizes
// (keep_aspect_ratio_policy adjusted), on the axes attribute's axes.
func resizeShape(n *Node) error {
	x, ok := soInput(n, 0)
	if !ok {
		if x != nil {
			setOutput(n, 0, x.DType, nil, false)
		}
		return nil
	}
	r := len(x.Shape)
	out := soUnknownDims(r)
	axes := make([]int, r)
	for i := range axes {
		axes[i] = i
	}
	if a := n.AttrInts("axes", nil); a != nil {
		var err error
		if axes, err = soAxes(a, r); err != nil {
			return fmt.Errorf("resize: %w", err)
		}
		out = append([]Dim(nil), x.Shape...)
		for _, ax := range axes {
			out[ax] = soUnknown
		}
	}
	scales, hasScales := soResizeScales(n)
	sizes, hasSizes := soInts(n.Input(3))
	switch {
	case hasScales && len(scales) > 0:
		if len(scales) != len(axes) {
			return fmt.Errorf("resize: %d scales for %d axes", len(scales), len(axes))
		}
		for i, ax := range axes {
			if d := x.Shape[ax]; d.Known() {
				out[ax] = Dim{Size: int64(math.Floor(float64(d.Size) * scales[i]))}
			}
		}
	case hasSizes && len(sizes) > 0:
		if len(sizes) != len(axes) {
			return fmt.Errorf("resize: %d sizes for %d axes", len(sizes), len(axes))
		}
		if p := n.AttrString("keep_aspect_ratio_policy", "stretch"); p == "stretch" {
			for i, ax := range axes {
				out[ax] = Dim{Size: sizes[i]}
			}
		} else {
			soAspectSizes(x.Shape, axes, sizes, p == "not_larger", out)
		}
	}
	setOutput(n, 0, x.DType, out, true)
	return nil
}

// soResizeScales returns the constant scales of a Resize (input 2) or
// Upsample (input 1 or the scales attribute) node.
func soResizeScales(n *Node) ([]float64, bool) {
	if n.OpType == "Upsample" {
		if f := n.AttrFloats("scales", nil); f != nil {
			out := make([]float64, len(f))
			for i, v := range f {
				out[i] = float64(v)
			}
			return out, true
		}
		return soFloats(n.Input(1))
	}
	return soFloats(n.Input(2))
}

// soAspectSizes fills out with round_half_up(scale*dim) on axes, where
// scale is the smallest (notLarger) or largest of sizes[i]/dim.
func soAspectSizes(in []Dim, axes []int, sizes []int64, notLarger bool, out []Dim) {
	scale := 0.0
	for i, ax := range axes {
		if !in[ax].Known() || in[ax].Size == 0 {
			return
		}
		s := float64(sizes[i]) / float64(in[ax].Size)
		if i == 0 || (notLarger && s < scale) || (!notLarger && s > scale) {
			scale = s
		}
	}
	for _, ax := range axes {
		out[ax] = Dim{Size: int64(scale*float64(in[ax].Size) + 0.5)}
	}
}
