"""Delta Activation Layer (DAL): quantized activations with a temporal-delta
sparsity loss and a learnable quantization step."""

import keras
from keras import ops

from deltasparse.layers.sparsity.sparsity_statistics import SparsityStatsLayer
from deltasparse.layers.sparsity.sparsity_statistics import check_bool
from deltasparse.layers.sparsity.sparsity_statistics import check_number
from deltasparse.ops.quantize import quantize

_THRESHOLD_LEVELS = ("channel-wise", "neuron-wise", "layer-wise")
_ACTIVATIONS = (None, "relu", "softmax")
_DELTA_LEVELS = (0, 1, 2)


def _normalize_pool_size(max_pooling):
    """Validates `max_pooling`; returns `None`, an int or a tuple of ints."""
    if max_pooling is None:
        return None
    if isinstance(max_pooling, (list, tuple)):
        sizes = tuple(max_pooling)
    else:
        sizes = (max_pooling,)
    valid = len(sizes) > 0 and all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1
        for k in sizes
    )
    if not valid or len(sizes) not in (1, 3):
        raise ValueError(
            "`max_pooling` must be None, a positive int, or a tuple of 1 or 3 "
            "positive ints (pool window over (time,) or (time, height, "
            f"width)). Received: max_pooling={max_pooling!r}"
        )
    if isinstance(max_pooling, (list, tuple)):
        return sizes
    return max_pooling


@ops.custom_gradient
def _exact_delta(delta, changed):
    """`delta` where `changed` is 1, exactly 0 elsewhere; identity gradient.

    `y_t - y_{t+1}` of two equal quantized values is exactly 0 in eager
    execution, but XLA (JAX, or TensorFlow with `jit_compile`) may fuse the
    products `r*q` into the subtraction (FMA contraction) and leave a 1-ulp
    residue, which would count as a spike and get a +-1 gradient from the
    L1 term. `changed = (y_t != y_{t+1})` is an exact comparison, so this
    restores the eager (original) values while keeping the original gradient
    (the upstream gradient, also where the delta is 0).
    """
    out = ops.where(ops.cast(changed, "bool"), delta, ops.zeros_like(delta))

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        return upstream, ops.zeros_like(changed)

    return out, grad


def _difference(a, b):
    """`a - b`, exactly 0 where `a == b` (see `_exact_delta`)."""
    changed = ops.cast(ops.not_equal(a, b), a.dtype)
    return _exact_delta(ops.subtract(a, b), ops.stop_gradient(changed))


@keras.saving.register_keras_serializable(package="deltasparse")
class DeltaActivation(SparsityStatsLayer):
    """Delta Activation Layer: quantized activations, temporally sparse deltas.

    Clean-room re-implementation of the `delta_activation` layer of
    Yousefzadeh & Sifalakis (arXiv 2107.07305, 2021). The layer
    quantizes every activation with a learnable step `q = |theta|`, so that a
    neuron whose input changes little between frames keeps the same level and
    its temporal delta is exactly zero; a loss on the mean absolute delta
    pushes the network (and, through a deliberately negated gradient, the
    step) towards such temporal sparsity.

    For an input `x` of shape `(B, T, F)` or `(B, T, H, W, C)` the forward pass
    is:

    1. `q = |theta|` (broadcast over the trailing axes);
    2. `s = cumsum(x, axis=1)` if `sigma` (integration over time) else `x`;
    3. `s = s + bias` if `trainable_bias`;
    4. `a = activation(s)` (`None`: identity, `'relu'`, or a softmax over the
       last axis);
    5. `y = q * round(a / q)`, round half to even
       (`deltasparse.ops.quantize.quantize`);
    6. if `max_pooling` is `k`: a stride-1 `'same'` max pool of window `k`
       over `(T, H, W)` for rank-5 input (the time axis is pooled too) or over
       `T` for rank-3 input, like the original's `tf.nn.max_pool`;
    7. temporal differences `d_t = y_t - y_{t+1}`, `t = 0 .. T-2`
       (previous minus next; the first frame's change from an all-zero
       background is not counted);
    8. the returned tensor depends on `delta_level`:
       - `0`: `y` itself, the quantized activation of every frame, so the
         next layers see ordinary frames (used by all models in the paper);
       - `1`: `y_t - y_{t-1}` with `y_{-1} = 0` (frame 0 unchanged), the true
         delta stream;
       - `2`: `[d_0, d_0, d_1, ..., d_{T-2}]`, "DVS-like without a
         background frame": the negated forward difference, shifted by one
         frame, with the first entry duplicated (the original's quirk, kept);
    9. statistics on `d` (after the pool, before the `delta_level` rewrite):
       `L0 = count_nonzero(d)`, `N = numel(d)` and `nF = B*(T-1)`;
    10. the loss `sp_rate * n_outputs * mean(|d|)` is added with `add_loss`
        (Keras adds it to the training and evaluation loss).

    Gradients (spec §2.5): the quantizer passes the upstream gradient to `a`
    unchanged (straight-through); the gradient to `q` is `-round(a/q)` times
    the upstream gradient, summed over broadcast positions, and to `theta` it
    is `sign(theta)` times that (0 at `theta = 0`). With the sparsity loss the
    step therefore grows under gradient descent. `L0` and `N` have no
    gradient.

    Differences from the original code:

    - `trainabale_bias` (sic) is spelled `trainable_bias`; the unused
      `layer_name` call argument is dropped; `**kwargs` go to the base layer;
      `get_config` makes the layer serializable; the weights are named
      `threshold` and `bias`.
    - The original always returned `(output, L0, N)`; here `call` returns just
      `output` unless `return_stats=True`.
    - Keras 3 has no `add_metric`: with `show_metric=True` the layer sums
      `L0`, `N` and `nF` in three non-trainable float32 weights
      (`sparsity_totals`, threaded through the stateless JAX steps like
      BatchNormalization statistics), and the
      `deltasparse.models.SparsityLogger` callback reports the figures
      (see `show_metric`) on every backend, as ratios of sums over the
      epoch (the original's batch means, for batches of equal shape).
    - The gradient of `|d|` is `sign(d)` (0 at `d = 0`) on every backend,
      as with the original's `tf.abs`; JAX's own `abs` has gradient 1 at 0,
      which would push equal levels apart.
    - Invalid arguments, input ranks other than 3 and 5, and a static clip
      length `T < 2` raise `ValueError` (the original failed later, or
      returned NaN for `T = 1`). When `T` is only known at run time, a clip
      with `T = 1` gives a zero loss and zero statistics instead of NaN.
    - Statistics and the loss are computed in float32 even under a
      `mixed_float16` policy (the quantization runs in the compute dtype).
    - Temporal differences of equal quantized values are exactly 0 also
      under XLA compilation (JAX, `jit_compile=True`), where fused
      multiply-adds could otherwise leave 1-ulp residues that count as spikes
      (the original ran without XLA). Values and gradients are unchanged.
    - The statistics and the loss are computed by one fused op on the
      folded `(B*T, features)` view of `y` (consecutive rows, clip
      boundaries weighted out) with its own gradient, instead of slicing
      the time axis (two copies), differencing, counting and taking the
      magnitude in separate passes; with `sp_rate * n_outputs == 0` the
      added loss is a constant 0 and the magnitudes are not summed. Values
      and gradients are those above (for finite activations: the original
      added `0 * mean|d|`, NaN if an activation is infinite).
    - The original "no gradient" helper multiplied the upstream gradient by
      0.0 (NaN for an infinite upstream gradient); here that path simply has
      no gradient.
    - `thr_init=0` raises a `ValueError`: the step `|theta| = 0` divides by
      zero, and the original returned all-NaN outputs (its inference scripts
      built the layer with `thr_init=0` and then loaded trained weights;
      build with any non-zero `thr_init` and load the weights the same way).
      A step that becomes exactly 0 at run time (a trained or loaded
      `theta` entry equal to 0) is guarded by `deltasparse.ops.quantize`:
      that entry passes its input through unquantized (the `q -> 0` limit)
      and gets a zero gradient, instead of NaN. For every non-zero `theta`
      the values and gradients are the original's.
    - Calling a built layer on inputs whose shape does not match its weights
      (a channel-wise `theta` built on 8 channels called on 5, a neuron-wise
      `theta` built on 4x4 frames called on 6x6, a bias built on 8 channels)
      raises a `ValueError` naming the built and the received shape (the
      original failed inside the division with a TensorFlow shape error).

    Args:
        threshold_level: str, shape of the learnable step `theta`:
            `'channel-wise'` `(C,)` (the last axis), `'neuron-wise'`
            `input_shape[2:]`, or `'layer-wise'` `(1,)`. Defaults to
            `'channel-wise'`.
        sp_rate: float >= 0, weight of the sparsity loss. Defaults to `1.0`.
        n_outputs: float >= 0, fan-out of each neuron (number of operations
            one nonzero delta triggers downstream); scales the loss. Defaults
            to `1.0`.
        thr_init: float != 0, initial value of every entry of `theta` (its
            sign is irrelevant, `|theta|` is used, so the initial step is
            `|thr_init|`). Defaults to `0.1`.
        trainable_bias: bool, whether to add a trainable per-channel bias
            (zeros) before the activation. Defaults to `False`.
        activation: `None`, `'relu'` or `'softmax'` (over the last axis),
            applied before the quantizer. Defaults to `None`.
        max_pooling: `None`, an int or a tuple of 1 or 3 ints: window of a
            stride-1 `'same'` max pool applied after the quantizer, over
            `(T, H, W)` for rank-5 input and over `T` for rank-3 input.
            Defaults to `None`.
        sigma: bool, whether to integrate the input over time (cumulative sum
            over axis 1) first, as in sigma-delta coding. Defaults to `False`.
        delta_level: int in `{0, 1, 2}`, what is returned (see above).
            Defaults to `0`.
        show_metric: bool, whether to report
            `n_spikes_<name>` (nonzero deltas per frame transition,
            `L0/nF`), `n_neurons_<name>` (`N/nF`, neurons per frame) and
            `n_outputs_<name>` (`n_outputs`) over each epoch. The layer then
            sums the statistics in three non-trainable weights; the figures
            appear in `fit` history and `evaluate` logs with the
            `deltasparse.models.SparsityLogger` callback. Defaults to
            `False`.
        thr_trainable: bool, whether `theta` is trainable. Defaults to `True`.
        return_stats: bool, whether `call` returns
            `(output, nonzero_delta_count, element_count)` like the original
            instead of `output` alone. Defaults to `False`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: float tensor of shape `(batch, time, features)` or
            `(batch, time, height, width, channels)`, `time >= 2`.

    Returns:
        A tensor of the input's shape in the compute dtype. With
        `return_stats=True` a tuple `(output, l0, n)` where `l0` (nonzero
        temporal deltas in the batch) and `n` (number of delta elements,
        `B*(T-1)*features`) are float32 scalars.

    Input shape:
        `(batch, time, features)` or `(batch, time, height, width, channels)`.

    Output shape:
        Same as the input.

    References:
        - Yousefzadeh & Sifalakis, arXiv 2107.07305 (2021).

    Example:
    >>> x = np.random.rand(2, 3, 8, 8, 4).astype("float32")
    >>> layer = DeltaActivation(thr_init=0.25, sp_rate=1e-4)
    >>> y = layer(x)  # every value is a multiple of 0.25
    >>> tuple(y.shape)
    (2, 3, 8, 8, 4)
    >>> len(layer.losses)  # the temporal sparsity loss
    1
    """

    def __init__(
        self,
        threshold_level="channel-wise",
        sp_rate=1.0,
        n_outputs=1.0,
        thr_init=0.1,
        trainable_bias=False,
        activation=None,
        max_pooling=None,
        sigma=False,
        delta_level=0,
        show_metric=False,
        thr_trainable=True,
        return_stats=False,
        **kwargs,
    ):
        if "trainabale_bias" in kwargs:
            raise ValueError(
                "The original's argument `trainabale_bias` is spelled "
                "`trainable_bias` in deltasparse. Received: "
                f"trainabale_bias={kwargs['trainabale_bias']!r}"
            )
        if threshold_level not in _THRESHOLD_LEVELS:
            raise ValueError(
                f"`threshold_level` must be one of {_THRESHOLD_LEVELS}. "
                f"Received: threshold_level={threshold_level!r}"
            )
        thr_init = check_number("thr_init", thr_init)
        if thr_init == 0:
            raise ValueError(
                "`thr_init` must be a non-zero number: the initial "
                "quantization step is |thr_init|, and a step of 0 divides by "
                "zero (all-NaN outputs). Received: thr_init=0"
            )
        check_bool("trainable_bias", trainable_bias)
        if not (activation is None or isinstance(activation, str)) or (
            activation not in _ACTIVATIONS
        ):
            raise ValueError(
                "`activation` must be None, 'relu' or 'softmax'. "
                f"Received: activation={activation!r}"
            )
        max_pooling = _normalize_pool_size(max_pooling)
        check_bool("sigma", sigma)
        if isinstance(delta_level, bool) or delta_level not in _DELTA_LEVELS:
            raise ValueError(
                f"`delta_level` must be one of {_DELTA_LEVELS}. "
                f"Received: delta_level={delta_level!r}"
            )
        check_bool("thr_trainable", thr_trainable)
        super().__init__(
            sp_rate=sp_rate,
            n_outputs=n_outputs,
            show_metric=show_metric,
            return_stats=return_stats,
            **kwargs,
        )
        self.threshold_level = threshold_level
        self.thr_init = thr_init
        self.trainable_bias = trainable_bias
        self.activation = activation
        self.max_pooling = max_pooling
        self.sigma = sigma
        self.delta_level = int(delta_level)
        self.thr_trainable = thr_trainable
        self.threshold = None
        self.bias = None

    def _check_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) not in (3, 5):
            raise ValueError(
                "`DeltaActivation` expects inputs of rank 3 (batch, time, "
                "features) or rank 5 (batch, time, height, width, channels). "
                f"Received: input_shape={input_shape}"
            )
        time_steps = input_shape[1]
        if time_steps is not None and time_steps < 2:
            raise ValueError(
                "`DeltaActivation` needs at least 2 frames (axis 1) to form "
                "temporal deltas; with 1 frame the original's loss and "
                f"statistics are NaN. Received: input_shape={input_shape}"
            )
        if input_shape[-1] is None:
            raise ValueError(
                "`DeltaActivation` needs a static channel (last) dimension. "
                f"Received: input_shape={input_shape}"
            )
        self._check_built_shape(input_shape)
        if self.max_pooling is not None:
            sizes = self.max_pooling
            if isinstance(sizes, tuple) and len(sizes) not in (
                1,
                len(input_shape) - 2,
            ):
                raise ValueError(
                    "`max_pooling` must have 1 entry, or one per pooled axis "
                    f"({len(input_shape) - 2} for inputs of rank "
                    f"{len(input_shape)}). Received: max_pooling={sizes} "
                    f"with input_shape={input_shape}"
                )
        return input_shape

    def _check_built_shape(self, input_shape):
        """Raises unless `input_shape` fits the weights made in `build`."""
        if self.threshold is None:
            return
        expected = None
        if self.threshold_level == "neuron-wise":
            features = tuple(self.threshold.shape)
            if tuple(input_shape[2:]) != features:
                expected = ("batch", "time") + features
                weight = f"`threshold` of shape {features}"
        if expected is None:
            for weight_name in ("threshold", "bias"):
                variable = getattr(self, weight_name)
                if weight_name == "threshold" and (
                    self.threshold_level != "channel-wise"
                ):
                    continue
                if variable is not None and (
                    input_shape[-1] != variable.shape[-1]
                ):
                    expected = ("batch", "time", "...", variable.shape[-1])
                    weight = (
                        f"`{weight_name}` of shape {tuple(variable.shape)}"
                    )
                    break
        if expected is not None:
            expected = "(" + ", ".join(str(d) for d in expected) + ")"
            raise ValueError(
                f"Layer '{self.name}' (`DeltaActivation`, threshold_level="
                f"'{self.threshold_level}') was built for inputs of shape "
                f"{expected}: it holds a {weight}. Call it only on inputs "
                "with those feature dimensions, or use a new layer. "
                f"Received: input_shape={tuple(input_shape)}"
            )

    def _pool_size(self, rank):
        sizes = self.max_pooling
        if isinstance(sizes, int):
            return (sizes,) * (rank - 2)
        if len(sizes) == 1:
            return sizes * (rank - 2)
        return sizes

    def build(self, input_shape):
        input_shape = self._check_input_shape(input_shape)
        if self.threshold_level == "channel-wise":
            shape = (input_shape[-1],)
        elif self.threshold_level == "neuron-wise":
            shape = tuple(input_shape[2:])
            if None in shape:
                raise ValueError(
                    "`threshold_level='neuron-wise'` needs static feature "
                    "dimensions (everything after batch and time). "
                    f"Received: input_shape={input_shape}"
                )
        else:
            shape = (1,)
        self.threshold = self.add_weight(
            name="threshold",
            shape=shape,
            initializer=keras.initializers.Constant(self.thr_init),
            trainable=self.thr_trainable,
        )
        if self.trainable_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(input_shape[-1],),
                initializer="zeros",
                trainable=True,
            )
        self._build_totals()

    def call(self, inputs):
        self._check_input_shape(inputs.shape)
        dtype = self.compute_dtype
        x = ops.cast(inputs, dtype)
        step = ops.abs(ops.cast(self.threshold, dtype))

        s = ops.cumsum(x, axis=1) if self.sigma else x
        if self.bias is not None:
            s = ops.add(s, ops.cast(self.bias, dtype))
        if self.activation == "relu":
            s = ops.relu(s)
        elif self.activation == "softmax":
            s = ops.softmax(s, axis=-1)
        y = quantize(s, step)
        if self.max_pooling is not None:
            y = ops.max_pool(
                y,
                pool_size=self._pool_size(len(y.shape)),
                strides=1,
                padding="same",
                data_format="channels_last",
            )

        # Statistics and loss in float32 (exact counts under mixed
        # precision), on the temporal deltas of `y`, fused in one op that
        # never materialises the time slices (see `sparsity_statistics`).
        shape = ops.shape(y)
        frames = shape[0] * ops.maximum(shape[1] - 1, 0)
        l0, n = self._add_sparsity_terms(
            ops.cast(y, "float32"), frames, temporal=True
        )

        if self.delta_level == 0:
            output = y
        elif self.delta_level == 1:
            previous = ops.concatenate(
                [ops.zeros_like(y[:, :1]), y[:, :-1]], axis=1
            )
            output = _difference(y, previous)
        else:
            forward = _difference(y[:, :-1], y[:, 1:])
            output = ops.concatenate([forward[:, :1], forward], axis=1)
        return self._format_outputs(output, l0, n)

    def compute_output_shape(self, input_shape):
        input_shape = self._check_input_shape(input_shape)
        return self._format_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "threshold_level": self.threshold_level,
                "thr_init": self.thr_init,
                "trainable_bias": self.trainable_bias,
                "activation": self.activation,
                "max_pooling": self.max_pooling,
                "sigma": self.sigma,
                "delta_level": self.delta_level,
                "thr_trainable": self.thr_trainable,
            }
        )
        return config
