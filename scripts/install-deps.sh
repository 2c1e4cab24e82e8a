#!/usr/bin/env bash
# Installs segq's build dependencies (Debian 12 packages). Idempotent: installs only what is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcurl4-openssl-dev nlohmann-json3-dev libjpeg62-turbo-dev libpng-dev libzip-dev
  libcli11-dev libssl-dev protobuf-compiler libprotobuf-dev zlib1g-dev
)
if [ "${1:-}" = "--test" ]; then
  # Test and benchmark dependencies (see scripts/install-test-deps.sh for the Python side).
  # chromium: tests/interop/test_report_chromium.py renders report.html headless.
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev chromium)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
