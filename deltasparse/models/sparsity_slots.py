"""Sparsity slots: the one public description of where a model measures
sparsity, and the builder that puts them into a folded-time graph.

A *sparsity slot* is a `DeltaActivation` (temporal deltas) or an
`L1ActivityRegularizer` (activations) layer placed after an activation of a
per-frame network. It adds its sparsity loss and returns its `(L0, N)`
statistics for the batch (spec `delta_activation.md` §2.3, §3). A model
built with slots describes them with `model.sparsity_slots`, a tuple of
`SparsitySlot`; the same tuple is used by the builders, the figures
(`deltasparse.models.sparsity_figures`), the `SparsityLogger` callback,
evaluation (`deltasparse.evaluation`) and export.

The statistics of all slots feed ONE `SparsityAccumulator` layer per model,
which sums them in non-trainable float32 variables (see
`deltasparse.layers.sparsity.sparsity_statistics.SparsityTotals` for why
this is correct on TensorFlow, JAX and PyTorch, and under
`tf.distribute`).
"""

import contextlib
import dataclasses

import keras
from keras import ops

from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.l1_activity_regularizer import L1ActivityRegularizer
from deltasparse.layers.sparsity.sparsity_statistics import SparsityTotals
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.models.sparsity_figures import check_groups
from deltasparse.models.sparsity_figures import check_kind

SPARSITY_CHOICES = (None, "l1", "delta")
_SLOT_KIND = {"delta": "delta", "l1": "activation"}


@dataclasses.dataclass(frozen=True)
class SparsitySlot:
    """Description of one sparsity slot of a model.

    Args:
        name: str, the slot's name (used in per-layer figures).
        group: str, the group its statistics are summed into
            (`delta_density_<group>`), e.g. `"conv3"` or `"block7"`.
        n_outputs: float, the fan-out: multiply-accumulates one nonzero
            value triggers downstream (as counted by the original code).
        layer_name: str, the name of the Keras layer inside the model
            (today equal to `name`).
        kind: `"delta"` (a `DeltaActivation`: temporal deltas, `B*(T-1)`
            frames measured) or `"activation"` (an `L1ActivityRegularizer`:
            activations, `B*T` frames).

    Example:
    >>> slot = SparsitySlot("conv1_delta", "conv1", 320.0, "conv1_delta",
    ...                     "delta")
    >>> slot.group, slot.n_outputs
    ('conv1', 320.0)
    """

    name: str
    group: str
    n_outputs: float
    layer_name: str
    kind: str

    def __post_init__(self):
        check_kind(self.kind)
        check_groups([self.group])

    def to_dict(self):
        return dataclasses.asdict(self)


def measured_frames(reference, kind):
    """Measured frames of a batch of clips `reference` `(B, T, ...)`:
    `B*(T-1)` for deltas, `B*T` for activations (float32 scalar)."""
    shape = ops.shape(reference)
    batch = ops.cast(shape[0], "float32")
    steps = ops.cast(shape[1], "float32")
    if kind == "delta":
        steps = ops.maximum(steps - 1.0, 0.0)
    return batch * steps


@keras.saving.register_keras_serializable(package="deltasparse")
class SparsityAccumulator(keras.layers.Layer):
    """Pass-through layer that sums the statistics of a model's slots.

    It receives the `(L0, N)` scalars of every sparsity slot and adds them
    (and the batch's measured frames) to non-trainable float32 variables
    `sparsity_l0` `(S,)`, `sparsity_n` `(S,)` and `sparsity_frames` `()`,
    in training, evaluation and prediction alike. The `SparsityLogger`
    callback resets them at the start of every epoch and evaluation and
    turns them into figures at the end; `read()` / `reset()` do it by hand.
    There is one accumulator per model.

    While `statistics_enabled` is False (see `sparsity_statistics_disabled`)
    `call` returns `x` without touching the variables: a function traced
    then is free of variable updates (the serving signature of an export;
    TFLite has no variables by default).

    Args:
        slots: list of `SparsitySlot` (or their dicts), one per statistics
            pair, all of one kind.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: list `[x, reference, l0_1, ..., l0_S, n_1, ..., n_S]`: `x` is
            passed through; `reference` is the `(B, T, ...)` model input
            (batch size and clip length); then the nonzero counts and the
            element counts of the `S` slots in slot order.

    Returns:
        `x`, unchanged.
    """

    def __init__(self, slots, **kwargs):
        slots = tuple(
            s if isinstance(s, SparsitySlot) else SparsitySlot(**s)
            for s in slots
        )
        if not slots:
            raise ValueError(
                "`slots` must describe at least one sparsity slot. "
                f"Received: slots={list(slots)}"
            )
        kinds = {s.kind for s in slots}
        if len(kinds) != 1:
            raise ValueError(
                "All slots of a model must be of one kind ('delta' or "
                f"'activation'). Received: kinds={sorted(kinds)}"
            )
        # Counts stay float32 under mixed precision (float16 would overflow).
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.slots = slots
        self.kind = slots[0].kind
        self.supports_masking = False
        self.totals = SparsityTotals(self, (len(slots),))
        self.statistics_enabled = True
        self.built = True

    def call(self, inputs):
        count = len(self.slots)
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2 + 2 * (
            count
        ):
            got = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                "`SparsityAccumulator` expects [x, reference, *l0, *n] with "
                f"{count} slots, i.e. {2 + 2 * count} tensors. "
                f"Received: {got} tensors"
            )
        x, reference = inputs[0], inputs[1]
        if not self.statistics_enabled:
            return x
        l0 = ops.stack(
            [ops.reshape(ops.cast(v, "float32"), ()) for v in inputs[2:2 + count]]
        )
        n = ops.stack(
            [ops.reshape(ops.cast(v, "float32"), ()) for v in inputs[2 + count:]]
        )
        self.totals.update(l0, n, measured_frames(reference, self.kind))
        return x

    def reset(self):
        """Zeroes the sums."""
        self.totals.reset()

    def read(self):
        """The sums: dict `l0`, `n` (float64 arrays, one entry per slot) and
        `frames` (float)."""
        return self.totals.read()

    def compute_output_spec(self, inputs):
        x = inputs[0]
        return keras.KerasTensor(x.shape, dtype=x.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config["slots"] = [s.to_dict() for s in self.slots]
        return config


class SparsitySlotBuilder:
    """Inserts sparsity slots into a folded `(B*T, ...)` graph.

    Used while a video model's graph is built (not a layer). With
    `sparsity=None` every call returns its input: the plain network.

    Args:
        clips: the model's `(B, T, H, W, C)` input tensor (gives T when a
            slot unfolds the batch).
        sparsity: `None`, `"delta"` (`DeltaActivation` slots) or `"l1"`
            (`L1ActivityRegularizer` slots).
        sp_rate: float, default weight of every slot's sparsity loss.
        thr_trainable: bool, whether delta thresholds are trainable.
        dtype: the layers' dtype policy.
    """

    def __init__(self, clips, sparsity, sp_rate, thr_trainable=True,
                 dtype=None):
        if sparsity not in SPARSITY_CHOICES:
            raise ValueError(
                f"`sparsity` must be one of {SPARSITY_CHOICES}. "
                f"Received: sparsity={sparsity!r}"
            )
        self.clips = clips
        self.sparsity = sparsity
        self.sp_rate = sp_rate
        self.thr_trainable = thr_trainable
        self.dtype = dtype
        self.slots = []
        self.l0 = []
        self.n = []

    @property
    def enabled(self):
        return self.sparsity is not None

    def copy(self):
        """A builder continuing from this one's slots (e.g. a task adding
        head slots to a backbone's), leaving this one unchanged."""
        other = SparsitySlotBuilder(self.clips, self.sparsity, self.sp_rate,
                                    self.thr_trainable, self.dtype)
        other.slots = list(self.slots)
        other.l0 = list(self.l0)
        other.n = list(self.n)
        return other

    def _layer(self, name, n_outputs, thr_init, sp_rate):
        sp_rate = self.sp_rate if sp_rate is None else sp_rate
        if self.sparsity == "delta":
            return DeltaActivation(
                sp_rate=sp_rate,
                n_outputs=float(n_outputs),
                thr_init=thr_init,
                thr_trainable=self.thr_trainable,
                return_stats=True,
                name=name,
                dtype=self.dtype,
            )
        return L1ActivityRegularizer(
            sp_rate=sp_rate,
            n_outputs=float(n_outputs),
            return_stats=True,
            name=name,
            dtype=self.dtype,
        )

    def apply_unfolded(self, x, name, n_outputs, group, thr_init,
                       sp_rate=None):
        """Applies a slot to an unfolded `(B, T, ...)` tensor."""
        layer = self._layer(name, n_outputs, thr_init, sp_rate)
        y, l0, n = layer(x)
        self.slots.append(
            SparsitySlot(name, group, float(n_outputs), layer.name,
                         _SLOT_KIND[self.sparsity])
        )
        self.l0.append(l0)
        self.n.append(n)
        return y

    def __call__(self, x, name, n_outputs, group, thr_init, sp_rate=None):
        """Unfolds folded `x` to `(B, T, ...)`, applies the slot, folds back
        (`<name>_unfold`, `<name>`, `<name>_fold`). Identity without
        sparsity."""
        if not self.enabled:
            return x
        x = UnfoldTime(name=f"{name}_unfold", dtype=self.dtype)(
            x, reference=self.clips
        )
        y = self.apply_unfolded(x, name, n_outputs, group, thr_init, sp_rate)
        return FoldTime(name=f"{name}_fold", dtype=self.dtype)(y)

    def accumulate(self, x, name="sparsity_accumulator"):
        """Passes `x` through the model's `SparsityAccumulator`, fed by all
        slots so far (identity without slots)."""
        if not self.slots:
            return x
        return SparsityAccumulator(self.slots, name=name, dtype=self.dtype)(
            [x, self.clips, *self.l0, *self.n]
        )


def find_accumulator(model):
    """The `SparsityAccumulator` of `model`, or `None` (no slots)."""
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, SparsityAccumulator):
            return layer
    return None


@contextlib.contextmanager
def sparsity_statistics_disabled(model):
    """Context in which the `SparsityAccumulator`s of `model` pass their
    input through without updating their sums.

    Trace a serving function inside it (e.g. for SavedModel or TFLite
    export) to keep the statistics out of the exported graph; outside it
    (and after it, also when the body raises) the model sums its
    statistics as before. A model without slots is left unchanged.

    Args:
        model: a `keras.Model` (or layer).

    Example:
    >>> model = keras.Sequential([keras.Input((2,))])
    >>> with sparsity_statistics_disabled(model):
    ...     pass
    """
    accumulators = [
        layer for layer in model._flatten_layers(include_self=True,
                                                 recursive=True)
        if isinstance(layer, SparsityAccumulator)
    ]
    previous = [layer.statistics_enabled for layer in accumulators]
    for layer in accumulators:
        layer.statistics_enabled = False
    try:
        yield model
    finally:
        for layer, enabled in zip(accumulators, previous):
            layer.statistics_enabled = enabled


def model_sparsity_slots(model):
    """`model.sparsity_slots` for any Keras model: the slots described by
    its `SparsityAccumulator` (an empty tuple without one)."""
    accumulator = find_accumulator(model)
    return () if accumulator is None else tuple(accumulator.slots)


__all__ = [
    "SparsityAccumulator",
    "SparsitySlot",
    "SparsitySlotBuilder",
    "find_accumulator",
    "measured_frames",
    "model_sparsity_slots",
    "sparsity_statistics_disabled",
]
