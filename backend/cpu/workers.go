// Worker pool for the parallel sections of the kernels (packing, the GEMM
// windows, convolution jobs).
//
// A model runs hundreds of short parallel sections (a convolution's
// packing, product and compaction each take tens to hundreds of
// microseconds). Starting goroutines for each pays the wake-up of a parked
// OS thread every time, which is as long as the work itself. The pool
// keeps workers that, after a section, spin for a short while (spinFor)
// waiting for the next one before they park; the caller also runs one
// chunk itself and spins briefly for the others before it blocks. This is
// what ONNX Runtime's thread pool does; the spin is bounded, so an idle
// process does not keep burning CPU.

package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// spinFor is how long an idle worker (or a caller waiting for workers)
// polls before it blocks.
const spinFor = 200 * time.Microsecond

// kworker runs one chunk at a time.
type kworker struct {
	job    atomic.Pointer[kjob]
	parked atomic.Bool
	wake   chan struct{} // capacity 1
}

// kjob is one chunk of a section.
type kjob struct {
	fn      func()
	section *ksection
}

// ksection counts the chunks of a parallel section still running.
type ksection struct {
	left atomic.Int32
	done chan struct{} // capacity 1, signalled when left reaches 0
}

var (
	workerMu   sync.Mutex
	idleWorker []*kworker
)

// acquireWorkers takes k workers from the idle list, starting new ones
// when there are not enough (concurrent sections get distinct workers).
func acquireWorkers(k int) []*kworker {
	workerMu.Lock()
	defer workerMu.Unlock()
	out := make([]*kworker, 0, k)
	for len(out) < k && len(idleWorker) > 0 {
		out = append(out, idleWorker[len(idleWorker)-1])
		idleWorker = idleWorker[:len(idleWorker)-1]
	}
	for len(out) < k {
		w := &kworker{wake: make(chan struct{}, 1)}
		go w.loop()
		out = append(out, w)
	}
	return out
}

func releaseWorkers(ws []*kworker) {
	workerMu.Lock()
	idleWorker = append(idleWorker, ws...)
	workerMu.Unlock()
}

// loop runs submitted chunks, spinning for spinFor after each before it
// parks on wake.
func (w *kworker) loop() {
	for {
		deadline := time.Now().Add(spinFor)
		for spins := 0; ; spins++ {
			if j := w.job.Swap(nil); j != nil {
				w.run(j)
				deadline = time.Now().Add(spinFor)
				continue
			}
			if spins&63 == 63 {
				if time.Now().After(deadline) {
					break
				}
				runtime.Gosched()
			}
		}
		w.parked.Store(true)
		if j := w.job.Swap(nil); j != nil { // submitted while parking
			w.parked.Store(false)
			w.run(j)
			continue
		}
		<-w.wake
		w.parked.Store(false)
	}
}

func (w *kworker) run(j *kjob) {
	j.fn()
	if j.section.left.Add(-1) == 0 {
		select {
		case j.section.done <- struct{}{}:
		default:
		}
	}
}

// submit hands fn to the worker.
func (w *kworker) submit(j *kjob) {
	w.job.Store(j)
	if w.parked.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// parallelChunks splits [0, n) into at most parts contiguous chunks of
// nearly equal size and runs them concurrently: the first on the calling
// goroutine, the others on pool workers. It returns when all are done.
func parallelChunks(n, parts int, fn func(lo, hi int)) {
	parts = min(parts, n)
	if parts <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	s := &ksection{done: make(chan struct{}, 1)}
	s.left.Store(int32(parts - 1))
	ws := acquireWorkers(parts - 1)
	for t := 1; t < parts; t++ {
		lo, hi := t*n/parts, (t+1)*n/parts
		ws[t-1].submit(&kjob{fn: func() { fn(lo, hi) }, section: s})
	}
	fn(0, n/parts)
	deadline := time.Now().Add(spinFor)
	for spins := 0; s.left.Load() != 0; spins++ {
		if spins&63 == 63 {
			if time.Now().After(deadline) {
				<-s.done
				break
			}
			runtime.Gosched()
		}
	}
	releaseWorkers(ws)
}
