package load

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestHistBuckets(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 1000, 123456789, 1 << 40} {
		i := bucketOf(v)
		low, w := bucketRange(i)
		if v < low || v >= low+w {
			t.Errorf("value %d in bucket %d = [%d, %d)", v, i, low, low+w)
		}
		if v >= 256 && float64(w)/float64(v) > 1.0/128 {
			t.Errorf("bucket of %d is %d wide: too coarse", v, w)
		}
	}
}

func TestHistSmallValuesExact(t *testing.T) {
	var h Hist
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	for q, want := range map[float64]time.Duration{0.01: 1, 0.5: 50, 0.99: 99, 1: 100} {
		if got := h.Quantile(q); got != want {
			t.Errorf("q%.2f = %d, want %d", q, got, want)
		}
	}
	if h.Max() != 100 || h.Count() != 100 || h.Mean() != 50 {
		t.Errorf("max %d count %d mean %d", h.Max(), h.Count(), h.Mean())
	}
}

// TestHistQuantileAccuracy compares with exact nearest-rank quantiles of a
// skewed sample: the histogram must be within its bucket precision.
func TestHistQuantileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Hist
	vals := make([]int64, 100_000)
	for i := range vals {
		vals[i] = int64(math.Exp(rng.NormFloat64()*2+12)) + 1
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := float64(vals[int(math.Ceil(q*float64(len(vals))))-1])
		got := float64(h.Quantile(q))
		if math.Abs(got-exact)/exact > 0.01 {
			t.Errorf("q%v = %.0f, exact %.0f", q, got, exact)
		}
	}
	if h.Quantile(1) != time.Duration(vals[len(vals)-1]) {
		t.Errorf("q1 = %d, want the exact max %d", h.Quantile(1), vals[len(vals)-1])
	}
}

func TestHistMergeAndJSON(t *testing.T) {
	var a, b, all Hist
	for v := int64(0); v < 5000; v += 7 {
		a.Record(v * 1000)
		all.Record(v * 1000)
	}
	for v := int64(0); v < 300; v++ {
		b.Record(v * v)
		all.Record(v * v)
	}
	a.Merge(&b)
	raw, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	var c Hist
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c != all {
		t.Fatalf("merged and round-tripped histogram differs from the direct one")
	}
	var empty Hist
	if empty.Quantile(0.5) != 0 || empty.Summarize().N != 0 {
		t.Fatal("empty histogram")
	}
}

func TestHistNegativeIsZero(t *testing.T) {
	var h Hist
	h.Record(-5)
	if h.Max() != 0 || h.Quantile(0.5) != 0 {
		t.Fatal("negative values must count as 0")
	}
}
