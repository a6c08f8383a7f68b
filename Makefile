# Two commands set everything up on a fresh machine: `make run` and `make test`.
.PHONY: run test lint fmt clippy ci install build release bench sync-mailboxes fuzz

run:        ## DynamoDB Local (data in .data/) + every route on http://127.0.0.1:3000 (PORT, DDB_PORT, DATA_DIR override)
	infra/stack.sh run

sync-mailboxes: ## with `make run` going: pull the configured mailboxes now (PORT as for make run)
	curl -s -X POST http://127.0.0.1:$${PORT:-3000}/_local/sync-mailboxes; echo

test:       ## the whole test suite against its own in-memory DynamoDB Local
	infra/stack.sh test

fuzz:       ## schemathesis from api/openapi.json against a fresh local stack (bounded; any 5xx or off-schema answer fails)
	infra/stack.sh fuzz

bench:      ## release build + wrk per route (1x, 10x dataset) + cold starts -> BENCHMARKS.md (not part of CI)
	infra/stack.sh bench

lint:       ## cfn-lint template.yaml
	infra/stack.sh lint

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

install:    ## tools only (DynamoDB Local, cfn-lint) under .tools/
	infra/stack.sh install

build:
	cargo build --workspace

release:    ## Lambda-sized release binaries (lto, strip, panic=abort)
	cargo build --workspace --release --bins

ci: lint
	cargo fmt --all -- --check
	$(MAKE) clippy
	$(MAKE) test
	$(MAKE) fuzz
