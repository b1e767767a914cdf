"""The AdaFocusV2 experiment glue and its three scripts.

The end-to-end run uses a tiny synthetic focus set (2 classes, 3 training
and 1 test video per class, 4 frames of 32x32), 4 segments, small networks
and 2 epochs, in a temporary `$DELTASPARSE_RESULTS`.
"""

import json
import os

import numpy as np
import pytest

from deltasparse.experiment import adafocus_experiments as glue
from deltasparse.experiment import observers
from deltasparse.experiment.errors import ConfigurationError
from deltasparse.experiment.errors import DataNotFoundError
from tests.experiments.test_ucf_experiments import load_script
from tests.experiments.test_ucf_experiments import merged_config

SCRIPTS = {"adafocus_activitynet": ("activitynet", 0.002, 32),
           "adafocus_fcvid": ("fcvid", 0.002, 32),
           "adafocus_minikinetics": ("mini_kinetics", 0.003, 48)}
TINY_DATA = dict(classes=2, train_per_class=3, test_per_class=1, frames=4,
                 size=32, object_size=8, num_distractors=1)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts_hold_the_papers_values_and_a_demo(name, tmp_path,
                                                   monkeypatch):
    dataset, lr, batch = SCRIPTS[name]
    script = load_script(name, tmp_path, monkeypatch)
    config = merged_config(script)
    paper = {"dataset": dataset, "lr": lr, "batch_size": batch,
             "num_segments": 16, "image_size": 224, "epochs": 50,
             "momentum": 0.9, "weight_decay": 1e-4, "dropout": 0.2,
             "glance_lr_ratio": 0.5, "policy_lr_ratio": 0.1,
             "classifier_lr_ratio": 5.0, "policy_hidden": 2048,
             "frame_order": "prefix_covering", "eval_every": 5,
             "eval_last": 10, "preset": "adafocus_v2_mobilenetv2_patch128",
             "scales": [1.0, 0.875, 0.75, 0.66], "preprocessing": "torch"}
    assert {k: config[k] for k in paper} == paper
    assert merged_config(script, ["resnet50_patch160"])["preset"] == (
        "adafocus_v2_resnet50_patch160")
    demo = merged_config(script, ["demo"])
    assert demo["dataset"] == "synthetic_focus" and demo["preset"] == "small"
    assert demo["random_patch_evaluation"] is True


BASE = dict(glue.DEMO, verbose=0, seed=1, data_root=None, train_list=None,
            val_list=None, class_file="classInd.txt", frame_template=None,
            glance_weights=None, local_weights=None, frame_order=None,
            horizontal_flip=True, random_patch_loss=True, momentum=0.9,
            weight_decay=1e-4, glance_lr_ratio=0.5, policy_lr_ratio=0.1,
            classifier_lr_ratio=5.0, dropout=0.2, eval_weights="best",
            steps_per_epoch=None, checkpoint_keep=2, exit_criterion="entropy",
            exit_train_videos=None)


@pytest.mark.parametrize("key, value, message", [
    ("dataset", "kinetics", "dataset"), ("frame_order", "reverse",
                                         "frame_order"),
    ("scales", [1.5], "scales"), ("num_segments", 0, "num_segments"),
    ("momentum", 1.0, "momentum"), ("exit_criterion", "margin",
                                    "exit_criterion"),
    ("preset", "adafocus_v3", "preset"), ("lr", -1, "lr")])
def test_bad_config_values_name_their_key(key, value, message):
    with pytest.raises(ConfigurationError, match=message):
        glue.check_adafocus_config(dict(BASE, **{key: value}))
    assert glue.check_adafocus_config(BASE)["num_segments"] == 8


def test_missing_list_files_say_where_to_get_them(tmp_path):
    config = dict(BASE, dataset="fcvid", data_root=str(tmp_path),
                  class_file=None)
    with pytest.raises(DataNotFoundError,
                       match="fcvid_train_split.txt.*AR-Net.*with demo"):
        glue.load_videos(config)


def test_resolve_weights(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(DataNotFoundError, match="best.weights.h5"):
        glue.resolve_weights({"weights": str(run)}, "x")
    (run / "last.weights.h5").write_bytes(b"")
    assert glue.resolve_weights({"weights": str(run)}, "x").endswith(
        "last.weights.h5")
    (run / "best.weights.h5").write_bytes(b"")
    assert glue.resolve_weights({"weights": str(run)}, "x").endswith(
        "best.weights.h5")
    with pytest.raises(DataNotFoundError, match="not found"):
        glue.resolve_weights({"weights": str(run / "nope.h5")}, "x")


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    from deltasparse.data.datasets.synthetic_focus import (
        ensure_synthetic_focus)

    cache = str(tmp_path_factory.mktemp("cache"))
    ensure_synthetic_focus(cache_dir=cache, **TINY_DATA)
    return cache


def tiny_updates(cache):
    return {"synthetic": dict(TINY_DATA, cache_dir=cache),
            "small_networks": {"patch_size": 16, "glance_input_size": 8,
                               "glance_widths": [4], "local_widths": [4, 8]},
            "image_size": 32, "num_segments": 4, "policy_hidden": 8,
            "classifier_hidden": 8, "epochs": 2, "batch_size": 2,
            "eval_every": 1, "eval_last": 0, "eval_batch_size": 2,
            "verbose": 0, "seed": 1}


def test_tiny_demo_trains_evaluates_and_draws_the_early_exit_curve(
        tiny_cache, tmp_path, monkeypatch):
    script = load_script("adafocus_activitynet", tmp_path, monkeypatch)
    updates = tiny_updates(tiny_cache)
    run = script.ex.run(named_configs=["demo"], config_updates=updates)
    assert run.status == "COMPLETED"
    result = run.result
    assert result["videos"] == 2 and 0.0 <= result["top1"] <= 1.0
    assert result["gflops_per_video"] == pytest.approx(
        4 * result["gflops_per_frame"])
    assert result["epochs"] == 2 and result["best_epoch"] in (1, 2)
    for kind in ("learned", "random"):
        assert 0.0 <= result[f"{kind}_patch.top1"] <= 1.0
        assert 0.0 <= result[f"{kind}_patch.object_coverage"] <= 1.0
    folder = observers.run_directory(run)
    for name in ("best.weights.h5", "last.weights.h5", "focus.json",
                 "evaluation/evaluation.json"):
        assert os.path.isfile(os.path.join(folder, name)), name
    with open(os.path.join(folder, "metrics.json")) as handle:
        metrics = json.load(handle)
    assert len(metrics["val_top1"]["values"]) == 2  # evaluated every epoch

    again = script.ex.run("evaluate", named_configs=["demo"],
                          config_updates=dict(updates, weights=folder))
    assert again.status == "COMPLETED"
    assert again.result["top1"] == pytest.approx(result["top1"])

    curve = script.ex.run("early_exit", named_configs=["demo"],
                          config_updates=dict(updates, weights=folder))
    assert curve.status == "COMPLETED"
    points = curve.result["points"]
    assert curve.result["train_videos"] == 6
    assert points[-1]["expected_gflops"] == pytest.approx(
        result["gflops_per_video"], rel=1e-6)
    assert all(p["expected_gflops"] <= points[-1]["expected_gflops"] + 1e-9
               for p in points)
    curve_folder = observers.run_directory(curve)
    assert os.path.isfile(os.path.join(curve_folder, "early_exit.csv"))
    assert os.path.isfile(os.path.join(curve_folder, "early_exit.png"))


def test_collect_step_logits_random_positions_differ_from_the_policy(
        tiny_cache):
    config = glue.check_adafocus_config(dict(BASE, **tiny_updates(
        tiny_cache)))
    train, val, names, root = glue.load_videos(config)
    model = glue.build_model(config, len(names))
    data = glue.AdaFocusData(config, train, val, root)
    policy = glue.collect_step_logits(model, data.views("val"))
    random = glue.collect_step_logits(model, data.views("val"), "random")
    assert policy["step_logits"].shape == (2, 4, 2)
    assert policy["positions"].shape == random["positions"].shape == (2, 4, 2)
    assert not np.allclose(policy["positions"], random["positions"])
    again = glue.collect_step_logits(model, data.views("val"), "random")
    np.testing.assert_array_equal(again["positions"], random["positions"])


def test_optimizer_groups_are_the_originals(tiny_cache):
    config = glue.check_adafocus_config(dict(BASE, **tiny_updates(
        tiny_cache)))
    model = glue.build_model(config, 2)
    optimizer = glue.make_optimizer(config, model, steps_per_epoch=3)
    optimizer.build(model.trainable_variables)
    groups = {}
    for path, lr_multiplier, decay_multiplier in (
            optimizer.variable_multipliers()):
        groups.setdefault(path.split("/")[0], set()).add(lr_multiplier)
        assert decay_multiplier == 1.0  # weight decay on every parameter
    assert groups == {"glance_network": {0.5}, "glance_head": {0.5},
                      "policy_network": {0.1}, "classifier": {5.0},
                      "local_network": {1.0}, "local_head": {1.0}}
    assert float(optimizer.learning_rate) == pytest.approx(config["lr"])
