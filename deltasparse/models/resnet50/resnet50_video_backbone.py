"""Folded-time ResNet-50 v1 video backbone with optional sparsity slots.

Re-implementation of the per-frame part of the `UCF_TD_ResNet50`,
`UCF_ResNet50_L1` and `UCF_ResNet50_delta` builders of the Delta Activation
Layer code (Yousefzadeh & Sifalakis, arXiv 2107.07305), spec
`delta_activation.md` §4.1-4.2.
"""

import keras
from keras import layers

from deltasparse.models.resnet50.resnet50_presets import RESNET50_DEFAULT_THR_INIT
from deltasparse.models.resnet50.resnet50_presets import RESNET50_THR_INIT_NAMES
from deltasparse.models.video_backbone import VideoBackbone
from deltasparse.models.video_backbone import check_bn_momentum
from deltasparse.models.video_backbone import check_bool
from deltasparse.models.video_backbone import check_non_negative
from deltasparse.models.video_backbone import check_sparsity
from deltasparse.models.video_backbone import check_thr_init

# (stage, bottleneck filters f, blocks, stride of block 1): keras.applications.
RESNET50_STAGES = (
    ("conv2", 64, 3, 1),
    ("conv3", 128, 4, 2),
    ("conv4", 256, 6, 2),
    ("conv5", 512, 3, 2),
)
# Fan-out of the slots (spec §4.1 table): the input slot feeds the 7x7x64
# conv1, the conv1 slot the pool and conv2's first convolutions.
RESNET50_INPUT_FANOUT = 64 * 7 * 7
RESNET50_CONV1_FANOUT = 64 * 5
# Fan-out of the last block's `_out` slot of each stage: the next stage's
# `_0_conv` and `_1_conv` (5 x its filters); conv5 feeds `fc1024`.
RESNET50_HEAD_UNITS = 1024
BN_EPSILON = 1.001e-5


def apply_bottleneck_block(x, slots, filters, stride, conv_shortcut,
                           out_fanout, thr, group, name, bn, dtype):
    """ResNet v1 bottleneck (`keras.applications` names) with slots after
    its three ReLUs; `x` is folded `(B*T, H, W, C)`."""
    if conv_shortcut:
        shortcut = layers.Conv2D(
            4 * filters, 1, strides=stride, name=f"{name}_0_conv", dtype=dtype
        )(x)
        shortcut = layers.BatchNormalization(name=f"{name}_0_bn", **bn)(
            shortcut
        )
    else:
        shortcut = x
    x = layers.Conv2D(
        filters, 1, strides=stride, name=f"{name}_1_conv", dtype=dtype
    )(x)
    x = layers.BatchNormalization(name=f"{name}_1_bn", **bn)(x)
    x = layers.Activation("relu", name=f"{name}_1_relu", dtype=dtype)(x)
    x = slots(x, f"{name}_1_delta", 9 * filters, group, thr)
    x = layers.Conv2D(
        filters, 3, padding="same", name=f"{name}_2_conv", dtype=dtype
    )(x)
    x = layers.BatchNormalization(name=f"{name}_2_bn", **bn)(x)
    x = layers.Activation("relu", name=f"{name}_2_relu", dtype=dtype)(x)
    x = slots(x, f"{name}_2_delta", 4 * filters, group, thr)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv", dtype=dtype)(x)
    x = layers.BatchNormalization(name=f"{name}_3_bn", **bn)(x)
    x = layers.Add(name=f"{name}_add", dtype=dtype)([shortcut, x])
    x = layers.Activation("relu", name=f"{name}_out", dtype=dtype)(x)
    return slots(x, f"{name}_out_delta", out_fanout, group, thr)


@keras.saving.register_keras_serializable(package="deltasparse")
class ResNet50VideoBackbone(VideoBackbone):
    """Folded-time ResNet-50 v1 backbone with optional sparsity slots.

    Every frame of a clip `(B, T, H, W, C)` goes through a Keras ResNet-50
    v1 (topology and layer names of `keras.applications.ResNet50`:
    `conv1_pad`, `conv1_conv`, ..., `conv5_block3_out`; stride on `_1_conv`
    and `_0_conv`, BatchNormalization epsilon 1.001e-5, all convolutions
    with a bias). Time is folded into the batch once at the input; the
    output is the folded conv5 feature map `(B*T, h, w, 2048)`. Use
    `VideoClassifier` for the paper head (`avg_pool` -> `flatten` ->
    `fc1024` -> [`fc1024_delta`] -> `dropout` -> `fc101`, mean over time).

    Sparsity slots (`sparsity="delta"` or `"l1"`; 50 here plus the head's
    `fc1024_delta`): `inp_delta` on the raw input, `conv1_delta` after
    `conv1_relu`, and three per bottleneck block after `_1_relu`, `_2_relu`
    and `_out` (`<stage>_block<i>_{1,2,out}_delta`), each unfolding time
    around itself (`<slot>_unfold`, `<slot>_fold`). Fan-outs `n_outputs`
    (spec table): input 3136, conv1 320, `_1` 9f, `_2` 4f, `_out` f, the
    last block of a stage 640 / 1280 / 2560 / 1024 (strides and identity
    shortcuts ignored, as in the original). Groups: `in`, `conv1`,
    `conv2` ... `conv5` (and `fc` for the head slot).

    Differences from the original code: folding instead of Keras 3's
    per-frame `TimeDistributed` (BatchNormalization statistics over batch x
    time like Keras 2); the L1 model's input slot is `inp_delta` (was
    `inp__delta`) and has `sp_rate=0` ("just for metrics") as in the
    original; `thr_init=None` means the training script's
    `[3, 3, 3, 4, 4, 4, 3]`; `bn_momentum` is an argument.

    Args:
        sparsity: `None` (baseline), `"l1"` or `"delta"`. Defaults to `None`.
        image_size: `(height, width)` of the frames, both >= 32. Defaults to
            `(224, 224)`.
        channels: int, channels per frame. Defaults to `3`.
        sp_rate: float >= 0, weight of every slot's sparsity loss. Defaults
            to `1e-5` (the builder's default; see the presets for the paper
            runs).
        thr_init: `None`, a number, or 7 numbers `[in, conv1, conv2, conv3,
            conv4, conv5, fc]` (the last is the head slot's, used by
            `VideoClassifier`). Ignored without delta slots.
        thr_trainable: bool, whether delta thresholds are trainable.
            Defaults to `True`.
        bn_momentum: `None` (Keras default 0.99) or a float in `[0, 1)`.
        name: str. Defaults to `"resnet50_video_backbone"`.
        dtype: dtype or `keras.DTypePolicy` of every layer.
        **kwargs: Base model keyword arguments, such as `trainable`.

    Example:
    >>> backbone = ResNet50VideoBackbone(sparsity="delta",
    ...                                  image_size=(32, 32))
    >>> len(backbone.sparsity_slots)
    50
    """

    thr_init_names = RESNET50_THR_INIT_NAMES
    default_head = {
        "pooling": "avg_7x7",
        "head_units": RESNET50_HEAD_UNITS,
        "dropout": 0.5,
        "output_layer": "dense",
    }
    # Slots whose fan-out is the class count live in the task's head.
    head_slots = (
        {"name": "fc1024_delta", "group": "fc", "thr_index": 6,
         "position": "units"},
    )

    def __init__(
        self,
        sparsity=None,
        image_size=(224, 224),
        channels=3,
        sp_rate=1e-5,
        thr_init=None,
        thr_trainable=True,
        bn_momentum=None,
        name="resnet50_video_backbone",
        dtype=None,
        **kwargs,
    ):
        sparsity = check_sparsity(sparsity)
        sp_rate = check_non_negative("sp_rate", sp_rate)
        thr_trainable = check_bool("thr_trainable", thr_trainable)
        thr = check_thr_init(thr_init, RESNET50_THR_INIT_NAMES,
                             RESNET50_DEFAULT_THR_INIT)
        bn_momentum = check_bn_momentum(bn_momentum)
        bn = {"epsilon": BN_EPSILON, "dtype": dtype}
        if bn_momentum is not None:
            bn["momentum"] = bn_momentum

        # === Functional Model ===
        clips, slots = self.start_graph(image_size, channels, sparsity,
                                        sp_rate, thr_trainable, dtype)
        index = {n: i for i, n in enumerate(RESNET50_THR_INIT_NAMES)}
        if sparsity is None:
            x = self.fold(clips, dtype)
        else:
            x = slots.apply_unfolded(
                clips, "inp_delta", RESNET50_INPUT_FANOUT, "in",
                thr[index["in"]],
                sp_rate=0.0 if sparsity == "l1" else None,
            )
            x = self.fold(x, dtype, name="inp_delta_fold")
        x = layers.ZeroPadding2D(3, name="conv1_pad", dtype=dtype)(x)
        x = layers.Conv2D(
            64, 7, strides=2, use_bias=True, name="conv1_conv", dtype=dtype
        )(x)
        x = layers.BatchNormalization(name="conv1_bn", **bn)(x)
        x = layers.Activation("relu", name="conv1_relu", dtype=dtype)(x)
        x = slots(x, "conv1_delta", RESNET50_CONV1_FANOUT, "conv1",
                  thr[index["conv1"]])
        x = layers.ZeroPadding2D(1, name="pool1_pad", dtype=dtype)(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool",
                                dtype=dtype)(x)
        for s, (stage, filters, blocks, stride) in enumerate(RESNET50_STAGES):
            if s + 1 < len(RESNET50_STAGES):
                last_fanout = 5 * RESNET50_STAGES[s + 1][1]
            else:
                last_fanout = RESNET50_HEAD_UNITS
            for i in range(1, blocks + 1):
                x = apply_bottleneck_block(
                    x, slots, filters,
                    stride=stride if i == 1 else 1,
                    conv_shortcut=i == 1,
                    out_fanout=last_fanout if i == blocks else filters,
                    thr=thr[index[stage]], group=stage,
                    name=f"{stage}_block{i}", bn=bn, dtype=dtype,
                )

        super().__init__(inputs=clips, outputs=x, slot_builder=slots,
                         name=name, dtype=dtype, **kwargs)

        # === Config ===
        self.store_config(sparsity, sp_rate, thr_init, thr, thr_trainable,
                          bn_momentum)
