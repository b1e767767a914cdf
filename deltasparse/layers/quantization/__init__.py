"""Quantization-aware training layers (keras.ops only).

- `QuantizedConv2D`, `QuantizedConv3D` (grouped too), `QuantizedDepthwiseConv2D`,
  `QuantizedDepthwiseConv3D`, `QuantizedDense`: the Keras (and deltasparse)
  layers with their kernel fake-quantized per output channel in the forward
  pass (`WeightQuantization`).
- `ActivationQuantizer`: activations fake-quantized on an EMA-tracked range.
"""

from deltasparse.layers.quantization.activation_quantizer import (
    ActivationQuantizer,
)
from deltasparse.layers.quantization.quantized_conv2d import QuantizedConv2D
from deltasparse.layers.quantization.quantized_conv3d import QuantizedConv3D
from deltasparse.layers.quantization.quantized_dense import QuantizedDense
from deltasparse.layers.quantization.quantized_depthwise_conv2d import (
    QuantizedDepthwiseConv2D,
)
from deltasparse.layers.quantization.quantized_depthwise_conv3d import (
    QuantizedDepthwiseConv3D,
)
from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)

__all__ = [
    "ActivationQuantizer",
    "QuantizedConv2D",
    "QuantizedConv3D",
    "QuantizedDense",
    "QuantizedDepthwiseConv2D",
    "QuantizedDepthwiseConv3D",
    "WeightQuantization",
]
