# realtime — see README.md. `make run` starts the server, `make test` runs every test.
GO ?= go
NODE ?= node

.PHONY: run build test test-go test-alloc test-js vet bench fuzz loadtest clean

run:
	$(GO) run .

build:
	$(GO) build -o bin/realtime .

# The normal test run: vet, every Go test under the race detector in random
# order, the allocation tests (which need a non-race build), the fuzz seed
# corpora, and the JS client's tests.
test: vet test-go test-alloc test-js

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }

test-go:
	$(GO) test -race -shuffle=on -timeout 15m ./...

test-alloc:
	$(GO) test -count=1 -run 'Alloc' ./...

test-js:
	@if [ -f client/package.json ]; then cd client && $(NODE) --test test/; fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# A short coverage-guided run of the parser fuzzer against net/http.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./httpx/

clean:
	rm -rf bin
