package train

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"
)

// Batch is one mini-batch as the training loop feeds it.
type Batch struct {
	Epoch, Index int
	// Samples are the indices of the batch's images in the training set;
	// Labels their classes.
	Samples []int
	Labels  []int
	// X holds the (augmented) images as fed to the model, Batch x Rows x
	// Cols float32 values in [0, 1].
	X          []float32
	Rows, Cols int
}

// Loss is a training objective. Build adds it to the net's graph once;
// Feed sets its per-batch inputs (labels, teacher outputs, ...) before each
// step. Custom losses implement it (see CrossEntropy here and the
// distillation loss in compress/distill); a loss
// that implements fmt.Stringer has its String in the checkpoint
// fingerprint, so a resumed run cannot silently change it.
type Loss interface {
	Build(net *Net, logits *G.Node) (*G.Node, error)
	Feed(b *Batch) error
}

// NewInput adds a float32 input node of the given shape to g and returns
// it with its backing array: write the array before each run (a loss's
// targets, a mask, ...).
func NewInput(g *G.ExprGraph, name string, shape ...int) (*G.Node, []float32) {
	d, data := newDense(shape)
	return G.NewTensor(g, gt.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(d)), data
}

// LogitsShape returns the batch size and class count of logits [B, C].
func LogitsShape(logits *G.Node) (int, int, error) {
	if logits.Dims() != 2 {
		return 0, 0, fmt.Errorf("loss: want logits [batch, classes], got %v", logits.Shape())
	}
	return logits.Shape()[0], logits.Shape()[1], nil
}

// LogSoftmax adds log softmax(x) along axis (a numerically stable kernel,
// see softmaxKernel) to x's graph.
func LogSoftmax(x *G.Node, axis int) (*G.Node, error) {
	if axis < 0 {
		axis += x.Dims()
	}
	if axis < 0 || axis >= x.Dims() {
		return nil, fmt.Errorf("log-softmax axis %d out of range for %v", axis, x.Shape())
	}
	return ApplyKernel(&softmaxKernel{axis: axis, log: true}, x)
}

// CrossEntropyNode returns the scalar node
//
//	-(1/B) sum_b sum_c y[b,c] log softmax(z)[b,c]
//
// for logits z [B,C] and target distributions y [B,C] (one-hot labels or
// soft targets).
func CrossEntropyNode(z, y *G.Node) (*G.Node, error) {
	b := z.Shape()[0]
	ls, err := LogSoftmax(z, 1)
	if err != nil {
		return nil, err
	}
	p, err := G.HadamardProd(ls, y)
	if err != nil {
		return nil, err
	}
	s, err := G.Sum(p, 0, 1)
	if err != nil {
		return nil, err
	}
	return G.HadamardProd(s, constScalar(-1/float32(b)))
}

// FillOneHot writes the one-hot rows of labels into dst [len(labels),
// classes].
func FillOneHot(dst []float32, labels []int, classes int) error {
	clear(dst)
	if len(labels)*classes != len(dst) {
		return fmt.Errorf("loss: %d labels for a %d-value target", len(labels), len(dst))
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("loss: label %d outside [0,%d)", l, classes)
		}
		dst[i*classes+l] = 1
	}
	return nil
}

// CrossEntropy is the mean softmax cross-entropy of the logits against the
// labels: L = -(1/B) sum_b log softmax(z_b)[y_b].
type CrossEntropy struct {
	classes int
	target  []float32
}

func (l *CrossEntropy) String() string { return "cross-entropy" }

// Build implements Loss.
func (l *CrossEntropy) Build(net *Net, logits *G.Node) (*G.Node, error) {
	b, c, err := LogitsShape(logits)
	if err != nil {
		return nil, err
	}
	var y *G.Node
	y, l.target = NewInput(net.G, "loss/onehot", b, c)
	l.classes = c
	return CrossEntropyNode(logits, y)
}

// Feed implements Loss.
func (l *CrossEntropy) Feed(b *Batch) error { return FillOneHot(l.target, b.Labels, l.classes) }
