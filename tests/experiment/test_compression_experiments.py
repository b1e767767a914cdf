"""The compression glue and `experiments/ucf_compress.py`.

Config checks are fast; the end-to-end runs use the tiny synthetic dataset
and the tiny Conv3D preset `tiny3d` of `test_clip3d_experiments`, with 1
base epoch and 1 fine-tuning epoch of 2 batches. Each method's glue runs end to end at that size.
"""

import json
import os

import keras
import numpy as np
import pytest

from deltasparse.experiment import compression_experiments as glue
from deltasparse.experiment import observers
from deltasparse.experiment.errors import ConfigurationError
from tests.experiment.test_clip3d_experiments import EXPERIMENTS
from tests.experiment.test_clip3d_experiments import TINY_DATA
from tests.experiment.test_clip3d_experiments import tiny_root  # noqa: F401
from tests.experiments.test_ucf_experiments import load_script
from tests.experiments.test_ucf_experiments import merged_config
from tests.training.test_clip3d_protocol import TinyClipBackbone


def test_named_configs_mirror_the_seed_schedules(tmp_path, monkeypatch):
    script = load_script("ucf_compress", tmp_path, monkeypatch)
    assert set(glue.METHODS) | {"demo"} <= set(script.ex.named_configs)
    base = merged_config(script)
    assert base["method"] is None and base["weights"] is None
    assert base["architecture"] == "resnet3d_18" and base["lr"] == 0.1
    prune = merged_config(script, ["prune"])
    assert (prune["method"], prune["pruning_schedule"]) == ("prune", "seed")
    assert merged_config(script, ["filter_prune"])["fraction"] == 0.5
    qat = merged_config(script, ["qat"])
    assert {k: qat[k] for k in ("weight_bits", "activation_bits",
                                "per_channel", "symmetric", "decay")} == {
        "weight_bits": 4, "activation_bits": 4, "per_channel": True,
        "symmetric": False, "decay": 0.999}
    assert qat["finetune_epochs"]["qat"] == 3  # epochs 0-2
    ptq = merged_config(script, ["ptq"])
    assert (ptq["weight_bits"], ptq["activation_bits"]) == (8, None)
    kd = merged_config(script, ["kd"])
    assert {k: kd[k] for k in ("temperature", "distill_weight",
                               "student_weight", "num_training_clips")} == {
        "temperature": 5.0, "distill_weight": 0.7, "student_weight": 0.3,
        "num_training_clips": 1000}
    for method in glue.METHODS:  # demo combines with every method
        demo = merged_config(script, ["demo", method])
        assert demo["method"] == method and demo["train_base"]
        assert demo["dataset"] == "synthetic" and demo["image_size"] == 32
        assert demo["finetune_epochs"][method] <= 3
    with open(os.path.join(EXPERIMENTS, "ucf_compress.py")) as handle:
        code = [line for line in handle.read().split('"""', 2)[2].splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert len(code) <= 40


@pytest.fixture(scope="module")
def prune_config(tmp_path_factory):
    with pytest.MonkeyPatch.context() as monkeypatch:
        script = load_script("ucf_compress", tmp_path_factory.mktemp("r"),
                             monkeypatch)
        return merged_config(script, ["prune"])


@pytest.fixture()
def config(prune_config):
    return json.loads(json.dumps(prune_config))


@pytest.mark.parametrize("key, value, message", [
    ("method", None, "`method` must be one of"),
    ("weights", None, "`weights` .* is required"),
    ("pruning_schedule", "agp", "pruning_schedule"),
    ("sparsity", 1.5, "`sparsity`"), ("fraction", 0.0, "`fraction`"),
    ("weight_bits", 1, "`weight_bits`"),
    ("activation_bits", None, "`activation_bits`"),
    ("decay", 1.0, "`decay`"), ("calibration_steps", 0, "calibration_steps"),
    ("temperature", 0, "`temperature`"),
    ("distill_weight", -1, "`distill_weight`"),
    ("num_training_clips", 0, "num_training_clips"),
    ("architecture", "resnet3d_7", "`architecture`"),
    ("finetune_epochs", {"qat": 1}, "finetune_epochs"),
    ("image_size", 0, "`image_size`")])
def test_bad_config_values_name_their_key(config, key, value, message):
    good = dict(config, weights="trained.weights.h5")
    assert glue.check_compression_config(good)["method"] == "prune"
    with pytest.raises(ConfigurationError, match=message):
        glue.check_compression_config(dict(good, **{key: value}))


def test_ptq_allows_weight_only_and_kd_checks_the_student(config):
    good = dict(config, weights="w.h5", method="ptq", activation_bits=None)
    assert glue.check_compression_config(good)["activation_bits"] is None
    with pytest.raises(ConfigurationError, match="`student`"):
        glue.check_compression_config(dict(config, weights="w.h5",
                                           method="kd", student="x"))


def test_base_cache_is_keyed_by_the_base_config_only(config, tmp_path):
    first = glue.base_directory("ucf_compress", config)
    for key, value in (("method", "kd"), ("temperature", 2.0),
                       ("finetune_epochs", {"kd": 1})):
        assert glue.base_directory("ucf_compress",
                                   dict(config, **{key: value})) == first
    assert glue.base_directory("ucf_compress", dict(config, lr=1.0)) != first
    cached = glue.base_directory("x", dict(config, base_cache=str(tmp_path)))
    assert os.path.dirname(cached) == str(tmp_path)


def test_measure_model_counts_by_hand():
    inputs = keras.Input((2, 4, 4, 3))
    x = keras.layers.Conv3D(2, 1, use_bias=False, name="conv")(inputs)
    outputs = keras.layers.Dense(3, name="dense")(
        keras.layers.GlobalAveragePooling3D()(x))
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((1, 1, 1, 3, 2), "float32")
    kernel[..., 0, 0] = 1.0  # 1 non-zero of 6
    model.get_layer("conv").set_weights([kernel])
    dense = model.get_layer("dense")
    dense.set_weights([np.ones((2, 3), "float32"), np.zeros(3, "float32")])
    figures, report = glue.measure_model(model, (1, 2, 4, 4, 3), repeats=2)
    assert figures["parameters"] == 6 + 6 + 3
    assert figures["nonzero_parameters"] == 1 + 6
    # Conv 1x1x1: 2*4*4 positions x 3 x 2 = 192; Dense 2 x 3 = 6.
    assert figures["macs"] == 192 + 6
    assert figures["bytes_keras"] > 0 and figures["ms_per_clip"] > 0
    assert report is not None  # kernel densities 1/6 and 1:
    assert figures["nonzero_macs"] == 192 // 6 + 6
    table = glue.format_comparison("x", figures, figures)
    assert "| macs | 198 | 198 | 1.000 |" in table


@pytest.fixture
def tiny_preset(monkeypatch):
    from deltasparse.models import video_classifier

    entry = {"metadata": {"description": "test", "path": "tiny3d"},
             "backbone": {}}
    monkeypatch.setitem(video_classifier.PRESET_FAMILIES, "tiny3d",
                        TinyClipBackbone)
    monkeypatch.setitem(video_classifier.PRESETS, "tiny3d", entry)


def tiny_updates(root, method, **extra):
    synthetic = {"cache_dir": os.path.dirname(os.path.dirname(
        os.path.dirname(root))), **TINY_DATA}
    return {"architecture": "tiny3d", "student": "tiny3d",
            "synthetic": synthetic, "steps_per_epoch": 2, "epochs": 1,
            "finetune_epochs": {method: 1}, "batch_size": 2,
            "calibration_steps": 1, "timing_repeats": 1, "verbose": 0,
            "seed": 1, "run_eagerly": True, **extra}


def test_tiny_kd_run_end_to_end_and_reuses_the_base(tiny_root, tiny_preset,
                                                    tmp_path, monkeypatch):
    script = load_script("ucf_compress", tmp_path, monkeypatch)
    run = script.ex.run(named_configs=["demo", "kd"],
                        config_updates=tiny_updates(tiny_root, "kd"))
    assert run.status == "COMPLETED"
    result = run.result
    assert result["method"] == "kd" and result["epochs"] == 1
    for stage in ("before", "after"):
        for figure in glue.FIGURES:
            assert f"{stage}.{figure}" in result, (stage, figure)
        assert 0.0 <= result[f"{stage}.video_accuracy"] <= 1.0
    # Teacher and student are both tiny3d: same size, the student retrained.
    assert result["after.parameters"] == result["before.parameters"]
    assert run.info["base"]["resumed_from_epoch"] == 0
    assert run.info["compression"] == {"teacher": "tiny3d",
                                       "student": "tiny3d"}
    folder = observers.run_directory(run)
    with open(os.path.join(folder, "compression.json")) as handle:
        saved = json.load(handle)
    assert saved["after"]["video_accuracy"] == result["after.video_accuracy"]
    student = keras.saving.load_model(os.path.join(folder, "model.keras"))
    assert student.count_params() == result["after.parameters"]
    assert os.path.isfile(os.path.join(folder, "compression.md"))
    # Another method's demo reuses the trained base (same base config).
    # No fine-tuning: the untrained student is measured as it is.
    again = script.ex.run(named_configs=["demo", "kd"], config_updates=dict(
        tiny_updates(tiny_root, "kd"), finetune_epochs={"kd": 0},
        temperature=2.0))
    assert again.info["base"]["resumed_from_epoch"] == 1
    assert again.result["epochs"] == 0
    assert again.result["before.video_accuracy"] == pytest.approx(
        result["before.video_accuracy"])


@pytest.mark.parametrize("method", ["prune", "filter_prune", "qat", "ptq"])
def test_tiny_method_glue(method, tiny_root, tiny_preset, tmp_path,
                          monkeypatch):
    script = load_script("ucf_compress", tmp_path, monkeypatch)
    run = script.ex.run(named_configs=["demo", method],
                        config_updates=tiny_updates(tiny_root, method))
    assert run.status == "COMPLETED"
    result = run.result
    assert result["method"] == method
    if method == "prune":
        assert result["after.nonzero_parameters"] < result[
            "before.nonzero_parameters"]
    if method == "filter_prune":
        assert result["after.parameters"] <= result["before.parameters"]
    if method in ("qat", "ptq"):  # ptq is weight-only: stock layers
        saved = keras.saving.load_model(os.path.join(
            observers.run_directory(run), "model.keras"))
        quantized = [layer.name for layer in saved.layers
                     if type(layer).__name__.startswith("Quantized")]
        assert bool(quantized) == (method == "qat"), quantized


def test_build_model_takes_3d_and_per_frame_presets():
    config = dict(image_size=32, clip_length=4, bn_momentum=None,
                  dropout=None)
    per_frame = glue.build_model(config, "mobilenet_baseline", 3)
    assert per_frame.input_shape[2:] == (32, 32, 3)
    assert per_frame.output_shape == (None, 3)
    assert "mobilenet_baseline" in glue.list_architectures()
    assert "resnet3d_101" in glue.list_architectures()


def test_tiny_sensitivity_command_writes_the_seed_csv(tiny_root, tiny_preset,
                                                      tmp_path, monkeypatch):
    script = load_script("ucf_compress", tmp_path, monkeypatch)
    weight = "classifier"
    updates = tiny_updates(tiny_root, "prune", sensitivity_sparsities=[
        0.0, 0.5], sensitivity_weights=[weight])
    run = script.ex.run("sensitivity", named_configs=["demo"],
                        config_updates=updates)
    assert run.status == "COMPLETED"
    assert run.result["rows"] == 2 and run.result["weights"] == 1
    with open(run.result["csv"]) as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "parameter,sparsity,top1,top5,loss"
    assert len(lines) == 3 and all(line.split(",")[0].startswith(weight)
                                   for line in lines[1:])
    bad = dict(updates, sensitivity_sparsities=[1.5])
    with pytest.raises(ConfigurationError, match="sensitivity_sparsities"):
        script.ex.run("sensitivity", named_configs=["demo"],
                      config_updates=bad)
