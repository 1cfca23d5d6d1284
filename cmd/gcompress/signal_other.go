//go:build !unix

package main

import "os"

// dieBy ends the process with the shell's status for an interrupt.
func dieBy(os.Signal) { os.Exit(130) }
