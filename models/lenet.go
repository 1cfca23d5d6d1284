package models

import "github.com/gcompress/gcompress/graph"

// LeNet5 builds LeNet-5 (LeCun et al., 1998) in its common modern form:
//
//	image [b,1,28,28] -> Conv 6@5x5 pad 2 -> Relu -> MaxPool 2x2
//	  -> Conv 16@5x5 -> Relu -> MaxPool 2x2 -> Flatten (400)
//	  -> Gemm 120 -> Relu -> Gemm 84 -> Relu -> Gemm 10 -> logits
//
// 61,706 parameters, He-normal weights from seed, zero biases.
func LeNet5(seed uint64) (*graph.Model, error) {
	b := newNetBuilder("lenet5", seed, []int{1, 28, 28})
	b.conv(6, 5, 2)
	b.relu()
	b.maxPool(2)
	b.conv(16, 5, 0)
	b.relu()
	b.maxPool(2)
	b.flatten()
	b.dense(120)
	b.relu()
	b.dense(84)
	b.relu()
	b.dense(ZooClasses)
	return b.finish("LeNet-5 for 28x28 digits, built by gcompress (models.LeNet5).")
}

// LeNet300100 builds LeNet-300-100 (LeCun et al., 1998), the fully connected
// baseline of the pruning literature:
//
//	image [b,784] -> Gemm 300 -> Relu -> Gemm 100 -> Relu -> Gemm 10 -> logits
//
// 266,610 parameters, He-normal weights from seed, zero biases.
func LeNet300100(seed uint64) (*graph.Model, error) {
	b := newNetBuilder("lenet_300_100", seed, []int{784})
	b.dense(300)
	b.relu()
	b.dense(100)
	b.relu()
	b.dense(ZooClasses)
	return b.finish("LeNet-300-100 for 28x28 digits, built by gcompress (models.LeNet300100).")
}
