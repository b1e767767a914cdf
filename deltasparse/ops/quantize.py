"""Uniform quantization with the Delta Activation Layer's custom gradients.

The Delta Activation Layer (Yousefzadeh & Sifalakis, 2021) quantizes every
activation onto the grid `q * Z`, with a learnable step `q`. Its gradients are
deliberately unusual (spec `delta_activation.md` §2.5):

- to the input: straight through, exactly the upstream gradient;
- to the step: MINUS `round(x / q) * upstream`, summed over the positions
  along which `q` was broadcast. The division inside `round(x / q)`
  contributes nothing, and the true derivative `+round(x / q)` of the
  product is negated. With a sparsity penalty on the output this makes
  gradient descent grow the step, which makes the activations change level
  less often (temporal sparsity).
"""

import numbers

import keras
import numpy as np
from keras import ops


def _sum_to_shape(grad, shape):
    """Sums `grad` over the axes along which a tensor of `shape` was broadcast.

    Args:
        grad: tensor whose shape is the broadcast of `shape` and another shape.
        shape: the static shape (tuple) of the broadcast operand.

    Returns:
        Tensor of shape `shape`.
    """
    shape = tuple(shape)
    extra = len(grad.shape) - len(shape)
    if extra > 0:
        grad = ops.sum(grad, axis=tuple(range(extra)))
    axes = tuple(
        i for i, d in enumerate(shape) if d == 1 and grad.shape[i] != 1
    )
    if axes:
        grad = ops.sum(grad, axis=axes, keepdims=True)
    return grad


def _sum_products_to_shape(a, b, shape):
    """`_sum_to_shape(a * b, shape)` for `a`, `b` of one shape.

    When `shape` is the trailing part of that shape (a per-channel or
    per-neuron step), the sum over the leading axes is one `(1, rows) @
    (rows, size)` product with a vector of ones: a matrix product is
    faster than a column reduction on CPU (the same sum, in another
    order). Other dtypes (float16 under mixed precision) keep the
    reduction, which accumulates in higher precision.
    """
    product = ops.multiply(a, b)
    shape = tuple(shape)
    extra = len(product.shape) - len(shape)
    if (
        extra < 1
        or keras.backend.standardize_dtype(product.dtype) != "float32"
        or 1 in shape
        or None in shape
        or tuple(product.shape[extra:]) != shape
    ):
        return _sum_to_shape(product, shape)
    size = int(np.prod(shape))
    matrix = ops.reshape(product, (-1, size))
    ones = ops.ones((1, ops.shape(matrix)[0]), product.dtype)
    return ops.reshape(ops.matmul(ones, matrix), shape)


def _check_static_step(q):
    """Raises unless a Python/NumPy step `q` is finite and > 0 everywhere.

    Tensors and variables (a learnable step) are not inspected: their
    values are only known at run time, where `_quantize` guards `q == 0`.
    """
    if isinstance(q, bool):
        raise ValueError(f"`q` must be a number or a tensor. Received: q={q!r}")
    if not isinstance(q, (numbers.Real, np.ndarray, np.generic, list, tuple)):
        return
    try:
        values = np.asarray(q, dtype="float64")
    except (TypeError, ValueError):
        raise ValueError(
            f"`q` must be a number or a tensor. Received: q={q!r}"
        ) from None
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(
            "`q` (the quantization step) must be finite and > 0 everywhere: "
            "a step of 0 divides by zero and gives NaN. "
            f"Received: q={q!r}"
        )


def _check_broadcastable(x_shape, q_shape):
    """Raises unless a step of `q_shape` broadcasts to `x_shape`."""
    x_shape, q_shape = tuple(x_shape), tuple(q_shape)
    ok = len(q_shape) <= len(x_shape)
    if ok:
        for dq, dx in zip(reversed(q_shape), reversed(x_shape)):
            if not (dq == 1 or dq is None or dx is None or dq == dx):
                ok = False
                break
    if not ok:
        raise ValueError(
            "`q` must be broadcastable to the shape of `x` (a scalar, a "
            "per-channel vector of shape `(x.shape[-1],)`, ...) and must "
            "not change the output shape. "
            f"Received: q.shape={q_shape}, x.shape={x_shape}"
        )


def quantize(x, q):
    """Quantizes `x` to the grid of step `q`: `q * round(x / q)`.

    `round` rounds half to even (`0.5 -> 0`, `1.5 -> 2`, `2.5 -> 2`,
    `-1.5 -> -2`), like `tf.round` used by the original code; negative values
    are quantized symmetrically. `q` broadcasts against `x` (a scalar, a
    per-channel vector of shape `(C,)`, a per-neuron tensor, ...).

    The gradients are those of the original Delta Activation Layer, not the
    true derivatives:

    - `d/dx`: the upstream gradient `g` itself (straight-through estimator,
      no clipping, no `1/q * q` rounding error);
    - `d/dq`: `-round(x / q) * g`, summed over broadcast positions. The path
      through the division `x / q` contributes nothing.

    Under XLA (JAX, or TensorFlow with `jit_compile=True`) a division by a
    broadcast `q` is compiled as `x * (1 / q)`, which can move a value lying
    within one ulp of a half level to the other level; eager execution
    matches `tf.round(x / q) * q` exactly.

    The step is used as given: pass `|theta|` for a signed learnable
    parameter `theta` (the layer does). A step given as a Python number or
    NumPy array must be finite and > 0 (`ValueError` otherwise; the
    original divided by zero and returned NaN). A step that is a tensor or
    variable (e.g. a trainable `|theta|`) can only be checked at run time:
    where it is exactly 0 the op returns `x` unchanged (the limit of
    `q * round(x / q)` for `q -> 0`) and that step gets a 0 gradient,
    instead of the original's NaN. For every non-zero step the values and
    gradients are exactly those above; the op adds no epsilon.

    Args:
        x: float tensor to quantize. Integer input is cast to
            `keras.config.floatx()`.
        q: step size, a float or a tensor broadcastable to `x`. It is cast to
            the dtype of `x` (so under `mixed_float16` the quantization runs
            in float16 and the gradient is cast back to `q`'s dtype).
            Static steps must be finite and > 0.

    Returns:
        Tensor with the shape and dtype of `x`.

    Raises:
        ValueError: if `q` does not broadcast to the shape of `x`, or a
            static `q` is not finite and > 0.

    Example:
    >>> x = np.array([0.5, 1.5, 2.5, -1.5, 3.7], "float32")
    >>> keras.ops.convert_to_numpy(quantize(x, 1.0))
    array([ 0.,  2.,  2., -2.,  4.], dtype=float32)
    """
    _check_static_step(q)
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    q = ops.cast(ops.convert_to_tensor(q), x.dtype)
    _check_broadcastable(x.shape, q.shape)
    return _quantize(x, q)


@ops.custom_gradient
def _quantize(x, q):
    # Guard for a run-time step of exactly 0 (see `quantize`): identical
    # values and gradients wherever q != 0. The guard is decided on the
    # (small) step tensor: the full-size `where` runs only when some step is
    # 0, so the usual path is three passes over `x` (divide, round,
    # multiply), and the gradient of `q` is negated and masked after the
    # reduction (`sum(-v) == -sum(v)` exactly).
    nonzero = ops.not_equal(q, ops.zeros_like(q))
    safe_q = ops.where(nonzero, q, ops.ones_like(q))
    levels = ops.round(ops.divide(x, safe_q))
    y = ops.cond(
        ops.all(nonzero),
        lambda: ops.multiply(levels, q),
        lambda: ops.where(nonzero, ops.multiply(levels, q), x),
    )

    def grad(*args, upstream=None):
        if upstream is None:
            (upstream,) = args
        dx = _sum_to_shape(upstream, x.shape)
        dq = _sum_products_to_shape(levels, upstream, q.shape)
        dq = ops.where(nonzero, ops.negative(dq), ops.zeros_like(dq))
        return dx, dq

    return y, grad
