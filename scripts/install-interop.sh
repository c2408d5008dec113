#!/usr/bin/env bash
# Installs the third-party Zeebe clients of the interop tier (tests/interop), project-locally, from the registries by
# package name. Idempotent: each step is skipped while its lock file is unchanged since the last install.
#   npm:  zbctl + @camunda8/sdk into tests/interop/node/node_modules (package-lock.json, `npm ci`)
#   pip:  pyzeebe into the venv tests/interop/python/.venv (requirements.txt, exact versions)
#   cargo: the zeebe-rs client's crates (tests/interop/rust/Cargo.lock, `cargo fetch`); it is built by run.sh
# System packages (node, npm, python3-venv, protoc for zeebe-rs, jq, curl) come from scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../tests/interop"

have() { command -v "$1" >/dev/null 2>&1; }
stamp_ok() { [ -f "$2" ] && [ "$(cat "$2")" = "$(sha256sum "$1" | cut -d' ' -f1)" ]; }
stamp() { sha256sum "$1" | cut -d' ' -f1 >"$2"; }

for tool in node npm python3 cargo protoc jq curl; do
  have "$tool" || { echo "install-interop: '$tool' is missing: run scripts/install-deps.sh first" >&2; exit 1; }
done

# npm: the lock file pins every package; node_modules/.apsis-stamp records which lock file was installed.
if stamp_ok node/package-lock.json node/node_modules/.apsis-stamp; then
  echo "install-interop: npm packages up to date"
else
  echo "install-interop: npm ci (zbctl, @camunda8/sdk)"
  (cd node && npm ci --no-audit --no-fund --loglevel=error)
  stamp node/package-lock.json node/node_modules/.apsis-stamp
fi

# pip: a venv of our own, so nothing outside the repository changes.
if stamp_ok python/requirements.txt python/.venv/.apsis-stamp; then
  echo "install-interop: python venv up to date"
else
  echo "install-interop: pip install -r requirements.txt (pyzeebe)"
  rm -rf python/.venv
  python3 -m venv python/.venv
  python/.venv/bin/pip install --quiet --disable-pip-version-check -r python/requirements.txt
  stamp python/requirements.txt python/.venv/.apsis-stamp
fi

# cargo: fetch only (the build belongs to the run, where cargo skips what is already built).
echo "install-interop: cargo fetch (zeebe-rs)"
(cd rust && cargo fetch --locked --quiet)
echo "install-interop: ok"
