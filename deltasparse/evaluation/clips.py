"""Clip-level evaluation of video classifiers, with sparsity figures, from
the trained model itself (no second model, no weight copying)."""

import keras
import numpy as np
from keras import ops

from deltasparse.models.sparsity_figures import per_layer_figures
from deltasparse.models.sparsity_logger import accumulated_figures
from deltasparse.models.sparsity_logger import reset_sparsity_totals
from deltasparse.models.sparsity_slots import find_accumulator

# Keras' probability clipping in `categorical_crossentropy`.
_EPSILON = 1e-7


def _split_batch(batch):
    if isinstance(batch, dict):
        raise ValueError(
            "`dataset` must yield `(clips, labels)` or `(clips, labels, "
            f"weights)` tuples. Received: a dict with keys {sorted(batch)}"
        )
    if not isinstance(batch, (list, tuple)) or len(batch) not in (2, 3):
        raise ValueError(
            "`dataset` must yield `(clips, labels)` or `(clips, labels, "
            f"weights)` tuples. Received: {type(batch).__name__}"
        )
    return batch[0], batch[1]


def _one_hot(labels, num_classes):
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[-1] == num_classes:
        return labels.astype("float64")
    labels = labels.reshape(-1).astype("int64")
    return np.eye(num_classes, dtype="float64")[labels]


def plain_crossentropy(y_true, y_pred):
    """Categorical cross-entropy per clip, as `keras.losses
    .categorical_crossentropy` on probabilities (rescaled to sum 1, clipped
    to `[1e-7, 1 - 1e-7]`), in float64 NumPy.

    Args:
        y_true: one-hot labels `(B, K)`.
        y_pred: probabilities `(B, K)`.

    Returns:
        `(B,)` float64 losses.
    """
    p = np.asarray(y_pred, "float64")
    p = p / np.sum(p, axis=-1, keepdims=True)
    p = np.clip(p, _EPSILON, 1.0 - _EPSILON)
    return -np.sum(np.asarray(y_true, "float64") * np.log(p), axis=-1)


def _progress(iterable, total, enabled):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return iterable
    return tqdm(iterable, total=total, desc="evaluate", unit="batch")


def evaluate_clips(model, dataset, steps=None, progress=True):
    """Clip accuracy, plain cross-entropy and sparsity figures of `model`.

    Runs `model.predict_on_batch` (the compiled inference step of the
    backend, BatchNormalization and Dropout in inference mode) over the
    batches of `dataset` and computes, over all clips:

    - `accuracy`: argmax of the time-averaged probabilities vs the label;
    - `loss`: the mean categorical cross-entropy of those probabilities,
      WITHOUT the sparsity loss terms the slots add (the original evaluated
      a second model built with `sp_rate=0`; here the terms are simply not
      added, the same number);
    - `clips` and `steps`;
    - every sparsity figure of the model's slots (`delta_density_<group>` or
      `act_density_<group>`, `..._all`, `op_ratio_counted`,
      `macs_dense_counted`, `macs_effective_counted`; see
      `deltasparse.models.sparsity_figures`), from the statistics the
      model's `SparsityAccumulator` summed over exactly these batches (it is
      reset first). A model without slots has no sparsity figures.

    Args:
        model: a compiled or uncompiled video classifier, e.g. a
            `deltasparse.models.VideoClassifier`, with probability outputs.
        dataset: an iterable of `(clips, labels)` (or with sample weights,
            ignored) batches, e.g. a `tf.data.Dataset`; labels one-hot
            `(B, K)` or integer `(B,)`.
        steps: int or None, the number of batches (None: all).
        progress: bool, whether to show a tqdm progress bar. Defaults to
            `True`.

    Returns:
        dict: `accuracy`, `loss`, `clips`, `steps` and the sparsity figures
        (floats; `clips` and `steps` ints).

    Example:
    >>> from deltasparse.models import VideoClassifier
    >>> model = VideoClassifier.from_preset("mobilenet_delta", num_classes=2,
    ...     image_size=(32, 32), alpha=0.25)
    >>> clips = np.random.rand(4, 2, 32, 32, 3).astype("float32")
    >>> labels = np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    >>> result = evaluate_clips(model, [(clips[:2], labels[:2]),
    ...                                 (clips[2:], labels[2:])], progress=False)
    >>> result["clips"], result["steps"], 0.0 < result["delta_density_all"] <= 1
    (4, 2, True)
    """
    if steps is not None and (
        isinstance(steps, bool) or not isinstance(steps, int) or steps < 1
    ):
        raise ValueError(
            f"`steps` must be None or a positive int. Received: steps={steps!r}"
        )
    reset_sparsity_totals(model)
    total = steps
    if total is None:
        try:
            total = len(dataset)
        except TypeError:
            total = None
    correct = 0
    loss_sum = 0.0
    clips = 0
    done = 0
    for batch in _progress(dataset, total, progress):
        if steps is not None and done >= steps:
            break
        x, y = _split_batch(batch)
        if keras.backend.backend() != "tensorflow":
            x = np.asarray(x)  # e.g. tf.data tensors for JAX's jit
        y_pred = np.asarray(ops.convert_to_numpy(model.predict_on_batch(x)))
        y_true = _one_hot(ops.convert_to_numpy(y), y_pred.shape[-1])
        correct += int(np.sum(
            np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)
        ))
        loss_sum += float(np.sum(plain_crossentropy(y_true, y_pred)))
        clips += int(y_pred.shape[0])
        done += 1
    if clips == 0:
        raise ValueError(
            "`dataset` yielded no batch to evaluate. "
            f"Received: dataset={dataset!r}, steps={steps!r}"
        )
    result = {
        "accuracy": correct / clips,
        "loss": loss_sum / clips,
        "clips": clips,
        "steps": done,
    }
    result.update(accumulated_figures(model))
    return result


def layer_sparsity(model, x, training=False):
    """Per-slot sparsity figures of `model` on one batch (for plots).

    Runs the batch once (inference mode unless `training`) and reads the
    statistics the model's `SparsityAccumulator` summed for it. The sums
    present before the call are restored afterwards.

    Args:
        model: a model with sparsity slots (e.g. `VideoClassifier` built
            with `sparsity="delta"` or `"l1"`).
        x: a batch of clips `(B, T, H, W, C)`.
        training: bool, run BatchNormalization/Dropout in training mode
            (updates their statistics). Defaults to `False`.

    Returns:
        dict with `names`, `groups` (lists of str), `n_outputs` (float64
        array), `kind`, `l0`, `n` (float64 arrays, one entry per slot),
        `frames` (`B*(T-1)` for deltas, `B*T` for activations) and the NumPy
        arrays of `per_layer_figures` (`density`, `neurons_per_frame`,
        `nonzero_per_frame`, `macs_dense_per_frame`,
        `macs_effective_per_frame`), in slot order.

    Raises:
        ValueError: if the model has no sparsity slots.
    """
    accumulator = find_accumulator(model)
    if accumulator is None:
        raise ValueError(
            "The model has no sparsity slots (a baseline built with "
            "`sparsity=None`?). Build it with `sparsity='delta'` or `'l1'` "
            "(`sp_rate=0` measures without penalising). "
            f"Received: model={model.name!r}"
        )
    saved = [ops.convert_to_numpy(v) for v in accumulator.totals.variables]
    accumulator.reset()
    if keras.backend.backend() != "tensorflow":
        x = np.asarray(x)
    try:
        if training:
            model(x, training=True)
        else:
            model.predict_on_batch(x)
        totals = accumulator.read()
    finally:
        for variable, value in zip(accumulator.totals.variables, saved):
            variable.assign(value)
    slots = accumulator.slots
    stats = {
        "names": [s.name for s in slots],
        "groups": [s.group for s in slots],
        "n_outputs": np.asarray([s.n_outputs for s in slots], "float64"),
        "kind": accumulator.kind,
        "l0": totals["l0"],
        "n": totals["n"],
        "frames": totals["frames"],
    }
    figures = per_layer_figures(
        stats["l0"], stats["n"], stats["n_outputs"], stats["frames"]
    )
    for key, value in figures.items():
        stats[key] = np.asarray(ops.convert_to_numpy(value), "float64")
    return stats
