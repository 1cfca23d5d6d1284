//go:build !gcompress_cuda

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "kernelbench: this is the default (CPU) build; build with -tags gcompress_cuda (make gpu-bundle) and run it on a GPU host")
	os.Exit(2)
}
