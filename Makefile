# edgetrust — one Makefile for the whole module. `make help` lists targets.
SHELL := /bin/bash
GO    ?= go
BIN   := bin
CMDS  := $(shell $(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... 2>/dev/null | grep '/cmd/edgetrust-')
STATICCHECK_VERSION ?= v0.8.2

.PHONY: help deps build test demo fuzz fuzz-long faults bench lint clean package

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

deps: ## install missing Debian packages (swtpm, tpm2-tools, libssl-dev, ...)
	@bash scripts/install-deps.sh

build: deps ## build every binary into bin/
	@mkdir -p $(BIN)
	@if [ -n "$(CMDS)" ]; then $(GO) build -o $(BIN)/ $(CMDS) && ls $(BIN); else echo "no binaries yet"; fi

test: deps ## run the whole test suite with the race detector
	$(GO) test -race -count=1 -timeout 20m ./...

demo: deps ## run the main job end to end on embedded defaults (about 3 minutes with the build)
	@echo "make demo: building the binaries (seconds when built before, 1-2 minutes the first time)..."
	@$(MAKE) --no-print-directory build >/dev/null
	$(GO) run ./internal/demo --bin $(BIN)

fuzz: deps ## run every fuzz target briefly (FUZZTIME=10s each)
	@bash scripts/fuzz.sh

fuzz-long: deps ## every fuzz target for 10 minutes (FUZZTIME), then a table; not in CI
	FUZZTIME=$${FUZZTIME:-10m} bash scripts/fuzz.sh

faults: deps ## fault injection at full counts (20 kills each; docs/reliability.md); not in CI
	set -o pipefail; EDGETRUST_FAULTS=full $(GO) test -p 1 -count=1 -v -timeout 60m -run '^(TestFault|TestModule)' ./internal/e2e/ ./internal/sensor/capture/ 2>&1 | \
		tee faults.txt | grep -E '^(=== RUN|--- |ok|FAIL)|faults_.*_test.go'

bench: deps ## run benchmarks; compare runs with benchstat
	$(GO) test -run='^$$' -bench=. -benchmem -count=$${COUNT:-1} ./... | tee bench.txt

lint: ## gofmt, go vet, the layering check, docs/cli.md current, every route in docs/api, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./scripts/layercheck
	$(GO) run ./scripts/clidoc -check
	$(GO) run ./scripts/apidoc
	@if $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -version >/dev/null 2>&1; then \
		$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...; \
	else echo "staticcheck $(STATICCHECK_VERSION) did not install; skipped (gofmt and go vet ran)"; fi

# Debian packages (packaging/*/nfpm.yaml) with nfpm, run with go run so it stays out of go.mod.
NFPM_VERSION ?= v2.48.0
VERSION      ?= $(shell v=$$(git describe --tags --dirty 2>/dev/null) && echo "$$v" | sed 's/^v//; s/-/+/g' || echo "0.0~git$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)")
DEB_ARCH     ?= $(shell $(GO) env GOARCH)

package: build ## Debian packages of central, appliance, agent, bridge, ctk into bin/ (nfpm)
	@for p in central appliance agent bridge ctk; do \
		BIN=$(BIN) VERSION="$(VERSION)" ARCH=$(DEB_ARCH) $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) \
			package --config packaging/$$p/nfpm.yaml --packager deb --target $(BIN)/ || exit 1; \
	done; ls $(BIN)/*.deb

clean: ## remove build output
	rm -rf $(BIN) bench.txt faults.txt
