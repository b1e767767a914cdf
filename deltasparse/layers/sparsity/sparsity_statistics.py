"""Sparsity loss, statistics and metrics shared by the DAL-family layers.

`DeltaActivation` and `L1ActivityRegularizer` measure the sparsity of a
tensor the same way (spec `delta_activation.md` §2.3 steps 9-12 and §3):

- `nF`: number of frames (`B*(T-1)` transitions for deltas, `B*T` frames
  for activations);
- `L0 = count_nonzero(values)`, `N = numel(values)`;
- added loss `sp_rate * n_outputs * sum|values| / N`;
- with `show_metric`, the figures `n_spikes_<name>` (`L0/nF`),
  `n_neurons_<name>` (`N/nF`) and `n_outputs_<name>` (`n_outputs`).

All of it is computed in float32, whatever the layer's compute dtype, so the
counts stay exact and the loss does not lose precision under
`mixed_float16`.

Cost. A slot runs on every activation of a per-frame network, so its passes
over the activation tensor add up to a large part of a training step. The
count and the magnitude are therefore computed by fused custom-gradient ops
(`_count_and_abs_sum`, `_delta_count_and_abs_sum`): the temporal deltas are
differences of consecutive rows of the folded `(B*T, features)` view (slices
of the leading axis are not copied; slices of the time axis are), the clip
boundaries are weighted out per row, and the backward pass writes the
gradient in one concatenation. With a zero loss weight only the count is
computed. `benchmarks/bench_slot_training.py` measures the effect.

One sparsity path. Keras 3 has no `add_metric`, and metric variables updated
inside a layer's `call` are dropped by the JAX backend's stateless train and
test steps (only trainable and non-trainable variables are threaded through
them). The statistics are therefore summed into NON-TRAINABLE float32
variables (`SparsityTotals`), like BatchNormalization's moving statistics:
every backend threads those through its steps (JAX returns their new values
from `stateless_call` and writes them back at `jax_state_sync`), and under
`tf.distribute` they are replica-local and summed on read
(`synchronization="on_read"`, `aggregation="sum"`, as Keras metric variables
are), so the counts of all replicas add up. The same totals serve the model-level accumulator of
the video models (`deltasparse.models.sparsity_slots.SparsityAccumulator`)
and the layers' own `show_metric` figures. `deltasparse.models.SparsityLogger`
(a callback) turns them into epoch and `val_` figures; it resets them at the
start of every epoch and evaluation.
"""

import math
import numbers

import keras
import numpy as np
from keras import ops


def check_number(name, value, minimum=None):
    """Returns `value` as a Python float; raises unless it is a finite real
    number (`>= minimum` when `minimum` is given)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or (minimum is not None and value < minimum)
    ):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(
            f"`{name}` must be a finite number{bound}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def check_bool(name, value):
    """Raises unless `value` is a Python bool."""
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be a bool. Received: {name}={value!r}"
        )


def _exact_count(row_counts):
    """Sum of per-row nonzero counts (float32 integers, each exact) as one
    float32 scalar, rounded once like `cast(count_nonzero(v), float32)`."""
    return ops.cast(ops.sum(ops.cast(row_counts, "int32")), "float32")


def _frame_rows(values):
    """`values` `(B, T, ...)` as a `(B*T, features)` matrix (a reshape of
    the leading axes: no copy), plus its row count."""
    shape = ops.shape(values)
    rows = shape[0] * shape[1]
    return ops.reshape(values, (rows, _features(values))), rows


def _features(values):
    """Number of elements per frame of `(B, T, ...)` `values` (an int when
    the feature dimensions are static)."""
    shape = ops.shape(values)
    features = 1
    for i, d in enumerate(values.shape[2:], start=2):
        features = features * (shape[i] if d is None else d)
    return features


def _within_clip(rows, steps):
    """Float32 `(rows - 1,)`: 1 where consecutive rows `j`, `j+1` of a
    folded `(B*T, ...)` tensor are frames of one clip, 0 where row `j` is
    the last frame of its clip (a clip boundary, not a temporal delta)."""
    index = ops.arange(rows - 1, dtype="int32") + 1
    return ops.cast(ops.not_equal(ops.mod(index, steps), 0), "float32")


@ops.custom_gradient
def _count_and_abs_sum(values):
    """`[count_nonzero(values), sum|values|]` (float32, shape `(2,)`) in
    one pass over `values`; gradient `sign(values) * upstream[1]` (the count
    has none). `values` is float32 of shape `(B, T, ...)`."""
    rows, _ = _frame_rows(values)
    sign = ops.sign(rows)
    row_counts = ops.sum(ops.abs(sign), axis=1)
    abs_sum = ops.sum(ops.multiply(sign, rows))
    out = ops.stack([_exact_count(row_counts), abs_sum])

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return ops.reshape(ops.multiply(sign, upstream[1]), ops.shape(values))

    return out, grad


@ops.custom_gradient
def _delta_count_and_abs_sum(values):
    """`[count_nonzero(d), sum|d|]` of the temporal differences
    `d_t = values_t - values_{t+1}` of `values` `(B, T, ...)` (float32,
    shape `(2,)`), with the gradient of `sum|d|` (`sign(d)`, 0 where
    `d = 0`) and none for the count.

    The differences are taken between consecutive rows of the folded
    `(B*T, features)` view (`rows[:-1] - rows[1:]`: slices of the leading
    axis, which TensorFlow hands out without copying, unlike slices of the
    time axis), and the `B-1` rows that pair the last frame of a clip with
    the first frame of the next are weighted out. Equal values give exactly
    0 (also under XLA, where fused multiply-adds could leave 1-ulp residues
    of `q*r` products; the count uses an exact comparison and the
    magnitude is masked by it).
    """
    shape = ops.shape(values)
    steps = shape[1]
    rows, count = _frame_rows(values)
    previous, following = rows[:-1], rows[1:]
    changed = ops.cast(ops.not_equal(previous, following), "float32")
    delta = ops.subtract(previous, following)
    sign = ops.multiply(ops.sign(delta), changed)
    within = _within_clip(count, steps)
    row_abs = ops.sum(ops.multiply(sign, delta), axis=1)
    row_counts = ops.sum(changed, axis=1)
    out = ops.stack([
        _exact_count(ops.multiply(row_counts, within)),
        ops.sum(ops.multiply(row_abs, within)),
    ])

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        # d sum|d| / d rows[j] = sign(d_j) - sign(d_{j-1}) (0 at the ends
        # and across clip boundaries, where `within` is 0).
        weighted = ops.multiply(sign, ops.expand_dims(
            ops.multiply(within, upstream[1]), 1))
        # Rows 0 and R-1 get one term each, the others a difference of two
        # views; one concatenation writes the result. A single frame (R = 1,
        # no delta) gets one zero row.
        if isinstance(count, int):  # static shapes (JAX, known batch)
            empty = 1 if count == 1 else 0
        else:
            empty = 1 - ops.minimum(count - 1, 1)
        rows_grad = ops.concatenate([
            weighted[:1],
            ops.subtract(weighted[1:], weighted[:-1]),
            ops.negative(weighted[-1:]),
            ops.zeros((empty, ops.shape(weighted)[1]), "float32"),
        ], axis=0)
        return ops.reshape(rows_grad, shape)

    return out, grad


def sparsity_statistics(values, frames, temporal=False, with_loss=True):
    """Sparsity statistics of `values` (or of its temporal deltas) in float32.

    Args:
        values: tensor of shape `(B, T, ...)` whose nonzero entries are
            counted (or whose temporal differences are, see `temporal`).
        frames: number of frames `nF` (int or scalar tensor).
        temporal: bool. If True the statistics are those of the temporal
            differences `d_t = values_t - values_{t+1}`, `t = 0 .. T-2`
            (`B*(T-1)` frames of deltas), computed without materialising
            the time slices. Defaults to `False`.
        with_loss: bool. If False, `mean_abs` is a constant 0 and the pass
            that sums the magnitudes is skipped (for a zero loss weight).
            Defaults to `True`.

    Returns:
        Tuple `(l0, n, nf, mean_abs)` of float32 scalars: the nonzero count,
        the element count, the frame count and `sum|values| / n` (whose
        gradient is `sign(values) / n`, 0 where a value is 0). The
        denominators are clamped to >= 1, so an empty tensor (possible only
        when the time axis is dynamic and shorter than required) gives zeros
        instead of the original's NaN.
    """
    values = ops.cast(values, "float32")
    if len(values.shape) < 2:
        raise ValueError(
            "`values` must have shape (batch, time, ...). "
            f"Received: values.shape={tuple(values.shape)}"
        )
    shape = ops.shape(values)
    size = ops.cast(shape[0], "float32")
    steps = ops.cast(shape[1], "float32")
    if temporal:
        steps = ops.maximum(steps - 1.0, 0.0)
    n = size * steps * ops.cast(_features(values), "float32")
    nf = ops.cast(frames, "float32")
    if with_loss:
        fused = _delta_count_and_abs_sum if temporal else _count_and_abs_sum
        stats = fused(values)
        l0, abs_sum = stats[0], stats[1]
        mean_abs = ops.divide(abs_sum, ops.maximum(n, 1.0))
    else:
        l0 = ops.stop_gradient(_count_nonzero(values, temporal))
        mean_abs = ops.zeros((), "float32")
    return l0, n, nf, mean_abs


def _count_nonzero(values, temporal):
    """Nonzero count of `values` (or of its temporal differences)."""
    rows, count = _frame_rows(values)
    if not temporal:
        return _exact_count(
            ops.sum(ops.cast(ops.not_equal(rows, 0.0), "float32"), axis=1)
        )
    steps = ops.shape(values)[1]
    changed = ops.cast(ops.not_equal(rows[:-1], rows[1:]), "float32")
    within = _within_clip(count, steps)
    return _exact_count(ops.multiply(ops.sum(changed, axis=1), within))


class SparsityTotals:
    """Sums of sparsity statistics held in non-trainable float32 variables.

    Not a layer: `SparsityTotals(layer, shape)` creates three variables on
    `layer` (`<prefix>l0`, `<prefix>n`, `<prefix>frames`), so they are part
    of `layer.non_trainable_variables` (and of any model containing it) and
    are threaded through the stateless JAX steps like BatchNormalization
    statistics. Under `tf.distribute` each replica sums its own batches
    (`synchronization="on_read"`) and reading adds the replicas
    (`aggregation="sum"`), as for Keras metric variables.

    Args:
        layer: the `keras.layers.Layer` that owns the variables.
        shape: shape of the `l0` and `n` sums: `()` for one tensor, `(S,)`
            for `S` sparsity slots. `frames` is always a scalar.
        prefix: str, prefix of the variable names. Defaults to
            `"sparsity_"`.
    """

    def __init__(self, layer, shape=(), prefix="sparsity_"):
        self.shape = tuple(shape)

        def variable(name, shape):
            # Like a metric's variables: replica-local, summed on read
            # (`synchronization="on_read"`, `aggregation="sum"`). An
            # on-write SUM variable would sum the replicas' *new values*
            # (`v + delta`), doubling the total every step.
            with keras.name_scope(layer.name, caller=layer):
                v = keras.Variable(
                    initializer="zeros",
                    shape=shape,
                    dtype="float32",
                    trainable=False,
                    autocast=False,
                    aggregation="sum",
                    synchronization="on_read",
                    name=f"{prefix}{name}",
                )
            # Tracked by the layer as a non-trainable variable.
            setattr(layer, f"_sparsity_totals_{name}", v)
            return v

        self.l0 = variable("l0", self.shape)
        self.n = variable("n", self.shape)
        self.frames = variable("frames", ())

    @property
    def variables(self):
        return [self.l0, self.n, self.frames]

    def update(self, l0, n, frames):
        """Adds one batch's statistics (float32 tensors or scalars)."""
        self.l0.assign_add(ops.reshape(ops.cast(l0, "float32"), self.shape))
        self.n.assign_add(ops.reshape(ops.cast(n, "float32"), self.shape))
        self.frames.assign_add(ops.reshape(ops.cast(frames, "float32"), ()))

    def reset(self):
        """Sets the sums back to zero (outside a compiled step)."""
        for v in self.variables:
            v.assign(ops.zeros(v.shape, "float32"))

    def read(self):
        """The sums as NumPy float64: dict with `l0`, `n`, `frames`."""
        return {
            "l0": np.asarray(ops.convert_to_numpy(self.l0), "float64"),
            "n": np.asarray(ops.convert_to_numpy(self.n), "float64"),
            "frames": float(ops.convert_to_numpy(self.frames)),
        }


def show_metric_figures(layer):
    """The `show_metric` figures of a sparsity layer, from its totals.

    Args:
        layer: a `DeltaActivation` or `L1ActivityRegularizer` built with
            `show_metric=True`.

    Returns:
        dict: `n_spikes_<name>` (`sum L0 / sum nF`, nonzero values per
        frame), `n_neurons_<name>` (`sum N / sum nF`) and
        `n_outputs_<name>` (`n_outputs`). Over batches of equal shape the
        ratio of sums equals the original's mean over batches.
    """
    totals = layer.sparsity_totals.read()
    frames = max(totals["frames"], 1.0)
    return {
        f"n_spikes_{layer.name}": float(totals["l0"]) / frames,
        f"n_neurons_{layer.name}": float(totals["n"]) / frames,
        f"n_outputs_{layer.name}": float(layer.n_outputs),
    }


class SparsityStatsLayer(keras.layers.Layer):
    """Base of layers that add a sparsity loss and sparsity statistics.

    Not public. Subclasses call `_add_sparsity_terms(values, frames)` in
    `call` and return `self._format_outputs(output, l0, n)`.

    Args:
        sp_rate: float >= 0, weight of the sparsity loss.
        n_outputs: float >= 0, fan-out of every neuron; scales the loss.
        show_metric: bool, whether to sum the statistics in
            `self.sparsity_totals` (`SparsityTotals`) for the `show_metric`
            figures. Subclasses call `self._build_totals()` in `build`.
        return_stats: bool, whether `call` returns `(output, l0, n)`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(
        self,
        sp_rate=1.0,
        n_outputs=1.0,
        show_metric=False,
        return_stats=False,
        **kwargs,
    ):
        sp_rate = check_number("sp_rate", sp_rate, minimum=0)
        n_outputs = check_number("n_outputs", n_outputs, minimum=0)
        check_bool("show_metric", show_metric)
        check_bool("return_stats", return_stats)
        super().__init__(**kwargs)
        self.sp_rate = sp_rate
        self.n_outputs = n_outputs
        self.show_metric = show_metric
        self.return_stats = return_stats
        self.supports_masking = False
        self.sparsity_totals = None

    def _build_totals(self):
        if self.show_metric and self.sparsity_totals is None:
            self.sparsity_totals = SparsityTotals(self, (), prefix="")

    def _add_sparsity_terms(self, values, frames, temporal=False):
        """Adds the loss, updates the totals, returns `(l0, n)` (float32).

        With `sp_rate * n_outputs == 0` the added loss is a constant 0 and
        the magnitudes are not summed (the loss was `0 * mean|values|`: the
        same value and gradient for finite values)."""
        weight = self.sp_rate * self.n_outputs
        l0, n, nf, mean_abs = sparsity_statistics(
            values, frames, temporal=temporal, with_loss=weight != 0
        )
        self.add_loss(ops.multiply(weight, mean_abs))
        if self.sparsity_totals is not None:
            self.sparsity_totals.update(l0, n, nf)
        return l0, n

    def _format_outputs(self, output, l0, n):
        if self.return_stats:
            return output, l0, n
        return output

    def _format_output_shape(self, output_shape):
        if self.return_stats:
            return tuple(output_shape), (), ()
        return tuple(output_shape)

    def _output_dtype(self, input_dtype):
        return self.compute_dtype

    def compute_output_spec(self, inputs, *args, **kwargs):
        shape = self.compute_output_shape(inputs.shape)
        dtype = self._output_dtype(inputs.dtype)
        if not self.return_stats:
            return keras.KerasTensor(shape, dtype=dtype)
        return (
            keras.KerasTensor(shape[0], dtype=dtype),
            keras.KerasTensor((), dtype="float32"),
            keras.KerasTensor((), dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sp_rate": self.sp_rate,
                "n_outputs": self.n_outputs,
                "show_metric": self.show_metric,
                "return_stats": self.return_stats,
            }
        )
        return config
