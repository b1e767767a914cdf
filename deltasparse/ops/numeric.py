"""Small numeric helpers of the group k-sparse original: `diff`, `cumsum`,
`kron` (spec: `group_ksparse.md` §2.6, §2.7).

No algorithm of the original calls them; they are kept for completeness,
with the original's bugs fixed (each docstring says which):

* `diff` only had a consistent shape for `n=1` (the recurrence concatenated
  pieces of different lengths for `n >= 2`); here it equals
  `numpy.diff(a, n, axis)` for every `n`.
* `diff` and `cumsum` moved `axis` to the front and back with transpose
  patterns that assumed the other axes stay in ascending order, so
  `axis` not in `{0, -1}` on rank >= 3 inputs scrambled the other axes; here
  any axis works (no transposes at all).
* `kron` read `shape(b)[2]` (should be `[1]`), so it failed on every 2-D
  input; here it equals `numpy.kron` for 2-D inputs.
"""

from keras import ops

from deltasparse.ops.norms import _is_int
from deltasparse.ops.norms import _normalize_axis
from deltasparse.ops.norms import _reshape
from deltasparse.ops.norms import _shape


def _check_n(n):
    if not _is_int(n) or n < 0:
        raise ValueError(f"`n` must be an int >= 0. Received: n={n!r}")
    return int(n)


def _along(axis, index):
    return (slice(None),) * axis + (index,)


def diff(a, n=1, axis=-1):
    """n-th discrete difference along `axis`, like `numpy.diff(a, n, axis)`.

    Each step replaces `a` by `a[1:] - a[:-1]` along `axis`, so the axis
    shrinks by `n` (to 0 when `n` exceeds its length). `n=0` returns `a`.

    The original only worked for `n=1` (shape bug for `n >= 2`) and
    misplaced the other axes for a middle `axis`; both are fixed here.

    Args:
        a: tensor of rank >= 1.
        n: int >= 0. Number of times to difference. Defaults to `1`.
        axis: int. Axis to difference along. Defaults to `-1`.

    Returns:
        Tensor with `axis` of length `max(L - n, 0)`.

    Example:
    >>> a = np.array([1.0, 4.0, 9.0, 16.0], "float32")
    >>> keras.ops.convert_to_numpy(diff(a, n=2))
    array([2., 2.], dtype=float32)
    """
    n = _check_n(n)
    a = ops.convert_to_tensor(a)
    axis = _normalize_axis(axis, len(a.shape), "axis")
    for _ in range(n):
        a = ops.subtract(
            a[_along(axis, slice(1, None))], a[_along(axis, slice(None, -1))]
        )
    return a


def cumsum(a, n=1, axis=-1):
    """n-fold cumulative sum along `axis` with the first `n` entries dropped.

    Applies `ops.cumsum(., axis)` `n` times and returns the last `L - n`
    entries along `axis`, as the original did. `n=0` returns `a`.

    The original's transposes scrambled the other axes when `axis` was a
    middle axis; any axis works here.

    Args:
        a: tensor of rank >= 1.
        n: int >= 0. Number of cumulative sums. Defaults to `1`.
        axis: int. Axis to sum along. Defaults to `-1`.

    Returns:
        Tensor with `axis` of length `max(L - n, 0)`.

    Example:
    >>> a = np.array([1.0, 2.0, 3.0, 4.0], "float32")
    >>> keras.ops.convert_to_numpy(cumsum(a, n=1))  # [1, 3, 6, 10][1:]
    array([ 3.,  6., 10.], dtype=float32)
    """
    n = _check_n(n)
    a = ops.convert_to_tensor(a)
    axis = _normalize_axis(axis, len(a.shape), "axis")
    for _ in range(n):
        a = ops.cumsum(a, axis=axis)
    return a[_along(axis, slice(n, None))]


def kron(a, b):
    """Kronecker product of two matrices, like `numpy.kron` for 2-D inputs.

    Entry `(i * m2 + k, j * n2 + l)` of the result is `a[i, j] * b[k, l]`.
    The original indexed `shape(b)[2]` and failed on every 2-D input; this
    is the intended computation.

    Args:
        a: tensor of shape `(m1, n1)`.
        b: tensor of shape `(m2, n2)`.

    Returns:
        Tensor of shape `(m1 * m2, n1 * n2)`.

    Raises:
        ValueError: if `a` or `b` is not 2-D.

    Example:
    >>> a, b = np.eye(2, dtype="float32"), np.ones((1, 2), "float32")
    >>> keras.ops.convert_to_numpy(kron(a, b))
    array([[1., 1., 0., 0.],
           [0., 0., 1., 1.]], dtype=float32)
    """
    a = ops.convert_to_tensor(a)
    b = ops.convert_to_tensor(b)
    for name, t in (("a", a), ("b", b)):
        if len(t.shape) != 2:
            raise ValueError(
                f"`kron` expects 2-D tensors. Received: {name}.shape="
                f"{tuple(t.shape)}"
            )
    m1, n1 = _shape(a)
    m2, n2 = _shape(b)
    a4 = _reshape(a, [m1, 1, n1, 1])
    b4 = _reshape(b, [1, m2, 1, n2])
    out = ops.multiply(a4, b4)
    return _reshape(out, [_mul(m1, m2), _mul(n1, n2)])


def _mul(p, q):
    return None if p is None or q is None else p * q
