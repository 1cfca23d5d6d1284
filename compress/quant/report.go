package quant

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Markdown renders the report as a Markdown document: settings, the
// evaluation, the per-layer table and the integer ops the runtime uses.
func (r *Report) Markdown(model, output string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# INT8 quantization of %s\n\n", filepath.Base(model))
	fmt.Fprintf(&b, "- output: `%s` (QDQ ONNX)\n", output)
	if r.WeightOnly != "" {
		fmt.Fprintf(&b, "- weight-only %s", r.WeightOnly)
		if r.GroupSize > 0 {
			fmt.Fprintf(&b, ", group size %d", r.GroupSize)
		}
		b.WriteString("; activations stay float\n")
	} else {
		method := string(r.Method)
		if r.Method == MethodPercentile {
			method += fmt.Sprintf(" (%g%%)", r.Percentile)
		}
		if r.EntropyFallback != nil {
			if *r.EntropyFallback {
				method += fmt.Sprintf(" (minmax fallback where it quantizes worse: %d of %d tensors)", len(r.Fallbacks()), r.activationTensors())
			} else {
				method += " (TensorRT thresholds, no fallback)"
			}
		}
		fmt.Fprintf(&b, "- calibration: %s on %d samples, %d-bin histograms, %.2f s\n", method, r.CalibSamples, r.Bins, r.CalibSeconds)
		wt := "per tensor"
		if r.PerChannel {
			wt = "per output channel"
		}
		if r.ReduceRange {
			wt += ", 7-bit range [-64, 64] (--reduce-range)"
		}
		fmt.Fprintf(&b, "- weights: int8 symmetric %s; activations: %s per tensor; bias: int32 (scale s_in * s_w)\n", wt, r.Activations)
	}
	fmt.Fprintf(&b, "- initializers: %s -> %s\n", humanBytes(r.BytesFloat), humanBytes(r.BytesQuant))
	if p := r.Prepare; p.ConstantsFolded+p.BatchNormsFolded+p.IdentitiesRemoved+p.GemmsNormalised+p.SumsAsAdds > 0 {
		fmt.Fprintf(&b, "- before quantizing: %d constants folded, %d BatchNorm/Mul/Add folded, %d identities removed, %d Gemm alpha/beta folded, %d two-input Sums written as Add\n",
			p.ConstantsFolded, p.BatchNormsFolded, p.IdentitiesRemoved, p.GemmsNormalised, p.SumsAsAdds)
	}
	if e := r.Eval; e != nil {
		b.WriteString("\n## Evaluation\n\n")
		where := fmt.Sprintf("%d samples", e.Samples)
		if e.Split != "" {
			where = fmt.Sprintf("%d samples of the %s split", e.Samples, e.Split)
		}
		fmt.Fprintf(&b, "On %s, the quantized model run by gcompress with integer kernels:\n\n", where)
		b.WriteString("| metric | value |\n|---|---|\n")
		if e.AccuracyFloat != nil {
			fmt.Fprintf(&b, "| top-1 accuracy FP32 | %.2f%% |\n| top-1 accuracy INT8 | %.2f%% |\n| accuracy drop | %.2f points |\n",
				100**e.AccuracyFloat, 100**e.AccuracyQuant, 100*(*e.AccuracyFloat-*e.AccuracyQuant))
		}
		fmt.Fprintf(&b, "| top-1 agreement with FP32 | %.2f%% |\n| logits NMSE | %.3g |\n", 100*e.Agreement, e.LogitsNMSE)
	}
	b.WriteString("\n## Layers\n\n")
	b.WriteString("| layer | op | precision | activation | act scale | act zp | amax | clipped % | weight scale (min..max) | output NMSE | sensitivity NMSE | sensitivity drop |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, l := range r.Layers {
		prec := "int8"
		if !l.Quantized {
			prec = "float"
			if l.Float != "" {
				prec += " (" + l.Float + ")"
			}
		}
		sn, sd := "", ""
		if l.SensitivityNMSE != nil {
			sn = fmt.Sprintf("%.3g", *l.SensitivityNMSE)
		}
		if l.SensitivityAccDrop != nil {
			sd = fmt.Sprintf("%.2f", *l.SensitivityAccDrop)
		}
		ws, on := "", ""
		if l.Quantized {
			ws = fmt.Sprintf("%.3g..%.3g", l.WeightScaleMin, l.WeightScaleMax)
			on = fmt.Sprintf("%.3g", l.OutputNMSE)
		}
		act, as, az, am, cl := "", "", "", "", ""
		if l.ActTensor != "" && r.WeightOnly == "" {
			act = "`" + l.ActTensor + "`"
			as, az = fmt.Sprintf("%.4g", l.ActScale), fmt.Sprintf("%d (%s)", l.ActZeroPoint, l.ActType)
			am, cl = fmt.Sprintf("%.4g", l.Amax), fmt.Sprintf("%.3f", l.ClippedPct)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			l.Name, l.Op, prec, act, as, az, am, cl, ws, on, sn, sd)
	}
	if len(r.Adds) > 0 {
		b.WriteString("\n## Residual adds\n\n")
		b.WriteString("| add | inputs | output activation | act scale | act zp | amax | clipped % | output NMSE |\n|---|---|---|---|---|---|---|---|\n")
		for _, a := range r.Adds {
			fmt.Fprintf(&b, "| %s | `%s` | `%s` | %.4g | %d (%s) | %.4g | %.3f | %.3g |\n", a.Name, strings.Join(a.Inputs, "`, `"),
				a.ActTensor, a.ActScale, a.ActZeroPoint, a.ActType, a.Amax, a.ClippedPct, a.OutputNMSE)
		}
	}
	if fb := r.Fallbacks(); len(fb) > 0 {
		b.WriteString("\nEntropy thresholds rejected (they quantize the calibration values with a larger error than the unclipped range, which is used instead):\n\n")
		b.WriteString("| activation | entropy amax | would clip % | MSE with it | MSE unclipped (used) |\n|---|---|---|---|---|\n")
		for _, l := range fb {
			f := l.EntropyFallback
			fmt.Fprintf(&b, "| `%s` | %.4g | %.3f | %.3g | %.3g |\n", l.ActTensor, f.Amax, 100*f.Clipped, f.MSE, f.MinMaxMSE)
		}
	}
	if len(r.Skipped) > 0 {
		b.WriteString("\nNot quantizable:\n\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "- %s\n", s)
		}
	}
	b.WriteString("\n## Integer execution in gcompress\n\n")
	ops := make([]string, 0, len(r.Lowering.Ops))
	for op, n := range r.Lowering.Ops {
		ops = append(ops, fmt.Sprintf("%s x%d", op, n))
	}
	sort.Strings(ops)
	if len(ops) == 0 {
		b.WriteString("No integer op (every quantized layer stays DequantizeLinear + float op).\n")
	} else {
		fmt.Fprintf(&b, "The QDQ patterns are lowered to: %s.\n", strings.Join(ops, ", "))
	}
	for _, f := range r.Lowering.Float {
		fmt.Fprintf(&b, "- float: %s\n", f)
	}
	if len(r.CalibTable) > 0 {
		b.WriteString("\n## Calibration table (amax per tensor)\n\n| tensor | amax |\n|---|---|\n")
		for _, k := range sortedKeys(r.CalibTable) {
			fmt.Fprintf(&b, "| `%s` | %.6g |\n", k, r.CalibTable[k])
		}
	}
	return b.String()
}

// Fallbacks returns the layers and adds whose activation's entropy
// threshold was rejected, one per activation tensor, in layer order.
func (r *Report) Fallbacks() []LayerReport {
	var out []LayerReport
	seen := map[string]bool{}
	for _, l := range slices.Concat(r.Layers, r.Adds) {
		if l.EntropyFallback != nil && !seen[l.ActTensor] {
			seen[l.ActTensor] = true
			out = append(out, l)
		}
	}
	return out
}

// activationTensors counts the distinct activation tensors of the layers.
func (r *Report) activationTensors() int {
	seen := map[string]bool{}
	for _, l := range r.Layers {
		if l.ActTensor != "" {
			seen[l.ActTensor] = true
		}
	}
	return len(seen)
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// WriteCalibTable writes the calibration table: JSON {"tensor": amax, ...}
// (keys sorted) when asJSON, else TensorRT's calibration cache text: a
// header line "TRT-8600-EntropyCalibration2" then one "tensor: HEX" line
// per tensor, HEX the big-endian bits of the float32 scale amax/127 (what
// TensorRT's IInt8Calibrator::readCalibrationCache reads).
func WriteCalibTable(w io.Writer, table map[string]float64, asJSON bool) error {
	if asJSON {
		b, err := json.MarshalIndent(table, "", "  ")
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	if _, err := io.WriteString(w, "TRT-8600-EntropyCalibration2\n"); err != nil {
		return err
	}
	for _, k := range sortedKeys(table) {
		bits := math.Float32bits(float32(table[k] / 127))
		if _, err := fmt.Fprintf(w, "%s: %08x\n", k, bits); err != nil {
			return err
		}
	}
	return nil
}
