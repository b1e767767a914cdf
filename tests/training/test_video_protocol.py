"""Tests of `deltasparse.training.video_protocol` (no Sacred).

Tiny Dense models stand in for the video classifiers where only the
protocol is tested (`set_trainable`, `train_phases`); the per-layer figures
of `evaluate_with_layers` are checked against an independent NumPy count on
the tiny delta video model of `tests/models`.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from deltasparse.training import video_protocol as protocol
from tests.models.tiny_video_model import numpy_counts
from tests.models.tiny_video_model import tiny_data
from tests.models.tiny_video_model import tiny_video_model


def test_preset_name_and_bad_names():
    assert protocol.preset_name("resnet50", "l1") == "resnet50_l1"
    assert protocol.preset_name("mobilenet", None) == "mobilenet_baseline"
    with pytest.raises(ValueError, match="Received: architecture='vgg19'"):
        protocol.preset_name("vgg19", "delta")
    with pytest.raises(ValueError, match="Received: sparsity='baseline'"):
        protocol.preset_name("mobilenet", "baseline")


def test_build_video_classifier_keeps_preset_values_for_none():
    model = protocol.build_video_classifier(
        "mobilenet", "delta", 3, [32, 32], alpha=0.25, sp_rate=0.5,
        thr_init=None, bn_momentum=None)
    assert len(model.sparsity_slots) == 27
    assert model.output_shape == (None, 3)
    assert model.input_shape[2:] == (32, 32, 3)
    delta = model.get_layer(model.sparsity_slots[0].layer_name)
    assert delta.sp_rate == 0.5
    # thr_init=None kept the preset's first step (1.0 for MobileNet).
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(delta.threshold), 1.0)


def _tiny_classifier(seed=0):
    """A Dense 'classifier' with a `backbone` attribute, like VideoClassifier."""
    keras.utils.set_random_seed(seed)
    backbone = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(6, name="conv1_dense"),
         keras.layers.Dense(6, activation="relu", name="conv5_dense")],
        name="backbone")
    inputs = keras.Input((5,))
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(
        backbone(inputs))
    model = keras.Model(inputs, outputs, name="tiny")
    model.backbone = backbone
    return model


def test_set_trainable_prefixes():
    model = _tiny_classifier()
    assert protocol.set_trainable(model, "") == 1  # the head only
    assert not any(layer.trainable for layer in model.backbone.layers)
    assert protocol.set_trainable(model, "conv5") == 2
    assert [layer.trainable for layer in model.backbone.layers] == [False,
                                                                    True]
    assert protocol.set_trainable(model, None) == 2
    assert len(model.trainable_weights) == 6


def _data(epoch, seed=3):
    rng = np.random.default_rng([seed, epoch])
    x = rng.normal(size=(16, 5)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def _compile(model, phase):
    model.compile(optimizer=keras.optimizers.SGD(phase.lr, momentum=0.9),
                  loss="categorical_crossentropy", metrics=["accuracy"])


PHASES = [protocol.Phase("head", 1, 0.1, trainable_prefix=""),
          protocol.Phase("finetune", 3, 0.05)]


def _train(folder, phases, resume=False, log=None):
    model = _tiny_classifier()
    result = protocol.train_phases(
        model, phases, str(folder), _data, compile_phase=_compile,
        validation_data=_data(99), resume=resume, seed=1, verbose=0,
        log_scalar=None if log is None else
        (lambda name, value, step: log.append((name, step, value))))
    return model, result


def test_train_phases_head_phase_freezes_the_backbone(tmp_path):
    model, result = _train(tmp_path / "a", PHASES[:1])
    fresh = _tiny_classifier()
    for name in ("conv1_dense", "conv5_dense"):
        np.testing.assert_array_equal(
            model.backbone.get_layer(name).get_weights()[0],
            fresh.backbone.get_layer(name).get_weights()[0])
    assert not np.array_equal(model.get_layer("head").get_weights()[0],
                              fresh.get_layer("head").get_weights()[0])
    assert result.epochs == [1]
    assert result.checkpoint_dirs == [os.path.join(str(tmp_path / "a"),
                                                   "head")]


def test_train_phases_resume_equals_uninterrupted(tmp_path):
    straight, want = _train(tmp_path / "straight", PHASES)
    assert want.epochs == [1, 2, 3] and len(want.history["loss"]) == 3
    assert os.path.isfile(want.best_weights_path)
    assert want.best_value == max(want.history["val_accuracy"])

    # Killed after the head phase and one fine-tune epoch, then resumed.
    _train(tmp_path / "resumed", [PHASES[0], protocol.Phase(
        "finetune", 2, 0.05)])
    log = []
    resumed, got = _train(tmp_path / "resumed", PHASES, resume=True, log=log)
    assert got.resumed_from_epoch == 1  # the head phase, already done
    assert got.epochs == [1, 2, 3]
    for name, values in want.history.items():
        if name.endswith("_time") or name == "clips_per_second":
            continue
        np.testing.assert_allclose(got.history[name], values, rtol=1e-6,
                                   err_msg=name)
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # Epochs 1-2 replayed once, epoch 3 logged by the trainer.
    assert [step for name, step, _ in log if name == "loss"] == [1, 2, 3]


def test_evaluate_with_layers_counts_the_first_clips():
    keras.utils.set_random_seed(0)
    model = tiny_video_model("delta")
    x, y = tiny_data(batches=3, batch=4, seed=2)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    figures, layers, evaluation = protocol.evaluate_with_layers(
        model, dataset, steps=2, layer_clips=6)
    assert evaluation is None  # clips, not views: clip figures only
    assert figures["clips"] == 8 and figures["steps"] == 2
    # The per-layer counts are those of the first 6 clips (two batches).
    l0, n, frames = numpy_counts(model, x[:6], 6)
    np.testing.assert_allclose(layers["l0"], l0)
    np.testing.assert_allclose(layers["n"], n)
    assert float(np.asarray(layers["frames"])) == frames == 6 * 2
    # The evaluation figures cover the 8 evaluated clips.
    l0, n, _ = numpy_counts(model, x[:8], 4)
    assert figures["delta_density_all"] == pytest.approx(l0.sum() / n.sum())
    assert protocol.evaluate_with_layers(model, dataset, steps=1)[1] is None


def test_evaluate_with_layers_on_views_gives_clip_and_video_figures():
    """`protocol_figures` against a NumPy reference on 3 videos x 4 views."""
    from deltasparse.data.video import VideoList
    from deltasparse.evaluation.clips import plain_crossentropy

    keras.utils.set_random_seed(0)
    model = tiny_video_model("delta")
    x, y = tiny_data(batches=3, batch=4, seed=3)
    labels = np.argmax(y, axis=1)
    index = np.repeat(np.arange(3, dtype=np.int32), 4)
    y = np.eye(y.shape[1], dtype=np.float32)[labels[index * 4]]
    dataset = tf.data.Dataset.from_tensor_slices((x, y, index)).batch(4)
    dataset.video_list = VideoList(
        paths=["a", "b", "c"], num_frames=[8, 8, 8],
        labels=[(int(labels[i * 4]),) for i in range(3)],
        class_names=[str(j) for j in range(y.shape[1])])
    figures, layers, evaluation = protocol.evaluate_with_layers(
        model, dataset, layer_clips=2)
    p = np.asarray(model.predict_on_batch(x), "float64")
    true = np.argmax(y, axis=1)
    assert figures["accuracy"] == pytest.approx(
        np.mean(np.argmax(p, axis=1) == true))
    assert figures["loss"] == pytest.approx(
        np.mean(plain_crossentropy(y, p)), rel=1e-5)
    video_p = p.reshape(3, 4, -1).mean(axis=1)
    assert figures["video_accuracy"] == pytest.approx(np.mean(
        np.argmax(video_p, axis=1) == true[::4]))
    assert figures["clips"] == 12 and figures["videos"] == 3
    assert evaluation.video_ids == ["a", "b", "c"]
    assert layers is not None and float(np.asarray(layers["frames"])) == 2 * (
        x.shape[1] - 1)
