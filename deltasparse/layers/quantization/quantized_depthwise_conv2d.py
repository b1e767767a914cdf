"""`QuantizedDepthwiseConv2D`: `keras.layers.DepthwiseConv2D` with a
fake-quantized kernel."""

import keras
from keras import ops

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedDepthwiseConv2D(WeightQuantization, keras.layers.DepthwiseConv2D):
    """`keras.layers.DepthwiseConv2D` whose kernel `(kh, kw, channels,
    depth_multiplier)` is fake-quantized per output channel (one range per
    `(channel, multiplier)` pair) in the forward pass.

    Same weights, arguments and config as `DepthwiseConv2D`, plus the
    quantization arguments of `WeightQuantization`.

    Args:
        *args: the `keras.layers.DepthwiseConv2D` arguments.
        weight_bits: int in 2..16. Defaults to `8`.
        weight_symmetric: bool. Defaults to `False`.
        per_channel: bool. Defaults to `True`.
        narrow_range: bool. Defaults to `False`.
        **kwargs: the other `DepthwiseConv2D` and base layer arguments.

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
