package encode

import (
	"container/heap"
	"errors"
	"fmt"
	"sort"
)

// MaxCodeLen is the longest Huffman code (so a length fits a nibble).
const MaxCodeLen = 15

// HuffmanLengths returns the code length of every symbol of an alphabet
// with the given frequencies: an optimal (Huffman) prefix code, limited to
// MaxCodeLen bits by moving leaves up (the length adjustment of JPEG,
// ITU T.81 Annex K.3), with the shortest codes going to the most frequent
// symbols. Symbols of frequency 0 get length 0 (no code); a single used
// symbol gets length 1. At most 2^MaxCodeLen symbols may be used (no
// prefix code of MaxCodeLen-bit codes has more); callers check this
// (appendCoded does).
func HuffmanLengths(freq []int64) []uint8 {
	lens := make([]uint8, len(freq))
	var used []int
	for s, f := range freq {
		if f > 0 {
			used = append(used, s)
		}
	}
	switch len(used) {
	case 0:
		return lens
	case 1:
		lens[used[0]] = 1
		return lens
	}
	// Plain Huffman: merge the two least frequent nodes until one is left.
	type node struct {
		f           int64
		left, right int // children (-1 for leaves)
		sym, order  int
	}
	nodes := make([]node, 0, 2*len(used))
	h := &nodeHeap{}
	for _, s := range used {
		nodes = append(nodes, node{f: freq[s], left: -1, right: -1, sym: s, order: len(nodes)})
		heap.Push(h, hnode{f: freq[s], id: len(nodes) - 1})
	}
	for h.Len() > 1 {
		a, b := heap.Pop(h).(hnode), heap.Pop(h).(hnode)
		nodes = append(nodes, node{f: a.f + b.f, left: a.id, right: b.id, sym: -1, order: len(nodes)})
		heap.Push(h, hnode{f: a.f + b.f, id: len(nodes) - 1})
	}
	depth := make([]int, len(nodes))
	count := make([]int, 64)
	for i := len(nodes) - 1; i >= 0; i-- { // parents come after children
		if nodes[i].left >= 0 {
			depth[nodes[i].left] = depth[i] + 1
			depth[nodes[i].right] = depth[i] + 1
		} else {
			count[depth[i]]++
		}
	}
	// Limit the lengths (JPEG Annex K.3, Adjust_BITS).
	for i := len(count) - 1; i > MaxCodeLen; i-- {
		for count[i] > 0 {
			j := i - 2
			for count[j] == 0 {
				j--
			}
			count[i] -= 2
			count[i-1]++
			count[j+1] += 2
			count[j]--
		}
	}
	// Most frequent symbols get the shortest lengths.
	sort.SliceStable(used, func(a, b int) bool {
		if freq[used[a]] != freq[used[b]] {
			return freq[used[a]] > freq[used[b]]
		}
		return used[a] < used[b]
	})
	k := 0
	for l := 1; l <= MaxCodeLen; l++ {
		for c := 0; c < count[l]; c++ {
			lens[used[k]] = uint8(l)
			k++
		}
	}
	return lens
}

type hnode struct {
	f  int64
	id int
}

// nodeHeap orders by frequency, then by creation (deterministic).
type nodeHeap []hnode

func (h nodeHeap) Len() int { return len(h) }
func (h nodeHeap) Less(i, j int) bool {
	if h[i].f != h[j].f {
		return h[i].f < h[j].f
	}
	return h[i].id < h[j].id
}
func (h nodeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)   { *h = append(*h, x.(hnode)) }
func (h *nodeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Code is a canonical Huffman code: symbols sorted by (length, symbol)
// get consecutive codes, each length's first code being the previous
// length's last code plus one, shifted left (as in DEFLATE, RFC 1951
// 3.2.2). Only the lengths need storing.
type Code struct {
	Lens  []uint8
	codes []uint32
	// decoding tables: count[l] codes of length l; symbols in canonical
	// order.
	count   [MaxCodeLen + 1]int
	symbols []int
}

// ErrBadCode reports code lengths that do not form a prefix code.
var ErrBadCode = errors.New("invalid Huffman code lengths")

// NewCode builds the canonical code of the given lengths. It fails unless
// the lengths form a complete prefix code (Kraft sum exactly 1), or a
// single code of length 1, or no code at all.
func NewCode(lens []uint8) (*Code, error) {
	c := &Code{Lens: append([]uint8(nil), lens...), codes: make([]uint32, len(lens))}
	used := 0
	for _, l := range lens {
		if l > MaxCodeLen {
			return nil, fmt.Errorf("%w: length %d > %d", ErrBadCode, l, MaxCodeLen)
		}
		c.count[l]++
		if l > 0 {
			used++
		}
	}
	c.count[0] = 0
	// Kraft: the number of codes left at each length.
	left := 1
	for l := 1; l <= MaxCodeLen; l++ {
		left <<= 1
		left -= c.count[l]
		if left < 0 {
			return nil, fmt.Errorf("%w: over-subscribed", ErrBadCode)
		}
	}
	if left > 0 && !(used == 1 && c.count[1] == 1) && used != 0 {
		return nil, fmt.Errorf("%w: incomplete", ErrBadCode)
	}
	var next [MaxCodeLen + 2]uint32
	code := uint32(0)
	for l := 1; l <= MaxCodeLen; l++ {
		code = (code + uint32(c.count[l-1])) << 1
		if l == 1 {
			code = 0
		}
		next[l] = code
	}
	for l := 1; l <= MaxCodeLen; l++ {
		for s, sl := range lens {
			if int(sl) == l {
				c.codes[s] = next[l]
				next[l]++
				c.symbols = append(c.symbols, s)
			}
		}
	}
	return c, nil
}

// Bits returns the encoded size of the frequencies in bits.
func (c *Code) Bits(freq []int64) int64 {
	var b int64
	for s, f := range freq {
		b += f * int64(c.Lens[s])
	}
	return b
}

// Put writes symbol s.
func (c *Code) Put(w *BitWriter, s int) error {
	if s < 0 || s >= len(c.Lens) || c.Lens[s] == 0 {
		return fmt.Errorf("huffman: symbol %d has no code", s)
	}
	w.Write(c.codes[s], int(c.Lens[s]))
	return nil
}

// Get reads one symbol (canonical decoding, one bit at a time, as zlib's
// puff.c does).
func (c *Code) Get(r *BitReader) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= MaxCodeLen; l++ {
		b, err := r.Bit()
		if err != nil {
			return 0, err
		}
		code |= int(b)
		n := c.count[l]
		if code-n < first {
			return c.symbols[index+(code-first)], nil
		}
		index += n
		first += n
		first <<= 1
		code <<= 1
	}
	return 0, fmt.Errorf("huffman: invalid code in the stream")
}

// WriteLengths packs code lengths two per byte (low nibble first).
func WriteLengths(lens []uint8) []byte {
	out := make([]byte, (len(lens)+1)/2)
	for i, l := range lens {
		out[i/2] |= l << (4 * (i % 2))
	}
	return out
}

// ReadLengths unpacks n code lengths written by WriteLengths.
func ReadLengths(b []byte, n int) ([]uint8, error) {
	if len(b) != (n+1)/2 {
		return nil, fmt.Errorf("huffman table: %d bytes for %d lengths", len(b), n)
	}
	out := make([]uint8, n)
	for i := range out {
		out[i] = b[i/2] >> (4 * (i % 2)) & 15
	}
	return out, nil
}

// BitWriter packs bits most significant first.
type BitWriter struct {
	buf  []byte
	acc  uint64
	nacc int
	n    int64 // bits written
}

// Write appends the low n bits of v, most significant first.
func (w *BitWriter) Write(v uint32, n int) {
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.nacc += n
	w.n += int64(n)
	for w.nacc >= 8 {
		w.nacc -= 8
		w.buf = append(w.buf, byte(w.acc>>w.nacc))
	}
}

// Bytes returns the stream, the last byte padded with zero bits.
func (w *BitWriter) Bytes() []byte {
	out := append([]byte(nil), w.buf...)
	if w.nacc > 0 {
		out = append(out, byte(w.acc<<(8-w.nacc)))
	}
	return out
}

// Len is the number of bits written.
func (w *BitWriter) Len() int64 { return w.n }

// BitReader reads bits most significant first.
type BitReader struct {
	b   []byte
	pos int64
}

// NewBitReader reads b.
func NewBitReader(b []byte) *BitReader { return &BitReader{b: b} }

// ErrShortStream reports a bit stream that ended early.
var ErrShortStream = errors.New("bit stream truncated")

// Bit reads one bit.
func (r *BitReader) Bit() (uint32, error) {
	if r.pos >= int64(len(r.b))*8 {
		return 0, ErrShortStream
	}
	v := r.b[r.pos/8] >> (7 - r.pos%8) & 1
	r.pos++
	return uint32(v), nil
}

// Read reads n bits as an unsigned number.
func (r *BitReader) Read(n int) (uint32, error) {
	var v uint32
	for i := 0; i < n; i++ {
		b, err := r.Bit()
		if err != nil {
			return 0, err
		}
		v = v<<1 | b
	}
	return v, nil
}

// Pos is the number of bits read.
func (r *BitReader) Pos() int64 { return r.pos }
