package tensor

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Elem is the set of Go element types a Tensor can hold.
type Elem interface {
	float32 | float64 | F16 | BF16 | int8 | uint8 | int16 | uint16 |
		int32 | uint32 | int64 | uint64 | bool | string
}

// Numeric is Elem without bool, string and the 16-bit float patterns: the types
// Go arithmetic works on directly.
type Numeric interface {
	float32 | float64 | int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64
}

// MaxElements bounds the element count of any tensor this package creates, so
// that a corrupt or hostile shape fails with an error instead of an attempt to
// allocate terabytes. 2^33 float32 elements is 32 GiB.
const MaxElements = 1 << 33

// Tensor is a dense, contiguous, row-major array. The zero value is not
// usable; build tensors with New, FromSlice or Scalar.
type Tensor struct {
	dtype DType
	shape []int
	data  any // []T for the T matching dtype
}

// New returns a zero-filled tensor. It fails on an invalid dtype, a negative
// dimension or more than MaxElements elements.
func New(dt DType, shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	data, err := makeSlice(dt, n)
	if err != nil {
		return nil, err
	}
	return &Tensor{dtype: dt, shape: cloneInts(shape), data: data}, nil
}

// MustNew is New for shapes known to be valid (tests, constants in code).
func MustNew(dt DType, shape ...int) *Tensor {
	t, err := New(dt, shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// FromSlice wraps data (not copied) as a tensor of the given shape. It panics
// if len(data) does not match the shape: that is a programming error.
func FromSlice[T Elem](shape []int, data []T) *Tensor {
	n, err := NumElements(shape)
	if err != nil || n != len(data) {
		panic(fmt.Sprintf("tensor.FromSlice: %d elements for shape %v", len(data), shape))
	}
	return &Tensor{dtype: DTypeOf[T](), shape: cloneInts(shape), data: data}
}

// Scalar returns a rank-0 tensor holding v.
func Scalar[T Elem](v T) *Tensor { return FromSlice([]int{}, []T{v}) }

// DTypeOf returns the DType that stores Go type T.
func DTypeOf[T Elem]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case F16:
		return Float16
	case BF16:
		return BFloat16
	case int8:
		return Int8
	case uint8:
		return Uint8
	case int16:
		return Int16
	case uint16:
		return Uint16
	case int32:
		return Int32
	case uint32:
		return Uint32
	case int64:
		return Int64
	case uint64:
		return Uint64
	case bool:
		return Bool
	case string:
		return String
	}
	panic("unreachable")
}

func makeSlice(dt DType, n int) (any, error) {
	switch dt {
	case Float32:
		return make([]float32, n), nil
	case Float64:
		return make([]float64, n), nil
	case Float16:
		return make([]F16, n), nil
	case BFloat16:
		return make([]BF16, n), nil
	case Int8:
		return make([]int8, n), nil
	case Uint8:
		return make([]uint8, n), nil
	case Int16:
		return make([]int16, n), nil
	case Uint16:
		return make([]uint16, n), nil
	case Int32:
		return make([]int32, n), nil
	case Uint32:
		return make([]uint32, n), nil
	case Int64:
		return make([]int64, n), nil
	case Uint64:
		return make([]uint64, n), nil
	case Bool:
		return make([]bool, n), nil
	case String:
		return make([]string, n), nil
	}
	return nil, fmt.Errorf("unsupported dtype %v", dt)
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns the dimensions. The caller must not modify the slice.
func (t *Tensor) Shape() []int { return t.shape }

// Rank returns the number of dimensions (0 for a scalar).
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements.
func (t *Tensor) Len() int { return Product(t.shape) }

// Data returns the backing slice as an any holding []T.
func (t *Tensor) Data() any { return t.data }

// Bytes returns the size of the element data in bytes (0 for strings).
func (t *Tensor) Bytes() int64 { return int64(t.Len()) * int64(t.dtype.Size()) }

// Data returns t's elements as []T; it panics if T does not match t's dtype,
// which is a programming error (check DType first where it can vary).
func Data[T Elem](t *Tensor) []T {
	d, ok := t.data.([]T)
	if !ok {
		panic(fmt.Sprintf("tensor.Data: tensor is %v, not %v", t.dtype, DTypeOf[T]()))
	}
	return d
}

// F32 returns the elements of a float32 tensor.
func (t *Tensor) F32() []float32 { return Data[float32](t) }

// I64 returns the elements of an int64 tensor.
func (t *Tensor) I64() []int64 { return Data[int64](t) }

// Reshape returns a view of t with a new shape of the same element count; the
// data is shared.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != t.Len() {
		return nil, fmt.Errorf("reshape %v (%d elements) to %v (%d elements)", t.shape, t.Len(), shape, n)
	}
	return &Tensor{dtype: t.dtype, shape: cloneInts(shape), data: t.data}, nil
}

// View returns a tensor of the given shape over t's elements [offset,
// offset + its element count); the data is shared.
func (t *Tensor) View(offset int, shape ...int) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset+n > t.Len() {
		return nil, fmt.Errorf("view of %d elements at %d over %v (%d elements)", n, offset, t.shape, t.Len())
	}
	return &Tensor{dtype: t.dtype, shape: cloneInts(shape), data: reflect.ValueOf(t.data).Slice(offset, offset+n).Interface()}, nil
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{dtype: t.dtype, shape: cloneInts(t.shape)}
	switch d := t.data.(type) {
	case []float32:
		c.data = append([]float32(nil), d...)
	case []float64:
		c.data = append([]float64(nil), d...)
	case []F16:
		c.data = append([]F16(nil), d...)
	case []BF16:
		c.data = append([]BF16(nil), d...)
	case []int8:
		c.data = append([]int8(nil), d...)
	case []uint8:
		c.data = append([]uint8(nil), d...)
	case []int16:
		c.data = append([]int16(nil), d...)
	case []uint16:
		c.data = append([]uint16(nil), d...)
	case []int32:
		c.data = append([]int32(nil), d...)
	case []uint32:
		c.data = append([]uint32(nil), d...)
	case []int64:
		c.data = append([]int64(nil), d...)
	case []uint64:
		c.data = append([]uint64(nil), d...)
	case []bool:
		c.data = append([]bool(nil), d...)
	case []string:
		c.data = append([]string(nil), d...)
	}
	if c.data == nil { // keep non-nil empty slices
		c.data, _ = makeSlice(t.dtype, 0)
	}
	return c
}

// RawBytes returns the element bytes in little-endian order (the host order on
// every platform gcompress supports), sharing memory with t. Not for strings.
func (t *Tensor) RawBytes() []byte {
	n := int(t.Bytes())
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(t.DataPointer()), n)
}

// DataPointer returns the address of the first element, or nil for an empty
// tensor. Two tensors with the same non-nil DataPointer share storage.
func (t *Tensor) DataPointer() unsafe.Pointer {
	if t.Len() == 0 {
		return nil
	}
	switch d := t.data.(type) {
	case []float32:
		return unsafe.Pointer(&d[0])
	case []float64:
		return unsafe.Pointer(&d[0])
	case []F16:
		return unsafe.Pointer(&d[0])
	case []BF16:
		return unsafe.Pointer(&d[0])
	case []int8:
		return unsafe.Pointer(&d[0])
	case []uint8:
		return unsafe.Pointer(&d[0])
	case []int16:
		return unsafe.Pointer(&d[0])
	case []uint16:
		return unsafe.Pointer(&d[0])
	case []int32:
		return unsafe.Pointer(&d[0])
	case []uint32:
		return unsafe.Pointer(&d[0])
	case []int64:
		return unsafe.Pointer(&d[0])
	case []uint64:
		return unsafe.Pointer(&d[0])
	case []bool:
		return unsafe.Pointer(&d[0])
	case []string:
		return unsafe.Pointer(&d[0])
	}
	return nil
}

// FromBytes builds a tensor of dtype dt and shape from little-endian element
// bytes (copied). len(b) must equal the element count times the element size.
func FromBytes(dt DType, shape []int, b []byte) (*Tensor, error) {
	if dt == String || !dt.Valid() {
		return nil, fmt.Errorf("raw bytes cannot hold dtype %v", dt)
	}
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if want := int64(n) * int64(dt.Size()); int64(len(b)) != want {
		return nil, fmt.Errorf("%d bytes for %v %v, want %d", len(b), dt, shape, want)
	}
	t, err := New(dt, shape...)
	if err != nil {
		return nil, err
	}
	copy(t.RawBytes(), b)
	return t, nil
}

// Float64At returns element i converted to float64 (bool as 0/1); strings give NaN.
func (t *Tensor) Float64At(i int) float64 {
	switch d := t.data.(type) {
	case []float32:
		return float64(d[i])
	case []float64:
		return d[i]
	case []F16:
		return float64(d[i].Float32())
	case []BF16:
		return float64(d[i].Float32())
	case []int8:
		return float64(d[i])
	case []uint8:
		return float64(d[i])
	case []int16:
		return float64(d[i])
	case []uint16:
		return float64(d[i])
	case []int32:
		return float64(d[i])
	case []uint32:
		return float64(d[i])
	case []int64:
		return float64(d[i])
	case []uint64:
		return float64(d[i])
	case []bool:
		if d[i] {
			return 1
		}
		return 0
	}
	return math.NaN()
}

// Int64s returns the elements of an integer tensor widened to int64 (for shape,
// axes and index inputs, which ONNX allows as int32 or int64).
func (t *Tensor) Int64s() ([]int64, error) {
	switch d := t.data.(type) {
	case []int64:
		return d, nil
	case []int32:
		out := make([]int64, len(d))
		for i, v := range d {
			out[i] = int64(v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want an int32 or int64 tensor, got %v", t.dtype)
}

// String summarises the tensor as "float32[2 3]".
func (t *Tensor) String() string { return fmt.Sprintf("%v%v", t.dtype, t.shape) }

// TransposeInt8Matrix returns the transpose of a 2-D uint8 or int8 tensor
// (a copy).
func TransposeInt8Matrix(t *Tensor) *Tensor {
	r, c := t.Shape()[0], t.Shape()[1]
	switch t.DType() {
	case Uint8:
		return FromSlice([]int{c, r}, transposeSlice(Data[uint8](t), r, c))
	default:
		return FromSlice([]int{c, r}, transposeSlice(Data[int8](t), r, c))
	}
}

func transposeSlice[T int8 | uint8](src []T, r, c int) []T {
	out := make([]T, len(src))
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out[j*r+i] = src[i*c+j]
		}
	}
	return out
}
