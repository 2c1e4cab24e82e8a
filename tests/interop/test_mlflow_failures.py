"""An unreachable or failing tracker never costs the evaluation its local results.

Acceptance (issue 6, item 4, failure part): segq finishes with exit code 0, warns once naming
the tracker and the problem, stops talking to it, and still writes its local results and its
other trackers' output. Retries happen on 5xx and connection errors only; a 4xx is one request.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from track_common import METHODS, base_env, free_port, read_wandb_log, run_dirs, run_segq, write_events

FAST_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0.05"}


class ScriptedServer:
    """Answers every request with status_for(path) and counts requests."""

    def __init__(self, status_for):
        self.requests = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.requests.append((self.command, self.path))
                status, body = status_for(self.command, self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _run(tmp_path, mlflow_uri, wandb=True, **env):
    events = write_events(tmp_path / "events", "eval-fail-1", num_images=12, step=3)
    results = tmp_path / "out" / "results.json"
    args = ["track-demo", "--events", str(events), "--mlflow", mlflow_uri, "--results",
            str(results)]
    if wandb:
        args.append("--wandb")
    proc = run_segq(args, base_env(tmp_path, **FAST_RETRIES, **env))
    return proc, json.loads(results.read_text())


def _check_local_results(results):
    assert results["exit_code"] == 0
    assert sorted(results["methods"]) == sorted(m["name"] for m in METHODS)
    for m in results["methods"].values():
        assert m["exit_code"] == 0 and m["summary"]["num_images"] == 12


def _check_wandb_runs(tmp_path):
    dirs = run_dirs(tmp_path)
    assert len(dirs) == len(METHODS)
    for d in dirs:
        (log,) = d.glob("run-*.wandb")
        assert read_wandb_log(log)[-2].exit.exit_code == 0


def test_unreachable_mlflow(tmp_path):
    proc, results = _run(tmp_path, f"http://127.0.0.1:{free_port()}")
    warnings = [l for l in proc.stderr.splitlines() if l.startswith("warning: MLflow")]
    assert len(warnings) == 1, proc.stderr
    assert "unreachable after 3 attempts" in warnings[0]
    assert "local results are not affected" in warnings[0]
    _check_local_results(results)
    _check_wandb_runs(tmp_path)


def test_mlflow_answering_5xx_is_retried_then_dropped(tmp_path):
    server = ScriptedServer(lambda method, path: (503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                                                        "message": "maintenance"}))
    try:
        proc, results = _run(tmp_path, server.url)
    finally:
        server.close()
    assert len(server.requests) == 3  # the first call and two retries; then MLflow is dropped
    assert "HTTP 503" in proc.stderr and "maintenance" in proc.stderr
    _check_local_results(results)
    _check_wandb_runs(tmp_path)


def test_mlflow_4xx_is_a_clear_error_without_retries(tmp_path):
    server = ScriptedServer(lambda method, path: (403, {"error_code": "PERMISSION_DENIED",
                                                        "message": "no write access to segq"}))
    try:
        proc, results = _run(tmp_path, server.url, MLFLOW_TRACKING_TOKEN="tok")
    finally:
        server.close()
    assert len(server.requests) == 1
    line = next(l for l in proc.stderr.splitlines() if l.startswith("warning: MLflow"))
    assert "HTTP 403 PERMISSION_DENIED: no write access to segq" in line
    assert "tok" not in proc.stderr
    _check_local_results(results)


def test_mlflow_failing_midway(tmp_path):
    def status_for(method, path):
        if "experiments/get-by-name" in path:
            return 200, {"experiment": {"experiment_id": "1"}}
        if "runs/search" in path:
            return 200, {"runs": []}
        if "runs/create" in path:
            return 200, {"run": {"info": {"run_id": "r1", "status": "RUNNING",
                                          "artifact_uri": "mlflow-artifacts:/1/r1/artifacts"}}}
        return 500, {"error_code": "INTERNAL_ERROR", "message": "disk full"}

    server = ScriptedServer(status_for)
    try:
        proc, results = _run(tmp_path, server.url)
    finally:
        server.close()
    assert "disk full" in proc.stderr
    assert [p for _, p in server.requests].count("/api/2.0/mlflow/runs/log-batch") == 3
    _check_local_results(results)
    _check_wandb_runs(tmp_path)


def test_unwritable_wandb_directory(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where WANDB_DIR should be")
    events = write_events(tmp_path / "events", "eval-fail-2", num_images=12, step=3)
    results = tmp_path / "results.json"
    proc = run_segq(["track-demo", "--events", str(events), "--wandb", "--results", str(results)],
                    base_env(tmp_path, WANDB_DIR=blocker))
    assert any(l.startswith("warning: W&B") for l in proc.stderr.splitlines()), proc.stderr
    _check_local_results(json.loads(results.read_text()))
