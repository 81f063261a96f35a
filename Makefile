# The README's two commands: `make demo` and `make test`. Both set up the machine first.
GO ?= go
BIN := bin/preftune

.PHONY: setup build demo test bench fuzz

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

# Every native fuzz target (each `func FuzzX(f *testing.F)` in a _test.go file), one
# after another, FUZZTIME each; `make fuzz FUZZTIME=10m` for a campaign. A crasher lands
# in its package's testdata/fuzz/FuzzX/ and stops the run.
FUZZTIME ?= 60s

fuzz: setup
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		pkg=$$(dirname $$f); \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$name ($$pkg, $(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done
