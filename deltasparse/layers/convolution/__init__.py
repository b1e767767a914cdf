"""Convolution layers (keras.ops only)."""

from deltasparse.layers.convolution.depthwise_conv3d import DepthwiseConv3D

__all__ = ["DepthwiseConv3D"]
