"""Tests of `CSNBackbone` (Tran et al. 2019) and its presets."""

import keras
import numpy as np
import pytest

from deltasparse.models import VideoClassifier
from deltasparse.models.csn import CSNBackbone
from deltasparse.models.csn.csn_presets import backbone_presets
from deltasparse.models.resnet3d.resnet3d_blocks import conv3d
from tests.models.resnet3d.reference import depthwise_conv3d
from tests.models.resnet3d.reference import check_keras_round_trip
from tests.models.resnet3d.reference import check_one_training_step
from tests.models.resnet3d.reference import check_parameter_counts
from tests.models.resnet3d.reference import layer_outputs
from tests.models.resnet3d.reference import max_pool3d

# preset -> (backbone parameters, with a 400-class classifier), as
# `count_params` counts them (BatchNormalization moving statistics included).
PINNED = {
    "csn_ir_50": (12_364_672, 13_184_272),
    "csn_ip_50": (13_637_248, 14_456_848),
    "csn_ir_101": (21_499_520, 22_319_120),
    "csn_ip_101": (23_903_616, 24_723_216),
    "csn_ir_152": (29_035_392, 29_854_992),
    "csn_ip_152": (32_372_352, 33_191_952),
}


@pytest.mark.parametrize("preset", [
    name if name.endswith("_50") else pytest.param(
        name, marks=pytest.mark.slow) for name in PINNED])
def test_preset_shapes_and_parameter_counts(preset):
    arguments = backbone_presets[preset]["backbone"]
    backbone = CSNBackbone(clip_length=16, **arguments)
    # 16x112x112: stem (16, 56, 56), pool (16, 28, 28), conv3-5 halve t, h, w.
    assert tuple(backbone.output.shape) == (None, 2, 4, 4, 2048)
    check_parameter_counts(backbone, PINNED[preset],
                           depth=arguments["depth"],
                           separation=arguments["block"], stem=(3, 7, 7))


# Trainable parameters with a 400-class classifier published by MMAction2
# (`configs/recognition/csn/metafile.yml`, models converted from VMZ, the
# authors' code), i.e. PyTorch's count.
PUBLISHED = {"csn_ir_50": 13_131_152, "csn_ir_152": 29_703_568,
             "csn_ip_152": 33_016_592}


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(PUBLISHED))
def test_trainable_parameters_equal_the_published_counts(preset):
    backbone = CSNBackbone(image_size=(32, 32),
                           **backbone_presets[preset]["backbone"])
    model = VideoClassifier(backbone, num_classes=400)
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == (
        PUBLISHED[preset])


def test_every_preset_is_pinned():
    assert sorted(backbone_presets) == sorted(PINNED)
    assert {e["metadata"]["path"] for e in backbone_presets.values()} == {
        "csn"}


@pytest.mark.parametrize("block", ["ir", "ip"])
def test_separated_bottlenecks(block):
    backbone = CSNBackbone(depth=50, block=block, image_size=(32, 32))
    depthwise = backbone.get_layer("conv3_block1_2_conv")
    assert depthwise.groups == depthwise.filters == 128
    assert tuple(depthwise.kernel.shape) == (3, 3, 3, 1, 128)
    assert depthwise.strides == (2, 2, 2)
    names = {layer.name for layer in backbone.layers}
    pointwise = {n for n in names if n.endswith("_2_pointwise_conv")}
    assert len(pointwise) == (16 if block == "ip" else 0)
    # Projections (type B) only where the shape changes.
    assert sorted(n for n in names if n.endswith("_0_conv")) == [
        f"conv{s}_block1_0_conv" for s in (2, 3, 4, 5)]
    assert backbone.get_layer("conv3_block1_0_conv").strides == (2, 2, 2)


def test_stem_and_temporal_downsampling():
    backbone = CSNBackbone(depth=50, image_size=(32, 36))
    clips = np.random.default_rng(0).normal(size=(1, 5, 32, 36, 3))
    relu, pooled, conv2, conv3 = layer_outputs(backbone, [
        "conv1_relu", "pool1_pool", "conv2_block3_out", "conv3_block1_out"],
        clips)
    assert relu.shape == (1, 5, 16, 18, 64)  # 3x7x7, stride (1, 2, 2)
    np.testing.assert_allclose(
        pooled, max_pool3d(relu, (1, 3, 3), (1, 2, 2), (0, 1, 1)), rtol=1e-6)
    assert conv2.shape == (1, 5, 8, 9, 256)
    assert conv3.shape == (1, 3, 4, 5, 512)


@pytest.mark.parametrize("strides", [1, 2])
def test_grouped_depthwise_conv3d_matches_per_channel_numpy(strides):
    inputs = keras.Input((5, 6, 7, 4))
    outputs = conv3d(inputs, 4, 3, strides, "dw", None, groups=4)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(3, 3, 3, 1, 4)).astype("float32")
    model.get_layer("dw_conv").set_weights([kernel])
    x = rng.normal(size=(2, 5, 6, 7, 4)).astype("float32")
    expected = depthwise_conv3d(x, kernel, (strides,) * 3, (1, 1, 1))
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4,
                               atol=1e-5)
    assert expected.shape[1:4] == ((5, 6, 7) if strides == 1 else (3, 3, 4))


def test_csn50_ir_trains_one_step():
    check_one_training_step(VideoClassifier(CSNBackbone(
        depth=50, block="ir", image_size=(32, 32)), num_classes=3))


def test_keras_round_trip(tmp_path):
    backbone = CSNBackbone(depth=50, block="ip", image_size=(32, 32),
                           clip_length=4)
    loaded = check_keras_round_trip(VideoClassifier(backbone, 3),
                                    tmp_path / "csn.keras")
    assert isinstance(loaded.backbone, CSNBackbone)
    assert loaded.backbone.block == "ip"
    assert CSNBackbone.from_config(backbone.get_config()).get_config() == (
        backbone.get_config())


@pytest.mark.parametrize("arguments, message", [
    ({"depth": 18}, "Received: depth=18"),
    ({"block": "dw"}, "Received: block='dw'"),
    ({"bn_momentum": -0.1}, "bn_momentum"),
])
def test_errors(arguments, message):
    with pytest.raises(ValueError, match=message):
        CSNBackbone(**arguments)


def test_presets_register_with_video_classifier(monkeypatch):
    # What the lead's merge adds to `video_classifier.py`.
    from deltasparse.models import video_classifier

    monkeypatch.setitem(video_classifier.PRESET_FAMILIES, "csn", CSNBackbone)
    monkeypatch.setattr(video_classifier, "PRESETS",
                        {**video_classifier.PRESETS, **backbone_presets})
    model = VideoClassifier.from_preset("csn_ip_50", num_classes=4,
                                        image_size=(32, 32))
    assert (model.backbone.depth, model.backbone.block) == (50, "ip")
    assert model.name == "csn"
    assert tuple(model.output.shape) == (None, 4)
