"""Decoder and classification head of the group k-sparse temporal autoencoders.

- `build_decoder`: the one-layer linear per-frame deconvolution.
- `build_classifier_head`: per-frame max-pooling, dropout and linear layer,
  logits averaged over time, softmax.
"""

import keras

from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.models.temporal_autoencoder.encoders import l2_regularizer


def build_decoder(feature_shape, channels, kernel_size, l2=0.0, name="decoder"):
    """Builds the one-layer linear per-frame deconvolution decoder.

    A per-frame `Conv2DTranspose(channels, kernel_size, padding="same")`
    without activation (stride 1, so the frame size is kept).

    Args:
        feature_shape: tuple `(T, H, W, F)`.
        channels: int, output channels C_in.
        kernel_size: int, square kernel size.
        l2: float, L2 weight on the kernel. Defaults to `0.0`.
        name: str. Defaults to `"decoder"`.

    Returns:
        A functional `keras.Model` `(B, T, H, W, F)` to `(B, T, H, W, C_in)`.

    Example:
    >>> build_decoder((3, 8, 8, 4), channels=1, kernel_size=5).output.shape
    (None, 3, 8, 8, 1)
    """
    inputs = keras.Input(shape=tuple(feature_shape), name="code")
    h = FoldTime(name="fold_time")(inputs)
    h = keras.layers.Conv2DTranspose(
        channels,
        kernel_size,
        padding="same",
        kernel_regularizer=l2_regularizer(l2),
        name="deconv",
    )(h)
    outputs = UnfoldTime(name="unfold_time")(h, reference=inputs)
    return keras.Model(inputs, outputs, name=name)


def build_classifier_head(
    feature_shape, num_classes, pool_size=2, dropout=0.3, l2=0.0,
    name="classifier",
):
    """Builds the per-frame linear classifier head with mean-over-time.

    Per frame: `MaxPooling2D(pool_size)` (skipped when `pool_size` is falsy,
    as for vgg19) then `Flatten`, `Dropout(dropout)` and `Dense(num_classes)`
    (linear, `L2(l2)`); the per-frame logits are averaged over time and
    passed through a softmax. The weights do not depend on T, so one head
    classifies clips of any length.

    Args:
        feature_shape: tuple `(T, H, W, F)`; T may be `None`.
        num_classes: int, number of classes.
        pool_size: int or `None`. Defaults to `2`.
        dropout: float, dropout rate before the dense layer. Defaults to
            `0.3`.
        l2: float, L2 weight on the dense kernel. Defaults to `0.0`.
        name: str. Defaults to `"classifier"`.

    Returns:
        A functional `keras.Model` `(B, T, H, W, F)` to `(B, num_classes)`
        probabilities.

    Example:
    >>> build_classifier_head((3, 8, 8, 4), num_classes=10).output.shape
    (None, 10)
    """
    inputs = keras.Input(shape=tuple(feature_shape), name="features")
    h = FoldTime(name="fold_time")(inputs)
    if pool_size:
        h = keras.layers.MaxPooling2D(pool_size, name="max_pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dropout(dropout, name="dropout")(h)
    h = keras.layers.Dense(
        num_classes, kernel_regularizer=l2_regularizer(l2), name="logits"
    )(h)
    h = UnfoldTime(name="unfold_time")(h, reference=inputs)
    h = keras.layers.GlobalAveragePooling1D(name="time_mean")(h)
    outputs = keras.layers.Activation("softmax", name="softmax")(h)
    return keras.Model(inputs, outputs, name=name)
