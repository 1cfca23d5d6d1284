// The worker pool behind Context.ParallelFor and Parallel.
//
// A model runs hundreds of short parallel sections per inference (a
// convolution of a small network takes tens of microseconds). Starting a
// goroutine per chunk pays the wake-up of a parked OS thread (a futex
// round trip, tens of microseconds on a VM) every time, as long as the
// work itself. The pool keeps workers that, after a section, spin for a
// while (SpinTime) polling for the next one before they park, as ONNX
// Runtime's pool does; the spin is bounded, so an idle process does not
// keep burning CPU.
//
// A section's chunks are claimed from a shared counter by the caller and
// its helpers alike, so the caller never waits for a helper that has not
// started (one descheduled by another process on a shared machine, or
// still waking up): it runs the unclaimed chunks itself and waits only
// for chunks already running. For the same reason nested sections cannot
// deadlock.

package runtime

import (
	"os"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// SpinTime is how long an idle pool worker (or a caller waiting for
// helpers) polls before it blocks. Measured on the 2-vCPU development VM
// (docs/RESULTS.md, issue 3): with 200 us, a model run after the process
// had been idle for 150 ms went at one-thread speed for the whole run
// (SqueezeNet 4.7 ms instead of 2.6 ms at 2 threads): gaps between
// sections longer than the spin parked the worker again, and waking a
// parked thread there is slow. 2 ms keeps the worker through those gaps;
// ONNX Runtime's pool, for comparison, burned ~30 ms of CPU after its last
// run in the same test.
const SpinTime = 2 * time.Millisecond

// section is one parallel section: chunks [0, n) of fn.
type section struct {
	fn   func(i int)
	n    int32
	next atomic.Int32  // next unclaimed chunk
	left atomic.Int32  // chunks not finished
	done chan struct{} // capacity 1; signalled when left reaches 0
}

// work claims and runs chunks until none is left. release (nil: none)
// is called once it finds no chunk to claim, before its last chunk is
// counted as finished: a pool worker puts itself back on the idle list
// there, so that a caller who sees the section finished and starts the
// next one finds the worker idle. (Returning it after the count let the
// caller, in back-to-back sections, find no idle worker and start a new
// one each time, while the old one spun idle beside it: thousands of
// workers, and more spinning threads than CPUs.)
func (s *section) work(release func()) {
	i := s.next.Add(1) - 1
	for i < s.n {
		s.fn(int(i))
		next := s.next.Add(1) - 1
		if next >= s.n && release != nil {
			release()
			release = nil
		}
		if s.left.Add(-1) == 0 {
			select {
			case s.done <- struct{}{}:
			default:
			}
		}
		i = next
	}
	if release != nil {
		release()
	}
}

// poolWorker helps with one section at a time.
type poolWorker struct {
	sec    atomic.Pointer[section]
	parked atomic.Bool
	wake   chan struct{} // capacity 1
}

var (
	poolMu   sync.Mutex
	poolIdle []*poolWorker
)

// acquireWorkers takes up to k idle workers, starting new ones when there
// are not enough (concurrent sections get distinct workers).
func acquireWorkers(dst []*poolWorker, k int) []*poolWorker {
	poolMu.Lock()
	for len(dst) < k && len(poolIdle) > 0 {
		dst = append(dst, poolIdle[len(poolIdle)-1])
		poolIdle = poolIdle[:len(poolIdle)-1]
	}
	poolMu.Unlock()
	for len(dst) < k {
		w := &poolWorker{wake: make(chan struct{}, 1)}
		go w.loop()
		dst = append(dst, w)
	}
	return dst
}

// loop runs the sections handed to the worker, spinning for SpinTime after
// each before it parks; it returns itself to the idle list when it is done
// with a section.
func (w *poolWorker) loop() {
	for {
		var s *section
		deadline := time.Now().Add(SpinTime)
		for spins := 1; ; spins++ {
			if s = w.take(); s != nil {
				break
			}
			if spins&255 == 0 {
				if time.Now().After(deadline) {
					break
				}
				yieldP()
			}
		}
		if s == nil {
			w.parked.Store(true)
			if w.sec.Load() == nil {
				<-w.wake
			}
			w.parked.Store(false)
			if s = w.take(); s == nil {
				continue // a wake-up left over from an earlier hand-off, or one taken back
			}
		}
		s.work(w.release)
	}
}

// take returns the section handed to the worker and clears the hand-off
// (nil if there is none). The swap makes taking it and the caller's
// withdrawal (Parallel) exclusive: exactly one of them gets it.
func (w *poolWorker) take() *section {
	if w.sec.Load() == nil {
		return nil
	}
	return w.sec.Swap(nil)
}

// release puts the worker back on the idle list.
func (w *poolWorker) release() {
	poolMu.Lock()
	poolIdle = append(poolIdle, w)
	poolMu.Unlock()
}

// give hands s to the (idle) worker.
func (w *poolWorker) give(s *section) {
	w.sec.Store(s)
	if w.parked.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// userGOMAXPROCS is set when the GOMAXPROCS environment variable fixes the
// number of Ps: ensureProcs then leaves it alone.
var userGOMAXPROCS = os.Getenv("GOMAXPROCS") != ""

// spareP is set by ReserveSpareP; procsFor is the most Ps ensureProcs has
// provided.
var (
	spareP   atomic.Bool
	procsFor atomic.Int32
)

// ReserveSpareP makes parallel sections keep one P more than their
// threads. Call it in a process that loads another runtime's thread pool
// (ONNX Runtime, OpenBLAS), whose threads spin beside ours: the kernels
// are long cgo calls, and while one runs its goroutine's P is "in a
// syscall"; when every P is in use, Go's sysmon hands such a P to another
// thread after 20 us, and the goroutine coming back from C waits for a P
// while the pool spins. A spare P stops that (sysmon leaves Ps in
// syscalls alone while one is idle). Measured on the 2-vCPU development
// VM (docs/RESULTS.md, issue 3): with ONNX Runtime in the process and
// GOMAXPROCS = threads = 2, ResNet-50 took 1.38-1.48x ORT's time, with the
// spare P 1.19-1.25x in the same stretch. Without a foreign pool the
// spare P costs instead: its spinning Ms make more threads runnable than
// cores (17-29 ms of run-queue wait per 20 ms ResNet-50 run, against 0.1
// ms), so it is not the default.
func ReserveSpareP() { spareP.Store(true) }

// yieldP lets a goroutine waiting for a P run while a spinner polls. With
// a spare P one is idle for it already, and Gosched would cost: it wakes
// a spinning M each time (runtime.wakep), a third thread competing for
// the cores.
func yieldP() {
	if !spareP.Load() || userGOMAXPROCS { // with GOMAXPROCS set by the user there may be no spare P
		goruntime.Gosched()
	}
}

// ensureProcs raises GOMAXPROCS to threads, plus one after ReserveSpareP
// (once per new maximum).
func ensureProcs(threads int) {
	want := int32(threads)
	if spareP.Load() {
		want++
	}
	if userGOMAXPROCS || want <= procsFor.Load() {
		return
	}
	if goruntime.GOMAXPROCS(0) < int(want) {
		goruntime.GOMAXPROCS(int(want))
	}
	for {
		cur := procsFor.Load()
		if want <= cur || procsFor.CompareAndSwap(cur, want) {
			return
		}
	}
}

// Parallel runs fn(i) for every i in [0, n) on up to threads goroutines:
// the caller and threads-1 pool workers, which claim indices one at a time
// in increasing order. It returns when every call has returned. With
// threads <= 1 or n <= 1 the calls run on the caller, in order. fn must be
// safe to call concurrently for distinct i; it may itself call Parallel.
func Parallel(n, threads int, fn func(i int)) {
	if n <= 0 {
		return
	}
	helpers := min(threads, n) - 1
	if helpers <= 0 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	ensureProcs(helpers + 1)
	s := &section{fn: fn, n: int32(n), done: make(chan struct{}, 1)}
	s.left.Store(int32(n))
	var buf [8]*poolWorker
	ws := acquireWorkers(buf[:0], helpers)
	for _, w := range ws {
		w.give(s)
	}
	s.work(nil)
	// No chunk is left to claim: a helper that has not taken the section
	// yet (still waking up, or descheduled) would find nothing to do, so
	// take it back and return the helper to the idle list now, rather
	// than leave the next section without an idle worker.
	for _, w := range ws {
		if w.sec.CompareAndSwap(s, nil) {
			w.release()
		}
	}
	if s.left.Load() == 0 {
		return
	}
	deadline := time.Now().Add(SpinTime)
	for spins := 1; s.left.Load() != 0; spins++ {
		if spins&255 == 0 {
			if time.Now().After(deadline) {
				<-s.done
				return
			}
			yieldP()
		}
	}
}

// ParallelChunks splits [0, n) into at most parts contiguous chunks of
// nearly equal size (chunk t is [t*n/parts, (t+1)*n/parts)) and runs fn on
// them with Parallel on up to parts goroutines.
func ParallelChunks(n, parts int, fn func(lo, hi int)) {
	parts = min(parts, n)
	if parts <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	Parallel(parts, parts, func(t int) { fn(t*n/parts, (t+1)*n/parts) })
}
