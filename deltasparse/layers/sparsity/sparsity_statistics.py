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


def sparsity_statistics(values, frames):
    """Sparsity statistics of `values` in float32.

    Args:
        values: tensor whose nonzero entries are counted.
        frames: number of frames `nF` (int or scalar tensor).

    Returns:
        Tuple `(l0, n, nf, mean_abs)` of float32 scalars: the nonzero count,
        the element count, the frame count and `sum|values| / n` (whose
        gradient is `sign(values) / n`, 0 where a value is 0). The
        denominators are clamped to >= 1, so an empty tensor (possible only
        when the time axis is dynamic and shorter than required) gives zeros
        instead of the original's NaN.
    """
    values = ops.cast(values, "float32")
    l0 = ops.cast(ops.count_nonzero(values), "float32")
    n = ops.cast(ops.size(values), "float32")
    nf = ops.cast(frames, "float32")
    # |v| written as sign(v) * v: the same value, and the gradient sign(v) is
    # 0 at v = 0 on every backend, as with the original's `tf.abs` (JAX's
    # `abs` has gradient 1 at 0, which would push equal levels apart).
    magnitude = ops.multiply(ops.stop_gradient(ops.sign(values)), values)
    mean_abs = ops.divide(ops.sum(magnitude), ops.maximum(n, 1.0))
    return l0, n, nf, mean_abs


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

    def _add_sparsity_terms(self, values, frames):
        """Adds the loss, updates the totals, returns `(l0, n)` (float32)."""
        l0, n, nf, mean_abs = sparsity_statistics(values, frames)
        self.add_loss(ops.multiply(self.sp_rate * self.n_outputs, mean_abs))
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
