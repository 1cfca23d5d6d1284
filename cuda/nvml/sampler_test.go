package nvml

import (
	"errors"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		in   []float64
		want Stat
	}{
		{"odd", []float64{5, 1, 3}, Stat{Min: 1, Median: 3, Max: 5, N: 3}},
		{"even", []float64{4, 1, 10, 2}, Stat{Min: 1, Median: 3, Max: 10, N: 4}},
		{"one", []float64{7}, Stat{Min: 7, Median: 7, Max: 7, N: 1}},
		{"NaN skipped", []float64{nan, 2, nan, 6}, Stat{Min: 2, Median: 4, Max: 6, N: 2}},
		{"all NaN", []float64{nan, nan}, Stat{}},
		{"empty", nil, Stat{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestSamplerInjected feeds five scripted rounds for two devices, then
// failures, and checks the report's statistics.
func TestSamplerInjected(t *testing.T) {
	nan := math.NaN()
	rounds := [][]Sample{
		{{GPUUtil: 10, MemUtil: 1, MemoryUsedMiB: 100, PowerW: 50, TemperatureC: 30, SMClockMHz: 1980, ClockLimits: gonvml.ClocksEventReasonGpuIdle},
			{GPUUtil: 0, PowerW: nan}},
		{{GPUUtil: 90, MemUtil: 2, MemoryUsedMiB: 300, PowerW: 250, TemperatureC: 40, SMClockMHz: 1600,
			ClockLimits: gonvml.ClocksEventReasonSwPowerCap | gonvml.ClocksThrottleReasonHwThermalSlowdown}, {GPUUtil: 0, PowerW: nan}},
		{{GPUUtil: 50, MemUtil: 3, MemoryUsedMiB: 200, PowerW: 150, TemperatureC: 35, SMClockMHz: 1700}, {GPUUtil: 0, PowerW: nan}},
		{{GPUUtil: 70, MemUtil: 4, MemoryUsedMiB: 200, PowerW: 200, TemperatureC: 38, SMClockMHz: 1755}, {GPUUtil: 0, PowerW: nan}},
		{{GPUUtil: 20, MemUtil: 5, MemoryUsedMiB: 250, PowerW: 100, TemperatureC: 36, SMClockMHz: 1800}, {GPUUtil: 0, PowerW: nan}},
	}
	calls := 0
	drained := make(chan struct{})
	read := func() ([]Sample, error) {
		calls++
		if calls <= len(rounds) {
			return rounds[calls-1], nil
		}
		if calls == len(rounds)+1 {
			close(drained)
		}
		return nil, errors.New("device 0: nvml utilisation: ERROR_GPU_IS_LOST")
	}
	closed := 0
	devs := []DeviceReport{{Index: 0, Name: "A"}, {Index: 1, Name: "B"}}
	s := newSampler(time.Millisecond, devs, read, func() { closed++ })
	<-drained
	r := s.Stop()
	if again := s.Stop(); again.Rounds != r.Rounds || closed != 1 {
		t.Errorf("second Stop: rounds %d vs %d, close ran %d times", again.Rounds, r.Rounds, closed)
	}
	if r.Rounds != 5 || r.Errors < 1 || r.LastError == "" || r.IntervalMS != 1 {
		t.Fatalf("rounds %d errors %d last %q interval %v", r.Rounds, r.Errors, r.LastError, r.IntervalMS)
	}
	a := r.Devices[0]
	for name, tc := range map[string]struct{ got, want Stat }{
		"gpu util": {a.GPUUtil, Stat{Min: 10, Median: 50, Max: 90, N: 5}},
		"mem util": {a.MemUtil, Stat{Min: 1, Median: 3, Max: 5, N: 5}},
		"memory":   {a.MemoryUsedMiB, Stat{Min: 100, Median: 200, Max: 300, N: 5}},
		"power":    {a.PowerW, Stat{Min: 50, Median: 150, Max: 250, N: 5}},
		"temp":     {a.TemperatureC, Stat{Min: 30, Median: 36, Max: 40, N: 5}},
		"B power":  {r.Devices[1].PowerW, Stat{}},
		"B util":   {r.Devices[1].GPUUtil, Stat{N: 5}},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %+v, want %+v", name, tc.got, tc.want)
		}
	}
	if a.SMClockMHz != (Stat{Min: 1600, Median: 1755, Max: 1980, N: 5}) {
		t.Errorf("SM clock %+v", a.SMClockMHz)
	}
	if len(a.ClockLimits) != 3 || a.ClockLimits["gpu_idle"] != 1 || a.ClockLimits["sw_power_cap"] != 1 || a.ClockLimits["hw_thermal_slowdown"] != 1 ||
		r.Devices[1].ClockLimits != nil {
		t.Errorf("clock limits %v and %v", a.ClockLimits, r.Devices[1].ClockLimits)
	}
	if a.Name != "A" || r.Devices[1].Index != 1 {
		t.Errorf("device identity lost: %+v", r.Devices)
	}
}

// TestSamplerFromFake runs the NVML-reading path on a fake library.
func TestSamplerFromFake(t *testing.T) {
	dev := nvmlTestDevice("A")
	dev.GetPowerUsageFunc = func() (uint32, gonvml.Return) { return 0, gonvml.ERROR_NOT_SUPPORTED }
	lib := nvmlTestLib(dev)
	s, err := startSamplerFrom(lib, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := s.Stop()
	if r.Rounds != 1 || r.Errors != 0 {
		t.Fatalf("rounds %d errors %d (%s), want the one immediate round", r.Rounds, r.Errors, r.LastError)
	}
	d := r.Devices[0]
	if d.Name != "A" || d.UUID != "GPU-A" || d.PCIBusID != nvmlTestBusID || d.Samples != 1 {
		t.Errorf("identity %q %q %q, %d samples", d.Name, d.UUID, d.PCIBusID, d.Samples)
	}
	if d.GPUUtil.Median != 87 || d.MemoryUsedMiB.Median != 1024 || d.TemperatureC.Median != 41 || d.PowerW.N != 0 ||
		d.SMClockMHz.Median != 1755 || len(d.ClockLimits) != 1 || d.ClockLimits["sw_power_cap"] != 1 {
		t.Errorf("report %+v", d)
	}
	if len(lib.ShutdownCalls()) != 1 {
		t.Errorf("Shutdown called %d times, want 1", len(lib.ShutdownCalls()))
	}
	if _, err := startSamplerFrom(lib, 0); err == nil {
		t.Error("interval 0 accepted")
	}

	// a device without PCI information is still sampled
	dev.GetPciInfoFunc = func() (gonvml.PciInfo, gonvml.Return) { return gonvml.PciInfo{}, gonvml.ERROR_NOT_SUPPORTED }
	s, err = startSamplerFrom(nvmlTestLib(dev), time.Hour)
	if err != nil {
		t.Fatalf("without PCI information: %v", err)
	}
	if r := s.Stop(); r.Rounds != 1 || r.Devices[0].PCIBusID != "" {
		t.Errorf("without PCI information: %d rounds, bus id %q", r.Rounds, r.Devices[0].PCIBusID)
	}
}

// TestSamplerClockLimitsSymbols: the clocks-event reasons come from NVML's
// current call where the driver's library has its symbol, else from the
// older call (the same bits), else are not read; neither call is made
// where its symbol is missing (that would end the process).
func TestSamplerClockLimitsSymbols(t *testing.T) {
	for _, tc := range []struct {
		name    string
		symbols []string
		want    map[string]int
	}{
		{"current", []string{"nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetCurrentClocksThrottleReasons"}, map[string]int{"sw_power_cap": 1}},
		{"older driver", []string{"nvmlDeviceGetCurrentClocksThrottleReasons"}, map[string]int{"hw_slowdown": 1}},
		{"neither", nil, nil},
	} {
		dev := nvmlTestDevice("A")
		dev.GetCurrentClocksThrottleReasonsFunc = func() (uint64, gonvml.Return) {
			return gonvml.ClocksThrottleReasonHwSlowdown, gonvml.SUCCESS
		}
		lib := nvmlTestLib(dev)
		lib.ExtensionsFunc = func() gonvml.ExtendedInterface {
			return &mock.ExtendedInterface{LookupSymbolFunc: func(sym string) error {
				if slices.Contains(tc.symbols, sym) {
					return nil
				}
				return errors.New("undefined symbol " + sym)
			}}
		}
		s, err := startSamplerFrom(lib, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		d := s.Stop().Devices[0]
		if !maps.Equal(d.ClockLimits, tc.want) {
			t.Errorf("%s: clock limits %v, want %v", tc.name, d.ClockLimits, tc.want)
		}
		events, throttle := len(dev.GetCurrentClocksEventReasonsCalls()), len(dev.GetCurrentClocksThrottleReasonsCalls())
		if (events > 0) != slices.Contains(tc.symbols, "nvmlDeviceGetCurrentClocksEventReasons") || throttle > 0 && events > 0 || tc.symbols == nil && throttle > 0 {
			t.Errorf("%s: %d current and %d older calls", tc.name, events, throttle)
		}
	}
}
