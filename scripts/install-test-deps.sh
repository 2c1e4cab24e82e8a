#!/usr/bin/env bash
# Test-only dependencies beyond the Debian packages: a Python virtualenv (.venv-test) with the pinned
# third-party libraries the interop tests judge segq's outputs with. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
req=tests/interop/requirements.txt
[ -f "$req" ] || exit 0
venv=.venv-test
stamp=$venv/.installed-$(sha256sum "$req" | cut -c1-16)
if [ -f "$stamp" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
touch "$stamp"
