"""3-D MobileNetV2 backbone and presets (Efficient-3DCNNs, Kopuklu et al.
2019)."""

from deltasparse.models.mobilenetv2_3d.mobilenetv2_3d_backbone import MobileNetV2_3DBackbone
from deltasparse.models.mobilenetv2_3d.mobilenetv2_3d_backbone import mobilenetv2_3d_channels

__all__ = ["MobileNetV2_3DBackbone", "mobilenetv2_3d_channels"]
