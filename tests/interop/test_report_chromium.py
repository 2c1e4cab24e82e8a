"""report.html in a real browser: Debian's headless Chromium loads segq's reports.

Checked for a hand-made run (tests/report/fixtures/run_full, sample PNGs written here), a real
`segq eval` run of the demo model on a few `segq synth` scenes, and a `segq report --out`
comparison: Chromium renders each page without console messages (the report has no script, so any
console output is an error: a script error, a blocked or failed resource), the rendered DOM has
the charts (svg.chart) and, where samples exist, one <img> per sample cell whose data: URI holds a
valid PNG; a full-page screenshot is saved under the build directory (report-screenshots/).
Skipped when no `chromium` is installed (`make test` installs it: scripts/install-deps.sh --test).
"""
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

SEGQ = os.environ.get("SEGQ_EXE", "build/segq")
SOURCE = os.environ.get("SEGQ_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
FIXTURES = os.path.join(SOURCE, "tests", "report", "fixtures")
DEMO_MODEL = os.path.join(SOURCE, "assets", "models", "segformer-b0-synth150")
SCREENSHOTS = os.path.join(os.path.dirname(os.path.abspath(SEGQ)), "report-screenshots")
CHROMIUM = shutil.which("chromium")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def png_bytes(width, height, channels, pixel):
    """A PNG (8-bit gray or RGB) of pixel(x, y) -> tuple of channel values."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        for x in range(width):
            raw.extend(pixel(x, y))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    colour_type = 0 if channels == 1 else 2
    return (b"\x89PNG\r\n\x1a\n" +
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b""))


def png_size(data):
    """(width, height) of a PNG after checking its signature, chunk CRCs and pixel data length."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
        if kind == b"IEND":
            break
    width, height, depth, colour_type = header[:4]
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    row_bytes = (width * channels * depth + 7) // 8
    assert len(zlib.decompress(idat)) == height * (1 + row_bytes), "truncated pixel data"
    return width, height


def make_fixture_run(dest):
    shutil.copytree(os.path.join(FIXTURES, "run_full"), dest)
    with open(os.path.join(dest, "results.json")) as f:
        results = json.load(f)
    image = png_bytes(24, 16, 3, lambda x, y: (x * 10, y * 15, 100))
    for sample in results["samples"]:
        paths = [sample["label"]] + list(sample["predictions"].values())
        files = {sample["image"]: image}
        for shift, path in enumerate(paths):
            files[path] = png_bytes(24, 16, 1, lambda x, y, s=shift: ((x * 6 // 24 + s) % 6,))
        for path, data in files.items():
            os.makedirs(os.path.dirname(os.path.join(dest, path)), exist_ok=True)
            with open(os.path.join(dest, path), "wb") as f:
                f.write(data)
    return results


def segq(*args):
    proc = subprocess.run([SEGQ, *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"segq {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class DomSummary(HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts, self.imgs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "chart" in a.get("class", "").split():
            self.charts.append(a["class"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))

    def handle_data(self, data):
        self.text.append(data)


def render(html_path, tmp_path, name):
    """Loads html_path in headless Chromium; returns the DOM summary; saves a screenshot."""
    url = "file://" + os.path.abspath(html_path)
    common = [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
              "--disable-extensions", f"--user-data-dir={tmp_path / ('profile-' + name)}",
              "--enable-logging=stderr", "--v=0"]
    proc = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    console = [line for line in proc.stderr.splitlines()
               if ":CONSOLE" in line or "Uncaught" in line]
    assert console == [], "console messages:\n" + "\n".join(console)
    dom = DomSummary()
    dom.feed(proc.stdout)
    assert "segq" in "".join(dom.text)

    os.makedirs(SCREENSHOTS, exist_ok=True)
    shot = os.path.join(SCREENSHOTS, name + ".png")
    if os.path.exists(shot):
        os.remove(shot)
    proc = subprocess.run(common + ["--hide-scrollbars", "--window-size=1280,2400",
                                    f"--screenshot={shot}", url],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(shot, "rb") as f:
        assert png_size(f.read()) == (1280, 2400)
    return dom


def check_images(dom, expected):
    assert len(dom.imgs) == expected
    for src in dom.imgs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        width, height = png_size(base64.b64decode(src.split(",", 1)[1]))
        assert width > 0 and height > 0


def test_fixture_run_report_renders(tmp_path):
    run = tmp_path / "run"
    results = make_fixture_run(run)
    segq("report", str(run))
    dom = render(run / "report.html", tmp_path, "fixture-run")
    quantized = len(results["methods"]) - 1
    assert dom.charts.count("chart scatter") == 1
    assert dom.charts.count("chart class-deltas") == quantized
    assert dom.charts.count("chart latency") == 1
    per_sample = 2 + len(results["methods"])  # image, ground truth, each method
    check_images(dom, per_sample * len(results["samples"]))


def test_comparison_report_renders(tmp_path):
    make_fixture_run(tmp_path / "b0")
    shutil.copytree(os.path.join(FIXTURES, "run_nested"), tmp_path / "b2")
    out = segq("report", str(tmp_path / "b0"), str(tmp_path / "b2"), "--out", str(tmp_path / "cmp"))
    assert re.search(r"^b0 .* int4 ", out, re.M) and re.search(r"^b2 .* int2 ", out, re.M)
    dom = render(tmp_path / "cmp" / "report.html", tmp_path, "comparison")
    assert dom.charts == ["chart scatter"]
    check_images(dom, 0)


@pytest.mark.skipif(not os.path.isdir(DEMO_MODEL), reason="demo model not in this checkout")
def test_real_eval_run_report_renders(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    segq("synth", "--out", str(data), "--n", "3", "--size", "64x64", "--seed", "11")
    segq("eval", "--model", DEMO_MODEL, "--data", str(data), "--methods", "fp32,int8,int2",
         "--out", str(run), "--threads", "2")
    segq("report", str(run))
    dom = render(run / "report.html", tmp_path, "eval-run")
    with open(run / "results.json") as f:
        results = json.load(f)
    assert dom.charts.count("chart latency") == 1
    assert dom.charts.count("chart class-deltas") == len(results["methods"]) - 1
    has_sizes = all(m.get("size_mb") is not None or m.get("size_bytes") is not None
                    for m in results["methods"])
    assert dom.charts.count("chart scatter") == (1 if has_sizes else 0)
    samples = results.get("samples", [])
    check_images(dom, sum(2 + len(results["methods"]) for _ in samples))
