"""Spatial layers (keras.ops only): the differentiable patch crop of
AdaFocusV2."""

from deltasparse.layers.spatial.patch_crop import PatchCrop

__all__ = ["PatchCrop"]
