package train

import (
	"fmt"
	"math/rand/v2"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/tensor"
)

// Shift writes the rows x cols image src into dst translated by dy rows and
// dx columns: dst[r][c] = src[r-dy][c-dx], zero where that falls outside
// src. It is the jitter augmentation of the MNIST literature.
func Shift(dst, src []float32, rows, cols, dy, dx int) {
	for r := 0; r < rows; r++ {
		row := dst[r*cols : (r+1)*cols]
		sr := r - dy
		if sr < 0 || sr >= rows {
			clear(row)
			continue
		}
		srow := src[sr*cols : (sr+1)*cols]
		for c := range row {
			sc := c - dx
			if sc < 0 || sc >= cols {
				row[c] = 0
			} else {
				row[c] = srow[sc]
			}
		}
	}
}

// Subset returns the samples idx of ds as a new dataset (copied).
func Subset(ds *data.Dataset, idx []int) (*data.Dataset, error) {
	per := ds.Rows * ds.Cols
	src := ds.Images.F32()
	img := make([]float32, len(idx)*per)
	labels := make([]int, len(idx))
	for i, j := range idx {
		if j < 0 || j >= ds.Len() {
			return nil, fmt.Errorf("sample %d out of range [0,%d)", j, ds.Len())
		}
		copy(img[i*per:(i+1)*per], src[j*per:(j+1)*per])
		if ds.Labels != nil {
			labels[i] = ds.Labels[j]
		}
	}
	if ds.Labels == nil {
		labels = nil
	}
	return &data.Dataset{Images: tensor.FromSlice(append([]int{len(idx)}, ds.Sample()...), img), Labels: labels,
		Rows: ds.Rows, Cols: ds.Cols}, nil
}

// SplitValidation holds out the last fraction of a seeded permutation of ds
// as a validation set and returns (train, validation). A fraction of 0
// returns ds and nil.
func SplitValidation(ds *data.Dataset, fraction float64, seed uint64) (*data.Dataset, *data.Dataset, error) {
	if fraction == 0 {
		return ds, nil, nil
	}
	if !(fraction >= 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("validation fraction %v outside [0, 1)", fraction)
	}
	nv := int(float64(ds.Len()) * fraction)
	if nv == 0 || nv == ds.Len() {
		return nil, nil, fmt.Errorf("validation fraction %v of %d samples leaves an empty split", fraction, ds.Len())
	}
	perm := rand.New(rand.NewPCG(seed, 0x76616c)).Perm(ds.Len())
	tr, err := Subset(ds, perm[:ds.Len()-nv])
	if err != nil {
		return nil, nil, err
	}
	va, err := Subset(ds, perm[ds.Len()-nv:])
	return tr, va, err
}

// epochOrder is the shuffled sample order of an epoch: a permutation drawn
// from PCG(seed, 2*epoch), so it depends only on the seed and the epoch.
func epochOrder(n int, seed uint64, epoch int) []int {
	return rand.New(rand.NewPCG(seed, uint64(2*epoch))).Perm(n)
}

// batchStream is the random stream of one epoch's batches (shifts, then
// dropout masks, batch after batch): PCG(seed, 2*epoch+1).
func batchStream(seed uint64, epoch int) *rand.PCG {
	return rand.NewPCG(seed, uint64(2*epoch+1))
}

// fillBatch fills b with the samples order[bi*B : (bi+1)*B], each shifted
// by (dy, dx) drawn uniformly from [-shift, shift]^2 when shift > 0.
func fillBatch(b *Batch, ds *data.Dataset, order []int, bi, batch, shift int, rng *rand.Rand) {
	per := ds.Rows * ds.Cols
	src := ds.Images.F32()
	b.Index, b.Rows, b.Cols = bi, ds.Rows, ds.Cols
	b.Samples = b.Samples[:0]
	b.Labels = b.Labels[:0]
	if cap(b.X) < batch*per {
		b.X = make([]float32, batch*per)
	}
	b.X = b.X[:batch*per]
	for i := 0; i < batch; i++ {
		j := order[bi*batch+i]
		b.Samples = append(b.Samples, j)
		b.Labels = append(b.Labels, ds.Labels[j])
		img := src[j*per : (j+1)*per]
		dst := b.X[i*per : (i+1)*per]
		if shift > 0 {
			dy := rng.IntN(2*shift+1) - shift
			dx := rng.IntN(2*shift+1) - shift
			Shift(dst, img, ds.Rows, ds.Cols, dy, dx)
		} else {
			copy(dst, img)
		}
	}
}

// fillDropout draws every dropout mask of the net: each element keeps its
// unit with probability 1 - ratio, scaled by 1/(1 - ratio) (inverted
// dropout, so inference needs no rescaling).
func (net *Net) fillDropout(rng *rand.Rand) {
	for _, d := range net.dropouts {
		keep := 1 / (1 - d.ratio)
		for i := range d.data {
			if rng.Float32() >= d.ratio {
				d.data[i] = keep
			} else {
				d.data[i] = 0
			}
		}
	}
}
