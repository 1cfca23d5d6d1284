package kerneltest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"unsafe"

	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// sparseShapes are (M, N, K logical, K of the dense matrix before padding).
var sparseShapes = [][4]int{
	{1, 1, 128, 128}, {7, 13, 256, 256}, {64, 64, 128, 128}, {128, 128, 256, 256}, {130, 20, 256, 250}, {129, 131, 384, 384},
	{1, 257, 1024, 1024}, {255, 1, 128, 100}, {333, 444, 640, 635},
	{1024, 1024, 1024, 1024}, {2048, 2048, 4096, 4096},
}

func sparseConfigs(in ref.Elem) []epiConfig {
	if in == ref.S8 {
		return []epiConfig{
			{out: ref.OutS32},
			{out: ref.OutF32, axis: ref.PerRow, withEpi: true},
			{out: ref.OutS8, axis: ref.PerRow, transposed: true, withEpi: true},
			{out: ref.OutF32, axis: ref.PerCol, withEpi: true},
		}
	}
	half := ref.OutF16
	if in == ref.BF16 {
		half = ref.OutBF16
	}
	return []epiConfig{
		{out: ref.OutF32},
		{out: half, axis: ref.PerRow, transposed: true, withEpi: true},
		{out: ref.OutF32, axis: ref.PerCol, withEpi: true},
	}
}

// Random24 draws an m x k matrix of type in with at most two non-zeros in
// every group of four columns (0, 1 or 2, at random positions).
func Random24(r *rand.Rand, in ref.Elem, m, k int) []byte {
	b := make([]byte, m*k*int(in.Bytes()))
	for i := 0; i < m; i++ {
		for g := 0; g < k; g += 4 {
			keep := 2
			if r.IntN(8) == 0 {
				keep = r.IntN(2)
			}
			for _, c := range r.Perm(4)[:keep] {
				if g+c >= k {
					continue
				}
				at := i*k + g + c
				switch in {
				case ref.S8:
					v := int8(r.IntN(255) - 127)
					if v == 0 {
						v = 1
					}
					view[int8](b)[at] = v
				case ref.F16:
					view[tensor.F16](b)[at] = tensor.NewF16(float32(r.Float64()*2 - 1))
				case ref.BF16:
					view[tensor.BF16](b)[at] = tensor.NewBF16(float32(r.Float64()*2 - 1))
				}
			}
		}
	}
	return b
}

// Compress24 packs a dense 2:4 matrix of input type in (rows x k0, row
// stride k0, as bytes) in the format of ref.Compress24, K padded to the
// format's alignment k: the values (rows x k/2) and the metadata (rows x
// k/8), rows back to back.
func Compress24(in ref.Elem, dense []byte, rows, k0 int) (values, meta []byte, k int, err error) {
	switch in {
	case ref.S8:
		return compress24[int8](dense, rows, k0, ref.Sparse24Format(in))
	case ref.F16:
		return compress24[tensor.F16](dense, rows, k0, ref.Sparse24Format(in))
	default:
		return compress24[tensor.BF16](dense, rows, k0, ref.Sparse24Format(in))
	}
}

func compress24[T ref.Elem24](dense []byte, rows, k0 int, f ref.Format) ([]byte, []byte, int, error) {
	s, err := ref.Compress24(rows, k0, view[T](dense), k0, f.KAlign)
	if err != nil {
		return nil, nil, 0, err
	}
	return bytesOf(s.Values), s.Meta, s.Cols, nil
}

// compress packs a dense 2:4 matrix with padded strides (garbage in the
// padding) and returns values, ldv, meta, lde and the padded K.
func compress(r *rand.Rand, in ref.Elem, dense []byte, m, k0 int) ([]byte, int, []byte, int, int, error) {
	values, meta, k, err := Compress24(in, dense, m, k0)
	if err != nil {
		return nil, 0, nil, 0, 0, err
	}
	f := ref.Sparse24Format(in)
	ldv := k/2 + 16/f.ValueBytes
	lde := k/8 + f.MetaRowAlign
	vals := make([]byte, m*ldv*f.ValueBytes)
	padded := make([]byte, m*lde)
	for i := range vals {
		vals[i] = byte(r.IntN(256))
	}
	for i := range padded {
		padded[i] = byte(r.IntN(256))
	}
	vb := k / 2 * f.ValueBytes
	for i := 0; i < m; i++ {
		copy(vals[i*ldv*f.ValueBytes:], values[i*vb:(i+1)*vb])
		copy(padded[i*lde:i*lde+k/8], meta[i*k/8:])
	}
	return vals, ldv, padded, lde, k, nil
}

// SparseGEMM checks a 2:4 sparse GEMM implementation against
// ref.SparseGemmRef: bit for bit for int8, by NMSE for the half types.
func SparseGEMM(t Reporter, in ref.Elem, impl SparseImpl, size Size) []Result {
	t.Helper()
	s := &suite{t: t, name: in.String() + " 2:4 gemm"}
	for _, sh := range sparseShapes {
		if size.allows(sh[0] * sh[1] * sh[2]) {
			s.sparseShape(in, sh, sparseConfigs(in), impl)
		}
	}
	return s.results
}

// InteriorSparseGEMM is InteriorGEMM for a 2:4 GEMM: one m x n x k case
// (k a multiple of 128, the int8 format's alignment, so no padding) in the
// first output configuration of SparseGEMM's.
func InteriorSparseGEMM(t Reporter, in ref.Elem, impl SparseImpl, m, n, k int) []Result {
	t.Helper()
	s := &suite{t: t, name: in.String() + " 2:4 gemm interior"}
	s.sparseShape(in, [4]int{m, n, k, k}, sparseConfigs(in)[:1], impl)
	return s.results
}

// sparseShape records the cases of one sparseShapes entry, one per
// configuration.
func (s *suite) sparseShape(in ref.Elem, sh [4]int, configs []epiConfig, impl SparseImpl) {
	s.t.Helper()
	m, n, k, k0 := sh[0], sh[1], sh[2], sh[3]
	r := rng(fmt.Sprint(s.name, sh))
	vals, ldv, meta, lde, kp, err := compress(r, in, Random24(r, in, m, k0), m, k0)
	if err == nil && kp != k {
		err = fmt.Errorf("compressor padded K %d to %d, the case expects %d", k0, kp, k)
	}
	if err != nil {
		s.record(caseName(fmt.Sprintf("%dx%dx%d", m, n, k)), "", fmt.Errorf("compress: %w", err))
		return
	}
	ldb := stride(in, k)
	b := RandOperand(r, in, n, k, ldb)
	for i, cfg := range configs {
		ldm, ldn := outLayout(m, n, cfg.transposed)
		p := &SparseProblem{In: in, M: m, N: n, K: k, Values: vals, LdV: ldv, Meta: meta, LdE: lde, B: b, LdB: ldb,
			Out: cfg.out, LdCM: ldm, LdCN: ldn, Epi: makeEpilogue(r, cfg, in, m, n, k/2)}
		metric, err := runSparse(p, impl)
		s.record(caseName(fmt.Sprintf("%dx%dx%d", m, n, k), cfg), metric, err)
		if i == 0 && k > ref.Sparse24Format(in).KAlign {
			// The first configuration again with A's values and metadata
			// k tile by k tile (with one k tile the layouts hold the same
			// bytes; the kernels address the two parts apart, so each is
			// checked in both layouts).
			q := *p
			metric, err := "", byKTile(r, &q)
			if err == nil {
				metric, err = runSparse(&q, impl)
			}
			s.record(caseName(fmt.Sprintf("%dx%dx%d", m, n, k), cfg, "by k tile"), metric, err)
		}
	}
}

// byKTile lays p's values and metadata out k tile by k tile
// (ref.ByKTile), each k tile's rows followed by three padding rows of
// random bytes, which a kernel that reads them for rows below M gets
// wrong.
func byKTile(r *rand.Rand, p *SparseProblem) error {
	f := ref.Sparse24Format(p.In)
	pad := p.M + 3
	meta, lde, ldek, err := f.MetaByKTile(p.Meta, p.M, p.K, p.LdE, pad)
	if err != nil {
		return err
	}
	randomPadding(r, meta, p.M*lde, ldek)
	p.Meta, p.LdE, p.LdEK = meta, lde, ldek
	vals, ldv, ldvk, err := f.ValuesByKTile(p.Values, p.M, p.K, p.LdV, pad)
	if err != nil {
		return err
	}
	randomPadding(r, vals, p.M*ldv*f.ValueBytes, ldvk)
	p.Values, p.LdV, p.LdVK = vals, ldv, ldvk
	return nil
}

// randomPadding fills the padding rows of a k-tile layout (the bytes from
// used to the k-tile stride ldk in each k tile) with random bytes.
func randomPadding(r *rand.Rand, b []byte, used, ldk int) {
	for t := 0; t < len(b); t += ldk {
		for i := t + used; i < t+ldk; i++ {
			b[i] = byte(r.Uint32())
		}
	}
}

func runSparse(p *SparseProblem, impl SparseImpl) (string, error) {
	want, w := newOutput(p.M, p.N, p.LdCM, p.LdCN, p.Out.ElemBytes())
	p.COff = w.off
	exp := &SparseProblem{}
	*exp = *p
	exp.C = want
	if err := HostSparse(exp); err != nil {
		return "", fmt.Errorf("reference: %w", err)
	}
	ins := [][]byte{bytes.Clone(p.Values), bytes.Clone(p.Meta), bytes.Clone(p.B)}
	return runTwice(p.Out, want, w, comparator(p.In), func(c []byte) error {
		p.C = c
		err := impl(p)
		if err == nil && (!bytes.Equal(ins[0], p.Values) || !bytes.Equal(ins[1], p.Meta) || !bytes.Equal(ins[2], p.B)) {
			err = fmt.Errorf("the implementation modified its inputs")
		}
		return err
	})
}

// ProbeCase is the single-tile problem of the mma.sp layout probes
// (gc_sp24_probe_*): A 16 x K in the Sparse24 format (K = 64 for int8, 32
// for f16; values 16 x 32 bytes, metadata 16 x K/8 bytes), B 8 x K dense
// (8 x 64 bytes), and the expected 16 x 8 row-major result (int32 or
// float32, as bytes).
type ProbeCase struct {
	In             ref.Elem
	Values, Meta   []byte
	B              []byte
	Want           []byte
	K, OutElemSize int
}

// NewProbeCase draws a probe problem (f16 or int8) with every group of A
// holding two non-zeros at random positions, so every metadata nibble
// matters.
func NewProbeCase(in ref.Elem, seed string) (*ProbeCase, error) {
	r := rng("probe " + seed)
	k := 64
	if in != ref.S8 {
		in, k = ref.F16, 32
	}
	dense := make([]byte, 16*k*int(in.Bytes()))
	for i := 0; i < 16; i++ {
		for g := 0; g < k; g += 4 {
			for _, c := range r.Perm(4)[:2] {
				at := i*k + g + c
				if in == ref.S8 {
					view[int8](dense)[at] = int8(r.IntN(254) - 127)
				} else {
					view[tensor.F16](dense)[at] = tensor.NewF16(float32(r.IntN(64)-32) / 16)
				}
			}
		}
	}
	pc := &ProbeCase{In: in, K: k, B: RandOperand(r, in, 8, k, k), OutElemSize: 4}
	if in == ref.F16 { // small dyadic B so the float result is exact
		for i := range view[tensor.F16](pc.B) {
			view[tensor.F16](pc.B)[i] = tensor.NewF16(float32(r.IntN(64)-32) / 16)
		}
	}
	var err error
	out := ref.OutS32
	if in == ref.S8 {
		var s *ref.Sparse24[int8]
		if s, err = ref.Compress24(16, k, view[int8](dense), k, 8); err == nil {
			pc.Values, pc.Meta = bytesOf(s.Values), s.Meta
			pc.Want = make([]byte, 16*8*4)
			err = ref.SparseGemmRef(s, 8, view[int8](pc.B), k, out, view[int32](pc.Want), 8, 1, nil)
		}
	} else {
		var s *ref.Sparse24[tensor.F16]
		if s, err = ref.Compress24(16, k, view[tensor.F16](dense), k, 8); err == nil {
			pc.Values, pc.Meta = bytesOf(s.Values), s.Meta
			pc.Want = make([]byte, 16*8*4)
			err = ref.SparseGemmRef(s, 8, view[tensor.F16](pc.B), k, ref.OutF32, view[float32](pc.Want), 8, 1, nil)
		}
	}
	return pc, err
}

// Check compares a probe's output (16 x 8 row-major) with the expectation
// and describes the mismatches.
func (pc *ProbeCase) Check(got []byte) error {
	if bytes.Equal(got, pc.Want) {
		return nil
	}
	out := ref.OutS32
	if pc.In != ref.S8 {
		out = ref.OutF32
	}
	w := window{rows: 16, cols: 8, ldm: 8, ldn: 1, elem: 4}
	_, err := compareExact(out, got, pc.Want, w)
	return err
}

// bytesOf copies a slice's memory into bytes.
func bytesOf[T any](s []T) []byte {
	var z T
	out := make([]byte, len(s)*int(unsafe.Sizeof(z)))
	copy(view[T](out), s)
	return out
}
