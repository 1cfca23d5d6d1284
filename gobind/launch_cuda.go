//go:build gcompress_cuda

package gobind

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/gcompress/gcompress/cuda"
)

// fatbins holds gobind/fatbin/<module>.fatbin, the wgmma module's
// compressed PTX (WgmmaPTXFile) and, where the build had a CUDA 12 ptxas,
// its kernels' sm_90a cubins (WgmmaCubinFile), as built by `make kernels`
// (the README there keeps the pattern valid before they are built).
//
//go:embed fatbin
var fatbins embed.FS

// ErrNotBuilt is returned by Load when the binary carries no kernel images.
var ErrNotBuilt = errors.New("the CUDA kernels were not built into this binary (build it with `make build-cuda`, which runs `make kernels` first)")

// Launcher holds the kernels loaded on one device.
type Launcher struct {
	Dev  *cuda.Device
	fns  map[string]*cuda.Function
	mods map[string]*cuda.Module
	// absent holds the kernels of the fatbin modules that were not loaded,
	// with the reason (shared memory the device does not allow).
	absent map[string]error
	// wgmma holds the kernels of the wgmma module, each loaded on first
	// use: from its embedded cubin where the build assembled one from the
	// current PTX, else compiled by the driver from its own PTX module
	// (SplitPTX; the whole module takes the JIT tens of seconds, one kernel
	// about a second). ready says whether they can load at all (sm_90 and
	// a driver that loads the smallest probe), else why not; ready,
	// modules, cubins and code are set in Load. kernels holds one entry
	// per kernel asked for, loaded once (a failure is kept as the kernel's
	// absence); logs the driver's compile logs and any cubin it refused.
	wgmma struct {
		ready   error
		modules map[string][]byte
		cubins  map[string][]byte
		code    string
		mu      sync.Mutex // kernels, logs
		kernels map[string]*wgmmaKernel
		logs    []string
	}
	// defaults holds the tile shapes of launches that name none, per kind
	// and input type (Load picks them; moveDefault moves one on).
	defaults struct {
		mu            sync.Mutex
		dense, sparse map[Elem]string
	}
	mu   sync.Mutex
	bufs map[uintptr]*cuda.Buffer // from Upload, until Free
}

// wgmmaKernel is one kernel of the wgmma module: loaded once, on first
// use (done), into f or err; fromCubin says whether f came from its cubin.
type wgmmaKernel struct {
	mu        sync.Mutex
	done      bool
	f         *cuda.Function
	err       error
	fromCubin bool
}

// Load loads every fatbin module on dev, looks up every kernel of the
// table that the device's shared memory allows, raises the dynamic shared
// memory limit of those that need more than 48 KiB, and picks the default
// GEMM tile shapes: per input type, the first of DenseTileOrder
// (SparseTileOrder) whose kernels the device can run. A wgmma kernel is
// loaded when it is first asked for (a launch, TileLoaded, Absent,
// Function, Precompile): from its embedded cubin, else compiled by the
// driver; Load only checks, on sm_90 devices, that the driver loads one
// at all (prepareWgmma). Elsewhere, or where it does not, the wgmma tiles
// are absent and the mma.sync ones serve; where one kernel of a default
// shape fails to load later, the default moves on (launchDefault).
func Load(dev *cuda.Device) (*Launcher, error) {
	l := &Launcher{Dev: dev, fns: map[string]*cuda.Function{}, mods: map[string]*cuda.Module{}, absent: map[string]error{},
		bufs: map[uintptr]*cuda.Buffer{}}
	l.wgmma.kernels = map[string]*wgmmaKernel{}
	l.defaults.dense, l.defaults.sparse = map[Elem]string{}, map[Elem]string{}
	for _, mod := range Modules() {
		if mod == WgmmaModule {
			continue
		}
		img, err := fatbins.ReadFile("fatbin/" + mod + ".fatbin")
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("gobind: %s.fatbin: %w", mod, ErrNotBuilt)
		}
		if err != nil {
			return nil, fmt.Errorf("gobind: %w", err)
		}
		m, err := dev.LoadModule(mod, img)
		if err != nil {
			if errors.Is(err, cuda.ErrNoKernelImage) {
				return nil, fmt.Errorf("gobind: %s has no code for %s (sm_%d%d); the kernels are built for sm_80, sm_86, sm_89, sm_90 and compute_90 PTX: %w",
					mod, dev.Name, dev.CCMajor, dev.CCMinor, err)
			}
			return nil, fmt.Errorf("gobind: %w", err)
		}
		l.mods[mod] = m
	}
	for _, k := range Kernels {
		if k.Module == WgmmaModule {
			continue
		}
		if err := l.unfit(k); err != nil {
			l.absent[k.Name] = err
			continue
		}
		f, err := l.function(l.mods[k.Module], k)
		if err != nil {
			return nil, fmt.Errorf("gobind: %w", err)
		}
		l.fns[k.Name] = f
	}
	l.wgmma.ready = l.prepareWgmma()
	for _, in := range []Elem{S8, F16, BF16} {
		if l.defaults.dense[in] = l.fitting(false, in); l.defaults.dense[in] == "" {
			return nil, fmt.Errorf("gobind: no dense %v GEMM tile shape fits %s's %d bytes of shared memory per block", in, dev.Name, dev.SharedPerBlockOptin)
		}
		if l.defaults.sparse[in] = l.fitting(true, in); l.defaults.sparse[in] == "" {
			return nil, fmt.Errorf("gobind: no 2:4 %v GEMM tile shape fits %s's %d bytes of shared memory per block", in, dev.Name, dev.SharedPerBlockOptin)
		}
	}
	return l, nil
}

// unfit says why kernel k cannot be launched on the device (nil: its
// shared memory fits).
func (l *Launcher) unfit(k Kernel) error {
	if k.DynamicShared > l.Dev.SharedPerBlockOptin {
		return fmt.Errorf("needs %d bytes of shared memory per block, %s allows %d", k.DynamicShared, l.Dev.Name, l.Dev.SharedPerBlockOptin)
	}
	return nil
}

// function looks kernel k up in module m and raises its dynamic shared
// memory limit when it needs more than 48 KiB.
func (l *Launcher) function(m *cuda.Module, k Kernel) (*cuda.Function, error) {
	f, err := m.Function(k.Name)
	if err != nil {
		return nil, err
	}
	if k.DynamicShared > 48<<10 {
		if err := f.SetMaxDynamicShared(k.DynamicShared); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ErrNeedsSM90 is why the wgmma GEMMs are absent on GPUs other than sm_90.
var ErrNeedsSM90 = errors.New("the wgmma GEMMs run on sm_90 GPUs (H100, H200) only")

// wgmmaCanary is the wgmma kernel Load loads to learn whether the driver
// takes the module's code at all: the smallest one. Where it comes from
// its cubin, a driver too old to compile ISA 8.2 PTX passes this and fails
// only the kernels without a current cubin, each on first use.
const wgmmaCanary = "gc_wgmma_probe_f16"

// prepareWgmma splits the wgmma module into one PTX module per kernel,
// takes the embedded cubins assembled from those modules, and loads
// wgmmaCanary; the error says why no wgmma kernel can load (not sm_90, not
// built, a driver that neither loads the cubin nor compiles the PTX).
func (l *Launcher) prepareWgmma() error {
	if l.Dev.CCMajor != 9 || l.Dev.CCMinor != 0 {
		return fmt.Errorf("%w; %s is sm_%d%d", ErrNeedsSM90, l.Dev.Name, l.Dev.CCMajor, l.Dev.CCMinor)
	}
	gz, err := fatbins.ReadFile("fatbin/" + WgmmaPTXFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", WgmmaPTXFile, ErrNotBuilt)
	}
	if err != nil {
		return err
	}
	ptx, err := UnzipPTX(gz)
	if err != nil {
		return err
	}
	if l.wgmma.modules, err = SplitPTX(ptx); err != nil {
		return fmt.Errorf("%s: %w", WgmmaPTXFile, err)
	}
	l.wgmma.cubins, l.wgmma.code = embeddedCubins(l.wgmma.modules)
	canary, _ := lookup(wgmmaCanary)
	if _, err := l.wgmmaFunction(canary); err != nil {
		return fmt.Errorf("the driver loads no wgmma kernel (the PTX, ISA 8.2 for sm_90a, needs a CUDA 12.2 or newer driver): %w", err)
	}
	return nil
}

// embeddedCubins is usableCubins of the embedded archive (WgmmaCubinFile).
func embeddedCubins(mods map[string][]byte) (map[string][]byte, string) {
	raw, err := fatbins.ReadFile("fatbin/" + WgmmaCubinFile)
	if err != nil {
		raw = nil
	}
	return usableCubins(raw, mods, os.Getenv(WgmmaJITEnv) == "1")
}

// EmbeddedWgmmaCode says what code of the wgmma kernels this binary
// carries, without a GPU: their sm_90a cubins and the ptxas that assembled
// them, or their PTX alone (which the driver compiles on first use), or
// neither (the kernels were not built). It does not check that the cubins
// were assembled from the PTX beside them (a build from `make kernels`
// keeps them so; the Launcher checks each before loading it).
func EmbeddedWgmmaCode() string {
	if _, err := fatbins.ReadFile("fatbin/" + WgmmaPTXFile); err != nil {
		return "not built"
	}
	raw, err := fatbins.ReadFile("fatbin/" + WgmmaCubinFile)
	if err != nil {
		return "wgmma PTX, compiled by the driver on first use"
	}
	c, err := ReadCubins(raw)
	if err != nil {
		return fmt.Sprintf("wgmma PTX, compiled by the driver on first use (%v)", err)
	}
	return fmt.Sprintf("wgmma, %d sm_90a cubins by %s", len(c.Images), c.Assembler)
}

// WgmmaCode says where the wgmma kernels' code comes from: the embedded
// cubins and the ptxas that assembled them, or the driver's JIT and why.
func (l *Launcher) WgmmaCode() string {
	if l.wgmma.ready != nil {
		return ""
	}
	return l.wgmma.code
}

// WgmmaLoaded counts the wgmma kernels loaded so far: from their cubins,
// and compiled by the driver.
func (l *Launcher) WgmmaLoaded() (cubins, compiled int) {
	// The entries first, then each under its own lock (a load under way
	// holds that, and takes wgmma.mu for its log).
	l.wgmma.mu.Lock()
	entries := make([]*wgmmaKernel, 0, len(l.wgmma.kernels))
	for _, e := range l.wgmma.kernels {
		entries = append(entries, e)
	}
	l.wgmma.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock()
		switch {
		case e.done && e.err == nil && e.fromCubin:
			cubins++
		case e.done && e.err == nil:
			compiled++
		}
		e.mu.Unlock()
	}
	return cubins, compiled
}

// wgmmaFunction returns wgmma kernel k, loaded on first use (loadWgmma;
// once: a failure is kept as the kernel's absence, but for running out of
// device memory, which the next use tries again). Launches of loaded
// kernels do not wait for another kernel's compilation.
func (l *Launcher) wgmmaFunction(k Kernel) (*cuda.Function, error) {
	w := &l.wgmma
	w.mu.Lock()
	e := w.kernels[k.Name]
	if e == nil {
		e = &wgmmaKernel{}
		w.kernels[k.Name] = e
	}
	w.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.done {
		f, fromCubin, err := l.loadWgmma(k)
		if errors.Is(err, cuda.ErrOutOfMemory) {
			return nil, err
		}
		e.f, e.fromCubin, e.err, e.done = f, fromCubin, err, true
	}
	return e.f, e.err
}

// loadWgmma loads wgmma kernel k from its cubin, or has the driver compile
// it from its PTX module where there is none or the driver refuses it
// (which the logs keep, beside the compile log).
func (l *Launcher) loadWgmma(k Kernel) (f *cuda.Function, fromCubin bool, err error) {
	w := &l.wgmma
	if w.ready != nil {
		return nil, false, w.ready
	}
	if err := l.unfit(k); err != nil {
		return nil, false, err
	}
	if cubin, ok := w.cubins[k.Name]; ok {
		m, err := l.Dev.LoadModule(k.Name, cubin)
		if err == nil {
			f, err := l.function(m, k)
			return f, err == nil, err
		}
		if errors.Is(err, cuda.ErrOutOfMemory) {
			return nil, false, err
		}
		w.mu.Lock()
		w.logs = append(w.logs, fmt.Sprintf("%s: the driver refused its cubin (%v); compiled from PTX", k.Name, err))
		w.mu.Unlock()
	}
	f, err = l.compileWgmma(k)
	return f, false, err
}

// compileWgmma has the driver compile wgmma kernel k from its PTX module,
// keeping its compile log.
func (l *Launcher) compileWgmma(k Kernel) (*cuda.Function, error) {
	w := &l.wgmma
	ptx, ok := w.modules[k.Name]
	if !ok {
		return nil, fmt.Errorf("%s has no entry %s (rebuild it: make kernels)", WgmmaPTXFile, k.Name)
	}
	m, log, err := l.Dev.LoadPTX(k.Name, ptx)
	if log != "" {
		w.mu.Lock()
		w.logs = append(w.logs, log)
		w.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return l.function(m, k)
}

// kernel returns a loaded kernel of the table, or why it is absent (nil,
// nil for a name not in the table). A wgmma kernel is loaded on its first
// look-up; the fatbin kernels take one map look-up.
func (l *Launcher) kernel(name string) (*cuda.Function, error) {
	if f, ok := l.fns[name]; ok {
		return f, nil
	}
	if err, ok := l.absent[name]; ok {
		return nil, err
	}
	k, ok := lookup(name)
	if !ok || k.Module != WgmmaModule {
		return nil, nil
	}
	return l.wgmmaFunction(k)
}

// loadable reports whether kernel name can be launched without loading
// anything now: it is loaded, or it is a wgmma kernel of a ready module
// that fits the device and has not failed to load (it is loaded on its
// first launch).
func (l *Launcher) loadable(name string) bool {
	if _, ok := l.fns[name]; ok {
		return true
	}
	k, ok := lookup(name)
	if !ok || k.Module != WgmmaModule || l.wgmma.ready != nil || l.unfit(k) != nil {
		return false
	}
	if _, ok := l.wgmma.modules[name]; !ok {
		return false
	}
	l.wgmma.mu.Lock()
	e := l.wgmma.kernels[name]
	l.wgmma.mu.Unlock()
	if e == nil {
		return true
	}
	e.mu.Lock() // waits for a compilation under way
	defer e.mu.Unlock()
	return !e.done || e.err == nil
}

// WgmmaJITLog returns the driver's information logs of the wgmma kernels
// compiled so far.
func (l *Launcher) WgmmaJITLog() string {
	l.wgmma.mu.Lock()
	defer l.wgmma.mu.Unlock()
	return strings.Join(l.wgmma.logs, "\n")
}

// Absent returns why a kernel of the table was not loaded (nil if it was).
func (l *Launcher) Absent(name string) error {
	_, err := l.kernel(name)
	return err
}

// fitting returns the first shape of the order list, else of the tile list,
// of the dense (sparse) GEMMs of input in whose kernels are loadable ("" if
// none).
func (l *Launcher) fitting(sparse bool, in Elem) string {
	tiles, order := Tiles(sparse), DenseTileOrder[in]
	if sparse {
		order = SparseTileOrder[in]
	}
	for _, name := range order {
		if everyEntry(sparse, in, name, l.loadable) {
			return name
		}
	}
	for _, t := range tiles {
		if everyEntry(sparse, in, t.Name, l.loadable) {
			return t.Name
		}
	}
	return ""
}

// everyEntry reports whether ok holds for every dense (sparse) GEMM entry
// point of input in in tile shape tile.
func everyEntry(sparse bool, in Elem, tile string, ok func(kernel string) bool) bool {
	for _, k := range TileKernels(sparse, in, tile) {
		if !ok(k) {
			return false
		}
	}
	return true
}

// Precompile loads the wgmma kernels among names that nothing has asked
// for yet, workers at a time, as their first use would: from their cubins,
// else compiled by the driver (a failure is kept as the kernel's absence,
// which Absent reports; other names are passed over). It returns how many
// it tried. Each load runs on its own goroutine's OS thread, so where the
// driver's JIT compiles on several threads at once the wait shrinks up to
// workers times (driver 580 on an H100 barely did: 22 kernels took 21.7
// s with 16 workers, session 26, against 1.2 s each one at a time); kernels
// asked for meanwhile wait only for their own load.
func (l *Launcher) Precompile(names []string, workers int) int {
	if l.wgmma.ready != nil {
		return 0
	}
	var todo []Kernel
	seen := map[string]bool{}
	l.wgmma.mu.Lock()
	for _, n := range names {
		if k, ok := lookup(n); ok && k.Module == WgmmaModule && l.wgmma.kernels[n] == nil && !seen[n] {
			seen[n] = true
			todo = append(todo, k)
		}
	}
	l.wgmma.mu.Unlock()
	eachParallel(todo, workers, func(k Kernel) {
		_, _ = l.wgmmaFunction(k) // an error is kept as the kernel's absence
	})
	return len(todo)
}

// DefaultTile is the tile shape of the dense (sparse) GEMM launches of
// input in on this device that name none.
func (l *Launcher) DefaultTile(sparse bool, in Elem) string {
	d := &l.defaults
	d.mu.Lock()
	defer d.mu.Unlock()
	if sparse {
		return d.sparse[in]
	}
	return d.dense[in]
}

// launchDefault launches a GEMM that names no tile shape (spec gives its
// launch in a shape) in the default shape of its kind and input type. Load
// picks the defaults without compiling the wgmma kernels; where one fails
// to compile on first use, the default moves on to the next shape the
// device can run, for this launch and the later ones.
func (l *Launcher) launchDefault(s *cuda.Stream, sparse bool, in Elem, spec func(tile string) (LaunchSpec, error)) error {
	for {
		tile := l.DefaultTile(sparse, in)
		sp, err := spec(tile)
		if err != nil {
			return err
		}
		if sp.Grid == 0 {
			return nil
		}
		f, err := l.Function(sp.Kernel)
		if err != nil && l.moveDefault(sparse, in, tile) {
			continue
		}
		if err != nil {
			return err
		}
		return launchFunc(f, s, sp)
	}
}

// moveDefault replaces tile, the default of its kind and input type, one
// of whose kernels cannot load, by the next shape that can (fitting);
// false when none can. When another launch has moved it already, the new
// default is there to try.
func (l *Launcher) moveDefault(sparse bool, in Elem, tile string) bool {
	d := &l.defaults
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.dense
	if sparse {
		m = d.sparse
	}
	if m[in] != tile {
		return true
	}
	next := l.fitting(sparse, in)
	if next == "" || next == tile {
		return false
	}
	m[in] = next
	return true
}

// TileLoaded reports whether every dense (sparse) GEMM entry point of input
// in is loaded in tile shape tile, compiling wgmma kernels first (Absent
// says why a kernel is not).
func (l *Launcher) TileLoaded(sparse bool, in Elem, tile string) bool {
	return everyEntry(sparse, in, tile, func(name string) bool {
		f, _ := l.kernel(name)
		return f != nil
	})
}

// Function returns a loaded kernel by name (for launches, benchmarks and
// probes).
func (l *Launcher) Function(name string) (*cuda.Function, error) {
	f, err := l.kernel(name)
	switch {
	case f != nil:
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("gobind: %s: %w", name, err)
	default:
		return nil, fmt.Errorf("gobind: %s: %w", name, cuda.ErrNotFound)
	}
}

// Resident is how many blocks of spec's launch the device can run at once
// (cuda.Function.Resident); spec.Grid over it is the launch's waves.
func (l *Launcher) Resident(spec LaunchSpec) (int, error) {
	f, err := l.Function(spec.Kernel)
	if err != nil {
		return 0, err
	}
	n, err := f.Resident(spec.Block, spec.Shared, spec.ClusterSize())
	if err != nil {
		return 0, fmt.Errorf("gobind: %w", err)
	}
	return n, nil
}

// Launch runs a validated launch on the NULL stream (Runner).
func (l *Launcher) Launch(spec LaunchSpec) error { return l.LaunchOn(nil, spec) }

// LaunchOn runs a validated launch on stream s (nil: the NULL stream).
func (l *Launcher) LaunchOn(s *cuda.Stream, spec LaunchSpec) error {
	if spec.Grid == 0 {
		return nil
	}
	f, err := l.Function(spec.Kernel)
	if err != nil {
		return err
	}
	return launchFunc(f, s, spec)
}

// launchFunc launches f, the kernel of a validated spec, on stream s,
// with its tensor maps encoded by the driver.
func launchFunc(f *cuda.Function, s *cuda.Stream, spec LaunchSpec) error {
	maps := make([]cuda.TensorMap, len(spec.Maps))
	for i, m := range spec.Maps {
		var err error
		if maps[i], err = f.Device().EncodeTensorMap(m.Base, m.RowBytes, m.Rows, m.Pitch, m.BoxBytes, m.BoxRows, m.Swizzle); err != nil {
			return fmt.Errorf("gobind: %s: %w", spec.Kernel, err)
		}
	}
	if err := f.LaunchMaps(cuda.Dim3{X: spec.Grid, Y: 1, Z: 1}, cuda.Dim3{X: spec.Block, Y: 1, Z: 1}, spec.Shared, s, maps, spec.Params...); err != nil {
		return fmt.Errorf("gobind: %w", err)
	}
	return nil
}

func (l *Launcher) run(s *cuda.Stream, spec LaunchSpec, err error) error {
	if err != nil {
		return err
	}
	return l.LaunchOn(s, spec)
}

// Upload copies host bytes into a new device buffer (Runner).
func (l *Launcher) Upload(host []byte) (cuda.Mem, error) {
	b, err := cuda.Upload(l.Dev, host)
	if err != nil {
		return cuda.Mem{}, err
	}
	l.mu.Lock()
	l.bufs[b.Mem().Ptr] = b
	l.mu.Unlock()
	return b.Mem(), nil
}

// Free returns a buffer from Upload to the pool (Runner).
func (l *Launcher) Free(m cuda.Mem) {
	l.mu.Lock()
	b := l.bufs[m.Ptr]
	delete(l.bufs, m.Ptr)
	l.mu.Unlock()
	if b != nil {
		b.Free()
	}
}

// Download copies device memory to the host after the queued work (Runner).
func (l *Launcher) Download(dst []byte, m cuda.Mem) error { return l.Dev.CopyOut(dst, m) }

// Sync waits for the device (Runner).
func (l *Launcher) Sync() error { return l.Dev.Synchronize() }

// Harness returns the kerneltest adapter running on this GPU.
func (l *Launcher) Harness() Harness { return Harness{R: l} }

// Gemm launches the dense GEMM of a (gc_gemm_<in>_<out>_<tile>) after validating
// it. Nothing is launched for an empty output.
func (l *Launcher) Gemm(s *cuda.Stream, a *GemmArgs) error {
	if a.Tile != "" {
		spec, err := a.Spec()
		return l.run(s, spec, err)
	}
	named := *a
	return l.launchDefault(s, false, a.In, func(tile string) (LaunchSpec, error) {
		named.Tile = tile
		return named.Spec()
	})
}

// SparseGemm launches the 2:4 sparse GEMM of a (gc_spgemm_<in>_<out>_<tile>).
func (l *Launcher) SparseGemm(s *cuda.Stream, a *SparseGemmArgs) error {
	if a.Tile != "" {
		spec, err := a.Spec()
		return l.run(s, spec, err)
	}
	named := *a
	return l.launchDefault(s, true, a.In, func(tile string) (LaunchSpec, error) {
		named.Tile = tile
		return named.Spec()
	})
}

// Quantize launches gc_quantize_f32_s8 (quantize) or gc_dequantize_s8_f32.
func (l *Launcher) Quantize(s *cuda.Stream, quantize bool, a *QuantArgs) error {
	spec, err := a.Spec(quantize)
	return l.run(s, spec, err)
}

// Softmax launches gc_softmax_f32.
func (l *Launcher) Softmax(s *cuda.Stream, a *SoftmaxArgs) error {
	spec, err := a.Spec()
	return l.run(s, spec, err)
}

// Add launches gc_add_f32: C = A + B over n float32.
func (l *Launcher) Add(s *cuda.Stream, a, b, c cuda.Mem, n int64) error {
	spec, err := AddSpec(a, b, c, n)
	return l.run(s, spec, err)
}

// Im2col launches gc_im2col_s8.
func (l *Launcher) Im2col(s *cuda.Stream, a *Im2colArgs) error {
	spec, err := a.Spec()
	return l.run(s, spec, err)
}

// Unary launches one of the unary kernels (Relu, CastF32F16, ...).
func (l *Launcher) Unary(s *cuda.Stream, kernel string, a *UnaryArgs) error {
	spec, err := UnarySpec(kernel, a)
	return l.run(s, spec, err)
}

// ABIProbe runs gc_abi_probe (see Harness.ABIProbe).
func (l *Launcher) ABIProbe(a int64, b uint64, p uintptr, c int64) ([7]uint64, error) {
	return l.Harness().ABIProbe(a, b, p, c)
}
