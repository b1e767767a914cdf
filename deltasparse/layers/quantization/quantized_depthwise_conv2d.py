"""`QuantizedDepthwiseConv2D`: `keras.layers.DepthwiseConv2D` with a
fake-quantized kernel."""

import keras
from keras import ops

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedDepthwiseConv2D(WeightQuantization,
                               keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` with its kernel `(kh, kw, channels,
    depth_multiplier)` fake-quantized per output channel (one range per
    `(channel, multiplier)` pair) in the forward pass (quantization-aware
    training).

    Weights (`kernel`, `bias`) and config are those of
    `keras.layers.DepthwiseConv2D`, plus the `WeightQuantization` arguments;
    `call` is the depthwise convolution with `quantized_kernel(kernel)`.

    Args:
        *args: the `keras.layers.DepthwiseConv2D` arguments.
        **kwargs: `weight_bits`, `weight_symmetric`, `per_channel`,
            `narrow_range` (see `WeightQuantization`), the other
            `DepthwiseConv2D` arguments and base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.

    Returns:
        The `DepthwiseConv2D` output computed with the quantized kernel.

    Example:
    >>> layer = QuantizedDepthwiseConv2D(3, depth_multiplier=2)
    >>> tuple(layer(np.ones((1, 8, 8, 3), "float32")).shape)
    (1, 6, 6, 6)
    """

    CHANNEL_AXES = (-2, -1)

    def call(self, inputs):
        outputs = ops.depthwise_conv(
            inputs, self.quantized_kernel(self.kernel), strides=self.strides,
            padding=self.padding, dilation_rate=self.dilation_rate,
            data_format=self.data_format)
        if self.use_bias:
            shape = [1] * len(outputs.shape)
            shape[-1 if self.data_format == "channels_last" else 1] = -1
            outputs = ops.add(outputs, ops.reshape(self.bias, shape))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
