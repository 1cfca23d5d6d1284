package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/cuda/nvml"
)

// devicesWithFake runs f with listGPUs returning devs, err.
func devicesWithFake(t *testing.T, devs []nvml.Device, err error, f func()) {
	t.Helper()
	saved := listGPUs
	listGPUs = func() ([]nvml.Device, error) { return devs, err }
	defer func() { listGPUs = saved }()
	f()
}

// TestDevicesNoDriverHere runs the real NVML on this machine: without an
// NVIDIA driver the command succeeds, says why, and --json gives an empty
// list.
func TestDevicesNoDriverHere(t *testing.T) {
	if _, err := os.Stat("/proc/driver/nvidia/version"); err == nil {
		t.Skip("an NVIDIA driver is loaded on this machine")
	}
	out, err := runCLI(t, "devices")
	if err != nil || !strings.HasPrefix(out, "no NVIDIA GPU: no NVIDIA driver") {
		t.Errorf("devices: %v, output %q", err, out)
	}
	out, err = runCLI(t, "devices", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if devs, ok := rep["devices"].([]any); !ok || len(devs) != 0 {
		t.Errorf("devices = %#v, want []", rep["devices"])
	}
	if msg, _ := rep["error"].(string); !strings.Contains(msg, "libnvidia-ml.so.1") {
		t.Errorf("error = %q", msg)
	}
}

func TestDevicesNoGPU(t *testing.T) {
	devicesWithFake(t, nil, fmt.Errorf("%w (driver 550.54.15)", nvml.ErrNoGPU), func() {
		out, err := runCLI(t, "devices")
		if err != nil || !strings.Contains(out, "no NVIDIA GPU: NVIDIA driver present but it reports no GPU") {
			t.Errorf("devices: %v, output %q", err, out)
		}
	})
}

func TestDevicesUnexpectedFailure(t *testing.T) {
	devicesWithFake(t, nil, errors.New("nvml name: ERROR_GPU_IS_LOST"), func() {
		if _, err := runCLI(t, "devices", "--json"); err == nil || !strings.Contains(err.Error(), "ERROR_GPU_IS_LOST") {
			t.Errorf("err = %v, want the NVML failure", err)
		}
	})
}

func TestDevicesTableAndJSON(t *testing.T) {
	util, temp, sm, smMax := uint32(87), uint32(41), uint32(1755), uint32(1980)
	power, limit := 123.4, 700.0
	devs := []nvml.Device{
		{Index: 0, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-aaaa", PCIBusID: "00000000:17:00.0",
			MemoryTotal: 80 << 30, MemoryUsed: 1 << 30, MemoryFree: 79 << 30,
			DriverVersion: "550.54.15", CUDADriverVersion: "12.4", ComputeCapability: "9.0",
			GPUUtil: &util, MemUtil: &util, PowerDraw: &power, PowerLimit: &limit, Temperature: &temp,
			SMClock: &sm, SMClockMax: &smMax, MemClock: &sm, MemClockMax: &smMax},
		{Index: 1, Name: "Tesla T4", UUID: "GPU-bbbb", PCIBusID: "00000000:65:00.0",
			MemoryTotal: 16 << 30, DriverVersion: "550.54.15", CUDADriverVersion: "12.4", ComputeCapability: "7.5"},
	}
	devicesWithFake(t, devs, nil, func() {
		out, err := runCLI(t, "devices")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || lines[0] != "driver 550.54.15, CUDA 12.4, 2 GPU(s)" {
			t.Fatalf("output:\n%s", out)
		}
		for _, want := range []string{"NVIDIA H100 80GB HBM3", "9.0", "1024/81920", "87", "123/700", "41", "1755/1980", "00000000:17:00.0", "GPU-aaaa"} {
			if !strings.Contains(lines[2], want) {
				t.Errorf("row %q lacks %q", lines[2], want)
			}
		}
		if !strings.Contains(lines[3], "-/-") || strings.Index(lines[1], "UUID") != strings.Index(lines[3], "GPU-bbbb") {
			t.Errorf("unreported metrics or alignment wrong:\n%s\n%s", lines[1], lines[3])
		}

		out, err = runCLI(t, "devices", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Devices []map[string]any `json:"devices"`
			Error   *string          `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Devices) != 2 || rep.Error != nil {
			t.Fatalf("report %s", out)
		}
		d := rep.Devices[0]
		if d["memory_total_bytes"] != float64(80<<30) || d["power_draw_w"] != 123.4 || d["compute_capability"] != "9.0" || d["sm_clock_max_mhz"] != 1980.0 {
			t.Errorf("device 0 JSON %v", d)
		}
		if v, ok := rep.Devices[1]["power_draw_w"]; !ok || v != nil {
			t.Errorf("device 1 power_draw_w = %v (present %v), want null", v, ok)
		}
	})
}

func TestDevicesRejectsArgs(t *testing.T) {
	_, err := runCLI(t, "devices", "extra")
	if !errors.As(err, new(usageError)) {
		t.Errorf("err = %v, want a usage error", err)
	}
}
