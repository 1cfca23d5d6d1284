package nvml

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
)

// Sample is one reading of one GPU. A metric the device does not report is
// NaN.
type Sample struct {
	GPUUtil       float64 // percent
	MemUtil       float64 // percent
	MemoryUsedMiB float64 // MiB
	PowerW        float64 // watts
	TemperatureC  float64 // degrees Celsius
	SMClockMHz    float64 // the SM clock now
	// ClockLimits is NVML's clocks-event reasons bitmask: what holds the
	// clocks below their maximum now (0 where unsupported).
	ClockLimits uint64
}

// Stat summarises one metric over a run: minimum, median (the mean of the
// two middle values for an even count) and maximum of the N samples that
// had a value. With N == 0 the metric was never reported and the other
// fields are 0.
type Stat struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// DeviceReport summarises the samples of one GPU.
type DeviceReport struct {
	Index    int    `json:"index"`
	Name     string `json:"name"`
	UUID     string `json:"uuid"`
	PCIBusID string `json:"pci_bus_id,omitempty"`
	// Samples is the number of rounds summarised (each metric's N counts
	// those in which it had a value).
	Samples       int  `json:"samples"`
	GPUUtil       Stat `json:"gpu_util_pct"`
	MemUtil       Stat `json:"mem_util_pct"`
	MemoryUsedMiB Stat `json:"memory_used_mib"`
	PowerW        Stat `json:"power_w"`
	TemperatureC  Stat `json:"temperature_c"`
	SMClockMHz    Stat `json:"sm_clock_mhz"`
	// ClockLimits counts, per reason NVML gives for holding the clocks
	// below their maximum (sw_power_cap, hw_thermal_slowdown, ...), the
	// samples in which it was active.
	ClockLimits map[string]int `json:"clock_limit_samples,omitempty"`
}

// Report is what a Sampler measured between StartSampler and Stop.
type Report struct {
	IntervalMS float64 `json:"interval_ms"`
	DurationS  float64 `json:"duration_s"`
	// Rounds is the number of successful sampling rounds (one sample of
	// every GPU each); Errors counts failed rounds, LastError the last
	// failure.
	Rounds    int            `json:"rounds"`
	Errors    int            `json:"errors"`
	LastError string         `json:"last_error,omitempty"`
	Devices   []DeviceReport `json:"devices"`
}

// Sampler polls every GPU at a fixed interval in a goroutine until Stop.
type Sampler struct {
	interval time.Duration
	read     func() ([]Sample, error)
	close    func()
	start    time.Time
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once

	// Owned by the sampling goroutine until done is closed.
	report  Report
	samples [][]Sample // samples[device][round]
}

// StartSampler initialises NVML and starts sampling every GPU each
// interval (a first round is taken at once). NVML stays initialised until
// Stop. It fails with an error wrapping ErrNoDriver or ErrNoGPU where there
// is nothing to sample.
func StartSampler(interval time.Duration) (*Sampler, error) {
	return startSamplerFrom(gonvml.New(), interval)
}

// startSamplerFrom is StartSampler on a given NVML library (a mock in tests).
func startSamplerFrom(lib gonvml.Interface, interval time.Duration) (*Sampler, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("nvml sampler: interval %v must be positive", interval)
	}
	count, err := open(lib)
	if err != nil {
		return nil, err
	}
	handles := make([]gonvml.Device, count)
	devs := make([]DeviceReport, count)
	for i := range handles {
		if err := identify(lib, i, &handles[i], &devs[i]); err != nil {
			lib.Shutdown()
			return nil, err
		}
	}
	limits := clockLimitsReader(lib)
	read := func() ([]Sample, error) { return readAll(handles, limits) }
	return newSampler(interval, devs, read, func() { lib.Shutdown() }), nil
}

// identify gets the handle, name, UUID and PCI bus id of device i.
func identify(lib gonvml.Interface, i int, h *gonvml.Device, d *DeviceReport) error {
	var r gonvml.Return
	d.Index = i
	if *h, r = lib.DeviceGetHandleByIndex(i); r != gonvml.SUCCESS {
		return check(fmt.Sprintf("device %d handle", i), r)
	}
	if d.Name, r = (*h).GetName(); r != gonvml.SUCCESS {
		return check(fmt.Sprintf("device %d name", i), r)
	}
	if d.UUID, r = (*h).GetUUID(); r != gonvml.SUCCESS {
		return check(fmt.Sprintf("device %d UUID", i), r)
	}
	// optional: a device that will not say leaves the id empty
	if pci, r := (*h).GetPciInfo(); r == gonvml.SUCCESS {
		d.PCIBusID = cString(pci.BusId[:])
	}
	return nil
}

// newSampler starts a goroutine calling read every interval; devs names the
// devices read returns samples for, in order; closeFn runs at Stop.
func newSampler(interval time.Duration, devs []DeviceReport, read func() ([]Sample, error), closeFn func()) *Sampler {
	s := &Sampler{
		interval: interval, read: read, close: closeFn, start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{}),
		report:  Report{IntervalMS: float64(interval) / float64(time.Millisecond), Devices: devs},
		samples: make([][]Sample, len(devs)),
	}
	go s.loop()
	return s
}

// loop samples at once, then every interval until stop is closed.
func (s *Sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.sampleOnce()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

// sampleOnce takes one round and records it or its error.
func (s *Sampler) sampleOnce() {
	round, err := s.read()
	if err == nil && len(round) != len(s.samples) {
		err = fmt.Errorf("nvml sampler: %d samples for %d devices", len(round), len(s.samples))
	}
	if err != nil {
		s.report.Errors++
		s.report.LastError = err.Error()
		return
	}
	s.report.Rounds++
	for i, smp := range round {
		s.samples[i] = append(s.samples[i], smp)
	}
}

// Stop ends sampling, shuts NVML down and returns the report. Calling it
// again returns the same report.
func (s *Sampler) Stop() Report {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.close()
		s.report.DurationS = time.Since(s.start).Seconds()
		for i := range s.report.Devices {
			summarizeDevice(&s.report.Devices[i], s.samples[i])
		}
	})
	return s.report
}

// Write prints one line per GPU: utilisation, peak memory, power and SM
// clock (median and extreme over the run), and the reasons NVML gave for
// holding the clocks down, with the share of samples.
func (r *Report) Write(w io.Writer) {
	for _, d := range r.Devices {
		na := func(s Stat, text string) string {
			if s.N == 0 {
				return "n/a"
			}
			return text
		}
		fmt.Fprintf(w, "GPU %d (%s) over %.1f s: utilisation %s, memory used %s, power %s, SM clock %s", d.Index, d.Name, r.DurationS,
			na(d.GPUUtil, fmt.Sprintf("median %.0f%% (max %.0f)", d.GPUUtil.Median, d.GPUUtil.Max)),
			na(d.MemoryUsedMiB, fmt.Sprintf("max %.0f MiB", d.MemoryUsedMiB.Max)),
			na(d.PowerW, fmt.Sprintf("median %.0f W (max %.0f)", d.PowerW.Median, d.PowerW.Max)),
			na(d.SMClockMHz, fmt.Sprintf("median %.0f MHz (min %.0f)", d.SMClockMHz.Median, d.SMClockMHz.Min)))
		names := slices.Sorted(maps.Keys(d.ClockLimits))
		for i, name := range names {
			sep := ", "
			if i == 0 {
				sep = "; clocks held by "
			}
			fmt.Fprintf(w, "%s%s in %d of %d samples", sep, name, d.ClockLimits[name], r.Rounds)
		}
		fmt.Fprintln(w)
	}
}

// summarizeDevice fills d's statistics from its samples.
func summarizeDevice(d *DeviceReport, samples []Sample) {
	d.Samples = len(samples)
	metric := func(get func(Sample) float64) Stat {
		vals := make([]float64, len(samples))
		for i, smp := range samples {
			vals[i] = get(smp)
		}
		return Summarize(vals)
	}
	d.GPUUtil = metric(func(s Sample) float64 { return s.GPUUtil })
	d.MemUtil = metric(func(s Sample) float64 { return s.MemUtil })
	d.MemoryUsedMiB = metric(func(s Sample) float64 { return s.MemoryUsedMiB })
	d.PowerW = metric(func(s Sample) float64 { return s.PowerW })
	d.TemperatureC = metric(func(s Sample) float64 { return s.TemperatureC })
	d.SMClockMHz = metric(func(s Sample) float64 { return s.SMClockMHz })
	for _, smp := range samples {
		for _, name := range ClockLimitNames(smp.ClockLimits) {
			if d.ClockLimits == nil {
				d.ClockLimits = map[string]int{}
			}
			d.ClockLimits[name]++
		}
	}
}

// ClockLimitNames names the reasons set in NVML's clocks-event bitmask.
func ClockLimitNames(bits uint64) []string {
	var names []string
	for _, l := range clockLimitNames {
		if bits&l.bit != 0 {
			names = append(names, l.name)
		}
	}
	return names
}

// clockLimitNames name the bits of NVML's clocks-event reasons.
var clockLimitNames = []struct {
	bit  uint64
	name string
}{
	{gonvml.ClocksEventReasonGpuIdle, "gpu_idle"},
	{gonvml.ClocksEventReasonApplicationsClocksSetting, "applications_clocks_setting"},
	{gonvml.ClocksEventReasonSwPowerCap, "sw_power_cap"},
	{gonvml.ClocksThrottleReasonHwSlowdown, "hw_slowdown"},
	{gonvml.ClocksEventReasonSyncBoost, "sync_boost"},
	{gonvml.ClocksEventReasonSwThermalSlowdown, "sw_thermal_slowdown"},
	{gonvml.ClocksThrottleReasonHwThermalSlowdown, "hw_thermal_slowdown"},
	{gonvml.ClocksThrottleReasonHwPowerBrakeSlowdown, "hw_power_brake_slowdown"},
	{gonvml.ClocksEventReasonDisplayClockSetting, "display_clock_setting"},
	{gonvml.ClocksEventReasonBoardLimit, "board_limit"},
	{gonvml.ClocksEventReasonReliability, "reliability"},
}

// Summarize returns the min, median and max of the values that are not NaN.
func Summarize(vals []float64) Stat {
	v := make([]float64, 0, len(vals))
	for _, x := range vals {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{}
	}
	slices.Sort(v)
	n := len(v)
	med := v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return Stat{Min: v[0], Median: med, Max: v[n-1], N: n}
}

// clockLimitsReader returns the call that reads a device's clocks-event
// reasons: NVML's current name for it where the driver's library has that
// symbol, else its older name (the same bits), else none. A call to a
// symbol the library lacks would end the process, not return an error
// (go-nvml binds the library lazily).
func clockLimitsReader(lib gonvml.Interface) func(gonvml.Device) (uint64, gonvml.Return) {
	has := func(sym string) bool { return lib.Extensions().LookupSymbol(sym) == nil }
	switch {
	case has("nvmlDeviceGetCurrentClocksEventReasons"):
		return gonvml.Device.GetCurrentClocksEventReasons
	case has("nvmlDeviceGetCurrentClocksThrottleReasons"):
		return gonvml.Device.GetCurrentClocksThrottleReasons
	}
	return nil
}

// readAll takes one sample of every device, reading the clocks-event
// reasons with limits (nil: not at all).
func readAll(handles []gonvml.Device, limits func(gonvml.Device) (uint64, gonvml.Return)) ([]Sample, error) {
	out := make([]Sample, len(handles))
	for i, h := range handles {
		smp, err := readDevice(h, limits)
		if err != nil {
			return nil, fmt.Errorf("device %d: %w", i, err)
		}
		out[i] = smp
	}
	return out, nil
}

// readDevice samples one device; unsupported metrics are NaN.
func readDevice(h gonvml.Device, limits func(gonvml.Device) (uint64, gonvml.Return)) (Sample, error) {
	nan := math.NaN()
	s := Sample{GPUUtil: nan, MemUtil: nan, MemoryUsedMiB: nan, PowerW: nan, TemperatureC: nan, SMClockMHz: nan}
	util, r := h.GetUtilizationRates()
	err := optional("utilisation", r, func() { s.GPUUtil, s.MemUtil = float64(util.Gpu), float64(util.Memory) })
	mem, r := h.GetMemoryInfo()
	err = errors.Join(err, optional("memory info", r, func() { s.MemoryUsedMiB = float64(mem.Used) / (1 << 20) }))
	mw, r := h.GetPowerUsage()
	err = errors.Join(err, optional("power draw", r, func() { s.PowerW = float64(mw) / 1000 }))
	temp, r := h.GetTemperature(gonvml.TEMPERATURE_GPU)
	err = errors.Join(err, optional("temperature", r, func() { s.TemperatureC = float64(temp) }))
	clk, r := h.GetClockInfo(gonvml.CLOCK_SM)
	err = errors.Join(err, optional("SM clock", r, func() { s.SMClockMHz = float64(clk) }))
	if limits != nil {
		bits, r := limits(h)
		err = errors.Join(err, optional("clocks event reasons", r, func() { s.ClockLimits = bits }))
	}
	return s, err
}
