# Kesu — the two commands that matter are `make run` and `make test` (README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BIN := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

# Code generators, pinned; installed into .bin/ with `go install` (no remote plugins).
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2

MODULES := proto services/kit services/intake services/routing services/escalation \
           services/followup services/reporting tools
PKGS    := $(addprefix ./,$(addsuffix /...,$(MODULES)))

# Test settings: -race always; -p 2 matches the 2-core machines we run on.
TEST_FLAGS ?= -race -count=1 -p 2 -timeout 14m
BENCH      ?= .
BENCH_TIME ?= 3s

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: postgres ## build everything and run the whole stack locally (Ctrl-C stops it)
	$(GO) build -o $(BIN)/devstack ./tools/devstack
	$(BIN)/devstack run $(ARGS)

# The report's rendering test must run here, not skip: KESU_REQUIRE_CHROMIUM.
# Its screenshots and PDFs are kept under .data/test-artifacts/_artifacts/.
.PHONY: test
test: postgres chromium ## unit and integration tests (-race) against real NATS and PostgreSQL
	$(GO) build -o $(BIN)/devstack ./tools/devstack
	mkdir -p .data/test-artifacts
	KESU_REQUIRE_CHROMIUM=1 $(BIN)/devstack testenv -- $(GO) test $(TEST_FLAGS) -artifacts -outputdir $(CURDIR)/.data/test-artifacts $(PKGS)

.PHONY: bench
bench: postgres ## benchmarks, each beside its raw baseline measured in the same run
	$(GO) build -o $(BIN)/devstack ./tools/devstack
	$(BIN)/devstack testenv -- $(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCH_TIME) -benchmem $(PKGS)

# Container images: one per service plus kesuctl (the chart's stream-setup job),
# all from build/Dockerfile. Needs a Docker engine with BuildKit; tools/chartcheck
# tests the binaries with the same build flags where none runs.
IMAGE_REGISTRY ?= registry.example.com/kesu
IMAGE_TAG      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE_CMDS     := services/intake/cmd/intake services/routing/cmd/routing services/escalation/cmd/escalation \
                  services/followup/cmd/followup services/reporting/cmd/reporting tools/kesuctl

.PHONY: images
images: ## build the container images (IMAGE_REGISTRY, IMAGE_TAG)
	@for cmd in $(IMAGE_CMDS); do \
	  img=$(IMAGE_REGISTRY)/$$(basename $$cmd):$(IMAGE_TAG); echo "==> $$img"; \
	  docker build -f build/Dockerfile --build-arg CMD=$$cmd --build-arg VERSION=$(IMAGE_TAG) \
	    --build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
	    --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) -t $$img . ; \
	done

# Fuzz tests: each Fuzz function of every module runs for FUZZTIME (go test
# -fuzz takes one function of one package at a time). Minimising a new input is
# capped: with the default 60s a large seed eats the whole budget.
#
# The default budget is a count of executions, not a duration: with a duration
# Go's fuzz coordinator (before Go 1.27, go.dev/issue/75804) can report
# "context deadline exceeded" as a failure when the deadline fires while a
# starved worker is mid-call, on a loaded machine, with no failing input found.
# A count has no deadline to race. FUZZTIME=10m still works for a long local run.
FUZZTIME     ?= 100000x
FUZZMINIMIZE ?= 2s

.PHONY: fuzz
fuzz: ## run every Go fuzz test for FUZZTIME each (default 100000 executions)
	@grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' $(MODULES) | sort | while read -r file; do \
	  dir=./$$(dirname "$$file"); \
	  for fn in $$(grep -oE '^func Fuzz[A-Za-z0-9_]*' "$$file" | cut -d' ' -f2); do \
	    echo "==> $$dir $$fn ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) "$$dir" || exit 1; \
	  done; \
	done

.PHONY: generate
generate: tools ## regenerate code from the protos (committed; CI checks for drift)
	buf generate
	cd proto && $(GO) mod tidy

.PHONY: lint
lint: tools ## buf lint, buf format check, go vet, gofmt check
	buf lint
	buf format --diff --exit-code
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## install the pinned code generators into .bin/

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

.PHONY: postgres
postgres: ## install Debian's PostgreSQL binaries if missing (we run a private cluster, never the system one)
	@./scripts/ensure-postgres.sh

.PHONY: chromium
chromium: ## install Debian's headless Chromium and a CJK font if missing (the report's rendering test)
	@./scripts/ensure-chromium.sh

.PHONY: clean
clean: ## remove local state (.data/) and installed tools (.bin/)
	rm -rf .data .bin
