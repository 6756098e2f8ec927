# wssd — see README.md. Every target works from a clean checkout with Go.

GO            ?= go
FUZZTIME      ?= 10s
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
BENCHTIME     ?= 1s
RUNFLAGS      ?=
INTEROP_DIR   := cmd/wssd/testdata/interop
INTEROP_DEBS  := python3-websockets chromium libnss3-tools sslscan

.PHONY: all build run test race fuzz bench lint interop clean

all: lint test

build:
	$(GO) build -o bin/wssd ./cmd/wssd

# Runs the server on its embedded defaults.
run:
	$(GO) run ./cmd/wssd $(RUNFLAGS)

# The whole suite, with the race detector.
test:
	$(GO) test -race -count=1 ./...

# Each fuzz target for FUZZTIME, seeded from f.Add and testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzFrame$$' -fuzztime $(FUZZTIME) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzUpgrade$$' -fuzztime $(FUZZTIME) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzUTF8$$' -fuzztime $(FUZZTIME) ./codec
	$(GO) test -run '^$$' -fuzz '^FuzzOrigins$$' -fuzztime $(FUZZTIME) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzClassRun$$' -fuzztime $(FUZZTIME) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzTokenExtraction$$' -fuzztime $(FUZZTIME) ./security
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./security

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Independent clients against the binary over wss://: Node's ws, Python's
# websockets, headless Chromium (via playwright-core) and sslscan. Installs
# the Debian packages that are missing (as root, or with sudo) and the pinned
# npm packages, then runs TestInterop.
interop:
	@missing=""; \
	for p in $(INTEROP_DEBS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=; \
		elif command -v sudo >/dev/null; then sudo=sudo; \
		else echo "make interop: root or sudo is needed to install:$$missing" >&2; exit 1; fi; \
		echo "make interop: installing$$missing"; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends$$missing; \
	fi
	cd $(INTEROP_DIR)/node && npm ci --no-audit --no-fund
	WSSD_INTEROP=1 $(GO) test -count=1 -run '^TestInterop$$' -v ./cmd/wssd

clean:
	rm -rf bin
