package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/eval"
	"github.com/gcompress/gcompress/runtime"
)

func newEvalCmd(g *globals) *cobra.Command {
	var dir, split string
	var batch int
	var asJSON bool
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "yes"},
		Use:         "eval MODEL --data DIR",
		Short:       "Measure a classifier's top-1 accuracy on a labelled image dataset",
		Long: `Runs MODEL with gcompress's runtime over every image of a dataset split
(MNIST-style IDX files in DIR: <split>-images-idx3-ubyte[.gz] and
<split>-labels-idx1-ubyte[.gz]; pixels scaled to [0,1] and reshaped to what the
model's input declares) and prints the top-1 accuracy of output 0.

With --json it prints {"accuracy": f, "samples": n}.`,
		Example: `  gcompress eval lenet5.onnx --data data/mnist
  gcompress eval model.onnx --data data/mnist --split train --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("--data DIR is required")
			}
			if batch <= 0 {
				return usagef("--batch must be positive")
			}
			m, err := loadModel(args[0])
			if err != nil {
				return err
			}
			ds, err := data.Load(dir, split)
			if err != nil {
				return fmt.Errorf("--data %s: %w", dir, err)
			}
			sess, err := runtime.NewSession(m, backendFor(g), runtime.Options{Threads: g.threadCount()})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			res, err := eval.Accuracy(sess, ds, batch)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return printEval(cmd.OutOrStdout(), res, split, asJSON)
		},
	}
	cmd.Flags().StringVar(&dir, "data", "", "dataset directory: IDX files, or <split>.npy with <split>-labels.npy")
	cmd.Flags().StringVar(&split, "split", "test", "split to evaluate")
	cmd.Flags().IntVar(&batch, "batch", 250, "samples per run")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"accuracy": f, "samples": n}`)
	return cmd
}

func printEval(w io.Writer, r eval.Result, split string, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(struct {
			Accuracy float64 `json:"accuracy"`
			Samples  int     `json:"samples"`
		}{r.Accuracy, r.Samples})
	}
	_, err := fmt.Fprintf(w, "accuracy %.2f%% (%d of %d %s samples; error %.2f%%)\n",
		100*r.Accuracy, r.Correct, r.Samples, split, 100*(1-r.Accuracy))
	return err
}
