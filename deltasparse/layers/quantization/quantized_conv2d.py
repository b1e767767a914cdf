"""`QuantizedConv2D`: `keras.layers.Conv2D` (grouped too) with a
fake-quantized kernel."""

import keras

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedConv2D(WeightQuantization, keras.layers.Conv2D):
    """`keras.layers.Conv2D` whose kernel is fake-quantized per output
    channel in the forward pass (quantization-aware training).

    Same weights (`kernel`, `bias`), arguments and config as `Conv2D`
    (grouped convolutions included), plus the quantization arguments of
    `WeightQuantization`; `convolution_op` convolves with
    `quantized_kernel(kernel)`. Built by
    `deltasparse.compression.quantize_model`, or directly.

    Args:
        *args: the `keras.layers.Conv2D` arguments (`filters`,
            `kernel_size`, ...).
        weight_bits: int in 2..16. Defaults to `8`.
        weight_symmetric: bool. Defaults to `False`.
        per_channel: bool. Defaults to `True`.
        narrow_range: bool. Defaults to `False`.
        **kwargs: the other `Conv2D` and base layer keyword arguments.

    Call arguments:
        inputs: tensor `(batch, height, width, channels)`.

    Returns:
        The `Conv2D` output computed with the quantized kernel.

    Example:
    >>> layer = QuantizedConv2D(4, 3, weight_bits=4)
    >>> tuple(layer(np.ones((1, 8, 8, 2), "float32")).shape)
    (1, 6, 6, 4)
    """

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, self.quantized_kernel(kernel))
