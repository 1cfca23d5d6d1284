package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/tensor"
)

// convSpec is the convolution `bench conv` times: X [N, C, H, W] with M
// filters of KH x KW (C/group channels each), ONNX Conv's attributes.
type convSpec struct {
	Input     []int `json:"input"`  // N, C, H, W
	Output    []int `json:"output"` // N, M, OH, OW
	Kernel    []int `json:"kernel"` // KH, KW
	Strides   []int `json:"strides"`
	Pads      []int `json:"pads"` // top, left, bottom, right
	Dilations []int `json:"dilations"`
	Group     int   `json:"group"`
	Bias      bool  `json:"bias"`
	Relu      bool  `json:"relu"`
}

func (c *convSpec) String() string {
	return fmt.Sprintf("conv %s -> %s, kernel %s, strides %s, pads %s, dilations %s, group %d",
		dimsString(c.Input, "x"), dimsString(c.Output, "x"), dimsString(c.Kernel, "x"), dimsString(c.Strides, ","),
		dimsString(c.Pads, ","), dimsString(c.Dilations, ","), c.Group)
}

func dimsString(d []int, sep string) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, sep)
}

// convReport is the JSON document of `bench conv --json`: bench model's
// keys plus the convolution and its rates.
type convReport struct {
	modelReport
	Conv    convSpec `json:"conv"`
	FLOPs   float64  `json:"flops"`
	GFLOPS  float64  `json:"gflops"` // flops / our median time, 1e9 per second
	ORTGFLP float64  `json:"ort_gflops,omitempty"`
}

func newBenchConvCmd(g *globals) *cobra.Command {
	var input, kernel, strides, pads, dilations string
	var out, group, runs, warmup int
	var noBias, relu, vsORT, asJSON, noOpt bool
	var seed uint64
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "yes"},
		Use:         "conv",
		Short:       "Time one 2-D convolution, optionally beside ONNX Runtime (--vs-ort)",
		Long: `Times one float32 2-D convolution (ONNX Conv, seeded random weights and
input) as a one-node model, the way bench model times a model: the load-time
passes (--relu fuses the activation into the convolution; the channel-blocked
layout where the CPU has AVX2 or AVX-512), warm-up runs, then timed runs; with
--vs-ort ONNX Runtime runs the same model in turns with ours. The report adds
the convolution's FLOPs (2 per multiply-add) and the rate of each runtime.

Sizes are comma-separated: --kernel and --strides and --dilations take one
value for both axes or two (height, width); --pads one for every side, two
(height, width; both sides) or four (top, left, bottom, right). Without
--pads the padding keeps H and W at stride 1 (dilation*(kernel-1)/2 each
side, for odd kernels).`,
		Example: `  gcompress bench conv --input 1,64,56,56 --out 64 --kernel 3 --vs-ort --threads 1
  gcompress bench conv --input 1,256,56,56 --out 512 --kernel 1 --strides 2 --pads 0 --json
  gcompress bench conv --input 1,136,28,28 --out 136 --kernel 3 --group 136 --vs-ort`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkIntFlags(intFlag{"runs", runs, 1}, intFlag{"warmup", warmup, 0}); err != nil {
				return err
			}
			spec, err := newConvSpec(input, out, kernel, strides, pads, dilations, group, !noBias, relu)
			if err != nil {
				return usagef("%v", err)
			}
			m, err := convModel(spec, seed)
			if err != nil {
				return err
			}
			raw, err := onnx.Encode(m)
			if err != nil {
				return err
			}
			rep, err := runModelBench(g, "conv", m, raw, randomFeed(m.Graph, seed), nil, runs, warmup, vsORT, noOpt)
			if err != nil {
				return err
			}
			flops, ok := graph.NodeFLOPs(m.Graph.Nodes[0]) // the Conv: 2 per multiply-add
			if !ok {
				return fmt.Errorf("bench conv: the convolution's FLOPs are unknown")
			}
			cr := convReport{modelReport: rep, Conv: *spec, FLOPs: float64(flops)}
			gflops := func(ms float64) float64 { return cr.FLOPs / (ms * 1e6) }
			cr.GFLOPS = gflops(rep.Ours.MedianMS)
			if rep.ORT != nil {
				cr.ORTGFLP = gflops(rep.ORT.MedianMS)
			}
			return writeBench(cmd.OutOrStdout(), asJSON, cr, func(w io.Writer) {
				fmt.Fprintf(w, "%s (%.3g GFLOP), %d threads, level %s:\n  ", spec, cr.FLOPs/1e9, rep.Threads, rep.Level)
				rep.writeTimes(w, func(ms float64) string { return fmt.Sprintf("%.1f GFLOP/s", gflops(ms)) })
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&input, "input", "1,64,56,56", "input shape N,C,H,W")
	fl.IntVar(&out, "out", 64, "output channels M")
	fl.StringVar(&kernel, "kernel", "3", "kernel size: K, or KH,KW")
	fl.StringVar(&strides, "strides", "1", "strides: S, or SH,SW")
	fl.StringVar(&pads, "pads", "", "pads: P, PH,PW or top,left,bottom,right (default: dilation*(kernel-1)/2)")
	fl.StringVar(&dilations, "dilations", "1", "dilations: D, or DH,DW")
	fl.IntVar(&group, "group", 1, "groups (C and M divisible by it; C for a depthwise convolution)")
	fl.BoolVar(&noBias, "no-bias", false, "leave out the bias")
	fl.BoolVar(&relu, "relu", false, "follow the convolution by Relu (fused into it)")
	fl.IntVar(&runs, "runs", 20, "timed runs (per runtime)")
	fl.IntVar(&warmup, "warmup", 3, "untimed runs first (per runtime)")
	fl.Uint64Var(&seed, "seed", 1, "seed of the random weights and input")
	fl.BoolVar(&vsORT, "vs-ort", false, "also run ONNX Runtime (needs 'make peers' or GCOMPRESS_ORT_LIB)")
	fl.BoolVar(&noOpt, "no-optimize", false, "skip the load-time graph passes")
	fl.BoolVar(&asJSON, "json", false, "print a JSON report")
	return cmd
}

// newConvSpec parses and checks bench conv's flags.
func newConvSpec(input string, out int, kernel, strides, pads, dilations string, group int, bias, relu bool) (*convSpec, error) {
	in, err := parseInts("--input", input, 4, 4)
	if err != nil {
		return nil, err
	}
	c := &convSpec{Input: in, Group: group, Bias: bias, Relu: relu}
	if c.Kernel, err = parseInts("--kernel", kernel, 1, 2); err != nil {
		return nil, err
	}
	if c.Strides, err = parseInts("--strides", strides, 1, 2); err != nil {
		return nil, err
	}
	if c.Dilations, err = parseInts("--dilations", dilations, 1, 2); err != nil {
		return nil, err
	}
	for _, p := range []*[]int{&c.Kernel, &c.Strides, &c.Dilations} {
		if len(*p) == 1 {
			*p = []int{(*p)[0], (*p)[0]}
		}
	}
	if pads == "" { // the dilated kernel's half: the size stays at stride 1 (odd kernels)
		ph, pw := c.Dilations[0]*(c.Kernel[0]-1)/2, c.Dilations[1]*(c.Kernel[1]-1)/2
		c.Pads = []int{ph, pw, ph, pw}
	} else {
		p, err := parseInts("--pads", pads, 0, 4)
		if err != nil {
			return nil, err
		}
		switch len(p) {
		case 1:
			c.Pads = []int{p[0], p[0], p[0], p[0]}
		case 2:
			c.Pads = []int{p[0], p[1], p[0], p[1]}
		case 4:
			c.Pads = p
		default:
			return nil, fmt.Errorf("--pads %q: want 1, 2 or 4 values", pads)
		}
	}
	switch {
	case out < 1 || out > 1<<20:
		return nil, fmt.Errorf("--out %d: want 1 to 2^20 output channels", out)
	case group < 1 || in[1]%group != 0 || out%group != 0:
		return nil, fmt.Errorf("--group %d must divide the input channels (%d) and --out (%d)", group, in[1], out)
	}
	oh := (in[2]+c.Pads[0]+c.Pads[2]-(c.Kernel[0]-1)*c.Dilations[0]-1)/c.Strides[0] + 1
	ow := (in[3]+c.Pads[1]+c.Pads[3]-(c.Kernel[1]-1)*c.Dilations[1]-1)/c.Strides[1] + 1
	if in[2]+c.Pads[0]+c.Pads[2] < (c.Kernel[0]-1)*c.Dilations[0]+1 || in[3]+c.Pads[1]+c.Pads[3] < (c.Kernel[1]-1)*c.Dilations[1]+1 {
		return nil, fmt.Errorf("--kernel and --dilations: the %dx%d kernel (dilations %d,%d) is larger than the padded %dx%d input",
			c.Kernel[0], c.Kernel[1], c.Dilations[0], c.Dilations[1], in[2]+c.Pads[0]+c.Pads[2], in[3]+c.Pads[1]+c.Pads[3])
	}
	c.Output = []int{in[0], out, oh, ow}
	// what the benchmark allocates: input, weights, output (float64 products: no overflow)
	for _, t := range []struct {
		flags string
		n     float64
	}{
		{"--input", float64(in[0]) * float64(in[1]) * float64(in[2]) * float64(in[3])},
		{"--out and --kernel", float64(out) * float64(in[1]/group) * float64(c.Kernel[0]) * float64(c.Kernel[1])},
		{"--out, --pads and --strides", float64(in[0]) * float64(out) * float64(oh) * float64(ow)},
	} {
		if t.n > 1<<28 {
			return nil, fmt.Errorf("%s: %.3g elements of a tensor is more than this benchmark takes (2^28, 1 GiB)", t.flags, t.n)
		}
	}
	return c, nil
}

// parseInts parses a comma-separated list of lo..hi positive integers (0
// allowed when lo is 0, for pads).
func parseInts(flag, s string, lo, hi int) ([]int, error) {
	parts := strings.Split(s, ",")
	if len(parts) < max(lo, 1) || len(parts) > hi {
		return nil, fmt.Errorf("%s %q: want %s comma-separated values", flag, s, countWord(lo, hi))
	}
	out := make([]int, len(parts))
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 && !(lo == 0 && v == 0) || v > 1<<20 {
			what := "a positive integer"
			if lo == 0 {
				what = "a non-negative integer"
			}
			return nil, fmt.Errorf("%s %q: %q is not %s up to 2^20", flag, s, p, what)
		}
		out[i] = v
	}
	return out, nil
}

func countWord(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", max(lo, 1), hi)
}

// convModel builds the one-node model: input x, Conv with seeded uniform
// weights and bias in [-1, 1)/fan-in, optionally Relu, output y.
func convModel(c *convSpec, seed uint64) (*graph.Model, error) {
	g := graph.NewGraph("bench_conv")
	x := g.GetOrAddValue("x")
	x.DType = tensor.Float32
	x.SetShape(c.Input)
	g.Inputs = append(g.Inputs, x)
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	cg := c.Input[1] / c.Group
	wShape := []int{c.Output[1], cg, c.Kernel[0], c.Kernel[1]}
	scale := 1 / float32(cg*c.Kernel[0]*c.Kernel[1])
	uniform := func(shape ...int) *tensor.Tensor {
		v := make([]float32, tensor.Product(shape))
		for i := range v {
			v[i] = (2*rng.Float32() - 1) * scale
		}
		return tensor.FromSlice(shape, v)
	}
	ins := []*graph.Value{x, g.AddInitializer("w", uniform(wShape...))}
	if c.Bias {
		ins = append(ins, g.AddInitializer("b", uniform(c.Output[1])))
	}
	ints := func(v []int) *graph.Attr {
		out := make([]int64, len(v))
		for i, d := range v {
			out[i] = int64(d)
		}
		return graph.IntsAttr(out...)
	}
	y := g.NewValue("conv")
	g.AddNode("Conv", ins, []*graph.Value{y}, map[string]*graph.Attr{"kernel_shape": ints(c.Kernel), "strides": ints(c.Strides),
		"pads": ints(c.Pads), "dilations": ints(c.Dilations), "group": graph.IntAttr(int64(c.Group))})
	if c.Relu {
		r := g.NewValue("relu")
		g.AddNode("Relu", []*graph.Value{y}, []*graph.Value{r}, nil)
		y = r
	}
	g.Outputs = []*graph.Value{y}
	if err := graph.InferShapes(g); err != nil {
		return nil, fmt.Errorf("bench conv: %w", err)
	}
	return graph.NewModel(g, 13), nil
}
