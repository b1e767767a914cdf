"""Convolutional minimal RNN: a gated running average of feature maps.

`ConvMinimalRNN2D` is the recurrent layer that the group k-sparse temporal
CNNs of Milacski et al. (IJCNN 2019) put on top of their per-frame encoder.
It is a convolutional version of the MinimalRNN of Chen (2017): the preceding
conv stack plays the role of the input mapping, and an update gate computed
by two convolutions decides, per pixel and channel, how much of the current
feature map replaces the running state:

```
u_t = recurrent_activation(conv(x_t, kernel) + bias
                           + conv(h_{t-1}, recurrent_kernel))
h_t = (1 - u_t) * h_{t-1} + u_t * x_t
```

Because the state is mixed with the input itself, the state has the input's
shape: `filters` must equal the number of input channels and the input
convolution must keep the spatial size.
"""

import keras
from keras import ops


def _standardize_pair(value, name):
    """Returns `value` as a tuple of two positive ints, or raises."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    else:
        try:
            value = tuple(value)
        except TypeError:
            value = None
    if (
        value is None
        or len(value) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0
            for v in value
        )
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a tuple of 2 positive "
            f"ints. Received: {name}={value}"
        )
    return value


def _conv_output_length(length, kernel, padding, stride, dilation):
    """Output length of a 1-D convolution (TensorFlow/JAX conventions)."""
    if length is None:
        return None
    if padding == "same":
        return (length + stride - 1) // stride
    effective_kernel = (kernel - 1) * dilation + 1
    return max(length - effective_kernel + stride, 0) // stride


@keras.saving.register_keras_serializable(package="deltasparse")
class ConvMinimalRNN2DCell(keras.layers.Layer):
    """Cell of `ConvMinimalRNN2D`: one step of the convolutional MinimalRNN.

    Given a frame `x_t` of shape `(batch, height, width, channels)` and the
    previous state `h_{t-1}` of the same shape, the cell computes

    ```
    u_t = recurrent_activation(conv(x_t, kernel; strides, padding, dilation)
                               + bias
                               + conv(h_{t-1}, recurrent_kernel; 1, "same"))
    h_t = (1 - u_t) * h_{t-1} + u_t * x_t
    ```

    and returns `h_t` both as output and as the new state. The recurrent
    convolution always uses stride 1, `"same"` padding, no dilation and no
    bias. Only `channels_last` data is supported (the original ignored its
    `data_format` argument and forced `channels_last` as well).

    The update mixes `h_{t-1}` with the *input* `x_t`, so three shapes must
    agree: the input, the state and the gate. Hence `filters` must equal the
    number of input channels (all kernels are `(kh, kw, C_in, C_in)`; the
    original silently relied on this and failed with a shape error
    otherwise), and `strides`, `padding` and `dilation_rate` must leave the
    spatial size unchanged: in practice `padding="same"` with stride 1, or
    1x1 kernels. Any other combination raises a `ValueError` when the cell
    is built (`padding="valid"` with a kernel larger than 1x1 is rejected
    already at construction).

    `activation` is stored and serialized but **not used** by the step, as in
    the original code: there is no candidate transform, the input itself is
    the candidate state.

    Dropout: with `dropout > 0` one mask for the step input and with
    `recurrent_dropout > 0` one mask for `h_{t-1}` is drawn per sequence
    (per call of the RNN layer), reused at every time step, and multiplied
    into the inputs of the two convolutions only (the update itself uses
    the unmasked `x_t` and `h_{t-1}`). Masks act in training only.
    `ConvMinimalRNN2D` draws them before its loop over time and clears them
    afterwards. A cell with dropout used elsewhere (e.g. in a plain
    `keras.layers.RNN`, which only prepares masks for Keras' own cells)
    raises a `ValueError` in training unless `get_dropout_mask(frame)` /
    `get_recurrent_dropout_mask(state)` were called first: drawing them
    inside a compiled loop would give a new mask at every step (TF) or
    leak traced values (JAX).

    Differences from the original (Keras 2.2.4) cell:
    - `recurrent_activation` defaults to `"sigmoid"` (the original cell
      defaulted to `"hard_sigmoid"`). Every call site in the original
      algorithms passed `"sigmoid"`, the exact logistic. Note that Keras 3's
      `"hard_sigmoid"` is `relu6(x + 3) / 6` (slope 1/6), not Keras 2's
      `clip(0.2 * x + 0.5, 0, 1)` (slope 0.2), so passing `"hard_sigmoid"`
      would not reproduce the Keras 2 default anyway.
    - The default `"orthogonal"` recurrent initializer draws from the Keras
      seeded RNG (QR of a Gaussian matrix, gain 1); Keras 2.2.4 used an SVD
      of a draw from numpy's global RNG. Both give a kernel whose
      `(kh * kw * C_in, C_in)` reshape has orthonormal columns, but the
      values differ for the same seed.
    - Dropout rates outside `[0, 1)` raise a `ValueError`; Keras 2 clipped
      them to `[0, 1]` and then silently ignored a rate of 1.
    - Invalid `filters` or shape-changing conv settings raise a clear
      `ValueError` instead of a shape error deep inside the graph.

    Args:
        filters: int, number of state channels. Must equal the number of
            input channels.
        kernel_size: int or tuple of 2 ints, size of both convolution
            windows.
        strides: int or tuple of 2 ints, strides of the input convolution.
            Defaults to `1`.
        padding: `"valid"` or `"same"` (case-insensitive), padding of the
            input convolution. Defaults to `"same"` (see
            `ConvMinimalRNN2D`: the original and Keras' `ConvLSTM2D`
            default to `"valid"`, which only works with 1x1 kernels here).
        dilation_rate: int or tuple of 2 ints, dilation of the input
            convolution. Defaults to `1`.
        activation: activation, stored and serialized but unused (see
            above). Defaults to `"tanh"`.
        recurrent_activation: activation of the update gate. Defaults to
            `"sigmoid"`.
        use_bias: bool, whether the gate has a bias. Defaults to `True`.
        kernel_initializer: initializer of `kernel`. Defaults to
            `"glorot_uniform"`.
        recurrent_initializer: initializer of `recurrent_kernel`. Defaults to
            `"orthogonal"`.
        bias_initializer: initializer of `bias`. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of `kernel`.
        recurrent_regularizer: optional regularizer of `recurrent_kernel`.
        bias_regularizer: optional regularizer of `bias`.
        dropout: float in `[0, 1)`, dropout rate of the input-convolution
            input. Defaults to `0.0`.
        recurrent_dropout: float in `[0, 1)`, dropout rate of the
            recurrent-convolution input. Defaults to `0.0`.
        kernel_constraint: optional constraint of `kernel`.
        recurrent_constraint: optional constraint of `recurrent_kernel`.
        bias_constraint: optional constraint of `bias`.
        seed: optional int, seed of the dropout masks.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of shape `(batch, height, width, channels)`, the
            frame `x_t`.
        states: list with one tensor of the same shape, `h_{t-1}`.
        training: Python bool, enables dropout.

    Returns:
        Tuple `(h_t, [h_t])`.

    Example:
    >>> cell = ConvMinimalRNN2DCell(4, 3)
    >>> rnn = keras.layers.RNN(cell, return_sequences=True)
    >>> tuple(rnn(np.zeros((2, 3, 8, 8, 4), "float32")).shape)
    (2, 3, 8, 8, 4)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        if (
            not isinstance(filters, int)
            or isinstance(filters, bool)
            or filters < 1
        ):
            raise ValueError(
                "`filters` must be a positive int equal to the number of "
                f"input channels. Received: filters={filters}"
            )
        kernel_size = _standardize_pair(kernel_size, "kernel_size")
        strides = _standardize_pair(strides, "strides")
        dilation_rate = _standardize_pair(dilation_rate, "dilation_rate")
        if not isinstance(padding, str) or padding.lower() not in (
            "valid",
            "same",
        ):
            raise ValueError(
                '`padding` must be "valid" or "same". '
                f"Received: padding={padding}"
            )
        padding = padding.lower()
        if max(strides) > 1 and max(dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` is not compatible with `dilation_rate > 1`. "
                f"Received: strides={strides}, dilation_rate={dilation_rate}"
            )
        if padding == "valid" and max(kernel_size) > 1:
            raise ValueError(
                'With `padding="valid"` a kernel larger than 1x1 shrinks the '
                "frame, so the state h_{t-1} and the input x_t no longer "
                'have the same shape. Use `padding="same"` (as the original '
                "algorithms do) or a 1x1 kernel. "
                f"Received: padding={padding}, kernel_size={kernel_size}"
            )
        for rate_name, rate in (
            ("dropout", dropout),
            ("recurrent_dropout", recurrent_dropout),
        ):
            if not 0.0 <= rate < 1.0:
                raise ValueError(
                    f"`{rate_name}` must be a float in [0, 1). "
                    f"Received: {rate_name}={rate}"
                )
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.padding = padding
        self.dilation_rate = dilation_rate
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(
            recurrent_activation
        )
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(
            recurrent_initializer
        )
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = keras.regularizers.get(
            recurrent_regularizer
        )
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(
            recurrent_constraint
        )
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.state_size = -1  # a spatial state; see `get_initial_state`
        self.input_spec = keras.InputSpec(ndim=4)
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    def build(self, inputs_shape, states_shape=None):
        inputs_shape = tuple(inputs_shape)
        if len(inputs_shape) != 4:
            raise ValueError(
                "`ConvMinimalRNN2DCell` expects frames of shape "
                "(batch, height, width, channels). "
                f"Received: input_shape={inputs_shape}"
            )
        channels = inputs_shape[-1]
        if channels is None:
            raise ValueError(
                "The channel dimension (last axis) of the inputs must be "
                f"defined. Received: input_shape={inputs_shape}"
            )
        if channels != self.filters:
            raise ValueError(
                "`filters` must equal the number of input channels: the "
                "update h_t = (1 - u_t) * h_{t-1} + u_t * x_t mixes the "
                "state with the input, so both need the same channels. "
                f"Received: filters={self.filters}, "
                f"input_shape={inputs_shape}"
            )
        spatial = inputs_shape[1:3]
        for axis, size in enumerate(spatial):
            args = (
                self.kernel_size[axis],
                self.padding,
                self.strides[axis],
                self.dilation_rate[axis],
            )
            changes = (
                self.strides[axis] > 1
                if size is None
                else _conv_output_length(size, *args) != size
            )
            if changes:
                raise ValueError(
                    "The input convolution must keep the frame size, "
                    "otherwise the state h_{t-1} and the input x_t no longer "
                    "have the same shape. Use stride 1 with "
                    '`padding="same"`. Received: '
                    f"strides={self.strides}, padding={self.padding}, "
                    f"dilation_rate={self.dilation_rate}, "
                    f"kernel_size={self.kernel_size}, "
                    f"input_shape={inputs_shape}"
                )
        self.spatial_dims = spatial
        self.input_dim = channels
        kernel_shape = self.kernel_size + (channels, channels)
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel",
            shape=kernel_shape,
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(channels,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
        else:
            self.bias = None
        self.input_spec = keras.InputSpec(ndim=4, axes={-1: channels})

    def call(self, inputs, states, training=False):
        h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
        x_gate = inputs
        h_gate = h_tm1
        if training and self.dropout > 0.0:
            x_gate = inputs * self._prepared(self._dropout_mask, "dropout")
        if training and self.recurrent_dropout > 0.0:
            h_gate = h_tm1 * self._prepared(
                self._recurrent_dropout_mask, "recurrent_dropout"
            )
        z = ops.conv(
            x_gate,
            self.kernel,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format="channels_last",
        )
        if self.use_bias:
            z = z + self.bias
        z = z + ops.conv(
            h_gate,
            self.recurrent_kernel,
            strides=1,
            padding="same",
            data_format="channels_last",
        )
        u = self.recurrent_activation(z)
        h = (1.0 - u) * h_tm1 + u * inputs
        return h, [h]

    def compute_output_shape(self, inputs_shape, states_shape=None):
        batch, height, width = tuple(inputs_shape)[:3]
        out = (
            batch,
            _conv_output_length(
                height,
                self.kernel_size[0],
                self.padding,
                self.strides[0],
                self.dilation_rate[0],
            ),
            _conv_output_length(
                width,
                self.kernel_size[1],
                self.padding,
                self.strides[1],
                self.dilation_rate[1],
            ),
            self.filters,
        )
        return out, [out]

    def get_initial_state(self, batch_size=None):
        if None in self.spatial_dims:
            raise ValueError(
                "`get_initial_state` needs static frame sizes; with dynamic "
                "sizes let `ConvMinimalRNN2D` derive the zero state from its "
                f"inputs. Received: spatial_dims={self.spatial_dims}"
            )
        shape = (batch_size,) + tuple(self.spatial_dims) + (self.filters,)
        return [ops.zeros(shape, dtype=self.compute_dtype)]

    def _prepared(self, mask, rate_name):
        if mask is None:
            raise ValueError(
                f"`{rate_name}` needs its mask drawn once per sequence, "
                "before the loop over time. Wrap the cell in "
                "`ConvMinimalRNN2D` (which does that), or call "
                "`get_dropout_mask(frame)` / `get_recurrent_dropout_mask("
                "state)` first and `reset_dropout_mask()` / "
                "`reset_recurrent_dropout_mask()` after the sequence. "
                f"Received: {rate_name}={getattr(self, rate_name)}"
            )
        return mask

    def _draw_mask(self, like, rate):
        return keras.random.dropout(
            ops.ones_like(like), rate=rate, seed=self.seed_generator
        )

    def get_dropout_mask(self, step_input):
        """Returns (drawing it if needed) the input dropout mask."""
        if self._dropout_mask is None and self.dropout > 0.0:
            self._dropout_mask = self._draw_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, state):
        """Returns (drawing it if needed) the recurrent dropout mask."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._draw_mask(
                state, self.recurrent_dropout
            )
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        """Forgets the cached input dropout mask."""
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        """Forgets the cached recurrent dropout mask."""
        self._recurrent_dropout_mask = None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(
                    self.recurrent_activation
                ),
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "recurrent_initializer": keras.initializers.serialize(
                    self.recurrent_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
                "kernel_regularizer": keras.regularizers.serialize(
                    self.kernel_regularizer
                ),
                "recurrent_regularizer": keras.regularizers.serialize(
                    self.recurrent_regularizer
                ),
                "bias_regularizer": keras.regularizers.serialize(
                    self.bias_regularizer
                ),
                "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout,
                "kernel_constraint": keras.constraints.serialize(
                    self.kernel_constraint
                ),
                "recurrent_constraint": keras.constraints.serialize(
                    self.recurrent_constraint
                ),
                "bias_constraint": keras.constraints.serialize(
                    self.bias_constraint
                ),
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="deltasparse")
class ConvMinimalRNN2D(keras.layers.RNN):
    """Convolutional MinimalRNN over a video: a gated running feature map.

    Runs `ConvMinimalRNN2DCell` over the time axis of a
    `(batch, time, height, width, channels)` tensor, starting from an
    all-zero state `h_0` of shape `(batch, height, width, channels)`:

    ```
    u_t = recurrent_activation(conv(x_t, kernel; strides, padding, dilation)
                               + bias
                               + conv(h_{t-1}, recurrent_kernel; 1, "same"))
    h_t = (1 - u_t) * h_{t-1} + u_t * x_t
    ```

    The gate `u_t` interpolates, per pixel and channel, between the previous
    state and the current input feature map; with `h_0 = 0` and
    non-negative inputs (ReLU features) every `h_t` is non-negative. In the
    group k-sparse temporal CNNs it sits at the end of the per-frame encoder
    and is called as `ConvMinimalRNN2D(filters, k, padding="same",
    recurrent_activation="sigmoid", return_sequences=True)`.

    Shapes: the state is mixed with the input, so `filters` must equal the
    number of input channels and the input convolution must keep the frame
    size (stride 1 with `padding="same"`, or 1x1 kernels). Other settings
    raise a `ValueError` (at construction for `padding="valid"` with a
    kernel larger than 1x1, otherwise when the layer is built). Strides
    larger than 1 are therefore accepted only along frame axes of length 1
    (where `"same"` keeps the length). The original layer had the same requirement but
    failed with an opaque shape error. The time axis may be dynamic
    (`keras.Input((None, H, W, C))`); so may the frame size, unless
    `stateful=True`.

    `activation` is stored and serialized but unused, like the original:
    the input itself is the candidate state.

    Default padding: `"same"`. Keras' `ConvLSTM2D` and the original
    layer (Keras 2.2.4 `ConvRNN2D`) default to `"valid"`, but this layer
    mixes the state with the input itself, so a `"valid"` convolution with
    any kernel larger than 1x1 would shrink the gate below the state's
    size; with that default `ConvMinimalRNN2D(4, 3)` could only be refused.
    Every call site in the original algorithms passes `padding="same"`, so
    the paper configurations compute exactly the same thing; an explicit
    `padding="valid"` still works with 1x1 kernels.

    Errors on the input: clips with a static `time` of 0 raise a
    `ValueError` (there is no last state to return), and so do clips whose
    channel count differs from `filters` (also after the layer was built
    on other clips) and, with `stateful=True`, clips whose frame size
    differs from the one the state was built for. A `time` of 0 that is
    only known at run time is not checked.

    Masking: a boolean mask of shape `(batch, time)` (for example from a
    `keras.layers.Masking` on a padded clip; masks of shape
    `(batch, time, height, width)` are reduced with "any pixel valid")
    skips the masked steps: the state is carried over unchanged and, with
    `return_sequences=True`, the previous output is repeated. The original
    never masked inside the RNN (its padded NEC Animal clips were handled
    in the loss only).

    `unroll`: the original accepted `unroll=True` but never used it (its
    Keras 2.2.4 base class did not forward it), so the recurrence always ran
    as a symbolic loop. Here `unroll=True` unrolls the loop when the number
    of time steps is static (same values, faster for short clips, slow to
    compile for long ones) and silently falls back to the symbolic loop
    when it is dynamic, so models written for the original keep working
    with variable-length clips.

    Other differences from the original (Keras 2.2.4) layer, see also
    `ConvMinimalRNN2DCell`:
    - `recurrent_activation` defaults to `"sigmoid"`; the original defaulted
      to Keras 2's `"hard_sigmoid"` (slope 0.2), but all its call sites
      passed `"sigmoid"`. Keras 3's `"hard_sigmoid"` has slope 1/6.
    - The orthogonal recurrent initializer uses the Keras seeded RNG; Keras
      2.2.4 drew from numpy's global RNG (SVD instead of QR).
    - `go_backwards=True` returns the sequence in processing (reversed)
      order, as Keras 2 did.

    Args:
        filters: int, number of state channels. Must equal the number of
            input channels.
        kernel_size: int or tuple of 2 ints, size of both convolution
            windows.
        strides: int or tuple of 2 ints, strides of the input convolution.
            Defaults to `1`.
        padding: `"valid"` or `"same"`, padding of the input convolution.
            Defaults to `"same"` (Keras' `ConvLSTM2D` and the original
            default to `"valid"`; see "Default padding" above).
        dilation_rate: int or tuple of 2 ints, dilation of the input
            convolution. Defaults to `1`.
        activation: stored and serialized but unused. Defaults to `"tanh"`.
        recurrent_activation: activation of the update gate. Defaults to
            `"sigmoid"`.
        use_bias: bool, whether the gate has a bias. Defaults to `True`.
        kernel_initializer: initializer of `kernel`, shape
            `(kh, kw, C_in, C_in)`. Defaults to `"glorot_uniform"`.
        recurrent_initializer: initializer of `recurrent_kernel`, shape
            `(kh, kw, C_in, C_in)`. Defaults to `"orthogonal"`.
        bias_initializer: initializer of `bias`, shape `(C_in,)`. Defaults
            to `"zeros"`.
        kernel_regularizer: optional regularizer of `kernel`.
        recurrent_regularizer: optional regularizer of `recurrent_kernel`.
        bias_regularizer: optional regularizer of `bias`.
        dropout: float in `[0, 1)`. Dropout rate of the input-convolution
            input; one mask per sequence, reused at every step, training
            only. Defaults to `0.0`.
        recurrent_dropout: float in `[0, 1)`. Same for the state entering
            the recurrent convolution. Defaults to `0.0`.
        return_sequences: bool, return all states `(batch, time, H, W, C)`
            instead of the last one `(batch, H, W, C)`. Defaults to `False`.
        return_state: bool, also return the last state. Defaults to
            `False`.
        go_backwards: bool, process the clip in reverse. Defaults to
            `False`.
        stateful: bool, carry the last state of batch entry `i` over to
            entry `i` of the next batch (needs a static batch size and
            frame size). Defaults to `False`.
        unroll: bool, unroll the loop when the clip length is static (see
            above). Defaults to `False`.
        kernel_constraint: optional constraint of `kernel`.
        recurrent_constraint: optional constraint of `recurrent_kernel`.
        bias_constraint: optional constraint of `bias`.
        seed: optional int, seed of the dropout masks.
        **kwargs: Base layer keyword arguments, such as `name`, `dtype` and
            `activity_regularizer`.

    Call arguments:
        sequences: tensor of shape `(batch, time, height, width, channels)`.
        initial_state: optional list with one tensor of shape
            `(batch, height, width, channels)`; zeros when omitted.
        mask: optional boolean tensor of shape `(batch, time)` (or
            `(batch, time, height, width)`), `False` for padded steps.
        training: Python bool, enables dropout.

    Returns:
        `(batch, time, height, width, channels)` with
        `return_sequences=True`, else `(batch, height, width, channels)`;
        with `return_state=True` a list `[output, last_state]`.

    Example:
    >>> x = np.random.rand(2, 4, 8, 8, 16).astype("float32")
    >>> layer = ConvMinimalRNN2D(16, 3, return_sequences=True)  # "same"
    >>> tuple(layer(x).shape)
    (2, 4, 8, 8, 16)

    References:
        - Milacski, Póczos, Lőrincz, "Group k-Sparse Temporal Convolutional
          Neural Networks: Unsupervised Pretraining for Video
          Classification", IJCNN 2019.
        - Chen, "MinimalRNN: Toward More Interpretable and Trainable
          Recurrent Neural Networks", 2017.
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="same",
        dilation_rate=1,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        cell = ConvMinimalRNN2DCell(
            filters=filters,
            kernel_size=kernel_size,
            strides=strides,
            padding=padding,
            dilation_rate=dilation_rate,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            seed=seed,
            name="conv_minimal_rnn2d_cell",
            dtype=kwargs.get("dtype"),
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = keras.InputSpec(ndim=5)

    def _check_sequences_shape(self, sequences_shape):
        shape = tuple(sequences_shape)
        if len(shape) != 5:
            raise ValueError(
                "`ConvMinimalRNN2D` expects clips of shape (batch, time, "
                f"height, width, channels). Received: input_shape={shape}"
            )
        if shape[1] == 0:
            raise ValueError(
                "`ConvMinimalRNN2D` needs clips with at least 1 time step "
                "(axis 1): with 0 frames there is no state to return. "
                f"Received: input_shape={shape}"
            )
        if shape[-1] is not None and shape[-1] != self.cell.filters:
            raise ValueError(
                f"Layer '{self.name}' (`ConvMinimalRNN2D`): `filters` "
                f"({self.cell.filters}) must equal the number of input "
                "channels (the last axis): the state h_{t-1} is mixed with the "
                "input x_t, so both have `filters` channels. Received: "
                f"filters={self.cell.filters}, input_shape={shape}"
            )
        spatial = getattr(self.cell, "spatial_dims", None)
        if self.stateful and self.cell.built and spatial is not None:
            if tuple(shape[2:4]) != tuple(spatial):
                raise ValueError(
                    f"Layer '{self.name}' (`ConvMinimalRNN2D`, stateful=True)"
                    f" keeps a state of frame size {tuple(spatial)}; clips "
                    "must have that height and width. Received: "
                    f"input_shape={shape}"
                )
        return shape

    def build(self, sequences_shape, initial_state_shape=None):
        self._check_sequences_shape(sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        self._check_sequences_shape(sequences.shape)
        mask = self._time_mask(mask)
        if mask is not None:
            # (batch, time, 1, 1, 1): broadcasts against the spatial states
            # in every backend's loop (JAX's scan expects that).
            mask = ops.reshape(
                ops.cast(mask, "bool"), ops.shape(mask) + (1, 1, 1)
            )
        if initial_state is None and not self.stateful:
            # The original's zero state: zeros shaped like one frame. Derived
            # from the input, so dynamic frame sizes work too.
            initial_state = [ops.zeros_like(sequences[:, 0])]
        if training:
            first = sequences[:, 0]
            self.cell.get_dropout_mask(first)
            self.cell.get_recurrent_dropout_mask(first)
        unroll = self.unroll
        try:
            if unroll and sequences.shape[1] is None:
                self.unroll = False
            return super().call(
                sequences,
                initial_state=initial_state,
                mask=mask,
                training=training,
            )
        finally:
            self.unroll = unroll
            self.cell.reset_dropout_mask()
            self.cell.reset_recurrent_dropout_mask()

    @staticmethod
    def _time_mask(mask):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is None or len(mask.shape) <= 2:
            return mask
        return ops.any(
            ops.cast(mask, "bool"), axis=tuple(range(2, len(mask.shape)))
        )

    def compute_output_shape(self, sequences_shape, initial_state_shape=None):
        sequences_shape = self._check_sequences_shape(sequences_shape)
        batch, steps = sequences_shape[:2]
        step_shape = (batch,) + sequences_shape[2:]
        state_shape = self.cell.compute_output_shape(step_shape)[0]
        if self.return_sequences:
            output_shape = (batch, steps) + tuple(state_shape[1:])
        else:
            output_shape = tuple(state_shape)
        if self.return_state:
            return output_shape, tuple(state_shape)
        return output_shape

    def compute_mask(self, inputs, mask):
        mask = self._time_mask(mask)
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask, None]
        return output_mask

    @property
    def filters(self):
        return self.cell.filters

    @property
    def kernel_size(self):
        return self.cell.kernel_size

    @property
    def strides(self):
        return self.cell.strides

    @property
    def padding(self):
        return self.cell.padding

    @property
    def dilation_rate(self):
        return self.cell.dilation_rate

    @property
    def activation(self):
        return self.cell.activation

    @property
    def recurrent_activation(self):
        return self.cell.recurrent_activation

    @property
    def use_bias(self):
        return self.cell.use_bias

    @property
    def kernel_initializer(self):
        return self.cell.kernel_initializer

    @property
    def recurrent_initializer(self):
        return self.cell.recurrent_initializer

    @property
    def bias_initializer(self):
        return self.cell.bias_initializer

    @property
    def kernel_regularizer(self):
        return self.cell.kernel_regularizer

    @property
    def recurrent_regularizer(self):
        return self.cell.recurrent_regularizer

    @property
    def bias_regularizer(self):
        return self.cell.bias_regularizer

    @property
    def kernel_constraint(self):
        return self.cell.kernel_constraint

    @property
    def recurrent_constraint(self):
        return self.cell.recurrent_constraint

    @property
    def bias_constraint(self):
        return self.cell.bias_constraint

    @property
    def dropout(self):
        return self.cell.dropout

    @property
    def recurrent_dropout(self):
        return self.cell.recurrent_dropout

    @property
    def seed(self):
        return self.cell.seed

    def get_config(self):
        cell_config = self.cell.get_config()
        config = {
            key: cell_config[key]
            for key in (
                "filters",
                "kernel_size",
                "strides",
                "padding",
                "dilation_rate",
                "activation",
                "recurrent_activation",
                "use_bias",
                "kernel_initializer",
                "recurrent_initializer",
                "bias_initializer",
                "kernel_regularizer",
                "recurrent_regularizer",
                "bias_regularizer",
                "dropout",
                "recurrent_dropout",
                "kernel_constraint",
                "recurrent_constraint",
                "bias_constraint",
                "seed",
            )
        }
        config["activity_regularizer"] = keras.regularizers.serialize(
            self.activity_regularizer
        )
        base_config = super().get_config()
        del base_config["cell"]
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
