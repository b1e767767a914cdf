import json
import os

import keras
import numpy as np
import pytest

from deltasparse.export import export_model
from deltasparse.export.formats import FLOAT_FORMATS
from deltasparse.export.formats import FORMATS
from deltasparse.export.formats import QUANTIZED_FORMATS
from deltasparse.export.formats import REPORT_FILE
from deltasparse.export.tflite_inspection import TFLiteRunner
from deltasparse.models.sparsity_slots import find_accumulator
from deltasparse.models.sparsity_slots import sparsity_statistics_disabled
from tests.export.conftest import CLIP_SHAPE
from tests.export.conftest import calibrated_video_model
from tests.export.conftest import clips
from tests.export.conftest import tiny_clip_model


def test_statistics_switch(delta_model):
    accumulator = find_accumulator(delta_model)
    x = clips(2, seed=3)
    accumulator.reset()
    with sparsity_statistics_disabled(delta_model):
        delta_model(x, training=False)
    assert accumulator.read()["frames"] == 0.0
    with pytest.raises(RuntimeError):
        with sparsity_statistics_disabled(delta_model):
            raise RuntimeError("body fails")
    assert accumulator.statistics_enabled
    delta_model(x, training=False)
    assert accumulator.read()["frames"] == 2 * (CLIP_SHAPE[0] - 1)


@pytest.fixture(scope="module")
def delta_export(delta_model, tmp_path_factory):
    accumulator = find_accumulator(delta_model)
    accumulator.reset()
    output = tmp_path_factory.mktemp("delta_export")
    report = export_model(delta_model, str(output),
                          sample_clips=clips(6, seed=1),
                          representative_clips=clips(8, seed=2),
                          class_names=["a", "b", "c"], preprocessing="tf",
                          progress=False)
    return report, output, accumulator.read()


def test_delta_model_exports_every_format(delta_export, delta_model):
    report, output, _ = delta_export
    assert list(report.formats) == list(FORMATS)
    for name, result in report.formats.items():
        assert result.error is None, (name, result.error)
        assert os.path.exists(result.path) and result.size_bytes > 0
        assert np.isfinite(result.max_abs_diff)
        assert result.flex_ops == []
    for name in FLOAT_FORMATS:
        assert report.formats[name].passed
        assert report.formats[name].max_abs_diff <= 1e-4
    assert report.float_formats_passed
    for name in QUANTIZED_FORMATS:
        # Quantization error of a random tiny model is large (the delta
        # layers' rounding amplifies it); the verdict follows the numbers.
        result = report.formats[name]
        assert result.max_abs_diff > 1e-4
        assert result.passed == (result.max_abs_diff <= 0.1
                                 and result.top1_agreement >= 0.9)
    # The reference is not trivial: clips get different probabilities.
    reference = np.asarray(delta_model.predict_on_batch(clips(6, seed=1)))
    assert reference.std(axis=0).max() > 1e-3
    # Independent check of one file, outside export_model.
    tflite = TFLiteRunner(report.formats["tflite_float32"].path)
    np.testing.assert_allclose(tflite(clips(6, seed=1)), reference,
                               atol=1e-4)
    assert report.formats["tflite_int8"].ops_set == "TFLITE_BUILTINS"
    assert os.path.isfile(output / "model_info.json")


def test_delta_int8_reports_float_ops(delta_export, delta_model):
    result = delta_export[0].formats["tflite_int8"]
    ops = {op["op"] for op in result.float_ops}
    assert "QUANTIZE" not in ops and "DEQUANTIZE" not in ops
    assert set(result.float_layers) == {op["layer"] for op in result.float_ops}
    # Ops are attributed to the model's own layers.
    names = {layer.name for layer in delta_model._flatten_layers(
        include_self=False, recursive=True)}
    assert result.float_layers and set(result.float_layers) <= names


def test_report_json_and_statistics_survive(delta_export, delta_model):
    report, output, during = delta_export
    # The export itself added nothing to the Keras model's statistics.
    assert during["frames"] == 0.0
    with open(output / REPORT_FILE) as handle:
        data = json.load(handle)
    assert data["passed"] is report.passed
    assert data["float_formats_passed"] is True
    assert data["input_shape"] == [None, *CLIP_SHAPE]
    assert data["formats"]["saved_model"]["max_abs_diff"] == pytest.approx(
        report.formats["saved_model"].max_abs_diff)
    assert data["class_names"] == ["a", "b", "c"]
    # And they still count afterwards.
    accumulator = find_accumulator(delta_model)
    accumulator.reset()
    delta_model.predict_on_batch(clips(3, seed=4))
    totals = accumulator.read()
    assert totals["frames"] == 3 * (CLIP_SHAPE[0] - 1)
    assert (totals["n"] > 0).all()


def test_l1_model_exports(tmp_path):
    model = calibrated_video_model("mobilenet_l1", seed=1)
    report = export_model(model, str(tmp_path),
                          formats=("tflite_float32",),
                          sample_clips=clips(4, seed=5), progress=False)
    result = report.formats["tflite_float32"]
    assert result.error is None and result.passed
    assert result.max_abs_diff <= 1e-4


def test_flex_ops_are_reported(tmp_path):
    inputs = keras.Input((4, 8, 8, 4))
    x = keras.layers.Conv3D(4, 3, groups=2, padding="same")(inputs)
    x = keras.layers.GlobalAveragePooling3D()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    sample = np.random.default_rng(0).normal(size=(3, 4, 8, 8, 4))
    report = export_model(model, str(tmp_path), formats=["tflite_float32"],
                          sample_clips=sample, progress=False)
    result = report.formats["tflite_float32"]
    assert "SELECT_TF_OPS" in result.ops_set
    assert "CONV_3D" in result.builtins_error  # builtin kernel rejects groups
    assert "FlexConv3D" in result.flex_ops
    assert result.size_bytes > 0
    if result.error is None:  # an interpreter with the TF Select runtime
        assert result.passed
    else:  # this interpreter cannot run Flex ops: not checked, not passed
        assert "Select TensorFlow op" in result.error and not result.passed


def test_argument_errors(tmp_path, delta_model):
    with pytest.raises(ValueError, match="`formats`"):
        export_model(delta_model, str(tmp_path), formats=["onnx"])
    with pytest.raises(ValueError, match="`tolerance`"):
        export_model(delta_model, str(tmp_path), tolerance=-1.0)
    with pytest.raises(ValueError, match="`sample_clips` must have"):
        export_model(delta_model, str(tmp_path),
                     sample_clips=np.zeros((2, 4, 16, 16, 3)))
    with pytest.raises(ValueError, match="`clip_length`"):
        export_model(delta_model, str(tmp_path))


def test_int8_with_integer_inputs_and_outputs(tmp_path):
    model = tiny_clip_model(activation=None)  # logits
    sample = np.random.default_rng(0).uniform(-1, 1, (16, 2, 8, 8, 3))
    report = export_model(model, str(tmp_path), formats=["tflite_int8"],
                          sample_clips=sample, int8_io=True, progress=False)
    result = report.formats["tflite_int8"]
    assert result.error is None
    runner = TFLiteRunner(result.path)
    assert np.dtype(runner.input["dtype"]) == np.int8
    # Dequantized outputs are close to the float model's logits.
    assert result.max_abs_diff < 0.1 * np.abs(
        model.predict_on_batch(sample)).max()
