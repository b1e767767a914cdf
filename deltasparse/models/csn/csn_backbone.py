"""`CSNBackbone`: channel-separated networks (Tran et al., ICCV 2019)."""

import keras

from deltasparse.models.resnet3d.resnet3d_backbone import ResidualBackbone3D
from deltasparse.models.resnet3d.resnet3d_backbone import check_choice
from deltasparse.models.resnet3d.resnet3d_backbone import check_depth

# depth -> bottleneck blocks per stage conv2..conv5.
CSN_DEPTHS = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}
CSN_BLOCKS = ("ir", "ip")


@keras.saving.register_keras_serializable(package="deltasparse")
class CSNBackbone(ResidualBackbone3D):
    """Channel-separated network backbone (Tran, Wang, Torresani & Feiszli,
    "Video Classification with Channel-Separated Convolutional Networks",
    ICCV 2019).

    A ResNet-3D of bottleneck blocks (widths 64, 128, 256, 512, expansion 4;
    depths 50 [3, 4, 6, 3], 101 [3, 4, 23, 3], 152 [3, 8, 36, 3]) whose
    3x3x3 convolution is channel-separated: `block="ir"`
    (interaction-reduced) makes it a depthwise 3x3x3 (`Conv3D(groups=
    channels)`); `block="ip"` (interaction-preserved) a 1x1x1 convolution
    (`..._2_pointwise_conv`) followed by the depthwise 3x3x3 (`..._2_conv`).
    Every convolution is followed by BatchNormalization and ReLU (the last
    1x1x1 of a block: BN, add, ReLU; in `"ip"` BN and ReLU follow the pair,
    as in the seed's code). The shortcut is a 1x1x1 projection + BN where
    the stride or the width changes (type B), the identity elsewhere.

    What this follows:
    - The paper (its ResNet3D table and Figure 2): the stem conv1 3x7x7,
      64 channels, stride 1x2x2; a max pool 1x3x3 with stride 1x2x2;
      `conv2_x` keeps the resolution; `conv3_1`, `conv4_1` and `conv5_1`
      downsample by 2 in time, height and width. Time is therefore
      reduced 8x overall, e.g. 16x112x112 -> `(2, 4, 4, 2048)`.
    - The seed's `models/csn.py` (compressed-3d-cnn): the same stem with
      PyTorch paddings (1, 3, 3) and (0, 1, 1), the stride on the
      depthwise convolution and on the projection, no BN/ReLU between the
      ip 1x1x1 and the depthwise convolution, BN momentum 0.1 (PyTorch).
    - Choices of our own: BN epsilon 1e-5 and momentum 0.9 (PyTorch
      defaults) unless `bn_momentum` is given; the layer names of
      `keras.applications.ResNet50`; explicit `ZeroPadding3D` + `"valid"`
      for the strided windows (PyTorch's symmetric padding); the head
      (global average pool, `classifier`) is `VideoClassifier`'s, with no
      dropout by default (the seed has none).

    Args:
        depth: int, one of 50, 101, 152. Defaults to `50`.
        block: `"ir"` or `"ip"`. Defaults to `"ir"`.
        image_size: `(height, width)`, both >= 32. Defaults to `(112, 112)`.
        channels: int, channels per frame. Defaults to `3`.
        clip_length: `None` (free) or int, frames per clip.
        bn_momentum: `None` (0.9) or a float in `[0, 1)`.
        dtype: dtype or `keras.DTypePolicy` of every layer.
        name: str. Defaults to `"csn_<block>_<depth>"`.
        **kwargs: Base model keyword arguments, such as `trainable`.

    Raises:
        ValueError: for a depth not in the table, a block other than
            `"ir"`/`"ip"`, or a bad size or momentum.

    Example:
    >>> backbone = CSNBackbone(depth=50, block="ir", image_size=(32, 32))
    >>> tuple(backbone.output.shape)
    (None, None, 1, 1, 2048)
    """

    variant_argument = "block"

    def __init__(
        self,
        depth=50,
        block="ir",
        image_size=(112, 112),
        channels=3,
        clip_length=None,
        bn_momentum=None,
        dtype=None,
        name=None,
        **kwargs,
    ):
        depth = check_depth(depth, CSN_DEPTHS)
        block = check_choice("block", block, CSN_BLOCKS)
        architecture = {"stem": ((3, 7, 7), (1, 2, 2), (1, 3, 3), (1, 2, 2)),
                        "block": "bottleneck",
                        "stage_blocks": CSN_DEPTHS[depth], "shortcut": "B",
                        "separation": block}
        super().__init__(depth, block, architecture, image_size, channels,
                         clip_length, bn_momentum, dtype,
                         name or f"csn_{block}_{depth}", **kwargs)
