package quant

import (
	"fmt"
	"math"
	"strings"

	"github.com/gcompress/gcompress/tensor"
)

// Method names a calibration method: how an activation's quantization
// range is chosen from what the observer saw.
type Method string

// The calibration methods.
const (
	// MethodMinMax uses the observed minimum and maximum (nothing clipped).
	MethodMinMax Method = "minmax"
	// MethodPercentile clips |x| at a percentile of the |x| histogram.
	MethodPercentile Method = "percentile"
	// MethodEntropy minimises the KL divergence between the |x| histogram
	// and its quantized version (TensorRT's entropy calibration), falling
	// back per tensor to the unclipped range where that threshold
	// quantizes worse than no clipping at all (see Calibrate).
	MethodEntropy Method = "entropy"
	// MethodMSE minimises the quantization error over the |x| histogram.
	MethodMSE Method = "mse"
)

// Methods lists the calibration methods.
var Methods = []Method{MethodMinMax, MethodPercentile, MethodEntropy, MethodMSE}

// ParseMethod checks a method name.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Methods))
	for i, m := range Methods {
		names[i] = string(m)
	}
	return "", fmt.Errorf("unknown calibration method %q (want %s)", s, strings.Join(names, ", "))
}

// DefaultPercentile is the percentile of |x| the percentile method keeps.
const DefaultPercentile = 99.99

// entropyStartBin is the smallest candidate threshold of the entropy and
// MSE searches, in bins (TensorRT's 128).
const entropyStartBin = 128

// CalibConfig says how to turn an observer into activation parameters.
type CalibConfig struct {
	Method Method
	// Percentile for MethodPercentile (DefaultPercentile when 0).
	Percentile float64
	// DType of the activations: tensor.Uint8 (asymmetric) or tensor.Int8
	// (symmetric, zero point 0).
	DType tensor.DType
	// NoFallback keeps the entropy threshold even where it quantizes the
	// calibration values with a larger error than the unclipped range
	// (TensorRT's thresholds exactly; see Calibrate).
	NoFallback bool
}

// Calibrated is the outcome of calibrating one tensor.
type Calibrated struct {
	// Amax is the clipping threshold on |x| the method chose (for minmax,
	// max(|min|, |max|)).
	Amax float64
	// Lo and Hi are the range handed to Choose.
	Lo, Hi float64
	// Clipped is the fraction of observed values with |x| above Amax.
	Clipped float64
	// Fallback is set when the entropy threshold was rejected for the
	// unclipped (minmax) range; it records what was rejected and why.
	Fallback *Fallback
	Params   *Params
}

// Fallback describes an entropy threshold that Calibrate rejected because
// it quantizes the calibration values with a larger error than the
// unclipped range. The errors are mean squared errors per value, in the
// tensor's units squared, estimated from the histogram as --method mse
// measures them (see histSqErr).
type Fallback struct {
	// Amax is the threshold the entropy search chose and Clipped the
	// fraction of values it would have clipped.
	Amax    float64 `json:"amax"`
	Clipped float64 `json:"clipped"`
	// MSE is the quantization error with that threshold, MinMaxMSE with
	// the unclipped range (the one used instead).
	MSE       float64 `json:"mse"`
	MinMaxMSE float64 `json:"minmax_mse"`
}

// unsignedLevels reports whether the tensor is quantized on non-negative
// values only (u8 activations that were never negative, e.g. after ReLU):
// then the whole integer range covers [0, amax].
func unsignedLevels(o *Observer, dt tensor.DType) bool { return dt == tensor.Uint8 && o.Min >= 0 }

// Calibrate chooses the quantization range of an observed activation:
//
//   - minmax: [min, max];
//   - percentile, entropy, mse: a threshold amax on |x| from the histogram
//     (see PercentileBins, EntropyBins, MSEBins), then the range
//     [max(min, -amax), min(max, amax)] (asymmetric u8 keeps a one-sided
//     range one-sided; symmetric s8 then takes max(|lo|, |hi|)).
//
// Entropy fallback (unless cfg.NoFallback): clipping must pay for itself.
// The squared quantization error of the histogrammed values, E(a) =
// sum_j h[j] (c_j - q_a(c_j))^2 with c_j the bin centres and q_a the
// activation type's grid up to a (mseSteps steps; histSqErr, the
// measure --method mse minimises), is computed for the entropy threshold
// and for the unclipped range a = max|x|; when E(entropy) is not below
// E(max|x|) (ties go to the larger range), the tensor gets the minmax
// range instead and Calibrated.Fallback records the rejected threshold
// and both errors.
// Why: KL divergence models each quantization level as spreading its
// mass evenly over its bins, so a point mass (e.g. ReLU(bias) on a
// constant image background: every background pixel of a channel has the
// same value) costs about mass*log(bins per level) whatever its real
// rounding error, a cost that grows with the range; on such histograms
// the KL minimum can clip several percent of the values (LeNet-5's first
// ReLU: 5.5%, 1.9 points of accuracy), and a threshold that raises E
// hands the next layer a noisier input than no clipping at all would
// (docs/RESULTS.md has the analysis). On heavy-tailed activations,
// where clipping is the point of the method, E(entropy) is the lower one
// and the TensorRT threshold is kept as is.
//
// Params follow with Choose: u8 asymmetric, or s8 symmetric with zero
// point 0 and the narrow range [-127, 127] (as TensorRT).
func Calibrate(o *Observer, cfg CalibConfig) (*Calibrated, error) {
	if o.Count == 0 {
		return nil, fmt.Errorf("tensor %q: no calibration values observed", o.Name)
	}
	if cfg.DType != tensor.Uint8 && cfg.DType != tensor.Int8 {
		return nil, fmt.Errorf("activation type %v: want uint8 or int8", cfg.DType)
	}
	c := &Calibrated{Lo: o.Min, Hi: o.Max, Amax: o.AbsMax()}
	h := o.Hist
	unsigned := unsignedLevels(o, cfg.DType)
	bins := -1
	if cfg.Method != MethodMinMax && h.Width > 0 {
		switch cfg.Method {
		case MethodPercentile:
			p := cfg.Percentile
			if p == 0 {
				p = DefaultPercentile
			}
			if !(p > 0 && p <= 100) {
				return nil, fmt.Errorf("percentile %v: want a value in (0, 100]", p)
			}
			bins = PercentileBins(h.Counts, p)
		case MethodEntropy:
			levels := 128
			if unsigned {
				levels = 256
			}
			bins = EntropyBins(h.Counts, levels)
		case MethodMSE:
			bins = MSEBins(h.Counts, mseSteps(unsigned, cfg.DType))
		default:
			return nil, fmt.Errorf("unknown calibration method %q", cfg.Method)
		}
		amax := float64(bins) * h.Width
		if amax < c.Amax {
			var clipped uint64
			for _, n := range h.Counts[bins:] {
				clipped += n
			}
			frac := float64(clipped) / float64(h.Total())
			if fb := entropyFallback(cfg, h, bins, c.Amax, frac, mseSteps(unsigned, cfg.DType)); fb != nil {
				c.Fallback = fb
			} else {
				c.Amax, c.Clipped = amax, frac
				c.Lo, c.Hi = math.Max(o.Min, -amax), math.Min(o.Max, amax)
			}
		}
	}
	p, err := Choose([]float32{float32(c.Lo)}, []float32{float32(c.Hi)},
		Config{DType: cfg.DType, Symmetric: cfg.DType == tensor.Int8})
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", o.Name, err)
	}
	c.Params = p
	return c, nil
}

// entropyFallback returns the Fallback record when the entropy threshold
// (bins bins, clipping the fraction clipped) quantizes the histogram with
// an error not below the unclipped range absMax's (see Calibrate), nil
// when the threshold stands or cfg does not ask for the check.
func entropyFallback(cfg CalibConfig, h *Histogram, bins int, absMax, clipped, steps float64) *Fallback {
	if cfg.Method != MethodEntropy || cfg.NoFallback {
		return nil
	}
	ent := histSqErr(h.Counts, float64(bins), steps)
	full := histSqErr(h.Counts, absMax/h.Width, steps)
	if !isTie(full, ent) {
		return nil
	}
	unit := h.Width * h.Width / float64(h.Total())
	return &Fallback{Amax: float64(bins) * h.Width, Clipped: clipped, MSE: ent * unit, MinMaxMSE: full * unit}
}

// mseSteps is the number of quantization steps between 0 and amax: 255 for
// u8 over [0, amax], 127 for symmetric s8, 127.5 for u8 over [-amax, amax].
func mseSteps(unsigned bool, dt tensor.DType) float64 {
	switch {
	case unsigned:
		return 255
	case dt == tensor.Int8:
		return 127
	}
	return 127.5
}

// PercentileBins returns the number of leading bins to keep so that they
// hold at least p percent of the counts: the smallest i with
// sum(counts[:i]) >= p/100 * total. The threshold is i bin widths (the
// upper edge of the bin where the cumulative fraction reaches p).
func PercentileBins(counts []uint64, p float64) int {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return len(counts)
	}
	need := p / 100 * float64(total)
	var cum uint64
	for i, c := range counts {
		cum += c
		if float64(cum) >= need {
			return i + 1
		}
	}
	return len(counts)
}

// Two divergences (or errors) within klTieRel relative or klTieAbs absolute
// distance of the minimum are ties (they differ only by the rounding of the
// summation order); ties go to the larger threshold.
const (
	klTieRel = 1e-9
	klTieAbs = 1e-12
)

// isTie reports whether v ties with the minimum best.
func isTie(v, best float64) bool { return v <= best+klTieRel*math.Abs(best)+klTieAbs }

// EntropyBins is TensorRT's entropy (KL-divergence) calibration on a
// histogram of |x| (Migacz, "8-bit Inference with TensorRT", GTC 2017, as
// implemented by NVIDIA's pytorch-quantization HistogramCalibrator). It
// returns the number of bins i to keep; the threshold is amax = i * width.
//
// With h the bin counts (n bins) and L quantized levels (128 for int8,
// 256 for uint8 data that is never negative):
//
//  1. Zero-bin spike: h[0] is replaced by h[1] before anything else.
//     After ReLU, bin 0 holds every exact zero; that spike would dominate
//     both distributions and pull the threshold towards small ranges, and
//     zero is exactly representable whatever the threshold.
//  2. Candidates are i = 128, 129, ..., n (thresholds from bin 128 to the
//     last bin edge; every bin is a candidate, stride 1).
//  3. Reference P (i bins): P[j] = h[j] for j < i-1, and the outliers are
//     folded into the last kept bin, P[i-1] = h[i-1] + sum(h[i:]).
//  4. Candidate Q: bin j < i belongs to level floor(j*L/i) (the
//     proportional split numpy's linspace/digitize gives, exact here
//     because L is a power of two); each level's count, sum(h[j]) over its
//     bins, is spread evenly over the level's non-zero bins only, so
//     Q[j] = level count / number of non-zero bins of the level where
//     h[j] > 0, and Q[j] = 0 where h[j] = 0. Q does not include the
//     outliers (they are what the quantized tensor loses).
//  5. Both are normalised and KL(P||Q) = sum_j p_j log(p_j / q_j) over
//     p_j > 0 (natural log). It is +Inf when some p_j > 0 has q_j = 0 (the
//     outliers land on an empty last bin); such candidates never win.
//  6. The smallest divergence wins; divergences within 1e-9 (relative) or
//     1e-12 (absolute) of the minimum are ties and the larger i (range)
//     wins, as pytorch-quantization's "last argmin".
//
// The sums are evaluated per level from prefix sums of h, h>0 and h*log h,
// so each candidate costs O(L) and the search O(n*L). A histogram with
// fewer than 128 bins, or no counts, keeps every bin.
//
// This is the algorithm exactly, including its blind spot: step 4 treats
// a point mass like any other bin, so on histograms with point masses
// away from zero (ReLU(bias) over a constant background; step 1 even
// copies one into bin 0 when bin 1 holds one) the divergence rewards
// small ranges that isolate them and the threshold can clip several
// percent of the values. Calibrate checks the result against the
// unclipped range (see there); EntropyBins itself stays TensorRT's.
func EntropyBins(counts []uint64, levels int) int {
	n := len(counts)
	if n <= entropyStartBin || levels <= 0 {
		return n
	}
	h := make([]float64, n)
	for j, c := range counts {
		h[j] = float64(c)
	}
	h[0] = h[1]
	// prefix sums over bins [0, j): count, non-zero bins, h*log(h)
	cum := make([]float64, n+1)
	nz := make([]int, n+1)
	hlogh := make([]float64, n+1)
	for j, v := range h {
		cum[j+1] = cum[j] + v
		nz[j+1] = nz[j]
		hlogh[j+1] = hlogh[j]
		if v > 0 {
			nz[j+1]++
			hlogh[j+1] += v * math.Log(v)
		}
	}
	total := cum[n]
	if total == 0 {
		return n
	}
	kl := make([]float64, n+1)
	best := math.Inf(1)
	for i := entropyStartBin; i <= n; i++ {
		kl[i] = entropyKL(h, cum, nz, hlogh, i, levels, total)
		best = math.Min(best, kl[i])
	}
	if math.IsInf(best, 1) {
		return n
	}
	for i := n; i >= entropyStartBin; i-- {
		if isTie(kl[i], best) {
			return i
		}
	}
	return n
}

// entropyKL is KL(P||Q) for candidate i (see EntropyBins), from prefix sums.
//
// With T = sum(h) (the total of P, since the outliers move into P[i-1]),
// S = sum(h[:i]) (the total of Q) and, for level k, c_k its count and m_k
// its number of non-zero bins, q_j = c_k / (m_k S) for the non-zero bins of
// level k, so
//
//	KL = (1/T) [ sum_j P_j log P_j - sum_k P_k log(c_k / (m_k S)) ] - log T
//
// where P_k = sum of P over level k's bins (c_k, plus the outliers for the
// level holding bin i-1).
func entropyKL(h, cum []float64, nz []int, hlogh []float64, i, levels int, total float64) float64 {
	out := total - cum[i]
	last := h[i-1] + out
	if h[i-1] == 0 && out > 0 {
		return math.Inf(1)
	}
	plogp := hlogh[i-1]
	if last > 0 {
		plogp += last * math.Log(last)
	}
	s := cum[i]
	cross := 0.0
	for k := 0; k < levels; k++ {
		a := (k*i + levels - 1) / levels     // ceil(k*i/L)
		b := ((k+1)*i + levels - 1) / levels // ceil((k+1)*i/L)
		if a >= b {
			continue
		}
		m := nz[b] - nz[a]
		if m == 0 {
			continue
		}
		c := cum[b] - cum[a]
		pk := c
		if b == i {
			pk += out
		}
		cross += pk * math.Log(c/(float64(m)*s))
	}
	return (plogp-cross)/total - math.Log(total)
}

// MSEBins chooses the threshold that minimises the squared quantization
// error of the histogrammed values: for each candidate i = 128..n (amax =
// i bin widths), every bin's count sits at its centre c = (j + 0.5) bins,
// is quantized to the grid of step amax/steps with at most floor(steps)
// steps (values beyond amax saturate), and the error is
// sum_j h[j] (c - q(c))^2. The smallest error wins; ties (as for
// EntropyBins) go to the larger range. Widths cancel, so the search works in bin
// units.
func MSEBins(counts []uint64, steps float64) int {
	n := len(counts)
	if n <= entropyStartBin {
		return n
	}
	errs := make([]float64, n+1)
	best := math.Inf(1)
	for i := entropyStartBin; i <= n; i++ {
		errs[i] = histSqErr(counts, float64(i), steps)
		best = math.Min(best, errs[i])
	}
	for i := n; i >= entropyStartBin; i-- {
		if isTie(errs[i], best) {
			return i
		}
	}
	return n
}

// histSqErr is the squared quantization error of the histogrammed |x|
// values with threshold amax (in bins, not necessarily whole): every
// bin's count sits at its centre c = j + 0.5, is quantized to the grid of
// step amax/steps with at most floor(steps) steps (values beyond amax
// saturate), and the error is sum_j h[j] (c - q(c))^2, in bin widths
// squared. The centre is exact enough for grids of about a bin or more
// (every candidate of MSEBins and EntropyBins: amax >= 128 bins).
func histSqErr(counts []uint64, amax, steps float64) float64 {
	maxq := math.Floor(steps)
	step := amax / steps
	e := 0.0
	for j, cnt := range counts {
		if cnt == 0 {
			continue
		}
		c := float64(j) + 0.5
		q := math.Min(math.RoundToEven(c/step), maxq) * step
		e += float64(cnt) * (c - q) * (c - q)
	}
	return e
}
