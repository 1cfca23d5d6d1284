package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gcompress/gcompress/cuda/nvml"
)

// listGPUs takes the NVML snapshot; tests replace it with fake devices.
var listGPUs = nvml.Devices

// devicesReport is the JSON document `devices --json` prints. Error is set
// (and Devices empty) where there is no NVIDIA driver or no GPU.
type devicesReport struct {
	Devices []nvml.Device `json:"devices"`
	Error   string        `json:"error,omitempty"`
}

func newDevicesCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List NVIDIA GPUs (NVML): memory, utilisation, power, temperature, clocks",
		Long: `Lists the NVIDIA GPUs that the driver reports, through NVML
(libnvidia-ml.so.1, loaded at run time): name, compute capability, memory used
and total, GPU and memory utilisation, power draw and limit, temperature, SM and
memory clocks (current/max), PCI bus id and UUID.

Where there is no NVIDIA driver or no GPU it prints "no NVIDIA GPU: <reason>"
(with --json: {"devices": [], "error": "<reason>"}) and exits 0; it exits 1 only
when NVML itself fails. Metrics a GPU does not report show as "-" (null in JSON).`,
		Example: `  gcompress devices
  gcompress devices --json | jq '.devices[].memory_total_bytes'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := gatherDevices()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return printDevices(out, rep)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the devices as JSON")
	return cmd
}

// gatherDevices lists the GPUs; a missing driver or GPU is a report with an
// error message, any other NVML failure an error.
func gatherDevices() (*devicesReport, error) {
	devs, err := listGPUs()
	switch {
	case errors.Is(err, nvml.ErrNoDriver), errors.Is(err, nvml.ErrNoGPU):
		return &devicesReport{Devices: []nvml.Device{}, Error: err.Error()}, nil
	case err != nil:
		return nil, fmt.Errorf("devices: %w", err)
	case len(devs) == 0:
		return &devicesReport{Devices: []nvml.Device{}, Error: nvml.ErrNoGPU.Error()}, nil
	}
	return &devicesReport{Devices: devs}, nil
}

// printDevices writes the driver line and one table row per GPU.
func printDevices(w io.Writer, rep *devicesReport) error {
	if rep.Error != "" {
		_, err := fmt.Fprintf(w, "no NVIDIA GPU: %s\n", rep.Error)
		return err
	}
	d0 := rep.Devices[0]
	fmt.Fprintf(w, "driver %s, CUDA %s, %d GPU(s)\n", d0.DriverVersion, d0.CUDADriverVersion, len(rep.Devices))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GPU\tNAME\tCC\tMEM USED/TOTAL MiB\tGPU%\tMEM%\tPOWER/LIMIT W\tTEMP C\tSM MHZ\tMEM MHZ\tPCI BUS ID\tUUID")
	for _, d := range rep.Devices {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.0f/%.0f\t%s\t%s\t%s/%s\t%s\t%s/%s\t%s/%s\t%s\t%s\n",
			d.Index, d.Name, d.ComputeCapability, mib(d.MemoryUsed), mib(d.MemoryTotal),
			orUnknown(d.GPUUtil, "%d"), orUnknown(d.MemUtil, "%d"),
			orUnknown(d.PowerDraw, "%.0f"), orUnknown(d.PowerLimit, "%.0f"),
			orUnknown(d.Temperature, "%d"),
			orUnknown(d.SMClock, "%d"), orUnknown(d.SMClockMax, "%d"),
			orUnknown(d.MemClock, "%d"), orUnknown(d.MemClockMax, "%d"),
			d.PCIBusID, d.UUID)
	}
	return tw.Flush()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// orUnknown formats *v, or "-" for a metric the GPU does not report.
func orUnknown[T any](v *T, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}
