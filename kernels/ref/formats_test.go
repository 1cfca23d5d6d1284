package ref

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestFormatsMatchCHeader parses kernels/sp24.h and checks that the C
// declarations agree with the Go format table (DESIGN.md §5: formats are
// declared on both sides and checked).
func TestFormatsMatchCHeader(t *testing.T) {
	src, err := os.ReadFile("../sp24.h")
	if err != nil {
		t.Fatal(err)
	}
	defs := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^#define (GC_SP24_\w+) (0x[0-9a-fA-F]+|\d+)`).FindAllStringSubmatch(string(src), -1) {
		v, err := strconv.ParseInt(m[2], 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		defs[m[1]] = int(v)
	}
	want := map[string]int{
		"GC_SP24_EMPTY_NIBBLE":        0x4,
		"GC_SP24_KALIGN_S8":           FormatSparse24S8.KAlign,
		"GC_SP24_KALIGN_F16":          FormatSparse24F16.KAlign,
		"GC_SP24_KALIGN_BF16":         FormatSparse24BF16.KAlign,
		"GC_SP24_META_ROW_ALIGN_S8":   FormatSparse24S8.MetaRowAlign,
		"GC_SP24_META_ROW_ALIGN_F16":  FormatSparse24F16.MetaRowAlign,
		"GC_SP24_META_ROW_ALIGN_BF16": FormatSparse24BF16.MetaRowAlign,
	}
	for _, f := range Formats {
		want["GC_SP24_GROUP"] = f.GroupElems
		want["GC_SP24_KEPT"] = f.KeptElems
		want["GC_SP24_META_BITS"] = f.MetaBits
		if f.MetaRowAlign != f.KAlign/8 {
			t.Errorf("%s: metadata row alignment %d, want KAlign/8 = %d", f.Name, f.MetaRowAlign, f.KAlign/8)
		}
	}
	for name, v := range want {
		got, ok := defs[name]
		if !ok {
			t.Errorf("sp24.h lacks %s", name)
		} else if got != v {
			t.Errorf("sp24.h %s = %d, Go table says %d", name, got, v)
		}
	}
	// The empty-group nibble is what Compress24 writes.
	s, err := Compress24(1, 8, make([]int8, 8), 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	if int(s.Meta[0]&0xf) != defs["GC_SP24_EMPTY_NIBBLE"] {
		t.Errorf("empty group nibble %#x, header says %#x", s.Meta[0]&0xf, defs["GC_SP24_EMPTY_NIBBLE"])
	}
	if got := FormatSparse24S8.BitsPerGroup(); got != 20 {
		t.Errorf("s8 bits per group %d, want 2*8+4", got)
	}
}
