package encode

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
)

// Options configure MakePlan and Encode.
type Options struct {
	// Bits is the index width of shared weights: 2^Bits clusters per
	// weight tensor (rank >= 2). Default 6.
	Bits int
	// LayerBits overrides Bits per initializer name.
	LayerBits map[string]int
	// GapBits is the relative-index width of sparse tensors (1..8); 0
	// picks, per tensor, the width giving the smallest coded size.
	GapBits int
	// Half stores codebooks in float16 (centroids rounded to float16
	// during clustering and fine-tuning).
	Half bool
	// Small says how float32 initializers of rank < 2 (biases,
	// normalisation parameters) are stored: "raw32" (default), "raw16",
	// or "shared" (SmallBits-bit shared values).
	Small     string
	SmallBits int
	// SparseMin: a weight tensor with at least this fraction of zeros is
	// stored sparse (relative indexing). Default 0.3.
	SparseMin float64
	// KMeansIter bounds the Lloyd iterations (default 100).
	KMeansIter int
}

func (o *Options) defaults() error {
	if o.Bits == 0 {
		o.Bits = 6
	}
	if o.Small == "" {
		o.Small = "raw32"
	}
	if o.SmallBits == 0 {
		o.SmallBits = 4
	}
	if o.SparseMin == 0 {
		o.SparseMin = 0.3
	}
	if o.KMeansIter == 0 {
		o.KMeansIter = 100
	}
	if o.Bits < 1 || o.Bits > 16 || o.SmallBits < 1 || o.SmallBits > 16 {
		return fmt.Errorf("encode: index bits must be in 1..16")
	}
	for name, b := range o.LayerBits {
		if b < 1 || b > 16 {
			return fmt.Errorf("encode: %s: index bits %d outside 1..16", name, b)
		}
	}
	if o.GapBits < 0 || o.GapBits > 8 {
		return fmt.Errorf("encode: gap bits %d outside 1..8 (0: choose)", o.GapBits)
	}
	switch o.Small {
	case "raw32", "raw16", "shared":
	default:
		return fmt.Errorf("encode: small tensors %q: want raw32, raw16 or shared", o.Small)
	}
	return nil
}

// TensorPlan is how one float32 initializer is stored.
type TensorPlan struct {
	Name     string
	Position int // index in the model's initializers
	Shape    []int
	Encoding byte
	// Pos are the flattened positions of the stored non-zeros (sparse).
	Pos []int32
	// Shared quantizes the stored values (shared and sparse encodings).
	Shared *Shared
	// Half: the codebook is float16.
	Half bool
	// Bits is the nominal index width (2^Bits clusters asked for).
	Bits int
}

// Plan maps initializer names to their storage.
type Plan map[string]*TensorPlan

// Names lists the plan's tensors in initializer order.
func (p Plan) Names() []string {
	out := make([]string, 0, len(p))
	for n := range p {
		out = append(out, n)
	}
	sort.Slice(out, func(a, b int) bool { return p[out[a]].Position < p[out[b]].Position })
	return out
}

// MakePlan decides the storage of every float32 initializer of m and
// clusters the shared ones (KMeans). m is not modified.
func MakePlan(m *graph.Model, opt Options) (Plan, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	p := Plan{}
	for i, v := range m.Graph.Initializers {
		t := v.Const
		if t == nil || t.DType() != tensor.Float32 || t.Len() == 0 {
			continue
		}
		tp := &TensorPlan{Name: v.Name, Position: i, Shape: append([]int(nil), t.Shape()...), Half: opt.Half}
		d := t.F32()
		for j, x := range d {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, fmt.Errorf("encode: %s[%d] is %v", v.Name, j, x)
			}
		}
		var vals []float32
		switch {
		case t.Rank() >= 2:
			tp.Bits = opt.Bits
			if b, ok := opt.LayerBits[v.Name]; ok {
				tp.Bits = b
			}
			zeros := 0
			for _, x := range d {
				if x == 0 {
					zeros++
				}
			}
			if float64(zeros) >= opt.SparseMin*float64(len(d)) {
				tp.Encoding = encSparse
				for j, x := range d {
					if x != 0 {
						tp.Pos = append(tp.Pos, int32(j))
						vals = append(vals, x)
					}
				}
			} else {
				tp.Encoding, vals = encShared, d
			}
		case opt.Small == "shared":
			tp.Encoding, tp.Bits, vals = encShared, opt.SmallBits, d
		case opt.Small == "raw16":
			tp.Encoding = encRaw16
		default:
			tp.Encoding = encRaw32
		}
		if tp.Encoding == encShared || tp.Encoding == encSparse {
			s, err := KMeans(vals, 1<<tp.Bits, opt.KMeansIter, opt.Half)
			if err != nil {
				return nil, fmt.Errorf("encode: %s: %w", v.Name, err)
			}
			tp.Shared = s
		}
		p[v.Name] = tp
	}
	return p, nil
}

// Apply writes the plan's values into m: shared values, zeros outside the
// sparse positions, float16-rounded raw16 tensors. The result computes
// exactly what Decode(Encode(...)) will.
func (p Plan) Apply(m *graph.Model) error {
	for _, name := range p.Names() {
		tp := p[name]
		v := m.Graph.Value(name)
		if v == nil || v.Const == nil || !tensor.SameShape(v.Const.Shape(), tp.Shape) {
			return fmt.Errorf("encode: the model has no initializer %q of shape %v", name, tp.Shape)
		}
		d := append([]float32(nil), v.Const.F32()...)
		switch tp.Encoding {
		case encRaw16:
			for i, x := range d {
				d[i] = tensor.NewF16(x).Float32()
			}
		case encShared:
			copy(d, tp.Shared.Values())
		case encSparse:
			clear(d)
			for j, at := range tp.Pos {
				d[at] = tp.Shared.Codebook[tp.Shared.Index[j]]
			}
		}
		v.Const = tensor.FromSlice(tp.Shape, d)
	}
	return nil
}

// TensorSize is the storage of one tensor in the archive, in the layout
// of Deep Compression's per-layer tables.
type TensorSize struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	Encoding string `json:"encoding"`
	Params   int    `json:"params"`
	// Stored is the number of values stored (non-zeros for sparse).
	Stored int `json:"stored"`
	// K is the codebook size, IndexBits the fixed index width
	// ceil(log2 K) (P+Q), GapBits the relative-index width and GapSymbols
	// the gap symbols (stored values plus fillers).
	K          int `json:"k,omitempty"`
	IndexBits  int `json:"index_bits,omitempty"`
	GapBits    int `json:"gap_bits,omitempty"`
	GapSymbols int `json:"gap_symbols,omitempty"`
	// Huffman-coded bits of the indices and the gaps (P+Q+H).
	IndexHuffBits int64 `json:"index_huffman_bits"`
	GapHuffBits   int64 `json:"gap_huffman_bits"`
	// Bytes in the archive: codebook, coded streams (or raw values),
	// Huffman tables, and the rest of the section (name, shape, counts,
	// framing and checksum).
	CodebookBytes int `json:"codebook_bytes"`
	StreamBytes   int `json:"stream_bytes"`
	TableBytes    int `json:"table_bytes"`
	HeaderBytes   int `json:"header_bytes"`
	SectionBytes  int `json:"section_bytes"`
}

// FixedBits is the size with fixed-width indices and gaps (P+Q): stored
// values times the index width, gap symbols times the gap width, plus the
// codebook (raw tensors: their values).
func (t TensorSize) FixedBits() int64 {
	switch t.Encoding {
	case "raw32":
		return int64(t.Params) * 32
	case "raw16":
		return int64(t.Params) * 16
	}
	return int64(t.Stored)*int64(t.IndexBits) + int64(t.GapSymbols)*int64(t.GapBits) + int64(t.CodebookBytes)*8
}

// Size accounts for every byte of an archive.
type Size struct {
	Tensors []TensorSize `json:"tensors"`
	// GraphBytes is the graph section (compressed ONNX without the
	// encoded weights) with its framing; FramingBytes the file header and
	// trailer.
	GraphBytes   int `json:"graph_bytes"`
	FramingBytes int `json:"framing_bytes"`
	FileBytes    int `json:"file_bytes"`
	// FP32Bytes is 4 bytes per value of the encoded tensors (the
	// uncompressed float32 weights).
	FP32Bytes int64 `json:"fp32_bytes"`
}

// ParamBytes is what the weights cost: every tensor section plus the file
// framing (the graph is counted apart, as the paper counts weights only).
func (s *Size) ParamBytes() int {
	n := s.FramingBytes
	for _, t := range s.Tensors {
		n += t.SectionBytes
	}
	return n
}

// Ratio is FP32Bytes / ParamBytes.
func (s *Size) Ratio() float64 {
	if s.ParamBytes() == 0 {
		return 0
	}
	return float64(s.FP32Bytes) / float64(s.ParamBytes())
}

// gapSymbols turns sorted positions in a tensor of n elements into gap
// symbols of width b (see the package comment), with trailing fillers
// until fewer than 2^b - 1 positions are left.
func gapSymbols(pos []int32, n, b int) []int {
	esc := 1<<b - 1
	var out []int
	prev := -1
	for _, p := range pos {
		g := int(p) - prev - 1
		for g >= esc {
			out = append(out, esc)
			g -= esc
		}
		out = append(out, g)
		prev = int(p)
	}
	for n-1-prev >= esc {
		out = append(out, esc)
		prev += esc
	}
	return out
}

// Encode writes m as a .gcz archive with the storage of plan (MakePlan,
// possibly fine-tuned), returning the bytes and their accounting. The
// values stored are the plan's (shared values at the plan's positions,
// raw tensors from m).
func Encode(m *graph.Model, plan Plan, opt Options) ([]byte, *Size, error) {
	if err := opt.defaults(); err != nil {
		return nil, nil, err
	}
	size := &Size{FramingBytes: headerSize + trailerSize}
	var sections [][2]any
	skel := passes.Clone(m)
	sg := skel.Graph
	var kept []*graph.Value
	enc := map[string]bool{}
	for _, name := range plan.Names() {
		enc[name] = true
	}
	for _, v := range sg.Initializers {
		if !enc[v.Name] {
			kept = append(kept, v)
			continue
		}
		v.DType = v.Const.DType()
		v.SetShape(v.Const.Shape())
		v.Const = nil
		sg.Inputs = append(sg.Inputs, v)
	}
	sg.Initializers = kept
	onnxBytes, err := onnx.Encode(skel)
	if err != nil {
		return nil, nil, fmt.Errorf("encode: graph: %w", err)
	}
	var zb bytes.Buffer
	zw, err := flate.NewWriter(&zb, flate.BestCompression)
	if err != nil {
		return nil, nil, err
	}
	zw.Write(onnxBytes)
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	sections = append(sections, [2]any{byte(sectionGraph), zb.Bytes()})
	size.GraphBytes = zb.Len() + sectionOverhead(zb.Len())
	room := maxElems
	for _, name := range plan.Names() {
		tp := plan[name]
		v := m.Graph.Value(name)
		if v == nil || v.Const == nil || !tensor.SameShape(v.Const.Shape(), tp.Shape) {
			return nil, nil, fmt.Errorf("encode: the model has no initializer %q of shape %v", name, tp.Shape)
		}
		if room -= v.Const.Len(); room < 0 {
			return nil, nil, fmt.Errorf("encode: %s: the encoded tensors exceed the %d elements a .gcz archive holds", name, maxElems)
		}
		payload, ts, err := encodeTensor(tp, v.Const.F32(), opt)
		if err != nil {
			return nil, nil, fmt.Errorf("encode: %s: %w", name, err)
		}
		ts.HeaderBytes += sectionOverhead(len(payload))
		ts.SectionBytes = len(payload) + sectionOverhead(len(payload))
		size.Tensors = append(size.Tensors, ts)
		size.FP32Bytes += 4 * int64(ts.Params)
		sections = append(sections, [2]any{byte(sectionTensor), payload})
	}
	out := assemble(sections)
	size.FileBytes = len(out)
	return out, size, nil
}

// encodeTensor builds one tensor payload.
func encodeTensor(tp *TensorPlan, data []float32, opt Options) ([]byte, TensorSize, error) {
	ts := TensorSize{Name: tp.Name, Shape: tp.Shape, Encoding: encodingNames[tp.Encoding], Params: len(data)}
	out := appendTensorHeader(nil, tensorHeader{name: tp.Name, position: tp.Position, shape: tp.Shape, encoding: tp.Encoding})
	switch tp.Encoding {
	case encRaw32:
		ts.HeaderBytes = len(out)
		for _, x := range data {
			out = appendF32(out, x)
		}
		ts.Stored, ts.StreamBytes = len(data), 4*len(data)
		return out, ts, nil
	case encRaw16:
		ts.HeaderBytes = len(out)
		for _, x := range data {
			out = append(out, byte(tensor.NewF16(x)), byte(tensor.NewF16(x)>>8))
		}
		ts.Stored, ts.StreamBytes = len(data), 2*len(data)
		return out, ts, nil
	}
	s := tp.Shared
	if s == nil {
		return nil, ts, fmt.Errorf("no shared values")
	}
	want := len(data)
	if tp.Encoding == encSparse {
		want = len(tp.Pos)
	}
	codebook := s.Codebook
	if want == 0 && len(codebook) == 0 {
		// An all-zero sparse tensor stores no value (KMeans of nothing is
		// an empty codebook), but the format needs k >= 1.
		codebook = []float32{0}
	}
	if len(s.Index) != want || len(codebook) == 0 {
		return nil, ts, fmt.Errorf("the plan has %d indices for %d values", len(s.Index), want)
	}
	ts.Stored, ts.K = want, len(codebook)
	ts.IndexBits = max(1, int(math.Ceil(math.Log2(float64(ts.K)))))
	out = appendCodebook(out, codebook, tp.Half)
	ts.CodebookBytes = 4 * len(codebook)
	if tp.Half {
		ts.CodebookBytes = 2 * len(codebook)
	}
	hdr := len(out) - ts.CodebookBytes
	if tp.Encoding == encSparse {
		b := opt.GapBits
		if b == 0 {
			b = bestGapBits(tp.Pos, len(data))
		}
		syms := gapSymbols(tp.Pos, len(data), b)
		ts.GapBits, ts.GapSymbols = b, len(syms)
		out = append(out, byte(b))
		hdr++
		var cs codedSize
		var err error
		if out, cs, err = appendCoded(out, syms, 1<<b); err != nil {
			return nil, ts, err
		}
		ts.GapHuffBits = cs.Bits
		ts.StreamBytes += cs.StreamBytes
		ts.TableBytes += cs.TableBytes
		hdr += cs.HeaderBytes
	}
	idx := make([]int, len(s.Index))
	for i, j := range s.Index {
		if int(j) >= len(codebook) {
			return nil, ts, fmt.Errorf("index %d out of the codebook", j)
		}
		idx[i] = int(j)
	}
	var cs codedSize
	var err error
	if out, cs, err = appendCoded(out, idx, len(codebook)); err != nil {
		return nil, ts, err
	}
	ts.IndexHuffBits = cs.Bits
	ts.StreamBytes += cs.StreamBytes
	ts.TableBytes += cs.TableBytes
	ts.HeaderBytes = hdr + cs.HeaderBytes
	return out, ts, nil
}

func appendF32(out []byte, x float32) []byte {
	u := math.Float32bits(x)
	return append(out, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
}

// bestGapBits returns the gap width (1..8) whose Huffman-coded gaps plus
// code table are smallest.
func bestGapBits(pos []int32, n int) int {
	best, bestBits := 1, int64(math.MaxInt64)
	for b := 1; b <= 8; b++ {
		syms := gapSymbols(pos, n, b)
		freq := make([]int64, 1<<b)
		for _, s := range syms {
			freq[s]++
		}
		bits := int64(4 * (1 << b))
		if len(syms) > 0 {
			code, err := NewCode(HuffmanLengths(freq))
			if err != nil {
				continue
			}
			bits += code.Bits(freq)
		}
		if bits < bestBits {
			best, bestBits = b, bits
		}
	}
	return best
}

// maxGraphBytes bounds the inflated graph section (a decompression bomb
// guard).
const maxGraphBytes = 256 << 20

// Decode reads a .gcz archive and returns the ONNX model it holds (every
// encoded initializer restored, in its original position) and the
// archive's accounting. Any truncation, extension or modification is
// reported as an error wrapping ErrChecksum (or a format error naming the
// section).
func Decode(b []byte) (*graph.Model, *Size, error) {
	secs, err := split(b)
	if err != nil {
		return nil, nil, err
	}
	if len(secs) == 0 || secs[0].kind != sectionGraph {
		return nil, nil, fmt.Errorf("gcz: the first section is not the graph")
	}
	size := &Size{FramingBytes: headerSize + trailerSize, FileBytes: len(b),
		GraphBytes: len(secs[0].payload) + sectionOverhead(len(secs[0].payload))}
	zr := flate.NewReader(bytes.NewReader(secs[0].payload))
	raw, err := io.ReadAll(io.LimitReader(zr, maxGraphBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("gcz: graph section: %w", err)
	}
	if len(raw) > maxGraphBytes {
		return nil, nil, fmt.Errorf("gcz: graph section inflates beyond %d bytes", maxGraphBytes)
	}
	m, err := onnx.Decode(raw, "")
	if err != nil {
		return nil, nil, fmt.Errorf("gcz: graph section: %w", err)
	}
	g := m.Graph
	type placed struct {
		v   *graph.Value
		pos int
	}
	var restored []placed
	seen := map[string]bool{}
	room := maxElems // elements the remaining tensors may hold
	for i, s := range secs[1:] {
		if s.kind != sectionTensor {
			return nil, nil, fmt.Errorf("gcz: section %d at byte %d has kind %d", i+2, s.offset, s.kind)
		}
		r := &reader{b: s.payload, payloadStart: s.payload, what: fmt.Sprintf("section %d", i+2)}
		t, ts, pos, err := r.tensor(room)
		if err != nil {
			return nil, nil, err
		}
		room -= ts.Params
		if seen[ts.Name] {
			return nil, nil, fmt.Errorf("gcz: tensor %q appears twice", ts.Name)
		}
		seen[ts.Name] = true
		v := g.Value(ts.Name)
		isInput := false
		for _, in := range g.Inputs {
			isInput = isInput || in == v
		}
		if v == nil || !isInput || v.Const != nil {
			return nil, nil, fmt.Errorf("gcz: tensor %q is not a placeholder of the graph", ts.Name)
		}
		if sh, ok := v.ConcreteShape(); !ok || !tensor.SameShape(sh, t.Shape()) {
			return nil, nil, fmt.Errorf("gcz: tensor %q has shape %v, the graph declares %s", ts.Name, t.Shape(), graph.FormatShape(v.Shape))
		}
		v.Const = t
		ts.SectionBytes = len(s.payload) + sectionOverhead(len(s.payload))
		ts.HeaderBytes += sectionOverhead(len(s.payload))
		size.Tensors = append(size.Tensors, ts)
		size.FP32Bytes += 4 * int64(ts.Params)
		restored = append(restored, placed{v, pos})
	}
	var inputs []*graph.Value
	for _, in := range g.Inputs {
		if !seen[in.Name] {
			inputs = append(inputs, in)
		}
	}
	g.Inputs = inputs
	sort.SliceStable(restored, func(a, b int) bool { return restored[a].pos < restored[b].pos })
	for _, p := range restored {
		at := min(p.pos, len(g.Initializers))
		g.Initializers = append(g.Initializers[:at], append([]*graph.Value{p.v}, g.Initializers[at:]...)...)
	}
	if err := g.Validate(); err != nil {
		return nil, nil, fmt.Errorf("gcz: %w", err)
	}
	return m, size, nil
}

// tensor decodes one tensor payload of at most room elements (what is
// left of the archive's maxElems).
func (r *reader) tensor(room int) (*tensor.Tensor, TensorSize, int, error) {
	h, err := r.tensorHeader()
	if err != nil {
		return nil, TensorSize{}, 0, err
	}
	n := tensor.Product(h.shape)
	if n > room {
		return nil, TensorSize{}, 0, r.fail("%d elements: the archive's tensors exceed %d elements in all", n, maxElems)
	}
	ts := TensorSize{Name: h.name, Shape: h.shape, Encoding: encodingNames[h.encoding], Params: n}
	// data is allocated only once the payload has been seen to hold what
	// it needs (raw bytes, coded symbols), so a hostile header cannot make
	// the decoder allocate more than the file's size warrants (sparse
	// tensors: up to room, and maxElems for the whole archive).
	var data []float32
	hdr := len(r.payloadStart) - len(r.b)
	switch h.encoding {
	case encRaw32, encRaw16:
		w := 4
		if h.encoding == encRaw16 {
			w = 2
		}
		raw, err := r.bytesN(uint64(w*n), "values")
		if err != nil {
			return nil, ts, 0, err
		}
		data = make([]float32, n)
		for i := range data {
			if w == 4 {
				data[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
			} else {
				data[i] = tensor.F16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8).Float32()
			}
		}
		ts.Stored, ts.StreamBytes = n, w*n
	case encShared, encSparse:
		before := len(r.b)
		cb, prec, err := r.codebook()
		if err != nil {
			return nil, ts, 0, err
		}
		ts.K = len(cb)
		ts.IndexBits = max(1, int(math.Ceil(math.Log2(float64(ts.K)))))
		ts.CodebookBytes = len(cb) * prec / 8
		hdr += before - len(r.b) - ts.CodebookBytes
		var pos []int
		if h.encoding == encSparse {
			b, err := r.byte1("gap width")
			if err != nil {
				return nil, ts, 0, err
			}
			hdr++
			if b < 1 || b > 8 {
				return nil, ts, 0, r.fail("gap width %d", b)
			}
			syms, cs, err := r.coded(1<<b, -1, "gaps")
			if err != nil {
				return nil, ts, 0, err
			}
			ts.GapHuffBits, ts.StreamBytes, ts.TableBytes, hdr = cs.Bits, cs.StreamBytes, cs.TableBytes, hdr+cs.HeaderBytes
			esc := 1<<b - 1
			at := -1
			for _, s := range syms {
				at += s
				if s != esc {
					at++
				}
				if at >= n {
					return nil, ts, 0, r.fail("gaps reach position %d beyond the %d elements", at, n)
				}
				if s != esc {
					pos = append(pos, at)
				}
			}
			if n-1-at >= esc {
				return nil, ts, 0, r.fail("gaps cover %d of %d elements (trailing fillers missing)", at+1, n)
			}
			ts.GapBits, ts.GapSymbols = int(b), len(syms)
		}
		count := n
		if h.encoding == encSparse {
			count = len(pos)
		}
		idx, cs, err := r.coded(len(cb), count, "indices")
		if err != nil {
			return nil, ts, 0, err
		}
		ts.IndexHuffBits = cs.Bits
		ts.StreamBytes += cs.StreamBytes
		ts.TableBytes += cs.TableBytes
		hdr += cs.HeaderBytes
		data = make([]float32, n)
		for i, j := range idx {
			if h.encoding == encSparse {
				data[pos[i]] = cb[j]
			} else {
				data[i] = cb[j]
			}
		}
		ts.Stored = count
	}
	if len(r.b) != 0 {
		return nil, ts, 0, r.fail("%d bytes left after the tensor", len(r.b))
	}
	ts.HeaderBytes = hdr
	return tensor.FromSlice(h.shape, data), ts, h.position, nil
}
