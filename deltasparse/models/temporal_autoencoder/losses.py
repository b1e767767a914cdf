"""Losses of the group k-sparse temporal autoencoders (Milacski et al. 2019).

- `FrameReconstructionLoss`: the pre-training loss (frame reconstruction or,
  for the recurrent algorithms, next-frame prediction; optionally masked).
- `keras2_categorical_crossentropy` / `Keras2CategoricalCrossentropy`: the
  classification loss as Keras 2.2.4 computed it on probabilities.
"""

import keras
from keras import ops

@keras.saving.register_keras_serializable(package="deltasparse")
class FrameReconstructionLoss(keras.losses.Loss):
    """Squared error averaged over channels, optionally next-frame and masked.

    Per element `(b, t, h, w)` the loss is `mean_c (pred - true)**2`; the
    default `"sum_over_batch_size"` reduction then averages over everything
    else, so without a mask this is the plain mean squared error over all
    elements, as in the original.

    With `next_frame=True` (every recurrent algorithm) the output at time `t` is
    compared with the input at time `t + 1`: `pred[:, :-1]` against
    `true[:, 1:]`. The autoencoder is still fitted with target = input.

    With `pad_value` set, each squared error is multiplied by
    `[true != pad_value]` before the channel mean. As in the original, the
    divisor stays the channel count and masked elements still count in the
    mean over the other axes (the mask count is never used).

    Args:
        next_frame: bool, compare output `t` with input `t + 1`. Defaults to
            `False`.
        pad_value: float or `None`. Target value marking padding. Defaults to
            `None` (no mask).
        reduction: Keras loss reduction. Defaults to
            `"sum_over_batch_size"`.
        name: str. Defaults to `"frame_reconstruction"`.
        dtype: Loss computation dtype. Defaults to `None`.

    Returns:
        Called as `loss(y_true, y_pred)` on `(B, T, H, W, C)` tensors: the
        reduced scalar (per-element `(B, T', H, W)` values with
        `reduction=None`).

    Example:
    >>> true = np.zeros((1, 3, 2, 2, 1), "float32")
    >>> pred = np.ones((1, 3, 2, 2, 1), "float32")
    >>> float(FrameReconstructionLoss(next_frame=True)(true, pred))
    1.0
    """

    def __init__(
        self,
        next_frame=False,
        pad_value=None,
        reduction="sum_over_batch_size",
        name="frame_reconstruction",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.next_frame = bool(next_frame)
        self.pad_value = None if pad_value is None else float(pad_value)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.next_frame:
            y_pred = y_pred[:, :-1]
            y_true = y_true[:, 1:]
        error = ops.square(y_pred - y_true)
        if self.pad_value is not None:
            mask = ops.not_equal(y_true, ops.cast(self.pad_value, y_true.dtype))
            error = error * ops.cast(mask, error.dtype)
        return ops.mean(error, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"next_frame": self.next_frame, "pad_value": self.pad_value}
        )
        return config


@keras.saving.register_keras_serializable(package="deltasparse")
def keras2_categorical_crossentropy(y_true, y_pred):
    """Keras 2.2.4 categorical cross-entropy on probabilities.

    Renormalises `y_pred` to sum to one along the last axis, clips it to
    `[epsilon, 1 - epsilon]` (`keras.config.epsilon()`, 1e-7 by default) and
    returns `-sum(y_true * log(y_pred))`. Keras 3's TensorFlow backend instead
    recovers the logits of a softmax output and uses the unclipped
    `softmax_cross_entropy_with_logits`, which differs for confident
    predictions (spec section 9.15).

    Args:
        y_true: one-hot targets `(..., classes)`.
        y_pred: probabilities `(..., classes)`.

    Returns:
        Per-sample losses of shape `y_pred.shape[:-1]`.

    Example:
    >>> p = np.array([[0.9, 0.05, 0.05]], "float32")
    >>> y = np.array([[1.0, 0.0, 0.0]], "float32")
    >>> round(float(keras2_categorical_crossentropy(y, p)[0]), 5)
    0.10536
    """
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(y_true, y_pred.dtype)
    epsilon = keras.config.epsilon()
    probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
    probs = ops.clip(probs, epsilon, 1.0 - epsilon)
    return -ops.sum(y_true * ops.log(probs), axis=-1)


@keras.saving.register_keras_serializable(package="deltasparse")
class Keras2CategoricalCrossentropy(keras.losses.Loss):
    """`keras2_categorical_crossentropy` as a `keras.losses.Loss`.

    Per-sample losses are averaged over the batch (`"sum_over_batch_size"`),
    like Keras 2.2.4 with unit sample weights (the original's class weights
    were silently ignored, spec section 9.2).

    Args:
        reduction: Keras loss reduction. Defaults to `"sum_over_batch_size"`.
        name: str. Defaults to `"categorical_crossentropy"`.
        dtype: Loss computation dtype. Defaults to `None`.

    Returns:
        Called as `loss(y_true, y_pred)`: the reduced scalar.

    Example:
    >>> loss = Keras2CategoricalCrossentropy()
    >>> round(float(loss(np.eye(2), np.array([[1.0, 0.0], [0.5, 0.5]]))), 4)
    0.3466
    """

    def __init__(
        self,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        return keras2_categorical_crossentropy(y_true, y_pred)
