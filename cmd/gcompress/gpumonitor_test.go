package main

import (
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda/nvml"
)

// TestGPUSummaryText: the note where nothing was sampled; one line per GPU
// with the median and maximum utilisation and power, the peak memory and
// the SM clock ("n/a" for a metric the GPU did not report), and the clock
// limits seen.
func TestGPUSummaryText(t *testing.T) {
	var b strings.Builder
	gpuSummary{Note: "no GPU: no NVIDIA driver"}.write(&b)
	if b.String() != "GPU: no GPU: no NVIDIA driver\n" {
		t.Errorf("note: %q", b.String())
	}
	b.Reset()
	gpuSummary{Note: "no GPU"}.writeDevices(&b)
	if b.Len() != 0 {
		t.Errorf("writeDevices printed a note: %q", b.String())
	}
	s := gpuSummary{Report: &nvml.Report{DurationS: 2.5, Rounds: 12, Devices: []nvml.DeviceReport{{Index: 1, Name: "NVIDIA H100",
		GPUUtil: nvml.Stat{Median: 97, Max: 100, N: 12}, MemoryUsedMiB: nvml.Stat{Max: 4321, N: 12}, PowerW: nvml.Stat{},
		SMClockMHz: nvml.Stat{Median: 1755, Min: 1410, N: 12}, ClockLimits: map[string]int{"sw_power_cap": 7, "gpu_idle": 2}}}}}
	b.Reset()
	s.write(&b)
	want := "GPU 1 (NVIDIA H100) over 2.5 s: utilisation median 97% (max 100), memory used max 4321 MiB, power n/a, " +
		"SM clock median 1755 MHz (min 1410); clocks held by gpu_idle in 2 of 12 samples, sw_power_cap in 7 of 12 samples\n"
	if b.String() != want {
		t.Errorf("devices:\n got %q\nwant %q", b.String(), want)
	}
}
