#!/usr/bin/env bash
# Installs what Apsis needs on a fresh Debian 12 machine that already has the Rust toolchain.
# Idempotent: only missing packages are installed. Run as root (or with sudo available).
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }

# System packages by the command they provide (grows with later issues: OTB, GDAL, protobuf-compiler, ...).
have cc || need_apt+=(build-essential)
have pkg-config || need_apt+=(pkg-config)

if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Rust components used by the lint step.
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
echo "install-deps: ok"
