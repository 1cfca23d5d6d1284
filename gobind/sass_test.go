package gobind

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	sassInstr = regexp.MustCompile(`/\*([0-9a-f]+)\*/\s+(.*?)\s*;`)
	sassReg   = regexp.MustCompile(`^R(\d+)$`)
	sassBra   = regexp.MustCompile("\\bBRA\\b.*(?:0x([0-9a-f]+)|`\\((\\.L_x_\\d+)\\))\\s*$")
	sassLabel = regexp.MustCompile(`(?m)^(\.L_x_\d+):\s*$\s*/\*([0-9a-f]+)\*/`)
	sassDrain = regexp.MustCompile(`^WARPGROUP\.DEPBAR\.LE gsb0, 0x0$`)
)

// metadataHazards checks the SASS of a 2:4 wgmma kernel (nvdisasm -c) for
// the hazard of wg_mma_sp: for each IGMMA.SP / HGMMA.SP it takes the
// metadata register (its last register operand: only the selector and
// flags follow it) and reports every instruction that writes it, and every
// branch that leaves the window, before the first wait that leaves no
// wgmma pending (WARPGROUP.DEPBAR.LE gsb0, 0x0; a wait that leaves some
// may leave this one running). n is the number of sparse wgmmas found.
func metadataHazards(sass string) (n int, problems []string) {
	type instr struct {
		addr int64
		text string
	}
	var code []instr
	for _, m := range sassInstr.FindAllStringSubmatch(sass, -1) {
		a, _ := strconv.ParseInt(m[1], 16, 64)
		code = append(code, instr{a, m[2]})
	}
	// nvdisasm names branch targets by labels: the address that follows.
	labels := map[string]int64{}
	for _, m := range sassLabel.FindAllStringSubmatch(sass, -1) {
		labels[m[1]], _ = strconv.ParseInt(m[2], 16, 64)
	}
	for i, in := range code {
		op, operands := sassSplit(in.text)
		if !strings.Contains(op, "GMMA.SP") {
			continue
		}
		n++
		meta := -1
		for _, o := range operands[1:] {
			if m := sassReg.FindStringSubmatch(o); m != nil {
				meta, _ = strconv.Atoi(m[1])
			}
		}
		if meta < 0 {
			problems = append(problems, fmt.Sprintf("%#x: no metadata register in %q", in.addr, in.text))
			continue
		}
		end := i + 1
		for end < len(code) && !sassDrain.MatchString(code[end].text) {
			end++
		}
		if end == len(code) {
			problems = append(problems, fmt.Sprintf("%#x: no WARPGROUP.DEPBAR.LE gsb0, 0x0 after %q", in.addr, in.text))
			continue
		}
		for _, w := range code[i+1 : end] {
			if lo, width, ok := sassDest(w.text); ok && meta >= lo && meta < lo+width {
				problems = append(problems, fmt.Sprintf("%#x: R%d of %q written at %#x by %q before the wait", in.addr, meta, in.text, w.addr, w.text))
			}
			if op, _ := sassSplit(w.text); strings.HasPrefix(op, "BRX") || strings.HasPrefix(op, "JMX") || strings.HasPrefix(op, "CALL") || strings.HasPrefix(op, "RET") {
				problems = append(problems, fmt.Sprintf("%#x: indirect control flow at %#x before the wait: %q", in.addr, w.addr, w.text))
			}
			if b := sassBra.FindStringSubmatch(w.text); b != nil {
				t, known := labels[b[2]]
				if b[1] != "" {
					t, _ = strconv.ParseInt(b[1], 16, 64)
				} else if !known {
					t = -1
				}
				if t <= in.addr || t > code[end].addr {
					problems = append(problems, fmt.Sprintf("%#x: branch at %#x leaves the window before the wait: %q", in.addr, w.addr, w.text))
				}
			}
		}
	}
	return n, problems
}

// sassSplit returns an instruction's opcode (its predicate dropped) and
// operands.
func sassSplit(text string) (string, []string) {
	f := strings.Fields(text)
	if len(f) > 0 && strings.HasPrefix(f[0], "@") {
		f = f[1:]
	}
	if len(f) == 0 {
		return "", nil
	}
	ops := strings.Split(strings.Join(f[1:], " "), ",")
	for i := range ops {
		ops[i] = strings.TrimSpace(ops[i])
	}
	return f[0], ops
}

// sassDest returns the general registers an instruction writes: its first
// operand when that is one (stores, branches and barriers name none there),
// or the second after a predicate output (LOP3.LUT P0, R1, ...; SHFL and
// ATOM write R after PT), but not in the compares, whose second operand is
// a predicate or a source; two registers for 64-bit forms (.64, .WIDE,
// S64/U64/F64 results, CS2R), four for .128 and the four-matrix ldmatrix.
func sassDest(text string) (lo, width int, ok bool) {
	op, operands := sassSplit(text)
	base, _, _ := strings.Cut(op, ".")
	switch base {
	case "BRA", "BRX", "JMX", "JMP", "CALL", "RET", "EXIT", "BAR", "BSYNC", "BSSY", "WARPSYNC", "NOP", "YIELD":
		return 0, 0, false
	}
	if len(operands) == 0 {
		return 0, 0, false
	}
	dest := operands[0]
	if strings.HasPrefix(dest, "P") && len(operands) > 1 && !strings.HasSuffix(base, "SETP") {
		dest = operands[1]
	}
	m := sassReg.FindStringSubmatch(strings.TrimSuffix(dest, ".reuse"))
	if m == nil {
		return 0, 0, false
	}
	lo, _ = strconv.Atoi(m[1])
	switch {
	case strings.Contains(op, ".128"), base == "LDSM" && strings.HasSuffix(op, ".4"):
		return lo, 4, true
	case strings.Contains(op, ".64"), strings.Contains(op, ".WIDE"), base == "CS2R" && !strings.Contains(op, ".32"),
		base == "LDSM" && strings.HasSuffix(op, ".2"):
		return lo, 2, true
	}
	for _, w := range []string{".S64", ".U64", ".F64"} {
		if strings.Contains(op, w) && !strings.HasPrefix(base, "I2F") && !strings.HasPrefix(base, "F2F") {
			return lo, 2, true
		}
	}
	return lo, 1, true
}

func TestMetadataHazards(t *testing.T) {
	const window = `
        /*33e0*/                   IGMMA.SP.64x256x64.S8.S8 R24, gdesc[UR28], R24, R168 ;
        /*3400*/                   R2UR UR28, R172 ;
        /*3410*/              @!P5 BRA 0x3440 ;
        /*3420*/                   LDGSTS.E.BYPASS.128 [R181], desc[UR10][R174.64] ;
        /*3440*/                   HGMMA.SP.64x128x32.F32 R24, gdesc[UR8], RZ, !UPT, R173, 0x0, gsb0 ;
        %s
        /*34b0*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;
        /*34e0*/                   STS [UR10], R168 ;
`
	for _, c := range []struct {
		name, line string
		bad        int
	}{
		{"clean", "/*3450*/                   MOV R170, UR26 ;", 0},
		{"a write", "/*3450*/                   LDS R168, [R170] ;", 1},
		{"a predicated wide write", "/*3450*/              @P0 IMAD.WIDE.U32 R172, R175, 0x10, R170 ;", 1},
		{"a branch out", "/*3450*/                   BRA 0x3000 ;", 2},
		{"a branch to a label out", "/*3450*/                   BRA `(.L_x_3) ;\n.L_x_3:\n/*3500*/                   NOP ;", 2},
		{"a branch to a label in", "/*3450*/              @P1 BRA `(.L_x_4) ;\n.L_x_4:\n/*3460*/                   NOP ;", 0},
		{"a store", "/*3450*/                   STS [R168], R173 ;", 0},
		{"a write after a predicate output", "/*3450*/                   LOP3.LUT P5, R168, R198, 0x20, RZ, 0xc0, !PT ;", 1},
		{"a compare", "/*3450*/                   ISETP.NE.U32.AND P5, PT, R168, RZ, PT ;", 0},
		{"a four-matrix ldmatrix", "/*3450*/                   LDSM.16.M88.4 R172, [R2] ;", 1},
		{"an indirect branch", "/*3450*/                   BRX R2 -0x3460 ;", 2},
		{"a wait that leaves one group pending", "/*3450*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n/*3460*/                   LDS R168, [R170] ;", 1},
	} {
		n, problems := metadataHazards(fmt.Sprintf(window, c.line))
		if n != 2 || len(problems) != c.bad {
			t.Errorf("%s: %d sparse wgmmas, problems %q; want 2 and %d", c.name, n, problems, c.bad)
		}
	}
}
