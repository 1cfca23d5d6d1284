package sysmem

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Available returns the least bound on the memory this process can still
// use (see the package comment); ok is false when none could be read.
func Available() (Limit, bool) {
	as := int64(-1)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err == nil && rl.Cur != ^uint64(0) && rl.Cur < 1<<62 {
		as = int64(rl.Cur)
	}
	return least(limits(os.DirFS("/"), as, vmSize()))
}

// vmSize is the process's virtual size (VmSize in /proc/self/status), 0
// when unknown.
func vmSize() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}
