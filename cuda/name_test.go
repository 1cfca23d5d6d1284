package cuda

import "testing"

func TestParseDevice(t *testing.T) {
	good := map[string]int{"cuda": 0, "cuda:0": 0, "cuda:3": 3, "cuda:12": 12}
	for in, want := range good {
		got, err := ParseDevice(in)
		if err != nil || got != want {
			t.Errorf("ParseDevice(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "cpu", "cuda:", "cuda:-1", "cuda:x", "cuda: 1", "cuda:+1", "gpu:0", "cuda0"} {
		if _, err := ParseDevice(in); err == nil {
			t.Errorf("ParseDevice(%q) accepted", in)
		}
	}
}
