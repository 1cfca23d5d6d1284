package cuda

import (
	"fmt"
	"sync/atomic"
	"time"
)

// TransferStats counts host<->device copies (safe for concurrent use).
type TransferStats struct {
	htod, dtoh           atomic.Int64
	htodBytes, dtohBytes atomic.Int64
	htodNS, dtohNS       atomic.Int64
}

// Transfers is a snapshot of TransferStats.
type Transfers struct {
	HostToDevice      int64         `json:"host_to_device"`
	HostToDeviceBytes int64         `json:"host_to_device_bytes"`
	HostToDeviceTime  time.Duration `json:"host_to_device_ns"`
	DeviceToHost      int64         `json:"device_to_host"`
	DeviceToHostBytes int64         `json:"device_to_host_bytes"`
	DeviceToHostTime  time.Duration `json:"device_to_host_ns"`
}

// AddHostToDevice records one host->device copy.
func (s *TransferStats) AddHostToDevice(bytes int64, d time.Duration) {
	s.htod.Add(1)
	s.htodBytes.Add(bytes)
	s.htodNS.Add(int64(d))
}

// AddDeviceToHost records one device->host copy.
func (s *TransferStats) AddDeviceToHost(bytes int64, d time.Duration) {
	s.dtoh.Add(1)
	s.dtohBytes.Add(bytes)
	s.dtohNS.Add(int64(d))
}

// Snapshot returns the counts so far.
func (s *TransferStats) Snapshot() Transfers {
	return Transfers{
		HostToDevice: s.htod.Load(), HostToDeviceBytes: s.htodBytes.Load(), HostToDeviceTime: time.Duration(s.htodNS.Load()),
		DeviceToHost: s.dtoh.Load(), DeviceToHostBytes: s.dtohBytes.Load(), DeviceToHostTime: time.Duration(s.dtohNS.Load()),
	}
}

// String summarises the transfers in one line.
func (t Transfers) String() string {
	return fmt.Sprintf("%d host->device copies (%s, %v), %d device->host copies (%s, %v)",
		t.HostToDevice, FormatBytes(t.HostToDeviceBytes), t.HostToDeviceTime.Round(time.Microsecond),
		t.DeviceToHost, FormatBytes(t.DeviceToHostBytes), t.DeviceToHostTime.Round(time.Microsecond))
}

// FormatBytes prints a byte count with a binary unit.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
