#!/usr/bin/env bash
# Test-only dependencies beyond the Debian packages: a Python virtualenv (.venv-test) with the pinned
# third-party libraries the interop tests judge segq's outputs with (tests/interop/requirements*.txt).
# Idempotent: reinstalls only when a requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
reqs=(tests/interop/requirements*.txt)
[ ${#reqs[@]} -gt 0 ] || exit 0
venv=.venv-test
stamp=$venv/.installed-$(cat "${reqs[@]}" | sha256sum | cut -c1-16)
[ -f "$stamp" ] && exit 0
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
args=()
for r in "${reqs[@]}"; do args+=(-r "$r"); done
"$venv/bin/pip" install -q --disable-pip-version-check "${args[@]}"
rm -f "$venv"/.installed-*
touch "$stamp"
