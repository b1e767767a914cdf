"""`ResNet3DBackbone`: the 3-D ResNets of Hara et al. (CVPR 2018)."""

import keras

from deltasparse.models.resnet3d.resnet3d_blocks import apply_stages
from deltasparse.models.resnet3d.resnet3d_blocks import apply_stem
from deltasparse.models.video_backbone import SpatiotemporalBackbone
from deltasparse.models.video_backbone import check_bn_momentum

# depth -> (block, blocks per stage conv2..conv5).
RESNET3D_DEPTHS = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
SHORTCUTS = ("A", "B")


def check_depth(depth, table):
    if isinstance(depth, bool) or depth not in table:
        raise ValueError(
            f"`depth` must be one of {sorted(table)}. "
            f"Received: depth={depth!r}")
    return int(depth)


def check_choice(name, value, choices):
    if isinstance(value, bool) or value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. "
            f"Received: {name}={value!r}")
    return value


class ResidualBackbone3D(SpatiotemporalBackbone):
    """Shared graph and config of `ResNet3DBackbone` and `CSNBackbone`.

    Builds `start_clip_graph` -> `apply_stem` -> `apply_stages` and stores
    `depth`, the variant argument (`variant_argument`: `"shortcut"` or
    `"block"`) and `bn_momentum`. Not for direct use: the subclasses check
    their arguments and describe the architecture.

    Args:
        depth: int, the checked depth.
        variant: the checked value of the `variant_argument`.
        architecture: dict with `stem` (the `apply_stem` kernel, strides,
            pool size, pool strides), `block`, `stage_blocks`, `shortcut`
            and `separation` (see `apply_stages`).
        image_size, channels, clip_length, bn_momentum, dtype, name: as
            in the subclasses.
        **kwargs: Base model keyword arguments, such as `trainable`.
    """

    default_head = {"dropout": 0.0}
    variant_argument = None

    def __init__(self, depth, variant, architecture, image_size, channels,
                 clip_length, bn_momentum, dtype, name, **kwargs):
        bn_momentum = check_bn_momentum(bn_momentum)

        # === Functional Model ===
        clips = self.start_clip_graph(image_size, channels, clip_length)
        x = apply_stem(clips, *architecture["stem"], bn_momentum, dtype)
        x = apply_stages(x, architecture["block"],
                         architecture["stage_blocks"],
                         architecture["shortcut"], bn_momentum, dtype,
                         separation=architecture["separation"])
        super().__init__(inputs=clips, outputs=x, name=name, dtype=dtype,
                         **kwargs)

        # === Config ===
        self.depth = depth
        setattr(self, self.variant_argument, variant)
        self.bn_momentum = bn_momentum

    def get_config(self):
        config = super().get_config()
        config.update({
            "depth": self.depth,
            self.variant_argument: getattr(self, self.variant_argument),
            "bn_momentum": self.bn_momentum,
        })
        return config


@keras.saving.register_keras_serializable(package="deltasparse")
class ResNet3DBackbone(ResidualBackbone3D):
    """3-D ResNet backbone (Hara, Kataoka & Satoh, CVPR 2018).

    Clips `(batch, time, height, width, channels)` go through conv1 7x7x7
    with stride (1, 2, 2) and padding 3, BatchNormalization, ReLU, a 3x3x3
    max pool with stride 2 and padding 1, and four stages of residual
    blocks of widths 64, 128, 256, 512: basic blocks (two 3x3x3) for depths
    10 [1, 1, 1, 1], 18 [2, 2, 2, 2] and 34 [3, 4, 6, 3]; bottlenecks
    (1x1x1, 3x3x3, 1x1x1 with expansion 4) for 50 [3, 4, 6, 3],
    101 [3, 4, 23, 3], 152 [3, 8, 36, 3] and 200 [3, 24, 36, 3]. The first
    block of stages 3-5 downsamples time, height and width by 2; its 3x3x3
    convolution carries the stride (conv1 of a basic block, conv2 of a
    bottleneck, as in `kenshohara/3D-ResNets-PyTorch` `models/resnet.py`).
    Convolutions have no bias; BatchNormalization has epsilon 1e-5 and
    momentum 0.9 (PyTorch's 0.1) unless `bn_momentum` is given.

    Shortcut `"A"` (parameter-free) subsamples with the stride and appends
    zero channels where the shape changes; `"B"` projects with a 1x1x1
    convolution + BatchNormalization there. Elsewhere the shortcut is the
    identity in both.

    The output is the `conv5` feature map `(batch, t, h, w, 512 or 2048)`,
    e.g. `(B, 1, 4, 4, C)` for 16x112x112 clips; `VideoClassifier` pools it
    globally (Hara's `AvgPool3d((ceil(T/16), ceil(H/32), ceil(W/32)))` is a
    global pool at 16x112x112) and applies `classifier` (Hara's `fc`).
    Layer names follow `keras.applications.ResNet50` (`conv1_conv`,
    `conv2_block1_1_conv`, ...; strided convolutions get an extra
    `..._pad`).

    Differences from the original: PyTorch padding is reproduced with
    explicit `ZeroPadding3D` + `"valid"` (the max pool's zero padding equals
    -inf padding after a ReLU); the temporal length may stay free.

    Args:
        depth: int, one of 10, 18, 34, 50, 101, 152, 200. Defaults to `18`.
        shortcut: `"A"` or `"B"`. Defaults to `"B"`.
        image_size: `(height, width)`, both >= 32. Defaults to `(112, 112)`.
        channels: int, channels per frame. Defaults to `3`.
        clip_length: `None` (free) or int, frames per clip.
        bn_momentum: `None` (0.9) or a float in `[0, 1)`.
        dtype: dtype or `keras.DTypePolicy` of every layer. On TensorFlow's
            CPU use `"mixed_bfloat16"`, not `"mixed_float16"` (no float16
            MaxPool3D kernel there).
        name: str. Defaults to `"resnet3d_<depth>"`.
        **kwargs: Base model keyword arguments, such as `trainable`.

    Raises:
        ValueError: for a depth not in the table, a shortcut other than
            `"A"`/`"B"`, or a bad size or momentum.

    Example:
    >>> backbone = ResNet3DBackbone(depth=10, shortcut="A",
    ...                             image_size=(32, 32))
    >>> tuple(backbone(np.zeros((1, 8, 32, 32, 3), "float32")).shape)
    (1, 1, 1, 1, 512)
    """

    variant_argument = "shortcut"

    def __init__(
        self,
        depth=18,
        shortcut="B",
        image_size=(112, 112),
        channels=3,
        clip_length=None,
        bn_momentum=None,
        dtype=None,
        name=None,
        **kwargs,
    ):
        depth = check_depth(depth, RESNET3D_DEPTHS)
        shortcut = check_choice("shortcut", shortcut, SHORTCUTS)
        block, stage_blocks = RESNET3D_DEPTHS[depth]
        architecture = {"stem": (7, (1, 2, 2), 3, 2), "block": block,
                        "stage_blocks": stage_blocks, "shortcut": shortcut,
                        "separation": None}
        super().__init__(depth, shortcut, architecture, image_size, channels,
                         clip_length, bn_momentum, dtype,
                         name or f"resnet3d_{depth}", **kwargs)
