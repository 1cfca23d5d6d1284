package gobind

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
)

// WgmmaPTXFile is the file under gobind/fatbin that holds the wgmma module,
// as `make kernels` writes it: its sm_90a PTX, gzip-compressed (the text is
// over 15 MiB, compressed about a tenth of that).
const WgmmaPTXFile = WgmmaModule + ".ptx.gz"

// UnzipPTX returns the PTX text of WgmmaPTXFile's contents.
func UnzipPTX(gz []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", WgmmaPTXFile, err)
	}
	ptx, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", WgmmaPTXFile, err)
	}
	return ptx, nil
}

// SplitPTX splits a PTX module into one standalone module per kernel, keyed
// by entry name: the module's prelude (everything before its first entry:
// the header and the module-level declarations such as the extern dynamic
// shared array) followed by that entry. The driver then JIT-compiles only
// the kernels a run uses; the whole wgmma module takes it over ten seconds,
// one kernel under one.
//
// It relies on the shape nvcc gives a module whose device code is all
// inlined: after the prelude, only entries (`.visible .entry NAME(` at the
// start of a line, up to the next entry) and comments. A module-level
// declaration after the first entry (a .func, a .global) would be missing
// from every split module but one, so it is an error, as is a module
// without entries or with one name twice.
func SplitPTX(ptx []byte) (map[string][]byte, error) {
	const entry = ".visible .entry "
	lines := bytes.SplitAfter(ptx, []byte("\n"))
	var prelude []byte
	entries := map[string][]byte{}
	var name string
	var body []byte
	flush := func() {
		if name != "" {
			m := make([]byte, 0, len(prelude)+len(body))
			entries[name] = append(append(m, prelude...), trimModuleComments(body)...)
		}
	}
	for i, line := range lines {
		s := string(line)
		if strings.HasPrefix(s, entry) {
			flush()
			rest := s[len(entry):]
			paren := strings.IndexByte(rest, '(')
			if paren <= 0 {
				return nil, fmt.Errorf("PTX line %d: entry without a parameter list: %q", i+1, strings.TrimSpace(s))
			}
			name = rest[:paren]
			if _, dup := entries[name]; dup {
				return nil, fmt.Errorf("PTX line %d: entry %s defined twice", i+1, name)
			}
			body = append([]byte(nil), line...)
			continue
		}
		if name == "" {
			prelude = append(prelude, line...)
			continue
		}
		body = append(body, line...)
		if moduleLevel(s) {
			return nil, fmt.Errorf("PTX line %d: %q after entry %s: per-kernel modules would lose it", i+1, strings.TrimSpace(s), name)
		}
	}
	flush()
	if len(entries) == 0 {
		return nil, fmt.Errorf("PTX has no %q", strings.TrimSpace(entry))
	}
	return entries, nil
}

// moduleLevel reports whether a line declares something at module level
// that other entries may use: a function, a variable in global or constant
// memory, an external or weak symbol, an entry that is not .visible. (Lines
// of an entry that start at column 0 -- its performance directives, the
// `.reg` of an inline-asm scope -- are not among these.)
func moduleLevel(line string) bool {
	for _, d := range []string{".func", ".visible .func", ".extern", ".weak", ".global", ".const", ".entry"} {
		if strings.HasPrefix(line, d+" ") {
			return true
		}
	}
	return false
}

// trimModuleComments drops the trailing comment lines nvcc puts between one
// entry and the next ("// .globl NEXT"), which name the next kernel.
func trimModuleComments(body []byte) []byte {
	for {
		t := bytes.TrimRight(body, "\n\t ")
		i := bytes.LastIndexByte(t, '\n')
		last := bytes.TrimSpace(t[i+1:])
		if !bytes.HasPrefix(last, []byte("//")) {
			return append(t, '\n')
		}
		body = t[:i+1]
	}
}
