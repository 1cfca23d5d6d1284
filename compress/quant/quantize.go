package quant

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gcompress/gcompress/data"
	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/tensor"
)

// Options configure QuantizeModel.
type Options struct {
	// Method chooses activation ranges (MethodEntropy when empty).
	Method Method
	// Percentile for MethodPercentile (DefaultPercentile when 0).
	Percentile float64
	// NoFallback keeps every entropy threshold, even where the unclipped
	// range quantizes the calibration values with a smaller error
	// (CalibConfig.NoFallback: TensorRT's thresholds exactly).
	NoFallback bool
	// Bins per histogram (DefaultBins when 0).
	Bins int
	// PerChannel quantizes weights per output channel (else per tensor).
	PerChannel bool
	// ReduceRange quantizes weights to 7 bits (WeightFormat.ReduceRange),
	// for ONNX Runtime on x86-64 CPUs without VNNI. Weight-only
	// quantization ignores it.
	ReduceRange bool
	// Activations is tensor.Uint8 (asymmetric, the default) or tensor.Int8
	// (symmetric).
	Activations tensor.DType
	// Ignore lists node names or op types to keep in float.
	Ignore []string
	// FloatAdds keeps residual adds (see ResidualAdd) in float, and with
	// them the output of each convolution before one. By default they are
	// quantized: inputs and output INT8, so that ONNX Runtime and TensorRT
	// run the adds and those convolutions in INT8. Weight-only
	// quantization ignores it.
	FloatAdds bool
	// Calib: samples, batch size, threads, histogram bins of calibration.
	Calib RunOptions

	// Eval is a labelled set for the accuracy numbers, the sensitivity
	// analysis and --max-drop (nil: the calibration set is used for the
	// error measures and no accuracy is reported). EvalSamples limits it.
	Eval        *data.Dataset
	EvalSamples int
	// EvalSplit names Eval's split in the report.
	EvalSplit string

	// Sensitivity quantizes one layer at a time and ranks the layers by
	// the NMSE of the logits it causes (and accuracy drop with Eval).
	Sensitivity bool
	// KeepFloat keeps the KeepFloat most sensitive layers in float.
	KeepFloat int
	// MaxDrop, when set, keeps the most sensitive layers in float, one at
	// a time, until the accuracy drop on Eval is at most *MaxDrop
	// percentage points (needs Eval; < 0: off).
	MaxDrop *float64

	// WeightOnly, "int8" or "int4", quantizes only MatMul/Gemm weights
	// (see WeightOnly); calibration is skipped and calib may be nil.
	// GroupSize is the block size along K (0: per channel for int8,
	// DefaultGroupSize for int4).
	WeightOnly string
	GroupSize  int

	// Stage, when set, reports progress: a stage name and done/total.
	Stage func(stage string, done, total int)
}

// LayerReport is one row of the per-layer table.
type LayerReport struct {
	Name      string `json:"name"`
	Op        string `json:"op"`
	Quantized bool   `json:"quantized"`
	// Why a layer is float: "ignored", "kept float (sensitivity)", ...
	Float string `json:"float,omitempty"`
	// Activation: the tensor quantized, its parameters, threshold and the
	// fraction of calibration values clipped.
	ActTensor    string  `json:"activation_tensor,omitempty"`
	ActScale     float32 `json:"activation_scale,omitempty"`
	ActZeroPoint int32   `json:"activation_zero_point"`
	ActType      string  `json:"activation_type,omitempty"`
	Amax         float64 `json:"amax,omitempty"`
	ClippedPct   float64 `json:"clipped_pct"`
	// EntropyFallback is set when the entropy threshold of the activation
	// was rejected for its unclipped range (see Calibrate).
	EntropyFallback *Fallback `json:"entropy_fallback,omitempty"`
	// Weight scales (min and max over channels).
	WeightScaleMin float32 `json:"weight_scale_min,omitempty"`
	WeightScaleMax float32 `json:"weight_scale_max,omitempty"`
	WeightAxis     int     `json:"weight_axis"`
	// Inputs are the activation tensors of a residual add's two inputs.
	Inputs []string `json:"inputs,omitempty"`
	// OutputNMSE is the NMSE of the layer's output in the quantized model
	// against the float model (over the evaluation samples).
	OutputNMSE float64 `json:"output_nmse"`
	// Sensitivity: logits NMSE and accuracy drop (points) with only this
	// layer quantized (when the analysis ran).
	SensitivityNMSE    *float64 `json:"sensitivity_nmse,omitempty"`
	SensitivityAccDrop *float64 `json:"sensitivity_acc_drop,omitempty"`
}

// Report describes a quantization run.
type Report struct {
	Method     Method  `json:"method,omitempty"`
	WeightOnly string  `json:"weight_only,omitempty"`
	GroupSize  int     `json:"group_size,omitempty"`
	Percentile float64 `json:"percentile,omitempty"`
	// EntropyFallback (entropy only) says whether thresholds that
	// quantize worse than the unclipped range fall back to it (see
	// Calibrate); the layers that fell back carry entropy_fallback.
	EntropyFallback *bool  `json:"entropy_fallback,omitempty"`
	Activations     string `json:"activations,omitempty"`
	PerChannel      bool   `json:"per_channel"`
	ReduceRange     bool   `json:"reduce_range,omitempty"`
	CalibSamples    int    `json:"calib_samples"`
	Bins            int    `json:"bins"`
	// Prepare is what the float passes changed before quantizing.
	Prepare PrepareReport `json:"prepare"`
	Layers  []LayerReport `json:"layers"`
	// Adds are the quantized residual adds (see Options.FloatAdds): the
	// activation fields describe the output point.
	Adds []LayerReport `json:"adds,omitempty"`
	// Skipped are Conv/Gemm/MatMul nodes that could not be quantized.
	Skipped []string `json:"skipped,omitempty"`
	// CalibTable maps each quantized activation tensor to its threshold
	// amax (TensorRT calibration table).
	CalibTable map[string]float64 `json:"calib_table"`
	// Evaluation of the float and quantized models (integer execution of
	// the lowered model) on EvalSamples samples.
	Eval *EvalReport `json:"eval,omitempty"`
	// Lowering says which integer ops gcompress's runtime executes.
	Lowering LowerReport `json:"lowering"`
	// Bytes of initializers before and after.
	BytesFloat int64 `json:"bytes_float"`
	BytesQuant int64 `json:"bytes_quantized"`
	// Seconds spent calibrating (observing and choosing ranges).
	CalibSeconds float64 `json:"calib_seconds"`
}

// EvalReport compares the quantized model with the float one.
type EvalReport struct {
	Split   string `json:"split,omitempty"`
	Samples int    `json:"samples"`
	// Accuracies are nil when the evaluation set has no labels to use.
	AccuracyFloat *float64 `json:"accuracy_fp32,omitempty"`
	AccuracyQuant *float64 `json:"accuracy_quantized,omitempty"`
	// Agreement is the fraction of samples whose top-1 class is the same.
	Agreement  float64 `json:"top1_agreement"`
	LogitsNMSE float64 `json:"logits_nmse"`
}

// quantizedOps are the ops of a model that is quantized already (QDQ,
// integer or weight-only): quantizing it again would quantize its
// dequantized tensors a second time and call the result's source "float".
var quantizedOps = map[string]bool{
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true, "QLinearConv": true,
	"QLinearMatMul": true, "ConvInteger": true, "MatMulInteger": true, "MatMulNBits": true,
}

// checkEvalLabels fails, before any work, for labels of ds outside the
// classes of g's first output when its last dimension is known (else the
// evaluation checks them once it has run the model).
func checkEvalLabels(g *graph.Graph, ds *data.Dataset) error {
	if ds == nil || ds.Labels == nil || len(g.Outputs) == 0 || len(g.Outputs[0].Shape) == 0 {
		return nil
	}
	if d := g.Outputs[0].Shape[len(g.Outputs[0].Shape)-1]; d.Known() {
		return ds.CheckLabels(int(d.Size))
	}
	return nil
}

// refuseQuantized fails for a graph with a quantization op.
func refuseQuantized(g *graph.Graph) error {
	for _, n := range g.Nodes {
		if quantizedOps[n.OpType] {
			return fmt.Errorf("the model is quantized already (node %s is %s): quantize its float original", n.Name, n.OpType)
		}
	}
	return nil
}

// QuantizeModel quantizes m to INT8 with post-training calibration on the
// first samples of calib and returns the QDQ model (see InsertQDQ) and a
// report. m is not modified. The steps: Prepare (BN and constant folding),
// MakePlan (quantizable layers, ignore list), Observe (streaming observers
// over the calibration batches), Calibrate (per activation point), optional
// sensitivity analysis and mixed precision, InsertQDQ, and an evaluation of
// the integer execution (Lower) against the float model.
func QuantizeModel(m *graph.Model, calib *data.Dataset, o Options) (*graph.Model, *Report, error) {
	if err := refuseQuantized(m.Graph); err != nil {
		return nil, nil, err
	}
	if err := checkEvalLabels(m.Graph, o.Eval); err != nil {
		return nil, nil, fmt.Errorf("evaluation set: %w", err)
	}
	if o.WeightOnly != "" {
		return weightOnlyModel(m, calib, o)
	}
	if o.Method == "" {
		o.Method = MethodEntropy
	}
	if _, err := ParseMethod(string(o.Method)); err != nil {
		return nil, nil, err
	}
	if o.Activations == tensor.Undefined {
		o.Activations = tensor.Uint8
	}
	if o.Activations != tensor.Uint8 && o.Activations != tensor.Int8 {
		return nil, nil, fmt.Errorf("activation type %v: want uint8 or int8", o.Activations)
	}
	if o.KeepFloat < 0 {
		return nil, nil, fmt.Errorf("keep-float %d must be >= 0", o.KeepFloat)
	}
	if o.MaxDrop != nil && (o.Eval == nil || o.Eval.Labels == nil) {
		return nil, nil, errors.New("max-drop needs a labelled evaluation set")
	}
	stage := o.Stage
	if stage == nil {
		stage = func(string, int, int) {}
	}
	prep, pr, err := Prepare(m)
	if err != nil {
		return nil, nil, err
	}
	plan, err := MakePlan(prep, o.Ignore, !o.FloatAdds)
	if err != nil {
		return nil, nil, err
	}
	if len(plan.Layers) == 0 {
		return nil, nil, noLayersError(plan)
	}
	bins := o.Bins
	if bins <= 0 {
		bins = DefaultBins
	}
	wf := WeightFormat{PerChannel: o.PerChannel, ReduceRange: o.ReduceRange}
	rep := &Report{Method: o.Method, Activations: o.Activations.String(), PerChannel: o.PerChannel, ReduceRange: o.ReduceRange,
		Bins: bins, Prepare: pr, Skipped: plan.Skipped, CalibTable: map[string]float64{}}
	if o.Method == MethodEntropy {
		on := !o.NoFallback
		rep.EntropyFallback = &on
	}
	if o.Method == MethodPercentile {
		rep.Percentile = o.Percentile
		if rep.Percentile == 0 {
			rep.Percentile = DefaultPercentile
		}
	}

	// calibration
	start := time.Now()
	co := o.Calib
	co.Bins = bins
	co.Progress = func(done, total int) { stage("calibrating", done, total) }
	obs, seen, err := Observe(prep, Points(plan.Layers, plan.Adds), calib, co)
	if err != nil {
		return nil, nil, err
	}
	rep.CalibSamples = seen
	cals := map[string]*Calibrated{}
	act := map[string]*Params{}
	for _, p := range Points(plan.Layers, plan.Adds) {
		c, err := Calibrate(obs[p.Name], CalibConfig{Method: o.Method, Percentile: o.Percentile, DType: o.Activations, NoFallback: o.NoFallback})
		if err != nil {
			return nil, nil, err
		}
		cals[p.Name], act[p.Name] = c, c.Params
	}
	rep.CalibSeconds = time.Since(start).Seconds()

	evalSet, evalOpts := o.Eval, RunOptions{Samples: o.EvalSamples, Batch: o.Calib.Batch, Threads: o.Calib.Threads}
	if evalSet == nil {
		evalSet, evalOpts.Samples = calib, seen
	}
	evalOpts.Progress = func(done, total int) { stage("float reference", done, total) }
	ref, err := newReference(prep, evalSet, o.Eval != nil && o.Eval.Labels != nil, evalOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluating the float model: %w", err)
	}
	needRef := o.Sensitivity || o.KeepFloat > 0 || o.MaxDrop != nil

	// sensitivity and mixed precision
	layers := plan.Layers
	kept := map[string]string{}
	var sens map[string]sensitivity
	if needRef {
		evalOpts.Progress = nil
		sens, err = analyse(prep, plan.Layers, act, wf, ref, evalOpts, stage)
		if err != nil {
			return nil, nil, err
		}
		order := rankLayers(plan.Layers, sens, ref.labels != nil)
		for i := 0; i < o.KeepFloat && i < len(order); i++ {
			kept[order[i].Name] = fmt.Sprintf("kept float (sensitivity rank %d)", i+1)
		}
		layers = without(plan.Layers, kept)
		if o.MaxDrop != nil {
			for k := len(kept); k <= len(order); k++ {
				if len(layers) == 0 {
					break
				}
				q, _, err := InsertQDQ(prep, layers, plan.Adds, act, wf)
				if err != nil {
					return nil, nil, err
				}
				res, err := ref.compare(q, evalOpts)
				if err != nil {
					return nil, nil, err
				}
				if 100*(*ref.accuracy()-res.accuracy) <= *o.MaxDrop || k == len(order) {
					break
				}
				kept[order[k].Name] = fmt.Sprintf("kept float (max-drop, sensitivity rank %d)", k+1)
				layers = without(plan.Layers, kept)
			}
		}
		if len(layers) == 0 {
			why := ""
			if len(plan.Adds) > 0 {
				why = fmt.Sprintf("; the %d residual adds stay quantized throughout, FloatAdds (--quantize-adds=false) keeps them float", len(plan.Adds))
			}
			return nil, nil, fmt.Errorf("%w: every layer was kept in float (keep-float %d, max-drop %v)%s", ErrNothingToQuantize, o.KeepFloat, maxDropString(o.MaxDrop), why)
		}
	}

	q, lps, err := InsertQDQ(prep, layers, plan.Adds, act, wf)
	if err != nil {
		return nil, nil, err
	}
	low, lr, err := Lower(q)
	if err != nil {
		return nil, nil, err
	}
	rep.Lowering = lr

	// per-layer table
	byName := map[string]LayerParams{}
	for _, lp := range lps {
		byName[lp.Name] = lp
	}
	for _, l := range plan.Layers {
		lr := LayerReport{Name: l.Name, Op: l.Node.OpType, WeightAxis: l.WeightAxis, ActTensor: l.Point.Name}
		if s, ok := sens[l.Name]; ok {
			nm, dr := s.nmse, s.accDrop
			lr.SensitivityNMSE = &nm
			if ref.labels != nil {
				lr.SensitivityAccDrop = &dr
			}
		}
		c := cals[l.Point.Name]
		lr.Amax, lr.ClippedPct, lr.EntropyFallback = c.Amax, 100*c.Clipped, c.Fallback
		lr.ActScale, lr.ActZeroPoint, lr.ActType = c.Params.Scale[0], c.Params.ZeroPoint[0], c.Params.DType.String()
		if lp, ok := byName[l.Name]; ok {
			lr.Quantized = true
			lr.WeightScaleMin, lr.WeightScaleMax = minMax32(lp.Weight.Scale)
		} else {
			lr.Float = kept[l.Name]
		}
		rep.Layers = append(rep.Layers, lr)
	}
	for _, name := range plan.Ignored {
		rep.Layers = append(rep.Layers, LayerReport{Name: name, Float: "ignored"})
	}
	for _, a := range plan.Adds {
		c := cals[a.Out.Name]
		rep.Adds = append(rep.Adds, LayerReport{
			Name: a.Name, Op: a.Node.OpType, Quantized: true, WeightAxis: -1,
			Inputs:    []string{a.Points[0].Name, a.Points[1].Name},
			ActTensor: a.Out.Name, ActScale: c.Params.Scale[0], ActZeroPoint: c.Params.ZeroPoint[0], ActType: c.Params.DType.String(),
			Amax: c.Amax, ClippedPct: 100 * c.Clipped, EntropyFallback: c.Fallback,
		})
	}
	for _, v := range Points(layers, plan.Adds) {
		rep.CalibTable[v.Name] = cals[v.Name].Amax
	}

	// evaluation of the integer execution
	evalOpts.Progress = func(done, total int) { stage("evaluating int8", done, total) }
	res, err := ref.compare(low, evalOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluating the quantized model: %w", err)
	}
	ev := &EvalReport{Samples: ref.samples, Agreement: res.agreement, LogitsNMSE: res.nmse}
	if ref.labels != nil {
		a, b := *ref.accuracy(), res.accuracy
		ev.AccuracyFloat, ev.AccuracyQuant = &a, &b
	}
	if o.Eval != nil {
		ev.Split = o.EvalSplit
	}
	rep.Eval = ev
	layerNMSE, err := ref.layerErrors(q, probes(layers, plan.Adds), evalOpts)
	if err != nil {
		return nil, nil, err
	}
	for _, rows := range [][]LayerReport{rep.Layers, rep.Adds} {
		for i := range rows {
			if v, ok := layerNMSE[rows[i].Name]; ok {
				rows[i].OutputNMSE = v
			}
		}
	}
	rep.BytesFloat, rep.BytesQuant = initBytes(m.Graph), initBytes(q.Graph)
	return q, rep, nil
}

func without(layers []*Layer, drop map[string]string) []*Layer {
	var out []*Layer
	for _, l := range layers {
		if _, ok := drop[l.Name]; !ok {
			out = append(out, l)
		}
	}
	return out
}

func minMax32(v []float32) (float32, float32) {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

func initBytes(g *graph.Graph) int64 {
	var b int64
	for _, v := range g.Initializers {
		b += v.Const.Bytes()
	}
	return b
}

// rankLayers orders layers from most to least sensitive: by accuracy drop
// (when labels exist), then by logits NMSE, then by name.
func rankLayers(layers []*Layer, s map[string]sensitivity, byAcc bool) []*Layer {
	out := append([]*Layer(nil), layers...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := s[out[i].Name], s[out[j].Name]
		if byAcc && a.accDrop != b.accDrop {
			return a.accDrop > b.accDrop
		}
		if a.nmse != b.nmse {
			return a.nmse > b.nmse
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// weightOnlyModel is QuantizeModel for Options.WeightOnly.
func weightOnlyModel(m *graph.Model, calib *data.Dataset, o Options) (*graph.Model, *Report, error) {
	bits := 0
	switch o.WeightOnly {
	case "int8":
		bits = 8
	case "int4":
		bits = 4
	default:
		return nil, nil, fmt.Errorf("weight-only %q: want int8 or int4", o.WeightOnly)
	}
	if o.Sensitivity || o.KeepFloat > 0 || o.MaxDrop != nil {
		return nil, nil, errors.New("sensitivity analysis and mixed precision apply to full INT8 quantization, not weight-only")
	}
	stage := o.Stage
	if stage == nil {
		stage = func(string, int, int) {}
	}
	prep, pr, err := Prepare(m)
	if err != nil {
		return nil, nil, err
	}
	plan, err := MakePlan(prep, o.Ignore, false)
	if err != nil {
		return nil, nil, err
	}
	var layers []*Layer
	for _, l := range plan.Layers {
		if l.Node.OpType != "Conv" {
			layers = append(layers, l)
		}
	}
	if len(layers) == 0 {
		return nil, nil, fmt.Errorf("%w: weight-only quantization needs a MatMul or Gemm with a constant float32 weight", ErrNothingToQuantize)
	}
	group := o.GroupSize
	if bits == 4 && group == 0 {
		group = DefaultGroupSize
	}
	q, lps, err := WeightOnly(prep, layers, bits, group, o.PerChannel)
	if err != nil {
		return nil, nil, err
	}
	low, lr, err := Lower(q)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{WeightOnly: o.WeightOnly, GroupSize: group, PerChannel: o.PerChannel || group > 0, Prepare: pr,
		Skipped: plan.Skipped, Lowering: lr, BytesFloat: initBytes(m.Graph), BytesQuant: initBytes(q.Graph)}
	byName := map[string]LayerParams{}
	for _, lp := range lps {
		byName[lp.Name] = lp
	}
	for _, l := range plan.Layers {
		lr := LayerReport{Name: l.Name, Op: l.Node.OpType, WeightAxis: l.WeightAxis}
		if lp, ok := byName[l.Name]; ok {
			lr.Quantized = true
			lr.WeightScaleMin, lr.WeightScaleMax = minMax32(lp.Weight.Scale)
		} else if l.Node.OpType == "Conv" {
			lr.Float = "weight-only applies to MatMul/Gemm"
		} else {
			lr.Float = "Gemm C is not a bias"
		}
		rep.Layers = append(rep.Layers, lr)
	}
	for _, name := range plan.Ignored {
		rep.Layers = append(rep.Layers, LayerReport{Name: name, Float: "ignored"})
	}
	evalSet := o.Eval
	evalOpts := RunOptions{Samples: o.EvalSamples, Batch: o.Calib.Batch, Threads: o.Calib.Threads}
	if evalSet == nil && calib != nil {
		evalSet, evalOpts.Samples = calib, o.Calib.Samples
	}
	if evalSet == nil {
		return q, rep, nil
	}
	evalOpts.Progress = func(done, total int) { stage("float reference", done, total) }
	ref, err := newReference(prep, evalSet, o.Eval != nil && o.Eval.Labels != nil, evalOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluating the float model: %w", err)
	}
	evalOpts.Progress = func(done, total int) { stage("evaluating weight-only", done, total) }
	res, err := ref.compare(low, evalOpts)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluating the quantized model: %w", err)
	}
	rep.Eval = &EvalReport{Samples: ref.samples, Agreement: res.agreement, LogitsNMSE: res.nmse}
	if ref.labels != nil {
		a, b := ref.acc, res.accuracy
		rep.Eval.AccuracyFloat, rep.Eval.AccuracyQuant, rep.Eval.Split = &a, &b, o.EvalSplit
	}
	var quantized []*Layer
	for _, l := range layers {
		if _, ok := byName[l.Name]; ok {
			quantized = append(quantized, l)
		}
	}
	layerNMSE, err := ref.layerErrors(low, probes(quantized, nil), evalOpts)
	if err != nil {
		return nil, nil, err
	}
	for i := range rep.Layers {
		if v, ok := layerNMSE[rep.Layers[i].Name]; ok {
			rep.Layers[i].OutputNMSE = v
		}
	}
	return q, rep, nil
}

func maxDropString(p *float64) string {
	if p == nil {
		return "off"
	}
	return fmt.Sprintf("%g points", *p)
}
