"""W&B runs written by segq, read back with the installed wandb package's own reader.

Acceptance (issue 6, item 1): every .wandb file opens with wandb's DataStore (header valid),
every record parses as wandb_internal_pb2.Record, and the run, config, history, summary and exit
records carry the expected values for every method; table files match their sha256 and paths;
framing edge cases give files wandb's reader accepts. Also: segq's .proto subset has W&B's field
numbers and types (compared with wandb_internal_pb2's descriptors).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil
import subprocess

import pytest

from track_common import (CLASS_NAMES, METHODS, SOURCE_DIR, base_env, items, kind, per_class,
                          read_wandb_log, run_dirs, run_segq, running, summary, write_events)

wandb_internal_pb2 = pytest.importorskip("wandb.proto.wandb_internal_pb2")


# ------------------------------------------------------------------ the .proto subset

def _our_descriptors(tmp_path: pathlib.Path):
    protoc = shutil.which("protoc")
    if not protoc:
        pytest.skip("protoc is not installed")
    from google.protobuf import descriptor_pb2
    out = tmp_path / "records.pb"
    subprocess.run([protoc, f"-I{SOURCE_DIR / 'src'}", "--include_imports",
                    f"--descriptor_set_out={out}", str(SOURCE_DIR / "src/track/wandb_records.proto")],
                   check=True)
    fds = descriptor_pb2.FileDescriptorSet()
    fds.ParseFromString(out.read_bytes())
    return next(f for f in fds.file if f.name == "track/wandb_records.proto")


def test_proto_subset_has_wandbs_field_numbers_and_types(tmp_path):
    from google.protobuf import descriptor_pb2
    FieldProto = descriptor_pb2.FieldDescriptorProto
    ours = _our_descriptors(tmp_path)
    checked = 0

    def compare(message_proto, theirs, path):
        nonlocal checked
        by_name = {f.name: f for f in theirs.fields}
        for field in message_proto.field:
            assert field.name in by_name, f"{path}.{field.name} is not a field of {theirs.full_name}"
            t = by_name[field.name]
            assert field.number == t.number, f"{path}.{field.name}: number {field.number} != {t.number}"
            assert field.type == t.type, f"{path}.{field.name}: wire type differs"
            repeated = field.label == FieldProto.LABEL_REPEATED
            assert repeated == t.is_repeated, f"{path}.{field.name}: repeated differs"
            if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_ENUM):
                ours_type = field.type_name.rsplit(".", 1)[-1]
                their_type = (t.message_type or t.enum_type).name
                assert ours_type == their_type, f"{path}.{field.name}: {ours_type} != {their_type}"
            checked += 1
        for enum in message_proto.enum_type:
            their_enum = theirs.enum_types_by_name[enum.name]
            for value in enum.value:
                assert their_enum.values_by_name[value.name].number == value.number
                checked += 1
        for nested in message_proto.nested_type:
            compare(nested, theirs.nested_types_by_name[nested.name], f"{path}.{nested.name}")

    def count(message_proto):
        return (len(message_proto.field) + sum(len(e.value) for e in message_proto.enum_type) +
                sum(count(n) for n in message_proto.nested_type))

    for message in ours.message_type:
        theirs = getattr(wandb_internal_pb2, message.name).DESCRIPTOR
        compare(message, theirs, message.name)
    assert checked == sum(count(m) for m in ours.message_type) > 50


# ------------------------------------------------------------------ framing

@pytest.mark.parametrize("sizes,file_size", [
    ([32754], 32768),             # one FULL chunk filling block 0
    ([32755], 32776),             # FIRST 32754 + LAST 1
    ([70000], 70000 + 7 + 3 * 7),  # FIRST, MIDDLE, LAST
    ([32747], 32761),             # ends 7 bytes before the boundary: no padding needed
    ([32747, 2], 32777),          # ... next record: FIRST of 0 bytes, LAST of 2
    ([32748], 32768),             # ends 6 bytes before the boundary: zero padding follows
    ([32748, 2], 32777),
    ([32748, 5, 32700, 40000, 3], None),
])
def test_framing_edge_cases_are_read_by_wandb(tmp_path, sizes, file_size):
    path = tmp_path / "run-edge.wandb"
    run_segq(["track-framing", "--out", str(path), "--sizes", ",".join(map(str, sizes))],
             base_env(tmp_path))
    if file_size is not None:
        assert path.stat().st_size == file_size
    records = read_wandb_log(path)
    assert [r.ByteSize() for r in records] == sizes


# ------------------------------------------------------------------ run content

@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wandb-reader")
    events = write_events(tmp / "events", "eval-reader-1", num_images=40, step=2)
    proc = run_segq(["track-demo", "--events", str(events), "--wandb"],
                    base_env(tmp, WANDB_PROJECT="segq-tests", WANDB_ENTITY="team",
                             WANDB_TAGS="ci,nightly", WANDB_NOTES="interop test"))
    dirs = run_dirs(tmp)
    logs = {}
    for d in dirs:
        (log,) = d.glob("run-*.wandb")
        records = read_wandb_log(log)
        logs[records[1].run.display_name] = (d, records)
    return {"dirs": dirs, "logs": logs, "stderr": proc.stderr}


def _for(evaluation, method):
    return evaluation["logs"][f"segformer-b0-finetuned-ade-512-512-{method}"]


def test_one_offline_run_directory_per_method(evaluation):
    dirs = evaluation["dirs"]
    assert len(dirs) == len(METHODS)
    for d in dirs:
        run_id = d.name.rsplit("-", 1)[1]
        assert d.name.startswith("offline-run-") and len(run_id) == 8
        assert (d / f"run-{run_id}.wandb").is_file()
        assert (d / "files").is_dir()
        assert not (d / "wandb-metadata.json").exists()
    assert "wandb sync" in evaluation["stderr"]


def test_records_come_in_sync_order(evaluation):
    for method in (m["name"] for m in METHODS):
        _, records = _for(evaluation, method)
        kinds = [kind(r) for r in records]
        assert kinds[:3] == ["header", "run", "config"]
        assert kinds[-2:] == ["exit", "final"]
        body = kinds[3:-2]
        # history*, then files and summary (the baseline has a second files+summary pair).
        first_non_history = next(i for i, k in enumerate(body) if k != "history")
        assert set(body[first_non_history:]) <= {"files", "summary"}
        assert body[-1] == "summary"
        assert records[0].header.version_info.producer.startswith("segq")


def test_run_record(evaluation):
    for index, m in enumerate(METHODS):
        d, records = _for(evaluation, m["name"])
        run = records[1].run
        assert run.run_id == d.name.rsplit("-", 1)[1]
        assert run.project == "segq-tests"
        assert run.entity == "team"
        assert run.run_group == "eval-reader-1"
        assert run.job_type == "eval"
        assert run.notes == "interop test"
        assert list(run.tags) == ["nvidia/segformer-b0-finetuned-ade-512-512", "ade20k-val-sample",
                                  m["family"], f"{m['nominal_bits']}bit", "ci", "nightly"]
        assert run.start_time.seconds >= 1_790_000_000
    ids = {records[1].run.run_id for _, records in evaluation["logs"].values()}
    assert len(ids) == len(METHODS)


def test_config_record(evaluation):
    for m in METHODS:
        _, records = _for(evaluation, m["name"])
        config = items(records[2].config.update)
        assert config["batch_size"] == 4
        assert config["protocol"] == "hf"
        assert config["data"] == {"path": "/data/ADEChallengeData2016", "num_images": 40}
        assert config["method"] == m["name"]
        assert config["method_spec"] == m["spec"]
        assert config["method_bits"] == m["nominal_bits"]
        assert config["model_config"]["hidden_sizes"] == [32, 64, 160, 256]
        assert config["model_config"]["id2label"]["2"] == "sky"
        assert config["segq_version"] == "0.1.0"
        assert config["cpu"] == "Test CPU @ 2.0GHz"
        assert config["threads"] == 2
        assert config["eval_id"] == "eval-reader-1"


def test_history_records(evaluation):
    for index, m in enumerate(METHODS):
        _, records = _for(evaluation, m["name"])
        history = [r.history for r in records if kind(r) == "history"]
        steps = [h.step.num for h in history]
        assert steps == sorted(set(steps)) and steps[-1] == 40
        assert len(steps) <= 100
        for h in history:
            row = items(h.item)
            step = h.step.num
            assert row["_step"] == step
            assert row["_runtime"] == pytest.approx(step / 25.0)
            assert row["_timestamp"] == pytest.approx(1_790_000_000.0 + 2.6 * index + step / 25.0)
            expected = running(index, step)
            assert row["running/mean_iou"] == pytest.approx(expected["mean_iou"])
            assert row["running/mean_accuracy"] == pytest.approx(expected["mean_accuracy"])
            assert row["running/overall_accuracy"] == pytest.approx(expected["overall_accuracy"])
            assert row["images_per_s"] == pytest.approx(25.0)


def test_summary_and_exit_records(evaluation):
    for index, m in enumerate(METHODS):
        d, records = _for(evaluation, m["name"])
        s = {}
        for r in records:
            if kind(r) == "summary":
                s.update(items(r.summary.update))
        expected = summary(index, 40)
        for key in ("mean_iou", "mean_accuracy", "overall_accuracy", "size_bytes", "size_mb",
                    "bits_per_weight", "compression", "delta_miou_vs_fp32",
                    "delta_miou_vs_fp32_ci95_low", "delta_miou_vs_fp32_ci95_high",
                    "agreement_vs_fp32", "ms_per_image", "images_per_s", "num_images"):
            assert s[key] == pytest.approx(expected[key]), key
        assert s["logit_nmse_vs_fp32"] == pytest.approx(expected["extra"]["logit_nmse_vs_fp32"])
        exit_record = records[-2].exit
        assert exit_record.exit_code == 0
        _check_table(d, s["per_class"], ["class_id", "class", "iou", "accuracy"])
        table = json.loads((d / "files" / s["per_class"]["path"]).read_text())
        expected_rows = [[r["class_id"], r["name"], r["iou"], r["accuracy"]]
                         for r in per_class(index)]
        assert table["data"] == expected_rows
        assert [row[1] for row in table["data"]] == CLASS_NAMES
        for i in range(2):
            ref = s[f"samples/ADE_val_0000000{i + 1}"]
            data = (d / "files" / ref["path"]).read_bytes()
            assert ref["_type"] == "image-file" and ref["format"] == "png"
            assert ref["sha256"] == hashlib.sha256(data).hexdigest()
            assert ref["size"] == len(data)
            assert (ref["width"], ref["height"]) == (12 + i, 8)
            assert ref["path"].startswith("media/images/")
        announced = [f.path for r in records if kind(r) == "files" for f in r.files.files]
        assert s["per_class"]["path"] in announced
        assert ("all_methods" in s) == (m["name"] == "fp32")


def _check_table(run_dir: pathlib.Path, ref: dict, columns: list) -> dict:
    data = (run_dir / "files" / ref["path"]).read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    assert ref["_type"] == "table-file"
    assert ref["sha256"] == sha
    assert ref["size"] == len(data)
    assert ref["path"].startswith("media/table/") and ref["path"].endswith(".table.json")
    assert sha[:20] in ref["path"]
    assert ref["log_mode"] == "IMMUTABLE" and "artifact_path" not in ref
    table = json.loads(data)
    assert table["columns"] == columns
    assert ref["ncols"] == len(columns) and ref["nrows"] == len(table["data"])
    return table


def test_baseline_run_has_the_all_methods_table(evaluation):
    d, records = _for(evaluation, "fp32")
    s = {}
    for r in records:
        if kind(r) == "summary":
            s.update(items(r.summary.update))
    table = _check_table(d, s["all_methods"], [
        "method", "family", "bits_per_weight", "size_mb", "compression", "mean_iou",
        "mean_accuracy", "overall_accuracy", "delta_miou_vs_fp32", "delta_miou_vs_fp32_ci95_low",
        "delta_miou_vs_fp32_ci95_high", "agreement_vs_fp32", "ms_per_image", "images_per_s",
        "num_images"])
    assert [row[0] for row in table["data"]] == [m["name"] for m in METHODS]
    for index, row in enumerate(table["data"]):
        assert row[5] == pytest.approx(summary(index, 40)["mean_iou"])


def test_legacy_sync_viewer_reads_every_record(evaluation, tmp_path):
    # `wandb sync --view --verbose` replays the log through the legacy (Python) sync path and
    # prints each record; it needs a Final record and some 40+ character key, and sends nothing.
    from track_common import API_KEY_MARKER, wandb_cli
    d, records = _for(evaluation, "fp32")
    (log,) = d.glob("run-*.wandb")
    env = base_env(tmp_path, HOME=tmp_path, WANDB_API_KEY=API_KEY_MARKER,
                   WANDB_BASE_URL="http://127.0.0.1:9", WANDB_ERROR_REPORTING="false")
    proc = subprocess.run([wandb_cli(), "sync", "--view", "--verbose", str(log)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    printed = [line for line in proc.stdout.splitlines() if line.startswith("Record:")]
    assert len(printed) == len(records)
    assert printed[-1].startswith("Record: final")
