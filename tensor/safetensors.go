package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
)

// The safetensors format (https://github.com/huggingface/safetensors):
//
//	bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
//	bytes [8, 8+N)      the header: a UTF-8 JSON object, possibly right-padded
//	                    with spaces (0x20)
//	bytes [8+N, end)    the byte buffer holding every tensor's elements
//
// The header maps each tensor name to {"dtype": D, "shape": [d0, ...],
// "data_offsets": [begin, end]}, offsets relative to the start of the byte
// buffer, end exclusive, elements little-endian in row-major order. The
// optional key "__metadata__" maps to a string -> string object. The
// tensors must index the byte buffer entirely, without holes or overlaps.

// MaxSafetensorsHeader bounds the JSON header (100 MB, the limit of the
// reference implementation), so that a corrupt length fails before any
// allocation.
const MaxSafetensorsHeader = 100 << 20

// safetensorsMetadataKey is the header key of the string -> string metadata.
const safetensorsMetadataKey = "__metadata__"

var safetensorsDTypes = map[string]DType{
	"F64": Float64, "F32": Float32, "F16": Float16, "BF16": BFloat16,
	"I64": Int64, "I32": Int32, "I16": Int16, "I8": Int8,
	"U64": Uint64, "U32": Uint32, "U16": Uint16, "U8": Uint8, "BOOL": Bool,
}

func safetensorsDTypeName(dt DType) (string, error) {
	for name, d := range safetensorsDTypes {
		if d == dt {
			return name, nil
		}
	}
	return "", fmt.Errorf("safetensors cannot hold dtype %v", dt)
}

// NamedTensor is one entry of a safetensors file.
type NamedTensor struct {
	Name   string
	Tensor *Tensor
}

type safetensorsEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ReadSafetensors decodes a safetensors file held in b. It returns the
// tensors in byte-buffer order and the metadata (nil when absent). Every
// declared size and offset is checked against the bytes present before
// anything is allocated; the tensors do not share memory with b.
func ReadSafetensors(b []byte) ([]NamedTensor, map[string]string, error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("safetensors: %d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > MaxSafetensorsHeader {
		return nil, nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxSafetensorsHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("safetensors: header length %d but only %d bytes follow", n, len(b)-8)
	}
	header := b[8 : 8+n]
	buf := b[8+n:]
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("safetensors: header is not a JSON object")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(header))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("safetensors: header: %w", err)
	}
	if rest := bytes.TrimRight(header[dec.InputOffset():], " "); len(rest) != 0 {
		return nil, nil, errors.New("safetensors: header: trailing bytes after the JSON object")
	}
	var meta map[string]string
	type span struct {
		name  string
		dt    DType
		shape []int
		begin int64
		end   int64
	}
	spans := make([]span, 0, len(raw))
	for name, msg := range raw {
		if name == safetensorsMetadataKey {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, fmt.Errorf("safetensors: %s: %w", safetensorsMetadataKey, err)
			}
			continue
		}
		var e safetensorsEntry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		dt, ok := safetensorsDTypes[e.DType]
		if !ok {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, e.DType)
		}
		shape := make([]int, len(e.Shape))
		for i, s := range e.Shape {
			if s < 0 || s > MaxElements {
				return nil, nil, fmt.Errorf("safetensors: tensor %q: invalid dimension %d", name, s)
			}
			shape[i] = int(s)
		}
		count, err := NumElements(shape)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: data_offsets must be [begin, end]", name)
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > int64(len(buf)) {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] outside the %d-byte buffer", name, begin, end, len(buf))
		}
		if want := int64(count) * int64(dt.Size()); end-begin != want {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %d bytes for %s %v, want %d", name, end-begin, e.DType, shape, want)
		}
		spans = append(spans, span{name, dt, shape, begin, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].name < spans[j].name
	})
	var next int64
	for _, s := range spans {
		if s.begin != next {
			return nil, nil, fmt.Errorf("safetensors: tensor %q starts at byte %d, want %d (holes and overlaps are not allowed)", s.name, s.begin, next)
		}
		next = s.end
	}
	if next != int64(len(buf)) {
		return nil, nil, fmt.Errorf("safetensors: tensors index %d of the %d buffer bytes", next, len(buf))
	}
	out := make([]NamedTensor, len(spans))
	for i, s := range spans {
		data := buf[s.begin:s.end]
		if s.dt == Bool {
			for _, v := range data {
				if v > 1 {
					return nil, nil, fmt.Errorf("safetensors: tensor %q: BOOL byte %d is neither 0 nor 1", s.name, v)
				}
			}
		}
		t, err := FromBytes(s.dt, s.shape, data)
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: tensor %q: %w", s.name, err)
		}
		out[i] = NamedTensor{Name: s.name, Tensor: t}
	}
	return out, meta, nil
}

// ReadSafetensorsFile reads a safetensors file from disk (see
// ReadSafetensors).
func ReadSafetensorsFile(path string) ([]NamedTensor, map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	ts, meta, err := ReadSafetensors(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return ts, meta, nil
}

// WriteSafetensors encodes tensors (in the given order) and metadata (may
// be nil) as a safetensors file. The header is padded with spaces so that
// the byte buffer starts at an 8-byte-aligned offset, as the reference
// writer does. Names must be unique and non-empty; strings cannot be stored.
func WriteSafetensors(w io.Writer, tensors []NamedTensor, meta map[string]string) error {
	var h bytes.Buffer
	h.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			h.WriteByte(',')
		}
		first = false
	}
	if len(meta) > 0 {
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sep()
		h.WriteString(strconv.Quote(safetensorsMetadataKey))
		h.WriteString(":{")
		for i, k := range keys {
			if i > 0 {
				h.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(meta[k])
			h.Write(kb)
			h.WriteByte(':')
			h.Write(vb)
		}
		h.WriteByte('}')
	}
	seen := map[string]bool{}
	var offset int64
	for _, nt := range tensors {
		if nt.Name == "" || nt.Name == safetensorsMetadataKey {
			return fmt.Errorf("safetensors: invalid tensor name %q", nt.Name)
		}
		if seen[nt.Name] {
			return fmt.Errorf("safetensors: duplicate tensor name %q", nt.Name)
		}
		seen[nt.Name] = true
		if nt.Tensor == nil {
			return fmt.Errorf("safetensors: tensor %q is nil", nt.Name)
		}
		dtName, err := safetensorsDTypeName(nt.Tensor.DType())
		if err != nil {
			return fmt.Errorf("tensor %q: %w", nt.Name, err)
		}
		shape := nt.Tensor.Shape()
		if shape == nil {
			shape = []int{}
		}
		size := nt.Tensor.Bytes()
		sep()
		nb, _ := json.Marshal(nt.Name)
		sb, _ := json.Marshal(shape)
		h.Write(nb)
		fmt.Fprintf(&h, `:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, dtName, sb, offset, offset+size)
		offset += size
	}
	h.WriteByte('}')
	for (8+h.Len())%8 != 0 {
		h.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(h.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, nt := range tensors {
		if _, err := w.Write(nt.Tensor.RawBytes()); err != nil {
			return err
		}
	}
	return nil
}
