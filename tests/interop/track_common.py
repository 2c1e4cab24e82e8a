"""Shared helpers for the experiment-tracking interop tests (test_wandb*.py, test_mlflow*.py).

Builds event files for `segq track-demo`, runs segq, reads W&B transaction logs with the installed
wandb package's own reader, and serves a loopback stand-in for the W&B backend that `wandb sync`
uploads to.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import struct
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SEGQ_SOURCE_DIR", pathlib.Path(__file__).parents[2]))
VENV_BIN = pathlib.Path(sys.executable).parent

# A key of the length wandb expects; a marker so tests can prove segq never writes or prints it.
API_KEY_MARKER = "segqtestkeymarker" + "0123456789abcdef0123456789abcdef"


def segq_exe() -> str:
    exe = os.environ.get("SEGQ_EXE")
    if not exe or not os.path.exists(exe):
        pytest.skip("SEGQ_EXE is not set to a built segq")
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def png_bytes(width: int, height: int, seed: int) -> bytes:
    """A small RGB PNG (no imaging library needed)."""
    rows = b"".join(
        b"\0" + b"".join(bytes([(x * 37 + seed) % 256, (y * 53 + seed) % 256, seed % 256])
                         for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                                            0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


METHODS = [
    {"name": "fp32", "family": "fp32", "nominal_bits": 32, "bits_per_weight": 32.0,
     "spec": {"weights": "fp32"}},
    {"name": "int8", "family": "int8", "nominal_bits": 8, "bits_per_weight": 8.03,
     "spec": {"weights": "int8", "granularity": "per-channel"}},
    {"name": "int4-g64-hqq", "family": "int4", "nominal_bits": 4, "bits_per_weight": 4.5,
     "spec": {"weights": "int4", "group": 64, "quantizer": "hqq"}},
]
CLASS_NAMES = ["wall", "building", "sky", "floor", "tree"]


def running(method_index: int, done: int) -> dict:
    return {"mean_iou": round(0.30 + 0.0005 * done - 0.01 * method_index, 6),
            "mean_accuracy": round(0.40 + 0.0004 * done, 6),
            "overall_accuracy": round(0.70 + 0.0002 * done, 6)}


def summary(method_index: int, num_images: int) -> dict:
    m = METHODS[method_index]
    s = {"mean_iou": 0.61 - 0.02 * method_index, "mean_accuracy": 0.72 - 0.01 * method_index,
         "overall_accuracy": 0.81 - 0.005 * method_index,
         "size_bytes": int(3_700_000 * m["bits_per_weight"] / 32),
         "size_mb": round(3.7 * m["bits_per_weight"] / 32, 6),
         "bits_per_weight": m["bits_per_weight"], "compression": round(32 / m["bits_per_weight"], 6),
         "ms_per_image": 40.0 + method_index, "images_per_s": 25.0 - method_index,
         "num_images": num_images, "extra": {"logit_nmse_vs_fp32": 0.001 * method_index}}
    if method_index > 0:
        s.update({"delta_miou_vs_fp32": -0.02 * method_index,
                  "delta_miou_vs_fp32_ci95_low": -0.02 * method_index - 0.01,
                  "delta_miou_vs_fp32_ci95_high": -0.02 * method_index + 0.01,
                  "agreement_vs_fp32": 0.99 - 0.02 * method_index})
    else:
        s.update({"delta_miou_vs_fp32": 0.0, "delta_miou_vs_fp32_ci95_low": 0.0,
                  "delta_miou_vs_fp32_ci95_high": 0.0, "agreement_vs_fp32": 1.0})
    return s


def per_class(method_index: int) -> list:
    rows = []
    for i, name in enumerate(CLASS_NAMES):
        absent = name == "floor"
        rows.append({"class_id": i, "name": name,
                     "iou": None if absent else round(0.5 + 0.05 * i - 0.01 * method_index, 6),
                     "accuracy": None if absent else round(0.6 + 0.04 * i, 6)})
    return rows


def write_events(directory: pathlib.Path, eval_id: str, methods=None, num_images: int = 40,
                 step: int = 4, pause_in: str | None = None, restored=(), artifacts=(),
                 start_time: float = 1_790_000_000.0, big_config: bool = False) -> pathlib.Path:
    """Writes events.json (+ sample PNGs) describing one evaluation; returns its path.

    pause_in: a method during which the replay pauses (after half its images) so a test can kill
    the process. restored: methods announced as finished by an earlier process. big_config: a
    model config of ~45 kB (150 labels and a long field), so config records span blocks.
    """
    methods = methods or [m["name"] for m in METHODS]
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(2):
        (directory / f"sample{i}.png").write_bytes(png_bytes(12 + i, 8, seed=17 * i + 3))
    events = []
    t = start_time
    for name in methods:
        index = next(i for i, m in enumerate(METHODS) if m["name"] == name)
        finished = {"type": "method_finished", "method": name, "exit_code": 0,
                    "summary": summary(index, num_images), "per_class": per_class(index),
                    "samples": [{"name": f"ADE_val_0000000{i + 1}", "png_file": f"sample{i}.png"}
                                for i in range(2)]}
        if name in restored:
            finished["restored"] = True
            events.append(finished)
            continue
        events.append({"type": "method_started", "method": name, "num_images": num_images,
                       "time_unix_s": t})
        for done in range(step, num_images + 1, step):
            events.append({"type": "progress", "method": name, "images_done": done,
                           "running": running(index, done), "images_per_s": 25.0,
                           "elapsed_s": done / 25.0, "time_unix_s": t + done / 25.0})
            if name == pause_in and done == num_images // 2:
                events.append({"type": "pause", "seconds": 600})
        t += num_images / 25.0 + 1
        finished["time_unix_s"] = t
        events.append(finished)
    events.append({"type": "run_finished", "exit_code": 0, "artifacts": list(artifacts),
                   "time_unix_s": t + 1})
    doc = {"run": {"eval_id": eval_id, "model_id": "nvidia/segformer-b0-finetuned-ade-512-512",
                   "dataset": "ade20k-val-sample",
                   "config": {"batch_size": 4, "protocol": "hf", "threads": 2,
                              "data": {"path": "/data/ADEChallengeData2016", "num_images": num_images}},
                   "model_config": {"num_labels": 150, "hidden_sizes": [32, 64, 160, 256],
                                    "id2label": {str(i): n for i, n in enumerate(CLASS_NAMES)}},
                   "segq_version": "0.1.0", "cpu": "Test CPU @ 2.0GHz", "threads": 2,
                   "methods": [m for m in METHODS if m["name"] in methods],
                   "baseline_method": "fp32", "start_time_unix_s": start_time},
           "events": events}
    if big_config:
        model_config = doc["run"]["model_config"]
        model_config["id2label"] = {str(i): f"class number {i}" for i in range(150)}
        model_config["long_note"] = "segq " * 8000
    path = directory / "events.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def base_env(tmp: pathlib.Path, **extra) -> dict:
    """The environment for segq in a test: nothing of the caller's W&B/MLflow settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("WANDB_", "MLFLOW_"))}
    env["WANDB_DIR"] = str(tmp)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_segq(args: list, env: dict, timeout: float = 120, check: bool = True):
    proc = subprocess.run([segq_exe(), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"segq {' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def run_dirs(wandb_root: pathlib.Path) -> list:
    return sorted(p for p in (wandb_root / "wandb").glob("offline-run-*") if p.is_dir())


def read_wandb_log(path: pathlib.Path) -> list:
    """All records of a .wandb file, read with wandb's own DataStore and Record protobuf."""
    from wandb.proto import wandb_internal_pb2
    from wandb.sdk.internal.datastore import DataStore

    store = DataStore()
    store.open_for_scan(str(path))  # checks the file header
    records = []
    try:
        while True:
            data = store.scan_data()
            if data is None:
                break
            record = wandb_internal_pb2.Record()
            record.ParseFromString(data)
            records.append(record)
    finally:
        store.close()
    return records


def kind(record) -> str:
    return record.WhichOneof("record_type")


def items(repeated) -> dict:
    return {item.key: json.loads(item.value_json) for item in repeated}


class FakeWandbServer:
    """A loopback stand-in for the W&B backend, enough for `wandb sync` to upload runs.

    Answers GraphQL ServerFeaturesQuery, UpsertBucket and CreateRunFiles (upload URLs back to
    itself), accepts PUT uploads and file_stream POSTs, and records everything.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.graphql = []       # (operationName, variables)
        self.uploads = {}       # (run, file name) -> bytes
        self.file_stream = {}   # run -> list of posted JSON bodies
        self.other = []
        self.authorization = set()  # Authorization headers seen
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding", "") == "gzip":
                    body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
                return body

            def _send(self, code: int, payload) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(200, {})

            def do_PUT(self):
                body = self._body()
                parts = self.path.split("/", 3)  # "", "upload", run, name
                with server.lock:
                    if len(parts) == 4 and parts[1] == "upload":
                        server.uploads[(parts[2], parts[3])] = body
                    else:
                        server.other.append(("PUT", self.path))
                self._send(200, {})

            def do_POST(self):
                body = self._body()
                with server.lock:
                    server.authorization.add(self.headers.get("Authorization", ""))
                if self.path.startswith("/graphql"):
                    return self._send(200, server.answer_graphql(json.loads(body)))
                if self.path.endswith("/file_stream"):
                    run = self.path.split("/")[-2]
                    with server.lock:
                        server.file_stream.setdefault(run, []).append(json.loads(body))
                    return self._send(200, {})
                with server.lock:
                    server.other.append(("POST", self.path))
                self._send(200, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer_graphql(self, query: dict) -> dict:
        text = query.get("query", "")
        variables = query.get("variables") or {}
        op = query.get("operationName") or ""
        with self.lock:
            self.graphql.append((op, variables))
        if "serverInfo" in text:
            return {"data": {"serverInfo": {"features": []}}}
        if "upsertBucket" in text:
            return {"data": {"upsertBucket": {"inserted": True, "bucket": {
                "id": "bucket-" + str(variables.get("name")), "name": variables.get("name"),
                "displayName": variables.get("displayName") or variables.get("name"),
                "description": None, "config": "{}", "sweepName": None, "historyLineCount": 0,
                "project": {"id": "project-1", "name": variables.get("project") or "segq",
                            "entity": {"id": "entity-1",
                                       "name": variables.get("entity") or "test-entity"}}}}}}
        if "createRunFiles" in text:
            run = variables.get("run")
            return {"data": {"createRunFiles": {"runID": "bucket-" + str(run), "uploadHeaders": [],
                                                "files": [{"name": f,
                                                           "uploadUrl": f"{self.url}/upload/{run}/{f}"}
                                                          for f in variables.get("files", [])]}}}
        return {"data": {}}

    def upserts(self, run_id: str) -> list:
        with self.lock:
            return [v for op, v in self.graphql if op == "UpsertBucket" and v.get("name") == run_id]

    def history(self, run_id: str) -> list:
        """The history rows wandb sent for a run, in order (deduplicated by line offset)."""
        lines = {}
        with self.lock:
            posts = list(self.file_stream.get(run_id, []))
        for post in posts:
            f = post.get("files", {}).get("wandb-history.jsonl")
            if f:
                for i, line in enumerate(f["content"]):
                    lines[f["offset"] + i] = json.loads(line)
        return [lines[k] for k in sorted(lines)]

    def summary(self, run_id: str) -> dict:
        with self.lock:
            uploaded = self.uploads.get((run_id, "wandb-summary.json"))
            posts = list(self.file_stream.get(run_id, []))
        if uploaded is not None:
            return json.loads(uploaded)
        last = {}
        for post in posts:
            f = post.get("files", {}).get("wandb-summary.json")
            if f:
                last = json.loads(f["content"][-1])
        return last

    def completed(self, run_id: str):
        with self.lock:
            posts = list(self.file_stream.get(run_id, []))
        return [p for p in posts if p.get("complete")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wandb_cli() -> str:
    exe = VENV_BIN / "wandb"
    if not exe.exists():
        found = shutil.which("wandb")
        if not found:
            pytest.skip("the wandb CLI is not installed")
        return found
    return str(exe)
