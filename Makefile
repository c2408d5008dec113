# The two commands of the README. Each installs what is missing first.
.PHONY: deps lint unit interop test demo bench

CARGO ?= cargo

deps:
	bash scripts/install-deps.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked

# Real third-party Zeebe clients (zbctl, @camunda8/sdk, pyzeebe, zeebe-rs) against a fresh `apsis engine` each.
interop:
	bash scripts/install-interop.sh
	bash tests/interop/run.sh

# Everything CI runs: lints, then every test tier.
test: deps lint unit interop

# Every example process deployed and run, then a short benchmark of the engine with durability on.
demo: deps
	$(CARGO) test --locked -p apsis-core --test examples -- --nocapture
	$(CARGO) run --release --locked -p apsis-server --bin apsis-bench -- --workload w1,w2 --instances 50000 --in-flight 1000

bench: deps
	$(CARGO) run --release --locked -p apsis-server --bin apsis-bench -- --workload w1,w2 --instances 200000 --in-flight 1000
