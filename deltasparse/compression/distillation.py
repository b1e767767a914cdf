"""Knowledge distillation of video classifiers: a frozen teacher, a student.

- `DistillationModel(student, teacher, ...)`: a `keras.Model` whose
  `call` is the student and whose `compute_loss` is
  `deltasparse.ops.distillation.distillation_loss`; the teacher is frozen
  (`trainable=False`) and always runs in inference mode. It trains with
  `fit` and with `deltasparse.training.Trainer`; the student alone is
  `model.student` (save that).
- `precompute_teacher_logits(teacher, clips, path)`: the teacher's logits of
  every clip, once, in a `.npy` file indexed by clip (atomic, resumable),
  and `teacher_logits_dataset(dataset, logits)`: the dataset form
  `(clips, (labels, teacher_logits))` the model accepts instead of running
  the teacher at every step.
- `DistillationConfig` and the preset `seed_distillation()`: the
  compressed-3d-cnn seed's setting (spec `video_systems.md` §A2.3).

Differences from the seed (Intel Distiller's `KnowledgeDistillationPolicy`):
the teacher's own cross-entropy term (`--kd_teacher_wt`, 0 in every seed
run) is left out; models ending in a softmax (the `VideoClassifier`
default) are distilled from the log of their probabilities, which equal
the logits up to a constant per clip (`from_logits=False`, see
`deltasparse.ops.distillation.log_probabilities`); labels may be sparse
class ids or one-hot rows (the 3-D protocol's datasets are one-hot).
Precomputed logits are those of ONE view of each clip: with random crops
and flips in training they are an approximation of the online teacher
(Distiller always runs the teacher on the augmented clip).
"""

import os

import keras
import numpy as np
from keras import ops

from deltasparse.ops.distillation import distillation_loss
from deltasparse.ops.distillation import log_probabilities

SEED_TEACHER = "resnet3d_101"
"""The seed's teacher: 3-D ResNet-101, shortcut B (Kinetics, `--t_path`)."""

SEED_TEMPERATURE = 5.0
"""The temperature the seed's grid search settled on (its `--kd_temp`
command-line default is 0.3, see `seed_distillation`)."""

SEED_COMMAND_LINE_TEMPERATURE = 0.3
"""The seed's `--kd_temp` default (a sharpening temperature below 1)."""


def _check_weight(name, value, strict=False):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or (
            number <= 0 if strict else number < 0):
        bound = "> 0" if strict else ">= 0"
        raise ValueError(
            f"`{name}` must be a number {bound}. Received: {name}={value!r}")
    return number


@keras.saving.register_keras_serializable(package="deltasparse")
class DistillationModel(keras.Model):
    """A student trained on a frozen teacher's soft targets.

    The loss is `distill_weight * T**2 * KL(softmax(z_t/T) ||
    softmax(z_s/T)) + student_weight * CE(labels, softmax(z_s))` (plus the
    student's regularization losses), the compiled `loss` is ignored and
    the compiled metrics see the student's outputs and the labels. Data
    are `(clips, labels)` (the teacher runs on `clips`, in inference mode)
    or `(clips, (labels, teacher_logits))` (precomputed, see
    `teacher_logits_dataset`).

    Args:
        student: a `keras.Model` (trained; `model.student`).
        teacher: a `keras.Model` with the same number of classes; set
            `trainable=False`.
        temperature: float > 0, `T`. Defaults to `5.0` (`SEED_TEMPERATURE`).
        distill_weight: float >= 0, the soft-target weight. Defaults to
            `0.7`.
        student_weight: float >= 0, the hard-label weight. Defaults to
            `0.3`.
        from_logits: bool, whether student and teacher output logits;
            `False` (the `VideoClassifier` default softmax) takes the log
            of their probabilities. Defaults to `False`.
        **kwargs: `keras.Model` keyword arguments, such as `name`.

    Call arguments:
        inputs: the student's inputs (clips).
        training: bool, passed to the student.

    Returns:
        The student's outputs.

    Raises:
        ValueError: a model is not a `keras.Model`, the class counts differ,
            or a temperature or weight is out of range.

    Example:
    >>> import numpy as np, keras
    >>> def tiny(name):
    ...     return keras.Sequential([keras.Input((4, 8, 8, 3)),
    ...         keras.layers.Flatten(),
    ...         keras.layers.Dense(3, activation="softmax")], name=name)
    >>> model = DistillationModel(tiny("student"), tiny("teacher"))
    >>> model.compile("adam", metrics=["accuracy"])
    >>> clips, labels = np.zeros((2, 4, 8, 8, 3)), np.array([0, 2])
    >>> history = model.fit(clips, labels, epochs=1, verbose=0)
    >>> model.student.name, model.teacher.trainable
    ('student', False)
    """

    def __init__(self, student, teacher, temperature=SEED_TEMPERATURE,
                 distill_weight=0.7, student_weight=0.3, from_logits=False,
                 **kwargs):
        for name, value in (("student", student), ("teacher", teacher)):
            if not isinstance(value, keras.Model):
                raise ValueError(
                    f"`{name}` must be a keras.Model. "
                    f"Received: {name}={value!r}")
        classes = (student.outputs[0].shape[-1]
                   if getattr(student, "outputs", None) else None,
                   teacher.outputs[0].shape[-1]
                   if getattr(teacher, "outputs", None) else None)
        if None not in classes and classes[0] != classes[1]:
            raise ValueError(
                "`student` and `teacher` must predict the same number of "
                f"classes. Received: student classes={classes[0]}, teacher "
                f"classes={classes[1]}")
        super().__init__(**kwargs)
        self.temperature = _check_weight("temperature", temperature,
                                         strict=True)
        self.distill_weight = _check_weight("distill_weight", distill_weight)
        self.student_weight = _check_weight("student_weight", student_weight)
        self.from_logits = bool(from_logits)
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        # Every variable already exists when both models are built: the
        # wrapper is built too (Trainer.fit requires a built model).
        self.built = bool(student.built and teacher.built)

    @property
    def output_shape(self):
        """The student's output shape (what `compile_clip3d` reads)."""
        return self.student.output_shape

    def call(self, inputs, training=None):
        return self.student(inputs, training=training)

    def teacher_logits(self, inputs):
        """The frozen teacher's logits (log-probabilities) of `inputs`."""
        outputs = self.teacher(inputs, training=False)
        return ops.stop_gradient(log_probabilities(outputs, self.from_logits))

    def _split_targets(self, x, y):
        if isinstance(y, (tuple, list)):
            if len(y) != 2:
                raise ValueError(
                    "Targets must be `labels` or `(labels, teacher_logits)`. "
                    f"Received: {len(y)} target tensors")
            labels, teacher = y
        else:
            labels, teacher = y, self.teacher_logits(x)
        return labels, teacher

    def _sparse_labels(self, labels, student):
        rank = len(ops.shape(labels))
        classes = student.shape[-1]
        if rank == len(student.shape) and classes not in (None, 1) and (
                labels.shape[-1] == classes):
            return ops.argmax(labels, axis=-1)  # one-hot rows
        return labels

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        labels, teacher = self._split_targets(x, y)
        student = log_probabilities(y_pred, self.from_logits)
        loss = distillation_loss(
            self._sparse_labels(labels, student), student, teacher,
            self.temperature, self.distill_weight, self.student_weight)
        for extra in self.losses:
            loss = loss + ops.cast(ops.sum(extra), loss.dtype)
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        labels = y[0] if isinstance(y, (tuple, list)) else y
        return super().compute_metrics(x, labels, y_pred, sample_weight)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "temperature": self.temperature,
            "distill_weight": self.distill_weight,
            "student_weight": self.student_weight,
            "from_logits": self.from_logits,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("student", "teacher"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="deltasparse")
class DistillationConfig:
    """The settings of one distillation run (what `seed_distillation` gives).

    Args:
        teacher: str, a `VideoClassifier` preset name of the teacher.
            Defaults to `"resnet3d_101"`.
        temperature: float > 0. Defaults to `5.0`.
        distill_weight: float >= 0. Defaults to `0.7`.
        student_weight: float >= 0. Defaults to `0.3`.
        num_training_clips: int >= 1 or None, the random subset of training
            clips the student sees per epoch (None: all). Defaults to
            `1000`.

    Raises:
        ValueError: a value out of range.

    Example:
    >>> config = DistillationConfig(temperature=2.0)
    >>> DistillationConfig.from_config(config.get_config()).temperature
    2.0
    """

    def __init__(self, teacher=SEED_TEACHER, temperature=SEED_TEMPERATURE,
                 distill_weight=0.7, student_weight=0.3,
                 num_training_clips=1000):
        if not isinstance(teacher, str) or not teacher:
            raise ValueError(
                "`teacher` must be a preset name such as 'resnet3d_101'. "
                f"Received: teacher={teacher!r}")
        if num_training_clips is not None and (
                isinstance(num_training_clips, bool)
                or not isinstance(num_training_clips, (int, np.integer))
                or num_training_clips < 1):
            raise ValueError(
                "`num_training_clips` must be None or an int >= 1. "
                f"Received: num_training_clips={num_training_clips!r}")
        self.teacher = teacher
        self.temperature = _check_weight("temperature", temperature, True)
        self.distill_weight = _check_weight("distill_weight", distill_weight)
        self.student_weight = _check_weight("student_weight", student_weight)
        self.num_training_clips = (None if num_training_clips is None
                                   else int(num_training_clips))

    def build(self, student, teacher, from_logits=False):
        """A `DistillationModel` of `student` and `teacher` (this config)."""
        return DistillationModel(
            student, teacher, temperature=self.temperature,
            distill_weight=self.distill_weight,
            student_weight=self.student_weight, from_logits=from_logits)

    def get_config(self):
        return {"teacher": self.teacher, "temperature": self.temperature,
                "distill_weight": self.distill_weight,
                "student_weight": self.student_weight,
                "num_training_clips": self.num_training_clips}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"DistillationConfig({items})"


def seed_distillation(temperature=SEED_TEMPERATURE):
    """The compressed-3d-cnn seed's distillation setting (spec §A2.3).

    Teacher 3-D ResNet-101 (`"resnet3d_101"`), weights 0.7 (soft targets) /
    0.3 (labels), a random 1000-clip training subset. The temperature is
    the seed's grid-searched 5: its `--kd_temp` default of 0.3 (pass
    `temperature=SEED_COMMAND_LINE_TEMPERATURE`) sharpens the teacher's
    distribution and multiplies the soft term by `T**2 = 0.09`, i.e. a
    nearly hard-label run, which the grid search moved away from.

    Args:
        temperature: float > 0. Defaults to `5.0`.

    Returns:
        A `DistillationConfig`.

    Example:
    >>> seed_distillation().get_config()["teacher"]
    'resnet3d_101'
    """
    return DistillationConfig(SEED_TEACHER, temperature, 0.7, 0.3, 1000)


# --------------------------------------------------------------------------
# Precomputed teacher logits
# --------------------------------------------------------------------------


def _batches(clips):
    """`(clips, clip_indices or None)` of every element of `clips`."""
    for element in clips:
        if isinstance(element, (tuple, list)):
            if len(element) != 2:
                raise ValueError(
                    "`clips` must yield clip batches or `(clips, "
                    "clip_indices)` pairs. Received: an element of "
                    f"{len(element)} items")
            yield element[0], np.asarray(element[1]).reshape(-1)
        else:
            yield element, None


def _write_npz_atomic(path, **arrays):
    tmp = f"{path}.tmp-{os.getpid()}.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def precompute_teacher_logits(teacher, clips, path, from_logits=False,
                              save_every=20, progress=True):
    """The teacher's logits of every clip, once, in a `.npy` file.

    Row `i` of the file holds the logits (log-probabilities when
    `from_logits=False`) of clip index `i`. Every `save_every` batches the
    rows done so far go to `<path>.partial.npz` (atomic); a new call with
    the same `path` skips the clips already there (their batches are still
    read, but the teacher does not run on them), and the final `.npy`
    replaces the partial file atomically. An existing final file is
    returned as is.

    Args:
        teacher: a `keras.Model` (run in inference mode).
        clips: an iterable (e.g. a batched `tf.data.Dataset`) of clip
            batches, or of `(clips, clip_indices)` pairs; plain batches are
            numbered in order from 0. The order must be the same on resume.
        path: str, the `.npy` file to write.
        from_logits: bool, whether the teacher outputs logits. Defaults to
            `False` (softmax outputs: their log is stored).
        save_every: int >= 1, batches between partial saves. Defaults to
            `20`.
        progress: bool, a tqdm progress bar. Defaults to `True`.

    Returns:
        float32 array `(num_clips, num_classes)` (also in `path`).

    Raises:
        ValueError: `save_every` < 1, a malformed element, or clip indices
            that leave rows without logits.

    Example:
    >>> import numpy as np, keras, tempfile, os
    >>> teacher = keras.Sequential([keras.Input((2,)),
    ...                             keras.layers.Dense(3, "softmax")])
    >>> path = os.path.join(tempfile.mkdtemp(), "teacher.npy")
    >>> batches = [np.ones((2, 2)), np.zeros((1, 2))]
    >>> precompute_teacher_logits(teacher, batches, path, progress=False).shape
    (3, 3)
    """
    if isinstance(save_every, bool) or not isinstance(save_every, int) or (
            save_every < 1):
        raise ValueError("`save_every` must be an int >= 1. "
                         f"Received: save_every={save_every!r}")
    path = os.fspath(path)
    if os.path.isfile(path):
        return np.load(path)
    partial = f"{path}.partial.npz"
    done = {}
    if os.path.isfile(partial):
        with np.load(partial) as stored:
            done = dict(zip(stored["indices"].tolist(), stored["logits"]))
    from tqdm.auto import tqdm

    position = 0
    fresh = 0
    batches = tqdm(_batches(clips), disable=not progress,
                   desc="teacher logits", unit="batch")
    for number, (batch, indices) in enumerate(batches):
        count = int(ops.shape(batch)[0])
        if indices is None:
            indices = np.arange(position, position + count)
        position += count
        if all(int(i) in done for i in indices):
            continue
        outputs = teacher(batch, training=False)
        logits = ops.convert_to_numpy(log_probabilities(outputs, from_logits))
        done.update(zip((int(i) for i in indices), logits))
        fresh += 1
        if fresh % save_every == 0:
            keys = sorted(done)
            _write_npz_atomic(partial, indices=np.array(keys),
                              logits=np.stack([done[k] for k in keys]))
    if not done:
        raise ValueError("`clips` yielded no clips. Received: an empty "
                         "iterable")
    keys = sorted(done)
    if keys != list(range(len(keys))):
        missing = sorted(set(range(keys[-1] + 1)) - set(keys))[:5]
        raise ValueError(
            "Clip indices must cover 0..N-1 without gaps. Received: missing "
            f"indices {missing}")
    logits = np.stack([done[k] for k in keys]).astype("float32")
    tmp = f"{path}.tmp-{os.getpid()}.npy"
    np.save(tmp, logits)
    os.replace(tmp, path)
    if os.path.isfile(partial):
        os.remove(partial)
    return logits


def teacher_logits_dataset(dataset, logits):
    """`(clips, labels, clip_indices)` -> `(clips, (labels, teacher_logits))`.

    Args:
        dataset: a `tf.data.Dataset` of batched `(clips, labels,
            clip_indices)`.
        logits: array `(num_clips, num_classes)` from
            `precompute_teacher_logits`, or the path of its `.npy` file.

    Returns:
        A `tf.data.Dataset` that `DistillationModel.fit` accepts.

    Raises:
        FileNotFoundError: `logits` names a missing file.

    Example:
    >>> import numpy as np, tensorflow as tf
    >>> data = tf.data.Dataset.from_tensor_slices(
    ...     (np.zeros((2, 1)), np.array([0, 1]), np.array([1, 0]))).batch(2)
    >>> logits = np.array([[1.0, 0.0], [0.0, 1.0]], "float32")
    >>> _, (_, z) = next(iter(teacher_logits_dataset(data, logits)))
    >>> z.numpy().tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    import tensorflow as tf

    if isinstance(logits, (str, os.PathLike)):
        if not os.path.isfile(logits):
            raise FileNotFoundError(
                "`logits` must be an array or the .npy file written by "
                "precompute_teacher_logits. Received: logits="
                f"{os.fspath(logits)!r}")
        logits = np.load(logits)
    table = tf.constant(np.asarray(logits, "float32"))

    def attach(clips, labels, indices):
        return clips, (labels, tf.gather(table, tf.cast(indices, "int32")))

    return dataset.map(attach, num_parallel_calls=tf.data.AUTOTUNE)


__all__ = [
    "DistillationConfig",
    "DistillationModel",
    "SEED_COMMAND_LINE_TEMPERATURE",
    "SEED_TEACHER",
    "SEED_TEMPERATURE",
    "precompute_teacher_logits",
    "seed_distillation",
    "teacher_logits_dataset",
]
