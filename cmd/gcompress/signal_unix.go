//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"
)

// dieBy ends the process by sig with the default action (as if no
// handler had caught it), so that the parent sees a death by signal.
func dieBy(sig os.Signal) {
	signal.Reset(sig)
	s, ok := sig.(syscall.Signal)
	if !ok {
		os.Exit(130)
	}
	syscall.Kill(os.Getpid(), s)
	time.Sleep(time.Second) // the signal is delivered asynchronously; this is the fallback
	os.Exit(128 + int(s))
}
