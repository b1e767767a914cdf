"""Building blocks of the group k-sparse temporal CNNs (Milacski et al. 2019).

The ten algorithms of "Group k-Sparse Temporal Convolutional Neural Networks:
Pre-training for Video Classification" (IJCNN 2019) differ in four choices:
the encoder (per-frame CNN, optionally followed by a convolutional MinimalRNN,
optionally preceded by input dropout, or an ImageNet VGG19), the sparsity
between encoder and decoder (none, k-sparse, group k-sparse, group k-sparse
with a temporal slowness penalty), the pre-training loss (frame
reconstruction or next-frame prediction) and whether there is a pre-training
stage at all. The original code expressed these choices with a diamond of
subclasses; here they are rows of the `ALGORITHMS` table and the model parts
are built by the small functions of this module:

- `build_cnn_encoder` / `build_vgg19_encoder`: `(B, T, H, W, C_in)` to
  `(B, T, H', W', F)`.
- `build_sparsity`: `(B, T, H, W, F)` to the same shape.
- `build_decoder`: `(B, T, H, W, F)` to `(B, T, H, W, C_in)`.
- `build_classifier`: `(B, T, H, W, F)` to class probabilities `(B, classes)`.

Per-frame layers run on time folded into the batch (`FoldTime` /
`UnfoldTime`), as Keras 2's `TimeDistributed` did, never inside Keras 3's
`TimeDistributed` (which loops over frames).

The losses (`FrameReconstructionLoss`, `Keras2CategoricalCrossentropy`), the
slowness penalty layer (`GroupSlownessPenalty`) and a callback forwarding
per-epoch logs to Sacred (`ScalarLogger`) live here too. The training
protocol is `deltasparse.models.temporal_autoencoder.temporal_autoencoder.TemporalAutoencoder`.
"""

import collections
import logging
import os

import keras
import numpy as np
from keras import ops

from deltasparse.layers.rnn import conv_minimal_rnn as _conv_minimal_rnn
from deltasparse.layers.sparsity import group_ksparse as _group_ksparse_layers
from deltasparse.layers.sparsity import ksparse as _ksparse_layers
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime
from deltasparse.ops import norms as _norms

logger = logging.getLogger(__name__)

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    + VGG19_WEIGHTS_FILE
)
VGG19_FRAME_SHAPE = (32, 32, 3)

AlgorithmSpec = collections.namedtuple(
    "AlgorithmSpec",
    ["encoder", "recurrent", "input_dropout", "sparsity", "next_frame",
     "pretrains"],
)
AlgorithmSpec.__doc__ = """What distinguishes one algorithm from another.

Fields:
    encoder: `"cnn"` (three per-frame ReLU convolutions) or `"vgg19"`
        (per-frame ImageNet VGG19 without top).
    recurrent: bool, whether a `ConvMinimalRNN2D` follows the convolutions.
    input_dropout: bool, whether the encoder starts with `Dropout(dropout)`
        on the raw frames (denoising autoencoders).
    sparsity: `"identity"`, `"ksparse"` (per-channel spatial then lifetime
        k-sparse), `"group_ksparse"` (the same over channel groups) or
        `"slow_group_ksparse"` (group k-sparse plus the L1 slowness penalty on
        the group norms of the sparse code).
    next_frame: bool, whether the pre-training loss compares output `t` with
        input `t + 1` (all recurrent modes) instead of input `t`.
    pretrains: bool, whether `train` fits the autoencoder (False: it only
        saves the initial weights).
"""

ALGORITHMS = {
    "wtacnn": AlgorithmSpec("cnn", False, False, "ksparse", False, True),
    "wtacrnn": AlgorithmSpec("cnn", True, False, "ksparse", True, True),
    "randominitcnn": AlgorithmSpec(
        "cnn", False, False, "identity", False, False
    ),
    "randominitcrnn": AlgorithmSpec(
        "cnn", True, False, "identity", True, False
    ),
    "denoisingcnn": AlgorithmSpec("cnn", False, True, "identity", False, True),
    "denoisingcrnn": AlgorithmSpec("cnn", True, True, "identity", True, True),
    "vgg19": AlgorithmSpec("vgg19", False, False, "identity", False, False),
    "groupwtacnn": AlgorithmSpec(
        "cnn", False, False, "group_ksparse", False, True
    ),
    "groupwtacrnn": AlgorithmSpec(
        "cnn", True, False, "group_ksparse", True, True
    ),
    "slowgroupwtacnn": AlgorithmSpec(
        "cnn", False, False, "slow_group_ksparse", False, True
    ),
}
"""Mode name (the original `_algo['mode']`) to its `AlgorithmSpec`."""

SPARSITY_KINDS = ("identity", "ksparse", "group_ksparse", "slow_group_ksparse")


def get_algorithm(mode):
    """Returns the `AlgorithmSpec` of a mode name.

    Args:
        mode: str, one of the keys of `ALGORITHMS`.

    Returns:
        The `AlgorithmSpec`.

    Example:
    >>> get_algorithm("groupwtacrnn").next_frame
    True
    """
    if mode not in ALGORITHMS:
        raise ValueError(
            f"`mode` must be one of {sorted(ALGORITHMS)}. "
            f"Received: mode={mode!r}"
        )
    return ALGORITHMS[mode]


def _l2(l2):
    # Keras 2's l2(0.) adds an exactly-zero loss with a zero gradient; no
    # regularizer at all is numerically identical and cheaper.
    return keras.regularizers.L2(l2) if l2 else None


# --------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="deltasparse")
class FrameReconstructionLoss(keras.losses.Loss):
    """Squared error averaged over channels, optionally next-frame and masked.

    Per element `(b, t, h, w)` the loss is `mean_c (pred - true)**2`; the
    default `"sum_over_batch_size"` reduction then averages over everything
    else, so without a mask this is the plain mean squared error over all
    elements, as in the original.

    With `next_frame=True` (every recurrent mode) the output at time `t` is
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


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="deltasparse")
class GroupSlownessPenalty(keras.layers.Layer):
    """Identity layer adding an L1 temporal-slowness penalty on group norms.

    For inputs `x` of shape `(B, T, H, W, C)` it computes the group L2 norms
    `n = group_norms(x, groups, axis=-1, norm=2, epsilon)` of shape
    `(B, T, H, W, G)` and adds

        `l1_slow * mean_{b,t,h,w,g} |n[b,t+1,h,w,g] - n[b,t,h,w,g]|`

    to the model loss (the `RegularizedLambda` activity regularizer of the
    original `slowgroupwtacnn`). Like Keras 2.2.4 activity regularizers and
    unlike Keras 3's, the penalty is not divided by the batch size. It is
    added in training and evaluation alike. Inputs pass through unchanged.

    Args:
        groups: int, number of contiguous channel groups G (C % G == 0).
        l1_slow: float >= 0, weight of the penalty.
        epsilon: float or `None`, added under the root of each group norm.
            `None` means `keras.config.epsilon()` (1e-7).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor `(batch, time, ..., channels)` with time >= 2.

    Returns:
        `inputs`, unchanged.

    Example:
    >>> layer = GroupSlownessPenalty(groups=2, l1_slow=1e-4)
    >>> layer(np.ones((1, 3, 4, 4, 8), "float32")).shape
    (1, 3, 4, 4, 8)
    """

    def __init__(self, groups, l1_slow, epsilon=None, **kwargs):
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(
                f"`groups` must be a positive int. Received: groups={groups}"
            )
        if l1_slow < 0:
            raise ValueError(
                f"`l1_slow` must be >= 0. Received: l1_slow={l1_slow}"
            )
        super().__init__(**kwargs)
        self.groups = groups
        self.l1_slow = float(l1_slow)
        self.epsilon = epsilon

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "`GroupSlownessPenalty` expects inputs (batch, time, ..., "
                f"channels). Received: input_shape={tuple(input_shape)}"
            )
        channels = input_shape[-1]
        if channels is not None and channels % self.groups:
            raise ValueError(
                "The channel count must be divisible by `groups`. Received: "
                f"groups={self.groups}, input_shape={tuple(input_shape)}"
            )

    def call(self, inputs):
        norms = _norms.group_norms(
            inputs, self.groups, axis=-1, norm=2, epsilon=self.epsilon
        )
        change = ops.abs(norms[:, 1:] - norms[:, :-1])
        self.add_loss(self.l1_slow * ops.mean(change))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "groups": self.groups,
                "l1_slow": self.l1_slow,
                "epsilon": self.epsilon,
            }
        )
        return config


# --------------------------------------------------------------------------
# Model parts
# --------------------------------------------------------------------------


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

    `Dropout(input_dropout)` on the raw frames (denoising modes only), then
    three per-frame `Conv2D(filters, kernel_size, "relu", "same")` on time
    folded into the batch, then (recurrent modes) `ConvMinimalRNN2D(filters,
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
            kernel_regularizer=_l2(l2),
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
            kernel_regularizer=_l2(l2),
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
        "The vgg19 mode needs the ImageNet VGG19 weights without top, which "
        f"deltasparse never downloads. Download {VGG19_WEIGHTS_FILE} (e.g. "
        f"`wget {VGG19_WEIGHTS_URL}`) and pass its path as "
        f"config['vgg19_weights']. Received: vgg19_weights={path!r}"
    )


def build_vgg19_encoder(time_steps, weights_path, name="encoder"):
    """Builds the per-frame ImageNet VGG19 encoder (no top).

    `keras.applications.VGG19(include_top=False, weights=None,
    input_shape=(32, 32, 3))` loads the Keras-2 ImageNet file from
    `weights_path` and runs on time folded into the batch. Every VGG layer
    except the last two (`block5_conv4`, `block5_pool`) is frozen; see
    `set_encoder_trainable`, which keeps them frozen when the encoder is
    toggled.

    Args:
        time_steps: int or `None`, clip length T.
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
    inputs = keras.Input(shape=(time_steps,) + VGG19_FRAME_SHAPE, name="frames")
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


def build_sparsity(
    kind,
    feature_shape,
    k_spatial=1,
    k_lifetime=1,
    groups=None,
    l1_slow=0.0,
    epsilon=None,
    name="sparsity",
):
    """Builds the weightless sparsity model between encoder and decoder.

    - `"identity"`: no sparsity.
    - `"ksparse"`: `KSparse(k_spatial, k_lifetime)`: per channel, keep the
      `k_spatial` largest positions of each frame, then the `k_lifetime`
      largest (sample, frame) pairs of the batch at each position.
    - `"group_ksparse"`: `GroupKSparse(groups, k_spatial, k_lifetime, norm=2,
      epsilon=epsilon)`: the same competition between whole channel groups,
      scored by their L2 norm.
    - `"slow_group_ksparse"`: group k-sparse followed by
      `GroupSlownessPenalty(groups, l1_slow, epsilon)`.

    Sparsity is active at inference too (alpha = 1, as in the original).

    Args:
        kind: one of `SPARSITY_KINDS`.
        feature_shape: tuple `(T, H, W, F)`.
        k_spatial: int, winners per frame. Defaults to `1`.
        k_lifetime: int, winners per position over batch x time. Defaults to
            `1`.
        groups: int, channel groups (group kinds only). Defaults to `None`.
        l1_slow: float, slowness weight (`"slow_group_ksparse"` only).
            Defaults to `0.0`.
        epsilon: float or `None`, group-norm epsilon (`None`: 1e-7). Defaults
            to `None`.
        name: str. Defaults to `"sparsity"`.

    Returns:
        A functional `keras.Model` mapping `(B, T, H, W, F)` to the same
        shape.

    Example:
    >>> s = build_sparsity("ksparse", (3, 8, 8, 4))  # doctest: +SKIP
    """
    if kind not in SPARSITY_KINDS:
        raise ValueError(
            f"`kind` must be one of {SPARSITY_KINDS}. Received: kind={kind!r}"
        )
    inputs = keras.Input(shape=tuple(feature_shape), name="code")
    if kind == "identity":
        outputs = keras.layers.Identity(name="identity")(inputs)
    elif kind == "ksparse":
        outputs = _ksparse_layers.KSparse(
            k_spatial, k_lifetime, name="ksparse"
        )(inputs)
    else:
        outputs = _group_ksparse_layers.GroupKSparse(
            groups,
            k_spatial,
            k_lifetime,
            norm=2,
            epsilon=epsilon,
            name="group_ksparse",
        )(inputs)
        if kind == "slow_group_ksparse":
            outputs = GroupSlownessPenalty(
                groups, l1_slow, epsilon=epsilon, name="slowness"
            )(outputs)
    return keras.Model(inputs, outputs, name=name)


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
        kernel_regularizer=_l2(l2),
        name="deconv",
    )(h)
    outputs = UnfoldTime(name="unfold_time")(h, reference=inputs)
    return keras.Model(inputs, outputs, name=name)


def build_identity(feature_shape, name):
    """Builds a weightless identity model (the vgg19 sparsity and decoder).

    Args:
        feature_shape: tuple, input shape without the batch axis.
        name: str, model name.

    Returns:
        A functional `keras.Model` returning its input.

    Example:
    >>> build_identity((2, 1, 1, 8), "decoder").output.shape
    (None, 2, 1, 1, 8)
    """
    inputs = keras.Input(shape=tuple(feature_shape), name="code")
    outputs = keras.layers.Identity(name="identity")(inputs)
    return keras.Model(inputs, outputs, name=name)


def build_classifier(
    feature_shape, classes, pool_size=2, dropout=0.3, l2=0.0, name="classifier"
):
    """Builds the per-frame linear classifier head with mean-over-time.

    Per frame: `MaxPooling2D(pool_size)` (skipped when `pool_size` is falsy,
    as for vgg19) then `Flatten`, `Dropout(dropout)` and `Dense(classes)`
    (linear, `L2(l2)`); the per-frame logits are averaged over time and
    passed through a softmax. The weights do not depend on T, so one head
    classifies clips of any length.

    Args:
        feature_shape: tuple `(T, H, W, F)`; T may be `None`.
        classes: int, number of classes.
        pool_size: int or `None`. Defaults to `2`.
        dropout: float, dropout rate before the dense layer. Defaults to
            `0.3`.
        l2: float, L2 weight on the dense kernel. Defaults to `0.0`.
        name: str. Defaults to `"classifier"`.

    Returns:
        A functional `keras.Model` `(B, T, H, W, F)` to `(B, classes)`
        probabilities.

    Example:
    >>> build_classifier((3, 8, 8, 4), classes=10).output.shape
    (None, 10)
    """
    inputs = keras.Input(shape=tuple(feature_shape), name="features")
    h = FoldTime(name="fold_time")(inputs)
    if pool_size:
        h = keras.layers.MaxPooling2D(pool_size, name="max_pool")(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dropout(dropout, name="dropout")(h)
    h = keras.layers.Dense(
        classes, kernel_regularizer=_l2(l2), name="logits"
    )(h)
    h = UnfoldTime(name="unfold_time")(h, reference=inputs)
    h = keras.layers.GlobalAveragePooling1D(name="time_mean")(h)
    outputs = keras.layers.Activation("softmax", name="softmax")(h)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------


class WeightsCheckpoint(keras.callbacks.Callback):
    """Saves a model's layer weights at epoch ends, without optimizer state.

    The Keras 2.2.4 `ModelCheckpoint(save_weights_only=True)` of the original:
    every epoch, or (`save_best_only`) only when `logs[monitor]` is strictly
    below the best value so far (a missing or NaN value never saves). Keras
    3's `ModelCheckpoint` would also store the optimizer variables of the
    compiled model, and reloading the best epoch would roll the optimizer back
    to that epoch; here `target` is an uncompiled model sharing the trained
    layers, so the files hold layer weights only.

    Args:
        target: `keras.Model` whose weights are saved (usually uncompiled).
        filepath: str ending in `.weights.h5`.
        monitor: str, log key to minimise. Defaults to `"val_loss"`.
        save_best_only: bool. Defaults to `False`.

    Returns:
        A `keras.callbacks.Callback`.

    Example:
    >>> cb = WeightsCheckpoint(model, "/tmp/best.weights.h5",
    ...                        save_best_only=True)  # doctest: +SKIP
    """

    def __init__(self, target, filepath, monitor="val_loss",
                 save_best_only=False):
        if not os.fspath(filepath).endswith(".weights.h5"):
            raise ValueError(
                "`filepath` must end in `.weights.h5`. "
                f"Received: filepath={filepath!r}"
            )
        super().__init__()
        self.target = target
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.best = np.inf

    def on_train_begin(self, logs=None):
        self.best = np.inf

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            if current is None:
                logger.warning("Can save the best weights only with %s "
                               "available; skipping.", self.monitor)
                return
            if not np.less(current, self.best):
                return
            self.best = float(current)
        self.target.save_weights(self.filepath, overwrite=True)


class ScalarLogger(keras.callbacks.Callback):
    """Forwards every per-epoch log value to a `log_fn(name, value, step)`.

    Made for Sacred: `ScalarLogger(_run.log_scalar, prefix="stacked.300")`
    logs `stacked.300.loss`, `stacked.300.val_loss`, ... with the epoch as
    step.

    Args:
        log_fn: callable `(name, value, step)`.
        prefix: str prepended to each key with a dot. Defaults to `""`.

    Returns:
        A `keras.callbacks.Callback`.

    Example:
    >>> seen = []
    >>> cb = ScalarLogger(lambda *a: seen.append(a), prefix="ae")
    >>> cb.on_epoch_end(0, {"loss": 0.5})
    >>> seen
    [('ae.loss', 0.5, 0)]
    """

    def __init__(self, log_fn, prefix=""):
        if not callable(log_fn):
            raise ValueError(
                f"`log_fn` must be callable. Received: log_fn={log_fn!r}"
            )
        super().__init__()
        self.log_fn = log_fn
        self.prefix = prefix

    def on_epoch_end(self, epoch, logs=None):
        for key, value in sorted((logs or {}).items()):
            name = f"{self.prefix}.{key}" if self.prefix else key
            self.log_fn(name, float(value), epoch)
