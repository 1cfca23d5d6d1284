//go:build gcompress_cuda

package prune

// The CUDA half of the 2:4 acceptance: a 2:4-pruned LeNet-5 run with every
// convolution and fully connected layer on the CUDA 2:4 sparse GEMM
// (kernels/gemm_sp24.cu through gobind; weights compressed by
// kernels/ref.Compress24 into the format the kernel reads) gives the logits
// of the dense masked model run by the CPU runtime. Host code does the
// im2col, bias, Relu and max-pooling between the GEMMs. Both sides see
// float16-rounded weights and inputs; the GPU also rounds the activations
// to float16 before each GEMM (its input type), which the tolerance
// allows for.
//
// Not run yet: no GPU has been available to this project. Run on a GPU
// host with
//
//	go test -tags gcompress_cuda ./compress/prune -run TestSparse24CUDALeNet5 -v

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/data/mnist"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// cudaLogitTol: float16 activations (11-bit significands) rounded before
// each of five GEMMs give relative logit errors of a few 1e-3; 2e-2 of the
// largest logit leaves a wide margin while catching any layout error.
const cudaLogitTol = 2e-2

func f16Round(v float32) float32 { return tensor.NewF16(v).Float32() }

func f16Bytes(v []tensor.F16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(x))
	}
	return b
}

// gpuSparse24 computes C (M x N, float32) = W · Bᵀ on the GPU, W the
// M x K 2:4 weight (row-major, float32 values exact in float16) and B the
// N x K activations (rounded to float16 here).
func gpuSparse24(t *testing.T, l *gobind.Launcher, w []float32, m, k int, b []float32, n int) []float32 {
	t.Helper()
	wh := make([]tensor.F16, m*k)
	for i, v := range w {
		wh[i] = tensor.NewF16(v)
	}
	sp, err := ref.Compress24(m, k, wh, k, ref.FormatSparse24F16.KAlign)
	if err != nil {
		t.Fatal(err)
	}
	kp := sp.Cols
	bh := make([]tensor.F16, n*kp)
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			bh[j*kp+p] = tensor.NewF16(b[j*k+p])
		}
	}
	up := func(host []byte) cuda.Mem {
		mem, err := l.Upload(host)
		if err != nil {
			t.Fatal(err)
		}
		return mem
	}
	vals, meta, bm := up(f16Bytes(sp.Values)), up(sp.Meta), up(f16Bytes(bh))
	cm := up(make([]byte, 4*m*n))
	defer func() {
		for _, x := range []cuda.Mem{vals, meta, bm, cm} {
			l.Free(x)
		}
	}()
	args := &gobind.SparseGemmArgs{In: gobind.F16, M: int64(m), N: int64(n), K: int64(kp),
		AValues: vals, LdV: int64(sp.ValueStride()), AMeta: meta, LdE: int64(sp.MetaStride()), B: bm, LdB: int64(kp),
		Epilogue: gobind.Epilogue{Out: ref.OutF32, C: cm, LdCM: int64(n), LdCN: 1, Axis: ref.PerRow}}
	if err := l.SparseGemm(nil, args); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 4*m*n)
	if err := l.Download(raw, cm); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, m*n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

// im2colT returns the N x K patch matrix (N = oh*ow output cells, K =
// c*ks*ks taps) of one c x h x w image for a ks x ks convolution with
// stride 1 and padding pad.
func im2colT(x []float32, c, h, w, ks, pad int) ([]float32, int, int) {
	oh, ow := h+2*pad-ks+1, w+2*pad-ks+1
	k := c * ks * ks
	out := make([]float32, oh*ow*k)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := out[(oy*ow+ox)*k:]
			for ch := 0; ch < c; ch++ {
				for ky := 0; ky < ks; ky++ {
					for kx := 0; kx < ks; kx++ {
						iy, ix := oy+ky-pad, ox+kx-pad
						if iy >= 0 && iy < h && ix >= 0 && ix < w {
							row[(ch*ks+ky)*ks+kx] = x[(ch*h+iy)*w+ix]
						}
					}
				}
			}
		}
	}
	return out, oh, ow
}

func biasRelu(y []float32, bias []float32, per int, relu bool) {
	for i := range y {
		y[i] += bias[i/per]
		if relu && y[i] < 0 {
			y[i] = 0
		}
	}
}

func maxPool2(x []float32, c, h, w int) []float32 {
	oh, ow := h/2, w/2
	out := make([]float32, c*oh*ow)
	for ch := 0; ch < c; ch++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				m := float32(math.Inf(-1))
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						m = max(m, x[(ch*h+2*y+dy)*w+2*xx+dx])
					}
				}
				out[(ch*oh+y)*ow+xx] = m
			}
		}
	}
	return out
}

func TestSparse24CUDALeNet5(t *testing.T) {
	dev, err := cuda.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	l, err := gobind.Load(dev)
	if err != nil {
		t.Fatal(err)
	}
	m := mustModel(t, "lenet5", 1)
	layers := Layers(m)
	ms, err := NM(layers, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Apply(m); err != nil {
		t.Fatal(err)
	}
	for _, v := range m.Graph.Initializers {
		d := v.Const.F32()
		for i := range d {
			d[i] = f16Round(d[i])
		}
	}
	w := func(name string) []float32 { return m.Graph.Value(name).Const.F32() }
	ds, err := mnist.Load("test")
	if err != nil {
		t.Fatal(err)
	}
	const samples = 64
	sess, err := runtime.NewSession(m, cpu.Backend(), runtime.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	agree := 0
	var worst, scale float64
	for s := 0; s < samples; s++ {
		x, err := ds.Batch([]int{s}, []int{1, 1, 28, 28})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x.F32() {
			x.F32()[i] = f16Round(v)
		}
		want, err := sess.Run(map[string]*tensor.Tensor{"image": x})
		if err != nil {
			t.Fatal(err)
		}
		// conv1 6@5x5 pad 2, relu, pool; conv2 16@5x5, relu, pool.
		col, oh, ow := im2colT(x.F32(), 1, 28, 28, 5, 2)
		h1 := gpuSparse24(t, l, w("conv1.weight"), 6, 25, col, oh*ow)
		biasRelu(h1, w("conv1.bias"), oh*ow, true)
		p1 := maxPool2(h1, 6, oh, ow)
		col, oh, ow = im2colT(p1, 6, 14, 14, 5, 0)
		h2 := gpuSparse24(t, l, w("conv2.weight"), 16, 150, col, oh*ow)
		biasRelu(h2, w("conv2.bias"), oh*ow, true)
		f := maxPool2(h2, 16, oh, ow)
		f1 := gpuSparse24(t, l, w("fc1.weight"), 120, 400, f, 1)
		biasRelu(f1, w("fc1.bias"), 1, true)
		f2 := gpuSparse24(t, l, w("fc2.weight"), 84, 120, f1, 1)
		biasRelu(f2, w("fc2.bias"), 1, true)
		got := gpuSparse24(t, l, w("fc3.weight"), 10, 84, f2, 1)
		biasRelu(got, w("fc3.bias"), 1, false)
		g := tensor.FromSlice([]int{1, 10}, got)
		pw, _ := eval.Argmax(want[0])
		pg, _ := eval.Argmax(g)
		if pw[0] == pg[0] {
			agree++
		}
		for i, v := range got {
			worst = math.Max(worst, math.Abs(float64(v)-want[0].Float64At(i)))
			scale = math.Max(scale, math.Abs(want[0].Float64At(i)))
		}
	}
	t.Logf("CUDA 2:4 LeNet-5 vs dense masked model on the CPU: max |dlogit| %.3g (max |logit| %.3g), top-1 agreement %d/%d", worst, scale, agree, samples)
	if worst > cudaLogitTol*scale || agree < samples-1 {
		t.Errorf("the CUDA 2:4 path disagrees with the dense masked model")
	}
}
