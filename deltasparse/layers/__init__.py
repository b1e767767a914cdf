"""Keras layers of deltasparse (all registered under package "deltasparse")."""

from deltasparse.layers.convolution.depthwise_conv3d import DepthwiseConv3D
from deltasparse.layers.quantization import ActivationQuantizer
from deltasparse.layers.quantization import QuantizedConv2D
from deltasparse.layers.quantization import QuantizedConv3D
from deltasparse.layers.quantization import QuantizedDense
from deltasparse.layers.quantization import QuantizedDepthwiseConv2D
from deltasparse.layers.quantization import QuantizedDepthwiseConv3D
from deltasparse.layers.quantization import WeightQuantization
from deltasparse.layers.rnn.conv_minimal_rnn import ConvMinimalRNN2D
from deltasparse.layers.rnn.conv_minimal_rnn import ConvMinimalRNN2DCell
from deltasparse.layers.spatial.patch_crop import PatchCrop
from deltasparse.layers.sparsity.delta_activation import DeltaActivation
from deltasparse.layers.sparsity.group_ksparse import GroupKSparse
from deltasparse.layers.sparsity.ksparse import KSparse
from deltasparse.layers.sparsity.l1_activity_regularizer import (
    L1ActivityRegularizer,
)
from deltasparse.layers.temporal.time_folding import FoldTime
from deltasparse.layers.temporal.time_folding import UnfoldTime

__all__ = [
    "ActivationQuantizer",
    "ConvMinimalRNN2D",
    "ConvMinimalRNN2DCell",
    "DeltaActivation",
    "DepthwiseConv3D",
    "FoldTime",
    "GroupKSparse",
    "KSparse",
    "L1ActivityRegularizer",
    "PatchCrop",
    "QuantizedConv2D",
    "QuantizedConv3D",
    "QuantizedDense",
    "QuantizedDepthwiseConv2D",
    "QuantizedDepthwiseConv3D",
    "UnfoldTime",
    "WeightQuantization",
]
