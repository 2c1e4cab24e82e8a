"""A W&B run directory of a segq process killed midway is still readable by wandb's reader, and
an evaluation resumed after the kill replaces the torn run with a complete one of the same id.

Acceptance (issue 6, item 4, W&B part).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from track_common import (METHODS, base_env, kind, read_wandb_log, run_dirs, run_segq,
                          segq_exe, write_events)


def _start(events, env):
    return subprocess.Popen([segq_exe(), "track-demo", "--events", str(events), "--wandb"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _logs(tmp):
    out = {}
    for d in run_dirs(tmp):
        logs = list(d.glob("run-*.wandb"))
        assert len(logs) <= 1, d
        if logs:  # a directory killed between its creation and its first record has none
            out[d] = read_wandb_log(logs[0])  # raises if wandb's reader rejects the file
    return out


def test_killed_midway_is_readable_and_resume_completes_it(tmp_path):
    env = base_env(tmp_path)
    events = write_events(tmp_path / "events", "eval-resume-1", num_images=40, step=2,
                          pause_in="int8")
    proc = _start(events, env)
    try:
        assert proc.stdout.readline().strip() == "PAUSED"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    torn = _logs(tmp_path)
    assert len(torn) == 2  # fp32 finished, int8 in progress
    by_method = {}
    for d, records in torn.items():
        by_method[records[1].run.display_name.rsplit("-", 1)[-1]] = (d, records)
    fp32_dir, fp32 = by_method["fp32"]
    int8_dir, int8 = by_method["int8"]
    assert [kind(r) for r in fp32][-2:] == ["exit", "final"]
    kinds = [kind(r) for r in int8]
    assert kinds[:3] == ["header", "run", "config"] and "exit" not in kinds
    assert max(r.history.step.num for r in int8 if kind(r) == "history") == 20
    fp32_bytes = {p: p.read_bytes() for p in fp32_dir.rglob("*") if p.is_file()}
    int8_id = int8[1].run.run_id

    # Resume: fp32 is restored from the earlier process, int8 and int4 are evaluated.
    resumed = write_events(tmp_path / "events2", "eval-resume-1", num_images=40, step=2,
                           restored=["fp32"], start_time=1_790_003_600.0)
    run_segq(["track-demo", "--events", str(resumed), "--wandb"], env)
    done = _logs(tmp_path)
    assert len(done) == len(METHODS)
    int8_dirs = [d for d, records in done.items() if records[1].run.run_id == int8_id]
    assert len(int8_dirs) == 1 and int8_dirs[0] != int8_dir and not int8_dir.exists()
    records = done[int8_dirs[0]]
    assert [kind(r) for r in records][-2:] == ["exit", "final"]
    assert records[-2].exit.exit_code == 0
    steps = [r.history.step.num for r in records if kind(r) == "history"]
    assert steps[0] == 2 and steps[-1] == 40
    # The restored baseline keeps its history and summary; it only gains the all-methods table.
    assert fp32_dir.exists()
    for path, data in fp32_bytes.items():
        if path.suffix != ".wandb":
            assert path.read_bytes() == data
    fp32_after = done[fp32_dir]
    assert len(fp32_after) > len(fp32)
    assert any(item.key == "all_methods" for r in fp32_after if kind(r) == "summary"
               for item in r.summary.update)


def test_killed_at_random_moments_every_log_stays_readable(tmp_path):
    # A ~45 kB config record spans blocks; 400 images give 100 history rows per method.
    rng = random.Random(1234)
    events = write_events(tmp_path / "events", "eval-kill-1", num_images=400, step=1,
                          big_config=True)
    torn_seen = 0
    for attempt in range(6):
        root = tmp_path / f"attempt{attempt}"
        proc = _start(events, base_env(root))
        deadline = time.monotonic() + 60
        while not list((root / "wandb").glob("offline-run-*/run-*.wandb")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        logs = _logs(root)
        assert logs
        for d, records in logs.items():
            assert [kind(r) for r in records[:3]] == ["header", "run", "config"], d
            assert records[2].ByteSize() > 32768
            torn_seen += "exit" not in [kind(r) for r in records]
    assert torn_seen > 0
