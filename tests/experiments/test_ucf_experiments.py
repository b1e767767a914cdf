"""End-to-end tests of the six UCF101 temporal-sparsity Sacred scripts.

Every script runs its `demo` configuration shrunk to seconds: a tiny
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

import pytest

from deltasparse.data.datasets.synthetic_actions import ensure_synthetic_ucf
from deltasparse.experiment import sacred_utils
from deltasparse.experiment import ucf
from deltasparse.experiment.errors import DataNotFoundError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
EXPERIMENTS = os.path.join(REPO, "experiments")
TINY_DATA = dict(classes=3, videos_per_class=4, clips_per_group=2,
                 test_groups=1, frames=8, size=32)
SCRIPTS = [f"ucf_{arch}_{variant}" for arch in ("resnet50", "mobilenet")
           for variant in ("baseline", "l1", "delta")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    """A prepared split of a tiny synthetic dataset (train 6, test 6 videos)."""
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


def tiny(root, **updates):
    """Config updates (after `demo`) that make a run take seconds."""
    config = {
        "dataset": "ucf101", "data_root": root, "classes": 3,
        "image_size": [32, 32], "batch_size": 2, "nb_frames": 2,
        "sequence_stride": 2.0, "val_sequence_stride": 8.0,
        "steps_per_epoch": 2, "validation_steps": 1, "epochs": 1,
        "eval_nb_frames": 4, "eval_sequence_stride": 8, "eval_batch_size": 2,
        "eval_steps": 2, "plot_clips": 2, "verbose": 0, "seed": 1,
    }
    config.update(updates)
    return config


def frames_tiny(root, **updates):
    """`tiny` for the 2-D baselines (no clip length while training)."""
    config = tiny(root, frame_step=4, val_frame_step=8, **updates)
    for key in ("nb_frames", "sequence_stride", "val_sequence_stride"):
        del config[key]
    return config


def run_dir(results_root, name, run):
    return os.path.join(str(results_root), name, str(run._id))


def metrics(results_root, name, run):
    with open(os.path.join(run_dir(results_root, name, run),
                           "metrics.json")) as handle:
        return json.load(handle)


def check_run(run, results_root, name, prefix, plot=True):
    """Assertions shared by every completed training run."""
    assert run.status == "COMPLETED"
    result = run.result
    assert 0.0 <= result["accuracy"] <= 1.0 and result["loss"] > 0
    assert result["clips"] == 4 and result["steps"] == 2
    folder = run_dir(results_root, name, run)
    logged = metrics(results_root, name, run)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy",
                "test.accuracy", "test.loss"):
        assert key in logged, key
    artifacts = ["last.weights.h5", "best.weights.h5"]
    if prefix is not None:
        for key in (f"{prefix}_all", "op_ratio_counted",
                    "macs_effective_counted"):
            assert 0.0 <= result[key] <= max(1.0, result[key])
            assert f"test.{key}" in logged, key
        artifacts += ["layer_sparsity.png", "layer_sparsity.json"]
    for fname in artifacts:
        assert os.path.isfile(os.path.join(folder, fname)), fname
    with open(os.path.join(folder, "run.json")) as handle:
        assert set(artifacts) <= set(json.load(handle)["artifacts"])
    info = run.info
    assert info["data"]["num_classes"] == 3
    assert info["data"]["val_split"] == "test"
    assert info["final"]["accuracy"] == result["accuracy"]
    assert {"data", "train", "evaluate"} <= set(info["timings"])
    return folder


def test_mobilenet_delta_trains_resumes_and_evaluates(
        tiny_root, tmp_path, monkeypatch, capsys):
    name = "ucf_mobilenet_delta"
    script = load_script(name, tmp_path, monkeypatch)
    config = tiny(tiny_root, alpha=0.25, nb_frames=3, run_eagerly=True)
    run = script.ex.run(named_configs=["demo"], config_updates=config)
    check_run(run, tmp_path, name, "delta_density")
    logged = metrics(tmp_path, name, run)
    # Train and validation sparsity figures per epoch, every group.
    for key in ("delta_density_all", "val_delta_density_all",
                "delta_density_conv1", "delta_density_block13",
                "val_op_ratio_counted"):
        assert logged[key]["steps"] == [0], key
    assert run.info["model"]["slots"] == 27
    assert run.info["initial_weights"] is None
    out = capsys.readouterr().out
    assert "temporal delta density" in out and "block13" in out

    # Started again with the same config and resume=True: continues after
    # epoch 1 from the configuration's checkpoint folder.
    ckpt = run.info["checkpoint_dir"]
    assert os.path.isfile(os.path.join(ckpt, "epoch-001.weights.h5"))
    assert ckpt.startswith(str(tmp_path / name / "checkpoints"))
    again = script.ex.run(named_configs=["demo"], config_updates=dict(
        config, epochs=2, resume=True, final_evaluation=False))
    assert again.status == "COMPLETED"
    assert again.info["resume"]["epoch"] == 1
    assert again.info["checkpoint_dir"] == ckpt
    assert metrics(tmp_path, name, again)["loss"]["steps"] == [1]
    assert os.path.isfile(os.path.join(ckpt, "epoch-002.weights.h5"))

    # The evaluate command with a weights file, and with the latest
    # checkpoint of the configuration (the same weights).
    weights = os.path.join(run_dir(tmp_path, name, again), "last.weights.h5")
    evaluated = script.ex.run("evaluate", named_configs=["demo"],
                              config_updates=dict(config, weights=weights))
    assert evaluated.status == "COMPLETED"
    assert evaluated.info["initial_weights"]["mismatched"] == []
    assert evaluated.info["initial_weights"]["skipped_absent"] == []
    assert evaluated.result["clips"] == 4
    assert "test.delta_density_all" in metrics(tmp_path, name, evaluated)
    latest = script.ex.run("evaluate", named_configs=["demo"],
                           config_updates=dict(config, epochs=2,
                                               plot_clips=0))
    assert latest.info["weights"].endswith("epoch-002.weights.h5")
    assert latest.result["accuracy"] == pytest.approx(
        evaluated.result["accuracy"])
    assert latest.result["delta_density_all"] == pytest.approx(
        evaluated.result["delta_density_all"])


def test_mobilenet_baseline_then_l1_on_synthetic_data(
        tiny_root, tmp_path, monkeypatch):
    name = "ucf_mobilenet_baseline"
    script = load_script(name, tmp_path, monkeypatch)
    config = frames_tiny(tiny_root, alpha=0.25, run_eagerly=True,
                         head_epochs=1, head_lr=1e-3, epochs=2)
    run = script.ex.run(named_configs=["demo"], config_updates=config)
    folder = check_run(run, tmp_path, name, "act_density")
    # Phase 1 (head) is epoch 0, phase 2 epoch 1; the TD model got every
    # weight of the 2-D model by name.
    assert metrics(tmp_path, name, run)["loss"]["steps"] == [0, 1]
    transfer = run.info["td_transfer"]
    assert transfer["mismatched"] == [] and transfer["skipped_absent"] == []
    assert transfer["matched"] == 55
    # `evaluate` puts the 2-D checkpoint into the TD model by name.
    evaluated = script.ex.run("evaluate", named_configs=["demo"],
                              config_updates=dict(config, plot_clips=0))
    assert evaluated.info["weights"].endswith("epoch-002.weights.h5")
    assert evaluated.info["initial_weights"]["matched"] == 55
    assert evaluated.result["accuracy"] == pytest.approx(
        run.result["accuracy"])

    # The init chain: the 2-D baseline checkpoint seeds the L1 model, here
    # on the same tiny data generated through `dataset='synthetic'`.
    name = "ucf_mobilenet_l1"
    l1 = load_script(name, tmp_path, monkeypatch)
    config = tiny(None, dataset="synthetic", alpha=0.25, run_eagerly=True,
                  synthetic=dict(TINY_DATA, cache_dir=str(tmp_path / "c")),
                  initial_weights=os.path.join(folder, "last.weights.h5"))
    del config["data_root"]
    run = l1.ex.run(named_configs=["demo"], config_updates=config)
    check_run(run, tmp_path, name, "act_density")
    assert run.info["data"]["dataset"] == "synthetic"
    assert run.info["initial_weights"]["matched"] == 55
    assert run.info["initial_weights"]["mismatched"] == []
    assert "val_act_density_block13" in metrics(tmp_path, name, run)


def test_resnet50_delta_end_to_end(tiny_root, tmp_path, monkeypatch):
    name = "ucf_resnet50_delta"
    script = load_script(name, tmp_path, monkeypatch)
    run = script.ex.run(named_configs=["demo"], config_updates=tiny(
        tiny_root, run_eagerly=True, steps_per_epoch=1, plot_clips=1))
    check_run(run, tmp_path, name, "delta_density")
    assert run.info["model"]["slots"] == 51
    logged = metrics(tmp_path, name, run)
    for group in ("in", "conv1", "conv2", "conv3", "conv4", "conv5", "fc"):
        assert f"val_delta_density_{group}" in logged


def test_resnet50_baseline_end_to_end(tiny_root, tmp_path, monkeypatch):
    name = "ucf_resnet50_baseline"
    script = load_script(name, tmp_path, monkeypatch)
    run = script.ex.run(named_configs=["demo"], config_updates=frames_tiny(
        tiny_root, run_eagerly=True, steps_per_epoch=1, head_epochs=0,
        plot_clips=0, measure_activations=False))
    check_run(run, tmp_path, name, None)
    assert run.info["td_transfer"]["matched"] == 108
    assert run.info["model"]["name"] == "resnet50_frames"
    assert "act_density_all" not in run.result  # plain TDResNet50


def test_resnet50_l1_config_and_paper_defaults(tmp_path, monkeypatch):
    script = load_script("ucf_resnet50_l1", tmp_path, monkeypatch)
    run = script.ex.run("print_config")
    assert run.status == "COMPLETED"
    config = run.config
    assert config["sp_rate"] == 4e-4 and config["batch_size"] == 16
    assert config["nb_frames"] == 2 and config["sequence_stride"] == 1.0
    assert (config["lr"], config["momentum"], config["decay"]) == (
        1e-3, 0.9, 5e-4)
    assert config["image_size"] == [224, 224] and config["classes"] == 101
    stage_a = script.ex.run("print_config", named_configs=["stage_a"]).config
    assert (stage_a["batch_size"], stage_a["nb_frames"]) == (4, 8)


@pytest.mark.parametrize("name", SCRIPTS)
def test_paper_configs_and_missing_ucf101(name, tmp_path, monkeypatch):
    script = load_script(name, tmp_path, monkeypatch)
    config = script.ex.run("print_config").config
    for key in ("seed", "gpus", "memory_growth", "data_root", "batch_size",
                "epochs", "initial_weights", "resume", "weights",
                "eval_steps", "eval_nb_frames"):
        assert key in config, key
    assert config["eval_nb_frames"] == 32 and config["eval_batch_size"] == 1
    assert config["eval_sequence_stride"] == 16
    expected = {"ucf_resnet50_delta": (1e-6, [3, 3, 3, 4, 4, 4, 3]),
                "ucf_mobilenet_delta": (1e-3, [1.0] * 14)}
    if name in expected:
        assert (config["sp_rate"], config["thr_init"]) == expected[name]
    # Without a prepared UCF101 the run stops at once with one message.
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
    assert ucf.PREPARE_COMMAND in proc.stderr
    assert "Traceback" not in proc.stderr
