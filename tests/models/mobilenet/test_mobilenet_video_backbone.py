"""Tests of the folded-time MobileNet v1 backbone and its paper classifier
(baseline / L1 / delta presets)."""

import keras
import numpy as np
import pytest

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.evaluation import layer_sparsity
from deltasparse.models import MobileNetVideoBackbone
from deltasparse.models import SparsityAccumulator
from deltasparse.models import SparsityLogger
from deltasparse.models import VideoClassifier
from deltasparse.models.weight_transfer import transfer_weights

CLASSES = 5
ALPHA = 0.25
# Spec §4.4 block table: (pointwise filters at alpha=1, stride).
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [
    (512, 1)
] * 5 + [(1024, 2), (1024, 1)]


def expected_slots(classes, alpha, size):
    """(name, n_outputs, group, thr index, per-frame neurons) from the spec."""
    side = (size + 1 - 3) // 2 + 1  # conv1_pad (0, 1) + valid 3x3 stride 2
    channels = int(32 * alpha)
    slots = [("conv1_1_delta", 9, "conv1", 0, side * side * channels)]
    for k, (filters, stride) in enumerate(BLOCKS, start=1):
        if stride == 2:
            side = (side + 1 - 3) // 2 + 1
        pw = int(filters * alpha)
        slots.append((f"conv_dw_{k}_delta1", pw, f"block{k}", k,
                      side * side * channels))
        fanout = classes if k == 13 else 9
        slots.append((f"conv_dw_{k}_delta2", fanout, f"block{k}", k,
                      side * side * pw))
        channels = pw
    return slots


def build(sparsity=None, size=32, classes=CLASSES, alpha=ALPHA, **kwargs):
    preset = f"mobilenet_{sparsity or 'baseline'}"
    if isinstance(size, int):
        size = (size, size)
    return VideoClassifier.from_preset(
        preset, num_classes=classes, image_size=size, alpha=alpha, **kwargs
    )


def clips(batch=2, steps=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(batch, steps, 32, 32, 3))
    return x.astype("float32")


@pytest.fixture(scope="module")
def app_mobilenet():
    return keras.applications.MobileNet(
        weights=None, include_top=False, alpha=ALPHA, input_shape=(32, 32, 3)
    )


@pytest.fixture(scope="module")
def baseline():
    return build()


@pytest.fixture(scope="module")
def delta():
    return build("delta", sp_rate=1e-3, thr_init=0.05)


def test_layer_names_contain_keras_applications_names(
    app_mobilenet, baseline, delta
):
    app_names = {
        layer.name for layer in app_mobilenet.layers
        if not isinstance(layer, keras.layers.InputLayer)
    }
    assert {"conv1", "conv_dw_13_relu", "conv_pw_13_relu", "conv_pad_12"} <= (
        app_names
    )
    for model in (baseline, delta):
        names = {layer.name for layer in model.layers}
        assert app_names <= names, sorted(app_names - names)
        for head in ("conv1_pad", "reshape_1", "dropout", "conv_preds",
                     "reshape_2", "predictions"):
            assert head in names
    assert not baseline.get_layer("conv1").use_bias
    assert baseline.get_layer("conv_preds").use_bias
    assert baseline.get_layer("conv1_relu").max_value == 6.0
    assert baseline.get_layer("dropout").rate == pytest.approx(1e-3)
    assert baseline.get_layer("conv_pw_13").filters == int(1024 * ALPHA)
    assert baseline.sparsity_slots == ()
    kinds = (DeltaActivation, L1ActivityRegularizer, SparsityAccumulator)
    assert not [layer for layer in baseline.layers if isinstance(layer, kinds)]


def test_delta_slot_table_at_alpha_1():
    thr = [0.1 * (i + 1) for i in range(14)]
    model = build("delta", classes=7, alpha=1.0, thr_init=thr)
    want = expected_slots(7, 1.0, 32)
    assert len(want) == 27
    slots = model.sparsity_slots
    assert [s.name for s in slots] == [w[0] for w in want]
    assert [s.group for s in slots] == [w[2] for w in want]
    assert [s.n_outputs for s in slots] == [float(w[1]) for w in want]
    assert len(model.backbone.sparsity_slots) == 26  # head slot: the task's
    for name, n_out, _, idx, neurons in want:
        layer = model.get_layer(name)
        assert isinstance(layer, DeltaActivation)
        assert layer.n_outputs == n_out and layer.sp_rate == 1e-3
        threshold = keras.ops.convert_to_numpy(layer.threshold)
        np.testing.assert_allclose(threshold, thr[idx])
        assert int(np.prod(layer.input.shape[2:])) == neurons


def test_slot_shapes_at_224_match_spec():
    model = build("delta", size=224, classes=101, alpha=1.0)
    want = expected_slots(101, 1.0, 224)
    neurons = [
        int(np.prod(model.get_layer(name).input.shape[2:]))
        for name, *_ in want
    ]
    assert neurons == [w[4] for w in want]
    assert sum(neurons) == 5_042_688  # spec §4.4 / §9
    macs = sum(w[1] * n for w, n in zip(want, neurons))
    assert macs == pytest.approx(572.1e6, rel=1e-3)


def test_l1_variant_slots():
    model = build("l1", sp_rate=4e-4)
    want = expected_slots(CLASSES, ALPHA, 32)
    assert [s.name for s in model.sparsity_slots] == [w[0] for w in want]
    assert {s.kind for s in model.sparsity_slots} == {"activation"}
    for name, n_out, *_ in want:
        layer = model.get_layer(name)
        assert isinstance(layer, L1ActivityRegularizer)
        assert layer.sp_rate == 4e-4 and layer.n_outputs == n_out
    x = clips(batch=1, steps=3)
    stats = layer_sparsity(model, x)
    assert stats["frames"] == 3.0  # B * T
    np.testing.assert_array_equal(stats["n"], [3.0 * w[4] for w in want])


def test_forward_matches_2d_mobilenet_per_frame(app_mobilenet, baseline):
    report = transfer_weights(app_mobilenet, baseline)
    assert len(report.matched) == 54 and report.skipped_absent == [
        "conv_preds"
    ]
    x = clips(batch=2, steps=3, seed=1)
    feats = keras.Model(
        baseline.input, baseline.get_layer("conv_pw_13_relu").output
    )(x)
    want = np.asarray(app_mobilenet(x.reshape(-1, 32, 32, 3)))
    np.testing.assert_allclose(feats, want, rtol=1e-4, atol=1e-5)

    kernel, bias = baseline.get_layer("conv_preds").get_weights()
    logits = want.mean(axis=(1, 2)) @ kernel[0, 0] + bias
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = baseline(x)
    np.testing.assert_allclose(
        out, p.reshape(2, 3, CLASSES).mean(1), rtol=1e-4, atol=1e-6
    )


def test_any_clip_length(delta):
    for steps in (2, 4):
        out = delta(clips(batch=1, steps=steps, seed=steps))
        assert tuple(out.shape) == (1, CLASSES)
    assert len(delta.losses) == 27


@pytest.mark.slow
def test_fit_and_evaluate_report_sparsity(delta):
    keras.utils.set_random_seed(0)
    x = clips(batch=4, steps=2, seed=5)
    y = keras.utils.to_categorical([0, 1, 2, 3], CLASSES)
    delta.compile(
        optimizer=keras.optimizers.SGD(1e-3, momentum=0.9),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        # Eager steps: tracing the 27-slot graph takes ~20-50 s on 2 cores;
        # compiled steps are covered by tests/layers/sparsity/
        # test_sparsity_path.py (TF and JAX).
        run_eagerly=True,
    )
    thr_before = delta.get_layer("conv1_1_delta").get_weights()[0]
    history = delta.fit(x, y, batch_size=4, epochs=1, verbose=0,
                        validation_data=(x, y),
                        callbacks=[SparsityLogger()])
    groups = ["conv1"] + [f"block{k}" for k in range(1, 14)] + ["all"]
    for name in [f"delta_density_{g}" for g in groups] + [
        "op_ratio_counted", "macs_dense_counted", "macs_effective_counted",
        "loss", "accuracy",
    ]:
        assert name in history.history, name
        assert f"val_{name}" in history.history, name
    assert np.all(np.isfinite(history.history["loss"]))
    # The thresholds are trained (sparsity loss + negated step gradient).
    thr_after = delta.get_layer("conv1_1_delta").get_weights()[0]
    assert not np.allclose(thr_before, thr_after)

    # The validation figures are those of the trained weights on x.
    logs = {k: v[-1] for k, v in history.history.items()}
    stats = layer_sparsity(delta, x)
    l0, n = stats["l0"], stats["n"]
    w = np.array([s[1] for s in expected_slots(CLASSES, ALPHA, 32)], float)
    groups_arr = np.array(stats["groups"])
    for g in groups[:-1]:
        sel = groups_arr == g
        np.testing.assert_allclose(
            logs[f"val_delta_density_{g}"], l0[sel].sum() / n[sel].sum(),
            rtol=1e-5,
        )
    np.testing.assert_allclose(
        logs["val_delta_density_all"], l0.sum() / n.sum(), rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["val_op_ratio_counted"], (w * l0).sum() / (w * n).sum(),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        logs["val_macs_dense_counted"], (w * n).sum() / 4, rtol=1e-5
    )
    np.testing.assert_allclose(
        logs["val_macs_effective_counted"], (w * l0).sum() / 4, rtol=1e-5
    )


def test_keras_save_and_load_round_trip(delta, tmp_path):
    path = tmp_path / "mobilenet_delta.keras"
    delta.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert isinstance(restored, VideoClassifier)
    assert isinstance(restored.backbone, MobileNetVideoBackbone)
    assert restored.get_config() == delta.get_config()
    assert restored.sparsity_slots == delta.sparsity_slots
    x = clips(batch=1, steps=2, seed=7)
    np.testing.assert_allclose(restored(x), delta(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"alpha": 0.0}, "Received: alpha=0.0"),
        ({"alpha": "big"}, "Received: alpha='big'"),
        ({"sparsity": "delta", "thr_init": [1.0] * 7}, "Received: thr_init="),
        ({"image_size": (31, 64)}, "Received: image_size="),
        ({"sparsity": True}, "Received: sparsity=True"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MobileNetVideoBackbone(**kwargs)
