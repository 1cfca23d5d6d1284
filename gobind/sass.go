package gobind

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// AssembleSM90a assembles one wgmma kernel's own module (SplitPTX) for
// sm_90a with ptxas (CUDA 12 or newer), in dir, and returns the cubin. It
// fails on an error, a warning (ptxas warns where it serialises wgmma), a
// spill, or, in the SASS (nvdisasm), a fence at GPU scope in a loop
// (loopFences) or, in a 2:4 kernel, the wgmma.sp metadata hazard
// (metadataHazards).
func AssembleSM90a(ptxas, nvdisasm, dir, name string, module []byte) ([]byte, error) {
	path := filepath.Join(dir, name+".ptx")
	if err := os.WriteFile(path, module, 0o644); err != nil {
		return nil, err
	}
	cubin := filepath.Join(dir, name+".cubin")
	out, err := exec.Command(ptxas, "-arch=sm_90a", "-v", "-o", cubin, path).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: ptxas: %v\n%s", name, err, out)
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		low := strings.ToLower(string(line))
		if strings.Contains(low, "warning") || strings.Contains(low, "performance loss") ||
			(strings.Contains(low, "spill") && !strings.Contains(low, " 0 bytes spill stores, 0 bytes spill loads")) {
			return nil, fmt.Errorf("%s: ptxas: %s", name, line)
		}
	}
	sass, err := exec.Command(nvdisasm, "-c", cubin).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: nvdisasm: %v\n%s", name, err, sass)
	}
	if problems := loopFences(string(sass)); len(problems) > 0 {
		return nil, fmt.Errorf("%s: a fence at GPU scope in a loop:\n%s", name, strings.Join(problems, "\n"))
	}
	if strings.Contains(name, "spgemm") || strings.Contains(name, "sp_probe") {
		n, problems := metadataHazards(string(sass))
		if n == 0 {
			return nil, fmt.Errorf("%s: no IGMMA.SP / HGMMA.SP in its SASS", name)
		}
		if len(problems) > 0 {
			return nil, fmt.Errorf("%s: the metadata of a wgmma.sp can change before its wait:\n%s", name, strings.Join(problems, "\n"))
		}
	}
	return os.ReadFile(cubin)
}

// PtxasVersion is the release line of ptxas --version ("Cuda compilation
// tools, release 12.4, V12.4.131"; its last line where none says release).
func PtxasVersion(ptxas string) (string, error) {
	out, err := exec.Command(ptxas, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", ptxas, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, line := range lines {
		if strings.Contains(line, "release") {
			return line, nil
		}
	}
	return lines[len(lines)-1], nil
}

// AssembleAll runs AssembleSM90a on every module, workers at a time, in
// dir; done (if not nil) is called after each, from one goroutine at a
// time. It returns the cubins of those that passed and every failure.
func AssembleAll(ptxas, nvdisasm, dir string, mods map[string][]byte, workers int, done func(name string, err error)) (map[string][]byte, []error) {
	var (
		mu     sync.Mutex
		cubins = map[string][]byte{}
		errs   []error
	)
	eachParallel(slices.Sorted(maps.Keys(mods)), workers, func(name string) {
		cubin, err := AssembleSM90a(ptxas, nvdisasm, dir, name, mods[name])
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		} else {
			cubins[name] = cubin
		}
		if done != nil {
			done(name, err)
		}
	})
	return cubins, errs
}

// eachParallel calls do on every item, on up to workers goroutines at a
// time, and returns once every call has returned.
func eachParallel[T any](items []T, workers int, do func(T)) {
	next := make(chan T)
	var wg sync.WaitGroup
	for range min(max(workers, 1), len(items)) {
		wg.Go(func() {
			for item := range next {
				do(item)
			}
		})
	}
	for _, item := range items {
		next <- item
	}
	close(next)
	wg.Wait()
}

var (
	sassInstr = regexp.MustCompile(`/\*([0-9a-f]+)\*/\s+(.*?)\s*;`)
	sassReg   = regexp.MustCompile(`^R(\d+)$`)
	sassBra   = regexp.MustCompile("\\bBRA\\b.*(?:0x([0-9a-f]+)|`\\((\\.L_x_\\d+)\\))\\s*$")
	sassLabel = regexp.MustCompile(`(?m)^(\.L_x_\d+):\s*$\s*/\*([0-9a-f]+)\*/`)
	sassWait  = regexp.MustCompile(`^WARPGROUP\.DEPBAR\.LE gsb0, 0x([0-9a-f]+)$`)
)

// sassProgram is a kernel's SASS (nvdisasm -c) as a list of instructions,
// with the addresses its branches name.
type sassProgram struct {
	code   []sassInstrAt
	at     map[int64]int    // the index of the instruction at an address
	labels map[string]int64 // nvdisasm names branch targets by labels: the address that follows
}

// sassInstrAt is one instruction and its address.
type sassInstrAt struct {
	addr int64
	text string
}

func parseSASS(sass string) sassProgram {
	p := sassProgram{at: map[int64]int{}, labels: map[string]int64{}}
	for _, m := range sassInstr.FindAllStringSubmatch(sass, -1) {
		a, _ := strconv.ParseInt(m[1], 16, 64)
		p.at[a] = len(p.code)
		p.code = append(p.code, sassInstrAt{a, m[2]})
	}
	for _, m := range sassLabel.FindAllStringSubmatch(sass, -1) {
		p.labels[m[1]], _ = strconv.ParseInt(m[2], 16, 64)
	}
	return p
}

// branch says whether instruction i is a branch (BRA), and the index it
// goes to (-1: an unknown target).
func (p sassProgram) branch(i int) (target int, ok bool) {
	b := sassBra.FindStringSubmatch(p.code[i].text)
	if b == nil {
		return 0, false
	}
	a, known := p.labels[b[2]]
	if b[1] != "" {
		var err error
		a, err = strconv.ParseInt(b[1], 16, 64)
		known = err == nil
	}
	if t, in := p.at[a]; known && in {
		return t, true
	}
	return -1, true
}

// loopFences reports every memory barrier at GPU or system scope
// (MEMBAR.*.GPU, MEMBAR.*.SYS) inside a loop of a kernel's SASS: on a cycle
// of its control flow (loopInstrs). Such a fence waits until the warp's
// earlier memory operations are visible to the whole GPU (an L2 round
// trip); in a GEMM's main loop it runs every k tile. ptxas emits one before
// an mbarrier arrival or a cluster barrier with release semantics at
// cluster scope (mbar_arrive_cluster); once, at a kernel's start or after
// its loops, it costs little.
func loopFences(sass string) []string {
	p := parseSASS(sass)
	var problems []string
	for _, i := range p.loopInstrs() {
		op, _ := sassSplit(p.code[i].text)
		if strings.HasPrefix(op, "MEMBAR") && (strings.HasSuffix(op, ".GPU") || strings.HasSuffix(op, ".SYS")) {
			problems = append(problems, fmt.Sprintf("%#x: %q in a loop", p.code[i].addr, p.code[i].text))
		}
	}
	return problems
}

// successors lists where control can go after instruction i: the next
// instruction unless i is an unpredicated branch, exit or return, and a
// branch's target where it is known (indirect branches add none).
func (p sassProgram) successors(i int) []int {
	var next []int
	if t, ok := p.branch(i); ok && t >= 0 {
		next = append(next, t)
	}
	text := p.code[i].text
	op, _ := sassSplit(text)
	base, _, _ := strings.Cut(op, ".")
	switch base {
	case "BRA", "BRX", "JMX", "JMP", "EXIT", "RET":
		if !strings.HasPrefix(text, "@") {
			return next
		}
	}
	if i+1 < len(p.code) {
		next = append(next, i+1)
	}
	return next
}

// loopInstrs returns, in address order, the instructions that lie on a
// cycle of the control flow: those in a strongly connected component of
// more than one instruction, or that branch to themselves (Tarjan's
// algorithm, without recursion).
func (p sassProgram) loopInstrs() []int {
	n := len(p.code)
	index, low, succ := make([]int, n), make([]int, n), make([][]int, n)
	for i := range index {
		index[i], succ[i] = -1, p.successors(i)
	}
	onStack := make([]bool, n)
	var stack, loops []int
	next := 0
	type frame struct{ v, e int }
	for root := 0; root < n; root++ {
		if index[root] >= 0 {
			continue
		}
		calls := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		stack, onStack[root] = append(stack, root), true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			if f.e < len(succ[f.v]) {
				w := succ[f.v][f.e]
				f.e++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack, onStack[w] = append(stack, w), true
					calls = append(calls, frame{w, 0})
				case onStack[w]:
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			start := len(stack) - 1
			for stack[start] != v {
				start--
			}
			comp := stack[start:]
			if len(comp) > 1 || slices.Contains(succ[v], v) {
				loops = append(loops, comp...)
			}
			for _, w := range comp {
				onStack[w] = false
			}
			stack = stack[:start]
		}
	}
	slices.Sort(loops)
	return loops
}

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
	prog := parseSASS(sass)
	code := prog.code
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
			if t, branch := prog.branch(st.pc); branch {
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
