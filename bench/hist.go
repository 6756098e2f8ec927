package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Bucket layout. A value v of 256 ns or more, in nanoseconds, is split
// into an exponent e >= 1 and a mantissa m of subBits+1 = 8 bits, m = v>>e
// with 128 <= m < 256; its bucket is e<<subBits + m, and holds the values
// m<<e .. (m+1)<<e - 1. So each power of two [2^k, 2^(k+1)) has
// 2^subBits = 128 buckets of width 2^(k-subBits), at most 1/128 of any
// value the bucket holds: rounding a value up to the upper bound of its
// bucket adds less than 1/128 of it (0.79%). Values under 256 ns have a
// bucket each (bucket v), which continues the same numbering with e = 0.
//
// The buckets cover 0 .. 2^topBits - 1 ns (2^43 ns, about 2h26m); one more
// bucket, the last, holds everything above.
const (
	subBits  = 7
	subCount = 1 << subBits // buckets per power of two
	topBits  = 43           // values below 2^topBits ns have their own buckets
	maxShift = topBits - subBits - 1

	// numBuckets counts the buckets of the range and the overflow bucket.
	numBuckets = (maxShift+2)<<subBits + 1
	overflow   = numBuckets - 1

	// rangeMax is the largest value below the overflow bucket.
	rangeMax = 1<<topBits - 1
)

// bucketOf returns the bucket of v (nanoseconds), in O(1).
func bucketOf(v uint64) int {
	e := bits.Len64(v) - subBits - 1
	if e <= 0 {
		return int(v) // v < 2^(subBits+1): one bucket per value
	}
	if e > maxShift {
		return overflow
	}
	return e<<subBits + int(v>>uint(e))
}

// bucketBounds returns the smallest and largest values of bucket i, both
// included. The overflow bucket's upper bound is math.MaxUint64.
func bucketBounds(i int) (lo, hi uint64) {
	switch {
	case i < 2*subCount:
		return uint64(i), uint64(i)
	case i >= overflow:
		return rangeMax + 1, math.MaxUint64
	}
	e := uint(i>>subBits - 1)
	m := uint64(subCount | i&(subCount-1))
	return m << e, (m+1)<<e - 1
}

// Histogram is a log-linear histogram of durations: it records a duration
// in O(1) without allocating, and answers quantiles with a relative error
// under 1/128 (0.79%), always rounding up, from 0 to about 2h26m (2^43 ns).
// Count, Min, Max and Sum (hence Mean) are exact. Negative durations are
// recorded as 0; durations from 2^43 ns up share the last bucket, where
// quantiles report Max.
//
// Histograms of shards of a set of samples merge exactly (Merge): the
// result is the histogram of the whole set, bucket for bucket, with the
// same Count, Min, Max, Sum and quantiles, in any order of merging; their
// JSON form keeps all of it, so histograms can cross processes.
//
// A Histogram is not safe for concurrent use: keep one per goroutine or
// event loop and merge them when reading. The zero value is an empty
// histogram ready to use; NewHistogram is new(Histogram). A Histogram is a
// fixed array of about 37 KiB: pass it by pointer.
type Histogram struct {
	count, min, max, sum uint64 // min and max are meaningful when count > 0; sum saturates
	counts               [numBuckets]uint64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return new(Histogram) }

// Record records one sample of d.
func (h *Histogram) Record(d time.Duration) { h.RecordN(d, 1) }

// RecordN records n samples of d.
func (h *Histogram) RecordN(d time.Duration, n uint64) {
	if n == 0 {
		return
	}
	v := uint64(max(d, 0))
	if h.count == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.count += n
	hi, lo := bits.Mul64(v, n)
	if hi != 0 {
		lo = math.MaxUint64
	}
	h.sum = addSat(h.sum, lo)
	h.counts[bucketOf(v)] += n
}

// addSat returns a+b, or math.MaxUint64 if that overflows. Saturating adds
// of non-negative numbers do not depend on their order, so merged sums stay
// exact up to the saturation (584 years of samples).
func addSat(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

// Merge adds the samples of o to h, bucket by bucket. A nil o adds nothing.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.count == 0 {
		return
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.count += o.count
	h.sum = addSat(h.sum, o.sum)
	for i, hi := bucketOf(o.min), bucketOf(o.max); i <= hi; i++ {
		h.counts[i] += o.counts[i]
	}
}

// Reset empties h.
func (h *Histogram) Reset() {
	if h.count != 0 {
		clear(h.counts[bucketOf(h.min) : bucketOf(h.max)+1])
	}
	h.count, h.min, h.max, h.sum = 0, 0, 0, 0
}

// Count returns the number of samples; 0 for a nil h.
func (h *Histogram) Count() uint64 {
	if h == nil {
		return 0
	}
	return h.count
}

// Min returns the smallest sample, exactly; 0 if there is none.
func (h *Histogram) Min() time.Duration {
	if h == nil {
		return 0
	}
	return time.Duration(h.min)
}

// Max returns the largest sample, exactly; 0 if there is none.
func (h *Histogram) Max() time.Duration {
	if h == nil {
		return 0
	}
	return time.Duration(h.max)
}

// Mean returns the mean of the samples, rounded to the nanosecond; 0 if
// there is none. It is exact unless the sum of the samples passed 2^64 ns
// (584 years), where the sum saturates.
func (h *Histogram) Mean() time.Duration {
	if h == nil || h.count == 0 {
		return 0
	}
	q, r := h.sum/h.count, h.sum%h.count
	if r >= h.count-r {
		q++
	}
	return time.Duration(q)
}

// Quantile returns the q-quantile of the samples, for q from 0 to 1.
//
// The exact q-quantile is the sample of rank k = ceil(q·Count) (at least 1)
// in increasing order: the smallest sample x such that at least q·Count
// samples are <= x. Quantile returns the upper bound of x's bucket, clipped
// to Max: a value r with x <= r < x + x/128 (r == x below 256 ns). So
// Quantile(0) is Min, Quantile(1) is Max, both exact, and quantiles never
// under-report. If x is 2^43 ns (about 2h26m) or more, Quantile returns Max.
//
// Quantile returns 0 for an empty or nil h; q <= 0 and NaN count as 0, and
// q >= 1 as 1. It takes time in the number of buckets between Min and Max
// (at most about 4,700).
func (h *Histogram) Quantile(q float64) time.Duration {
	if h == nil || h.count == 0 {
		return 0
	}
	if !(q > 0) {
		return time.Duration(h.min)
	}
	if q >= 1 {
		return time.Duration(h.max)
	}
	rank := h.count
	if f := math.Ceil(q * float64(h.count)); f < float64(h.count) {
		rank = max(uint64(f), 1)
	}
	var cum uint64
	last := bucketOf(h.max)
	for i := bucketOf(h.min); i < last; i++ {
		cum += h.counts[i]
		if cum >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(hi, h.max))
		}
	}
	return time.Duration(h.max)
}

// Buckets calls f for each non-empty bucket in increasing order, with the
// bucket's upper bound (the largest value it holds) and its count. The
// last bucket, which holds the values from 2^43 ns up, reports Max as its
// upper bound. Buckets does nothing for a nil h.
func (h *Histogram) Buckets(f func(upper time.Duration, count uint64)) {
	if h == nil || h.count == 0 {
		return
	}
	for i, last := bucketOf(h.min), bucketOf(h.max); i <= last; i++ {
		if c := h.counts[i]; c != 0 {
			_, hi := bucketBounds(i)
			if i == overflow {
				hi = h.max
			}
			f(time.Duration(hi), c)
		}
	}
}

// Summary returns the figures of the summary line: p50_us, p90_us, p99_us,
// p999_us, max_us and mean_us in microseconds, and count. All are 0 for an
// empty or nil h.
func (h *Histogram) Summary() map[string]float64 {
	return map[string]float64{
		"p50_us":  micros(h.Quantile(0.5)),
		"p90_us":  micros(h.Quantile(0.9)),
		"p99_us":  micros(h.Quantile(0.99)),
		"p999_us": micros(h.Quantile(0.999)),
		"max_us":  micros(h.Max()),
		"mean_us": micros(h.Mean()),
		"count":   float64(h.Count()),
	}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// histJSON is the JSON form of a Histogram. Count, min, max, sum and the
// non-empty buckets, as [index, count] in increasing index, are the
// histogram; the percentiles are for readers, and ignored when reading.
// SubBuckets names the layout of the indexes, to refuse a histogram from a
// build with another layout.
type histJSON struct {
	Count      uint64      `json:"count"`
	Min        uint64      `json:"min_ns"`
	Max        uint64      `json:"max_ns"`
	Sum        uint64      `json:"sum_ns"`
	P50        float64     `json:"p50_us"`
	P90        float64     `json:"p90_us"`
	P99        float64     `json:"p99_us"`
	P999       float64     `json:"p999_us"`
	MaxUs      float64     `json:"max_us"`
	MeanUs     float64     `json:"mean_us"`
	SubBuckets int         `json:"sub_buckets"`
	Buckets    [][2]uint64 `json:"buckets"`
}

// MarshalJSON writes h in a sparse form: {"count", "min_ns", "max_ns",
// "sum_ns", the derived "p50_us", "p90_us", "p99_us", "p999_us", "max_us"
// and "mean_us", "sub_buckets" (the layout: 128), and "buckets":
// [[index, count], ...] for the non-empty buckets}. A nil h is null.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	if h == nil {
		return []byte("null"), nil
	}
	j := histJSON{
		Count: h.count, Min: h.min, Max: h.max, Sum: h.sum,
		P50: micros(h.Quantile(0.5)), P90: micros(h.Quantile(0.9)),
		P99: micros(h.Quantile(0.99)), P999: micros(h.Quantile(0.999)),
		MaxUs: micros(h.Max()), MeanUs: micros(h.Mean()),
		SubBuckets: subCount, Buckets: [][2]uint64{},
	}
	if h.count != 0 {
		for i, last := bucketOf(h.min), bucketOf(h.max); i <= last; i++ {
			if c := h.counts[i]; c != 0 {
				j.Buckets = append(j.Buckets, [2]uint64{uint64(i), c})
			}
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON replaces h with the histogram that MarshalJSON wrote,
// ignoring the derived fields. It checks that the form is consistent
// (indexes in range and increasing, counts not 0 and adding up to count,
// min and max in the first and last buckets) and leaves h unchanged if
// not. null leaves h unchanged.
func (h *Histogram) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var j histJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	if j.SubBuckets != 0 && j.SubBuckets != subCount {
		return fmt.Errorf("histogram: %d sub-buckets, want %d", j.SubBuckets, subCount)
	}
	var t Histogram
	t.count, t.min, t.max, t.sum = j.Count, j.Min, j.Max, j.Sum
	var total uint64
	prev := -1
	for _, b := range j.Buckets {
		if b[0] >= numBuckets || int(b[0]) <= prev || b[1] == 0 {
			return fmt.Errorf("histogram: bucket [%d, %d] out of range, order, or empty", b[0], b[1])
		}
		prev = int(b[0])
		t.counts[prev] = b[1]
		s, carry := bits.Add64(total, b[1], 0)
		if carry != 0 {
			return errors.New("histogram: bucket counts overflow")
		}
		total = s
	}
	if total != t.count {
		return fmt.Errorf("histogram: buckets hold %d samples, count is %d", total, t.count)
	}
	if t.count == 0 {
		if t.min != 0 || t.max != 0 || t.sum != 0 {
			return errors.New("histogram: empty with a min, max or sum")
		}
	} else if t.min > t.max || t.max > math.MaxInt64 ||
		int(j.Buckets[0][0]) != bucketOf(t.min) || prev != bucketOf(t.max) {
		return fmt.Errorf("histogram: min %d or max %d does not match the buckets", t.min, t.max)
	}
	*h = t
	return nil
}
