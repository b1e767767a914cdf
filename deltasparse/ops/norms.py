"""p-norms with a stabilising epsilon, and norms of contiguous channel groups.

Both functions follow `utils/ops.py` of the group k-sparse original
(spec: `group_ksparse.md` §2.1 and §2.3): the epsilon is added *inside* the
root, so the norm of an all-zero vector is `epsilon ** (1 / p)` (for `p=2`
and the default epsilon, `sqrt(1e-7) ~= 3.162e-4`), never 0, and the
gradient of the norm is finite everywhere.
"""

import numbers

import keras
from keras import ops


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_epsilon(epsilon):
    if epsilon is None:
        return keras.config.epsilon()
    if not _is_real(epsilon) or not epsilon >= 0:
        raise ValueError(
            "`epsilon` must be None or a float >= 0. "
            f"Received: epsilon={epsilon!r}"
        )
    return float(epsilon)


def _check_p(p, name):
    if not _is_real(p) or not 0 < p < float("inf"):
        raise ValueError(
            f"`{name}` must be a finite number > 0. Received: {name}={p!r}"
        )
    return p


def _shape(x):
    """Shape as a list: ints where static, scalar tensors (TF graph mode)
    or `None` (symbolic `KerasTensor`) where dynamic."""
    return list(ops.shape(x))


def _prod(dims):
    """Product of a list of ints / scalar tensors / `None` (unknown)."""
    out = 1
    for d in dims:
        if d is None or out is None:
            out = None
        else:
            out = out * d
    return out


def _reshape(x, dims):
    """`ops.reshape` to `dims`, which may contain dynamic entries.

    A single dynamic entry is written as `-1` (valid on every backend and for
    symbolic tensors); several are passed as scalar tensors (TF graph mode).
    """
    dynamic = [i for i, d in enumerate(dims) if not _is_int(d)]
    if len(dynamic) == 1:
        dims = list(dims)
        dims[dynamic[0]] = -1
    elif any(d is None for d in dims):
        raise ValueError(
            "Cannot reshape a symbolic tensor with more than one unknown "
            f"dimension. Received: target shape={tuple(dims)}"
        )
    if not dynamic:
        return ops.reshape(x, tuple(int(d) for d in dims))
    return ops.reshape(x, list(dims))


def _normalize_axis(axis, ndim, name):
    if not _is_int(axis):
        raise ValueError(f"`{name}` must be an int. Received: {name}={axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"`{name}` must be in [-{ndim}, {ndim}) for inputs of rank "
            f"{ndim}. Received: {name}={axis}"
        )
    return int(axis) % ndim


def _normalize_axes(axis, ndim, name):
    """Validates an int or a non-empty list/tuple of ints as axes of a
    rank-`ndim` tensor; returns them as non-negative ints."""
    if _is_int(axis):
        axes = [axis]
    elif (
        isinstance(axis, (list, tuple))
        and len(axis) > 0
        and all(_is_int(a) for a in axis)
    ):
        axes = list(axis)
    else:
        raise ValueError(
            f"`{name}` must be an int or a non-empty list/tuple of ints. "
            f"Received: {name}={axis!r}"
        )
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"Every entry of `{name}` must be in [-{ndim}, {ndim}) for "
                f"inputs of rank {ndim}. Received: {name}={axis!r}"
            )
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(
            f"`{name}` must not repeat an axis. Received: {name}={axis!r}"
        )
    return out


def n_p(Z, p, axis, epsilon=None):
    """p-norm over `axis` with an epsilon inside the root.

    Computes `(sum(|Z| ** p, axis) + epsilon) ** (1 / p)`. The reduced axes
    are dropped. For `p=2` the square is computed as `Z * Z` (same value and
    gradient as `|Z| ** 2`); for `p=1` it is `|Z|`.

    Args:
        Z: tensor.
        p: float > 0. Order of the norm.
        axis: int, list/tuple of ints, or `None` (all axes). Axes to
            reduce; each in `[-rank, rank)`, none repeated.
        epsilon: float >= 0 or `None`. Added to the sum before the root.
            `None` means `keras.config.epsilon()` (1e-7 by default, the
            `K.epsilon()` of the original). Defaults to `None`.

    Returns:
        Tensor of `Z`'s dtype with the `axis` dimensions removed.

    Raises:
        ValueError: for `p <= 0`, a negative `epsilon`, or `axis` entries
            that are out of range, repeated or not ints.

    Example:
    >>> z = np.array([[3.0, 4.0]], "float32")
    >>> keras.ops.convert_to_numpy(n_p(z, p=2, axis=-1, epsilon=0.0))
    array([5.], dtype=float32)
    """
    p = _check_p(p, "p")
    epsilon = _check_epsilon(epsilon)
    Z = ops.convert_to_tensor(Z)
    if axis is not None:
        axis = tuple(_normalize_axes(axis, len(Z.shape), "axis"))
    if p == 2:
        powered = ops.square(Z)
    elif p == 1:
        powered = ops.abs(Z)
    else:
        powered = ops.power(ops.abs(Z), p)
    total = ops.sum(powered, axis=axis) + epsilon
    if p == 2:
        return ops.sqrt(total)
    if p == 1:
        return total
    return ops.power(total, 1.0 / p)


def group_norms(inputs, groups, axis, norm=2, epsilon=None):
    """p-norms of `groups` contiguous, equal chunks of one axis.

    The axis (length `C`) is split into `groups` blocks of `C // groups`
    consecutive entries: group `g` holds indices `[g*C/G, (g+1)*C/G)`, as
    with `tf.split` in the original. Each block is reduced with
    `n_p(..., p=norm, epsilon=epsilon)`, so entry `g` of the result is
    `(sum_{c in g} |x_c| ** norm + epsilon) ** (1 / norm)`.

    Args:
        inputs: tensor; the length of `axis` must be static.
        groups: int > 0 that divides the length of `axis`.
        axis: int. Axis to split into groups (negative values count from
            the end).
        norm: float > 0. Order `p` of the norm. Defaults to `2`.
        epsilon: float >= 0 or `None`. Added inside the root; `None` means
            `keras.config.epsilon()` (1e-7 by default). Defaults to `None`.

    Returns:
        Tensor shaped like `inputs` with the `axis` dimension replaced by
        `groups`.

    Raises:
        ValueError: if `groups` is not a positive int, `axis` is out of
            range, the axis length is unknown or not divisible by `groups`.

    Example:
    >>> x = np.array([[3.0, 4.0, 0.0, 0.0]], "float32")
    >>> norms = group_norms(x, groups=2, axis=-1)  # [[5, sqrt(1e-7)]]
    >>> keras.ops.convert_to_numpy(norms)
    array([[5.0000000e+00, 3.1622776e-04]], dtype=float32)
    """
    if not _is_int(groups) or groups < 1:
        raise ValueError(
            f"`groups` must be a positive int. Received: groups={groups!r}"
        )
    _check_p(norm, "norm")
    inputs = ops.convert_to_tensor(inputs)
    ndim = len(inputs.shape)
    axis = _normalize_axis(axis, ndim, "axis")
    channels = inputs.shape[axis]
    if channels is None:
        raise ValueError(
            "The length of the grouped axis must be static. "
            f"Received: axis={axis}, inputs.shape={tuple(inputs.shape)}"
        )
    if channels % groups:
        raise ValueError(
            f"The length of axis {axis} ({channels}) must be divisible by "
            f"`groups`. Received: groups={groups}"
        )
    dims = _shape(inputs)
    split = dims[:axis] + [groups, channels // groups] + dims[axis + 1 :]
    return n_p(_reshape(inputs, split), norm, axis + 1, epsilon=epsilon)
