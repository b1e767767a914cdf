"""The 3-D experiment glue and its five scripts.

The end-to-end run uses a tiny synthetic dataset (3 classes, 4 videos of 8
frames of 32x32 per class), 4-frame clips, 1 epoch of 2 batches and a tiny
Conv3D backbone registered as the preset `tiny3d` (the real backbones run
in the `demo` configurations), in a temporary `$DELTASPARSE_RESULTS`.
"""

import json
import os

import h5py
import numpy as np
import pytest

from deltasparse.data.video import clip_crops as data_clips
from deltasparse.experiment import clip3d_experiments as glue
from deltasparse.experiment import observers
from deltasparse.experiment.errors import ConfigurationError
from tests.experiments.test_ucf_experiments import load_script
from tests.experiments.test_ucf_experiments import merged_config
from tests.training.test_clip3d_protocol import TinyClipBackbone

HERE = os.path.dirname(os.path.abspath(__file__))
EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(HERE)),
                           "experiments")
SCRIPTS = {"ucf_resnet3d18": "resnet3d_18", "ucf_resnet3d50": "resnet3d_50",
           "ucf_resnet3d101": "resnet3d_101",
           "ucf_mobilenetv2_3d": "mobilenetv2_3d_1.0x",
           "ucf_csn50": "csn_ir_50"}
TINY_DATA = dict(classes=3, videos_per_class=4, clips_per_group=2,
                 test_groups=1, frames=8, size=32)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_hold_the_seed_values_and_a_demo(name, tmp_path,
                                                 monkeypatch):
    script = load_script(name, tmp_path, monkeypatch)
    config = merged_config(script)
    assert config["architecture"] == SCRIPTS[name]
    seed_values = {"image_size": 112, "clip_length": 16, "lr": 0.1,
                   "momentum": 0.9, "dampening": 0.9, "weight_decay": 1e-3,
                   "batch_size": 32, "epochs": 20, "lr_patience": 10,
                   "num_scales": 5, "optimizer": "sgd", "val_clips": 1,
                   "mean_dataset": "activitynet", "norm_value": 1}
    assert {k: config[k] for k in seed_values} == seed_values
    assert config["scale_step"] == pytest.approx(0.84089641525)
    demo = merged_config(script, ["demo"])
    assert demo["dataset"] == "synthetic" and demo["optimizer"] == "adam"
    assert demo["image_size"] < 112 and demo["clip_length"] <= 16
    with open(os.path.join(EXPERIMENTS, f"{name}.py")) as handle:
        code = [line for line in handle.read().split('"""', 2)[2].splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert len(code) <= 40


BASE = dict(image_size=32, clip_length=4, num_scales=5, batch_size=2,
            epochs=1, val_clips=1, eval_batch_size=4, top_predictions=10,
            steps_per_epoch=None, validation_steps=None, eval_steps=None,
            train_crop="corner", mean_dataset="activitynet", norm_value=1,
            optimizer="sgd", ft_portion="complete", eval_weights="last",
            inflate_time_kernel="mean", lr=0.1, scale_step=0.84,
            initial_scale=1.0, lr_factor=0.1, lr_patience=10,
            bn_momentum=None, nesterov=False, dampening=0.9,
            pretrain_path=None, inflate_from=None, zero_init_residual=False)


@pytest.mark.parametrize("key, value, message", [
    ("image_size", 0, "`image_size`"), ("train_crop", "random", "train_crop"),
    ("norm_value", 2, "norm_value"), ("optimizer", "rmsprop", "optimizer"),
    ("ft_portion", "last_layer", "needs `pretrain_path`"),
    ("scale_step", 1.5, "scale_step"), ("nesterov", True, "dampening=0"),
    ("val_clips", 0, "val_clips"), ("eval_steps", -1, "eval_steps"),
    ("bn_momentum", 1.5, "bn_momentum"),
    ("zero_init_residual", "yes", "zero_init_residual"),
    ("inflate_from", "x.h5", "not both")])
def test_bad_config_values_name_their_key(key, value, message):
    config = dict(BASE, **{key: value})
    if key == "inflate_from":
        config["pretrain_path"] = "y.weights.h5"
    with pytest.raises(ConfigurationError, match=message):
        glue.check_clip3d_config(config)
    assert glue.check_clip3d_config(BASE)["image_size"] == 32


def test_resolve_weights(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"")
    assert glue.resolve_weights(str(run), "x", {}) == str(run / "model.keras")
    (run / "last.weights.h5").write_bytes(b"")
    assert glue.resolve_weights(str(run), "x", {}).endswith("last.weights.h5")
    with pytest.raises(FileNotFoundError, match="weights"):
        glue.resolve_weights(str(tmp_path), "x", {})


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    from deltasparse.data.datasets.synthetic_actions import (
        ensure_synthetic_ucf)

    return ensure_synthetic_ucf(cache_dir=str(tmp_path_factory.mktemp("d")),
                                **TINY_DATA)


def tiny_script(tiny_root, tmp_path, monkeypatch):
    """The ResNet-18 script on the `tiny3d` preset and the tiny data."""
    entry = {"metadata": {"description": "test", "path": "tiny3d"},
             "backbone": {}}
    from deltasparse.models import video_classifier

    monkeypatch.setitem(video_classifier.PRESET_FAMILIES, "tiny3d",
                        TinyClipBackbone)
    monkeypatch.setitem(video_classifier.PRESETS, "tiny3d", entry)
    script = load_script("ucf_resnet3d18", tmp_path, monkeypatch)
    updates = {"architecture": "tiny3d", "synthetic": {"cache_dir": os.path
               .dirname(os.path.dirname(os.path.dirname(tiny_root))),
               **TINY_DATA}, "steps_per_epoch": 2, "epochs": 1,
               "batch_size": 2, "image_size": 32, "clip_length": 4,
               "verbose": 0, "seed": 1, "run_eagerly": True}
    return script, updates


def read_weights(path):
    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(
            name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def test_tiny_end_to_end_run_and_evaluate(tiny_root, tmp_path, monkeypatch):
    script, updates = tiny_script(tiny_root, tmp_path, monkeypatch)
    run = script.ex.run(named_configs=["demo"], config_updates=updates)
    assert run.status == "COMPLETED"
    result = run.result
    # 6 test videos x 2 clips (8 frames, T = 4: starts 0 and 4).
    assert result["videos"] == 6 and result["clips"] == 12
    assert 0.0 <= result["video_accuracy"] <= 1.0
    assert result["epochs"] == 1 and "last_epoch.val_accuracy" in result
    folder = observers.run_directory(run)
    with open(os.path.join(folder, "val.json")) as handle:
        top = json.load(handle)["results"]
    assert len(top) == 6 and all(len(v) == 3 for v in top.values())
    for name in ("model.keras", "model_info.json", "last.weights.h5",
                 "evaluation/all_clips/evaluation.json",
                 "evaluation/all_clips/per_class.csv"):
        assert os.path.isfile(os.path.join(folder, name)), name
    with open(os.path.join(folder, "model_info.json")) as handle:
        info = json.load(handle)
    assert info["clip_length"] == 4 and info["preprocessing"][
        "clip_normalization"]["mean_dataset"] == "activitynet"
    # deltasparse-export and deltasparse-demo read the run folder as a bundle.
    from deltasparse.data.video import preprocess
    from deltasparse.export import load_model_bundle

    bundle = load_model_bundle(folder)
    assert bundle.clip_length == 4 and bundle.image_size == (32, 32)
    assert bundle.class_names == info["class_names"]
    pixels = np.full((1, 3), 255.0, "float32")
    np.testing.assert_allclose(  # std_norm with norm_value 255 (the demo)
        np.asarray(preprocess(pixels, bundle.preprocessing)),
        np.asarray(data_clips.ClipNormalization(
            std_norm=True, norm_value=255)(pixels)))
    again = script.ex.run("evaluate", named_configs=["demo"],
                          config_updates=dict(updates, weights=folder))
    assert again.status == "COMPLETED"
    assert again.result["video_accuracy"] == pytest.approx(
        result["video_accuracy"])


def test_resume_continues_exactly_where_the_interrupted_run_stopped(
        tiny_root, tmp_path, monkeypatch):
    script, updates = tiny_script(tiny_root, tmp_path, monkeypatch)
    updates.update(final_evaluation=False, epochs=2)
    straight = script.ex.run(named_configs=["demo"], config_updates=dict(
        updates, run_name="straight"))
    script.ex.run(named_configs=["demo"], config_updates=dict(
        updates, run_name="split", epochs=1))
    resumed = script.ex.run(named_configs=["demo"], config_updates=dict(
        updates, run_name="split", resume=True))
    assert resumed.status == "COMPLETED" and resumed.result["epochs"] == 2
    assert resumed.result["resumed_from_epoch"] == 1  # trained epoch 2 only
    want = read_weights(os.path.join(observers.run_directory(straight),
                                     "last.weights.h5"))
    got = read_weights(os.path.join(observers.run_directory(resumed),
                                    "last.weights.h5"))
    assert sorted(got) == sorted(want) and len(want) > 2
    for name, value in want.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
