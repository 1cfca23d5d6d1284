package quant

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gcompress/gcompress/models"
)

// memChildEnv makes the test binary act as the calibration child of
// TestCalibrationMemory.
const memChildEnv = "GCOMPRESS_QUANT_MEMORY_CHILD"

// maxMemoryGrowth is the acceptance bound: calibrating on 5,000 samples may
// use at most 10% more peak memory than on 500.
const maxMemoryGrowth = 1.10

// TestCalibrationMemory calibrates LeNet-5 (entropy observers on every
// activation point) on 500 and on 5,000 training digits, each in a fresh
// process, and compares the peak resident memory (VmHWM) and the peak Go
// heap in use (sampled after every batch). Observers keep histograms, not
// activations, so the peaks must not grow with the sample count.
func TestCalibrationMemory(t *testing.T) {
	if n := os.Getenv(memChildEnv); n != "" {
		calibrationChild(t, n)
		return
	}
	if testing.Short() {
		t.Skip("runs two calibration processes")
	}
	peaks := map[int][2]float64{}
	for _, n := range []int{500, 5000} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCalibrationMemory$", "-test.v")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", memChildEnv, n))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child %d: %v\n%s", n, err, out)
		}
		var hwm, heap float64
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "MEMORY "); ok {
				fmt.Sscanf(rest, "vmhwm_kb=%g heap_peak_kb=%g", &hwm, &heap)
			}
		}
		if hwm == 0 || heap == 0 {
			t.Fatalf("child %d printed no measurement:\n%s", n, out)
		}
		peaks[n] = [2]float64{hwm, heap}
		t.Logf("%d samples: peak RSS %.1f MiB, peak heap in use %.1f MiB", n, hwm/1024, heap/1024)
	}
	for i, what := range []string{"peak RSS (VmHWM)", "peak heap in use"} {
		if r := peaks[5000][i] / peaks[500][i]; r > maxMemoryGrowth {
			t.Errorf("%s grows %.1f%% from 500 to 5,000 samples", what, 100*(r-1))
		}
	}
}

func calibrationChild(t *testing.T, arg string) {
	n, err := strconv.Atoi(arg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Build("lenet5", 1)
	if err != nil {
		t.Fatal(err)
	}
	ds := mnistSplit(t, "train")
	prep, _, err := Prepare(m)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := MakePlan(prep, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	peak := uint64(0)
	sample := func(int, int) {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	obs, seen, err := Observe(prep, Points(plan.Layers, nil), ds, RunOptions{Samples: n, Threads: 2, Progress: sample})
	if err != nil || seen != n {
		t.Fatalf("observe: %d samples, %v", seen, err)
	}
	for _, p := range Points(plan.Layers, nil) {
		if _, err := Calibrate(obs[p.Name], CalibConfig{Method: MethodEntropy, DType: 2}); err != nil {
			t.Fatal(err)
		}
	}
	sample(0, 0)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	hwm := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(rest), "%g", &hwm)
		}
	}
	fmt.Printf("MEMORY vmhwm_kb=%g heap_peak_kb=%g\n", hwm, float64(peak)/1024)
}
