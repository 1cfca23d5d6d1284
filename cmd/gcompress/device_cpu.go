//go:build !gcompress_cuda

package main

import (
	"io"
	"runtime"
	"strings"

	"github.com/gcompress/gcompress/backend/cpu"
	gcrt "github.com/gcompress/gcompress/runtime"
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

// backendFor returns the backend `run` executes on: the CPU here.
func backendFor(*globals) gcrt.Backend { return cpu.Backend() }

// writeDeviceReport prints the device placement summary (none on the CPU).
func writeDeviceReport(io.Writer) {}
