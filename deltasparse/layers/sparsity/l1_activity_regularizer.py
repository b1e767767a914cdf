"""Identity layer adding an L1 activation-sparsity loss and statistics."""

import keras

from deltasparse.layers.sparsity.sparsity_statistics import SparsityStatsLayer


@keras.saving.register_keras_serializable(package="deltasparse")
class L1ActivityRegularizer(SparsityStatsLayer):
    """Identity layer that adds an L1 penalty on its input and counts nonzeros.

    Re-implementation of the `L1_regulizer` layer of the Delta Activation
    Layer code (Yousefzadeh & Sifalakis, 2021): the spatial-sparsity baseline
    and drop-in replacement for `DeltaActivation` (same statistics, metrics and
    return tuple), measuring activations instead of temporal deltas.

    For an input `x` of shape `(B, T, ...)` the output is `x` unchanged, and:

    - the statistics are `L0 = count_nonzero(x)`, `N = numel(x)` and
      `nF = B*T` frames;
    - the loss `sp_rate * n_outputs * mean(|x|)` is added with `add_loss`
      (classical activation L1, scaled by the fan-out);
    - with `show_metric=True`, `L0`, `N` and `nF` are summed in three
      non-trainable float32 variables (`sparsity_totals`), from which
      `deltasparse.models.SparsityLogger` reports `n_spikes_<name>`
      (`L0/nF`, nonzero activations per frame), `n_neurons_<name>` (`N/nF`)
      and `n_outputs_<name>` (`n_outputs`) in the epoch logs.

    Statistics and loss are computed in float32 even under `mixed_float16`.
    The layer works for any rank >= 2 and any `T >= 1`. `L0`, `N` and the
    loss do not depend on the layout, but `nF` is `shape[0] * shape[1]`, so
    the per-frame metrics assume `(B, T, ...)` input (on folded `(B*T, H, W,
    C)` frames they would be per image row). Inside
    `keras.layers.TimeDistributed` the layer is called once per frame: it
    adds one loss per frame (their sum is `T` times the clip's loss) and the
    metrics see `(B, ...)` slices; apply it to the whole `(B, T, ...)` tensor
    to match the original.

    Differences from the original code: the class is named
    `L1ActivityRegularizer` (was `L1_regulizer`); the ignored `thr_init`
    argument is dropped; `**kwargs` go to the base layer and `get_config`
    makes it serializable; `call` returns just the output unless
    `return_stats=True`; Keras 3 has no `add_metric`, so the `show_metric`
    figures come from non-trainable totals read by the `SparsityLogger`
    callback (correct on TensorFlow, JAX and PyTorch; they are ratios of
    sums over the epoch, equal to the original's batch means for batches of
    equal shape); invalid arguments raise
    `ValueError`; an empty input gives a zero loss instead of NaN; the
    count and the magnitude come from one fused op with its own gradient
    (`sign(x)`), and with `sp_rate * n_outputs == 0` the loss is a constant
    0 and only the count is computed (the original added `0 * mean|x|`:
    the same for finite activations).

    Args:
        sp_rate: float >= 0, weight of the L1 loss. Defaults to `1.0`.
        n_outputs: float >= 0, fan-out of each neuron; scales the loss.
            Defaults to `1.0`.
        show_metric: bool, whether to sum the statistics for the three
            figures above (three non-trainable weights); they appear in
            `fit` history and `evaluate` logs with the
            `deltasparse.models.SparsityLogger` callback. Defaults to
            `False`.
        return_stats: bool, whether `call` returns
            `(output, nonzero_count, element_count)` like the original instead
            of `output` alone. Defaults to `False`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of shape `(batch, time, ...)` (rank >= 2).

    Returns:
        `inputs` unchanged (cast to the compute dtype if floating). With
        `return_stats=True` a tuple `(output, l0, n)` where `l0` (nonzero
        activations in the batch) and `n` (number of elements) are float32
        scalars.

    Input shape:
        Any, rank >= 2: `(batch, time, ...)`.

    Output shape:
        Same as the input.

    Example:
    >>> x = np.maximum(np.random.randn(2, 3, 8, 8, 4), 0).astype("float32")
    >>> layer = L1ActivityRegularizer(sp_rate=4e-4, return_stats=True)
    >>> y, l0, n = layer(x)
    >>> float(n)
    1536.0
    """

    def __init__(
        self,
        sp_rate=1.0,
        n_outputs=1.0,
        show_metric=False,
        return_stats=False,
        **kwargs,
    ):
        super().__init__(
            sp_rate=sp_rate,
            n_outputs=n_outputs,
            show_metric=show_metric,
            return_stats=return_stats,
            **kwargs,
        )
        self._build_totals()
        self.built = True

    def _check_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(
                "`L1ActivityRegularizer` expects inputs of rank >= 2 "
                f"(batch, time, ...). Received: input_shape={input_shape}"
            )
        return input_shape

    def _output_dtype(self, input_dtype):
        if self.autocast and keras.backend.is_float_dtype(input_dtype):
            return self.compute_dtype
        return keras.backend.standardize_dtype(input_dtype)

    def call(self, inputs):
        self._check_input_shape(inputs.shape)
        shape = keras.ops.shape(inputs)
        l0, n = self._add_sparsity_terms(inputs, shape[0] * shape[1])
        return self._format_outputs(inputs, l0, n)

    def compute_output_shape(self, input_shape):
        input_shape = self._check_input_shape(input_shape)
        return self._format_output_shape(input_shape)
