"""Folded-time MobileNet v1 video backbone with optional sparsity slots.

Re-implementation of the per-frame part of the `TD_MobileNet` and
`MobileNet_delta` builders of the Delta Activation Layer code (Yousefzadeh
& Sifalakis, arXiv 2107.07305), spec `delta_activation.md` §4.4-4.6, plus
the L1 variant whose file is missing from the original repository.
"""

import math
import numbers

import keras
from keras import layers

from deltasparse.models.mobilenet.mobilenet_presets import MOBILENET_DEFAULT_THR_INIT
from deltasparse.models.mobilenet.mobilenet_presets import MOBILENET_THR_INIT_NAMES
from deltasparse.models.video_backbone import VideoBackbone
from deltasparse.models.video_backbone import check_bn_momentum
from deltasparse.models.video_backbone import check_bool
from deltasparse.models.video_backbone import check_non_negative
from deltasparse.models.video_backbone import check_sparsity
from deltasparse.models.video_backbone import check_thr_init

# Depthwise-separable blocks k = 1..13: (pointwise filters at alpha=1, stride).
MOBILENET_BLOCKS = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1),
    (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
# A slot feeding a 3x3 depthwise conv triggers 9 MACs per nonzero value.
DEPTHWISE_FANOUT = 9


def check_alpha(alpha):
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
class MobileNetVideoBackbone(VideoBackbone):
    """Folded-time MobileNet v1 backbone with optional sparsity slots.

    Every frame goes through MobileNet v1 (depth multiplier 1, width
    multiplier `alpha`, ReLU6, convolutions without bias, BatchNormalization
    with Keras defaults) with the layer names of `keras.applications
    .MobileNet` (`conv1`, `conv1_bn`, `conv1_relu`, `conv_dw_k`,
    `conv_dw_k_bn`, `conv_dw_k_relu`, `conv_pw_k`, `conv_pw_k_bn`,
    `conv_pw_k_relu`, `conv_pad_k` for the stride-2 blocks). The output is
    the folded `conv_pw_13_relu` map `(B*T, h, w, 1024*alpha)`;
    `VideoClassifier` adds the paper head (`global_pool` -> `reshape_1` ->
    `dropout` -> `conv_preds` -> `reshape_2` -> `predictions`, mean over
    time).

    Sparsity slots (`sparsity="delta"` or `"l1"`, 26 here plus the head slot
    `conv_dw_13_delta2`, whose fan-out is the class count, added by the
    task; none on the input image): `conv1_1_delta` after `conv1_relu`
    (fan-out 9), and for every block k `conv_dw_k_delta1` after
    `conv_dw_k_relu` (fan-out = the block's pointwise filters) and
    `conv_dw_k_delta2` after `conv_pw_k_relu` (fan-out 9). `thr_init` has 14
    entries: conv1, blocks 1..13 (both slots of a block). Groups: `conv1`,
    `block1` ... `block13`.

    Differences from the original code: folding instead of Keras 3
    `TimeDistributed`; the first conv is `conv1_pad` (zero padding
    `((0, 1), (0, 1))`) plus a `'valid'` stride-2 conv as in the Keras 2
    MobileNet the original used (Keras 3's `keras.applications.MobileNet`
    has a `'same'` conv: equal values for even frame sizes, one more output
    row/column for odd ones); the L1 variant is built as the delta model
    with `L1ActivityRegularizer` slots; `thr_init=None` is 14 x 1.0 (the
    training script); `alpha` and `bn_momentum` are arguments.

    Args:
        sparsity: `None` (baseline), `"l1"` or `"delta"`. Defaults to `None`.
        image_size: `(height, width)`, both >= 32. Defaults to `(224, 224)`.
        channels: int, channels per frame. Defaults to `3`.
        alpha: float, width multiplier (filters `int(f * alpha)`).
            Defaults to `1.0`.
        sp_rate: float >= 0, weight of every slot's sparsity loss.
            Defaults to `1e-3`.
        thr_init: `None`, a number, or 14 numbers (conv1, blocks 1..13).
        thr_trainable: bool, whether delta thresholds are trainable.
            Defaults to `True`.
        bn_momentum: `None` (Keras default 0.99) or a float in `[0, 1)`.
        name: str. Defaults to `"mobilenet_video_backbone"`.
        dtype: dtype or `keras.DTypePolicy` of every layer.
        **kwargs: Base model keyword arguments, such as `trainable`.

    Example:
    >>> backbone = MobileNetVideoBackbone(sparsity="delta",
    ...                                   image_size=(32, 32), alpha=0.25)
    >>> len(backbone.sparsity_slots)
    26
    """

    thr_init_names = MOBILENET_THR_INIT_NAMES
    default_head = {
        "pooling": "avg",
        "head_units": None,
        "dropout": 1e-3,
        "output_layer": "conv",
    }
    head_slots = (
        {"name": "conv_dw_13_delta2", "group": "block13", "thr_index": 13,
         "position": "features"},
    )

    def __init__(
        self,
        sparsity=None,
        image_size=(224, 224),
        channels=3,
        alpha=1.0,
        sp_rate=1e-3,
        thr_init=None,
        thr_trainable=True,
        bn_momentum=None,
        name="mobilenet_video_backbone",
        dtype=None,
        **kwargs,
    ):
        sparsity = check_sparsity(sparsity)
        alpha = check_alpha(alpha)
        sp_rate = check_non_negative("sp_rate", sp_rate)
        thr = check_thr_init(thr_init, MOBILENET_THR_INIT_NAMES,
                             MOBILENET_DEFAULT_THR_INIT)
        thr_trainable = check_bool("thr_trainable", thr_trainable)
        bn_momentum = check_bn_momentum(bn_momentum)
        bn = {"dtype": dtype}
        if bn_momentum is not None:
            bn["momentum"] = bn_momentum

        # === Functional Model ===
        clips, slots = self.start_graph(image_size, channels, sparsity,
                                        sp_rate, thr_trainable, dtype)
        x = self.fold(clips, dtype)
        x = layers.ZeroPadding2D(
            ((0, 1), (0, 1)), name="conv1_pad", dtype=dtype
        )(x)
        x = layers.Conv2D(
            int(32 * alpha), 3, strides=2, padding="valid", use_bias=False,
            name="conv1", dtype=dtype,
        )(x)
        x = layers.BatchNormalization(name="conv1_bn", **bn)(x)
        x = layers.ReLU(6.0, name="conv1_relu", dtype=dtype)(x)
        x = slots(x, "conv1_1_delta", DEPTHWISE_FANOUT, "conv1", thr[0])
        for k, (filters, stride) in enumerate(MOBILENET_BLOCKS, start=1):
            pointwise = int(filters * alpha)
            if stride == 2:
                x = layers.ZeroPadding2D(
                    ((0, 1), (0, 1)), name=f"conv_pad_{k}", dtype=dtype
                )(x)
            x = layers.DepthwiseConv2D(
                3, padding="same" if stride == 1 else "valid",
                depth_multiplier=1, strides=stride, use_bias=False,
                name=f"conv_dw_{k}", dtype=dtype,
            )(x)
            x = layers.BatchNormalization(name=f"conv_dw_{k}_bn", **bn)(x)
            x = layers.ReLU(6.0, name=f"conv_dw_{k}_relu", dtype=dtype)(x)
            x = slots(x, f"conv_dw_{k}_delta1", pointwise, f"block{k}",
                      thr[k])
            x = layers.Conv2D(
                pointwise, 1, padding="same", use_bias=False,
                name=f"conv_pw_{k}", dtype=dtype,
            )(x)
            x = layers.BatchNormalization(name=f"conv_pw_{k}_bn", **bn)(x)
            x = layers.ReLU(6.0, name=f"conv_pw_{k}_relu", dtype=dtype)(x)
            if k < len(MOBILENET_BLOCKS):
                x = slots(x, f"conv_dw_{k}_delta2", DEPTHWISE_FANOUT,
                          f"block{k}", thr[k])

        super().__init__(inputs=clips, outputs=x, slot_builder=slots,
                         name=name, dtype=dtype, **kwargs)

        # === Config ===
        self.store_config(sparsity, sp_rate, thr_init, thr, thr_trainable,
                          bn_momentum)
        self.alpha = alpha

    def get_config(self):
        config = super().get_config()
        config["alpha"] = self.alpha
        return config
