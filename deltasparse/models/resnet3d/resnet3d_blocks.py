"""Building blocks of the 3-D ResNets (Hara et al. 2018) and the
channel-separated networks (Tran et al. 2019).

Module functions take a tensor and return a tensor (keras-hub style); every
layer gets an explicit name in the `keras.applications` ResNet50 scheme
(`conv{stage}_block{b}_{i}_conv`, `_{i}_bn`, `_{i}_relu`, `_add`, `_out`)
so that 2-D weights can be inflated by name.

PyTorch padding semantics: a PyTorch convolution or pooling with padding
`p` pads `p` on both sides of every axis. Keras `"same"` pads
`total // 2` before and the rest after, which for a stride-2 window on an
even axis means 0 before and 1 after: different values. Every strided
window here is therefore an explicit `ZeroPadding3D` plus a `"valid"`
layer; stride-1 odd kernels use `"same"` (symmetric, equal to PyTorch).
"""

import keras
from keras import layers
from keras import ops

from deltasparse.layers.convolution import DepthwiseConv3D
from deltasparse.models.video_backbone import kaiming_fan_out

# PyTorch BatchNorm3d defaults: eps 1e-5, momentum 0.1 (= Keras 0.9).
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
STAGE_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4
# The variants of the 3x3x3 convolution of a bottleneck: `None` (a full
# convolution, ResNet-3D), "ir" (depthwise, interaction-reduced CSN), "ip"
# (1x1x1 then depthwise, interaction-preserved CSN).
SEPARATIONS = (None, "ir", "ip")


@keras.saving.register_keras_serializable(package="deltasparse")
class ChannelZeroPadding(layers.Layer):
    """Appends zero channels to a channels-last tensor.

    The channel half of Hara et al.'s parameter-free shortcut "A"
    (`torch.cat([out, zeros], dim=1)` on the subsampled input): the input
    channels come first, `padding` zero channels follow.

    Args:
        padding: int >= 0, number of zero channels appended.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: tensor `(..., channels)`.

    Returns:
        Tensor `(..., channels + padding)`.

    Example:
    >>> ChannelZeroPadding(2)(np.ones((1, 3), "float32"))[0].numpy().tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, padding, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or (
                padding < 0):
            raise ValueError(
                "`padding` must be an int >= 0 (zero channels appended). "
                f"Received: padding={padding!r}")
        self.padding = padding
        self.built = True

    def call(self, inputs):
        rank = len(inputs.shape)
        widths = [[0, 0]] * (rank - 1) + [[0, self.padding]]
        return ops.pad(inputs, widths)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return tuple(input_shape[:-1]) + (
            None if channels is None else channels + self.padding,)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


def _triple(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * 3


def batch_norm(x, bn_momentum, name, dtype):
    """BatchNormalization with PyTorch's epsilon and the given momentum."""
    return layers.BatchNormalization(
        axis=-1, epsilon=BN_EPSILON,
        momentum=BN_MOMENTUM if bn_momentum is None else bn_momentum,
        name=name, dtype=dtype)(x)


def conv3d(x, filters, kernel_size, strides, name, dtype, groups=1):
    """A bias-free Conv3D with PyTorch padding `kernel_size // 2`.

    Stride 1: `"same"` (symmetric for odd kernels). Otherwise an explicit
    `{name}_pad` (`ZeroPadding3D`, `k // 2` on both sides) then `"valid"`.
    The layer is named `{name}_conv`.
    """
    kernel_size = _triple(kernel_size)
    strides = _triple(strides)
    padding = "same"
    if any(s > 1 for s in strides) and any(k > 1 for k in kernel_size):
        x = layers.ZeroPadding3D(
            tuple((k // 2, k // 2) for k in kernel_size),
            name=f"{name}_pad", dtype=dtype)(x)
        padding = "valid"
    if groups > 1:  # depthwise (CSN): the fast folded-time computation
        if groups != filters:
            raise ValueError(
                "Only depthwise grouped convolutions (`groups` = `filters`) "
                f"are used here. Received: groups={groups}, filters={filters}")
        return DepthwiseConv3D(
            kernel_size, strides=strides, padding=padding, filters=filters,
            use_bias=False, kernel_initializer=kaiming_fan_out(),
            name=f"{name}_conv", dtype=dtype)(x)
    return layers.Conv3D(
        filters, kernel_size, strides=strides, padding=padding,
        use_bias=False, kernel_initializer=kaiming_fan_out(),
        name=f"{name}_conv", dtype=dtype)(x)


def apply_stem(x, kernel_size, strides, pool_size, pool_strides,
               bn_momentum, dtype, filters=64):
    """conv1 (PyTorch padding `k // 2`), BN, ReLU, then the max pool with
    padding `pool_size // 2`.

    Layers `conv1_pad`, `conv1_conv`, `conv1_bn`, `conv1_relu`, `pool1_pad`,
    `pool1_pool`. The pool's zero padding equals PyTorch's -inf padding
    because it follows a ReLU: every window holds at least one real value,
    which is >= 0.
    """
    kernel_size = _triple(kernel_size)
    pool_size = _triple(pool_size)
    x = layers.ZeroPadding3D(tuple((k // 2, k // 2) for k in kernel_size),
                             name="conv1_pad", dtype=dtype)(x)
    x = layers.Conv3D(filters, kernel_size, strides=strides,
                      padding="valid", use_bias=False,
                      kernel_initializer=kaiming_fan_out(), name="conv1_conv",
                      dtype=dtype)(x)
    x = batch_norm(x, bn_momentum, "conv1_bn", dtype)
    x = layers.ReLU(name="conv1_relu", dtype=dtype)(x)
    x = layers.ZeroPadding3D(tuple((k // 2, k // 2) for k in pool_size),
                             name="pool1_pad", dtype=dtype)(x)
    return layers.MaxPooling3D(pool_size, strides=pool_strides,
                               padding="valid", name="pool1_pool",
                               dtype=dtype)(x)


def apply_shortcut(x, filters, strides, shortcut, bn_momentum, name, dtype):
    """The residual branch of a block: identity where the shape is kept.

    Where the stride is > 1 or the channel count changes: `"A"` subsamples
    (`{name}_0_subsample`, a 1x1x1 average pool with the stride, PyTorch's
    `F.avg_pool3d(x, kernel_size=1, stride=s)`, i.e. `x[:, ::s, ::s, ::s]`)
    and appends zero channels (`{name}_0_pad`); `"B"` projects with a
    bias-free 1x1x1 convolution with the stride (`{name}_0_conv`) and BN
    (`{name}_0_bn`).
    """
    strides = _triple(strides)
    if x.shape[-1] == filters and all(s == 1 for s in strides):
        return x
    if shortcut == "A":
        if any(s > 1 for s in strides):
            x = layers.AveragePooling3D(
                1, strides=strides, padding="valid",
                name=f"{name}_0_subsample", dtype=dtype)(x)
        return ChannelZeroPadding(filters - x.shape[-1], name=f"{name}_0_pad",
                                  dtype=dtype)(x)
    x = layers.Conv3D(filters, 1, strides=strides, use_bias=False,
                      kernel_initializer=kaiming_fan_out(),
                      name=f"{name}_0_conv", dtype=dtype)(x)
    return batch_norm(x, bn_momentum, f"{name}_0_bn", dtype)


def _finish_block(x, residual, name, dtype):
    x = layers.Add(name=f"{name}_add", dtype=dtype)([residual, x])
    return layers.ReLU(name=f"{name}_out", dtype=dtype)(x)


def apply_basic_block(x, filters, strides, shortcut, bn_momentum, name,
                      dtype):
    """Basic block: 3x3x3 (carries the stride), BN, ReLU, 3x3x3, BN, add,
    ReLU. Output channels `filters`."""
    residual = apply_shortcut(x, filters, strides, shortcut, bn_momentum,
                              name, dtype)
    x = conv3d(x, filters, 3, strides, f"{name}_1", dtype)
    x = batch_norm(x, bn_momentum, f"{name}_1_bn", dtype)
    x = layers.ReLU(name=f"{name}_1_relu", dtype=dtype)(x)
    x = conv3d(x, filters, 3, 1, f"{name}_2", dtype)
    x = batch_norm(x, bn_momentum, f"{name}_2_bn", dtype)
    return _finish_block(x, residual, name, dtype)


def apply_bottleneck_block(x, filters, strides, shortcut, bn_momentum, name,
                           dtype, separation=None):
    """Bottleneck block: 1x1x1, 3x3x3 (carries the stride), 1x1x1 to
    `4 * filters`, each followed by BN (and ReLU but the last), add, ReLU.

    `separation` replaces the 3x3x3 convolution `{name}_2_conv`: `"ir"` by a
    depthwise 3x3x3 (`DepthwiseConv3D`, a `Conv3D(groups=filters)`), `"ip"`
    by a 1x1x1 convolution `{name}_2_pointwise_conv` and BN
    `{name}_2_pointwise_bn` (no ReLU, as VMZ's `IPConv3DDepthwise`)
    followed by the depthwise 3x3x3.
    BN and ReLU follow the depthwise convolution in both.
    """
    residual = apply_shortcut(x, filters * BOTTLENECK_EXPANSION, strides,
                              shortcut, bn_momentum, name, dtype)
    x = conv3d(x, filters, 1, 1, f"{name}_1", dtype)
    x = batch_norm(x, bn_momentum, f"{name}_1_bn", dtype)
    x = layers.ReLU(name=f"{name}_1_relu", dtype=dtype)(x)
    groups = 1
    if separation is not None:
        groups = filters
    if separation == "ip":
        x = conv3d(x, filters, 1, 1, f"{name}_2_pointwise", dtype)
        x = batch_norm(x, bn_momentum, f"{name}_2_pointwise_bn", dtype)
    x = conv3d(x, filters, 3, strides, f"{name}_2", dtype, groups=groups)
    x = batch_norm(x, bn_momentum, f"{name}_2_bn", dtype)
    x = layers.ReLU(name=f"{name}_2_relu", dtype=dtype)(x)
    x = conv3d(x, filters * BOTTLENECK_EXPANSION, 1, 1, f"{name}_3", dtype)
    x = batch_norm(x, bn_momentum, f"{name}_3_bn", dtype)
    return _finish_block(x, residual, name, dtype)


def apply_stages(x, block, stage_blocks, shortcut, bn_momentum, dtype,
                 separation=None):
    """The four residual stages `conv2` ... `conv5` (widths 64 ... 512).

    Stage `conv2` keeps the resolution; the first block of `conv3`,
    `conv4` and `conv5` downsamples time, height and width by 2.

    Args:
        block: `"basic"` or `"bottleneck"`.
        stage_blocks: four ints, blocks per stage.
        separation: the bottleneck's `separation` (`None`, `"ir"`, `"ip"`).
    """
    for stage, (width, count) in enumerate(zip(STAGE_WIDTHS, stage_blocks),
                                           start=2):
        for index in range(1, count + 1):
            strides = 2 if stage > 2 and index == 1 else 1
            name = f"conv{stage}_block{index}"
            if block == "basic":
                x = apply_basic_block(x, width, strides, shortcut,
                                      bn_momentum, name, dtype)
            else:
                x = apply_bottleneck_block(x, width, strides, shortcut,
                                           bn_momentum, name, dtype,
                                           separation=separation)
    return x
