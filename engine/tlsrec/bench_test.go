package tlsrec

import (
	"runtime"
	"strconv"
	"testing"
)

var benchSizes = []int{64, 1 << 10, 16 << 10}

func BenchmarkSeal(b *testing.B) {
	for _, s := range testSuites {
		for _, n := range benchSizes {
			b.Run(s.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				cli := newLayer(b, s.id, true)
				msg := testBytes(n)
				dst := make([]byte, 0, 2*n+1024)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					dst = cli.Seal(dst[:0], msg, nil)
				}
			})
		}
	}
}

// BenchmarkOpen opens the same record again and again, rewinding the read
// sequence number; each op includes copying the record back into place.
func BenchmarkOpen(b *testing.B) {
	for _, s := range testSuites {
		for _, n := range benchSizes {
			b.Run(s.name+"/"+strconv.Itoa(n), func(b *testing.B) {
				cli, srv := layerPair(b, s.id)
				rec := cli.Seal(nil, testBytes(n), nil)
				buf := make([]byte, len(rec))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					copy(buf, rec)
					srv.in.seq = 0
					if plain, _, err := srv.Open(buf); err != nil || len(plain) != n {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkExpand is what Cool costs the next record: building the AEAD
// again from the kept key. Its B/op is the AEAD's heap size.
func BenchmarkExpand(b *testing.B) {
	for _, s := range testSuites {
		b.Run(s.name, func(b *testing.B) {
			c := newLayer(b, s.id, false)
			b.ReportAllocs()
			for b.Loop() {
				c.out.aead = nil
				c.out.cipher(c.p)
			}
		})
	}
}

// BenchmarkIdleConn measures the heap an idle Conn holds, after Cool
// ("keys") and with both AEADs built ("warm"), over many Conns; each op
// builds and measures one batch.
func BenchmarkIdleConn(b *testing.B) {
	const batch = 10000
	for _, s := range testSuites {
		for _, warm := range []bool{false, true} {
			name := s.name + "/keys"
			if warm {
				name = s.name + "/warm"
			}
			b.Run(name, func(b *testing.B) {
				cs, ss := testSecrets(s.id)
				var perConn float64
				for b.Loop() {
					conns := make([]*Conn, batch)
					var before, after runtime.MemStats
					runtime.GC()
					runtime.ReadMemStats(&before)
					for i := range conns {
						c, err := New(Secrets{Suite: s.id, Read: cs, Write: ss}, false, 0)
						if err != nil {
							b.Fatal(err)
						}
						if c.Cool() {
							b.Fatal("Cool kept unused AEADs")
						}
						if warm {
							c.in.cipher(c.p)
							c.out.cipher(c.p)
						}
						conns[i] = c
					}
					runtime.GC()
					runtime.ReadMemStats(&after)
					perConn = float64(after.HeapAlloc-before.HeapAlloc) / batch
					runtime.KeepAlive(conns)
				}
				b.ReportMetric(perConn, "heapB/conn")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
