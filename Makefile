# ConnectHub — build, run and test. `make help` lists the targets.

GO        ?= go
BIN       ?= bin/connecthub
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/connecthub/connecthub.Version=$(VERSION)
# The race detector on 2 cores makes the suite slower; the timeout keeps a
# hung test from eating CI's budget.
TEST_TIMEOUT ?= 12m
PKGS      ?= ./...
IMAGE     ?= localhost/connecthub:$(VERSION)

.PHONY: help run build image test lint fmt-check vet test-go bench bench-nosync bench-micro clean

help:
	@echo "make run    - build $(BIN) and start it: serve on $(LISTEN) with ./data (SQLite)"
	@echo "make build  - build $(BIN)"
	@echo "make image  - build the container image $(IMAGE) from $(BIN) (podman or docker, no registry needed)"
	@echo "make test   - gofmt and go vet checks, then go test -race ./..."
	@echo "make lint   - gofmt and go vet checks only"
	@echo "make bench  - the benchmark harness on SQLite and a durable PostgreSQL (not part of make test)"
	@echo "make bench-nosync - the harness on PostgreSQL with fsync off (the test suite's cluster)"

# make run listens on this machine only: a first run should not put the
# admin UI on the network. LISTEN=:8000 make run opens it to every interface
# (the binary's own default, which containers need). The recipe builds the
# binary and exec's it, so Ctrl-C reaches the server alone as make's child
# and a clean shutdown (exit 0) ends make without an error.
LISTEN    ?= 127.0.0.1:8000

run: build
	exec $(BIN) serve --listen $(LISTEN)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/connecthub

# The container image of deploy/Containerfile: the binary above on scratch,
# built with podman (or docker) without pulling a base image.
image: build
	deploy/image.sh $(BIN) $(IMAGE)

lint: fmt-check vet

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@echo "gofmt: ok"

vet:
	$(GO) vet $(PKGS)

test: lint test-go

# The PostgreSQL tests need a server: CONNECTHUB_TEST_POSTGRES_URL if you
# set it, else a private throwaway cluster this target starts and removes.
# The admin UI's browser tests need Debian's chromium, which
# ensure-chromium.sh installs when it is missing. CONNECTHUB_TEST_STRICT=1
# turns a missing PostgreSQL or browser into a failure rather than a skip.
test-go:
	scripts/ensure-chromium.sh
	scripts/ensure-prometheus.sh
	cd sdk/python && python3 -m unittest discover -s tests -t tests
	scripts/ensure-nginx.sh
	scripts/ensure-podman.sh
	CONNECTHUB_TEST_STRICT=1 scripts/with-test-postgres.sh $(GO) test -race -timeout $(TEST_TIMEOUT) $(PKGS)

# The benchmark harness (docs/benchmarks.md): both drivers, the PostgreSQL
# one on a throwaway cluster unless CONNECTHUB_TEST_POSTGRES_URL is set. The
# cluster is durable (fsync and synchronous_commit on, as users run it): its
# figures are the headline. bench-nosync measures on the test suite's
# fsync-off cluster, which shows the CPU cost without the WAL flushes.
bench:
	PG_TEST_DURABLE=1 scripts/with-test-postgres.sh $(GO) run ./bench -driver all

bench-nosync:
	PG_TEST_DURABLE=0 scripts/with-test-postgres.sh $(GO) run ./bench -driver postgres

# Go micro-benchmarks of single packages.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

clean:
	rm -rf bin data
