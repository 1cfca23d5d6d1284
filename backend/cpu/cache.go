// Cache sizes of the CPU, for GEMM blocking.

package cpu

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cacheSizes are the per-core data cache sizes in bytes (L1d, L2) and the
// shared L3; fields are 0 when unknown.
type cacheSizes struct{ l1d, l2, l3 int }

// cpuCaches reads the cache sizes of CPU 0 from Linux sysfs, with common
// x86-64 sizes (32 KiB, 1 MiB, 8 MiB) for what it cannot read.
var cpuCaches = readCaches("/sys/devices/system/cpu/cpu0/cache")

func readCaches(dir string) cacheSizes {
	c := cacheSizes{l1d: 32 << 10, l2: 1 << 20, l3: 8 << 20}
	idx, _ := filepath.Glob(filepath.Join(dir, "index*"))
	for _, d := range idx {
		read := func(name string) string {
			b, _ := os.ReadFile(filepath.Join(d, name))
			return strings.TrimSpace(string(b))
		}
		size := parseCacheSize(read("size"))
		if size <= 0 {
			continue
		}
		switch lvl, typ := read("level"), read("type"); {
		case lvl == "1" && typ == "Data":
			c.l1d = size
		case lvl == "2" && typ != "Instruction":
			c.l2 = size
		case lvl == "3":
			c.l3 = size
		}
	}
	return c
}

// parseCacheSize reads sysfs sizes such as "48K" or "1024K".
func parseCacheSize(s string) int {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return v * mult
}

// withBlocking sets the cache blocking of an FP32 kernel from the cache
// sizes (Goto/BLIS analysis): a kc x NR panel of B stays in L1 while MR-row
// panels of A stream past it, so kc*NR*4 takes about half of L1d; the
// mc x kc block of A takes about half of L2; the kc x nc block of B about a
// quarter of L3 (shared by the cores).
func withBlocking(k *sgemmKernel) *sgemmKernel {
	if k == nil {
		return nil
	}
	c := cpuCaches
	k.kc = clampInt(c.l1d/2/(k.nr*4)/8*8, 64, 512)
	k.mc = clampInt(c.l2/2/(k.kc*4)/k.mr*k.mr, k.mr, 1024/k.mr*k.mr)
	k.nc = clampInt(c.l3/4/(k.kc*4)/k.nr*k.nr, k.nr, 8192/k.nr*k.nr)
	return k
}

func clampInt(v, lo, hi int) int { return min(max(v, lo), hi) }
