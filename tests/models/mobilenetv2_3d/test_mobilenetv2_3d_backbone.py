"""`MobileNetV2_3DBackbone`: the 3-D MobileNetV2 of Efficient-3DCNNs."""

import keras
import numpy as np
import pytest

from deltasparse.models import VideoClassifier
from deltasparse.models.mobilenetv2_3d import MobileNetV2_3DBackbone
from deltasparse.models.mobilenetv2_3d import mobilenetv2_3d_channels
from deltasparse.models.mobilenetv2_3d.mobilenetv2_3d_presets import backbone_presets

# Trainable parameters (= PyTorch `parameters()`, BatchNorm gamma/beta
# included, running statistics not) and all weights (+ moving statistics).
PINNED = {
    # width: (backbone trainable, backbone all, +600 classes, +101 classes)
    0.2: (195_510, 204_202, 964_110, 324_891),
    0.45: (631_234, 647_814, 1_399_834, 760_615),
    0.7: (1_281_342, 1_305_810, 2_049_942, 1_410_723),
    1.0: (2_354_048, 2_388_160, 3_122_648, 2_483_429),
}


def trainable_count(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def reference_parameter_count(width, num_classes=0):
    """Parameters of Efficient-3DCNNs' MobileNetV2 (PyTorch `parameters()`),
    counted from its rules written out independently: `int(c * w)`
    channels, `round(in * t)` expansion, 1280 last channels when w <= 1."""
    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    channels = int(32 * width)
    total = 27 * 3 * channels + 2 * channels  # conv + BN of the stem
    for t, c, n, _ in settings:
        out = int(c * width)
        for _ in range(n):
            hidden = round(channels * t)
            if t != 1:
                total += channels * hidden + 2 * hidden
            total += 27 * hidden + 2 * hidden + hidden * out + 2 * out
            channels = out
    last = int(1280 * width) if width > 1 else 1280
    total += channels * last + 2 * last
    if num_classes:
        total += last * num_classes + num_classes
    return total


@pytest.mark.parametrize("width", sorted(PINNED))
def test_parameter_counts_are_pinned_and_match_the_original_rules(width):
    backbone = MobileNetV2_3DBackbone(width)
    trainable, everything, with_600, with_101 = PINNED[width]
    assert trainable_count(backbone) == trainable
    assert backbone.count_params() == everything
    assert trainable == reference_parameter_count(width)
    assert trainable_count(VideoClassifier(backbone, 600)) == with_600
    assert with_600 == reference_parameter_count(width, 600)
    classifier = VideoClassifier(MobileNetV2_3DBackbone(width), 101)
    assert trainable_count(classifier) == with_101


@pytest.mark.parametrize("width, last", [(0.2, 1280), (1.0, 1280),
                                         (1.5, 1920)])
def test_output_shape_of_a_16x112x112_clip(width, last):
    backbone = MobileNetV2_3DBackbone(width, clip_length=16)
    assert tuple(backbone.output.shape) == (None, 1, 4, 4, last)
    assert tuple(backbone.compute_output_shape((1, 16, 112, 112, 3))) == (
        1, 1, 4, 4, last)


def test_channel_rounding_truncates_as_the_original():
    plan = mobilenetv2_3d_channels(0.45)
    assert plan["first"] == 14  # int(32 * 0.45) = int(14.4)
    outputs = [block[2] for block in plan["blocks"]]
    assert outputs == [7, 10, 10, 14, 14, 14, 28, 28, 28, 28, 43, 43, 43,
                       72, 72, 72, 144]
    assert plan["blocks"][1][:2] == (7, 42)  # expanded = round(7 * 6)
    assert plan["last"] == 1280
    assert mobilenetv2_3d_channels(1.2)["last"] == 1536


def test_keras_applications_layer_names_and_residuals():
    backbone = MobileNetV2_3DBackbone(0.2, image_size=(32, 32))
    names = {layer.name for layer in backbone.layers}
    for name in ("Conv1", "bn_Conv1", "Conv1_relu", "expanded_conv_depthwise",
                 "expanded_conv_depthwise_BN", "expanded_conv_project",
                 "expanded_conv_project_BN", "block_16_expand",
                 "block_16_expand_BN", "block_16_depthwise",
                 "block_16_depthwise_BN", "block_16_project",
                 "block_16_project_BN", "Conv_1", "Conv_1_bn", "out_relu"):
        assert name in names
    assert "expanded_conv_expand" not in names  # t = 1: no expansion
    adds = sorted(int(n.split("_")[1]) for n in names if n.endswith("_add"))
    assert adds == [2, 4, 5, 7, 8, 9, 11, 12, 14, 15]
    depthwise = backbone.get_layer("block_3_depthwise")
    assert depthwise.groups == depthwise.filters == 6 * 4
    assert not any(getattr(layer, "use_bias", False)
                   for layer in backbone.layers)
    bn = backbone.get_layer("bn_Conv1")
    assert (bn.epsilon, bn.momentum) == (1e-5, 0.9)
    assert MobileNetV2_3DBackbone(0.2, image_size=(32, 32), bn_momentum=0.99
                                  ).get_layer("bn_Conv1").momentum == 0.99


def numpy_depthwise(x, kernel, stride):
    """Per-channel 3-D cross-correlation with symmetric zero padding 1
    (PyTorch `Conv3d(groups=C, padding=1)`), `x` (T, H, W, C), `kernel`
    (3, 3, 3, 1, C)."""
    padded = np.pad(x, ((1, 1), (1, 1), (1, 1), (0, 0)))
    size = [(n - 1) // s + 1 for n, s in zip(x.shape[:3], stride)]
    out = np.zeros(size + [x.shape[3]])
    for t in range(size[0]):
        for h in range(size[1]):
            for w in range(size[2]):
                window = padded[t * stride[0]:t * stride[0] + 3,
                                h * stride[1]:h * stride[1] + 3,
                                w * stride[2]:w * stride[2] + 3]
                out[t, h, w] = np.einsum("ijkc,ijkc->c", window,
                                         kernel[..., 0, :])
    return out


@pytest.mark.parametrize("block, stride", [("expanded_conv", (1, 1, 1)),
                                           ("block_1", (2, 2, 2))])
def test_grouped_depthwise_conv3d_equals_per_channel_numpy(block, stride):
    backbone = MobileNetV2_3DBackbone(0.2, image_size=(32, 32))
    layer = backbone.get_layer(f"{block}_depthwise")
    channels = layer.filters
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 3, 1, channels)).astype("float32")
    layer.set_weights([kernel])
    x = rng.normal(size=(4, 6, 8, channels)).astype("float32")
    y = x[None]
    if stride != (1, 1, 1):
        y = backbone.get_layer(f"{block}_depthwise_pad")(y)
    got = np.asarray(layer(y))[0]
    np.testing.assert_allclose(got, numpy_depthwise(x, kernel, stride),
                               rtol=1e-4, atol=1e-4)


def test_one_training_step_changes_the_weights():
    keras.utils.set_random_seed(0)
    model = VideoClassifier(
        MobileNetV2_3DBackbone(0.2, image_size=(32, 32)), num_classes=3)
    assert model.get_layer("dropout").rate == 0.2
    model.compile(keras.optimizers.SGD(0.1), "categorical_crossentropy")
    clips = np.random.default_rng(0).normal(size=(2, 8, 32, 32, 3))
    labels = np.eye(3)[[0, 2]]
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(clips.astype("float32"), labels, epochs=1,
                        batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    unchanged = [w.path for b, w in zip(before, model.trainable_weights)
                 if np.allclose(b, np.array(w))]
    # Every kernel moves. Where the map is 1x1x1 (32 px frames, batch 2) a
    # BatchNorm followed (through a 1x1x1 conv) by another BatchNorm in
    # training mode gets no gradient for its shift: the next BN removes it.
    assert not [path for path in unchanged if "kernel" in path]
    assert len(unchanged) <= 6


def test_keras_round_trip_gives_identical_outputs(tmp_path):
    backbone = MobileNetV2_3DBackbone(0.2, image_size=(32, 32),
                                      clip_length=4, bn_momentum=0.8)
    model = VideoClassifier(backbone, 4)
    path = tmp_path / "mobilenetv2_3d.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    clips = np.random.default_rng(1).normal(size=(1, 4, 32, 32, 3))
    np.testing.assert_allclose(loaded(clips.astype("float32")),
                               model(clips.astype("float32")), rtol=1e-5)
    config = loaded.backbone.get_config()
    assert config["width_multiplier"] == 0.2
    assert config["bn_momentum"] == 0.8
    assert config["clip_length"] == 4
    rebuilt = MobileNetV2_3DBackbone.from_config(backbone.get_config())
    assert rebuilt.get_config() == backbone.get_config()


def test_presets_are_the_four_widths():
    assert sorted(backbone_presets) == [
        "mobilenetv2_3d_0.2x", "mobilenetv2_3d_0.45x", "mobilenetv2_3d_0.7x",
        "mobilenetv2_3d_1.0x"]
    for name, preset in backbone_presets.items():
        assert preset["metadata"]["path"] == "mobilenetv2_3d"
        width = preset["backbone"]["width_multiplier"]
        assert name == f"mobilenetv2_3d_{width}x"


@pytest.mark.parametrize("arguments, message", [
    ({"width_multiplier": 0}, "width_multiplier"),
    ({"width_multiplier": 0.05}, "width_multiplier"),
    ({"width_multiplier": "1.0"}, "width_multiplier"),
    ({"width_multiplier": True}, "width_multiplier"),
    ({"bn_momentum": 1.5}, "bn_momentum"),
    ({"image_size": (16, 16)}, "image_size"),
    ({"clip_length": 0}, "clip_length"),
])
def test_bad_arguments_raise(arguments, message):
    with pytest.raises(ValueError, match=f"`{message}`.*Received: {message}="):
        MobileNetV2_3DBackbone(**arguments)
