"""Tests of `ResNet3DBackbone` (Hara et al. 2018) and its presets."""

import keras
import numpy as np
import pytest

from deltasparse.models import VideoClassifier
from deltasparse.models.resnet3d import ChannelZeroPadding
from deltasparse.models.resnet3d import ResNet3DBackbone
from deltasparse.models.resnet3d.resnet3d_presets import backbone_presets
from tests.models.resnet3d.reference import check_keras_round_trip
from tests.models.resnet3d.reference import check_one_training_step
from tests.models.resnet3d.reference import check_parameter_counts
from tests.models.resnet3d.reference import layer_outputs
from tests.models.resnet3d.reference import max_pool3d

# preset -> (backbone parameters, with a 400-class classifier), as
# `count_params` counts them (BatchNormalization moving statistics
# included). The trainable counts (PyTorch's) are checked by formula.
PINNED = {
    "resnet3d_10": (14_229_568, 14_434_768),
    "resnet3d_18": (33_037_888, 33_243_088),
    "resnet3d_34": (63_354_944, 63_560_144),
    "resnet3d_50": (46_252_096, 47_071_696),
    "resnet3d_101": (85_350_464, 86_170_064),
    "resnet3d_152": (117_555_264, 118_374_864),
    "resnet3d_200": (126_779_456, 127_599_056),
}
DEEP = ("resnet3d_101", "resnet3d_152", "resnet3d_200")


@pytest.mark.parametrize("preset", [
    pytest.param(name, marks=pytest.mark.slow) if name in DEEP else name
    for name in PINNED])
def test_preset_shapes_and_parameter_counts(preset):
    arguments = backbone_presets[preset]["backbone"]
    backbone = ResNet3DBackbone(clip_length=16, **arguments)
    features = 512 if arguments["depth"] < 50 else 2048
    # 16x112x112: conv1 (16, 56, 56), pool (8, 28, 28), then /2 per stage.
    assert tuple(backbone.output.shape) == (None, 1, 4, 4, features)
    check_parameter_counts(backbone, PINNED[preset], **arguments)


def test_every_preset_is_pinned():
    assert sorted(backbone_presets) == sorted(PINNED)
    assert {e["metadata"]["path"] for e in backbone_presets.values()} == {
        "resnet3d"}
    assert {k: v["backbone"]["shortcut"] for k, v in backbone_presets.items()
            } == {"resnet3d_10": "A", "resnet3d_18": "A", "resnet3d_34": "A",
                  "resnet3d_50": "B", "resnet3d_101": "B",
                  "resnet3d_152": "B", "resnet3d_200": "B"}


def test_keras_applications_layer_names_and_projections_where_shapes_change():
    names = {layer.name for layer in ResNet3DBackbone(
        depth=50, shortcut="B", image_size=(32, 32)).layers}
    assert {"conv1_pad", "conv1_conv", "conv1_bn", "conv1_relu",
            "pool1_pad", "pool1_pool", "conv2_block1_1_conv",
            "conv2_block1_2_conv", "conv2_block1_3_bn", "conv2_block1_add",
            "conv2_block1_out", "conv5_block3_out"} <= names
    # 64 -> 256 channels in conv2_block1, stride 2 in conv{3,4,5}_block1.
    assert sorted(n for n in names if n.endswith("_0_conv")) == [
        f"conv{s}_block1_0_conv" for s in (2, 3, 4, 5)]
    basic = {layer.name for layer in ResNet3DBackbone(
        depth=18, shortcut="B", image_size=(32, 32)).layers}
    assert sorted(n for n in basic if n.endswith("_0_conv")) == [
        f"conv{s}_block1_0_conv" for s in (3, 4, 5)]
    assert "conv3_block1_1_pad" in basic  # the strided 3x3x3 of a basic block
    shortcut_a = {layer.name for layer in ResNet3DBackbone(
        depth=18, shortcut="A", image_size=(32, 32)).layers}
    assert not any(n.endswith("_0_conv") for n in shortcut_a)
    assert sorted(n for n in shortcut_a if n.endswith(("_0_subsample",
                                                        "_0_pad"))) == sorted(
        f"conv{s}_block1_0_{k}" for s in (3, 4, 5) for k in ("pad",
                                                            "subsample"))


def test_shortcut_a_is_strided_subsample_plus_zero_channels():
    backbone = ResNet3DBackbone(depth=10, shortcut="A", image_size=(40, 40))
    clips = np.random.default_rng(1).normal(size=(2, 7, 40, 40, 3))
    block_input, shortcut = layer_outputs(
        backbone, ["conv2_block1_out", "conv3_block1_0_pad"], clips)
    # 7 frames, 10x10 after the stem: odd and even sizes (4, 5, 5).
    expected = block_input[:, ::2, ::2, ::2]
    assert expected.shape == (2, 2, 5, 5, 64)
    expected = np.concatenate([expected, np.zeros_like(expected)], axis=-1)
    np.testing.assert_array_equal(shortcut, expected)


def test_channel_zero_padding_layer():
    layer = ChannelZeroPadding(3, name="pad")
    x = np.arange(8, dtype="float32").reshape(1, 2, 4)
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out[..., :4], x)
    np.testing.assert_array_equal(out[..., 4:], 0.0)
    assert layer.compute_output_shape((None, 2, 4)) == (None, 2, 7)
    assert ChannelZeroPadding.from_config(layer.get_config()).padding == 3
    with pytest.raises(ValueError, match="Received: padding=-1"):
        ChannelZeroPadding(-1)


def test_stem_follows_pytorch_padding():
    backbone = ResNet3DBackbone(depth=10, shortcut="A", image_size=(34, 36))
    clips = np.random.default_rng(2).normal(size=(1, 6, 34, 36, 3))
    relu, pooled = layer_outputs(backbone, ["conv1_relu", "pool1_pool"],
                                 clips)
    # conv1 7x7x7, stride (1, 2, 2), padding 3: floor((n + 6 - 7) / s) + 1.
    assert relu.shape == (1, 6, 17, 18, 64)
    np.testing.assert_allclose(
        pooled, max_pool3d(relu, (3, 3, 3), (2, 2, 2), (1, 1, 1)), rtol=1e-6)


@pytest.mark.parametrize("depth, shortcut", [(18, "A"), (50, "B")])
def test_trains_one_step(depth, shortcut):
    check_one_training_step(VideoClassifier(ResNet3DBackbone(
        depth=depth, shortcut=shortcut, image_size=(32, 32)), num_classes=3))


def test_keras_round_trip(tmp_path):
    backbone = ResNet3DBackbone(depth=10, shortcut="A", image_size=(32, 32),
                                clip_length=4, bn_momentum=0.8)
    model = VideoClassifier(backbone, num_classes=3, dropout=0.1)
    loaded = check_keras_round_trip(model, tmp_path / "resnet3d.keras")
    assert isinstance(loaded.backbone, ResNet3DBackbone)
    assert loaded.get_layer("dropout").rate == 0.1
    assert loaded.backbone.get_layer("conv1_bn").momentum == 0.8


def test_get_config_round_trip():
    backbone = ResNet3DBackbone(depth=18, shortcut="A", image_size=(48, 32),
                                name="r3d")
    config = backbone.get_config()
    assert {k: config[k] for k in ("depth", "shortcut", "image_size",
                                   "clip_length", "bn_momentum", "name")} == {
        "depth": 18, "shortcut": "A", "image_size": [48, 32],
        "clip_length": None, "bn_momentum": None, "name": "r3d"}
    clone = ResNet3DBackbone.from_config(config)
    assert clone.get_config() == config
    assert clone.count_params() == backbone.count_params()
    assert backbone.get_layer("conv1_bn").momentum == 0.9
    assert backbone.get_layer("conv1_bn").epsilon == 1e-5
    assert VideoClassifier(backbone, 2).get_layer("dropout").rate == 0.0


@pytest.mark.parametrize("arguments, message", [
    ({"depth": 11}, "Received: depth=11"),
    ({"depth": "18"}, "Received: depth='18'"),
    ({"shortcut": "C"}, "Received: shortcut='C'"),
    ({"bn_momentum": 1.5}, "Received: bn_momentum=1.5"),
    ({"image_size": (16, 16)}, "image_size"),
    ({"clip_length": 0}, "Received: clip_length=0"),
])
def test_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        ResNet3DBackbone(**arguments)


def test_presets_register_with_video_classifier(monkeypatch):
    # What the lead's merge adds to `video_classifier.py`.
    from deltasparse.models import video_classifier

    monkeypatch.setitem(video_classifier.PRESET_FAMILIES, "resnet3d",
                        ResNet3DBackbone)
    monkeypatch.setattr(video_classifier, "PRESETS",
                        {**video_classifier.PRESETS, **backbone_presets})
    model = VideoClassifier.from_preset("resnet3d_18", num_classes=5,
                                        image_size=(32, 32), clip_length=8,
                                        dropout=0.5)
    assert (model.backbone.depth, model.backbone.shortcut) == (18, "A")
    assert model.backbone.clip_length == 8
    assert model.get_layer("dropout").rate == 0.5
    assert tuple(model.output.shape) == (None, 5)


def test_mixed_precision():
    # bfloat16: TensorFlow has no float16 MaxPool3D kernel on CPU.
    backbone = ResNet3DBackbone(depth=10, shortcut="A", image_size=(32, 32),
                                dtype="mixed_bfloat16")
    model = VideoClassifier(backbone, num_classes=3)
    features = backbone(np.ones((1, 4, 32, 32, 3), "float32"))
    assert keras.backend.standardize_dtype(features.dtype) == "bfloat16"
    assert backbone.get_layer("conv1_conv").kernel.dtype == "float32"
    probabilities = model(np.ones((1, 4, 32, 32, 3), "float32"))
    assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"
