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
// over 15 MiB, compressed about 15% of that).
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
// by entry name: the module's prelude (everything before its first entry)
// followed by that entry. The driver then JIT-compiles only the kernels a
// run uses; the whole wgmma module takes it tens of seconds, one kernel
// under one.
//
// It accepts the shape nvcc gives a module whose device code is all inlined
// and that has no variables of its own: a prelude of the header
// (.version, .target, .address_size), comments and extern shared arrays,
// then only entries (a `.visible .entry NAME(` line, up to the next entry)
// and comments. Anything else at module level would be copied into every
// split module (a variable in the prelude: one instance per kernel) or
// into one alone (after the first entry: a .func, a .global, the .file
// table of -lineinfo), so it is an error, as is a module without entries or
// with one name twice.
func SplitPTX(ptx []byte) (map[string][]byte, error) {
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
		if next, ok, err := entryName(s); err != nil {
			return nil, fmt.Errorf("PTX line %d: %w", i+1, err)
		} else if ok {
			flush()
			if _, dup := entries[next]; dup {
				return nil, fmt.Errorf("PTX line %d: entry %s defined twice", i+1, next)
			}
			name, body = next, append([]byte(nil), line...)
			continue
		}
		if name == "" {
			if !preludeLine(s) {
				return nil, fmt.Errorf("PTX line %d: %q before the first entry: every per-kernel module would get its own copy", i+1, strings.TrimSpace(s))
			}
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
		return nil, fmt.Errorf("PTX has no .visible .entry")
	}
	return entries, nil
}

// entryName returns the kernel a `.visible .entry NAME(` line starts.
func entryName(line string) (string, bool, error) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != ".visible" || f[1] != ".entry" {
		return "", false, nil
	}
	name, _, ok := strings.Cut(f[2], "(")
	if !ok || name == "" {
		return "", false, fmt.Errorf("entry without a parameter list: %q", strings.TrimSpace(line))
	}
	return name, true, nil
}

// preludeLine reports whether a line before the first entry is one every
// per-kernel module may carry: blank, a comment, the header, or an extern
// shared array (the kernels' dynamic shared memory).
func preludeLine(line string) bool {
	t := strings.TrimSpace(line)
	for _, p := range []string{"//", ".version ", ".target ", ".address_size ", ".extern .shared "} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return t == ""
}

// moduleLevel reports whether a line of an entry's text declares something
// at module level: a function, a variable, an external or weak symbol, an
// entry that is not .visible, the file table or a section (-lineinfo, -G).
// (The lines of an entry that start at column 0 -- its performance
// directives, the `.reg` of an inline-asm scope -- are not among these.)
func moduleLevel(line string) bool {
	for _, d := range []string{".func", ".visible", ".extern", ".weak", ".global", ".const", ".common", ".shared", ".entry"} {
		if strings.HasPrefix(line, d+" ") || strings.HasPrefix(line, d+"\t") {
			return true
		}
	}
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, ".file") || strings.HasPrefix(t, ".section")
}

// trimModuleComments drops the trailing comment lines nvcc puts between one
// entry and the next ("// .globl NEXT"), which name the next kernel.
func trimModuleComments(body []byte) []byte {
	for {
		t := bytes.TrimRight(body, "\r\n\t ")
		i := bytes.LastIndexByte(t, '\n')
		last := bytes.TrimSpace(t[i+1:])
		if !bytes.HasPrefix(last, []byte("//")) {
			return append(t, '\n')
		}
		body = t[:i+1]
	}
}
