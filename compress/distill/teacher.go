package distill

import (
	"fmt"
	"time"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
	"github.com/gcompress/gcompress/train"
)

// Teacher serves a teacher model's logits, computed by gcompress's runtime
// (so any model the runtime runs can teach, whatever its ops). With a fixed
// transfer set (no augmentation) the logits of every training sample are
// computed once by Precompute and looked up per batch; otherwise each
// batch's (augmented) images go through the teacher as they are drawn.
type Teacher struct {
	sess  *runtime.Session
	input string
	shape []int // per-sample input dims
	cache []float32
	// Classes is the width of the teacher's output.
	Classes int
	// Seconds and Samples count the teacher's inference work.
	Seconds float64
	Samples int
}

// NewTeacher prepares m (one input, output 0 the logits) on the CPU
// runtime for samples of shape sample.
func NewTeacher(m *graph.Model, threads int, sample []int) (*Teacher, error) {
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: max(threads, 1)})
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	name, shape, err := eval.InputShape(m.Graph, 1, sample)
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	return &Teacher{sess: sess, input: name, shape: shape[1:]}, nil
}

// Precompute evaluates the teacher on every image of ds (the training
// set, in order) and serves batches from that cache afterwards.
func (t *Teacher) Precompute(ds *data.Dataset) error {
	const chunk = 500
	per := ds.Rows * ds.Cols
	cache := make([]float32, 0, ds.Len()*10)
	for lo := 0; lo < ds.Len(); lo += chunk {
		n := min(chunk, ds.Len()-lo)
		out, err := t.Run(ds.Images.F32()[lo*per:(lo+n)*per], n)
		if err != nil {
			return err
		}
		cache = append(cache, out...)
	}
	t.cache = cache
	return nil
}

// Cached reports whether the logits come from Precompute.
func (t *Teacher) Cached() bool { return t.cache != nil }

// Run evaluates the teacher on n images held in x and returns n x Classes
// logits.
func (t *Teacher) Run(x []float32, n int) ([]float32, error) {
	start := time.Now()
	in := tensor.FromSlice(append([]int{n}, t.shape...), x)
	out, err := t.sess.Run(map[string]*tensor.Tensor{t.input: in})
	if err != nil {
		return nil, fmt.Errorf("teacher: %w", err)
	}
	y := out[0]
	if y.DType() != tensor.Float32 || y.Rank() != 2 || y.Shape()[0] != n {
		return nil, fmt.Errorf("teacher: output %v is not float32 [%d, classes]", y, n)
	}
	t.Classes = y.Shape()[1]
	t.Seconds += time.Since(start).Seconds()
	t.Samples += n
	return y.F32(), nil
}

// Logits is the TeacherFunc of a Loss: cached rows by sample index, or the
// teacher run on the batch's images.
func (t *Teacher) Logits(b *train.Batch) ([]float32, error) {
	if t.cache == nil {
		return t.Run(b.X, len(b.Labels))
	}
	out := make([]float32, 0, len(b.Samples)*t.Classes)
	for _, s := range b.Samples {
		if s < 0 || (s+1)*t.Classes > len(t.cache) {
			return nil, fmt.Errorf("teacher: sample %d is not in the precomputed transfer set", s)
		}
		out = append(out, t.cache[s*t.Classes:(s+1)*t.Classes]...)
	}
	return out, nil
}
