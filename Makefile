# wssd — see README.md. Every target works from a clean checkout with Go.

GO            ?= go
FUZZTIME      ?= 10s
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.7.0
BENCHTIME     ?= 1s
RUNFLAGS      ?=

.PHONY: all build run test race fuzz bench lint clean

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

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
