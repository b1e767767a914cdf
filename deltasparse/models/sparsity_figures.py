"""Sparsity figures of models built from sparsity slots.

A *sparsity slot* is a `DeltaActivation` or `L1ActivityRegularizer` layer
called with `return_stats=True` inside a model (the time-distributed ResNet50
and MobileNet of `deltasparse.models` have 51 and 27 of them). Each slot `l`
returns two float32 scalars per batch (summed over batches by the model):

- `L0_l`: the number of nonzero values it measured (temporal deltas of the
  quantized activations for `DeltaActivation`, activations for
  `L1ActivityRegularizer`);
- `N_l`: the number of values measured, `F * neurons_l` with `F` the number of
  measured frames: `B*(T-1)` frame transitions for deltas (the first frame's
  change from an all-zero background is not counted, as in the original) and
  `B*T` frames for activations.

Each slot also has a fan-out `n_out_l` (`n_outputs`): the number of
multiply-accumulates one nonzero value triggers in the next layer(s), as
counted by the original code (kernel size times filters, strides and the
identity shortcut ignored, spec `delta_activation.md` §4 and §10 item 9).

From these this module derives (spec §7):

- density of a group `G` of slots: `sum_G L0 / sum_G N` (sparsity is one minus
  it);
- counted operation ratio `op_ratio = sum n_out*L0 / sum n_out*N` over all
  slots: the fraction of fan-out-weighted MACs an event-driven engine that
  skips zero deltas (or zero activations) would still execute;
- counted MACs per frame: dense `sum n_out*N / F` (every neuron triggers its
  fan-out every frame) and effective `sum n_out*L0 / F = op_ratio * dense`.

These are *counted* figures from the slot statistics, not measured time or a
profiler's FLOP count (the dense figure of ResNet50 at 224x224 is 5.66e9 per
frame, above its 4.1e9 real MACs, because strides are ignored). The metric
names say so (`op_ratio_counted`, `macs_dense_counted`,
`macs_effective_counted`).

This module is the one place where the figures are computed. The statistics
come from `deltasparse.models.sparsity_slots.SparsityAccumulator` (sums over
an epoch or an evaluation, in non-trainable variables); the
`deltasparse.models.SparsityLogger` callback and
`deltasparse.evaluation.evaluate_clips` / `layer_sparsity` call the functions
below on those sums.
"""

import re

import numpy as np
from keras import ops

KINDS = ("delta", "activation")
_PREFIX = {"delta": "delta_density", "activation": "act_density"}
_GROUP_RE = re.compile(r"^[A-Za-z0-9_]+$")


def check_groups(groups):
    """Raises unless every group is a name of letters, digits and `_`
    other than `all` (reserved for the total)."""
    for g in groups:
        if not isinstance(g, str) or not _GROUP_RE.match(g) or g == "all":
            raise ValueError(
                "Every group must be a non-empty name of letters, digits "
                "and '_' other than 'all' (reserved for the total). "
                f"Received: groups={list(groups)}"
            )
    return list(groups)


def _vector(values, name):
    """Stacks a scalar list or converts an array to a float32 1-D tensor."""
    if isinstance(values, (list, tuple)):
        if len(values) == 0:
            raise ValueError(
                f"`{name}` must hold at least one value. Received: {name}=[]"
            )
        values = ops.stack(
            [ops.reshape(ops.cast(v, "float32"), ()) for v in values]
        )
    values = ops.reshape(ops.cast(values, "float32"), (-1,))
    return values


def _safe_divide(numerator, denominator):
    """`numerator / denominator`, 0 where the denominator is 0."""
    return ops.divide(
        numerator,
        ops.where(ops.equal(denominator, 0.0), 1.0, denominator),
    )


def group_order(groups):
    order = []
    for g in groups:
        if g not in order:
            order.append(g)
    return order


def check_kind(kind):
    """Raises unless `kind` is `'delta'` or `'activation'`."""
    if kind not in KINDS:
        raise ValueError(
            f"`kind` must be one of {KINDS}. Received: kind={kind!r}"
        )
    return kind


def metric_prefix(kind):
    """Prefix of the density metric names: `delta_density` or `act_density`.

    Args:
        kind: `'delta'` (temporal deltas, `DeltaActivation` slots) or
            `'activation'` (`L1ActivityRegularizer` slots).

    Returns:
        The prefix string.
    """
    return _PREFIX[check_kind(kind)]


def group_density(l0, n):
    """Density of nonzero values of a group of slots: `sum(l0) / sum(n)`.

    Args:
        l0: nonzero counts of the slots (list of scalars or 1-D array).
        n: element counts of the same slots.

    Returns:
        float32 scalar tensor in `[0, 1]`; 0 when `sum(n) == 0`.

    Example:
    >>> float(group_density([1.0, 3.0], [4.0, 4.0]))
    0.5
    """
    l0 = _vector(l0, "l0")
    n = _vector(n, "n")
    return _safe_divide(ops.sum(l0), ops.sum(n))


def op_ratio(l0, n, n_outputs):
    """Fan-out-weighted operation ratio `sum(n_out*l0) / sum(n_out*n)`.

    This is the original MobileNet `op_avg` (spec §4.4, §7): the fraction of
    counted multiply-accumulates still triggered when zero values are
    skipped. Its inverse is the counted reduction factor.

    Args:
        l0: nonzero counts of the slots (list of scalars or 1-D array).
        n: element counts of the slots.
        n_outputs: fan-out of each slot.

    Returns:
        float32 scalar tensor in `[0, 1]`; 0 when the denominator is 0.

    Example:
    >>> float(op_ratio([1.0, 3.0], [4.0, 4.0], [3.0, 1.0]))
    0.375
    """
    l0 = _vector(l0, "l0")
    n = _vector(n, "n")
    w = _vector(n_outputs, "n_outputs")
    return _safe_divide(ops.sum(w * l0), ops.sum(w * n))


def sparsity_figures(l0, n, n_outputs, frames, groups, kind="delta"):
    """Model-level sparsity figures from slot statistics (`keras.ops`).

    The statistics may be those of one batch or their sums over many
    batches (then every ratio is a ratio of sums, exact for batches of
    different sizes or clip lengths).

    With `p = metric_prefix(kind)` (`delta_density` or `act_density`), the
    returned dict holds, in this order:

    - `p_<group>` for every group in order of first appearance in `groups`:
      `sum_G L0 / sum_G N`;
    - `p_all`: the same over all slots;
    - `op_ratio_counted`: `sum n_out*L0 / sum n_out*N`;
    - `macs_dense_counted`: `sum n_out*N / frames`, counted MACs per frame
      when every neuron fires every frame;
    - `macs_effective_counted`: `sum n_out*L0 / frames`
      (`= op_ratio_counted * macs_dense_counted`).

    Ratios with a zero denominator are 0.

    Args:
        l0: per-slot nonzero counts (list of scalars or 1-D array).
        n: per-slot element counts.
        n_outputs: per-slot fan-out.
        frames: number of measured frames `F` (summed like the counts): `B*(T-1)` for
            deltas, `B*T` for activations.
        groups: list of str, the group of every slot (letters, digits and
            `_`).
        kind: `'delta'` or `'activation'`, picks the density prefix.
            Defaults to `'delta'`.

    Returns:
        dict `name -> float32 scalar tensor`.

    Example:
    >>> figs = sparsity_figures([1., 3.], [4., 4.], [3., 1.], frames=2,
    ...                         groups=["a", "b"])
    >>> [round(float(v), 4) for v in figs.values()]
    [0.25, 0.75, 0.5, 0.375, 8.0, 3.0]
    """
    prefix = metric_prefix(kind)
    l0 = _vector(l0, "l0")
    n = _vector(n, "n")
    w = _vector(n_outputs, "n_outputs")
    count = len(groups)
    if l0.shape[0] != count or n.shape[0] != count or w.shape[0] != count:
        raise ValueError(
            "`l0`, `n`, `n_outputs` and `groups` must have one entry per "
            f"slot. Received: len(groups)={count}, l0.shape={l0.shape}, "
            f"n.shape={n.shape}, n_outputs.shape={w.shape}"
        )
    frames = ops.cast(frames, "float32")
    figures = {}
    for g in group_order(groups):
        mask = np.array([x == g for x in groups], "float32")
        figures[f"{prefix}_{g}"] = _safe_divide(
            ops.sum(l0 * mask), ops.sum(n * mask)
        )
    figures[f"{prefix}_all"] = _safe_divide(ops.sum(l0), ops.sum(n))
    ops_dense = ops.sum(w * n)
    ops_effective = ops.sum(w * l0)
    figures["op_ratio_counted"] = _safe_divide(ops_effective, ops_dense)
    figures["macs_dense_counted"] = _safe_divide(ops_dense, frames)
    figures["macs_effective_counted"] = _safe_divide(ops_effective, frames)
    return figures


def per_layer_figures(l0, n, n_outputs, frames):
    """Per-slot sparsity figures from slot statistics (`keras.ops`).

    Args:
        l0: per-slot nonzero counts (list of scalars or 1-D array).
        n: per-slot element counts.
        n_outputs: per-slot fan-out.
        frames: number of measured frames `F` (`B*(T-1)` for deltas, `B*T`
            for activations).

    Returns:
        dict of float32 1-D tensors, one entry per slot:
        `density` (`L0/N`), `neurons_per_frame` (`N/F`),
        `nonzero_per_frame` (`L0/F`), `macs_dense_per_frame`
        (`n_out*N/F`) and `macs_effective_per_frame` (`n_out*L0/F`).

    Example:
    >>> figs = per_layer_figures([1., 3.], [4., 4.], [3., 1.], frames=2)
    >>> [float(v) for v in figs["density"]]
    [0.25, 0.75]
    """
    l0 = _vector(l0, "l0")
    n = _vector(n, "n")
    w = _vector(n_outputs, "n_outputs")
    frames = ops.cast(frames, "float32")
    return {
        "density": _safe_divide(l0, n),
        "neurons_per_frame": _safe_divide(n, frames),
        "nonzero_per_frame": _safe_divide(l0, frames),
        "macs_dense_per_frame": _safe_divide(w * n, frames),
        "macs_effective_per_frame": _safe_divide(w * l0, frames),
    }
