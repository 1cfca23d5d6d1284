package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gcompress/gcompress/tensor"
)

// Dataset is a set of samples held in memory, labelled or not.
type Dataset struct {
	// Images is float32 [N, sample...]: for IDX images [N, Rows, Cols]
	// with pixels scaled to [0,1]; for .npy samples as stored.
	Images *tensor.Tensor
	// Labels are the class indices, one per sample (nil: unlabelled).
	Labels []int
	// Rows x Cols is each sample's element count: an IDX image's size,
	// and for a .npy sample its last dimension (Cols) by the product of
	// the others (Rows).
	Rows int
	Cols int
}

// Len is the number of samples.
func (d *Dataset) Len() int {
	if d.Images == nil || d.Images.Rank() == 0 {
		return 0
	}
	return d.Images.Shape()[0]
}

// Labelled fails, naming what needs them, when the samples have no labels.
func (d *Dataset) Labelled(what string) error {
	if d.Labels == nil {
		return fmt.Errorf("%s needs labelled samples; these have none (a <split>-labels.npy beside <split>.npy)", what)
	}
	return nil
}

// Sample is the shape of one sample ([Rows, Cols] for IDX images).
func (d *Dataset) Sample() []int { return d.Images.Shape()[1:] }

// Describe names the samples for messages: "28x28 images" or "samples
// of shape [3 224 224]".
func (d *Dataset) Describe() string {
	if s := d.Sample(); len(s) != 2 || s[0] != d.Rows || s[1] != d.Cols || d.Images.Len() == 0 {
		return fmt.Sprintf("samples of shape %v", s)
	}
	return fmt.Sprintf("%dx%d images", d.Rows, d.Cols)
}

// CheckLabels fails on the first label outside [0, classes).
func (d *Dataset) CheckLabels(classes int) error {
	for i, l := range d.Labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("label %d of sample %d is outside [0, %d): the model has %d outputs", l, i, classes, classes)
		}
	}
	return nil
}

// Open reads a dataset from path: a .npy file of samples (unlabelled,
// see LoadNpy), or a dataset directory's split (Load).
func Open(path, split string) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !st.IsDir() {
		return LoadNpy(path, "")
	}
	return Load(path, split)
}

// LoadNpy reads samples from a .npy file holding [N, sample...] (float32,
// or float64 converted; the values as the model takes them, nothing
// scaled) and, when labels is not "", their classes from a .npy of N
// integers.
func LoadNpy(samples, labels string) (*Dataset, error) {
	t, err := tensor.LoadNpy(samples)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	switch t.DType() {
	case tensor.Float32:
	case tensor.Float64:
		f := make([]float32, t.Len())
		for i, v := range tensor.Data[float64](t) {
			f[i] = float32(v)
		}
		t = tensor.FromSlice(t.Shape(), f)
	default:
		return nil, fmt.Errorf("dataset %s: samples are %v; want float32 or float64", samples, t.DType())
	}
	if t.Rank() < 2 || t.Shape()[0] == 0 || t.Len() == 0 {
		return nil, fmt.Errorf("dataset %s: want samples [N, ...] with N >= 1 and none empty, got %v", samples, t)
	}
	shape := t.Shape()
	d := &Dataset{Images: t, Cols: shape[len(shape)-1]}
	d.Rows = t.Len() / shape[0] / d.Cols
	if labels == "" {
		return d, nil
	}
	l, err := tensor.LoadNpy(labels)
	if err != nil {
		return nil, fmt.Errorf("dataset labels: %w", err)
	}
	if l.Rank() != 1 || l.Len() != shape[0] {
		return nil, fmt.Errorf("dataset labels %s: want [%d] (one per sample), got %v", labels, shape[0], l)
	}
	d.Labels = make([]int, shape[0])
	for i := range d.Labels {
		var v int64
		switch l.DType() {
		case tensor.Int64:
			v = tensor.Data[int64](l)[i]
		case tensor.Int32:
			v = int64(tensor.Data[int32](l)[i])
		case tensor.Uint8:
			v = int64(tensor.Data[uint8](l)[i])
		default:
			return nil, fmt.Errorf("dataset labels %s: %v; want int64, int32 or uint8", labels, l.DType())
		}
		if v < 0 || v > 1<<31 {
			return nil, fmt.Errorf("dataset labels %s: label %d of sample %d is negative or too large", labels, v, i)
		}
		d.Labels[i] = int(v)
	}
	return d, nil
}

// Load reads split ("train", "test", ...) from a dataset directory: IDX
// files, or where there are none <split>.npy with <split>-labels.npy when
// present (LoadNpy).
func Load(dir, split string) (*Dataset, error) {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("dataset %s is a file; want a directory of %s-images-idx3-ubyte[.gz] and %s-labels-idx1-ubyte[.gz], or %s.npy and %s-labels.npy",
			dir, split, split, split, split)
	}
	d, err := LoadFS(os.DirFS(dir), split)
	if !errors.Is(err, fs.ErrNotExist) {
		return d, err
	}
	samples := filepath.Join(dir, split+".npy")
	if _, serr := os.Stat(samples); serr != nil {
		return nil, fmt.Errorf("%w (nor %s.npy)", err, split)
	}
	labels := filepath.Join(dir, split+"-labels.npy")
	if _, lerr := os.Stat(labels); lerr != nil {
		labels = ""
	}
	return LoadNpy(samples, labels)
}

// LoadFS reads split from a file system holding
// <split>-images-idx3-ubyte[.gz] and <split>-labels-idx1-ubyte[.gz].
func LoadFS(fsys fs.FS, split string) (*Dataset, error) {
	imgs, err := readIDXFile(fsys, split+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	labels, err := readIDXFile(fsys, split+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	if imgs.Rank() != 3 || imgs.DType() != tensor.Uint8 {
		return nil, fmt.Errorf("%s images: want uint8 [N rows cols], got %v", split, imgs)
	}
	if labels.Rank() != 1 || labels.DType() != tensor.Uint8 {
		return nil, fmt.Errorf("%s labels: want uint8 [N], got %v", split, labels)
	}
	n := imgs.Shape()[0]
	if labels.Len() != n {
		return nil, fmt.Errorf("%s: %d images but %d labels", split, n, labels.Len())
	}
	px := tensor.Data[uint8](imgs)
	f := make([]float32, len(px))
	for i, p := range px {
		f[i] = float32(p) / 255
	}
	d := &Dataset{Images: tensor.FromSlice(imgs.Shape(), f), Rows: imgs.Shape()[1], Cols: imgs.Shape()[2]}
	d.Labels = make([]int, n)
	for i, l := range tensor.Data[uint8](labels) {
		d.Labels[i] = int(l)
	}
	return d, nil
}

// readIDXFile opens name.gz, or name when there is no .gz.
func readIDXFile(fsys fs.FS, name string) (*tensor.Tensor, error) {
	f, err := fsys.Open(name + ".gz")
	if errors.Is(err, fs.ErrNotExist) {
		f, err = fsys.Open(name)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	t, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// Batch returns the samples at idx as a float32 tensor of the given
// shape, whose first dimension must be len(idx) and whose other
// dimensions must hold Rows*Cols elements ([n,784], [n,1,28,28], ...).
func (d *Dataset) Batch(idx []int, shape []int) (*tensor.Tensor, error) {
	per := d.Rows * d.Cols
	if len(shape) == 0 || shape[0] != len(idx) || tensor.Product(shape[1:]) != per {
		return nil, fmt.Errorf("batch shape %v does not hold %d %s", shape, len(idx), d.Describe())
	}
	src := d.Images.F32()
	out := make([]float32, len(idx)*per)
	for i, j := range idx {
		if j < 0 || j >= d.Len() {
			return nil, fmt.Errorf("sample %d out of range [0,%d)", j, d.Len())
		}
		copy(out[i*per:(i+1)*per], src[j*per:(j+1)*per])
	}
	return tensor.FromSlice(shape, out), nil
}
