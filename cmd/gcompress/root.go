package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit status: 2 for usage errors,
// 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// oneLine flattens an error message to one line for stderr.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}

// globals are the options every command accepts.
type globals struct {
	device  string
	threads int
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	v := viper.New()
	root := &cobra.Command{
		Use:   "gcompress",
		Short: "Make neural networks smaller and faster: prune, quantize, distill; run them fast",
		Long: `gcompress reads ONNX models, compresses them (pruning, INT8 quantization,
distillation, ...) and runs them on the CPU (and on NVIDIA GPUs in the cuda build).

Configuration: flags override GCOMPRESS_* environment variables, which override
a gcompress.yaml in the working directory (or the file named by --config).
For example GCOMPRESS_THREADS=4 or "threads: 4" in gcompress.yaml.`,
		Example: `  gcompress demo
  gcompress inspect model.onnx
  gcompress run model.onnx --input x=input.npy --output-dir out/
  gcompress conformance /usr/share/libonnx-testdata/data/node`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return loadConfig(cmd, v, g)
		},
	}
	root.Version = version
	pf := root.PersistentFlags()
	pf.String("config", "", "config file (default: ./gcompress.yaml if present)")
	pf.StringVar(&g.device, "device", "cpu", "where to run: cpu or cuda:N (cuda needs the cuda build)")
	pf.IntVar(&g.threads, "threads", 0, "threads for kernels (default: number of CPUs)")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newConformanceCmd(g),
		newInspectCmd(g),
		newRunCmd(g),
		newDemoCmd(g),
		newDevicesCmd(g),
		newTrainCmd(g),
		newEvalCmd(g),
		newDistillCmd(g),
		newQuantizeCmd(g),
		newBenchCmd(g),
		newPruneCmd(g),
		newEncodeCmd(g),
		newDecodeCmd(g),
	)
	return root
}

// loadConfig applies gcompress.yaml and GCOMPRESS_* values to every flag of
// cmd the user did not set on the command line, then validates globals.
func loadConfig(cmd *cobra.Command, v *viper.Viper, g *globals) error {
	v.SetEnvPrefix("GCOMPRESS")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	cfg, _ := cmd.Flags().GetString("config")
	if cfg == "" {
		for _, name := range []string{"gcompress.yaml", "gcompress.yml"} {
			if _, err := os.Stat(name); err == nil {
				cfg = name
				break
			}
		}
	}
	if cfg != "" {
		v.SetConfigFile(cfg)
		if err := v.ReadInConfig(); err != nil {
			return usagef("config %s: %v", cfg, err)
		}
	}
	var ferr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || !v.IsSet(f.Name) {
			return
		}
		val := v.Get(f.Name)
		var s string
		switch x := val.(type) {
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(x)
		}
		if err := cmd.Flags().Set(f.Name, s); err != nil && ferr == nil {
			ferr = usagef("config %s=%q: %v", f.Name, s, err)
		}
	})
	if ferr != nil {
		return ferr
	}
	if g.threads < 0 {
		return usagef("--threads must be >= 0")
	}
	return checkDevice(g.device)
}

// threadCount resolves the thread option (0 = all CPUs).
func (g *globals) threadCount() int {
	if g.threads > 0 {
		return g.threads
	}
	return max(1, numCPU())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gcompress version and build",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "gcompress %s (%s)\n", version, buildFlavour)
			return nil
		},
	}
}

func stderrf(format string, args ...any) { fmt.Fprintf(os.Stderr, format, args...) }
