package gobind

import (
	"errors"
	"fmt"
	"math"

	"github.com/gcompress/gcompress/cuda"
	"github.com/gcompress/gcompress/kernels/ref"
)

// Elem is the element type of GEMM operands (ref.Elem).
type Elem = ref.Elem

// Operand element types.
const (
	S8   = ref.S8
	F16  = ref.F16
	BF16 = ref.BF16
)

// ErrArgs marks an invalid launch argument (every validation error wraps it).
var ErrArgs = errors.New("invalid kernel arguments")

func argErr(kernel, format string, a ...any) error {
	return fmt.Errorf("%s: %w: %s", kernel, ErrArgs, fmt.Sprintf(format, a...))
}

// operand checks that m holds a rows x cols matrix of elemBytes-sized
// elements with row stride ld (elements), 16-byte aligned rows.
func operand(kernel, name string, m cuda.Mem, rows, cols, ld, elemBytes int64, rowAlign int) error {
	if rows == 0 || cols == 0 {
		return nil
	}
	if m.IsNull() {
		return argErr(kernel, "%s is null", name)
	}
	if ld < cols {
		return argErr(kernel, "%s row stride %d < %d columns", name, ld, cols)
	}
	if !m.Aligned(rowAlign) || (ld*elemBytes)%int64(rowAlign) != 0 {
		return argErr(kernel, "%s must be %d-byte aligned with a row stride that is a multiple of %d bytes (address %#x, stride %d bytes)",
			name, rowAlign, rowAlign, m.Ptr, ld*elemBytes)
	}
	if need := ((rows-1)*ld + cols) * elemBytes; need > m.Bytes {
		return argErr(kernel, "%s: %d x %d with row stride %d needs %d bytes, the buffer has %d", name, rows, cols, ld, need, m.Bytes)
	}
	return nil
}

// vector checks an optional per-channel vector of n 4-byte entries.
func vector(kernel, name string, m cuda.Mem, n int64) error {
	if m.IsNull() {
		return nil
	}
	if !m.Aligned(4) {
		return argErr(kernel, "%s must be 4-byte aligned", name)
	}
	if m.Bytes < 4*n {
		return argErr(kernel, "%s has %d bytes, %d channels need %d", name, m.Bytes, n, 4*n)
	}
	return nil
}

// span returns the byte range [lo, hi) a view covers (empty for null).
func span(m cuda.Mem, used int64) (uint64, uint64) {
	return uint64(m.Ptr), uint64(m.Ptr) + uint64(used)
}

func overlap(a cuda.Mem, aUsed int64, b cuda.Mem, bUsed int64) bool {
	if a.IsNull() || b.IsNull() || aUsed == 0 || bUsed == 0 {
		return false
	}
	alo, ahi := span(a, aUsed)
	blo, bhi := span(b, bUsed)
	return alo < bhi && blo < ahi
}

// Epilogue is the output side of a GEMM launch: D[m][n] is stored at
// C[m*LdCM + n*LdCN] (elements; one of the strides must be 1, the other at
// least the extent of the other dimension, so no two outputs alias), with the
// per-channel Scale (float32) and Bias (float32, or int32 for ref.OutS8)
// following Axis, and ZeroPoint for ref.OutS8. The maths is ref.Epilogue's.
type Epilogue struct {
	Out        ref.Out
	C          cuda.Mem
	LdCM, LdCN int64
	Scale      cuda.Mem
	Bias       cuda.Mem
	Axis       ref.Axis
	ZeroPoint  int64
}

// check validates the epilogue of an M x N output for input type in and
// returns the bytes of C it writes.
func (e *Epilogue) check(kernel string, in Elem, m, n int64) (int64, error) {
	switch {
	case in == S8 && e.Out != ref.OutS32 && e.Out != ref.OutF32 && e.Out != ref.OutS8,
		in == F16 && e.Out != ref.OutF32 && e.Out != ref.OutF16,
		in == BF16 && e.Out != ref.OutF32 && e.Out != ref.OutBF16:
		return 0, argErr(kernel, "no %v -> %v kernel", in, e.Out)
	}
	if e.Axis != ref.PerCol && e.Axis != ref.PerRow {
		return 0, argErr(kernel, "epilogue axis %d", e.Axis)
	}
	if e.Out == ref.OutS32 && (!e.Scale.IsNull() || !e.Bias.IsNull()) {
		return 0, argErr(kernel, "an int32 output takes no scale or bias")
	}
	if e.Out != ref.OutS8 && e.ZeroPoint != 0 {
		return 0, argErr(kernel, "zero point %d given for a %v output", e.ZeroPoint, e.Out)
	}
	if e.ZeroPoint < -128 || e.ZeroPoint > 127 {
		return 0, argErr(kernel, "zero point %d outside [-128, 127]", e.ZeroPoint)
	}
	ch := n
	if e.Axis == ref.PerRow {
		ch = m
	}
	if err := vector(kernel, "scale", e.Scale, ch); err != nil {
		return 0, err
	}
	if err := vector(kernel, "bias", e.Bias, ch); err != nil {
		return 0, err
	}
	if m == 0 || n == 0 {
		return 0, nil
	}
	if e.C.IsNull() {
		return 0, argErr(kernel, "output is null")
	}
	ok := e.LdCN == 1 && e.LdCM >= n || e.LdCM == 1 && e.LdCN >= m
	if !ok {
		return 0, argErr(kernel, "output strides (%d, %d) for %d x %d: want (>= N, 1) or (1, >= M)", e.LdCM, e.LdCN, m, n)
	}
	size := int64(e.Out.ElemBytes())
	if !e.C.Aligned(int(size)) {
		return 0, argErr(kernel, "output must be %d-byte aligned", size)
	}
	used := ((m-1)*e.LdCM + (n-1)*e.LdCN + 1) * size
	if used > e.C.Bytes {
		return 0, argErr(kernel, "output %d x %d with strides (%d, %d) needs %d bytes, the buffer has %d", m, n, e.LdCM, e.LdCN, used, e.C.Bytes)
	}
	for _, v := range []struct {
		name string
		m    cuda.Mem
	}{{"scale", e.Scale}, {"bias", e.Bias}} {
		if overlap(e.C, used, v.m, 4*ch) {
			return 0, argErr(kernel, "output overlaps the %s", v.name)
		}
	}
	return used, nil
}

// GemmArgs are the arguments of a dense GEMM: D = epilogue(A·Bᵀ) with A M x K
// (row stride LdA elements) and B N x K (row stride LdB), both of type In,
// 16-byte aligned with row strides that are multiples of 16 bytes (K itself
// is free: the kernels zero-fill the tail).
type GemmArgs struct {
	In Elem
	// Tile names the tile shape (one of DenseTiles); empty: the first of
	// DenseTileOrder[In] the device can run (Launcher), or the first of it
	// (Spec alone).
	Tile    string
	M, N, K int64
	A       cuda.Mem
	LdA     int64
	B       cuda.Mem
	LdB     int64
	Epilogue
	// MaxBlocks caps the grid of the p, m and q shapes (Tile.Producer), whose
	// blocks loop over tiles: at most MaxBlocks blocks (rounded down to
	// whole clusters, at least one), each computing every grid-th tile
	// (persistent blocks, one per SM with MaxBlocks = the SM count). 0: one
	// block per tile.
	MaxBlocks int64
}

// Kernel names the entry point for these arguments.
func (a *GemmArgs) Kernel() string { return fmt.Sprintf("gc_gemm_%v_%v_%s", a.In, a.Out, a.tileName()) }

// Validate checks every argument against the kernel's requirements.
func (a *GemmArgs) Validate() error {
	k := a.Kernel()
	if _, ok := lookup(k); !ok {
		return argErr(k, "no such kernel (input %v, output %v, tile %q)", a.In, a.Out, a.tileName())
	}
	if a.M < 0 || a.N < 0 || a.K < 0 {
		return argErr(k, "negative size %d x %d x %d", a.M, a.N, a.K)
	}
	if err := checkGrid(k, a.shape(), a.M, a.N, a.MaxBlocks); err != nil {
		return err
	}
	eb := a.In.Bytes()
	if err := operand(k, "A", a.A, a.M, a.K, a.LdA, eb, 16); err != nil {
		return err
	}
	if err := operand(k, "B", a.B, a.N, a.K, a.LdB, eb, 16); err != nil {
		return err
	}
	used, err := a.Epilogue.check(k, a.In, a.M, a.N)
	if err != nil {
		return err
	}
	if a.K > 0 && (overlap(a.C, used, a.A, ((a.M-1)*a.LdA+a.K)*eb) || overlap(a.C, used, a.B, ((a.N-1)*a.LdB+a.K)*eb)) {
		return argErr(k, "output overlaps an input")
	}
	return nil
}

// checkGrid checks the grid of an m x n launch in tile shape t: at most
// maxGrid blocks, and a cap (GemmArgs.MaxBlocks) only where t's blocks
// loop over tiles.
func checkGrid(kernel string, t Tile, m, n, maxBlocks int64) error {
	switch {
	case t.Blocks(m, n) > maxGrid:
		return argErr(kernel, "%d x %d output needs more than 2^31-1 blocks", m, n)
	case maxBlocks < 0:
		return argErr(kernel, "MaxBlocks %d is negative", maxBlocks)
	case maxBlocks > 0 && !t.Producer:
		return argErr(kernel, "MaxBlocks %d: only the p, m and q shapes' blocks loop over tiles; %s takes one block per tile", maxBlocks, t.Name)
	}
	return nil
}

// SparseGemmArgs are the arguments of a 2:4 sparse GEMM: D = epilogue(A·Bᵀ)
// with A the M x K 2:4 matrix in the ref.Sparse24 layout (values with row
// stride LdV elements, metadata with row stride LdE bytes; either read k
// tile by k tile: LdVK, LdEK) and B dense N x K (row stride LdB). K is
// logical and must be a multiple of the format's KAlign
// (ref.FormatSparse24*): the compressor pads.
//
// The kernels read one k tile (KAlign logical columns) of every row of A
// per stage: the format's ValueTileBytes of values (SpABytes) and
// MetaRowAlign of metadata. Each operand's row r, k tile t is at r times
// its row stride plus t times its k-tile stride. A k-tile stride of 0
// means rows whose k tiles are contiguous, as ref.Compress24 writes them;
// with ref.ByKTile's layout the row stride is the k tile's bytes and the
// k-tile stride those of one k tile's padded rows, so a block's rows for
// a stage are one contiguous run.
type SparseGemmArgs struct {
	In Elem
	// Tile names the tile shape (one of SparseTiles); empty as for
	// GemmArgs.Tile, with SparseTileOrder.
	Tile    string
	M, N, K int64
	AValues cuda.Mem
	LdV     int64
	// LdVK is the byte distance between a row's values for consecutive k
	// tiles (0: SpABytes, each row's values contiguous). The TMA shapes
	// take it either so or with rows of SpABytes (LdV times the element's
	// bytes: 64 int8, 32 halves) and a k-tile stride that is a multiple of
	// them.
	LdVK  int64
	AMeta cuda.Mem
	LdE   int64
	// LdEK is the byte distance between a row's metadata for consecutive k
	// tiles (0: MetaRowAlign, each row's metadata contiguous).
	LdEK int64
	B    cuda.Mem
	LdB  int64
	Epilogue
	// MaxBlocks as for GemmArgs.
	MaxBlocks int64
}

// Kernel names the entry point for these arguments.
func (a *SparseGemmArgs) Kernel() string {
	return fmt.Sprintf("gc_spgemm_%v_%v_%s", a.In, a.Out, a.tileName())
}

// Format returns the 2:4 format of the input type.
func (a *SparseGemmArgs) Format() ref.Format { return ref.Sparse24Format(a.In) }

// Validate checks every argument against the kernel's requirements.
func (a *SparseGemmArgs) Validate() error {
	k := a.Kernel()
	if _, ok := lookup(k); !ok {
		return argErr(k, "no such kernel (input %v, output %v, tile %q)", a.In, a.Out, a.tileName())
	}
	if a.M < 0 || a.N < 0 || a.K < 0 {
		return argErr(k, "negative size %d x %d x %d", a.M, a.N, a.K)
	}
	if err := checkGrid(k, a.shape(), a.M, a.N, a.MaxBlocks); err != nil {
		return err
	}
	f := a.Format()
	if a.K%int64(f.KAlign) != 0 {
		return argErr(k, "K = %d is not a multiple of %d (pad the 2:4 matrix, ref.Compress24)", a.K, f.KAlign)
	}
	eb := a.In.Bytes()
	values, meta := a.values(f), a.meta(f)
	if err := values.check(k); err != nil {
		return err
	}
	if err := a.checkValueTiles(k, values); err != nil {
		return err
	}
	if err := meta.check(k); err != nil {
		return err
	}
	if err := operand(k, "B", a.B, a.N, a.K, a.LdB, eb, 16); err != nil {
		return err
	}
	used, err := a.Epilogue.check(k, a.In, a.M, a.N)
	if err != nil {
		return err
	}
	if a.K > 0 && (overlap(a.C, used, a.AValues, values.bytes()) ||
		overlap(a.C, used, a.AMeta, meta.bytes()) || overlap(a.C, used, a.B, ((a.N-1)*a.LdB+a.K)*eb)) {
		return argErr(k, "output overlaps an input")
	}
	return nil
}

// kTiled is an operand of A as the 2:4 kernels read it, one k tile of
// every row a stage: rows rows of tiles k tiles of tileBytes bytes, row r's
// k tile t at byte r*ld + t*ldk of mem, copied in pieces that need
// align-byte alignment.
type kTiled struct {
	what                   string
	mem                    cuda.Mem
	rows, tiles, tileBytes int64
	align, ld, ldk         int64
}

// values and meta describe A's two parts with their strides in bytes (the
// values' row stride math.MaxInt64 where LdV's bytes overflow); a k-tile
// stride of 0 becomes the k tile's bytes (rows whose k tiles are
// contiguous), what the kernels take, and so does any with one k tile or
// none, where it is never used.
func (a *SparseGemmArgs) values(f ref.Format) kTiled {
	eb := a.In.Bytes()
	ld := a.LdV * eb
	if a.LdV > math.MaxInt64/eb {
		ld = math.MaxInt64
	}
	return newKTiled("A values", a.AValues, a.M, a.K/int64(f.KAlign), int64(f.ValueTileBytes()), 16, ld, a.LdVK)
}

func (a *SparseGemmArgs) meta(f ref.Format) kTiled {
	tb := int64(f.MetaRowAlign)
	return newKTiled("A metadata", a.AMeta, a.M, a.K/int64(f.KAlign), tb, tb, a.LdE, a.LdEK)
}

func newKTiled(what string, mem cuda.Mem, rows, tiles, tileBytes, align, ld, ldk int64) kTiled {
	if ldk == 0 || tiles <= 1 {
		ldk = tileBytes
	}
	return kTiled{what: what, mem: mem, rows: rows, tiles: tiles, tileBytes: tileBytes, align: align, ld: ld, ldk: ldk}
}

// bytes is the extent the kernels read: up to the last k tile of the last
// row (math.MaxInt64 where that overflows; rows, tiles and the strides
// non-negative).
func (o kTiled) bytes() int64 {
	return addSat(addSat(mulSat(o.rows-1, o.ld), mulSat(o.tiles-1, o.ldk)), o.tileBytes)
}

// MaxKTileOffset is the furthest a row's last k tile of values may start
// from its first, in bytes: the kernels multiply the k tile by LdVK in 32
// bits.
const MaxKTileOffset = math.MaxInt32

// checkValueTiles checks what the kernels need of the values' k-tile
// stride beyond check: the offset of the last k tile within 2^31-1 (the
// kernels multiply in 32 bits), and in a TMA shape either rows (the stride
// SpABytes) or k tiles of rows of SpABytes, the stride a multiple of them
// (WgSparse::tma_fill's two maps; a launch with N zero goes to the
// cp.async twin, Spec).
func (a *SparseGemmArgs) checkValueTiles(k string, v kTiled) error {
	if v.rows == 0 || v.tiles == 0 {
		return nil
	}
	if last := mulSat(v.tiles-1, v.ldk); last > MaxKTileOffset {
		return argErr(k, "A values: the last k tile starts %d bytes into a row's values (%d k tiles %d bytes apart); the kernels take at most 2^31-1",
			last, v.tiles, v.ldk)
	}
	if t := a.shape(); t.TMA && a.N > 0 && v.ldk != v.tileBytes && (v.ld != v.tileBytes || v.ldk%v.tileBytes != 0) {
		return argErr(k, "A values: the TMA shape %s reads them row by row (k-tile stride %d) or k tile by k tile in rows of %d bytes (row stride %d, k-tile stride a multiple of it); row stride %d bytes, k-tile stride %d",
			t.Name, v.tileBytes, v.tileBytes, v.tileBytes, v.ld, v.ldk)
	}
	return nil
}

// mulSat and addSat are x*y and x+y for non-negative x and y, math.MaxInt64
// where they overflow.
func mulSat(x, y int64) int64 {
	if x != 0 && y > math.MaxInt64/x {
		return math.MaxInt64
	}
	return x * y
}

func addSat(x, y int64) int64 {
	if x > math.MaxInt64-y {
		return math.MaxInt64
	}
	return x + y
}

// check checks the operand (nothing to check without rows or k tiles):
// aligned base and strides, each row's k tiles either side by side (rows
// at least that many k tiles apart) or each k tile's rows side by side (k
// tiles at least rows rows apart), and a buffer that holds them all.
func (o kTiled) check(k string) error {
	if o.rows == 0 || o.tiles == 0 {
		return nil
	}
	switch {
	case o.mem.IsNull():
		return argErr(k, "%s is null", o.what)
	case o.ld < 0 || o.ldk < 0:
		return argErr(k, "%s: negative stride (row %d bytes, k tile %d)", o.what, o.ld, o.ldk)
	case !o.mem.Aligned(int(o.align)) || o.ld%o.align != 0 || o.ldk%o.align != 0:
		return argErr(k, "%s must be %d-byte aligned with strides that are multiples of %d bytes (address %#x, row stride %d bytes, k-tile stride %d)",
			o.what, o.align, o.align, o.mem.Ptr, o.ld, o.ldk)
	case !(o.ldk >= o.tileBytes && o.ld >= mulSat(o.tiles, o.ldk)) && !(o.ld >= o.tileBytes && o.ldk >= mulSat(o.rows, o.ld)):
		return argErr(k, "%s strides overlap: row stride %d bytes, k-tile stride %d for %d rows of %d k tiles of %d bytes (rows of %d bytes: row stride >= %d; by k tile: k-tile stride >= %d)",
			o.what, o.ld, o.ldk, o.rows, o.tiles, o.tileBytes, o.tiles*o.tileBytes, mulSat(o.tiles, o.ldk), mulSat(o.rows, o.ld))
	}
	if need := o.bytes(); need > o.mem.Bytes {
		return argErr(k, "%s: %d rows of %d k tiles with row stride %d bytes and k-tile stride %d need %d bytes, the buffer has %d",
			o.what, o.rows, o.tiles, o.ld, o.ldk, need, o.mem.Bytes)
	}
	return nil
}

// QuantArgs are the arguments of gc_quantize_f32_s8 (X float32 -> Y int8)
// and gc_dequantize_s8_f32 (X int8 -> Y float32): N elements, element i in
// channel (i / Inner) % Channels, Scale float32[Channels], optional ZeroPoint
// int32[Channels].
type QuantArgs struct {
	X, Y               cuda.Mem
	Scale, ZeroPoint   cuda.Mem
	N, Inner, Channels int64
}

// Validate checks the arguments; quantize selects the direction.
func (a *QuantArgs) Validate(quantize bool) error {
	k, xb, yb := "gc_dequantize_s8_f32", int64(1), int64(4)
	if quantize {
		k, xb, yb = "gc_quantize_f32_s8", 4, 1
	}
	if a.N < 0 || a.Inner < 1 || a.Channels < 1 {
		return argErr(k, "n %d, inner %d, channels %d", a.N, a.Inner, a.Channels)
	}
	if err := flat(k, "input", a.X, a.N, xb); err != nil {
		return err
	}
	if err := flat(k, "output", a.Y, a.N, yb); err != nil {
		return err
	}
	if a.Scale.IsNull() {
		return argErr(k, "scale is null")
	}
	if err := vector(k, "scale", a.Scale, a.Channels); err != nil {
		return err
	}
	return vector(k, "zero point", a.ZeroPoint, a.Channels)
}

// flat checks a contiguous buffer of n elements of size eb.
func flat(kernel, name string, m cuda.Mem, n, eb int64) error {
	if n == 0 {
		return nil
	}
	if m.IsNull() {
		return argErr(kernel, "%s is null", name)
	}
	if !m.Aligned(int(eb)) {
		return argErr(kernel, "%s must be %d-byte aligned", name, eb)
	}
	if m.Bytes < n*eb {
		return argErr(kernel, "%s has %d bytes, %d elements need %d", name, m.Bytes, n, n*eb)
	}
	return nil
}

// SoftmaxArgs: Y = softmax(X) over each of Rows rows of Cols float32.
type SoftmaxArgs struct {
	X, Y       cuda.Mem
	Rows, Cols int64
}

// Validate checks the arguments.
func (a *SoftmaxArgs) Validate() error {
	const k = "gc_softmax_f32"
	if a.Rows < 0 || a.Cols < 0 {
		return argErr(k, "negative size %d x %d", a.Rows, a.Cols)
	}
	if err := flat(k, "input", a.X, a.Rows*a.Cols, 4); err != nil {
		return err
	}
	return flat(k, "output", a.Y, a.Rows*a.Cols, 4)
}

// Im2colArgs are the arguments of gc_im2col_s8: Cols = the im2col matrix
// of the 8-bit image X (ref.Im2colRef: Geom.OH·Geom.OW rows of Ld bytes,
// Ld >= Geom.K(); taps outside the image read Pad; every byte xor 0x80
// where Flip is set, for uint8 data on the int8 GEMMs).
type Im2colArgs struct {
	X, Cols cuda.Mem
	Geom    ref.Im2col
	Ld      int64
	Pad     byte
	Flip    bool
}

// Validate checks the arguments.
func (a *Im2colArgs) Validate() error {
	const k = "gc_im2col_s8"
	g := a.Geom
	if err := g.Check(); err != nil {
		return argErr(k, "%v", err)
	}
	if a.Ld < int64(g.K()) {
		return argErr(k, "rows of %d bytes for patches of %d", a.Ld, g.K())
	}
	img, cols := int64(g.C)*int64(g.H)*int64(g.W), int64(g.OH)*int64(g.OW)*a.Ld
	if err := flat(k, "image", a.X, img, 1); err != nil {
		return err
	}
	if err := flat(k, "columns", a.Cols, cols, 1); err != nil {
		return err
	}
	if overlap(a.X, img, a.Cols, cols) {
		return argErr(k, "the columns overlap the image")
	}
	return nil
}

// UnaryArgs: Y[i] = f(X[i]) for N elements of sizes XBytes -> YBytes.
type UnaryArgs struct {
	X, Y cuda.Mem
	N    int64
}

func (a *UnaryArgs) validate(k string, xb, yb int64) error {
	if a.N < 0 {
		return argErr(k, "negative size %d", a.N)
	}
	if err := flat(k, "input", a.X, a.N, xb); err != nil {
		return err
	}
	return flat(k, "output", a.Y, a.N, yb)
}
