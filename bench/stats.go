package bench

import "sort"

// Stats summarises the times of repeated runs, in milliseconds: the median
// (the mean of the middle two for an even count), extremes and mean of Runs
// timed runs, which followed Warmup untimed ones.
type Stats struct {
	Runs     int     `json:"runs"`
	Warmup   int     `json:"warmup"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	MeanMS   float64 `json:"mean_ms"`
}

// Summarize returns the Stats of the times ms (not changed; none gives
// zeros) after warmup untimed runs.
func Summarize(ms []float64, warmup int) Stats {
	st := Stats{Runs: len(ms), Warmup: warmup}
	if len(ms) == 0 {
		return st
	}
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	st.MinMS, st.MaxMS = s[0], s[len(s)-1]
	st.MedianMS = s[len(s)/2]
	if len(s)%2 == 0 {
		st.MedianMS = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	for _, v := range s {
		st.MeanMS += v
	}
	st.MeanMS /= float64(len(s))
	return st
}
