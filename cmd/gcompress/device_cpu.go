//go:build !gcompress_cuda

package main

import (
	"io"
	"runtime"

	"github.com/gcompress/gcompress/backend/cpu"
	cudabackend "github.com/gcompress/gcompress/cuda/backend"
	gcrt "github.com/gcompress/gcompress/runtime"
)

// buildFlavour names this build in `gcompress version`.
func buildFlavour() string { return "cpu build" }

func numCPU() int { return runtime.NumCPU() }

// openDevice is called for a CUDA device name (checked already): CUDA
// devices need the cuda build.
func openDevice(dev string) error {
	return usagef("--device %s: this is the CPU build of gcompress; CUDA devices need the cuda build (make build-cuda, or the Docker image, see README)", dev)
}

// benchGemmDevice is bench gemm on a CUDA device, which openDevice refused
// before it could run here; it answers the same.
func benchGemmDevice(_ io.Writer, g *globals, _ *gemmFlags) error { return openDevice(g.device) }

// backendFor returns the backend the device commands execute on: the CPU
// here.
func backendFor(*globals) gcrt.Backend { return cpu.Backend() }

// devicePlacement is the CUDA placement summary of the JSON reports: none
// in the CPU build.
func devicePlacement(*globals) *cudabackend.Report { return nil }

// writeDeviceReport prints the device placement summary (none on the CPU).
func writeDeviceReport(io.Writer) {}
