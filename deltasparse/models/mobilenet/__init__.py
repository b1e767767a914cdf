"""Folded-time MobileNet v1 video models (Delta Activation Layer paper)."""

from deltasparse.models.mobilenet.td_mobilenet import TDMobileNet

__all__ = ["TDMobileNet"]
