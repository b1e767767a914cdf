"""Tests of the time-distributed ResNet-50 (baseline / L1 / delta).

Each model is built once per module (a ResNet-50 build takes seconds) and run
eagerly on 32x32 frames; no graph-mode fit here (see test_td_mobilenet.py).
"""

import keras
import numpy as np
import pytest

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.metrics.sparsity import SparsityMetrics
from deltasparse.metrics.sparsity import collect_sparsity_stats
from deltasparse.models.resnet50.td_resnet50 import RESNET50_DEFAULT_THR_INIT
from deltasparse.models.resnet50.td_resnet50 import TDResNet50
from deltasparse.models.resnet50.td_resnet50 import _check_thr_init
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


needs_layer_metrics = pytest.mark.skipif(
    keras.backend.backend() == "jax",
    reason="SparsityMetrics skips metric updates on JAX (stateless calls)",
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
    return TDResNet50(input_shape=(32, 32), classes=CLASSES)


@pytest.fixture(scope="module")
def delta():
    return TDResNet50(
        input_shape=(32, 32), classes=CLASSES, sparsity="delta",
        sp_rate=1e-4, thr_init=THR,
    )


@pytest.fixture(scope="module")
def l1():
    return TDResNet50(
        input_shape=(32, 32, 3), classes=CLASSES, sparsity="l1", sp_rate=4e-4
    )


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
    assert baseline.avg_pool_size == (1, 1)  # 32x32 frames: 1x1 conv5 map


def test_baseline_has_no_slots(baseline):
    kinds = (DeltaActivation, L1ActivityRegularizer, SparsityMetrics)
    assert not [layer for layer in baseline.layers if isinstance(layer, kinds)]
    assert baseline.sparsity_slots["names"] == []
    assert not any(
        isinstance(layer, keras.layers.TimeDistributed)
        for layer in baseline.layers
    )


def test_delta_slot_table(delta):
    want = expected_slots(CLASSES, 32)
    assert len(want) == 51
    slots = delta.sparsity_slots
    assert slots["kind"] == "delta"
    assert slots["names"] == [w[0] for w in want]
    assert slots["groups"] == [w[2] for w in want]
    assert slots["n_outputs"] == [float(w[1]) for w in want]
    for name, n_out, _, idx, _ in want:
        layer = delta.get_layer(name)
        assert isinstance(layer, DeltaActivation)
        assert layer.n_outputs == n_out and layer.sp_rate == 1e-4
        assert layer.threshold_level == "channel-wise"
        threshold = keras.ops.convert_to_numpy(layer.threshold)
        np.testing.assert_array_equal(threshold, THR[idx])


def test_default_thr_init():
    assert RESNET50_DEFAULT_THR_INIT == (3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 3.0)
    assert _check_thr_init(None, 7, RESNET50_DEFAULT_THR_INIT) == (
        RESNET50_DEFAULT_THR_INIT
    )
    assert _check_thr_init(0.5, 7, RESNET50_DEFAULT_THR_INIT) == (0.5,) * 7


def test_l1_slot_table(l1):
    want = expected_slots(CLASSES, 32)
    slots = l1.sparsity_slots
    assert slots["kind"] == "activation"
    assert slots["names"] == [w[0] for w in want]
    assert slots["n_outputs"] == [float(w[1]) for w in want]
    for name, *_ in want:
        layer = l1.get_layer(name)
        assert isinstance(layer, L1ActivityRegularizer)
        # The input slot is "just for metrics" (sp_rate=0), as in the original.
        assert layer.sp_rate == (0.0 if name == "inp_delta" else 4e-4)
    assert not l1.get_layer("fc1024_delta").weights


def test_slot_shapes_at_224_match_spec():
    model = TDResNet50(sparsity="delta")  # 224x224, the paper's setting
    want = expected_slots(101, 224)
    neurons = [
        int(np.prod(model.get_layer(name).input.shape[2:]))
        for name, *_ in want
    ]
    assert neurons == [w[4] for w in want]
    assert sum(neurons) == 9_233_408  # spec §9
    macs = sum(w[1] * n for w, n in zip(want, neurons))
    assert macs == pytest.approx(5.66e9, rel=5e-3)
    assert model.avg_pool_size == (7, 7)
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

    stats = collect_sparsity_stats(delta, x)
    assert stats["frames"] == 2.0  # B * (T - 1)
    want = expected_slots(CLASSES, 32)
    np.testing.assert_array_equal(stats["n"], [2.0 * w[4] for w in want])
    assert np.all(stats["l0"] <= stats["n"]) and stats["l0"][0] > 0


@needs_layer_metrics
def test_delta_metrics_equal_numpy_recomputation(delta):
    x = clips(batch=2, steps=2, seed=3)
    layer = delta.get_layer("sparsity_metrics")
    for metric in layer.metrics:
        metric.reset_state()
    delta(x)
    got = {m.name: float(m.result()) for m in layer.metrics}
    stats = collect_sparsity_stats(delta, x)
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


@needs_layer_metrics
def test_l1_metrics_count_activations(l1):
    x = np.abs(clips(batch=1, steps=2, seed=4)) + 0.1  # every pixel nonzero
    layer = l1.get_layer("sparsity_metrics")
    for metric in layer.metrics:
        metric.reset_state()
    l1(x)
    got = {m.name: float(m.result()) for m in layer.metrics}
    assert got["act_density_in"] == pytest.approx(1.0)
    stats = collect_sparsity_stats(l1, x)
    assert stats["frames"] == 2.0  # B * T
    np.testing.assert_allclose(
        got["act_density_all"], stats["l0"].sum() / stats["n"].sum(),
        rtol=1e-5,
    )


def test_get_config(delta):
    config = delta.get_config()
    assert config["input_shape"] == [32, 32, 3]
    assert config["sparsity"] == "delta"
    assert config["thr_init"] == THR
    assert config["classes"] == CLASSES
    assert config["name"] == "td_resnet50_delta"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sparsity": "l2"}, "Received: sparsity='l2'"),
        ({"input_shape": (16, 16)}, "Received: input_shape=\\(16, 16\\)"),
        ({"input_shape": (None, 32)}, "Received: input_shape="),
        ({"classes": 0}, "Received: classes=0"),
        ({"sp_rate": -1.0}, "Received: sp_rate=-1.0"),
        ({"sparsity": "delta", "thr_init": [1.0] * 6}, "Received: thr_init="),
        ({"thr_trainable": "yes"}, "Received: thr_trainable='yes'"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TDResNet50(**kwargs)
