"""Model-level sparsity accounting for models built from sparsity slots.

A *sparsity slot* is a `DeltaActivation` or `L1ActivityRegularizer` layer
called with `return_stats=True` inside a model (the time-distributed ResNet50
and MobileNet of `deltasparse.models` have 51 and 27 of them). Each slot `l`
returns two float32 scalars per batch:

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

`SparsityMetrics` is the Keras layer that turns the slot statistics into
`keras.metrics.Mean` metrics shown in `fit` history and `evaluate` logs;
`collect_sparsity_stats` and `layer_sparsity` give per-layer numbers for a
batch (for per-layer plots).
"""

import re

import keras
import numpy as np
from keras import ops

KINDS = ("delta", "activation")
_PREFIX = {"delta": "delta_density", "activation": "act_density"}
_GROUP_RE = re.compile(r"^[A-Za-z0-9_]+$")


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


def _group_order(groups):
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


def _figures_and_weights(l0, n, n_outputs, frames, groups, kind):
    """Model-level figures and the weights that make their batch average a
    ratio of sums. Returns an ordered dict `name -> (value, weight)`."""
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
    for g in _group_order(groups):
        mask = np.array([x == g for x in groups], "float32")
        g_l0 = ops.sum(l0 * mask)
        g_n = ops.sum(n * mask)
        figures[f"{prefix}_{g}"] = (_safe_divide(g_l0, g_n), g_n)
    total_n = ops.sum(n)
    figures[f"{prefix}_all"] = (_safe_divide(ops.sum(l0), total_n), total_n)
    ops_dense = ops.sum(w * n)
    ops_effective = ops.sum(w * l0)
    figures["op_ratio_counted"] = (
        _safe_divide(ops_effective, ops_dense),
        ops_dense,
    )
    figures["macs_dense_counted"] = (_safe_divide(ops_dense, frames), frames)
    figures["macs_effective_counted"] = (
        _safe_divide(ops_effective, frames),
        frames,
    )
    return figures


def sparsity_figures(l0, n, n_outputs, frames, groups, kind="delta"):
    """Model-level sparsity figures of one batch (pure `keras.ops`).

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
        frames: number of measured frames `F` in the batch: `B*(T-1)` for
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
    figures = _figures_and_weights(l0, n, n_outputs, frames, groups, kind)
    return {name: value for name, (value, _) in figures.items()}


def per_layer_figures(l0, n, n_outputs, frames):
    """Per-slot sparsity figures of one batch (pure `keras.ops`).

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


@keras.saving.register_keras_serializable(package="deltasparse")
class SparsityMetrics(keras.layers.Layer):
    """Pass-through layer that reports model-level sparsity metrics.

    It receives the `(L0, N)` statistics of every sparsity slot of a model
    and updates one `keras.metrics.Mean` per figure of `sparsity_figures`
    (`delta_density_<group>` / `act_density_<group>`, `..._all`,
    `op_ratio_counted`, `macs_dense_counted`, `macs_effective_counted`).
    `Model.metrics` collects sub-layer metrics, so they appear in `fit`
    history (and as `val_*`) and in `evaluate(..., return_dict=True)`.

    Each `Mean` is updated with the batch value weighted by the batch's
    denominator (the group's `N`, the dense op count, or the frame count), so
    over an epoch the metric is the ratio of sums over all batches, exactly
    `sum L0 / sum N`. The original added an unweighted per-batch mean
    (`add_metric(..., aggregation='mean')`); both agree when all batches have
    the same shape, and the weighted form stays exact for a smaller last
    batch or clips of different lengths.

    The layer returns its first input unchanged, so place it anywhere on the
    path to the model output (after the last slot) to keep it in the graph.

    Backend note: on the JAX backend `fit`/`evaluate` call the model
    statelessly with only its trainable and non-trainable variables mapped,
    so a layer cannot update metric variables there; the layer then skips
    the update and the figures stay 0 (as for the `show_metric` metrics of
    `DeltaActivation`). Use `collect_sparsity_stats` / `layer_sparsity` on
    JAX. TensorFlow and PyTorch update them.

    Args:
        slot_names: list of str, the slot layer names (for reference and
            `collect_sparsity_stats`).
        groups: list of str, the group of each slot (letters, digits, `_`).
        n_outputs: list of float, the fan-out of each slot.
        kind: `'delta'` (frames measured: `B*(T-1)`) or `'activation'`
            (`B*T`). Defaults to `'delta'`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: list `[x, reference, l0_1, ..., l0_S, n_1, ..., n_S]`: `x` is
            passed through; `reference` is a `(B, T, ...)` tensor (the model
            input) giving the batch size and clip length; then the `S` nonzero
            counts and the `S` element counts (float32 scalars) in slot
            order.

    Returns:
        `x`, unchanged.

    Example:
    >>> frames = keras.Input((None, 4))
    >>> y, l0, n = DeltaActivation(return_stats=True, name="d")(frames)
    >>> y = SparsityMetrics(["d"], ["fc"], [1.0])([y, frames, l0, n])
    >>> model = keras.Model(frames, y)
    """

    def __init__(self, slot_names, groups, n_outputs, kind="delta", **kwargs):
        slot_names = [str(s) for s in slot_names]
        groups = [str(g) for g in groups]
        if not slot_names:
            raise ValueError(
                "`slot_names` must name at least one slot. "
                f"Received: slot_names={slot_names}"
            )
        if len(groups) != len(slot_names) or len(n_outputs) != len(
            slot_names
        ):
            raise ValueError(
                "`groups` and `n_outputs` need one entry per slot name "
                f"({len(slot_names)}). Received: groups={groups}, "
                f"n_outputs={list(n_outputs)}"
            )
        for g in groups:
            if not _GROUP_RE.match(g) or g == "all":
                raise ValueError(
                    "Every group must be a non-empty name of letters, digits "
                    "and '_' other than 'all' (reserved for the total). "
                    f"Received: groups={groups}"
                )
        check_kind(kind)
        # The counts must stay float32: autocasting them to a float16 compute
        # dtype ("mixed_float16") would overflow to inf.
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.slot_names = slot_names
        self.groups = groups
        self.n_outputs = [float(v) for v in n_outputs]
        self.kind = kind
        self.supports_masking = False
        prefix = metric_prefix(kind)
        names = [f"{prefix}_{g}" for g in _group_order(groups)]
        names += [
            f"{prefix}_all",
            "op_ratio_counted",
            "macs_dense_counted",
            "macs_effective_counted",
        ]
        self.figure_names = names
        self.figure_metrics = [keras.metrics.Mean(name=m) for m in names]
        self.built = True

    def _split(self, inputs):
        count = len(self.slot_names)
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2 + 2 * (
            count
        ):
            got = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                "`SparsityMetrics` expects [x, reference, *l0, *n] with "
                f"{count} slots, i.e. {2 + 2 * count} tensors. "
                f"Received: {got} tensors"
            )
        x, reference = inputs[0], inputs[1]
        return x, reference, inputs[2 : 2 + count], inputs[2 + count :]

    def frames(self, reference):
        """Measured frames of a batch of clips `reference` `(B, T, ...)`."""
        shape = ops.shape(reference)
        batch = ops.cast(shape[0], "float32")
        steps = ops.cast(shape[1], "float32")
        if self.kind == "delta":
            steps = ops.maximum(steps - 1.0, 0.0)
        return batch * steps

    def call(self, inputs):
        x, reference, l0, n = self._split(inputs)
        if keras.backend.backend() == "jax":
            # JAX runs the model statelessly without the metric variables
            # (their values are even purged during fit/evaluate), so an
            # update here would fail; see the class docstring.
            return x
        figures = _figures_and_weights(
            l0,
            n,
            self.n_outputs,
            self.frames(reference),
            self.groups,
            self.kind,
        )
        for metric, (value, weight) in zip(
            self.figure_metrics, figures.values()
        ):
            metric.update_state(value, sample_weight=weight)
        return x

    def compute_output_spec(self, inputs):
        x = inputs[0]
        return keras.KerasTensor(x.shape, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "slot_names": list(self.slot_names),
                "groups": list(self.groups),
                "n_outputs": list(self.n_outputs),
                "kind": self.kind,
            }
        )
        return config


def find_sparsity_metrics(model):
    """Returns the `SparsityMetrics` layer of `model`.

    Args:
        model: a Keras model built with sparsity slots.

    Returns:
        The `SparsityMetrics` layer.

    Raises:
        ValueError: if the model has none (e.g. a baseline without slots).
    """
    for layer in model.layers:
        if isinstance(layer, SparsityMetrics):
            return layer
    raise ValueError(
        "The model has no `SparsityMetrics` layer, so no sparsity slots (a "
        "baseline built with `sparsity=None`?). Build it with "
        "`sparsity='delta'` or `'l1'` (`sp_rate=0` measures without "
        f"penalising). Received: model={model.name!r}"
    )


def sparsity_slots(model):
    """Describes the sparsity slots of a model.

    Args:
        model: a Keras model containing a `SparsityMetrics` layer.

    Returns:
        dict with `names`, `groups` (lists of str), `n_outputs` (float64
        array) and `kind` (`'delta'` or `'activation'`).
    """
    layer = find_sparsity_metrics(model)
    return {
        "names": list(layer.slot_names),
        "groups": list(layer.groups),
        "n_outputs": np.asarray(layer.n_outputs, "float64"),
        "kind": layer.kind,
    }


def collect_sparsity_stats(model, x, training=False):
    """Runs a batch and returns the raw statistics of every sparsity slot.

    The slot layers are looked up by the names stored in the model's
    `SparsityMetrics` layer; a probe model sharing their weights returns
    their `(L0, N)` outputs. The model's metrics are not updated. The
    sparsity losses are computed as a side effect but not returned.

    Args:
        model: a model with sparsity slots (e.g. `TDResNet50(sparsity=...)`).
        x: a batch of clips `(B, T, H, W, C)` (array or tensor).
        training: bool, run BatchNormalization/Dropout in training mode.
            Defaults to `False`.

    Returns:
        dict with the `sparsity_slots` entries plus NumPy `l0` and `n`
        (float64, one per slot) and `frames` (float, `B*(T-1)` or `B*T`).

    Example:
    >>> stats = collect_sparsity_stats(model, clips)
    >>> stats["l0"].sum() / stats["n"].sum()  # == delta_density_all
    """
    slots = sparsity_slots(model)
    outputs = []
    for name in slots["names"]:
        out = model.get_layer(name).output
        if not isinstance(out, (list, tuple)) or len(out) != 3:
            raise ValueError(
                f"Slot layer {name!r} must be called with "
                "`return_stats=True` (returning (output, l0, n)). "
                f"Received: output={out}"
            )
        outputs.extend([out[1], out[2]])
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    probe = keras.Model(inputs, outputs, name=f"{model.name}_probe")
    values = probe(x, training=training)
    values = [float(ops.convert_to_numpy(v)) for v in values]
    shape = ops.shape(x)
    batch, steps = int(shape[0]), int(shape[1])
    if slots["kind"] == "delta":
        steps = max(steps - 1, 0)
    slots["l0"] = np.asarray(values[0::2], "float64")
    slots["n"] = np.asarray(values[1::2], "float64")
    slots["frames"] = float(batch * steps)
    return slots


def layer_sparsity(model, x, training=False):
    """Per-layer sparsity figures of `model` on one batch (for plots).

    Args:
        model: a model with sparsity slots.
        x: a batch of clips `(B, T, H, W, C)`.
        training: bool, run in training mode. Defaults to `False`.

    Returns:
        dict with `names`, `groups`, `n_outputs`, `kind`, `l0`, `n`,
        `frames` (see `collect_sparsity_stats`) and the NumPy arrays of
        `per_layer_figures` (`density`, `neurons_per_frame`,
        `nonzero_per_frame`, `macs_dense_per_frame`,
        `macs_effective_per_frame`), one entry per slot in model order.
    """
    stats = collect_sparsity_stats(model, x, training=training)
    figures = per_layer_figures(
        stats["l0"], stats["n"], stats["n_outputs"], stats["frames"]
    )
    for key, value in figures.items():
        stats[key] = np.asarray(ops.convert_to_numpy(value), "float64")
    return stats
