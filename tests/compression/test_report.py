"""The compression report: counts against NumPy, MACs against
`count_macs` and by hand, bytes, timing keys, JSON/Markdown, comparison."""

import json
import os

import keras
import numpy as np
import pytest

from deltasparse.compression.report import CompressionReport
from deltasparse.compression.report import compare_reports
from deltasparse.compression.report import compression_report
from deltasparse.compression.thinning import plan_filter_pruning
from deltasparse.compression.thinning import thin_model
from deltasparse.evaluation.flops import count_macs

CLIP = (4, 8, 8, 3)


def small_model(sparsity=0.0, seed=0):
    """Conv3D(8, 3x3x3, no bias) -> BN -> ReLU -> pool -> Dense(5), with
    the conv kernel's first `sparsity` of entries (flat order) zeroed."""
    keras.utils.set_random_seed(seed)
    clips = keras.Input(CLIP)
    x = keras.layers.Conv3D(8, 3, padding="same", use_bias=False,
                            name="conv")(clips)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling3D(name="pool")(x)
    model = keras.Model(clips, keras.layers.Dense(5, name="fc")(x),
                        name="small")
    conv = model.get_layer("conv")
    kernel = keras.ops.convert_to_numpy(conv.kernel).copy()
    flat = kernel.reshape(-1)
    flat[:int(round(sparsity * flat.size))] = 0
    conv.set_weights([flat.reshape(kernel.shape)])
    return model


def test_rows_and_totals_against_numpy():
    model = small_model(sparsity=0.75)
    report = compression_report(model, CLIP, timing_repeats=0)
    assert report.parameters == model.count_params()
    assert report.non_zero == sum(
        int(np.count_nonzero(keras.ops.convert_to_numpy(w)))
        for w in model.weights)
    rows = {(row["layer"], row["weight"]): row for row in report.rows}
    kernel = rows[("conv", "kernel")]
    assert kernel["parameters"] == 3 * 3 * 3 * 3 * 8 == 648
    assert kernel["non_zero"] == 648 - 486
    assert kernel["sparsity"] == pytest.approx(0.75)
    assert report.sparsity == pytest.approx(
        1 - report.non_zero / report.parameters)


def test_macs_and_non_zero_macs_by_hand():
    model = small_model(sparsity=0.75)
    report = compression_report(model, CLIP, timing_repeats=0)
    # conv: 4*8*8 positions x 8 filters x 27*3 weights; fc: 8 x 5.
    conv_macs, fc_macs = 4 * 8 * 8 * 8 * 81, 8 * 5
    assert report.macs == conv_macs + fc_macs == count_macs(
        model, (1,) + CLIP).total
    # The conv kernel keeps 25 % of its weights; the fc kernel is dense.
    assert report.non_zero_macs == conv_macs // 4 + fc_macs


def test_sparse_weights_compress_and_thinning_shrinks_every_figure():
    dense = compression_report(small_model(0.0), CLIP, timing_repeats=0)
    sparse = compression_report(small_model(0.9), CLIP, timing_repeats=0)
    assert sparse.keras_bytes > 0 and dense.gzip_weights_bytes > 0
    assert sparse.gzip_weights_bytes < dense.gzip_weights_bytes - 1000
    model = small_model(0.0)
    thinned = thin_model(model, plan_filter_pruning(model, 0.5))
    after = compression_report(thinned, CLIP, timing_repeats=0)
    assert after.parameters == dense.parameters - (4 * 81 + 4 * 4 + 4 * 5)
    assert after.macs == 4 * 8 * 8 * 4 * 81 + 4 * 5
    assert after.keras_bytes < dense.keras_bytes


def test_timing_keys_and_per_clip():
    report = compression_report(small_model(), CLIP, timing_repeats=1,
                                batch_sizes=(1, 2))
    assert sorted(report.milliseconds) == ["1", "2"]
    assert all(value > 0 for value in report.milliseconds.values())
    assert report.milliseconds_per_clip(2) == pytest.approx(
        report.milliseconds["2"] / 2)
    assert report.milliseconds_per_clip(8) is None


def test_json_markdown_and_atomic_files(tmp_path):
    report = compression_report(small_model(0.5), CLIP, timing_repeats=0,
                                output_dir=str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["compression_report.json",
                                            "compression_report.md"]
    with open(tmp_path / "compression_report.json") as handle:
        loaded = CompressionReport.from_config(json.load(handle))
    assert loaded == report
    markdown = (tmp_path / "compression_report.md").read_text()
    assert "| parameters | " in markdown
    assert "| layer | weight | parameters | non_zero | sparsity |" in markdown
    assert markdown == report.to_markdown()
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(report))
    assert restored == report


def hand_report(name, parameters, milliseconds):
    return CompressionReport(
        name=name, input_shape=CLIP, rows=[], parameters=parameters,
        non_zero=parameters // 2, sparsity=0.5, keras_bytes=4 * parameters,
        gzip_weights_bytes=2 * parameters, macs=10 * parameters,
        non_zero_macs=5 * parameters, milliseconds=milliseconds,
        backend="tensorflow")


def test_compare_reports_ratios():
    before = hand_report("base", 1000, {"1": 30.0})
    after = hand_report("thin", 250, {"1": 10.0})
    table = compare_reports(before, after.get_config())
    lines = table.splitlines()
    assert lines[0] == "| measure | base | thin | before / after |"
    assert "| parameters | 1,000 | 250 | 4 |" in lines
    assert "| MACs per clip (counted) | 10,000 | 2,500 | 4 |" in lines
    assert "| ms/clip, batch 1 (measured) | 30 | 10 | 3 |" in lines
    assert "| sparsity | 0.5 | 0.5 | - |" in lines
    untimed = hand_report("untimed", 250, {})
    assert "| ms/clip, batch 1 (measured) | 30 | - | - |" in compare_reports(
        before, untimed).splitlines()


def test_errors():
    model = small_model()
    with pytest.raises(ValueError, match="ONE clip without the batch"):
        compression_report(model, (1,) + CLIP)
    with pytest.raises(ValueError, match="`timing_repeats` must be"):
        compression_report(model, CLIP, timing_repeats=-1)
    with pytest.raises(ValueError, match="`batch_sizes` must be"):
        compression_report(model, CLIP, batch_sizes=(0,))
    with pytest.raises(ValueError, match="`before` must be a Compression"):
        compare_reports("report.json", hand_report("a", 1, {}))


def test_file_size_leaves_the_optimizer_state_out():
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256)])
    plain = compression_report(model, (64,), timing_repeats=1,
                               batch_sizes=(1,)).keras_bytes
    model.compile(keras.optimizers.Adam(), "mse")
    model.fit(np.zeros((2, 64)), np.zeros((2, 256)), verbose=0)
    trained = compression_report(model, (64,), timing_repeats=1,
                                 batch_sizes=(1,)).keras_bytes
    # Adam's two moments would triple the file: it stays the same size.
    assert abs(trained - plain) < 0.05 * plain
    assert model.optimizer is not None and model.optimizer.iterations > 0
