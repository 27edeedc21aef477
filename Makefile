# esep build, test and tooling. Run 'make help' for the targets.
#
# 'make test' needs nothing but this repository and Go: the first thing it
# does is install the Debian packages the tests talk to (.ci/install-deps,
# idempotent and quick when all is there). 'make demo' arrives with the
# demo issue.

GO        ?= go
BINARIES  := esep-agent esep-ingestor esep-sim esep-registry
# staticcheck is run from the module proxy at a fixed version rather than
# required in go.mod, so that linting adds nothing to the build graph.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME  ?= 10s
TESTFLAGS ?= -race -timeout 20m

.PHONY: help build test bench fuzz lint deps deps-check clean

help:
	@echo "make build   build $(BINARIES) into bin/"
	@echo "make test    install test services if missing, run every test"
	@echo "make bench   run the benchmarks, write docs/benchmarks.md"
	@echo "make fuzz    run each fuzz target for FUZZTIME (default $(FUZZTIME))"
	@echo "make lint    gofmt, go vet, staticcheck, DEPENDENCIES.md check"

build:
	@mkdir -p bin
	$(GO) build -trimpath -o bin/ $(addprefix ./cmd/,$(BINARIES))

deps:
	@bash .ci/install-deps

test: deps
	$(GO) test $(TESTFLAGS) ./...

bench: deps
	@bash .ci/bench

# Every FuzzXxx function in every package, one after the other: go test
# runs only one fuzz target per invocation. Minimising each new input is
# capped by count, so a short FUZZTIME is not overrun by minimisation; all
# targets run, and the target fails at the end if any of them failed.
fuzz:
	@failed=""; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | cut -c6-); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) \
	      -fuzzminimizetime 50x $$pkg || failed="$$failed $$f"; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets failed:$$failed"; exit 1; fi

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -run TestDependenciesDocumented .

clean:
	rm -rf bin
