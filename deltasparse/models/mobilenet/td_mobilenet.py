"""Time-distributed MobileNet v1 with optional delta or L1 sparsity slots.

Re-implementation of the `TD_MobileNet` and `MobileNet_delta` builders of the
Delta Activation Layer code (Yousefzadeh & Sifalakis, arXiv 2107.07305),
spec `delta_activation.md` §4.4-4.6, plus the L1 variant whose file is
missing from the original repository.
"""

import math
import numbers

import keras
from keras import layers

from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.models.resnet50.td_resnet50 import _base_config
from deltasparse.models.resnet50.td_resnet50 import _check_bool
from deltasparse.models.resnet50.td_resnet50 import _check_frame_shape
from deltasparse.models.resnet50.td_resnet50 import _check_non_negative
from deltasparse.models.resnet50.td_resnet50 import _check_positive_int
from deltasparse.models.resnet50.td_resnet50 import _check_sparsity
from deltasparse.models.resnet50.td_resnet50 import _check_thr_init
from deltasparse.models.resnet50.td_resnet50 import _revive_dtype
from deltasparse.models.resnet50.td_resnet50 import _slot_info
from deltasparse.models.resnet50.td_resnet50 import _SparsitySlots
from deltasparse.models.resnet50.td_resnet50 import _temporal_mean

# Depthwise-separable blocks k = 1..13: (pointwise filters at alpha=1, stride).
MOBILENET_BLOCKS = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)
MOBILENET_DEFAULT_THR_INIT = (1.0,) * 14


def _check_alpha(alpha):
    if (
        isinstance(alpha, bool)
        or not isinstance(alpha, numbers.Real)
        or not math.isfinite(alpha)
        or int(32 * alpha) < 1
    ):
        raise ValueError(
            "`alpha` must be a finite number >= 1/32 (width multiplier; "
            "every layer keeps at least one filter). "
            f"Received: alpha={alpha!r}"
        )
    return float(alpha)


@keras.saving.register_keras_serializable(package="deltasparse")
class TDMobileNet(keras.Model):
    """Time-distributed MobileNet v1 video classifier with sparsity slots.

    Every frame of a clip `(B, T, H, W, C)` goes through MobileNet v1
    (depth multiplier 1, width multiplier `alpha`, ReLU6, convolutions
    without bias, BatchNormalization with Keras defaults), with the layer
    names of `keras.applications.MobileNet` (`conv1`, `conv1_bn`,
    `conv1_relu`, `conv_dw_k`, `conv_dw_k_bn`, `conv_dw_k_relu`, `conv_pw_k`,
    `conv_pw_k_bn`, `conv_pw_k_relu`, `conv_pad_k` for the stride-2 blocks),
    then the head `global_pool` (global average) -> `reshape_1`
    `(1, 1, 1024*alpha)` -> `dropout` -> `conv_preds` (1x1 conv, `classes`
    filters, with bias) -> `reshape_2` -> `predictions` (softmax). The
    per-frame probabilities are averaged over time (`temporal_mean`).

    Time handling is as in `TDResNet50`: frames are folded into the batch
    once at the input (BatchNormalization statistics over batch x time) and
    unfolded only around the sparsity slots (`<slot>_unfold` /
    `<slot>_fold`), T taken from the model input (free time axis).

    Sparsity slots (`sparsity='delta'` or `'l1'`, 27 of them, none on the
    input image): `conv1_1_delta` after `conv1_relu` (fan-out 9, it feeds a
    3x3 depthwise conv), and for every block k `conv_dw_k_delta1` after
    `conv_dw_k_relu` (fan-out = the block's pointwise filters) and
    `conv_dw_k_delta2` after `conv_pw_k_relu` (fan-out 9, or `classes` for
    block 13). `'delta'` uses `DeltaActivation`, `'l1'`
    `L1ActivityRegularizer`. `thr_init` has 14 entries: `[0]` for conv1,
    `[k]` for block k (both of its slots). Metric groups: `conv1`,
    `block1` ... `block13`, plus `all`, `op_ratio_counted` (the original's
    MAC-weighted `op_avg`), `macs_dense_counted` and
    `macs_effective_counted` (see `deltasparse.metrics.sparsity`).

    The baseline (`sparsity=None`) has no slots and no metrics. Build
    `sparsity='l1', sp_rate=0.0` to measure its activation densities.

    Differences from the original code:

    - Folding instead of Keras 3 `TimeDistributed` (see `TDResNet50`).
    - The first conv is `conv1_pad` (zero padding `((0, 1), (0, 1))`) plus a
      `'valid'` stride-2 conv as in the Keras 2 MobileNet the original used;
      Keras 3's `keras.applications.MobileNet` uses a `'same'` conv, which
      gives the same values for even frame sizes.
    - The L1 variant (`MobileNet_L1`) is missing from the original repo; it
      is built here as the delta model with `L1ActivityRegularizer` in every
      slot (same names and fan-outs).
    - `sp_rate` defaults to `1e-3` and `thr_init=None` to 14 x 1.0 (the
      training script's values; the original builder's `None` defaults
      failed). `full_metric` is gone: per-block densities are always
      reported, the op ratio is reported over all slots.
    - `alpha` and `dropout` are arguments (the original fixed 1.0 and
      0.001).

    Args:
        input_shape: tuple, frame shape `(height, width)` or
            `(height, width, channels)`, height and width >= 32; channels
            default to 3. Defaults to `(224, 224)`.
        classes: int, number of classes. Defaults to `101`.
        alpha: float, width multiplier (filters `int(f * alpha)`).
            Defaults to `1.0`.
        sparsity: `None` (baseline), `'l1'` or `'delta'`. Defaults to `None`.
        sp_rate: float >= 0, weight of every slot's sparsity loss.
            Defaults to `1e-3`.
        thr_init: `None`, a number, or a list of 14 numbers (conv1, blocks
            1..13): initial quantization steps of the delta slots. Defaults to
            `None` (14 x 1.0).
        thr_trainable: bool, whether the delta thresholds are trainable.
            Defaults to `True`.
        dropout: float in `[0, 1)`, dropout rate of the head. Defaults to
            `1e-3`.
        name: str, model name. Defaults to `'td_mobilenet'`, with `'_l1'` or
            `'_delta'` appended for sparse variants.
        dtype: dtype or `keras.DTypePolicy` of every layer. Defaults to
            `None`.
        **kwargs: Base model keyword arguments, such as `trainable`.

    Call arguments:
        inputs: clips `(batch, time, height, width, channels)`, preprocessed
            like `keras.applications.mobilenet.preprocess_input`
            (`x / 127.5 - 1`).
        training: bool, training mode for BatchNormalization and Dropout.

    Returns:
        `(batch, classes)` class probabilities averaged over time.

    Example:
    >>> model = TDMobileNet(input_shape=(32, 32), classes=5, alpha=0.25,
    ...                     sparsity="delta")
    >>> model(np.zeros((1, 2, 32, 32, 3), "float32")).shape
    TensorShape([1, 5])
    >>> len(model.sparsity_slots["names"])
    27
    """

    def __init__(
        self,
        input_shape=(224, 224),
        classes=101,
        alpha=1.0,
        sparsity=None,
        sp_rate=1e-3,
        thr_init=None,
        thr_trainable=True,
        dropout=1e-3,
        name=None,
        dtype=None,
        **kwargs,
    ):
        frame_shape = _check_frame_shape(input_shape)
        classes = _check_positive_int("classes", classes)
        alpha = _check_alpha(alpha)
        sparsity = _check_sparsity(sparsity)
        sp_rate = _check_non_negative("sp_rate", sp_rate)
        thr = _check_thr_init(thr_init, 14, MOBILENET_DEFAULT_THR_INIT)
        thr_trainable = _check_bool("thr_trainable", thr_trainable)
        dropout = _check_non_negative("dropout", dropout)
        if dropout >= 1:
            raise ValueError(
                f"`dropout` must be in [0, 1). Received: dropout={dropout}"
            )
        if name is None:
            name = "td_mobilenet" + (f"_{sparsity}" if sparsity else "")

        # === Functional Model ===
        clips = keras.Input(shape=(None,) + frame_shape, name="frames")
        slots = _SparsitySlots(clips, sparsity, sp_rate, thr_trainable, dtype)
        x = FoldTime(name="fold_time", dtype=dtype)(clips)

        x = layers.ZeroPadding2D(
            ((0, 1), (0, 1)), name="conv1_pad", dtype=dtype
        )(x)
        x = layers.Conv2D(
            int(32 * alpha),
            3,
            strides=2,
            padding="valid",
            use_bias=False,
            name="conv1",
            dtype=dtype,
        )(x)
        x = layers.BatchNormalization(name="conv1_bn", dtype=dtype)(x)
        x = layers.ReLU(6.0, name="conv1_relu", dtype=dtype)(x)
        x = slots(x, "conv1_1_delta", 9, "conv1", thr[0])

        for k, (filters, stride) in enumerate(MOBILENET_BLOCKS, start=1):
            pointwise = int(filters * alpha)
            if stride == 2:
                x = layers.ZeroPadding2D(
                    ((0, 1), (0, 1)), name=f"conv_pad_{k}", dtype=dtype
                )(x)
            x = layers.DepthwiseConv2D(
                3,
                padding="same" if stride == 1 else "valid",
                depth_multiplier=1,
                strides=stride,
                use_bias=False,
                name=f"conv_dw_{k}",
                dtype=dtype,
            )(x)
            x = layers.BatchNormalization(name=f"conv_dw_{k}_bn", dtype=dtype)(
                x
            )
            x = layers.ReLU(6.0, name=f"conv_dw_{k}_relu", dtype=dtype)(x)
            x = slots(x, f"conv_dw_{k}_delta1", pointwise, f"block{k}", thr[k])
            x = layers.Conv2D(
                pointwise,
                1,
                padding="same",
                use_bias=False,
                name=f"conv_pw_{k}",
                dtype=dtype,
            )(x)
            x = layers.BatchNormalization(name=f"conv_pw_{k}_bn", dtype=dtype)(
                x
            )
            x = layers.ReLU(6.0, name=f"conv_pw_{k}_relu", dtype=dtype)(x)
            fanout = classes if k == len(MOBILENET_BLOCKS) else 9
            x = slots(x, f"conv_dw_{k}_delta2", fanout, f"block{k}", thr[k])
        x = slots.report(x)

        channels = int(1024 * alpha)
        x = layers.GlobalAveragePooling2D(name="global_pool", dtype=dtype)(x)
        x = layers.Reshape((1, 1, channels), name="reshape_1", dtype=dtype)(x)
        x = layers.Dropout(dropout, name="dropout", dtype=dtype)(x)
        x = layers.Conv2D(
            classes, 1, padding="same", name="conv_preds", dtype=dtype
        )(x)
        x = layers.Reshape((classes,), name="reshape_2", dtype=dtype)(x)
        x = layers.Activation("softmax", name="predictions", dtype=dtype)(x)
        outputs = _temporal_mean(x, clips, dtype)

        super().__init__(
            inputs=clips, outputs=outputs, name=name, dtype=dtype, **kwargs
        )

        # === Config ===
        self.frame_shape = frame_shape
        self.classes = classes
        self.alpha = alpha
        self.sparsity = sparsity
        self.sp_rate = sp_rate
        self.thr_init = None if thr_init is None else tuple(thr)
        self.thr_trainable = thr_trainable
        self.dropout = dropout

    @property
    def sparsity_slots(self):
        """Slot `names`, `groups`, `n_outputs` and `kind` (empty for the
        baseline); see `deltasparse.metrics.sparsity.sparsity_slots`."""
        return _slot_info(self)

    def get_config(self):
        config = _base_config(self)
        config.update(
            {
                "input_shape": list(self.frame_shape),
                "classes": self.classes,
                "alpha": self.alpha,
                "sparsity": self.sparsity,
                "sp_rate": self.sp_rate,
                "thr_init": (
                    None if self.thr_init is None else list(self.thr_init)
                ),
                "thr_trainable": self.thr_trainable,
                "dropout": self.dropout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**_revive_dtype(config))
