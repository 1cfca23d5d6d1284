package tensor

import "fmt"

// DType is an element type. Its values are the ONNX TensorProto.DataType codes,
// so a DType converts to and from the protobuf enum without a table.
type DType int32

// The element types gcompress stores. Float16 and BFloat16 are kept as their
// 16-bit patterns (Go types F16 and BF16).
const (
	Undefined DType = 0
	Float32   DType = 1
	Uint8     DType = 2
	Int8      DType = 3
	Uint16    DType = 4
	Int16     DType = 5
	Int32     DType = 6
	Int64     DType = 7
	String    DType = 8
	Bool      DType = 9
	Float16   DType = 10
	Float64   DType = 11
	Uint32    DType = 12
	Uint64    DType = 13
	BFloat16  DType = 16
)

var dtypeNames = map[DType]string{
	Float32: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16", Int16: "int16",
	Int32: "int32", Int64: "int64", String: "string", Bool: "bool", Float16: "float16",
	Float64: "float64", Uint32: "uint32", Uint64: "uint64", BFloat16: "bfloat16",
}

// String returns the lower-case NumPy-style name ("float32", "int8", ...).
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Valid reports whether d is a type this package can store.
func (d DType) Valid() bool { _, ok := dtypeNames[d]; return ok }

// Size is the number of bytes per element (0 for String and invalid types).
func (d DType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64:
		return 8
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// IsInteger reports whether d is a (signed or unsigned) integer type.
func (d DType) IsInteger() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64:
		return true
	}
	return false
}

// ParseDType maps a name as printed by String (plus common aliases) to a DType.
func ParseDType(s string) (DType, error) {
	switch s {
	case "f32", "float":
		return Float32, nil
	case "f16", "half":
		return Float16, nil
	case "bf16":
		return BFloat16, nil
	case "f64", "double":
		return Float64, nil
	case "i8":
		return Int8, nil
	case "u8":
		return Uint8, nil
	case "i32":
		return Int32, nil
	case "i64":
		return Int64, nil
	}
	for d, n := range dtypeNames {
		if n == s {
			return d, nil
		}
	}
	return Undefined, fmt.Errorf("unknown dtype %q", s)
}
