package tensor

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gcompress/gcompress/onnx/onnxpb"
)

func TestNumElementsLimits(t *testing.T) {
	if n, err := NumElements([]int{2, 3, 4}); err != nil || n != 24 {
		t.Errorf("NumElements = %d, %v", n, err)
	}
	if n, err := NumElements(nil); err != nil || n != 1 {
		t.Errorf("scalar: %d, %v", n, err)
	}
	if _, err := NumElements([]int{1 << 20, 1 << 20, 1 << 20}); err == nil {
		t.Error("2^60 elements accepted")
	}
	if _, err := NumElements([]int{math.MaxInt, math.MaxInt}); err == nil {
		t.Error("overflowing shape accepted")
	}
	if n, err := NumElements([]int{1 << 40, 0}); err != nil || n != 0 {
		t.Errorf("zero-size dim after a huge one: %d, %v", n, err)
	}
	if _, err := NumElements([]int{-1}); err == nil {
		t.Error("negative dim accepted")
	}
	if _, err := New(Float32, 1<<40); err == nil {
		t.Error("New allocated 2^40 elements")
	}
}

func TestBroadcast(t *testing.T) {
	out, err := BroadcastShapes([]int{2, 1, 4}, []int{3, 1}, []int{})
	if err != nil || !SameShape(out, []int{2, 3, 4}) {
		t.Fatalf("BroadcastShapes = %v, %v", out, err)
	}
	if _, err := BroadcastShapes([]int{2, 3}, []int{4}); err == nil {
		t.Error("incompatible shapes accepted")
	}
	// Walk [2,3] = a[2,1] + b[3]: offsets must follow NumPy broadcasting.
	b := NewBroadcaster([]int{2, 3}, []int{2, 1}, []int{3})
	var got [][2]int
	for i := 0; i < 6; i++ {
		got = append(got, [2]int{b.Off[0], b.Off[1]})
		b.Next()
	}
	want := [][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("broadcast offsets %v, want %v", got, want)
		}
	}
}

func TestNpyRoundTrip(t *testing.T) {
	for _, x := range []*Tensor{
		FromSlice([]int{2, 3}, []float32{1, 2, 3, 4, 5, -6.5}),
		FromSlice([]int{4}, []int64{1, -2, 1 << 40, 0}),
		FromSlice([]int{}, []float64{math.Pi}),
		FromSlice([]int{2, 2}, []bool{true, false, false, true}),
		FromSlice([]int{3}, []F16{NewF16(1.5), NewF16(-2), NewF16(0)}),
		FromSlice([]int{0, 5}, []uint8{}),
		FromSlice([]int{2}, []int8{-128, 127}),
	} {
		var buf bytes.Buffer
		if err := WriteNpy(&buf, x); err != nil {
			t.Fatal(err)
		}
		if buf.Len()%64 != int(x.Bytes())%64 {
			t.Errorf("%v: header not padded to 64 bytes", x)
		}
		y, err := ReadNpy(&buf)
		if err != nil {
			t.Fatalf("%v: %v", x, err)
		}
		if y.DType() != x.DType() || !SameShape(y.Shape(), x.Shape()) || !bytes.Equal(y.RawBytes(), x.RawBytes()) {
			t.Errorf("npy round trip: %v became %v", x, y)
		}
	}
	if err := WriteNpy(&bytes.Buffer{}, FromSlice([]int{1}, []BF16{1})); err == nil {
		t.Error("bfloat16 written to .npy")
	}
}

// npyFile builds a version-1.0 .npy stream with the given header dict.
func npyFile(header string, payload []byte) []byte {
	h := header + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	return append(append(b, h...), payload...)
}

func TestNpyFortranAndErrors(t *testing.T) {
	// Fortran order [2,3]: column-major bytes 1 4 2 5 3 6 -> rows [1 2 3],[4 5 6].
	f := npyFile("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", []byte{1, 4, 2, 5, 3, 6})
	x, err := ReadNpy(bytes.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	if got := Data[uint8](x); !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6}) {
		t.Errorf("Fortran order read as %v", got)
	}
	for name, tc := range map[string]struct {
		raw  []byte
		want string
	}{
		"magic":     {[]byte("NOTNUMPY0000"), "bad magic"},
		"dtype":     {npyFile("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", []byte{0, 0, 0, 0}), "unsupported dtype"},
		"truncated": {npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", []byte{0, 0, 0, 0}), "needs 16 data bytes"},
		"absurd":    {npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1000000), }", nil), "more than"},
		"noshape":   {npyFile("{'descr': '<f4', 'fortran_order': False}", nil), "no shape"},
		"bool":      {npyFile("{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }", []byte{7}), "not 0 or 1"},
		"version":   {append([]byte("\x93NUMPY\x09\x00"), 0, 0), "unsupported format version"},
	} {
		_, err := ReadNpy(bytes.NewReader(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, tc.want)
		}
	}
}

func TestSaveNpyAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.npy")
	if err := SaveNpy(p, FromSlice([]int{2}, []float32{1, 2})); err != nil {
		t.Fatal(err)
	}
	x, err := LoadNpy(p)
	if err != nil || x.F32()[1] != 2 {
		t.Fatalf("LoadNpy: %v %v", x, err)
	}
	if err := SaveNpy(p, FromSlice([]int{1}, []BF16{1})); err == nil {
		t.Fatal("bf16 save should fail")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("failed save left files behind: %v", entries)
	}
	if y, _ := LoadNpy(p); y == nil || y.F32()[0] != 1 {
		t.Error("failed save damaged the existing file")
	}
}

func TestTensorProtoTypedFields(t *testing.T) {
	cases := []struct {
		p    *onnxpb.TensorProto
		want *Tensor
	}{
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(Float32)), Dims: []int64{2}, FloatData: []float32{1.5, -1}},
			FromSlice([]int{2}, []float32{1.5, -1})},
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(Int8)), Dims: []int64{3}, Int32Data: []int32{-128, 0, 127}},
			FromSlice([]int{3}, []int8{-128, 0, 127})},
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(Float16)), Dims: []int64{1}, Int32Data: []int32{0x3c00}},
			FromSlice([]int{1}, []F16{NewF16(1)})},
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(Bool)), Dims: []int64{2}, Int32Data: []int32{1, 0}},
			FromSlice([]int{2}, []bool{true, false})},
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(Uint32)), Dims: []int64{1}, Uint64Data: []uint64{4000000000}},
			FromSlice([]int{1}, []uint32{4000000000})},
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(String)), Dims: []int64{2}, StringData: [][]byte{[]byte("a"), []byte("bc")}},
			FromSlice([]int{2}, []string{"a", "bc"})},
		{&onnxpb.TensorProto{DataType: proto.Int32(int32(Int64)), Dims: []int64{}, RawData: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
			Scalar(int64(7))},
	}
	for _, tc := range cases {
		got, err := FromProto(tc.p, "")
		if err != nil {
			t.Errorf("%v: %v", tc.want, err)
			continue
		}
		if got.DType() != tc.want.DType() || !SameShape(got.Shape(), tc.want.Shape()) {
			t.Errorf("got %v, want %v", got, tc.want)
			continue
		}
		for i := 0; i < got.Len(); i++ {
			if got.DType() == String {
				if Data[string](got)[i] != Data[string](tc.want)[i] {
					t.Errorf("string element %d differs", i)
				}
			} else if got.Float64At(i) != tc.want.Float64At(i) {
				t.Errorf("%v element %d: %v, want %v", got, i, got.Float64At(i), tc.want.Float64At(i))
			}
		}
		// Encoding and decoding again keeps the bits.
		back, err := FromProto(ToProto(got, "x"), "")
		if err != nil || back.DType() != got.DType() {
			t.Fatalf("re-encode %v: %v", got, err)
		}
		if got.DType() != String && !bytes.Equal(back.RawBytes(), got.RawBytes()) {
			t.Errorf("%v changed in ToProto/FromProto", got)
		}
	}
}

func TestTensorProtoErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		p    *onnxpb.TensorProto
		want string
	}{
		"raw size":     {&onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{4}, RawData: make([]byte, 12)}, "12 bytes"},
		"typed count":  {&onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{3}, FloatData: []float32{1}}, "needs 3 values"},
		"absurd":       {&onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{1000000, 1000000}, RawData: []byte{1}}, "more than"},
		"negative dim": {&onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Dims: []int64{-3}}, "invalid dimension"},
		"dtype":        {&onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(14), Dims: []int64{1}}, "unsupported data type"},
		"segment":      {&onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(1), Segment: &onnxpb.TensorProto_Segment{}}, "segmented"},
	} {
		_, err := FromProto(tc.p, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("%s: got %v, want error naming \"w\" and containing %q", name, err, tc.want)
		}
	}
}

func FuzzReadNpy(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/fuzz-seeds/*.npy")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add(npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 8)))
	f.Add(npyFile("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3), }", []byte{1, 4, 2, 5, 3, 6}))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadNpy(bytes.NewReader(b))
		if err != nil {
			return
		}
		if int(x.Bytes()) > len(b) {
			t.Fatalf("decoded %d data bytes from a %d-byte file", x.Bytes(), len(b))
		}
		var buf bytes.Buffer
		if err := WriteNpy(&buf, x); err != nil {
			t.Fatal(err)
		}
		y, err := ReadNpy(&buf)
		if err != nil || !bytes.Equal(y.RawBytes(), x.RawBytes()) {
			t.Fatalf("re-encoded tensor does not read back: %v", err)
		}
	})
}

// TestView: a view shares the elements it covers, has its own shape, and
// is refused past the end.
func TestView(t *testing.T) {
	x := FromSlice([]int{2, 3}, []float32{0, 1, 2, 3, 4, 5})
	v, err := x.View(2, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !SameShape(v.Shape(), []int{3, 1}) || v.F32()[0] != 2 || v.F32()[2] != 4 || len(v.F32()) != 3 {
		t.Fatalf("view %v %v", v, v.F32())
	}
	v.F32()[1] = 9
	if x.F32()[3] != 9 {
		t.Fatal("the view does not share x's elements")
	}
	if _, err := x.View(4, 3); err == nil {
		t.Fatal("a view past the end was accepted")
	}
	if _, err := x.View(-1, 1); err == nil {
		t.Fatal("a negative offset was accepted")
	}
}
