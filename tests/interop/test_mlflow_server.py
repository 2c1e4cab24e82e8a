"""segq logs evaluations to a real MLflow tracking server (the pinned mlflow, sqlite backend,
artifacts served by the server), and mlflow's own client reads them back.

Acceptance (issue 6, item 3): a parent run per evaluation with one nested child per method;
params, summary metrics, history (step = images done), per-class metrics, artifacts, status.
Also: a resumed evaluation continues its parent run and marks the killed attempt KILLED, and
concurrent processes creating the same experiment both succeed.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time
import urllib.request
import uuid

import pytest

from track_common import (METHODS, VENV_BIN, base_env, free_port, per_class, run_segq, running,
                          segq_exe, summary, write_events)

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = VENV_BIN / "mlflow"
    if not exe.exists():
        pytest.skip("the mlflow CLI is not installed")
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["HOME"] = str(root)
    log = open(root / "server.log", "w")
    proc = subprocess.Popen(
        [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
         "--artifacts-destination", str(root / "artifacts")],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a cold start on a busy 2-core machine takes a while
    try:
        while True:
            assert proc.poll() is None, (root / "server.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.read().strip() == b"OK":
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield url
    finally:
        # The mlflow CLI does not stop promptly on SIGTERM; its data is thrown away anyway.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


def _client(url):
    return mlflow.MlflowClient(tracking_uri=url)


def _artifacts(directory: pathlib.Path) -> list:
    (directory / "results.json").write_text('{"methods": ["fp32", "int8"]}\n')
    (directory / "per_class.csv").write_text("method,class,iou\nfp32,wall,0.5\n")
    (directory / "report.html").write_text("<!doctype html><title>segq</title>" + "x" * 5000)
    return ["results.json", "per_class.csv", "report.html"]


def _parents(client, experiment_id, eval_id):
    return client.search_runs([experiment_id],
                              f"tags.`segq.eval_id` = '{eval_id}' and tags.`segq.kind` = 'eval'")


def _children(client, experiment_id, parent_id):
    return client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'")


@pytest.fixture(scope="module")
def logged(server, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-logged")
    experiment = f"segq-it-{uuid.uuid4().hex[:8]}"
    events_dir = tmp / "events"
    events_dir.mkdir()
    artifacts = _artifacts(events_dir)
    events = write_events(events_dir, "eval-mlflow-1", num_images=40, step=2, artifacts=artifacts)
    proc = run_segq(["track-demo", "--events", str(events), "--mlflow", server],
                    base_env(tmp, MLFLOW_EXPERIMENT_NAME=experiment))
    client = _client(server)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, proc.stderr
    (parent,) = _parents(client, exp.experiment_id, "eval-mlflow-1")
    children = {r.data.tags["segq.method"]: r
                for r in _children(client, exp.experiment_id, parent.info.run_id)}
    return {"client": client, "exp": exp, "parent": parent, "children": children,
            "events_dir": events_dir, "proc": proc}


def test_parent_run(logged):
    parent = logged["parent"]
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "segformer-b0-finetuned-ade-512-512-eval-mlflow-1"
    p = parent.data.params
    assert p["batch_size"] == "4"
    assert p["protocol"] == "hf"
    assert p["data.path"] == "/data/ADEChallengeData2016"
    assert p["data.num_images"] == "40"
    assert p["threads"] == "2"
    assert p["segq_version"] == "0.1.0"
    assert p["cpu"] == "Test CPU @ 2.0GHz"
    assert p["model"] == "nvidia/segformer-b0-finetuned-ade-512-512"
    assert p["methods"] == "fp32,int8,int4-g64-hqq"
    assert parent.data.tags["segq.model"] == "nvidia/segformer-b0-finetuned-ade-512-512"
    assert parent.data.tags["segq.dataset"] == "ade20k-val-sample"


def test_one_nested_child_per_method(logged):
    children = logged["children"]
    assert sorted(children) == sorted(m["name"] for m in METHODS)
    for m in METHODS:
        run = children[m["name"]]
        assert run.info.status == "FINISHED"
        assert run.info.run_name == f"segformer-b0-finetuned-ade-512-512-{m['name']}"
        assert run.data.tags["mlflow.parentRunId"] == logged["parent"].info.run_id
        assert run.data.tags["segq.method_family"] == m["family"]
        assert run.data.tags["segq.exit_code"] == "0"
        assert run.data.params["method"] == m["name"]
        assert run.data.params["method_bits"] == str(m["nominal_bits"])
        for key, value in m["spec"].items():
            assert run.data.params[f"method_spec.{key}"] == str(value)


def test_summary_and_per_class_metrics(logged):
    for index, m in enumerate(METHODS):
        metrics = logged["children"][m["name"]].data.metrics
        expected = summary(index, 40)
        for key in ("mean_iou", "mean_accuracy", "overall_accuracy", "size_bytes", "size_mb",
                    "bits_per_weight", "compression", "delta_miou_vs_fp32",
                    "delta_miou_vs_fp32_ci95_low", "delta_miou_vs_fp32_ci95_high",
                    "agreement_vs_fp32", "ms_per_image", "num_images"):
            assert metrics[key] == pytest.approx(expected[key]), key
        assert metrics["images_per_s_mean"] == pytest.approx(expected["images_per_s"])
        assert metrics["logit_nmse_vs_fp32"] == pytest.approx(expected["extra"]["logit_nmse_vs_fp32"])
        for row in per_class(index):
            if row["iou"] is None:
                assert f"class_iou/{row['name']}" not in metrics
            else:
                assert metrics[f"class_iou/{row['name']}"] == pytest.approx(row["iou"])
                assert metrics[f"class_accuracy/{row['name']}"] == pytest.approx(row["accuracy"])


def test_history_is_step_indexed_by_images_done(logged):
    client = logged["client"]
    for index, m in enumerate(METHODS):
        run_id = logged["children"][m["name"]].info.run_id
        for key in ("mean_iou", "mean_accuracy", "overall_accuracy"):
            history = sorted(client.get_metric_history(run_id, f"running/{key}"),
                             key=lambda x: x.step)
            assert [h.step for h in history] == list(range(2, 41, 2))
            for h in history:
                assert h.value == pytest.approx(running(index, h.step)[key])
        rate = client.get_metric_history(run_id, "images_per_s")
        assert len(rate) == 20 and all(h.value == pytest.approx(25.0) for h in rate)


def test_artifacts_uploaded_through_the_server(logged, tmp_path):
    client = logged["client"]
    parent_id = logged["parent"].info.run_id
    names = sorted(a.path for a in client.list_artifacts(parent_id))
    assert names == ["per_class.csv", "report.html", "results.json"]
    for name in names:
        local = client.download_artifacts(parent_id, name, str(tmp_path))
        assert pathlib.Path(local).read_bytes() == (logged["events_dir"] / name).read_bytes()


def test_resume_continues_the_parent_and_kills_the_torn_attempt(server, tmp_path):
    experiment = f"segq-resume-{uuid.uuid4().hex[:8]}"
    env = base_env(tmp_path, MLFLOW_EXPERIMENT_NAME=experiment, MLFLOW_TRACKING_URI=server)
    first = write_events(tmp_path / "a", "eval-mlflow-2", methods=["fp32", "int8"],
                         num_images=20, step=2, pause_in="int8")
    proc = subprocess.Popen([segq_exe(), "track-demo", "--events", str(first)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "PAUSED", proc.stderr.read()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    second = write_events(tmp_path / "b", "eval-mlflow-2", methods=["fp32", "int8"],
                          num_images=20, step=2, restored=["fp32"])
    run_segq(["track-demo", "--events", str(second)], env)

    client = _client(server)
    exp = client.get_experiment_by_name(experiment)
    (parent,) = _parents(client, exp.experiment_id, "eval-mlflow-2")
    assert parent.info.status == "FINISHED"
    children = _children(client, exp.experiment_id, parent.info.run_id)
    by_method = {}
    for r in children:
        by_method.setdefault(r.data.tags["segq.method"], []).append(r)
    assert len(by_method["fp32"]) == 1 and by_method["fp32"][0].info.status == "FINISHED"
    assert sorted(r.info.status for r in by_method["int8"]) == ["FINISHED", "KILLED"]
    killed = next(r for r in by_method["int8"] if r.info.status == "KILLED")
    steps = [h.step for h in client.get_metric_history(killed.info.run_id, "running/mean_iou")]
    assert max(steps, default=0) <= 10  # history is sent in batches; a kill may lose the last


def test_concurrent_processes_create_the_experiment_once(server, tmp_path):
    experiment = f"segq-race-{uuid.uuid4().hex[:8]}"
    procs = []
    for i in range(3):
        events = write_events(tmp_path / f"e{i}", f"eval-race-{i}", methods=["fp32"],
                              num_images=4, step=2)
        procs.append(subprocess.Popen(
            [segq_exe(), "track-demo", "--events", str(events), "--mlflow", server],
            env=base_env(tmp_path, MLFLOW_EXPERIMENT_NAME=experiment),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0 and "warning" not in err, err
    client = _client(server)
    matching = [e for e in client.search_experiments() if e.name == experiment]
    assert len(matching) == 1
    for i in range(3):
        assert len(_parents(client, matching[0].experiment_id, f"eval-race-{i}")) == 1
