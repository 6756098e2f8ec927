# wssd — see README.md. Every target works from a clean checkout with Go.

GO            ?= go
FUZZTIME      ?=
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
BENCHTIME     ?= 1s
RUNFLAGS      ?=
INTEROP_DIR   := cmd/wssd/testdata/interop
INTEROP_DEBS  := python3-websockets chromium libnss3-tools sslscan openssl curl prometheus
UNIT_DEBS     := systemd

.PHONY: all build run test race fuzz bench microbench lint interop verify-unit clean

all: lint test

build:
	$(GO) build -o bin/wssd ./cmd/wssd
	$(GO) build -o bin/wssbench ./cmd/wssbench

# Runs the server on its embedded defaults. Not with "go run", which exits 1
# on Ctrl-C whatever the server does: the binary is built, then run as the
# terminal's foreground job (set -m) so that Ctrl-C reaches the server alone
# and make ends as the server does, with 0 after a clean drain.
run:
	$(GO) build -o bin/wssd ./cmd/wssd
	@set -m; bin/wssd $(RUNFLAGS); status=$$?; exit $$status

# The whole suite, with the race detector.
test:
	$(GO) test -race -count=1 ./...

# Each fuzz target, seeded from f.Add and testdata/fuzz, for a number of
# inputs sized to about 10 s each on a small machine. A count, not a time:
# with a time, Go 1.26's fuzz coordinator can fail a target that found
# nothing as the time runs out (go.dev/issue/75804, fixed in Go 1.27).
# FUZZTIME=30s (or 1000000x) sets one budget for all.
fuzzfor = $(if $(FUZZTIME),$(FUZZTIME),$(1)x)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzFrame$$' -fuzztime $(call fuzzfor,300000) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzRequest$$' -fuzztime $(call fuzzfor,300000) ./engine/http1
	$(GO) test -run '^$$' -fuzz '^FuzzChunked$$' -fuzztime $(call fuzzfor,200000) ./engine/http1
	$(GO) test -run '^$$' -fuzz '^FuzzUTF8$$' -fuzztime $(call fuzzfor,300000) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzFrameDeflate$$' -fuzztime $(call fuzzfor,100000) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzNegotiate$$' -fuzztime $(call fuzzfor,150000) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzInflate$$' -fuzztime $(call fuzzfor,300000) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzPubSubRequest$$' -fuzztime $(call fuzzfor,5000) ./engine/pubsub
	$(GO) test -run '^$$' -fuzz '^FuzzOpen$$' -fuzztime $(call fuzzfor,200000) ./engine/tlsrec
	$(GO) test -run '^$$' -fuzz '^FuzzInput$$' -fuzztime $(call fuzzfor,200000) ./engine/tlsrec
	$(GO) test -run '^$$' -fuzz '^FuzzOrigins$$' -fuzztime $(call fuzzfor,150000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(call fuzzfor,100000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzClassRun$$' -fuzztime $(call fuzzfor,50000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzTokenExtraction$$' -fuzztime $(call fuzzfor,120000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzTopicPattern$$' -fuzztime $(call fuzzfor,120000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(call fuzzfor,120000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzProxyHeader$$' -fuzztime $(call fuzzfor,200000) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzText$$' -fuzztime $(call fuzzfor,500000) ./engine/socketio/packet
	$(GO) test -run '^$$' -fuzz '^FuzzPayload$$' -fuzztime $(call fuzzfor,500000) ./engine/socketio/packet
	$(GO) test -run '^$$' -fuzz '^FuzzSocket$$' -fuzztime $(call fuzzfor,450000) ./engine/socketio/packet
	$(GO) test -run '^$$' -fuzz '^FuzzFrame$$' -fuzztime $(call fuzzfor,100000) ./engine/sockjs

# Starts wssd (ws:// and wss://) on loopback and runs the standard
# scenarios against it with wssbench (Socket.IO with the conformance app,
# whose acks the socketio scenario times), sized for a small machine; each
# report (table, JSON, HTML) goes to BENCHDIR. BENCHFLAGS adds wssd flags.
BENCHDIR   ?= bench-results/$(shell date -u +%Y-%m-%dT%H%M%SZ)
BENCHFLAGS ?=
bench: build
	@mkdir -p $(BENCHDIR)
	@bin/wssd --listen 127.0.0.1:18443 --listen-plain 127.0.0.1:18080 --admin 127.0.0.1:19099 \
		--data-dir $(BENCHDIR)/certs --log-level warn --anonymous-publish --socketio-app conformance $(BENCHFLAGS) 2> $(BENCHDIR)/wssd.log & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT; \
	ready=; for i in $$(seq 100); do \
		if bin/wssbench connect --url ws://127.0.0.1:18080/echo --conns 1 --hold 0s --quiet >/dev/null 2>&1; then ready=1; break; fi; \
		sleep 0.1; done; \
	[ -n "$$ready" ] || { echo "wssd did not start; see $(BENCHDIR)/wssd.log"; exit 1; }; \
	run() { name=$$1; shift; echo "== $$name"; \
		bin/wssbench "$$@" --server-pid $$pid --json $(BENCHDIR)/$$name.json --html $(BENCHDIR)/$$name.html \
			> $(BENCHDIR)/$$name.txt || exit 1; tail -n 1 $(BENCHDIR)/$$name.txt; }; \
	ca=$(BENCHDIR)/certs/dev-ca.pem; \
	run connect-wss connect --url wss://localhost:18443/echo --ca $$ca --conns 5000 --rate 1000 --hold 10s --quiet && \
	run echo-ws echo --url ws://127.0.0.1:18080/echo --conns 100 --size 32 --duration 10s --quiet && \
	run echo-wss echo --url wss://localhost:18443/echo --ca $$ca --conns 100 --size 32 --duration 10s --quiet && \
	run echo-wss-1k echo --url wss://localhost:18443/echo --ca $$ca --conns 100 --size 1024 --duration 10s --quiet && \
	run echo-wss-1k-deflate echo --url wss://localhost:18443/echo --ca $$ca --conns 100 --size 1024 --duration 10s --deflate --quiet && \
	run echo-wss-open echo --url wss://localhost:18443/echo --ca $$ca --conns 1000 --size 32 --msg-rate 20000 --duration 10s --quiet && \
	run handshake-wss handshake --url wss://localhost:18443/echo --ca $$ca --duration 10s --concurrency 16 --quiet && \
	run handshake-wss-resume handshake --url wss://localhost:18443/echo --ca $$ca --duration 10s --concurrency 16 --resume --quiet && \
	run churn-wss churn --url wss://localhost:18443/echo --ca $$ca --conns 2000 --rate 1000 --churn-rate 200 --duration 10s --resume --quiet && \
	run pubsub-wss pubsub --url wss://localhost:18443/ws --ca $$ca --conns 5000 --rate 1000 --pubs 2 --msg-rate 20 --size 128 --duration 10s --quiet && \
	run socketio-wss socketio --url wss://localhost:18443/socket.io/ --ca $$ca --transport websocket --conns 100 --size 32 --duration 10s --quiet && \
	run socketio-polling socketio --url https://localhost:18443/socket.io/ --ca $$ca --transport polling --conns 100 --size 32 --duration 10s --quiet && \
	echo "reports in $(BENCHDIR)"

# The Go benchmarks, with allocation counts.
microbench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# $(call debs,TARGET,PACKAGES) installs the Debian packages that are
# missing, as root or with sudo.
define debs
	@missing=""; \
	for p in $(2); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "make $(1): root or sudo is needed to install:$$missing" >&2; exit 1; fi; \
		echo "make $(1): installing$$missing"; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$missing; \
	fi
endef

# Independent clients against the binary over wss://: Node's ws, Python's
# websockets, headless Chromium (via playwright-core) and sslscan, the first
# three also with permessage-deflate as each offers it by default; and the
# Socket.IO clients (npm socket.io-client, in Node and in Chromium) against
# npm's socket.io server, and against wssd; the SockJS clients (npm
# sockjs-client, in Node on each of its transports and in Chromium on each of
# its own, the iframe ones included) against npm's sockjs server, and against
# wssd's --sockjs-path; a Prometheus server that scrapes
# the binary and answers every query of cmd/wssd/dashboard.json after
# scripted traffic; then the load generator's socketio scenario against
# npm's socket.io. Installs the Debian packages that are
# missing (as root, or with sudo) and the pinned npm packages, then runs every
# TestInterop* test and TestSocketIONode.
interop:
	$(call debs,interop,$(INTEROP_DEBS))
	cd $(INTEROP_DIR)/node && npm ci --no-audit --no-fund
	WSSD_INTEROP=1 $(GO) test -count=1 -run '^TestInterop' -v ./cmd/wssd
	WSSD_SOCKETIO_NODE=$(CURDIR)/$(INTEROP_DIR)/node/node_modules $(GO) test -count=1 -run '^TestSocketIONode$$' -v ./bench

# systemd-analyze verify on cmd/wssd/wssd.service (pointed at a fresh
# build), and the unit's flags against wssd's. Installs the Debian package
# systemd if missing (systemd-analyze; it is not started). make test runs
# the same tests but skips the verify without systemd-analyze.
verify-unit:
	$(call debs,verify-unit,$(UNIT_DEBS))
	WSSD_SYSTEMD_VERIFY=1 $(GO) test -count=1 -run '^TestUnit' -v ./cmd/wssd

clean:
	rm -rf bin
