package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/gcompress/gcompress/tensor"
)

// Dataset is a labelled image set held in memory.
type Dataset struct {
	// Images is float32 [N, Rows, Cols] with pixels scaled to [0,1].
	Images *tensor.Tensor
	// Labels are the class indices, one per image.
	Labels []int
	Rows   int
	Cols   int
}

// Len is the number of samples.
func (d *Dataset) Len() int { return len(d.Labels) }

// CheckLabels fails on the first label outside [0, classes).
func (d *Dataset) CheckLabels(classes int) error {
	for i, l := range d.Labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("label %d of sample %d is outside [0, %d): the model has %d outputs", l, i, classes, classes)
		}
	}
	return nil
}

// Load reads split ("train", "test", ...) from a dataset directory.
func Load(dir, split string) (*Dataset, error) {
	return LoadFS(os.DirFS(dir), split)
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

// Batch returns the images at idx as a float32 tensor of the given shape,
// whose first dimension must be len(idx) and whose other dimensions must
// hold Rows*Cols elements ([n,784], [n,1,28,28], ...).
func (d *Dataset) Batch(idx []int, shape []int) (*tensor.Tensor, error) {
	per := d.Rows * d.Cols
	if len(shape) == 0 || shape[0] != len(idx) || tensor.Product(shape[1:]) != per {
		return nil, fmt.Errorf("batch shape %v does not hold %d images of %dx%d", shape, len(idx), d.Rows, d.Cols)
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
