package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// nntTol is the tolerance of float32 results against float64 references
// computed in a different summation order (sums of at most a few hundred
// products of values in [-1, 1]).
const nntTol = 1e-4

// nntOp creates op with attrs at opset; nOut sets the node's output count.
func nntOp(t *testing.T, op string, attrs map[string]*graph.Attr, opset int64, nOut int) (runtime.Op, error) {
	t.Helper()
	n := &graph.Node{OpType: op, Attrs: attrs}
	for i := 0; i < nOut; i++ {
		n.Outputs = append(n.Outputs, &graph.Value{Name: fmt.Sprintf("out%d", i)})
	}
	f := registry.Factory("", op)
	if f == nil {
		t.Fatalf("op %s is not registered", op)
	}
	return f(n, runtime.NodeInfo{Opset: opset})
}

// nntRun creates and runs op (opset 21, one output) with the given threads.
func nntRun(t *testing.T, op string, attrs map[string]*graph.Attr, threads int, in ...*tensor.Tensor) ([]*tensor.Tensor, error) {
	t.Helper()
	o, err := nntOp(t, op, attrs, 21, 1)
	if err != nil {
		return nil, err
	}
	return o.Run(runtime.NewContext(threads), in)
}

// nntMust runs op and fails the test on error.
func nntMust(t *testing.T, op string, attrs map[string]*graph.Attr, in ...*tensor.Tensor) *tensor.Tensor {
	t.Helper()
	out, err := nntRun(t, op, attrs, 2, in...)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	return out[0]
}

// nntFails runs op (or creates it) and fails the test unless it errors.
func nntFails(t *testing.T, op string, attrs map[string]*graph.Attr, in ...*tensor.Tensor) {
	t.Helper()
	if out, err := nntRun(t, op, attrs, 1, in...); err == nil {
		t.Fatalf("%s: expected an error, got %v", op, out)
	}
}

func nntF32(shape []int, v ...float32) *tensor.Tensor { return tensor.FromSlice(shape, v) }

func nntRandom(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.MustNew(tensor.Float32, shape...)
	for i := range t.F32() {
		t.F32()[i] = rng.Float32()*2 - 1
	}
	return t
}

// nntClose checks that got has shape want's shape and values within tol
// (absolute plus relative).
func nntClose(t *testing.T, got *tensor.Tensor, wantShape []int, want []float64, tol float64) {
	t.Helper()
	if !tensor.SameShape(got.Shape(), wantShape) {
		t.Fatalf("shape %v, want %v", got.Shape(), wantShape)
	}
	if got.Len() != len(want) {
		t.Fatalf("%d values, want %d", got.Len(), len(want))
	}
	for i, w := range want {
		g := got.Float64At(i)
		if math.Abs(g-w) > tol*(1+math.Abs(w)) || math.IsNaN(g) != math.IsNaN(w) {
			t.Fatalf("element %d = %v, want %v (tensor %v)", i, g, w, got)
		}
	}
}

func nntFloats(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = t.Float64At(i)
	}
	return out
}

func nntInts(vals ...int64) *graph.Attr { return graph.IntsAttr(vals...) }

// benchOp runs op on in for the benchmark's loop on threads, each run's
// outputs returned to the arena afterwards as a session returns them
// after their last reader: a fresh output buffer per run would time its
// page faults, not the op.
func benchOp(b *testing.B, op runtime.Op, threads int, in []*tensor.Tensor) {
	arena := runtime.NewArena()
	ctx := runtime.NewArenaContext(threads, arena)
	for b.Loop() {
		out, err := op.Run(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		ctx.EndOp(out)
		for _, t := range out {
			arena.Release(t)
		}
	}
}

// ---- Gemm ----

func TestGemmAttributes(t *testing.T) {
	a := nntF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)  // A
	at := nntF32([]int{3, 2}, 1, 4, 2, 5, 3, 6) // A^T
	b := nntF32([]int{3, 2}, 1, 0, 0, 1, 1, 1)  // B
	bt := nntF32([]int{2, 3}, 1, 0, 1, 0, 1, 1) // B^T
	ab := []float64{4, 5, 10, 11}               // A*B
	c := nntF32([]int{2}, 100, 200)             // broadcast over rows
	got := nntMust(t, "Gemm", nil, a, b)
	nntClose(t, got, []int{2, 2}, ab, 0)
	got = nntMust(t, "Gemm", map[string]*graph.Attr{"transA": graph.IntAttr(1), "transB": graph.IntAttr(1),
		"alpha": graph.FloatAttr(2), "beta": graph.FloatAttr(0.5)}, at, bt, c)
	nntClose(t, got, []int{2, 2}, []float64{58, 110, 70, 122}, 0)
	// C as a column [M, 1] and as a scalar.
	got = nntMust(t, "Gemm", nil, a, b, nntF32([]int{2, 1}, 1, 2))
	nntClose(t, got, []int{2, 2}, []float64{5, 6, 12, 13}, 0)
	got = nntMust(t, "Gemm", nil, a, b, tensor.Scalar[float32](1))
	nntClose(t, got, []int{2, 2}, []float64{5, 6, 11, 12}, 0)
}

func TestGemmDTypes(t *testing.T) {
	a64 := tensor.FromSlice([]int{1, 2}, []float64{1.5, 2})
	b64 := tensor.FromSlice([]int{2, 1}, []float64{2, 4})
	nntClose(t, nntMust(t, "Gemm", nil, a64, b64), []int{1, 1}, []float64{11}, 0)
	ai := tensor.FromSlice([]int{1, 2}, []int64{3, -2})
	bi := tensor.FromSlice([]int{2, 1}, []int64{5, 7})
	got := nntMust(t, "Gemm", map[string]*graph.Attr{"beta": graph.FloatAttr(2)}, ai, bi, tensor.Scalar[int64](10))
	if got.DType() != tensor.Int64 || got.I64()[0] != 21 {
		t.Fatalf("int64 Gemm = %v %v, want 21", got, got.I64())
	}
	h := func(v ...float32) *tensor.Tensor {
		d := make([]tensor.F16, len(v))
		for i, x := range v {
			d[i] = tensor.NewF16(x)
		}
		return tensor.FromSlice([]int{1, len(v)}, d)
	}
	hb, _ := h(0.5, 0.25).Reshape(2, 1)
	got = nntMust(t, "Gemm", nil, h(2, 4), hb)
	if got.DType() != tensor.Float16 || got.Float64At(0) != 2 {
		t.Fatalf("float16 Gemm = %v %v, want 2", got, got.Float64At(0))
	}
}

func TestGemmErrors(t *testing.T) {
	a := nntF32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	nntFails(t, "Gemm", nil, a, a)                         // 3 != 2
	nntFails(t, "Gemm", nil, a)                            // missing B
	nntFails(t, "Gemm", nil, a, nntF32([]int{3}, 1, 2, 3)) // B not a matrix
	nntFails(t, "Gemm", nil, a, tensor.FromSlice([]int{3, 1}, []float64{1, 2, 3}))
	nntFails(t, "Gemm", map[string]*graph.Attr{"transB": graph.IntAttr(1)}, a, a, nntF32([]int{3}, 1, 2, 3)) // C [3] vs [2,2]
	nntFails(t, "Gemm", nil, tensor.FromSlice([]int{1, 1}, []bool{true}), tensor.FromSlice([]int{1, 1}, []bool{true}))
}

// ---- MatMul ----

// nntMatMulRef computes numpy.matmul for float32 tensors in float64.
func nntMatMulRef(a, b *tensor.Tensor) ([]int, []float64) {
	p, err := newMatMulPlan(a.Shape(), b.Shape())
	if err != nil {
		panic(err)
	}
	// Recompute batch offsets independently of the plan's folding.
	as, bs := a.Shape(), b.Shape()
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch, _ := tensor.BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	bc := tensor.NewBroadcaster(batch, as[:len(as)-2], bs[:len(bs)-2])
	var out []float64
	for range tensor.Product(batch) {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				var s float64
				for q := 0; q < k; q++ {
					s += a.Float64At(bc.Off[0]*m*k+i*k+q) * b.Float64At(bc.Off[1]*k*n+q*n+j)
				}
				out = append(out, s)
			}
		}
		bc.Next()
	}
	return p.out, out
}

func TestMatMulShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []struct{ a, b, out []int }{
		{[]int{3}, []int{3}, []int{}},
		{[]int{3}, []int{3, 4}, []int{4}},
		{[]int{2, 3}, []int{3}, []int{2}},
		{[]int{5, 2, 3}, []int{3}, []int{5, 2}},
		{[]int{3}, []int{5, 3, 4}, []int{5, 4}},
		{[]int{2, 1, 4, 3}, []int{3, 3, 2}, []int{2, 3, 4, 2}},
		{[]int{4, 7, 9}, []int{9, 5}, []int{4, 7, 5}},    // folds into one GEMM
		{[]int{1, 7, 9}, []int{6, 9, 5}, []int{6, 7, 5}}, // A broadcast
		{[]int{0, 3}, []int{3, 4}, []int{0, 4}},
		{[]int{2, 0}, []int{0, 3}, []int{2, 3}}, // K = 0: zeros
	}
	for _, c := range cases {
		for _, threads := range []int{1, 3} {
			a, b := nntRandom(rng, c.a...), nntRandom(rng, c.b...)
			out, err := nntRun(t, "MatMul", nil, threads, a, b)
			if err != nil {
				t.Fatalf("%v x %v: %v", c.a, c.b, err)
			}
			shape, want := nntMatMulRef(a, b)
			if !tensor.SameShape(shape, c.out) {
				t.Fatalf("%v x %v: reference shape %v, want %v", c.a, c.b, shape, c.out)
			}
			nntClose(t, out[0], c.out, want, nntTol)
		}
	}
}

func TestMatMulDTypes(t *testing.T) {
	a := tensor.FromSlice([]int{2, 2}, []int32{1, 2, 3, 4})
	got := nntMust(t, "MatMul", nil, a, a)
	nntClose(t, got, []int{2, 2}, []float64{7, 10, 15, 22}, 0)
	u := tensor.FromSlice([]int{1, 2}, []uint64{1 << 40, 3})
	v := tensor.FromSlice([]int{2}, []uint64{2, 5})
	got = nntMust(t, "MatMul", nil, u, v)
	if got.Rank() != 1 || tensor.Data[uint64](got)[0] != 1<<41+15 {
		t.Fatalf("uint64 MatMul = %v %v", got, tensor.Data[uint64](got))
	}
	d := tensor.FromSlice([]int{2}, []float64{0.5, 0.25})
	nntClose(t, nntMust(t, "MatMul", nil, d, d), []int{}, []float64{0.3125}, 0)
}

func TestMatMulErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	nntFails(t, "MatMul", nil, nntRandom(rng, 2, 3), nntRandom(rng, 2, 3))
	nntFails(t, "MatMul", nil, tensor.Scalar[float32](1), nntRandom(rng, 1))
	nntFails(t, "MatMul", nil, nntRandom(rng, 2, 2, 3), nntRandom(rng, 3, 3, 1))
	nntFails(t, "MatMul", nil, nntRandom(rng, 2, 2), tensor.FromSlice([]int{2, 2}, []float64{1, 2, 3, 4}))
	nntFails(t, "MatMul", nil, tensor.FromSlice([]int{1}, []int8{1}), tensor.FromSlice([]int{1}, []int8{1}))
	nntFails(t, "MatMul", nil, nntRandom(rng, 2, 2))
}

// ---- Conv ----

// nntConvCase describes a convolution for the direct reference below.
type nntConvCase struct {
	x, w            []int // shapes
	strides, dil    []int
	pb, pe          []int // pads at the beginning / end of each spatial axis
	group           int
	autoPad         string
	wantOut         []int // expected spatial output
	bias, transpose bool
	outPad          []int // ConvTranspose only
}

func (c *nntConvCase) attrs() map[string]*graph.Attr {
	toI64 := func(v []int) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	at := map[string]*graph.Attr{
		"strides": nntInts(toI64(c.strides)...), "dilations": nntInts(toI64(c.dil)...),
		"group": graph.IntAttr(int64(c.group)),
	}
	if c.autoPad != "" {
		at["auto_pad"] = graph.StringAttr(c.autoPad)
	} else {
		at["pads"] = nntInts(append(toI64(c.pb), toI64(c.pe)...)...)
	}
	if c.outPad != nil {
		at["output_padding"] = nntInts(toI64(c.outPad)...)
	}
	return at
}

// nntConvRef is the direct definition of Conv: for every output cell and
// every weight tap, read the input cell if it lies inside the input.
func nntConvRef(c *nntConvCase, x, w, b *tensor.Tensor) []float64 {
	rank := len(c.x) - 2
	n, ch, m := c.x[0], c.x[1], c.w[0]
	cg, mg := ch/c.group, m/c.group
	out := c.wantOut
	outN, kN := tensor.Product(out), tensor.Product(c.w[2:])
	inSt, kSt := tensor.Strides(c.x[2:]), tensor.Strides(c.w[2:])
	outSt := tensor.Strides(out)
	res := make([]float64, n*m*outN)
	for bi := 0; bi < n; bi++ {
		for mi := 0; mi < m; mi++ {
			grp := mi / mg
			for o := 0; o < outN; o++ {
				s := 0.0
				if b != nil {
					s = b.Float64At(mi)
				}
				for ci := 0; ci < cg; ci++ {
					for k := 0; k < kN; k++ {
						off, inside := 0, true
						for a := 0; a < rank; a++ {
							oa, ka := o/outSt[a]%out[a], k/kSt[a]%c.w[2+a]
							ia := oa*c.strides[a] + ka*c.dil[a] - c.pb[a]
							if ia < 0 || ia >= c.x[2+a] {
								inside = false
								break
							}
							off += ia * inSt[a]
						}
						if inside {
							xv := x.Float64At((bi*ch+grp*cg+ci)*tensor.Product(c.x[2:]) + off)
							s += xv * w.Float64At((mi*cg+ci)*kN+k)
						}
					}
				}
				res[(bi*m+mi)*outN+o] = s
			}
		}
	}
	return res
}

func nntConvCases() []nntConvCase {
	return []nntConvCase{
		{x: []int{2, 3, 9}, w: []int{4, 3, 3}, strides: []int{2}, dil: []int{1}, pb: []int{1}, pe: []int{0}, group: 1, wantOut: []int{4}, bias: true},
		{x: []int{1, 4, 7, 6}, w: []int{6, 2, 3, 2}, strides: []int{1, 2}, dil: []int{2, 1}, pb: []int{2, 0}, pe: []int{1, 1}, group: 2, wantOut: []int{6, 3}, bias: true},
		{x: []int{1, 3, 5, 5}, w: []int{5, 3, 1, 1}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{5, 5}},             // pointwise
		{x: []int{2, 4, 6, 5}, w: []int{4, 1, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 4, wantOut: []int{6, 5}, bias: true}, // depthwise
		{x: []int{1, 2, 7, 7}, w: []int{6, 1, 3, 3}, strides: []int{2, 3}, dil: []int{2, 1}, pb: []int{3, 0}, pe: []int{0, 2}, group: 2, wantOut: []int{3, 3}},             // depthwise, multiplier 3
		{x: []int{1, 2, 4, 5, 3}, w: []int{3, 2, 2, 3, 2}, strides: []int{1, 2, 1}, dil: []int{1, 1, 2}, pb: []int{1, 0, 1}, pe: []int{0, 1, 1}, group: 1, wantOut: []int{4, 2, 3}, bias: true},
		// SAME: out = ceil(in/stride); total padding 2 on axis 0, 1 on axis 1 (UPPER: at the end).
		{x: []int{1, 3, 7, 9}, w: []int{2, 3, 3, 4}, strides: []int{2, 3}, dil: []int{1, 1}, pb: []int{1, 0}, pe: []int{1, 1}, group: 1, autoPad: "SAME_UPPER", wantOut: []int{4, 3}},
		{x: []int{1, 3, 7, 9}, w: []int{2, 3, 3, 4}, strides: []int{2, 3}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 0}, group: 1, autoPad: "SAME_LOWER", wantOut: []int{4, 3}},
		{x: []int{1, 3, 7, 9}, w: []int{2, 3, 3, 4}, strides: []int{2, 3}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 0}, group: 1, autoPad: "VALID", wantOut: []int{3, 2}},
		{x: []int{1, 70, 5, 5}, w: []int{33, 70, 3, 3}, strides: []int{1, 1}, dil: []int{1, 1}, pb: []int{1, 1}, pe: []int{1, 1}, group: 1, wantOut: []int{5, 5}, bias: true}, // K > one block row
	}
}

func TestConvAgainstDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for i, c := range nntConvCases() {
		x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
		in := []*tensor.Tensor{x, w}
		var b *tensor.Tensor
		if c.bias {
			b = nntRandom(rng, c.w[0])
			in = append(in, b)
		}
		want := nntConvRef(&c, x, w, b)
		wantShape := append([]int{c.x[0], c.w[0]}, c.wantOut...)
		for _, threads := range []int{1, 2} {
			out, err := nntRun(t, "Conv", c.attrs(), threads, in...)
			if err != nil {
				t.Fatalf("case %d: %v", i, err)
			}
			t.Logf("case %d, %d threads", i, threads)
			nntClose(t, out[0], wantShape, want, nntTol)
		}
		// float64 gives the same result more precisely.
		in64 := make([]*tensor.Tensor, len(in))
		for j, tt := range in {
			in64[j] = tensor.FromSlice(tt.Shape(), nntFloats(tt))
		}
		out, err := nntRun(t, "Conv", c.attrs(), 1, in64...)
		if err != nil || out[0].DType() != tensor.Float64 {
			t.Fatalf("case %d float64: %v %v", i, err, out)
		}
		nntClose(t, out[0], wantShape, want, 1e-12)
	}
}

func TestConvFloat16(t *testing.T) {
	x := tensor.FromSlice([]int{1, 1, 3}, []tensor.F16{tensor.NewF16(1), tensor.NewF16(2), tensor.NewF16(3)})
	w := tensor.FromSlice([]int{1, 1, 2}, []tensor.F16{tensor.NewF16(0.5), tensor.NewF16(-1)})
	got := nntMust(t, "Conv", nil, x, w)
	if got.DType() != tensor.Float16 {
		t.Fatalf("dtype %v, want float16", got.DType())
	}
	nntClose(t, got, []int{1, 1, 2}, []float64{-1.5, -2}, 0)
}

func TestConvErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, w := nntRandom(rng, 1, 4, 5, 5), nntRandom(rng, 2, 4, 3, 3)
	nntFails(t, "Conv", nil, x, nntRandom(rng, 2, 3, 3, 3))                                      // channels
	nntFails(t, "Conv", map[string]*graph.Attr{"group": graph.IntAttr(3)}, x, w)                 // group
	nntFails(t, "Conv", map[string]*graph.Attr{"group": graph.IntAttr(0)}, x, w)                 // group 0
	nntFails(t, "Conv", map[string]*graph.Attr{"kernel_shape": nntInts(2, 2)}, x, w)             // kernel_shape
	nntFails(t, "Conv", map[string]*graph.Attr{"strides": nntInts(0, 1)}, x, w)                  // stride 0
	nntFails(t, "Conv", map[string]*graph.Attr{"pads": nntInts(1, 1)}, x, w)                     // pads length
	nntFails(t, "Conv", map[string]*graph.Attr{"auto_pad": graph.StringAttr("SAME")}, x, w)      // auto_pad
	nntFails(t, "Conv", nil, x, w, nntRandom(rng, 3))                                            // bias shape
	nntFails(t, "Conv", nil, nntRandom(rng, 1, 4, 2, 2), w)                                      // kernel > input
	nntFails(t, "Conv", nil, nntRandom(rng, 4, 5), nntRandom(rng, 2, 5))                         // no spatial dims
	nntFails(t, "Conv", nil, nntRandom(rng, 1, 1, 2, 2, 2, 2), nntRandom(rng, 1, 1, 1, 1, 1, 1)) // 4 spatial dims
	nntFails(t, "Conv", nil, x, tensor.FromSlice([]int{1, 4, 1, 1}, []float64{1, 2, 3, 4}))      // dtype mismatch
}

// ---- ConvTranspose ----

// nntConvTransposeRef is the scatter definition of ConvTranspose: every
// input cell adds x * w to output cell i*s + k*d - pb when it lies inside.
func nntConvTransposeRef(c *nntConvCase, x, w, b *tensor.Tensor) []float64 {
	rank := len(c.x) - 2
	n, ch := c.x[0], c.x[1]
	cg, mg := ch/c.group, c.w[1]
	m := mg * c.group
	out := c.wantOut
	outN, inN, kN := tensor.Product(out), tensor.Product(c.x[2:]), tensor.Product(c.w[2:])
	inSt, kSt, outSt := tensor.Strides(c.x[2:]), tensor.Strides(c.w[2:]), tensor.Strides(out)
	res := make([]float64, n*m*outN)
	for bi := 0; bi < n; bi++ {
		for mi := 0; mi < m; mi++ {
			for o := 0; o < outN; o++ {
				if b != nil {
					res[(bi*m+mi)*outN+o] = b.Float64At(mi)
				}
			}
		}
		for ci := 0; ci < ch; ci++ {
			grp := ci / cg
			for i := 0; i < inN; i++ {
				xv := x.Float64At((bi*ch+ci)*inN + i)
				for ml := 0; ml < mg; ml++ {
					mi := grp*mg + ml
					for k := 0; k < kN; k++ {
						off, inside := 0, true
						for a := 0; a < rank; a++ {
							ia, ka := i/inSt[a]%c.x[2+a], k/kSt[a]%c.w[2+a]
							oa := ia*c.strides[a] + ka*c.dil[a] - c.pb[a]
							if oa < 0 || oa >= out[a] {
								inside = false
								break
							}
							off += oa * outSt[a]
						}
						if inside {
							res[(bi*m+mi)*outN+off] += xv * w.Float64At((ci*mg+ml)*kN+k)
						}
					}
				}
			}
		}
	}
	return res
}

func TestConvTransposeAgainstScatter(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	cases := []nntConvCase{
		{x: []int{2, 3, 4}, w: []int{3, 2, 3}, strides: []int{2}, dil: []int{1}, pb: []int{1}, pe: []int{0}, group: 1, wantOut: []int{8}, bias: true},
		{x: []int{1, 4, 3, 4}, w: []int{4, 3, 2, 3}, strides: []int{3, 2}, dil: []int{2, 1}, pb: []int{0, 1}, pe: []int{1, 2}, group: 2, wantOut: []int{9, 7}, outPad: []int{1, 1}},
		{x: []int{1, 2, 2, 3, 2}, w: []int{2, 2, 2, 2, 3}, strides: []int{1, 2, 2}, dil: []int{1, 1, 1}, pb: []int{0, 0, 1}, pe: []int{0, 0, 1}, group: 1, wantOut: []int{3, 6, 3}, bias: true},
		// SAME_UPPER: out = in*stride, total padding 3*(3-1)+3-9 = 0 on axis 0, 2*(3-1)+3-6 = 1 on axis 1 (at the end).
		{x: []int{1, 1, 3, 3}, w: []int{1, 2, 3, 3}, strides: []int{3, 2}, dil: []int{1, 1}, pb: []int{0, 0}, pe: []int{0, 1}, group: 1, autoPad: "SAME_UPPER", wantOut: []int{9, 6}},
		// SAME_LOWER puts the odd cell at the beginning.
		{x: []int{1, 1, 3, 3}, w: []int{1, 2, 3, 3}, strides: []int{3, 2}, dil: []int{1, 1}, pb: []int{0, 1}, pe: []int{0, 0}, group: 1, autoPad: "SAME_LOWER", wantOut: []int{9, 6}},
	}
	for i, c := range cases {
		c.transpose = true
		x, w := nntRandom(rng, c.x...), nntRandom(rng, c.w...)
		in := []*tensor.Tensor{x, w}
		var b *tensor.Tensor
		if c.bias {
			b = nntRandom(rng, c.w[1]*c.group)
			in = append(in, b)
		}
		want := nntConvTransposeRef(&c, x, w, b)
		out, err := nntRun(t, "ConvTranspose", c.attrs(), 2, in...)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		nntClose(t, out[0], append([]int{c.x[0], c.w[1] * c.group}, c.wantOut...), want, nntTol)
	}
}

func TestConvTransposeOutputShape(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	x, w := nntRandom(rng, 1, 1, 3, 3), nntRandom(rng, 1, 2, 3, 3)
	// Full output is 9x7; output_shape 10x8 adds a row and column at the end
	// (bias only), 8x5 crops 1 at the beginning / 1 at each side.
	c := nntConvCase{x: []int{1, 1, 3, 3}, w: []int{1, 2, 3, 3}, strides: []int{3, 2}, dil: []int{1, 1},
		pb: []int{0, 0}, pe: []int{0, 0}, group: 1, wantOut: []int{10, 8}}
	attrs := map[string]*graph.Attr{"strides": nntInts(3, 2), "output_shape": nntInts(10, 8)}
	nntClose(t, nntMust(t, "ConvTranspose", attrs, x, w), []int{1, 2, 10, 8}, nntConvTransposeRef(&c, x, w, nil), nntTol)
	c.wantOut, c.pb = []int{8, 5}, []int{1, 1}
	attrs["output_shape"] = nntInts(1, 2, 8, 5)
	nntClose(t, nntMust(t, "ConvTranspose", attrs, x, w), []int{1, 2, 8, 5}, nntConvTransposeRef(&c, x, w, nil), nntTol)
}

func TestConvTransposeErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 3))
	x, w := nntRandom(rng, 1, 2, 3, 3), nntRandom(rng, 2, 1, 3, 3)
	nntFails(t, "ConvTranspose", nil, x, nntRandom(rng, 3, 1, 3, 3))                             // channels
	nntFails(t, "ConvTranspose", map[string]*graph.Attr{"output_padding": nntInts(1)}, x, w)     // length
	nntFails(t, "ConvTranspose", map[string]*graph.Attr{"output_shape": nntInts(4, 4, 4)}, x, w) // length
	nntFails(t, "ConvTranspose", map[string]*graph.Attr{"pads": nntInts(3, 3, 3, 3)}, x, w)      // negative output
	nntFails(t, "ConvTranspose", map[string]*graph.Attr{"output_padding": nntInts(-1, 0)}, x, w) // negative
	nntFails(t, "ConvTranspose", map[string]*graph.Attr{"group": graph.IntAttr(-2)}, x, w)       // group
	nntFails(t, "ConvTranspose", nil, x, w, nntRandom(rng, 2))                                   // bias
	nntFails(t, "ConvTranspose", nil, tensor.FromSlice([]int{1, 1, 1}, []int32{1}), tensor.FromSlice([]int{1, 1, 1}, []int32{1}))
}

func BenchmarkConv3x3(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, w := nntRandom(rng, 1, 64, 56, 56), nntRandom(rng, 64, 64, 3, 3)
	op, err := registry.Factory("", "Conv")(&graph.Node{OpType: "Conv", Attrs: map[string]*graph.Attr{"pads": nntInts(1, 1, 1, 1)}}, runtime.NodeInfo{Opset: 13})
	if err != nil {
		b.Fatal(err)
	}
	benchOp(b, op, 1, []*tensor.Tensor{x, w})
	b.ReportMetric(2*64*64*9*56*56*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// TestNNOpsNeverPanic feeds every op of this family combinations of odd
// inputs (rank 0, empty dimensions, mismatched dtypes and ranks): each must
// return a result or an error, never panic.
func TestNNOpsNeverPanic(t *testing.T) {
	pool := []*tensor.Tensor{
		tensor.Scalar[float32](1),
		tensor.MustNew(tensor.Float32, 0),
		tensor.MustNew(tensor.Float32, 1, 1, 0, 0),
		nntSeq(2, 3),
		nntSeq(1, 2, 3, 3),
		tensor.MustNew(tensor.Uint8, 1, 2, 3, 3),
		tensor.FromSlice([]int{2}, []int64{2, 2}),
		tensor.MustNew(tensor.Float16, 1, 2, 0, 3),
	}
	win := map[string]*graph.Attr{"kernel_shape": nntInts(1, 1), "size": graph.IntAttr(1)}
	ops := []string{"Gemm", "MatMul", "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool",
		"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "BatchNormalization", "LayerNormalization",
		"InstanceNormalization", "LRN", "MeanVarianceNormalization", "LpNormalization", "QuantizeLinear",
		"DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "QLinearMatMul", "ConvInteger", "QLinearConv"}
	for _, op := range ops {
		for _, attrs := range []map[string]*graph.Attr{nil, win} {
			o, err := nntOp(t, op, attrs, 21, 3)
			if err != nil {
				continue
			}
			var try func(in []*tensor.Tensor)
			try = func(in []*tensor.Tensor) {
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s %v panicked on %v: %v", op, attrs, in, r)
						}
					}()
					_, _ = o.Run(runtime.NewContext(2), in)
				}()
				if len(in) < 3 {
					for _, x := range pool {
						try(append(append([]*tensor.Tensor(nil), in...), x))
					}
				}
			}
			try(nil)
		}
	}
}

// BenchmarkDepthwise times the depthwise 3x3 convolutions of the ONNX zoo's
// ShuffleNet (Conv with group = channels, the weights a constant) at one
// thread, the output returned to the arena after each run as a session
// does.
func BenchmarkDepthwise(b *testing.B) {
	for _, s := range []struct {
		c, hw, stride int
	}{{112, 56, 2}, {136, 28, 1}, {136, 28, 2}, {272, 14, 1}, {272, 14, 2}, {544, 7, 1}} {
		rng := rand.New(rand.NewPCG(1, 1))
		x, w := nntRandom(rng, 1, s.c, s.hw, s.hw), nntRandom(rng, s.c, 1, 3, 3)
		attrs := map[string]*graph.Attr{"pads": nntInts(1, 1, 1, 1), "strides": nntInts(int64(s.stride), int64(s.stride)),
			"group": graph.IntAttr(int64(s.c))}
		n := &graph.Node{OpType: "Conv", Attrs: attrs, Inputs: []*graph.Value{{Name: "x"}, {Name: "w", Const: w}}}
		op, err := registry.Factory("", "Conv")(n, runtime.NodeInfo{Opset: 13})
		if err != nil {
			b.Fatal(err)
		}
		oh := (s.hw+2-3)/s.stride + 1
		b.Run(fmt.Sprintf("c%d-%dx%d-s%d", s.c, s.hw, s.hw, s.stride), func(b *testing.B) {
			benchOp(b, op, 1, []*tensor.Tensor{x, w})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(s.c), "ns/plane")
			b.ReportMetric(2*9*float64(s.c*oh*oh)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGemmBatch1 times a classifier's Gemm at batch 1 (ResNet-50's:
// [1, 2048] x W^T, W [1000, 2048] a constant, with a bias) at one and two
// threads: a matrix-vector product bound by reading W's 8 MB. As in a
// model, whose other weights evict W from the caches between runs, each
// run reads another of 6 such Gemms (48 MB together, past any L3 here).
func BenchmarkGemmBatch1(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, k, copies = 1000, 2048, 6
	x := nntRandom(rng, 1, k)
	ops := make([]runtime.Op, copies)
	ins := make([][]*tensor.Tensor, copies)
	for i := range ops {
		w, c := nntRandom(rng, n, k), nntRandom(rng, n)
		node := &graph.Node{OpType: "Gemm", Attrs: map[string]*graph.Attr{"transB": graph.IntAttr(1)},
			Inputs: []*graph.Value{{Name: "x"}, {Name: "w", Const: w}, {Name: "c", Const: c}}}
		op, err := registry.Factory("", "Gemm")(node, runtime.NodeInfo{Opset: 13})
		if err != nil {
			b.Fatal(err)
		}
		ops[i], ins[i] = op, []*tensor.Tensor{x, w, c}
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			arena := runtime.NewArena()
			ctx := runtime.NewArenaContext(threads, arena)
			i := 0
			for b.Loop() {
				out, err := ops[i%copies].Run(ctx, ins[i%copies])
				if err != nil {
					b.Fatal(err)
				}
				ctx.EndOp(out)
				arena.Release(out[0])
				i++
			}
			b.ReportMetric(float64(n*k*4)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
