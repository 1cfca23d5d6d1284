//go:build !cuda

package main

import (
	"runtime"
	"strings"
)

// buildFlavour names this build in `gcompress version`.
const buildFlavour = "cpu build"

func numCPU() int { return runtime.NumCPU() }

// checkDevice accepts "cpu"; cuda devices need the cuda build.
func checkDevice(dev string) error {
	switch {
	case dev == "cpu":
		return nil
	case strings.HasPrefix(dev, "cuda"):
		return usagef("--device %s: this is the CPU build of gcompress; CUDA devices need the cuda build (make build-cuda, or the Docker image, see README)", dev)
	}
	return usagef("--device %q: want cpu or cuda:N", dev)
}
