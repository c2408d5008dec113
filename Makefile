# The two commands of the README. Each installs what is missing first.
.PHONY: deps test lint unit demo bench

deps:
	bash scripts/install-deps.sh

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit:
	cargo test --workspace --locked

# Everything CI runs: lints, then every test tier.
test: deps lint unit

bench: deps
	cargo run --release --locked -p apsis-server --bin apsis-bench
