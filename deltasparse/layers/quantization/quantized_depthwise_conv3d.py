"""`QuantizedDepthwiseConv3D`: deltasparse's `DepthwiseConv3D` with a
fake-quantized kernel."""

import keras

from deltasparse.layers.convolution.depthwise_conv3d import DepthwiseConv3D
from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedDepthwiseConv3D(WeightQuantization, DepthwiseConv3D):
    """`deltasparse.layers.DepthwiseConv3D` with its kernel `(kt, kh, kw, 1,
    channels)` fake-quantized per channel in the forward pass (quantization-
    aware training).

    Weights (`kernel`, `bias`) and config are those of
    `deltasparse.layers.DepthwiseConv3D`, plus the `WeightQuantization`
    arguments; its folded 2-D depthwise computation runs on the quantized
    kernel.

    Args:
        *args: the `deltasparse.layers.DepthwiseConv3D` arguments
            (`kernel_size`, ...).
        **kwargs: `weight_bits`, `weight_symmetric`, `per_channel`,
            `narrow_range` (see `WeightQuantization`), the other
            `DepthwiseConv3D` arguments and base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, time, height, width, channels)`.

    Returns:
        The `DepthwiseConv3D` output computed with the quantized kernel.

    Example:
    >>> layer = QuantizedDepthwiseConv3D(3, padding="same", weight_bits=4)
    >>> tuple(layer(np.ones((1, 4, 8, 8, 2), "float32")).shape)
    (1, 4, 8, 8, 2)
    """

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, self.quantized_kernel(kernel))
