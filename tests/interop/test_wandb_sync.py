"""`wandb sync` (the real CLI of the pinned wandb) uploads segq's offline runs.

Acceptance (issue 6, item 2): against a loopback stand-in for the W&B backend (no internet), the
uploader sends the history lines, summary, config and table bytes segq wrote. Also: online mode
runs `wandb sync` itself with the environment passed through, or prints the exact command when
the CLI is missing; segq never writes or prints the API key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import shlex
import subprocess

import pytest

from track_common import (API_KEY_MARKER, METHODS, VENV_BIN, FakeWandbServer, base_env, items,
                          kind, read_wandb_log, run_dirs, run_segq, summary, wandb_cli,
                          write_events)


def _sync_env(tmp: pathlib.Path, server: FakeWandbServer, path: str) -> dict:
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return base_env(tmp, WANDB_BASE_URL=server.url, WANDB_API_KEY=API_KEY_MARKER, HOME=home,
                    WANDB_ERROR_REPORTING="false", WANDB_PROJECT="segq-sync", PATH=path)


def _local_runs(tmp: pathlib.Path) -> dict:
    """run id -> (run dir, records) as written by segq."""
    out = {}
    for d in run_dirs(tmp):
        (log,) = d.glob("run-*.wandb")
        records = read_wandb_log(log)
        out[records[1].run.run_id] = (d, records)
    return out


@pytest.fixture(scope="module")
def online(tmp_path_factory):
    wandb_cli()  # skips without the CLI
    tmp = tmp_path_factory.mktemp("wandb-online")
    server = FakeWandbServer()
    events = write_events(tmp / "events", "eval-sync-1", num_images=24, step=3)
    env = _sync_env(tmp, server, f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = run_segq(["track-demo", "--events", str(events), "--wandb", "online"], env,
                    timeout=300)
    yield {"tmp": tmp, "server": server, "proc": proc, "runs": _local_runs(tmp)}
    server.close()


def test_online_mode_runs_wandb_sync_for_every_method(online):
    assert "uploading 3 run(s)" in online["proc"].stderr
    server, runs = online["server"], online["runs"]
    assert len(runs) == len(METHODS)
    for run_id, (d, _) in runs.items():
        done = server.completed(run_id)
        assert done and done[-1]["exitcode"] == 0, run_id
        assert (d / f"run-{run_id}.wandb.synced").exists()


def test_run_metadata_and_config_reached_the_server(online):
    server = online["server"]
    for run_id, (_, records) in online["runs"].items():
        run = records[1].run
        upserts = server.upserts(run_id)
        assert upserts, run_id
        first = upserts[0]
        assert first["displayName"] == run.display_name
        assert first["groupName"] == "eval-sync-1"
        assert first["jobType"] == "eval"
        assert first["project"] == "segq-sync"
        assert first["tags"] == list(run.tags)
        config = {}
        for u in upserts:
            if u.get("config"):
                config.update(json.loads(u["config"]))
        local = items(records[2].config.update)
        for key in ("batch_size", "method", "method_spec", "model_config", "segq_version", "cpu",
                    "threads"):
            assert config[key] == {"value": local[key]}, key


def test_history_lines_were_streamed(online):
    server = online["server"]
    for run_id, (_, records) in online["runs"].items():
        local = [items(r.history.item) for r in records if kind(r) == "history"]
        sent = server.history(run_id)
        assert [row["_step"] for row in sent] == [row["_step"] for row in local]
        for mine, theirs in zip(local, sent):
            for key in ("running/mean_iou", "running/mean_accuracy", "running/overall_accuracy",
                        "images_per_s", "_runtime", "_timestamp"):
                assert theirs[key] == pytest.approx(mine[key]), key


def test_summary_and_tables_were_uploaded(online):
    server = online["server"]
    for run_id, (d, records) in online["runs"].items():
        method = items(records[2].config.update)["method"]
        index = [m["name"] for m in METHODS].index(method)
        sent = server.summary(run_id)
        expected = summary(index, 24)
        for key in ("mean_iou", "mean_accuracy", "overall_accuracy", "size_bytes",
                    "bits_per_weight", "delta_miou_vs_fp32", "agreement_vs_fp32", "num_images"):
            assert sent[key] == pytest.approx(expected[key]), key
        tables = ["per_class"] + (["all_methods"] if method == "fp32" else [])
        for key in tables:
            ref = sent[key]
            local_bytes = (d / "files" / ref["path"]).read_bytes()
            uploaded = server.uploads[(run_id, ref["path"])]
            assert uploaded == local_bytes
            assert hashlib.sha256(uploaded).hexdigest() == ref["sha256"]
        for i in range(2):
            ref = sent[f"samples/ADE_val_0000000{i + 1}"]
            assert server.uploads[(run_id, ref["path"])] == (d / "files" / ref["path"]).read_bytes()


def test_api_key_is_passed_through_and_never_written_or_printed(online):
    server, tmp, proc = online["server"], online["tmp"], online["proc"]
    # wandb sync got the key from the environment segq passed on untouched.
    expected = "Basic " + base64.b64encode(f"api:{API_KEY_MARKER}".encode()).decode()
    assert expected in server.authorization
    marker = API_KEY_MARKER.encode()
    assert API_KEY_MARKER not in proc.stdout and API_KEY_MARKER not in proc.stderr
    for path in tmp.rglob("*"):
        if path.is_file() and "home" not in path.relative_to(tmp).parts:
            assert marker not in path.read_bytes(), path


def test_without_the_cli_segq_prints_the_exact_sync_command(tmp_path):
    cli = wandb_cli()
    server = FakeWandbServer()
    try:
        events = write_events(tmp_path / "events", "eval-sync-2", methods=["fp32", "int8"],
                              num_images=8, step=4)
        env = _sync_env(tmp_path, server, "/usr/bin:/bin")  # no wandb on this PATH
        proc = run_segq(["track-demo", "--events", str(events), "--wandb", "online"], env)
        assert "`wandb` command is not installed" in proc.stderr
        line = next(l for l in proc.stderr.splitlines() if "upload them with: " in l)
        command = shlex.split(line.split("upload them with: ", 1)[1])
        assert command[:2] == ["wandb", "sync"] and len(command) == 4
        sync = subprocess.run([cli, *command[1:]], env=env, capture_output=True, text=True,
                              timeout=300)
        assert sync.returncode == 0, sync.stderr
        for run_id in _local_runs(tmp_path):
            assert server.completed(run_id), run_id
        assert API_KEY_MARKER not in proc.stderr + proc.stdout
    finally:
        server.close()
