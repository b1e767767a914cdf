"""Parity checks: does an exported model compute what the Keras model does?

`check_parity(reference_fn, candidate_fn, clips)` runs both functions on the
same clips (in batches) and measures the maximum and mean absolute
difference of their outputs and how often their top-1 classes agree. The
export (`export_model`, `deltasparse-export`) uses it for every format; it
works for any pair of callables mapping a float32 batch to a `(B, K)`
output (NumPy arrays, TensorFlow tensors, or a dict / list with one).
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class ParityResult:
    """What `check_parity` measured.

    Attributes:
        max_abs_diff: float, the largest `|reference - candidate|` over all
            clips and outputs.
        mean_abs_diff: float, the mean of `|reference - candidate|`.
        top1_agreement: float in [0, 1], fraction of clips whose arg-max
            class is the same in both.
        num_clips: int, clips compared.
    """

    max_abs_diff: float
    mean_abs_diff: float
    top1_agreement: float
    num_clips: int

    def to_dict(self):
        return dataclasses.asdict(self)


def to_numpy(outputs):
    """A model's output as a float64 NumPy array.

    Accepts an array, tensor or nested list of numbers, or a dict / list /
    tuple of tensors holding exactly one (a SavedModel signature returns a
    dict).

    Raises:
        ValueError: for a container with several outputs.
    """
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)) and all(
            hasattr(o, "shape") for o in outputs):
        if len(outputs) != 1:
            raise ValueError(
                "`outputs` must hold a single output tensor to compare. "
                f"Received: {len(outputs)} outputs")
        outputs = outputs[0]
    if hasattr(outputs, "numpy"):
        outputs = outputs.numpy()
    return np.asarray(outputs, dtype="float64")


def compare_outputs(reference, candidate):
    """Compares two `(B, K)` outputs.

    Args:
        reference: array-like `(B, K)` (or `(B,)`).
        candidate: array-like of the same shape.

    Returns:
        A `ParityResult`.

    Raises:
        ValueError: if the shapes differ.

    Example:
    >>> r = compare_outputs([[0.9, 0.1], [0.4, 0.6]], [[0.8, 0.2], [0.7, 0.3]])
    >>> round(r.max_abs_diff, 6), r.top1_agreement
    (0.3, 0.5)
    """
    reference = to_numpy(reference)
    candidate = to_numpy(candidate)
    if reference.shape != candidate.shape:
        raise ValueError(
            "`candidate` outputs must have the shape of the reference "
            f"outputs {reference.shape}. Received: shape={candidate.shape}")
    if reference.size == 0:
        return ParityResult(0.0, 0.0, 1.0, int(len(reference)))
    difference = np.abs(reference - candidate)
    rows = reference.reshape(len(reference), -1)
    other = candidate.reshape(len(candidate), -1)
    agreement = float(np.mean(rows.argmax(1) == other.argmax(1)))
    return ParityResult(max_abs_diff=float(difference.max()),
                        mean_abs_diff=float(difference.mean()),
                        top1_agreement=agreement,
                        num_clips=int(len(reference)))


def check_parity(reference_fn, candidate_fn, clips, batch_size=None):
    """Runs two models on the same clips and compares their outputs.

    Args:
        reference_fn: callable, float32 batch `(B, T, H, W, C)` -> `(B, K)`
            (e.g. the Keras model).
        candidate_fn: callable with the same contract (an exported model).
        clips: array-like `(N, ...)`, N >= 1, converted to float32.
        batch_size: int or None (all clips in one batch).

    Returns:
        A `ParityResult`.

    Raises:
        ValueError: if `clips` is empty or has no batch axis, if
            `batch_size` is not a positive int, or if the outputs' shapes
            differ.

    Example:
    >>> clips = np.ones((3, 2, 4, 4, 3), "float32")
    >>> mean = lambda x: x.reshape(len(x), -1)[:, :2]
    >>> check_parity(mean, lambda x: mean(x) + 1e-6, clips).top1_agreement
    1.0
    """
    clips = np.asarray(clips, dtype="float32")
    if clips.ndim < 2 or len(clips) == 0:
        raise ValueError(
            "`clips` must be a non-empty batch `(N, ...)` of clips. "
            f"Received: clips.shape={clips.shape}")
    if batch_size is None:
        batch_size = len(clips)
    if isinstance(batch_size, bool) or not isinstance(
            batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            "`batch_size` must be a positive int or None. "
            f"Received: batch_size={batch_size!r}")
    reference, candidate = [], []
    for start in range(0, len(clips), int(batch_size)):
        batch = clips[start:start + int(batch_size)]
        reference.append(to_numpy(reference_fn(batch)))
        candidate.append(to_numpy(candidate_fn(batch)))
    return compare_outputs(np.concatenate(reference),
                           np.concatenate(candidate))


__all__ = ["ParityResult", "check_parity", "compare_outputs", "to_numpy"]
