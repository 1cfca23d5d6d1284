package gobind

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

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

// TestLoopFences: the fence ptxas 12.4 puts before an arrival with release
// at cluster scope (mbarrier.arrive.release.cluster: MEMBAR.ALL.GPU, ERRBAR,
// CGAERRBAR, then the arrival) fails inside a loop, whether the back edge
// names an address or a label, or in a retry placed after the kernel's
// exit that branches back into the loop, and passes before the loop (a
// cluster barrier at the kernel's start), after it, or at CTA scope.
func TestLoopFences(t *testing.T) {
	const kernel = `
        /*0000*/                   %s ;
        /*0010*/                   UCGABAR_ARV ;
.L_x_2:
        /*0020*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4+0x10], R3 ;
        /*0030*/              @!P0 BRA 0x20 ;
        /*0040*/                   HGMMA.64x256x16.F32 R24, gdesc[UR8], R24, gsb0 ;
        /*0050*/                   WARPGROUP.DEPBAR.LE gsb0, 0x1 ;
        /*0060*/                   %s ;
        /*0070*/                   ERRBAR;
        /*0080*/                   SYNCS.ARRIVE.TRANS64.RED.A1T0 RZ, [UR6], RZ ;
        /*0090*/              @P1 BRA %s ;
        /*00a0*/                   EXIT ;
`
	for _, c := range []struct {
		name, start, loop, back string
		bad                     int
	}{
		{"no fence in the loop", "MEMBAR.ALL.GPU", "NOP", "0x20", 0},
		{"a GPU fence in the loop", "MEMBAR.ALL.GPU", "MEMBAR.ALL.GPU", "0x20", 1},
		{"a GPU fence in a loop to a label", "NOP", "MEMBAR.ALL.GPU", "`(.L_x_2)", 1},
		{"a system fence in the loop", "NOP", "MEMBAR.SC.SYS", "0x20", 1},
		{"a CTA fence in the loop", "NOP", "MEMBAR.ALL.CTA", "0x20", 0},
	} {
		if problems := loopFences(fmt.Sprintf(kernel, c.start, c.loop, c.back)); len(problems) != c.bad {
			t.Errorf("%s: problems %q, want %d", c.name, problems, c.bad)
		}
	}
	// ptxas puts a wait's retry after the kernel's EXIT, branching back
	// into the loop: the retry is part of the loop, the code between the
	// loop and the EXIT is not.
	const outOfLine = `
        /*0000*/                   UCGABAR_ARV ;
        /*0010*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4+0x10], R3 ;
        /*0020*/              @!P0 BRA 0x80 ;
.L_x_5:
        /*0030*/                   HGMMA.64x256x16.F32 R24, gdesc[UR8], R24, gsb0 ;
        /*0040*/              @P1 BRA 0x10 ;
        /*0050*/                   %s ;
        /*0060*/                   STG.E [R2.64], R24 ;
        /*0070*/                   EXIT ;
        /*0080*/                   %s ;
        /*0090*/                   SYNCS.PHASECHK.TRANS64.TRYWAIT P0, [UR4+0x10], R3 ;
        /*00a0*/              @!P0 BRA 0x80 ;
        /*00b0*/                   BRA ` + "`(.L_x_5)" + ` ;
`
	for _, c := range []struct {
		name, after, retry string
		bad                int
	}{
		{"a fence after the loop", "MEMBAR.ALL.GPU", "NOP", 0},
		{"a fence in the retry", "NOP", "MEMBAR.ALL.GPU", 1},
	} {
		if problems := loopFences(fmt.Sprintf(outOfLine, c.after, c.retry)); len(problems) != c.bad {
			t.Errorf("%s: problems %q, want %d", c.name, problems, c.bad)
		}
	}
}

// TestEachParallel: every item is handed to do once, whatever the number
// of workers, and no more than workers calls run at a time.
func TestEachParallel(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 200} {
		var mu sync.Mutex
		seen, running, most := map[int]int{}, 0, 0
		items := make([]int, 100)
		for i := range items {
			items[i] = i
		}
		eachParallel(items, workers, func(i int) {
			mu.Lock()
			seen[i]++
			running++
			most = max(most, running)
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			running--
			mu.Unlock()
		})
		if len(seen) != len(items) || most > max(workers, 1) {
			t.Errorf("workers %d: %d items seen, %d calls at once", workers, len(seen), most)
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("workers %d: item %d handed over %d times", workers, i, n)
			}
		}
	}
}
