"""`QuantizedConv3D`: `keras.layers.Conv3D` (grouped too) with a
fake-quantized kernel."""

import keras

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedConv3D(WeightQuantization, keras.layers.Conv3D):
    """`keras.layers.Conv3D` (grouped too) with its kernel fake-quantized per
    output channel in the forward pass (quantization-aware training).

    Weights (`kernel`, `bias`) and config are those of `keras.layers.Conv3D`,
    plus the `WeightQuantization` arguments; `convolution_op` convolves with
    `quantized_kernel(kernel)`; built by
    `deltasparse.compression.quantize_model`, or directly.

    Args:
        *args: the `keras.layers.Conv3D` arguments (`filters`, `kernel_size`,
            ...).
        **kwargs: `weight_bits`, `weight_symmetric`, `per_channel`,
            `narrow_range` (see `WeightQuantization`), the other `Conv3D`
            arguments and base layer keyword arguments.

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
