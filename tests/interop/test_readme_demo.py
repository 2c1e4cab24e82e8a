"""The demo table in README.md is what `segq eval` (no arguments: the embedded demo) prints now.

tools/update_readme_demo.sh copies the table verbatim between the demo-table markers; this test
runs the demo again and compares every column except the two timing columns (ms/image,
images/s), which depend on the machine.
"""
import os
import subprocess

SEGQ = os.environ.get("SEGQ_EXE", "build/segq")
SOURCE = os.environ.get("SEGQ_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def table_lines(text):
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("method"))
    end = start
    while (end < len(lines) and lines[end].strip() and not lines[end].startswith("```")
           and not lines[end].startswith("results:")):
        end += 1
    return lines[start:end]


def without_timings(line):
    tokens = line.split()
    if line.startswith("method"):
        assert tokens[-2:] == ["ms/image", "images/s"], line
    return tokens[:-2] if len(tokens) > 2 else tokens


def test_readme_demo_table_matches_a_fresh_run(tmp_path):
    with open(os.path.join(SOURCE, "README.md")) as f:
        readme = f.read()
    begin, end = "<!-- demo-table:begin -->", "<!-- demo-table:end -->"
    assert begin in readme and end in readme
    documented = table_lines(readme.split(begin, 1)[1].split(end, 1)[0])
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    r = subprocess.run([SEGQ, "eval", "--out", str(tmp_path / "run")], env=env,
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr
    fresh = table_lines(r.stdout)
    assert len(documented) == len(fresh) >= 7, (documented, fresh)
    for doc, new in zip(documented, fresh):
        if doc[:1].isdigit():  # the footnote line ("100 images; ...")
            assert doc == new
        else:
            assert without_timings(doc) == without_timings(new), f"README: {doc}\nfresh:  {new}"
