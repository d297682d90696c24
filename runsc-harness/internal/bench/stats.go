package bench

import (
	"fmt"
	"math"
	"sort"
)

// stat summarizes repeated measurements of one figure.
type stat struct {
	// N is the number of values.
	N int `json:"n"`
	// Median, Min and Max of Values.
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Spread is (Max-Min)/Median: the relative width of the range.
	Spread float64 `json:"spread"`
	// CILow and CIHigh bound a 95% confidence interval for the median
	// (medianCI); set for ratios only, and zero with fewer than 6 values.
	CILow  float64 `json:"ci95_low,omitempty"`
	CIHigh float64 `json:"ci95_high,omitempty"`
	// Values are the measurements, in the order they were taken.
	Values []float64 `json:"values"`
}

// medianCI returns a distribution-free confidence interval, at a level of
// at least conf, for the median of the distribution vs were drawn from: the
// k-th smallest and the k-th largest value, for the largest k such that
// P(Binomial(n, 1/2) < k) <= (1-conf)/2 (the sign-test interval). It needs
// no assumption about the shape of the noise, only independent rounds. ok
// is false when there are too few values for any k (n < 6 at 95%).
func medianCI(vs []float64, conf float64) (lo, hi float64, ok bool) {
	n := len(vs)
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	k := 0
	// cdf is P(Binomial(n, 1/2) <= i-1), built up term by term.
	cdf, term := 0.0, math.Pow(0.5, float64(n))
	for i := 1; i <= n/2; i++ {
		cdf += term // add P(X = i-1)
		term = term * float64(n-i+1) / float64(i)
		if cdf > (1-conf)/2 {
			break
		}
		k = i
	}
	if k == 0 {
		return 0, 0, false
	}
	return s[k-1], s[n-k], true
}

// median returns the median of vs (the mean of the middle two for an even
// count), NaN for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summarize computes the stat of vs.
func summarize(vs []float64) stat {
	st := stat{N: len(vs), Values: append([]float64(nil), vs...)}
	if len(vs) == 0 {
		return st
	}
	st.Median = median(vs)
	st.Min, st.Max = vs[0], vs[0]
	for _, v := range vs[1:] {
		st.Min, st.Max = math.Min(st.Min, v), math.Max(st.Max, v)
	}
	if st.Median != 0 {
		st.Spread = (st.Max - st.Min) / st.Median
	}
	return st
}

// pairedRatios divides num[i] by den[i] for each round i that has both:
// interleaved rounds share the machine's load of the moment, so the ratio
// of one round is steadier than the ratio of two medians.
func pairedRatios(num, den []float64) []float64 {
	var out []float64
	for i := 0; i < len(num) && i < len(den); i++ {
		if den[i] > 0 {
			out = append(out, num[i]/den[i])
		}
	}
	return out
}

// ratioStat summarizes per-round patched/stock ratios, with the 95%
// confidence interval of their median.
func ratioStat(vs []float64) stat {
	st := summarize(vs)
	if lo, hi, ok := medianCI(vs, 0.95); ok {
		st.CILow, st.CIHigh = lo, hi
	}
	return st
}

// ratioVerdict judges a patched/stock ratio against the target by the 95%
// confidence interval of the median ratio (medianCI): "yes" when the whole
// interval is within the target, "no" when the whole interval exceeds it,
// "inconclusive" when the machine's noise leaves the interval straddling
// the target, or there are too few rounds for an interval.
func ratioVerdict(r stat, target float64) string {
	switch {
	case r.N == 0:
		return "n/a"
	case r.CIHigh == 0:
		return fmt.Sprintf("inconclusive (%d rounds: too few for a 95%% interval)", r.N)
	case r.CIHigh <= target:
		return "yes"
	case r.CILow > target:
		return "no"
	}
	return fmt.Sprintf("inconclusive (95%% CI %.3f–%.3f)", r.CILow, r.CIHigh)
}
