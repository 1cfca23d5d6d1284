package tensor

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gcompress/gcompress/onnx/onnxpb"
)

// ProtoShape returns the dims of p as ints after validating them.
func ProtoShape(p *onnxpb.TensorProto) ([]int, int, error) {
	shape := make([]int, len(p.Dims))
	for i, d := range p.Dims {
		if d < 0 || d > MaxElements {
			return nil, 0, fmt.Errorf("tensor %q: invalid dimension %d", p.GetName(), d)
		}
		shape[i] = int(d)
	}
	n, err := NumElements(shape)
	if err != nil {
		return nil, 0, fmt.Errorf("tensor %q: %w", p.GetName(), err)
	}
	return shape, n, nil
}

// FromProto decodes an ONNX TensorProto. Data may be in raw_data, in the typed
// field that ONNX assigns to the dtype, or in an external file named by
// external_data relative to baseDir (the directory of the model file). Every
// declared size is checked against the bytes present before anything of that
// size is allocated.
func FromProto(p *onnxpb.TensorProto, baseDir string) (*Tensor, error) {
	dt := DType(p.GetDataType())
	name := p.GetName()
	if !dt.Valid() {
		return nil, fmt.Errorf("tensor %q: unsupported data type %d", name, p.GetDataType())
	}
	if p.Segment != nil {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", name)
	}
	shape, n, err := ProtoShape(p)
	if err != nil {
		return nil, err
	}
	if p.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		raw, err := readExternal(p, baseDir, int64(n)*int64(dt.Size()))
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		return FromBytes(dt, shape, raw)
	}
	if p.RawData != nil {
		if dt == String {
			return nil, fmt.Errorf("tensor %q: string tensors cannot use raw_data", name)
		}
		t, err := FromBytes(dt, shape, p.RawData)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		return t, nil
	}
	count := typedCount(p, dt)
	if count != n {
		return nil, fmt.Errorf("tensor %q: %v %v needs %d values, the file has %d", name, dt, shape, n, count)
	}
	t, err := New(dt, shape...)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	switch d := t.data.(type) {
	case []float32:
		copy(d, p.FloatData)
	case []float64:
		copy(d, p.DoubleData)
	case []int64:
		copy(d, p.Int64Data)
	case []uint64:
		copy(d, p.Uint64Data)
	case []uint32:
		for i, v := range p.Uint64Data {
			d[i] = uint32(v)
		}
	case []string:
		for i, v := range p.StringData {
			d[i] = string(v)
		}
	case []int32:
		copy(d, p.Int32Data)
	case []int8:
		fillFromInt32(d, p.Int32Data)
	case []uint8:
		fillFromInt32(d, p.Int32Data)
	case []int16:
		fillFromInt32(d, p.Int32Data)
	case []uint16:
		fillFromInt32(d, p.Int32Data)
	case []F16:
		fillFromInt32(d, p.Int32Data)
	case []BF16:
		fillFromInt32(d, p.Int32Data)
	case []bool:
		for i, v := range p.Int32Data {
			d[i] = v != 0
		}
	}
	return t, nil
}

func fillFromInt32[T int8 | uint8 | int16 | uint16 | F16 | BF16](dst []T, src []int32) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

// typedCount is the number of values in the typed field ONNX assigns to dt.
func typedCount(p *onnxpb.TensorProto, dt DType) int {
	switch dt {
	case Float32:
		return len(p.FloatData)
	case Float64:
		return len(p.DoubleData)
	case Int64:
		return len(p.Int64Data)
	case Uint32, Uint64:
		return len(p.Uint64Data)
	case String:
		return len(p.StringData)
	}
	return len(p.Int32Data)
}

// readExternal reads want bytes of external data for p. The location must be
// a relative path inside baseDir.
func readExternal(p *onnxpb.TensorProto, baseDir string, want int64) ([]byte, error) {
	var loc string
	offset, length := int64(0), int64(-1)
	for _, kv := range p.ExternalData {
		var err error
		switch kv.GetKey() {
		case "location":
			loc = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s: %w", kv.GetKey(), err)
		}
	}
	if loc == "" {
		return nil, fmt.Errorf("external data without a location")
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, fmt.Errorf("external data location %q leaves the model directory", loc)
	}
	if offset < 0 {
		return nil, fmt.Errorf("external data offset %d", offset)
	}
	if length >= 0 && length != want {
		return nil, fmt.Errorf("external data length %d, the shape needs %d bytes", length, want)
	}
	f, err := os.Open(filepath.Join(baseDir, clean))
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if offset+want > st.Size() {
		return nil, fmt.Errorf("external data %s: needs bytes %d..%d, the file has %d", loc, offset, offset+want, st.Size())
	}
	buf := make([]byte, want)
	if _, err := f.ReadAt(buf, offset); err != nil && err != io.EOF {
		return nil, fmt.Errorf("external data %s: %w", loc, err)
	}
	return buf, nil
}

// ToProto encodes t as a TensorProto named name: numeric and bool data in
// raw_data (little-endian), strings in string_data.
func ToProto(t *Tensor, name string) *onnxpb.TensorProto {
	p := &onnxpb.TensorProto{DataType: proto32(int32(t.dtype)), Name: &name}
	p.Dims = make([]int64, len(t.shape))
	for i, d := range t.shape {
		p.Dims[i] = int64(d)
	}
	if s, ok := t.data.([]string); ok {
		for _, v := range s {
			p.StringData = append(p.StringData, []byte(v))
		}
		return p
	}
	p.RawData = append([]byte{}, t.RawBytes()...)
	return p
}

// ToProtoExternal encodes t like ToProto but appends its bytes to w (the open
// external data file called location, currently offset bytes long) and
// records location, offset and length in the proto instead of raw_data.
func ToProtoExternal(t *Tensor, name string, w io.Writer, location string, offset int64) (*onnxpb.TensorProto, int64, error) {
	if t.dtype == String {
		return ToProto(t, name), 0, nil
	}
	p := ToProto(t, name)
	raw := p.RawData
	p.RawData = nil
	if _, err := w.Write(raw); err != nil {
		return nil, 0, fmt.Errorf("tensor %q: write external data: %w", name, err)
	}
	loc := onnxpb.TensorProto_EXTERNAL
	p.DataLocation = &loc
	p.ExternalData = []*onnxpb.StringStringEntryProto{
		kv("location", location), kv("offset", strconv.FormatInt(offset, 10)),
		kv("length", strconv.Itoa(len(raw))),
	}
	return p, int64(len(raw)), nil
}

func kv(k, v string) *onnxpb.StringStringEntryProto {
	return &onnxpb.StringStringEntryProto{Key: &k, Value: &v}
}

func proto32(v int32) *int32 { return &v }
