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
	sassWait  = regexp.MustCompile(`^WARPGROUP\.DEPBAR\.LE gsb0, 0x([0-9a-f]+)$`)
)

// metadataHazards checks the SASS of a 2:4 wgmma kernel (nvdisasm -c) for
// the hazard of wg_mma_sp: for each IGMMA.SP / HGMMA.SP it takes the
// metadata register (its last register operand: only the selector and
// flags follow it) and follows every path of the code from it, through
// branches and the loop's back edge, to the wait that retires it: a
// WARPGROUP.DEPBAR.LE gsb0, N once N or fewer groups were committed after
// its own (a wgmma marked gsb0 commits a group; the first one from the
// issue on is its own). It reports every instruction on such a path that
// writes the register, every path that leaves the code or meets indirect
// control flow, an exit or a branch to an unknown target first. n is the
// number of sparse wgmmas found.
func metadataHazards(sass string) (n int, problems []string) {
	type instr struct {
		addr int64
		text string
	}
	var code []instr
	at := map[int64]int{}
	for _, m := range sassInstr.FindAllStringSubmatch(sass, -1) {
		a, _ := strconv.ParseInt(m[1], 16, 64)
		at[a] = len(code)
		code = append(code, instr{a, m[2]})
	}
	// nvdisasm names branch targets by labels: the address that follows.
	labels := map[string]int64{}
	for _, m := range sassLabel.FindAllStringSubmatch(sass, -1) {
		labels[m[1]], _ = strconv.ParseInt(m[2], 16, 64)
	}
	// target is the index a branch goes to (-1: none known).
	target := func(b []string) int {
		a, ok := labels[b[2]]
		if b[1] != "" {
			var err error
			a, err = strconv.ParseInt(b[1], 16, 64)
			ok = err == nil
		}
		if i, in := at[a]; ok && in {
			return i
		}
		return -1
	}
	// state is a point on a path from an issue: the next instruction, and
	// the groups committed since the issue (own: 1; later ones: 2 or more,
	// counted up to 3).
	type state struct{ pc, groups int }
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
		report := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("%#x (%s): ", in.addr, in.text)+fmt.Sprintf(format, args...))
		}
		seen := map[state]bool{}
		work := []state{{i, 0}}
		for len(work) > 0 {
			st := work[len(work)-1]
			work = work[:len(work)-1]
			if st.pc < 0 || st.pc >= len(code) {
				report("a path leaves the code before the wait")
				continue
			}
			if seen[st] {
				continue
			}
			seen[st] = true
			w := code[st.pc]
			op, _ := sassSplit(w.text)
			if st.pc != i {
				if lo, width, ok := sassDest(w.text); ok && meta >= lo && meta < lo+width {
					report("R%d written at %#x by %q before the wait", meta, w.addr, w.text)
				}
			}
			groups := st.groups
			if strings.Contains(op, "GMMA") && strings.HasSuffix(w.text, "gsb0") {
				groups = min(groups+1, 3)
			}
			if m := sassWait.FindStringSubmatch(w.text); m != nil && groups > 0 {
				if left, _ := strconv.ParseInt(m[1], 16, 64); int(left) <= groups-1 {
					continue // retired
				}
			}
			base, _, _ := strings.Cut(op, ".")
			switch base {
			case "BRX", "JMX", "CALL", "RET", "EXIT":
				report("%q at %#x before the wait", w.text, w.addr)
				continue
			}
			if b := sassBra.FindStringSubmatch(w.text); b != nil {
				t := target(b)
				if t < 0 {
					report("branch at %#x to an unknown target before the wait: %q", w.addr, w.text)
					continue
				}
				work = append(work, state{t, groups})
				if !strings.HasPrefix(w.text, "@") {
					continue
				}
			}
			work = append(work, state{st.pc + 1, groups})
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
.L_x_3:
        /*3500*/                   NOP ;
`
	for _, c := range []struct {
		name, line string
		bad        int
	}{
		{"clean", "/*3450*/                   MOV R170, UR26 ;", 0},
		{"a write", "/*3450*/                   LDS R168, [R170] ;", 1},
		{"a predicated wide write", "/*3450*/              @P0 IMAD.WIDE.U32 R172, R175, 0x10, R170 ;", 1},
		{"a branch out", "/*3450*/                   BRA 0x3000 ;", 2},
		{"a branch to a label past the wait", "/*3450*/                   BRA `(.L_x_3) ;", 2},
		{"a branch to a label in", "/*3450*/              @P1 BRA `(.L_x_4) ;\n.L_x_4:\n/*3460*/                   NOP ;", 0},
		{"a store", "/*3450*/                   STS [R168], R173 ;", 0},
		{"a write after a predicate output", "/*3450*/                   LOP3.LUT P5, R168, R198, 0x20, RZ, 0xc0, !PT ;", 1},
		{"a compare", "/*3450*/                   ISETP.NE.U32.AND P5, PT, R168, RZ, PT ;", 0},
		{"a four-matrix ldmatrix", "/*3450*/                   LDSM.16.M88.4 R172, [R2] ;", 1},
		{"an indirect branch", "/*3450*/                   BRX R2 -0x3460 ;", 2},
		{"a wait that leaves one group pending", "/*3460*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;\n/*3470*/                   LDS R168, [R170] ;", 1},
		{"an exit", "/*3450*/              @P0 EXIT ;", 2},
	} {
		n, problems := metadataHazards(fmt.Sprintf(window, c.line))
		if n != 2 || len(problems) != c.bad {
			t.Errorf("%s: %d sparse wgmmas, problems %q; want 2 and %d", c.name, n, problems, c.bad)
		}
	}
}

// TestMetadataHazardsInLoop: a 2:4 loop with one group left in flight (the
// INFLIGHT 1 shapes: two parities of tile, one set of metadata registers
// each, as ptxas 12.4 compiles it) passes, through the back edge; loading
// a set whose group is still in flight fails, on the path through the back
// edge or straight on.
func TestMetadataHazardsInLoop(t *testing.T) {
	const loop = `
.L_x_12:
        /*2200*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;
        /*2210*/                   LDS R176, [R177+0x28000] ;
        /*2220*/                   LDS R173, [R177+0x28008] ;
        /*2230*/                   WARPGROUP.ARRIVE ;
        /*2240*/                   IGMMA.SP.64x256x64.S8.S8 R24, gdesc[UR12], R24, R176 ;
        /*2250*/                   IGMMA.SP.64x256x64.S8.S8 R24, gdesc[UR12], R24, R173, gsb0 ;
        /*2260*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;
        /*2270*/              @!P4 BRA ` + "`(.L_x_8)" + ` ;
        /*2280*/                   STS [UR12], R169 ;
        /*2290*/                   STS [UR12], R168 ;
.L_x_8:
        /*22a0*/                   IADD3 R168, R6, 0x10, RZ ;
        /*22b0*/                   BAR.SYNC.DEFER_BLOCKING 0x0 ;
        /*22c0*/                   LDS R169, [R6+0x28000] ;
        /*22d0*/                   LDS R168, [R6+0x28008] ;
        /*22e0*/                   WARPGROUP.ARRIVE ;
        /*22f0*/                   IGMMA.SP.64x256x64.S8.S8 R24, gdesc[UR8], R24, R169 ;
        /*2300*/                   IGMMA.SP.64x256x64.S8.S8 R24, gdesc[UR4], R24, R168, gsb0 ;
        /*2310*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;
        /*2320*/              @!P4 BRA ` + "`(.L_x_9)" + ` ;
        /*2330*/                   STS [UR12], R176 ;
        /*2340*/                   STS [UR12], R173 ;
.L_x_9:
        %s
        /*2360*/              @!P5 BRA ` + "`(.L_x_12)" + ` ;
        /*2370*/                   WARPGROUP.DEPBAR.LE gsb0, 0x0 ;
        /*2380*/                   STS [UR55], R169 ;
        /*2390*/                   EXIT ;
`
	for _, c := range []struct {
		name, line string
		bad        int
	}{
		{"two sets", "/*2350*/                   IADD3 R6, R6, 0x1, RZ ;", 0},
		// The second set's group runs on into the next iteration, whose
		// first instructions write R169 again.
		{"a write of the set in flight at the back edge", "/*2350*/                   MOV R169, R2 ;", 1},
		{"a write of the set in flight before the loop ends", "/*2350*/                   MOV R168, R2 ;", 1},
	} {
		n, problems := metadataHazards(fmt.Sprintf(loop, c.line))
		if n != 4 || len(problems) != c.bad {
			t.Errorf("%s: %d sparse wgmmas, problems %q; want 4 and %d", c.name, n, problems, c.bad)
		}
	}
	// One set for both parities: the second tile loads the registers the
	// first tile's group still reads.
	one := strings.NewReplacer("R169", "R176", "R168", "R173").Replace(fmt.Sprintf(loop, "NOP ;"))
	if _, problems := metadataHazards(one); len(problems) == 0 {
		t.Error("one set of metadata registers for both parities passed")
	}
}
