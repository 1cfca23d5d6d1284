package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/cuda"
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

// intFlag is an integer flag's name, value and least allowed value.
type intFlag struct {
	name       string
	value, min int
}

// checkIntFlags refuses, by name, the first flag below its minimum.
func checkIntFlags(flags ...intFlag) error {
	for _, f := range flags {
		if f.value < f.min {
			return usagef("--%s %d: want a value >= %d", f.name, f.value, f.min)
		}
	}
	return nil
}

// exitCode maps an error to the process exit status: 2 for usage errors,
// 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || isUnknownCommand(err) {
		return 2
	}
	return 1
}

// isUnknownCommand recognises cobra's error for an argument that names no
// subcommand (a plain error, known only by its text).
func isUnknownCommand(err error) bool { return strings.HasPrefix(err.Error(), "unknown command ") }

// markArgErrors makes the positional-argument check of c and of every
// command below it report usage errors (exit 2) that name the command and
// its usage line.
func markArgErrors(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			if err == nil {
				return nil
			}
			name := strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
			if cmd.HasAvailableSubCommands() {
				var subs []string
				for _, sub := range cmd.Commands() {
					if sub.IsAvailableCommand() {
						subs = append(subs, sub.Name())
					}
				}
				return usagef("%s: %v; its subcommands: %s", name, err, strings.Join(subs, ", "))
			}
			if isUnknownCommand(err) && len(args) > 0 {
				return usagef("%s takes no argument %q (a flag name missing before it?) (usage: %s)", name, args[0], cmd.UseLine())
			}
			return usagef("%s: %v (usage: %s)", name, err, cmd.UseLine())
		}
	}
	for _, sub := range c.Commands() {
		markArgErrors(sub)
	}
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
  gcompress run lenet5.onnx --input image=digit.npy --output-dir out/
  gcompress conformance /usr/share/libonnx-testdata/data/node`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Name() == "version" {
				return nil // works whatever the configuration holds
			}
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
	markArgErrors(root)
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
	configFile = cfg
	if cfg != "" {
		if st, err := os.Stat(cfg); err == nil && st.IsDir() {
			return usagef("config %s is a directory; give a .yaml, .yml, .json or .toml file", cfg)
		}
		v.SetConfigFile(cfg)
		if err := v.ReadInConfig(); err != nil {
			var unsupported viper.UnsupportedConfigError
			if errors.As(err, &unsupported) {
				return usagef("config %s: the file name tells its format: end it in .yaml, .yml, .json or .toml", cfg)
			}
			return usagef("config %s: %v", cfg, err)
		}
		if err := checkConfigKeys(cmd.Root(), v.AllKeys(), cfg); err != nil {
			return err
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
		cmd.Flags().SetAnnotation(f.Name, fromConfig, []string{"yes"})
		if err := cmd.Flags().Set(f.Name, s); err != nil && ferr == nil {
			ferr = usagef("%s=%q: %v", configSource(f.Name, cfg), s, err)
		}
	})
	if ferr != nil {
		return ferr
	}
	source := func(name string) string { return flagSource(cmd.Flags(), name) }
	if g.threads < 0 || g.threads > maxThreads {
		return usagef("%s=%d: want 0 (all CPUs) to %d", source("threads"), g.threads, maxThreads)
	}
	if _, err := cpu.ActiveCPULevel(); err != nil {
		stderrf("gcompress: warning: %v\n", err)
	}
	if g.device == "cpu" {
		return nil
	}
	if _, err := cuda.ParseDevice(g.device); err != nil {
		return usagef("%s=%s: want cpu or cuda:N (N a device ordinal: 0, 1, ...)", source("device"), g.device)
	}
	switch cmd.Annotations[usesDevice] {
	case "yes":
		return openDevice(g.device)
	case "cpu":
		stderrf("gcompress: note: %s runs on the CPU; --device %s applies to %s\n", cmd.CommandPath(), g.device, deviceCommands)
	}
	return nil
}

// usesDevice annotates the commands that run models: "yes" for those that
// run them on the --device (deviceCommands), "cpu" for those that run on
// the CPU whatever it says (a note tells the user). Commands without it
// (inspect, version, ...) compute nothing the device could do.
const (
	usesDevice     = "uses-device"
	deviceCommands = "run, bench gemm, bench conv, bench model, eval and conformance"
)

// configFile is the configuration file loadConfig read ("" for none).
var configFile string

// flagSource names where flag name's value came from, for messages about
// it: "--name" from the command line (or its default), else configSource.
func flagSource(fl *pflag.FlagSet, name string) string {
	if f := fl.Lookup(name); f != nil && f.Annotations[fromConfig] != nil && !onCommandLine(fl, name) {
		return configSource(name, configFile)
	}
	return "--" + name
}

// configSource names where loadConfig took flag name's value from: its
// GCOMPRESS_* variable when set, else the config file.
func configSource(name, file string) string {
	if env := "GCOMPRESS_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")); os.Getenv(env) != "" {
		return env
	}
	return fmt.Sprintf("%s: %s", file, name)
}

// fromConfig is the annotation of the flags whose value loadConfig took
// from gcompress.yaml or a GCOMPRESS_* variable.
const fromConfig = "gcompress-from-config"

// onCommandLine reports whether flag name was given on the command line,
// not taken from the configuration. Checks of flags that contradict each
// other use it: a default from the configuration yields to a flag.
func onCommandLine(fl *pflag.FlagSet, name string) bool {
	f := fl.Lookup(name)
	return f != nil && f.Changed && f.Annotations[fromConfig] == nil
}

// yieldToFlags resets *value, the value of flag name, to its zero value
// (unset) when it came from the configuration and one of the flags others
// that contradict it was given on the command line: a configured default
// yields to a flag (with a note on stderr).
func yieldToFlags[T comparable](fl *pflag.FlagSet, name string, value *T, others ...string) {
	var unset T
	if *value == unset || onCommandLine(fl, name) {
		return
	}
	for _, o := range others {
		if onCommandLine(fl, o) {
			stderrf("gcompress: note: %s=%v gives way to --%s\n", flagSource(fl, name), *value, o)
			*value = unset
			return
		}
	}
}

// checkConfigKeys refuses a config file key that is no flag of any
// command (a misspelling would otherwise be ignored).
func checkConfigKeys(root *cobra.Command, keys []string, file string) error {
	flags := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, k := range keys {
		if !flags[k] {
			return usagef("config %s: unknown key %q (keys are flag names without the dashes, e.g. threads, device)", file, k)
		}
	}
	return nil
}

// maxThreads bounds --threads (each thread is a pool worker).
const maxThreads = 1024

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
			fmt.Fprintf(cmd.OutOrStdout(), "gcompress %s (%s)\n", version, buildFlavour())
			return nil
		},
	}
}

func stderrf(format string, args ...any) { fmt.Fprintf(os.Stderr, format, args...) }
