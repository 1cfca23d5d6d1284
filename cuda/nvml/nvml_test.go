package nvml

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// nvmlTestBusID is the PCI bus id the fake device reports.
const nvmlTestBusID = "00000000:17:00.0"

// nvmlTestLib returns a fake NVML with the given devices, driver 550.54.15
// supporting CUDA 12.4.
func nvmlTestLib(devs ...gonvml.Device) *mock.Interface {
	return &mock.Interface{
		InitFunc:                       func() gonvml.Return { return gonvml.SUCCESS },
		ShutdownFunc:                   func() gonvml.Return { return gonvml.SUCCESS },
		DeviceGetCountFunc:             func() (int, gonvml.Return) { return len(devs), gonvml.SUCCESS },
		DeviceGetHandleByIndexFunc:     func(i int) (gonvml.Device, gonvml.Return) { return devs[i], gonvml.SUCCESS },
		SystemGetDriverVersionFunc:     func() (string, gonvml.Return) { return "550.54.15", gonvml.SUCCESS },
		SystemGetCudaDriverVersionFunc: func() (int, gonvml.Return) { return 12040, gonvml.SUCCESS },
		ExtensionsFunc: func() gonvml.ExtendedInterface {
			return &mock.ExtendedInterface{LookupSymbolFunc: func(string) error { return nil }}
		},
	}
}

// nvmlTestDevice returns a fake H100 drawing 123.456 W at 41 C, 87% busy.
func nvmlTestDevice(name string) *mock.Device {
	var pci gonvml.PciInfo
	for i, c := range nvmlTestBusID {
		pci.BusId[i] = int8(c)
	}
	clock := func(base uint32) func(gonvml.ClockType) (uint32, gonvml.Return) {
		return func(c gonvml.ClockType) (uint32, gonvml.Return) {
			if c == gonvml.CLOCK_SM {
				return base, gonvml.SUCCESS
			}
			return base + 1, gonvml.SUCCESS
		}
	}
	return &mock.Device{
		GetNameFunc:    func() (string, gonvml.Return) { return name, gonvml.SUCCESS },
		GetUUIDFunc:    func() (string, gonvml.Return) { return "GPU-" + name, gonvml.SUCCESS },
		GetPciInfoFunc: func() (gonvml.PciInfo, gonvml.Return) { return pci, gonvml.SUCCESS },
		GetMemoryInfoFunc: func() (gonvml.Memory, gonvml.Return) {
			return gonvml.Memory{Total: 80 << 30, Used: 1 << 30, Free: 79 << 30}, gonvml.SUCCESS
		},
		GetCudaComputeCapabilityFunc: func() (int, int, gonvml.Return) { return 9, 0, gonvml.SUCCESS },
		GetUtilizationRatesFunc: func() (gonvml.Utilization, gonvml.Return) {
			return gonvml.Utilization{Gpu: 87, Memory: 40}, gonvml.SUCCESS
		},
		GetPowerUsageFunc:         func() (uint32, gonvml.Return) { return 123456, gonvml.SUCCESS },
		GetEnforcedPowerLimitFunc: func() (uint32, gonvml.Return) { return 700000, gonvml.SUCCESS },
		GetTemperatureFunc:        func(gonvml.TemperatureSensors) (uint32, gonvml.Return) { return 41, gonvml.SUCCESS },
		GetClockInfoFunc:          clock(1755),
		GetMaxClockInfoFunc:       clock(1980),
		GetCurrentClocksEventReasonsFunc: func() (uint64, gonvml.Return) {
			return gonvml.ClocksEventReasonSwPowerCap, gonvml.SUCCESS
		},
	}
}

// TestDevicesNoDriver runs the real NVML loader: on a machine without the
// NVIDIA kernel driver it must report ErrNoDriver.
func TestDevicesNoDriver(t *testing.T) {
	if _, err := os.Stat("/proc/driver/nvidia/version"); err == nil {
		t.Skip("an NVIDIA driver is loaded on this machine")
	}
	devs, err := Devices()
	if !errors.Is(err, ErrNoDriver) {
		t.Fatalf("Devices() = %v, %v; want an error wrapping ErrNoDriver", devs, err)
	}
	if !strings.Contains(err.Error(), "libnvidia-ml.so.1") {
		t.Errorf("error %q does not name libnvidia-ml.so.1", err)
	}
	if _, err := StartSampler(1); !errors.Is(err, ErrNoDriver) {
		t.Fatalf("StartSampler: %v, want ErrNoDriver", err)
	}
}

func TestDevicesFromFake(t *testing.T) {
	unsupported := nvmlTestDevice("B")
	unsupported.GetPowerUsageFunc = func() (uint32, gonvml.Return) { return 0, gonvml.ERROR_NOT_SUPPORTED }
	unsupported.GetTemperatureFunc = func(gonvml.TemperatureSensors) (uint32, gonvml.Return) {
		return 0, gonvml.ERROR_NO_PERMISSION
	}
	lib := nvmlTestLib(nvmlTestDevice("A"), unsupported)
	devs, err := devicesFrom(lib)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 {
		t.Fatalf("%d devices, want 2", len(devs))
	}
	d := devs[0]
	if d.Index != 0 || d.Name != "A" || d.UUID != "GPU-A" || d.PCIBusID != nvmlTestBusID {
		t.Errorf("identity = %d %q %q %q", d.Index, d.Name, d.UUID, d.PCIBusID)
	}
	if d.MemoryTotal != 80<<30 || d.MemoryUsed != 1<<30 || d.MemoryFree != 79<<30 {
		t.Errorf("memory = %d/%d/%d", d.MemoryTotal, d.MemoryUsed, d.MemoryFree)
	}
	if d.DriverVersion != "550.54.15" || d.CUDADriverVersion != "12.4" || d.ComputeCapability != "9.0" {
		t.Errorf("versions = %q %q %q", d.DriverVersion, d.CUDADriverVersion, d.ComputeCapability)
	}
	if d.PowerDraw == nil || *d.PowerDraw != 123.456 || d.PowerLimit == nil || *d.PowerLimit != 700 {
		t.Errorf("power = %v / %v", d.PowerDraw, d.PowerLimit)
	}
	if *d.GPUUtil != 87 || *d.MemUtil != 40 || *d.Temperature != 41 {
		t.Errorf("util %d/%d temp %d", *d.GPUUtil, *d.MemUtil, *d.Temperature)
	}
	if *d.SMClock != 1755 || *d.MemClock != 1756 || *d.SMClockMax != 1980 || *d.MemClockMax != 1981 {
		t.Errorf("clocks sm %d/%d mem %d/%d", *d.SMClock, *d.SMClockMax, *d.MemClock, *d.MemClockMax)
	}
	if !slices.Equal(d.ClockLimits, []string{"sw_power_cap"}) {
		t.Errorf("clock limits %v", d.ClockLimits)
	}
	if b := devs[1]; b.Index != 1 || b.PowerDraw != nil || b.Temperature != nil || b.PowerLimit == nil {
		t.Errorf("device B: index %d power %v temp %v limit %v; want unsupported metrics nil", b.Index, b.PowerDraw, b.Temperature, b.PowerLimit)
	}
	if n := len(lib.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want 1", n)
	}
}

func TestDevicesErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(*mock.Interface, *mock.Device)
		is     error
		substr string
	}{
		{"no library", func(l *mock.Interface, _ *mock.Device) {
			l.InitFunc = func() gonvml.Return { return gonvml.ERROR_LIBRARY_NOT_FOUND }
		}, ErrNoDriver, "libnvidia-ml.so.1 not found"},
		{"driver not loaded", func(l *mock.Interface, _ *mock.Device) {
			l.InitFunc = func() gonvml.Return { return gonvml.ERROR_DRIVER_NOT_LOADED }
		}, ErrNoDriver, "kernel driver is not loaded"},
		{"init fails otherwise", func(l *mock.Interface, _ *mock.Device) {
			l.InitFunc = func() gonvml.Return { return gonvml.ERROR_UNKNOWN }
		}, ErrNoDriver, "nvml init: "},
		{"no GPU", func(l *mock.Interface, _ *mock.Device) {
			l.DeviceGetCountFunc = func() (int, gonvml.Return) { return 0, gonvml.SUCCESS }
		}, ErrNoGPU, "driver 550.54.15"},
		{"lost GPU", func(_ *mock.Interface, d *mock.Device) {
			d.GetNameFunc = func() (string, gonvml.Return) { return "", gonvml.ERROR_GPU_IS_LOST }
		}, nil, "device 0: nvml name: "}, // the text after it comes from libnvidia-ml when one is installed
		{"clock failure", func(_ *mock.Interface, d *mock.Device) {
			d.GetMaxClockInfoFunc = func(gonvml.ClockType) (uint32, gonvml.Return) { return 0, gonvml.ERROR_UNKNOWN }
		}, nil, "max SM clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := nvmlTestDevice("A")
			lib := nvmlTestLib(dev)
			tc.edit(lib, dev)
			devs, err := devicesFrom(lib)
			if err == nil {
				t.Fatalf("got %d devices, want an error", len(devs))
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if tc.is == nil && (errors.Is(err, ErrNoDriver) || errors.Is(err, ErrNoGPU)) {
				t.Errorf("unexpected failure %q reported as a missing driver/GPU", err)
			}
			if !strings.Contains(err.Error(), tc.substr) {
				t.Errorf("error %q does not contain %q", err, tc.substr)
			}
			if n := len(lib.InitCalls()) - len(lib.ShutdownCalls()); n != 0 && tc.is != ErrNoDriver {
				t.Errorf("%d Init calls left without Shutdown", n)
			}
		})
	}
}
