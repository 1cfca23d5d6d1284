//go:build gcompress_emu

package emu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/gobind"
	"github.com/gcompress/gcompress/kernels/kerneltest"
	"github.com/gcompress/gcompress/kernels/ref"
)

// The shared kernel suites against the emulated kernels (Tiny sizes: every
// GPU thread is a fiber here), and the launch-path diagnostics.

func report(t *testing.T, rs []kerneltest.Result) {
	t.Helper()
	if testing.Verbose() {
		kerneltest.WriteSummary(os.Stdout, rs)
	}
}

func TestEmulatedDiagnostics(t *testing.T) {
	h := NewRunner().Harness()
	rs := append(h.Diagnostics(), h.ClusterDiagnostics()...)
	for _, r := range rs {
		if !r.Pass {
			t.Errorf("%s %s: %s", r.Suite, r.Case, r.Detail)
		}
	}
	report(t, rs)
}

// emulatedTiles is the tile shapes the GEMM tests run: those
// GCOMPRESS_TEST_TILES lists (comma-separated names, as on the GPU), by
// default (or "all") every shape.
func emulatedTiles() []string {
	v := os.Getenv("GCOMPRESS_TEST_TILES")
	if v != "" && v != "all" {
		return strings.Split(v, ",")
	}
	var tiles []string
	for _, tl := range append(slices.Clone(gobind.DenseTiles), gobind.SparseTiles...) {
		if !slices.Contains(tiles, tl.Name) {
			tiles = append(tiles, tl.Name)
		}
	}
	return tiles
}

// TestEmulatedGemm: every dense and 2:4 suite in the emulated tile shapes
// (emulatedTiles); GCOMPRESS_TEST_SHARD=i/n keeps the i-th of every n of
// them (make test-emu runs four shards beside the other tests, two jobs at a
// time: scripts/emu-tests.sh).
func TestEmulatedGemm(t *testing.T) {
	h := NewRunner().Harness()
	tiles := emulatedTiles()
	if v := os.Getenv("GCOMPRESS_TEST_SHARD"); v != "" {
		var i, n int
		if _, err := fmt.Sscanf(v, "%d/%d", &i, &n); err != nil || n < 1 || i < 0 || i >= n {
			t.Fatalf("GCOMPRESS_TEST_SHARD=%q: want i/n with 0 <= i < n", v)
		}
		var shard []string
		for j, name := range tiles {
			if j%n == i {
				shard = append(shard, name)
			}
		}
		tiles = shard
		t.Logf("shard %d of %d: %s", i, n, strings.Join(tiles, ", "))
	}
	h.Tiles = tiles
	report(t, h.GemmSuites(t, kerneltest.Tiny))
}

// TestEmulatedInteriorBlocks: for the tile shapes above 128 x 128, one
// int8 and one f16 GEMM, dense and 2:4, whose blocks all lie inside the
// matrix (the copies without bounds logic; Harness.InteriorSuites).
func TestEmulatedInteriorBlocks(t *testing.T) {
	runTileSuites(t, gobind.Harness.InteriorSuites, "no tile shape above 128 x 128 was run")
}

// TestEmulatedPersistentBlocks: the p, m and q shapes with their grid capped
// (GemmArgs.MaxBlocks) at one block or cluster, which then computes every
// tile, and at four (Harness.PersistentSuites).
func TestEmulatedPersistentBlocks(t *testing.T) {
	runTileSuites(t, gobind.Harness.PersistentSuites, "no p, m or q shape was run")
}

// runTileSuites runs suites over the emulated tile shapes and reports
// them; a run of none fails with none.
func runTileSuites(t *testing.T, suites func(gobind.Harness, kerneltest.Reporter) []kerneltest.Result, none string) {
	t.Helper()
	h := NewRunner().Harness()
	h.Tiles = emulatedTiles()
	rs := suites(h, t)
	if len(rs) == 0 {
		t.Fatal(none)
	}
	report(t, rs)
}

// TestEmulatedSparseTransposedInt32: every emulated 2:4 shape writes an
// int32 output transposed (LdCM 1), as the CUDA backend has them do for a
// GEMM with a 2:4 weight (the suites' transposed outputs are int8 and
// float), with A row by row and, as the backend uploads it, k tile by k
// tile, and agrees with the reference bit for bit.
func TestEmulatedSparseTransposedInt32(t *testing.T) {
	h := NewRunner().Harness()
	r := rand.New(rand.NewPCG(11, 11))
	const m, n, k = 12, 7, 200 // K padded to 256
	vals, meta, kp, err := kerneltest.Compress24(ref.S8, kerneltest.Random24(r, ref.S8, m, k), m, k)
	if err != nil {
		t.Fatal(err)
	}
	b := kerneltest.RandOperand(r, ref.S8, n, kp, kp)
	rows := kerneltest.SparseProblem{In: ref.S8, M: m, N: n, K: kp, Values: vals, LdV: kp / 2, Meta: meta, LdE: kp / 8,
		B: b, LdB: kp, Out: ref.OutS32, LdCM: 1, LdCN: m}
	byTile := rows
	f := ref.FormatSparse24S8
	if byTile.Values, byTile.LdV, byTile.LdVK, err = ref.ByKTile(vals, m, kp/2, kp/2, f.ValueTileBytes(), m); err != nil {
		t.Fatal(err)
	}
	if byTile.Meta, byTile.LdE, byTile.LdEK, err = ref.ByKTile(meta, m, kp/8, kp/8, f.MetaRowAlign, m); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4*m*n)
	rows.C = want
	if err := kerneltest.HostSparse(&rows); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, tl := range gobind.SparseTiles {
		if !slices.Contains(emulatedTiles(), tl.Name) {
			continue
		}
		h.SparseTile = tl.Name
		for _, p := range []kerneltest.SparseProblem{rows, byTile} {
			p.C = make([]byte, len(want))
			if err := h.SparseImpl(&p); err != nil {
				t.Errorf("%s (k-tile strides %d, %d): %v", tl.Name, p.LdVK, p.LdEK, err)
				continue
			}
			if err := kerneltest.CompareRow(ref.S8, ref.OutS32, p.C, want); err != nil {
				t.Errorf("%s (k-tile strides %d, %d): %v", tl.Name, p.LdVK, p.LdEK, err)
			}
			ran++
		}
	}
	if ran == 0 {
		t.Fatal("no 2:4 shape was run")
	}
}

func TestEmulatedElementwise(t *testing.T) {
	report(t, kerneltest.Elementwise(t, NewRunner().Harness().ElemImpl, kerneltest.Tiny))
}
