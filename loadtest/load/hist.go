package load

import (
	"encoding/json"
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two, so a recorded value is known to within 1/128 (< 0.8 %).
const subBits = 7

const (
	subCount   = 1 << subBits
	maxShift   = 40 // values up to 2^(40+subBits+1) ns (about 3 days) fit
	numBuckets = (maxShift + 2) * subCount
)

// Hist is a log-linear histogram of non-negative durations in nanoseconds,
// cheap to record into and to merge across workers. Values below 128 ns are
// exact; above, each bucket spans under 0.8 % of its value. The zero value
// is empty and ready to use. Not safe for concurrent use.
type Hist struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64
	min    int64
	max    int64
}

// bucketOf returns the bucket of v (v >= 0).
func bucketOf(v int64) int {
	u := uint64(v)
	if u < subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits - 1
	if shift > maxShift {
		return numBuckets - 1
	}
	return shift*subCount + int(u>>uint(shift))
}

// bucketRange returns the smallest value of bucket i and its width.
func bucketRange(i int) (low, width int64) {
	if i < 2*subCount {
		return int64(i), 1
	}
	shift := i/subCount - 1
	m := int64(i - shift*subCount)
	return m << uint(shift), 1 << uint(shift)
}

// Record adds one value; negative values (clock skew) count as 0.
func (h *Hist) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
}

// Merge adds every value of o into h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of recorded values.
func (h *Hist) Count() uint64 { return h.n }

// Max returns the largest recorded value (exact), 0 when empty.
func (h *Hist) Max() time.Duration { return time.Duration(h.max) }

// Mean returns the mean of the recorded values, 0 when empty.
func (h *Hist) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at quantile q in [0, 1] using the nearest-rank
// rule (the smallest value with at least q·n values at or below it), as the
// midpoint of its bucket clamped to the exact min and max (q = 1 gives the
// exact max). 0 when empty.
func (h *Hist) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	if rank >= h.n {
		return time.Duration(h.max)
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, w := bucketRange(i)
			v := low + (w-1)/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// histJSON is the sparse wire form of a Hist: [bucket, count] pairs.
type histJSON struct {
	B   [][2]uint64 `json:"b,omitempty"`
	N   uint64      `json:"n"`
	Sum float64     `json:"sum"`
	Min int64       `json:"min"`
	Max int64       `json:"max"`
}

// MarshalJSON encodes the non-empty buckets only.
func (h *Hist) MarshalJSON() ([]byte, error) {
	j := histJSON{N: h.n, Sum: h.sum, Min: h.min, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			j.B = append(j.B, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Hist{n: j.N, sum: j.Sum, min: j.Min, max: j.Max}
	for _, p := range j.B {
		if p[0] < numBuckets {
			h.counts[p[0]] += p[1]
		}
	}
	return nil
}

// Summary is the printed form of a latency histogram.
type Summary struct {
	N    uint64  `json:"n"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// Summarize returns count, p50, p99, max and mean in milliseconds.
func (h *Hist) Summarize() Summary {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Summary{N: h.n, P50: ms(h.Quantile(0.5)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max()), Mean: ms(h.Mean())}
}
