"""`WeightQuantization`: the mixin that fake-quantizes a layer's kernel per
output channel in the forward pass (quantization-aware training)."""

from keras import ops

from deltasparse.ops.fake_quantization import check_num_bits
from deltasparse.ops.fake_quantization import fake_quantize
from deltasparse.ops.fake_quantization import tensor_range


def check_bool(name, value):
    """Raises unless `value` is a bool; returns it."""
    if not isinstance(value, bool):
        raise ValueError(
            f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


class WeightQuantization:
    """Mixin for a Keras layer with a `kernel`: the kernel is replaced, in
    every forward pass, by its fake-quantized copy (`fake_quantize` with the
    kernel's own current minimum and maximum, per output channel or per
    tensor). The float kernel stays the trained variable ("shadow
    weights"); gradients reach it through the straight-through estimator
    (gradient 1 everywhere: each value lies inside its own range), as in
    Distiller's `QuantAwareTrainRangeLinearQuantizer`.

    The quantization runs in float32 (also under `mixed_float16`) and the
    result is cast to the kernel's dtype.

    A subclass lists the kernel axes of its output channels in
    `CHANNEL_AXES` (`(-1,)` for Conv and Dense kernels, `(-2, -1)` for a
    `DepthwiseConv2D` kernel `(kh, kw, channels, depth_multiplier)`).

    Args:
        weight_bits: int in 2..16. Defaults to `8`.
        weight_symmetric: bool, signed grid with zero point 0 instead of
            the asymmetric unsigned grid. Defaults to `False`.
        per_channel: bool, one range per output channel (else one per
            kernel). Defaults to `True`.
        narrow_range: bool, drop the lowest integer level. Defaults to
            `False`.

    Example:
    >>> class QuantizedConv1D(WeightQuantization, keras.layers.Conv1D):
    ...     def convolution_op(self, inputs, kernel):
    ...         return super().convolution_op(inputs,
    ...                                       self.quantized_kernel(kernel))
    >>> layer = QuantizedConv1D(2, 3, weight_bits=2)
    >>> tuple(layer(np.ones((1, 8, 4), "float32")).shape)
    (1, 6, 2)
    >>> kernel = keras.ops.convert_to_numpy(layer.quantized_kernel(layer.kernel))
    >>> len(np.unique(kernel[..., 0])) <= 4
    True
    """

    CHANNEL_AXES = (-1,)

    def __init__(self, *args, weight_bits=8, weight_symmetric=False,
                 per_channel=True, narrow_range=False, **kwargs):
        check_num_bits(weight_bits, "weight_bits")
        check_bool("weight_symmetric", weight_symmetric)
        check_bool("per_channel", per_channel)
        check_bool("narrow_range", narrow_range)
        super().__init__(*args, **kwargs)
        self.weight_bits = weight_bits
        self.weight_symmetric = weight_symmetric
        self.per_channel = per_channel
        self.narrow_range = narrow_range

    def quantized_kernel(self, kernel):
        """`kernel` fake-quantized on this layer's grid (same dtype)."""
        values = ops.cast(kernel, "float32")
        axis = self.CHANNEL_AXES if self.per_channel else None
        low, high = tensor_range(values, axis)
        quantized = fake_quantize(values, low, high, self.weight_bits,
                                  self.weight_symmetric, self.narrow_range,
                                  axis=axis)
        return ops.cast(quantized, kernel.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "weight_bits": self.weight_bits,
            "weight_symmetric": self.weight_symmetric,
            "per_channel": self.per_channel,
            "narrow_range": self.narrow_range,
        })
        return config


def weight_quantization_arguments(layer):
    """The `WeightQuantization` arguments of `layer` (for rebuilding)."""
    return {name: getattr(layer, name) for name in (
        "weight_bits", "weight_symmetric", "per_channel", "narrow_range")}
