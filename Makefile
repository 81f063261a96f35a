# The README's two commands: `make demo` and `make test`. Both set up the machine first.
GO ?= go
BIN := bin/preftune

.PHONY: setup build demo test bench

setup:
	./scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/preftune

demo: build
	./$(BIN) demo

test: setup
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 45m ./...

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...
