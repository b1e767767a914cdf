"""Tests of `VideoBackbone` / `VideoClassifier` anatomy (keras-hub style):
serialization, shapes, tf.data, mixed precision, presets, the one-frame
2-D model, bad inputs and odd frame sizes by value. Tiny configs: MobileNet
alpha 0.25 on 32x32 frames, eager calls."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.models import MobileNetVideoBackbone
from deltasparse.models import ResNet50VideoBackbone
from deltasparse.models import SparsitySlot
from deltasparse.models import VideoBackbone
from deltasparse.models import VideoClassifier
from deltasparse.models import list_presets
from deltasparse.models import transfer_weights

ALPHA = 0.25
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [
    (512, 1)
] * 5 + [(1024, 2), (1024, 1)]


def clips(batch=2, steps=2, size=(32, 32), channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (batch, steps, *size, channels)).astype(
        "float32")


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 1.5, w.shape).astype("float32"))
        elif "moving_mean" in w.path or "gamma" in w.path or (
                "beta" in w.path):
            w.assign(rng.normal(0, 0.1, w.shape).astype("float32"))


@pytest.fixture(scope="module")
def backbone():
    return MobileNetVideoBackbone(sparsity="delta", image_size=(32, 32),
                                  alpha=ALPHA, thr_init=0.05)


def test_backbone_basics(backbone, tmp_path):
    assert isinstance(backbone, VideoBackbone)
    assert backbone.name == "mobilenet_video_backbone"
    x = clips(batch=2, steps=3)
    features = backbone(x)
    # Folded per-frame features: (B*T, h, w, c).
    assert tuple(features.shape) == (6, 1, 1, int(1024 * ALPHA))
    assert all(isinstance(s, SparsitySlot) for s in backbone.sparsity_slots)
    assert len(backbone.sparsity_slots) == 26
    # Config round trip (get_config -> from_config) and `.keras` archive.
    clone = MobileNetVideoBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config()
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert isinstance(restored, MobileNetVideoBackbone)
    np.testing.assert_allclose(restored(x), features, rtol=1e-5, atol=1e-6)


def test_classifier_predict_on_tf_data(backbone):
    model = VideoClassifier(backbone, num_classes=4)
    model.run_eagerly = True  # no graph tracing in unit tests
    x = clips(batch=4, steps=2, seed=1)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(2)
    out = model.predict(ds, verbose=0)
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    # The task continues the backbone's slots with its head slot.
    assert model.sparsity_slots[:26] == backbone.sparsity_slots
    assert model.sparsity_slots[-1] == SparsitySlot(
        "conv_dw_13_delta2", "block13", 4.0, "conv_dw_13_delta2", "delta")
    # A second task on the same backbone does not see the first's head.
    other = VideoClassifier(backbone, num_classes=7)
    assert other.sparsity_slots[-1].n_outputs == 7.0
    assert len(backbone.sparsity_slots) == 26


def test_mixed_precision():
    model = VideoClassifier.from_preset(
        "mobilenet_delta", num_classes=3, image_size=(32, 32), alpha=ALPHA,
        thr_init=0.05, dtype="mixed_float16")
    assert model.backbone.get_layer("conv1").compute_dtype == "float16"
    assert all(w.dtype == "float32" for w in model.weights)
    out = model(clips(batch=1, steps=2))
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(out)))
    totals = model.get_layer("sparsity_accumulator").read()
    assert totals["n"].sum() > 0 and totals["frames"] == 1.0


def test_presets_table():
    names = set(list_presets())
    per_frame = {f"{a}_{s}" for a in ("resnet50", "mobilenet")
                 for s in ("baseline", "l1", "delta")}
    spatiotemporal = {f"resnet3d_{d}" for d in (10, 18, 34, 50, 101, 152,
                                                200)} | {
        f"csn_{b}_{d}" for b in ("ir", "ip") for d in (50, 101, 152)} | {
        f"mobilenetv2_3d_{w}x" for w in ("0.2", "0.45", "0.7", "1.0")}
    assert names == per_frame | spatiotemporal
    assert set(VideoClassifier.presets) == names
    delta = VideoClassifier.presets["mobilenet_delta"]["backbone"]
    assert delta["sp_rate"] == 1e-3 and delta["thr_init"] == [1.0] * 14
    model = VideoClassifier.from_preset(
        "mobilenet_l1", num_classes=3, image_size=(32, 32), alpha=ALPHA,
        dropout=0.2, name="tiny")
    assert model.name == "tiny" and model.dropout == 0.2
    assert model.backbone.alpha == ALPHA and model.backbone.sp_rate == 4e-4
    assert model.get_layer("conv1_1_delta").sp_rate == 4e-4
    with pytest.raises(ValueError, match="Received: preset='mobilenet_l2'"):
        VideoClassifier.from_preset("mobilenet_l2", num_classes=3)


def test_head_options(backbone):
    model = VideoClassifier(backbone, num_classes=3, pooling="max",
                            head_sparsity_slot=False, head_units=8,
                            output_layer="dense", dropout=0.0)
    assert len(model.sparsity_slots) == 26
    names = {layer.name for layer in model.layers}
    assert {"global_pool", "fc8", "fc101"} <= names
    assert "conv_dw_13_delta2" not in names
    assert tuple(model(clips(batch=1, steps=2)).shape) == (1, 3)
    for kwargs, match in [
        ({"pooling": "mean"}, "Received: pooling='mean'"),
        ({"output_layer": "linear"}, "Received: output_layer='linear'"),
        ({"num_classes": 0}, "Received: num_classes=0"),
        ({"dropout": 1.0}, "Received: dropout=1.0"),
    ]:
        args = {"num_classes": 3, **kwargs}
        with pytest.raises(ValueError, match=match):
            VideoClassifier(backbone, **args)
    with pytest.raises(ValueError, match="Received: backbone="):
        VideoClassifier(keras.Sequential(), num_classes=3)


def test_wrong_channel_count_names_expected_clip_shape(backbone):
    model = VideoClassifier(backbone, num_classes=3)
    bad = clips(batch=1, steps=2, channels=1)
    want = (r"\(batch, time, 32, 32, 3\).*"
            r"Received: inputs.shape=\(1, 2, 32, 32, 1\)")
    for m in (model, backbone):
        with pytest.raises(ValueError, match=want):
            m(bad)
    model.run_eagerly = True
    with pytest.raises(ValueError, match=want):
        model.predict(bad, verbose=0)
    with pytest.raises(ValueError, match=r"Received: inputs.shape=\(1, 32"):
        model(bad[:, 0, :, :, :].repeat(3, axis=-1))  # a frame, not a clip


def test_one_frame_clip_is_the_2d_model():
    """(B, 1, H, W, C) clips: same features and BatchNorm statistics as
    `keras.applications.MobileNet` on (B, H, W, C) frames (training mode)."""
    model = VideoClassifier.from_preset(
        "mobilenet_baseline", num_classes=3, image_size=(32, 32), alpha=ALPHA)
    app = keras.applications.MobileNet(
        weights=None, include_top=False, alpha=ALPHA, input_shape=(32, 32, 3))
    randomize(app)
    report = transfer_weights(app, model)
    assert len(report.matched) == 54 and not report.mismatched
    x = clips(batch=4, steps=1, seed=2)
    probe = keras.Model(model.input,
                        model.get_layer("conv_pw_13_relu").output)
    got = probe(x, training=True)
    want = app(x[:, 0], training=True)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    for layer in app.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            mine = model.get_layer(layer.name)
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(mine.moving_mean),
                keras.ops.convert_to_numpy(layer.moving_mean),
                rtol=1e-4, atol=1e-6, err_msg=layer.name)
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(mine.moving_variance),
                keras.ops.convert_to_numpy(layer.moving_variance),
                rtol=1e-4, atol=1e-6, err_msg=layer.name)
    # Inference: the clip output is the frame's probabilities.
    kernel, bias = model.get_layer("conv_preds").get_weights()
    feats = np.asarray(app(x[:, 0]))
    logits = feats.mean(axis=(1, 2)) @ kernel[0, 0] + bias
    p = np.exp(logits - logits.max(-1, keepdims=True))
    np.testing.assert_allclose(model(x), p / p.sum(-1, keepdims=True),
                               rtol=1e-4, atol=1e-6)


def keras2_mobilenet(alpha, shape):
    """Independent 2-D reference: MobileNet v1 as Keras 2.4 built it
    (`conv1_pad` ((0, 1), (0, 1)) + 'valid' stride-2 conv1, and the same
    padding before every stride-2 depthwise conv)."""
    layers = keras.layers
    inp = keras.Input(shape)
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="conv1_pad")(inp)
    x = layers.Conv2D(int(32 * alpha), 3, strides=2, use_bias=False,
                      name="conv1")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for k, (filters, stride) in enumerate(BLOCKS, start=1):
        if stride == 2:
            x = layers.ZeroPadding2D(((0, 1), (0, 1)),
                                     name=f"conv_pad_{k}")(x)
        x = layers.DepthwiseConv2D(
            3, strides=stride, use_bias=False, name=f"conv_dw_{k}",
            padding="same" if stride == 1 else "valid")(x)
        x = layers.BatchNormalization(name=f"conv_dw_{k}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{k}_relu")(x)
        x = layers.Conv2D(int(filters * alpha), 1, use_bias=False,
                          name=f"conv_pw_{k}")(x)
        x = layers.BatchNormalization(name=f"conv_pw_{k}_bn")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{k}_relu")(x)
    return keras.Model(inp, x)


def test_odd_frame_sizes_by_value():
    app = keras.applications.MobileNet(
        weights=None, include_top=False, alpha=ALPHA, input_shape=(32, 48, 3))
    randomize(app, seed=3)
    # The reference equals keras.applications.MobileNet on even frames ...
    even = keras2_mobilenet(ALPHA, (32, 48, 3))
    transfer_weights(app, even)
    frames = clips(batch=2, steps=1, size=(32, 48), seed=4)[:, 0]
    np.testing.assert_allclose(even(frames), app(frames), rtol=1e-4,
                               atol=1e-5)
    # ... and the video model equals the reference per frame on 33x47.
    odd = keras2_mobilenet(ALPHA, (33, 47, 3))
    transfer_weights(app, odd)
    model = VideoClassifier.from_preset(
        "mobilenet_baseline", num_classes=3, image_size=(33, 47), alpha=ALPHA)
    report = transfer_weights(odd, model)
    assert len(report.matched) == 54 and not report.mismatched
    x = clips(batch=2, steps=2, size=(33, 47), seed=5)
    probe = keras.Model(model.input,
                        model.get_layer("conv_pw_13_relu").output)
    want = odd(x.reshape(-1, 33, 47, 3))
    assert tuple(want.shape) == (4, 1, 1, int(1024 * ALPHA))
    np.testing.assert_allclose(probe(x), want, rtol=1e-4, atol=1e-5)
    # Keras 3's 'same' conv1 gives another map on odd frames: the layer
    # shapes of the stride-2 path differ (17x24 vs 16x23 after conv1).
    assert tuple(model.get_layer("conv1").output.shape[1:3]) == (16, 23)


def test_resnet50_backbone_output_and_slots():
    backbone = ResNet50VideoBackbone(image_size=(32, 32), sparsity="l1",
                                     sp_rate=0.0)
    features = backbone(clips(batch=1, steps=2, seed=6))
    assert tuple(features.shape) == (2, 1, 1, 2048)
    assert len(backbone.sparsity_slots) == 50
    assert backbone.sparsity_slots[0].name == "inp_delta"
    assert {s.kind for s in backbone.sparsity_slots} == {"activation"}
