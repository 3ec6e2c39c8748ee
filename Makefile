# Portcullis: the two commands a newcomer needs are `make dev` and `make test`.
.PHONY: dev test bootstrap fmt lint unit e2e build release clean fuzz audit bench profile

dev: ## Run the app with the local identity provider (http://127.0.0.1:3000)
	@scripts/dev.sh

test: ## Every check: fmt, clippy, unit, integration and browser tests
	@scripts/test.sh

bootstrap: ## Install the toolchain pieces that are missing
	@scripts/bootstrap.sh test

fmt: ## Format the Rust code
	cargo fmt --all

lint:
	cargo clippy -p portcullis -p reference -p app --all-targets --features portcullis/testing,portcullis/leptos -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

unit:
	cargo test -p app -p portcullis -p reference --features portcullis/testing,portcullis/leptos

build:
	cargo leptos build

release: ## Optimised build (wasm-opt from node_modules)
	cargo leptos build --release

fuzz: ## Fuzz every target for FUZZ_SECONDS (default 60) each, with nightly
	@scripts/fuzz.sh

bench: ## Benchmarks (release build, wrk, bundle size) into bench/results.md
	@scripts/bench.sh

profile: ## Where a request's CPU time goes (perf, by layer) into bench/profile.md
	@scripts/profile.sh

audit: ## Dependency licenses, bans and duplicates (cargo-deny, offline)
	@scripts/audit.sh

e2e: build ## Browser tests only (needs `make bootstrap` once)
	cd end2end && npx playwright test

clean:
	cargo clean
	rm -rf target/site end2end/test-results end2end/playwright-report
