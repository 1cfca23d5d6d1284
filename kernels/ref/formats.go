package ref

// Format declares a packed data format that the CUDA kernels read, as the
// table of DESIGN.md §5 asks: how many logical elements a group holds, how
// many of them are stored, the bytes per stored value and the metadata bits
// per group, and the alignment the kernels need. The C side declares the same
// numbers in kernels/sp24.h; a test parses that header and compares.
//
// For the 2:4 formats the conversion from dense ("from-float" reference) is
// Compress24 and back ("to-float") is Sparse24.Decompress.
type Format struct {
	Name string
	// Elem is the value element type ("s8", "f16", "bf16").
	Elem string
	// GroupElems logical elements per group along K; KeptElems of them are
	// stored.
	GroupElems, KeptElems int
	// ValueBytes is the size of one stored value; MetaBits the metadata per
	// group.
	ValueBytes, MetaBits int
	// KAlign: the kernels need K (logical columns) to be a multiple of this
	// (one pipeline stage); Compress24 pads to it.
	KAlign int
	// MetaRowAlign is the byte alignment the kernels need for the metadata
	// base pointer and row stride (KAlign/8, one cp.async per row and stage).
	MetaRowAlign int
}

// BitsPerGroup is the storage per group of GroupElems logical elements.
func (f Format) BitsPerGroup() int { return f.KeptElems*f.ValueBytes*8 + f.MetaBits }

// ValueTileBytes is the compressed values of one row for one k tile
// (KAlign logical columns): what a kernel stage copies of each row.
func (f Format) ValueTileBytes() int { return f.KAlign / f.GroupElems * f.KeptElems * f.ValueBytes }

// The 2:4 formats (see Sparse24 for the layout).
var (
	FormatSparse24S8   = Format{Name: "sparse24-s8", Elem: "s8", GroupElems: 4, KeptElems: 2, ValueBytes: 1, MetaBits: 4, KAlign: 128, MetaRowAlign: 16}
	FormatSparse24F16  = Format{Name: "sparse24-f16", Elem: "f16", GroupElems: 4, KeptElems: 2, ValueBytes: 2, MetaBits: 4, KAlign: 64, MetaRowAlign: 8}
	FormatSparse24BF16 = Format{Name: "sparse24-bf16", Elem: "bf16", GroupElems: 4, KeptElems: 2, ValueBytes: 2, MetaBits: 4, KAlign: 64, MetaRowAlign: 8}
)

// Sparse24Format returns the 2:4 format of input type in.
func Sparse24Format(in Elem) Format {
	switch in {
	case F16:
		return FormatSparse24F16
	case BF16:
		return FormatSparse24BF16
	}
	return FormatSparse24S8
}

// Formats lists every declared format.
var Formats = []Format{FormatSparse24S8, FormatSparse24F16, FormatSparse24BF16}
