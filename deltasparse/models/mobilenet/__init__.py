"""Folded-time MobileNet v1 video backbone and presets (Delta Activation
Layer paper)."""

from deltasparse.models.mobilenet.mobilenet_video_backbone import MobileNetVideoBackbone

__all__ = ["MobileNetVideoBackbone"]
