"""Tests of deltasparse.models.weight_transfer (by-name weight transfer).

Small MobileNets (alpha 0.25, 32x32 frames) keep this cheap; the ResNet-50
transfer from keras.applications is tested in
resnet50/test_resnet50_video_backbone.py.
"""

import os
import warnings

import h5py
import keras
import numpy as np
import pytest

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.models.video_classifier import VideoClassifier
from deltasparse.models.weight_transfer import imagenet_weights_path
from deltasparse.models.weight_transfer import read_weights
from deltasparse.models.weight_transfer import transfer_weights

ALPHA = 0.25
BACKBONE = 54  # conv1 + conv1_bn + 13 x (dw, dw_bn, pw, pw_bn)
SLOTS = 27


def build(sparsity=None, classes=5, thr_init=0.05):
    return VideoClassifier.from_preset(
        f"mobilenet_{sparsity or 'baseline'}", num_classes=classes,
        image_size=(32, 32), alpha=ALPHA, thr_init=thr_init,
    )


def randomize(model, seed, thresholds_too=False):
    """Distinct, non-default values in every weight (BN statistics too)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if not layer.weights:
            continue
        if isinstance(layer, DeltaActivation) and not thresholds_too:
            continue
        layer.set_weights([
            rng.uniform(0.5, 1.5, w.shape).astype("float32")
            for w in layer.weights
        ])


def assert_same_weights(a, b, names):
    for name in names:
        for wa, wb in zip(a.get_layer(name).get_weights(),
                          b.get_layer(name).get_weights()):
            np.testing.assert_array_equal(wa, wb)


def thresholds(model):
    return {
        layer.name: layer.get_weights()[0]
        for layer in model.layers if isinstance(layer, DeltaActivation)
    }


def set_thresholds(model, value):
    for layer in model.layers:
        if isinstance(layer, DeltaActivation):
            layer.set_weights([np.full(layer.threshold.shape, value)])


@pytest.fixture(scope="module")
def app_mobilenet():
    model = keras.applications.MobileNet(
        weights=None, include_top=False, alpha=ALPHA, input_shape=(32, 32, 3)
    )
    randomize(model, 0)
    return model


@pytest.fixture(scope="module")
def delta():
    return build("delta")


@pytest.fixture(scope="module")
def l1():
    return build("l1")


@pytest.fixture(scope="module")
def baseline():
    return build()


@pytest.fixture(scope="module")
def saved_files(app_mobilenet, tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    paths = {
        "legacy_h5": str(root / "mobilenet.h5"),
        "weights_h5": str(root / "mobilenet.weights.h5"),
        "keras": str(root / "mobilenet.keras"),
    }
    with warnings.catch_warnings():  # "HDF5 is a legacy format"
        warnings.simplefilter("ignore")
        app_mobilenet.save(paths["legacy_h5"])
    app_mobilenet.save_weights(paths["weights_h5"])
    app_mobilenet.save(paths["keras"])
    return paths


def check_from_2d(report, app, target):
    assert len(report.matched) == BACKBONE
    assert report.mismatched == [] and report.skipped_no_weights == []
    assert sorted(report.skipped_absent) == sorted(
        ["conv_preds"] + [n for n in thresholds(target)]
    )
    assert report.unused == []
    assert_same_weights(app, target, report.matched)
    # Thresholds are not transferred from a non-DAL model: thr_init kept.
    for values in thresholds(target).values():
        np.testing.assert_allclose(values, 0.05)


def test_from_keras_applications_model(app_mobilenet, delta):
    randomize(delta, 1)
    report = transfer_weights(app_mobilenet, delta)
    check_from_2d(report, app_mobilenet, delta)
    text = report.summary(max_names=100)
    assert f"{BACKBONE} matched" in text and "conv_preds" in text
    assert "... (+16)" in str(report)  # 12 names shown by default


@pytest.mark.parametrize("kind", ["legacy_h5", "weights_h5", "keras"])
def test_from_weights_files(app_mobilenet, saved_files, delta, kind):
    arrays = read_weights(saved_files[kind])
    np.testing.assert_array_equal(
        arrays["conv_dw_3_bn"][3],
        keras.ops.convert_to_numpy(
            app_mobilenet.get_layer("conv_dw_3_bn").moving_variance
        ),
    )
    randomize(delta, 2)
    report = transfer_weights(saved_files[kind], delta)
    check_from_2d(report, app_mobilenet, delta)
    assert os.path.basename(saved_files[kind]) in report.source


def test_legacy_keras2_layout(tmp_path, baseline):
    """A hand-written Keras-2 style file (like keras.applications' .h5)."""
    path = tmp_path / "k2.h5"
    kernel = np.arange(27 * 8, dtype="float32").reshape(3, 3, 3, 8)
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"input_1", b"conv1"]
        f.create_group("input_1").attrs["weight_names"] = []
        g = f.create_group("conv1")
        g.attrs["weight_names"] = [b"conv1/kernel:0"]
        g.create_dataset("conv1/kernel:0", data=kernel)
    assert set(read_weights(path)) == {"input_1", "conv1"}
    report = transfer_weights(path, baseline)
    assert report.matched == ["conv1"]
    np.testing.assert_array_equal(baseline.get_layer("conv1").kernel, kernel)


def test_baseline_to_l1_to_delta_chain(baseline, l1, delta):
    randomize(baseline, 3)
    report = transfer_weights(baseline, l1)
    assert len(report.matched) == BACKBONE + 1  # + conv_preds
    assert not (report.mismatched or report.skipped_absent or report.unused)

    randomize(delta, 4)
    report = transfer_weights(l1, delta)
    assert len(report.matched) == BACKBONE + 1
    # The L1 model has same-named slots without weights.
    assert len(report.skipped_no_weights) == SLOTS
    assert report.skipped_absent == []
    assert_same_weights(baseline, delta, report.matched)
    for values in thresholds(delta).values():
        np.testing.assert_allclose(values, 0.05)

    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, 32, 32, 3))
    np.testing.assert_allclose(l1(x), baseline(x), rtol=1e-5, atol=1e-6)


def test_l1_checkpoint_file_to_delta(tmp_path, l1, delta):
    path = str(tmp_path / "l1.weights.h5")
    l1.save_weights(path)
    report = transfer_weights(path, delta)
    assert len(report.matched) == BACKBONE + 1
    assert len(report.skipped_no_weights) == SLOTS


def test_delta_to_delta_copies_thresholds_unless_excluded(delta, baseline):
    target = build("delta", thr_init=0.7)
    report = transfer_weights(delta, target)
    assert len(report.matched) == BACKBONE + 1 + SLOTS
    for values in thresholds(target).values():
        np.testing.assert_allclose(values, 0.05)

    set_thresholds(target, 0.7)
    report = transfer_weights(
        delta, target, exclude=lambda layer: isinstance(layer, DeltaActivation)
    )
    assert len(report.excluded) == SLOTS
    assert len(report.matched) == BACKBONE + 1
    for values in thresholds(target).values():
        np.testing.assert_allclose(values, 0.7)

    # Delta -> baseline: the thresholds have nowhere to go.
    report = transfer_weights(target, baseline, exclude=["conv1"])
    assert report.excluded == ["conv1"]
    assert len(report.unused) == SLOTS


def test_name_map(baseline):
    source = keras.Sequential([
        keras.Input((1, 1, 256)),
        keras.layers.Conv2D(5, 1, name="predictions"),
    ])
    report = transfer_weights(
        source, baseline, name_map={"conv_preds": "predictions"}
    )
    assert report.matched == ["conv_preds"] and report.unused == []
    assert_same_weights_pair(
        source.get_layer("predictions"), baseline.get_layer("conv_preds")
    )
    with pytest.raises(ValueError, match="Received: name_map="):
        transfer_weights(source, baseline, name_map=[("a", "b")])


def assert_same_weights_pair(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_mismatched_shapes_and_strict(baseline):
    randomize(baseline, 5)
    target = build(classes=7)
    before = target.get_layer("conv1").get_weights()[0].copy()
    with pytest.raises(ValueError, match="conv_preds"):
        transfer_weights(baseline, target, strict=True)
    # strict: nothing copied.
    np.testing.assert_array_equal(
        target.get_layer("conv1").get_weights()[0], before
    )
    report = transfer_weights(baseline, target, verbose=True)
    assert [name for name, _ in report.mismatched] == ["conv_preds"]
    assert "(1, 1, 256, 7)" in report.mismatched[0][1]
    assert "(1, 1, 256, 5)" in report.mismatched[0][1]
    assert len(report.matched) == BACKBONE
    assert_same_weights(baseline, target, report.matched)


def test_no_match_warns(baseline):
    source = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="other")]
    )
    with pytest.warns(UserWarning, match="No layer"):
        report = transfer_weights(source, baseline)
    assert report.matched == [] and report.unused == ["other"]


def test_missing_file_says_what_to_download(tmp_path, baseline):
    path = tmp_path / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with pytest.raises(FileNotFoundError, match="storage.googleapis.com"):
        transfer_weights(str(path), baseline)
    with pytest.raises(FileNotFoundError, match="Received: path="):
        read_weights(tmp_path / "weights.15-0.64.hdf5")


def test_imagenet_weights_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="resnet50_weights_tf_dim"):
        imagenet_weights_path("resnet50", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="mobilenet_2_5_128_tf_no_top"):
        imagenet_weights_path("mobilenet", alpha=0.25, rows=128,
                              cache_dir=tmp_path)
    fname = tmp_path / "mobilenet_1_0_224_tf_no_top.h5"
    fname.write_bytes(b"")
    assert imagenet_weights_path("mobilenet", cache_dir=tmp_path) == str(
        fname
    )
    with pytest.raises(ValueError, match="Received: architecture='vgg16'"):
        imagenet_weights_path("vgg16")
    with pytest.raises(ValueError, match="Received: alpha=0.3"):
        imagenet_weights_path("mobilenet", alpha=0.3)


def test_invalid_arguments(tmp_path, baseline):
    with pytest.raises(ValueError, match="Received: source=int"):
        transfer_weights(3, baseline)
    with pytest.raises(ValueError, match="Received: target=str"):
        transfer_weights(baseline, "model")
    with pytest.raises(ValueError, match="Received: exclude='conv1'"):
        transfer_weights(baseline, baseline, exclude="conv1")
    bad = tmp_path / "not_weights.h5"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="HDF5"):
        read_weights(bad)
