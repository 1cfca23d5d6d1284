package tensor

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func safetensorsBytes(t testing.TB, ts []NamedTensor, meta map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteSafetensors(&b, ts, meta); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sampleSafetensors() []NamedTensor {
	return []NamedTensor{
		{"w", FromSlice([]int{2, 3}, []float32{1, -2, 3.5, 0, 1e-8, -7})},
		{"step", Scalar[int64](42)},
		{"mask", FromSlice([]int{3}, []bool{true, false, true})},
		{"q", FromSlice([]int{2, 2}, []int8{-128, 0, 1, 127})},
		{"empty", FromSlice([]int{0, 4}, []float32{})},
		{"h", FromSlice([]int{2}, []F16{NewF16(1.5), NewF16(-2)})},
	}
}

func TestSafetensorsRoundTrip(t *testing.T) {
	in := sampleSafetensors()
	meta := map[string]string{"format": "pt", "note": "quote \" and \\ survive"}
	b := safetensorsBytes(t, in, meta)
	if n := binary.LittleEndian.Uint64(b); (8+n)%8 != 0 {
		t.Errorf("byte buffer starts at %d, not 8-byte aligned", 8+n)
	}
	out, gotMeta, err := ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d tensors back, want %d", len(out), len(in))
	}
	for i := range in { // buffer order is write order
		if out[i].Name != in[i].Name || out[i].Tensor.DType() != in[i].Tensor.DType() ||
			!SameShape(out[i].Tensor.Shape(), in[i].Tensor.Shape()) ||
			!bytes.Equal(out[i].Tensor.RawBytes(), in[i].Tensor.RawBytes()) {
			t.Errorf("tensor %d: got %s %v, want %s %v", i, out[i].Name, out[i].Tensor, in[i].Name, in[i].Tensor)
		}
	}
	for k, v := range meta {
		if gotMeta[k] != v {
			t.Errorf("metadata %q = %q, want %q", k, gotMeta[k], v)
		}
	}
	// The result must not alias the input bytes.
	out[0].Tensor.F32()[0] = 99
	again, _, _ := ReadSafetensors(b)
	if again[0].Tensor.F32()[0] != 1 {
		t.Error("decoded tensor shares memory with the input bytes")
	}
}

// TestSafetensorsKnownFile decodes bytes laid out by hand as the reference
// implementation writes them.
func TestSafetensorsKnownFile(t *testing.T) {
	header := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}  `
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	b = binary.LittleEndian.AppendUint32(b, 0x3f800000) // 1.0
	b = binary.LittleEndian.AppendUint32(b, 0xc0000000) // -2.0
	ts, meta, err := ReadSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Name != "a" || ts[0].Tensor.F32()[0] != 1 || ts[0].Tensor.F32()[1] != -2 || meta["k"] != "v" {
		t.Fatalf("got %v %v", ts, meta)
	}
}

func TestSafetensorsRejects(t *testing.T) {
	mk := func(header string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), make([]byte, data)...)
	}
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	cases := map[string][]byte{
		"short":           {1, 2, 3},
		"huge header":     huge,
		"header past end": binary.LittleEndian.AppendUint64(nil, 50),
		"not an object":   mk(`[]`, 0),
		"bad json":        mk(`{"a":`, 0),
		"trailing":        mk(`{} x`, 0),
		"bad dtype":       mk(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, 1),
		"negative dim":    mk(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1),
		"size mismatch":   mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4),
		"past buffer":     mk(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, 4),
		"reversed":        mk(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 4),
		"hole":            mk(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, 4),
		"overlap":         mk(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, 3),
		"unindexed tail":  mk(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, 3),
		"one offset":      mk(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0]}}`, 2),
		"unknown field":   mk(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"x":1}}`, 2),
		"bad bool":        mk(`{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, 0),
		"overflow shape":  mk(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4),
		"bad metadata":    mk(`{"__metadata__":{"k":1}}`, 0),
	}
	cases["bad bool"] = append(cases["bad bool"], 2)
	for name, b := range cases {
		if _, _, err := ReadSafetensors(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "safetensors") {
			t.Errorf("%s: error %q does not name the format", name, err)
		}
	}
}

func TestSafetensorsWriteRejects(t *testing.T) {
	var b bytes.Buffer
	x := Scalar[float32](1)
	for name, ts := range map[string][]NamedTensor{
		"duplicate": {{"a", x}, {"a", x}},
		"empty":     {{"", x}},
		"reserved":  {{"__metadata__", x}},
		"string":    {{"s", Scalar("x")}},
		"nil":       {{"n", nil}},
	} {
		if err := WriteSafetensors(&b, ts, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzSafetensors feeds arbitrary bytes to the reader: it must return
// tensors or an error, never panic or allocate past the input, and what it
// accepts must survive a write and a read unchanged.
func FuzzSafetensors(f *testing.F) {
	f.Add(safetensorsBytes(f, sampleSafetensors(), map[string]string{"a": "b"}))
	f.Add(safetensorsBytes(f, nil, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, meta, err := ReadSafetensors(b)
		if err != nil {
			return
		}
		var total int64
		for _, nt := range ts {
			total += nt.Tensor.Bytes()
		}
		if total > int64(len(b)) {
			t.Fatalf("decoded %d bytes of tensors from %d input bytes", total, len(b))
		}
		var w bytes.Buffer
		if err := WriteSafetensors(&w, ts, meta); err != nil {
			t.Fatalf("accepted tensors do not encode: %v", err)
		}
		back, meta2, err := ReadSafetensors(w.Bytes())
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if len(back) != len(ts) || len(meta2) != len(meta) {
			t.Fatalf("round trip changed the entry count")
		}
		for i := range ts {
			if back[i].Name != ts[i].Name || !bytes.Equal(back[i].Tensor.RawBytes(), ts[i].Tensor.RawBytes()) {
				t.Fatalf("round trip changed tensor %q", ts[i].Name)
			}
		}
	})
}
