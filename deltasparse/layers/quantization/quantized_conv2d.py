"""`QuantizedConv2D`: `keras.layers.Conv2D` (grouped too) with a
fake-quantized kernel."""

import keras

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedConv2D(WeightQuantization, keras.layers.Conv2D):
    """`keras.layers.Conv2D` (grouped too) with its kernel fake-quantized per
    output channel in the forward pass (quantization-aware training).

    Weights (`kernel`, `bias`) and config are those of `keras.layers.Conv2D`,
    plus the `WeightQuantization` arguments; `convolution_op` convolves with
    `quantized_kernel(kernel)`.

    Args:
        *args: the `keras.layers.Conv2D` arguments (`filters`, `kernel_size`,
            ...).
        **kwargs: `weight_bits`, `weight_symmetric`, `per_channel`,
            `narrow_range` (see `WeightQuantization`), the other `Conv2D`
            arguments and base layer keyword arguments.

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
