//go:build gcompress_cuda

package backend

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// The backend tests run small graphs on the CPU backend and on the CUDA
// backend and compare, and check where each node ran. They need a GPU.

var testB *Backend

func TestMain(m *testing.M) {
	dev, err := cuda.Open(0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cuda backend tests:", err)
		os.Exit(1)
	}
	dev.SyncLaunches = true
	if testB, err = New(dev, cpu.Backend()); err != nil {
		fmt.Fprintln(os.Stderr, "cuda backend tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	r := testB.Report()
	r.Write(os.Stdout)
	os.Exit(code)
}

// oneNode builds a model with a single node whose first input is the graph
// input x (dtype dt, shape) and whose other inputs are initializers (nil
// for an omitted optional input).
func oneNode(op string, dt tensor.DType, shape []int, consts []*tensor.Tensor, attrs map[string]*graph.Attr) *graph.Model {
	g := graph.NewGraph(op)
	x := g.GetOrAddValue("x")
	x.DType, x.HasShape = dt, true
	x.Shape = graph.KnownDims(shape...)
	g.Inputs = []*graph.Value{x}
	ins := []*graph.Value{x}
	for i, c := range consts {
		if c == nil {
			ins = append(ins, nil)
			continue
		}
		ins = append(ins, g.AddInitializer(fmt.Sprintf("c%d", i), c))
	}
	y := g.GetOrAddValue("y")
	g.AddNode(op, ins, []*graph.Value{y}, attrs)
	g.Outputs = []*graph.Value{y}
	return graph.NewModel(g, 17)
}

// runBoth runs m on the CPU and on the CUDA backend.
func runBoth(t *testing.T, m *graph.Model, x *tensor.Tensor) (cpuOut, gpuOut *tensor.Tensor) {
	t.Helper()
	var outs [2]*tensor.Tensor
	for i, b := range []runtime.Backend{cpu.Backend(), testB} {
		s, err := runtime.NewSession(m, b, runtime.Options{Threads: 4})
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		o, err := s.Run(map[string]*tensor.Tensor{"x": x})
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		outs[i] = o[0]
	}
	return outs[0], outs[1]
}

func randTensor(r *rand.Rand, dt tensor.DType, shape ...int) *tensor.Tensor {
	t := tensor.MustNew(dt, shape...)
	switch d := t.Data().(type) {
	case []int8:
		for i := range d {
			d[i] = int8(r.IntN(256) - 128)
		}
	case []float32:
		for i := range d {
			d[i] = float32(r.NormFloat64() * 3)
		}
	case []tensor.F16:
		for i := range d {
			d[i] = tensor.NewF16(float32(r.Float64()*2 - 1))
		}
	}
	return t
}

// placement is op's row of the backend's report so far.
func placement(op string) OpRuns {
	for _, o := range testB.Report().Ops {
		if o.Op == op {
			return o
		}
	}
	return OpRuns{}
}

func gpuRuns(op string) int64 { return placement(op).GPU }

func TestMatMulIntegerOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	w := randTensor(r, tensor.Int8, 40, 24)
	m := oneNode("MatMulInteger", tensor.Int8, []int{3, 5, 40}, []*tensor.Tensor{w}, nil)
	before := gpuRuns("MatMulInteger")
	c, g := runBoth(t, m, randTensor(r, tensor.Int8, 3, 5, 40))
	if d := compare(t, c, g, 0); d != 0 {
		t.Fatalf("%d elements differ", d)
	}
	if gpuRuns("MatMulInteger") != before+1 {
		t.Fatal("MatMulInteger did not run on the GPU")
	}
}

func TestQLinearMatMulOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	bs := tensor.MustNew(tensor.Float32, 10)
	for i := range bs.F32() {
		bs.F32()[i] = float32(0.001 + 0.01*r.Float64())
	}
	consts := []*tensor.Tensor{
		tensor.Scalar(float32(0.02)), tensor.Scalar(int8(0)), randTensor(r, tensor.Int8, 33, 10), bs,
		tensor.MustNew(tensor.Int8, 10), tensor.Scalar(float32(0.1)), tensor.Scalar(int8(3)),
	}
	m := oneNode("QLinearMatMul", tensor.Int8, []int{17, 33}, consts, nil)
	c, g := runBoth(t, m, randTensor(r, tensor.Int8, 17, 33))
	d := compare(t, c, g, 1) // float32 vs float64 rounding of a tie
	t.Logf("%d of %d outputs differ by one from the CPU backend", d, c.Len())
}

func TestHalfMatMulOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	m := oneNode("MatMul", tensor.Float16, []int{9, 50}, []*tensor.Tensor{randTensor(r, tensor.Float16, 50, 30)}, nil)
	c, g := runBoth(t, m, randTensor(r, tensor.Float16, 9, 50))
	if e := nmse(c, g); !(e < 1e-5) {
		t.Fatalf("NMSE %g", e)
	}
}

// nmse is Σ(got-want)² / Σ want².
func nmse(want, got *tensor.Tensor) float64 {
	var num, den float64
	for i := 0; i < want.Len(); i++ {
		d := want.Float64At(i) - got.Float64At(i)
		num += d * d
		den += want.Float64At(i) * want.Float64At(i)
	}
	return num / den
}

func TestElementwiseOpsOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	x := randTensor(r, tensor.Float32, 4, 7, 33)
	cases := []struct {
		m   *graph.Model
		x   *tensor.Tensor
		tol float64
	}{
		{oneNode("Softmax", tensor.Float32, []int{4, 7, 33}, nil, map[string]*graph.Attr{"axis": graph.IntAttr(-1)}), x, 1e-6},
		{oneNode("Relu", tensor.Float32, []int{4, 7, 33}, nil, nil), x, 0},
		{oneNode("Add", tensor.Float32, []int{4, 7, 33}, []*tensor.Tensor{randTensor(r, tensor.Float32, 4, 7, 33)}, nil), x, 0},
		{oneNode("QuantizeLinear", tensor.Float32, []int{4, 7, 33},
			[]*tensor.Tensor{tensor.FromSlice([]int{7}, []float32{0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1}), tensor.FromSlice([]int{7}, []int8{0, 1, -1, 5, -5, 0, 2})},
			map[string]*graph.Attr{"axis": graph.IntAttr(1)}), x, 0},
		{oneNode("DequantizeLinear", tensor.Int8, []int{4, 7, 33}, []*tensor.Tensor{tensor.Scalar(float32(0.03)), tensor.Scalar(int8(-4))}, nil),
			randTensor(r, tensor.Int8, 4, 7, 33), 0},
	}
	for _, c := range cases {
		op := c.m.Graph.Nodes[0].OpType
		before := gpuRuns(op)
		cpuOut, gpuOut := runBoth(t, c.m, c.x)
		compare(t, cpuOut, gpuOut, c.tol)
		if gpuRuns(op) != before+1 {
			t.Errorf("%s did not run on the GPU", op)
		}
	}
}

// TestFallback: an op without a kernel, and a call the kernel cannot take,
// run on the CPU inside a CUDA session.
func TestFallback(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	x := randTensor(r, tensor.Float32, 3, 4)
	c, g := runBoth(t, oneNode("Sigmoid", tensor.Float32, []int{3, 4}, nil, nil), x)
	compare(t, c, g, 0)
	// Add with broadcasting: the GPU kernel takes same-shape inputs only.
	before := gpuRuns("Add")
	c, g = runBoth(t, oneNode("Add", tensor.Float32, []int{3, 4}, []*tensor.Tensor{randTensor(r, tensor.Float32, 4)}, nil), x)
	compare(t, c, g, 0)
	if gpuRuns("Add") != before {
		t.Error("broadcasting Add ran on the GPU")
	}
	rep := testB.Report()
	for _, o := range rep.Ops {
		if o.Op == "Sigmoid" && (o.CPU == 0 || o.GPU != 0) {
			t.Errorf("Sigmoid placement %+v", o)
		}
	}
	if rep.Transfers.HostToDevice == 0 || rep.Transfers.DeviceToHost == 0 {
		t.Errorf("no transfers counted: %+v", rep.Transfers)
	}
}

// prune24 zeroes, in every column of the K x N weight w, two of every four
// consecutive elements along K (the last group may be short).
func prune24(r *rand.Rand, w *tensor.Tensor) *tensor.Tensor {
	k, n := w.Shape()[0], w.Shape()[1]
	raw, es := w.RawBytes(), int(w.DType().Size())
	for j := 0; j < n; j++ {
		for g := 0; g < k; g += 4 {
			for _, c := range r.Perm(4)[:2] {
				if p := g + c; p < k {
					clear(raw[(p*n+j)*es : (p*n+j+1)*es])
				}
			}
		}
	}
	return w
}

func sparseNodes(op string) int { return placement(op).Sparse24Nodes }

// TestSparse24WeightsOnGPU: a constant weight that is 2:4 along K runs on
// the 2:4 GEMMs (transposed: the weight as their sparse operand) and gives
// what the CPU gives; K that is not a multiple of the 2:4 format's
// alignment is padded.
func TestSparse24WeightsOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	bs := tensor.MustNew(tensor.Float32, 12)
	for i := range bs.F32() {
		bs.F32()[i] = float32(0.001 + 0.01*r.Float64())
	}
	cases := []struct {
		m   *graph.Model
		x   *tensor.Tensor
		tol float64 // absolute; -1: by NMSE
	}{
		{oneNode("MatMulInteger", tensor.Int8, []int{3, 5, 256}, []*tensor.Tensor{prune24(r, randTensor(r, tensor.Int8, 256, 40))}, nil),
			randTensor(r, tensor.Int8, 3, 5, 256), 0},
		{oneNode("QLinearMatMul", tensor.Int8, []int{17, 100}, []*tensor.Tensor{
			tensor.Scalar(float32(0.02)), tensor.Scalar(int8(0)), prune24(r, randTensor(r, tensor.Int8, 100, 12)), bs,
			tensor.MustNew(tensor.Int8, 12), tensor.Scalar(float32(0.1)), tensor.Scalar(int8(3))}, nil),
			randTensor(r, tensor.Int8, 17, 100), 1},
		{oneNode("MatMul", tensor.Float16, []int{9, 70}, []*tensor.Tensor{prune24(r, randTensor(r, tensor.Float16, 70, 30))}, nil),
			randTensor(r, tensor.Float16, 9, 70), -1},
	}
	for _, c := range cases {
		op := c.m.Graph.Nodes[0].OpType
		before, runs := sparseNodes(op), gpuRuns(op)
		cpuOut, gpuOut := runBoth(t, c.m, c.x)
		if sparseNodes(op) != before+1 || gpuRuns(op) != runs+1 {
			t.Errorf("%s: %d 2:4 nodes and %d GPU runs more, want 1 and 1", op, sparseNodes(op)-before, gpuRuns(op)-runs)
		}
		if c.tol >= 0 {
			compare(t, cpuOut, gpuOut, c.tol)
			continue
		}
		if e := nmse(cpuOut, gpuOut); !(e < 1e-5) {
			t.Errorf("%s: NMSE %g", op, e)
		}
	}
	// GCOMPRESS_SPARSE24=off: the same weight on the dense GEMMs.
	testB.sparse24 = Sparse24Off
	defer func() { testB.sparse24 = Sparse24On }()
	before := sparseNodes("MatMulInteger")
	cpuOut, gpuOut := runBoth(t, cases[0].m, cases[0].x)
	compare(t, cpuOut, gpuOut, 0)
	if sparseNodes("MatMulInteger") != before {
		t.Error("with the 2:4 path off, a 2:4 weight ran on the 2:4 GEMMs")
	}
	// GCOMPRESS_SPARSE24=auto: the int8 and the f16 weight with the GEMMs
	// timed for real, then in one session run twice with a timer that makes
	// the 2:4 GEMM, then the dense one, the faster: the outputs are the
	// CPU's whichever runs, and each GEMM is timed once, on the first run.
	testB.sparse24 = Sparse24Auto
	for _, c := range []int{0, 2} {
		x := cases[c].x
		k := x.Shape()[x.Rank()-1]
		check := func(what string, cpuOut, gpuOut *tensor.Tensor) {
			if cases[c].tol >= 0 {
				compare(t, cpuOut, gpuOut, cases[c].tol)
			} else if e := nmse(cpuOut, gpuOut); !(e < 1e-5) {
				t.Errorf("auto, case %d, %s: NMSE %g", c, what, e)
			}
		}
		choices := len(testB.Report().Sparse24Auto)
		cpuOut, gpuOut := runBoth(t, cases[c].m, x)
		check("timed", cpuOut, gpuOut)
		if got := testB.Report().Sparse24Auto[choices:]; len(got) != 1 || got[0].SparseMS <= 0 || got[0].DenseMS <= 0 {
			t.Errorf("auto, case %d: choices %+v", c, got)
		} else {
			t.Logf("auto, case %d: %+v", c, got[0])
		}
		for _, sparseFaster := range []bool{true, false} {
			timings := 0
			testB.time = func(launch func() error) (time.Duration, error) {
				timings++
				if err := launch(); err != nil {
					return 0, err
				}
				if (timings == 1) == sparseFaster { // the 2:4 GEMM is timed first
					return time.Millisecond, nil
				}
				return 2 * time.Millisecond, nil
			}
			s, err := runtime.NewSession(cases[c].m, testB, runtime.Options{Threads: 4})
			if err != nil {
				t.Fatal(err)
			}
			choices := len(testB.Report().Sparse24Auto)
			for run := 0; run < 2; run++ {
				o, err := s.Run(map[string]*tensor.Tensor{"x": x})
				if err != nil {
					t.Fatalf("auto, case %d: %v", c, err)
				}
				check(fmt.Sprintf("2:4 faster %v, run %d", sparseFaster, run), cpuOut, o[0])
			}
			testB.time = testB.timeLaunch
			got := testB.Report().Sparse24Auto[choices:]
			if timings != 2 || len(got) != 1 || got[0].Sparse != sparseFaster || got[0].K != k || got[0].Rows != x.Len()/k {
				t.Errorf("auto, case %d, 2:4 faster %v: %d timings, choices %+v; want 2 and one at %d rows of K %d", c, sparseFaster,
					timings, got, x.Len()/k, k)
			}
		}
	}
}

// TestQGemmOnGPU: com.microsoft QGemm (what `gcompress quantize` lowers
// Gemm and 2-D MatMul layers to) runs on the GPU and gives the CPU's
// outputs, within one for a quantized output: uint8 A and output, a
// per-column weight scale, C, transB, with a dense and a 2:4 weight; and
// int8 A with a float output.
func TestQGemmOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	u8 := func(shape ...int) *tensor.Tensor { return randBytes(r, tensor.Uint8, shape...) }
	bias := make([]int32, 24)
	for j := range bias {
		bias[j] = int32(r.IntN(2001) - 1000)
	}
	bs := tensor.MustNew(tensor.Float32, 24)
	for i := range bs.F32() {
		bs.F32()[i] = float32(0.001 + 0.01*r.Float64())
	}
	for _, c := range []struct {
		name   string
		w      *tensor.Tensor // [N, K] (transB)
		a      *tensor.Tensor
		consts func(w *tensor.Tensor) []*tensor.Tensor
		sparse bool
		tol    float64
	}{
		{"uint8, dense", randTensor(r, tensor.Int8, 24, 96), u8(10, 96), func(w *tensor.Tensor) []*tensor.Tensor {
			return []*tensor.Tensor{tensor.Scalar(float32(0.02)), tensor.Scalar(uint8(131)), w, bs, tensor.Scalar(int8(0)),
				tensor.FromSlice([]int{24}, bias), tensor.Scalar(float32(0.2)), tensor.Scalar(uint8(120))}
		}, false, 1},
		{"uint8, 2:4", tensor.TransposeInt8Matrix(prune24(r, randTensor(r, tensor.Int8, 96, 24))), u8(10, 96), func(w *tensor.Tensor) []*tensor.Tensor {
			return []*tensor.Tensor{tensor.Scalar(float32(0.02)), tensor.Scalar(uint8(131)), w, bs, tensor.Scalar(int8(0)),
				tensor.FromSlice([]int{24}, bias), tensor.Scalar(float32(0.2)), tensor.Scalar(uint8(120))}
		}, true, 1},
		{"int8, float output", randTensor(r, tensor.Int8, 24, 96), randTensor(r, tensor.Int8, 10, 96), func(w *tensor.Tensor) []*tensor.Tensor {
			return []*tensor.Tensor{tensor.Scalar(float32(0.02)), tensor.Scalar(int8(-3)), w, tensor.Scalar(float32(0.004))}
		}, false, 0},
	} {
		m := oneNode("QGemm", c.a.DType(), c.a.Shape(), c.consts(c.w), map[string]*graph.Attr{"transB": graph.IntAttr(1)})
		m.Graph.Nodes[0].Domain = passes.MSDomain
		m.Opsets[passes.MSDomain] = 1
		before, runs := sparseNodes("QGemm"), gpuRuns("QGemm")
		cpuOut, gpuOut := runBoth(t, m, c.a)
		compare(t, cpuOut, gpuOut, c.tol)
		if gpuRuns("QGemm") != runs+1 {
			t.Errorf("%s: QGemm did not run on the GPU", c.name)
		}
		if got := sparseNodes("QGemm") - before; got != map[bool]int{true: 1}[c.sparse] {
			t.Errorf("%s: %d more 2:4 nodes", c.name, got)
		}
	}
}

// TestQLinearConvOnGPU: QLinearConv (what `gcompress quantize` makes of a
// Conv) runs on the GPU's im2col and int8 GEMM and gives the CPU's
// outputs within one: uint8 x and y with padding (the taps outside the
// image hold the x zero point) and a per-channel weight scale and bias, two
// images; int8 x and y, strided and dilated, per-tensor scale, no bias.
func TestQLinearConvOnGPU(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	u8 := func(shape ...int) *tensor.Tensor { return randBytes(r, tensor.Uint8, shape...) }
	ws := tensor.MustNew(tensor.Float32, 8)
	bias := tensor.MustNew(tensor.Int32, 8)
	for i := range ws.F32() {
		ws.F32()[i] = float32(0.002 + 0.01*r.Float64())
		tensor.Data[int32](bias)[i] = int32(r.IntN(4001) - 2000)
	}
	for _, c := range []struct {
		x      *tensor.Tensor
		consts []*tensor.Tensor
		attrs  map[string]*graph.Attr
	}{
		{u8(2, 3, 12, 11), []*tensor.Tensor{tensor.Scalar(float32(0.03)), tensor.Scalar(uint8(117)), randTensor(r, tensor.Int8, 8, 3, 3, 3),
			ws, tensor.Scalar(int8(0)), tensor.Scalar(float32(0.2)), tensor.Scalar(uint8(100)), bias},
			map[string]*graph.Attr{"pads": graph.IntsAttr(1, 1, 1, 1)}},
		{randTensor(r, tensor.Int8, 1, 4, 15, 13), []*tensor.Tensor{tensor.Scalar(float32(0.05)), tensor.Scalar(int8(-3)),
			randTensor(r, tensor.Int8, 6, 4, 3, 3), tensor.Scalar(float32(0.004)), tensor.Scalar(int8(0)), tensor.Scalar(float32(0.3)), tensor.Scalar(int8(4))},
			map[string]*graph.Attr{"pads": graph.IntsAttr(2, 0, 1, 2), "strides": graph.IntsAttr(2, 2), "dilations": graph.IntsAttr(2, 1)}},
	} {
		m := oneNode("QLinearConv", c.x.DType(), c.x.Shape(), c.consts, c.attrs)
		before := gpuRuns("QLinearConv")
		cpuOut, gpuOut := runBoth(t, m, c.x)
		t.Logf("%v: %d of %d outputs differ by one", c.x.Shape(), compare(t, cpuOut, gpuOut, 1), cpuOut.Len())
		if gpuRuns("QLinearConv") != before+1 {
			t.Fatalf("QLinearConv %v did not run on the GPU", c.x.Shape())
		}
	}
}
