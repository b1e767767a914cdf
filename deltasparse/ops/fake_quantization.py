"""Linear (uniform) fake quantization: quantize onto an integer grid and
dequantize back, with a straight-through estimator, and EMA range updates.

Used by quantization-aware training (`deltasparse.layers.quantization`) and
post-training emulation (`deltasparse.compression.post_training`). The
integer grid follows Distiller's range-linear quantizers (the seed's
`QuantAwareTrainRangeLinearQuantizer`) and TensorFlow's `FakeQuantWithMinMax`:

- asymmetric (unsigned `b`-bit integers `0 .. 2^b - 1`; `1 .. 2^b - 1` with
  `narrow_range`): the range `[minimum, maximum]` is first widened to
  contain 0, the scale is `(maximum - minimum) / (2^b - 1)` (levels - 1 with
  `narrow_range`), the zero point `round(-minimum / scale)` is an integer,
  so 0 is represented exactly, and the range is "nudged" to
  `[(q_min - zero_point) * scale, (q_max - zero_point) * scale]`;
- symmetric (signed integers `-2^(b-1) .. 2^(b-1) - 1`; from
  `-(2^(b-1) - 1)` with `narrow_range`): zero point 0 and scale
  `max(|minimum|, |maximum|) / (2^(b-1) - 1)` (Distiller's symmetric mode).

`fake_quantize(x) = (clip(round(x / scale) + zero_point, q_min, q_max) -
zero_point) * scale`, with `round` half to even (`keras.ops.round`, like
PyTorch's `torch.round` in Distiller; TensorFlow's kernel rounds half up,
which differs only for values exactly half way between two levels).
"""

import keras
from keras import ops

# Smallest scale: a range of zero width (an all-zero, e.g. pruned, filter)
# gets this scale, so it quantizes to exact zeros instead of dividing by 0.
MINIMUM_SCALE = 1e-8


def check_num_bits(num_bits, name="num_bits"):
    """Raises unless `num_bits` is an int in 2..16; returns it."""
    if (isinstance(num_bits, bool) or not isinstance(num_bits, int)
            or not 2 <= num_bits <= 16):
        raise ValueError(
            f"`{name}` must be an int between 2 and 16. "
            f"Received: {name}={num_bits!r}")
    return num_bits


def check_decay(decay):
    """Raises unless `decay` is a Python float in [0, 1); returns it as a
    float."""
    if (isinstance(decay, bool) or not isinstance(decay, (int, float))
            or not 0.0 <= decay < 1.0):
        raise ValueError(
            f"`decay` must be a float in [0, 1). Received: decay={decay!r}")
    return float(decay)


def integer_range(num_bits, symmetric=False, narrow_range=False):
    """The integer levels `(q_min, q_max)` of a `num_bits` grid.

    Args:
        num_bits: int in 2..16.
        symmetric: bool, signed levels (zero point 0) instead of unsigned.
        narrow_range: bool, drop the lowest level (`q_min + 1`), so a
            symmetric grid is `-(2^(b-1) - 1) .. 2^(b-1) - 1`.

    Returns:
        tuple of two Python ints.

    Example:
    >>> integer_range(4), integer_range(4, symmetric=True)
    ((0, 15), (-8, 7))
    """
    check_num_bits(num_bits)
    if symmetric:
        low, high = -(2 ** (num_bits - 1)), 2 ** (num_bits - 1) - 1
    else:
        low, high = 0, 2 ** num_bits - 1
    return (low + 1 if narrow_range else low), high


def quantization_range(minimum, maximum, num_bits=8, symmetric=False,
                       narrow_range=False):
    """Scale, zero point and nudged range of a linear quantizer.

    Args:
        minimum: float tensor (any shape broadcastable with `maximum`), the
            lowest value to represent.
        maximum: float tensor, the highest value to represent.
        num_bits: int in 2..16. Defaults to `8`.
        symmetric: bool, see the module docstring. Defaults to `False`.
        narrow_range: bool, see `integer_range`. Defaults to `False`.

    Returns:
        tuple `(scale, zero_point, nudged_minimum, nudged_maximum)` of
        tensors of the broadcast shape; `zero_point` holds integral floats.
        `[nudged_minimum, nudged_maximum]` is the range the grid covers
        exactly (0 is a level). A range of zero width gets the scale
        `MINIMUM_SCALE`.

    Example:
    >>> scale, zero, low, high = quantization_range(-1.0, 2.0, num_bits=2)
    >>> [float(keras.ops.convert_to_numpy(v)) for v in (scale, zero, low, high)]
    [1.0, 1.0, -1.0, 2.0]
    """
    q_min, q_max = integer_range(num_bits, symmetric, narrow_range)
    minimum = ops.convert_to_tensor(minimum)
    dtype = minimum.dtype if keras.backend.is_float_dtype(
        minimum.dtype) else keras.config.floatx()
    minimum = ops.cast(minimum, dtype)
    maximum = ops.cast(ops.convert_to_tensor(maximum), dtype)
    if symmetric:
        bound = ops.maximum(ops.abs(minimum), ops.abs(maximum))
        scale = ops.maximum(bound / (2 ** (num_bits - 1) - 1), MINIMUM_SCALE)
        zero_point = ops.zeros_like(scale)
    else:
        minimum = ops.minimum(minimum, 0.0)
        maximum = ops.maximum(maximum, 0.0)
        scale = ops.maximum((maximum - minimum) / (q_max - q_min),
                            MINIMUM_SCALE)
        zero_point = ops.clip(ops.round(q_min - minimum / scale), q_min, q_max)
    return (scale, zero_point, (q_min - zero_point) * scale,
            (q_max - zero_point) * scale)


def tensor_range(x, axis=None):
    """Minimum and maximum of `x`, over all axes or per channel of `axis`.

    Args:
        x: tensor.
        axis: `None` (one range for the tensor), an int, or a tuple of ints:
            the axes kept (one range per index along them).

    Returns:
        tuple `(minimum, maximum)`: scalars for `axis=None`, else tensors of
        shape `tuple(x.shape[a] for a in axis)`.

    Example:
    >>> low, high = tensor_range(np.array([[1.0, -2.0], [3.0, 0.5]]), axis=-1)
    >>> keras.ops.convert_to_numpy(low), keras.ops.convert_to_numpy(high)
    (array([ 1., -2.]), array([3. , 0.5]))
    """
    x = ops.convert_to_tensor(x)
    if axis is None:
        return ops.min(x), ops.max(x)
    kept = _normalize_axes(axis, len(x.shape))
    reduced = tuple(a for a in range(len(x.shape)) if a not in kept)
    return ops.min(x, axis=reduced), ops.max(x, axis=reduced)


def _normalize_axes(axis, rank):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    if not axes or any(not isinstance(a, int) or not -rank <= a < rank
                       for a in axes):
        raise ValueError(
            f"`axis` must be None, an int or a tuple of ints in [-{rank}, "
            f"{rank}) (the channel axes of a rank-{rank} tensor). "
            f"Received: axis={axis!r}")
    return tuple(sorted(a % rank for a in axes))


def _broadcast_to_axes(value, axes, rank):
    """Reshapes a per-channel `value` (shape of the kept axes) so that it
    broadcasts against a rank-`rank` tensor."""
    shape = [1] * rank
    for position, a in enumerate(axes):
        shape[a] = value.shape[position]
    return ops.reshape(value, shape)


def fake_quantize(x, minimum, maximum, num_bits=8, symmetric=False,
                  narrow_range=False, axis=None):
    """Quantizes `x` onto the integer grid of `[minimum, maximum]` and back.

    Per tensor (`axis=None`, scalar or broadcastable `minimum`/`maximum`) or
    per channel (`axis`: the kept axes; `minimum`/`maximum` of shape
    `tuple(x.shape[a] for a in axis)`). See the module docstring for the
    grid (asymmetric with an integer zero point and the nudged range, or
    symmetric).

    Gradients: a straight-through estimator clipped to the range. The
    gradient to `x` is the upstream gradient where `range_min <= x <=
    range_max` and 0 outside, where `[range_min, range_max]` is the range
    given, widened to contain 0 (asymmetric), or `[-bound, bound]`
    (symmetric). This is TensorFlow's `FakeQuantWithMinMaxVars` rule (and
    Distiller's QAT, which clamps activations before its identity STE);
    it uses the range before nudging, so a weight tensor quantized with its
    own min/max passes the gradient to every weight. `minimum` and
    `maximum` get no gradient (they are statistics: the weights' own range
    or an EMA of activations).

    Args:
        x: float tensor.
        minimum: float or tensor, the lowest value of the range.
        maximum: float or tensor, the highest value of the range.
        num_bits: int in 2..16. Defaults to `8`.
        symmetric: bool. Defaults to `False` (asymmetric, unsigned grid).
        narrow_range: bool, see `integer_range`. Defaults to `False`.
        axis: `None`, int or tuple of ints, the per-channel axes.
            Defaults to `None`.

    Returns:
        Tensor of the shape and dtype of `x`, every value on the grid.

    Raises:
        ValueError: for `num_bits` outside 2..16 or an invalid `axis`.

    Example:
    >>> x = np.array([-1.2, -0.4, 0.3, 0.9, 2.6], "float32")
    >>> keras.ops.convert_to_numpy(fake_quantize(x, -1.0, 2.0, num_bits=2))
    array([-1.,  0.,  0.,  1.,  2.], dtype=float32)
    """
    check_num_bits(num_bits)
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    minimum = ops.stop_gradient(ops.cast(ops.convert_to_tensor(minimum),
                                         x.dtype))
    maximum = ops.stop_gradient(ops.cast(ops.convert_to_tensor(maximum),
                                         x.dtype))
    if axis is not None:
        axes = _normalize_axes(axis, len(x.shape))
        minimum = _broadcast_to_axes(minimum, axes, len(x.shape))
        maximum = _broadcast_to_axes(maximum, axes, len(x.shape))
    q_min, q_max = integer_range(num_bits, symmetric, narrow_range)
    scale, zero_point, _, _ = quantization_range(
        minimum, maximum, num_bits, symmetric, narrow_range)
    if symmetric:
        high = ops.maximum(ops.abs(minimum), ops.abs(maximum))
        low = -high
    else:
        low, high = ops.minimum(minimum, 0.0), ops.maximum(maximum, 0.0)

    @ops.custom_gradient
    def straight_through(values):
        levels = ops.clip(ops.round(values / scale) + zero_point, q_min, q_max)
        outputs = (levels - zero_point) * scale

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            inside = ops.logical_and(ops.greater_equal(values, low),
                                     ops.less_equal(values, high))
            return ops.where(inside, upstream, ops.zeros_like(upstream))

        return outputs, grad

    return straight_through(x)


def ema_update(variable_value, new_value, decay, step=None):
    """Exponential moving average step, optionally bias-corrected.

    Without `step`: `decay * variable_value + (1 - decay) * new_value`.

    With `step` (the number of updates so far, this one included, >= 1):
    `variable_value` is the previous bias-corrected average and the result
    is the new one, i.e. Distiller's `update_ema`: the biased average
    `b_t = decay * b_{t-1} + (1 - decay) * v_t` (from `b_0 = 0`) divided
    by `1 - decay^t`. The first update returns `new_value` itself, so a
    range starts at the first batch's range (no pull towards the zero
    initial value).

    Args:
        variable_value: float tensor, the current average.
        new_value: float tensor of the same shape, the new observation.
        decay: float in [0, 1).
        step: None, or an int / scalar tensor >= 1.

    Returns:
        Tensor, the updated average.

    Raises:
        ValueError: for a `decay` outside [0, 1) given as a Python number.

    Example:
    >>> float(ema_update(1.0, 3.0, 0.5))
    2.0
    >>> float(keras.ops.convert_to_numpy(ema_update(0.0, 3.0, 0.999, step=1)))
    3.0
    """
    if isinstance(decay, (int, float)):
        check_decay(decay)
    if step is None:
        return decay * variable_value + (1.0 - decay) * new_value
    variable_value = ops.convert_to_tensor(variable_value)
    dtype = variable_value.dtype if keras.backend.is_float_dtype(
        variable_value.dtype) else keras.config.floatx()
    variable_value = ops.cast(variable_value, dtype)
    new_value = ops.cast(ops.convert_to_tensor(new_value), dtype)
    step = ops.cast(ops.convert_to_tensor(step), dtype)
    previous = 1.0 - ops.power(ops.cast(decay, dtype), step - 1.0)
    current = 1.0 - ops.power(ops.cast(decay, dtype), step)
    biased = decay * previous * variable_value + (1.0 - decay) * new_value
    # The first update is exactly `new_value` (the formula's rounding aside).
    return ops.where(step <= 1.0, new_value, biased / current)


__all__ = ["MINIMUM_SCALE", "ema_update", "fake_quantize",
           "integer_range", "quantization_range", "tensor_range"]
