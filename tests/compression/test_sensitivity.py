"""Tests for `deltasparse.compression.sensitivity`: one weight pruned at a
time (element and filter), exact restore, the CSV and PNGs, resume, and
`keras_evaluate` against scikit-learn."""

import csv
import math

import keras
import numpy as np
import pytest
from sklearn.metrics import log_loss
from sklearn.metrics import top_k_accuracy_score

from deltasparse.compression.sensitivity import COLUMNS
from deltasparse.compression.sensitivity import keras_evaluate
from deltasparse.compression.sensitivity import layer_group
from deltasparse.compression.sensitivity import read_sensitivity_csv
from deltasparse.compression.sensitivity import sensitivity_analysis


def tiny_model():
    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.Conv3D(4, 3, name="conv2_block1_conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv2_block1_bn")(x)
    x = keras.layers.Conv3D(6, 1, name="conv3_block1_conv")(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    outputs = keras.layers.Dense(3, activation="softmax",
                                 name="classifier")(x)
    return keras.Model(inputs, outputs)


class Recorder:
    """An `evaluate` stand-in recording the zeros of every weight."""

    def __init__(self, model):
        self.paths = [w.path for w in model.weights]
        self.calls = []

    def __call__(self, model):
        self.calls.append({v.path: v.numpy().copy() for v in model.weights})
        return {"top1": len(self.calls) / 100, "top5": 1.0, "loss": 0.5}


def test_prunes_one_weight_at_a_time_and_restores_it(tmp_path):
    model = tiny_model()
    # BN gamma starts at ones: give it distinct values to rank.
    gamma = model.get_layer("conv2_block1_bn").gamma
    gamma.assign(np.linspace(0.1, 1.0, 4).astype("float32"))
    original = {v.path: v.numpy().copy() for v in model.weights}
    recorder = Recorder(model)
    rows = sensitivity_analysis(model, recorder, sparsities=(0.0, 0.5, 0.9),
                                progress=False)
    prunable = ["conv2_block1_conv/kernel", "conv2_block1_bn/gamma",
                "conv3_block1_conv/kernel", "classifier/kernel"]
    assert [(r["parameter"], r["sparsity"]) for r in rows] == [
        (p, s) for p in prunable for s in (0.0, 0.5, 0.9)]
    for row, seen in zip(rows, recorder.calls):
        for path, values in seen.items():
            if path == row["parameter"]:
                want = int(math.floor(row["sparsity"] * values.size + 0.5))
                assert int((values == 0).sum()) == want
                kept = values != 0
                np.testing.assert_array_equal(values[kept],
                                              original[path][kept])
            else:
                np.testing.assert_array_equal(values, original[path])
    for variable in model.weights:  # restored exactly
        np.testing.assert_array_equal(variable.numpy(),
                                      original[variable.path])


def test_filter_kind_zeroes_whole_output_filters():
    model = tiny_model()
    recorder = Recorder(model)
    sensitivity_analysis(model, recorder, sparsities=(0.5,),
                         weights="conv3_*", kind="filter", progress=False)
    (seen,) = recorder.calls
    kernel = seen["conv3_block1_conv/kernel"]
    original = model.get_layer("conv3_block1_conv").kernel.numpy()
    zero_filters = np.all(kernel == 0, axis=(0, 1, 2, 3))
    assert int(zero_filters.sum()) == 3
    norms = np.abs(original).sum(axis=(0, 1, 2, 3))
    assert set(np.flatnonzero(zero_filters)) == set(np.argsort(norms)[:3])


def test_csv_pngs_and_resume(tmp_path):
    model = tiny_model()
    first = Recorder(model)
    rows = sensitivity_analysis(model, first, sparsities=(0.0, 0.3),
                                weights=["conv2_block1_conv", "classifier"],
                                output_dir=tmp_path, progress=False)
    assert len(first.calls) == 4
    with open(tmp_path / "sensitivity.csv", newline="") as handle:
        assert next(csv.reader(handle)) == list(COLUMNS)
    assert read_sensitivity_csv(tmp_path / "sensitivity.csv") == rows
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["sensitivity_classifier.png", "sensitivity_conv2.png"]
    assert all((tmp_path / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    assert not list(tmp_path.glob("*tmp*"))

    again = Recorder(model)
    resumed = sensitivity_analysis(model, again, sparsities=(0.0, 0.3, 0.6),
                                   weights=["conv2_block1_conv", "classifier"],
                                   output_dir=tmp_path, progress=False)
    assert len(again.calls) == 2  # only the new sparsity 0.6
    assert resumed[:2] == rows[:2] and resumed[3:5] == rows[2:4]
    assert len(read_sensitivity_csv(tmp_path / "sensitivity.csv")) == 6


def test_layer_groups():
    assert layer_group("conv2_block1_1_conv/kernel") == "conv2"
    assert layer_group("backbone/conv5_block2_bn/gamma") == "conv5"
    assert layer_group("block_12_project/kernel") == "block_12"
    assert layer_group("classifier/kernel") == "classifier"


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "channel"}, "`kind` must be one of"),
    ({"sparsities": (0.5, 1.5)}, "`sparsities` must be fractions"),
    ({"sparsities": ()}, "must not be empty"),
    ({"weights": "conv9_*"}, r"Received: weights='conv9_\*'"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sensitivity_analysis(tiny_model(), lambda m: {}, progress=False,
                             **kwargs)


def test_evaluate_must_return_the_metrics():
    with pytest.raises(ValueError, match="`top1`, `top5` and `loss`"):
        sensitivity_analysis(tiny_model(), lambda m: {"top1": 1.0},
                             sparsities=(0.1,), progress=False)


def test_keras_evaluate_matches_scikit_learn():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(11, 7)).astype("float32")
    labels = rng.integers(0, 7, size=11)
    softmax = keras.Sequential([keras.Input((7,)),
                                keras.layers.Activation("softmax")])
    probabilities = softmax.predict_on_batch(logits).astype("float64")
    probabilities /= probabilities.sum(axis=-1, keepdims=True)
    want = {
        "top1": top_k_accuracy_score(labels, probabilities, k=1,
                                     labels=range(7)),
        "top5": top_k_accuracy_score(labels, probabilities, k=5,
                                     labels=range(7)),
        "loss": log_loss(labels, probabilities, labels=range(7)),
    }
    got = keras_evaluate((logits, labels), batch_size=4)(softmax)
    assert got == pytest.approx(want, rel=1e-5)
    identity = keras.Sequential([keras.Input((7,)),
                                 keras.layers.Activation("linear")])
    batches = [(logits[:6], np.eye(7)[labels[:6]]),
               (logits[6:], np.eye(7)[labels[6:]])]
    from_logits = keras_evaluate(batches, from_logits=True)(identity)
    assert from_logits == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="yielded no examples"):
        keras_evaluate([])(softmax)
