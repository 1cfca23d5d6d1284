package tensor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/gcompress/gcompress/internal/atomicfile"
)

// npyMagic starts every .npy file (format versions 1.0, 2.0 and 3.0).
var npyMagic = []byte("\x93NUMPY")

// npyDescr maps the .npy dtype descriptor (little-endian or byte-order-free)
// to a DType. bfloat16 has no .npy descriptor.
var npyDescr = map[string]DType{
	"<f4": Float32, "<f8": Float64, "<f2": Float16, "|i1": Int8, "|u1": Uint8,
	"<i2": Int16, "<u2": Uint16, "<i4": Int32, "<u4": Uint32, "<i8": Int64,
	"<u8": Uint64, "|b1": Bool,
}

// maxNpyHeader bounds the header length a reader accepts (NumPy itself
// refuses headers above 10,000 bytes by default).
const maxNpyHeader = 1 << 16

var (
	npyDescrRe   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	npyFortranRe = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	npyShapeRe   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// ReadNpy decodes a .npy stream. Fortran-ordered arrays are converted to row
// major. The data length is checked against the header before allocating.
func ReadNpy(r io.Reader) (*Tensor, error) {
	br := bufio.NewReader(r)
	pre := make([]byte, 8)
	if _, err := io.ReadFull(br, pre); err != nil {
		return nil, fmt.Errorf("npy: short header: %w", err)
	}
	if !bytes.Equal(pre[:6], npyMagic) {
		return nil, fmt.Errorf("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("npy: short header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("npy: short header: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf("npy: header of %d bytes is too long", hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("npy: short header: %w", err)
	}
	h := string(hdr)
	m := npyDescrRe.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("npy: header has no descr: %q", h)
	}
	descr := m[1]
	if descr == "=f4" || descr == "=f8" { // native order on a little-endian host
		descr = "<" + descr[1:]
	}
	dt, ok := npyDescr[descr]
	if !ok {
		return nil, fmt.Errorf("npy: unsupported dtype %q", m[1])
	}
	m = npyFortranRe.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("npy: header has no fortran_order")
	}
	fortran := m[1] == "True"
	m = npyShapeRe.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("npy: header has no shape")
	}
	var shape []int
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(strings.TrimSuffix(f, "L"))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad dimension %q", f)
		}
		shape = append(shape, d)
	}
	n, err := NumElements(shape)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	want := int64(n) * int64(dt.Size())
	// Read at most want+1 bytes so a lying header cannot make us allocate more
	// than the stream holds plus one byte.
	raw, err := io.ReadAll(io.LimitReader(br, want+1))
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if int64(len(raw)) != want {
		return nil, fmt.Errorf("npy: %v %v needs %d data bytes, the file has %d", dt, shape, want, len(raw))
	}
	if dt == Bool {
		for _, b := range raw {
			if b > 1 {
				return nil, fmt.Errorf("npy: bool byte %d is not 0 or 1", b)
			}
		}
	}
	if fortran {
		rev := make([]int, len(shape))
		for i := range shape {
			rev[i] = shape[len(shape)-1-i]
		}
		raw = reverseAxes(raw, rev, dt.Size())
	}
	return FromBytes(dt, shape, raw)
}

// reverseAxes transposes row-major data of shape src by reversing the axis
// order (the Fortran-to-C conversion), element size es bytes.
func reverseAxes(raw []byte, src []int, es int) []byte {
	out := make([]byte, len(raw))
	r := len(src)
	dst := make([]int, r)
	for i := range src {
		dst[i] = src[r-1-i]
	}
	srcSt := Strides(src)
	idx := make([]int, r) // index into dst
	for o := 0; o < len(raw)/es; o++ {
		s := 0
		for k := 0; k < r; k++ {
			s += idx[k] * srcSt[r-1-k]
		}
		copy(out[o*es:(o+1)*es], raw[s*es:(s+1)*es])
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < dst[k] {
				break
			}
			idx[k] = 0
		}
	}
	return out
}

// WriteNpy encodes t as a version 1.0 .npy stream (version 2.0 if the header
// needs it), C order.
func WriteNpy(w io.Writer, t *Tensor) error {
	descr := ""
	for d, dt := range npyDescr {
		if dt == t.dtype {
			descr = d
		}
	}
	if descr == "" {
		return fmt.Errorf("npy: cannot store dtype %v", t.dtype)
	}
	dims := make([]string, len(t.shape))
	for i, d := range t.shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape)
	// Pad with spaces so that magic + version + length + header + '\n' is a
	// multiple of 64 bytes, as NumPy does.
	lenBytes, ver := 2, byte(1)
	if len(h)+12 > 65535 {
		lenBytes, ver = 4, 2
	}
	total := 6 + 2 + lenBytes + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var buf bytes.Buffer
	buf.Write(npyMagic)
	buf.Write([]byte{ver, 0})
	if lenBytes == 2 {
		binary.Write(&buf, binary.LittleEndian, uint16(len(h)))
	} else {
		binary.Write(&buf, binary.LittleEndian, uint32(len(h)))
	}
	buf.WriteString(h)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if _, err := w.Write(t.RawBytes()); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}

// LoadNpy reads a .npy file.
func LoadNpy(path string) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadNpy(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// SaveNpy writes t to path atomically (a temporary file renamed into place).
func SaveNpy(path string, t *Tensor) error {
	return atomicfile.Write(path, func(w io.Writer) error { return WriteNpy(w, t) })
}
