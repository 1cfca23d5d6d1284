package sysmem

import (
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

const meminfo8G = "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8388608 kB\nSwapTotal: 0 kB\nSwapFree:        1048576 kB\n"

// TestLimits: the least of MemAvailable + SwapFree, the cgroup's limit
// less usage without the inactive page cache (v2; v1 in the cgroup's
// directory or, as containers see it, at the hierarchy's root; "max" and
// v1's unlimited value are no bound) and the address-space limit less the
// process's size.
func TestLimits(t *testing.T) {
	const gib = int64(1) << 30
	for _, c := range []struct {
		name     string
		fs       fstest.MapFS
		as, vm   int64
		want     int64
		wantFrom string
	}{
		{"meminfo", fstest.MapFS{"proc/meminfo": file(meminfo8G)}, -1, 0, 9 * gib, "MemAvailable and free swap"},
		{"cgroup v2 max", fstest.MapFS{"proc/meminfo": file(meminfo8G), "proc/self/cgroup": file("0::/job\n"),
			"sys/fs/cgroup/job/memory.max": file("max\n"), "sys/fs/cgroup/job/memory.current": file("123\n")}, -1, 0, 9 * gib, "MemAvailable and free swap"},
		{"cgroup v2 limit", fstest.MapFS{"proc/meminfo": file(meminfo8G), "proc/self/cgroup": file("0::/job\n"),
			"sys/fs/cgroup/job/memory.max": file("2147483648\n"), "sys/fs/cgroup/job/memory.current": file("536870912\n")},
			-1, 0, gib + gib/2, "the memory cgroup's limit less its usage"},
		{"cgroup v1 at the root", fstest.MapFS{"proc/meminfo": file(meminfo8G), "proc/self/cgroup": file("5:cpu:/\n4:memory:/outer/job\n"),
			"sys/fs/cgroup/memory/memory.limit_in_bytes": file("3221225472\n"), "sys/fs/cgroup/memory/memory.usage_in_bytes": file("1073741824\n")},
			-1, 0, 2 * gib, "the memory cgroup's limit less its usage"},
		{"cgroup v2, page cache not counted", fstest.MapFS{"proc/meminfo": file(meminfo8G), "proc/self/cgroup": file("0::/job\n"),
			"sys/fs/cgroup/job/memory.max": file("2147483648\n"), "sys/fs/cgroup/job/memory.current": file("1610612736\n"),
			"sys/fs/cgroup/job/memory.stat": file("anon 536870912\nfile 1073741824\ninactive_file 1073741824\nactive_file 0\n")},
			-1, 0, gib + gib/2, "the memory cgroup's limit less its usage"},
		{"cgroup v1, page cache not counted", fstest.MapFS{"proc/meminfo": file(meminfo8G), "proc/self/cgroup": file("4:memory:/job\n"),
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": file("2147483648\n"), "sys/fs/cgroup/memory/job/memory.usage_in_bytes": file("1610612736\n"),
			"sys/fs/cgroup/memory/job/memory.stat": file("cache 1073741824\ninactive_file 5\ntotal_inactive_file 1073741824\n")},
			-1, 0, gib + gib/2, "the memory cgroup's limit less its usage"},
		{"cgroup v1 unlimited", fstest.MapFS{"proc/meminfo": file(meminfo8G), "proc/self/cgroup": file("4:memory:/job\n"),
			"sys/fs/cgroup/memory/job/memory.limit_in_bytes": file("9223372036854771712\n")}, -1, 0, 9 * gib, "MemAvailable and free swap"},
		{"ulimit -v", fstest.MapFS{"proc/meminfo": file(meminfo8G)}, 4 * gib, 3 * gib, gib, "the address-space limit (ulimit -v) less this process's size"},
		{"ulimit -v below the size", fstest.MapFS{}, gib, 3 * gib, 0, "the address-space limit (ulimit -v) less this process's size"},
	} {
		l, ok := least(limits(c.fs, c.as, c.vm))
		if !ok || l.Bytes != c.want || l.From != c.wantFrom {
			t.Errorf("%s: got %d (%q) ok=%v, want %d (%q)", c.name, l.Bytes, l.From, ok, c.want, c.wantFrom)
		}
	}
	if _, ok := least(limits(fstest.MapFS{}, -1, 0)); ok {
		t.Error("nothing to read: ok, want not ok")
	}
}

// TestAvailableHere: on Linux the real files give a bound above zero.
func TestAvailableHere(t *testing.T) {
	l, ok := Available()
	if !ok {
		t.Skip("no memory bound readable here")
	}
	if l.Bytes <= 0 || l.From == "" {
		t.Errorf("Available() = %+v", l)
	}
}
