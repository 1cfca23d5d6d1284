package train

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/gcompress/gcompress/graph"
)

// The kernels below are plain-Go references with ONNX semantics for the
// ops whose gorgonia implementations differ from ONNX (gorgonia's
// AveragePool2D divides by the input width, its softmax hash ignores the
// log flag, and neither pool handles ceil_mode or dilations). They are
// the training-time implementations; the forward agreement test checks
// them against the CPU runtime.

// poolKernel is a 2-D MaxPool or AveragePool over x [N, C, H, W]:
//
//	max: y[n,c,oy,ox] = max over taps (ky,kx) inside the input of
//	     x[n,c, oy*sy - pt + ky*dy, ox*sx - pl + kx*dx]
//	avg: the sum over the same taps divided by the tap count: the taps
//	     inside the input (count_include_pad = 0), or inside the padded
//	     extent (count_include_pad = 1).
//
// Gradients: max routes dL/dy to the first tap holding the maximum; avg
// spreads dL/dy / count over the taps.
type poolKernel struct {
	max        bool
	win        graph.Window // completed for 2 spatial dims
	includePad bool
}

func (k *poolKernel) Name() string {
	kind := "AveragePool"
	if k.max {
		kind = "MaxPool"
	}
	return fmt.Sprintf("%s{k%v s%v d%v p%v %s ceil=%v incl=%v}", kind, k.win.Kernel, k.win.Strides,
		k.win.Dilations, k.win.Pads, k.win.AutoPad, k.win.CeilMode, k.includePad)
}

func (k *poolKernel) Differentiable(int) bool { return true }

// poolPlan lists, for every output cell of a plane, the plane offsets of
// its taps inside the input and its divisor.
type poolPlan struct {
	outH, outW int
	taps       [][]int
	count      []int
}

func (k *poolKernel) plan(shape []int) (*poolPlan, error) {
	if len(shape) != 4 {
		return nil, fmt.Errorf("input %v: train supports 2-D pools on [N,C,H,W]", shape)
	}
	h, w := shape[2], shape[3]
	oh, pt, pb, err := k.win.Axis(0, h)
	if err != nil {
		return nil, err
	}
	ow, pl, pr, err := k.win.Axis(1, w)
	if err != nil {
		return nil, err
	}
	p := &poolPlan{outH: oh, outW: ow, taps: make([][]int, oh*ow), count: make([]int, oh*ow)}
	kh, kw := k.win.Kernel[0], k.win.Kernel[1]
	sy, sx := k.win.Strides[0], k.win.Strides[1]
	dy, dx := k.win.Dilations[0], k.win.Dilations[1]
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			var taps []int
			padded := 0
			for ky := 0; ky < kh; ky++ {
				iy := oy*sy - pt + ky*dy
				for kx := 0; kx < kw; kx++ {
					ix := ox*sx - pl + kx*dx
					if iy >= -pt && iy < h+pb && ix >= -pl && ix < w+pr {
						padded++
					}
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						taps = append(taps, iy*w+ix)
					}
				}
			}
			if len(taps) == 0 {
				return nil, fmt.Errorf("output cell (%d,%d) has no input taps (padding larger than the window)", oy, ox)
			}
			c := len(taps)
			if k.includePad {
				c = padded
			}
			p.taps[oy*ow+ox], p.count[oy*ow+ox] = taps, c
		}
	}
	return p, nil
}

func (k *poolKernel) OutShape(in [][]int) ([]int, error) {
	p, err := k.plan(in[0])
	if err != nil {
		return nil, err
	}
	return []int{in[0][0], in[0][1], p.outH, p.outW}, nil
}

func (k *poolKernel) Forward(out []float32, in [][]float32, shapes [][]int) error {
	p, err := k.plan(shapes[0])
	if err != nil {
		return err
	}
	planes, inPlane, outPlane := shapes[0][0]*shapes[0][1], shapes[0][2]*shapes[0][3], p.outH*p.outW
	x := in[0]
	for pl := 0; pl < planes; pl++ {
		src, dst := x[pl*inPlane:(pl+1)*inPlane], out[pl*outPlane:(pl+1)*outPlane]
		for o, taps := range p.taps {
			if k.max {
				m := float32(math.Inf(-1))
				for _, t := range taps {
					if v := src[t]; v > m || v != v {
						m = v
					}
				}
				dst[o] = m
			} else {
				var s float32
				for _, t := range taps {
					s += src[t]
				}
				dst[o] = s / float32(p.count[o])
			}
		}
	}
	return nil
}

func (k *poolKernel) Backward(_ int, gin, gout, out []float32, in [][]float32, shapes [][]int) error {
	p, err := k.plan(shapes[0])
	if err != nil {
		return err
	}
	planes, inPlane, outPlane := shapes[0][0]*shapes[0][1], shapes[0][2]*shapes[0][3], p.outH*p.outW
	x := in[0]
	for pl := 0; pl < planes; pl++ {
		src, gi := x[pl*inPlane:(pl+1)*inPlane], gin[pl*inPlane:(pl+1)*inPlane]
		y, gy := out[pl*outPlane:(pl+1)*outPlane], gout[pl*outPlane:(pl+1)*outPlane]
		for o, taps := range p.taps {
			if k.max {
				for _, t := range taps {
					if src[t] == y[o] {
						gi[t] += gy[o]
						break
					}
				}
			} else {
				g := gy[o] / float32(p.count[o])
				for _, t := range taps {
					gi[t] += g
				}
			}
		}
	}
	return nil
}

// globalAvgPoolKernel is GlobalAveragePool over x [N, C, spatial...]:
// y[n,c,1,...,1] = mean of the plane x[n,c,...]; dL/dx = dL/dy / plane size.
type globalAvgPoolKernel struct{}

func (globalAvgPoolKernel) Name() string            { return "GlobalAveragePool" }
func (globalAvgPoolKernel) Differentiable(int) bool { return true }

func (globalAvgPoolKernel) OutShape(in [][]int) ([]int, error) {
	if len(in[0]) < 3 {
		return nil, fmt.Errorf("input %v: want [N, C, spatial...]", in[0])
	}
	out := []int{in[0][0], in[0][1]}
	for range in[0][2:] {
		out = append(out, 1)
	}
	return out, nil
}

func planeSize(shape []int) int {
	n := 1
	for _, d := range shape[2:] {
		n *= d
	}
	return n
}

func (globalAvgPoolKernel) Forward(out []float32, in [][]float32, shapes [][]int) error {
	plane := planeSize(shapes[0])
	for p := range out {
		var s float64
		for _, v := range in[0][p*plane : (p+1)*plane] {
			s += float64(v)
		}
		out[p] = float32(s / float64(plane))
	}
	return nil
}

func (globalAvgPoolKernel) Backward(_ int, gin, gout, _ []float32, _ [][]float32, shapes [][]int) error {
	plane := planeSize(shapes[0])
	for p, g := range gout {
		g /= float32(plane)
		for i := p * plane; i < (p+1)*plane; i++ {
			gin[i] += g
		}
	}
	return nil
}

// softmaxKernel is Softmax or LogSoftmax along one axis (ONNX opset 13):
//
//	softmax:    y_i = exp(x_i - m) / sum_j exp(x_j - m),  m = max_j x_j
//	logsoftmax: y_i = x_i - m - log sum_j exp(x_j - m)
//
// with gradients dx_i = y_i (g_i - sum_j g_j y_j) and
// dx_i = g_i - softmax_i sum_j g_j respectively.
type softmaxKernel struct {
	axis int // normalised, >= 0
	log  bool
}

func (k *softmaxKernel) Name() string {
	if k.log {
		return fmt.Sprintf("LogSoftmax{axis=%d}", k.axis)
	}
	return fmt.Sprintf("Softmax{axis=%d}", k.axis)
}

func (k *softmaxKernel) Differentiable(int) bool { return true }

func (k *softmaxKernel) OutShape(in [][]int) ([]int, error) {
	if k.axis >= len(in[0]) {
		return nil, fmt.Errorf("axis %d out of range for %v", k.axis, in[0])
	}
	return append([]int(nil), in[0]...), nil
}

// lanes returns the outer count, the axis length and the inner stride.
func (k *softmaxKernel) lanes(shape []int) (outer, n, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		switch {
		case i < k.axis:
			outer *= d
		case i > k.axis:
			inner *= d
		}
	}
	return outer, shape[k.axis], inner
}

func (k *softmaxKernel) Forward(out []float32, in [][]float32, shapes [][]int) error {
	outer, n, inner := k.lanes(shapes[0])
	x := in[0]
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*n*inner + i
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				m = math.Max(m, float64(x[base+j*inner]))
			}
			var s float64
			for j := 0; j < n; j++ {
				s += math.Exp(float64(x[base+j*inner]) - m)
			}
			ls := math.Log(s)
			for j := 0; j < n; j++ {
				v := float64(x[base+j*inner]) - m
				if k.log {
					out[base+j*inner] = float32(v - ls)
				} else {
					out[base+j*inner] = float32(math.Exp(v - ls))
				}
			}
		}
	}
	return nil
}

func (k *softmaxKernel) Backward(_ int, gin, gout, out []float32, _ [][]float32, shapes [][]int) error {
	outer, n, inner := k.lanes(shapes[0])
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			base := o*n*inner + i
			var s float64
			for j := 0; j < n; j++ {
				idx := base + j*inner
				if k.log {
					s += float64(gout[idx])
				} else {
					s += float64(gout[idx]) * float64(out[idx])
				}
			}
			for j := 0; j < n; j++ {
				idx := base + j*inner
				if k.log {
					gin[idx] += float32(float64(gout[idx]) - math.Exp(float64(out[idx]))*s)
				} else {
					gin[idx] += float32(float64(out[idx]) * (float64(gout[idx]) - s))
				}
			}
		}
	}
	return nil
}

// maskKernel multiplies x by a same-shaped mask input that is not
// differentiated: y = x * m, dL/dx = dL/dy * m. Dropout (m holds 0 or
// 1/(1-ratio)) uses it.
type maskKernel struct{ tag string }

func (k maskKernel) Name() string            { return "Mask{" + k.tag + "}" }
func (maskKernel) Differentiable(i int) bool { return i == 0 }
func (maskKernel) OutShape(in [][]int) ([]int, error) {
	if len(in) != 2 || !slices.Equal(in[0], in[1]) {
		return nil, fmt.Errorf("mask shape %v does not match input %v", in[1], in[0])
	}
	return append([]int(nil), in[0]...), nil
}

func (maskKernel) Forward(out []float32, in [][]float32, _ [][]int) error {
	for i, v := range in[0] {
		out[i] = v * in[1][i]
	}
	return nil
}

func (maskKernel) Backward(_ int, gin, gout, _ []float32, in [][]float32, _ [][]int) error {
	for i, g := range gout {
		gin[i] += g * in[1][i]
	}
	return nil
}

// bnKernel is BatchNormalization over x [N, C, spatial...] with inputs
// (x, scale, bias):
//
//	y = scale_c * (x - mu_c) / sqrt(var_c + eps) + bias_c
//
// In training mode mu and var are the batch mean and population variance
// of each channel over N and the spatial positions (ONNX training_mode=1),
// and the last batch statistics are kept in lastMean/lastVar for the
// running-statistics update; in inference mode they are the running
// statistics (read at each call, so updates are seen). Gradients, with
// xhat = (x - mu) istd, istd = 1/sqrt(var + eps), m = values per channel:
//
//	dbias_c  = sum g
//	dscale_c = sum g xhat
//	dx       = scale istd (g - dbias/m - xhat dscale/m)   (training)
//	dx       = scale istd g                               (inference)
type bnKernel struct {
	node     string
	eps      float64
	training bool
	// running statistics (inference mode)
	runMean, runVar []float32
	// batch statistics of the last training-mode forward pass
	lastMean, lastVar []float64
}

func (k *bnKernel) Name() string {
	return fmt.Sprintf("BatchNormalization{%s eps=%g training=%v}", k.node, k.eps, k.training)
}

func (k *bnKernel) Differentiable(int) bool { return true }

func (k *bnKernel) OutShape(in [][]int) ([]int, error) {
	x := in[0]
	if len(x) < 2 {
		return nil, fmt.Errorf("input %v: want [N, C, ...]", x)
	}
	for i, name := range []string{"scale", "B"} {
		if len(in[i+1]) != 1 || in[i+1][0] != x[1] {
			return nil, fmt.Errorf("%s %v does not match %d channels", name, in[i+1], x[1])
		}
	}
	return append([]int(nil), x...), nil
}

// stats returns the per-channel mean and inverse standard deviation used
// for input x.
func (k *bnKernel) stats(x []float32, shape []int) (mean, istd []float64) {
	n, c, plane := shape[0], shape[1], planeSize(shape)
	mean, istd = make([]float64, c), make([]float64, c)
	variance := make([]float64, c)
	if k.training {
		m := float64(n * plane)
		for ch := 0; ch < c; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				for _, v := range x[(i*c+ch)*plane : (i*c+ch+1)*plane] {
					s += float64(v)
				}
			}
			mean[ch] = s / m
			var q float64
			for i := 0; i < n; i++ {
				for _, v := range x[(i*c+ch)*plane : (i*c+ch+1)*plane] {
					d := float64(v) - mean[ch]
					q += d * d
				}
			}
			variance[ch] = q / m
		}
	} else {
		for ch := 0; ch < c; ch++ {
			mean[ch], variance[ch] = float64(k.runMean[ch]), float64(k.runVar[ch])
		}
	}
	for ch := range istd {
		istd[ch] = 1 / math.Sqrt(variance[ch]+k.eps)
	}
	if k.training {
		k.lastMean, k.lastVar = mean, variance
	}
	return mean, istd
}

func (k *bnKernel) Forward(out []float32, in [][]float32, shapes [][]int) error {
	x, scale, bias := in[0], in[1], in[2]
	mean, istd := k.stats(x, shapes[0])
	c, plane := shapes[0][1], planeSize(shapes[0])
	for p := 0; p < len(x)/plane; p++ {
		ch := p % c
		a := float64(scale[ch]) * istd[ch]
		b := float64(bias[ch]) - mean[ch]*a
		for i := p * plane; i < (p+1)*plane; i++ {
			out[i] = float32(float64(x[i])*a + b)
		}
	}
	return nil
}

func (k *bnKernel) Backward(wrt int, gin, gout, _ []float32, in [][]float32, shapes [][]int) error {
	x, scale := in[0], in[1]
	saved := k.lastMean
	savedVar := k.lastVar
	mean, istd := k.stats(x, shapes[0])
	k.lastMean, k.lastVar = saved, savedVar // backward must not disturb the forward's statistics
	c, plane := shapes[0][1], planeSize(shapes[0])
	dbias, dscale := make([]float64, c), make([]float64, c)
	for p := 0; p < len(x)/plane; p++ {
		ch := p % c
		for i := p * plane; i < (p+1)*plane; i++ {
			g := float64(gout[i])
			dbias[ch] += g
			dscale[ch] += g * (float64(x[i]) - mean[ch]) * istd[ch]
		}
	}
	switch wrt {
	case 1:
		for ch := range gin {
			gin[ch] += float32(dscale[ch])
		}
	case 2:
		for ch := range gin {
			gin[ch] += float32(dbias[ch])
		}
	default:
		m := float64(len(x) / c)
		for p := 0; p < len(x)/plane; p++ {
			ch := p % c
			a := float64(scale[ch]) * istd[ch]
			for i := p * plane; i < (p+1)*plane; i++ {
				g := float64(gout[i])
				if k.training {
					xhat := (float64(x[i]) - mean[ch]) * istd[ch]
					g -= dbias[ch]/m + xhat*dscale[ch]/m
				}
				gin[i] += float32(a * g)
			}
		}
	}
	return nil
}

// gemmKernel is the matrix product Y = op(A) op(B) of two matrices, op
// transposing when the flag is set (Gemm's transA/transB), computed with
// gonum's SGEMM without materialising transposes. With dY the output
// gradient:
//
//	d op(A) = dY op(B)^T        d op(B) = op(A)^T dY
//
// and dA, dB are those or their transposes.
type gemmKernel struct{ transA, transB bool }

func (k gemmKernel) Name() string          { return fmt.Sprintf("Gemm{tA=%v tB=%v}", k.transA, k.transB) }
func (gemmKernel) Differentiable(int) bool { return true }
func (k gemmKernel) dims(in [][]int) (m, kk, n int, err error) {
	a, b := in[0], in[1]
	if len(a) != 2 || len(b) != 2 {
		return 0, 0, 0, fmt.Errorf("want matrices, got %v and %v", a, b)
	}
	m, kk = a[0], a[1]
	if k.transA {
		m, kk = a[1], a[0]
	}
	kb, n := b[0], b[1]
	if k.transB {
		kb, n = b[1], b[0]
	}
	if kb != kk {
		return 0, 0, 0, fmt.Errorf("op(A) %dx%d and op(B) %dx%d do not multiply", m, kk, kb, n)
	}
	return m, kk, n, nil
}

func (k gemmKernel) OutShape(in [][]int) ([]int, error) {
	m, _, n, err := k.dims(in)
	return []int{m, n}, err
}

func trans(t bool) blas.Transpose {
	if t {
		return blas.Trans
	}
	return blas.NoTrans
}

func (k gemmKernel) Forward(out []float32, in [][]float32, shapes [][]int) error {
	m, kk, n, err := k.dims(shapes)
	if err != nil {
		return err
	}
	if m == 0 || n == 0 || kk == 0 {
		return nil
	}
	blas32.Implementation().Sgemm(trans(k.transA), trans(k.transB), m, n, kk, 1,
		in[0], shapes[0][1], in[1], shapes[1][1], 0, out, n)
	return nil
}

func (k gemmKernel) Backward(i int, gin, gout, _ []float32, in [][]float32, shapes [][]int) error {
	m, kk, n, err := k.dims(shapes)
	if err != nil {
		return err
	}
	if m == 0 || n == 0 || kk == 0 {
		return nil
	}
	impl := blas32.Implementation()
	a, b := in[0], in[1]
	lda, ldb := shapes[0][1], shapes[1][1]
	switch {
	case i == 0 && !k.transA: // dA [m,k] = dY op(B)^T
		impl.Sgemm(blas.NoTrans, trans(!k.transB), m, kk, n, 1, gout, n, b, ldb, 1, gin, kk)
	case i == 0: // dA [k,m] = op(B) dY^T
		impl.Sgemm(trans(k.transB), blas.Trans, kk, m, n, 1, b, ldb, gout, n, 1, gin, m)
	case !k.transB: // dB [k,n] = op(A)^T dY
		impl.Sgemm(trans(!k.transA), blas.NoTrans, kk, n, m, 1, a, lda, gout, n, 1, gin, n)
	default: // dB [n,k] = dY^T op(A)
		impl.Sgemm(blas.Trans, trans(k.transA), n, kk, m, 1, gout, n, a, lda, 1, gin, kk)
	}
	return nil
}

// tapKernel copies its input into buf when it runs and outputs a dummy
// [1] tensor nobody reads. Values of intermediate nodes cannot be read
// after a gorgonia run (the machine reuses their memory for later ops); a
// tap keeps a copy taken at the right moment.
type tapKernel struct {
	tag   string
	buf   []float32
	shape []int
}

func (k *tapKernel) Name() string                    { return "Tap{" + k.tag + "}" }
func (k *tapKernel) Differentiable(int) bool         { return false }
func (k *tapKernel) OutShape([][]int) ([]int, error) { return []int{1}, nil }

func (k *tapKernel) Forward(_ []float32, in [][]float32, shapes [][]int) error {
	k.buf = append(k.buf[:0], in[0]...)
	k.shape = append(k.shape[:0], shapes[0]...)
	return nil
}

func (k *tapKernel) Backward(int, []float32, []float32, []float32, [][]float32, [][]int) error {
	return fmt.Errorf("tap has no gradient")
}
