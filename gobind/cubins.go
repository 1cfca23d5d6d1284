package gobind

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WgmmaCubinFile is the file under gobind/fatbin that holds the wgmma
// kernels assembled for sm_90a, where `make kernels` had a CUDA 12+ ptxas
// (PTXAS_SM90A): a gzip-compressed tar of one <kernel>.cubin per kernel,
// cubinSums (the SHA-256 of the PTX module, as SplitPTX cuts it, that each
// was assembled from) and cubinAssembler (ptxas's version line). A cubin
// spares the driver's JIT (1.2 s a kernel on an H100); the Launcher loads
// one only where its sum matches the embedded PTX's module, so a stale
// archive costs compile time, never old code.
const WgmmaCubinFile = WgmmaModule + ".cubin.tar.gz"

const (
	cubinSums      = "ptx.sha256"
	cubinAssembler = "assembler"
)

// Cubins is the contents of WgmmaCubinFile.
type Cubins struct {
	// Assembler is the version line of the ptxas that assembled them.
	Assembler string
	// Images holds each kernel's cubin, Sums the SHA-256 of the PTX module
	// it was assembled from, by kernel name.
	Images map[string][]byte
	Sums   map[string][sha256.Size]byte
}

// NewCubins records cubins assembled by assembler from the modules mods
// (SplitPTX), one per kernel that has a cubin.
func NewCubins(assembler string, cubins, mods map[string][]byte) Cubins {
	c := Cubins{Assembler: assembler, Images: cubins, Sums: map[string][sha256.Size]byte{}}
	for name := range cubins {
		c.Sums[name] = sha256.Sum256(mods[name])
	}
	return c
}

// Write writes c as WgmmaCubinFile's contents, the same bytes for the same
// cubins (sorted names, no times).
func (c Cubins) Write(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	names := make([]string, 0, len(c.Images))
	for name := range c.Images {
		names = append(names, name)
	}
	slices.Sort(names)
	var sums bytes.Buffer
	for _, name := range names {
		sum, ok := c.Sums[name]
		if !ok {
			return fmt.Errorf("%s: the cubin of %s has no PTX sum", WgmmaCubinFile, name)
		}
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	if err := add(cubinAssembler, []byte(c.Assembler+"\n")); err != nil {
		return err
	}
	if err := add(cubinSums, sums.Bytes()); err != nil {
		return err
	}
	for _, name := range names {
		if err := add(name+".cubin", c.Images[name]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// ReadCubins reads WgmmaCubinFile's contents; every cubin must have a sum
// and every sum a cubin.
func ReadCubins(gz []byte) (Cubins, error) {
	fail := func(err error) (Cubins, error) { return Cubins{}, fmt.Errorf("%s: %w", WgmmaCubinFile, err) }
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return fail(err)
	}
	c := Cubins{Images: map[string][]byte{}, Sums: map[string][sha256.Size]byte{}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fail(err)
		}
		switch name, isCubin := strings.CutSuffix(h.Name, ".cubin"); {
		case h.Name == cubinAssembler:
			c.Assembler = strings.TrimSpace(string(data))
		case h.Name == cubinSums:
			if err := c.readSums(data); err != nil {
				return fail(err)
			}
		case isCubin:
			c.Images[name] = data
		default:
			return fail(fmt.Errorf("unexpected entry %q", h.Name))
		}
	}
	if c.Assembler == "" || len(c.Images) == 0 {
		return fail(fmt.Errorf("no %s entry, or no cubins", cubinAssembler))
	}
	for name := range c.Images {
		if _, ok := c.Sums[name]; !ok {
			return fail(fmt.Errorf("%s.cubin has no line in %s", name, cubinSums))
		}
	}
	for name := range c.Sums {
		if _, ok := c.Images[name]; !ok {
			return fail(fmt.Errorf("%s lists %s, which has no cubin", cubinSums, name))
		}
	}
	return c, nil
}

// readSums parses cubinSums: "<hex SHA-256>  <kernel>" per line.
func (c Cubins) readSums(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		sumHex, name, ok := strings.Cut(sc.Text(), "  ")
		raw, err := hex.DecodeString(sumHex)
		if !ok || err != nil || len(raw) != sha256.Size || name == "" {
			return fmt.Errorf("%s line %d: want \"<SHA-256 in hex>  <kernel>\", have %q", cubinSums, line, sc.Text())
		}
		c.Sums[name] = [sha256.Size]byte(raw)
	}
	return sc.Err()
}

// WgmmaJITEnv, set to 1, has the wgmma kernels compiled by the driver from
// their PTX even where the build embeds their cubins (to compare the two).
const WgmmaJITEnv = "GCOMPRESS_WGMMA_JIT"

// usableCubins returns the cubins of archive (WgmmaCubinFile's contents;
// nil where the build has none) assembled from the modules mods, none
// where jit (WgmmaJITEnv) asks for the driver's JIT or the archive is
// unreadable, and a line that says where the wgmma kernels' code comes
// from.
func usableCubins(archive []byte, mods map[string][]byte, jit bool) (map[string][]byte, string) {
	const compiled = "compiled by the driver from PTX"
	if jit {
		return nil, compiled + " (" + WgmmaJITEnv + "=1)"
	}
	if archive == nil {
		return nil, compiled + " (this build has no sm_90a cubins)"
	}
	c, err := ReadCubins(archive)
	if err != nil {
		return nil, fmt.Sprintf("%s (%v)", compiled, err)
	}
	fresh, stale := c.Fresh(mods)
	code := "sm_90a cubins by " + c.Assembler
	if len(stale) > 0 {
		code += fmt.Sprintf("; %d of %d kernels, without a cubin of their current PTX, %s", len(stale), len(mods), compiled)
	}
	return fresh, code
}

// Fresh returns the cubins assembled from the very modules of mods (their
// sums match), and in stale the names of mods that have no such cubin.
func (c Cubins) Fresh(mods map[string][]byte) (fresh map[string][]byte, stale []string) {
	fresh = map[string][]byte{}
	for name, mod := range mods {
		if img, ok := c.Images[name]; ok && c.Sums[name] == sha256.Sum256(mod) {
			fresh[name] = img
		} else {
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	return fresh, stale
}
