#!/usr/bin/env bash
# Regenerates every committed fixture with the pinned reference libraries (tools/requirements.txt).
# Needs PyPI access and about 6 GB of disk for torch; `make test` never runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-tools
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r tools/requirements.txt
for script in tools/make_fixtures.py tools/make_*_fixtures.py; do
  [ -f "$script" ] || continue
  echo "== $script"
  "$venv/bin/python" "$script"
done
