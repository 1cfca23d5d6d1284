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
		if atomicfile.Stopping() {
			select {} // a signal stopped a write: exitOnSignal ends the process
		}
		fmt.Fprintln(os.Stderr, "gcompress:", oneLine(err))
		os.Exit(exitCode(err))
	}
}

// interruptHint, when set, says after a stop what the user can do next
// (how to resume a training job); it returns "" for nothing.
var interruptHint atomic.Pointer[func() string]

// exitOnSignal ends the process on Ctrl-C (SIGINT) or SIGTERM, first
// deleting the temporary files of writes in progress: final outputs are
// written by rename, so an interrupted command leaves either the old file
// or the new one, and no partial file. It then dies by the same signal
// (so that a shell loop around gcompress stops too; the status is 130 or
// 143).
func exitOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	sig := <-ch
	atomicfile.RemovePending()
	fmt.Fprintf(os.Stderr, "\ngcompress: stopped by %v\n", sig)
	if hint := interruptHint.Load(); hint != nil {
		if s := (*hint)(); s != "" {
			fmt.Fprintf(os.Stderr, "gcompress: %s\n", s)
		}
	}
	dieBy(sig)
}
