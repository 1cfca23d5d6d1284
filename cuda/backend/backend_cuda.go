//go:build gcompress_cuda

package backend

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/graph/passes"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// Backend runs graphs on one GPU with CPU fallback.
type Backend struct {
	Dev *cuda.Device
	K   *gobind.Launcher
	cpu runtime.Backend

	// sparse24: where GEMMs with a 2:4 weight run (Sparse24Env).
	sparse24 Sparse24Mode

	mu      sync.Mutex
	ops     map[string]*opStats
	consts  []*cuda.Buffer
	cbytes  int64
	choices []Sparse24Choice // Sparse24Auto's, in order (the first maxChoices)

	// time times a GEMM launch for Sparse24Auto: timeLaunch (tests put a
	// fake here to force either choice).
	time func(launch func() error) (time.Duration, error)
}

// maxChoices bounds the Sparse24Auto choices a backend keeps for its
// report (each session times its GEMMs again).
const maxChoices = 256

// addChoice keeps c for the report.
func (b *Backend) addChoice(c Sparse24Choice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.choices) < maxChoices {
		b.choices = append(b.choices, c)
	}
}

type opStats struct {
	gpu, cpu           atomic.Int64
	gpuNodes, cpuNodes int
	sparseNodes        int // of gpuNodes, those with a 2:4 weight
}

// New loads the kernels on dev; cpu runs everything the GPU does not.
func New(dev *cuda.Device, cpu runtime.Backend) (*Backend, error) {
	k, err := gobind.Load(dev)
	if err != nil {
		return nil, err
	}
	b := &Backend{Dev: dev, K: k, cpu: cpu, sparse24: Sparse24ModeOf(os.Getenv(Sparse24Env)), ops: map[string]*opStats{}}
	b.time = b.timeLaunch
	return b, nil
}

// Name implements runtime.Backend.
func (b *Backend) Name() string { return fmt.Sprintf("cuda:%d", b.Dev.Ordinal) }

// gpuFactory prepares the GPU version of a node; it returns nil (and no
// error) when the node cannot run on the GPU.
type gpuFactory func(b *Backend, n *graph.Node, info runtime.NodeInfo) (gpuOp, error)

// gpuOp runs one node on the GPU. ok is false when this call's inputs do
// not fit the kernel (the CPU op runs instead).
type gpuOp interface {
	run(ctx *runtime.Context, in []*tensor.Tensor) (out []*tensor.Tensor, ok bool, err error)
}

var gpuOps = map[string]gpuFactory{
	"MatMulInteger":    newMatMulInteger,
	"QLinearMatMul":    newQLinearMatMul,
	"QLinearConv":      newQLinearConv,
	"MatMul":           newHalfMatMul,
	"Softmax":          newSoftmax,
	"QuantizeLinear":   newQuantize,
	"DequantizeLinear": newDequantize,
	"Relu":             newRelu,
	"Add":              newAdd,
}

// msGPUOps are the GPU versions of ONNX Runtime's com.microsoft ops.
var msGPUOps = map[string]gpuFactory{
	"QGemm": newQGemm,
}

// Factory implements runtime.Backend: the CPU factory, wrapped so that the
// node runs on the GPU where it can.
func (b *Backend) Factory(domain, op string) runtime.OpFactory {
	cpuF := b.cpu.Factory(domain, op)
	var gpuF gpuFactory
	switch domain {
	case "", "ai.onnx":
		gpuF = gpuOps[op]
	case passes.MSDomain:
		gpuF = msGPUOps[op]
	}
	if cpuF == nil && gpuF == nil {
		return nil
	}
	return func(n *graph.Node, info runtime.NodeInfo) (runtime.Op, error) {
		p := &placedOp{stats: b.stats(op)}
		if cpuF != nil {
			cop, err := cpuF(n, info)
			if err != nil {
				return nil, err
			}
			p.cpu = cop
		}
		if gpuF != nil {
			gop, err := gpuF(b, n, info)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", op, b.Name(), err)
			}
			p.gpu = gop
		}
		b.mu.Lock()
		if p.gpu != nil {
			p.stats.gpuNodes++
			if g := gemmOf(p.gpu); g != nil && g.sp != nil {
				p.stats.sparseNodes++
			}
		} else {
			p.stats.cpuNodes++
		}
		b.mu.Unlock()
		if p.gpu == nil && p.cpu == nil {
			return nil, fmt.Errorf("%s: no implementation for this node on %s or the CPU", op, b.Name())
		}
		return p, nil
	}
}

// gemmOf returns op's GEMM, if it is one.
func gemmOf(op gpuOp) *gemmOp {
	switch o := op.(type) {
	case *gemmOp:
		return o
	case *qgemmOp:
		return o.g
	}
	return nil
}

func (b *Backend) stats(op string) *opStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.ops[op]
	if !ok {
		s = &opStats{}
		b.ops[op] = s
	}
	return s
}

// placedOp runs a node on the GPU when it can, on the CPU otherwise.
type placedOp struct {
	gpu   gpuOp
	cpu   runtime.Op
	stats *opStats
}

func (p *placedOp) Run(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if p.gpu != nil {
		out, ok, err := p.gpu.run(ctx, in)
		if ok || err != nil {
			p.stats.gpu.Add(1)
			return out, err
		}
	}
	if p.cpu == nil {
		return nil, fmt.Errorf("these inputs need the CPU, which has no implementation of this op")
	}
	p.stats.cpu.Add(1)
	return p.cpu.Run(ctx, in)
}

// Report summarises placement and transfers so far.
func (b *Backend) Report() Report {
	b.mu.Lock()
	r := Report{Device: b.Dev.String(), Constants: b.cbytes}
	for op, s := range b.ops {
		r.Ops = append(r.Ops, OpRuns{Op: op, GPU: s.gpu.Load(), CPU: s.cpu.Load(), GPUNodes: s.gpuNodes, CPUNodes: s.cpuNodes,
			Sparse24Nodes: s.sparseNodes})
	}
	r.Sparse24Auto = slices.Clone(b.choices)
	b.mu.Unlock()
	r.Transfers = b.Dev.Transfers.Snapshot()
	r.Pool = b.Dev.PoolStats()
	r.sortOps()
	return r
}

// Close frees the constants uploaded for the sessions of this backend.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var first error
	for _, c := range b.consts {
		if err := c.Free(); err != nil && first == nil {
			first = err
		}
	}
	b.consts = nil
	return first
}

// timedLaunches is how many launches timeLaunch averages.
const timedLaunches = 5

// timeLaunch runs launch once (a kernel's first launch may load it), then
// returns the mean time of timedLaunches more, queued between two events
// on the NULL stream, which it shares with every launch of this backend
// (the host's work for each launch included, as in a run).
func (b *Backend) timeLaunch(launch func() error) (time.Duration, error) {
	start, err := b.Dev.NewEvent()
	if err != nil {
		return 0, err
	}
	defer start.Destroy()
	end, err := b.Dev.NewEvent()
	if err != nil {
		return 0, err
	}
	defer end.Destroy()
	if err := launch(); err != nil {
		return 0, err
	}
	if err := start.Record(nil); err != nil {
		return 0, err
	}
	for i := 0; i < timedLaunches; i++ {
		if err := launch(); err != nil {
			return 0, err
		}
	}
	if err := end.Record(nil); err != nil {
		return 0, err
	}
	d, err := end.Since(start)
	return d / timedLaunches, err
}

// constant uploads host bytes that stay on the device for the backend's
// lifetime (weights, scales).
func (b *Backend) constant(data []byte) (*cuda.Buffer, error) {
	buf, err := cuda.Upload(b.Dev, data)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.consts = append(b.consts, buf)
	b.cbytes += int64(len(data))
	b.mu.Unlock()
	return buf, nil
}
