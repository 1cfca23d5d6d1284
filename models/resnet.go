package models

import (
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

func init() {
	zoo["resnet-mini"] = struct {
		build func(seed uint64) (*graph.Model, error)
		about string
	}{ResNetMini, "ResNet-8 style: 3x3 conv stem 8, basic blocks 8, 16 (stride 2), 32 (stride 2) with BatchNorm and residual adds, global average pool, fc 10"}
}

// ResNetMini builds a small residual network for 28x28 digits in the
// style of He et al. (2016)'s CIFAR ResNets, one basic block per stage:
//
//	image [b,1,28,28] -> Conv 8@3x3 -> BN -> Relu                      (28x28)
//	  -> block(8):            x + BN(Conv(Relu(BN(Conv(x)))))  -> Relu    (identity add)
//	  -> block(16, stride 2): proj(x) + BN(Conv(Relu(BN(Conv_s2(x))))) -> Relu (14x14)
//	  -> block(32, stride 2): the same                                   (7x7)
//	  -> GlobalAveragePool -> Flatten -> Gemm 10 -> logits
//
// where proj is a 1x1 stride-2 Conv followed by BN. Convolutions have no
// bias (the BatchNormalization after each carries it); weights are
// He-normal from seed, BN scales 1, shifts 0, running mean 0 and variance
// 1. The residual adds couple channels across layers, which is what
// structured pruning's dependency groups must handle.
// 19,810 trainable parameters plus 336 running statistics, about 2.4 M
// multiply-adds per image.
func ResNetMini(seed uint64) (*graph.Model, error) {
	b := newNetBuilder("resnet_mini", seed, []int{1, 28, 28})
	b.resConv(8, 3, 1)
	b.resBN()
	b.relu()
	b.resBlock(8, 1)
	b.resBlock(16, 2)
	b.resBlock(32, 2)
	b.node(b.name("gap"), "GlobalAveragePool", nil, []int{b.shape[0], 1, 1}, nil)
	b.flatten()
	b.dense(ZooClasses)
	return b.finish("ResNet-mini (ResNet-8 style) for 28x28 digits, built by gcompress (models.ResNetMini).")
}

// resConv adds a square convolution without bias: outC filters of size k,
// the given stride, padding k/2.
func (b *netBuilder) resConv(outC, k, stride int) {
	inC, h, w := b.shape[0], b.shape[1], b.shape[2]
	name := b.name("conv")
	wt := b.g.AddInitializer(name+".weight", b.heNormal([]int{outC, inC, k, k}, inC*k*k))
	p := int64(k / 2)
	s := int64(stride)
	oh, ow := (h+2*(k/2)-k)/stride+1, (w+2*(k/2)-k)/stride+1
	b.node(name, "Conv", []*graph.Value{wt}, []int{outC, oh, ow},
		map[string]*graph.Attr{"kernel_shape": graph.IntsAttr(int64(k), int64(k)), "pads": graph.IntsAttr(p, p, p, p),
			"strides": graph.IntsAttr(s, s)})
}

// resBN adds an inference BatchNormalization of the current channels with
// scale 1, shift 0, mean 0 and variance 1.
func (b *netBuilder) resBN() {
	c := b.shape[0]
	name := b.name("bn")
	ones := tensor.MustNew(tensor.Float32, c)
	for i := range ones.F32() {
		ones.F32()[i] = 1
	}
	vars := ones.Clone()
	ins := []*graph.Value{
		b.g.AddInitializer(name+".weight", ones),
		b.g.AddInitializer(name+".bias", tensor.MustNew(tensor.Float32, c)),
		b.g.AddInitializer(name+".running_mean", tensor.MustNew(tensor.Float32, c)),
		b.g.AddInitializer(name+".running_var", vars),
	}
	b.node(name, "BatchNormalization", ins, b.shape, map[string]*graph.Attr{"epsilon": graph.FloatAttr(1e-5), "momentum": graph.FloatAttr(0.9)})
}

// resBlock adds a basic residual block with outC channels: two 3x3
// convolutions (the first with the stride) with BN, Relu between, a 1x1
// strided projection with BN on the shortcut when the shape changes, the
// sum, and a Relu.
func (b *netBuilder) resBlock(outC, stride int) {
	in, inShape := b.cur, append([]int(nil), b.shape...)
	b.resConv(outC, 3, stride)
	b.resBN()
	b.relu()
	b.resConv(outC, 3, 1)
	b.resBN()
	main, mainShape := b.cur, append([]int(nil), b.shape...)
	short := in
	if stride != 1 || inShape[0] != outC {
		b.cur, b.shape = in, inShape
		b.resConv(outC, 1, stride)
		b.resBN()
		short = b.cur
	}
	b.cur, b.shape = main, mainShape
	b.node(b.name("add"), "Add", []*graph.Value{short}, mainShape, nil)
	b.relu()
}
