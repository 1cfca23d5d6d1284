// Command gcompress compresses neural networks (prune, quantize, distill) and
// runs them fast, reading and writing ONNX. Run `gcompress --help`.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/gcompress/gcompress/internal/atomicfile"
)

func main() {
	go exitOnSignal()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gcompress:", oneLine(err))
		os.Exit(exitCode(err))
	}
}

// interruptHint is what exitOnSignal tells the user after the stop (nil:
// nothing), e.g. how to resume a training job.
var interruptHint atomic.Pointer[string]

// exitOnSignal ends the process on Ctrl-C (SIGINT) or SIGTERM with the
// shell's status for it (128 + signal), first deleting the temporary
// files of writes in progress: final outputs are written by rename, so an
// interrupted command leaves either the old file or the new one, and no
// partial file. A training job's checkpoint stays, for the resume.
func exitOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	sig := <-ch
	atomicfile.RemovePending()
	fmt.Fprintf(os.Stderr, "\ngcompress: stopped by %v\n", sig)
	if hint := interruptHint.Load(); hint != nil {
		fmt.Fprintf(os.Stderr, "gcompress: %s\n", *hint)
	}
	code := 130
	if sig == syscall.SIGTERM {
		code = 143
	}
	os.Exit(code)
}
