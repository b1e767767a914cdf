"""3-D MobileNetV2 backbone of Efficient-3DCNNs (Kopuklu et al. 2019).

Re-implementation, from the paper and the published architecture
description, of the 3-D MobileNetV2 of "Resource Efficient 3D Convolutional
Neural Networks" (Kopuklu, Kose, Gunduz & Rigoll, ICCV Workshops 2019; code
`okankop/Efficient-3DCNNs`, `models/mobilenetv2.py`).
"""

import keras
from keras import layers

from deltasparse.layers.convolution import DepthwiseConv3D
from deltasparse.models.video_backbone import SpatiotemporalBackbone
from deltasparse.models.video_backbone import check_bn_momentum
from deltasparse.models.video_backbone import check_non_negative
from deltasparse.models.video_backbone import kaiming_fan_out

# Inverted residual settings (expansion t, channels c at width 1, repeats n,
# stride (t, h, w) of the first repeat), the Efficient-3DCNNs table.
INVERTED_RESIDUAL_SETTINGS = (
    (1, 16, 1, (1, 1, 1)),
    (6, 24, 2, (2, 2, 2)),
    (6, 32, 3, (2, 2, 2)),
    (6, 64, 4, (2, 2, 2)),
    (6, 96, 3, (1, 1, 1)),
    (6, 160, 3, (2, 2, 2)),
    (6, 320, 1, (1, 1, 1)),
)
FIRST_CHANNELS = 32
LAST_CHANNELS = 1280
# PyTorch BatchNorm3d defaults: eps 1e-5, momentum 0.1 (Keras 1 - 0.1).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


def check_width_multiplier(width_multiplier):
    width = check_non_negative("width_multiplier", width_multiplier)
    if int(16 * width) < 1:  # the 16-channel block keeps one channel
        raise ValueError(
            "`width_multiplier` must be >= 1/16 (every layer keeps at least "
            "one channel), e.g. 0.2, 0.45, 0.7 or 1.0. "
            f"Received: width_multiplier={width_multiplier!r}")
    return width


def mobilenetv2_3d_channels(width_multiplier):
    """Channel counts of a 3-D MobileNetV2, rounded as Efficient-3DCNNs.

    The original truncates: `int(c * width_multiplier)` for the first
    convolution and every block output (no `_make_divisible`, unlike the
    2-D MobileNetV2 of keras.applications and torchvision), the expanded
    width is `round(in_channels * t)`, and the last convolution keeps 1280
    channels unless `width_multiplier > 1` (then `int(1280 * w)`).

    Args:
        width_multiplier: float >= 1/16.

    Returns:
        dict with `"first"` (int), `"blocks"` (list of `(in_channels,
        expanded, out_channels, stride)` per block, 17 of them) and
        `"last"` (int).

    Example:
    >>> channels = mobilenetv2_3d_channels(0.45)
    >>> channels["first"], channels["blocks"][1], channels["last"]
    (14, (7, 42, 10, (2, 2, 2)), 1280)
    """
    width = check_width_multiplier(width_multiplier)
    first = int(FIRST_CHANNELS * width)
    last = int(LAST_CHANNELS * width) if width > 1.0 else LAST_CHANNELS
    blocks = []
    in_channels = first
    for expansion, channels, repeats, stride in INVERTED_RESIDUAL_SETTINGS:
        out_channels = int(channels * width)
        for repeat in range(repeats):
            blocks.append((in_channels, round(in_channels * expansion),
                           out_channels, stride if repeat == 0 else (1, 1, 1)))
            in_channels = out_channels
    return {"first": first, "blocks": blocks, "last": last}


class _LayerFactory:
    """Named layers of one backbone (shared dtype, BatchNorm and init)."""

    def __init__(self, bn_momentum, dtype):
        self.bn_momentum = BN_MOMENTUM if bn_momentum is None else bn_momentum
        self.dtype = dtype

    def conv(self, x, filters, kernel_size, name, strides=(1, 1, 1),
             groups=1):
        """Conv3D without bias; a strided one gets an explicit symmetric
        `ZeroPadding3D` (PyTorch padding 1) and "valid" padding."""
        padding = "valid" if kernel_size == 1 else "same"
        if kernel_size > 1 and tuple(strides) != (1, 1, 1):
            x = layers.ZeroPadding3D(kernel_size // 2, name=f"{name}_pad",
                                     dtype=self.dtype)(x)
            padding = "valid"
        # PyTorch init of the original: N(0, sqrt(2 / (k^3 * out_channels))).
        initializer = kaiming_fan_out()
        if groups > 1:  # depthwise: the fast folded-time computation
            return DepthwiseConv3D(kernel_size, strides=strides,
                                   padding=padding, filters=filters,
                                   use_bias=False,
                                   kernel_initializer=initializer, name=name,
                                   dtype=self.dtype)(x)
        return layers.Conv3D(filters, kernel_size, strides=strides,
                             padding=padding, use_bias=False,
                             kernel_initializer=initializer, name=name,
                             dtype=self.dtype)(x)

    def bn(self, x, name):
        return layers.BatchNormalization(epsilon=BN_EPSILON,
                                         momentum=self.bn_momentum, name=name,
                                         dtype=self.dtype)(x)

    def relu6(self, x, name):
        return layers.ReLU(6.0, name=name, dtype=self.dtype)(x)

    def inverted_residual(self, x, block, in_channels, expanded, out_channels,
                          stride):
        prefix = "expanded_conv_" if block == 0 else f"block_{block}_"
        inputs = x
        if block > 0:  # t > 1: the expansion; the first block has t = 1.
            x = self.conv(x, expanded, 1, f"{prefix}expand")
            x = self.bn(x, f"{prefix}expand_BN")
            x = self.relu6(x, f"{prefix}expand_relu")
        x = self.conv(x, expanded, 3, f"{prefix}depthwise", strides=stride,
                      groups=expanded)
        x = self.bn(x, f"{prefix}depthwise_BN")
        x = self.relu6(x, f"{prefix}depthwise_relu")
        x = self.conv(x, out_channels, 1, f"{prefix}project")
        x = self.bn(x, f"{prefix}project_BN")
        if tuple(stride) == (1, 1, 1) and in_channels == out_channels:
            x = layers.Add(name=f"{prefix}add", dtype=self.dtype)([inputs, x])
        return x


@keras.saving.register_keras_serializable(package="deltasparse")
class MobileNetV2_3DBackbone(SpatiotemporalBackbone):
    """3-D MobileNetV2 of Efficient-3DCNNs (Kopuklu et al. 2019).

    Clips `(batch, time, height, width, channels)` go through a 3x3x3
    convolution (32 x width channels, stride (1, 2, 2)), BatchNorm, ReLU6,
    17 inverted residual blocks (settings `INVERTED_RESIDUAL_SETTINGS`: the
    (t, c, n, s) table of the original, temporal stride 2 together with the
    spatial one in four stages), each a 1x1x1 expansion (skipped for t=1),
    a 3x3x3 depthwise convolution (`Conv3D(groups=channels)`, computed by
    `deltasparse.layers.DepthwiseConv3D`) and a linear
    1x1x1 projection, with a residual connection when the stride is 1 and
    the channels match, then a 1x1x1 convolution to 1280 channels (`1280 *
    width` when `width_multiplier > 1`), BatchNorm and ReLU6. The output
    is the `(batch, t, h, w, channels)` map: for 16x112x112 clips
    `(batch, 1, 4, 4, 1280)`. `VideoClassifier` adds the original head
    (global average pool, `Dropout(0.2)`, one `classifier` layer).

    Channel counts are rounded as the original does
    (`mobilenetv2_3d_channels`): `int(c * width_multiplier)`, no rounding
    to multiples of 8. Convolutions have no bias; BatchNorm uses PyTorch's
    defaults (epsilon 1e-5, momentum 0.1, i.e. Keras `momentum=0.9`) unless
    `bn_momentum` is given; kernels start from the original's
    `N(0, sqrt(2 / (k^3 * out_channels)))`.

    Layer names are those of `keras.applications.MobileNetV2` (`Conv1`,
    `bn_Conv1`, `Conv1_relu`, `expanded_conv_depthwise`,
    `expanded_conv_depthwise_BN`, `expanded_conv_project`,
    `expanded_conv_project_BN`, `block_{i}_expand`, `block_{i}_expand_BN`,
    `block_{i}_depthwise`, `block_{i}_depthwise_BN`, `block_{i}_project`,
    `block_{i}_project_BN`, `block_{i}_add`, `Conv_1`, `Conv_1_bn`,
    `out_relu`), so `inflate_2d_weights` can copy 2-D weights by name (at
    width 1.0 every shape matches; other widths differ because Keras rounds
    channels to multiples of 8).

    Differences from the original: channels last; PyTorch's symmetric
    padding 1 of the strided convolutions is an explicit `ZeroPadding3D`
    (`Conv1_pad`, `block_{i}_depthwise_pad`) plus a "valid" convolution
    (TensorFlow's "same" pads one more at the end instead, for even sizes);
    stride-1 convolutions use "same", which is the same symmetric padding.

    Args:
        width_multiplier: float >= 1/16, the width multiplier (the
            original's 0.2, 0.45, 0.7, 1.0). Defaults to `1.0`.
        image_size: `(height, width)`, ints >= 32. Defaults to `(112, 112)`.
        channels: int, input channels. Defaults to `3`.
        clip_length: int or `None` (free). Defaults to `None`.
        bn_momentum: Keras BatchNorm momentum or `None` (0.9, PyTorch's 0.1).
            Defaults to `None`.
        dtype: dtype policy of the layers. Defaults to `None`.
        name: str. Defaults to `"mobilenetv2_3d"`.
        **kwargs: Base model keyword arguments, such as `trainable`.

    Raises:
        ValueError: a bad `width_multiplier`, `bn_momentum`, `image_size`,
            `channels` or `clip_length`.

    Example:
    >>> import numpy as np
    >>> backbone = MobileNetV2_3DBackbone(0.2, image_size=(32, 32))
    >>> tuple(backbone(np.zeros((1, 8, 32, 32, 3), "float32")).shape)
    (1, 1, 1, 1, 1280)

    References:
        Kopuklu, Kose, Gunduz, Rigoll: "Resource Efficient 3D Convolutional
        Neural Networks", ICCV Workshops 2019, arXiv 1904.02422.
    """

    default_head = {"dropout": 0.2}

    @staticmethod
    def classifier_initializers(fan_in):
        """Efficient-3DCNNs' init of the classifier: N(0, 0.01), bias 0."""
        return (keras.initializers.RandomNormal(0.0, 0.01),
                keras.initializers.Zeros())

    def __init__(self, width_multiplier=1.0, image_size=(112, 112),
                 channels=3, clip_length=None, bn_momentum=None, dtype=None,
                 name=None, **kwargs):
        width = check_width_multiplier(width_multiplier)
        bn_momentum = check_bn_momentum(bn_momentum)
        clips = self.start_clip_graph(image_size, channels, clip_length)
        plan = mobilenetv2_3d_channels(width)
        make = _LayerFactory(bn_momentum, dtype)
        x = make.conv(clips, plan["first"], 3, "Conv1", strides=(1, 2, 2))
        x = make.bn(x, "bn_Conv1")
        x = make.relu6(x, "Conv1_relu")
        for block, settings in enumerate(plan["blocks"]):
            x = make.inverted_residual(x, block, *settings)
        x = make.conv(x, plan["last"], 1, "Conv_1")
        x = make.bn(x, "Conv_1_bn")
        features = make.relu6(x, "out_relu")
        super().__init__(inputs=clips, outputs=features,
                         name=name or "mobilenetv2_3d", dtype=dtype, **kwargs)
        self.width_multiplier = width
        self.bn_momentum = bn_momentum

    def get_config(self):
        config = super().get_config()
        config.update({"width_multiplier": self.width_multiplier,
                       "bn_momentum": self.bn_momentum})
        return config
