# dsrflow — build, test and run. Every target installs what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO          ?= go
TOOLS       := $(CURDIR)/.tools/bin
STATICCHECK := $(TOOLS)/staticcheck
STATICCHECK_VERSION := 2026.2.2
GOFILES      = $(shell git ls-files --cached --others --exclude-standard '*.go')
FUNCTIONS    = $(notdir $(wildcard functions/*))
BUILD_DIR   := .build
GOTEST_FLAGS ?= -count=1 -timeout 9m


.PHONY: help test unit lint fmt build run clean deps

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: node_modules/.package-lock.json ## install npm tools (dynalite) from package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

test: deps lint unit ## lint, then every test (starts its own DynamoDB emulator)

unit: deps
	$(GO) test $(GOTEST_FLAGS) ./...

lint: $(STATICCHECK) ## gofmt, go vet, staticcheck
	@bad=$$(gofmt -l $(GOFILES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

fmt: ## gofmt every Go file
	gofmt -w $(GOFILES)

build: ## each function as a linux/arm64 bootstrap under .build/<function>/
	@set -e; for fn in $(FUNCTIONS); do \
	  echo "build $$fn"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" \
	    -o $(BUILD_DIR)/$$fn/bootstrap ./functions/$$fn; \
	done
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BUILD_DIR)/dsr ./cmd/dsr

run: ## start the whole system locally
	@echo "make run: the local stack is not available yet (see the open issue for make run)." >&2
	@exit 1

clean: ## remove build output and local state
	rm -rf $(BUILD_DIR) .local
