//go:build linux

package security

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// The benchmarks compare the server's key-exchange settings. The client is
// always crypto/tls with its defaults, which offers X25519MLKEM768 and
// X25519 key shares as current browsers do: the settings are the server's
// choice, the clients are what they are. A server without the hybrid then
// picks X25519 from the same ClientHello; a P-256-only server needs a
// HelloRetryRequest, as it would with a browser.
//
//	go test -run '^$' -bench . -benchmem ./security/
var benchSettings = []struct {
	name   string
	curves []tls.CurveID // nil: not TLS (a baseline)
}{
	{
		name:   "X25519MLKEM768+X25519",
		curves: []tls.CurveID{tls.X25519MLKEM768, tls.X25519},
	},
	{
		name:   "X25519",
		curves: []tls.CurveID{tls.X25519},
	},
	{
		name:   "P256",
		curves: []tls.CurveID{tls.CurveP256},
	},
}

// benchServer is the development certificate the server presents (ECDSA
// P-256, as wssd's), the files it came from and the pool of its CA.
func benchServer(b *testing.B) (*Certificate, DevFiles, *x509.CertPool) {
	files, _, err := DevCertificates(b.TempDir(), DefaultDevHosts)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := LoadCertificate(files.Cert, files.Key)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	pemCA, err := os.ReadFile(files.CA)
	if err != nil || !roots.AppendCertsFromPEM(pemCA) {
		b.Fatal("reading the development CA:", err)
	}
	return cert, files, roots
}

// BenchmarkHandshake is a full TLS 1.3 handshake, both peers in this
// process over loopback TCP: ns/op, B/op and allocs/op are the client's and the
// server's together, what a handshake costs a machine that runs both, as
// wssbench against wssd on one host does.
func BenchmarkHandshake(b *testing.B) {
	for _, bs := range benchSettings {
		b.Run(bs.name, func(b *testing.B) {
			cert, _, roots := benchServer(b)
			server := ServerTLS(cert, bs.curves)
			client := clientTLS(roots)
			ln := listen(b)
			errc := make(chan error, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				sc, cc := loopback(b, ln)
				go func() {
					errc <- tls.Client(cc, client).Handshake()
				}()
				if err := tls.Server(sc, server).Handshake(); err != nil {
					b.Fatal(err)
				}
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				sc.Close()
				cc.Close()
			}
		})
	}
}

// BenchmarkServerHandshake is the server's side alone: the client runs in
// another process (this test binary again) over loopback TCP, so B/op and
// allocs/op are the server's only. ns/op is wall time per handshake, paced
// by the client; cpu-ns/op is the CPU time of this process per handshake
// (accept, handshake, close, garbage collection included).
func BenchmarkServerHandshake(b *testing.B) {
	for _, bs := range benchSettings {
		b.Run(bs.name, func(b *testing.B) {
			cert, files, _ := benchServer(b)
			server := ServerTLS(cert, bs.curves)
			ln := startBenchClient(b, files.CA, true, 4)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				nc, err := ln.Accept()
				if err != nil {
					b.Fatal(err)
				}
				tc := tls.Server(nc, server)
				if err := tc.Handshake(); err != nil {
					b.Fatal(err)
				}
				tc.Close()
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// retainedConns is how many connections BenchmarkRetained holds at once.
const retainedConns = 2000

// BenchmarkRetained is the heap an established server connection keeps
// after its handshake: each op accepts retainedConns connections from a
// client process, completes their handshakes, holds them and measures the
// heap in use after a collection, against before. "plain" is a TCP
// connection without TLS, the part of each figure that is the socket's.
func BenchmarkRetained(b *testing.B) {
	settings := append([]struct {
		name   string
		curves []tls.CurveID
	}{{name: "plain"}}, benchSettings...)
	for _, bs := range settings {
		b.Run(bs.name, func(b *testing.B) {
			cert, files, _ := benchServer(b)
			server := ServerTLS(cert, bs.curves)
			var inuse, alloc uint64
			for range b.N {
				ln := startBenchClient(b, files.CA, bs.curves != nil, retainedConns)
				conns := make([]net.Conn, 0, retainedConns)
				before := heapAfterGC()
				for range retainedConns {
					nc, err := ln.Accept()
					if err != nil {
						b.Fatal(err)
					}
					if bs.curves != nil {
						tc := tls.Server(nc, server)
						if err := tc.Handshake(); err != nil {
							b.Fatal(err)
						}
						nc = tc
					}
					conns = append(conns, nc)
				}
				after := heapAfterGC()
				inuse += after.HeapInuse - before.HeapInuse
				alloc += after.HeapAlloc - before.HeapAlloc
				for _, c := range conns {
					c.Close()
				}
				ln.Close()
			}
			n := float64(b.N * retainedConns)
			b.ReportMetric(float64(inuse)/n, "inuse-B/conn")
			b.ReportMetric(float64(alloc)/n, "live-B/conn")
		})
	}
}

func heapAfterGC() runtime.MemStats {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// Environment of the client process of the benchmarks.
const (
	benchClientAddr  = "WSSD_SECURITY_BENCH_CLIENT"      // address to dial
	benchClientCA    = "WSSD_SECURITY_BENCH_CA"          // CA file to trust; empty: plain TCP
	benchClientConns = "WSSD_SECURITY_BENCH_CONCURRENCY" // connections open at once
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(benchClientAddr); addr != "" {
		os.Exit(runBenchClient(addr))
	}
	os.Exit(m.Run())
}

// startBenchClient listens on loopback and starts a client process that
// connects to it, conns connections at once, each handshaking (with TLS
// when tlsOn) and then reading until the server closes it. The client stops
// when the listener closes; so does the listener if the client stops first,
// so that Accept never waits for a client that is gone.
func startBenchClient(b *testing.B, caFile string, tlsOn bool, conns int) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if !tlsOn {
		caFile = ""
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(),
		benchClientAddr+"="+ln.Addr().String(),
		benchClientCA+"="+caFile,
		benchClientConns+"="+strconv.Itoa(conns),
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		ln.Close()
		exited <- err
	}()
	b.Cleanup(func() {
		ln.Close()
		if err := <-exited; err != nil {
			b.Error("benchmark client:", err)
		}
	})
	return ln
}

// runBenchClient is the client process of the benchmarks; it returns its
// exit status.
func runBenchClient(addr string) int {
	conns, err := strconv.Atoi(os.Getenv(benchClientConns))
	if err != nil || conns < 1 {
		conns = 1
	}
	var config *tls.Config
	if caFile := os.Getenv(benchClientCA); caFile != "" {
		pemCA, err := os.ReadFile(caFile)
		roots := x509.NewCertPool()
		if err != nil || !roots.AppendCertsFromPEM(pemCA) {
			os.Stderr.WriteString("benchmark client: no CA in " + caFile + "\n")
			return 2
		}
		config = clientTLS(roots)
	}
	slots := make(chan struct{}, conns)
	for {
		slots <- struct{}{}
		nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			return 0 // the server is done
		}
		go func() {
			defer func() { <-slots }()
			defer nc.Close()
			var c io.Reader = nc
			if config != nil {
				tc := tls.Client(nc, config)
				if tc.Handshake() != nil {
					return // the server reports what went wrong, or is done
				}
				c = tc
			}
			_, _ = io.Copy(io.Discard, c) // session tickets, then the server's close
		}()
	}
}
