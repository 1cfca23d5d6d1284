package data_test

import (
	"bytes"
	"compress/gzip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/tensor"
)

func TestEmbeddedMNIST(t *testing.T) {
	for split, n := range map[string]int{"train": 7000, "test": 1000} {
		d, err := mnist.Load(split)
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != n || d.Rows != 28 || d.Cols != 28 {
			t.Fatalf("%s: %d samples of %dx%d, want %d of 28x28", split, d.Len(), d.Rows, d.Cols, n)
		}
		counts := make([]int, 10)
		for _, l := range d.Labels {
			if l < 0 || l > 9 {
				t.Fatalf("%s: label %d", split, l)
			}
			counts[l]++
		}
		for c, k := range counts {
			if k < n/20 { // every digit is well represented in a random split
				t.Errorf("%s: digit %d has only %d samples", split, c, k)
			}
		}
		var lo, hi float32 = 1, 0
		for _, p := range d.Images.F32() {
			lo, hi = min(lo, p), max(hi, p)
		}
		if lo != 0 || hi != 1 {
			t.Errorf("%s: pixels span [%v,%v], want [0,1]", split, lo, hi)
		}
	}
}

func TestBatchShapes(t *testing.T) {
	d, err := mnist.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Batch([]int{3, 5}, []int{2, 1, 28, 28})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.F32()[784+100], d.Images.F32()[5*784+100]; got != want {
		t.Errorf("batch element: %v, want %v", got, want)
	}
	if _, err := d.Batch([]int{1}, []int{1, 100}); err == nil {
		t.Error("wrong batch shape accepted")
	}
	if _, err := d.Batch([]int{5000}, []int{1, 784}); err == nil {
		t.Error("out-of-range sample accepted")
	}
}

func idxBytes(typ byte, dims []uint32, payload []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, payload...)
}

func TestReadIDX(t *testing.T) {
	raw := idxBytes(0x0B, []uint32{2}, []byte{0x01, 0x02, 0xff, 0xfe})
	x, err := data.ReadIDX(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := tensor.Data[int16](x); got[0] != 0x0102 || got[1] != -2 {
		t.Errorf("int16 decode: %v", got)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(raw)
	w.Close()
	if _, err := data.ReadIDX(&gz); err != nil {
		t.Errorf("gzipped: %v", err)
	}
	for name, tc := range map[string]struct {
		raw  []byte
		want string
	}{
		"magic":     {[]byte{1, 0, 8, 1, 0, 0, 0, 1, 0}, "bad magic"},
		"type":      {idxBytes(0x42, []uint32{1}, []byte{0}), "unknown element type"},
		"truncated": {idxBytes(0x08, []uint32{10}, []byte{1, 2}), "needs 10 data bytes"},
		"too long":  {idxBytes(0x08, []uint32{1}, []byte{1, 2}), "needs 1 data bytes"},
		"absurd":    {idxBytes(0x08, []uint32{1 << 31, 1 << 31, 1 << 31}, nil), "more than"},
		"header":    {[]byte{0, 0, 8}, "short header"},
	} {
		_, err := data.ReadIDX(bytes.NewReader(tc.raw))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, tc.want)
		}
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(0x08, []uint32{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(idxBytes(0x0D, []uint32{1}, []byte{0x3f, 0x80, 0, 0}))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := data.ReadIDX(bytes.NewReader(b))
		gzipped := len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
		if err == nil && !gzipped && x.Len()*x.DType().Size() > len(b) {
			t.Fatalf("decoded %d bytes of elements from %d input bytes", x.Len()*x.DType().Size(), len(b))
		}
	})
}

func TestCheckLabels(t *testing.T) {
	d := &data.Dataset{Labels: []int{0, 9, 3}}
	if err := d.CheckLabels(10); err != nil {
		t.Errorf("labels 0..9 of a 10-class model: %v", err)
	}
	for _, bad := range [][]int{{0, 10}, {-1}} {
		d := &data.Dataset{Labels: bad}
		if err := d.CheckLabels(10); err == nil {
			t.Errorf("labels %v passed for 10 classes", bad)
		}
	}
}

// TestLoadNpy: samples of any shape from .npy files (float64 converted),
// labels beside them in a dataset directory, and clean errors for the
// wrong dtype, rank or label count.
func TestLoadNpy(t *testing.T) {
	dir := t.TempDir()
	save := func(name string, x *tensor.Tensor) string {
		p := filepath.Join(dir, name)
		if err := tensor.SaveNpy(p, x); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vals := []float64{0.5, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	save("calib.npy", tensor.FromSlice([]int{2, 3, 1, 2}, vals))
	save("calib-labels.npy", tensor.FromSlice([]int{2}, []int64{7, 1}))
	d, err := data.Load(dir, "calib")
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Rows != 3 || d.Cols != 2 || d.Images.DType() != tensor.Float32 || d.Images.F32()[1] != -1 ||
		len(d.Labels) != 2 || d.Labels[0] != 7 || d.Describe() != "samples of shape [3 1 2]" {
		t.Fatalf("dataset %v labels %v (%s)", d.Images, d.Labels, d.Describe())
	}
	b, err := d.Batch([]int{1}, []int{1, 6})
	if err != nil || b.F32()[0] != 6 {
		t.Fatalf("batch %v: %v", b, err)
	}
	f, err := data.Open(filepath.Join(dir, "calib.npy"), "ignored")
	if err != nil || f.Labels != nil || f.Len() != 2 {
		t.Fatalf("one file: %v labels %v", err, f)
	}
	for name, x := range map[string]*tensor.Tensor{
		"ints.npy":   tensor.FromSlice([]int{2, 2}, []int32{1, 2, 3, 4}),
		"rank1.npy":  tensor.FromSlice([]int{3}, []float32{1, 2, 3}),
		"empty.npy":  tensor.FromSlice([]int{0, 4}, []float32{}),
		"labels.npy": tensor.FromSlice([]int{2, 2}, []float32{1, 2, 3, 4}),
	} {
		p := save(name, x)
		labels := ""
		if name == "labels.npy" {
			labels = save("short-labels.npy", tensor.FromSlice([]int{1}, []int64{0}))
		}
		if _, err := data.LoadNpy(p, labels); err == nil || !strings.Contains(err.Error(), name[:len(name)-4]) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
	if _, err := data.Load(dir, "nothing"); err == nil || !strings.Contains(err.Error(), "nothing.npy") {
		t.Errorf("missing split: %v", err)
	}
	// a file where a directory belongs, and integer labels given as samples
	if _, err := data.Load(filepath.Join(dir, "calib.npy"), "test"); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("a file as the dataset directory: %v", err)
	}
	if _, err := data.LoadNpy(filepath.Join(dir, "calib-labels.npy"), ""); err == nil || !strings.Contains(err.Error(), "int64") {
		t.Errorf("labels as samples: %v, want the dtype named", err)
	}
}
