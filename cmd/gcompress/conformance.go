package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gcompress/gcompress/conformance"
)

func newConformanceCmd(g *globals) *cobra.Command {
	var (
		asJSON     bool
		filter     string
		rtol, atol float64
		verbose    bool
	)
	cmd := &cobra.Command{
		Annotations: map[string]string{usesDevice: "yes"},
		Use:         "conformance DIR...",
		Short:       "Run ONNX backend-test cases (model.onnx + test_data_set_*) and compare outputs",
		Long: `Runs every ONNX backend-test case found under each DIR (a directory holding
model.onnx and test_data_set_*/input_*.pb, output_*.pb) and compares our outputs
with the expected ones using ONNX's tolerances (rtol 1e-3, atol 1e-7).

Prints "N passed, N failed, N skipped" and a reason for every failed or skipped
case (unsupported op names, the first mismatching element). Exits 1 if any case
failed.`,
		Example: `  gcompress conformance /usr/share/libonnx-testdata/data/node
  gcompress conformance --filter 'conv|pool' /usr/share/libonnx-testdata/data/pytorch-converted
  gcompress conformance --json /usr/share/libonnx-testdata/data/simple > report.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(rtol >= 0 && atol >= 0) || math.IsInf(rtol, 0) || math.IsInf(atol, 0) {
				return usagef("--rtol and --atol must be finite and >= 0")
			}
			opts := conformance.Options{Backend: backendFor(g), Threads: g.threadCount(), Rtol: rtol, Atol: atol}
			if filter != "" {
				re, err := regexp.Compile("(?i)" + filter)
				if err != nil {
					return usagef("--filter: %v", err)
				}
				opts.Filter = re
			}
			if !asJSON && term.IsTerminal(int(os.Stderr.Fd())) {
				opts.Progress = func(done, total int, r conformance.Result) {
					fmt.Fprintf(os.Stderr, "\r%d/%d %-60.60s", done, total, r.Name)
					if done == total {
						fmt.Fprint(os.Stderr, "\r\033[K")
					}
				}
			}
			s, err := conformance.Run(args, opts)
			if err != nil {
				return err
			}
			if len(s.Results) == 0 {
				if filter != "" {
					return fmt.Errorf("no test case under %s matches --filter %q", strings.Join(args, ", "), filter)
				}
				return fmt.Errorf("no test cases (a directory with model.onnx and test_data_set_*) under %s", strings.Join(args, ", "))
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(s); err != nil {
					return err
				}
			} else {
				printConformance(out, s, verbose)
				writeDeviceReport(out) // with --device cuda:N, which ops ran on the GPU
			}
			if s.Failed > 0 {
				return fmt.Errorf("%d conformance case(s) failed", s.Failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the full report as JSON")
	f.StringVar(&filter, "filter", "", "only run cases whose name matches this regular expression (case-insensitive)")
	f.Float64Var(&rtol, "rtol", conformance.DefaultRtol, "relative tolerance")
	f.Float64Var(&atol, "atol", conformance.DefaultAtol, "absolute tolerance")
	f.BoolVarP(&verbose, "verbose", "v", false, "also list passed cases")
	return cmd
}

func printConformance(w io.Writer, s *conformance.Summary, verbose bool) {
	for _, r := range s.Results {
		switch {
		case r.Status == conformance.Failed:
			fmt.Fprintf(w, "FAIL %s: %s\n", r.Name, r.Reason)
		case r.Status == conformance.Skipped:
			fmt.Fprintf(w, "SKIP %s: %s\n", r.Name, r.Reason)
		case verbose:
			fmt.Fprintf(w, "ok   %s (%.1f ms)\n", r.Name, r.Millis)
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", s.Passed, s.Failed, s.Skipped)
}
