package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// testQuantiles are the quantiles the tests check, beyond every rank of
// small sample sets.
var testQuantiles = []float64{0, 1e-9, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999, 1}

// exactQuantile is the quantile that Quantile approximates: the sample of
// rank ceil(q·n), at least 1, in sorted.
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	k := int(math.Ceil(q * float64(n)))
	k = min(max(k, 1), n)
	return sorted[k-1]
}

func histOf(samples []time.Duration) *Histogram {
	h := NewHistogram()
	for _, d := range samples {
		h.Record(d)
	}
	return h
}

// checkQuantile checks Quantile(q) against the exact quantile: from it up
// to less than 1/128 above it (exact below 256 ns), Min at 0, Max at 1, and
// Max when the exact quantile is past the range of the buckets.
func checkQuantile(t *testing.T, h *Histogram, sorted []time.Duration, q float64) {
	t.Helper()
	want := exactQuantile(sorted, q)
	got := h.Quantile(q)
	switch {
	case q == 0:
		want = sorted[0]
		if got != want {
			t.Errorf("Quantile(0) = %v, want Min %v", got, want)
		}
	case q == 1 || want > rangeMax:
		if got != sorted[len(sorted)-1] {
			t.Errorf("Quantile(%v) = %v, want Max %v (exact %v)", q, got, sorted[len(sorted)-1], want)
		}
	case got < want || got != want && float64(got-want)*128 >= float64(want):
		t.Errorf("Quantile(%v) = %v, exact %v: relative error %.4f%%", q, got, want,
			100*float64(got-want)/float64(want))
	}
}

// distributions returns named sample sets, each drawn from r.
func distributions(r *rand.Rand) map[string][]time.Duration {
	gen := func(n int, f func() time.Duration) []time.Duration {
		s := make([]time.Duration, n)
		for i := range s {
			s[i] = f()
		}
		return s
	}
	return map[string][]time.Duration{
		"uniform 10µs-10ms": gen(20000, func() time.Duration {
			return 10*time.Microsecond + time.Duration(r.Int64N(int64(10*time.Millisecond)))
		}),
		"exponential mean 200µs": gen(20000, func() time.Duration {
			return time.Duration(r.ExpFloat64() * float64(200*time.Microsecond))
		}),
		"bimodal with a far tail": gen(20000, func() time.Duration {
			switch p := r.Float64(); {
			case p < 0.6:
				return time.Duration(50e3 + r.NormFloat64()*5e3) // 50µs
			case p < 0.995:
				return time.Duration(2e6 + r.NormFloat64()*2e5) // 2ms
			default:
				return time.Duration(r.Int64N(int64(time.Minute))) + 1e9 // 1s-61s
			}
		}),
		"log-uniform 1µs-1h": gen(20000, func() time.Duration {
			return time.Duration(math.Exp(math.Log(1e3) + r.Float64()*(math.Log(3.6e12)-math.Log(1e3))))
		}),
		"all equal":  gen(1000, func() time.Duration { return 1234567 * time.Nanosecond }),
		"one sample": {777 * time.Microsecond},
		"under 1µs":  gen(5000, func() time.Duration { return time.Duration(r.Int64N(1000)) }),
		"negative":   gen(10, func() time.Duration { return -time.Duration(r.Int64N(1e6)) }),
		"over the range": gen(5000, func() time.Duration {
			if r.IntN(2) == 0 {
				return time.Duration(r.Int64N(int64(time.Second)))
			}
			return 3*time.Hour + time.Duration(r.Int64N(int64(100*time.Hour)))
		}),
		"edges": {0, 1, 255, 256, 257, time.Microsecond, time.Hour, rangeMax - 1, rangeMax, rangeMax + 1, math.MaxInt64},
	}
}

func TestHistogramQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for name, samples := range distributions(r) {
		t.Run(name, func(t *testing.T) {
			h := histOf(samples)
			sorted := slices.Clone(samples)
			for i, d := range sorted {
				sorted[i] = max(d, 0) // recorded as 0
			}
			slices.Sort(sorted)
			for _, q := range testQuantiles {
				checkQuantile(t, h, sorted, q)
			}
			if len(sorted) <= 1000 { // every rank
				for k := 1; k <= len(sorted); k++ {
					checkQuantile(t, h, sorted, float64(k)/float64(len(sorted)))
					checkQuantile(t, h, sorted, (float64(k)-0.5)/float64(len(sorted)))
				}
			}
			var sum time.Duration
			for _, d := range sorted {
				sum += d
			}
			if h.Count() != uint64(len(sorted)) || h.Min() != sorted[0] || h.Max() != sorted[len(sorted)-1] {
				t.Errorf("Count, Min, Max = %d, %v, %v; want %d, %v, %v",
					h.Count(), h.Min(), h.Max(), len(sorted), sorted[0], sorted[len(sorted)-1])
			}
			if name != "edges" && name != "over the range" { // no overflow of the sum
				mean := time.Duration(math.Round(float64(sum) / float64(len(sorted))))
				if d := h.Mean() - mean; d < -1 || d > 1 {
					t.Errorf("Mean = %v, want %v", h.Mean(), mean)
				}
			}
		})
	}
}

// TestBucketLayout checks every bucket: its bounds map back to it, the
// buckets tile 0 .. 2^43-1 ns without gaps, and each is under 1/128 of its
// values.
func TestBucketLayout(t *testing.T) {
	var next uint64
	for i := range overflow {
		lo, hi := bucketBounds(i)
		if lo != next || hi < lo {
			t.Fatalf("bucket %d: [%d, %d], want it to start at %d", i, lo, hi, next)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: [%d, %d] maps to %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo < 256 && hi != lo || lo >= 256 && (hi-lo+1)*128 > lo {
			t.Fatalf("bucket %d: [%d, %d] too wide", i, lo, hi)
		}
		next = hi + 1
	}
	if next != rangeMax+1 || bucketOf(rangeMax+1) != overflow || bucketOf(math.MaxUint64) != overflow {
		t.Fatalf("range ends at %d, want %d", next, uint64(rangeMax+1))
	}
	if time.Duration(rangeMax) < time.Hour {
		t.Fatalf("range %v, want at least an hour", time.Duration(rangeMax))
	}
	if lo, hi := bucketBounds(overflow); lo != rangeMax+1 || hi != math.MaxUint64 {
		t.Fatalf("overflow bucket [%d, %d]", lo, hi)
	}
	t.Logf("%d buckets, %d KiB; range %v", numBuckets, numBuckets*8/1024, time.Duration(rangeMax))
}

// shardings splits samples into k shards in several ways.
func shardings(r *rand.Rand, samples []time.Duration) map[string][][]time.Duration {
	k := 3 + r.IntN(5)
	out := map[string][][]time.Duration{}

	random := make([][]time.Duration, k)
	for _, d := range samples {
		i := r.IntN(k)
		random[i] = append(random[i], d)
	}
	out["random"] = random

	// Contiguous runs of the sorted samples: shards with disjoint ranges.
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	cuts := []int{0, len(sorted)}
	for range k - 1 {
		cuts = append(cuts, r.IntN(len(sorted)+1))
	}
	slices.Sort(cuts)
	var ranges [][]time.Duration
	for i := range len(cuts) - 1 {
		ranges = append(ranges, sorted[cuts[i]:cuts[i+1]])
	}
	out["by value"] = ranges

	// Skewed: most samples in one shard, some shards empty.
	skewed := make([][]time.Duration, k)
	for _, d := range samples {
		i := 0
		if r.IntN(10) == 0 {
			i = 1 + r.IntN(k-2) // shard k-1 stays empty
		}
		skewed[i] = append(skewed[i], d)
	}
	out["skewed"] = skewed
	return out
}

func checkSame(t *testing.T, got, want *Histogram) {
	t.Helper()
	if got.counts != want.counts {
		t.Error("buckets differ")
	}
	if got.Count() != want.Count() || got.Min() != want.Min() || got.Max() != want.Max() ||
		got.sum != want.sum || got.Mean() != want.Mean() {
		t.Errorf("count, min, max, sum = %d, %v, %v, %d; want %d, %v, %v, %d",
			got.Count(), got.Min(), got.Max(), got.sum, want.Count(), want.Min(), want.Max(), want.sum)
	}
	for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
		if g, w := got.Quantile(q), want.Quantile(q); g != w {
			t.Errorf("Quantile(%v) = %v, want %v", q, g, w)
		}
	}
	if *got != *want {
		t.Error("histograms differ")
	}
}

func roundTrip(t *testing.T, h *Histogram) *Histogram {
	t.Helper()
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var out *Histogram
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return out
}

func TestHistogramMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		var samples []time.Duration
		for _, s := range distributions(r) {
			if r.IntN(2) == 0 || round == 0 {
				samples = append(samples, s...)
			}
		}
		if len(samples) == 0 {
			samples = append(samples, time.Millisecond)
		}
		all := histOf(samples)
		for how, shards := range shardings(r, samples) {
			hs := make([]*Histogram, len(shards))
			for i, s := range shards {
				hs[i] = histOf(s)
			}

			merged := NewHistogram()
			for _, i := range r.Perm(len(hs)) {
				merged.Merge(hs[i])
			}
			t.Run(how, func(t *testing.T) { checkSame(t, merged, all) })

			var zero Histogram // the zero value, merged into in a tree
			level := slices.Clone(hs)
			for len(level) > 1 {
				var next []*Histogram
				for i := 0; i < len(level); i += 2 {
					m := NewHistogram()
					m.Merge(level[i])
					if i+1 < len(level) {
						m.Merge(level[i+1])
					}
					next = append(next, m)
				}
				level = next
			}
			zero.Merge(level[0])
			zero.Merge(nil)
			zero.Merge(NewHistogram())
			t.Run(how+" tree", func(t *testing.T) { checkSame(t, &zero, all) })

			viaJSON := NewHistogram()
			for _, h := range hs {
				viaJSON.Merge(roundTrip(t, h))
			}
			t.Run(how+" JSON", func(t *testing.T) { checkSame(t, viaJSON, all) })
		}
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

func TestHistogramRecordN(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a, b := NewHistogram(), NewHistogram()
	for range 1000 {
		d := time.Duration(r.Int64N(int64(time.Second)))
		n := uint64(r.IntN(5))
		a.RecordN(d, n)
		for range n {
			b.Record(d)
		}
	}
	checkSame(t, a, b)
}

func TestHistogramSumSaturates(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	a.RecordN(time.Hour, 1<<62)
	b.RecordN(time.Hour, 1<<40)
	b.Merge(a)
	a.Merge(b)
	if a.sum != math.MaxUint64 || b.sum != math.MaxUint64 {
		t.Fatalf("sums %d, %d; want them saturated", a.sum, b.sum)
	}
	if a.Max() != time.Hour || a.Mean() <= 0 {
		t.Fatalf("Max %v, Mean %v", a.Max(), a.Mean())
	}
}

func TestHistogramEmpty(t *testing.T) {
	var zero Histogram
	var nilH *Histogram
	for name, h := range map[string]*Histogram{"new": NewHistogram(), "zero": &zero, "nil": nilH} {
		t.Run(name, func(t *testing.T) {
			for _, q := range []float64{-1, 0, 0.5, 0.99, 1, 2, math.NaN()} {
				if got := h.Quantile(q); got != 0 {
					t.Errorf("Quantile(%v) = %v, want 0", q, got)
				}
			}
			if h.Count() != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
				t.Errorf("Count, Min, Max, Mean = %d, %v, %v, %v", h.Count(), h.Min(), h.Max(), h.Mean())
			}
			h.Buckets(func(upper time.Duration, count uint64) { t.Errorf("bucket %v: %d", upper, count) })
			for k, v := range h.Summary() {
				if v != 0 {
					t.Errorf("Summary %s = %v", k, v)
				}
			}
			b, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if h == nil {
				if string(b) != "null" {
					t.Fatalf("nil marshals as %s", b)
				}
				return
			}
			if !bytes.Contains(b, []byte(`"count":0`)) || !bytes.Contains(b, []byte(`"buckets":[]`)) {
				t.Errorf("empty histogram: %s", b)
			}
			if got := roundTrip(t, h); *got != *NewHistogram() {
				t.Error("empty histogram changed in a JSON round trip")
			}
		})
	}
}

func TestHistogramReset(t *testing.T) {
	h := histOf([]time.Duration{time.Microsecond, time.Second, 5 * time.Hour})
	h.Reset()
	if *h != *NewHistogram() {
		t.Fatal("Reset left samples")
	}
	h.Record(3 * time.Millisecond)
	if h.Min() != 3*time.Millisecond || h.Max() != 3*time.Millisecond || h.Count() != 1 {
		t.Fatalf("after Reset: %v, %v, %d", h.Min(), h.Max(), h.Count())
	}
}

func TestHistogramBuckets(t *testing.T) {
	samples := []time.Duration{-5, 0, 100, 100, 1000, 1001, 1010, time.Millisecond, time.Hour, 3 * time.Hour, 4 * time.Hour}
	h := histOf(samples)
	var uppers []time.Duration
	var total uint64
	h.Buckets(func(upper time.Duration, count uint64) {
		if len(uppers) > 0 && upper <= uppers[len(uppers)-1] {
			t.Errorf("bucket %v after %v", upper, uppers[len(uppers)-1])
		}
		uppers = append(uppers, upper)
		total += count
	})
	// 0 (twice, with -5), 100 (twice), 1000 and 1001 in [1000, 1003], 1010
	// in [1008, 1011], 1ms in [999424, 1003519] (width 4096), 1h in
	// [209·2^34, 210·2^34-1], and the last bucket with 3h and 4h.
	want := []time.Duration{0, 100, 1003, 1011, 1003519, 3607772528639, 4 * time.Hour}
	if !slices.Equal(uppers, want) || total != h.Count() {
		t.Fatalf("buckets %v (%d samples), want %v (%d)", uppers, total, want, h.Count())
	}
}

func TestHistogramJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, samples := range distributions(r) {
		h := histOf(samples)
		got := roundTrip(t, h)
		if *got != *h {
			t.Errorf("%s: JSON round trip changed the histogram", name)
		}
	}

	h := histOf([]time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond, 40 * time.Microsecond})
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	// 10µs: 2^13 <= 10000 < 2^14, e = 14-8 = 6, m = 10000>>6 = 156, bucket
	// 6·128+156 = 924. 20µs: e = 7, m = 156, bucket 1052 = [156·128,
	// 157·128-1], so p50 (the 2nd sample) is 20095 ns.
	const want = `{"count":4,"min_ns":10000,"max_ns":40000,"sum_ns":100000,` +
		`"p50_us":20.095,"p90_us":40,"p99_us":40,"p999_us":40,"max_us":40,"mean_us":25,` +
		`"sub_buckets":128,"buckets":[[924,1],[1052,1],[1130,1],[1180,1]]}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}

	// Derived fields are ignored when reading.
	var back Histogram
	if err := json.Unmarshal([]byte(strings.Replace(want, `"p50_us":20.095`, `"p50_us":1e9`, 1)), &back); err != nil || back != *h {
		t.Errorf("derived fields read: %v", err)
	}

	// A report carries histograms, or null.
	rep := Report{Latency: h}
	b, err = json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"connect":null`)) {
		t.Errorf("nil histogram in a report: %s", b)
	}
	var rep2 Report
	if err := json.Unmarshal(b, &rep2); err != nil {
		t.Fatal(err)
	}
	if rep2.Connect != nil || rep2.Latency == nil || *rep2.Latency != *h {
		t.Error("report round trip changed its histograms")
	}

	for _, bad := range []string{
		`{"count":1,"min_ns":5,"max_ns":5,"sum_ns":5,"buckets":[[4737,1]]}`,               // out of range
		`{"count":2,"min_ns":5,"max_ns":6,"sum_ns":11,"buckets":[[6,1],[5,1]]}`,           // out of order
		`{"count":2,"min_ns":5,"max_ns":5,"sum_ns":10,"buckets":[[5,1],[5,1]]}`,           // twice
		`{"count":2,"min_ns":5,"max_ns":5,"sum_ns":10,"buckets":[[5,1]]}`,                 // counts
		`{"count":1,"min_ns":5,"max_ns":5,"sum_ns":5,"buckets":[[5,1],[6,0]]}`,            // empty bucket
		`{"count":1,"min_ns":4,"max_ns":5,"sum_ns":5,"buckets":[[5,1]]}`,                  // min
		`{"count":1,"min_ns":5,"max_ns":7,"sum_ns":5,"buckets":[[5,1]]}`,                  // max
		`{"count":1,"min_ns":6,"max_ns":5,"sum_ns":5,"buckets":[[5,1]]}`,                  // min > max
		`{"count":0,"min_ns":5,"max_ns":0,"sum_ns":0,"buckets":[]}`,                       // empty with a min
		`{"count":1,"min_ns":5,"max_ns":5,"sum_ns":5,"buckets":[[5,1]],"sub_buckets":64}`, // layout
		`{"count":-1}`,
		`[1,2]`,
	} {
		before := *h
		if err := json.Unmarshal([]byte(bad), h); err == nil {
			t.Errorf("%s: no error", bad)
		}
		if *h != before {
			t.Errorf("%s: changed the histogram", bad)
		}
	}
	var ok Histogram
	if err := json.Unmarshal([]byte(`{"count":1,"min_ns":5,"max_ns":5,"sum_ns":5,"buckets":[[5,1]]}`), &ok); err != nil ||
		ok.Quantile(0.5) != 5 {
		t.Errorf("minimal form: %v, %v", err, ok.Quantile(0.5))
	}
}

func TestHistogramSummary(t *testing.T) {
	h := NewHistogram()
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	s := h.Summary()
	want := map[string]float64{
		"p50_us": 500, "p90_us": 900, "p99_us": 990, "p999_us": 999, "max_us": 1000, "mean_us": 500.5, "count": 1000,
	}
	if len(s) != len(want) {
		t.Fatalf("Summary %v", s)
	}
	for k, w := range want {
		if g := s[k]; g < w || g > w*(1+1.0/128) {
			t.Errorf("Summary %s = %v, want %v", k, g, w)
		}
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	h := NewHistogram()
	d := time.Duration(0)
	if n := testing.AllocsPerRun(1000, func() {
		d += 12345
		h.Record(d)
		h.RecordN(d, 3)
	}); n != 0 {
		t.Fatalf("%v allocations per Record", n)
	}
}

func BenchmarkRecord(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	ds := make([]time.Duration, 1024)
	for i := range ds {
		ds[i] = time.Duration(r.ExpFloat64() * float64(500*time.Microsecond))
	}
	h := NewHistogram()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Record(ds[i&1023])
		i++
	}
}

func BenchmarkMerge(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 12))
	o := NewHistogram()
	for range 100000 {
		o.Record(time.Duration(r.ExpFloat64() * float64(500*time.Microsecond)))
	}
	h := NewHistogram()
	b.ReportAllocs()
	for b.Loop() {
		h.Merge(o)
	}
}

func BenchmarkQuantile(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	h := NewHistogram()
	for range 100000 {
		h.Record(time.Duration(r.ExpFloat64() * float64(500*time.Microsecond)))
	}
	b.ReportAllocs()
	for b.Loop() {
		h.Quantile(0.99)
	}
}
