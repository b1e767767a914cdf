"""Tests of the folded-time ResNet-50 backbone and its paper classifier
(baseline / L1 / delta presets).

Each model is built once per module (a ResNet-50 build takes seconds) and run
eagerly on 32x32 frames; no graph-mode fit here (see the MobileNet tests).
"""

import keras
import numpy as np
import pytest

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.evaluation import layer_sparsity
from deltasparse.models import ResNet50VideoBackbone
from deltasparse.models import SparsityAccumulator
from deltasparse.models import VideoClassifier
from deltasparse.models import accumulated_figures
from deltasparse.models import reset_sparsity_totals
from deltasparse.models.resnet50.resnet50_presets import RESNET50_DEFAULT_THR_INIT
from deltasparse.models.resnet50.resnet50_presets import RESNET50_THR_INIT_NAMES
from deltasparse.models.video_backbone import check_thr_init
from deltasparse.models.weight_transfer import transfer_weights

CLASSES = 5
THR = [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
# Spec §4.1 stage table: (name, f, blocks, fan-out of the last `_out`).
STAGES = [
    ("conv2", 64, 3, 640),
    ("conv3", 128, 4, 1280),
    ("conv4", 256, 6, 2560),
    ("conv5", 512, 3, 1024),
]


def expected_slots(classes, size):
    """(name, n_outputs, group, thr index, per-frame neurons) from the spec."""
    s = size // 2  # conv1 output side
    slots = [
        ("inp_delta", 3136, "in", 0, size * size * 3),
        ("conv1_delta", 320, "conv1", 1, s * s * 64),
    ]
    side = -(-s // 2)  # after the stride-2 max pool
    for k, (stage, f, blocks, last) in enumerate(STAGES):
        if k > 0:
            side = -(-side // 2)
        for i in range(1, blocks + 1):
            prefix = f"{stage}_block{i}"
            slots.append((f"{prefix}_1_delta", 9 * f, stage, k + 2,
                          side * side * f))
            slots.append((f"{prefix}_2_delta", 4 * f, stage, k + 2,
                          side * side * f))
            slots.append((f"{prefix}_out_delta", last if i == blocks else f,
                          stage, k + 2, side * side * 4 * f))
    slots.append(("fc1024_delta", classes, "fc", 6, 1024))
    return slots


def build(sparsity=None, size=32, classes=CLASSES, **kwargs):
    preset = f"resnet50_{sparsity or 'baseline'}"
    return VideoClassifier.from_preset(
        preset, num_classes=classes, image_size=(size, size), **kwargs
    )


def clips(batch=2, steps=2, seed=0, scale=2.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, 32, 32, 3)) * scale
    x += np.arange(steps).reshape(1, steps, 1, 1, 1)  # frames differ
    return x.astype("float32")


@pytest.fixture(scope="module")
def app_resnet():
    return keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=(32, 32, 3)
    )


@pytest.fixture(scope="module")
def baseline():
    return build()


@pytest.fixture(scope="module")
def delta():
    return build("delta", sp_rate=1e-4, thr_init=THR)


@pytest.fixture(scope="module")
def l1():
    return build("l1", channels=3, sp_rate=4e-4)


def test_layer_names_contain_keras_applications_names(
    app_resnet, baseline, delta, l1
):
    app_names = {
        layer.name for layer in app_resnet.layers
        if not isinstance(layer, keras.layers.InputLayer)
    }
    assert "conv5_block3_out" in app_names and len(app_names) > 170
    for model in (baseline, delta, l1):
        names = {layer.name for layer in model.layers}
        assert app_names <= names, sorted(app_names - names)
        for head in ("avg_pool", "flatten", "fc1024", "dropout", "fc101"):
            assert head in names
    bn = baseline.get_layer("conv3_block1_1_bn")
    assert bn.epsilon == pytest.approx(1.001e-5)
    assert baseline.get_layer("conv1_conv").use_bias
    assert baseline.get_layer("conv3_block1_1_conv").strides == (2, 2)
    assert baseline.get_layer("conv3_block1_0_conv").strides == (2, 2)
    assert baseline.get_layer("conv3_block1_2_conv").strides == (1, 1)
    # 32x32 frames: 1x1 conv5 map, so the 7x7 pool becomes global.
    assert baseline.get_layer("avg_pool").pool_size == (1, 1)


def test_baseline_has_no_slots(baseline):
    kinds = (DeltaActivation, L1ActivityRegularizer, SparsityAccumulator)
    assert not [layer for layer in baseline.layers if isinstance(layer, kinds)]
    assert baseline.sparsity_slots == ()
    assert not any(
        isinstance(layer, keras.layers.TimeDistributed)
        for layer in baseline.layers
    )


def test_delta_slot_table(delta):
    want = expected_slots(CLASSES, 32)
    assert len(want) == 51
    slots = delta.sparsity_slots
    assert {s.kind for s in slots} == {"delta"}
    assert [s.name for s in slots] == [w[0] for w in want]
    assert [s.layer_name for s in slots] == [w[0] for w in want]
    assert [s.group for s in slots] == [w[2] for w in want]
    assert [s.n_outputs for s in slots] == [float(w[1]) for w in want]
    # The backbone alone has all but the head slot (fan-out = classes).
    assert delta.backbone.sparsity_slots == slots[:-1]
    for name, n_out, _, idx, _ in want:
        layer = delta.get_layer(name)
        assert isinstance(layer, DeltaActivation)
        assert layer.n_outputs == n_out and layer.sp_rate == 1e-4
        assert layer.threshold_level == "channel-wise"
        threshold = keras.ops.convert_to_numpy(layer.threshold)
        np.testing.assert_array_equal(threshold, THR[idx])


def test_default_thr_init():
    assert RESNET50_DEFAULT_THR_INIT == (3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 3.0)
    names = RESNET50_THR_INIT_NAMES
    assert check_thr_init(None, names, RESNET50_DEFAULT_THR_INIT) == (
        RESNET50_DEFAULT_THR_INIT
    )
    assert check_thr_init(0.5, names, RESNET50_DEFAULT_THR_INIT) == (0.5,) * 7
    preset = VideoClassifier.presets["resnet50_delta"]["backbone"]
    assert preset["thr_init"] == [3, 3, 3, 4, 4, 4, 3]
    assert preset["sp_rate"] == 1e-6
    assert VideoClassifier.presets["resnet50_l1"]["backbone"]["sp_rate"] == (
        4e-4)


def test_l1_slot_table(l1):
    want = expected_slots(CLASSES, 32)
    slots = l1.sparsity_slots
    assert {s.kind for s in slots} == {"activation"}
    assert [s.name for s in slots] == [w[0] for w in want]
    assert [s.n_outputs for s in slots] == [float(w[1]) for w in want]
    for name, *_ in want:
        layer = l1.get_layer(name)
        assert isinstance(layer, L1ActivityRegularizer)
        # The input slot is "just for metrics" (sp_rate=0), as in the original.
        assert layer.sp_rate == (0.0 if name == "inp_delta" else 4e-4)
    assert not l1.get_layer("fc1024_delta").weights


def test_slot_shapes_at_224_match_spec():
    # 224x224, the paper's setting (backbone + head, as built by the task).
    model = build("delta", size=224, classes=101)
    want = expected_slots(101, 224)
    neurons = [
        int(np.prod(model.get_layer(name).input.shape[2:]))
        for name, *_ in want
    ]
    assert neurons == [w[4] for w in want]
    assert sum(neurons) == 9_233_408  # spec §9
    macs = sum(w[1] * n for w, n in zip(want, neurons))
    assert macs == pytest.approx(5.66e9, rel=5e-3)
    assert model.get_layer("avg_pool").pool_size == (7, 7)
    assert model.get_layer("flatten").output.shape[-1] == 2048


def test_forward_matches_2d_resnet50_per_frame(app_resnet, baseline):
    report = transfer_weights(app_resnet, baseline)
    assert len(report.matched) == 106  # 53 conv + 53 batch-norm layers
    assert report.skipped_absent == ["fc1024", "fc101"]
    assert not report.mismatched and not report.unused

    x = clips(batch=2, steps=3)
    frames = x.reshape((-1, 32, 32, 3))
    feats = keras.Model(
        baseline.input, baseline.get_layer("conv5_block3_out").output
    )(x)
    want = app_resnet(frames)
    np.testing.assert_allclose(feats, want, rtol=1e-4, atol=1e-4)

    # Head in NumPy: fc1024 relu -> fc101 softmax per frame -> mean over T.
    w1, b1 = baseline.get_layer("fc1024").get_weights()
    w2, b2 = baseline.get_layer("fc101").get_weights()
    h = np.maximum(np.asarray(want).reshape(6, 2048) @ w1 + b1, 0)
    logits = h @ w2 + b2
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = baseline(x)
    assert tuple(out.shape) == (2, CLASSES)
    np.testing.assert_allclose(
        out, p.reshape(2, 3, CLASSES).mean(1), rtol=1e-4, atol=1e-6
    )


def test_batchnorm_statistics_over_batch_and_time(l1):
    x = clips(batch=2, steps=2, seed=1, scale=1.0)
    bn = l1.get_layer("conv1_bn")
    bn.moving_mean.assign(np.zeros(64, "float32"))
    conv = keras.Model(l1.input, l1.get_layer("conv1_conv").output)
    pre = np.asarray(conv(x)).reshape(2, 2, 16, 16, 64)
    l1(x, training=True)
    joint = pre.mean(axis=(0, 1, 2, 3))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(bn.moving_mean), 0.01 * joint,
        rtol=1e-4, atol=1e-6,
    )
    # Per-frame statistics (Keras 3 TimeDistributed) would differ.
    assert np.abs(pre[:, 0].mean(axis=(0, 1, 2)) - joint).max() > 0.1


def test_delta_forward_quantizes_and_counts(delta):
    x = clips(batch=1, steps=3, seed=2)
    out = delta(x)
    assert tuple(out.shape) == (1, CLASSES)
    np.testing.assert_allclose(np.sum(out, axis=-1), 1.0, rtol=1e-5)
    assert len(delta.losses) == 51

    inp = keras.Model(delta.input, delta.get_layer("inp_delta").output[0])(x)
    np.testing.assert_allclose(inp, THR[0] * np.round(x / THR[0]), atol=1e-5)

    stats = layer_sparsity(delta, x)
    assert stats["frames"] == 2.0  # B * (T - 1)
    want = expected_slots(CLASSES, 32)
    np.testing.assert_array_equal(stats["n"], [2.0 * w[4] for w in want])
    assert np.all(stats["l0"] <= stats["n"]) and stats["l0"][0] > 0


def test_delta_figures_equal_numpy_recomputation(delta):
    x = clips(batch=2, steps=2, seed=3)
    reset_sparsity_totals(delta)
    delta(x)
    got = accumulated_figures(delta)
    stats = layer_sparsity(delta, x)
    l0, n = stats["l0"], stats["n"]
    w = np.array([s[1] for s in expected_slots(CLASSES, 32)], "float64")
    groups = np.array(stats["groups"])
    assert list(got)[:8] == [
        f"delta_density_{g}"
        for g in ("in", "conv1", "conv2", "conv3", "conv4", "conv5", "fc",
                  "all")
    ]
    for g in ("in", "conv1", "conv2", "conv3", "conv4", "conv5", "fc"):
        sel = groups == g
        np.testing.assert_allclose(
            got[f"delta_density_{g}"], l0[sel].sum() / n[sel].sum(), rtol=1e-5
        )
    np.testing.assert_allclose(
        got["delta_density_all"], l0.sum() / n.sum(), rtol=1e-5
    )
    np.testing.assert_allclose(
        got["op_ratio_counted"], (w * l0).sum() / (w * n).sum(), rtol=1e-5
    )
    np.testing.assert_allclose(
        got["macs_dense_counted"], (w * n).sum() / 2, rtol=1e-5
    )
    np.testing.assert_allclose(
        got["macs_effective_counted"], (w * l0).sum() / 2, rtol=1e-5
    )


def test_l1_figures_count_activations(l1):
    x = np.abs(clips(batch=1, steps=2, seed=4)) + 0.1  # every pixel nonzero
    reset_sparsity_totals(l1)
    l1(x)
    got = accumulated_figures(l1)
    assert got["act_density_in"] == pytest.approx(1.0)
    stats = layer_sparsity(l1, x)
    assert stats["frames"] == 2.0  # B * T
    np.testing.assert_allclose(
        got["act_density_all"], stats["l0"].sum() / stats["n"].sum(),
        rtol=1e-5,
    )


def test_get_config(delta):
    config = delta.get_config()
    assert config["num_classes"] == CLASSES
    assert config["name"] == "resnet50_delta"
    assert config["head_units"] == 1024 and config["dropout"] == 0.5
    backbone = delta.backbone.get_config()
    assert backbone["image_size"] == [32, 32] and backbone["channels"] == 3
    assert backbone["sparsity"] == "delta"
    assert backbone["thr_init"] == THR


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sparsity": "l2"}, "Received: sparsity='l2'"),
        ({"image_size": (16, 16)}, "Received: image_size=\\(16, 16\\)"),
        ({"image_size": (None, 32)}, "Received: image_size="),
        ({"channels": 0}, "Received: channels=0"),
        ({"sp_rate": -1.0}, "Received: sp_rate=-1.0"),
        ({"sparsity": "delta", "thr_init": [1.0] * 6}, "Received: thr_init="),
        ({"sparsity": "delta", "thr_init": 0.0}, "Received: thr_init=0.0"),
        ({"thr_trainable": "yes"}, "Received: thr_trainable='yes'"),
        ({"bn_momentum": 1.0}, "Received: bn_momentum=1.0"),
    ],
)
def test_invalid_arguments(kwargs, match):
    # Every check runs before the graph is built (fast).
    with pytest.raises(ValueError, match=match):
        ResNet50VideoBackbone(**kwargs)
