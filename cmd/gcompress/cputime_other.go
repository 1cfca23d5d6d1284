//go:build !unix

package main

// processCPUMS is not measured on this platform.
func processCPUMS() float64 { return 0 }
