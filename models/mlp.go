package models

import (
	"fmt"
	"strings"

	"github.com/gcompress/gcompress/graph"
)

// MLP builds a fully connected ReLU network on flattened 28x28 digits:
//
//	image [b,784] -> [Dropout inDrop] -> (Gemm h_i -> Relu -> [Dropout hidDrop])...
//	  -> Gemm 10 -> logits
//
// A dropout ratio of 0 adds no node. Dropout is the identity at inference
// (ONNX semantics); train/ applies it while training. Weights are
// He-normal from seed, biases zero.
func MLP(name string, hidden []int, inDrop, hidDrop float32, seed uint64) (*graph.Model, error) {
	if len(hidden) == 0 {
		return nil, fmt.Errorf("mlp %s: no hidden layers", name)
	}
	for _, h := range hidden {
		if h <= 0 {
			return nil, fmt.Errorf("mlp %s: hidden width %d", name, h)
		}
	}
	if inDrop < 0 || inDrop >= 1 || hidDrop < 0 || hidDrop >= 1 {
		return nil, fmt.Errorf("mlp %s: dropout ratios must be in [0, 1), got %v and %v", name, inDrop, hidDrop)
	}
	b := newNetBuilder(strings.ReplaceAll(name, "-", "_"), seed, []int{784})
	if inDrop > 0 {
		b.dropout(inDrop)
	}
	for _, h := range hidden {
		b.dense(h)
		b.relu()
		if hidDrop > 0 {
			b.dropout(hidDrop)
		}
	}
	b.dense(ZooClasses)
	return b.finish(fmt.Sprintf("MLP %s for 28x28 digits (dropout %v input, %v hidden), built by gcompress (models.MLP).", name, inDrop, hidDrop))
}

// MLP1200 is mlp-1200-1200, the teacher of Hinton et al. (2015)'s MNIST
// distillation experiment: 784-1200-1200-10 with dropout 0.2 on the input
// and 0.5 on the hidden units (2,395,210 parameters).
func MLP1200(seed uint64) (*graph.Model, error) {
	return MLP("mlp-1200-1200", []int{1200, 1200}, 0.2, 0.5, seed)
}

// MLP800 is mlp-800-800, the student of the same experiment: 784-800-800-10
// without regularisation (1,276,810 parameters).
func MLP800(seed uint64) (*graph.Model, error) {
	return MLP("mlp-800-800", []int{800, 800}, 0, 0, seed)
}

// MLP30 is mlp-30-30, a tiny student: 784-30-30-10 (24,790 parameters).
func MLP30(seed uint64) (*graph.Model, error) {
	return MLP("mlp-30-30", []int{30, 30}, 0, 0, seed)
}
