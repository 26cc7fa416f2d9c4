# realtime — see README.md. `make run` starts the server, `make test` runs every test.
GO ?= go
NODE ?= node

.PHONY: run cluster build deps test test-go test-alloc test-js test-js-real test-browser vet bench fuzz loadtest clean

run:
	$(GO) run .

# Three nodes on a local redis-server behind a round-robin load balancer on
# 127.0.0.1:8080; prints curl lines that publish on one node and subscribe on
# another (deploy/cluster). Ctrl-C stops it all.
cluster: build
	$(GO) run ./deploy/cluster --bin bin/realtime

build:
	$(GO) build -o bin/realtime .

# The normal test run: what is missing is installed first (deps), then vet,
# every Go test under the race detector in random order (the fuzz seed
# corpora included), the allocation tests (which need a non-race build), the
# JS client's tests against a mock and against the real server, and the
# browser test in headless Chromium.
test: deps vet test-go test-alloc test-js test-js-real test-browser

# Debian packages (curl, chromium, redis-server) and the client's npm
# packages: installed when missing (as root), else the command to run is
# printed. See scripts/deps.sh.
deps: client/node_modules/.package-lock.json
	./scripts/deps.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

# Every Go test under the race detector, then the broker's behaviour suite
# again on each Redis topology (broker/topology_test.go): one node on Redis,
# three nodes on Redis behind a round-robin proxy, three nodes on a
# three-master Redis Cluster. Each run starts its own redis-server processes.
test-go:
	$(GO) test -race -shuffle=on -timeout 15m ./...
	for t in redis redis3 cluster3; do \
		REALTIME_TEST_TOPOLOGY=$$t $(GO) test -race -shuffle=on -count=1 -timeout 10m ./broker/ || exit 1; \
	done

test-alloc:
	$(GO) test -count=1 -run 'Alloc' ./...

test-js:
	cd client && $(NODE) --test test/

# The client's lifecycle tests again, against the real server.
test-js-real: build
	cd client && REALTIME_BIN=$(CURDIR)/bin/realtime $(NODE) --test test/

# The client and the demo page in headless Chromium (/usr/bin/chromium, or
# CHROMIUM_BIN) against the real server, restarted mid-test; writes
# client/artifacts/demo.png.
test-browser: build client/node_modules/.package-lock.json
	cd client && REALTIME_BIN=$(CURDIR)/bin/realtime $(NODE) --test browser/

client/node_modules/.package-lock.json: client/package.json client/package-lock.json
	cd client && npm ci --no-audit --no-fund
	touch $@

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A load scenario against a fresh server (and nginx+nchan with --peer nchan):
#   make loadtest SCENARIO=idle ARGS='-n 10000 --peer nchan --rounds 3'
# See loadtest/README.md; `go run ./bench --help` for the capacity planner.
SCENARIO ?= fanout
loadtest:
	$(GO) run ./loadtest $(SCENARIO) $(ARGS)

# A short coverage-guided run of the parser fuzzer against net/http.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./httpx/

clean:
	rm -rf bin
