#!/usr/bin/env bash
# Installs what Apsis needs on a fresh Debian 12 machine that already has the Rust toolchain.
# Idempotent: only missing packages are installed. Run as root (or with sudo available).
set -euo pipefail

need_apt=()
have() { command -v "$1" >/dev/null 2>&1; }

# System packages by the command they provide (grows with later issues: OTB, GDAL, protobuf-compiler, ...).
have cc || need_apt+=(build-essential)
have pkg-config || need_apt+=(pkg-config)
# The interop tier's clients (tests/interop, scripts/install-interop.sh): zbctl and @camunda8/sdk from npm, pyzeebe in
# a venv, zeebe-rs (which compiles its gateway.proto with protoc); jq and curl drive and watch them.
have node || need_apt+=(nodejs)
have npm || need_apt+=(npm)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
have protoc || need_apt+=(protobuf-compiler)
have jq || need_apt+=(jq)
have curl || need_apt+=(curl)
# The OTB chain (issue 5): Orfeo Toolbox's otbcli_* applications, GDAL's tools and Python bindings (the reference
# normalize in the benchmark), and libgdal-dev + clang for the Rust `gdal` crate (functions/normalize-product).
have otbcli_BundleToPerfectSensor || need_apt+=(otb-bin)
have gdalinfo || need_apt+=(gdal-bin)
have gdal-config || need_apt+=(libgdal-dev)
/usr/bin/python3 -c 'from osgeo import gdal' >/dev/null 2>&1 || need_apt+=(python3-gdal)
have clang || need_apt+=(clang)

if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

# Rust components used by the lint step.
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
echo "install-deps: ok"
