package distill

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	gt "gorgonia.org/tensor"

	"github.com/gcompress/gcompress/train"
)

// TeacherFunc returns the teacher's logits for a batch: len(b.Labels) x
// classes values in row order.
type TeacherFunc func(b *train.Batch) ([]float32, error)

// Loss is the knowledge-distillation objective:
//
//	L = alpha T^2 KL(p_T || q_T) + (1 - alpha) CE(z, y)
//	p_T = softmax(t / T), q_T = softmax(z / T)
//	KL(p || q) = (1/B) sum_b sum_c p[b,c] (log p[b,c] - log q[b,c])
//
// for teacher logits t, student logits z, temperature T and labels y. The
// T^2 factor keeps the soft-target gradients (which scale as 1/T^2) on the
// scale of the hard-target ones as T changes. The constant part of the KL
// (sum p log p) is fed per batch so that the reported loss is the KL itself.
type Loss struct {
	T, Alpha float32
	Teacher  TeacherFunc

	classes, batch int
	probs, target  []float32
	entropy        *G.Node
}

func (l *Loss) String() string { return fmt.Sprintf("distill(T=%g, alpha=%g)", l.T, l.Alpha) }

// Build implements train.Loss.
func (l *Loss) Build(net *train.Net, logits *G.Node) (*G.Node, error) {
	if !(l.T > 0) || !(l.Alpha >= 0 && l.Alpha <= 1) {
		return nil, fmt.Errorf("distill: need T > 0 and alpha in [0,1], got T=%g alpha=%g", l.T, l.Alpha)
	}
	if l.Teacher == nil {
		return nil, fmt.Errorf("distill: no teacher")
	}
	b, c, err := train.LogitsShape(logits)
	if err != nil {
		return nil, err
	}
	l.classes, l.batch = c, b
	var p, y *G.Node
	p, l.probs = train.NewInput(net.G, "loss/teacher_probs", b, c)
	y, l.target = train.NewInput(net.G, "loss/onehot", b, c)
	l.entropy = G.NewScalar(net.G, gt.Float32, G.WithName("loss/teacher_plogp"), G.WithValue(float32(0)))
	zt, err := G.HadamardProd(logits, G.NewConstant(1/l.T))
	if err != nil {
		return nil, err
	}
	// cross = -(1/B) sum p log q_T; KL = cross + (1/B) sum p log p
	cross, err := train.CrossEntropyNode(zt, p)
	if err != nil {
		return nil, err
	}
	kl, err := G.Add(cross, l.entropy)
	if err != nil {
		return nil, err
	}
	soft, err := G.HadamardProd(kl, G.NewConstant(l.Alpha*l.T*l.T))
	if err != nil {
		return nil, err
	}
	if l.Alpha == 1 {
		return soft, nil
	}
	hard, err := train.CrossEntropyNode(logits, y)
	if err != nil {
		return nil, err
	}
	if hard, err = G.HadamardProd(hard, G.NewConstant(1-l.Alpha)); err != nil {
		return nil, err
	}
	return G.Add(soft, hard)
}

// Feed implements train.Loss: it asks the teacher for the batch's logits,
// and sets p_T and the constant (1/B) sum p log p.
func (l *Loss) Feed(b *train.Batch) error {
	if err := train.FillOneHot(l.target, b.Labels, l.classes); err != nil {
		return err
	}
	t, err := l.Teacher(b)
	if err != nil {
		return fmt.Errorf("distill: teacher: %w", err)
	}
	if len(t) != len(l.probs) {
		return fmt.Errorf("distill: teacher gave %d logits for a batch of %d x %d", len(t), l.batch, l.classes)
	}
	plogp := SoftTargets(l.probs, t, l.classes, float64(l.T))
	return G.Let(l.entropy, float32(plogp/float64(l.batch)))
}

// SoftTargets writes p = softmax(t / T) row by row (rows of classes
// values) into dst and returns sum p log p over all rows, computed in
// float64 with the max-subtraction that keeps exp from overflowing.
func SoftTargets(dst, t []float32, classes int, T float64) float64 {
	var plogp float64
	for r := 0; r < len(t)/classes; r++ {
		row := t[r*classes : (r+1)*classes]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v)/T)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v)/T - m)
		}
		ls := math.Log(s)
		for j, v := range row {
			lp := float64(v)/T - m - ls
			p := math.Exp(lp)
			dst[r*classes+j] = float32(p)
			if p > 0 {
				plogp += p * lp
			}
		}
	}
	return plogp
}
