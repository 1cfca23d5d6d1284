// Command gcompress compresses neural networks (prune, quantize, distill) and
// runs them fast, reading and writing ONNX. Run `gcompress --help`.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gcompress:", oneLine(err))
		os.Exit(exitCode(err))
	}
}
