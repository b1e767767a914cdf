"""Tests for `deltasparse.compression.pruning`: which weights are prunable,
exact mask counts, zeros held through training (SGD momentum and Adam),
resume, strip, presets and the per-layer CSV; and one JAX subprocess run
(`python -m tests.compression.test_pruning` prints its JSON)."""

import json
import math
import os

import keras
import numpy as np
import pytest

from deltasparse.compression.pruning import MagnitudePruning
from deltasparse.compression.pruning import PruningCallback
from deltasparse.compression.pruning import prunable_weights
from deltasparse.compression.pruning import read_sparsity_csv
from deltasparse.compression.pruning import seed_element_pruning
from deltasparse.compression.pruning import uniform_element_pruning
from deltasparse.compression.schedules import ConstantSparsity
from deltasparse.compression.schedules import OneShotSparsity
from deltasparse.compression.schedules import PolynomialSparsity
from deltasparse.layers.convolution import DepthwiseConv3D
from deltasparse.testing.subprocess_backend import run_on_backend



def expected_zeros(sparsity, size):
    return int(math.floor(sparsity * size + 0.5))


def train_model(num_classes=3):
    """Conv3D + BN + Dense: small enough to fit a few steps quickly."""
    inputs = keras.Input((4, 8, 8, 3), name="frames")
    x = keras.layers.Conv3D(6, 3, padding="same", name="conv1_conv")(inputs)
    x = keras.layers.BatchNormalization(name="conv1_bn")(x)
    x = keras.layers.ReLU(name="conv1_relu")(x)
    x = keras.layers.Conv3D(8, 3, strides=2, name="conv2_conv")(x)
    x = keras.layers.GlobalAveragePooling3D(name="global_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax",
                                 name="classifier")(x)
    return keras.Model(inputs, outputs, name="train_model")


def train_data(seed=0, batches=3, batch=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batches * batch, 4, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 3, size=(batches * batch,))
    return x, y


def fit_pruned(optimizer, schedule, epochs=2, seed=0):
    """Fits `train_model` under pruning; returns (model, pruning, history,
    masks right after the first update, weights before training)."""
    keras.utils.set_random_seed(seed)
    model = train_model()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    pruning = MagnitudePruning(model, {"conv": schedule,
                                       "batch_norm": schedule,
                                       "classifier": schedule})
    before = {p: np.array(w.variable.numpy()) for p, w in
              pruning.weights.items()}
    x, y = train_data(seed)
    history = model.fit(x, y, batch_size=2, epochs=epochs, shuffle=False,
                        verbose=0, callbacks=[PruningCallback(pruning)])
    return model, pruning, history, before


def masks_of(pruning):
    return {p: keras.ops.convert_to_numpy(m.value) for p, m in
            pruning.masks.items()}


# --------------------------------------------------------------------------
# Which weights
# --------------------------------------------------------------------------
def test_prunable_weights_cover_every_supported_layer_nested_and_wrapped():
    inner_in = keras.Input((8, 8, 6))
    inner_out = keras.layers.DepthwiseConv2D(3, padding="same",
                                             name="dw2d")(inner_in)
    inner_out = keras.layers.Conv2D(6, 1, name="pointwise2d")(inner_out)
    inner = keras.Model(inner_in, inner_out, name="per_frame")

    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.Conv3D(6, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.BatchNormalization(scale=False, name="bn_no_gamma")(x)
    x = keras.layers.Conv3D(6, 1, groups=3, name="grouped")(x)
    x = DepthwiseConv3D(3, padding="same", name="depthwise3d")(x)
    x = keras.layers.TimeDistributed(inner, name="frames")(x)
    x = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 1, name="td"),
                                     name="wrapped")(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    x = keras.layers.Dense(5, name="hidden")(x)
    outer = keras.Model(inputs, keras.layers.Dense(3, name="classifier")(x))

    found = prunable_weights(outer)
    by_layer = {w.layer.name: w for w in found}
    assert list(by_layer) == ["conv", "bn", "grouped", "depthwise3d", "dw2d",
                              "pointwise2d", "td", "hidden", "classifier"]
    assert {n: w.kind for n, w in by_layer.items()} == {
        "conv": "conv", "bn": "batch_norm", "grouped": "conv",
        "depthwise3d": "conv", "dw2d": "conv", "pointwise2d": "conv",
        "td": "conv", "hidden": "dense", "classifier": "dense"}
    assert by_layer["bn"].variable is outer.get_layer("bn").gamma
    assert tuple(by_layer["grouped"].variable.shape) == (1, 1, 1, 2, 6)
    assert tuple(by_layer["depthwise3d"].variable.shape) == (3, 3, 3, 1, 6)
    assert len({id(w.variable) for w in found}) == len(found)


def test_video_classifier_with_nested_backbone_and_the_seed_preset():
    from deltasparse.models.video_classifier import VideoClassifier

    model = VideoClassifier.from_preset("mobilenetv2_3d_0.2x", num_classes=5,
                                        image_size=(32, 32), clip_length=4)
    layers_by_type = {}
    for weight in prunable_weights(model):
        layers_by_type.setdefault(type(weight.layer).__name__, []).append(
            weight)
    assert set(layers_by_type) == {"Conv3D", "DepthwiseConv3D",
                                   "BatchNormalization", "Dense"}
    pruning = MagnitudePruning(model, seed_element_pruning())
    assert set(pruning.weights) == {w.path for w in prunable_weights(model)}
    assert pruning.update(0, 0) == list(pruning.weights)
    pruning.apply()
    measured = pruning.sparsity_by_weight()
    for path, weight in pruning.weights.items():
        size = int(np.prod(weight.variable.shape))
        want = 0.8 if weight.layer.name == "classifier" else 0.2
        assert measured[path] == expected_zeros(want, size) / size, path
    # One-shot: later updates do not touch the frozen masks.
    assert pruning.update(50, 3) == []


def test_patterns_override_kinds_and_none_excludes():
    model = train_model()
    pruning = MagnitudePruning(model, {"conv2_*": 0.5, "conv": 0.1,
                                       "conv1_conv": None})
    assert list(pruning.weights) == ["conv2_conv/kernel"]
    assert pruning.schedules["conv2_conv/kernel"] == ConstantSparsity(0.5)
    everything = MagnitudePruning(model, 0.3)
    assert len(everything.weights) == 4
    assert everything.masks["conv1_bn/gamma"].trainable is False


@pytest.mark.parametrize("sparsity, message", [
    ({"conv9_*": 0.5}, "matches no prunable weight"),
    ({}, "at least one"),
    ({"conv": None}, "selects no weight"),
    ({"conv": "half"}, "Received: sparsity='half'"),
])
def test_invalid_selections(sparsity, message):
    with pytest.raises(ValueError, match=message):
        MagnitudePruning(train_model(), sparsity)


def test_unbuilt_model_is_rejected():
    with pytest.raises(ValueError, match="`model` must be built"):
        prunable_weights(keras.Sequential([keras.layers.Dense(2)]))


# --------------------------------------------------------------------------
# Masks during training
# --------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(0.5, momentum=0.9),
    lambda: keras.optimizers.Adam(0.05),
])
def test_pruned_weights_stay_zero_through_training(optimizer):
    model, pruning, history, before = fit_pruned(
        optimizer(), OneShotSparsity(0.5, epoch=0))
    masks = masks_of(pruning)
    for path, weight in pruning.weights.items():
        values = weight.variable.numpy()
        mask = masks[path]
        size = values.size
        assert int((mask == 0).sum()) == expected_zeros(0.5, size), path
        assert np.all(values[mask == 0] == 0.0), path
        # The one-shot mask is the magnitude mask of the initial weights.
        order = np.lexsort((np.arange(size), np.abs(before[path]).ravel()))
        want = np.ones(size)
        want[order[:expected_zeros(0.5, size)]] = 0
        np.testing.assert_array_equal(mask.ravel(), want, err_msg=path)
        # Training happened on the kept weights.
        assert not np.allclose(values[mask == 1], before[path][mask == 1])
    assert history.history["sparsity"] == pytest.approx(
        [pruning.overall_sparsity()] * 2)
    assert pruning.overall_sparsity() == pytest.approx(
        sum(expected_zeros(0.5, m.size) for m in masks.values())
        / sum(m.size for m in masks.values()))


def test_agp_through_the_callback_reaches_the_final_count():
    # Updates at steps 1 (s = 0.1), 3 (s = 0.5375) and 5 (s = 0.6).
    schedule = PolynomialSparsity(0.1, 0.6, start_step=1, num_steps=2,
                                  frequency=2)
    _, pruning, history, _ = fit_pruned(keras.optimizers.SGD(0.1),
                                        schedule, epochs=2)
    assert pruning.step == 5  # six steps: 0..5
    for path, zeros in pruning.sparsity_by_weight().items():
        size = int(np.prod(pruning.weights[path].variable.shape))
        assert zeros == expected_zeros(0.6, size) / size
    sizes = [int(np.prod(w.variable.shape)) for w in pruning.weights.values()]
    first, last = history.history["sparsity"]  # epochs end at steps 2, 5
    assert first == pytest.approx(
        sum(expected_zeros(0.1, n) for n in sizes) / sum(sizes))
    assert last == pytest.approx(
        sum(expected_zeros(0.6, n) for n in sizes) / sum(sizes))


def test_save_load_resume_and_errors(tmp_path):
    model, pruning, _, _ = fit_pruned(keras.optimizers.SGD(0.1),
                                      OneShotSparsity(0.4), epochs=1)
    path = tmp_path / "masks.npz"
    assert pruning.save(path) == os.fspath(path)
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p]

    fresh_model = train_model()
    fresh_model.set_weights([np.ones_like(w) for w in model.get_weights()])
    fresh = MagnitudePruning(fresh_model, {"conv": OneShotSparsity(0.4),
                                           "batch_norm": OneShotSparsity(0.4),
                                           "classifier": OneShotSparsity(0.4)})
    fresh.load(path)
    assert fresh.step == pruning.step == 2 and fresh.epoch == 0
    for key, mask in masks_of(pruning).items():
        np.testing.assert_array_equal(masks_of(fresh)[key], mask)
        values = fresh.weights[key].variable.numpy()
        np.testing.assert_array_equal(values, mask)  # ones * mask
    assert fresh.update(3, 1) == []  # frozen one-shot masks stay

    with pytest.raises(FileNotFoundError, match="Received: path="):
        fresh.load(tmp_path / "missing.npz")
    other = MagnitudePruning(train_model(), {"conv": 0.4})
    with pytest.raises(ValueError, match="other weights"):
        other.load(path)


def test_strip_gives_a_plain_model_with_the_same_outputs(tmp_path):
    model = train_model()
    pruning = MagnitudePruning(model, uniform_element_pruning(0.4))
    pruning.update(0, 0)
    stripped = pruning.strip()
    assert stripped is not model
    clip = np.random.default_rng(0).normal(size=(2, 4, 8, 8, 3))
    want = keras.ops.convert_to_numpy(model(clip, training=False))
    kernel = stripped.get_layer("classifier").kernel.numpy()
    assert int((kernel == 0).sum()) == expected_zeros(0.4, kernel.size)
    path = tmp_path / "stripped.keras"
    stripped.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again(clip, training=False)), want,
        atol=1e-6)


def test_strip_flattens_a_video_classifier():
    from deltasparse.models.video_classifier import VideoClassifier

    model = VideoClassifier.from_preset("mobilenetv2_3d_0.2x", num_classes=4,
                                        image_size=(32, 32), clip_length=4)
    pruning = MagnitudePruning(model, seed_element_pruning())
    pruning.update(0, 0)
    stripped = pruning.strip()
    assert not isinstance(stripped, VideoClassifier)
    clip = np.random.default_rng(0).normal(size=(1, 4, 32, 32, 3))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(stripped(clip, training=False)),
        keras.ops.convert_to_numpy(model(clip, training=False)), atol=1e-6)
    for path, fraction in pruning.sparsity_by_weight().items():
        layer = stripped.get_layer(pruning.weights[path].layer.name)
        values = [v for v in layer.weights if v.path == path][0].numpy()
        assert float(np.mean(values == 0)) == fraction, path


def test_with_the_project_trainer(tmp_path):
    from deltasparse.training.trainer import Trainer

    keras.utils.set_random_seed(0)
    model = train_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    pruning = MagnitudePruning(model, seed_element_pruning())
    logged = []
    trainer = Trainer(tmp_path / "run", monitor="loss", mode="min",
                      verbose=0,
                      log_scalar=lambda *args: logged.append(args))
    trainer.fit(model, train_data(), 2, callbacks=[PruningCallback(pruning)])
    sparsity = [(value, epoch) for name, value, epoch in logged
                if name == "sparsity"]
    assert [epoch for _, epoch in sparsity] == [1, 2]
    assert sparsity[-1][0] == pytest.approx(pruning.overall_sparsity())
    kernel = model.get_layer("classifier").kernel.numpy()
    assert int((kernel == 0).sum()) == expected_zeros(0.8, kernel.size)


def test_package_exports():
    import deltasparse.compression as compression

    assert compression.MagnitudePruning is MagnitudePruning
    assert compression.PolynomialSparsity is PolynomialSparsity
    assert "sensitivity_analysis" in compression.__all__
    for name in compression.__all__:
        assert getattr(compression, name) is not None, name
    with pytest.raises(AttributeError):
        compression.no_such_name


# --------------------------------------------------------------------------
# Presets and the per-layer CSV
# --------------------------------------------------------------------------
def test_presets():
    preset = seed_element_pruning()
    assert preset == {"conv": OneShotSparsity(0.2, 0),
                      "batch_norm": OneShotSparsity(0.2, 0),
                      "classifier": OneShotSparsity(0.8, 0)}
    assert seed_element_pruning("predictions", epoch=2)["predictions"] == \
        OneShotSparsity(0.8, 2)
    assert uniform_element_pruning() == {
        k: OneShotSparsity(0.4, 0) for k in ("conv", "dense", "batch_norm")}


def test_read_sparsity_csv_of_the_seed_kind(tmp_path):
    path = tmp_path / "resnet.csv"
    path.write_text("Name,Type,Sparsity\nconv1_conv,Conv3d,0.4\n"
                    "conv1_bn,BatchNorm3d,0.4\nclassifier,Linear,0.8\n")
    table = read_sparsity_csv(path, epoch=1)
    assert table == {"conv1_conv": OneShotSparsity(0.4, 1),
                     "conv1_bn": OneShotSparsity(0.4, 1),
                     "classifier": OneShotSparsity(0.8, 1)}
    pruning = MagnitudePruning(train_model(), table)
    assert list(pruning.weights) == ["conv1_conv/kernel", "conv1_bn/gamma",
                                     "classifier/kernel"]

    bad = tmp_path / "bad.csv"
    bad.write_text("layer,amount\nconv1_conv,0.4\n")
    with pytest.raises(ValueError, match="`name` and `sparsity`"):
        read_sparsity_csv(bad)
    bad.write_text("name,sparsity\nconv1_conv,lots\n")
    with pytest.raises(ValueError, match="Received: sparsity='lots'"):
        read_sparsity_csv(bad)
    bad.write_text("name,sparsity\nconv1_conv,1.5\n")
    with pytest.raises(ValueError, match="fraction of zeros"):
        read_sparsity_csv(bad)
    with pytest.raises(FileNotFoundError):
        read_sparsity_csv(tmp_path / "missing.csv")


def test_callback_rejects_other_objects():
    with pytest.raises(ValueError, match="`pruning` must be"):
        PruningCallback({"conv": 0.2})


# --------------------------------------------------------------------------
# JAX, in a subprocess (the backend is fixed at import time)
# --------------------------------------------------------------------------
def backend_run():
    """Three fit steps under pruning on the current backend -> dict."""
    model, pruning, history, _ = fit_pruned(
        keras.optimizers.SGD(0.5, momentum=0.9), ConstantSparsity(0.5),
        epochs=1)
    masks = masks_of(pruning)
    return {
        "backend": keras.backend.backend(),
        "step": pruning.step,
        "masked_nonzero": {p: int(np.count_nonzero(
            w.variable.numpy()[masks[p] == 0]))
            for p, w in pruning.weights.items()},
        "zeros": {p: int((m == 0).sum()) for p, m in masks.items()},
        "sizes": {p: int(m.size) for p, m in masks.items()},
        "sparsity": history.history["sparsity"][-1],
    }


def test_jax_fit_keeps_masked_weights_exactly_zero():
    result = run_on_backend("jax", module="tests.compression.test_pruning")
    assert result["backend"] == "jax"
    assert result["step"] == 2
    assert set(result["zeros"]) == {"conv1_conv/kernel", "conv1_bn/gamma",
                                    "conv2_conv/kernel", "classifier/kernel"}
    for path, zeros in result["zeros"].items():
        assert zeros == expected_zeros(0.5, result["sizes"][path])
        assert result["masked_nonzero"][path] == 0, path
    assert result["sparsity"] > 0.49


if __name__ == "__main__":
    print(json.dumps(backend_run()))
