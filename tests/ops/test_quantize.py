"""Tests for `deltasparse.ops.quantize` against a NumPy reference of spec
`delta_activation.md` §2.3 step 5 and §2.5 (values and gradients)."""

import re

import keras
import numpy as np
from absl.testing import parameterized
from keras import ops

from deltasparse.ops.quantize import quantize
from deltasparse.testing import TestCase


def value_and_grads(fn, *args):
    """Returns `fn(*args)` and its gradients w.r.t. every arg (TF or JAX)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        variables = [tf.Variable(a) for a in args]
        with tf.GradientTape() as tape:
            value = fn(*variables)
        grads = tape.gradient(value, variables)
        return value, grads
    if keras.backend.backend() == "jax":
        import jax

        value, grads = jax.value_and_grad(fn, argnums=tuple(range(len(args))))(
            *args
        )
        return value, list(grads)
    raise NotImplementedError(keras.backend.backend())


def np_quantize(x, q):
    """Spec §2.3 step 5: `q * round(a / q)`, round half to even."""
    return q * np.round(x / q)  # np.round rounds half to even


def np_quantize_grads(x, q, upstream):
    """Spec §2.5: d/dx = g; d/dq = -round(x/q) * g summed to q's shape."""
    q = np.asarray(q, x.dtype)
    dq = -np.round(x / q) * upstream
    dq = dq.sum(axis=tuple(range(x.ndim - q.ndim)))
    for axis, size in enumerate(q.shape):
        if size == 1:
            dq = dq.sum(axis=axis, keepdims=True)
    return np.broadcast_to(upstream, x.shape), dq


class QuantizeTest(TestCase):
    def test_round_half_to_even(self):
        x = np.array([0.5, 1.5, 2.5, -1.5, -0.5, -2.5, 3.5, 3.7, -2.6], "f4")
        y = ops.convert_to_numpy(quantize(x, 1.0))
        self.assertAllEqual(y, [0, 2, 2, -2, -0, -2, 4, 4, -3])
        # The same grid scaled by a step of 0.5.
        y = ops.convert_to_numpy(quantize(x * 0.5, 0.5))
        self.assertAllEqual(y, np.array([0, 2, 2, -2, 0, -2, 4, 4, -3]) / 2)

    def test_spec_numeric_check(self):
        # Spec §2.5: a = [0.5, 1.5, 2.5, -0.5, 3.7, 7.2], theta = -2,
        # L = sum(y * [1..6]) -> y = [0, 2, 2, -0, 4, 8], dL/da = [1..6],
        # dL/dtheta = +39 (negated step gradient through |theta|).
        a = np.array([0.5, 1.5, 2.5, -0.5, 3.7, 7.2], "float32")
        theta = np.array([-2.0], "float32")
        w = np.arange(1, 7, dtype="float32")
        def loss(a, theta):
            return ops.sum(quantize(a, ops.abs(theta)) * w)

        value, (da, dtheta) = value_and_grads(loss, a, theta)
        self.assertAllEqual(quantize(a, np.abs(theta)), [0, 2, 2, -0, 4, 8])
        self.assertAllClose(value, 2 * 2 + 2 * 3 + 4 * 5 + 8 * 6)
        self.assertAllEqual(da, w)
        self.assertAllClose(dtheta, [39.0])

    def test_positive_theta_sign(self):
        a = np.array([0.5, 1.5, 2.5, -0.5, 3.7, 7.2], "float32")
        w = np.arange(1, 7, dtype="float32")
        _, (dtheta,) = value_and_grads(
            lambda t: ops.sum(quantize(a, ops.abs(t)) * w),
            np.array([2.0], "float32"),
        )
        # round(a/2) = [0, 1, 1, -0, 2, 4]; -sum(r * w) = -(2+3+10+24) = -39.
        self.assertAllClose(dtheta, [-39.0])

    @parameterized.named_parameters(
        ("scalar", ()),
        ("one", (1,)),
        ("channel", (5,)),
        ("neuron", (3, 4, 5)),
        ("keepdims", (1, 4, 1)),
    )
    def test_broadcast_values_and_grads(self, q_shape):
        rng = np.random.default_rng(0)
        x = rng.normal(0, 2, (2, 3, 4, 5)).astype("float32")
        q = rng.uniform(0.2, 0.9, q_shape).astype("float32")
        g = rng.normal(0, 1, x.shape).astype("float32")
        _, (dx, dq) = value_and_grads(
            lambda x, q: ops.sum(quantize(x, q) * g), x, q
        )
        self.assertAllClose(quantize(x, q), np_quantize(x, q), atol=1e-6)
        ref_dx, ref_dq = np_quantize_grads(x, q, g)
        # Straight through: exactly the upstream gradient.
        self.assertAllEqual(dx, ref_dx)
        self.assertEqual(tuple(dq.shape), q_shape)
        self.assertAllClose(dq, ref_dq, atol=1e-4, rtol=1e-5)

    def test_python_float_step_and_int_input(self):
        y = quantize(np.array([1, 2, 7], "int32"), 2.0)
        self.assertEqual(keras.backend.standardize_dtype(y.dtype), "float32")
        self.assertAllEqual(y, [0.0, 2.0, 8.0])

    def test_mixed_dtypes(self):
        # float16 activations, float32 step (a mixed precision weight).
        x = np.array([0.3, 0.9, -1.4, 1.4], "float16")
        q = np.array([0.5], "float32")
        def loss(q):
            return ops.sum(ops.cast(quantize(x, q), "float32"))

        _, (dq,) = value_and_grads(loss, q)
        y = quantize(x, q)
        self.assertEqual(keras.backend.standardize_dtype(y.dtype), "float16")
        self.assertAllClose(y, [0.5, 1.0, -1.5, 1.5])
        self.assertEqual(keras.backend.standardize_dtype(dq.dtype), "float32")
        self.assertAllClose(dq, [-(1.0 + 2.0 - 3.0 + 3.0)])

    def test_static_non_positive_step_is_rejected(self):
        # The original divided by zero and returned all-NaN outputs.
        x = np.array([0.0, 1.0], "f4")
        for q, text in (
            (0, "q=0"),
            (0.0, "q=0.0"),
            (-0.5, "q=-0.5"),
            (float("nan"), "q=nan"),
            (float("inf"), "q=inf"),
            (np.array([0.5, 0.0], "f4"), r"q=array\(\[0.5, 0. \]"),
        ):
            with self.subTest(q=repr(q)):
                with self.assertRaisesRegex(
                    ValueError, rf"`q`.*> 0.*Received: {text}"
                ):
                    quantize(x, q)

    def test_step_of_wrong_shape_is_rejected(self):
        x = np.ones((2, 3, 5), "f4")
        for q_shape in ((3,), (2, 1, 3), (4, 2, 3, 5), (1, 1, 1, 5)):
            with self.subTest(q_shape=q_shape):
                message = (
                    r"`q` must be broadcastable to the shape of `x`.*"
                    rf"Received: q.shape={re.escape(str(q_shape))}, "
                    r"x.shape=\(2, 3, 5\)"
                )
                with self.assertRaisesRegex(ValueError, message):
                    quantize(x, np.full(q_shape, 0.5, "f4"))
        # Broadcastable steps are still accepted.
        for q_shape in ((5,), (3, 1), (1, 3, 5), (2, 3, 5)):
            y = quantize(x, np.full(q_shape, 0.5, "f4"))
            self.assertEqual(tuple(y.shape), (2, 3, 5))

    def test_run_time_zero_step_is_guarded(self):
        # A tensor step (e.g. a trained |theta|) that is exactly 0 at run
        # time: that entry passes x through (the q -> 0 limit) with a zero
        # step gradient; every non-zero entry is the reference exactly.
        x = np.array([[0.3, 1.6, -2.4], [2.5, -0.7, 0.05]], "float32")
        q = np.array([0.5, 0.0, 2.0], "float32")
        u = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], "float32")

        def loss(x_, q_):
            return ops.sum(quantize(x_, q_) * u)

        value, (dx, dq) = value_and_grads(loss, x, q)
        y = ops.convert_to_numpy(quantize(x, ops.convert_to_tensor(q)))
        self.assertTrue(np.isfinite(y).all())
        keep = q != 0
        np.testing.assert_array_equal(
            y[:, keep], np_quantize(x[:, keep], q[keep])
        )
        np.testing.assert_array_equal(y[:, ~keep], x[:, ~keep])
        ref_dx, ref_dq = np_quantize_grads(x, np.where(keep, q, 1.0), u)
        self.assertAllClose(dx, ref_dx)
        self.assertAllClose(dq, np.where(keep, ref_dq, 0.0))
        self.assertTrue(np.isfinite(ops.convert_to_numpy(value)))

    def test_compiled(self):
        x = np.array([[0.4, 1.6], [2.5, -3.1]], "float32")
        q = np.array([0.5, 2.0], "float32")
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            fn = tf.function(quantize, jit_compile=False)
        else:
            import jax

            fn = jax.jit(quantize)
        self.assertAllClose(fn(x, q), np_quantize(x, q))
