"""`QuantizedDepthwiseConv3D`: deltasparse's `DepthwiseConv3D` with a
fake-quantized kernel."""

import keras

from deltasparse.layers.convolution.depthwise_conv3d import DepthwiseConv3D
from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedDepthwiseConv3D(WeightQuantization, DepthwiseConv3D):
    """`deltasparse.layers.DepthwiseConv3D` whose kernel `(kt, kh, kw, 1,
    channels)` is fake-quantized per channel in the forward pass.

    Same weights, arguments and config as `DepthwiseConv3D`, plus the
    quantization arguments of `WeightQuantization`.

    Args:
        *args: the `DepthwiseConv3D` arguments (`kernel_size`, ...).
        weight_bits: int in 2..16. Defaults to `8`.
        weight_symmetric: bool. Defaults to `False`.
        per_channel: bool. Defaults to `True`.
        narrow_range: bool. Defaults to `False`.
        **kwargs: the other `DepthwiseConv3D` and base layer arguments.

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
