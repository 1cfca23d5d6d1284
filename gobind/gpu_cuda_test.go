//go:build gcompress_cuda

package gobind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
)

// The GPU tests: every kernel against its reference through the shared
// suites of kernels/kerneltest, plus the ABI and mma.sp layout probes and
// the naive-kernel diagnostics. They need a GPU (this binary exits at start
// without one: gorgonia.org/cu's initialiser). GCOMPRESS_TEST_DEVICE picks
// the ordinal (default 0). The combined pass/fail table is printed at the
// end; -test.short skips the largest shapes.

var (
	testL   *Launcher
	results []kerneltest.Result
	resMu   sync.Mutex
)

func TestMain(m *testing.M) {
	ord := 0
	if v := os.Getenv("GCOMPRESS_TEST_DEVICE"); v != "" {
		ord, _ = strconv.Atoi(v)
	}
	dev, err := cuda.Open(ord)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobind GPU tests:", err)
		os.Exit(1)
	}
	dev.SyncLaunches = true // attribute a fault to the kernel that caused it
	fmt.Println("device:", dev)
	if testL, err = Load(dev); err != nil {
		fmt.Fprintln(os.Stderr, "gobind GPU tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	// The full table goes to $GCOMPRESS_TABLE when set; stdout gets the
	// per-suite counts and the failing cases (the tail of a log is what a
	// GPU session reads back).
	if path := os.Getenv("GCOMPRESS_TABLE"); path != "" {
		if f, err := os.Create(path); err == nil {
			kerneltest.WriteTable(f, results)
			f.Close()
		}
	}
	fmt.Println("\n== kernel tests ==")
	if fails := kerneltest.WriteSummary(os.Stdout, results); fails > 0 && code == 0 {
		code = 1
	}
	fmt.Println("device transfers:", dev.Transfers.Snapshot())
	os.Exit(code)
}

func keep(r []kerneltest.Result) {
	resMu.Lock()
	results = append(results, r...)
	resMu.Unlock()
}

// TestDiagnostics runs the launch-path probes (harness_cuda.go): the ABI
// probe, the mma.sp metadata-layout probes and the naive GEMMs.
func TestDiagnostics(t *testing.T) {
	rs := testL.Harness().Diagnostics()
	for _, r := range rs {
		if !r.Pass {
			t.Errorf("%s %s: %s", r.Suite, r.Case, r.Detail)
		} else if r.Suite == "abi" {
			t.Logf("code that ran: %s", r.Metric)
		}
	}
	keep(rs)
}

// TestGemm: every dense and 2:4 suite in every tile shape, or in the shapes
// GCOMPRESS_TEST_TILES lists (comma-separated names; test-gpu.sh sets it
// from TILES).
func TestGemm(t *testing.T) {
	h := testL.Harness()
	h.Tiles = tilesUnderTest()
	keep(h.GemmSuites(t, size()))
}

// tilesUnderTest is the tile shapes GCOMPRESS_TEST_TILES names (nil: every
// shape).
func tilesUnderTest() []string {
	if v := os.Getenv("GCOMPRESS_TEST_TILES"); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

func TestElementwise(t *testing.T) {
	keep(kerneltest.Elementwise(t, testL.Harness().ElemImpl, size()))
}

// TestWgmmaLoaded: on an sm_90 GPU every wgmma kernel (of the shapes
// GCOMPRESS_TEST_TILES names, if set, and the probes) must load: from its
// cubin where the build embeds them (each must have a current one, which
// the driver takes; wgmmacubins checked them for spills and serialised
// wgmma when it assembled them), else compiled by the driver without
// spills or serialised wgmma (its information log says so; the register
// range is printed; its JIT log is in the error otherwise); elsewhere its
// kernels are absent for that reason alone. It has
// them loaded one per CPU at a time (Precompile) and prints how long that
// took and where their code came from; a kernel whose embedded cubin the
// driver refused fails it.
func TestWgmmaLoaded(t *testing.T) {
	sm90 := testL.Dev.CCMajor == 9 && testL.Dev.CCMinor == 0
	names := wgmmaKernelsUnderTest()
	start := time.Now()
	workers := runtime.NumCPU()
	if n := testL.Precompile(names, workers); sm90 {
		cubins, compiled := testL.WgmmaLoaded()
		fmt.Printf("wgmma load: %d kernels not yet loaded took %v, %d at a time; %d kernels from cubins, %d compiled by the driver so far (code: %s)\n",
			n, time.Since(start).Round(time.Millisecond), workers, cubins, compiled, testL.WgmmaCode())
	}
	// Where the Launcher took the embedded cubins (a readable archive, the
	// JIT not asked for), each kernel must have a current one, and the
	// driver must take it.
	cubins := sm90 && testL.wgmma.cubins != nil
	for _, name := range names {
		err := testL.Absent(name)
		if sm90 && err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sm90 && !errors.Is(err, ErrNeedsSM90) {
			t.Fatalf("%s on sm_%d%d: %v, want ErrNeedsSM90", name, testL.Dev.CCMajor, testL.Dev.CCMinor, err)
		}
		if !cubins {
			continue
		}
		if testL.wgmma.cubins[name] == nil {
			t.Errorf("%s: the embedded archive has no cubin of its current PTX (%s)", name, testL.WgmmaCode())
		} else if e := testL.wgmma.kernels[name]; !e.fromCubin {
			t.Errorf("%s: compiled from its PTX though the build embeds its cubin (the log says why)", name)
		}
	}
	var regs []int
	for _, line := range strings.Split(testL.WgmmaJITLog(), "\n") {
		low := strings.ToLower(line)
		var n int
		switch {
		case strings.Contains(low, "performance loss") || strings.Contains(low, "serialized") || strings.Contains(low, "warning"):
			t.Errorf("wgmma JIT: %s", line)
		case strings.Contains(low, "spill stores") && !strings.Contains(low, " 0 bytes spill stores, 0 bytes spill loads"):
			t.Errorf("wgmma JIT: %s", line)
		default:
			if i := strings.Index(low, "used "); i >= 0 {
				if _, err := fmt.Sscanf(low[i:], "used %d registers", &n); err == nil {
					regs = append(regs, n)
				}
			}
		}
	}
	if len(regs) > 0 {
		fmt.Printf("wgmma JIT: %d kernels, %d-%d registers\n", len(regs), slices.Min(regs), slices.Max(regs))
	}
}

// TestClusterProbe runs after TestDiagnostics and TestWgmmaLoaded
// (Harness.ClusterDiagnostics: a probe that hangs costs only itself).
func TestClusterProbe(t *testing.T) {
	rs := testL.Harness().ClusterDiagnostics()
	for _, r := range rs {
		if !r.Pass {
			t.Errorf("%s %s: %s", r.Suite, r.Case, r.Detail)
		}
	}
	keep(rs)
}

// TestResident prints, for each int8 GEMM shape under test, how many of
// its blocks the driver's occupancy calculator places on the GPU at once
// (Launcher.Resident, which kernelbench reports beside each timing): the
// count that says whether a shape's launches run in fewer blocks than SMs
// (a question about the cluster shapes). It fails where a shape gets fewer
// than the MinBlocks per SM it was sized for on an sm_90 GPU (its launch
// bounds and shared memory; elsewhere, where an SM may have less shared
// memory, fewer than one per SM), or a cluster shape not one whole cluster.
// It runs after TestWgmmaLoaded, which loads the kernels in parallel.
func TestResident(t *testing.T) {
	tiles := tilesUnderTest()
	sm90 := testL.Dev.CCMajor == 9 && testL.Dev.CCMinor == 0
	ran := 0
	for _, sparse := range []bool{false, true} {
		for _, tile := range Tiles(sparse) {
			name := TileKernels(sparse, S8, tile.Name)[0]
			if tiles != nil && !slices.Contains(tiles, tile.Name) || testL.Absent(name) != nil {
				continue
			}
			k, _ := lookup(name)
			n, err := testL.Resident(LaunchSpec{Kernel: name, Block: tile.Threads(), Cluster: tile.Cluster, Shared: k.DynamicShared})
			if err != nil {
				t.Error(err)
				continue
			}
			ran++
			fmt.Printf("resident: %s, %d threads, %d bytes shared, clusters of %d: %d blocks on %d SMs\n",
				name, tile.Threads(), k.DynamicShared, tile.ClusterSize(), n, testL.Dev.SMs)
			want := testL.Dev.SMs
			if sm90 {
				want *= tile.MinBlocks
			}
			if tile.Cluster > 1 {
				want = tile.ClusterSize()
			}
			if n < want {
				t.Errorf("%s: %d blocks resident, want at least %d", name, n, want)
			}
		}
	}
	if ran == 0 {
		t.Skip("no int8 GEMM shape under test is loaded on this GPU")
	}
}

// TestHostPtxasSASS: every wgmma kernel's own module (of the shapes
// GCOMPRESS_TEST_TILES names, if set, and the probes), as the Launcher
// hands it to the driver, assembles with the GPU host's ptxas -- the CUDA
// release of its driver's JIT, where check-cuda has 12.4 -- without
// warnings or spills, and its 2:4 kernels' code is free of the wgmma.sp
// metadata hazard (AssembleSM90a, metadataHazards). Needs the toolkit's
// ptxas and nvdisasm on the host (PATH or /usr/local/cuda/bin).
func TestHostPtxasSASS(t *testing.T) {
	if testL.wgmma.ready != nil {
		t.Skipf("no wgmma kernels here: %v", testL.wgmma.ready)
	}
	tool := func(name string) string {
		for _, p := range []string{name, "/usr/local/cuda/bin/" + name} {
			if path, err := exec.LookPath(p); err == nil {
				return path
			}
		}
		t.Skipf("no %s on this host (PATH, /usr/local/cuda/bin)", name)
		return ""
	}
	ptxas, nvdisasm := tool("ptxas"), tool("nvdisasm")
	mods := map[string][]byte{}
	for _, name := range wgmmaKernelsUnderTest() {
		mods[name] = testL.wgmma.modules[name]
	}
	if _, errs := AssembleAll(ptxas, nvdisasm, t.TempDir(), mods, 8, nil); len(errs) > 0 {
		t.Error(errors.Join(errs...))
	}
	version, err := PtxasVersion(ptxas)
	if err != nil {
		t.Error(err)
	}
	fmt.Printf("host ptxas SASS: %d wgmma kernels assembled by %s, the 2:4 ones checked for the metadata hazard\n", len(mods), version)
}

// wgmmaKernelsUnderTest names the wgmma kernels of the shapes
// GCOMPRESS_TEST_TILES names (every shape's where it is not set) and the
// probes.
func wgmmaKernelsUnderTest() []string {
	tiles := tilesUnderTest()
	var names []string
	for _, k := range Kernels {
		i := strings.LastIndexByte(k.Name, '_')
		if k.Module == WgmmaModule && (tiles == nil || !strings.Contains(k.Name, "gemm_") || slices.Contains(tiles, k.Name[i+1:])) {
			names = append(names, k.Name)
		}
	}
	return names
}

// TestDefaultMovesOnFailedCompile: where a kernel of a default wgmma shape
// fails to compile on first use (planted here, on a Launcher of its own),
// a launch that names no shape runs in the next shape of the order, which
// becomes the default.
func TestDefaultMovesOnFailedCompile(t *testing.T) {
	l, err := Load(testL.Dev)
	if err != nil {
		t.Fatal(err)
	}
	tile := l.DefaultTile(false, S8)
	name := "gc_gemm_s8_s32_" + tile
	if k, _ := lookup(name); k.Module != WgmmaModule {
		t.Skipf("the default int8 shape here is %s, not a wgmma one", tile)
	}
	l.wgmma.kernels[name] = &wgmmaKernel{done: true, err: errors.New("planted JIT failure")}
	const n = 64
	ones := make([]byte, n*n)
	for i := range ones {
		ones[i] = 1
	}
	a, err := l.Upload(ones)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Free(a)
	c, err := l.Upload(make([]byte, 4*n*n))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Free(c)
	args := &GemmArgs{In: S8, M: n, N: n, K: n, A: a, LdA: n, B: a, LdB: n, Epilogue: Epilogue{Out: ref.OutS32, C: c, LdCM: n, LdCN: 1}}
	if err := l.Gemm(nil, args); err != nil {
		t.Fatalf("launch in the default shape after %s failed to compile: %v", name, err)
	}
	got := make([]byte, 4*n*n)
	if err := l.Download(got, c); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n*n; i++ {
		if v := int32(binary.LittleEndian.Uint32(got[4*i:])); v != n {
			t.Fatalf("output %d is %d, want %d", i, v, n)
		}
	}
	if next := l.DefaultTile(false, S8); next == tile || next == "" {
		t.Fatalf("the default int8 shape stayed %q", next)
	}
	if l.DefaultTile(false, F16) == "" || l.DefaultTile(true, S8) == "" {
		t.Fatal("other defaults lost")
	}
}

// TestLaunchValidation: bad arguments are Go errors, and nothing reaches the
// device.
func TestLaunchValidation(t *testing.T) {
	buf, err := testL.Dev.Alloc(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Free()
	m := buf.Mem()
	bad := &GemmArgs{In: S8, M: 64, N: 64, K: 64, A: m, LdA: 64, B: m, LdB: 64,
		Epilogue: Epilogue{Out: ref.OutS32, C: m, LdCM: 64, LdCN: 1}}
	if err := testL.Gemm(nil, bad); !errors.Is(err, ErrArgs) {
		t.Fatalf("overlapping, undersized buffers: %v", err)
	}
	if err := testL.Dev.Synchronize(); err != nil {
		t.Fatal(err)
	}
}

// TestPoolReuse: a freed block is handed out again without the driver.
func TestPoolReuse(t *testing.T) {
	before := testL.Dev.PoolStats()
	a, err := testL.Dev.Alloc(3 << 20)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Mem().Ptr
	a.Free()
	b, err := testL.Dev.Alloc(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Free()
	if b.Mem().Ptr != p || testL.Dev.PoolStats().Reuses <= before.Reuses {
		t.Fatalf("block not reused: %#x then %#x, stats %+v", p, b.Mem().Ptr, testL.Dev.PoolStats())
	}
}

// size is the suites' case size: Full, or Short with -test.short.
func size() kerneltest.Size {
	if testing.Short() {
		return kerneltest.Short
	}
	return kerneltest.Full
}
