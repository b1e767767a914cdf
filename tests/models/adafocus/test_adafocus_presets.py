"""Tests for the AdaFocusV2 presets: names, paper constants, weights from
paths (never downloaded) and the errors."""

import os
import tempfile

import keras
import numpy as np
import pytest

from deltasparse.models.adafocus import ADAFOCUS_V2_PRESETS
from deltasparse.models.adafocus import AdaFocusV2
from deltasparse.models.adafocus import build_local_network


def test_preset_table():
    assert sorted(ADAFOCUS_V2_PRESETS) == sorted(
        [f"adafocus_v2_mobilenetv2_patch{p}" for p in (96, 128, 160, 192)]
        + [f"adafocus_v2_resnet50_patch{p}" for p in (96, 128, 160)])
    # Spec A1.3: 16 frames x 1.685 = 27.0 GFLOPs per video (README).
    spec = ADAFOCUS_V2_PRESETS["adafocus_v2_mobilenetv2_patch128"]
    assert round(16 * spec["paper_gflops_per_frame"], 1) == 27.0


def test_missing_weights_name_the_argument_and_the_download():
    with pytest.raises(FileNotFoundError, match="`glance_weights`.*"
                       "mobilenet_v2_weights_tf_dim_ordering"):
        AdaFocusV2.from_preset("adafocus_v2_mobilenetv2_patch128", 200,
                               glance_weights="/nonexistent/mobilenet.h5")
    with pytest.raises(FileNotFoundError, match="Received: local_weights="):
        build_local_network(96, weights="/nonexistent/resnet50.h5")


def test_unknown_preset():
    with pytest.raises(ValueError, match="Received: preset='adafocus_v3'"):
        AdaFocusV2.from_preset("adafocus_v3", 200)


@pytest.mark.slow
def test_local_weights_load_from_a_path():
    source = build_local_network(96)
    for weight in source.weights:
        weight.assign(np.random.default_rng(0).normal(
            size=weight.shape).astype("float32") * 0.01)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "resnet50_notop.weights.h5")
        source.save_weights(path)
        loaded = build_local_network(96, weights=path)
    for a, b in zip(source.weights, loaded.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))
    assert loaded.weights[0].path.startswith("local_network/")


@pytest.mark.slow
def test_frames_preprocessing_converts_inside_each_network():
    from deltasparse.data.video.augment import preprocess
    from deltasparse.models.adafocus import InputConversion
    from deltasparse.models.adafocus.input_conversion import TORCH_MEAN_RGB
    from deltasparse.models.adafocus.input_conversion import TORCH_STD_RGB

    local = build_local_network(32, frames_preprocessing="torch")
    assert local.name == "local_network"
    assert isinstance(local.layers[1], InputConversion)
    assert all(w.path.startswith("local_network/") for w in local.weights)
    raw = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype(
        "float32")
    torch_frames = (raw / 255 - np.array(TORCH_MEAN_RGB)) / np.array(
        TORCH_STD_RGB)
    inner = local.layers[-1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(local(torch_frames.astype("float32"))),
        keras.ops.convert_to_numpy(inner(preprocess(raw, "caffe"))),
        atol=1e-3)
    with pytest.raises(ValueError, match="Received: frames_preprocessing="):
        build_local_network(32, frames_preprocessing="imagenet")
