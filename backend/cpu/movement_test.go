package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// ---- shared helpers for the shape/movement/resize tests (prefix mvt) ------

// mvtAttrs is shorthand for a node's attribute map.
type mvtAttrs = map[string]*graph.Attr

// mvtRun builds a node of type op with nOut outputs, prepares it for opset
// 18 and runs it with two threads. It fails if the op modified an input.
func mvtRun(op string, attrs mvtAttrs, nOut int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	if attrs == nil {
		attrs = mvtAttrs{}
	}
	n := &graph.Node{OpType: op, Attrs: attrs}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, &graph.Value{Name: fmt.Sprint("y", i)})
	}
	f := registry.Factory("", op)
	if f == nil {
		return nil, fmt.Errorf("op %s is not registered", op)
	}
	o, err := f(n, runtime.NodeInfo{Opset: 18})
	if err != nil {
		return nil, err
	}
	before := make([]*tensor.Tensor, len(in))
	for i, t := range in {
		if t != nil {
			before[i] = t.Clone()
		}
	}
	out, err := o.Run(runtime.NewContext(2), in)
	for i, t := range in {
		if t != nil && !graph.TensorsEqual(t, before[i]) {
			return nil, fmt.Errorf("%s modified input %d", op, i)
		}
	}
	return out, err
}

// mvtOne runs op and returns its first output, failing the test on error.
func mvtOne(t *testing.T, op string, attrs mvtAttrs, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := mvtRun(op, attrs, 1, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out[0]
}

// mvtErr checks that running op fails with an error mentioning want.
func mvtErr(t *testing.T, want, op string, attrs mvtAttrs, nOut int, in ...*tensor.Tensor) {
	t.Helper()
	_, err := mvtRun(op, attrs, nOut, in...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %v, want one mentioning %q", op, err, want)
	}
}

// mvtCheck compares a tensor with an expected shape and elements.
func mvtCheck[T tensor.Elem](t *testing.T, got *tensor.Tensor, shape []int, want []T) {
	t.Helper()
	if got.DType() != tensor.DTypeOf[T]() || !tensor.SameShape(got.Shape(), shape) {
		t.Fatalf("got %v, want %v%v", got, tensor.DTypeOf[T](), shape)
	}
	if d := tensor.Data[T](got); !reflect.DeepEqual(d, want) && !(len(d) == 0 && len(want) == 0) {
		t.Fatalf("got %v, want %v", d, want)
	}
}

// mvtClose compares float32 data within tol.
func mvtClose(t *testing.T, got *tensor.Tensor, shape []int, want []float32, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), shape) {
		t.Fatalf("shape %v, want %v", got.Shape(), shape)
	}
	for i, w := range want {
		if g := got.Float64At(i); math.Abs(g-float64(w)) > tol {
			t.Fatalf("element %d: got %v, want %v (all %v)", i, g, w, got.Data())
		}
	}
}

// mvtI64 is a 1-D int64 tensor.
func mvtI64(v ...int64) *tensor.Tensor { return tensor.FromSlice([]int{len(v)}, v) }

// mvtIota is a float32 tensor holding 0, 1, 2, ... in the given shape.
func mvtIota(shape ...int) *tensor.Tensor {
	n := tensor.Product(shape)
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(i)
	}
	return tensor.FromSlice(shape, d)
}

// mvtF32 is a float32 tensor.
func mvtF32(shape []int, v ...float32) *tensor.Tensor { return tensor.FromSlice(shape, v) }

// ---- Transpose ------------------------------------------------------------

// mvtTransposeRef is a direct per-element transpose.
func mvtTransposeRef(x []float32, shape, perm []int) []float32 {
	r := len(shape)
	out := make([]float32, len(x))
	oshape := make([]int, r)
	for j, p := range perm {
		oshape[j] = shape[p]
	}
	ist := tensor.Strides(shape)
	for o := range out {
		rem, off := o, 0
		for j := r - 1; j >= 0; j-- {
			i := rem % oshape[j]
			rem /= oshape[j]
			off += i * ist[perm[j]]
		}
		out[o] = x[off]
	}
	return out
}

func mvtPerms(r int) [][]int {
	if r == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range mvtPerms(r - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), r-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestTransposeAllPermutations(t *testing.T) {
	for _, shape := range [][]int{{2, 3, 4, 5}, {1, 9, 1, 40}, {3, 40, 50}, {2, 33, 17, 9}, {2, 0, 3}} {
		x := mvtIota(shape...)
		for _, perm := range mvtPerms(len(shape)) {
			p64 := make([]int64, len(perm))
			oshape := make([]int, len(perm))
			for i, p := range perm {
				p64[i], oshape[i] = int64(p), shape[p]
			}
			got := mvtOne(t, "Transpose", mvtAttrs{"perm": graph.IntsAttr(p64...)}, x)
			mvtCheck(t, got, oshape, mvtTransposeRef(x.F32(), shape, perm))
		}
	}
}

func TestTransposeLargeTiled(t *testing.T) {
	// Big enough for the tiled path and several threads.
	shape := []int{2, 70, 33, 45}
	x := mvtIota(shape...)
	for _, perm := range [][]int{{0, 2, 3, 1}, {0, 3, 1, 2}, {3, 2, 1, 0}, {1, 0, 3, 2}} {
		p64 := []int64{int64(perm[0]), int64(perm[1]), int64(perm[2]), int64(perm[3])}
		got := mvtOne(t, "Transpose", mvtAttrs{"perm": graph.IntsAttr(p64...)}, x)
		want := mvtTransposeRef(x.F32(), shape, perm)
		if !reflect.DeepEqual(got.F32(), want) {
			t.Fatalf("perm %v differs from the reference", perm)
		}
	}
}

func TestTransposeDTypesAndDefault(t *testing.T) {
	s := tensor.FromSlice([]int{2, 3}, []string{"a", "b", "c", "d", "e", "f"})
	mvtCheck(t, mvtOne(t, "Transpose", nil, s), []int{3, 2}, []string{"a", "d", "b", "e", "c", "f"})
	h := tensor.FromSlice([]int{2, 2}, []tensor.F16{1, 2, 3, 4})
	mvtCheck(t, mvtOne(t, "Transpose", nil, h), []int{2, 2}, []tensor.F16{1, 3, 2, 4})
	b := tensor.FromSlice([]int{1, 2}, []bool{true, false})
	mvtCheck(t, mvtOne(t, "Transpose", nil, b), []int{2, 1}, []bool{true, false})
	sc := tensor.Scalar(int64(7))
	mvtCheck(t, mvtOne(t, "Transpose", nil, sc), []int{}, []int64{7})
}

func TestTransposeIdentityIsView(t *testing.T) {
	x := mvtIota(1, 3, 1, 4)
	got := mvtOne(t, "Transpose", mvtAttrs{"perm": graph.IntsAttr(2, 1, 0, 3)}, x)
	if got.DataPointer() != x.DataPointer() || !tensor.SameShape(got.Shape(), []int{1, 3, 1, 4}) {
		t.Fatalf("unit-axis transpose should be a view, got %v", got)
	}
}

func TestTransposeErrors(t *testing.T) {
	x := mvtIota(2, 3)
	mvtErr(t, "not a permutation", "Transpose", mvtAttrs{"perm": graph.IntsAttr(0, 0)}, 1, x)
	mvtErr(t, "rank-2", "Transpose", mvtAttrs{"perm": graph.IntsAttr(0, 1, 2)}, 1, x)
	mvtErr(t, "input 0", "Transpose", nil, 1, nil)
}

// ---- Concat / Split -------------------------------------------------------

func TestConcat(t *testing.T) {
	a, b := mvtIota(2, 2), mvtF32([]int{2, 1}, 10, 11)
	mvtCheck(t, mvtOne(t, "Concat", mvtAttrs{"axis": graph.IntAttr(-1)}, a, b), []int{2, 3}, []float32{0, 1, 10, 2, 3, 11})
	mvtCheck(t, mvtOne(t, "Concat", mvtAttrs{"axis": graph.IntAttr(0)}, a, mvtIota(0, 2), a), []int{4, 2}, []float32{0, 1, 2, 3, 0, 1, 2, 3})
	s1 := tensor.FromSlice([]int{1}, []string{"x"})
	s2 := tensor.FromSlice([]int{2}, []string{"y", "z"})
	mvtCheck(t, mvtOne(t, "Concat", mvtAttrs{"axis": graph.IntAttr(0)}, s1, s2), []int{3}, []string{"x", "y", "z"})
	mvtErr(t, "only axis 1 may differ", "Concat", mvtAttrs{"axis": graph.IntAttr(1)}, 1, a, mvtIota(3, 1))
	mvtErr(t, "int64", "Concat", mvtAttrs{"axis": graph.IntAttr(0)}, 1, a, tensor.FromSlice([]int{1, 2}, []int64{1, 2}))
	mvtErr(t, "axis 2", "Concat", mvtAttrs{"axis": graph.IntAttr(2)}, 1, a, a)
	mvtErr(t, "axis is required", "Concat", nil, 1, a)
}

func TestConcatLarge(t *testing.T) {
	a, b := mvtIota(64, 300, 3), mvtIota(64, 200, 3)
	got := mvtOne(t, "Concat", mvtAttrs{"axis": graph.IntAttr(1)}, a, b)
	d := got.F32()
	if d[(5*500+300)*3+1] != b.F32()[(5*200)*3+1] || d[(63*500+299)*3+2] != a.F32()[(63*300+299)*3+2] {
		t.Fatal("large concat misplaced elements")
	}
}

func TestSplit(t *testing.T) {
	x := mvtIota(2, 6)
	outs, err := mvtRun("Split", mvtAttrs{"axis": graph.IntAttr(1)}, 3, x, mvtI64(1, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[0], []int{2, 1}, []float32{0, 6})
	mvtCheck(t, outs[1], []int{2, 2}, []float32{1, 2, 7, 8})
	mvtCheck(t, outs[2], []int{2, 3}, []float32{3, 4, 5, 9, 10, 11})
	// Equal parts, negative axis.
	outs, err = mvtRun("Split", mvtAttrs{"axis": graph.IntAttr(-1)}, 2, x)
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[1], []int{2, 3}, []float32{3, 4, 5, 9, 10, 11})
	// num_outputs (opset 18): 5 = 2 + 2 + 1.
	outs, err = mvtRun("Split", mvtAttrs{"num_outputs": graph.IntAttr(3)}, 3, mvtIota(5))
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[2], []int{1}, []float32{4})
	// Zero-size parts.
	outs, err = mvtRun("Split", nil, 2, mvtIota(2), mvtI64(0, 2))
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[0], []int{0}, []float32{})
	mvtErr(t, "not divisible", "Split", nil, 4, mvtIota(6))
	mvtErr(t, "sums to", "Split", nil, 2, mvtIota(6), mvtI64(1, 2))
	mvtErr(t, "cannot be split", "Split", mvtAttrs{"num_outputs": graph.IntAttr(4)}, 4, mvtIota(5))
	mvtErr(t, "num_outputs 3", "Split", mvtAttrs{"num_outputs": graph.IntAttr(3)}, 2, mvtIota(6))
}

// ---- Slice ------------------------------------------------------------------

func TestSlice(t *testing.T) {
	x := mvtIota(3, 4)
	run := func(in ...*tensor.Tensor) *tensor.Tensor {
		return mvtOne(t, "Slice", nil, append([]*tensor.Tensor{x}, in...)...)
	}
	mvtCheck(t, run(mvtI64(1, 0), mvtI64(2, 3)), []int{1, 3}, []float32{4, 5, 6})
	// Negative steps, INT64 bounds, negative axes.
	mvtCheck(t, run(mvtI64(-1), mvtI64(math.MinInt64), mvtI64(-1), mvtI64(-2)), []int{3, 2}, []float32{3, 1, 7, 5, 11, 9})
	mvtCheck(t, run(mvtI64(1), mvtI64(math.MaxInt64), mvtI64(0)), []int{2, 4}, []float32{4, 5, 6, 7, 8, 9, 10, 11})
	mvtCheck(t, run(mvtI64(10), mvtI64(20), mvtI64(1)), []int{3, 0}, []float32{})
	mvtCheck(t, run(mvtI64(-100), mvtI64(100), mvtI64(1), mvtI64(3)), []int{3, 2}, []float32{0, 3, 4, 7, 8, 11})
	mvtCheck(t, run(mvtI64(5), mvtI64(-100), mvtI64(1), mvtI64(-1)), []int{3, 4}, []float32{3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8})
	i32 := tensor.FromSlice([]int{1}, []int32{1})
	mvtCheck(t, mvtOne(t, "Slice", nil, x, i32, tensor.FromSlice([]int{1}, []int32{2})), []int{1, 4}, []float32{4, 5, 6, 7})
	mvtErr(t, "step 0", "Slice", nil, 1, x, mvtI64(0), mvtI64(1), mvtI64(0), mvtI64(0))
	mvtErr(t, "repeated", "Slice", nil, 1, x, mvtI64(0, 0), mvtI64(1, 1), mvtI64(0, -2))
	mvtErr(t, "lengths", "Slice", nil, 1, x, mvtI64(0), mvtI64(1), mvtI64(0, 1))
	mvtErr(t, "int32 or int64", "Slice", nil, 1, x, mvtF32([]int{1}, 0), mvtI64(1))
}

func TestSliceRange(t *testing.T) {
	cases := []struct{ start, end, step, dim, first, count int64 }{
		{0, 10, 3, 10, 0, 4}, {-3, 10, 1, 10, 7, 3}, {9, -11, -4, 10, 9, 3},
		{math.MaxInt64, math.MinInt64, -1, 4, 3, 4}, {2, 2, 1, 5, 2, 0}, {0, 5, -1, 5, 0, 0},
	}
	for _, c := range cases {
		f, n := mvSliceRange(c.start, c.end, c.step, c.dim)
		if int64(f) != c.first && n > 0 || int64(n) != c.count {
			t.Errorf("slice(%d:%d:%d) of %d = first %d count %d, want %d, %d", c.start, c.end, c.step, c.dim, f, n, c.first, c.count)
		}
	}
}

// ---- Gather family --------------------------------------------------------

func TestGather(t *testing.T) {
	x := mvtIota(3, 2)
	mvtCheck(t, mvtOne(t, "Gather", nil, x, tensor.FromSlice([]int{2, 2}, []int64{0, 1, -1, 2})), []int{2, 2, 2}, []float32{0, 1, 2, 3, 4, 5, 4, 5})
	mvtCheck(t, mvtOne(t, "Gather", mvtAttrs{"axis": graph.IntAttr(1)}, x, tensor.Scalar(int32(-1))), []int{3}, []float32{1, 3, 5})
	s := tensor.FromSlice([]int{3}, []string{"a", "b", "c"})
	mvtCheck(t, mvtOne(t, "Gather", nil, s, mvtI64(2, 0)), []int{2}, []string{"c", "a"})
	mvtCheck(t, mvtOne(t, "Gather", nil, x, tensor.FromSlice([]int{0}, []int64{})), []int{0, 2}, []float32{})
	mvtErr(t, "out of range", "Gather", nil, 1, x, mvtI64(3))
	mvtErr(t, "out of range", "Gather", nil, 1, x, mvtI64(-4))
	mvtErr(t, "int32 or int64", "Gather", nil, 1, x, mvtF32([]int{1}, 0))
	mvtErr(t, "axis 2", "Gather", mvtAttrs{"axis": graph.IntAttr(2)}, 1, x, mvtI64(0))
}

func TestGatherElements(t *testing.T) {
	x := mvtF32([]int{2, 2}, 1, 2, 3, 4)
	idx := tensor.FromSlice([]int{2, 2}, []int64{0, 0, 1, 0})
	mvtCheck(t, mvtOne(t, "GatherElements", mvtAttrs{"axis": graph.IntAttr(1)}, x, idx), []int{2, 2}, []float32{1, 1, 4, 3})
	x3 := mvtIota(3, 3)
	idx2 := tensor.FromSlice([]int{2, 3}, []int32{1, 2, 0, 2, 0, -1})
	mvtCheck(t, mvtOne(t, "GatherElements", nil, x3, idx2), []int{2, 3}, []float32{3, 7, 2, 6, 1, 8})
	mvtErr(t, "out of range", "GatherElements", nil, 1, x, tensor.FromSlice([]int{1, 1}, []int64{2}))
	mvtErr(t, "exceeds data shape", "GatherElements", nil, 1, x, tensor.FromSlice([]int{1, 3}, []int64{0, 0, 0}))
	mvtErr(t, "differ in rank", "GatherElements", nil, 1, x, mvtI64(0))
}

func TestGatherND(t *testing.T) {
	x := tensor.FromSlice([]int{2, 2}, []int32{0, 1, 2, 3})
	mvtCheck(t, mvtOne(t, "GatherND", nil, x, tensor.FromSlice([]int{2, 2}, []int64{0, 0, 1, 1})), []int{2}, []int32{0, 3})
	mvtCheck(t, mvtOne(t, "GatherND", nil, x, tensor.FromSlice([]int{2, 1}, []int64{1, -2})), []int{2, 2}, []int32{2, 3, 0, 1})
	x3 := mvtIota(2, 2, 2)
	got := mvtOne(t, "GatherND", mvtAttrs{"batch_dims": graph.IntAttr(1)}, x3, tensor.FromSlice([]int{2, 1}, []int64{1, 0}))
	mvtCheck(t, got, []int{2, 2}, []float32{2, 3, 4, 5})
	mvtErr(t, "out of range", "GatherND", nil, 1, x, tensor.FromSlice([]int{1, 2}, []int64{0, 2}))
	mvtErr(t, "tuples of length 3", "GatherND", nil, 1, x, tensor.FromSlice([]int{1, 3}, []int64{0, 0, 0}))
	mvtErr(t, "batch dimension", "GatherND", mvtAttrs{"batch_dims": graph.IntAttr(1)}, 1, x3, tensor.FromSlice([]int{3, 1}, []int64{0, 0, 0}))
}

// ---- Scatter family --------------------------------------------------------

func TestScatterElements(t *testing.T) {
	data := mvtF32([]int{1, 5}, 1, 2, 3, 4, 5)
	idx := tensor.FromSlice([]int{1, 2}, []int64{1, -2})
	upd := mvtF32([]int{1, 2}, 10, 20)
	axis1 := mvtAttrs{"axis": graph.IntAttr(1)}
	mvtCheck(t, mvtOne(t, "ScatterElements", axis1, data, idx, upd), []int{1, 5}, []float32{1, 10, 3, 20, 5})
	dup := tensor.FromSlice([]int{1, 2}, []int64{1, 1})
	for red, want := range map[string][]float32{
		"add": {1, 32, 3, 4, 5}, "mul": {1, 400, 3, 4, 5}, "max": {1, 20, 3, 4, 5}, "min": {1, 2, 3, 4, 5},
	} {
		a := mvtAttrs{"axis": graph.IntAttr(1), "reduction": graph.StringAttr(red)}
		mvtCheck(t, mvtOne(t, "ScatterElements", a, data, dup, upd), []int{1, 5}, want)
	}
	h := tensor.FromSlice([]int{2}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(2)})
	hu := tensor.FromSlice([]int{1}, []tensor.F16{tensor.NewF16(0.5)})
	got := mvtOne(t, "ScatterElements", mvtAttrs{"reduction": graph.StringAttr("add")}, h, mvtI64(1), hu)
	mvtCheck(t, got, []int{2}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(2.5)})
	// Deprecated Scatter is ScatterElements without reduction.
	mvtCheck(t, mvtOne(t, "Scatter", axis1, data, idx, upd), []int{1, 5}, []float32{1, 10, 3, 20, 5})
	mvtErr(t, "out of range", "ScatterElements", axis1, 1, data, tensor.FromSlice([]int{1, 1}, []int64{5}), mvtF32([]int{1, 1}, 0))
	mvtErr(t, "differ in shape", "ScatterElements", axis1, 1, data, idx, mvtF32([]int{1, 1}, 0))
	mvtErr(t, "unknown reduction", "ScatterElements", mvtAttrs{"reduction": graph.StringAttr("avg")}, 1, data, idx, upd)
	mvtErr(t, "updates", "ScatterElements", axis1, 1, data, idx, tensor.FromSlice([]int{1, 2}, []int64{1, 2}))
	str := tensor.FromSlice([]int{2}, []string{"a", "b"})
	mvtErr(t, "reduction \"add\" on string", "ScatterElements", mvtAttrs{"reduction": graph.StringAttr("add")}, 1,
		str, mvtI64(0), tensor.FromSlice([]int{1}, []string{"c"}))
}

func TestScatterND(t *testing.T) {
	data := mvtIota(4, 2)
	idx := tensor.FromSlice([]int{2, 1}, []int64{0, -1})
	upd := mvtF32([]int{2, 2}, 10, 11, 12, 13)
	mvtCheck(t, mvtOne(t, "ScatterND", nil, data, idx, upd), []int{4, 2}, []float32{10, 11, 2, 3, 4, 5, 12, 13})
	add := mvtAttrs{"reduction": graph.StringAttr("add")}
	same := tensor.FromSlice([]int{2, 1}, []int64{1, 1})
	mvtCheck(t, mvtOne(t, "ScatterND", add, data, same, upd), []int{4, 2}, []float32{0, 1, 24, 27, 4, 5, 6, 7})
	mvtCheck(t, mvtOne(t, "ScatterND", nil, data, tensor.FromSlice([]int{1, 2}, []int64{3, 1}), mvtF32([]int{1}, -1)),
		[]int{4, 2}, []float32{0, 1, 2, 3, 4, 5, 6, -1})
	mvtErr(t, "updates [1], want [2 2]", "ScatterND", nil, 1, data, idx, mvtF32([]int{1}, 0))
	mvtErr(t, "out of range", "ScatterND", nil, 1, data, tensor.FromSlice([]int{1, 1}, []int64{4}), mvtF32([]int{1, 2}, 0, 0))
}

// ---- Expand / Tile ---------------------------------------------------------

func TestExpand(t *testing.T) {
	x := mvtF32([]int{3, 1}, 1, 2, 3)
	mvtCheck(t, mvtOne(t, "Expand", nil, x, mvtI64(2, 1, 2)), []int{2, 3, 2}, []float32{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3})
	mvtCheck(t, mvtOne(t, "Expand", nil, x, mvtI64(1, 1)), []int{3, 1}, []float32{1, 2, 3})
	mvtCheck(t, mvtOne(t, "Expand", nil, tensor.Scalar("s"), mvtI64(2)), []int{2}, []string{"s", "s"})
	mvtCheck(t, mvtOne(t, "Expand", nil, x, mvtI64(0, 3, 0)), []int{0, 3, 0}, []float32{})
	mvtErr(t, "do not broadcast", "Expand", nil, 1, x, mvtI64(2, 2))
	mvtErr(t, "bad shape", "Expand", nil, 1, x, mvtI64(-1))
}

func TestTile(t *testing.T) {
	x := mvtF32([]int{2, 2}, 1, 2, 3, 4)
	mvtCheck(t, mvtOne(t, "Tile", nil, x, mvtI64(2, 2)), []int{4, 4}, []float32{1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4})
	mvtCheck(t, mvtOne(t, "Tile", nil, x, mvtI64(1, 0)), []int{2, 0}, []float32{})
	mvtCheck(t, mvtOne(t, "Tile", nil, tensor.FromSlice([]int{1}, []bool{true}), mvtI64(3)), []int{3}, []bool{true, true, true})
	mvtErr(t, "2 repeats", "Tile", nil, 1, mvtIota(3), mvtI64(1, 2))
	mvtErr(t, "repeats", "Tile", nil, 1, mvtIota(3), mvtI64(-1))
	mvtErr(t, "repeats", "Tile", nil, 1, mvtIota(3), mvtI64(math.MaxInt64))
}

// ---- Pad ------------------------------------------------------------------

func TestPad(t *testing.T) {
	x := mvtF32([]int{1, 3}, 1, 2, 3)
	pads := mvtI64(0, 2, 0, 3)
	want := map[string][]float32{
		"constant": {9, 9, 1, 2, 3, 9, 9, 9},
		"edge":     {1, 1, 1, 2, 3, 3, 3, 3},
		"reflect":  {3, 2, 1, 2, 3, 2, 1, 2},
		"wrap":     {2, 3, 1, 2, 3, 1, 2, 3},
	}
	for mode, w := range want {
		got := mvtOne(t, "Pad", mvtAttrs{"mode": graph.StringAttr(mode)}, x, pads, mvtF32([]int{}, 9))
		mvtCheck(t, got, []int{1, 8}, w)
	}
	// Negative pads crop; default constant is zero; axes input (opset 18).
	mvtCheck(t, mvtOne(t, "Pad", nil, x, mvtI64(-1, 1), nil, mvtI64(-1)), []int{1, 3}, []float32{2, 3, 0})
	x2 := mvtIota(2, 2)
	mvtCheck(t, mvtOne(t, "Pad", nil, x2, mvtI64(1, 0, 0, 1)), []int{3, 3}, []float32{0, 0, 0, 0, 1, 0, 2, 3, 0})
	s := tensor.FromSlice([]int{1}, []string{"a"})
	mvtCheck(t, mvtOne(t, "Pad", nil, s, mvtI64(1, 1), tensor.Scalar("-")), []int{3}, []string{"-", "a", "-"})
	mvtErr(t, "pads for", "Pad", nil, 1, x, mvtI64(1, 1))
	mvtErr(t, "crop more", "Pad", nil, 1, x, mvtI64(0, -2, 0, -2))
	mvtErr(t, "empty axis", "Pad", mvtAttrs{"mode": graph.StringAttr("edge")}, 1, mvtIota(0), mvtI64(1, 1))
	mvtErr(t, "unknown mode", "Pad", mvtAttrs{"mode": graph.StringAttr("mirror")}, 1, x, pads)
	mvtErr(t, "constant_value", "Pad", nil, 1, x, pads, mvtI64(1))
}

func TestPadIndex(t *testing.T) {
	// Reflect of [0 1 2] repeats with period 4: ... 2 1 0 1 2 1 0 1 2 ...
	for j, want := range map[int]int{-1: 1, -2: 2, -3: 1, -4: 0, 3: 1, 4: 0, 5: 1, 7: 1} {
		if got := mvPadIndex(j, 3, "reflect"); got != want {
			t.Errorf("reflect(%d) = %d, want %d", j, got, want)
		}
	}
	if mvPadIndex(-5, 3, "wrap") != 1 || mvPadIndex(4, 1, "reflect") != 0 || mvPadIndex(-1, 3, "constant") != -1 {
		t.Error("wrap/reflect/constant index mapping")
	}
}

// ---- DepthToSpace / SpaceToDepth --------------------------------------------

func TestDepthToSpace(t *testing.T) {
	x := mvtIota(1, 8, 1, 1)
	dcr := mvtOne(t, "DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2)}, x)
	mvtCheck(t, dcr, []int{1, 2, 2, 2}, []float32{0, 2, 4, 6, 1, 3, 5, 7})
	crd := mvtOne(t, "DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2), "mode": graph.StringAttr("CRD")}, x)
	mvtCheck(t, crd, []int{1, 2, 2, 2}, []float32{0, 1, 2, 3, 4, 5, 6, 7})
	// SpaceToDepth inverts DCR DepthToSpace.
	y := mvtIota(2, 12, 3, 4)
	s := mvtOne(t, "DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2)}, y)
	back := mvtOne(t, "SpaceToDepth", mvtAttrs{"blocksize": graph.IntAttr(2)}, s)
	mvtCheck(t, back, y.Shape(), y.F32())
	mvtErr(t, "divisible by 4", "DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2)}, 1, mvtIota(1, 6, 1, 1))
	mvtErr(t, "divisible by 2", "SpaceToDepth", mvtAttrs{"blocksize": graph.IntAttr(2)}, 1, mvtIota(1, 1, 3, 2))
	mvtErr(t, "blocksize", "DepthToSpace", nil, 1, x)
	mvtErr(t, "unknown mode", "DepthToSpace", mvtAttrs{"blocksize": graph.IntAttr(2), "mode": graph.StringAttr("X")}, 1, x)
}

// ---- OneHot -----------------------------------------------------------------

func TestOneHot(t *testing.T) {
	idx := mvtI64(1, -1, 5)
	vals := tensor.FromSlice([]int{2}, []int32{0, 7})
	depth := tensor.Scalar(float32(3))
	mvtCheck(t, mvtOne(t, "OneHot", nil, idx, depth, vals), []int{3, 3}, []int32{0, 7, 0, 0, 0, 7, 0, 0, 0})
	mvtCheck(t, mvtOne(t, "OneHot", mvtAttrs{"axis": graph.IntAttr(0)}, idx, depth, vals), []int{3, 3}, []int32{0, 0, 0, 7, 0, 0, 0, 7, 0})
	fidx := mvtF32([]int{2, 1}, 0, 1)
	mvtCheck(t, mvtOne(t, "OneHot", mvtAttrs{"axis": graph.IntAttr(-2)}, fidx, mvtI64(2), vals), []int{2, 2, 1}, []int32{7, 0, 0, 7})
	mvtErr(t, "depth", "OneHot", nil, 1, idx, mvtI64(0), vals)
	mvtErr(t, "values", "OneHot", nil, 1, idx, depth, mvtI64(1))
	mvtErr(t, "axis 3", "OneHot", mvtAttrs{"axis": graph.IntAttr(3)}, 1, idx, depth, vals)
}

// ---- Trilu ------------------------------------------------------------------

func TestTrilu(t *testing.T) {
	x := mvtF32([]int{3, 4}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	mvtCheck(t, mvtOne(t, "Trilu", nil, x), []int{3, 4}, []float32{1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12})
	mvtCheck(t, mvtOne(t, "Trilu", nil, x, tensor.Scalar(int64(2))), []int{3, 4}, []float32{0, 0, 3, 4, 0, 0, 0, 8, 0, 0, 0, 0})
	lower := mvtAttrs{"upper": graph.IntAttr(0)}
	mvtCheck(t, mvtOne(t, "Trilu", lower, x), []int{3, 4}, []float32{1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0})
	mvtCheck(t, mvtOne(t, "Trilu", lower, x, tensor.Scalar(int64(-1))), []int{3, 4}, []float32{0, 0, 0, 0, 5, 0, 0, 0, 9, 10, 0, 0})
	mvtCheck(t, mvtOne(t, "Trilu", lower, x, tensor.Scalar(int64(-100))), []int{3, 4}, make([]float32, 12))
	b := mvtIota(2, 2, 2)
	mvtCheck(t, mvtOne(t, "Trilu", nil, b), []int{2, 2, 2}, []float32{0, 1, 0, 3, 4, 5, 0, 7})
	mvtErr(t, "rank >= 2", "Trilu", nil, 1, mvtIota(3))
	mvtErr(t, "k must be", "Trilu", nil, 1, x, mvtI64(1, 2))
}

// ---- NonZero ----------------------------------------------------------------

func TestNonZero(t *testing.T) {
	x := mvtF32([]int{2, 2}, 1, 0, float32(math.Copysign(0, -1)), float32(math.NaN()))
	mvtCheck(t, mvtOne(t, "NonZero", nil, x), []int{2, 2}, []int64{0, 1, 0, 1})
	b := tensor.FromSlice([]int{3}, []bool{false, true, true})
	mvtCheck(t, mvtOne(t, "NonZero", nil, b), []int{1, 2}, []int64{1, 2})
	h := tensor.FromSlice([]int{2}, []tensor.F16{0x8000, tensor.NewF16(2)})
	mvtCheck(t, mvtOne(t, "NonZero", nil, h), []int{1, 1}, []int64{1})
	mvtCheck(t, mvtOne(t, "NonZero", nil, tensor.Scalar(int32(5))), []int{1, 1}, []int64{0})
	mvtCheck(t, mvtOne(t, "NonZero", nil, mvtIota(0, 3)), []int{2, 0}, []int64{})
}

// ---- TopK -------------------------------------------------------------------

func TestTopK(t *testing.T) {
	x := mvtF32([]int{2, 4}, 3, 1, 3, 2, float32(math.NaN()), 5, -1, 5)
	outs, err := mvtRun("TopK", nil, 2, x, mvtI64(3))
	if err != nil {
		t.Fatal(err)
	}
	if v := outs[0].F32(); v[0] != 3 || v[1] != 3 || v[2] != 2 || v[3] != 5 || v[4] != 5 || v[5] != -1 {
		t.Fatalf("values %v", v)
	}
	mvtCheck(t, outs[1], []int{2, 3}, []int64{0, 2, 3, 1, 3, 2})
	outs, err = mvtRun("TopK", mvtAttrs{"largest": graph.IntAttr(0), "axis": graph.IntAttr(0)}, 2, x, mvtI64(1))
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[0], []int{1, 4}, []float32{3, 1, -1, 2})
	mvtCheck(t, outs[1], []int{1, 4}, []int64{0, 0, 1, 0})
	i := tensor.FromSlice([]int{5}, []int64{math.MaxInt64, math.MaxInt64 - 1, 0, -7, math.MaxInt64})
	outs, err = mvtRun("TopK", nil, 2, i, mvtI64(2))
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[1], []int{2}, []int64{0, 4})
	h := tensor.FromSlice([]int{3}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(3), tensor.NewF16(2)})
	outs, err = mvtRun("TopK", mvtAttrs{"largest": graph.IntAttr(0)}, 2, h, mvtI64(2))
	if err != nil {
		t.Fatal(err)
	}
	mvtCheck(t, outs[0], []int{2}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(2)})
	mvtErr(t, "out of range", "TopK", nil, 2, x, mvtI64(5))
	mvtErr(t, "unsupported dtype", "TopK", nil, 2, tensor.FromSlice([]int{1}, []string{"a"}), mvtI64(1))
}

func TestTopKLarge(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	d := make([]float32, 300*200)
	for i := range d {
		d[i] = float32(rng.Intn(50))
	}
	x := tensor.FromSlice([]int{300, 200}, d)
	outs, err := mvtRun("TopK", mvtAttrs{"axis": graph.IntAttr(0)}, 2, x, mvtI64(10))
	if err != nil {
		t.Fatal(err)
	}
	v, ix := outs[0].F32(), outs[1].I64()
	for c := 0; c < 200; c++ {
		for j := 1; j < 10; j++ {
			a, b := (j-1)*200+c, j*200+c
			if v[a] < v[b] || (v[a] == v[b] && ix[a] > ix[b]) || d[int(ix[b])*200+c] != v[b] {
				t.Fatalf("column %d not sorted/stable at %d", c, j)
			}
		}
	}
}

// ---- CumSum -----------------------------------------------------------------

func TestCumSum(t *testing.T) {
	x := mvtF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	ax1 := tensor.Scalar(int32(1))
	mvtCheck(t, mvtOne(t, "CumSum", nil, x, ax1), []int{2, 3}, []float32{1, 3, 6, 4, 9, 15})
	mvtCheck(t, mvtOne(t, "CumSum", nil, x, tensor.Scalar(int64(-2))), []int{2, 3}, []float32{1, 2, 3, 5, 7, 9})
	ex := mvtAttrs{"exclusive": graph.IntAttr(1)}
	mvtCheck(t, mvtOne(t, "CumSum", ex, x, ax1), []int{2, 3}, []float32{0, 1, 3, 0, 4, 9})
	rev := mvtAttrs{"exclusive": graph.IntAttr(1), "reverse": graph.IntAttr(1)}
	mvtCheck(t, mvtOne(t, "CumSum", rev, x, ax1), []int{2, 3}, []float32{5, 3, 0, 11, 6, 0})
	i := tensor.FromSlice([]int{3}, []int32{1, 2, 3})
	mvtCheck(t, mvtOne(t, "CumSum", mvtAttrs{"reverse": graph.IntAttr(1)}, i, mvtI64(0)), []int{3}, []int32{6, 5, 3})
	h := tensor.FromSlice([]int{2}, []tensor.BF16{tensor.NewBF16(1), tensor.NewBF16(2)})
	mvtCheck(t, mvtOne(t, "CumSum", nil, h, mvtI64(0)), []int{2}, []tensor.BF16{tensor.NewBF16(1), tensor.NewBF16(3)})
	mvtErr(t, "axis 2", "CumSum", nil, 1, x, mvtI64(2))
	mvtErr(t, "unsupported dtype", "CumSum", nil, 1, tensor.FromSlice([]int{1}, []bool{true}), mvtI64(0))
}
