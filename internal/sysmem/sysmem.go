// Package sysmem tells how much more memory this process can use before
// the system refuses it: the least of the kernel's MemAvailable plus free
// swap, the memory cgroup's limit less its usage (cgroup v2 or v1), and
// the address-space limit (RLIMIT_AS, ulimit -v) less the process's
// virtual size. Only Linux reports these; elsewhere Available says it
// does not know.
package sysmem

import (
	"bufio"
	"bytes"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
)

// Limit is one bound on the memory left, in bytes, and where it comes from.
type Limit struct {
	Bytes int64
	From  string
}

// limits reads the bounds found under root (a view of "/": proc/meminfo,
// proc/self/cgroup, sys/fs/cgroup/...) plus the address-space bound, if
// any (asLimit < 0: none).
func limits(root fs.FS, asLimit, vmSize int64) []Limit {
	var out []Limit
	if mi, err := fs.ReadFile(root, "proc/meminfo"); err == nil {
		kb := meminfo(mi)
		if avail, ok := kb["MemAvailable"]; ok {
			out = append(out, Limit{(avail + kb["SwapFree"]) << 10, "MemAvailable and free swap"})
		}
	}
	if l, ok := cgroupLimit(root); ok {
		out = append(out, l)
	}
	if asLimit >= 0 {
		out = append(out, Limit{max(0, asLimit-vmSize), "the address-space limit (ulimit -v) less this process's size"})
	}
	return out
}

// least returns the smallest of ls (ok false when ls is empty).
func least(ls []Limit) (Limit, bool) {
	if len(ls) == 0 {
		return Limit{}, false
	}
	m := ls[0]
	for _, l := range ls[1:] {
		if l.Bytes < m.Bytes {
			m = l
		}
	}
	return m, true
}

// meminfo parses /proc/meminfo's "Name: value kB" lines into kB.
func meminfo(b []byte) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// cgroupLimit finds this process's memory cgroup in proc/self/cgroup and
// returns its limit less its usage: cgroup v2 (memory.max,
// memory.current) or v1 (memory.limit_in_bytes, memory.usage_in_bytes),
// the usage without the inactive page cache (memory.stat's
// inactive_file, or v1's total_inactive_file), which the kernel reclaims
// before it kills. The cgroup's own directory is tried first, then the
// hierarchy's root (a container often sees only its own cgroup there); the
// limits of the cgroups between are not read. No limit ("max", or v1's
// near-2^63 "unlimited") is no bound.
func cgroupLimit(root fs.FS) (Limit, bool) {
	b, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		return Limit{}, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var base, limitFile, usageFile, inactiveKey string
		switch {
		case parts[0] == "0" && parts[1] == "":
			base, limitFile, usageFile, inactiveKey = "sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"
		case hasController(parts[1], "memory"):
			base, limitFile, usageFile, inactiveKey = "sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"
		default:
			continue
		}
		for _, dir := range []string{path.Join(base, parts[2]), base} {
			limit, ok := readBytes(root, path.Join(dir, limitFile))
			if !ok {
				continue
			}
			if limit >= math.MaxInt64/2 { // unlimited
				break
			}
			usage, _ := readBytes(root, path.Join(dir, usageFile))
			if st, err := fs.ReadFile(root, path.Join(dir, "memory.stat")); err == nil {
				usage -= statValue(st, inactiveKey) // page cache the kernel reclaims first
			}
			return Limit{max(0, limit-max(0, usage)), "the memory cgroup's limit less its usage"}, true
		}
	}
	return Limit{}, false
}

// statValue returns the value of key in a memory.stat file (0 when absent).
func statValue(b []byte, key string) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// readBytes reads a cgroup file holding a byte count or "max" (returned
// as math.MaxInt64).
func readBytes(root fs.FS, name string) (int64, bool) {
	b, err := fs.ReadFile(root, name)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return math.MaxInt64, true
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}
