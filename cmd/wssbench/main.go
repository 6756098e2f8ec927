// Command wssbench measures a WebSocket server (wssd, or any RFC 6455
// server) on connections, messages and latency. See "wssbench -h".
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wssd/wssd/bench"
	"github.com/wssd/wssd/cmd/internal/buildinfo"
	"github.com/wssd/wssd/cmd/internal/flagdoc"
	"github.com/wssd/wssd/security"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: wssbench SCENARIO [flags]

Scenarios:
  connect   open --conns connections at --rate a second, hold them for --hold
            (answering pings); report how many opened, why the others did not,
            and the connect and handshake times
  echo      open --conns connections, then send --size-byte messages for
            --duration: closed loop (--inflight messages in flight on each
            connection) or, with --msg-rate, open loop at a fixed total rate
            (latency measured from when each message was meant to be sent)
  handshake for --duration, open connections (TLS handshake and upgrade) at
            --rate a second, or as fast as --concurrency dialers go, and close
            each once upgraded; report handshakes a second and their times
            (--resume: resumed TLS sessions, as reconnecting clients have)
  churn     open --conns connections, then for --duration close --churn-rate
            of them a second, oldest first, each followed by a new one
  pubsub    on a server of wssd's pub/sub protocol (--url wss://HOST/ws): open
            --conns subscribers to --topic (each ready once its subscription
            is acknowledged) and --pubs publishers, then publish --msg-rate
            publications a second in all, open loop, for --duration, each
            request about --size bytes; report each delivery's latency from
            the publication's intended send time, deliveries a second,
            missing and duplicate deliveries, and each publication's
            fan-out: the time until its last subscriber had it.
            "sent" counts publications, "received" deliveries.
  socketio  on a Socket.IO server (--url https://HOST/socket.io/, or wss://;
            the path defaults to /socket.io/): open --conns sessions on
            --transport (websocket or polling), each joining --namespace
            (with --auth, a JSON object, as the client's auth), then emit
            --event with a --size-byte string argument for --duration,
            asking for an ack: closed loop (--inflight per session) or, with
            --msg-rate, open loop; answer the server's pings. "sent" counts
            events, "received" acks, and the latency is the ack's.

permessage-deflate (RFC 7692): with --deflate, every connection offers it
(connect, echo, handshake, churn, pubsub; not socketio); where the server
agrees, echo and pubsub compress the messages they send (those of
--deflate-threshold bytes or more; by default all) and inflate those that
come compressed, on the client's loops, inside the latency measured. The
report says what the server answered (a declined offer: the run goes on
uncompressed) and, in every run, the bytes on the wire (TCP payload; TLS
records for wss://) per message next to the plaintext's, to compare a run
with --deflate and one without. Echo's messages and pubsub's pad are JSON
text like an application's (--payload json, the default), which compresses
as such messages do; --payload text is a to z over and over.

The last line printed is a summary of key=value pairs for scripts.
"wssbench --version" says which build this is.

Flags (one that names scenarios is for those; the others are for all):
`

// options are the command line's settings.
type options struct {
	failIf      string            // --fail-if as given
	thresholds  []bench.Threshold // and parsed
	scenario    bench.Scenario
	url         string
	ca          string
	insecure    bool
	headers     []string
	origin      string
	conns       int
	rate        float64
	hold        time.Duration
	duration    time.Duration
	size        int
	inflight    int
	msgRate     float64
	churnRate   float64
	concurrency int
	resume      bool
	procs       int
	sourceIPs   []net.IP
	serverPIDs  []int
	jsonFile    string
	htmlFile    string
	loops       int
	quiet       bool
	shard       int // this process is shard shard of procs (a child)
	pubs        int
	topic       string
	transport   string
	namespace   string
	auth        string
	event       string
	deflate     bool
	zOffer      string
	zThreshold  int
	payload     string
	args        []string
	version     bool // --version: say which build this is, run nothing
}

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// rawArgs are the flags' values that parseArgs checks and converts into
// options.
type rawArgs struct {
	headers   headerList
	ips, pids string
}

// hiddenFlags work but are not in --help: the parent's way of talking to
// its shards.
var hiddenFlags = map[string]bool{"shard": true}

// newFlagSet registers wssbench's flags, the same for every scenario:
// their values go to o and raw.
func newFlagSet(name string, o *options, raw *rawArgs, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "wss://localhost:8443/echo", "the server's `URL`: ws:// or wss://, and for socketio also http:// or https:// (default wss://localhost:8443/echo; pubsub wss://localhost:8443/ws; socketio wss://localhost:8443/socket.io/)")
	fs.StringVar(&o.ca, "ca", "", "PEM `file` of a CA to trust (wssd's dev-ca.pem, say)")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's certificate")
	fs.Var(&raw.headers, "header", "extra request header `Name: value` (repeatable), e.g. \"Authorization: Bearer ...\"")
	fs.StringVar(&o.origin, "origin", "", "the Origin header")
	fs.IntVar(&o.conns, "conns", 100, "connections")
	fs.Float64Var(&o.rate, "rate", 0, "connections opened a second (0: as fast as --concurrency allows)")
	fs.DurationVar(&o.hold, "hold", 10*time.Second, "connect: how long to hold the connections")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "echo, handshake, churn, pubsub, socketio: how long the measured part lasts")
	fs.IntVar(&o.size, "size", 32, "echo: message size in bytes; pubsub: publish request size; socketio: the event's string argument (default 32; pubsub 128)")
	fs.IntVar(&o.inflight, "inflight", 1, "echo, socketio, closed loop: messages (events) in flight per connection (session)")
	fs.Float64Var(&o.msgRate, "msg-rate", 0, "echo, socketio: total messages (events) a second, open loop (0: closed loop); pubsub: publications a second in all (default 0; pubsub 1)")
	fs.IntVar(&o.pubs, "pubs", 1, "pubsub: publisher connections, besides the --conns subscribers")
	fs.StringVar(&o.topic, "topic", "bench", "pubsub: the `topic` to subscribe and publish to")
	fs.StringVar(&o.transport, "transport", "websocket", "socketio: the sessions' transport, websocket or polling")
	fs.StringVar(&o.namespace, "namespace", "/", "socketio: the `namespace` the sessions join")
	fs.StringVar(&o.auth, "auth", "", "socketio: the client's auth, a JSON `object` sent with the CONNECT, e.g. '{\"token\":\"...\"}'")
	fs.StringVar(&o.event, "event", bench.DefaultEvent, "socketio: the `event` emitted, asking for an ack")
	fs.Float64Var(&o.churnRate, "churn-rate", 10, "churn: connections closed and opened again a second")
	fs.IntVar(&o.concurrency, "concurrency", 64, "dials and TLS handshakes at once")
	fs.BoolVar(&o.resume, "resume", false, "resume TLS sessions (reconnects skip the full handshake)")
	fs.IntVar(&o.procs, "procs", 1, "processes to shard the connections over (each may open ~19,000 files here)")
	fs.StringVar(&raw.ips, "source-ips", "", "local `addresses` to dial from, e.g. 127.0.0.2-127.0.0.40 or a comma list (loopback has 2^24)")
	fs.StringVar(&raw.pids, "server-pid", "", "sample the server's RSS and CPU from /proc: a `pid`, or a comma list of the processes sharing a port")
	fs.StringVar(&o.jsonFile, "json", "", "write the report as JSON to `file` (- for stdout)")
	fs.StringVar(&o.failIf, "fail-if", "", "`conditions` the run must meet, on the summary line's figures, comma-separated (e.g. 'p99<5ms,errors==0,msgs_per_s>=10000'); the exit status is 1 when one is missed")
	fs.StringVar(&o.htmlFile, "html", "", "write the report as a self-contained HTML page to `file`")
	fs.IntVar(&o.loops, "loops", 0, "event loops (0: one per CPU)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.BoolVar(&o.deflate, "deflate", false, "offer permessage-deflate ("+bench.DefaultDeflateOffer+"); echo and pubsub compress what they send where the server agrees; not socketio")
	fs.StringVar(&o.zOffer, "deflate-offer", "", "send this permessage-deflate `offer` verbatim instead (implies --deflate), e.g. \"permessage-deflate; server_max_window_bits=10\"; takeover the server agrees to is honoured")
	fs.IntVar(&o.zThreshold, "deflate-threshold", 0, "with --deflate, send messages shorter than this many `bytes` uncompressed (0: compress all)")
	fs.StringVar(&o.payload, "payload", bench.PayloadJSON, "echo, pubsub: what messages (pubsub: the pad) are made of: json (JSON records, as applications send) or text (a to z repeated)")
	fs.IntVar(&o.shard, "shard", -1, "internal: run as shard N of --procs, writing JSON to stdout")
	fs.Usage = func() { printUsage(fs) }
	return fs
}

// printUsage is wssbench's --help: the scenarios, then the flags of fs
// but the hidden ones.
func printUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, usage)
	fs.VisitAll(func(f *flag.Flag) {
		if !hiddenFlags[f.Name] {
			flagdoc.Print(w, f)
		}
	})
}

// errNoScenario is parseArgs's error for a command line without one.
var errNoScenario = errors.New("give a scenario: connect, echo, handshake, churn, pubsub or socketio")

func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	var raw rawArgs
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("wssbench", &o, &raw, stderr)
		switch {
		case len(args) > 0 && isHelp(args[0]):
			fs.Usage()
			return o, flag.ErrHelp
		case len(args) > 0 && (args[0] == "-version" || args[0] == "--version"):
			o.version = true
			return o, nil
		}
		fs.Usage()
		return o, errNoScenario
	}
	var err error
	if o.scenario, err = bench.ParseScenario(args[0]); err != nil {
		return o, err
	}
	o.args = args[1:]
	fs := newFlagSet("wssbench "+o.scenario.String(), &o, &raw, stderr)
	if err := fs.Parse(o.args); err != nil {
		return o, err
	}
	o.headers = raw.headers
	ips, pids := raw.ips, raw.pids
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.scenario == bench.PubSub {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["url"] {
			o.url = "wss://localhost:8443/ws"
		}
		if !set["size"] {
			o.size = 128
		}
		if !set["msg-rate"] {
			o.msgRate = 1
		}
		if o.pubs < 0 || o.pubs > 1<<16 {
			return o, errors.New("--pubs: 0 to 65536 publishers")
		}
		if !security.ValidTopic(o.topic) {
			return o, fmt.Errorf("--topic %q: 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most", o.topic)
		}
	}
	if o.scenario == bench.SocketIO {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["url"] {
			o.url = "wss://localhost:8443/socket.io/"
		}
		if o.transport != "websocket" && o.transport != "polling" {
			return o, fmt.Errorf("--transport %q: websocket or polling", o.transport)
		}
	}
	if o.zOffer != "" {
		o.deflate = true
		if _, err := bench.ParseDeflateOffer(o.zOffer); err != nil {
			return o, fmt.Errorf("--deflate-offer: %w", err)
		}
	}
	if o.deflate && o.scenario == bench.SocketIO {
		return o, errors.New("--deflate: not in socketio")
	}
	if o.zThreshold < 0 {
		return o, errors.New("--deflate-threshold: not negative")
	}
	if o.payload != bench.PayloadJSON && o.payload != bench.PayloadText {
		return o, fmt.Errorf("--payload %q: json or text", o.payload)
	}
	if o.conns <= 0 || o.procs <= 0 || o.size < 0 || o.inflight <= 0 || o.concurrency <= 0 || o.rate < 0 || o.msgRate < 0 || o.churnRate < 0 {
		return o, errors.New("--conns, --procs, --inflight and --concurrency must be positive; --size, --rate, --msg-rate and --churn-rate not negative")
	}
	if o.serverPIDs, err = parsePIDs(pids); err != nil {
		return o, fmt.Errorf("--server-pid: %w", err)
	}
	if o.sourceIPs, err = parseIPs(ips); err != nil {
		return o, fmt.Errorf("--source-ips: %w", err)
	}
	if o.failIf != "" {
		if o.thresholds, err = bench.ParseThresholds(o.failIf); err != nil {
			return o, err
		}
	}
	return o, nil
}

// parsePIDs parses "412" or "412,413,414".
func parsePIDs(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%q is not a process id", part)
		}
		out = append(out, pid)
	}
	return out, nil
}

// parseIPs parses "a-b" (an IPv4 range) or "a,b,c".
func parseIPs(s string) ([]net.IP, error) {
	if s == "" {
		return nil, nil
	}
	var out []net.IP
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a := net.ParseIP(from).To4()
		if !isRange {
			ip := net.ParseIP(from)
			if ip == nil {
				return nil, fmt.Errorf("%q is not an address", from)
			}
			out = append(out, ip)
			continue
		}
		b := net.ParseIP(to).To4()
		if a == nil || b == nil {
			return nil, fmt.Errorf("%q: a range is of IPv4 addresses", part)
		}
		lo, hi := ipv4(a), ipv4(b)
		if hi < lo || hi-lo > 1<<20 {
			return nil, fmt.Errorf("%q: empty or too large", part)
		}
		for v := lo; v <= hi; v++ {
			out = append(out, net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)))
		}
	}
	return out, nil
}

func ipv4(ip net.IP) uint32 {
	return uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
}

// share is shard k's part of n split over procs.
func share(n, k, procs int) int {
	s := n / procs
	if k < n%procs {
		s++
	}
	return s
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "wssbench:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, buildinfo.Line("wssbench"))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var rep *bench.Report
	if o.procs > 1 && o.shard < 0 {
		rep, err = runShards(ctx, o, stderr)
	} else {
		rep, err = runOne(ctx, o, os.Stdin, stdout, stderr)
	}
	if err != nil && rep == nil {
		fmt.Fprintln(stderr, "wssbench:", err)
		return 1
	}
	if o.shard >= 0 {
		fmt.Fprintln(stdout, shardReportLine)
		if err := rep.WriteJSON(stdout); err != nil {
			fmt.Fprintln(stderr, "wssbench:", err)
			return 1
		}
		return 0
	}
	if err := writeReports(o, rep, stdout); err != nil {
		fmt.Fprintln(stderr, "wssbench:", err)
		return 1
	}
	if missed := rep.Missed(o.thresholds); len(missed) > 0 {
		for _, m := range missed {
			fmt.Fprintln(stderr, "wssbench: --fail-if: missed", m)
		}
		return 1
	}
	if rep.Established == 0 {
		return 1
	}
	return 0
}

// A shard writes a line "second {JSON}" on its standard output as each
// second of its run ends, then the line "report" and its report as JSON.
// In pubsub, a shard also writes "ready" once its connections are settled,
// and starts its measured part when it reads "go" on its standard input:
// the parent sends that once every shard is ready (or has ended), so that
// no publication goes before every subscriber is ready.
const (
	shardSecondPrefix = "second "
	shardReportLine   = "report"
	shardReadyLine    = "ready"
	shardGoLine       = "go"
)

// runOne runs the scenario in this process (all of it, or its shard).
func runOne(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) (*bench.Report, error) {
	t, err := bench.NewTarget(o.url, bench.TargetOptions{CAFile: o.ca, Insecure: o.insecure, Headers: o.headers, Origin: o.origin, Resume: o.resume})
	if err != nil {
		return nil, err
	}
	cfg := bench.Config{
		Scenario: o.scenario, Target: t, Conns: o.conns, ConnRate: o.rate, Concurrency: o.concurrency,
		Hold: o.hold, Duration: o.duration, Size: o.size, Inflight: o.inflight, Rate: o.msgRate, ChurnRate: o.churnRate,
		Loops: o.loops, SourceIPs: o.sourceIPs, ServerPIDs: o.serverPIDs, Params: params(o),
		Topic: o.topic, Pubs: o.pubs, PubsTotal: o.pubs,
		Transport: o.transport, Namespace: o.namespace, Auth: o.auth, Event: o.event,
		Deflate: o.deflate, DeflateOffer: o.zOffer, DeflateThreshold: o.zThreshold, Payload: o.payload,
	}
	if o.shard >= 0 {
		cfg.Conns = share(o.conns, o.shard, o.procs)
		cfg.ConnRate = o.rate / float64(o.procs)
		cfg.Rate = o.msgRate / float64(o.procs)
		cfg.ChurnRate = o.churnRate / float64(o.procs)
		cfg.Concurrency = max(o.concurrency/o.procs, 1)
		cfg.ServerPIDs = nil // the parent samples the server
		if len(o.sourceIPs) >= o.procs {
			var mine []net.IP
			for i := o.shard; i < len(o.sourceIPs); i += o.procs {
				mine = append(mine, o.sourceIPs[i])
			}
			cfg.SourceIPs = mine
		}
		var mu sync.Mutex
		cfg.Progress = func(s bench.Second) {
			b, err := json.Marshal(s)
			if err == nil {
				mu.Lock()
				fmt.Fprintf(stdout, "%s%s\n", shardSecondPrefix, b)
				mu.Unlock()
			}
		}
		if o.scenario == bench.PubSub {
			// The publishers split as the subscribers do, each shard's
			// rate in proportion to its publishers; ids follow on.
			cfg.Pubs = share(o.pubs, o.shard, o.procs)
			cfg.PubBase = 0
			for k := range o.shard {
				cfg.PubBase += share(o.pubs, k, o.procs)
			}
			cfg.Rate = 0
			if o.pubs > 0 {
				cfg.Rate = o.msgRate * float64(cfg.Pubs) / float64(o.pubs)
			}
			cfg.Barrier = func(ctx context.Context) error {
				mu.Lock()
				fmt.Fprintln(stdout, shardReadyLine)
				mu.Unlock()
				return waitGo(ctx, stdin)
			}
		}
	} else if !o.quiet {
		var errs uint64
		cfg.Progress = func(s bench.Second) {
			errs += s.Errors
			fmt.Fprintln(stderr, bench.ProgressLine(s, errs))
		}
	}
	return bench.Run(ctx, cfg)
}

// waitGo waits for the line "go" on in.
func waitGo(ctx context.Context, in io.Reader) error {
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != shardGoLine {
			err = fmt.Errorf("%q on the standard input, want %q", line, shardGoLine)
		}
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startBarrier opens once every shard has said it is ready or has ended.
type startBarrier struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
}

func newStartBarrier(shards int) *startBarrier {
	return &startBarrier{waiting: shards, open: make(chan struct{})}
}

// arrive notes a shard ready or ended; once per shard.
func (b *startBarrier) arrive() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting--
	if b.waiting == 0 {
		close(b.open)
	}
}

// runShards runs --procs children, each with its share of the
// connections and rates, adds up their seconds into one progress line
// (sampling the server on each), and merges their reports (histograms
// merge exactly).
func runShards(ctx context.Context, o options, stderr io.Writer) (*bench.Report, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	prog := &shardProgress{live: o.procs, pending: map[int]*pendingSecond{}}
	if !o.quiet {
		prog.out = stderr
	}
	var sampler *bench.ProcSampler
	var first, peak bench.ProcSample
	var peakConns uint64
	if len(o.serverPIDs) > 0 {
		if sampler, err = bench.NewProcSampler(o.serverPIDs...); err != nil {
			return nil, err
		}
		if first, err = sampler.Sample(); err != nil {
			return nil, err
		}
		peak = first
		prog.onSecond = func(s bench.Second) {
			if smp, err := sampler.Sample(); err == nil && smp.RSS >= peak.RSS {
				peak, peakConns = smp, s.Established
			}
		}
	}
	fmt.Fprintf(stderr, "wssbench: %d processes\n", o.procs)
	var barrier *startBarrier
	if o.scenario == bench.PubSub {
		barrier = newStartBarrier(o.procs)
	}
	reports := make([]*bench.Report, o.procs)
	errs := make([]error, o.procs)
	var wg sync.WaitGroup
	for k := range o.procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer prog.done()
			args := append([]string{o.scenario.String()}, o.args...)
			args = append(args, "--shard", strconv.Itoa(k), "--quiet")
			reports[k], errs[k] = runShard(ctx, self, args, prog, barrier, stderr)
			if errs[k] != nil {
				errs[k] = fmt.Errorf("shard %d: %w", k, errs[k])
			}
		}()
	}
	wg.Wait()
	var merged *bench.Report
	for k, r := range reports {
		if r == nil {
			fmt.Fprintln(stderr, "wssbench:", errs[k])
			continue
		}
		if merged == nil {
			merged = r
			continue
		}
		merged.Merge(r)
	}
	if merged == nil {
		return nil, errors.Join(errs...)
	}
	merged.Params = params(o)
	if sampler != nil {
		if last, err := sampler.Sample(); err == nil {
			prog.mu.Lock()
			if !o.scenario.KeepsConns() {
				peakConns = 0 // connections do not stay: no memory per connection
			}
			merged.Server = sampler.Stats(first, peak, last, peakConns, merged.Received, merged.Established)
			prog.mu.Unlock()
		}
	}
	return merged, errors.Join(errs...)
}

// runShard runs one child and reads what it writes: its seconds, then its
// report. With a barrier, it tells the child to start its measured part
// once the barrier opens, and arrives at it when the child is ready or
// ends.
func runShard(ctx context.Context, self string, args []string, prog *shardProgress, barrier *startBarrier, stderr io.Writer) (*bench.Report, error) {
	arrive := func() {}
	if barrier != nil {
		arrive = sync.OnceFunc(barrier.arrive)
	}
	defer arrive() // whatever happens, the other shards do not wait for this one
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stdin io.WriteCloser
	if barrier != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if barrier != nil {
		ended := make(chan struct{})
		defer close(ended)
		go func() {
			select {
			case <-barrier.open:
				_, _ = io.WriteString(stdin, shardGoLine+"\n")
			case <-ended:
			}
		}()
	}
	br := bufio.NewReader(out)
	var rep *bench.Report
	var readErr error
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimSuffix(line, "\n")
		if after, ok := strings.CutPrefix(line, shardSecondPrefix); ok {
			var s bench.Second
			if json.Unmarshal([]byte(after), &s) == nil {
				prog.add(s)
			}
		} else if line == shardReadyLine {
			arrive()
		} else if line == shardReportLine {
			var r bench.Report
			if readErr = json.NewDecoder(br).Decode(&r); readErr == nil {
				rep = &r
			}
			_, _ = io.Copy(io.Discard, br)
			break
		}
		if err != nil {
			break
		}
	}
	arrive()
	if err := cmd.Wait(); err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, errors.Join(errors.New("no report"), readErr)
	}
	return rep, nil
}

// shardProgress adds up the seconds of the shards: a second is complete
// once every shard still running has reported it; it is then printed, and
// handed to onSecond.
type shardProgress struct {
	mu       sync.Mutex
	live     int // shards still running
	pending  map[int]*pendingSecond
	errors   uint64 // so far, for the progress line
	out      io.Writer
	onSecond func(bench.Second)
}

type pendingSecond struct {
	s      bench.Second
	shards int
}

func (p *shardProgress) add(s bench.Second) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.pending[s.At]
	if ps == nil {
		ps = &pendingSecond{s: bench.Second{At: s.At}}
		p.pending[s.At] = ps
	}
	ps.s.Add(s)
	ps.shards++
	p.flush()
}

// done notes that a shard has ended: it reports no more seconds.
func (p *shardProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.live--
	p.flush()
}

// flush emits the complete seconds, in order. Called with mu held.
func (p *shardProgress) flush() {
	ats := make([]int, 0, len(p.pending))
	for at, ps := range p.pending {
		if ps.shards >= p.live {
			ats = append(ats, at)
		}
	}
	slices.Sort(ats)
	for _, at := range ats {
		s := p.pending[at].s
		delete(p.pending, at)
		p.errors += s.Errors
		if p.onSecond != nil {
			p.onSecond(s)
		}
		if p.out != nil {
			fmt.Fprintln(p.out, bench.ProgressLine(s, p.errors))
		}
	}
}

// params are the flags of the run, for the report.
func params(o options) map[string]string {
	p := map[string]string{"conns": strconv.Itoa(o.conns), "procs": strconv.Itoa(o.procs)}
	switch o.scenario {
	case bench.Connect:
		p["hold"] = o.hold.String()
		p["rate"] = strconv.FormatFloat(o.rate, 'g', -1, 64)
	case bench.Echo, bench.SocketIO:
		p["duration"] = o.duration.String()
		p["size"] = strconv.Itoa(o.size)
		if o.msgRate > 0 {
			p["msg_rate"] = strconv.FormatFloat(o.msgRate, 'g', -1, 64)
		} else {
			p["inflight"] = strconv.Itoa(o.inflight)
		}
	case bench.Handshake:
		delete(p, "conns")
		p["duration"] = o.duration.String()
		p["rate"] = strconv.FormatFloat(o.rate, 'g', -1, 64)
		p["concurrency"] = strconv.Itoa(o.concurrency)
	case bench.Churn:
		p["duration"] = o.duration.String()
		p["rate"] = strconv.FormatFloat(o.rate, 'g', -1, 64)
		p["churn_rate"] = strconv.FormatFloat(o.churnRate, 'g', -1, 64)
	case bench.PubSub:
		p["duration"] = o.duration.String()
		p["size"] = strconv.Itoa(o.size)
		p["msg_rate"] = strconv.FormatFloat(o.msgRate, 'g', -1, 64)
		p["rate"] = strconv.FormatFloat(o.rate, 'g', -1, 64)
		p["pubs"] = strconv.Itoa(o.pubs)
		p["topic"] = o.topic
	}
	if o.scenario == bench.SocketIO {
		p["transport"] = o.transport
		p["namespace"] = o.namespace
		p["event"] = o.event
		if o.auth != "" {
			p["auth"] = "given" // not the token itself
		}
	}
	if o.scenario == bench.Echo || o.scenario == bench.PubSub {
		p["payload"] = o.payload
	}
	if o.deflate {
		p["deflate"] = "true"
		if o.zOffer != "" {
			p["deflate_offer"] = o.zOffer
		}
		if o.zThreshold > 0 {
			p["deflate_threshold"] = strconv.Itoa(o.zThreshold)
		}
	}
	if o.resume {
		p["resume"] = "true"
	}
	if len(o.sourceIPs) > 0 {
		p["source_ips"] = strconv.Itoa(len(o.sourceIPs))
	}
	return p
}

// writeReports prints the table and the summary line, and writes --json
// and --html.
func writeReports(o options, rep *bench.Report, stdout io.Writer) error {
	if o.jsonFile != "" {
		if err := writeFile(o.jsonFile, stdout, rep.WriteJSON); err != nil {
			return err
		}
	}
	if o.htmlFile != "" {
		if err := writeFile(o.htmlFile, stdout, rep.WriteHTML); err != nil {
			return err
		}
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	_, err := fmt.Fprintln(stdout, rep.SummaryLine())
	return err
}

func writeFile(name string, stdout io.Writer, write func(io.Writer) error) error {
	if name == "-" {
		return write(stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// isHelp reports whether arg asks for help, as the flag package
// understands it.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}
