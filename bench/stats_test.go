package bench

import "testing"

func TestSummarize(t *testing.T) {
	ms := []float64{4, 1, 3, 2}
	got := Summarize(ms, 2)
	want := Stats{Runs: 4, Warmup: 2, MedianMS: 2.5, MinMS: 1, MaxMS: 4, MeanMS: 2.5}
	if got != want {
		t.Errorf("even count: %+v, want %+v", got, want)
	}
	if ms[0] != 4 || ms[1] != 1 {
		t.Errorf("Summarize sorted its argument: %v", ms)
	}
	if got := Summarize([]float64{5, 1, 9}, 0); got.MedianMS != 5 || got.MeanMS != 5 {
		t.Errorf("odd count: %+v", got)
	}
	if got := Summarize(nil, 1); got != (Stats{Warmup: 1}) {
		t.Errorf("no runs: %+v", got)
	}
}
