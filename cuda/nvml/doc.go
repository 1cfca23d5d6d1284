// Package nvml reports NVIDIA GPUs and their utilisation through NVML, the
// NVIDIA Management Library, using github.com/NVIDIA/go-nvml.
//
// It is part of the default (CPU) build: go-nvml loads libnvidia-ml.so.1
// with dlopen when NVML is initialised, not when the program starts, so a
// binary built with this package runs on machines without a driver. There,
// Devices and StartSampler return an error that errors.Is ErrNoDriver; where
// the driver is present but reports no GPU, one that errors.Is ErrNoGPU.
//
// Devices takes one snapshot of every GPU (identity, memory, clocks, power,
// temperature, utilisation). A Sampler polls the GPUs at a fixed interval
// during a long job (training, benchmarks) and, when stopped, summarises
// each metric per device as min/median/max.
package nvml
