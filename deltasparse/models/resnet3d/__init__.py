"""3-D ResNets (Hara et al. 2018): backbone, blocks and presets."""

from deltasparse.models.resnet3d.resnet3d_backbone import ResNet3DBackbone
from deltasparse.models.resnet3d.resnet3d_blocks import ChannelZeroPadding

__all__ = ["ChannelZeroPadding", "ResNet3DBackbone"]
