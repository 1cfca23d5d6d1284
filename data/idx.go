package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/gcompress/gcompress/tensor"
)

// idxTypes maps the IDX type byte to the element type (IDX data is
// big-endian; single bytes need no swapping).
var idxTypes = map[byte]tensor.DType{
	0x08: tensor.Uint8, 0x09: tensor.Int8, 0x0B: tensor.Int16, 0x0C: tensor.Int32,
	0x0D: tensor.Float32, 0x0E: tensor.Float64,
}

// ReadIDX decodes an IDX stream (gzip-compressed or plain): magic 0x0000,
// a type byte, a rank byte, rank big-endian uint32 dimensions, then the
// elements in row-major big-endian order. The element count is checked
// against the bytes present before anything of that size is allocated.
func ReadIDX(r io.Reader) (*tensor.Tensor, error) {
	br := bufio.NewReader(r)
	if head, err := br.Peek(2); err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("idx: short header: %w", err)
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, errors.New("idx: bad magic (not an IDX file)")
	}
	dt, ok := idxTypes[hdr[2]]
	if !ok {
		return nil, fmt.Errorf("idx: unknown element type 0x%02x", hdr[2])
	}
	rank := int(hdr[3])
	if rank == 0 {
		return nil, errors.New("idx: rank 0")
	}
	shape := make([]int, rank)
	for i := range shape {
		var d [4]byte
		if _, err := io.ReadFull(br, d[:]); err != nil {
			return nil, fmt.Errorf("idx: short header: %w", err)
		}
		shape[i] = int(binary.BigEndian.Uint32(d[:]))
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	want := int64(n) * int64(dt.Size())
	raw, err := io.ReadAll(io.LimitReader(br, want+1))
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	if int64(len(raw)) != want {
		return nil, fmt.Errorf("idx: %v %v needs %d data bytes, the file has %d", dt, shape, want, len(raw))
	}
	t, err := tensor.New(dt, shape...)
	if err != nil {
		return nil, err
	}
	decodeBigEndian(t, raw)
	return t, nil
}

func decodeBigEndian(t *tensor.Tensor, raw []byte) {
	be := binary.BigEndian
	switch d := t.Data().(type) {
	case []uint8:
		copy(d, raw)
	case []int8:
		for i := range d {
			d[i] = int8(raw[i])
		}
	case []int16:
		for i := range d {
			d[i] = int16(be.Uint16(raw[2*i:]))
		}
	case []int32:
		for i := range d {
			d[i] = int32(be.Uint32(raw[4*i:]))
		}
	case []float32:
		for i := range d {
			d[i] = math.Float32frombits(be.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range d {
			d[i] = math.Float64frombits(be.Uint64(raw[8*i:]))
		}
	}
}
