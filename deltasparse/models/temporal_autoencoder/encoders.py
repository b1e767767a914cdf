"""Encoders of the group k-sparse temporal autoencoders.

- `build_cnn_encoder`: three per-frame ReLU convolutions on time folded into
  the batch, optionally preceded by input dropout (denoising algorithms) and
  followed by a `ConvMinimalRNN2D` (recurrent algorithms).
- `build_vgg19_encoder`: the per-frame ImageNet VGG19 without top, read from
  a local file (never downloaded).
- `set_encoder_trainable`: toggles an encoder, keeping the VGG19 base frozen.
"""

import os

import keras

from deltasparse.layers.rnn import conv_minimal_rnn as _conv_minimal_rnn
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    + VGG19_WEIGHTS_FILE
)
VGG19_FRAME_SHAPE = (32, 32, 3)


def l2_regularizer(l2):
    """`keras.regularizers.L2(l2)`, or `None` for `l2 == 0`.

    Keras 2's `l2(0.)` adds an exactly-zero loss with a zero gradient; no
    regularizer at all is numerically identical and cheaper.

    Args:
        l2: float >= 0.

    Returns:
        A regularizer or `None`.

    Example:
    >>> l2_regularizer(0.0) is None
    True
    """
    return keras.regularizers.L2(l2) if l2 else None


def build_cnn_encoder(
    input_shape,
    filters,
    kernel_size,
    l2=0.0,
    recurrent=False,
    input_dropout=None,
    name="encoder",
):
    """Builds the per-frame convolutional (optionally recurrent) encoder.

    `Dropout(input_dropout)` on the raw frames (denoising algorithms only), then
    three per-frame `Conv2D(filters, kernel_size, "relu", "same")` on time
    folded into the batch, then (recurrent algorithms) `ConvMinimalRNN2D(filters,
    kernel_size, recurrent_activation="sigmoid", padding="same",
    return_sequences=True)`. Every kernel gets `L2(l2)` when `l2 > 0`.

    Args:
        input_shape: tuple `(T, H, W, C_in)`; T may be `None`.
        filters: int, feature maps F of every layer.
        kernel_size: int, square kernel size of the convolutions and of the
            recurrent layer.
        l2: float, L2 weight on every kernel. Defaults to `0.0`.
        recurrent: bool, append the ConvMinimalRNN2D. Defaults to `False`.
        input_dropout: float or `None`, rate of the input dropout. Defaults to
            `None` (no dropout layer).
        name: str. Defaults to `"encoder"`.

    Returns:
        A functional `keras.Model` `(B, T, H, W, C_in)` to `(B, T, H, W, F)`.

    Example:
    >>> enc = build_cnn_encoder((3, 8, 8, 1), filters=4, kernel_size=3)
    >>> enc.output.shape
    (None, 3, 8, 8, 4)
    """
    inputs = keras.Input(shape=tuple(input_shape), name="frames")
    x = inputs
    if input_dropout is not None:
        x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    h = FoldTime(name="fold_time")(x)
    for i in range(1, 4):
        h = keras.layers.Conv2D(
            filters,
            kernel_size,
            padding="same",
            activation="relu",
            kernel_regularizer=l2_regularizer(l2),
            name=f"conv{i}",
        )(h)
    h = UnfoldTime(name="unfold_time")(h, reference=inputs)
    if recurrent:
        h = _conv_minimal_rnn.ConvMinimalRNN2D(
            filters,
            kernel_size,
            recurrent_activation="sigmoid",
            padding="same",
            return_sequences=True,
            kernel_regularizer=l2_regularizer(l2),
            name="crnn",
        )(h)
    return keras.Model(inputs, h, name=name)


def check_vgg19_weights(path):
    """Checks that the ImageNet VGG19 weights file exists, without downloading.

    Args:
        path: str or path-like, or `None`.

    Returns:
        `path` as a string.

    Raises:
        FileNotFoundError: when `path` is `None` or not an existing file; the
            message says which file to download and how to pass it.

    Example:
    >>> check_vgg19_weights("weights/" + VGG19_WEIGHTS_FILE)  # doctest: +SKIP
    'weights/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'
    """
    if path is not None and os.path.isfile(os.fspath(path)):
        return os.fspath(path)
    raise FileNotFoundError(
        "The vgg19 algorithm needs the ImageNet VGG19 weights without top, which "
        f"deltasparse never downloads. Download {VGG19_WEIGHTS_FILE} (e.g. "
        f"`wget {VGG19_WEIGHTS_URL}`) and pass its path as "
        f"`vgg19_weights`. Received: vgg19_weights={path!r}"
    )


def build_vgg19_encoder(clip_length, weights_path, name="encoder"):
    """Builds the per-frame ImageNet VGG19 encoder (no top).

    `keras.applications.VGG19(include_top=False, weights=None,
    input_shape=(32, 32, 3))` loads the Keras-2 ImageNet file from
    `weights_path` and runs on time folded into the batch. Every VGG layer
    except the last two (`block5_conv4`, `block5_pool`) is frozen; see
    `set_encoder_trainable`, which keeps them frozen when the encoder is
    toggled.

    Args:
        clip_length: int or `None`, frames per clip T.
        weights_path: path of the Keras-2 ImageNet file
            `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`.
        name: str. Defaults to `"encoder"`.

    Returns:
        A functional `keras.Model` `(B, T, 32, 32, 3)` to `(B, T, 1, 1, 512)`.

    Raises:
        FileNotFoundError: when `weights_path` is `None` or missing.

    Example:
    >>> enc = build_vgg19_encoder(4, "vgg19_notop.h5")  # doctest: +SKIP
    """
    weights_path = check_vgg19_weights(weights_path)
    vgg = keras.applications.VGG19(
        include_top=False,
        weights=None,
        input_shape=VGG19_FRAME_SHAPE,
        name="vgg19",
    )
    vgg.load_weights(weights_path)
    _freeze_vgg19_base(vgg)
    inputs = keras.Input(shape=(clip_length,) + VGG19_FRAME_SHAPE, name="frames")
    h = FoldTime(name="fold_time")(inputs)
    h = vgg(h)
    h = UnfoldTime(name="unfold_time")(h, reference=inputs)
    return keras.Model(inputs, h, name=name)


def _freeze_vgg19_base(vgg):
    for layer in vgg.layers[:-2]:
        layer.trainable = False


def set_encoder_trainable(encoder, trainable):
    """Sets `encoder.trainable`, keeping the frozen VGG19 base frozen.

    Keras 3 propagates `trainable` to every sublayer, so switching a VGG19
    encoder back on would unfreeze the whole VGG; this re-freezes all VGG
    layers but `block5_conv4` and `block5_pool`.

    Args:
        encoder: the encoder model from `build_cnn_encoder` or
            `build_vgg19_encoder`.
        trainable: bool.

    Returns:
        None.

    Example:
    >>> set_encoder_trainable(build_cnn_encoder((2, 4, 4, 1), 2, 3), False)
    """
    encoder.trainable = bool(trainable)
    if trainable:
        for layer in encoder.layers:
            if layer.name == "vgg19":
                _freeze_vgg19_base(layer)
