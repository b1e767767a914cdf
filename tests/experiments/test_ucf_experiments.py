"""Tests of the six UCF101 temporal-sparsity Sacred scripts.

`test_paper_values_unchanged` compares every script's merged config (default,
`demo`, `stage_a`) with `ucf_paper_configs.json`, captured from the scripts
before they were thinned (keys renamed by `RENAMED_KEYS` mapped through).

The end-to-end runs use the `demo` configurations shrunk to seconds: a tiny
synthetic action dataset (3 classes, 4 videos of 8 frames of 32x32 per
class) prepared once per module, 32x32 frames, 1-2 batches per epoch,
MobileNet alpha 0.25, ResNet-50 eagerly (tracing it costs more than the
two steps). Results land in a temporary `$DELTASPARSE_RESULTS`.
"""

import importlib.util
import json
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest

from deltasparse.experiment import sacred_utils
from deltasparse.experiment import video_experiments
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXPERIMENTS = os.path.join(REPO, "experiments")
TINY_DATA = dict(classes=3, videos_per_class=4, clips_per_group=2,
                 test_groups=1, frames=8, size=32)
SCRIPTS = [f"ucf_{arch}_{sparsity}" for arch in ("resnet50", "mobilenet")
           for sparsity in ("baseline", "l1", "delta")]
CODE_LINES_LIMIT = 40

with open(os.path.join(HERE, "ucf_paper_configs.json")) as _handle:
    PAPER_CONFIGS = json.load(_handle)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """A prepared split of a tiny synthetic dataset (train 6, test 6 videos)."""
    from deltasparse.data.datasets.synthetic_actions import (
        ensure_synthetic_ucf)

    cache = tmp_path_factory.mktemp("ucf_data")
    return ensure_synthetic_ucf(cache_dir=str(cache), **TINY_DATA)


def load_script(name, results_root, monkeypatch):
    """A fresh module of `experiments/<name>.py` observed under `results_root`."""
    monkeypatch.setenv(sacred_utils.RESULTS_ENV, str(results_root))
    spec = importlib.util.spec_from_file_location(
        f"_ucf_script_{name}_{uuid.uuid4().hex}",
        os.path.join(EXPERIMENTS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def merged_config(script, named_configs=()):
    run = script.ex._create_run(command_name="print_config",
                                named_configs=list(named_configs))
    return json.loads(json.dumps(dict(run.config)))


# --------------------------------------------------------------------------
# Configuration (fast)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCRIPTS)
def test_paper_values_unchanged(name, tmp_path, monkeypatch):
    script = load_script(name, tmp_path, monkeypatch)
    renamed = video_experiments.RENAMED_KEYS
    assert set(PAPER_CONFIGS[name]) == {"default"} | set(
        script.ex.named_configs)
    for label, expected in PAPER_CONFIGS[name].items():
        config = merged_config(script, [] if label == "default" else [label])
        for old_key, value in expected.items():
            key = renamed.get(old_key, old_key)
            assert key in config, (label, old_key)
            assert config[key] == value, (label, old_key, config[key], value)
        assert config["distribution"] is None


@pytest.mark.parametrize("name", SCRIPTS)
def test_scripts_are_thin(name):
    """At most 40 lines of code besides the docstring and comments."""
    import ast

    with open(os.path.join(EXPERIMENTS, f"{name}.py")) as handle:
        source = handle.read()
    tree = ast.parse(source)
    doc = tree.body[0]
    assert isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
    code = [line for line in source.splitlines()[doc.end_lineno:]
            if line.strip() and not line.strip().startswith("#")]
    assert len(code) <= CODE_LINES_LIMIT, len(code)
    assert "video_experiments" in source


def test_print_config_shows_paper_values_with_comments(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               DELTASPARSE_RESULTS=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, os.path.join(EXPERIMENTS, "ucf_resnet50_delta.py"),
         "print_config"], cwd=str(tmp_path), env=env, capture_output=True,
        text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {line.split("=")[0].strip(): line for line in
             proc.stdout.splitlines() if " = " in line}
    assert "1e-06" in lines["sp_rate"] and "stage B" in lines["sp_rate"]
    assert "[3, 3, 3, 4, 4, 4, 3]" in lines["thr_init"]
    assert "#" in lines["eval_clip_length"] and "32" in lines[
        "eval_clip_length"]
    assert "#" in lines["distribution"]


def test_image_size_error_names_image_size(tmp_path, monkeypatch):
    script = load_script("ucf_mobilenet_delta", tmp_path, monkeypatch)
    with pytest.raises(ConfigurationError) as info:
        script.ex.run(config_updates={"image_size": [16, 224]})
    message = str(info.value)
    assert "`image_size`" in message and "input_shape" not in message
    assert message.endswith("Received: image_size=[16, 224]")
    with pytest.raises(ConfigurationError, match="`distribution`"):
        script.ex.run(config_updates={"distribution": "ring"})


@pytest.mark.parametrize("name", ["ucf_resnet50_baseline",
                                  "ucf_mobilenet_delta"])
def test_missing_ucf101_stops_with_one_message(name, tmp_path, monkeypatch):
    script = load_script(name, tmp_path, monkeypatch)
    with pytest.raises(DataNotFoundError, match="prepare_ucf101.py"):
        script.ex.run(config_updates={"data_root": str(tmp_path / "none")})


def test_cli_stops_with_one_message_without_ucf101(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               DELTASPARSE_RESULTS=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, os.path.join(EXPERIMENTS, "ucf_mobilenet_delta.py"),
         "with", "seed=123", f"data_root={tmp_path / 'missing'}"],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=120)
    assert proc.returncode != 0
    assert video_experiments.PREPARE_COMMAND in proc.stderr
    assert "Traceback" not in proc.stderr
