"""`QuantizedDense`: `keras.layers.Dense` with a fake-quantized kernel."""

import keras
from keras import ops

from deltasparse.layers.quantization.weight_quantization import (
    WeightQuantization,
)


@keras.saving.register_keras_serializable(package="deltasparse")
class QuantizedDense(WeightQuantization, keras.layers.Dense):
    """`keras.layers.Dense` with its kernel `(input_dim, units)` fake-quantized
    per unit in the forward pass (quantization-aware training).

    Weights (`kernel`, `bias`) and config are those of `keras.layers.Dense`,
    plus the `WeightQuantization` arguments; LoRA (`lora_rank`) and Keras' own
    int8/float8 `quantize()` modes are not combined with it.

    Args:
        *args: the `keras.layers.Dense` arguments (`units`, ...).
        **kwargs: `weight_bits`, `weight_symmetric`, `per_channel`,
            `narrow_range` (see `WeightQuantization`), the other `Dense`
            arguments and base layer keyword arguments.

    Call arguments:
        inputs: tensor `(..., input_dim)`.

    Returns:
        The `Dense` output computed with the quantized kernel.

    Raises:
        ValueError: for a `lora_rank`.

    Example:
    >>> layer = QuantizedDense(3, weight_bits=4)
    >>> tuple(layer(np.ones((2, 5), "float32")).shape)
    (2, 3)
    """

    def __init__(self, *args, **kwargs):
        if kwargs.get("lora_rank"):
            raise ValueError(
                "`lora_rank` is not supported by QuantizedDense (the kernel "
                "is fake-quantized as a whole). Received: "
                f"lora_rank={kwargs['lora_rank']}")
        super().__init__(*args, **kwargs)

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self.quantized_kernel(self.kernel))
        if self.bias is not None:
            outputs = ops.add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
