# tickertape: `make run` serves the dashboard, `make test` runs every test.
# Both install what is missing first (see scripts/setup.sh).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := run

# npm's binaryen provides wasm-opt; cargo-installed tools live in ~/.cargo/bin.
export PATH := $(CURDIR)/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export LEPTOS_SITE_ROOT := target/site

BIN := target/release/tickertape
# Extra flags for the server, e.g. `make run ARGS="--rate 50 --seed 7"`.
ARGS ?=

.PHONY: run test setup setup-test build weight lint unit e2e bench bench-cluster bench-ui heap-profile chaos cluster watch clean

## run: install what is missing, build for release, serve http://127.0.0.1:3000
run: setup build
	@echo "Starting the server: it says where it serves the dashboard (\"listening on …\"); Ctrl-C stops it"
	$(BIN) $(ARGS)

## test: install what is missing, then lint, Rust tests and the Playwright suite
test: setup-test lint unit build weight e2e

setup:
	@scripts/setup.sh build

setup-test:
	@scripts/setup.sh test

## build: the release server and the size-optimised WASM bundle
# Skipped (wasm-bindgen and wasm-opt included) when nothing it is built from
# changed since the last build and its outputs are there.
BUILD_INPUTS := $(shell find app frontend server/src server/Cargo.toml style public -type f) Cargo.toml Cargo.lock
BUILT := target/.built-release

build:
	@if [ ! -x $(BIN) ] || [ ! -f target/site/pkg/tickertape.wasm ]; then rm -f $(BUILT); fi
	@$(MAKE) --no-print-directory $(BUILT)

# cargo-leptos prints its JS minifier's passes in red ("tree-shaker; pass=0"):
# noise, not errors, so they are left out.
$(BUILT): $(BUILD_INPUTS)
	cargo leptos build --release --split --cargo-locked 2>&1 | sed -u '/swc_ecma_transforms_optimization/d'
	@touch $@

## weight: the front end's gzip'd size (WASM + JS + CSS); fails over 150 KB
weight:
	scripts/weight.sh

lint:
	cargo fmt --all --check
	cargo clippy --locked -p server --all-targets -- -D warnings
	cargo clippy --locked -p loadgen --all-targets -- -D warnings
	cargo clippy --locked -p app --all-targets -- -D warnings
	cargo clippy --locked -p frontend --target wasm32-unknown-unknown --all-targets -- -D warnings
	@echo "Data flows one way: no import circle in server/src or app/src"
	cargo test --locked -p server --test layout

unit:
	cargo test --locked -p app -p server -p loadgen
	cargo test --locked -p frontend --target wasm32-unknown-unknown

e2e: setup-test build
	cd end2end && TICKERTAPE_BIN=../$(BIN) npx playwright test

## bench: fan-out beside limit-probe and node-sse (../shared/peers), one table (see README)
bench: setup build
	scripts/bench.sh

## heap-profile: where the server's heap goes with 10 000 streams opened at once (dhat)
heap-profile: setup
	scripts/heap-profile.sh

## bench-cluster: latency and ingest through Redis beside a standalone instance (see docs/scale-out.md)
bench-cluster: setup build
	@scripts/setup.sh cluster
	scripts/bench-cluster.sh

## cluster: Redis, three instances and nginx on http://127.0.0.1:8080 (Ctrl-C stops them all; SENTINEL=1: a primary, a replica and three Sentinels)
cluster: setup build
	@scripts/setup.sh cluster
	SENTINEL=$(SENTINEL) scripts/cluster.sh

## chaos: Redis failing under a cluster: Sentinel failovers, a stopped primary, a killed instance (see docs/scale-out.md)
chaos: setup-test
	cargo test --locked -p server --test failover chaos -- --ignored --nocapture

## bench-ui: the dashboard with 200 symbols at 50 updates/s in chromium
bench-ui: setup-test build
	cd end2end && TICKERTAPE_BIN=../$(BIN) npx playwright test -c bench.config.ts

## watch: rebuild and reload on every change (development)
watch: setup
	cargo leptos watch

clean:
	cargo clean
	rm -rf end2end/test-results end2end/playwright-report
