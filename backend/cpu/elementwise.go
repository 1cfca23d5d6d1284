// Elementwise ops on several inputs with NumPy (multidirectional)
// broadcasting; the output has the broadcast shape of all inputs:
//
//	Add, Sub, Mul, Div   a op b; integer Div truncates toward zero (C), x/0 = 0 for integers
//	Pow                  a^b; the base dtype T is the output dtype, the exponent any numeric
//	                     dtype; integer base with integer exponent is exact (x^-n = 0 unless |x| = 1)
//	Mod                  fmod=0: a - floor(a/b)*b, sign of the divisor (Python %, integers only);
//	                     fmod=1: C fmod, sign of the dividend; x mod 0 = 0 for integers
//	Max, Min, Sum, Mean  variadic (one or more inputs); a NaN operand gives NaN
//	Equal, Less, LessOrEqual, Greater, GreaterOrEqual   comparisons, bool output
//	And, Or, Xor         bool inputs; BitShift (unsigned, direction LEFT|RIGHT): a << b, a >> b
//	Where(cond, X, Y)    cond ? X : Y, any X/Y dtype
//	PRelu(X, slope)      X < 0 ? slope*X : X; slope broadcasts to X (unidirectional)
//
// float16 and bfloat16 are computed in float32 and rounded back.
//
// Each op walks the output with an ewPlan: dimensions are coalesced so the
// innermost loop is a run in which every input either advances by one or
// stays put (a broadcast scalar), and the float and integer kernels are
// tight loops over such runs with no per-element index arithmetic.
package cpu

import (
	"fmt"
	"math"

	"github.com/gcompress/gcompress/graph"
	"github.com/gcompress/gcompress/runtime"
	"github.com/gcompress/gcompress/tensor"
)

// ewRunFunc is the run function of an op without attributes.
type ewRunFunc = func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error)

func init() {
	for op, k := range map[string]arithOp{"Add": opAdd, "Sub": opSub, "Mul": opMul, "Div": opDiv} {
		registerFunc(op, binaryArith(op, k))
	}
	for op, k := range map[string]arithOp{"Sum": opAdd, "Max": opMax, "Min": opMin} {
		registerFunc(op, variadic(op, k, false))
	}
	registerFunc("Mean", variadic("Mean", opAdd, true))
	register("Mod", newMod)
	registerFunc("Pow", runPow)
	for op, c := range map[string]cmpOp{"Equal": cmpEq, "Less": cmpLt, "LessOrEqual": cmpLe,
		"Greater": cmpGt, "GreaterOrEqual": cmpGe} {
		registerFunc(op, compare(op, c))
	}
	registerFunc("And", logic("And", func(x, y bool) bool { return x && y }))
	registerFunc("Or", logic("Or", func(x, y bool) bool { return x || y }))
	registerFunc("Xor", logic("Xor", func(x, y bool) bool { return x != y }))
	register("BitShift", newBitShift)
	registerFunc("Where", runWhere)
	registerFunc("PRelu", runPRelu)
}

// ewGrain is the element count below which a loop runs on the calling
// goroutine: smaller loops do not repay starting goroutines.
const ewGrain = 1 << 14

// ewParallel splits [0, n) into at most ctx.Threads ranges of at least grain
// elements and runs fn on them concurrently.
func ewParallel(ctx *runtime.Context, n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	parts := min(ctx.Threads, (n+grain-1)/max(grain, 1))
	if parts <= 1 {
		fn(0, n)
		return
	}
	ctx.ParallelFor(parts, func(plo, phi int) { fn(plo*n/parts, phi*n/parts) })
}

// ewPlan walks an output shape for inputs broadcast to it. Output dims of
// size 1 are dropped and neighbours merged where every input is either
// contiguous or broadcast across both, so runs are as long as possible. In
// the innermost dim every input has stride 0 (broadcast) or 1.
type ewPlan struct {
	n    int     // output elements
	dims []int   // coalesced output dims (at least one)
	st   [][]int // st[k][d]: element stride of input k along dims[d]
}

// newEwPlan plans out for inputs of shapes ins, each broadcastable to out
// (checked by the caller).
func newEwPlan(out []int, ins ...[]int) *ewPlan {
	p := &ewPlan{n: tensor.Product(out), st: make([][]int, len(ins))}
	full := make([][]int, len(ins))
	for k, s := range ins {
		full[k] = tensor.BroadcastStrides(s, out)
	}
	for d, size := range out {
		if size == 1 {
			continue
		}
		if last := len(p.dims) - 1; last >= 0 && p.mergeable(full, d, size) {
			p.dims[last] *= size
			for k := range p.st {
				p.st[k][last] = full[k][d]
			}
			continue
		}
		p.dims = append(p.dims, size)
		for k := range p.st {
			p.st[k] = append(p.st[k], full[k][d])
		}
	}
	if len(p.dims) == 0 {
		p.dims = []int{1}
		for k := range p.st {
			p.st[k] = []int{0}
		}
	}
	return p
}

// mergeable reports whether output dim d (strides full[k][d]) can join the
// current last coalesced dim.
func (p *ewPlan) mergeable(full [][]int, d, size int) bool {
	last := len(p.dims) - 1
	for k := range p.st {
		if p.st[k][last] != full[k][d]*size {
			return false
		}
	}
	return true
}

// innerStride is input k's stride (0 or 1) in the innermost dim.
func (p *ewPlan) innerStride(k int) int { return p.st[k][len(p.dims)-1] }

// walk calls fn for every run of output elements [o, o+n) inside one
// innermost row, in parallel for big outputs; off[k] is the offset in input
// k of the run's first element.
func (p *ewPlan) walk(ctx *runtime.Context, fn func(o, n int, off []int)) {
	last := len(p.dims) - 1
	inner := p.dims[last]
	ewParallel(ctx, p.n, ewGrain, func(lo, hi int) {
		idx := make([]int, len(p.dims))
		off := make([]int, len(p.st))
		rem := lo
		for d := last; d >= 0; d-- {
			idx[d] = rem % p.dims[d]
			rem /= p.dims[d]
			for k := range off {
				off[k] += idx[d] * p.st[k][d]
			}
		}
		for o := lo; o < hi; {
			n := min(inner-idx[last], hi-o)
			fn(o, n, off)
			if o += n; o < hi {
				p.advance(idx, off, n)
			}
		}
	})
}

// advance moves the position (idx, off) n elements along the innermost dim,
// carrying into outer dims at the end of a row.
func (p *ewPlan) advance(idx, off []int, n int) {
	last := len(p.dims) - 1
	idx[last] += n
	for k := range off {
		off[k] += n * p.st[k][last]
	}
	for d := last; d > 0 && idx[d] == p.dims[d]; d-- {
		idx[d] = 0
		idx[d-1]++
		for k := range off {
			off[k] += p.st[k][d-1] - p.dims[d]*p.st[k][d]
		}
	}
}

// ewKernel2 computes one run: d[i] = f(a[i*sa], b[i*sb]), sa and sb in {0, 1}.
type ewKernel2[A, B, O any] func(d []O, a []A, sa int, b []B, sb int)

// ewRun2 fills out (the plan's output) from a and b with kernel k.
func ewRun2[A, B, O any](ctx *runtime.Context, p *ewPlan, out []O, a []A, b []B, k ewKernel2[A, B, O]) {
	sa, sb := p.innerStride(0), p.innerStride(1)
	p.walk(ctx, func(o, n int, off []int) { k(out[o:o+n], a[off[0]:], sa, b[off[1]:], sb) })
}

// ewMap2 builds a kernel that calls f per element.
func ewMap2[A, B, O any](f func(A, B) O) ewKernel2[A, B, O] {
	return func(d []O, a []A, sa int, b []B, sb int) {
		switch {
		case sa == 1 && sb == 1:
			a, b = a[:len(d)], b[:len(d)]
			for i := range d {
				d[i] = f(a[i], b[i])
			}
		case sa == 1:
			a, y := a[:len(d)], b[0]
			for i := range d {
				d[i] = f(a[i], y)
			}
		case sb == 1:
			x, b := a[0], b[:len(d)]
			for i := range d {
				d[i] = f(x, b[i])
			}
		default:
			v := f(a[0], b[0])
			for i := range d {
				d[i] = v
			}
		}
	}
}

// arithOp selects a same-dtype binary arithmetic kernel.
type arithOp int

const (
	opAdd arithOp = iota
	opSub
	opMul
	opDiv
	opMax
	opMin
	opMod  // Python %: sign of the divisor
	opFmod // C fmod: sign of the dividend
)

// addKernel, subKernel and mulKernel are ewKernel2s with the operator inline.
func addKernel[T tensor.Numeric](d, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] + b[i]
		}
	case sa == 1:
		a, y := a[:len(d)], b[0]
		for i := range d {
			d[i] = a[i] + y
		}
	case sb == 1:
		x, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = x + b[i]
		}
	default:
		v := a[0] + b[0]
		for i := range d {
			d[i] = v
		}
	}
}

func subKernel[T tensor.Numeric](d, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] - b[i]
		}
	case sa == 1:
		a, y := a[:len(d)], b[0]
		for i := range d {
			d[i] = a[i] - y
		}
	case sb == 1:
		x, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = x - b[i]
		}
	default:
		v := a[0] - b[0]
		for i := range d {
			d[i] = v
		}
	}
}

func mulKernel[T tensor.Numeric](d, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] * b[i]
		}
	case sa == 1:
		a, y := a[:len(d)], b[0]
		for i := range d {
			d[i] = a[i] * y
		}
	case sb == 1:
		x, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = x * b[i]
		}
	default:
		v := a[0] * b[0]
		for i := range d {
			d[i] = v
		}
	}
}

// divKernel divides floats; integers use intDiv (a zero divisor panics in Go).
func divKernel[T tensor.Numeric](d, a []T, sa int, b []T, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] / b[i]
		}
	case sa == 1:
		a, y := a[:len(d)], b[0]
		for i := range d {
			d[i] = a[i] / y
		}
	case sb == 1:
		x, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = x / b[i]
		}
	default:
		v := a[0] / b[0]
		for i := range d {
			d[i] = v
		}
	}
}

// intDiv truncates toward zero; x/0 is 0 (undefined in ONNX).
func intDiv[T tensor.Numeric](x, y T) T {
	if y == 0 {
		return 0
	}
	return x / y
}

// modFunc returns the element function of Mod for dtype dt.
func modFunc[T tensor.Numeric](dt tensor.DType, fmod bool) func(x, y T) T {
	switch {
	case dt.IsFloat():
		return func(x, y T) T { return T(math.Mod(float64(x), float64(y))) }
	case !dtypeSigned(dt):
		return func(x, y T) T {
			if y == 0 {
				return 0
			}
			return T(uint64(x) % uint64(y))
		}
	case fmod:
		return func(x, y T) T {
			if y == 0 {
				return 0
			}
			return T(int64(x) % int64(y))
		}
	}
	return func(x, y T) T {
		if y == 0 {
			return 0
		}
		r := int64(x) % int64(y)
		if r != 0 && (r < 0) != (y < 0) {
			r += int64(y)
		}
		return T(r)
	}
}

// arithKernel returns the kernel of op for element type T (dtype dt).
func arithKernel[T tensor.Numeric](op arithOp, dt tensor.DType) ewKernel2[T, T, T] {
	switch op {
	case opAdd:
		return addKernel[T]
	case opSub:
		return subKernel[T]
	case opMul:
		return mulKernel[T]
	case opDiv:
		if dt.IsInteger() {
			return ewMap2(intDiv[T])
		}
		return divKernel[T]
	case opMax:
		return ewMap2(func(x, y T) T { return max(x, y) })
	case opMin:
		return ewMap2(func(x, y T) T { return min(x, y) })
	}
	return ewMap2(modFunc[T](dt, op == opFmod))
}

// arithT runs op over element type T.
func arithT[T tensor.Numeric](ctx *runtime.Context, op arithOp, a, b, out *tensor.Tensor) {
	p := newEwPlan(out.Shape(), a.Shape(), b.Shape())
	ewRun2(ctx, p, tensor.Data[T](out), tensor.Data[T](a), tensor.Data[T](b), arithKernel[T](op, out.DType()))
}

// arithInto computes out = a op b; a, b and out share one numeric dtype and
// out has the broadcast shape. out may be a itself (in-place accumulation).
func arithInto(ctx *runtime.Context, op arithOp, a, b, out *tensor.Tensor) error {
	switch out.DType() {
	case tensor.Float32:
		arithT[float32](ctx, op, a, b, out)
	case tensor.Float64:
		arithT[float64](ctx, op, a, b, out)
	case tensor.Int8:
		arithT[int8](ctx, op, a, b, out)
	case tensor.Uint8:
		arithT[uint8](ctx, op, a, b, out)
	case tensor.Int16:
		arithT[int16](ctx, op, a, b, out)
	case tensor.Uint16:
		arithT[uint16](ctx, op, a, b, out)
	case tensor.Int32:
		arithT[int32](ctx, op, a, b, out)
	case tensor.Uint32:
		arithT[uint32](ctx, op, a, b, out)
	case tensor.Int64:
		arithT[int64](ctx, op, a, b, out)
	case tensor.Uint64:
		arithT[uint64](ctx, op, a, b, out)
	case tensor.Float16, tensor.BFloat16:
		return viaF32(out, func(o32 *tensor.Tensor) error {
			return arithInto(ctx, op, halfToF32(a), halfToF32(b), o32)
		})
	default:
		return fmt.Errorf("unsupported dtype %v", out.DType())
	}
	return nil
}

// sameDTypes checks that all non-nil inputs share in[0]'s dtype.
func sameDTypes(in []*tensor.Tensor) error {
	for i, t := range in {
		if t != nil && t.DType() != in[0].DType() {
			return fmt.Errorf("input %d is %v, input 0 is %v", i, t.DType(), in[0].DType())
		}
	}
	return nil
}

// binaryOutput validates two same-dtype inputs and allocates the output of
// their broadcast shape with dtype dt.
func binaryOutput(ctx *runtime.Context, in []*tensor.Tensor, dt tensor.DType) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	if err := sameDTypes(in[:2]); err != nil {
		return nil, err
	}
	shape, err := tensor.BroadcastShapes(in[0].Shape(), in[1].Shape())
	if err != nil {
		return nil, err
	}
	return ctx.AllocUninit(dt, shape...) // the ops write every element
}

// binaryArith is the run function of Add, Sub, Mul and Div.
func binaryArith(name string, op arithOp) ewRunFunc {
	return func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := binaryOutput(ctx, in, dtypeOf(in))
		if err == nil {
			err = arithInto(ctx, op, in[0], in[1], out)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []*tensor.Tensor{out}, nil
	}
}

// dtypeOf is the dtype of in[0], or Undefined when there is none.
func dtypeOf(in []*tensor.Tensor) tensor.DType {
	if len(in) == 0 || in[0] == nil {
		return tensor.Undefined
	}
	return in[0].DType()
}

func newMod(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	fmod := n.AttrInt("fmod", 0)
	if fmod != 0 && fmod != 1 {
		return nil, fmt.Errorf("Mod: fmod must be 0 or 1, got %d", fmod)
	}
	op := opMod
	if fmod == 1 {
		op = opFmod
	}
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if dt := dtypeOf(in); dt.IsFloat() && op == opMod {
			return nil, fmt.Errorf("Mod: fmod must be 1 for %v inputs", dt)
		}
		return binaryArith("Mod", op)(ctx, in)
	}), nil
}

// variadic is the run function of Sum, Max, Min and Mean (mean: Sum / n).
func variadic(name string, op arithOp, mean bool) ewRunFunc {
	return func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := variadicRun(ctx, in, op, mean)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []*tensor.Tensor{out}, nil
	}
}

func variadicRun(ctx *runtime.Context, in []*tensor.Tensor, op arithOp, mean bool) (*tensor.Tensor, error) {
	if err := needInputs(in, max(len(in), 1)); err != nil {
		return nil, err
	}
	if err := sameDTypes(in); err != nil {
		return nil, err
	}
	dt := in[0].DType()
	if mean && !dt.IsFloat() {
		return nil, fmt.Errorf("unsupported dtype %v (float types only)", dt)
	}
	if len(in) == 1 {
		return in[0], nil
	}
	shapes := make([][]int, len(in))
	for i, t := range in {
		shapes[i] = t.Shape()
	}
	shape, err := tensor.BroadcastShapes(shapes...)
	if err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(dt, shape...)
	if err != nil {
		return nil, err
	}
	fold := func(acc *tensor.Tensor) error {
		if err := arithInto(ctx, op, halfToF32(in[0]), halfToF32(in[1]), acc); err != nil {
			return err
		}
		for _, t := range in[2:] {
			if err := arithInto(ctx, op, acc, halfToF32(t), acc); err != nil {
				return err
			}
		}
		if !mean {
			return nil
		}
		n := tensor.Scalar(float32(len(in)))
		if acc.DType() == tensor.Float64 {
			n = tensor.Scalar(float64(len(in)))
		}
		return arithInto(ctx, opDiv, acc, n, acc)
	}
	if dtypeHalf(dt) {
		err = viaF32(out, fold)
	} else {
		err = fold(out)
	}
	return out, err
}

// runPow computes base^exponent (see the file comment).
func runPow(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, fmt.Errorf("Pow: %w", err)
	}
	x, y := in[0], in[1]
	if y.DType() == tensor.String || y.DType() == tensor.Bool {
		return nil, fmt.Errorf("Pow: unsupported exponent dtype %v", y.DType())
	}
	shape, err := tensor.BroadcastShapes(x.Shape(), y.Shape())
	if err != nil {
		return nil, fmt.Errorf("Pow: %w", err)
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil {
		return nil, fmt.Errorf("Pow: %w", err)
	}
	if err := powInto(ctx, x, toF64(y), y.Shape(), y.DType().IsInteger(), out); err != nil {
		return nil, fmt.Errorf("Pow: %w", err)
	}
	return []*tensor.Tensor{out}, nil
}

func powInto(ctx *runtime.Context, x *tensor.Tensor, y []float64, yShape []int, yInt bool, out *tensor.Tensor) error {
	p := newEwPlan(out.Shape(), x.Shape(), yShape)
	exact := yInt && x.DType().IsInteger()
	switch x.DType() {
	case tensor.Float32:
		powT[float32](ctx, p, out, x, y, exact)
	case tensor.Float64:
		powT[float64](ctx, p, out, x, y, exact)
	case tensor.Int8:
		powT[int8](ctx, p, out, x, y, exact)
	case tensor.Uint8:
		powT[uint8](ctx, p, out, x, y, exact)
	case tensor.Int16:
		powT[int16](ctx, p, out, x, y, exact)
	case tensor.Uint16:
		powT[uint16](ctx, p, out, x, y, exact)
	case tensor.Int32:
		powT[int32](ctx, p, out, x, y, exact)
	case tensor.Uint32:
		powT[uint32](ctx, p, out, x, y, exact)
	case tensor.Int64:
		powT[int64](ctx, p, out, x, y, exact)
	case tensor.Uint64:
		powT[uint64](ctx, p, out, x, y, exact)
	case tensor.Float16, tensor.BFloat16:
		return viaF32(out, func(o32 *tensor.Tensor) error {
			return powInto(ctx, halfToF32(x), y, yShape, yInt, o32)
		})
	default:
		return fmt.Errorf("unsupported base dtype %v", x.DType())
	}
	return nil
}

// powT raises x to the exponents y (exact: integer power by squaring).
func powT[T tensor.Numeric](ctx *runtime.Context, p *ewPlan, out, x *tensor.Tensor, y []float64, exact bool) {
	f := func(b T, e float64) T { return T(math.Pow(float64(b), e)) }
	if exact {
		f = func(b T, e float64) T { return T(intPow(int64(b), int64(e))) }
	}
	ewRun2(ctx, p, tensor.Data[T](out), tensor.Data[T](x), y, ewMap2(f))
}

// intPow is b^e in wrapping 64-bit integer arithmetic (exponentiation by
// squaring); a negative exponent gives the truncated 1/b^|e|.
func intPow(b, e int64) int64 {
	if e < 0 {
		switch b {
		case 1:
			return 1
		case -1:
			if e%2 == 0 {
				return 1
			}
			return -1
		}
		return 0
	}
	r := int64(1)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r *= b
		}
		b *= b
	}
	return r
}

// ewOrdered is the element types with Go's < order.
type ewOrdered interface{ tensor.Numeric | string }

// cmpOp selects a comparison.
type cmpOp int

const (
	cmpEq cmpOp = iota
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

// cmpFunc returns the element function of comparison c.
func cmpFunc[T ewOrdered](c cmpOp) func(x, y T) bool {
	switch c {
	case cmpLt:
		return func(x, y T) bool { return x < y }
	case cmpLe:
		return func(x, y T) bool { return x <= y }
	case cmpGt:
		return func(x, y T) bool { return x > y }
	case cmpGe:
		return func(x, y T) bool { return x >= y }
	}
	return func(x, y T) bool { return x == y }
}

// cmpT compares a and b of element type T into the bool tensor out.
func cmpT[T ewOrdered](ctx *runtime.Context, c cmpOp, a, b, out *tensor.Tensor) {
	p := newEwPlan(out.Shape(), a.Shape(), b.Shape())
	ewRun2(ctx, p, tensor.Data[bool](out), tensor.Data[T](a), tensor.Data[T](b), ewMap2(cmpFunc[T](c)))
}

// compareInto writes the bool result of a c b into out.
func compareInto(ctx *runtime.Context, c cmpOp, a, b, out *tensor.Tensor) error {
	switch a.DType() {
	case tensor.Float32:
		cmpT[float32](ctx, c, a, b, out)
	case tensor.Float64:
		cmpT[float64](ctx, c, a, b, out)
	case tensor.Int8:
		cmpT[int8](ctx, c, a, b, out)
	case tensor.Uint8:
		cmpT[uint8](ctx, c, a, b, out)
	case tensor.Int16:
		cmpT[int16](ctx, c, a, b, out)
	case tensor.Uint16:
		cmpT[uint16](ctx, c, a, b, out)
	case tensor.Int32:
		cmpT[int32](ctx, c, a, b, out)
	case tensor.Uint32:
		cmpT[uint32](ctx, c, a, b, out)
	case tensor.Int64:
		cmpT[int64](ctx, c, a, b, out)
	case tensor.Uint64:
		cmpT[uint64](ctx, c, a, b, out)
	case tensor.String:
		if c != cmpEq {
			return fmt.Errorf("unsupported dtype %v", a.DType())
		}
		cmpT[string](ctx, c, a, b, out)
	case tensor.Bool:
		if c != cmpEq {
			return fmt.Errorf("unsupported dtype %v", a.DType())
		}
		p := newEwPlan(out.Shape(), a.Shape(), b.Shape())
		ewRun2(ctx, p, tensor.Data[bool](out), tensor.Data[bool](a), tensor.Data[bool](b),
			ewMap2(func(x, y bool) bool { return x == y }))
	case tensor.Float16, tensor.BFloat16:
		cmpT[float32](ctx, c, halfToF32(a), halfToF32(b), out)
	default:
		return fmt.Errorf("unsupported dtype %v", a.DType())
	}
	return nil
}

// compare is the run function of the comparison ops.
func compare(name string, c cmpOp) ewRunFunc {
	return func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := binaryOutput(ctx, in, tensor.Bool)
		if err == nil {
			err = compareInto(ctx, c, in[0], in[1], out)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return []*tensor.Tensor{out}, nil
	}
}

// logic is the run function of And, Or and Xor.
func logic(name string, f func(x, y bool) bool) ewRunFunc {
	return func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := binaryOutput(ctx, in, tensor.Bool)
		if err == nil && in[0].DType() != tensor.Bool {
			err = fmt.Errorf("unsupported dtype %v (bool only)", in[0].DType())
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		p := newEwPlan(out.Shape(), in[0].Shape(), in[1].Shape())
		ewRun2(ctx, p, tensor.Data[bool](out), tensor.Data[bool](in[0]), tensor.Data[bool](in[1]), ewMap2(f))
		return []*tensor.Tensor{out}, nil
	}
}

func newBitShift(n *graph.Node, _ runtime.NodeInfo) (runtime.Op, error) {
	dir := n.AttrString("direction", "")
	if dir != "LEFT" && dir != "RIGHT" {
		return nil, fmt.Errorf("BitShift: direction must be LEFT or RIGHT, got %q", dir)
	}
	left := dir == "LEFT"
	return runtime.OpFunc(func(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := binaryOutput(ctx, in, dtypeOf(in))
		if err != nil {
			return nil, fmt.Errorf("BitShift: %w", err)
		}
		switch out.DType() {
		case tensor.Uint8:
			shiftT[uint8](ctx, left, in[0], in[1], out)
		case tensor.Uint16:
			shiftT[uint16](ctx, left, in[0], in[1], out)
		case tensor.Uint32:
			shiftT[uint32](ctx, left, in[0], in[1], out)
		case tensor.Uint64:
			shiftT[uint64](ctx, left, in[0], in[1], out)
		default:
			return nil, fmt.Errorf("BitShift: unsupported dtype %v (unsigned integers only)", out.DType())
		}
		return []*tensor.Tensor{out}, nil
	}), nil
}

// shiftT shifts; a count of the type's width or more gives 0.
func shiftT[T uint8 | uint16 | uint32 | uint64](ctx *runtime.Context, left bool, a, b, out *tensor.Tensor) {
	f := func(x, s T) T { return x >> s }
	if left {
		f = func(x, s T) T { return x << s }
	}
	p := newEwPlan(out.Shape(), a.Shape(), b.Shape())
	ewRun2(ctx, p, tensor.Data[T](out), tensor.Data[T](a), tensor.Data[T](b), ewMap2(f))
}

// runWhere selects X where cond is true and Y elsewhere.
func runWhere(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	out, err := whereRun(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("Where: %w", err)
	}
	return []*tensor.Tensor{out}, nil
}

func whereRun(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 3); err != nil {
		return nil, err
	}
	c, x, y := in[0], in[1], in[2]
	if c.DType() != tensor.Bool {
		return nil, fmt.Errorf("condition is %v, want bool", c.DType())
	}
	if err := sameDTypes(in[1:3]); err != nil {
		return nil, err
	}
	shape, err := tensor.BroadcastShapes(c.Shape(), x.Shape(), y.Shape())
	if err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	p := newEwPlan(shape, c.Shape(), x.Shape(), y.Shape())
	cond := tensor.Data[bool](c)
	switch x.DType() {
	case tensor.Float32:
		whereT[float32](ctx, p, cond, x, y, out)
	case tensor.Float64:
		whereT[float64](ctx, p, cond, x, y, out)
	case tensor.Float16:
		whereT[tensor.F16](ctx, p, cond, x, y, out)
	case tensor.BFloat16:
		whereT[tensor.BF16](ctx, p, cond, x, y, out)
	case tensor.Int8:
		whereT[int8](ctx, p, cond, x, y, out)
	case tensor.Uint8:
		whereT[uint8](ctx, p, cond, x, y, out)
	case tensor.Int16:
		whereT[int16](ctx, p, cond, x, y, out)
	case tensor.Uint16:
		whereT[uint16](ctx, p, cond, x, y, out)
	case tensor.Int32:
		whereT[int32](ctx, p, cond, x, y, out)
	case tensor.Uint32:
		whereT[uint32](ctx, p, cond, x, y, out)
	case tensor.Int64:
		whereT[int64](ctx, p, cond, x, y, out)
	case tensor.Uint64:
		whereT[uint64](ctx, p, cond, x, y, out)
	case tensor.Bool:
		whereT[bool](ctx, p, cond, x, y, out)
	case tensor.String:
		whereT[string](ctx, p, cond, x, y, out)
	default:
		return nil, fmt.Errorf("unsupported dtype %v", x.DType())
	}
	return out, nil
}

// whereT selects between x and y of element type T.
func whereT[T tensor.Elem](ctx *runtime.Context, p *ewPlan, cond []bool, x, y, out *tensor.Tensor) {
	xd, yd, od := tensor.Data[T](x), tensor.Data[T](y), tensor.Data[T](out)
	sc, sx, sy := p.innerStride(0), p.innerStride(1), p.innerStride(2)
	p.walk(ctx, func(o, n int, off []int) {
		c, xs, ys := cond[off[0]:], xd[off[1]:], yd[off[2]:]
		for i, d := 0, od[o:o+n]; i < len(d); i++ {
			if c[i*sc] {
				d[i] = xs[i*sx]
			} else {
				d[i] = ys[i*sy]
			}
		}
	})
}

// runPRelu computes X < 0 ? slope*X : X with slope broadcast to X's shape.
func runPRelu(ctx *runtime.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	out, err := preluRun(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("PRelu: %w", err)
	}
	return []*tensor.Tensor{out}, nil
}

func preluRun(ctx *runtime.Context, in []*tensor.Tensor) (*tensor.Tensor, error) {
	if err := needInputs(in, 2); err != nil {
		return nil, err
	}
	if err := sameDTypes(in[:2]); err != nil {
		return nil, err
	}
	x, slope := in[0], in[1]
	shape, err := tensor.BroadcastShapes(x.Shape(), slope.Shape())
	if err != nil || !tensor.SameShape(shape, x.Shape()) {
		return nil, fmt.Errorf("slope shape %v does not broadcast to input shape %v", slope.Shape(), x.Shape())
	}
	out, err := ctx.Alloc(x.DType(), shape...)
	if err != nil {
		return nil, err
	}
	return out, preluInto(ctx, x, slope, out)
}

func preluInto(ctx *runtime.Context, x, slope, out *tensor.Tensor) error {
	switch x.DType() {
	case tensor.Float32:
		preluT[float32](ctx, x, slope, out)
	case tensor.Float64:
		preluT[float64](ctx, x, slope, out)
	case tensor.Int8:
		preluT[int8](ctx, x, slope, out)
	case tensor.Int16:
		preluT[int16](ctx, x, slope, out)
	case tensor.Int32:
		preluT[int32](ctx, x, slope, out)
	case tensor.Int64:
		preluT[int64](ctx, x, slope, out)
	case tensor.Uint8:
		preluT[uint8](ctx, x, slope, out)
	case tensor.Uint16:
		preluT[uint16](ctx, x, slope, out)
	case tensor.Uint32:
		preluT[uint32](ctx, x, slope, out)
	case tensor.Uint64:
		preluT[uint64](ctx, x, slope, out)
	case tensor.Float16, tensor.BFloat16:
		return viaF32(out, func(o32 *tensor.Tensor) error {
			return preluInto(ctx, halfToF32(x), halfToF32(slope), o32)
		})
	default:
		return fmt.Errorf("unsupported dtype %v", x.DType())
	}
	return nil
}

// preluT applies the slopes to the negative elements of x.
func preluT[T tensor.Numeric](ctx *runtime.Context, x, slope, out *tensor.Tensor) {
	p := newEwPlan(out.Shape(), x.Shape(), slope.Shape())
	ewRun2(ctx, p, tensor.Data[T](out), tensor.Data[T](x), tensor.Data[T](slope), ewMap2(func(v, s T) T {
		if v < 0 {
			return s * v
		}
		return v
	}))
}
