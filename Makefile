SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK := deploy/local/stack.sh

.PHONY: help build run demo test test-faults lint bench bench-pipeline fmt stack-up stack-down stack-status browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{ printf "  make %-13s %s\n", $$1, $$2 }'

build: ## build every crate, tests and benches included
	cargo build --workspace --all-targets

run: ## start the local stack and every service, logs prefixed; Ctrl-C stops the services
	deploy/local/run.sh

demo: ## start the stack and every service, load a demo town, drive 1,000 tickets, print its report
	deploy/local/demo.sh

test: stack-up browser ## start the local stack (and get a headless browser), then run the whole test suite
	. .local/env && cargo test --workspace

# The whole workspace's binaries, so features resolve as for `make test` and nothing is built
# twice; the harness runs its own PostgreSQL and NATS (never the local stack's).
test-faults: ## fault test: SIGKILL services, NATS and PostgreSQL under load, then count lost/duplicated/stuck/diverged (FAULTS_ARGS="--help")
	cargo build --workspace --bins
	paths=$$($(STACK) paths) && eval "$$paths" && \
		"$${CARGO_TARGET_DIR:-target}/debug/gridloop-faults" --pg-bin "$$pg_bin" --nats-server "$$nats_server" $(FAULTS_ARGS)

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# The loop benchmark runs its own PostgreSQL and NATS (never the local stack's), like the fault
# test; the release binaries it needs sit next to it, where it looks for them.
bench: ## benchmark of the whole loop on release binaries, with raw baselines (~6 min; LOADBENCH_ARGS="--quick"; figures: docs/benchmarks.md)
	cargo build --release -p gridloop-intake -p gridloop-routing -p gridloop-closure -p gridloop-tracker -p gridloop-reports -p gridloop-loadbench --bins
	paths=$$($(STACK) paths) && eval "$$paths" && \
		"$${CARGO_TARGET_DIR:-target}/release/gridloop-loadbench" --pg-bin "$$pg_bin" --nats-server "$$nats_server" $(LOADBENCH_ARGS)

bench-pipeline: stack-up ## start the local stack, then run the cargo benches (the platform's outbox → inbox pipeline)
	. .local/env && cargo bench --workspace

fmt: ## format the code
	cargo fmt --all

stack-up: ## start PostgreSQL and NATS JetStream for local use (idempotent), write .local/env
	$(STACK) up

stack-down: ## stop the PostgreSQL and NATS that stack-up started
	$(STACK) down

stack-status: ## show what the local stack is running
	$(STACK) status

browser: ## make sure headless Chromium is there for the reports page test (installs it as root)
	deploy/local/browser.sh
