# The two commands of the README. Each installs what is missing first.
.PHONY: deps lint unit interop test demo bench

CARGO ?= cargo
# Where cargo puts the binaries: CARGO_TARGET_DIR when set, as cargo itself reads it.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

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

# The Pleiades P/MS chain once on a generated 2000^2 pair (`apsis demo`: the engine, the local functions with real
# OTB and GDAL, the worker; progress per step, checks of the outputs, a summary), then a short benchmark of the engine
# with durability on (its binary comes from the same build; a few seconds).
demo: deps
	$(CARGO) build --release --locked --bins
	$(TARGET_DIR)/release/apsis demo
	$(TARGET_DIR)/release/apsis-bench --workload w1,w2 --instances 50000 --in-flight 1000

# Every example process deployed and run by the engine core (printed), then the engine benchmark at full size.
bench: deps
	$(CARGO) test --locked -p apsis-core --test examples -- --nocapture
	$(CARGO) run --release --locked -p apsis-server --bin apsis-bench -- --workload w1,w2 --instances 200000 --in-flight 1000
