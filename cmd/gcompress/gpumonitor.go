package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gcompress/gcompress/cuda/nvml"
)

// gpuMonitor wraps the NVML sampler: on a GPU host the summary gets its
// numbers, elsewhere the reason there are none.
type gpuMonitor struct {
	s    *nvml.Sampler
	note string
}

// gpuSummary is the "gpu" object of the JSON summaries.
type gpuSummary struct {
	Note   string       `json:"note,omitempty"`
	Report *nvml.Report `json:"report,omitempty"`
}

func startGPUMonitor() *gpuMonitor {
	s, err := nvml.StartSampler(200 * time.Millisecond)
	if err != nil {
		note := "no GPU: " + oneLine(err)
		if !errors.Is(err, nvml.ErrNoDriver) && !errors.Is(err, nvml.ErrNoGPU) {
			note = "GPU sampling unavailable: " + oneLine(err)
		}
		return &gpuMonitor{note: note}
	}
	return &gpuMonitor{s: s}
}

func (g *gpuMonitor) stop() gpuSummary {
	if g.s == nil {
		return gpuSummary{Note: g.note}
	}
	r := g.s.Stop()
	return gpuSummary{Report: &r}
}

// write prints the summary: the note where there are no samples, else
// writeDevices.
func (s gpuSummary) write(w io.Writer) {
	if s.Note != "" {
		fmt.Fprintf(w, "GPU: %s\n", s.Note)
	}
	s.writeDevices(w)
}

// writeDevices prints one line per sampled GPU (nvml.Report.Write): nothing
// where none was sampled.
func (s gpuSummary) writeDevices(w io.Writer) {
	if s.Report != nil {
		s.Report.Write(w)
	}
}
