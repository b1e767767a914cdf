"""Fold the time axis into the batch axis and back.

Keras 3's `keras.layers.TimeDistributed` calls the wrapped layer once per
frame (a Python loop when T is static), which copies the graph T times and
gives `BatchNormalization` per-frame statistics. Keras 2, which the papers
used, reshaped `(B, T, ...)` to `(B*T, ...)` instead. These two layers do the
same explicitly: fold once at the input, run ordinary per-frame layers, and
unfold only where a layer needs the time axis.
"""

import keras
from keras import ops


def _check_rank(layer, input_shape, min_rank):
    if len(input_shape) < min_rank:
        raise ValueError(
            f"`{layer.__class__.__name__}` expects inputs of rank >= "
            f"{min_rank}. Received: input_shape={tuple(input_shape)}"
        )
    for d in input_shape[min_rank - 1 :]:
        if d is None:
            raise ValueError(
                f"`{layer.__class__.__name__}` needs static feature "
                f"dimensions (everything after the batch/time axes). "
                f"Received: input_shape={tuple(input_shape)}"
            )


@keras.saving.register_keras_serializable(package="deltasparse")
class FoldTime(keras.layers.Layer):
    """Merges the batch and time axes: `(B, T, ...)` to `(B*T, ...)`.

    Frame `t` of sample `b` lands at row `b*T + t` (row-major), which is what
    Keras 2's `TimeDistributed` did when the batch size was unknown.

    Args:
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of shape `(batch, time, *features)` with static
            feature dimensions.

    Returns:
        Tensor of shape `(batch * time, *features)`.

    Example:
    >>> x = np.zeros((2, 3, 8, 8, 4), "float32")
    >>> tuple(FoldTime()(x).shape)
    (6, 8, 8, 4)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = False
        self.built = True

    def call(self, inputs):
        _check_rank(self, inputs.shape, 3)
        return ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape, 3)
        b, t = input_shape[0], input_shape[1]
        bt = None if b is None or t is None else b * t
        return (bt,) + tuple(input_shape[2:])


@keras.saving.register_keras_serializable(package="deltasparse")
class UnfoldTime(keras.layers.Layer):
    """Splits `(B*T, ...)` back into `(B, T, ...)`.

    The clip length comes from `time_steps` when it is fixed, or at call time
    from a `reference` tensor of shape `(B, T, ...)` (usually the model
    input), so models accept clips of any length.

    Args:
        time_steps: int or `None`. Fixed clip length T. When `None`, pass
            `reference` at call time. Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor of shape `(batch * time, *features)`.
        reference: optional tensor of shape `(batch, time, ...)` whose axis 1
            gives T. Required when `time_steps` is `None`.

    Returns:
        Tensor of shape `(batch, time, *features)`.

    Example:
    >>> x = np.zeros((6, 8, 8, 4), "float32")
    >>> tuple(UnfoldTime(time_steps=3)(x).shape)
    (2, 3, 8, 8, 4)
    """

    def __init__(self, time_steps=None, **kwargs):
        if time_steps is not None and (
            not isinstance(time_steps, int) or time_steps < 1
        ):
            raise ValueError(
                "`time_steps` must be a positive int or None. "
                f"Received: time_steps={time_steps}"
            )
        super().__init__(**kwargs)
        self.time_steps = time_steps
        self.built = True

    def _steps(self, reference):
        if self.time_steps is not None:
            return self.time_steps
        if reference is None:
            raise ValueError(
                "`UnfoldTime` needs either `time_steps` at construction or a "
                "`reference` tensor of shape (batch, time, ...) at call time."
            )
        t = reference.shape[1]
        return t if t is not None else ops.shape(reference)[1]

    def call(self, inputs, reference=None):
        _check_rank(self, inputs.shape, 2)
        t = self._steps(reference)
        return ops.reshape(inputs, (-1, t) + tuple(inputs.shape[1:]))

    def compute_output_shape(self, inputs_shape, reference_shape=None):
        # Keras matches `<call argument>_shape` names when `call` takes more
        # than one tensor, so these must be `inputs_shape`/`reference_shape`.
        t = self.time_steps
        if t is None and reference_shape is not None:
            t = reference_shape[1]
        bt = inputs_shape[0]
        b = bt // t if (bt is not None and t) else None
        return (b, t) + tuple(inputs_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update({"time_steps": self.time_steps})
        return config
