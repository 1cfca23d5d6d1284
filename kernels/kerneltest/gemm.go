package kerneltest

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"

	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// GemmProblem is one dense GEMM for an implementation to run:
// D = epilogue(A·Bᵀ) with A M x K (row stride LdA elements) and B N x K (row
// stride LdB) of type In given as raw little-endian bytes, D written into the
// byte buffer C at element COff + m*LdCM + n*LdCN (C's other bytes are guard
// band and must not change). Epi holds the host copies of the epilogue
// vectors (nil entries are absent). Row strides are multiples of 16 bytes.
type GemmProblem struct {
	In         ref.Elem
	M, N, K    int
	A          []byte
	LdA        int
	B          []byte
	LdB        int
	Out        ref.Out
	C          []byte
	COff       int
	LdCM, LdCN int
	Epi        *ref.Epilogue
}

// GemmImpl runs p, leaving the result in p.C.
type GemmImpl func(p *GemmProblem) error

// SparseProblem is one 2:4 sparse GEMM: A is given compressed (values with
// row stride LdV elements and k-tile stride LdVK bytes, metadata with row
// stride LdE bytes and k-tile stride LdEK, in the ref.Sparse24 layout or
// ref.ByKTile's; K logical), the rest as in GemmProblem.
type SparseProblem struct {
	In      ref.Elem
	M, N, K int
	Values  []byte
	LdV     int
	// LdVK: the bytes between a row's values for consecutive k tiles (0:
	// the format's ValueTileBytes, each row's values contiguous).
	LdVK int
	Meta []byte
	LdE  int
	// LdEK: the same for the metadata (0: the format's MetaRowAlign).
	LdEK       int
	B          []byte
	LdB        int
	Out        ref.Out
	C          []byte
	COff       int
	LdCM, LdCN int
	Epi        *ref.Epilogue
}

// SparseImpl runs p, leaving the result in p.C.
type SparseImpl func(p *SparseProblem) error

// view reinterprets a byte slice as a slice of T (make([]byte) is 8-byte
// aligned, enough for every type used here).
func view[T any](b []byte) []T {
	var z T
	n := len(b) / int(unsafe.Sizeof(z))
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// gemmShapes are the sizes every GEMM suite covers: 1, odd, prime, tile
// boundaries (129 x 131 spans four 128 x 128 tiles) and large; Size drops
// the large ones.
var gemmShapes = [][3]int{
	{1, 1, 1}, {1, 1, 16}, {7, 13, 48}, {31, 37, 97}, {64, 64, 64}, {128, 128, 128},
	{129, 131, 200}, {1, 257, 1000}, {255, 1, 33}, {333, 444, 555},
	{1024, 1024, 1024}, {2048, 2048, 4096},
}

// epiConfig is one output configuration of a GEMM case.
type epiConfig struct {
	out        ref.Out
	axis       ref.Axis
	transposed bool
	withEpi    bool
}

func (c epiConfig) String() string {
	s := c.out.String()
	if c.withEpi {
		s += map[ref.Axis]string{ref.PerCol: " per-col", ref.PerRow: " per-row"}[c.axis]
	}
	if c.transposed {
		s += " Dᵀ"
	}
	return s
}

func int8Configs() []epiConfig {
	return []epiConfig{
		{out: ref.OutS32},
		{out: ref.OutF32, withEpi: true},
		{out: ref.OutS8, withEpi: true},
		{out: ref.OutF32, axis: ref.PerRow, transposed: true, withEpi: true},
		{out: ref.OutS8, axis: ref.PerRow, transposed: true, withEpi: true},
	}
}

func halfConfigs(in ref.Elem) []epiConfig {
	half := ref.OutF16
	if in == ref.BF16 {
		half = ref.OutBF16
	}
	return []epiConfig{
		{out: ref.OutF32},
		{out: half, withEpi: true},
		{out: ref.OutF32, axis: ref.PerRow, transposed: true, withEpi: true},
	}
}

// makeEpilogue draws the epilogue vectors for an M x N case. For int8
// outputs the scale maps the accumulator's typical size (sqrt(K)·128²/3)
// to about ±40, so that outputs are spread over the int8 range with some
// saturation; the bias and zero point are random.
func makeEpilogue(r *rand.Rand, c epiConfig, in ref.Elem, m, n, k int) *ref.Epilogue {
	if !c.withEpi {
		return nil
	}
	ch := n
	if c.axis == ref.PerRow {
		ch = m
	}
	e := &ref.Epilogue{Axis: c.axis, Scale: make([]float32, ch)}
	typical := math.Sqrt(float64(max(k, 1))) * 128 * 128 / 3
	if in != ref.S8 {
		typical = math.Sqrt(float64(max(k, 1))) / 3
	}
	for i := range e.Scale {
		e.Scale[i] = float32((0.5 + r.Float64()) * 40 / typical)
	}
	if c.out == ref.OutS8 {
		e.BiasS32 = make([]int32, ch)
		for i := range e.BiasS32 {
			e.BiasS32[i] = int32(r.NormFloat64() * typical / 4)
		}
		e.ZeroPoint = int32(r.IntN(41) - 20)
	} else {
		e.Bias = make([]float32, ch)
		for i := range e.Bias {
			e.Bias[i] = float32(r.Float64()*2 - 1)
		}
	}
	return e
}

// subEpilogue is e for rows lo.. of the output (per-row vectors shift).
func subEpilogue(e *ref.Epilogue, lo int) *ref.Epilogue {
	if e == nil || e.Axis != ref.PerRow {
		return e
	}
	s := *e
	if s.Scale != nil {
		s.Scale = s.Scale[lo:]
	}
	if s.Bias != nil {
		s.Bias = s.Bias[lo:]
	}
	if s.BiasS32 != nil {
		s.BiasS32 = s.BiasS32[lo:]
	}
	return &s
}

// outSlice returns the typed view of an output buffer from element off.
func outSlice(out ref.Out, b []byte, off int) any {
	switch out {
	case ref.OutS32:
		return view[int32](b)[off:]
	case ref.OutF32:
		return view[float32](b)[off:]
	case ref.OutS8:
		return view[int8](b)[off:]
	case ref.OutF16:
		return view[tensor.F16](b)[off:]
	case ref.OutBF16:
		return view[tensor.BF16](b)[off:]
	}
	return nil
}

// HostGemm runs p with the references (the oracle; also a correct
// implementation for the suites' self-tests).
func HostGemm(p *GemmProblem) error {
	var errs error
	parallelRows(p.M, func(lo, hi int) {
		var err error
		c := outSlice(p.Out, p.C, p.COff+lo*p.LdCM)
		e := subEpilogue(p.Epi, lo)
		switch p.In {
		case ref.S8:
			err = ref.Int8GemmRef(hi-lo, p.N, p.K, view[int8](p.A)[lo*p.LdA:], p.LdA, view[int8](p.B), p.LdB, p.Out, c, p.LdCM, p.LdCN, e)
		case ref.F16:
			err = ref.HalfGemmRef(hi-lo, p.N, p.K, view[tensor.F16](p.A)[lo*p.LdA:], p.LdA, view[tensor.F16](p.B), p.LdB, p.Out, c, p.LdCM, p.LdCN, e)
		case ref.BF16:
			err = ref.HalfGemmRef(hi-lo, p.N, p.K, view[tensor.BF16](p.A)[lo*p.LdA:], p.LdA, view[tensor.BF16](p.B), p.LdB, p.Out, c, p.LdCM, p.LdCN, e)
		}
		if err != nil {
			errs = err
		}
	})
	return errs
}

// HostSparse runs p with ref.SparseGemmRef.
func HostSparse(p *SparseProblem) error {
	var errs error
	parallelRows(p.M, func(lo, hi int) {
		c := outSlice(p.Out, p.C, p.COff+lo*p.LdCM)
		e := subEpilogue(p.Epi, lo)
		var err error
		switch p.In {
		case ref.S8:
			err = sparseRows[int8](p, lo, hi, c, e)
		case ref.F16:
			err = sparseRows[tensor.F16](p, lo, hi, c, e)
		case ref.BF16:
			err = sparseRows[tensor.BF16](p, lo, hi, c, e)
		}
		if err != nil {
			errs = err
		}
	})
	return errs
}

// sparseRows repacks rows lo..hi of the strided compressed matrix into a
// ref.Sparse24 and multiplies.
func sparseRows[T ref.Elem24](p *SparseProblem, lo, hi int, c any, e *ref.Epilogue) error {
	f := ref.Sparse24Format(p.In)
	eb := f.ValueBytes
	vals, meta := make([]byte, (hi-lo)*p.K/2*eb), make([]byte, (hi-lo)*p.K/8)
	for i := lo; i < hi; i++ {
		gather(vals[(i-lo)*p.K/2*eb:(i-lo+1)*p.K/2*eb], p.Values, i*p.LdV*eb, cmp.Or(p.LdVK, f.ValueTileBytes()), f.ValueTileBytes())
		gather(meta[(i-lo)*p.K/8:(i-lo+1)*p.K/8], p.Meta, i*p.LdE, cmp.Or(p.LdEK, f.MetaRowAlign), f.MetaRowAlign)
	}
	s := &ref.Sparse24[T]{Rows: hi - lo, Cols: p.K, Values: view[T](vals), Meta: meta}
	return ref.SparseGemmRef(s, p.N, view[T](p.B), p.LdB, p.Out, c, p.LdCM, p.LdCN, e)
}

// gather fills dst, one row's bytes, from its k tiles of tileBytes in src:
// the first at byte off, the next ldk bytes further on each.
func gather(dst, src []byte, off, ldk, tileBytes int) {
	for t := 0; t < len(dst)/tileBytes; t++ {
		copy(dst[t*tileBytes:(t+1)*tileBytes], src[off+t*ldk:])
	}
}

// RandOperand returns rows x ld elements of type in as bytes: random values
// in the first k columns and random garbage in the padding (a kernel that
// reads past K gets it wrong).
func RandOperand(r *rand.Rand, in ref.Elem, rows, k, ld int) []byte {
	b := make([]byte, rows*ld*int(in.Bytes()))
	switch in {
	case ref.S8:
		v := view[int8](b)
		for i := range v {
			v[i] = int8(r.IntN(256) - 128)
		}
	case ref.F16:
		v := view[tensor.F16](b)
		for i := range v {
			v[i] = tensor.NewF16(float32(r.Float64()*2 - 1))
			if i%ld >= k {
				v[i] = tensor.NewF16(float32(r.NormFloat64() * 1000))
			}
		}
	case ref.BF16:
		v := view[tensor.BF16](b)
		for i := range v {
			v[i] = tensor.NewBF16(float32(r.Float64()*2 - 1))
			if i%ld >= k {
				v[i] = tensor.NewBF16(float32(r.NormFloat64() * 1000))
			}
		}
	}
	return b
}

// stride rounds k up to a multiple of 16 bytes and adds 16 bytes of padding.
func stride(in ref.Elem, k int) int {
	per := 16 / int(in.Bytes())
	return (k+per-1)/per*per + per
}

// outLayout returns the output strides of a case: row-major with 3 padding
// columns, or transposed with 5 padding rows.
func outLayout(m, n int, transposed bool) (int, int) {
	if transposed {
		return 1, m + 5
	}
	return n + 3, 1
}

// Int8GEMM checks an int8 GEMM implementation (outputs s32, f32 and s8,
// per-column and per-row epilogues, row-major and transposed outputs)
// bit-exactly against ref.Int8GemmRef.
func Int8GEMM(t Reporter, impl GemmImpl, size Size) []Result {
	return denseSuite(t, "int8 gemm", ref.S8, int8Configs(), impl, size)
}

// HalfGEMM checks an f16 or bf16 GEMM implementation against
// ref.HalfGemmRef by NMSE (NMSEHalfGemm*).
func HalfGEMM(t Reporter, in ref.Elem, impl GemmImpl, size Size) []Result {
	return denseSuite(t, in.String()+" gemm", in, halfConfigs(in), impl, size)
}

func denseSuite(t Reporter, name string, in ref.Elem, configs []epiConfig, impl GemmImpl, size Size) []Result {
	t.Helper()
	s := &suite{t: t, name: name}
	for _, sh := range gemmShapes {
		if size.allows(sh[0] * sh[1] * sh[2]) {
			s.denseShape(in, sh[0], sh[1], sh[2], configs, impl)
		}
	}
	return s.results
}

// denseShape records the cases of one m x n x k shape, one per configuration.
func (s *suite) denseShape(in ref.Elem, m, n, k int, configs []epiConfig, impl GemmImpl) {
	s.t.Helper()
	r := rng(fmt.Sprint(s.name, [3]int{m, n, k}))
	lda, ldb := stride(in, k), stride(in, k)
	a := RandOperand(r, in, m, k, lda)
	b := RandOperand(r, in, n, k, ldb)
	for _, cfg := range configs {
		ldm, ldn := outLayout(m, n, cfg.transposed)
		p := &GemmProblem{In: in, M: m, N: n, K: k, A: a, LdA: lda, B: b, LdB: ldb, Out: cfg.out,
			LdCM: ldm, LdCN: ldn, Epi: makeEpilogue(r, cfg, in, m, n, k)}
		metric, err := runDense(p, impl)
		s.record(caseName(fmt.Sprintf("%dx%dx%d", m, n, k), cfg), metric, err)
	}
}

// InteriorGEMM checks one m x n x k GEMM of input type in (int8 or a half
// type) against its reference, in the first output configuration of in's
// suite (s32 or f32, no epilogue). The caller sizes it so that every block
// of a tile shape lies inside the matrix with every stage whole: the path
// without bounds logic, which the Tiny shapes reach only for tiles of
// 128 x 128 or less.
func InteriorGEMM(t Reporter, in ref.Elem, impl GemmImpl, m, n, k int) []Result {
	t.Helper()
	s := &suite{t: t, name: in.String() + " gemm interior"}
	configs := int8Configs()
	if in != ref.S8 {
		configs = halfConfigs(in)
	}
	s.denseShape(in, m, n, k, configs[:1], impl)
	return s.results
}

// runDense computes the expected output, then runs impl twice with the two
// poisons and compares.
func runDense(p *GemmProblem, impl GemmImpl) (string, error) {
	want, w := newOutput(p.M, p.N, p.LdCM, p.LdCN, p.Out.ElemBytes())
	p.COff = w.off
	exp := &GemmProblem{}
	*exp = *p
	exp.C = want
	if err := HostGemm(exp); err != nil {
		return "", fmt.Errorf("reference: %w", err)
	}
	aIn, bIn := bytes.Clone(p.A), bytes.Clone(p.B)
	return runTwice(p.Out, want, w, comparator(p.In), func(c []byte) error {
		p.C = c
		err := impl(p)
		if err == nil && (!bytes.Equal(aIn, p.A) || !bytes.Equal(bIn, p.B)) {
			err = fmt.Errorf("the implementation modified its inputs")
		}
		return err
	})
}

// comparator returns how outputs of a GEMM with input type in are compared:
// bit for bit for int8 inputs (every epilogue is exactly specified), by NMSE
// and a per-element bound for half inputs.
func comparator(in ref.Elem) func(ref.Out, []byte, []byte, window) (string, error) {
	if in == ref.S8 {
		return compareExact
	}
	return compareNMSE
}

// CompareRow compares one packed output row of a GEMM with input type in
// (elements of type out) with the reference's want, as the suites compare
// outputs: bit for bit for int8 inputs, by NMSE and the per-element bound
// for halves.
func CompareRow(in ref.Elem, out ref.Out, got, want []byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d bytes of output, want %d", len(got), len(want))
	}
	cols := len(want) / out.ElemBytes()
	_, err := comparator(in)(out, got, want, window{rows: 1, cols: cols, ldm: cols, ldn: 1, elem: out.ElemBytes()})
	return err
}

// runTwice runs one case with each poison and compares against want (whose
// guard bytes are irrelevant).
func runTwice(out ref.Out, want []byte, w window, cmp func(ref.Out, []byte, []byte, window) (string, error), run func(c []byte) error) (string, error) {
	metric := "exact"
	for _, poison := range poisons {
		c := make([]byte, len(want))
		fill(c, poison)
		if err := run(c); err != nil {
			return "", err
		}
		if err := checkGuard(c, w, poison); err != nil {
			return "", fmt.Errorf("poison %#x: %w", poison, err)
		}
		m, err := cmp(out, c, want, w)
		if err != nil {
			return m, fmt.Errorf("poison %#x: %w", poison, err)
		}
		metric = m
	}
	return metric, nil
}

// compareExact compares the result windows bit for bit (decoding the
// values only to describe a mismatch).
func compareExact(out ref.Out, got, want []byte, w window) (string, error) {
	for i := 0; i < w.rows; i++ {
		for j := 0; j < w.cols; j++ {
			e := (w.off + i*w.ldm + j*w.ldn) * w.elem
			if !bytes.Equal(got[e:e+w.elem], want[e:e+w.elem]) {
				return "", firstDiff(out, decodeWindow(out, got, w), decodeWindow(out, want, w), w)
			}
		}
	}
	return "exact", nil
}

// decodeWindow returns the window's values row by row.
func decodeWindow(out ref.Out, b []byte, w window) []float64 {
	v := make([]float64, 0, w.rows*w.cols)
	for i := 0; i < w.rows; i++ {
		for j := 0; j < w.cols; j++ {
			e := (w.off + i*w.ldm + j*w.ldn) * w.elem
			v = append(v, decode(out, b[e:e+w.elem]))
		}
	}
	return v
}

// firstDiff describes the first mismatching element.
func firstDiff(out ref.Out, g, x []float64, w window) error {
	bad := 0
	first := -1
	for i := range g {
		if g[i] != x[i] && !(math.IsNaN(g[i]) && math.IsNaN(x[i])) {
			bad++
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return fmt.Errorf("outputs differ in NaN payload or sign of zero")
	}
	return fmt.Errorf("%d of %d %v outputs differ; first at (%d, %d): got %v, want %v",
		bad, len(g), out, first/w.cols, first%w.cols, g[first], x[first])
}

func decode(out ref.Out, b []byte) float64 {
	switch out {
	case ref.OutS32:
		return float64(view[int32](b)[0])
	case ref.OutF32:
		return float64(view[float32](b)[0])
	case ref.OutS8:
		return float64(int8(b[0]))
	case ref.OutF16:
		return float64(view[tensor.F16](b)[0].Float32())
	case ref.OutBF16:
		return float64(view[tensor.BF16](b)[0].Float32())
	}
	return math.NaN()
}

// nmseTolerance is the NMSE bound of a half-precision GEMM's output.
func nmseTolerance(out ref.Out) float64 {
	switch out {
	case ref.OutF16:
		return NMSEHalfGemmF16
	case ref.OutBF16:
		return NMSEHalfGemmBF16
	}
	return NMSEHalfGemmF32
}

// elemTolerance bounds each element of a half-precision GEMM's output:
// |got - want| <= tol * (|want| + rms(want)). It is loose (the NMSE is the
// accuracy criterion) but catches single wrong or unwritten elements, which
// barely move an NMSE over millions of outputs: 1e-4 for float32 outputs,
// 8 ulp-of-1 for f16 (2^-8) and bf16 (2^-5).
func elemTolerance(out ref.Out) float64 {
	switch out {
	case ref.OutF16:
		return 1.0 / 256
	case ref.OutBF16:
		return 1.0 / 32
	}
	return 1e-4
}

// compareNMSE compares the windows by NMSE and the per-element bound
// (half-precision GEMMs).
func compareNMSE(out ref.Out, got, want []byte, w window) (string, error) {
	g, x := decodeWindow(out, got, w), decodeWindow(out, want, w)
	v := nmse(g, x)
	metric := fmt.Sprintf("nmse=%.2g", v)
	if tol := nmseTolerance(out); !(v <= tol) {
		return metric, fmt.Errorf("NMSE %.3g above %.0g", v, tol)
	}
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	rms := math.Sqrt(ss / float64(max(len(x), 1)))
	tol := elemTolerance(out)
	for i := range g {
		if d := math.Abs(g[i] - x[i]); !(d <= tol*(math.Abs(x[i])+rms)) {
			return metric, fmt.Errorf("element (%d, %d): got %v, want %v (NMSE %.3g is within bounds)", i/w.cols, i%w.cols, g[i], x[i], v)
		}
	}
	return metric, nil
}

// NewGemmProblem draws one dense problem (random operands with padded row
// strides, the epilogue vectors when withEpi) for ad-hoc checks such as the
// naive-kernel diagnostics; CheckGemm runs it.
func NewGemmProblem(in ref.Elem, out ref.Out, m, n, k int, axis ref.Axis, transposed, withEpi bool) *GemmProblem {
	r := rng(fmt.Sprint("problem", in, out, m, n, k, axis, transposed, withEpi))
	lda := stride(in, k)
	ldm, ldn := outLayout(m, n, transposed)
	cfg := epiConfig{out: out, axis: axis, transposed: transposed, withEpi: withEpi}
	return &GemmProblem{In: in, M: m, N: n, K: k, A: RandOperand(r, in, m, k, lda), LdA: lda,
		B: RandOperand(r, in, n, k, lda), LdB: lda, Out: out, LdCM: ldm, LdCN: ldn, Epi: makeEpilogue(r, cfg, in, m, n, k)}
}

// CheckGemm runs one problem through impl with the suites' checks (two
// poisons, guard band, inputs unchanged, exact or NMSE comparison) and
// returns the metric.
func CheckGemm(p *GemmProblem, impl GemmImpl) (string, error) { return runDense(p, impl) }
