//go:build gcompress_cuda

package main

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/gcompress/gcompress/backend/cpu"
	"github.com/gcompress/gcompress/cuda"
	cudabackend "github.com/gcompress/gcompress/cuda/backend"
	"github.com/gcompress/gcompress/gobind"
	gcrt "github.com/gcompress/gcompress/runtime"
)

// buildFlavour names this build in `gcompress version`, and what code its
// wgmma GEMMs carry. It starts wherever libcuda.so.1 loads (a GPU host, or
// a machine with the driver's library and no GPU, where --device cuda:N
// reports that there is none); the CPU build needs no CUDA library at all.
func buildFlavour() string {
	return "cuda build: --device cuda:N runs on NVIDIA GPUs; needs libcuda.so.1; H100/H200 GEMMs: " + gobind.EmbeddedWgmmaCode()
}

func numCPU() int { return runtime.NumCPU() }

// cudaBackend is the backend of the device chosen with --device cuda:N,
// opened (primary context retained, kernels loaded) by openDevice.
var cudaBackend *cudabackend.Backend

// openDevice opens the CUDA device dev (cuda:N, or cuda = cuda:0; the name
// is checked already) and loads the kernels once, so a bad ordinal or a
// missing kernel image is reported before any work starts.
func openDevice(dev string) error {
	n, err := cuda.ParseDevice(dev)
	if err != nil {
		return usagef("--device: %v", err)
	}
	if cudaBackend != nil && cudaBackend.Dev.Ordinal == n {
		return nil
	}
	d, err := cuda.Open(n)
	if errors.Is(err, cuda.ErrNoDevice) {
		return fmt.Errorf("--device %s: no such NVIDIA GPU here (`gcompress devices` lists them; --device cpu runs on the CPU): %w", dev, err)
	}
	if err != nil {
		return fmt.Errorf("--device %s: %w", dev, err)
	}
	b, err := cudabackend.New(d, cpu.Backend())
	if err != nil {
		d.Close()
		return fmt.Errorf("--device %s: %w", dev, err)
	}
	cudaBackend = b
	return nil
}

// backendFor returns the backend the device commands (run, bench model,
// eval) execute on: the CUDA backend (with CPU fallback) for --device
// cuda:N, else the CPU.
func backendFor(g *globals) gcrt.Backend {
	if g.device != "cpu" && cudaBackend != nil {
		return cudaBackend
	}
	return cpu.Backend()
}

// devicePlacement is the CUDA backend's placement and transfer summary
// for the JSON reports: nil on the CPU.
func devicePlacement(g *globals) *cudabackend.Report {
	if g.device == "cpu" || cudaBackend == nil {
		return nil
	}
	r := cudaBackend.Report()
	return &r
}

// writeDeviceReport prints which ops ran on the GPU and the CPU, and the
// host<->device transfers (with run --profile).
func writeDeviceReport(w io.Writer) {
	if cudaBackend != nil {
		r := cudaBackend.Report()
		r.Write(w)
	}
}
