"""Pruning masks written with `keras.ops` only (any Keras backend).

- `magnitude_mask(weights, sparsity)`: element-wise, the smallest `|w|`
  removed.
- `filter_mask(weights, sparsity)`: structured, whole output filters (the
  last axis) removed, ranked by their L1 norm.

Both break ties deterministically (the lower flat index is removed first)
and work eagerly, inside a `tf.function` and under `jax.jit`.
"""

import math
import numbers

from keras import backend
from keras import ops


def _check_sparsity(sparsity):
    if isinstance(sparsity, numbers.Real) and not (0.0 <= sparsity <= 1.0):
        raise ValueError(
            "`sparsity` must be a fraction of zeros in [0, 1]. Received: "
            f"sparsity={sparsity}")


def num_pruned(sparsity, size):
    """Number of elements a mask of `sparsity` removes from `size`.

    `floor(sparsity * size + 0.5)`: the nearest integer, halves rounded up
    (Python's `round` rounds halves to even; this rule does not depend on
    the parity of the count). A Python `sparsity` is rounded in float64;
    a tensor `sparsity` in its own dtype (float32 on JAX by default), which
    can differ from float64 at exact halves such as `0.45 * 10`.

    Args:
        sparsity: float in [0, 1] or a scalar tensor.
        size: int, the number of elements.

    Returns:
        A Python int for a Python `sparsity`, else an int32 scalar tensor.

    Example:
    >>> num_pruned(0.25, 10), num_pruned(0.2, 7), num_pruned(1.0, 3)
    (3, 1, 3)
    """
    _check_sparsity(sparsity)
    if isinstance(sparsity, numbers.Real):
        return int(math.floor(float(sparsity) * size + 0.5))
    sparsity = ops.convert_to_tensor(sparsity)
    if not backend.standardize_dtype(sparsity.dtype).startswith("float"):
        sparsity = ops.cast(sparsity, "float32")
    return ops.cast(ops.floor(sparsity * size + 0.5), "int32")


def magnitude_mask(weights, sparsity):
    """0/1 mask removing the `sparsity` fraction of smallest-magnitude weights.

    Exactly `num_pruned(sparsity, size)` = `floor(sparsity * size + 0.5)`
    entries are 0: all weights with `|w|` below the k-th smallest magnitude,
    then, among the weights equal to it, those with the lowest flat
    (row-major) indices first. Found by one sort of the magnitudes and a
    cumulative count of the ties, so the result is the same on every
    backend, without relying on a stable sort.

    Args:
        weights: tensor of any shape (a kernel, a BatchNorm gamma).
        sparsity: fraction of zeros, a float in [0, 1] or a scalar tensor
            (e.g. a schedule value inside a compiled function).

    Returns:
        Tensor of the shape and dtype of `weights`, 1 where a weight is
        kept and 0 where it is pruned.

    Raises:
        ValueError: a Python `sparsity` outside [0, 1], or `weights` of
            unknown size.

    Example:
    >>> import numpy as np
    >>> w = np.array([[0.5, -0.1], [0.1, 2.0]], "float32")
    >>> np.asarray(magnitude_mask(w, 0.5)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    >>> np.asarray(magnitude_mask(w, 0.25)).tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    _check_sparsity(sparsity)
    weights = ops.convert_to_tensor(weights)
    shape = tuple(weights.shape)
    if any(dim is None for dim in shape):
        raise ValueError(
            "`weights` must have a fully known shape to be pruned. "
            f"Received: weights.shape={shape}")
    size = math.prod(shape)
    count = num_pruned(sparsity, size)
    if isinstance(count, int):
        if count == 0:
            return ops.ones_like(weights)
        if count == size:
            return ops.zeros_like(weights)
    magnitude = ops.reshape(ops.abs(weights), (size,))
    ordered = ops.sort(magnitude)
    # The k-th smallest magnitude (k >= 1); for k = 0 nothing is removed.
    threshold = ops.take(ordered, ops.maximum(count - 1, 0))
    below = magnitude < threshold
    tie = ops.cast(magnitude == threshold, "int32")
    budget = count - ops.sum(ops.cast(below, "int32"))
    tie_removed = ops.logical_and(tie > 0, ops.cumsum(tie) <= budget)
    keep = ops.cast(ops.logical_not(ops.logical_or(below, tie_removed)),
                    weights.dtype)
    return ops.reshape(keep, shape)


def filter_mask(weights, sparsity):
    """0/1 mask removing whole output filters (last axis) of lowest L1 norm.

    The L1 norm of every output filter (the sum of `|w|` over all axes but
    the last, as Distiller's `L1RankedStructureParameterPruner` with
    `group_type="Filters"` ranks them) is pruned by `magnitude_mask`, so
    exactly `floor(sparsity * filters + 0.5)` filters are removed, ties by
    the lower filter index, and the decision is broadcast over the filter.
    Conv2D/Conv3D/Dense kernels have their output filters on the last axis;
    for a 1-D weight (a BatchNorm gamma) every channel is one filter.

    Args:
        weights: tensor of rank >= 1, output filters on the last axis.
        sparsity: fraction of filters removed, float in [0, 1] or a scalar
            tensor.

    Returns:
        Tensor of the shape and dtype of `weights`, 0 on removed filters.

    Raises:
        ValueError: as `magnitude_mask`, or `weights` of rank 0.

    Example:
    >>> import numpy as np
    >>> w = np.array([[1.0, -0.2, 3.0], [1.0, 0.1, -3.0]], "float32")
    >>> np.asarray(filter_mask(w, 0.34)).tolist()
    [[1.0, 0.0, 1.0], [1.0, 0.0, 1.0]]
    """
    weights = ops.convert_to_tensor(weights)
    if len(weights.shape) == 0:
        raise ValueError(
            "`weights` must have at least one axis (output filters last). "
            f"Received: weights.shape={tuple(weights.shape)}")
    axes = tuple(range(len(weights.shape) - 1))
    norms = ops.sum(ops.abs(weights), axis=axes) if axes else ops.abs(weights)
    keep = magnitude_mask(norms, sparsity)
    return ops.broadcast_to(keep, tuple(weights.shape))
