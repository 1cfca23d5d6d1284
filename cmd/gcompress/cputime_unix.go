//go:build unix

package main

import "syscall"

// processCPUMS is the user plus system CPU time of this process in
// milliseconds (for bench: on a shared machine, CPU time of a one-thread
// run is not inflated by other jobs the way wall time is).
func processCPUMS() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}
