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

from deltasparse.experiment import observers
from deltasparse.experiment import video_experiments
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from deltasparse.training import video_protocol as protocol

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
    monkeypatch.setenv(observers.RESULTS_ENV, str(results_root))
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
    assert video_experiments.PREPARE_COMMAND.format(split=1) in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------
# End to end on a tiny synthetic dataset
# --------------------------------------------------------------------------


def tiny(root, **updates):
    """Config updates (after `demo`) that make a run take seconds."""
    config = {
        "dataset": "ucf101", "data_root": root, "num_classes": 3,
        "image_size": [32, 32], "batch_size": 2, "clip_length": 2,
        "sequence_stride": 2.0, "val_sequence_stride": 8.0,
        "steps_per_epoch": 2, "validation_steps": 1, "epochs": 1,
        "eval_clip_length": 4, "eval_sequence_stride": 8, "eval_batch_size": 2,
        "eval_steps": 2, "plot_clips": 4, "verbose": 0, "seed": 1,
        "run_eagerly": True, "eval_views": [],
    }
    config.update(updates)
    return config


def frames_tiny(root, **updates):
    """`tiny` for the frame baselines (1-frame clips while training)."""
    config = tiny(root, frame_step=4, val_frame_step=8, **updates)
    for key in ("clip_length", "sequence_stride", "val_sequence_stride"):
        del config[key]
    return config


def run_folder(results_root, name, run):
    return os.path.join(str(results_root), name, str(run._id))


def metrics(results_root, name, run):
    with open(os.path.join(run_folder(results_root, name, run),
                           "metrics.json")) as handle:
        return json.load(handle)


def check_run(run, results_root, name, prefix):
    """Assertions shared by every completed training run."""
    assert run.status == "COMPLETED"
    result = run.result
    assert 0.0 <= result["accuracy"] <= 1.0 and result["loss"] > 0
    assert result["clips"] == 4 and result["steps"] == 2
    folder = run_folder(results_root, name, run)
    logged = metrics(results_root, name, run)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "data_time",
                "step_time", "clips_per_second", "test.accuracy",
                "test.loss"):
        assert key in logged, key
    assert all(v > 0 for v in logged["clips_per_second"]["values"])
    artifacts = ["last.weights.h5", "best.weights.h5"]
    if prefix is not None:
        # Densities are fractions of nonzero operands; the counted MAC
        # ratio is a fraction of the dense MACs: both in (0, 1].
        for key in (f"{prefix}_all", "op_ratio_counted"):
            assert 0.0 < result[key] <= 1.0, key
            assert logged[f"test.{key}"]["values"] == [
                pytest.approx(result[key])]
        assert 0.0 < result["macs_effective_counted"] <= result[
            "macs_dense_counted"]
        artifacts += ["layer_sparsity.png", "layer_sparsity.json"]
    for fname in artifacts:
        assert os.path.isfile(os.path.join(folder, fname)), fname
    with open(os.path.join(folder, "run.json")) as handle:
        assert set(artifacts) <= set(json.load(handle)["artifacts"])
    info = run.info
    assert info["data"]["num_classes"] == 3
    assert info["data"]["val_split"] == "test"
    assert info["final"]["accuracy"] == result["accuracy"]
    assert {"data", "build", "train", "evaluate"} <= set(info["timings"])
    return folder


def numpy_counts(model, dataset, steps):
    """Independent per-slot counts over the first `steps` batches.

    The slot inputs come from a probe model; quantization (`q * round(a /
    q)`, half to even, `q = |threshold|`), the temporal deltas and the
    nonzero counts are NumPy (L1 slots: the nonzero activations).

    Returns:
        `(l0, n, frames)`: float64 arrays over the slots and the frame count.
    """
    import keras

    slots = model.sparsity_slots
    layers = [model.get_layer(slot.layer_name) for slot in slots]
    probe = keras.Model(model.input, [layer.input for layer in layers])
    l0 = np.zeros(len(slots))
    n = np.zeros(len(slots))
    frames = 0
    for x, _ in dataset.take(steps):
        x = keras.ops.convert_to_numpy(x)
        for i, (layer, a) in enumerate(zip(layers, probe.predict_on_batch(x))):
            a = np.asarray(a, "float32")
            if slots[i].kind == "delta":
                # The paper's slot: no bias, cumsum, activation or pooling.
                assert layer.bias is None and not layer.sigma
                assert layer.activation is None and layer.max_pooling is None
                q = np.abs(keras.ops.convert_to_numpy(layer.threshold))
                y = q * np.round(a / q)
                a = y[:, :-1] - y[:, 1:]
            l0[i] += np.count_nonzero(a)
            n[i] += a.size
        steps_per_clip = x.shape[1] - (slots[0].kind == "delta")
        frames += x.shape[0] * steps_per_clip
    return l0, n, frames


def check_figures_against_numpy_count(run, results_root, name, folder,
                                      architecture, prefix):
    """The test figures in `metrics.json` equal an independent NumPy count.

    The model is rebuilt from the run's config with its `last.weights.h5`;
    the evaluation clips are built again from the same settings. The
    per-slot counts of `layer_sparsity.json` (the plot: every evaluated
    clip here) must agree too.
    """
    config = run.config
    sparsity = "delta" if prefix == "delta_density" else "l1"
    root = run.info["data"]["root"]
    names = video_experiments.class_names(root, num_classes=3)
    model = protocol.build_video_classifier(
        architecture, sparsity, 3, config["image_size"],
        alpha=config.get("alpha"), bn_momentum=config.get("bn_momentum"),
        sp_rate=config.get("sp_rate"), thr_init=config.get("thr_init"))
    model.load_weights(os.path.join(folder, "last.weights.h5"))
    clips = protocol.VideoClips(root, names, architecture,
                                config["image_size"])
    dataset = clips.test(config["eval_clip_length"],
                         config["eval_sequence_stride"],
                         config["eval_batch_size"])
    l0, n, frames = numpy_counts(model, dataset, config["eval_steps"])
    slots = model.sparsity_slots
    weights = np.array([slot.n_outputs for slot in slots])
    groups = np.array([slot.group for slot in slots])
    want = {f"{prefix}_all": l0.sum() / n.sum(),
            "op_ratio_counted": (weights * l0).sum() / (weights * n).sum(),
            "macs_dense_counted": (weights * n).sum() / frames,
            "macs_effective_counted": (weights * l0).sum() / frames}
    for group in set(groups.tolist()):
        mask = groups == group
        want[f"{prefix}_{group}"] = l0[mask].sum() / n[mask].sum()
    logged = metrics(results_root, name, run)
    for key, value in want.items():
        # A rounding tie flipped by another kernel order would move a count
        # by one of ~1e4-1e6 operands.
        assert logged[f"test.{key}"]["values"][-1] == pytest.approx(
            value, rel=1e-4), key
    with open(os.path.join(folder, "layer_sparsity.json")) as handle:
        layers = json.load(handle)
    assert layers["groups"] == groups.tolist()
    np.testing.assert_allclose(layers["l0"], l0, rtol=1e-4)
    np.testing.assert_allclose(layers["n"], n)


def check_views_evaluation(run, folder):
    """The evaluate command's video accuracy, views, artifacts and model."""
    from deltasparse.export import load_model_bundle

    result = run.result
    assert 0.0 <= result["video_accuracy"] <= 1.0
    assert result["videos"] >= 1 and result["gflops_per_view"] > 0
    test_videos = 6  # TINY_DATA: 3 classes x 2 test videos
    for tag, views in (("1clips_1crops", 1), ("2clips_3crops", 6)):
        assert result[f"{tag}.videos"] == test_videos
        assert result[f"{tag}.views"] == views * test_videos
        assert 0.0 <= result[f"{tag}.video_top1"] <= 1.0
        assert result[f"{tag}.gflops_per_video"] == pytest.approx(
            views * result[f"{tag}.gflops_per_view"])
        with open(os.path.join(folder, "evaluation", tag,
                               "evaluation.json")) as handle:
            report = json.load(handle)
        assert report["views"]["num_clips"] * report["views"][
            "num_crops"] == views
        for artifact in ("per_class.csv", "misclassified.csv",
                         "confusion_matrix.png"):
            assert os.path.isfile(os.path.join(folder, "evaluation", tag,
                                               artifact)), artifact
    # 3-frame views cost 3/4 of the 4-frame clips of the §7 evaluation.
    assert result["1clips_1crops.gflops_per_view"] == pytest.approx(
        0.75 * result["gflops_per_view"], rel=0.05)
    assert os.path.isfile(os.path.join(folder, "evaluation", "sliding",
                                       "evaluation.json"))
    bundle = load_model_bundle(folder)
    assert len(bundle.class_names) == 3 and bundle.image_size == (32, 32)
    assert bundle.preprocessing == "tf" and bundle.clip_length == 4


@pytest.mark.slow
def test_mobilenet_delta_resume_equals_uninterrupted_and_evaluate(
        tiny_root, tmp_path, monkeypatch, capsys):
    name = "ucf_mobilenet_delta"
    script = load_script(name, tmp_path, monkeypatch)
    config = tiny(tiny_root, alpha=0.25, clip_length=3)

    # 1 epoch, then the same configuration again with resume=True for 2.
    first = script.ex.run(named_configs=["demo"], config_updates=dict(
        config, final_evaluation=False))
    assert first.status == "COMPLETED"
    resumed = script.ex.run(named_configs=["demo"], config_updates=dict(
        config, epochs=2, resume=True))
    folder = check_run(resumed, tmp_path, name, "delta_density")
    assert resumed.info["resume"]["epoch"] == 1
    assert resumed.info["checkpoint_dir"] == first.info["checkpoint_dir"]
    assert resumed.info["model"]["slots"] == 27
    check_figures_against_numpy_count(resumed, tmp_path, name, folder,
                                      "mobilenet", "delta_density")
    out = capsys.readouterr().out
    assert "temporal delta density" in out and "block13" in out
    assert "Per-layer temporal delta density (4 clips, plot " in out
    assert "conv_dw_13_delta2" in out  # one line per slot

    # An uninterrupted 2-epoch run of the same configuration (own folder).
    straight = script.ex.run(named_configs=["demo"], config_updates=dict(
        config, epochs=2, run_name="straight"))
    assert straight.status == "COMPLETED"
    got = metrics(tmp_path, name, resumed)
    want = metrics(tmp_path, name, straight)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy",
                "delta_density_all", "val_delta_density_all",
                "delta_density_block13", "val_op_ratio_counted"):
        # History across the resume: epoch 1 (replayed) and epoch 2.
        assert got[key]["steps"] == want[key]["steps"] == [1, 2], key
        np.testing.assert_allclose(got[key]["values"], want[key]["values"],
                                   rtol=1e-6, err_msg=key)
    assert resumed.result["accuracy"] == straight.result["accuracy"]
    assert resumed.result["delta_density_all"] == pytest.approx(
        straight.result["delta_density_all"], rel=1e-6)

    # The evaluate command with a weights file, and with the latest
    # checkpoint of the configuration (the same weights).
    weights = os.path.join(folder, "last.weights.h5")
    evaluated = script.ex.run("evaluate", named_configs=["demo"],
                              config_updates=dict(
                                  config, weights=weights,
                                  eval_views=[[1, 1], [2, 3]],
                                  eval_view_clip_length=3))
    assert evaluated.status == "COMPLETED"
    check_views_evaluation(evaluated, run_folder(tmp_path, name, evaluated))
    assert evaluated.info["initial_weights"]["mismatched"] == []
    assert evaluated.info["initial_weights"]["skipped_absent"] == []
    assert evaluated.result["accuracy"] == pytest.approx(
        resumed.result["accuracy"])
    latest = script.ex.run("evaluate", named_configs=["demo"],
                           config_updates=dict(config, plot_clips=0))
    assert latest.info["weights"].endswith(os.path.join("train",
                                                        "last.weights.h5"))
    assert latest.result["delta_density_all"] == pytest.approx(
        evaluated.result["delta_density_all"])


@pytest.mark.slow
def test_mobilenet_baseline_two_phases_then_l1(tiny_root, tmp_path,
                                               monkeypatch):
    name = "ucf_mobilenet_baseline"
    script = load_script(name, tmp_path, monkeypatch)
    config = frames_tiny(tiny_root, alpha=0.25, head_epochs=1, head_lr=1e-3,
                         epochs=2)
    run = script.ex.run(named_configs=["demo"], config_updates=config)
    folder = check_run(run, tmp_path, name, "act_density")
    check_figures_against_numpy_count(run, tmp_path, name, folder,
                                      "mobilenet", "act_density")
    # Phase 1 (head) is epoch 1, phase 2 epoch 2, in their own folders.
    assert metrics(tmp_path, name, run)["loss"]["steps"] == [1, 2]
    assert run.result["epochs"] == 2

    # The init chain: the baseline's weights seed the L1 model, here on the
    # same tiny data generated through `dataset='synthetic'`.
    name = "ucf_mobilenet_l1"
    l1 = load_script(name, tmp_path, monkeypatch)
    config = tiny(None, dataset="synthetic", alpha=0.25,
                  synthetic=dict(TINY_DATA, cache_dir=str(tmp_path / "c")),
                  initial_weights=os.path.join(folder, "last.weights.h5"))
    del config["data_root"]
    run = l1.ex.run(named_configs=["demo"], config_updates=config)
    check_run(run, tmp_path, name, "act_density")
    assert run.info["data"]["dataset"] == "synthetic"
    assert run.info["initial_weights"]["mismatched"] == []
    assert run.info["initial_weights"]["matched"] > 50
    assert "val_act_density_block13" in metrics(tmp_path, name, run)


@pytest.mark.slow
def test_resnet50_delta_end_to_end(tiny_root, tmp_path, monkeypatch):
    name = "ucf_resnet50_delta"
    script = load_script(name, tmp_path, monkeypatch)
    run = script.ex.run(named_configs=["demo"], config_updates=tiny(
        tiny_root, run_eagerly=True, steps_per_epoch=1))
    folder = check_run(run, tmp_path, name, "delta_density")
    assert run.info["model"]["slots"] == 51
    check_figures_against_numpy_count(run, tmp_path, name, folder,
                                      "resnet50", "delta_density")
    logged = metrics(tmp_path, name, run)
    for group in ("in", "conv1", "conv2", "conv3", "conv4", "conv5", "fc"):
        assert f"val_delta_density_{group}" in logged


def test_second_run_of_a_locked_configuration_stops(tiny_root, tmp_path,
                                                    monkeypatch):
    from deltasparse.training import CheckpointLock

    script = load_script("ucf_mobilenet_l1", tmp_path, monkeypatch)
    config = tiny(tiny_root, alpha=0.25, run_name="busy")
    folder = os.path.join(video_experiments.checkpoint_directory(
        "ucf_mobilenet_l1", config, root=str(tmp_path)), "train")
    os.makedirs(folder)
    with CheckpointLock(folder):
        with pytest.raises(ConfigurationError, match="`run_name`"):
            script.ex.run(named_configs=["demo"], config_updates=config)
