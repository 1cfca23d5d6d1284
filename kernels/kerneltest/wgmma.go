package kerneltest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gcompress/gcompress/kernels/ref"
	"github.com/gcompress/gcompress/tensor"
)

// WgmmaProbeCase is the problem of the wgmma layout probes
// (gc_wgmma_probe_s8 / _f16, kernels/gemm_wgmma.cu): A 64 x 128 bytes and B
// 128 x 128 bytes, row-major (one GEMM stage of K: int8, or f16 integers in
// [-1024, 1024], whose 16-term sums stay within float32's exact integers,
// 2^24, and are mostly distinct), and one k-step KK (32 bytes of K) of D =
// A·Bᵀ, which the probe returns as each of the warpgroup's 128 threads' 64
// accumulators. Check compares them with the layouts
// kernels/wgmma.cuh assumes and, where they differ, says which products the
// registers hold instead: that tells a wrong accumulator layout (another
// element of the same k-step), a wrong descriptor advance (the same element
// of another k-step) and a wrong operand layout (no product at all) apart.
//
// The sparse variant (NewWgmmaSparseProbeCase, gc_wgmma_sp_probe_*) is one
// 2:4 stage: A is 64 x 128 bytes of logical K (int8 128, halves 64 elements)
// with two non-zeros per group of four at random positions, passed as its
// compressed values (64 x 64 bytes) and metadata (64 x 16 or 8 bytes), and
// one sparse k-step KK (0..1) of it.
type WgmmaProbeCase struct {
	In     ref.Elem
	Sparse bool
	// Variant is the sparse probe's metadata layout (0: the GEMMs').
	Variant int
	// A: the dense A, or the sparse A's compressed values; Meta its metadata.
	A, B, Meta []byte
	KK         int
	// prod[kk][m][n] is the k-step kk product of row m and column n (the
	// sparse case has two k-steps).
	prod [][64][128]float64
}

// NewWgmmaProbeCase draws a probe problem for input in (S8 or F16) and
// k-step kk (0..3).
func NewWgmmaProbeCase(in ref.Elem, kk int, seed string) *WgmmaProbeCase {
	r := rng("wgmma probe " + seed)
	pc := &WgmmaProbeCase{In: in, KK: kk, A: probeOperand(r, in, 64), B: probeOperand(r, in, 128)}
	pc.products(pc.A, 4)
	return pc
}

// NewWgmmaSparseProbeCase draws a sparse probe problem for input in (S8 or
// F16) and sparse k-step kk (0..1).
func NewWgmmaSparseProbeCase(in ref.Elem, kk int, seed string) (*WgmmaProbeCase, error) {
	r := rng("wgmma sparse probe " + seed)
	pc := &WgmmaProbeCase{In: in, Sparse: true, KK: kk, B: probeOperand(r, in, 128)}
	dense := probeOperand(r, in, 64)
	eb := int(in.Bytes())
	k := 128 / eb
	for row := 0; row < 64; row++ {
		for g := 0; g < k; g += 4 {
			keep := r.Perm(4)[:2]
			for c := 0; c < 4; c++ {
				if c != keep[0] && c != keep[1] {
					clear(dense[row*128+(g+c)*eb : row*128+(g+c+1)*eb])
				}
			}
		}
	}
	var err error
	if pc.A, pc.Meta, _, err = Compress24(in, dense, 64, k); err != nil {
		return nil, err
	}
	pc.products(dense, 2)
	return pc, nil
}

// probeOperand is rows of 128 bytes: random int8, or f16 integers in
// [-1024, 1024].
func probeOperand(r *rand.Rand, in ref.Elem, rows int) []byte {
	b := make([]byte, rows*128)
	if in == ref.S8 {
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return b
	}
	for i := 0; i < len(b); i += 2 {
		binary.LittleEndian.PutUint16(b[i:], uint16(tensor.NewF16(float32(r.IntN(2049)-1024))))
	}
	return b
}

// products fills prod with the k-steps of the dense A (64 x 128 bytes)
// times B: steps of 128 bytes / steps of K each.
func (pc *WgmmaProbeCase) products(a []byte, steps int) {
	val := func(b []byte, row, k int) float64 { // element k of a 128-byte row
		if pc.In == ref.S8 {
			return float64(int8(b[row*128+k]))
		}
		return float64(tensor.F16(binary.LittleEndian.Uint16(b[row*128+2*k:])).Float32())
	}
	per := 128 / int(pc.In.Bytes()) / steps // elements of K per k-step
	pc.prod = make([][64][128]float64, steps)
	for kk := range pc.prod {
		for m := 0; m < 64; m++ {
			for n := 0; n < 128; n++ {
				var s float64
				for k := kk * per; k < (kk+1)*per; k++ {
					s += val(a, m, k) * val(pc.B, n, k)
				}
				pc.prod[kk][m][n] = s
			}
		}
	}
}

// wgmmaElement is the (row, column) of D that accumulator i of thread t
// holds (kernels/wgmma.cuh): warp t/32 owns rows 16(t/32)..+15; with g =
// lane/4, q = lane%4, register 4j + 2h + x is (16w + g + 8h, 8j + 2q + x).
func wgmmaElement(t, i int) (m, n int) {
	w, lane := t/32, t%32
	return 16*w + lane/4 + 8*(i%4/2), 8*(i/4) + 2*(lane%4) + i%2
}

// Want is the expected probe output: 128 threads x 64 accumulators, int32
// (S8) or float32, little-endian.
func (pc *WgmmaProbeCase) Want() []byte {
	out := make([]byte, 128*64*4)
	for t := 0; t < 128; t++ {
		for i := 0; i < 64; i++ {
			m, n := wgmmaElement(t, i)
			pc.put(out[4*(t*64+i):], pc.prod[pc.KK][m][n])
		}
	}
	return out
}

func (pc *WgmmaProbeCase) put(b []byte, v float64) {
	if pc.In == ref.S8 {
		binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	} else {
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
	}
}

func (pc *WgmmaProbeCase) get(b []byte) float64 {
	if pc.In == ref.S8 {
		return float64(int32(binary.LittleEndian.Uint32(b)))
	}
	return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
}

// Check compares a probe's output with Want and describes the first
// mismatching registers by the products that hold their values.
func (pc *WgmmaProbeCase) Check(got []byte) error {
	if len(got) != 128*64*4 {
		return fmt.Errorf("wgmma probe: %d bytes, want %d", len(got), 128*64*4)
	}
	// where lists the products of each value, the probe's own k-step first.
	where := map[float64][]string{}
	order := []int{pc.KK}
	for k := range pc.prod {
		if k != pc.KK {
			order = append(order, k)
		}
	}
	for _, kk := range order {
		for m := range pc.prod[kk] {
			for n, v := range pc.prod[kk][m] {
				where[v] = append(where[v], fmt.Sprintf("k-step %d (%d, %d)", kk, m, n))
			}
		}
	}
	var bad int
	var first []string
	for t := 0; t < 128; t++ {
		for i := 0; i < 64; i++ {
			m, n := wgmmaElement(t, i)
			v := pc.get(got[4*(t*64+i):])
			if v == pc.prod[pc.KK][m][n] {
				continue
			}
			if bad++; len(first) < 4 {
				held := "no product of any k-step"
				if c := where[v]; len(c) > 0 {
					held = strings.Join(c[:min(len(c), 3)], " or ")
				}
				first = append(first, fmt.Sprintf("thread %d reg %d: %g, want k-step %d (%d, %d) = %g; holds %s",
					t, i, v, pc.KK, m, n, pc.prod[pc.KK][m][n], held))
			}
		}
	}
	if bad == 0 {
		return nil
	}
	return fmt.Errorf("%d of 8192 accumulators differ: %s", bad, strings.Join(first, "; "))
}
