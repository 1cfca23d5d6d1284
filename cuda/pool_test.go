package cuda

import (
	"errors"
	"testing"
)

// fakeAlloc hands out increasing addresses and fails with out-of-memory past
// a byte limit.
type fakeAlloc struct {
	next, live, limit int64
	sizes             map[uintptr]int64
	allocs, frees     int
}

func (f *fakeAlloc) Alloc(n int64) (uintptr, error) {
	if f.live+n > f.limit {
		return 0, &Error{Op: "cuMemAlloc", Code: codeOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY"}
	}
	f.next += 1 << 30
	f.live += n
	f.sizes[uintptr(f.next)] = n
	f.allocs++
	return uintptr(f.next), nil
}

func (f *fakeAlloc) Free(p uintptr) error {
	n, ok := f.sizes[p]
	if !ok {
		return errors.New("bad free")
	}
	delete(f.sizes, p)
	f.live -= n
	f.frees++
	return nil
}

func TestSizeClass(t *testing.T) {
	cases := map[int64]int64{1: 512, 512: 512, 513: 1024, 1000: 1024, 1 << 20: 1 << 20, 1<<20 + 1: 2 << 20, 5 << 20: 6 << 20}
	for n, want := range cases {
		if got := SizeClass(n); got != want {
			t.Errorf("SizeClass(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestPoolReuseAndOOMRetry(t *testing.T) {
	f := &fakeAlloc{limit: 8 << 20, sizes: map[uintptr]int64{}}
	p := NewPool(f)
	a, c, err := p.Get(3 << 20)
	if err != nil || c != 4<<20 {
		t.Fatalf("Get: %v, class %d", err, c)
	}
	if err := p.Put(a); err != nil {
		t.Fatal(err)
	}
	b, _, err := p.Get(4 << 20) // same class: reused
	if err != nil || b != a || f.allocs != 1 {
		t.Fatalf("reuse: got %#x (want %#x), %d driver allocs, err %v", b, a, f.allocs, err)
	}
	if err := p.Put(b); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(b); err == nil {
		t.Fatal("double free accepted")
	}
	// 6 MiB does not fit beside the cached 4 MiB under an 8 MiB limit: the
	// pool trims its cache and retries.
	if _, _, err := p.Get(6 << 20); err != nil {
		t.Fatalf("OOM retry: %v", err)
	}
	s := p.Stats()
	if s.DriverFrees != 1 || s.CachedBytes != 0 || s.InUseBytes != 6<<20 || s.Reuses != 1 || s.PeakBytes != 6<<20 {
		t.Fatalf("stats %+v", s)
	}
	// Genuinely too big: an error wrapping ErrOutOfMemory.
	if _, _, err := p.Get(16 << 20); !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("oversized Get: %v", err)
	}
	if _, _, err := p.Get(0); err == nil {
		t.Fatal("zero-byte Get accepted")
	}
}

func TestErrorIs(t *testing.T) {
	e := &Error{Op: "cuLaunchKernel", Code: codeIllegalAddress, Name: "CUDA_ERROR_ILLEGAL_ADDRESS"}
	if !errors.Is(e, ErrLaunch) || errors.Is(e, ErrOutOfMemory) {
		t.Fatal("illegal address should be ErrLaunch only")
	}
	if !errors.Is(&Error{Code: codeNoBinaryForGPU}, ErrNoKernelImage) || !errors.Is(&Error{Code: codeInvalidDevice}, ErrNoDevice) {
		t.Fatal("code grouping")
	}
	if got := e.Error(); got != "cuda: cuLaunchKernel: CUDA_ERROR_ILLEGAL_ADDRESS (CUresult 700)" {
		t.Fatalf("message %q", got)
	}
}

func TestMemAndTransfers(t *testing.T) {
	m := Mem{Ptr: 4096, Bytes: 100}
	s, err := m.Slice(16, 32)
	if err != nil || s.Ptr != 4112 || s.Bytes != 32 || !s.Aligned(16) || s.Aligned(32) {
		t.Fatalf("slice %+v %v", s, err)
	}
	if _, err := m.Slice(90, 20); err == nil {
		t.Fatal("out-of-range slice accepted")
	}
	var st TransferStats
	st.AddHostToDevice(3<<20, 2000)
	st.AddDeviceToHost(10, 1000)
	snap := st.Snapshot()
	if snap.HostToDevice != 1 || snap.HostToDeviceBytes != 3<<20 || snap.DeviceToHostBytes != 10 {
		t.Fatalf("snapshot %+v", snap)
	}
	if got := snap.String(); got != "1 host->device copies (3.00 MiB, 2µs), 1 device->host copies (10 B, 1µs)" {
		t.Fatalf("String %q", got)
	}
}
