// Runtime CPU dispatch: which micro-kernels the GEMM-based ops use.
//
// The fast kernels are C compiled per instruction set (simd_amd64.c, with
// GCC target pragmas, so one binary runs on every x86-64); at start-up the
// package picks the best level the CPU supports (golang.org/x/sys/cpu),
// unless the environment variable GCOMPRESS_CPU names a lower one. Tests
// force each level in turn with SetCPULevel.
//
//	level        FP32 GEMM                INT8 GEMM (u8 x s8 -> s32)
//	generic      pure Go (gemmBlocked)    pure Go
//	avx2         AVX2+FMA, 6x16 tile      AVX2 vpmaddwd on s16 pairs, 6x16
//	avxvnni      AVX2+FMA, 6x16           AVX-VNNI vpdpbusd (ymm), 6x16
//	avx512       AVX-512F, 8x48           AVX2 vpmaddwd (no VNNI)
//	avx512vnni   AVX-512F, 8x48           AVX-512 VNNI vpdpbusd (zmm), 8x48
//
// AMX (tile) INT8 is not implemented: no machine it could be tested on was
// available.

package cpu

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// CPULevel names a set of micro-kernels; higher levels need more of the
// CPU.
type CPULevel int

// The levels, in increasing order of what they need.
const (
	LevelGeneric CPULevel = iota
	LevelAVX2
	LevelAVXVNNI
	LevelAVX512
	LevelAVX512VNNI
)

// CPUEnv is the environment variable that caps the dispatch level
// (generic, avx2, avxvnni, avx512, avx512vnni).
const CPUEnv = "GCOMPRESS_CPU"

var levelNames = []string{"generic", "avx2", "avxvnni", "avx512", "avx512vnni"}

func (l CPULevel) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("CPULevel(%d)", int(l))
}

// ParseCPULevel reads a level name as printed by String.
func ParseCPULevel(s string) (CPULevel, error) {
	for i, n := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return CPULevel(i), nil
		}
	}
	return 0, fmt.Errorf("unknown CPU level %q (want one of %s)", s, strings.Join(levelNames, ", "))
}

// Supported reports whether this build and CPU can run level l.
func (l CPULevel) Supported() bool {
	if l == LevelGeneric {
		return true
	}
	if !simdBuilt {
		return false
	}
	x := cpu.X86
	avx2 := x.HasAVX2 && x.HasFMA
	avx512 := avx2 && x.HasAVX512F && x.HasAVX512BW && x.HasAVX512DQ && x.HasAVX512VL
	switch l {
	case LevelAVX2:
		return avx2
	case LevelAVXVNNI:
		return avx2 && x.HasAVXVNNI
	case LevelAVX512:
		return avx512
	case LevelAVX512VNNI:
		return avx512 && x.HasAVX512VNNI
	}
	return false
}

// SupportedCPULevels lists the levels this build and CPU can run, lowest
// first.
func SupportedCPULevels() []CPULevel {
	var out []CPULevel
	for l := LevelGeneric; l <= LevelAVX512VNNI; l++ {
		if l.Supported() {
			out = append(out, l)
		}
	}
	return out
}

// bestLevel is the highest supported level.
func bestLevel() CPULevel {
	levels := SupportedCPULevels()
	return levels[len(levels)-1]
}

// level is the active dispatch level (a CPULevel), read by every GEMM call.
var level atomic.Int32

// levelErr records a GCOMPRESS_CPU value that could not be honoured.
var levelErr error

func init() {
	l := bestLevel()
	if s := os.Getenv(CPUEnv); s != "" {
		want, err := ParseCPULevel(s)
		switch {
		case err != nil:
			levelErr = fmt.Errorf("%s: %w", CPUEnv, err)
		case !want.Supported():
			levelErr = fmt.Errorf("%s=%s: not supported by this CPU or build; using %v", CPUEnv, s, l)
		default:
			l = want
		}
	}
	level.Store(int32(l))
}

// ActiveCPULevel returns the level the kernels use now, and an error if
// GCOMPRESS_CPU asked for something that could not be honoured.
func ActiveCPULevel() (CPULevel, error) { return CPULevel(level.Load()), levelErr }

// SetCPULevel makes the kernels use level l (tests use it to run every
// path) and returns the previous level. It fails if l is not supported.
// Ops prepared before the change repack their constant operands on their
// next run.
func SetCPULevel(l CPULevel) (CPULevel, error) {
	if !l.Supported() {
		return CPULevel(level.Load()), fmt.Errorf("CPU level %v is not supported by this CPU or build", l)
	}
	return CPULevel(level.Swap(int32(l))), nil
}

// sgemmISA returns the FP32 kernel for the active level (nil: pure Go).
func sgemmISA() *sgemmKernel {
	switch CPULevel(level.Load()) {
	case LevelAVX512, LevelAVX512VNNI:
		return sgemmAVX512
	case LevelAVX2, LevelAVXVNNI:
		return sgemmAVX2
	}
	return nil
}
