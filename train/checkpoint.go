package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gcompress/gcompress/internal/atomicfile"
	"github.com/gcompress/gcompress/tensor"
)

// A checkpoint directory holds
//
//	state.json                 the run's position and bookkeeping (ckptState)
//	ckpt-<step>.safetensors    parameters ("param/<name>"), running
//	                           statistics ("buffer/<name>"), solver state
//	                           ("<solver>/<slot>/<name>") and, with early
//	                           stopping, the best weights ("best/...")
//
// Both files are written atomically (temporary file + rename), the weights
// first; state.json names the weights file it belongs to, and older weights
// files are removed only after state.json points past them. A run killed
// at any moment therefore leaves a consistent checkpoint: the previous one
// or the new one.

const (
	stateFile    = "state.json"
	stateVersion = 1
)

// ckptState is state.json.
type ckptState struct {
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"`
	// Epoch (0-based) and Batch are where the run continues.
	Epoch int `json:"epoch"`
	Batch int `json:"batch"`
	Step  int `json:"step"`
	// RNG is the hex-encoded state of the epoch's batch stream (PCG) at
	// Batch; empty at an epoch boundary.
	RNG          string       `json:"rng,omitempty"`
	Weights      string       `json:"weights"`
	Accum        epochAccum   `json:"accum"`
	History      []EpochStats `json:"history"`
	HasBest      bool         `json:"has_best"`
	BestEpoch    int          `json:"best_epoch"`
	BestVal      float64      `json:"best_val"`
	BadEpochs    int          `json:"bad_epochs"`
	Stopped      bool         `json:"stopped"`
	TrainSeconds float64      `json:"train_seconds"`
	Samples      int64        `json:"samples"`
}

// isCheckpointFile reports whether name (a file in a checkpoint directory)
// is one that save writes: state.json, a weights file ckpt-<step, 8 or
// more digits>.safetensors, or the temporary file of either's atomic write
// (atomicfile: ".NAME.tmp*").
func isCheckpointFile(name string) bool {
	isOurs := func(n string) bool {
		if n == stateFile {
			return true
		}
		step, ok := strings.CutPrefix(n, "ckpt-")
		if !ok {
			return false
		}
		step, ok = strings.CutSuffix(step, ".safetensors")
		return ok && len(step) >= 8 && strings.Trim(step, "0123456789") == ""
	}
	if rest, ok := strings.CutPrefix(name, "."); ok {
		base, _, ok := strings.Cut(rest, ".tmp")
		return ok && isOurs(base)
	}
	return isOurs(name)
}

// isCheckpointEntry reports whether directory entry e is a checkpoint
// file: what CheckCheckpointDir lets a checkpoint directory hold is what
// RemoveCheckpoint deletes.
func isCheckpointEntry(e fs.DirEntry) bool { return e.Type().IsRegular() && isCheckpointFile(e.Name()) }

// ErrNotCheckpointDir marks a checkpoint directory that CheckCheckpointDir
// refuses for what it is or holds (not for an error reading it).
var ErrNotCheckpointDir = errors.New("not a checkpoint directory")

// CheckCheckpointDir reports whether dir may hold checkpoints: it does not
// exist yet, or it is a directory (not a symbolic link) holding nothing
// but checkpoint files. Anything else is refused with an error wrapping
// ErrNotCheckpointDir, since starting over and finishing delete the
// checkpoint files there.
func CheckCheckpointDir(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checkpoint directory: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("checkpoint directory %s is a symbolic link; give the directory itself: %w", dir, ErrNotCheckpointDir)
	case !fi.IsDir():
		return fmt.Errorf("checkpoint directory %s is a file: %w", dir, ErrNotCheckpointDir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checkpoint directory: %w", err)
	}
	for _, e := range entries {
		if !isCheckpointEntry(e) {
			return fmt.Errorf("checkpoint directory %s holds %s, which is not a checkpoint file; give a new or empty directory "+
				"(a run that starts over or finishes deletes the checkpoint files there): %w", dir, e.Name(), ErrNotCheckpointDir)
		}
	}
	return nil
}

// RemoveCheckpoint deletes the checkpoint files in dir, and with removeDir
// then dir itself if that leaves it empty. Nothing else is touched: a dir
// that does not exist, or is a symbolic link, is left alone.
func RemoveCheckpoint(dir string, removeDir bool) error {
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checkpoint: %w", err)
		}
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	left := 0
	for _, e := range entries {
		if !isCheckpointEntry(e) {
			left++
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	if removeDir && left == 0 {
		if err := os.Remove(dir); err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil
}

// fingerprint hashes everything that determines the run's result: the
// configuration, the loss, the initial weights, masks and frozen set, and
// the data. A checkpoint with another fingerprint is never resumed.
func fingerprint(cfg Config, net *Net, loss Loss, masks map[*Param][]float32, frozen func(string) bool, d Data) string {
	h := sha256.New()
	cj, _ := json.Marshal(cfg)
	h.Write(cj)
	if s, ok := loss.(fmt.Stringer); ok {
		io.WriteString(h, s.String())
	} else {
		fmt.Fprintf(h, "%T", loss)
	}
	f32 := func(v []float32) {
		var b [4]byte
		for _, x := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			h.Write(b[:])
		}
	}
	for _, p := range net.Params {
		fmt.Fprintf(h, "|param %s %v frozen=%v|", p.Name, p.Shape, p.Frozen)
		f32(p.Data)
		if mk, ok := masks[p]; ok {
			io.WriteString(h, "mask")
			f32(mk)
		}
	}
	for _, b := range net.Buffers {
		fmt.Fprintf(h, "|buffer %s|", b.Name)
		f32(b.Data)
	}
	if d.Train != nil {
		fmt.Fprintf(h, "%d %dx%d %v", d.Train.Len(), d.Train.Rows, d.Train.Cols, d.Train.Labels)
		f32(d.Train.Images.F32())
	}
	if d.Val != nil {
		fmt.Fprintf(h, "|val %d %v|", d.Val.Len(), d.Val.Labels)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (r *run) weightTensors() []tensor.NamedTensor {
	var out []tensor.NamedTensor
	for _, p := range r.net.Params {
		out = append(out, tensor.NamedTensor{Name: "param/" + p.Name, Tensor: tensor.FromSlice(p.Shape, p.Data)})
	}
	for _, b := range r.net.Buffers {
		out = append(out, tensor.NamedTensor{Name: "buffer/" + b.Name, Tensor: tensor.FromSlice([]int{len(b.Data)}, b.Data)})
	}
	out = append(out, r.solver.State()...)
	if r.best != nil {
		for i, p := range r.net.Params {
			out = append(out, tensor.NamedTensor{Name: "best/param/" + p.Name, Tensor: tensor.FromSlice(p.Shape, r.best.params[i])})
		}
		for i, b := range r.net.Buffers {
			out = append(out, tensor.NamedTensor{Name: "best/buffer/" + b.Name, Tensor: tensor.FromSlice([]int{len(b.Data)}, r.best.buffers[i])})
		}
	}
	return out
}

// save writes a checkpoint for position (r.epoch, r.batch).
func (r *run) save() error {
	dir := r.cfg.CheckpointDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	weights := fmt.Sprintf("ckpt-%08d.safetensors", r.step)
	ts := r.weightTensors()
	meta := map[string]string{"format": "gcompress-train-checkpoint", "fingerprint": r.fingerprint}
	if err := atomicfile.Write(filepath.Join(dir, weights), func(w io.Writer) error {
		return tensor.WriteSafetensors(w, ts, meta)
	}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	st := ckptState{Version: stateVersion, Fingerprint: r.fingerprint, Epoch: r.epoch, Batch: r.batch,
		Step: r.step, Weights: weights, Accum: r.accum, History: r.history, HasBest: r.best != nil,
		BestEpoch: r.bestEpoch, BestVal: r.bestVal, BadEpochs: r.badEpochs, TrainSeconds: r.trainSeconds,
		Samples: r.samples, Stopped: r.cfg.Patience > 0 && r.badEpochs >= r.cfg.Patience}
	if r.batch > 0 && r.rng != nil {
		b, err := r.rng.MarshalBinary()
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		st.RNG = hex.EncodeToString(b)
	}
	if err := atomicfile.Write(filepath.Join(dir, stateFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "ckpt-*.safetensors"))
	for _, f := range old {
		if filepath.Base(f) != weights {
			os.Remove(f)
		}
	}
	return nil
}

// resume loads the checkpoint in r.cfg.CheckpointDir if there is one. A
// checkpoint of a different run (another fingerprint) is an error, so that
// a changed command cannot silently continue an unrelated run.
func (r *run) resume() error {
	dir := r.cfg.CheckpointDir
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	var st ckptState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("checkpoint %s: %w", filepath.Join(dir, stateFile), err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("checkpoint %s: version %d, want %d", dir, st.Version, stateVersion)
	}
	if st.Fingerprint != r.fingerprint {
		return fmt.Errorf("checkpoint %s belongs to a run with other settings, data or initial weights; remove it (gcompress: --fresh) or choose another checkpoint directory to start afresh", dir)
	}
	if strings.ContainsAny(st.Weights, `/\`) || !strings.HasSuffix(st.Weights, ".safetensors") {
		return fmt.Errorf("checkpoint %s: invalid weights file name %q", dir, st.Weights)
	}
	ts, _, err := tensor.ReadSafetensorsFile(filepath.Join(dir, st.Weights))
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	byName := map[string]*tensor.Tensor{}
	for _, t := range ts {
		byName[t.Name] = t.Tensor
	}
	load := func(name string, dst []float32) error {
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("checkpoint %s: %s has no %q", dir, st.Weights, name)
		}
		if t.DType() != tensor.Float32 || t.Len() != len(dst) {
			return fmt.Errorf("checkpoint %s: %q is %v, want %d float32 values", dir, name, t, len(dst))
		}
		copy(dst, t.F32())
		return nil
	}
	for _, p := range r.net.Params {
		if err := load("param/"+p.Name, p.Data); err != nil {
			return err
		}
	}
	for _, b := range r.net.Buffers {
		if err := load("buffer/"+b.Name, b.Data); err != nil {
			return err
		}
	}
	if st.HasBest {
		r.best = &snapshot{}
		for _, p := range r.net.Params {
			v := make([]float32, len(p.Data))
			if err := load("best/param/"+p.Name, v); err != nil {
				return err
			}
			r.best.params = append(r.best.params, v)
		}
		for _, b := range r.net.Buffers {
			v := make([]float32, len(b.Data))
			if err := load("best/buffer/"+b.Name, v); err != nil {
				return err
			}
			r.best.buffers = append(r.best.buffers, v)
		}
	}
	var solverState []tensor.NamedTensor
	for _, t := range ts {
		if !strings.HasPrefix(t.Name, "param/") && !strings.HasPrefix(t.Name, "buffer/") && !strings.HasPrefix(t.Name, "best/") {
			solverState = append(solverState, t)
		}
	}
	sort.Slice(solverState, func(i, j int) bool { return solverState[i].Name < solverState[j].Name })
	if err := r.solver.SetState(solverState); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	r.epoch, r.batch, r.step = st.Epoch, st.Batch, st.Step
	r.accum, r.history = st.Accum, st.History
	r.bestEpoch, r.bestVal, r.badEpochs = st.BestEpoch, st.BestVal, st.BadEpochs
	r.trainSeconds, r.samples = st.TrainSeconds, st.Samples
	r.rng = nil
	if st.RNG != "" {
		b, err := hex.DecodeString(st.RNG)
		if err != nil {
			return fmt.Errorf("checkpoint %s: rng: %w", dir, err)
		}
		r.rng = &rand.PCG{}
		if err := r.rng.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("checkpoint %s: rng: %w", dir, err)
		}
	} else if st.Batch != 0 {
		return fmt.Errorf("checkpoint %s: mid-epoch position without an RNG state", dir)
	}
	if st.Stopped {
		r.stopped = true // early stopping had ended the run
	}
	r.resumedAt = fmt.Sprintf("epoch %d, batch %d", st.Epoch+1, st.Batch)
	return nil
}
