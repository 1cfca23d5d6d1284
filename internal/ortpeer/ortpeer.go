// Package ortpeer runs ONNX models in ONNX Runtime, the peer and referee of
// gcompress: interop tests check that what gcompress exports runs in ORT and
// agrees with our runtime, and benchmarks time ORT beside us in the same
// process. The ORT shared library (libonnxruntime.so.1 from the npm package
// onnxruntime-node@1.30.0, fetched by `make peers`) is loaded at run time, so
// nothing here is needed to build or to run gcompress itself.
package ortpeer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sys/cpu"

	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// LibEnv names the environment variable that points at libonnxruntime.so.1.
const LibEnv = "GCOMPRESS_ORT_LIB"

// RequireEnv, when "1", turns a missing peer into a test failure (CI).
const RequireEnv = "GCOMPRESS_REQUIRE_PEERS"

// relLib is where `make peers` puts the library, relative to the repo root.
const relLib = ".peers/onnxruntime/libonnxruntime.so.1"

var (
	initOnce sync.Once
	initErr  error
)

// LibPath finds libonnxruntime.so.1: $GCOMPRESS_ORT_LIB, else
// .peers/onnxruntime/ in the working directory or any parent (the repo root
// when run from a package directory by go test), else in the directory of
// the executable or any parent (bin/gcompress run from elsewhere).
func LibPath() (string, error) {
	if p := os.Getenv(LibEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", LibEnv, p, err)
		}
		return p, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, relLib)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("ONNX Runtime not found: run 'make peers' in the gcompress repository (fetches onnxruntime-node@1.30.0) or set %s", LibEnv)
}

// Init loads ONNX Runtime once per process, and has gcompress's parallel
// sections keep a spare P beside its thread pool
// (runtime.ReserveSpareP).
func Init() error {
	initOnce.Do(func() {
		runtime.ReserveSpareP()
		var lib string
		lib, initErr = LibPath()
		if initErr != nil {
			return
		}
		ort.SetSharedLibraryPath(lib)
		initErr = ort.InitializeEnvironment(ort.WithLogLevelError())
	})
	return initErr
}

// Require initialises ORT for a test. Without the library the test is
// skipped, or fails when GCOMPRESS_REQUIRE_PEERS=1 (as in CI).
func Require(t testing.TB) {
	t.Helper()
	if err := Init(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("ONNX Runtime peer required: %v", err)
		}
		t.Skipf("ONNX Runtime peer not available: %v", err)
	}
}

// Session is an ORT inference session over one model.
type Session struct {
	s       *ort.DynamicAdvancedSession
	inputs  []string
	outputs []string
	// unbindable explains why the binding cannot return some output
	// ("" when it can return all of them).
	unbindable string
}

// NewSession creates an ORT session from a serialized model, with intra-op
// threads (0: ORT's default) and one inter-op thread.
func NewSession(model []byte, threads int) (*Session, error) {
	if err := Init(); err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, sessionError(err)
	}
	s := &Session{}
	for _, i := range ins {
		s.inputs = append(s.inputs, i.Name)
	}
	for _, o := range outs {
		s.outputs = append(s.outputs, o.Name)
		switch {
		case len(o.Dimensions) == 0:
			s.unbindable = fmt.Sprintf("output %q is a scalar (rank 0)", o.Name)
		case o.DataType == ort.TensorElementDataTypeFloat16 || o.DataType == ort.TensorElementDataTypeBFloat16:
			s.unbindable = fmt.Sprintf("output %q is %v (the binding copies half of a 16-bit float output)", o.Name, o.DataType)
		}
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, fmt.Errorf("onnxruntime: %w", err)
		}
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	s.s, err = ort.NewDynamicAdvancedSessionWithONNXData(model, s.inputs, s.outputs, opts)
	if err != nil {
		return nil, sessionError(err)
	}
	return s, nil
}

// sessionError wraps a session-creation failure, marking ORT's "no kernel
// for this op and type" with ErrNotImplemented.
func sessionError(err error) error {
	if strings.Contains(err.Error(), "Could not find an implementation") {
		return fmt.Errorf("onnxruntime: %w: %v", ErrNotImplemented, err)
	}
	return fmt.Errorf("onnxruntime: %w", err)
}

// Close releases the session.
func (s *Session) Close() error { return s.s.Destroy() }

// InputNames lists the model inputs ORT expects.
func (s *Session) InputNames() []string { return s.inputs }

// ErrBinding marks values the Go binding (github.com/yalue/onnxruntime_go
// v1.27) cannot exchange with ORT: rank-0 tensors, models without inputs,
// and float16/bfloat16 outputs.
var ErrBinding = errors.New("onnxruntime_go cannot exchange this value with ORT")

// ErrNotImplemented marks models ORT refuses because it has no kernel for an
// operator/type combination the ONNX spec allows.
var ErrNotImplemented = errors.New("ONNX Runtime has no kernel for this")

// Run executes the model on named inputs and returns the outputs in graph
// order.
func (s *Session) Run(inputs map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	if len(s.inputs) == 0 {
		return nil, fmt.Errorf("%w: the model has no inputs", ErrBinding)
	}
	if s.unbindable != "" {
		return nil, fmt.Errorf("%w: %s", ErrBinding, s.unbindable)
	}
	for name, t := range inputs {
		if t.Rank() == 0 {
			return nil, fmt.Errorf("%w: input %q is a scalar (rank 0)", ErrBinding, name)
		}
	}
	in := make([]ort.Value, len(s.inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, name := range s.inputs {
		t, ok := inputs[name]
		if !ok {
			return nil, fmt.Errorf("onnxruntime: missing input %q", name)
		}
		v, err := toORT(t)
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: input %q: %w", name, err)
		}
		in[i] = v
	}
	out := make([]ort.Value, len(s.outputs))
	if err := s.s.Run(in, out); err != nil {
		return nil, fmt.Errorf("onnxruntime: %w", err)
	}
	res := make([]*tensor.Tensor, len(out))
	for i, v := range out {
		t, err := fromORT(v)
		v.Destroy()
		if err != nil {
			return nil, fmt.Errorf("onnxruntime: output %q: %w", s.outputs[i], err)
		}
		res[i] = t
	}
	return res, nil
}

func toORT(t *tensor.Tensor) (ort.Value, error) {
	shape := make([]int64, t.Rank())
	for i, d := range t.Shape() {
		shape[i] = int64(d)
	}
	if t.DType() == tensor.String {
		st, err := ort.NewStringTensor(ort.NewShape(shape...))
		if err != nil {
			return nil, err
		}
		return st, st.SetContents(tensor.Data[string](t))
	}
	data := append([]byte(nil), t.RawBytes()...)
	if len(data) == 0 {
		data = make([]byte, 1) // ORT rejects a nil buffer even for empty tensors
	}
	return ort.NewCustomDataTensor(ort.NewShape(shape...), data, ort.TensorElementDataType(t.DType()))
}

func fromORT(v ort.Value) (*tensor.Tensor, error) {
	if v == nil {
		return nil, errors.New("no value")
	}
	shape := make([]int, len(v.GetShape()))
	for i, d := range v.GetShape() {
		shape[i] = int(d)
	}
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return tensor.FromSlice(shape, append([]float32(nil), x.GetData()...)), nil
	case *ort.Tensor[float64]:
		return tensor.FromSlice(shape, append([]float64(nil), x.GetData()...)), nil
	case *ort.Tensor[int8]:
		return tensor.FromSlice(shape, append([]int8(nil), x.GetData()...)), nil
	case *ort.Tensor[uint8]:
		return tensor.FromSlice(shape, append([]uint8(nil), x.GetData()...)), nil
	case *ort.Tensor[int16]:
		return tensor.FromSlice(shape, append([]int16(nil), x.GetData()...)), nil
	case *ort.Tensor[uint16]:
		return tensor.FromSlice(shape, append([]uint16(nil), x.GetData()...)), nil
	case *ort.Tensor[int32]:
		return tensor.FromSlice(shape, append([]int32(nil), x.GetData()...)), nil
	case *ort.Tensor[uint32]:
		return tensor.FromSlice(shape, append([]uint32(nil), x.GetData()...)), nil
	case *ort.Tensor[int64]:
		return tensor.FromSlice(shape, append([]int64(nil), x.GetData()...)), nil
	case *ort.Tensor[uint64]:
		return tensor.FromSlice(shape, append([]uint64(nil), x.GetData()...)), nil
	case *ort.Tensor[bool]:
		return tensor.FromSlice(shape, append([]bool(nil), x.GetData()...)), nil
	case *ort.StringTensor:
		s, err := x.GetContents()
		if err != nil {
			return nil, err
		}
		return tensor.FromSlice(shape, s), nil
	}
	return nil, fmt.Errorf("unsupported ORT output type %T (dtype %v)", v, v.DataType())
}

// Saturates8Bit reports whether ONNX Runtime's 8-bit GEMM and convolution
// kernels may saturate on this CPU: on x86-64 without VNNI its MLAS kernels
// multiply uint8 by int8 with vpmaddubsw, which adds pairs of products in
// 16 bits with saturation (int8 activations go through the same kernels
// shifted to uint8), so results with weights beyond [-64, 64] can differ
// from exact integer arithmetic. That is the case its quantization guide
// gives for reduce_range (gcompress quantize --reduce-range).
func Saturates8Bit() bool {
	return goruntime.GOARCH == "amd64" && !cpu.X86.HasAVX512VNNI && !cpu.X86.HasAVXVNNI
}
