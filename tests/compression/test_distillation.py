"""Tests for `deltasparse.compression.distillation`: the loss `fit` reports
against a NumPy reference, the frozen teacher, precomputed logits (atomic,
resumable), the Trainer, saving the student alone, the seed preset, and one
JAX run in a subprocess."""

import os

import keras
import numpy as np
import pytest

from deltasparse.compression.distillation import DistillationConfig
from deltasparse.compression.distillation import DistillationModel
from deltasparse.compression.distillation import precompute_teacher_logits
from deltasparse.compression.distillation import seed_distillation
from deltasparse.compression.distillation import teacher_logits_dataset
from deltasparse.testing.subprocess_backend import run_on_backend

CLIP = (4, 8, 8, 3)
CLASSES = 3


def tiny_model(name, seed, width=2):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(CLIP)
    x = keras.layers.Conv3D(width, 3, padding="same", activation="relu")(
        inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name=name)


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_kd_loss(labels, student_probs, teacher_probs, temperature, alpha,
               beta):
    """The reference from probabilities: logits = log p (shift-invariant)."""
    z_s = np.log(np.clip(student_probs.astype("float64"), 1e-7, 1))
    z_t = np.log(np.clip(teacher_probs.astype("float64"), 1e-7, 1))
    log_s, log_t = np_log_softmax(z_s / temperature), np_log_softmax(
        z_t / temperature)
    kl = (np.exp(log_t) * (log_t - log_s)).sum(-1).mean()
    ce = -np_log_softmax(z_s)[np.arange(len(labels)), labels].mean()
    return alpha * temperature ** 2 * kl + beta * ce


@pytest.fixture()
def data():
    rng = np.random.default_rng(1)
    clips = rng.normal(size=(6, *CLIP)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2])
    return clips, labels


def distiller(**kwargs):
    model = DistillationModel(tiny_model("student", 1),
                              tiny_model("teacher", 2, width=4), **kwargs)
    model.compile(keras.optimizers.Adam(1e-2), metrics=["accuracy"])
    return model


def test_reported_loss_matches_numpy_and_metrics_see_the_student(data):
    clips, labels = data
    model = distiller(temperature=4.0, distill_weight=0.8, student_weight=0.4)
    logs = model.evaluate(clips, labels, batch_size=6, verbose=0,
                          return_dict=True)
    student = model.student.predict(clips, verbose=0)
    teacher = model.teacher.predict(clips, verbose=0)
    want = np_kd_loss(labels, student, teacher, 4.0, 0.8, 0.4)
    np.testing.assert_allclose(logs["loss"], want, rtol=1e-5)
    accuracy = np.mean(student.argmax(-1) == labels)
    np.testing.assert_allclose(logs["accuracy"], accuracy)
    np.testing.assert_allclose(model.predict(clips, verbose=0), student,
                               atol=1e-6)


def test_fit_trains_the_student_and_leaves_the_teacher_frozen(data):
    clips, labels = data
    model = distiller()
    teacher_before = [v.numpy().copy() for v in model.teacher.weights]
    student_before = [v.numpy().copy() for v in model.student.weights]
    model.fit(clips, labels, batch_size=3, epochs=2, verbose=0)
    for before, after in zip(teacher_before, model.teacher.weights):
        np.testing.assert_array_equal(before, after.numpy())  # BN stats too
    changed = [not np.array_equal(b, a.numpy())
               for b, a in zip(student_before, model.student.weights)]
    assert all(changed)
    assert model.trainable_weights == model.student.trainable_weights


def test_one_hot_labels_and_precomputed_logits_give_the_same_loss(data):
    clips, labels = data
    model = distiller()
    sparse = model.evaluate(clips, labels, batch_size=6, verbose=0)[0]
    onehot = keras.utils.to_categorical(labels, CLASSES)
    model.compile(metrics=[keras.metrics.CategoricalAccuracy()])
    assert model.evaluate(clips, onehot, batch_size=6,
                          verbose=0)[0] == pytest.approx(sparse, rel=1e-6)
    logits = np.log(np.clip(model.teacher.predict(clips, verbose=0), 1e-7,
                            1))
    wrong = np.zeros_like(logits)  # an ignored teacher would not notice
    for table, same in ((logits, True), (wrong, False)):
        loss = model.evaluate(clips, (onehot, table), batch_size=6,
                              verbose=0)[0]
        assert (loss == pytest.approx(sparse, rel=1e-5)) is same


def test_trainer_fit_and_the_student_saved_alone(data, tmp_path):
    from deltasparse.training import Trainer

    clips, labels = data
    model = distiller()
    trainer = Trainer(str(tmp_path / "ckpt"), seed=1, monitor="loss",
                      mode="min", verbose=0)
    result = trainer.fit(model, lambda epoch: (clips, labels), epochs=2)
    assert result.epochs == [1, 2]
    assert np.all(np.isfinite(result.history["loss"]))
    path = str(tmp_path / "student.keras")
    model.student.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.name == "student" and "teacher" not in [
        layer.name for layer in loaded.layers]
    np.testing.assert_allclose(loaded.predict(clips, verbose=0),
                               model.predict(clips, verbose=0), atol=1e-6)


def test_keras_round_trip_of_the_wrapper(data, tmp_path):
    clips, _ = data
    model = distiller(temperature=2.0)
    path = str(tmp_path / "kd.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, DistillationModel)
    assert loaded.temperature == 2.0 and not loaded.teacher.trainable
    np.testing.assert_allclose(loaded.predict(clips, verbose=0),
                               model.predict(clips, verbose=0), atol=1e-6)


class CountingTeacher(keras.Model):
    """Softmax of a fixed linear map, counting the clips it sees."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(CLASSES, activation="softmax",
                                        kernel_initializer="ones")
        self.seen = 0

    def call(self, inputs, training=None):
        self.seen += int(inputs.shape[0])
        return self.dense(keras.ops.reshape(inputs, (inputs.shape[0], -1)))


def test_precompute_is_indexed_resumable_and_atomic(data, tmp_path):
    clips, _ = data
    teacher = tiny_model("teacher", 2)
    want = np.log(np.clip(teacher.predict(clips, verbose=0), 1e-7, 1))
    path = str(tmp_path / "logits.npy")
    # Indexed batches in a shuffled order land in their rows.
    order = np.array([4, 1, 5, 0, 3, 2])
    batches = [(clips[order[i:i + 2]], order[i:i + 2]) for i in (0, 2, 4)]
    got = precompute_teacher_logits(teacher, batches, path, save_every=1,
                                    progress=False)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(path), got)
    assert sorted(os.listdir(tmp_path)) == ["logits.npy"]

    # Interrupted after 2 of 3 batches: the partial file holds 4 rows and
    # the rerun runs the teacher on the last 2 clips only.
    counting = CountingTeacher()
    counting(clips[:1])  # built (its symbolic call counts too)
    counting.seen = 0
    resumed = str(tmp_path / "resumed.npy")
    plain = [clips[0:2], clips[2:4], clips[4:6]]

    def interrupted():
        yield from plain[:2]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        precompute_teacher_logits(counting, interrupted(), resumed,
                                  save_every=1, progress=False)
    assert counting.seen == 4 and not os.path.exists(resumed)
    assert os.path.isfile(resumed + ".partial.npz")
    full = precompute_teacher_logits(counting, plain, resumed, save_every=1,
                                     progress=False)
    assert counting.seen == 6 and full.shape == (6, CLASSES)
    assert not os.path.exists(resumed + ".partial.npz")
    assert precompute_teacher_logits(counting, plain, resumed).shape == (
        6, CLASSES) and counting.seen == 6  # an existing file is reused
    np.testing.assert_allclose(full, np.log(np.clip(
        keras.ops.convert_to_numpy(counting(clips)), 1e-7, 1)), atol=1e-6)


def test_precompute_errors(data, tmp_path):
    clips, _ = data
    teacher = tiny_model("teacher", 2)
    with pytest.raises(ValueError, match="`save_every`"):
        precompute_teacher_logits(teacher, [clips], "x.npy", save_every=0)
    with pytest.raises(ValueError, match="without gaps"):
        precompute_teacher_logits(teacher, [(clips[:2], [0, 5])],
                                  str(tmp_path / "g.npy"), progress=False)
    with pytest.raises(ValueError, match="`clips`"):
        precompute_teacher_logits(teacher, [(clips, [0], [1])],
                                  str(tmp_path / "e.npy"), progress=False)
    with pytest.raises(FileNotFoundError, match="`logits`"):
        teacher_logits_dataset(None, str(tmp_path / "missing.npy"))


def test_teacher_logits_dataset_trains_the_wrapper(data, tmp_path):
    import tensorflow as tf

    clips, labels = data
    model = distiller()
    logits = precompute_teacher_logits(model.teacher, [clips],
                                       str(tmp_path / "t.npy"),
                                       progress=False)
    dataset = tf.data.Dataset.from_tensor_slices(
        (clips, labels, np.arange(6))).batch(3)
    history = model.fit(teacher_logits_dataset(dataset, logits), epochs=1,
                        verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_seed_preset_and_config():
    config = seed_distillation()
    assert config.get_config() == {
        "teacher": "resnet3d_101", "temperature": 5.0, "distill_weight": 0.7,
        "student_weight": 0.3, "num_training_clips": 1000}
    assert seed_distillation(0.3).temperature == 0.3
    again = DistillationConfig.from_config(config.get_config())
    assert again.get_config() == config.get_config()
    model = config.build(tiny_model("s", 1), tiny_model("t", 2))
    assert (model.temperature, model.distill_weight,
            model.student_weight) == (5.0, 0.7, 0.3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(temperature=0), "`temperature`"),
    (dict(distill_weight=-0.1), "`distill_weight`"),
    (dict(student_weight=None), "`student_weight`"),
    (dict(num_training_clips=0), "`num_training_clips`"),
    (dict(teacher=""), "`teacher`")])
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message + ".*Received"):
        DistillationConfig(**kwargs)


def test_model_errors():
    with pytest.raises(ValueError, match="`teacher` must be a keras.Model"):
        DistillationModel(tiny_model("s", 1), "resnet3d_101")
    other = keras.Sequential([keras.Input(CLIP), keras.layers.Flatten(),
                              keras.layers.Dense(5)])
    with pytest.raises(ValueError, match="same number of classes"):
        DistillationModel(tiny_model("s", 1), other)
    with pytest.raises(ValueError, match="`temperature`"):
        DistillationModel(tiny_model("s", 1), tiny_model("t", 2),
                          temperature=-1)


JAX_SCRIPT = """
import json
import keras
import numpy as np
from deltasparse.compression.distillation import DistillationModel
from tests.compression.test_distillation import np_kd_loss, tiny_model

clips = np.random.default_rng(1).normal(size=(6, 4, 8, 8, 3)).astype("f4")
labels = np.array([0, 1, 2, 0, 1, 2])
model = DistillationModel(tiny_model("student", 1), tiny_model("t", 2, 4))
model.compile(keras.optimizers.Adam(1e-2), metrics=["accuracy"])
teacher = [keras.ops.convert_to_numpy(v).copy() for v in model.teacher.weights]
student = [keras.ops.convert_to_numpy(v).copy() for v in model.student.weights]
history = model.fit(clips, labels, batch_size=2, epochs=1, verbose=0)
loss = model.evaluate(clips, labels, batch_size=6, verbose=0)[0]
want = np_kd_loss(labels, model.student.predict(clips, verbose=0),
                  model.teacher.predict(clips, verbose=0), 5.0, 0.7, 0.3)
print(json.dumps({
    "backend": keras.backend.backend(),
    "steps": int(model.optimizer.iterations.numpy()),
    "loss": float(loss), "want": float(want),
    "teacher_same": all(np.array_equal(a, keras.ops.convert_to_numpy(b))
                        for a, b in zip(teacher, model.teacher.weights)),
    "student_changed": all(not np.array_equal(a, keras.ops.convert_to_numpy(b))
                           for a, b in zip(student, model.student.weights))}))
"""


def test_jax_distillation_trains_three_steps():
    result = run_on_backend("jax", JAX_SCRIPT)
    assert result["backend"] == "jax" and result["steps"] == 3
    assert result["teacher_same"] and result["student_changed"]
    np.testing.assert_allclose(result["loss"], result["want"], rtol=1e-5)
