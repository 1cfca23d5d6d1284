// Package cuda is gcompress's device layer for NVIDIA GPUs, built on the
// CUDA driver API through gorgonia.org/cu: device enumeration and selection
// ("cuda:N"), one primary context per device, streams and events, a caching
// device-memory pool, host<->device copies with transfer accounting, module
// loading and kernel launch, and the mapping of CUresult codes to Go errors.
//
// Two builds. The parts that need the driver live in files with the build
// tag gcompress_cuda; gorgonia.org/cu calls cuInit in its package
// initialiser and exits the process where there is no GPU, so a binary
// built with that tag only starts on a GPU host. The tag is not plain
// "cuda" because gorgonia.org/gorgonia (the training engine) switches its own
// CUDA engine on with that name and then needs cuDNN and cuBLAS headers and
// libraries (see docs/RESULTS.md, "CUDA backend (issue 4)"). The rest of the
// package (device names, errors, the pool's caching policy, transfer
// statistics, memory views) is plain Go in the default build, where it is
// unit-tested.
//
// Threading: a CUDA context is current per OS thread, so every method that
// calls the driver locks its goroutine to its thread and makes the device's
// primary context current for the duration of the call (Device.Do).
//
// The NVML monitoring of GPUs (utilisation, power, ...) is the separate
// package cuda/nvml, which is part of the default build.
package cuda
