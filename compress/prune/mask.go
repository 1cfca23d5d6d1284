package prune

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/tensor"
)

// Layer is a prunable weight: the constant float32 weight of a Conv, Gemm
// or MatMul node, seen as a Rows x Cols matrix W[i][p] with i the output
// channel and p the reduction index (a Gemm's input feature, a Conv's
// Cin*kh*kw tap). Index(i, p) is the position of W[i][p] in the
// initializer's data.
type Layer struct {
	Node   *graph.Node
	Weight *graph.Value
	// Rows (output channels) and Cols (reduction length).
	Rows, Cols int
	// transposed: the initializer is stored Cols x Rows (Gemm with
	// transB = 0, MatMul).
	transposed bool
}

// Name is the weight's initializer name (the key of its mask).
func (l *Layer) Name() string { return l.Weight.Name }

// Index returns the position of W[i][p] in the weight's data.
func (l *Layer) Index(i, p int) int {
	if l.transposed {
		return p*l.Rows + i
	}
	return i*l.Cols + p
}

// Params is the number of weights.
func (l *Layer) Params() int { return l.Rows * l.Cols }

// Layers lists the prunable weights of m in node order: float32
// initializers of rank >= 2 read as the weight of a Conv (input 1), Gemm
// (input 1) or MatMul (input 1), each once.
func Layers(m *graph.Model) []*Layer {
	var out []*Layer
	seen := map[*graph.Value]bool{}
	for _, n := range m.Graph.Nodes {
		if n.Domain != "" && n.Domain != "ai.onnx" {
			continue
		}
		w := n.Input(1)
		if w == nil || w.Const == nil || w.Const.DType() != tensor.Float32 || w.Const.Rank() < 2 || seen[w] {
			continue
		}
		s := w.Const.Shape()
		var l *Layer
		switch n.OpType {
		case "Conv":
			l = &Layer{Node: n, Weight: w, Rows: s[0], Cols: w.Const.Len() / max(s[0], 1)}
		case "Gemm":
			if w.Const.Rank() != 2 {
				continue
			}
			if n.AttrInt("transB", 0) != 0 {
				l = &Layer{Node: n, Weight: w, Rows: s[0], Cols: s[1]}
			} else {
				l = &Layer{Node: n, Weight: w, Rows: s[1], Cols: s[0], transposed: true}
			}
		case "MatMul":
			if w.Const.Rank() != 2 {
				continue
			}
			l = &Layer{Node: n, Weight: w, Rows: s[1], Cols: s[0], transposed: true}
		default:
			continue
		}
		seen[w] = true
		out = append(out, l)
	}
	return out
}

// Mask says which weights of one initializer are kept.
type Mask struct {
	Name  string
	Shape []int
	// Keep[i] is false where weight i is pruned.
	Keep []bool
}

// NewMask returns a mask keeping everything.
func NewMask(name string, shape []int) *Mask {
	k := make([]bool, tensor.Product(shape))
	for i := range k {
		k[i] = true
	}
	return &Mask{Name: name, Shape: append([]int(nil), shape...), Keep: k}
}

// Kept counts the kept weights.
func (m *Mask) Kept() int {
	n := 0
	for _, k := range m.Keep {
		if k {
			n++
		}
	}
	return n
}

// Sparsity is the pruned fraction.
func (m *Mask) Sparsity() float64 {
	if len(m.Keep) == 0 {
		return 0
	}
	return 1 - float64(m.Kept())/float64(len(m.Keep))
}

// Floats returns the mask as 0/1 float32 (the form train.Hooks.Masks
// takes).
func (m *Mask) Floats() []float32 {
	out := make([]float32, len(m.Keep))
	for i, k := range m.Keep {
		if k {
			out[i] = 1
		}
	}
	return out
}

// Masks maps initializer names to masks.
type Masks map[string]*Mask

// Names returns the masked initializer names, sorted.
func (ms Masks) Names() []string {
	out := make([]string, 0, len(ms))
	for n := range ms {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Counts returns the kept and total weights over all masks.
func (ms Masks) Counts() (kept, total int) {
	for _, m := range ms {
		kept += m.Kept()
		total += len(m.Keep)
	}
	return
}

// Sparsity is the pruned fraction over all masks.
func (ms Masks) Sparsity() float64 {
	kept, total := ms.Counts()
	if total == 0 {
		return 0
	}
	return 1 - float64(kept)/float64(total)
}

// TrainMasks returns the masks as train.Hooks.Masks wants them.
func (ms Masks) TrainMasks() map[string][]float32 {
	out := map[string][]float32{}
	for n, m := range ms {
		out[n] = m.Floats()
	}
	return out
}

// Check verifies that every mask names a float32 initializer of m of the
// mask's shape.
func (ms Masks) Check(m *graph.Model) error {
	for _, name := range ms.Names() {
		mk := ms[name]
		v := m.Graph.Value(name)
		if v == nil || v.Const == nil {
			return fmt.Errorf("mask %q: the model has no initializer of that name", name)
		}
		if v.Const.DType() != tensor.Float32 {
			return fmt.Errorf("mask %q: initializer is %v, masks apply to float32 weights", name, v.Const.DType())
		}
		if !tensor.SameShape(v.Const.Shape(), mk.Shape) || len(mk.Keep) != v.Const.Len() {
			return fmt.Errorf("mask %q: shape %v, the initializer is %v", name, mk.Shape, v.Const.Shape())
		}
	}
	return nil
}

// Apply zeroes the pruned weights of m (each masked initializer gets a new
// tensor, so sessions made earlier keep their weights).
func (ms Masks) Apply(m *graph.Model) error {
	if err := ms.Check(m); err != nil {
		return err
	}
	for name, mk := range ms {
		v := m.Graph.Value(name)
		d := append([]float32(nil), v.Const.F32()...)
		for i, k := range mk.Keep {
			if !k {
				d[i] = 0
			}
		}
		v.Const = tensor.FromSlice(v.Const.Shape(), d)
	}
	return nil
}

// FromZeros returns the masks of the layers' current zero pattern (a
// pruned model's masks, recovered from its weights).
func FromZeros(layers []*Layer) Masks {
	ms := Masks{}
	for _, l := range layers {
		mk := NewMask(l.Name(), l.Weight.Const.Shape())
		for i, v := range l.Weight.Const.F32() {
			mk.Keep[i] = v != 0
		}
		ms[l.Name()] = mk
	}
	return ms
}

// Write saves the masks as safetensors: one uint8 tensor (1 = kept) per
// initializer, named after it, with metadata format=gcompress-masks.
func (ms Masks) Write(w io.Writer) error {
	var ts []tensor.NamedTensor
	for _, name := range ms.Names() {
		mk := ms[name]
		b := make([]uint8, len(mk.Keep))
		for i, k := range mk.Keep {
			if k {
				b[i] = 1
			}
		}
		ts = append(ts, tensor.NamedTensor{Name: name, Tensor: tensor.FromSlice(mk.Shape, b)})
	}
	return tensor.WriteSafetensors(w, ts, map[string]string{"format": "gcompress-masks"})
}

// Save writes the masks to path atomically.
func (ms Masks) Save(path string) error {
	return atomicfile.Write(path, ms.Write)
}

// ReadMasks reads masks written by Write.
func ReadMasks(b []byte) (Masks, error) {
	ts, meta, err := tensor.ReadSafetensors(b)
	if err != nil {
		return nil, fmt.Errorf("masks: %w", err)
	}
	if meta["format"] != "gcompress-masks" {
		return nil, fmt.Errorf("masks: not a gcompress mask file (metadata format %q)", meta["format"])
	}
	ms := Masks{}
	for _, t := range ts {
		if t.Tensor.DType() != tensor.Uint8 {
			return nil, fmt.Errorf("masks: %q is %v, want uint8", t.Name, t.Tensor.DType())
		}
		mk := &Mask{Name: t.Name, Shape: append([]int(nil), t.Tensor.Shape()...), Keep: make([]bool, t.Tensor.Len())}
		for i, v := range tensor.Data[uint8](t.Tensor) {
			if v > 1 {
				return nil, fmt.Errorf("masks: %q holds %d at %d (want 0 or 1)", t.Name, v, i)
			}
			mk.Keep[i] = v == 1
		}
		ms[t.Name] = mk
	}
	return ms, nil
}

// LoadMasks reads a mask file.
func LoadMasks(path string) (Masks, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ms, err := ReadMasks(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ms, nil
}

// scoreMagnitude is |w|, the magnitude (L1) criterion; NaN scores lowest.
func scoreMagnitude(v float32) float64 {
	a := math.Abs(float64(v))
	if math.IsNaN(a) {
		return -1
	}
	return a
}
