package nvml

import (
	"errors"
	"fmt"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"
)

// ErrNoDriver is returned (wrapped, with the reason) where there is no usable
// NVIDIA driver: libnvidia-ml.so.1 is not found, or it is found but the
// kernel driver is not loaded.
var ErrNoDriver = errors.New("no NVIDIA driver")

// ErrNoGPU is returned (wrapped, with the driver version) where the driver is
// present but reports zero GPUs.
var ErrNoGPU = errors.New("NVIDIA driver present but it reports no GPU")

// Device is a snapshot of one GPU. Metrics a device does not report (NVML
// ERROR_NOT_SUPPORTED or ERROR_NO_PERMISSION, common on consumer and
// virtualised GPUs) are nil (JSON null).
type Device struct {
	// Index is NVML's device index (the order of nvidia-smi).
	Index    int    `json:"index"`
	Name     string `json:"name"`
	UUID     string `json:"uuid"`
	PCIBusID string `json:"pci_bus_id"`
	// Memory is in bytes: total, used and free device memory.
	MemoryTotal uint64 `json:"memory_total_bytes"`
	MemoryUsed  uint64 `json:"memory_used_bytes"`
	MemoryFree  uint64 `json:"memory_free_bytes"`
	// DriverVersion is the kernel driver's ("550.54.15"); CUDADriverVersion
	// the CUDA version the driver supports ("12.4").
	DriverVersion     string `json:"driver_version"`
	CUDADriverVersion string `json:"cuda_driver_version"`
	// ComputeCapability is "major.minor" ("9.0" for H100).
	ComputeCapability string `json:"compute_capability"`
	// GPUUtil and MemUtil are the percentages of the last sample period
	// during which a kernel ran, and device memory was read or written.
	GPUUtil *uint32 `json:"gpu_util_pct"`
	MemUtil *uint32 `json:"mem_util_pct"`
	// PowerDraw and PowerLimit (the enforced limit) are in watts.
	PowerDraw  *float64 `json:"power_draw_w"`
	PowerLimit *float64 `json:"power_limit_w"`
	// Temperature is the GPU core temperature in degrees Celsius.
	Temperature *uint32 `json:"temperature_c"`
	// Clocks in MHz: current and maximum, of the SMs and of the memory.
	SMClock     *uint32 `json:"sm_clock_mhz"`
	SMClockMax  *uint32 `json:"sm_clock_max_mhz"`
	MemClock    *uint32 `json:"mem_clock_mhz"`
	MemClockMax *uint32 `json:"mem_clock_max_mhz"`
	// ClockLimits names the reasons NVML gives for holding the clocks
	// below their maximum now (sw_power_cap, ...; Sample.ClockLimits).
	ClockLimits []string `json:"clock_limits,omitempty"`
}

// Devices initialises NVML, takes a snapshot of every GPU and shuts NVML
// down again.
func Devices() ([]Device, error) { return devicesFrom(gonvml.New()) }

// devicesFrom is Devices on a given NVML library (a mock in tests).
func devicesFrom(lib gonvml.Interface) ([]Device, error) {
	count, err := open(lib)
	if err != nil {
		return nil, err
	}
	defer lib.Shutdown()
	driver, err := driverVersions(lib)
	if err != nil {
		return nil, err
	}
	limits := clockLimitsReader(lib)
	devs := make([]Device, count)
	for i := range devs {
		h, r := lib.DeviceGetHandleByIndex(i)
		if err := check(fmt.Sprintf("device %d handle", i), r); err != nil {
			return nil, err
		}
		devs[i] = driver
		devs[i].Index = i
		if err := describe(h, &devs[i], limits); err != nil {
			return nil, fmt.Errorf("device %d: %w", i, err)
		}
	}
	return devs, nil
}

// open initialises lib and returns the number of GPUs. With a nil error
// the caller must call lib.Shutdown.
func open(lib gonvml.Interface) (int, error) {
	if r := lib.Init(); r != gonvml.SUCCESS {
		// Any failure to initialise means no usable driver here (in a
		// container without the driver's device nodes it is "Unknown
		// Error"); check names the two common ones.
		if err := check("init", r); errors.Is(err, ErrNoDriver) {
			return 0, err
		}
		return 0, fmt.Errorf("%w (nvml init: %s)", ErrNoDriver, gonvml.ErrorString(r))
	}
	n, r := lib.DeviceGetCount()
	if err := check("device count", r); err != nil {
		lib.Shutdown()
		return 0, err
	}
	if n == 0 {
		v, _ := lib.SystemGetDriverVersion()
		lib.Shutdown()
		return 0, fmt.Errorf("%w (driver %s)", ErrNoGPU, v)
	}
	return n, nil
}

// driverVersions returns a Device holding only the driver and CUDA
// versions, which every device shares.
func driverVersions(lib gonvml.Interface) (Device, error) {
	var d Device
	v, r := lib.SystemGetDriverVersion()
	if err := check("driver version", r); err != nil {
		return d, err
	}
	cuda, r := lib.SystemGetCudaDriverVersion()
	if err := check("CUDA driver version", r); err != nil {
		return d, err
	}
	d.DriverVersion = v
	d.CUDADriverVersion = fmt.Sprintf("%d.%d", cuda/1000, cuda%1000/10)
	return d, nil
}

// describe fills d from the device handle h: required facts first (an
// error stops), then the optional metrics (the clock limits with limits,
// clockLimitsReader's).
func describe(h gonvml.Device, d *Device, limits func(gonvml.Device) (uint64, gonvml.Return)) error {
	var r gonvml.Return
	if d.Name, r = h.GetName(); r != gonvml.SUCCESS {
		return check("name", r)
	}
	if d.UUID, r = h.GetUUID(); r != gonvml.SUCCESS {
		return check("UUID", r)
	}
	pci, r := h.GetPciInfo()
	if err := check("PCI info", r); err != nil {
		return err
	}
	d.PCIBusID = cString(pci.BusId[:])
	mem, r := h.GetMemoryInfo()
	if err := check("memory info", r); err != nil {
		return err
	}
	d.MemoryTotal, d.MemoryUsed, d.MemoryFree = mem.Total, mem.Used, mem.Free
	major, minor, r := h.GetCudaComputeCapability()
	if err := check("compute capability", r); err != nil {
		return err
	}
	d.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
	return describeMetrics(h, d, limits)
}

// describeMetrics fills the metrics a device may not report.
func describeMetrics(h gonvml.Device, d *Device, limits func(gonvml.Device) (uint64, gonvml.Return)) error {
	util, r := h.GetUtilizationRates()
	err := optional("utilisation", r, func() { d.GPUUtil, d.MemUtil = &util.Gpu, &util.Memory })
	err = errors.Join(err,
		optionalWatts("power draw", &d.PowerDraw)(h.GetPowerUsage()),
		optionalWatts("power limit", &d.PowerLimit)(h.GetEnforcedPowerLimit()),
		optionalUint("temperature", &d.Temperature)(h.GetTemperature(gonvml.TEMPERATURE_GPU)),
		optionalUint("SM clock", &d.SMClock)(h.GetClockInfo(gonvml.CLOCK_SM)),
		optionalUint("max SM clock", &d.SMClockMax)(h.GetMaxClockInfo(gonvml.CLOCK_SM)),
		optionalUint("memory clock", &d.MemClock)(h.GetClockInfo(gonvml.CLOCK_MEM)),
		optionalUint("max memory clock", &d.MemClockMax)(h.GetMaxClockInfo(gonvml.CLOCK_MEM)),
	)
	if limits != nil {
		bits, r := limits(h)
		err = errors.Join(err, optional("clocks event reasons", r, func() { d.ClockLimits = ClockLimitNames(bits) }))
	}
	return err
}

// optionalUint returns a function storing an NVML reading into *dst, or
// leaving it nil when the device does not report it.
func optionalUint(what string, dst **uint32) func(uint32, gonvml.Return) error {
	return func(v uint32, r gonvml.Return) error {
		return optional(what, r, func() { *dst = &v })
	}
}

// optionalWatts is optionalUint for a reading in milliwatts stored in watts.
func optionalWatts(what string, dst **float64) func(uint32, gonvml.Return) error {
	return func(mw uint32, r gonvml.Return) error {
		return optional(what, r, func() { w := float64(mw) / 1000; *dst = &w })
	}
}

// optional runs set on success, ignores "not supported" and "no
// permission", and returns other failures as errors.
func optional(what string, r gonvml.Return, set func()) error {
	switch r {
	case gonvml.SUCCESS:
		set()
		return nil
	case gonvml.ERROR_NOT_SUPPORTED, gonvml.ERROR_NO_PERMISSION:
		return nil
	}
	return check(what, r)
}

// check turns an NVML return code into an error naming what was asked.
func check(what string, r gonvml.Return) error {
	switch r {
	case gonvml.SUCCESS:
		return nil
	case gonvml.ERROR_LIBRARY_NOT_FOUND:
		return fmt.Errorf("%w (libnvidia-ml.so.1 not found)", ErrNoDriver)
	case gonvml.ERROR_DRIVER_NOT_LOADED:
		return fmt.Errorf("%w (libnvidia-ml.so.1 found, but the kernel driver is not loaded)", ErrNoDriver)
	}
	return fmt.Errorf("nvml %s: %s", what, gonvml.ErrorString(r))
}

// cString converts a NUL-terminated C char array.
func cString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}
