#!/usr/bin/env bash
# Regenerates the demo table in README.md from a fresh `segq eval` demo run (what `make demo` runs):
# the table segq prints is copied verbatim between the demo-table markers, never typed by hand.
#   tools/update_readme_demo.sh [build/segq]
set -euo pipefail
cd "$(dirname "$0")/.."
SEGQ=${1:-build/segq}
out=$(mktemp -d /tmp/segq-readme-demo.XXXXXX)
trap 'rm -rf "$out"' EXIT
"$SEGQ" eval --out "$out/run" > "$out/stdout"
python3 - "$out/stdout" README.md <<'PY'
import sys
stdout, readme = sys.argv[1], sys.argv[2]
lines = open(stdout).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.startswith("method"))
end = start
while end < len(lines) and lines[end].strip() and not lines[end].startswith("results:"):
    end += 1
table = "\n".join(lines[start:end])
text = open(readme).read()
b, e = "<!-- demo-table:begin -->", "<!-- demo-table:end -->"
head, rest = text.split(b, 1)
_, tail = rest.split(e, 1)
open(readme, "w").write(f"{head}{b}\n```\n{table}\n```\n{e}{tail}")
print(table)
PY
