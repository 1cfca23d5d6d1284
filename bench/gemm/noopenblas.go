//go:build !openblas

package main

// Without the openblas build tag the harness times gcompress only.
func openblasInfo() string { return "" }

func openblasSgemm(m, n, k, threads int) func() error { return nil }
