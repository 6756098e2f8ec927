package bench

import (
	"math/rand/v2"
	"strconv"
)

// The payload of echo's messages and of the pad of pubsub's publications:
// "json" (the default), JSON text like an application's messages (records
// of ids, names, prices, timestamps and flags, from a fixed seed), which
// compresses about as such messages do; or "text", the letters a to z over
// and over, which compresses far better than anything real.

// Payload kinds.
const (
	PayloadJSON = "json"
	PayloadText = "text"
)

// appendTextPayload appends n bytes of a to z, over and over.
func appendTextPayload(dst []byte, n int) []byte {
	for i := range n {
		dst = append(dst, 'a'+byte(i%26))
	}
	return dst
}

// AppendJSONPayload appends exactly n bytes of JSON text (valid JSON for n
// of 1 and more; an object for n of 2 and more): an object of records such
// as a pub/sub application sends, from a fixed seed, so the same n gives
// the same bytes.
func AppendJSONPayload(dst []byte, n int) []byte {
	switch {
	case n <= 0:
		return dst
	case n == 1:
		return append(dst, '0')
	}
	const (
		head = `{"items":[`
		tail = `],"note":""}`
	)
	start := len(dst)
	if n < len(head)+len(tail) {
		// {} with spaces inside.
		dst = append(dst, '{')
		for range n - 2 {
			dst = append(dst, ' ')
		}
		return append(dst, '}')
	}
	rng := rand.New(rand.NewPCG(7, 1692))
	dst = append(dst, head...)
	var rec []byte
	for i := 0; ; i++ {
		rec = appendRecord(rec[:0], rng, i)
		sep := 0
		if i > 0 {
			sep = 1
		}
		if len(dst)-start+sep+len(rec)+len(tail) > n {
			break
		}
		if sep > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, rec...)
	}
	dst = append(dst, tail[:len(tail)-2]...)
	// The note fills what is left with words.
	for left := n - (len(dst) - start) - 2; left > 0; {
		w := noteWords[rng.IntN(len(noteWords))]
		if len(w)+1 > left {
			w = "xxxxxxxxxxxxxxxx"[:left]
		} else if left > len(w) {
			w += " "
		}
		dst = append(dst, w...)
		left -= len(w)
	}
	return append(dst, `"}`...)
}

var (
	symbols    = []string{"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "NFLX", "INTC", "ORCL"}
	eventTypes = []string{"price.update", "order.filled", "order.placed", "trade", "quote"}
	venues     = []string{"XNAS", "XNYS", "BATS", "ARCX"}
	noteWords  = []string{"market", "update", "for", "the", "session", "with", "volume", "above", "average", "and",
		"spread", "within", "limits", "orders", "routed", "to", "primary", "venue"}
)

// appendRecord appends one record, the i-th.
func appendRecord(dst []byte, rng *rand.Rand, i int) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendInt(dst, 100000+int64(i)*7+int64(rng.IntN(7)), 10)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, eventTypes[rng.IntN(len(eventTypes))]...)
	dst = append(dst, `","symbol":"`...)
	dst = append(dst, symbols[rng.IntN(len(symbols))]...)
	dst = append(dst, `","price":`...)
	dst = strconv.AppendFloat(dst, float64(1000+rng.IntN(90000))/100, 'f', 2, 64)
	dst = append(dst, `,"qty":`...)
	dst = strconv.AppendInt(dst, int64(1+rng.IntN(500)), 10)
	dst = append(dst, `,"venue":"`...)
	dst = append(dst, venues[rng.IntN(len(venues))]...)
	dst = append(dst, `","user":"user-`...)
	dst = strconv.AppendInt(dst, int64(rng.IntN(10000)), 10)
	dst = append(dst, `","ts":`...)
	dst = strconv.AppendInt(dst, 1767225600000+int64(i)*13+int64(rng.IntN(13)), 10)
	dst = append(dst, `,"live":`...)
	dst = strconv.AppendBool(dst, rng.IntN(4) != 0)
	return append(dst, '}')
}
