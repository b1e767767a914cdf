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
    (`..._2_pointwise_conv`) and BatchNormalization (`..._2_pointwise_bn`,
    no ReLU) followed by the depthwise 3x3x3 (`..._2_conv`). The other
    convolutions are followed by BatchNormalization and ReLU (the last
    1x1x1 of a block: BN, add, ReLU). The shortcut is a 1x1x1 projection +
    BN where the stride or the width changes (type B), the identity
    elsewhere.

    What this follows:
    - The paper (Figure 2): ip = a 1x1x1 convolution + a depthwise 3x3x3,
      ir = a depthwise 3x3x3 in place of the bottleneck's 3x3x3.
    - The authors' VMZ code (`BasicStem_Pool`, `Conv3DDepthwise`,
      `get_downsample_stride`) and the seed's `models/csn.py`
      (compressed-3d-cnn; it is in the public
      `elliottloveridge/compressed-video-classification`), which agree:
      stem conv1 3x7x7, 64 channels, stride (1, 2, 2), padding (1, 3, 3);
      max pool 1x3x3, stride (1, 2, 2), padding (0, 1, 1); `conv2` keeps
      the resolution; the first blocks of `conv3`, `conv4` and `conv5`
      downsample by 2 in time, height and width (on the depthwise
      convolution and the projection), so time shrinks 8x overall:
      16x112x112 -> `(2, 4, 4, 2048)`.
    - For `"ip"`, VMZ's `IPConv3DDepthwise`: 1x1x1, BN, no ReLU (the
      paper's caption says BN and ReLU follow every convolution; VMZ
      leaves this ReLU out), depthwise 3x3x3. The seed's code has no BN
      there (one BN per block less; `"ir"`, which the seed trains, is the
      same in all three). With 400 classes the trainable parameters equal
      those MMAction2 publishes for the converted VMZ models (ir-CSN-50
      13,131,152, ir-CSN-152 29,703,568, ip-CSN-152 33,016,592).
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
        dtype: dtype or `keras.DTypePolicy` of every layer. On TensorFlow's
            CPU use `"mixed_bfloat16"`, not `"mixed_float16"` (no float16
            MaxPool3D kernel there).
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
