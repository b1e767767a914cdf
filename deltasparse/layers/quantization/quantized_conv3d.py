"""`QuantizedConv3D`: `keras.layers.Conv3D` (grouped too) with a
fake-quantized kernel."""

import keras

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedConv3D(WeightQuantization, keras.layers.Conv3D):
    """`keras.layers.Conv3D` whose kernel is fake-quantized per output
    channel in the forward pass (quantization-aware training).

    Same weights (`kernel`, `bias`), arguments and config as `Conv3D`
    (grouped convolutions included), plus the quantization arguments of
    `WeightQuantization`; `convolution_op` convolves with
    `quantized_kernel(kernel)`. Built by
    `deltasparse.compression.quantize_model`, or directly.

    Args:
        *args: the `keras.layers.Conv3D` arguments (`filters`,
            `kernel_size`, ...).
        weight_bits: int in 2..16. Defaults to `8`.
        weight_symmetric: bool. Defaults to `False`.
        per_channel: bool. Defaults to `True`.
        narrow_range: bool. Defaults to `False`.
        **kwargs: the other `Conv3D` and base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, time, height, width, channels)`.

    Returns:
        The `Conv3D` output computed with the quantized kernel.

    Example:
    >>> layer = QuantizedConv3D(4, 3, weight_bits=4)
    >>> tuple(layer(np.ones((1, 4, 8, 8, 2), "float32")).shape)
    (1, 2, 6, 6, 4)
    """

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, self.quantized_kernel(kernel))
