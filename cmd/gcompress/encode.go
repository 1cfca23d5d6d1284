package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/bench"
	"github.com/gcompress/gcompress/compress/encode"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/onnx"
	"github.com/gcompress/gcompress/train"
)

// finetuneRecipe is the default centroid fine-tuning recipe: plain SGD
// with momentum at a small rate (each centroid moves by the sum of its
// cluster's gradients).
var finetuneRecipe = recipe{Epochs: 3, Batch: 64, Optimizer: "sgd", LR: 0.0005, Momentum: 0.9, Schedule: "cosine", Shift: 2}

type encodeFlags struct {
	opt            encode.Options
	layerBits      []string
	small          string
	finetuneEpochs int
	mean           bool
	reference      string
	network        string
	report         string
	train          trainOpts
}

func newEncodeCmd(g *globals) *cobra.Command {
	f := &encodeFlags{}
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "cpu"},
		Use:         "encode MODEL -o OUT.gcz",
		Short:       "Deep Compression stages 2-3: weight sharing (k-means) and Huffman coding into a .gcz archive",
		Long: `Writes MODEL as a .gcz archive (format: compress/encode package documentation):
the non-zero weights of every weight tensor are clustered by k-means with
linear initialisation into 2^--bits shared values (per tensor), the cluster
indices and the gaps between non-zero positions (relative indexing) are
Huffman coded, and everything is checksummed. A pruned model (gcompress
prune) gives the full Deep Compression pipeline.

With --data DIR the shared values are fine-tuned for --finetune-epochs
(each centroid moves by the summed gradient of its cluster; pruned weights
stay zero) and the model decoded from the written archive is evaluated on
the test split. The report has the per-layer table of the Deep Compression
paper (weights kept, weight and index bits with and without Huffman coding,
compress rates) and counts every byte of the archive. 'gcompress decode'
turns the archive back into ONNX.`,
		Example: `  gcompress encode l300-pruned.onnx -o l300.gcz
  gcompress encode lenet5-pruned.onnx --data data/mnist --finetune-epochs 3 --reference lenet5.onnx -o lenet5.gcz --report r.md
  gcompress decode lenet5.gcz -o lenet5-decoded.onnx`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEncode(cmd.OutOrStdout(), g, f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.opt.Bits, "bits", 6, "index bits of shared weights, 1..16 (2^bits shared values per tensor)")
	fl.StringSliceVar(&f.layerBits, "layer-bits", nil, "per-tensor index bits NAME=B (repeatable)")
	fl.IntVar(&f.opt.GapBits, "gap-bits", 0, "relative-index width 1..8 (0: the smallest per tensor)")
	fl.BoolVar(&f.opt.Half, "half-codebook", false, "store codebooks in float16")
	fl.StringVar(&f.small, "small", "raw32", "tensors of rank < 2 (biases): raw32, raw16 or shared")
	fl.IntVar(&f.opt.SmallBits, "small-bits", 4, "index bits of shared small tensors (--small shared)")
	fl.Float64Var(&f.opt.SparseMin, "sparse-min", 0.3, "store a weight sparse when at least this fraction is zero")
	fl.IntVar(&f.finetuneEpochs, "finetune-epochs", 3, "epochs of centroid fine-tuning (with --data; 0: none)")
	fl.BoolVar(&f.mean, "mean-update", false, "move centroids by the mean, not the sum, of their weights' updates")
	fl.StringVar(&f.reference, "reference", "", "the uncompressed model, evaluated for the summary table's reference row")
	fl.StringVar(&f.network, "network", "", "network name in the tables (default: the model's graph name)")
	fl.StringVar(&f.report, "report", "", "write a Markdown report here")
	o := &f.train
	o.flags = fl
	fl.StringVar(&o.data, "data", "", "dataset directory: fine-tune the centroids and evaluate")
	fl.StringVar(&o.trainSplit, "train-split", "train", "split to fine-tune on")
	fl.StringVar(&o.testSplit, "split", "test", "split to evaluate on")
	fl.IntVar(&o.limit, "limit", 0, "fine-tune on the first N samples only (0: all)")
	fl.IntVar(&o.batch, "batch", 0, "fine-tuning mini-batch")
	fl.Uint64Var(&o.seed, "seed", 1, "seed for fine-tuning")
	fl.Float64Var(&o.lr, "lr", 0, "fine-tuning learning rate (default 0.0005)")
	fl.Float64Var(&o.momentum, "momentum", -1, "SGD momentum (default 0.9)")
	fl.Float64Var(&o.weightDecay, "weight-decay", -1, "weight decay (default 0)")
	fl.IntVar(&o.shift, "shift", -1, "random +-N pixel shifts while fine-tuning (default 2)")
	fl.StringVarP(&o.out, "output", "o", "", "where to write the .gcz archive")
	fl.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	for _, name := range []string{"momentum", "weight-decay", "shift"} {
		fl.Lookup(name).DefValue = "0"
	}
	o.stepEpochs, o.gamma, o.warmup = 10, 0.1, -1
	return cmd
}

func runEncode(w io.Writer, g *globals, f *encodeFlags, path string) error {
	start := time.Now()
	o := &f.train
	if o.out == "" {
		return usagef("-o OUT.gcz is required")
	}
	if f.finetuneEpochs < 0 {
		return usagef("--finetune-epochs must be >= 0")
	}
	// encode.Options reads 0 as "the default": refuse it here rather than
	// silently encoding with 6 bits, 4 bits or 0.3.
	if f.opt.Bits < 1 || f.opt.Bits > 16 || f.opt.SmallBits < 1 || f.opt.SmallBits > 16 {
		return usagef("--bits and --small-bits must be in 1..16")
	}
	if !(f.opt.SparseMin > 0 && f.opt.SparseMin <= 1) {
		return usagef("--sparse-min %v must be in (0, 1]", f.opt.SparseMin)
	}
	f.opt.Small = f.small
	f.opt.LayerBits = map[string]int{}
	for _, p := range f.layerBits {
		k, v, ok := strings.Cut(p, "=")
		b, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil {
			return usagef("--layer-bits %q: want NAME=B", p)
		}
		f.opt.LayerBits[strings.TrimSpace(k)] = b
	}
	if err := checkOutputs([]string{path, f.reference}, o.out, f.report); err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(o.out), ".onnx") {
		stderrf("gcompress: warning: %s will be a .gcz archive, not ONNX (gcompress decode turns it back)\n", o.out)
	}
	m, err := loadModel(path)
	if err != nil {
		return err
	}
	// The reference is evaluated at the end, on the test split: read it,
	// and refuse it without data, before any work.
	var ref *graph.Model
	if f.reference != "" {
		if o.data == "" || o.testSplit == "" {
			return usagef("--reference is evaluated on the test split: give --data DIR (and a --split)")
		}
		if ref, err = loadModel(f.reference); err != nil {
			return err
		}
	}
	threads := g.threadCount()
	plan, err := encode.MakePlan(m, f.opt)
	if err != nil {
		return usageError{err}
	}
	for name := range f.opt.LayerBits {
		if _, ok := plan[name]; !ok {
			return usagef("--layer-bits: %s has no float32 tensor %q", path, name)
		}
	}
	rep := &encode.Report{Model: path, Output: o.out, Options: f.opt, Machine: bench.ThisMachine()}
	var d train.Data
	if o.data != "" {
		o.epochs = max(f.finetuneEpochs, 1)
		cfg, err := o.config(finetuneRecipe)
		if err != nil {
			return err
		}
		if cfg.Solver.Kind != "sgd" {
			return usagef("centroid fine-tuning needs SGD")
		}
		cfg.Threads = threads
		if d, err = o.loadData(); err != nil {
			return err
		}
		if f.finetuneEpochs > 0 {
			if err := checkFitsData(cfg, d); err != nil {
				return err
			}
		}
		if d.Test != nil {
			if rep.Before, err = encode.EvaluateTopK(m, d.Test, o.testSplit, threads); err != nil {
				return err
			}
		}
		if f.finetuneEpochs > 0 {
			cfg.Epochs = f.finetuneEpochs
			pr := newProgress("fine-tune centroids")
			rep.Finetune, err = encode.FinetuneCentroids(m, plan, encode.Finetune{Data: d, Config: cfg, Progress: pr, Mean: f.mean})
			pr.done()
			if err != nil {
				return err
			}
		}
	}
	if err := plan.Apply(m); err != nil {
		return err
	}
	b, size, err := encode.Encode(m, plan, f.opt)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(o.out, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return err
	}
	// Evaluate what a reader gets: the archive as written, decoded.
	written, err := os.ReadFile(o.out)
	if err != nil {
		return err
	}
	dm, _, err := encode.Decode(written)
	if err != nil {
		return fmt.Errorf("the written archive does not decode: %w", err)
	}
	if d.Test != nil {
		if rep.After, err = encode.EvaluateTopK(dm, d.Test, o.testSplit, threads); err != nil {
			return err
		}
		if ref != nil {
			if rep.Reference, err = encode.EvaluateTopK(ref, d.Test, o.testSplit, threads); err != nil {
				return err
			}
		}
	}
	rep.Size, rep.ParamBytes, rep.Ratio = size, size.ParamBytes(), size.Ratio()
	rep.FileRatio = float64(size.FP32Bytes) / float64(size.FileBytes)
	rep.Seconds = time.Since(start).Seconds()
	network := f.network
	if network == "" {
		network = m.Graph.Name
	}
	if f.report != "" {
		if err := atomicfile.Write(f.report, func(w io.Writer) error { rep.WriteMarkdown(w, network); return nil }); err != nil {
			return err
		}
	}
	if o.asJSON {
		return printJSON(w, rep)
	}
	fmt.Fprintf(w, "encode: wrote %s, %d bytes (weights %d, graph %d); float32 weights %d bytes: %.1fx\n",
		o.out, size.FileBytes, size.ParamBytes(), size.GraphBytes, size.FP32Bytes, size.Ratio())
	if rep.Before != nil && rep.After != nil {
		fmt.Fprintf(w, "test error %.2f%% (input) -> %.2f%% (decoded archive) on %d samples\n", 100*rep.Before.Top1Error, 100*rep.After.Top1Error, rep.After.Samples)
	}
	rep.WriteTables(w, network)
	return nil
}

func newDecodeCmd(g *globals) *cobra.Command {
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "decode IN.gcz -o OUT.onnx",
		Short: "Turn a .gcz archive back into an ONNX model (checksums verified)",
		Long: `Reads a .gcz archive written by 'gcompress encode', verifies its checksums
(a truncated or modified file is refused with the section that failed),
decodes the shared weights and writes the ONNX model.`,
		Example: `  gcompress decode lenet5.gcz -o lenet5-decoded.onnx`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("-o OUT.onnx is required")
			}
			if err := checkOutputs(args, out); err != nil {
				return err
			}
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			m, size, err := encode.Decode(b)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := onnx.Save(m, out, onnx.SaveOptions{}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return printJSON(w, map[string]any{"input": args[0], "output": out, "size": size,
					"param_bytes": size.ParamBytes(), "compression_ratio": size.Ratio()})
			}
			fmt.Fprintf(w, "decode: %s (%d bytes, %d tensors) -> %s; float32 weights %d bytes, %.1fx in the archive\n",
				args[0], size.FileBytes, len(size.Tensors), out, size.FP32Bytes, size.Ratio())
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write the ONNX model")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON summary")
	return cmd
}
