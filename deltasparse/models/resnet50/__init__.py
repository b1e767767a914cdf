"""Folded-time ResNet-50 v1 video backbone and presets (Delta Activation
Layer paper)."""

from deltasparse.models.resnet50.resnet50_video_backbone import ResNet50VideoBackbone

__all__ = ["ResNet50VideoBackbone"]
