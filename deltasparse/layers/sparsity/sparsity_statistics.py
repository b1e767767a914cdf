"""Sparsity loss, statistics and metrics shared by the DAL-family layers.

`DeltaActivation` and `L1ActivityRegularizer` measure the sparsity of a
tensor the same way (spec `delta_activation.md` §2.3 steps 9-12 and §3):

- `nF`: number of frames (`B*(T-1)` transitions for deltas, `B*T` frames
  for activations);
- `L0 = count_nonzero(values)`, `N = numel(values)`;
- added loss `sp_rate * n_outputs * sum|values| / N`;
- optional `'mean'` metrics `n_spikes_<name>` (`L0/nF`), `n_neurons_<name>`
  (`N/nF`) and `n_outputs_<name>` (`n_outputs`).

All of it is computed in float32, whatever the layer's compute dtype, so the
counts stay exact and the loss does not lose precision under
`mixed_float16`.

Keras 3 has no `add_metric`. The layer owns three `keras.metrics.Mean`
objects instead; `Model.metrics` collects sub-layer metrics, so they appear
in `fit` history and `evaluate` logs (tested on TensorFlow, in graph mode;
the stateful PyTorch trainer should behave the same, untested). On the JAX
backend the train/test/predict steps call the model
statelessly: only trainable and non-trainable variables are mapped into the
call, and the metric variables are even purged during `fit`, so an update
inside `call` cannot be carried out (it fails at trace time). The layers
therefore never update these metrics on JAX; they are reported as 0 there.
Use `return_stats=True` and aggregate at model level (e.g. a `Model`
subclass overriding `compute_metrics`) for a backend-independent route.
"""

import math
import numbers

import keras
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


class SparsityStatsLayer(keras.layers.Layer):
    """Base of layers that add a sparsity loss and sparsity statistics.

    Not public. Subclasses call `_add_sparsity_terms(values, frames)` in
    `call` and return `self._format_outputs(output, l0, n)`.

    Args:
        sp_rate: float >= 0, weight of the sparsity loss.
        n_outputs: float >= 0, fan-out of every neuron; scales the loss.
        show_metric: bool, whether to track the three `Mean` metrics.
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
        if show_metric:
            self.spikes_metric = keras.metrics.Mean(
                name=f"n_spikes_{self.name}"
            )
            self.neurons_metric = keras.metrics.Mean(
                name=f"n_neurons_{self.name}"
            )
            self.outputs_metric = keras.metrics.Mean(
                name=f"n_outputs_{self.name}"
            )
        else:
            self.spikes_metric = None
            self.neurons_metric = None
            self.outputs_metric = None

    def _add_sparsity_terms(self, values, frames):
        """Adds the loss, updates the metrics, returns `(l0, n)` (float32)."""
        l0, n, nf, mean_abs = sparsity_statistics(values, frames)
        self.add_loss(ops.multiply(self.sp_rate * self.n_outputs, mean_abs))
        if self.show_metric and keras.backend.backend() != "jax":
            # JAX runs `fit`/`evaluate` statelessly with the metric variables
            # detached from this call (they are purged), so skip there.
            nf_safe = ops.maximum(nf, 1.0)
            self.spikes_metric.update_state(ops.divide(l0, nf_safe))
            self.neurons_metric.update_state(ops.divide(n, nf_safe))
            self.outputs_metric.update_state(
                ops.convert_to_tensor(self.n_outputs, "float32")
            )
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
