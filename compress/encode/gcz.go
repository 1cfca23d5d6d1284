package encode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

// Format constants (see the package comment).
const (
	gczVersion    = 1
	headerSize    = 8
	trailerSize   = 20
	sectionGraph  = 1
	sectionTensor = 2

	encRaw32  = 0
	encRaw16  = 1
	encShared = 2
	encSparse = 3

	// maxElems bounds the elements of the encoded tensors of an archive,
	// all together (2^28, 1 GiB of float32).
	maxElems = 1 << 28
	// maxSection bounds a section payload (1 GiB).
	maxSection = 1 << 30
)

var (
	magicHeader  = []byte{'G', 'C', 'Z', 0x01}
	magicTrailer = []byte{'G', 'C', 'Z', 0xFF}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// ErrChecksum is wrapped by every checksum and length mismatch: the file
// was truncated, extended or modified.
var ErrChecksum = errors.New("checksum mismatch (the file is truncated or corrupt)")

// encodingNames name the tensor encodings in reports.
var encodingNames = map[byte]string{encRaw32: "raw32", encRaw16: "raw16", encShared: "shared", encSparse: "sparse"}

// appendSection frames a payload.
func appendSection(out []byte, kind byte, payload []byte) []byte {
	start := len(out)
	out = append(out, kind)
	out = binary.AppendUvarint(out, uint64(len(payload)))
	out = append(out, payload...)
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out[start:], castagnoli))
}

// sectionOverhead is the framing of a section of n payload bytes.
func sectionOverhead(n int) int {
	return 1 + len(binary.AppendUvarint(nil, uint64(n))) + 4
}

// assemble writes header, sections and trailer.
func assemble(sections [][2]any) []byte {
	out := append([]byte(nil), magicHeader...)
	out = append(out, gczVersion, 0, 0, 0)
	for _, s := range sections {
		out = appendSection(out, s[0].(byte), s[1].([]byte))
	}
	out = append(out, magicTrailer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(sections)))
	out = binary.LittleEndian.AppendUint64(out, uint64(len(out)+8+4))
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// rawSection is one section as read.
type rawSection struct {
	kind    byte
	payload []byte
	offset  int
}

// LooksLikeArchive reports whether b (a file's first bytes, 4 or more)
// starts as a .gcz archive does.
func LooksLikeArchive(b []byte) bool { return bytes.HasPrefix(b, magicHeader) }

// split verifies the framing and checksums and returns the sections.
func split(b []byte) ([]rawSection, error) {
	if len(b) < headerSize+trailerSize {
		return nil, fmt.Errorf("gcz: %d bytes is too short for an archive: %w", len(b), ErrChecksum)
	}
	if !bytes.Equal(b[:4], magicHeader) {
		return nil, fmt.Errorf("gcz: not a .gcz archive (bad magic)")
	}
	if b[4] != gczVersion {
		return nil, fmt.Errorf("gcz: format version %d (this build reads %d)", b[4], gczVersion)
	}
	t := b[len(b)-trailerSize:]
	if !bytes.Equal(t[:4], magicTrailer) {
		return nil, fmt.Errorf("gcz: no trailer at the end (truncated or extended file): %w", ErrChecksum)
	}
	if n := binary.LittleEndian.Uint64(t[8:16]); n != uint64(len(b)) {
		return nil, fmt.Errorf("gcz: the trailer records %d bytes, the file has %d: %w", n, len(b), ErrChecksum)
	}
	if crc := binary.LittleEndian.Uint32(t[16:]); crc != crc32.Checksum(b[:len(b)-4], castagnoli) {
		return nil, fmt.Errorf("gcz: file checksum: %w", ErrChecksum)
	}
	count := binary.LittleEndian.Uint32(t[4:8])
	var out []rawSection
	body := b[headerSize : len(b)-trailerSize]
	off := headerSize
	for len(body) > 0 {
		kind := body[0]
		n, k := binary.Uvarint(body[1:])
		if k <= 0 || n > maxSection || uint64(len(body)-1-k) < n+4 {
			return nil, fmt.Errorf("gcz: section %d at byte %d: bad length: %w", len(out)+1, off, ErrChecksum)
		}
		end := 1 + k + int(n)
		if crc := binary.LittleEndian.Uint32(body[end:]); crc != crc32.Checksum(body[:end], castagnoli) {
			return nil, fmt.Errorf("gcz: section %d at byte %d: %w", len(out)+1, off, ErrChecksum)
		}
		out = append(out, rawSection{kind: kind, payload: body[1+k : end], offset: off})
		body = body[end+4:]
		off += end + 4
	}
	if uint32(len(out)) != count {
		return nil, fmt.Errorf("gcz: %d sections, the trailer records %d: %w", len(out), count, ErrChecksum)
	}
	return out, nil
}

// reader decodes a payload, remembering the first error.
type reader struct {
	b            []byte
	payloadStart []byte
	what         string
}

func (r *reader) fail(format string, args ...any) error {
	return fmt.Errorf("gcz: %s: %s", r.what, fmt.Sprintf(format, args...))
}

func (r *reader) uvarint(what string) (uint64, error) {
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		return 0, r.fail("bad %s", what)
	}
	r.b = r.b[k:]
	return v, nil
}

func (r *reader) byte1(what string) (byte, error) {
	if len(r.b) < 1 {
		return 0, r.fail("truncated before %s", what)
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v, nil
}

func (r *reader) bytesN(n uint64, what string) ([]byte, error) {
	if n > uint64(len(r.b)) {
		return nil, r.fail("%s of %d bytes runs past the section", what, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, nil
}

// tensorHeader is the common start of a tensor payload.
type tensorHeader struct {
	name     string
	position int
	shape    []int
	encoding byte
}

func appendTensorHeader(out []byte, h tensorHeader) []byte {
	out = binary.AppendUvarint(out, uint64(len(h.name)))
	out = append(out, h.name...)
	out = binary.AppendUvarint(out, uint64(h.position))
	out = append(out, 1) // float32
	out = binary.AppendUvarint(out, uint64(len(h.shape)))
	for _, d := range h.shape {
		out = binary.AppendUvarint(out, uint64(d))
	}
	return append(out, h.encoding)
}

func (r *reader) tensorHeader() (tensorHeader, error) {
	var h tensorHeader
	n, err := r.uvarint("name length")
	if err != nil {
		return h, err
	}
	name, err := r.bytesN(n, "name")
	if err != nil {
		return h, err
	}
	h.name = string(name)
	r.what = fmt.Sprintf("tensor %q", h.name)
	pos, err := r.uvarint("position")
	if err != nil {
		return h, err
	}
	if pos > maxElems {
		return h, r.fail("position %d", pos)
	}
	h.position = int(pos)
	dt, err := r.byte1("dtype")
	if err != nil {
		return h, err
	}
	if dt != 1 {
		return h, r.fail("dtype code %d (only float32, 1, is encoded)", dt)
	}
	rank, err := r.uvarint("rank")
	if err != nil {
		return h, err
	}
	if rank > 8 {
		return h, r.fail("rank %d", rank)
	}
	total := uint64(1)
	for i := uint64(0); i < rank; i++ {
		d, err := r.uvarint("dimension")
		if err != nil {
			return h, err
		}
		total *= max(d, 1)
		if d > maxElems || total > maxElems {
			return h, r.fail("shape too large")
		}
		h.shape = append(h.shape, int(d))
	}
	if h.encoding, err = r.byte1("encoding"); err != nil {
		return h, err
	}
	if _, ok := encodingNames[h.encoding]; !ok {
		return h, r.fail("unknown encoding %d", h.encoding)
	}
	return h, nil
}

// appendCodebook writes precision, k and the centroids.
func appendCodebook(out []byte, cb []float32, half bool) []byte {
	if half {
		out = append(out, 16)
	} else {
		out = append(out, 32)
	}
	out = binary.AppendUvarint(out, uint64(len(cb)))
	for _, v := range cb {
		if half {
			out = binary.LittleEndian.AppendUint16(out, uint16(tensor.NewF16(v)))
		} else {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
	}
	return out
}

func (r *reader) codebook() ([]float32, int, error) {
	prec, err := r.byte1("codebook precision")
	if err != nil {
		return nil, 0, err
	}
	if prec != 16 && prec != 32 {
		return nil, 0, r.fail("codebook precision %d", prec)
	}
	k, err := r.uvarint("codebook size")
	if err != nil {
		return nil, 0, err
	}
	if k < 1 || k > 1<<16 {
		return nil, 0, r.fail("codebook size %d", k)
	}
	raw, err := r.bytesN(k*uint64(prec/8), "codebook")
	if err != nil {
		return nil, 0, err
	}
	cb := make([]float32, k)
	for i := range cb {
		if prec == 16 {
			cb[i] = tensor.F16(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		} else {
			cb[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		if math.IsNaN(float64(cb[i])) || math.IsInf(float64(cb[i]), 0) {
			return nil, 0, r.fail("codebook value %d is %v", i, cb[i])
		}
	}
	return cb, int(prec), nil
}

// appendCoded writes count, the code lengths and the stream of a
// Huffman-coded symbol sequence over an alphabet of n symbols.
func appendCoded(out []byte, syms []int, n int) ([]byte, codedSize, error) {
	freq := make([]int64, n)
	for _, s := range syms {
		freq[s]++
	}
	if used := usedSymbols(freq); used > 1<<MaxCodeLen {
		return nil, codedSize{}, fmt.Errorf("%d distinct symbols: a Huffman code limited to %d bits has at most %d (use fewer index bits)", used, MaxCodeLen, 1<<MaxCodeLen)
	}
	code, err := NewCode(HuffmanLengths(freq))
	if err != nil {
		return nil, codedSize{}, err
	}
	w := &BitWriter{}
	for _, s := range syms {
		if err := code.Put(w, s); err != nil {
			return nil, codedSize{}, err
		}
	}
	stream := w.Bytes()
	table := WriteLengths(code.Lens)
	start := len(out)
	out = binary.AppendUvarint(out, uint64(len(syms)))
	hdr := len(out) - start
	out = append(out, table...)
	mid := len(out)
	out = binary.AppendUvarint(out, uint64(len(stream)))
	hdr += len(out) - mid
	out = append(out, stream...)
	return out, codedSize{Bits: w.Len(), StreamBytes: len(stream), TableBytes: len(table), HeaderBytes: hdr}, nil
}

// usedSymbols counts the symbols of non-zero frequency.
func usedSymbols(freq []int64) int {
	n := 0
	for _, f := range freq {
		if f > 0 {
			n++
		}
	}
	return n
}

// codedSize is the cost of one coded sequence.
type codedSize struct {
	Bits                                 int64
	StreamBytes, TableBytes, HeaderBytes int
}

// coded reads a sequence written by appendCoded (alphabet n) and returns
// its symbols; want (>= 0) is the count it must have.
func (r *reader) coded(n int, want int, what string) ([]int, codedSize, error) {
	var cs codedSize
	start := len(r.b)
	count, err := r.uvarint(what + " count")
	if err != nil {
		return nil, cs, err
	}
	if count > maxElems {
		return nil, cs, r.fail("%s count %d", what, count)
	}
	if want >= 0 && count != uint64(want) {
		return nil, cs, r.fail("%s count %d, want %d", what, count, want)
	}
	cs.HeaderBytes = start - len(r.b)
	table, err := r.bytesN(uint64((n+1)/2), what+" code lengths")
	if err != nil {
		return nil, cs, err
	}
	cs.TableBytes = len(table)
	lens, err := ReadLengths(table, n)
	if err != nil {
		return nil, cs, r.fail("%v", err)
	}
	code, err := NewCode(lens)
	if err != nil {
		return nil, cs, r.fail("%s: %v", what, err)
	}
	mid := len(r.b)
	sl, err := r.uvarint(what + " stream length")
	if err != nil {
		return nil, cs, err
	}
	cs.HeaderBytes += mid - len(r.b)
	stream, err := r.bytesN(sl, what+" stream")
	if err != nil {
		return nil, cs, err
	}
	cs.StreamBytes = len(stream)
	// Every code is at least one bit: a stream of sl bytes holds at most
	// 8*sl symbols (bounds the allocation).
	if count > 8*sl {
		return nil, cs, r.fail("%s: %d symbols cannot fit %d bytes", what, count, sl)
	}
	br := NewBitReader(stream)
	out := make([]int, count)
	for i := range out {
		s, err := code.Get(br)
		if err != nil {
			return nil, cs, r.fail("%s symbol %d: %v", what, i, err)
		}
		out[i] = s
	}
	if (br.Pos()+7)/8 != int64(len(stream)) {
		return nil, cs, r.fail("%s stream has %d bytes, the symbols use %d bits", what, len(stream), br.Pos())
	}
	cs.Bits = br.Pos()
	return out, cs, nil
}
