"""k-sparse (winner-take-all) masks over sets of axes, per entry and per group.

Clean-room implementation of `ksparse` and `group_ksparse` from the group
k-sparse temporal CNN original (spec: `group_ksparse.md` §2.4, §2.5 and §9.6).

Semantics shared by both functions:

* A *competition row* is one index combination of the axes that are neither
  sparse nor grouped. Inside a row, the `S` positions of the sparse axes
  compete; the sparse axes are flattened row-major **in the order given**
  (`axis=[2, 3]` gives `h * W + w`, `axis=[0, 1]` gives `b * T + t`).
* Exactly `k_eff = min(k_phase, S)` positions win per row, where
  `k_phase = k` when `training` is truthy and `round(alpha * k)` otherwise
  (Keras-2 `in_train_phase(k, alpha * k)`; the Keras-2 default learning
  phase, and `training=None` here, is inference). With the default
  `alpha=1` both are `k`, so the sparsity is also applied at inference.
* It is a count, not a threshold: ties are broken in favour of the **lower
  flat index** (as `tf.nn.top_k`), so even among equal values or zeros
  exactly `k_eff` entries are kept.
* The mask carries no gradient: `d(mask * x)/dx = mask`, winners receive
  the upstream gradient unchanged and losers receive 0. Losers are exactly
  0 in the output, also where `x` is inf or NaN (`where(mask, x, 0)`).
* NaN ranks LOWEST: a NaN score is ranked as `-inf`, and among entries
  equal to `-inf` the real ones win first, so a NaN wins only when its row
  has fewer than `k_eff` real values. (The original's `tf.nn.top_k` put
  NaN above every real value, so with `k=1` a single NaN zeroed the true
  maximum; NaN-as-lowest keeps the real winners.)
* Empty inputs: a tensor with a 0-length axis (the competing axes or any
  other) is returned unchanged: there is nothing to rank, and the
  "keep `min(k, S)` entries" rule gives that empty result. `k > S` is not
  an error either: every entry of the row wins (e.g. the lifetime
  competition on a last batch smaller than `k`).

Implementation: instead of scattering `top_k` indices, the k-th largest
score of every row is found with `top_k` values, every entry above it wins,
and the entries equal to it win in index order until the row has `k_eff`
winners (a cumulative count). This is the same set as the original's
`top_k` indices, needs O(R*S) memory, and works with a dynamic `S` (e.g. the
lifetime competition over batch x time with an unknown batch size in a TF
graph): the scores are then padded with `k` copies of `-inf`, so `top_k`
never asks for more entries than exist. Scores are computed in float32 when
the input is float16/bfloat16; the output keeps the input dtype.
"""

import math
import numbers

import keras
import numpy as np
from keras import ops

from deltasparse.ops.norms import _check_epsilon
from deltasparse.ops.norms import _check_p
from deltasparse.ops.norms import _is_int
from deltasparse.ops.norms import _is_real
from deltasparse.ops.norms import _normalize_axes
from deltasparse.ops.norms import _prod
from deltasparse.ops.norms import _reshape
from deltasparse.ops.norms import _shape
from deltasparse.ops.norms import group_norms

_LOW_PRECISION = ("float16", "bfloat16")


def _check_k(k, name="k"):
    if not _is_int(k) or k < 1:
        raise ValueError(
            f"`{name}` must be a positive int (the number of winners per "
            f"competition row). Received: {name}={k!r}"
        )
    return int(k)


def _check_alpha(alpha):
    if not _is_real(alpha) or not 0 < alpha < float("inf"):
        raise ValueError(
            "`alpha` must be a finite number > 0 (inference uses "
            f"round(alpha * k) winners). Received: alpha={alpha!r}"
        )
    return alpha


def _inference_k(k, alpha):
    """`alpha * k` rounded to the nearest int (halves up), at least 1."""
    if alpha == 1:
        return k
    return max(1, int(math.floor(alpha * k + 0.5)))


def _is_python_flag(training):
    return training is None or isinstance(
        training, (bool, np.bool_, numbers.Integral)
    )


def _score_dtype(x):
    """float32 for low-precision or non-float inputs, else the input dtype."""
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in _LOW_PRECISION or not dtype.startswith("float"):
        return "float32"
    return dtype


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def _transpose(x, perm):
    if list(perm) == list(range(len(perm))):
        return x
    return ops.transpose(x, perm)


def _winners(scores, k):
    """Bool mask of the `min(k, S)` largest entries along the last axis.

    Ties go to the lower index. NaN ranks below every real value, `-inf`
    included (it is ranked as `-inf`, and among entries equal to `-inf`
    the real ones win first). `k` is a static Python int; `S` (the last
    axis) may be dynamic.
    """
    nan = ops.isnan(scores)
    scores = ops.where(nan, ops.full_like(scores, -float("inf")), scores)
    size = scores.shape[-1]
    if size is not None:
        k_eff = min(k, size)
        if k_eff == 1:
            kth = _row_max(scores)
        else:
            values, _ = ops.top_k(scores, k_eff, sorted=True)
            kth = values[..., k_eff - 1 : k_eff]
    else:
        k_eff = ops.minimum(k, ops.shape(scores)[-1])
        if k == 1:
            kth = _row_max(scores)
        else:
            # Pad each row with k copies of -inf: top_k(k) is then valid for
            # any S, and when S < k the k-th value is -inf, so all S entries
            # win (k_eff = S). Real -inf scores rank before the padding.
            # (Shaped from a row sum, which also exists when S = 0.)
            row = ops.sum(scores, axis=-1, keepdims=True)
            pad = ops.full_like(row, -float("inf"))
            pad = ops.repeat(pad, k, axis=-1)
            padded = ops.concatenate([scores, pad], axis=-1)
            values, _ = ops.top_k(padded, k, sorted=True)
            kth = values[..., k - 1 : k]
    greater = ops.greater(scores, kth)
    equal = ops.equal(scores, kth)
    slots = k_eff - ops.sum(ops.cast(greater, "int32"), axis=-1, keepdims=True)
    # Entries equal to the k-th value fill the remaining slots in index
    # order, real values before NaN (NaN can only tie at -inf).
    equal_real = ops.logical_and(equal, ops.logical_not(nan))
    equal_nan = ops.logical_and(equal, nan)
    rank_real = ops.cumsum(ops.cast(equal_real, "int32"), axis=-1)
    n_real = ops.sum(ops.cast(equal_real, "int32"), axis=-1, keepdims=True)
    rank_nan = n_real + ops.cumsum(ops.cast(equal_nan, "int32"), axis=-1)
    keep_equal = ops.logical_or(
        ops.logical_and(equal_real, ops.less_equal(rank_real, slots)),
        ops.logical_and(equal_nan, ops.less_equal(rank_nan, slots)),
    )
    return ops.logical_or(greater, keep_equal)


def _row_max(scores):
    # `initial` keeps rows of an empty batch valid (TF's `max` refuses an
    # empty tensor otherwise); every score is >= -inf after the NaN mapping.
    return ops.max(scores, axis=-1, keepdims=True, initial=-float("inf"))


def _is_empty(shape):
    return any(d == 0 for d in shape if d is not None)


def _apply_mask(x, mask):
    """`x` where `mask` is 1, exactly 0 elsewhere (also for inf/NaN losers);
    the gradient is `mask * upstream`, as for `mask * x`."""
    return ops.where(ops.cast(mask, "bool"), x, ops.zeros_like(x))


def _competition_mask(scores, k, alpha, training):
    """Winners mask for the phase given by `training` (see module doc)."""
    k_infer = _inference_k(k, alpha)
    if _is_python_flag(training):
        return _winners(scores, k if training else k_infer)
    if k_infer == k:
        return _winners(scores, k)
    # `training` is a (symbolic) boolean tensor: select between both masks.
    return ops.where(
        ops.cast(training, "bool"),
        _winners(scores, k),
        _winners(scores, k_infer),
    )


def _keeps_everything(k, alpha, training, size):
    """True when every row keeps all `size` entries in the selected phase."""
    if size is None:
        return False
    k_infer = _inference_k(k, alpha)
    if _is_python_flag(training):
        return (k if training else k_infer) >= size
    return min(k, k_infer) >= size


def ksparse(x, k, axis, alpha=1, absolute=False, training=None):
    """Keeps the `k` largest entries over `axis`, per competition row.

    `axis` names the competing ("sparse") axes; every index combination of
    the remaining axes is an independent competition row. In each row the
    `k_eff = min(k_phase, S)` largest scores win, where `S` is the product of
    the `axis` lengths (it may be dynamic), `k_phase = k` when `training` is
    truthy and `round(alpha * k)` otherwise. Winners keep their value,
    everything else becomes 0. Ties go to the lower row-major flat index of
    the `axis` positions (taken in the order given). The mask has no
    gradient: winners pass the upstream gradient through, losers get 0.

    With the default `alpha=1`, `k_phase = k` in every phase, as in the
    original, whose callers never changed `alpha`. For `alpha != 1`,
    `alpha * k` is rounded to the nearest integer (halves up) and at least
    one winner is kept (the original never used `alpha != 1`, so this case
    had no defined behaviour there).

    Args:
        x: tensor of any rank.
        k: int > 0. Winners per competition row.
        axis: int or list/tuple of ints. The competing axes, flattened
            row-major in this order (`[0, 1]` on `(B, T, ...)` competes over
            all `B*T` frames of the batch: lifetime sparsity).
        alpha: float > 0. Inference uses `round(alpha * k)` winners.
            Defaults to `1`.
        absolute: bool. Rank by `|x|` instead of `x`. Defaults to `False`.
        training: Python bool, `None` or a scalar boolean tensor. Selects
            `k` (truthy) or `alpha * k` (falsy; `None` is inference, like
            the Keras-2 default learning phase). Defaults to `None`.

    NaN scores rank below every real value (see the module docstring),
    an input with a 0-length axis is returned unchanged, and `k` larger
    than the competition keeps the whole row.

    Returns:
        `x` at the winners and 0 elsewhere (`where(mask, x, 0)`), same shape
        and dtype as `x`.

    Raises:
        ValueError: for `k <= 0`, a non-positive `alpha`, or `axis` entries
            that are out of range, repeated or not ints.

    Example:
    >>> x = np.array([[1.0, 3.0, 3.0, 2.0]], "float32")
    >>> keras.ops.convert_to_numpy(ksparse(x, k=2, axis=-1))  # tie at 3
    array([[0., 3., 3., 0.]], dtype=float32)
    >>> x = np.array([[0.0, 0.0, 5.0, 0.0]], "float32")
    >>> keras.ops.convert_to_numpy(ksparse(x, k=2, axis=-1))
    array([[0., 0., 5., 0.]], dtype=float32)

    (Two winners, the 5 and the zero at index 0; the kept zero stays 0.)
    NaN ranks lowest, so the real maximum wins:

    >>> x = np.array([[1.0, np.nan, 3.0]], "float32")
    >>> keras.ops.convert_to_numpy(ksparse(x, k=1, axis=-1))
    array([[0., 0., 3.]], dtype=float32)
    """
    k = _check_k(k)
    _check_alpha(alpha)
    x = ops.convert_to_tensor(x)
    ndim = len(x.shape)
    sparse_axes = _normalize_axes(axis, ndim, "axis")
    size = _prod(x.shape[a] for a in sparse_axes)
    if _keeps_everything(k, alpha, training, size) or _is_empty(x.shape):
        return x
    if isinstance(x, keras.KerasTensor):
        return keras.KerasTensor(x.shape, dtype=x.dtype)
    rest = [a for a in range(ndim) if a not in sparse_axes]
    perm = rest + sparse_axes

    scores = ops.cast(ops.stop_gradient(x), _score_dtype(x))
    if absolute:
        scores = ops.abs(scores)
    scores = _transpose(scores, perm)
    dims = _shape(scores)
    scores = _reshape(scores, dims[: len(rest)] + [_prod(dims[len(rest) :])])

    mask = _competition_mask(scores, k, alpha, training)
    mask = _reshape(ops.cast(mask, x.dtype), dims)
    mask = ops.stop_gradient(_transpose(mask, _inverse(perm)))
    return _apply_mask(x, mask)


def group_ksparse(
    x,
    groups,
    k,
    axis_group,
    axis_sparse,
    norm=2,
    alpha=1,
    epsilon=None,
    training=None,
):
    """Keeps the `k` channel groups with the largest norm over `axis_sparse`.

    The `axis_group` dimensions (flattened row-major; length `C`) are split
    into `groups` contiguous blocks of `C // groups` channels. For every
    index of the remaining axes and every group `g` (a competition row), the
    positions `s` of the `axis_sparse` dimensions (length `S`, flattened
    row-major in the order given) compete by the group norm
    `(sum_{c in g} |x[s, c]| ** norm + epsilon) ** (1 / norm)`; the
    `k_eff = min(k_phase, S)` largest win (ties: lower flat index), and all
    `C // groups` channels of a winning `(s, g)` are kept together. The
    rest is zeroed. Phase selection, rounding of `alpha * k`, and the
    gradient rule (mask is constant) are as in `ksparse`.

    With `groups == C` this is `ksparse(x, k, axis_sparse, absolute=True)`
    up to the epsilon (`sqrt(x**2 + eps)` is monotone in `|x|`).

    Args:
        x: tensor; the `axis_group` lengths must be static.
        groups: int > 0 dividing the product of the `axis_group` lengths.
        k: int > 0. Winning positions per (row, group).
        axis_group: int or list/tuple of ints. Channel axes (e.g. `[4]`).
        axis_sparse: int or list/tuple of ints, disjoint from `axis_group`.
            Competing axes (`[2, 3]`: spatial, `[0, 1]`: lifetime).
        norm: float > 0. Order of the group norm. Defaults to `2`.
        alpha: float > 0. Inference uses `round(alpha * k)` winners.
            Defaults to `1`.
        epsilon: float >= 0 or `None`. Added inside the norm's root; `None`
            means `keras.config.epsilon()` (1e-7 by default). Defaults to
            `None`.
        training: Python bool, `None` or a scalar boolean tensor; see
            `ksparse`. Defaults to `None`.

    A group whose norm is NaN (it holds a NaN) ranks below every real norm,
    and an input with a 0-length axis is returned unchanged (see
    `ksparse`).

    Returns:
        `x` in the winning groups and 0 elsewhere, same shape and dtype as
        `x`.

    Raises:
        ValueError: for `k <= 0`, bad `groups`/`alpha`/`norm`/`epsilon`,
            out-of-range, repeated or overlapping axes, an unknown channel
            length, or channels not divisible by `groups`.

    Example:
    >>> x = np.random.rand(2, 3, 4, 4, 8).astype("float32")  # (B,T,H,W,C)
    >>> y = group_ksparse(x, groups=2, k=1, axis_group=[4],
    ...                   axis_sparse=[2, 3])  # 1 position per frame+group
    >>> tuple(y.shape)
    (2, 3, 4, 4, 8)
    >>> # one (h, w) position kept per (sample, frame, group): 4 channels each
    >>> int(np.count_nonzero(keras.ops.convert_to_numpy(y)))
    48
    """
    k = _check_k(k)
    _check_alpha(alpha)
    _check_p(norm, "norm")
    epsilon = _check_epsilon(epsilon)
    if not _is_int(groups) or groups < 1:
        raise ValueError(
            f"`groups` must be a positive int. Received: groups={groups!r}"
        )
    x = ops.convert_to_tensor(x)
    ndim = len(x.shape)
    group_axes = _normalize_axes(axis_group, ndim, "axis_group")
    sparse_axes = _normalize_axes(axis_sparse, ndim, "axis_sparse")
    if set(group_axes) & set(sparse_axes):
        raise ValueError(
            "`axis_group` and `axis_sparse` must be disjoint. Received: "
            f"axis_group={axis_group!r}, axis_sparse={axis_sparse!r}"
        )
    channels = _prod(x.shape[a] for a in group_axes)
    if channels is None:
        raise ValueError(
            "The `axis_group` dimensions must be static. Received: "
            f"axis_group={axis_group!r}, x.shape={tuple(x.shape)}"
        )
    if channels % groups:
        raise ValueError(
            f"The grouped channel count ({channels}) must be divisible by "
            f"`groups`. Received: groups={groups}"
        )
    size = _prod(x.shape[a] for a in sparse_axes)
    if _keeps_everything(k, alpha, training, size) or _is_empty(x.shape):
        return x
    if isinstance(x, keras.KerasTensor):
        return keras.KerasTensor(x.shape, dtype=x.dtype)
    rest = [a for a in range(ndim) if a not in group_axes + sparse_axes]
    perm = rest + sparse_axes + group_axes
    n_rest, n_sparse = len(rest), len(sparse_axes)

    xt = _transpose(ops.cast(ops.stop_gradient(x), _score_dtype(x)), perm)
    dims = _shape(xt)
    size = _prod(dims[n_rest : n_rest + n_sparse])
    xt = _reshape(xt, dims[:n_rest] + [size, channels])
    norms = group_norms(xt, groups, axis=-1, norm=norm, epsilon=epsilon)
    scores = ops.swapaxes(norms, -1, -2)  # (..., G, S)

    mask = _competition_mask(scores, k, alpha, training)
    mask = ops.swapaxes(ops.cast(mask, x.dtype), -1, -2)  # (..., S, G)
    mask = ops.repeat(ops.expand_dims(mask, -1), channels // groups, axis=-1)
    mask = _reshape(mask, dims)
    mask = ops.stop_gradient(_transpose(mask, _inverse(perm)))
    return _apply_mask(x, mask)
