"""Folded-time ResNet-50 v1 video models (Delta Activation Layer paper)."""

from deltasparse.models.resnet50.td_resnet50 import TDResNet50

__all__ = ["TDResNet50"]
