"""Channel-separated networks (Tran et al. 2019): backbone and presets (the
blocks are the 3-D ResNet ones, `deltasparse.models.resnet3d`)."""

from deltasparse.models.csn.csn_backbone import CSNBackbone

__all__ = ["CSNBackbone"]
